//! Stage 3, check: name resolution and shape inference over the graph.
//!
//! Every mistake is collected (an error accumulator, as in serde_derive) and
//! reported together, each with the span of the token to fix. What can be
//! decided here is decided here (literal dimensions, names); what cannot
//! (dimensions given by `const` items) becomes a [`ConstCheck`] that the
//! generated code asserts at compile time with the same readable message.

use std::collections::HashSet;

use proc_macro2::Span;
use syn::{Attribute, GenericParam, Generics, Ident, Visibility};

use crate::ir::{Graph, NodeId, Op};
use crate::parse::Dim;
use crate::vocab::{self, Activation, LayerKind, LossKind};

/// The index of a value in [`Model::values`].
pub type ValueId = usize;

/// A checked network, ready for code generation.
pub struct Model {
    /// Attributes and doc comments of the struct.
    pub attrs: Vec<Attribute>,
    /// The struct's visibility.
    pub vis: Visibility,
    /// The network's name.
    pub ident: Ident,
    /// The user's const generic parameters.
    pub generics: Generics,
    /// The layers, in field order.
    pub layers: Vec<Layer>,
    /// The values flowing through the network; value 0 is the input `x`.
    pub values: Vec<Value>,
    /// The forward computation, in order (identity activations are omitted:
    /// their output is their input).
    pub steps: Vec<Step>,
    /// The network's output value.
    pub output: ValueId,
    /// The loss.
    pub loss: Loss,
    /// Equalities between dimensions that only the compiler can evaluate.
    pub const_checks: Vec<ConstCheck>,
    /// The declaration as text (the `ARCHITECTURE` constant).
    pub architecture: String,
    /// `#[chainrule(unroll = N)]`, if given.
    pub unroll: Option<usize>,
}

/// A parameter-holding layer.
pub struct Layer {
    /// Doc comments and attributes of the field.
    pub attrs: Vec<Attribute>,
    /// The field name.
    pub name: Ident,
    /// Dense or dense without bias.
    pub kind: LayerKind,
    /// Inputs (columns of the weight).
    pub inputs: Dim,
    /// Outputs (rows of the weight).
    pub outputs: Dim,
    /// He initialisation (relu, leaky relu) or Xavier.
    pub he_init: bool,
    /// 1-based position, used in the names `z1`, `dl_dw1`.
    pub number: usize,
}

/// A `B×width` matrix computed by the network.
pub struct Value {
    /// The name in the generated code and the graph: `x`, `z1`, `a1`.
    pub name: String,
    /// The number of columns.
    pub width: Dim,
}

/// One step of the forward pass.
pub enum Step {
    /// `output = input·Wᵀ (+ 1·bᵀ)`.
    Dense {
        /// Index into [`Model::layers`].
        layer: usize,
        /// The multiplied value.
        input: ValueId,
        /// The pre-activation.
        output: ValueId,
        /// Set when the input's width and the layer's are different `const`
        /// items: the compiler checks that they are equal.
        junction: Option<Box<Junction>>,
    },
    /// `output = f(input)` (never the identity).
    Activation {
        /// The function.
        activation: Activation,
        /// The pre-activation.
        input: ValueId,
        /// The activation.
        output: ValueId,
    },
}

/// The loss and what it reads.
pub struct Loss {
    /// Which loss.
    pub kind: LossKind,
    /// For the fused losses (softmax + cross-entropy, sigmoid + binary
    /// cross-entropy): the logits, whose gradient the loss writes directly.
    pub logits: Option<ValueId>,
}

/// Two widths given by `const` items that must be equal: the value flows
/// through `SameWidth<given, expected>::cast`, which exists only when they
/// are (see `chainrule::__private::SameWidth`).
#[derive(Clone)]
pub struct Junction {
    /// The width the earlier layer gives.
    pub given: Dim,
    /// The width the later layer takes (the error's span).
    pub expected: Dim,
}

/// A condition on dimensions checked by the compiler.
pub enum ConstCheck {
    /// A dimension given by a const generic parameter that must not be zero:
    /// asserted when the network is made with a zero there.
    NonZeroGeneric {
        /// The dimension.
        dim: Dim,
        /// The message when it is zero.
        message: String,
    },
    /// A dimension given by `const` items that must not be zero.
    NonZero {
        /// The dimension.
        dim: Dim,
        /// The message when it is zero.
        message: String,
    },
}

/// Checks the graph; returns the model or every error found, combined.
pub fn check(mut graph: Graph) -> Result<Model, syn::Error> {
    let mut errors: Vec<syn::Error> = std::mem::take(&mut graph.syntax_errors);
    let generic_names = check_generics(&graph.generics, &mut errors);

    // Layers: kinds, dimensions, names.
    let mut layers = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut const_checks = Vec::new();
    for (index, decl) in graph.layers.iter().enumerate() {
        let name = decl.name.to_string();
        if !seen.insert(name.clone()) {
            errors.push(syn::Error::new(
                decl.name.span(),
                format!(
                    "duplicate layer name `{name}`: layer names are field names and weight-file keys, so each must be different"
                ),
            ));
        }
        let kind = match vocab::lookup(vocab::LAYER_KINDS, &decl.kind.to_string()) {
            Some(kind) => Some(kind),
            None => {
                errors.push(syn::Error::new(
                    decl.kind.span(),
                    vocab::unknown("layer kind", vocab::LAYER_KINDS, &decl.kind.to_string()),
                ));
                None
            }
        };
        // An unknown kind is reported; shapes are still checked, as Dense.
        let kind_or_dense = kind.unwrap_or(LayerKind::Dense);
        let kind_name = kind.map_or_else(|| decl.kind.to_string(), |k| k.name().to_string());
        let dims = match &decl.dims {
            None => {
                errors.push(syn::Error::new(
                    decl.kind.span(),
                    format!("layer `{name}` needs its dimensions: `{kind_name}<IN, OUT>`"),
                ));
                None
            }
            Some(dims) if dims.len() != 2 => {
                errors.push(syn::Error::new(
                    dims.first().map_or(decl.kind.span(), Dim::span),
                    format!(
                        "`{kind_name}` takes two dimensions, `{kind_name}<IN, OUT>`, but layer `{name}` gives {}",
                        dims.len()
                    ),
                ));
                None
            }
            Some(dims) => Some((dims[0].clone(), dims[1].clone())),
        };
        let Some((inputs, outputs)) = dims else {
            continue;
        };
        for (dim, role) in [(&inputs, "inputs"), (&outputs, "outputs")] {
            check_dimension(
                dim,
                role,
                &name,
                &generic_names,
                &mut errors,
                &mut const_checks,
            );
        }
        layers.push((
            index,
            Layer {
                attrs: decl.attrs.clone(),
                name: decl.name.clone(),
                kind: kind_or_dense,
                inputs,
                outputs,
                he_init: false,
                number: index + 1,
            },
        ));
    }
    // After a syntax error, entries may be missing: no "empty" or "missing
    // loss" errors that the fix of the syntax error would make false.
    let complete = errors.is_empty();
    if graph.layers.is_empty() && complete {
        errors.push(syn::Error::new(
            graph.ident.span(),
            format!(
                "network `{}` has no layers: declare at least one, e.g. `output: Dense<IN, OUT> => sigmoid`",
                graph.ident
            ),
        ));
    }

    // Shape inference along the graph, and activations.
    let mut values = vec![Value {
        name: "x".to_string(),
        width: Dim::Lit(syn::LitInt::new("0", Span::call_site())),
    }];
    // The value of each node (None after an error) and, for each value, the
    // layer that produced it (for messages).
    let mut node_value: Vec<Option<ValueId>> = vec![None; graph.nodes.len()];
    let mut node_activation: Vec<Activation> = vec![Activation::Identity; graph.nodes.len()];
    let mut producer: Vec<Option<usize>> = vec![None];
    let mut steps = Vec::new();
    let mut input_width_known = false;
    let last_dense = graph
        .nodes
        .iter()
        .rposition(|n| matches!(n.op, Op::Dense { .. }));
    let mut broken = false;
    for (id, node) in graph.nodes.iter().enumerate() {
        match &node.op {
            Op::Input => node_value[id] = Some(0),
            // After a syntax error: nothing to compare with.
            Op::Unknown => broken = true,
            Op::Dense { layer, input } => {
                let Some((_, layer_info)) = layers.iter().find(|(i, _)| i == layer) else {
                    broken = true;
                    continue;
                };
                let mut junction = None;
                let input_value = node_value[*input];
                if input_value.is_none() {
                    broken = true;
                }
                let input_value = input_value.unwrap_or(usize::MAX);
                if input_value == usize::MAX {
                    // Unknown input (after a syntax error): nothing to compare.
                } else if input_value == 0 && !input_width_known {
                    values[0].width = layer_info.inputs.clone();
                    input_width_known = true;
                } else if input_value != 0 || input_width_known {
                    let given = &values[input_value].width;
                    let giver = producer[input_value]
                        .and_then(|p| layers.iter().find(|(i, _)| *i == p))
                        .map(|(_, l)| l.name.to_string());
                    junction = compare_widths(
                        &layer_info.inputs,
                        given,
                        &layer_info.name.to_string(),
                        giver.as_deref().unwrap_or("the input"),
                        &generic_names,
                        &mut errors,
                    );
                }
                let number = layer_info.number;
                values.push(Value {
                    name: format!("z{number}"),
                    width: layer_info.outputs.clone(),
                });
                producer.push(Some(*layer));
                let output = values.len() - 1;
                steps.push(Step::Dense {
                    layer: layers.iter().position(|(i, _)| i == layer).unwrap_or(0),
                    input: input_value.min(output),
                    output,
                    junction,
                });
                node_value[id] = Some(output);
            }
            Op::Activation { name, input } => {
                let activation = match name {
                    None => Activation::Identity,
                    Some(ident) => match vocab::lookup(vocab::ACTIVATIONS, &ident.to_string()) {
                        Some(a) => a,
                        None => {
                            errors.push(syn::Error::new(
                                ident.span(),
                                vocab::unknown(
                                    "activation",
                                    vocab::ACTIVATIONS,
                                    &ident.to_string(),
                                ),
                            ));
                            // Reported; shapes are still checked, as identity.
                            Activation::Identity
                        }
                    },
                };
                let feeding_dense = match graph.nodes[*input].op {
                    Op::Dense { layer, .. } => Some(layer),
                    _ => None,
                };
                if activation == Activation::Softmax && Some(*input) != last_dense {
                    if let Some(ident) = name {
                        let layer_name = feeding_dense
                            .map(|l| graph.layers[l].name.to_string())
                            .unwrap_or_default();
                        errors.push(syn::Error::new(
                            ident.span(),
                            format!(
                                "softmax is only allowed on the last layer, but layer `{layer_name}` is followed by more layers: use relu, leaky_relu, tanh or sigmoid for a hidden layer"
                            ),
                        ));
                    }
                }
                if let Some(l) = feeding_dense {
                    if matches!(activation, Activation::Relu | Activation::LeakyRelu) {
                        if let Some((_, layer)) = layers.iter_mut().find(|(i, _)| *i == l) {
                            layer.he_init = true;
                        }
                    }
                }
                node_activation[id] = activation;
                let Some(input_value) = node_value[*input] else {
                    broken = true;
                    continue;
                };
                if activation == Activation::Identity {
                    node_value[id] = Some(input_value);
                    continue;
                }
                let number = feeding_dense.map_or(id, |l| l + 1);
                values.push(Value {
                    name: format!("a{number}"),
                    width: values[input_value].width.clone(),
                });
                producer.push(producer[input_value]);
                let output = values.len() - 1;
                steps.push(Step::Activation {
                    activation,
                    input: input_value,
                    output,
                });
                node_value[id] = Some(output);
            }
        }
    }

    // The sequential form never shares a value; the graph form will need
    // gradient accumulation (`_acc` kernels) before it may.
    for id in 0..graph.nodes.len() {
        if graph.consumers(id).len() > 1 {
            errors.push(syn::Error::new(
                graph.ident.span(),
                "a value feeding several operations is not supported yet",
            ));
            broken = true;
        }
    }

    // The loss.
    let loss = check_loss(&graph, &node_value, &node_activation, complete, &mut errors);

    if let Some(first) = errors.into_iter().reduce(|mut all, e| {
        all.combine(e);
        all
    }) {
        return Err(first);
    }
    // Without errors every node has a value and there is one loss.
    let (Some((loss, loss_node)), false) = (loss, broken) else {
        return Err(syn::Error::new(
            graph.ident.span(),
            "network could not be checked",
        ));
    };
    let output = node_value[loss_node].unwrap_or(0);
    let layers: Vec<Layer> = layers.into_iter().map(|(_, l)| l).collect();
    let architecture = architecture_text(&graph, &layers, &steps, loss.kind);
    Ok(Model {
        attrs: graph.attrs,
        vis: graph.vis,
        ident: graph.ident,
        generics: graph.generics,
        layers,
        values,
        steps,
        output,
        loss,
        const_checks,
        architecture,
        unroll: graph.unroll,
    })
}

/// Only `const N: usize` parameters, not named `T` or `B` (the generated
/// code's scalar and batch size), and no `where` clause.
fn check_generics(generics: &Generics, errors: &mut Vec<syn::Error>) -> HashSet<String> {
    let mut names = HashSet::new();
    for param in &generics.params {
        match param {
            GenericParam::Const(c) => {
                let is_usize = matches!(&c.ty, syn::Type::Path(p) if p.path.is_ident("usize"));
                if !is_usize {
                    errors.push(syn::Error::new_spanned(
                        &c.ty,
                        format!(
                            "the dimension `{}` must be a `usize`: write `const {}: usize`",
                            c.ident, c.ident
                        ),
                    ));
                }
                if c.ident == "T" || c.ident == "B" {
                    errors.push(syn::Error::new(
                        c.ident.span(),
                        format!(
                            "rename `{}`: the generated code uses `T` for the scalar type and `B` for the batch size",
                            c.ident
                        ),
                    ));
                }
                names.insert(c.ident.to_string());
            }
            GenericParam::Type(t) => errors.push(syn::Error::new(
                t.ident.span(),
                format!(
                    "a network takes only const generic dimensions (`const {}: usize`); the scalar type parameter `T` is added by `network!`",
                    t.ident
                ),
            )),
            GenericParam::Lifetime(l) => errors.push(syn::Error::new(
                l.lifetime.span(),
                "a network holds its parameters and takes no lifetime parameters",
            )),
        }
    }
    if let Some(where_clause) = &generics.where_clause {
        errors.push(syn::Error::new(
            where_clause.where_token.span,
            "a network takes no `where` clause",
        ));
    }
    names
}

/// Whether a dimension mentions a const generic parameter of the network.
fn mentions_generic(dim: &Dim, generic_names: &HashSet<String>) -> bool {
    let tokens = match dim {
        Dim::Lit(_) | Dim::Neg(..) => return false,
        Dim::Path(p) => quote::quote!(#p),
        Dim::Block(b) => quote::quote!(#b),
    };
    fn walk(tokens: proc_macro2::TokenStream, names: &HashSet<String>) -> bool {
        tokens.into_iter().any(|t| match t {
            proc_macro2::TokenTree::Ident(i) => names.contains(&i.to_string()),
            proc_macro2::TokenTree::Group(g) => walk(g.stream(), names),
            _ => false,
        })
    }
    walk(tokens, generic_names)
}

/// A dimension as quoted in a message: `128` or `` `HIDDEN` ``.
pub fn quoted(dim: &Dim) -> String {
    match dim {
        Dim::Lit(_) => dim.text(),
        _ => format!("`{}`", dim.text()),
    }
}

/// A zero literal is an error; a named dimension gets a compile-time check.
fn check_dimension(
    dim: &Dim,
    role: &str,
    layer: &str,
    generic_names: &HashSet<String>,
    errors: &mut Vec<syn::Error>,
    const_checks: &mut Vec<ConstCheck>,
) {
    let message = format!("layer `{layer}` has zero {role}: every dimension must be at least 1");
    let singular = role.trim_end_matches('s');
    if let Dim::Neg(..) = dim {
        errors.push(syn::Error::new_spanned(
            dim,
            format!(
                "layer `{layer}` has a negative {singular} dimension `{}`: every dimension is a positive integer",
                dim.text()
            ),
        ));
        return;
    }
    match dim.literal_value() {
        Some(Ok(0)) => errors.push(syn::Error::new(dim.span(), message)),
        Some(Ok(_)) => {}
        Some(Err(_)) => {
            let text = dim.text();
            let digits = text.trim_end_matches(|c: char| !c.is_ascii_digit());
            let why =
                if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit() || c == '_') {
                    "does not fit in a `usize`"
                } else {
                    "is not a `usize` integer"
                };
            errors.push(syn::Error::new(
                dim.span(),
                format!("the {singular} dimension `{text}` of layer `{layer}` {why}"),
            ));
        }
        None => {
            let message = format!(
                "layer `{layer}` has zero {role}: `{}` is 0, every dimension must be at least 1",
                dim.text()
            );
            const_checks.push(if mentions_generic(dim, generic_names) {
                ConstCheck::NonZeroGeneric {
                    dim: dim.clone(),
                    message,
                }
            } else {
                ConstCheck::NonZero {
                    dim: dim.clone(),
                    message,
                }
            });
        }
    }
}

/// `expected` (what layer `taker` takes) against `given` (what `giver`
/// gives); returns the junction the compiler must check when both are
/// `const` items.
fn compare_widths(
    expected: &Dim,
    given: &Dim,
    taker: &str,
    giver: &str,
    generic_names: &HashSet<String>,
    errors: &mut Vec<syn::Error>,
) -> Option<Box<Junction>> {
    let message = format!(
        "layer `{taker}` takes {} inputs but `{giver}` gives {}",
        quoted(expected),
        quoted(given)
    );
    match (expected.literal_value(), given.literal_value()) {
        (Some(Ok(a)), Some(Ok(b))) => {
            if a != b {
                errors.push(syn::Error::new(expected.span(), message));
            }
            None
        }
        (Some(Err(_)), _) | (_, Some(Err(_))) => None,
        _ if expected.text() == given.text() => None,
        _ if mentions_generic(expected, generic_names)
            || mentions_generic(given, generic_names) =>
        {
            errors.push(syn::Error::new(
                expected.span(),
                format!(
                    "{message}: a dimension given by a const generic parameter only fits the same parameter"
                ),
            ));
            None
        }
        _ => Some(Box::new(Junction {
            given: given.clone(),
            expected: expected.clone(),
        })),
    }
}

/// Resolves the loss and checks that it fits the output activation.
/// Returns the loss and the node it reads.
fn check_loss(
    graph: &Graph,
    node_value: &[Option<ValueId>],
    node_activation: &[Activation],
    complete: bool,
    errors: &mut Vec<syn::Error>,
) -> Option<(Loss, NodeId)> {
    if let Some(span) = graph.loss_not_last {
        errors.push(syn::Error::new(
            span,
            "the loss must be the last entry, after every layer",
        ));
    }
    let Some(first) = graph.losses.first() else {
        if !complete {
            return None;
        }
        errors.push(syn::Error::new(
            graph.body_span,
            format!(
                "missing loss: end the network with `loss: NAME`, NAME one of {}",
                vocab::list(vocab::LOSSES)
            ),
        ));
        return None;
    };
    for extra in &graph.losses[1..] {
        errors.push(syn::Error::new(
            extra.key.span(),
            "a network has one loss; this is a second `loss:` entry",
        ));
    }
    let name = first.name.to_string();
    let Some(kind) = vocab::lookup(vocab::LOSSES, &name) else {
        errors.push(syn::Error::new(
            first.name.span(),
            vocab::unknown("loss", vocab::LOSSES, &name),
        ));
        return None;
    };
    let output_node = first.input;
    let activation = node_activation
        .get(output_node)
        .copied()
        .unwrap_or(Activation::Identity);
    let output_layer = graph
        .layers
        .last()
        .map_or_else(String::new, |l| l.name.to_string());
    let act = activation.name();
    let fits = match (kind, activation) {
        (LossKind::CrossEntropy, Activation::Softmax) => None,
        (LossKind::CrossEntropy, Activation::Sigmoid) => Some(format!(
            "`cross_entropy` needs a softmax output, but the last layer `{output_layer}` ends in `sigmoid`: end it with `=> softmax`, or use `loss: binary_cross_entropy` with sigmoid"
        )),
        (LossKind::CrossEntropy, _) => Some(format!(
            "`cross_entropy` needs a softmax output, but the last layer `{output_layer}` ends in `{act}`: end it with `=> softmax`, or use `loss: mse` or `loss: sse`"
        )),
        (LossKind::BinaryCrossEntropy, Activation::Sigmoid) => None,
        (LossKind::BinaryCrossEntropy, Activation::Softmax) => Some(format!(
            "`binary_cross_entropy` needs a sigmoid output, but the last layer `{output_layer}` ends in `softmax`: use `loss: cross_entropy` with softmax, or end the layer with `=> sigmoid`"
        )),
        (LossKind::BinaryCrossEntropy, _) => Some(format!(
            "`binary_cross_entropy` needs a sigmoid output, but the last layer `{output_layer}` ends in `{act}`: end it with `=> sigmoid`, or use `loss: mse` or `loss: sse`"
        )),
        (LossKind::Sse | LossKind::Mse, Activation::Softmax) => Some(format!(
            "`{name}` does not fit a softmax output (layer `{output_layer}`): use `loss: cross_entropy` with softmax"
        )),
        (LossKind::Sse | LossKind::Mse, _) => None,
    };
    if let Some(message) = fits {
        errors.push(syn::Error::new(first.name.span(), message));
        return None;
    }
    let logits = match (kind, &graph.nodes[output_node].op) {
        (LossKind::CrossEntropy | LossKind::BinaryCrossEntropy, Op::Activation { input, .. }) => {
            node_value[*input]
        }
        _ => None,
    };
    Some((Loss { kind, logits }, output_node))
}

/// `"hidden: Dense<784, 128> => relu, output: Dense<128, 10> => softmax, loss: cross_entropy"`.
fn architecture_text(graph: &Graph, layers: &[Layer], steps: &[Step], loss: LossKind) -> String {
    let mut parts = Vec::new();
    for layer in layers {
        let activation = steps
            .iter()
            .find_map(|s| match s {
                Step::Activation {
                    activation, input, ..
                } if steps.iter().any(|d| matches!(d, Step::Dense { layer: l, output, .. } if layers[*l].number == layer.number && output == input)) => {
                    Some(*activation)
                }
                _ => None,
            })
            .unwrap_or(Activation::Identity);
        parts.push(format!(
            "{}: {}<{}, {}> => {}",
            layer.name,
            layer.kind.name(),
            layer.inputs.text(),
            layer.outputs.text(),
            activation.name()
        ));
    }
    parts.push(format!("loss: {}", loss.name()));
    let params: Vec<String> = graph
        .generics
        .params
        .iter()
        .filter_map(|p| match p {
            GenericParam::Const(c) => Some(format!("const {}: usize", c.ident)),
            _ => None,
        })
        .collect();
    let header = if params.is_empty() {
        graph.ident.to_string()
    } else {
        format!("{}<{}>", graph.ident, params.join(", "))
    };
    format!("{header} {{ {} }}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn run(tokens: proc_macro2::TokenStream) -> Result<Model, syn::Error> {
        check(crate::ir::lower(syn::parse2(tokens).expect("parses"))) // ok: test-only, fixed valid input
    }

    fn messages(tokens: proc_macro2::TokenStream) -> Vec<String> {
        match run(tokens) {
            Ok(_) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn a_valid_chain_checks_and_infers_shapes() {
        let model = run(quote! {
            struct Mnist {
                hidden: Dense<784, 128> => relu,
                output: Dense<128, 10> => softmax,
                loss: cross_entropy,
            }
        })
        .expect("valid"); // ok: test-only
        let names: Vec<&str> = model.values.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["x", "z1", "a1", "z2", "a2"]);
        let widths: Vec<String> = model.values.iter().map(|v| v.width.text()).collect();
        assert_eq!(widths, ["784", "128", "128", "10", "10"]);
        assert_eq!(model.output, 4);
        assert_eq!(model.loss.kind, LossKind::CrossEntropy);
        assert_eq!(model.loss.logits, Some(3));
        assert!(model.layers[0].he_init);
        assert!(!model.layers[1].he_init);
        assert_eq!(
            model.architecture,
            "Mnist { hidden: Dense<784, 128> => relu, output: Dense<128, 10> => softmax, loss: cross_entropy }"
        );
    }

    #[test]
    fn identity_layers_have_no_activation_value() {
        let model = run(quote! {
            struct Ls { w: DenseNoBias<3, 2>, loss: sse }
        })
        .expect("valid"); // ok: test-only
        assert_eq!(model.values.len(), 2);
        assert_eq!(model.output, 1);
        assert_eq!(model.loss.logits, None);
        assert_eq!(model.layers[0].kind, LayerKind::DenseNoBias);
    }

    #[test]
    fn adjacent_mismatch_names_both_numbers() {
        let msgs = messages(quote! {
            struct Net { hidden: Dense<784, 128> => relu, output: Dense<64, 10> => softmax, loss: cross_entropy }
        });
        assert_eq!(
            msgs,
            ["layer `output` takes 64 inputs but `hidden` gives 128"]
        );
    }

    #[test]
    fn all_independent_mistakes_are_reported() {
        let msgs = messages(quote! {
            struct Net {
                a: Dense<4, 0> => rleu,
                a: Dense<8, 3> => softmax,
                c: Dnese<3, 1> => sigmoid,
                loss: cross_entropi,
            }
        });
        let expected = [
            "layer `a` has zero outputs: every dimension must be at least 1",
            "duplicate layer name `a`: layer names are field names and weight-file keys, so each must be different",
            "unknown layer kind `Dnese`: did you mean `Dense`?",
            "unknown activation `rleu`: did you mean `relu`?",
        ];
        for e in &expected {
            assert!(msgs.iter().any(|m| m == e), "missing {e:?} in {msgs:#?}");
        }
        assert!(msgs
            .iter()
            .any(|m| m.starts_with("softmax is only allowed on the last layer")));
        assert!(msgs
            .iter()
            .any(|m| m == "unknown loss `cross_entropi`: did you mean `cross_entropy`?"));
    }

    #[test]
    fn loss_must_fit_the_output_activation() {
        let msgs = messages(quote! {
            struct Net { out: Dense<2, 3> => softmax, loss: binary_cross_entropy }
        });
        assert_eq!(msgs.len(), 1);
        assert!(msgs[0].starts_with("`binary_cross_entropy` needs a sigmoid output, but the last layer `out` ends in `softmax`"));
        let msgs = messages(quote! {
            struct Net { out: Dense<2, 1> => sigmoid, loss: cross_entropy }
        });
        assert!(msgs[0].contains("use `loss: binary_cross_entropy` with sigmoid"));
        let msgs = messages(quote! {
            struct Net { out: Dense<2, 3> => softmax, loss: mse }
        });
        assert!(msgs[0].starts_with("`mse` does not fit a softmax output"));
        assert!(messages(quote! { struct Net { out: Dense<2, 1> => tanh, loss: mse } }).is_empty());
    }

    #[test]
    fn empty_and_lossless_networks_are_errors() {
        let msgs = messages(quote! { struct Net { loss: mse } });
        assert_eq!(msgs.len(), 1);
        assert!(msgs[0].starts_with("network `Net` has no layers"));
        let msgs = messages(quote! { struct Net { a: Dense<1, 1> } });
        assert!(msgs[0].starts_with("missing loss"));
    }

    #[test]
    fn named_dimensions_become_const_checks_and_generics_must_match_exactly() {
        let model = run(quote! {
            struct Net<const H: usize> {
                a: Dense<INPUTS, H> => relu,
                b: Dense<H, HIDDEN> => relu,
                c: Dense<WIDTH, 1>,
                loss: mse,
            }
        })
        .expect("valid"); // ok: test-only
        let junctions: Vec<(String, String)> = model
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Dense {
                    junction: Some(j), ..
                } => Some((j.given.text(), j.expected.text())),
                _ => None,
            })
            .collect();
        assert_eq!(junctions, [("HIDDEN".to_string(), "WIDTH".to_string())]);
        assert_eq!(
            model.const_checks.len(),
            5,
            "INPUTS, H, H, HIDDEN, WIDTH != 0"
        );
        let msgs = messages(quote! {
            struct Net<const H: usize> { a: Dense<4, H>, b: Dense<8, 1>, loss: mse }
        });
        assert_eq!(
            msgs,
            ["layer `b` takes 8 inputs but `a` gives `H`: a dimension given by a const generic parameter only fits the same parameter"]
        );
    }

    #[test]
    fn bad_literals_are_named_with_their_layer() {
        let msgs = messages(quote! {
            struct Net { h: Dense<4, -8>, o: Dense<99999999999999999999999, 1>, loss: sse }
        });
        assert_eq!(
            msgs,
            [
                "layer `h` has a negative output dimension `-8`: every dimension is a positive integer",
                "the input dimension `99999999999999999999999` of layer `o` does not fit in a `usize`",
            ]
        );
    }

    #[test]
    fn a_syntax_error_hides_no_layer_and_no_loss_errors_it_would_cause() {
        // The missing comma swallows `output` into `hidden`'s entry: no
        // "no layers" or "missing loss", and no comparison across the gap.
        let msgs = messages(quote! {
            struct Net { hidden: Dense<4, 8> => relu output: Dense<8, 1> }
        });
        assert_eq!(
            msgs,
            ["missing `,` before this entry: entries are separated by commas"]
        );
        let msgs = messages(quote! {
            struct Net { a: Dense<4, 8>, b: Dense<8 9>, c: Dense<3, 1>, loss: sse }
        });
        assert_eq!(msgs.len(), 1, "only the syntax error: {msgs:?}");
    }

    #[test]
    fn zero_through_a_generic_parameter_is_asserted_in_the_impl() {
        let model = run(quote! {
            struct Mlp<const H: usize> { hidden: Dense<4, H> => relu, output: Dense<H, 1>, loss: sse }
        })
        .expect("valid"); // ok: test-only
        let generic: Vec<&str> = model
            .const_checks
            .iter()
            .filter_map(|c| match c {
                ConstCheck::NonZeroGeneric { message, .. } => Some(message.as_str()),
                ConstCheck::NonZero { .. } => None,
            })
            .collect();
        assert_eq!(
            generic[0],
            "layer `hidden` has zero outputs: `H` is 0, every dimension must be at least 1"
        );
    }

    #[test]
    fn generics_other_than_const_usize_are_rejected() {
        let msgs = messages(quote! {
            struct Net<'a, U, const B: usize, const N: u32> { a: Dense<1, 1>, loss: mse }
        });
        assert_eq!(msgs.len(), 4, "{msgs:#?}");
    }

    #[test]
    fn errors_point_at_the_offending_token() {
        // The span of the mismatch is the `64`, not the whole layer.
        let tokens: proc_macro2::TokenStream =
            "struct Net { h: Dense<2, 128>, o: Dense<64, 1>, loss: mse }"
                .parse()
                .expect("tokens"); // ok: test-only
        let err = run(tokens).err().expect("error"); // ok: test-only
        let span = err.span();
        // Spans from a string parse carry their byte range.
        let range = span.byte_range();
        assert_eq!(range.end - range.start, 2, "the span covers `64` only");
    }
}
