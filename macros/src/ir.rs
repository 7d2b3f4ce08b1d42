//! Stage 2, lower: the syntax tree into one graph of operations, whichever
//! form the user wrote.
//!
//! Nodes are values: the inputs, and the result of each operation (a layer
//! applied to a value, a function such as `relu` or `concat`, `+`, `*`). A
//! chain is one particular graph (each node feeds the next); the graph form
//! lowers `fn forward`'s `let` bindings and expressions into the same
//! structure. A layer applied twice is two nodes naming one layer.
//!
//! Nothing is resolved here: layer and function names stay identifiers with
//! their spans (the check stage resolves them, with "did you mean"),
//! dimensions stay as written. What this stage does report is what only the
//! body's syntax can tell: an unknown variable, a value used before it is
//! defined (which is how a cycle would be written), a `let` never used, and
//! expressions that are not operations of the graph.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Generics, Ident, Visibility};

use crate::parse::forward::{ForwardDecl, Port};
use crate::parse::{token_text, Dim, Entry, InputDecl, LayerDecl, LossDecl, NetworkDef, Settings};
use crate::vocab;

/// The index of a node in [`Graph::nodes`].
pub type NodeId = usize;

/// Which form the network was declared in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Form {
    /// Layers in order, each applied to the previous output.
    Sequential,
    /// `fn forward` with the graph.
    Graph,
}

/// A network as a graph of operations.
pub struct Graph {
    /// Attributes and doc comments of the struct.
    pub attrs: Vec<Attribute>,
    /// The struct's visibility.
    pub vis: Visibility,
    /// The network's name.
    pub ident: Ident,
    /// The user's generic parameters.
    pub generics: Generics,
    /// The span of the closing brace (for errors about what is missing).
    pub body_span: Span,
    /// The form it was declared in.
    pub form: Form,
    /// The declared layers, in declaration order (= field order).
    pub layers: Vec<LayerDecl>,
    /// The network's inputs.
    pub inputs: Vec<Input>,
    /// The operations, in an order where every node comes after its inputs;
    /// the inputs are the first nodes.
    pub nodes: Vec<Node>,
    /// The network's outputs.
    pub outputs: Vec<Output>,
    /// Every `loss:` entry (a valid network has exactly one).
    pub losses: Vec<LossDecl>,
    /// Whether a loss entry was followed by more layers (sequential form).
    pub loss_not_last: Option<Span>,
    /// Errors of the parse and lower stages, reported with the others.
    pub errors: Vec<syn::Error>,
    /// Whether the declaration is complete: without syntax errors, the
    /// check stage may report what is missing (no loss, no layers).
    pub complete: bool,
    /// Whether `fn forward` names something that does not exist: then what
    /// looks unused may be what the misspelled name meant, and "never used"
    /// is not reported.
    pub unresolved: bool,
    /// The `#[chainrule(…)]` settings.
    pub settings: Settings,
}

/// An input of the network.
pub struct Input {
    /// Its name (`x` in the sequential form).
    pub name: Ident,
    /// Its declared per-sample shape, if any (the sequential form infers a
    /// flat input from the first layer when there is no `input:` entry).
    pub dims: Option<Vec<Dim>>,
    /// Where it is declared.
    pub span: Span,
}

/// An output of the network.
pub struct Output {
    /// Its name, if declared (`-> (class: [10], …)`).
    pub name: Option<Ident>,
    /// Its declared per-sample shape (graph form).
    pub dims: Option<Vec<Dim>>,
    /// The expression that computes it (or the declaration), for errors.
    pub span: Span,
    /// The node whose value it is.
    pub node: NodeId,
}

/// One value of the graph.
pub struct Node {
    /// How it is computed.
    pub op: Op,
    /// The expression or entry that computes it, for errors.
    pub span: Span,
    /// The `let` binding that names it, if any.
    pub name: Option<Ident>,
    /// The expression as written, for messages (`concat(a, b)`).
    pub text: String,
}

/// The operations of the graph.
pub enum Op {
    /// Input number `k` of the network.
    Input(usize),
    /// `func(args)`: a layer applied to a value, or a function (`relu`,
    /// `concat`, `flatten`, …); which one is the check stage's to decide.
    Call {
        /// The name as written.
        func: Ident,
        /// The arguments.
        args: Vec<NodeId>,
    },
    /// A layer entry of the sequential form, applied to the value before it
    /// (by position: a duplicate name still means this entry).
    Layer {
        /// Index into [`Graph::layers`].
        layer: usize,
        /// The value it is applied to.
        input: NodeId,
    },
    /// `input => function` of the sequential form: always an activation.
    Activation {
        /// The activation as written after `=>`.
        function: Ident,
        /// The layer's output it applies to.
        input: NodeId,
    },
    /// `lhs + rhs`.
    Add {
        /// The `+` token's span.
        op: Span,
        /// The left operand.
        lhs: NodeId,
        /// The right operand.
        rhs: NodeId,
    },
    /// `lhs * rhs`, elementwise.
    Mul {
        /// The `*` token's span.
        op: Span,
        /// The left operand.
        lhs: NodeId,
        /// The right operand.
        rhs: NodeId,
    },
    /// A value that could not be lowered (after an error): its shape is
    /// unknown, so nothing is compared with it.
    Unknown,
}

#[cfg(test)]
impl Op {
    /// The nodes this operation reads.
    pub fn operands(&self) -> Vec<NodeId> {
        match self {
            Op::Input(_) | Op::Unknown => Vec::new(),
            Op::Call { args, .. } => args.clone(),
            Op::Activation { input, .. } | Op::Layer { input, .. } => vec![*input],
            Op::Add { lhs, rhs, .. } | Op::Mul { lhs, rhs, .. } => vec![*lhs, *rhs],
        }
    }
}

/// Lowers a parsed declaration, in either form.
pub fn lower(def: NetworkDef) -> Graph {
    let complete = def.errors.is_empty();
    let mut graph = Graph {
        attrs: def.attrs,
        vis: def.vis,
        ident: def.ident,
        generics: def.generics,
        body_span: def.brace_span,
        form: Form::Sequential,
        layers: Vec::new(),
        inputs: Vec::new(),
        nodes: Vec::new(),
        outputs: Vec::new(),
        losses: Vec::new(),
        loss_not_last: None,
        errors: def.errors,
        complete,
        unresolved: false,
        settings: def.settings,
    };
    let mut forwards: Vec<Box<ForwardDecl>> = Vec::new();
    let mut input_entries: Vec<InputDecl> = Vec::new();
    // The sequential chain: (layer index, activation) per layer entry, and
    // where an unparsable entry broke it.
    let mut chain: Vec<Option<usize>> = Vec::new();
    for entry in def.entries {
        match entry {
            Entry::Layer(decl) => {
                if let (None, Some(loss)) = (graph.loss_not_last, graph.losses.last()) {
                    graph.loss_not_last = Some(loss.key.span());
                }
                chain.push(Some(graph.layers.len()));
                graph.layers.push(decl);
            }
            Entry::Invalid => chain.push(None),
            Entry::Loss(decl) => graph.losses.push(decl),
            Entry::Input(decl) => input_entries.push(decl),
            Entry::Forward(decl) => forwards.push(decl),
        }
    }
    let mut forwards = forwards.into_iter();
    match forwards.next() {
        Some(forward) => {
            graph.form = Form::Graph;
            graph.loss_not_last = None;
            for extra in forwards {
                graph.errors.push(syn::Error::new(
                    extra.fn_span,
                    "a network has one `fn forward`; this is a second one",
                ));
            }
            for entry in &input_entries {
                graph.errors.push(syn::Error::new(
                    entry.key.span(),
                    "in the graph form the inputs are the arguments of `fn forward`: write `fn forward(x: [C, H, W]) -> …` instead of an `input:` entry",
                ));
            }
            for layer in &graph.layers {
                if let Some(activation) = &layer.activation {
                    graph.errors.push(syn::Error::new(
                        activation.span(),
                        format!(
                            "in the graph form, apply activations in `fn forward`: `{activation}({}(…))` instead of `=> {activation}` on the layer",
                            layer.name
                        ),
                    ));
                }
            }
            lower_forward(&mut graph, *forward);
        }
        None => lower_sequential(&mut graph, &chain, input_entries),
    }
    graph
}

/// `x → layer → activation → layer → … → output`.
fn lower_sequential(graph: &mut Graph, chain: &[Option<usize>], input_entries: Vec<InputDecl>) {
    let mut input_entries = input_entries.into_iter();
    let declared = input_entries.next();
    for extra in input_entries {
        graph.errors.push(syn::Error::new(
            extra.key.span(),
            "the input is declared once: this is a second `input:` entry",
        ));
    }
    let span = declared
        .as_ref()
        .map_or_else(|| graph.ident.span(), |d| d.span);
    graph.inputs.push(Input {
        name: Ident::new("x", Span::call_site()),
        dims: declared.map(|d| d.dims),
        span,
    });
    graph.nodes.push(Node {
        op: Op::Input(0),
        span,
        name: None,
        text: "the input".to_string(),
    });
    let mut current: NodeId = 0;
    for link in chain {
        let Some(index) = link else {
            graph.nodes.push(Node {
                op: Op::Unknown,
                span: graph.body_span,
                name: None,
                text: String::new(),
            });
            current = graph.nodes.len() - 1;
            continue;
        };
        let decl = &graph.layers[*index];
        let (name, activation) = (decl.name.clone(), decl.activation.clone());
        graph.nodes.push(Node {
            op: Op::Layer {
                layer: *index,
                input: current,
            },
            span: name.span(),
            name: None,
            text: format!("`{name}`"),
        });
        current = graph.nodes.len() - 1;
        if let Some(function) = activation {
            graph.nodes.push(Node {
                op: Op::Activation {
                    function: function.clone(),
                    input: current,
                },
                span: function.span(),
                name: None,
                text: format!("`{name}`"),
            });
            current = graph.nodes.len() - 1;
        }
    }
    graph.outputs.push(Output {
        name: None,
        dims: None,
        span: graph.body_span,
        node: current,
    });
}

/// The variables of `fn forward`'s body while it is lowered.
struct Scope {
    /// Name → the node it currently names and whether it was used.
    defined: HashMap<String, (NodeId, bool, Span)>,
    /// Every name bound by a `let` anywhere in the body (to tell "used
    /// before it is defined" from "not found").
    later: Vec<Ident>,
}

/// The graph form: inputs, `let` bindings, the tail expression.
fn lower_forward(graph: &mut Graph, forward: ForwardDecl) {
    let ForwardDecl {
        inputs,
        outputs,
        body,
        fn_span,
        ..
    } = forward;
    let mut scope = Scope {
        defined: HashMap::new(),
        later: Vec::new(),
    };
    for (k, port) in inputs.into_iter().enumerate() {
        let Port { name, dims, span } = port;
        let Some(name) = name else { continue };
        if scope.defined.contains_key(&name.to_string()) {
            graph.errors.push(syn::Error::new(
                name.span(),
                format!("duplicate input name `{name}`"),
            ));
        }
        graph.nodes.push(Node {
            op: Op::Input(k),
            span: name.span(),
            name: Some(name.clone()),
            text: format!("`{name}`"),
        });
        scope.defined.insert(
            name.to_string(),
            (graph.nodes.len() - 1, false, name.span()),
        );
        graph.inputs.push(Input {
            name,
            dims: Some(dims),
            span,
        });
    }
    if graph.inputs.is_empty() {
        graph.errors.push(syn::Error::new(
            fn_span,
            "a network has at least one input: `fn forward(x: [N]) -> …`",
        ));
    }
    for stmt in &body.stmts {
        if let syn::Stmt::Local(local) = stmt {
            if let syn::Pat::Ident(p) = &local.pat {
                scope.later.push(p.ident.clone());
            }
        }
    }

    let mut tail: Option<&Expr> = None;
    let count = body.stmts.len();
    for (index, stmt) in body.stmts.iter().enumerate() {
        match stmt {
            syn::Stmt::Local(local) => lower_let(graph, &mut scope, local),
            syn::Stmt::Expr(expr, None) if index + 1 == count => tail = Some(expr),
            other => graph.errors.push(syn::Error::new(
                other.span(),
                "the body of `fn forward` is `let name = …;` statements and a final expression (the output) without `;`",
            )),
        }
    }
    let Some(tail) = tail else {
        graph.errors.push(syn::Error::new(
            body.brace_token.span.close(),
            "`fn forward` must end with its output: an expression without `;`, or a tuple `(a, b)` for several outputs",
        ));
        // No outputs: the check stage reports nothing that depends on them.
        return;
    };
    let tail_values: Vec<&Expr> = match tail {
        Expr::Tuple(tuple) => tuple.elems.iter().collect(),
        other => vec![other],
    };
    let declared = outputs.len();
    if tail_values.len() != declared {
        graph.errors.push(syn::Error::new(
            tail.span(),
            format!(
                "`fn forward` declares {declared} output{} but returns {}",
                if declared == 1 { "" } else { "s" },
                tail_values.len()
            ),
        ));
    }
    let mut ports = outputs.into_iter();
    // The tail first: `zip` then takes no port it cannot pair.
    for (expr, port) in tail_values.into_iter().zip(ports.by_ref()) {
        let node = lower_expr(graph, &mut scope, expr);
        let name = port.name.clone();
        if let (Some(name), None) = (&name, &graph.nodes[node].name) {
            if !matches!(graph.nodes[node].op, Op::Input(_)) {
                graph.nodes[node].name = Some(name.clone());
            }
        }
        graph.outputs.push(Output {
            name,
            dims: Some(port.dims),
            span: expr.span(),
            node,
        });
    }
    // Declared but not returned (reported above): known by name, no value.
    for port in ports {
        let node = unknown(graph, port.span);
        graph.outputs.push(Output {
            name: port.name,
            dims: Some(port.dims),
            span: port.span,
            node,
        });
    }
    if graph.unresolved {
        return;
    }
    let mut unused: Vec<(&String, &(NodeId, bool, Span))> = scope
        .defined
        .iter()
        .filter(|(_, (_, used, _))| !used)
        .collect();
    unused.sort_by_key(|(name, _)| name.as_str());
    for (name, (node, _, span)) in unused {
        let message = if matches!(graph.nodes[*node].op, Op::Input(_)) {
            format!("the input `{name}` is never used: every input must reach an output")
        } else {
            format!("`{name}` is computed but never used: every value must reach an output (remove it or use it)")
        };
        graph.errors.push(syn::Error::new(*span, message));
    }
}

/// `let name = expr;`.
fn lower_let(graph: &mut Graph, scope: &mut Scope, local: &syn::Local) {
    let name = match &local.pat {
        syn::Pat::Ident(p)
            if p.by_ref.is_none() && p.mutability.is_none() && p.subpat.is_none() =>
        {
            p.ident.clone()
        }
        other => {
            graph.errors.push(syn::Error::new(
                other.span(),
                "bind one value per `let`: `let h = relu(first(x));`",
            ));
            return;
        }
    };
    let Some(init) = &local.init else {
        graph.errors.push(syn::Error::new(
            local.span(),
            format!("`let {name}` needs a value: `let {name} = relu(first(x));`"),
        ));
        return;
    };
    if let Some((_, diverge)) = &init.diverge {
        graph.errors.push(syn::Error::new(
            diverge.span(),
            "`let … else` has no meaning in a network's graph",
        ));
    }
    if let Some(reserved) = vocab::reserved_value_name(&name.to_string()) {
        graph.errors.push(syn::Error::new(name.span(), reserved));
    }
    let node = lower_expr(graph, scope, &init.expr);
    if graph.nodes[node].name.is_none() && !matches!(graph.nodes[node].op, Op::Unknown) {
        graph.nodes[node].name = Some(name.clone());
    }
    if let Some((_, false, span)) = scope.defined.get(&name.to_string()) {
        // Shadowed before any use.
        let message = format!(
            "`{name}` is computed but never used before it is redefined: every value must reach an output"
        );
        graph.errors.push(syn::Error::new(*span, message));
    }
    scope
        .defined
        .insert(name.to_string(), (node, false, name.span()));
}

/// The node of an expression of the body (new nodes for its operations).
fn lower_expr(graph: &mut Graph, scope: &mut Scope, expr: &Expr) -> NodeId {
    let text = expr_text(expr);
    let span = expr.span();
    let op = match expr {
        Expr::Paren(paren) => return lower_expr(graph, scope, &paren.expr),
        Expr::Path(path) if path.qself.is_none() && path.path.get_ident().is_some() => {
            let Some(ident) = path.path.get_ident() else {
                return unknown(graph, span);
            };
            return variable(graph, scope, ident);
        }
        Expr::Call(call) => {
            let func = match &*call.func {
                Expr::Path(path) if path.qself.is_none() => path.path.get_ident().cloned(),
                _ => None,
            };
            let Some(func) = func else {
                graph.errors.push(syn::Error::new(
                    call.func.span(),
                    "expected a layer or a function name: `first(x)`, `relu(h)`, `concat(a, b)`",
                ));
                return unknown(graph, span);
            };
            let args = call
                .args
                .iter()
                .map(|arg| lower_expr(graph, scope, arg))
                .collect();
            Op::Call { func, args }
        }
        Expr::Binary(binary) => {
            let (lhs, rhs) = (
                lower_expr(graph, scope, &binary.left),
                lower_expr(graph, scope, &binary.right),
            );
            match binary.op {
                syn::BinOp::Add(plus) => Op::Add {
                    op: plus.span,
                    lhs,
                    rhs,
                },
                syn::BinOp::Mul(star) => Op::Mul {
                    op: star.span,
                    lhs,
                    rhs,
                },
                other => {
                    graph.errors.push(syn::Error::new(
                        other.span(),
                        "the operators of a network's graph are `+` (same shapes: a residual connection) and `*` (elementwise: gating)",
                    ));
                    return unknown(graph, span);
                }
            }
        }
        Expr::Lit(_) => {
            graph.errors.push(syn::Error::new(
                span,
                "a number is not a value of the graph: values are inputs and what layers and functions compute from them",
            ));
            return unknown(graph, span);
        }
        Expr::MethodCall(call) => {
            lower_expr(graph, scope, &call.receiver);
            for arg in &call.args {
                lower_expr(graph, scope, arg);
            }
            graph.errors.push(syn::Error::new(
                call.method.span(),
                format!(
                    "write `{}(…)` as a function call: layers and functions are applied as `relu(h)`, not `h.relu()`",
                    call.method
                ),
            ));
            return unknown(graph, span);
        }
        _ => {
            graph.errors.push(syn::Error::new(
                span,
                "not an operation of a network's graph: use layer applications `first(x)`, activations `relu(h)`, `a + b`, `a * b`, `concat(a, b)` and `flatten(h)`",
            ));
            return unknown(graph, span);
        }
    };
    graph.nodes.push(Node {
        op,
        span,
        name: None,
        text: format!("`{text}`"),
    });
    graph.nodes.len() - 1
}

/// An expression of the body as the user would write it: `concat(a, b)`,
/// `second(h) + shortcut(x)`.
fn expr_text(expr: &Expr) -> String {
    match expr {
        Expr::Path(path) if path.qself.is_none() => path
            .path
            .get_ident()
            .map_or_else(|| token_text(&quote::quote!(#path)), ToString::to_string),
        Expr::Call(call) => {
            let args: Vec<String> = call.args.iter().map(expr_text).collect();
            format!("{}({})", expr_text(&call.func), args.join(", "))
        }
        Expr::Binary(binary) => {
            let op = &binary.op;
            format!(
                "{} {} {}",
                expr_text(&binary.left),
                quote::quote!(#op),
                expr_text(&binary.right)
            )
        }
        Expr::Paren(paren) => format!("({})", expr_text(&paren.expr)),
        other => token_text(&quote::quote!(#other)),
    }
}

/// The node a variable names, or an error.
fn variable(graph: &mut Graph, scope: &mut Scope, ident: &Ident) -> NodeId {
    let key = ident.to_string();
    if let Some((node, used, _)) = scope.defined.get_mut(&key) {
        *used = true;
        return *node;
    }
    let message = if scope.later.iter().any(|l| *l == key) {
        format!(
            "`{key}` is used before it is defined: a network's graph has no cycles, so each value is computed from values defined above it"
        )
    } else {
        let known: Vec<(&str, ())> = scope.defined.keys().map(|k| (k.as_str(), ())).collect();
        match vocab::closest(&known, &key) {
            Some(best) => format!("cannot find the value `{key}`: did you mean `{best}`?"),
            None => format!(
                "cannot find the value `{key}`: a value is an input of `fn forward` or a `let` above"
            ),
        }
    };
    graph.errors.push(syn::Error::new(ident.span(), message));
    graph.unresolved = true;
    unknown(graph, ident.span())
}

/// A node for a value that could not be lowered.
fn unknown(graph: &mut Graph, span: Span) -> NodeId {
    graph.nodes.push(Node {
        op: Op::Unknown,
        span,
        name: None,
        text: String::new(),
    });
    graph.nodes.len() - 1
}

#[cfg(test)]
impl Graph {
    /// The nodes that read `node`'s value.
    pub fn consumers(&self, node: NodeId) -> Vec<NodeId> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.op.operands().contains(&node))
            .map(|(id, _)| id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn graph(tokens: proc_macro2::TokenStream) -> Graph {
        lower(syn::parse2(tokens).expect("parses")) // ok: test-only
    }

    fn messages(g: &Graph) -> Vec<String> {
        g.errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_chain_lowers_to_input_layer_activation_nodes() {
        let g = graph(quote! {
            struct Net {
                hidden: Dense<2, 8> => relu,
                output: Dense<8, 1>,
                loss: mse,
            }
        });
        assert_eq!(g.form, Form::Sequential);
        assert_eq!(g.layers.len(), 2);
        // x, hidden(x), relu(…), output(…) (no node for the implicit identity)
        assert_eq!(g.nodes.len(), 4);
        assert!(matches!(g.nodes[0].op, Op::Input(0)));
        assert!(matches!(g.nodes[1].op, Op::Layer { layer: 0, input: 0 }));
        assert!(
            matches!(&g.nodes[2].op, Op::Activation { function, input: 1 } if function == "relu")
        );
        assert!(matches!(g.nodes[3].op, Op::Layer { layer: 1, input: 2 }));
        assert_eq!(g.outputs.len(), 1);
        assert_eq!(g.outputs[0].node, 3);
        assert_eq!(g.consumers(2), vec![3]);
        assert!(g.loss_not_last.is_none());
    }

    #[test]
    fn a_loss_before_a_layer_is_recorded() {
        let g = graph(quote! {
            struct Net { loss: mse, a: Dense<1, 1> }
        });
        assert!(g.loss_not_last.is_some());
    }

    #[test]
    fn the_graph_form_lowers_lets_and_the_tail() {
        let g = graph(quote! {
            struct Skip {
                first: Dense<64, 32>,
                second: Dense<32, 10>,
                shortcut: Dense<64, 10>,
                fn forward(x: [64]) -> [10] {
                    let h = relu(first(x));
                    softmax(second(h) + shortcut(x))
                }
                loss: cross_entropy,
            }
        });
        assert!(g.errors.is_empty(), "{:?}", messages(&g));
        assert_eq!(g.form, Form::Graph);
        // x, first(x), relu → h, second(h), shortcut(x), +, softmax
        assert_eq!(g.nodes.len(), 7);
        assert_eq!(
            g.nodes[2].name.as_ref().map(ToString::to_string),
            Some("h".into())
        );
        assert!(matches!(g.nodes[5].op, Op::Add { lhs: 3, rhs: 4, .. }));
        assert_eq!(g.outputs[0].node, 6);
        assert_eq!(g.consumers(0), vec![1, 4], "x feeds two layers");
    }

    #[test]
    fn unknown_and_cyclic_values_are_errors() {
        let g = graph(quote! {
            struct Net {
                a: Dense<2, 2>,
                fn forward(x: [2]) -> [2] {
                    let h = a(g);
                    let g = relu(h);
                    a(hh)
                }
                loss: mse,
            }
        });
        let msgs = messages(&g);
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("`g` is used before it is defined")),
            "{msgs:#?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m == "cannot find the value `hh`: did you mean `h`?"),
            "{msgs:#?}"
        );
        // After a name that does not resolve, nothing is called unused.
        assert!(!msgs.iter().any(|m| m.contains("never used")), "{msgs:#?}");
    }

    #[test]
    fn unused_values_and_inputs_are_errors() {
        let g = graph(quote! {
            struct Net {
                a: Dense<2, 2>,
                fn forward(x: [2], extra: [3]) -> [2] {
                    let unused = a(x);
                    a(x)
                }
                loss: mse,
            }
        });
        let msgs = messages(&g);
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("`unused` is computed but never used")),
            "{msgs:#?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("the input `extra` is never used")),
            "{msgs:#?}"
        );
    }

    #[test]
    fn several_outputs_and_their_count() {
        let g = graph(quote! {
            struct Net {
                a: Dense<2, 3>,
                b: Dense<2, 1>,
                fn forward(x: [2]) -> (class: [3], size: [1]) {
                    (softmax(a(x)), b(x))
                }
                loss: cross_entropy(class) + mse(size),
            }
        });
        assert!(g.errors.is_empty(), "{:?}", messages(&g));
        assert_eq!(g.outputs.len(), 2);
        let named: Vec<String> = g
            .outputs
            .iter()
            .map(|o| {
                g.nodes[o.node]
                    .name
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(named, ["class", "size"]);
        let g = graph(quote! {
            struct Net {
                a: Dense<2, 3>,
                fn forward(x: [2]) -> (class: [3], size: [1]) { a(x) }
                loss: mse,
            }
        });
        assert!(messages(&g)
            .iter()
            .any(|m| m == "`fn forward` declares 2 outputs but returns 1"));
    }

    #[test]
    fn only_graph_operations_are_allowed() {
        let g = graph(quote! {
            struct Net {
                a: Dense<2, 2>,
                fn forward(x: [2]) -> [2] {
                    let h = x - x;
                    let k = x.relu();
                    a(h + k + 1.0)
                }
                loss: mse,
            }
        });
        let msgs = messages(&g);
        assert!(msgs
            .iter()
            .any(|m| m.starts_with("the operators of a network's graph are")));
        assert!(msgs
            .iter()
            .any(|m| m.starts_with("write `relu(…)` as a function call")));
        assert!(msgs
            .iter()
            .any(|m| m.starts_with("a number is not a value of the graph")));
    }
}
