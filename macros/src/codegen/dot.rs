//! The computational graph, forward and backward, as Graphviz DOT: the
//! user's names on the values, solid edges labelled with the operation, and
//! the backward pass as dashed edges labelled with the rule that each
//! applies (`rule 6: dl_dz2·W2`, `sum rule …`).

use super::{shape, shape2, value_name, value_shape};
use crate::check::{LayerKind, Model, Step, ValueId};
use crate::ir::Form;
use crate::vocab::LossKind;

/// DOT text under construction.
struct Dot {
    lines: Vec<String>,
}

const BACK: &str = ", style=dashed";
const PARAM: &str = ", shape=ellipse";
const GRAD: &str = ", shape=ellipse, style=dashed";

impl Dot {
    fn node(&mut self, id: &str, label: &str, style: &str) {
        let line = format!("    {id} [label=\"{label}\"{style}];");
        if !self.lines.contains(&line) {
            self.lines.push(line);
        }
    }

    fn edge(&mut self, from: &str, to: &str, label: &str, style: &str) {
        self.lines
            .push(format!("    {from} -> {to} [label=\"{label}\"{style}];"));
    }
}

/// The DOT id of a value (its name; names are identifiers and unique).
fn id(model: &Model, value: ValueId) -> String {
    value_name(model, value).to_string()
}

/// The DOT id and label of a parameter tensor: `W2` / `b2` in the
/// sequential form, `param_second_weight` (label `second.weight`) in the
/// graph form.
fn param(model: &Model, layer: usize, tensor: &str) -> (String, String) {
    let l = &model.layers[layer];
    match model.form {
        Form::Sequential => {
            let letter = if tensor == "weight" { "W" } else { "b" };
            (
                format!("{letter}{}", l.number),
                format!("{}.{tensor}", l.name),
            )
        }
        Form::Graph => (
            format!("param_{}_{tensor}", l.name),
            format!("{}.{tensor}", l.name),
        ),
    }
}

/// The DOT id of a parameter's gradient: `dl_dw2` or `dl_dparam_second_weight`.
fn param_grad(model: &Model, layer: usize, tensor: &str) -> String {
    match model.form {
        Form::Sequential => {
            let letter = if tensor == "weight" { "w" } else { "b" };
            format!("dl_d{letter}{}", model.layers[layer].number)
        }
        Form::Graph => format!("dl_dparam_{}_{tensor}", model.layers[layer].name),
    }
}

/// The shapes of a layer's tensors, for labels.
fn tensor_shapes(model: &Model, layer: usize) -> Vec<(&'static str, String)> {
    match &model.layers[layer].kind {
        LayerKind::Dense {
            inputs,
            outputs,
            bias,
        } => {
            let mut t = vec![("weight", shape2(outputs, inputs))];
            if *bias {
                t.push(("bias", shape("1", outputs)));
            }
            t
        }
        LayerKind::LayerNorm { features } => vec![
            ("weight", shape("1", features)),
            ("bias", shape("1", features)),
        ],
        LayerKind::Conv2d(c) => {
            let mut t = vec![(
                "weight",
                format!(
                    "[{}×{}×{}×{}]",
                    c.out_channels, c.in_channels, c.kernel, c.kernel
                ),
            )];
            if c.bias {
                t.push(("bias", format!("[{}]", c.out_channels)));
            }
            t
        }
        _ => Vec::new(),
    }
}

/// The DOT text: forward nodes (the values, the parameters, `l`) with solid
/// edges labelled by the operation, and backward nodes `dl_d…` with dashed
/// edges labelled by the rule.
pub(super) fn graph_dot(model: &Model) -> String {
    let mut dot = Dot {
        lines: vec![
            format!("digraph {} {{", model.ident),
            "    rankdir=LR;".to_string(),
            "    node [shape=box, fontname=\"monospace\"];".to_string(),
        ],
    };
    dot.lines.push("    // forward".to_string());
    for value in 0..model.values.len() {
        let name = id(model, value);
        dot.node(&name, &format!("{name} {}", value_shape(model, value)), "");
    }
    dot.node("l", "l (loss)", ", shape=doublecircle");
    for step in &model.steps {
        forward_edges(model, step, &mut dot);
    }
    for (k, output) in model.outputs.iter().enumerate() {
        let y = targets_node(model, k);
        dot.node(&y, &format!("{y} {}", value_shape(model, output.value)), "");
        let label = match &output.loss.weight {
            Some(w) => format!("{} · {}", w.text, output.loss.kind.name()),
            None => output.loss.kind.name().to_string(),
        };
        dot.edge(&id(model, output.value), "l", &label, "");
        dot.edge(&y, "l", "", "");
    }
    for penalty in &model.penalties {
        for (layer, tensor) in &penalty.tensors {
            let (p, _) = param(model, *layer, tensor);
            let w = penalty
                .weight
                .as_ref()
                .map_or("1".to_string(), |w| w.text.clone());
            dot.edge(&p, "l", &format!("{w} · l2"), "");
        }
    }

    dot.lines.push("    // backward".to_string());
    dot.node("dl_dl", "∂l/∂l = 1", GRAD);
    for output in &model.outputs {
        let (target, label) = match (output.loss.kind, output.loss.logits) {
            (LossKind::CrossEntropy, Some(z)) => {
                (z, "fused softmax + cross-entropy: (A − Y)/B".to_string())
            }
            (LossKind::BinaryCrossEntropy, Some(z)) => {
                (z, "fused sigmoid + BCE: (A − Y)/(B·N)".to_string())
            }
            (kind, _) => (
                output.value,
                format!("{}: dl_d{}", kind.name(), id(model, output.value)),
            ),
        };
        let g = format!("dl_d{}", id(model, target));
        dot.node(&g, &format!("{g} {}", value_shape(model, target)), BACK);
        dot.edge("dl_dl", &g, &label, BACK);
    }
    for step in model.steps.iter().rev() {
        backward_edges(model, step, &mut dot);
    }
    for penalty in &model.penalties {
        for (layer, tensor) in &penalty.tensors {
            let g = param_grad(model, *layer, tensor);
            let w = penalty
                .weight
                .as_ref()
                .map_or("1".to_string(), |w| w.text.clone());
            dot.edge(
                "dl_dl",
                &g,
                &format!("L2 penalty: 2·{w}·{}.{tensor}", model.layers[*layer].name),
                BACK,
            );
        }
    }
    dot.lines.push("}".to_string());
    let mut text = dot.lines.join("\n");
    text.push('\n');
    text
}

/// `y` for one output, `y_class`, … for several.
fn targets_node(model: &Model, k: usize) -> String {
    model.outputs[k].loss.targets.clone()
}

/// The parameter nodes of a layer and their edges to `to`.
fn parameters(model: &Model, layer: usize, to: &str, dot: &mut Dot) {
    for (tensor, shape) in tensor_shapes(model, layer) {
        let (p, label) = param(model, layer, tensor);
        dot.node(&p, &format!("{label} {shape}"), PARAM);
        let edge = if tensor == "bias" && model.form == Form::Sequential {
            "+ 1·bᵀ"
        } else {
            ""
        };
        dot.edge(&p, to, edge, "");
    }
}

fn forward_edges(model: &Model, step: &Step, dot: &mut Dot) {
    let out = id(model, step.output());
    match step {
        Step::Dense { layer, input, .. } => {
            dot.edge(&id(model, *input), &out, "·Wᵀ", "");
            parameters(model, *layer, &out, dot);
        }
        Step::Activation {
            activation, input, ..
        } => dot.edge(&id(model, *input), &out, activation.name(), ""),
        Step::Add { lhs, rhs, .. } => {
            dot.edge(&id(model, *lhs), &out, "+", "");
            dot.edge(&id(model, *rhs), &out, "+", "");
        }
        Step::Mul { lhs, rhs, .. } => {
            dot.edge(&id(model, *lhs), &out, "⊗", "");
            dot.edge(&id(model, *rhs), &out, "⊗", "");
        }
        Step::Concat { inputs, .. } => {
            for (k, part) in inputs.iter().enumerate() {
                dot.edge(&id(model, *part), &out, &format!("concat #{}", k + 1), "");
            }
        }
        Step::LayerNorm { layer, input, .. } => {
            dot.edge(&id(model, *input), &out, "layer norm", "");
            parameters(model, *layer, &out, dot);
        }
        Step::Conv2d { layer, input, .. } => {
            dot.edge(&id(model, *input), &out, "conv2d", "");
            parameters(model, *layer, &out, dot);
        }
        Step::Pool { layer, input, .. } => {
            let what = match &model.layers[*layer].kind {
                LayerKind::Pool(p) if p.max => format!("max pool {}×{}", p.kernel, p.kernel),
                LayerKind::Pool(p) => format!("avg pool {}×{}", p.kernel, p.kernel),
                _ => String::new(),
            };
            dot.edge(&id(model, *input), &out, &what, "");
        }
        Step::GlobalAvgPool { input, .. } => {
            dot.edge(&id(model, *input), &out, "global avg pool", "")
        }
        Step::Flatten { input, .. } => dot.edge(&id(model, *input), &out, "flatten", ""),
    }
}

/// A gradient node for `value` (declared once), or `None` when `backward`
/// does not compute it (the inputs', and those of values no parameter
/// influences: only `backward_with_input_grads` needs them).
fn grad_node(model: &Model, value: ValueId, dot: &mut Dot) -> Option<String> {
    if !super::backward::param_dependent(model)[value] {
        return None;
    }
    let g = format!("dl_d{}", id(model, value));
    dot.node(&g, &format!("{g} {}", value_shape(model, value)), BACK);
    Some(g)
}

fn backward_edges(model: &Model, step: &Step, dot: &mut Dot) {
    let out = step.output();
    let fused = model
        .outputs
        .iter()
        .any(|o| o.value == out && o.loss.logits.is_some());
    if fused {
        return;
    }
    let gout = format!("dl_d{}", id(model, out));
    let params = |dot: &mut Dot, layer: usize, rule: &str| {
        for (tensor, shape) in tensor_shapes(model, layer) {
            let g = param_grad(model, layer, tensor);
            dot.node(&g, &format!("{g} {shape}"), GRAD);
            let label = match (tensor, rule) {
                ("bias", _) => format!("bias: 1ᵀ·{gout}"),
                (_, rule) => rule.to_string(),
            };
            dot.edge(&gout, &g, &label, BACK);
        }
    };
    match step {
        Step::Dense { layer, input, .. } => {
            let x = id(model, *input);
            params(dot, *layer, &format!("rule 5: {gout}ᵀ·{x}"));
            if let Some(gx) = grad_node(model, *input, dot) {
                let w = match model.form {
                    Form::Sequential => format!("W{}", model.layers[*layer].number),
                    Form::Graph => format!("{}.weight", model.layers[*layer].name),
                };
                dot.edge(&gout, &gx, &format!("rule 6: {gout}·{w}"), BACK);
            }
        }
        Step::Activation {
            activation, input, ..
        } => {
            let Some(gz) = grad_node(model, *input, dot) else {
                return;
            };
            let label = if *activation == crate::vocab::Activation::Softmax {
                format!(
                    "softmax Jacobian: {}⊗({gout} − ({gout}·{})1)",
                    id(model, out),
                    id(model, out)
                )
            } else {
                format!(
                    "rule 7: {gout} ⊗ {}′({})",
                    activation.name(),
                    id(model, *input)
                )
            };
            dot.edge(&gout, &gz, &label, BACK);
        }
        Step::Add { lhs, rhs, .. } => {
            for side in [lhs, rhs] {
                if let Some(g) = grad_node(model, *side, dot) {
                    dot.edge(&gout, &g, "sum rule: I", BACK);
                }
            }
        }
        Step::Mul { lhs, rhs, .. } => {
            for (side, other) in [(lhs, rhs), (rhs, lhs)] {
                if let Some(g) = grad_node(model, *side, dot) {
                    dot.edge(
                        &gout,
                        &g,
                        &format!("rule 7: {gout} ⊗ {}", id(model, *other)),
                        BACK,
                    );
                }
            }
        }
        Step::Concat { inputs, .. } => {
            for (k, part) in inputs.iter().enumerate() {
                if let Some(g) = grad_node(model, *part, dot) {
                    dot.edge(
                        &gout,
                        &g,
                        &format!("concat: columns of part #{}", k + 1),
                        BACK,
                    );
                }
            }
        }
        Step::LayerNorm { layer, input, .. } => {
            params(dot, *layer, &format!("1ᵀ·({gout} ⊗ x̂)"));
            if let Some(g) = grad_node(model, *input, dot) {
                dot.edge(&gout, &g, "layer norm Jacobian", BACK);
            }
        }
        Step::Conv2d { layer, input, .. } => {
            params(dot, *layer, &format!("rule 5 on the patches: Σ {gout}·P"));
            if let Some(g) = grad_node(model, *input, dot) {
                dot.edge(&gout, &g, "rule 6 on the patches, folded (col2im)", BACK);
            }
        }
        Step::Pool { layer, input, .. } => {
            let Some(g) = grad_node(model, *input, dot) else {
                return;
            };
            let label = match &model.layers[*layer].kind {
                LayerKind::Pool(p) if p.max => "to each window's first maximum".to_string(),
                LayerKind::Pool(p) => format!("÷{} to each window", p.kernel * p.kernel),
                _ => String::new(),
            };
            dot.edge(&gout, &g, &label, BACK);
        }
        Step::GlobalAvgPool { input, .. } => {
            if let Some(g) = grad_node(model, *input, dot) {
                dot.edge(&gout, &g, "÷(H·W) to each channel", BACK);
            }
        }
        Step::Flatten { input, .. } => {
            if let Some(g) = grad_node(model, *input, dot) {
                dot.edge(&gout, &g, "the same entries", BACK);
            }
        }
    }
}
