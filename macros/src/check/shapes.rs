//! Shape inference: the shape rule of every operation, node by node.
//!
//! Each node's value gets a shape (`[N]` features, or an image
//! `[C, H, W]`); each operation checks what it reads and says what it gives:
//!
//! | operation | reads | gives |
//! | --- | --- | --- |
//! | `Dense<IN, OUT>` | `[IN]` | `[OUT]` |
//! | `LayerNorm<N>` | `[N]` | `[N]` |
//! | `Conv2d<C, K, k, stride = s, padding = p>` | `[C, H, W]`, `k ≤ H + 2p` | `[K, ⌊(H + 2p − k)/s⌋ + 1, …]` |
//! | `MaxPool2d<k, stride = s>`, `AvgPool2d` | `[C, H, W]`, `k ≤ H` | `[C, ⌊(H − k)/s⌋ + 1, …]` |
//! | `GlobalAvgPool` | `[C, H, W]` | `[C]` |
//! | `Flatten`, `flatten(v)` | `[C, H, W]` | `[C·H·W]` (the same entries) |
//! | activations | any (softmax: `[N]`) | the same |
//! | `a + b`, `a * b` | two equal shapes | the same |
//! | `concat(a, b, …)` | `[N₁]`, `[N₂]`, … or images of one height and width | `[N₁ + N₂ + …]` (channels) |
//!
//! A mismatch is one error on the token to fix, naming both shapes.

use proc_macro2::Span;

use super::layers::mentions_generic;
use super::{
    ConstCheck, GenericNames, Junction, JunctionTaker, Layer, LayerKind, Shape, Step, Value,
    ValueId,
};
use crate::ir::{Form, Graph, NodeId, Op};
use crate::parse::Dim;
use crate::vocab::{self, Activation, Function};

/// What shape inference found.
pub(super) struct Inferred {
    /// Every value, the inputs first.
    pub values: Vec<Value>,
    /// The forward steps in order.
    pub steps: Vec<Step>,
    /// The inputs' values.
    pub inputs: Vec<ValueId>,
    /// The value of each node (`None` after an error).
    pub node_value: Vec<Option<ValueId>>,
    /// The step that computes each value (`None` for inputs).
    pub producer: Vec<Option<usize>>,
    /// Whether some node could not be given a value.
    pub broken: bool,
}

impl Inferred {
    /// The result when every node has a value.
    pub fn complete(self) -> Option<Self> {
        (!self.broken).then_some(self)
    }
}

/// The state of the walk over the nodes.
pub(super) struct Walk<'a> {
    pub(super) graph: &'a Graph,
    pub(super) layers: &'a mut [Option<Layer>],
    pub(super) generic_names: &'a GenericNames,
    pub(super) errors: &'a mut Vec<syn::Error>,
    pub(super) const_checks: &'a mut Vec<ConstCheck>,
    pub(super) out: Inferred,
    /// How each value is named in messages: "`hidden`", "`concat(a, b)`".
    pub(super) giver: Vec<String>,
    /// Whether the sequential form's input width is still to be taken from
    /// the first layer.
    pub(super) input_width_open: bool,
    /// Whether a call named an unknown layer or function (then a layer that
    /// looks unused may be the one meant).
    pub(super) unresolved_call: bool,
    /// Inputs whose declared shape is invalid (reported): they have no value.
    pub(super) invalid_inputs: Vec<usize>,
}

/// Infers the shape of every node and the steps of the forward pass.
pub(super) fn infer(
    graph: &Graph,
    layers: &mut [Option<Layer>],
    generic_names: &GenericNames,
    errors: &mut Vec<syn::Error>,
    const_checks: &mut Vec<ConstCheck>,
) -> Inferred {
    let mut walk = Walk {
        graph,
        layers,
        generic_names,
        errors,
        const_checks,
        out: Inferred {
            values: Vec::new(),
            steps: Vec::new(),
            inputs: Vec::new(),
            node_value: vec![None; graph.nodes.len()],
            producer: Vec::new(),
            broken: false,
        },
        giver: Vec::new(),
        input_width_open: false,
        unresolved_call: false,
        invalid_inputs: Vec::new(),
    };
    walk.inputs();
    for (id, node) in graph.nodes.iter().enumerate() {
        let value = match &node.op {
            Op::Input(k) if walk.invalid_inputs.contains(k) => None,
            Op::Input(k) => walk.out.inputs.get(*k).copied(),
            Op::Unknown => None,
            Op::Activation { function, input } => walk.activation_entry(id, function, *input),
            Op::Layer { layer, input } => match walk.out.node_value[*input] {
                Some(value) => walk.apply_layer(id, *layer, value, *input),
                None => None,
            },
            Op::Call { func, args } => walk.call(id, func, args),
            Op::Add { op, lhs, rhs } => walk.elementwise(id, *op, *lhs, *rhs, true),
            Op::Mul { op, lhs, rhs } => walk.elementwise(id, *op, *lhs, *rhs, false),
        };
        if value.is_none() {
            walk.out.broken = true;
        }
        walk.out.node_value[id] = value;
    }
    walk.outputs();
    walk.unused_layers();
    walk.out
}

impl Walk<'_> {
    /// A new value computed by a new step.
    pub(super) fn push(
        &mut self,
        shape: Shape,
        giver: String,
        step: impl FnOnce(ValueId) -> Step,
    ) -> ValueId {
        let id = self.out.values.len();
        self.out.values.push(Value {
            name: String::new(),
            shape,
            alias_of: None,
        });
        self.out.producer.push(Some(self.out.steps.len()));
        self.giver.push(giver);
        self.out.steps.push(step(id));
        id
    }

    /// The values of the inputs, with their declared shapes (or, in the
    /// sequential form without `input:`, the first layer's width later).
    fn inputs(&mut self) {
        for (k, input) in self.graph.inputs.iter().enumerate() {
            let name = input.name.to_string();
            let shape = match &input.dims {
                None => {
                    self.input_width_open = true;
                    Some(Shape::Flat(Dim::literal(0, input.span)))
                }
                Some(dims) => self.declared_shape(dims, input.span, &format!("the input `{name}`")),
            };
            let valid = shape.is_some();
            let shape = shape.unwrap_or_else(|| Shape::Flat(Dim::literal(1, input.span)));
            if !valid {
                self.invalid_inputs.push(k);
            }
            self.out.values.push(Value {
                name: name.clone(),
                shape,
                alias_of: None,
            });
            self.out.producer.push(None);
            self.giver.push(if self.graph.form == Form::Sequential {
                "the input".to_string()
            } else {
                format!("`{name}`")
            });
            self.out.inputs.push(k);
        }
    }

    /// `[N]` or `[C, H, W]` as declared for an input or output.
    fn declared_shape(&mut self, dims: &[Dim], span: Span, what: &str) -> Option<Shape> {
        match dims {
            [n] => {
                let ok = match n {
                    Dim::Neg(..) => false,
                    _ => match n.literal_value() {
                        Some(Ok(0)) | Some(Err(_)) => false,
                        Some(Ok(_)) => true,
                        None => {
                            let message = format!("{what} has zero features: `{}` is 0", n.text());
                            self.const_checks.push(ConstCheck::NotEqual {
                                dim: n.clone(),
                                value: 0,
                                generic: mentions_generic(n, self.generic_names),
                                message,
                            });
                            true
                        }
                    },
                };
                if !ok {
                    self.errors.push(syn::Error::new(
                        n.span(),
                        format!(
                            "{what} has {} features: a shape is made of positive integers that fit in a `usize`",
                            n.text()
                        ),
                    ));
                    return None;
                }
                Some(Shape::Flat(n.clone()))
            }
            [c, h, w] => {
                let mut literal = |d: &Dim| match d.known() {
                    Some(v) if v > 0 => Some(v),
                    _ => {
                        self.errors.push(syn::Error::new(
                            d.span(),
                            format!(
                                "the image shape of {what} is made of positive integer literals (channels, height, width), not `{}`",
                                d.text()
                            ),
                        ));
                        None
                    }
                };
                let (c, h, w) = (literal(c), literal(h), literal(w));
                let (c, h, w) = (c?, h?, w?);
                if c.checked_mul(h)
                    .and_then(|n| n.checked_mul(w))
                    .is_none_or(|n| n > isize::MAX as usize / 8)
                {
                    self.errors.push(syn::Error::new(
                        span,
                        format!("{what} would have {c} × {h} × {w} entries per sample, more than a program can hold"),
                    ));
                    return None;
                }
                Some(Shape::Image {
                    channels: c,
                    height: h,
                    width: w,
                })
            }
            _ => {
                self.errors.push(syn::Error::new(
                    span,
                    format!(
                        "{what} has {} dimensions: a shape is `[N]` (features) or `[C, H, W]` (an image: channels, height, width)",
                        dims.len()
                    ),
                ));
                None
            }
        }
    }

    /// `func(args)` of the graph form, or a layer entry of the sequential
    /// form: a layer application, an activation or a function.
    fn call(&mut self, id: NodeId, func: &syn::Ident, args: &[NodeId]) -> Option<ValueId> {
        let name = func.to_string();
        if let Some(layer) = self.graph.layers.iter().position(|l| l.name == name) {
            if args.len() != 1 {
                self.errors.push(syn::Error::new(
                    func.span(),
                    format!(
                        "layer `{name}` is applied to one value: `{name}(x)`, not {} values",
                        args.len()
                    ),
                ));
                return None;
            }
            let input = self.out.node_value[args[0]]?;
            return self.apply_layer(id, layer, input, args[0]);
        }
        if let Some(activation) = vocab::lookup(vocab::ACTIVATIONS, &name) {
            let [arg] = args else {
                self.errors.push(syn::Error::new(
                    func.span(),
                    format!("`{name}` takes one value: `{name}(h)`"),
                ));
                return None;
            };
            let input = self.out.node_value[*arg]?;
            return self.activation(id, activation, func.span(), input, *arg);
        }
        if let Some(function) = vocab::lookup(vocab::FUNCTIONS, &name) {
            let inputs: Option<Vec<ValueId>> =
                args.iter().map(|a| self.out.node_value[*a]).collect();
            return match function {
                Function::Concat => self.concat(id, func.span(), args, &inputs?),
                Function::Flatten => {
                    let [arg] = args else {
                        self.errors.push(syn::Error::new(
                            func.span(),
                            "`flatten` takes one value: `flatten(image)`",
                        ));
                        return None;
                    };
                    let input = self.out.node_value[*arg]?;
                    let giver = self.giver_of_node(id);
                    Some(self.flatten(input, giver))
                }
            };
        }
        let layer_names: Vec<String> = self
            .graph
            .layers
            .iter()
            .map(|l| l.name.to_string())
            .collect();
        let mut known: Vec<(&str, ())> = layer_names.iter().map(|n| (n.as_str(), ())).collect();
        known.extend(vocab::ACTIVATIONS.iter().map(|(n, _)| (*n, ())));
        known.extend(vocab::FUNCTIONS.iter().map(|(n, _)| (*n, ())));
        let message = match vocab::closest(&known, &name) {
            Some(best) => format!("unknown layer or function `{name}`: did you mean `{best}`?"),
            None => format!(
                "unknown layer or function `{name}`: apply a declared layer (`{}`), an activation (`relu`, …), `concat` or `flatten`",
                self.graph.layers.iter().map(|l| l.name.to_string()).collect::<Vec<_>>().join("`, `")
            ),
        };
        self.errors.push(syn::Error::new(func.span(), message));
        self.unresolved_call = true;
        None
    }

    /// Layer `layer` applied to `input` (computed by node `arg`).
    fn apply_layer(
        &mut self,
        id: NodeId,
        layer: usize,
        input: ValueId,
        arg: NodeId,
    ) -> Option<ValueId> {
        let kind = self.layers[layer].as_ref()?.kind.clone();
        if let Some(l) = self.layers[layer].as_mut() {
            l.uses += 1;
        }
        let layer_name = self.graph.layers[layer].name.to_string();
        let giver = self.giver_of(id, &layer_name);
        let arg_span = match self.graph.form {
            Form::Graph => self.graph.nodes[arg].span,
            Form::Sequential => self.graph.layers[layer].kind.span(),
        };
        match kind {
            LayerKind::Dense {
                inputs, outputs, ..
            } => {
                let junction = self.flat_input(input, &inputs, &layer_name, arg_span, "inputs")?;
                Some(
                    self.push(Shape::Flat(outputs), giver, |output| Step::Dense {
                        layer,
                        input,
                        output,
                        junction,
                    }),
                )
            }
            LayerKind::LayerNorm { features } => {
                let junction =
                    self.flat_input(input, &features, &layer_name, arg_span, "features")?;
                if let Some(j) = junction {
                    self.errors.push(syn::Error::new(
                        j.expected.span(),
                        format!(
                            "layer `{layer_name}` normalises {} features but {} gives {}: use the same name for both dimensions",
                            super::quoted(&j.expected),
                            self.giver[input],
                            super::quoted(&j.given)
                        ),
                    ));
                    return None;
                }
                Some(
                    self.push(Shape::Flat(features), giver, |output| Step::LayerNorm {
                        layer,
                        input,
                        output,
                    }),
                )
            }
            LayerKind::Conv2d(conv) => {
                let (c, h, w) = self.image_input(input, &layer_name, arg_span)?;
                let out = self.conv_output(conv, (c, h, w), input, &layer_name, arg_span)?;
                Some(self.push(out, giver, |output| Step::Conv2d {
                    layer,
                    input,
                    output,
                }))
            }
            LayerKind::Pool(pool) => {
                let (c, h, w) = self.image_input(input, &layer_name, arg_span)?;
                let out = self.pool_output(pool, (c, h, w), input, &layer_name, arg_span)?;
                Some(self.push(out, giver, |output| Step::Pool {
                    layer,
                    input,
                    output,
                }))
            }
            LayerKind::GlobalAvgPool => {
                let (c, _, _) = self.image_input(input, &layer_name, arg_span)?;
                Some(
                    self.push(Shape::Flat(Dim::literal(c, arg_span)), giver, |output| {
                        Step::GlobalAvgPool { input, output }
                    }),
                )
            }
            LayerKind::Flatten => Some(self.flatten(input, giver)),
        }
    }

    /// How the value of node `id`, made by layer `layer_name`, is named in
    /// messages.
    fn giver_of(&self, id: NodeId, layer_name: &str) -> String {
        match self.graph.form {
            Form::Sequential => format!("`{layer_name}`"),
            Form::Graph => self.graph.nodes[id]
                .name
                .as_ref()
                .map_or_else(|| self.graph.nodes[id].text.clone(), |n| format!("`{n}`")),
        }
    }

    /// A flat input of `expected` features for layer `taker`: compares the
    /// widths; returns the junction the compiler must check, if any.
    fn flat_input(
        &mut self,
        input: ValueId,
        expected: &Dim,
        taker: &str,
        arg_span: Span,
        role: &str,
    ) -> Option<Option<Box<Junction>>> {
        let sequential = self.graph.form == Form::Sequential;
        let span = if sequential {
            expected.span()
        } else {
            arg_span
        };
        match self.out.values[input].shape.clone() {
            Shape::Image {
                channels,
                height,
                width,
            } => {
                self.errors.push(syn::Error::new(
                    span,
                    format!(
                        "layer `{taker}` takes {} {role} but {} gives an image [{channels}, {height}, {width}]: flatten it first ({} features), with a `Flatten` layer or `flatten(…)`",
                        super::quoted(expected),
                        self.giver[input],
                        channels * height * width
                    ),
                ));
                None
            }
            Shape::Flat(given) => {
                if input < self.out.inputs.len() && self.input_width_open {
                    // The sequential form's input takes the first layer's width.
                    self.input_width_open = false;
                    self.out.values[input].shape = Shape::Flat(expected.clone());
                    return Some(None);
                }
                Some(self.compare_widths(
                    expected,
                    &given,
                    taker,
                    &self.giver[input].clone(),
                    span,
                    role,
                ))
            }
        }
    }

    /// `expected` (what layer `taker` takes) against `given` (what `giver`
    /// gives); returns the junction the compiler must check when both are
    /// `const` items.
    fn compare_widths(
        &mut self,
        expected: &Dim,
        given: &Dim,
        taker: &str,
        giver: &str,
        span: Span,
        role: &str,
    ) -> Option<Box<Junction>> {
        let message = format!(
            "layer `{taker}` takes {} {role} but {giver} gives {}",
            super::quoted(expected),
            super::quoted(given)
        );
        match (expected.literal_value(), given.literal_value()) {
            (Some(Ok(a)), Some(Ok(b))) => {
                if a != b {
                    self.errors.push(syn::Error::new(span, message));
                }
                None
            }
            (Some(Err(_)), _) | (_, Some(Err(_))) => None,
            _ if expected.text() == given.text() => None,
            _ if mentions_generic(expected, self.generic_names)
                || mentions_generic(given, self.generic_names) =>
            {
                self.errors.push(syn::Error::new(
                    span,
                    format!(
                        "{message}: a dimension given by a const generic parameter only fits the same parameter"
                    ),
                ));
                None
            }
            _ => Some(Box::new(Junction {
                given: given.clone(),
                expected: respan(expected, span),
                taker: JunctionTaker::Layer(taker.to_string()),
                giver: giver.to_string(),
            })),
        }
    }

    /// `=> function` of the sequential form.
    fn activation_entry(
        &mut self,
        id: NodeId,
        function: &syn::Ident,
        input_node: NodeId,
    ) -> Option<ValueId> {
        let name = function.to_string();
        let activation = match vocab::lookup(vocab::ACTIVATIONS, &name) {
            Some(a) => a,
            None => {
                self.errors.push(syn::Error::new(
                    function.span(),
                    vocab::unknown("activation", vocab::ACTIVATIONS, &name),
                ));
                // Reported; shapes are still checked, as identity.
                Activation::Identity
            }
        };
        if activation == Activation::Softmax
            && self.graph.outputs.first().map(|o| o.node) != Some(id)
        {
            let layer = match &self.graph.nodes[input_node].op {
                Op::Layer { layer, .. } => self.graph.layers[*layer].name.to_string(),
                _ => String::new(),
            };
            self.errors.push(syn::Error::new(
                function.span(),
                format!(
                    "softmax is only allowed on the last layer, but layer `{layer}` is followed by more layers: use relu, leaky_relu, tanh or sigmoid for a hidden layer"
                ),
            ));
        }
        let input = self.out.node_value[input_node]?;
        self.activation(id, activation, function.span(), input, input_node)
    }

    /// `activation(input)`.
    fn activation(
        &mut self,
        id: NodeId,
        activation: Activation,
        span: Span,
        input: ValueId,
        input_node: NodeId,
    ) -> Option<ValueId> {
        if matches!(activation, Activation::Relu | Activation::LeakyRelu) {
            if let Some(Some(step)) = self.out.producer.get(input) {
                if let Some(layer) = self.out.steps[*step].layer() {
                    if let Some(l) = self.layers[layer].as_mut() {
                        l.he_init = true;
                    }
                }
            }
        }
        if activation == Activation::Identity {
            return Some(input);
        }
        if activation == Activation::Softmax {
            if let Shape::Image { .. } = self.out.values[input].shape {
                self.errors.push(syn::Error::new(
                    span,
                    format!(
                        "softmax acts on features, but {} is an image {}: flatten it first",
                        self.giver[input],
                        self.out.values[input].shape.text()
                    ),
                ));
                return None;
            }
        }
        let giver = match self.graph.form {
            Form::Sequential => self.giver[input].clone(),
            Form::Graph => self.giver_of_node(id),
        };
        let _ = input_node;
        let shape = self.out.values[input].shape.clone();
        Some(self.push(shape, giver, |output| Step::Activation {
            activation,
            input,
            output,
        }))
    }

    /// How node `id` is named in messages, in the graph form.
    pub(super) fn giver_of_node(&self, id: NodeId) -> String {
        let node = &self.graph.nodes[id];
        node.name
            .as_ref()
            .map_or_else(|| node.text.clone(), |n| format!("`{n}`"))
    }

    /// The outputs' declared shapes against their computed ones.
    fn outputs(&mut self) {
        for output in &self.graph.outputs {
            let Some(value) = self.out.node_value[output.node] else {
                continue;
            };
            let Some(dims) = &output.dims else { continue };
            let name = output
                .name
                .as_ref()
                .map_or_else(|| "output".to_string(), ToString::to_string);
            let Some(declared) =
                self.declared_shape(dims, output.span, &format!("the output `{name}`"))
            else {
                continue;
            };
            let computed = self.out.values[value].shape.clone();
            let fits = match (&declared, &computed) {
                (Shape::Flat(d), Shape::Flat(c)) => match (d.known(), c.known()) {
                    (Some(a), Some(b)) => a == b,
                    // Named dimensions: the same name, or the compiler
                    // compares them (the output's type is the computed one).
                    _ => d.text() == c.text() || self.named_output_width(d, c, &name),
                },
                (
                    Shape::Image {
                        channels,
                        height,
                        width,
                    },
                    Shape::Image {
                        channels: c,
                        height: h,
                        width: w,
                    },
                ) => (channels, height, width) == (c, h, w),
                _ => false,
            };
            if !fits {
                self.errors.push(syn::Error::new(
                    dims.first().map_or(output.span, Dim::span),
                    format!(
                        "the output `{name}` is declared as {} but {} gives {}",
                        declared.text(),
                        self.giver[value],
                        computed.text()
                    ),
                ));
            }
        }
    }

    /// A declared output width and a computed one given by different names:
    /// equal when neither is a generic parameter (then the compiler compares
    /// them, see [`ConstCheck::SameWidth`]).
    fn named_output_width(&mut self, declared: &Dim, computed: &Dim, name: &str) -> bool {
        if mentions_generic(declared, self.generic_names)
            || mentions_generic(computed, self.generic_names)
        {
            return false;
        }
        self.const_checks.push(ConstCheck::SameWidth {
            given: computed.clone(),
            expected: declared.clone(),
            message: format!(
                "the output `{name}` is declared with {{C}} features but its value has {{A}}"
            ),
        });
        true
    }

    /// Layers declared but never applied (graph form).
    fn unused_layers(&mut self) {
        if self.graph.form != Form::Graph || self.unresolved_call || self.graph.unresolved {
            return;
        }
        for (decl, layer) in self.graph.layers.iter().zip(self.layers.iter()) {
            let applied = self
                .graph
                .nodes
                .iter()
                .any(|n| matches!(&n.op, Op::Call { func, .. } if *func == decl.name));
            if let Some(layer) = layer {
                if layer.uses == 0 && !applied {
                    self.errors.push(syn::Error::new(
                        decl.name.span(),
                        format!(
                            "layer `{}` is declared but never applied in `fn forward`: apply it, `{}(…)`, or remove it",
                            decl.name, decl.name
                        ),
                    ));
                }
            }
        }
    }
}

/// The same dimension, every token spanned at `span` (where the compiler
/// reports a mismatch of `const` items).
pub(super) fn respan(dim: &Dim, span: Span) -> Dim {
    fn walk(tokens: proc_macro2::TokenStream, span: Span) -> proc_macro2::TokenStream {
        tokens
            .into_iter()
            .map(|mut tree| {
                if let proc_macro2::TokenTree::Group(group) = &tree {
                    let mut inner =
                        proc_macro2::Group::new(group.delimiter(), walk(group.stream(), span));
                    inner.set_span(span);
                    return proc_macro2::TokenTree::Group(inner);
                }
                tree.set_span(span);
                tree
            })
            .collect()
    }
    match dim {
        Dim::Lit(lit) => {
            let mut lit = lit.clone();
            lit.set_span(span);
            Dim::Lit(lit)
        }
        other => syn::parse2(walk(quote::quote!(#other), span)).unwrap_or_else(|_| other.clone()),
    }
}
