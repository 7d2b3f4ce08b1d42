//! The computational graph, forward and backward, as Graphviz DOT.

use super::{shape, shape2};
use crate::check::{Model, Step};
use crate::vocab::LayerKind;

/// The DOT text: forward nodes `x`, `z1`, `a1`, …, `l` (solid edges labelled
/// with the operation) and backward nodes `dl_dz2`, `dl_dw2`, … (dashed
/// edges labelled with the rule).
pub(super) fn graph_dot(model: &Model) -> String {
    let mut lines = vec![
        format!("digraph {} {{", model.ident),
        "    rankdir=LR;".to_string(),
        "    node [shape=box, fontname=\"monospace\"];".to_string(),
    ];
    let node = |lines: &mut Vec<String>, name: &str, label: String, style: &str| {
        lines.push(format!("    {name} [label=\"{label}\"{style}];"));
    };
    let edge = |lines: &mut Vec<String>, from: &str, to: &str, label: &str, style: &str| {
        lines.push(format!("    {from} -> {to} [label=\"{label}\"{style}];"));
    };
    let back = ", style=dashed";
    let param = ", shape=ellipse";
    let grad = ", shape=ellipse, style=dashed";

    lines.push("    // forward".to_string());
    for value in &model.values {
        node(
            &mut lines,
            &value.name,
            format!("{} {}", value.name, shape("B", &value.width)),
            "",
        );
    }
    node(
        &mut lines,
        "l",
        "l (loss)".to_string(),
        ", shape=doublecircle",
    );
    for step in &model.steps {
        match step {
            Step::Dense {
                layer,
                input,
                output,
                ..
            } => {
                let l = &model.layers[*layer];
                let k = l.number;
                let w = format!("W{k}");
                node(
                    &mut lines,
                    &w,
                    format!("{}.weight {}", l.name, shape2(&l.outputs, &l.inputs)),
                    param,
                );
                edge(
                    &mut lines,
                    &model.values[*input].name,
                    &model.values[*output].name,
                    "·Wᵀ",
                    "",
                );
                edge(&mut lines, &w, &model.values[*output].name, "", "");
                if l.kind == LayerKind::Dense {
                    let b = format!("b{k}");
                    node(
                        &mut lines,
                        &b,
                        format!("{}.bias {}", l.name, shape("1", &l.outputs)),
                        param,
                    );
                    edge(&mut lines, &b, &model.values[*output].name, "+ 1·bᵀ", "");
                }
            }
            Step::Activation {
                activation,
                input,
                output,
            } => {
                edge(
                    &mut lines,
                    &model.values[*input].name,
                    &model.values[*output].name,
                    activation.name(),
                    "",
                );
            }
        }
    }
    let loss_name = model.loss.kind.name();
    edge(
        &mut lines,
        &model.values[model.output].name,
        "l",
        loss_name,
        "",
    );
    edge(&mut lines, "y", "l", "", "");
    node(
        &mut lines,
        "y",
        format!("y {}", shape("B", &model.values[model.output].width)),
        "",
    );

    lines.push("    // backward".to_string());
    node(&mut lines, "dl_dl", "∂l/∂l = 1".to_string(), grad);
    match model.loss.logits {
        Some(logits) => {
            let g = format!("dl_d{}", model.values[logits].name);
            node(
                &mut lines,
                &g,
                format!("{g} {}", shape("B", &model.values[logits].width)),
                back,
            );
            let rule = match model.loss.kind {
                crate::vocab::LossKind::CrossEntropy => "fused softmax + cross-entropy: (A − Y)/B",
                _ => "fused sigmoid + BCE: (A − Y)/(B·N)",
            };
            edge(&mut lines, "dl_dl", &g, rule, back);
        }
        None => {
            let out = &model.values[model.output];
            let g = format!("dl_d{}", out.name);
            node(
                &mut lines,
                &g,
                format!("{g} {}", shape("B", &out.width)),
                back,
            );
            edge(
                &mut lines,
                "dl_dl",
                &g,
                &format!("{loss_name}: dl_d{}", out.name),
                back,
            );
        }
    }
    for step in model.steps.iter().rev() {
        match step {
            Step::Activation {
                activation,
                input,
                output,
            } => {
                if model.loss.logits == Some(*input) {
                    continue;
                }
                let (gz, ga) = (
                    format!("dl_d{}", model.values[*input].name),
                    format!("dl_d{}", model.values[*output].name),
                );
                node(
                    &mut lines,
                    &gz,
                    format!("{gz} {}", shape("B", &model.values[*input].width)),
                    back,
                );
                let label = format!(
                    "rule 7: {ga} ⊗ {}′({})",
                    activation.name(),
                    model.values[*input].name
                );
                edge(&mut lines, &ga, &gz, &label, back);
            }
            Step::Dense {
                layer,
                input,
                output,
                ..
            } => {
                let l = &model.layers[*layer];
                let k = l.number;
                let gz = format!("dl_d{}", model.values[*output].name);
                let gw = format!("dl_dw{k}");
                node(
                    &mut lines,
                    &gw,
                    format!("{gw} {}", shape2(&l.outputs, &l.inputs)),
                    grad,
                );
                let label = format!("rule 5: {gz}ᵀ·{}", model.values[*input].name);
                edge(&mut lines, &gz, &gw, &label, back);
                if l.kind == LayerKind::Dense {
                    let gb = format!("dl_db{k}");
                    node(
                        &mut lines,
                        &gb,
                        format!("{gb} {}", shape("1", &l.outputs)),
                        grad,
                    );
                    let label = format!("bias: 1ᵀ·{gz}");
                    edge(&mut lines, &gz, &gb, &label, back);
                }
                if *input != 0 {
                    let gx = format!("dl_d{}", model.values[*input].name);
                    node(
                        &mut lines,
                        &gx,
                        format!("{gx} {}", shape("B", &model.values[*input].width)),
                        back,
                    );
                    edge(&mut lines, &gz, &gx, &format!("rule 6: {gz}·W{k}"), back);
                }
            }
        }
    }
    lines.push("}".to_string());
    let mut text = lines.join("\n");
    text.push('\n');
    text
}
