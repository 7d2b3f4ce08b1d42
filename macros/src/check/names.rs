//! The names of the values in the generated code, the workspace and the
//! graph pictures.
//!
//! The sequential form numbers them by layer, as on paper: `x`, `z1`, `a1`,
//! `z2`, `a2` (pre-activation and activation of layer k). The graph form
//! keeps the user's names (`fn forward`'s inputs, its `let` bindings, the
//! named outputs) and names the other values after what computes them: a
//! layer's output after the layer (`second`, or `tied_1`, `tied_2` for a
//! layer applied twice), `relu_second`, `sum1`, `product1`, `concat1`,
//! `output` for a single unnamed output.

use std::collections::HashSet;

use super::shapes::Inferred;
use super::{Layer, Output, Step};
use crate::ir::{Form, Graph, Op};

/// Gives every value of `inferred` its name.
pub(super) fn assign(graph: &Graph, layers: &[Layer], inferred: &mut Inferred, outputs: &[Output]) {
    match graph.form {
        Form::Sequential => sequential(graph, inferred),
        Form::Graph => graph_form(graph, layers, inferred, outputs),
    }
}

/// `x`, `z1`, `a1`, …: the value of layer k's entry is `zk`, that of its
/// activation `ak`.
fn sequential(graph: &Graph, inferred: &mut Inferred) {
    let mut last_layer = 0;
    for (node, value) in graph.nodes.iter().zip(&inferred.node_value) {
        let Some(value) = *value else { continue };
        let name = match &node.op {
            Op::Input(_) => "x".to_string(),
            Op::Layer { layer, .. } => {
                last_layer = layer + 1;
                format!("z{last_layer}")
            }
            Op::Activation { .. } => format!("a{last_layer}"),
            _ => continue,
        };
        inferred.values[value].name = name;
    }
}

/// The user's names, then names after the operations.
fn graph_form(graph: &Graph, layers: &[Layer], inferred: &mut Inferred, outputs: &[Output]) {
    let count = inferred.values.len();
    let mut names: Vec<Option<String>> = vec![None; count];
    for (node, value) in graph.nodes.iter().zip(&inferred.node_value) {
        if let (Some(name), Some(value)) = (&node.name, value) {
            if names[*value].is_none() {
                names[*value] = Some(name.to_string());
            }
        }
    }
    for output in outputs {
        if names[output.value].is_none() {
            names[output.value] = Some(output.name.clone());
        }
    }
    let mut used: HashSet<String> = HashSet::new();
    let unique = |base: String, used: &mut HashSet<String>| {
        if used.insert(base.clone()) {
            return base;
        }
        (2..)
            .map(|k| format!("{base}_{k}"))
            .find(|candidate| used.insert(candidate.clone()))
            .unwrap_or(base)
    };
    // The user's names first, so that an automatic name never takes one;
    // and the local names of the weight gradients (`dl_dsecond_weight`).
    for name in names.iter().flatten() {
        used.insert(name.clone());
    }
    for layer in layers {
        used.insert(format!("{}_weight", layer.name));
        used.insert(format!("{}_bias", layer.name));
    }
    let mut final_names: Vec<String> = Vec::with_capacity(count);
    let mut seen_user: HashSet<String> = HashSet::new();
    let mut applications: Vec<usize> = vec![0; layers.len()];
    let mut counters = [0usize; 3];
    for (value, given) in names.iter().enumerate() {
        if let Some(name) = given {
            // A shadowed `let` name used twice keeps its first value's name.
            let name = if seen_user.insert(name.clone()) {
                name.clone()
            } else {
                unique(name.clone(), &mut used)
            };
            final_names.push(name);
            continue;
        }
        let base = match inferred.producer[value].map(|s| &inferred.steps[s]) {
            None => format!("input{value}"),
            Some(Step::Activation {
                activation, input, ..
            }) => format!("{}_{}", activation.name(), final_names[*input]),
            Some(Step::Add { .. }) => {
                counters[0] += 1;
                format!("sum{}", counters[0])
            }
            Some(Step::Mul { .. }) => {
                counters[1] += 1;
                format!("product{}", counters[1])
            }
            Some(Step::Concat { .. }) => {
                counters[2] += 1;
                format!("concat{}", counters[2])
            }
            Some(Step::Flatten { input, .. }) => format!("flat_{}", final_names[*input]),
            Some(Step::GlobalAvgPool { input, .. }) => format!("mean_{}", final_names[*input]),
            Some(step) => match step.layer() {
                Some(layer) => {
                    applications[layer] += 1;
                    let name = layers[layer].name.to_string();
                    if layers[layer].uses > 1 {
                        format!("{name}_{}", applications[layer])
                    } else {
                        name
                    }
                }
                None => format!("v{value}"),
            },
        };
        final_names.push(unique(base, &mut used));
    }
    for (value, name) in final_names.into_iter().enumerate() {
        inferred.values[value].name = name;
    }
}
