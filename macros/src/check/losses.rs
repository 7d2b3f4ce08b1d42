//! The loss: one term per output (`cross_entropy(class) + 0.5 * mse(size)`),
//! each fitting its output's activation, and penalties on named parameter
//! tensors (`0.01 * l2(trunk.weight)`).

use super::shapes::Inferred;
use super::{ConstCheck, Factor, Layer, LayerKind, LossTerm, Output, Penalty, Shape, Step};
use crate::ir::{Form, Graph, Op};
use crate::parse::loss::{LossArg, Weight};
use crate::vocab::{self, Activation, LossKind};

/// A loss term matched to an output: its kind, weight, targets' name, span.
type Assigned = (LossKind, Option<Factor>, String, proc_macro2::Span);

/// The outputs with their loss terms, or `None` after an error (reported).
pub(super) fn check_losses(
    graph: &Graph,
    layers: &[Option<Layer>],
    inferred: &Inferred,
    complete: bool,
    errors: &mut Vec<syn::Error>,
) -> Option<Vec<Output>> {
    if let Some(span) = graph.loss_not_last {
        errors.push(syn::Error::new(
            span,
            "the loss must be the last entry, after every layer",
        ));
    }
    let Some(first) = graph.losses.first() else {
        if complete {
            errors.push(syn::Error::new(
                graph.body_span,
                format!(
                    "missing loss: end the network with `loss: NAME`, NAME one of {}",
                    vocab::list(vocab::LOSSES)
                ),
            ));
        }
        return None;
    };
    for extra in &graph.losses[1..] {
        errors.push(syn::Error::new(
            extra.key.span(),
            "a network has one loss; this is a second `loss:` entry",
        ));
    }
    if graph.outputs.is_empty() {
        // `fn forward` has no output (reported): no term can be matched.
        return None;
    }
    let output_names: Vec<String> = graph
        .outputs
        .iter()
        .map(|o| {
            o.name
                .as_ref()
                .map_or_else(|| "output".to_string(), ToString::to_string)
        })
        .collect();
    // The term of each output, once found.
    let mut assigned: Vec<Option<Assigned>> = vec![None; graph.outputs.len()];
    let mut ok = true;
    for term in &first.expr.terms {
        let name = term.name.to_string();
        if vocab::lookup(vocab::PENALTIES, &name).is_some() {
            continue;
        }
        let Some(kind) = vocab::lookup(vocab::LOSSES, &name) else {
            let message = match vocab::did_you_mean(vocab::LOSSES, &name) {
                Some(best) => format!("unknown loss `{name}`: did you mean `{best}`?"),
                None => format!(
                    "unknown loss `{name}`: expected {}, or the penalty `l2(layer.weight)`",
                    vocab::list(vocab::LOSSES)
                ),
            };
            errors.push(syn::Error::new(term.name.span(), message));
            ok = false;
            continue;
        };
        let (output, targets) = match term.args.as_deref() {
            None | Some([]) if graph.outputs.len() == 1 => (0, None),
            None | Some([]) => {
                errors.push(syn::Error::new(
                    term.name.span(),
                    format!(
                        "this network has {} outputs: name the one `{name}` compares, e.g. `{name}({})`",
                        graph.outputs.len(),
                        output_names[0]
                    ),
                ));
                ok = false;
                continue;
            }
            Some([LossArg::Name(out)]) => match find_output(&output_names, out, graph, errors) {
                Some(k) => (k, None),
                None => {
                    ok = false;
                    continue;
                }
            },
            Some([LossArg::Name(out), LossArg::Name(targets)]) => {
                match find_output(&output_names, out, graph, errors) {
                    Some(k) => (k, Some(targets.to_string())),
                    None => {
                        ok = false;
                        continue;
                    }
                }
            }
            Some(args) => {
                errors.push(syn::Error::new(
                    args[0].span(),
                    format!(
                        "`{name}` takes an output of `fn forward` and, optionally, a name for its targets: `{name}({})` or `{name}({}, labels)`",
                        output_names[0], output_names[0]
                    ),
                ));
                ok = false;
                continue;
            }
        };
        if assigned[output].is_some() {
            errors.push(syn::Error::new(
                term.span,
                format!(
                    "the output `{}` already has a loss: each output has one loss term",
                    output_names[output]
                ),
            ));
            ok = false;
            continue;
        }
        let targets = targets.unwrap_or_else(|| {
            if graph.outputs.len() == 1 {
                "y".to_string()
            } else {
                format!("y_{}", output_names[output])
            }
        });
        assigned[output] = Some((
            kind,
            term.weight.as_ref().map(factor),
            targets,
            term.name.span(),
        ));
    }
    for (k, slot) in assigned.iter().enumerate() {
        if slot.is_none() && ok {
            let name = &output_names[k];
            errors.push(syn::Error::new(
                graph.outputs[k].span,
                format!(
                    "the output `{name}` has no loss: every output is trained, add a term such as `+ mse({name})`"
                ),
            ));
            ok = false;
        }
    }
    if !ok {
        return None;
    }

    let mut outputs = Vec::new();
    for (k, slot) in assigned.into_iter().enumerate() {
        let (kind, weight, targets, span) = slot?;
        // The output's activation, as written (known even when an error
        // upstream left the output without a value).
        let activation = match &graph.nodes[graph.outputs[k].node].op {
            Op::Activation { function, .. } | Op::Call { func: function, .. } => {
                vocab::lookup(vocab::ACTIVATIONS, &function.to_string())
            }
            _ => None,
        }
        .unwrap_or(Activation::Identity);
        let output_layer = last_layer_name(graph, layers);
        let describe = if graph.form == Form::Sequential {
            format!("the last layer `{output_layer}`")
        } else {
            format!("the output `{}`", output_names[k])
        };
        let act = activation.name();
        let name = kind.name();
        let fits = match (kind, activation) {
            (LossKind::CrossEntropy, Activation::Softmax) => None,
            (LossKind::CrossEntropy, Activation::Sigmoid) => Some(format!(
                "`cross_entropy` needs a softmax output, but {describe} ends in `sigmoid`: end it with `=> softmax`, or use `loss: binary_cross_entropy` with sigmoid"
            )),
            (LossKind::CrossEntropy, _) => Some(format!(
                "`cross_entropy` needs a softmax output, but {describe} ends in `{act}`: end it with `=> softmax`, or use `loss: mse` or `loss: sse`"
            )),
            (LossKind::BinaryCrossEntropy, Activation::Sigmoid) => None,
            (LossKind::BinaryCrossEntropy, Activation::Softmax) => Some(format!(
                "`binary_cross_entropy` needs a sigmoid output, but {describe} ends in `softmax`: use `loss: cross_entropy` with softmax, or end the layer with `=> sigmoid`"
            )),
            (LossKind::BinaryCrossEntropy, _) => Some(format!(
                "`binary_cross_entropy` needs a sigmoid output, but {describe} ends in `{act}`: end it with `=> sigmoid`, or use `loss: mse` or `loss: sse`"
            )),
            (LossKind::Sse | LossKind::Mse, _) => None,
        };
        if let Some(message) = fits {
            errors.push(syn::Error::new(span, message));
            continue;
        }
        let Some(value) = inferred.node_value[graph.outputs[k].node] else {
            continue;
        };
        let producer = inferred.producer[value].map(|s| &inferred.steps[s]);
        let logits = match (kind, producer) {
            (
                LossKind::CrossEntropy | LossKind::BinaryCrossEntropy,
                Some(Step::Activation { input, .. }),
            ) => {
                let consumers = inferred
                    .steps
                    .iter()
                    .filter(|s| s.inputs().contains(&value))
                    .count();
                if consumers > 0 {
                    errors.push(syn::Error::new(
                        span,
                        format!(
                            "`{name}` is computed from the logits of `{}` for stability, so the output `{}` cannot also feed other operations: give them the logits, or the output of another activation",
                            act, output_names[k]
                        ),
                    ));
                    continue;
                }
                Some(*input)
            }
            _ => None,
        };
        if kind == LossKind::CrossEntropy {
            if let Shape::Flat(width) = &inferred.values[value].shape {
                if width.known() == Some(1) {
                    errors.push(syn::Error::new(
                            span,
                            format!(
                                "softmax over one unit is always 1, so `cross_entropy` on {describe} can never learn (its loss and gradients are 0): for a yes/no output use `=> sigmoid` with `loss: binary_cross_entropy`"
                            ),
                        ));
                    continue;
                }
            }
        }
        outputs.push(Output {
            value,
            name: output_names[k].clone(),
            loss: LossTerm {
                kind,
                weight,
                logits,
                targets,
            },
        });
    }
    (outputs.len() == graph.outputs.len()).then_some(outputs)
}

/// For a cross-entropy output whose width is a named dimension: the
/// compiler asserts it is not 1 (a one-unit softmax cannot learn).
pub(super) fn one_unit_softmax_checks(
    outputs: &[Output],
    values: &[super::Value],
    generic_names: &super::GenericNames,
    const_checks: &mut Vec<ConstCheck>,
) {
    for output in outputs {
        if output.loss.kind != LossKind::CrossEntropy {
            continue;
        }
        if let Shape::Flat(width) = &values[output.value].shape {
            if width.known().is_none() {
                const_checks.push(ConstCheck::NotEqual {
                    dim: width.clone(),
                    value: 1,
                    generic: super::layers::mentions_generic(width, generic_names),
                    message: format!(
                        "softmax over one unit is always 1, so `cross_entropy` on the output `{}` can never learn (`{}` is 1): for a yes/no output use a sigmoid with `binary_cross_entropy`",
                        output.name,
                        width.text()
                    ),
                });
            }
        }
    }
}

/// The index of the output named `out`, or an error.
fn find_output(
    names: &[String],
    out: &syn::Ident,
    graph: &Graph,
    errors: &mut Vec<syn::Error>,
) -> Option<usize> {
    let text = out.to_string();
    if let Some(k) = names.iter().position(|n| *n == text) {
        return Some(k);
    }
    let table: Vec<(&str, ())> = names.iter().map(|n| (n.as_str(), ())).collect();
    let listed = vocab::list(&table);
    let message = if graph.outputs.len() == 1 && graph.outputs[0].name.is_none() {
        format!(
            "`{text}` is not an output: this network has one unnamed output, so write the loss without an argument (`loss: mse`), or name the output in `fn forward`: `-> ({text}: [N])`"
        )
    } else {
        match vocab::closest(&table, &text) {
            Some(best) => format!("`{text}` is not an output of `fn forward`: did you mean `{best}`?"),
            None => format!(
                "a loss compares an output of `fn forward` with its targets, but `{text}` is not an output: the outputs are {listed}"
            ),
        }
    };
    errors.push(syn::Error::new(out.span(), message));
    None
}

/// The name of the last declared layer (for the sequential form's messages).
fn last_layer_name(graph: &Graph, _layers: &[Option<Layer>]) -> String {
    graph
        .layers
        .last()
        .map_or_else(String::new, |l| l.name.to_string())
}

/// A weight as a factor.
fn factor(weight: &Weight) -> Factor {
    Factor {
        value: weight.value,
        text: weight.text.clone(),
    }
}

/// The penalties of the loss entry, checked.
pub(super) fn check_penalties(
    graph: &Graph,
    layers: &[Option<Layer>],
    errors: &mut Vec<syn::Error>,
) -> Vec<Penalty> {
    let Some(first) = graph.losses.first() else {
        return Vec::new();
    };
    let mut penalties = Vec::new();
    for term in &first.expr.terms {
        let Some(kind) = vocab::lookup(vocab::PENALTIES, &term.name.to_string()) else {
            continue;
        };
        let Some(args) = term.args.as_deref().filter(|a| !a.is_empty()) else {
            errors.push(syn::Error::new(
                term.name.span(),
                "name the tensors the penalty applies to: `l2(hidden.weight, output.weight)`",
            ));
            continue;
        };
        let mut tensors = Vec::new();
        for arg in args {
            match arg {
                LossArg::Name(name) => {
                    let is_layer = graph.layers.iter().any(|l| l.name == *name);
                    let message = if is_layer {
                        format!(
                            "name a tensor of layer `{name}`: `{name}.weight` (or `{name}.bias`)"
                        )
                    } else {
                        format!("`l2` takes parameter tensors such as `layer.weight`, not `{name}`")
                    };
                    errors.push(syn::Error::new(name.span(), message));
                }
                LossArg::Tensor { layer, tensor } => {
                    if let Some(found) = find_tensor(graph, layers, layer, tensor, errors) {
                        if tensors.contains(&found) {
                            errors.push(syn::Error::new(
                                arg.span(),
                                format!("`{layer}.{tensor}` is named twice in the penalty"),
                            ));
                        } else {
                            tensors.push(found);
                        }
                    }
                }
            }
        }
        penalties.push(Penalty {
            kind,
            weight: term.weight.as_ref().map(factor),
            tensors,
        });
    }
    penalties
}

/// `(layer index, "weight" | "bias")` of `layer.tensor`, or an error.
fn find_tensor(
    graph: &Graph,
    layers: &[Option<Layer>],
    layer: &syn::Ident,
    tensor: &syn::Ident,
    errors: &mut Vec<syn::Error>,
) -> Option<(usize, String)> {
    let name = layer.to_string();
    let Some(index) = graph.layers.iter().position(|l| l.name == name) else {
        let names: Vec<String> = graph.layers.iter().map(|l| l.name.to_string()).collect();
        let table: Vec<(&str, ())> = names.iter().map(|n| (n.as_str(), ())).collect();
        let message = match vocab::closest(&table, &name) {
            Some(best) => {
                format!("the penalty names an unknown layer `{name}`: did you mean `{best}`?")
            }
            None => format!("the penalty names an unknown layer `{name}`"),
        };
        errors.push(syn::Error::new(layer.span(), message));
        return None;
    };
    let kind = &layers[index].as_ref()?.kind;
    let available: &[&str] = match kind {
        LayerKind::Dense { bias: true, .. } | LayerKind::LayerNorm { .. } => &["weight", "bias"],
        LayerKind::Conv2d(c) if c.bias => &["weight", "bias"],
        LayerKind::Dense { .. } | LayerKind::Conv2d(_) => &["weight"],
        _ => &[],
    };
    let t = tensor.to_string();
    if available.contains(&t.as_str()) {
        return Some((index, t));
    }
    let message = if available.is_empty() {
        format!("layer `{name}` has no parameters to penalise")
    } else {
        format!(
            "layer `{name}` has no tensor `{t}`: its tensors are {}",
            available
                .iter()
                .map(|a| format!("`{name}.{a}`"))
                .collect::<Vec<_>>()
                .join(" and ")
        )
    };
    errors.push(syn::Error::new(tensor.span(), message));
    None
}
