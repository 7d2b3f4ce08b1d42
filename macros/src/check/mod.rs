//! Stage 3, check: name resolution and shape inference over the graph.
//!
//! Every mistake is collected (an error accumulator, as in serde_derive) and
//! reported together, each with the span of the token to fix. What can be
//! decided here is decided here (literal dimensions, names, every shape of a
//! convolution stack); what cannot (dimensions given by `const` items)
//! becomes a [`Junction`] or a [`ConstCheck`] that the generated code
//! asserts at compile time with the same readable message.
//!
//! One module a concern, as cxx's `syntax/check.rs` family:
//! - [`layers`]: the declared layers, their kinds and dimensions, the
//!   network's generic parameters;
//! - [`shapes`]: the shape rule of each operation, node by node (those of
//!   `+`, `*` and `concat` in [`combine`], of the image operations in
//!   [`images`]);
//! - [`losses`]: the loss terms, their fit with the outputs, the penalties;
//! - [`names`]: the identifiers of the values in the generated code.

mod combine;
mod images;
mod layers;
mod losses;
mod names;
mod shapes;

use std::collections::HashSet;

use proc_macro2::Span;
use syn::{Attribute, Generics, Ident, Visibility};

use crate::ir::{Form, Graph};
use crate::parse::{Dim, Settings};
use crate::vocab::{Activation, LossKind, PenaltyKind};

pub use layers::quoted;

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
    /// The form it was declared in.
    pub form: Form,
    /// The layers, in declaration (field) order.
    pub layers: Vec<Layer>,
    /// The values flowing through the network; the inputs come first.
    pub values: Vec<Value>,
    /// The forward computation, in order (identity activations are omitted:
    /// their output is their input).
    pub steps: Vec<Step>,
    /// The network's inputs, in order (values `0..inputs.len()`).
    pub inputs: Vec<ValueId>,
    /// The network's outputs, each with its loss.
    pub outputs: Vec<Output>,
    /// Penalties on parameters added to the loss.
    pub penalties: Vec<Penalty>,
    /// Equalities between dimensions that only the compiler can evaluate.
    pub const_checks: Vec<ConstCheck>,
    /// The declaration as text (the `ARCHITECTURE` constant).
    pub architecture: String,
    /// The `#[chainrule(…)]` settings.
    pub settings: Settings,
}

/// A declared layer: a struct field when it holds parameters.
pub struct Layer {
    /// Doc comments and attributes of the field.
    pub attrs: Vec<Attribute>,
    /// The field name, also the weight-file prefix.
    pub name: Ident,
    /// What it computes, with its dimensions.
    pub kind: LayerKind,
    /// He initialisation (relu, leaky relu) or Xavier.
    pub he_init: bool,
    /// 1-based position among the declared layers, used in the sequential
    /// form's names `z1`, `dl_dw1`.
    pub number: usize,
    /// How many times `fn forward` applies it (a tied layer: more than one).
    pub uses: usize,
}

/// A layer kind with its checked dimensions.
#[derive(Clone)]
pub enum LayerKind {
    /// `z = x·Wᵀ (+ 1·bᵀ)`.
    Dense {
        /// Inputs (columns of the weight).
        inputs: Dim,
        /// Outputs (rows of the weight).
        outputs: Dim,
        /// Whether it has a bias.
        bias: bool,
    },
    /// `γ ⊗ (x − μ)/√(σ² + ε) + β` over the features of each row.
    LayerNorm {
        /// The number of features.
        features: Dim,
    },
    /// 2-D cross-correlation.
    Conv2d(Conv),
    /// Max or average pooling.
    Pool(Pool),
    /// The mean of each channel.
    GlobalAvgPool,
    /// An image as its features.
    Flatten,
}

/// The dimensions of a convolution (literals: every shape of a
/// convolution stack is computed by the macro).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels (the number of kernels).
    pub out_channels: usize,
    /// The kernel's height and width.
    pub kernel: usize,
    /// The step between windows.
    pub stride: usize,
    /// Zeros added on every side.
    pub padding: usize,
    /// Whether it has a bias.
    pub bias: bool,
}

/// The dimensions of a pooling layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool {
    /// Max or average.
    pub max: bool,
    /// The window's height and width.
    pub kernel: usize,
    /// The step between windows.
    pub stride: usize,
}

impl Layer {
    /// A dense layer's inputs, outputs and whether it has a bias.
    pub fn dense(&self) -> Option<(&Dim, &Dim, bool)> {
        match &self.kind {
            LayerKind::Dense {
                inputs,
                outputs,
                bias,
            } => Some((inputs, outputs, *bias)),
            _ => None,
        }
    }
}

impl LayerKind {
    /// Whether the layer holds parameters (is a struct field).
    pub fn has_params(&self) -> bool {
        matches!(
            self,
            LayerKind::Dense { .. } | LayerKind::LayerNorm { .. } | LayerKind::Conv2d(_)
        )
    }
}

/// A `B × features` matrix computed by the network.
pub struct Value {
    /// The name in the generated code, the workspace and the graph: `x`,
    /// `z1`, `a1`, or the user's `let` name.
    pub name: String,
    /// The shape of one sample.
    pub shape: Shape,
    /// A value whose entries are another's (a flattened image): it has no
    /// buffer of its own.
    pub alias_of: Option<ValueId>,
}

/// The shape of one sample of a value.
#[derive(Clone)]
pub enum Shape {
    /// `N` features.
    Flat(Dim),
    /// An image, channels × height × width (stored in that order).
    Image {
        /// Channels.
        channels: usize,
        /// Height.
        height: usize,
        /// Width.
        width: usize,
    },
}

impl Shape {
    /// The number of entries of one sample: the width of the value's matrix.
    pub fn features(&self, span: Span) -> Dim {
        match self {
            Shape::Flat(dim) => dim.clone(),
            Shape::Image {
                channels,
                height,
                width,
            } => Dim::literal(channels * height * width, span),
        }
    }

    /// `[128]`, `[6, 28, 28]`.
    pub fn text(&self) -> String {
        match self {
            Shape::Flat(dim) => format!("[{}]", dim.text()),
            Shape::Image {
                channels,
                height,
                width,
            } => format!("[{channels}, {height}, {width}]"),
        }
    }
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
        /// The argument.
        input: ValueId,
        /// The result.
        output: ValueId,
    },
    /// `output = lhs + rhs`.
    Add {
        /// The left operand.
        lhs: ValueId,
        /// The right operand.
        rhs: ValueId,
        /// The sum.
        output: ValueId,
        /// Set when the two widths are different `const` items.
        junction: Option<Box<Junction>>,
    },
    /// `output = lhs ⊗ rhs`.
    Mul {
        /// The left operand.
        lhs: ValueId,
        /// The right operand.
        rhs: ValueId,
        /// The product.
        output: ValueId,
        /// Set when the two widths are different `const` items.
        junction: Option<Box<Junction>>,
    },
    /// `output = [inputs…]` side by side.
    Concat {
        /// The parts, in order.
        inputs: Vec<ValueId>,
        /// The result.
        output: ValueId,
    },
    /// Layer normalisation with the layer's γ and β.
    LayerNorm {
        /// Index into [`Model::layers`].
        layer: usize,
        /// The normalised value.
        input: ValueId,
        /// The result.
        output: ValueId,
    },
    /// A convolution.
    Conv2d {
        /// Index into [`Model::layers`].
        layer: usize,
        /// The input image.
        input: ValueId,
        /// The output image.
        output: ValueId,
    },
    /// Max or average pooling.
    Pool {
        /// Index into [`Model::layers`].
        layer: usize,
        /// The input image.
        input: ValueId,
        /// The output image.
        output: ValueId,
    },
    /// The mean of each channel.
    GlobalAvgPool {
        /// The input image.
        input: ValueId,
        /// The means.
        output: ValueId,
    },
    /// An image as its features: no computation, `output` is an alias.
    Flatten {
        /// The image.
        input: ValueId,
        /// The flat value.
        output: ValueId,
    },
}

impl Step {
    /// The values the step reads.
    pub fn inputs(&self) -> Vec<ValueId> {
        match self {
            Step::Dense { input, .. }
            | Step::Activation { input, .. }
            | Step::LayerNorm { input, .. }
            | Step::Conv2d { input, .. }
            | Step::Pool { input, .. }
            | Step::GlobalAvgPool { input, .. }
            | Step::Flatten { input, .. } => vec![*input],
            Step::Add { lhs, rhs, .. } | Step::Mul { lhs, rhs, .. } => vec![*lhs, *rhs],
            Step::Concat { inputs, .. } => inputs.clone(),
        }
    }

    /// The value the step writes.
    pub fn output(&self) -> ValueId {
        match self {
            Step::Dense { output, .. }
            | Step::Activation { output, .. }
            | Step::Add { output, .. }
            | Step::Mul { output, .. }
            | Step::Concat { output, .. }
            | Step::LayerNorm { output, .. }
            | Step::Conv2d { output, .. }
            | Step::Pool { output, .. }
            | Step::GlobalAvgPool { output, .. }
            | Step::Flatten { output, .. } => *output,
        }
    }

    /// The layer whose parameters or settings the step uses, if any.
    pub fn layer(&self) -> Option<usize> {
        match self {
            Step::Dense { layer, .. }
            | Step::LayerNorm { layer, .. }
            | Step::Conv2d { layer, .. }
            | Step::Pool { layer, .. } => Some(*layer),
            _ => None,
        }
    }
}

/// An output of the network and its loss.
pub struct Output {
    /// The output's value (after the output activation).
    pub value: ValueId,
    /// The output's name (`class`; `output` for a single unnamed output).
    pub name: String,
    /// Its loss.
    pub loss: LossTerm,
}

/// One loss term: `weight · loss(output, targets)`.
pub struct LossTerm {
    /// Which loss.
    pub kind: LossKind,
    /// The factor, if not 1.
    pub weight: Option<Factor>,
    /// For the fused losses (softmax + cross-entropy, sigmoid + binary
    /// cross-entropy): the logits, whose gradient the loss writes directly.
    pub logits: Option<ValueId>,
    /// The name of the targets' argument in the generated methods.
    pub targets: String,
}

/// A positive factor of a loss term or penalty, as written.
#[derive(Clone)]
pub struct Factor {
    /// Its value.
    pub value: f64,
    /// The literal as written (`0.5`, `1e-2`).
    pub text: String,
}

/// `weight · Σ w²` over parameter tensors.
pub struct Penalty {
    /// Which penalty.
    pub kind: PenaltyKind,
    /// The factor, if not 1.
    pub weight: Option<Factor>,
    /// The tensors: (layer index, `"weight"` or `"bias"`).
    pub tensors: Vec<(usize, String)>,
}

/// Two widths given by `const` items that must be equal: the value flows
/// through `SameWidth<given, expected>::cast`, which exists only when they
/// are (see `chainrule::__private::SameWidth`).
#[derive(Clone)]
pub struct Junction {
    /// The width the earlier value gives.
    pub given: Dim,
    /// The width the later operation takes (the error's span).
    pub expected: Dim,
    /// What takes the value.
    pub taker: JunctionTaker,
    /// What gives the value (a layer's name or an expression).
    pub giver: String,
}

/// What meets a value of another `const` width.
#[derive(Clone)]
pub enum JunctionTaker {
    /// The layer of this name.
    Layer(String),
    /// The left side of `+` (as written).
    Add(String),
    /// The left side of `*` (as written).
    Mul(String),
}

/// A condition on dimensions checked by the compiler.
pub enum ConstCheck {
    /// A dimension given by a `const` item or a const generic parameter
    /// must not equal `value` (0 for every dimension; 1 for a softmax
    /// trained with cross-entropy).
    NotEqual {
        /// The dimension.
        dim: Dim,
        /// The forbidden value.
        value: usize,
        /// Whether `dim` mentions a const generic parameter (then the check
        /// runs where the network is made, where the parameter is known).
        generic: bool,
        /// The message when it is equal.
        message: String,
    },
    /// Two widths given by `const` items that must be equal, where no value
    /// flows between them (a declared output width).
    SameWidth {
        /// The width computed.
        given: Dim,
        /// The width declared (the error's span).
        expected: Dim,
        /// The message, with `{A}` for `given` and `{C}` for `expected`.
        message: String,
    },
}

impl Model {
    /// The value whose buffer holds `value`'s entries (itself, unless it is
    /// an alias).
    pub fn storage(&self, mut value: ValueId) -> ValueId {
        while let Some(of) = self.values[value].alias_of {
            value = of;
        }
        value
    }

    /// The width (features per sample) of a value.
    pub fn width(&self, value: ValueId) -> Dim {
        self.values[value].shape.features(Span::call_site())
    }

    /// Whether the network has one input and one output (it then implements
    /// `Network<IN, OUT>`).
    pub fn is_single(&self) -> bool {
        self.inputs.len() == 1 && self.outputs.len() == 1
    }
}

/// Checks the graph; returns the model or every error found, combined.
pub fn check(mut graph: Graph) -> Result<Model, syn::Error> {
    let mut errors: Vec<syn::Error> = std::mem::take(&mut graph.errors);
    let generic_names = layers::check_generics(&graph.generics, &mut errors);
    let mut const_checks = Vec::new();
    let mut layers = layers::check_layers(&graph, &generic_names, &mut errors, &mut const_checks);

    // After a syntax error entries may be missing: no "no layers" or
    // "missing loss" errors that fixing the syntax error would make false.
    let complete = graph.complete && errors.is_empty();
    let empty = graph.layers.is_empty();
    if empty && complete {
        errors.push(syn::Error::new(
            graph.ident.span(),
            format!(
                "network `{}` has no layers: declare at least one, e.g. `output: Dense<IN, OUT> => sigmoid`",
                graph.ident
            ),
        ));
    }

    let inferred = shapes::infer(
        &graph,
        &mut layers,
        &generic_names,
        &mut errors,
        &mut const_checks,
    );
    let outputs = losses::check_losses(&graph, &layers, &inferred, complete && !empty, &mut errors);
    let penalties = losses::check_penalties(&graph, &layers, &mut errors);

    if let Some(first) = errors.into_iter().reduce(|mut all, e| {
        all.combine(e);
        all
    }) {
        return Err(first);
    }
    let (Some(outputs), Some(mut inferred), true) =
        (outputs, inferred.complete(), !layers.is_empty())
    else {
        return Err(syn::Error::new(
            graph.ident.span(),
            "network could not be checked",
        ));
    };
    losses::one_unit_softmax_checks(
        &outputs,
        &inferred.values,
        &generic_names,
        &mut const_checks,
    );
    let layers: Vec<Layer> = layers.into_iter().flatten().collect();
    names::assign(&graph, &layers, &mut inferred, &outputs);
    let architecture = architecture_text(&graph, &layers, &inferred.steps, &outputs, &penalties);
    Ok(Model {
        attrs: graph.attrs,
        vis: graph.vis,
        ident: graph.ident,
        generics: graph.generics,
        form: graph.form,
        layers,
        values: inferred.values,
        steps: inferred.steps,
        inputs: inferred.inputs,
        outputs,
        penalties,
        const_checks,
        architecture,
        settings: graph.settings,
    })
}

/// The declaration as one line of text, e.g.
/// `"Mnist { hidden: Dense<784, 128> => relu, output: Dense<128, 10> => softmax, loss: cross_entropy }"`
/// (weight files record it; loading checks it). The graph form adds its
/// forward pass in a normalised form.
fn architecture_text(
    graph: &Graph,
    layers: &[Layer],
    steps: &[Step],
    outputs: &[Output],
    penalties: &[Penalty],
) -> String {
    let mut parts = Vec::new();
    for layer in layers {
        let mut text = format!("{}: {}", layer.name, layers::kind_text(&layer.kind));
        if graph.form == Form::Sequential {
            let activation = steps
                .iter()
                .find_map(|s| match s {
                    Step::Activation {
                        activation, input, ..
                    } if steps.iter().any(|d| {
                        d.layer().is_some_and(|l| layers[l].number == layer.number)
                            && d.output() == *input
                    }) =>
                    {
                        Some(*activation)
                    }
                    _ => None,
                })
                .unwrap_or(Activation::Identity);
            if layer.kind.has_params() || activation != Activation::Identity {
                text.push_str(&format!(" => {}", activation.name()));
            }
        }
        parts.push(text);
    }
    if graph.form == Form::Graph {
        parts.push(format!("fn forward {}", graph_text(graph)));
    }
    let mut terms: Vec<String> = outputs
        .iter()
        .map(|o| {
            let weight = o
                .loss
                .weight
                .as_ref()
                .map_or(String::new(), |w| format!("{} * ", w.text));
            if graph.form == Form::Sequential {
                format!("{weight}{}", o.loss.kind.name())
            } else {
                format!("{weight}{}({})", o.loss.kind.name(), o.name)
            }
        })
        .collect();
    for penalty in penalties {
        let weight = penalty
            .weight
            .as_ref()
            .map_or(String::new(), |w| format!("{} * ", w.text));
        let tensors: Vec<String> = penalty
            .tensors
            .iter()
            .map(|(l, t)| format!("{}.{t}", layers[*l].name))
            .collect();
        terms.push(format!(
            "{weight}{}({})",
            penalty.kind.name(),
            tensors.join(", ")
        ));
    }
    parts.push(format!("loss: {}", terms.join(" + ")));
    let params: Vec<String> = graph
        .generics
        .params
        .iter()
        .filter_map(|p| match p {
            syn::GenericParam::Const(c) => Some(format!("const {}: usize", c.ident)),
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

/// The graph of `fn forward` as text, one operation per node:
/// `(x: [64]) -> [10] { first(x); relu(#1); … }`, independent of the
/// user's variable names and formatting.
fn graph_text(graph: &Graph) -> String {
    use crate::ir::Op;
    let mut ops = Vec::new();
    for (id, node) in graph.nodes.iter().enumerate() {
        let op = match &node.op {
            Op::Input(k) => format!(
                "input {k}: [{}]",
                graph.inputs[*k]
                    .dims
                    .as_ref()
                    .map(|d| d.iter().map(Dim::text).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            ),
            Op::Call { func, args } => format!(
                "{func}({})",
                args.iter()
                    .map(|a| format!("#{a}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Op::Activation { function, input } => format!("{function}(#{input})"),
            Op::Layer { layer, input } => format!("{}(#{input})", graph.layers[*layer].name),
            Op::Add { lhs, rhs, .. } => format!("#{lhs} + #{rhs}"),
            Op::Mul { lhs, rhs, .. } => format!("#{lhs} * #{rhs}"),
            Op::Unknown => "?".to_string(),
        };
        ops.push(format!("#{id} = {op}"));
    }
    let outs: Vec<String> = graph
        .outputs
        .iter()
        .map(|o| {
            let name = o
                .name
                .as_ref()
                .map_or("output".to_string(), ToString::to_string);
            format!("{name} = #{}", o.node)
        })
        .collect();
    format!("{{ {}; return {} }}", ops.join("; "), outs.join(", "))
}

/// The names of the const generic parameters (for dimension checks).
pub type GenericNames = HashSet<String>;

#[cfg(test)]
mod tests;
