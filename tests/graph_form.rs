//! The graph form of `network!`: every operation's backward pass against
//! central differences in f64 (parameters and inputs, through
//! `gradcheck::check_model`), a tied layer and a sum rule against values
//! derived by hand, the graph of a plain chain against the sequential form,
//! and the generated surface (named intermediates, input gradients computed
//! only when asked for, the graph description, the DOT picture).

use chainrule::gradcheck::{self, GradCheckReport};
use chainrule::graph::{ActivationSpec, OpSpec};
use chainrule::prelude::*;

/// A batch whose entries are spread over [−1.5, 1.5], away from 0 (the kink
/// of relu) for most entries.
fn batch<const B: usize, const N: usize>(seed: u64) -> Matrix<f64, B, N> {
    Matrix::from_fn(|i, j| {
        let t = ((i * 31 + j * 17) as u64 + seed * 7) % 23;
        (t as f64 - 11.0) / 7.3 + 0.05
    })
}

fn assert_passes(report: &GradCheckReport, what: &str) {
    assert!(
        report.passes(gradcheck::DEFAULT_TOLERANCE),
        "{what}: {report}"
    );
    assert!(report.entries_checked > 0, "{what}: nothing checked");
}

network! {
    /// A residual MLP: `h` feeds a block and the sum after it (fan-out).
    pub struct Residual {
        inp: Dense<4, 6>,
        block1: Dense<6, 6>,
        block2: Dense<6, 6>,
        out: Dense<6, 3>,
        fn forward(x: [4]) -> [3] {
            let h = tanh(inp(x));
            let r = tanh(block1(h));
            let h2 = h + block2(r);
            softmax(out(h2))
        }
        loss: cross_entropy,
    }
}

#[test]
fn residual_connection_gradients() {
    let net = Residual::<f64>::new(1);
    let x = batch::<3, 4>(1);
    let y = ClassLabels::<3, 3>::new([0, 2, 1]).unwrap();
    assert_passes(&gradcheck::check_model(&net, &x, &y), "residual");
    // It is a Network<4, 3>: the generic check agrees.
    assert_passes(
        &gradcheck::check_network(&net, &x, &y),
        "residual (Network)",
    );
}

network! {
    /// Two branches of the same input, side by side.
    pub struct Branches {
        left: Dense<3, 4>,
        right: Dense<3, 2>,
        head: Dense<6, 2>,
        fn forward(x: [3]) -> [2] {
            let a = tanh(left(x));
            let b = sigmoid(right(x));
            softmax(head(concat(a, b)))
        }
        loss: cross_entropy,
    }
}

#[test]
fn concat_gradients() {
    let net = Branches::<f64>::new(2);
    let x = batch::<4, 3>(2);
    let y = ClassLabels::<4, 2>::new([0, 1, 1, 0]).unwrap();
    assert_passes(&gradcheck::check_model(&net, &x, &y), "concat");
}

network! {
    /// One layer applied twice (tied weights): its gradient is the sum over
    /// its two uses.
    pub struct Tied {
        shared: Dense<5, 5>,
        out: Dense<5, 2>,
        fn forward(x: [5]) -> [2] {
            let h = tanh(shared(x));
            let h2 = tanh(shared(h));
            out(h2)
        }
        loss: mse,
    }
}

#[test]
fn tied_layer_gradients() {
    let net = Tied::<f64>::new(3);
    let x = batch::<3, 5>(3);
    let y = batch::<3, 2>(9);
    assert_passes(&gradcheck::check_model(&net, &x, &y), "tied");
}

network! {
    /// `y = w·(w·x)`, one weight used twice, squared error.
    pub struct Square {
        w: DenseNoBias<1, 1>,
        fn forward(x: [1]) -> [1] {
            w(w(x))
        }
        loss: sse,
    }
}

#[test]
fn tied_scalar_matches_the_derivation_by_hand() {
    // l = (w²x − y)²; ∂l/∂w = 2(w²x − y)·2wx (sum over both uses of w),
    // ∂l/∂x = 2(w²x − y)·w².
    let mut net = Square::<f64>::zeros();
    let (w, x, y) = (0.7, 1.3, 0.2);
    net.w.weight[(0, 0)] = w;
    let xs = Matrix::<f64, 1, 1>::filled(x);
    let ys = Matrix::<f64, 1, 1>::filled(y);
    let mut grads = net.gradients();
    let mut ws = net.workspace::<1>();
    let loss = net.backward_with_input_grads(&xs, &ys, &mut grads, &mut ws);
    let residual = w * w * x - y;
    assert!((loss - residual * residual).abs() < 1e-15);
    let dw = 2.0 * residual * 2.0 * w * x;
    let dx = 2.0 * residual * w * w;
    assert!(
        (grads.w.weight[(0, 0)] - dw).abs() < 1e-15,
        "{} vs {dw}",
        grads.w.weight[(0, 0)]
    );
    assert!(
        (ws.dl_dx[(0, 0)] - dx).abs() < 1e-15,
        "{} vs {dx}",
        ws.dl_dx[(0, 0)]
    );
}

network! {
    /// `y = x + x·w`: the input feeds the sum twice over (directly and
    /// through the layer).
    pub struct Skip1 {
        w: DenseNoBias<1, 1>,
        fn forward(x: [1]) -> [1] {
            x + w(x)
        }
        loss: sse,
    }
}

#[test]
fn sum_rule_matches_the_derivation_by_hand() {
    // l = (x + wx − y)²; ∂l/∂w = 2(x + wx − y)·x; ∂l/∂x = 2(x + wx − y)(1 + w).
    let mut net = Skip1::<f64>::zeros();
    let (w, x, y) = (-0.4, 2.5, 1.0);
    net.w.weight[(0, 0)] = w;
    let mut grads = net.gradients();
    let mut ws = net.workspace::<1>();
    let loss = net.backward_with_input_grads(
        &Matrix::filled(x),
        &Matrix::<f64, 1, 1>::filled(y),
        &mut grads,
        &mut ws,
    );
    let r = x + w * x - y;
    assert!((loss - r * r).abs() < 1e-15);
    assert!((grads.w.weight[(0, 0)] - 2.0 * r * x).abs() < 1e-15);
    assert!((ws.dl_dx[(0, 0)] - 2.0 * r * (1.0 + w)).abs() < 1e-15);
}

network! {
    /// Two inputs, joined by a sum and a concat.
    pub struct TwoInputs {
        a: Dense<3, 4>,
        b: Dense<2, 4>,
        out: Dense<9, 2>,
        fn forward(x1: [3], x2: [2]) -> [2] {
            let h = tanh(a(x1) + b(x2));
            sigmoid(out(concat(h, x1, x2)))
        }
        loss: binary_cross_entropy,
    }
}

#[test]
fn two_input_gradients() {
    let net = TwoInputs::<f64>::new(4);
    let inputs = (batch::<3, 3>(4), batch::<3, 2>(5));
    let y = Matrix::<f64, 3, 2>::from_rows([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]]);
    let report = gradcheck::check_model(&net, &inputs, &y);
    assert_passes(&report, "two inputs");
    // Parameters, then both inputs, every entry.
    assert_eq!(
        report.entries_checked,
        <TwoInputs<f64> as Parameters>::SCALARS + 3 * 3 + 3 * 2
    );
}

network! {
    /// A class head and a regression head with a weighted sum of losses.
    pub struct TwoHeads {
        trunk: Dense<4, 5>,
        cls: Dense<5, 3>,
        reg: Dense<5, 1>,
        fn forward(x: [4]) -> (class: [3], size: [1]) {
            let h = tanh(trunk(x));
            (softmax(cls(h)), reg(h))
        }
        loss: cross_entropy(class, labels) + 0.5 * mse(size, sizes),
    }
}

#[test]
fn two_heads_with_weighted_losses() {
    let net = TwoHeads::<f64>::new(5);
    let x = batch::<4, 4>(6);
    let labels = ClassLabels::<4, 3>::new([2, 0, 1, 1]).unwrap();
    let sizes = batch::<4, 1>(7);
    assert_passes(
        &gradcheck::check_model(&net, &x, &(&labels, &sizes)),
        "two heads",
    );
    // The loss is the weighted sum of the two losses, computed apart.
    let total = net.loss(&x, (&labels, &sizes));
    let mut ws = net.workspace::<4>();
    let (probabilities, size) = net.forward_with(&x, &mut ws);
    let ce = chainrule::losses::cross_entropy(probabilities, &labels, None);
    let mse = chainrule::losses::mse(size, &sizes, None);
    assert!(
        (total - (ce + 0.5 * mse)).abs() < 1e-12,
        "{total} vs {}",
        ce + 0.5 * mse
    );
}

network! {
    /// An L2 penalty on two weights and a bias.
    pub struct Penalised {
        a: Dense<3, 4>,
        b: Dense<4, 2>,
        fn forward(x: [3]) -> [2] {
            b(tanh(a(x)))
        }
        loss: mse + 0.01 * l2(a.weight, b.weight) + 0.5 * l2(b.bias),
    }
}

#[test]
fn l2_penalty_gradients_and_value() {
    let mut net = Penalised::<f64>::new(8);
    net.b.bias = Matrix::from_rows([[0.3, -0.2]]);
    let x = batch::<3, 3>(8);
    let y = batch::<3, 2>(2);
    assert_passes(&gradcheck::check_model(&net, &x, &y), "l2");
    let mut ws = net.workspace::<3>();
    let out = net.forward_with(&x, &mut ws).clone();
    let sq = |m: &[f64]| m.iter().map(|v| v * v).sum::<f64>();
    let expected = chainrule::losses::mse(&out, &y, None)
        + 0.01 * (sq(net.a.weight.as_slice()) + sq(net.b.weight.as_slice()))
        + 0.5 * sq(net.b.bias.as_slice());
    assert!((net.loss(&x, &y) - expected).abs() < 1e-13);
    // mse plus a penalty still averages over the batch: two halves combine.
    assert_eq!(
        <Penalised<f64> as Network<3, 2>>::LOSS_REDUCTION,
        chainrule::LossReduction::MeanOverBatch
    );
}

network! {
    /// Gating, and a value multiplied by itself.
    pub struct Gated {
        gate: Dense<4, 3>,
        value: Dense<4, 3>,
        out: Dense<3, 2>,
        fn forward(x: [4]) -> [2] {
            let g = sigmoid(gate(x));
            let v = tanh(value(x));
            let gv = g * v;
            out(gv * gv + v)
        }
        loss: sse,
    }
}

#[test]
fn elementwise_product_gradients() {
    let net = Gated::<f64>::new(9);
    let x = batch::<3, 4>(10);
    let y = batch::<3, 2>(11);
    assert_passes(&gradcheck::check_model(&net, &x, &y), "gating");
}

network! {
    /// Layer normalisation between two layers.
    pub struct Normed {
        a: Dense<4, 6>,
        ln: LayerNorm<6>,
        b: Dense<6, 3>,
        fn forward(x: [4]) -> [3] {
            let h = ln(a(x));
            softmax(b(tanh(h)))
        }
        loss: cross_entropy,
    }
}

#[test]
fn layer_norm_gradients_and_forward() {
    let mut net = Normed::<f64>::new(12);
    // A γ and β other than 1 and 0, so that their gradients matter.
    net.ln.weight = Matrix::from_fn(|_, j| 0.5 + 0.2 * j as f64);
    net.ln.bias = Matrix::from_fn(|_, j| 0.1 * j as f64 - 0.2);
    let x = batch::<3, 4>(12);
    let y = ClassLabels::<3, 3>::new([1, 2, 0]).unwrap();
    assert_passes(&gradcheck::check_model(&net, &x, &y), "layer norm");
    // Forward against the definition: biased variance, ε = 1e-5.
    let mut ws = net.workspace::<3>();
    net.forward_with(&x, &mut ws);
    for i in 0..3 {
        let row = ws.a.row(i);
        let mean = row.iter().sum::<f64>() / 6.0;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 6.0;
        for (j, &v) in row.iter().enumerate() {
            let expected =
                net.ln.weight[(0, j)] * (v - mean) / (var + 1e-5).sqrt() + net.ln.bias[(0, j)];
            assert!((ws.h[(i, j)] - expected).abs() < 1e-12);
        }
    }
}

network! {
    /// A softmax inside the network, and an output trained with `mse` on
    /// probabilities (through the softmax's Jacobian).
    pub struct Attention {
        score: Dense<4, 4>,
        out: Dense<4, 3>,
        fn forward(x: [4]) -> [3] {
            let weights = softmax(score(x));
            softmax(out(weights * x))
        }
        loss: mse,
    }
}

#[test]
fn softmax_jacobian_gradients() {
    let net = Attention::<f64>::new(13);
    let x = batch::<3, 4>(13);
    let y = Matrix::<f64, 3, 3>::from_rows([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
    assert_passes(&gradcheck::check_model(&net, &x, &y), "softmax jacobian");
}

network! {
    /// Two sigmoid outputs, each with binary cross-entropy (two fused
    /// losses), and a value used twice in one operation.
    pub struct TwoBinary {
        a: Dense<3, 4>,
        p: Dense<4, 1>,
        q: Dense<8, 2>,
        fn forward(x: [3]) -> (first: [1], second: [2]) {
            let h = relu(a(x));
            (sigmoid(p(h)), sigmoid(q(concat(h, h))))
        }
        loss: binary_cross_entropy(first) + 2 * binary_cross_entropy(second),
    }
}

#[test]
fn two_fused_losses_and_a_doubled_concat() {
    let net = TwoBinary::<f64>::new(14);
    let x = batch::<4, 3>(14);
    let first = Matrix::<f64, 4, 1>::from_rows([[1.0], [0.0], [1.0], [0.0]]);
    let second = Matrix::<f64, 4, 2>::from_rows([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]);
    assert_passes(
        &gradcheck::check_model(&net, &x, &(&first, &second)),
        "two fused",
    );
}

network! {
    /// The sequential form with a penalty.
    pub struct SequentialL2 {
        hidden: Dense<3, 4> => tanh,
        output: Dense<4, 2> => softmax,
        loss: cross_entropy + 0.05 * l2(hidden.weight),
    }
}

#[test]
fn a_penalty_in_the_sequential_form() {
    let net = SequentialL2::<f64>::new(15);
    let x = batch::<3, 3>(15);
    let y = ClassLabels::<3, 2>::new([0, 1, 0]).unwrap();
    assert_passes(&gradcheck::check_network(&net, &x, &y), "sequential l2");
}

network! {
    /// A chain in the sequential form.
    pub struct ChainSequential {
        hidden: Dense<5, 7> => tanh,
        middle: Dense<7, 6> => leaky_relu,
        output: Dense<6, 3> => softmax,
        loss: cross_entropy,
    }
}

network! {
    /// The same chain in the graph form.
    pub struct ChainGraph {
        hidden: Dense<5, 7>,
        middle: Dense<7, 6>,
        output: Dense<6, 3>,
        fn forward(x: [5]) -> [3] {
            softmax(output(leaky_relu(middle(tanh(hidden(x))))))
        }
        loss: cross_entropy,
    }
}

#[test]
fn the_graph_form_of_a_chain_computes_what_the_sequential_form_does() {
    let seq = ChainSequential::<f64>::new(16);
    let mut graph = ChainGraph::<f64>::zeros();
    // Same initialisation scheme and seed, same weights.
    graph.hidden = seq.hidden.clone();
    graph.middle = seq.middle.clone();
    graph.output = seq.output.clone();
    let x = batch::<6, 5>(16);
    let y = ClassLabels::<6, 3>::new([0, 1, 2, 2, 1, 0]).unwrap();
    assert_eq!(seq.forward(&x), graph.forward(&x));
    let (mut g1, mut g2) = (seq.gradients(), graph.gradients());
    let l1 = seq.backward(&x, &y, &mut g1, &mut seq.workspace::<6>());
    let l2 = graph.backward(&x, &y, &mut g2, &mut graph.workspace::<6>());
    assert_eq!(l1, l2);
    assert_eq!(g1.hidden, g2.hidden);
    assert_eq!(g1.middle, g2.middle);
    assert_eq!(g1.output, g2.output);
    // Both initialise alike from a seed.
    let fresh = ChainGraph::<f64>::new(16);
    assert_eq!(fresh.hidden, seq.hidden);
    // And both are `Network`s: predict works on any number of rows.
    let rows: Vec<[f64; 5]> = (0..21)
        .map(|i| [i as f64 * 0.1, 0.2, -0.3, 0.4, 0.0])
        .collect();
    assert_eq!(seq.predict(&rows), graph.predict(&rows));
}

network! {
    /// A value (`relu(x)`) that no parameter influences: its gradient is
    /// needed only for `∂l/∂X`.
    pub struct InputOnly {
        a: Dense<3, 2>,
        fn forward(x: [3]) -> [2] {
            let clipped = relu(x);
            a(clipped)
        }
        loss: sse,
    }
}

#[test]
fn input_gradients_are_computed_only_when_asked_for() {
    let net = InputOnly::<f64>::new(17);
    let x = batch::<2, 3>(17);
    let y = batch::<2, 2>(3);
    let mut grads = net.gradients();
    let mut ws = net.workspace::<2>();
    net.backward(&x, &y, &mut grads, &mut ws);
    let plain = grads.clone();
    assert!(
        ws.dl_dclipped.as_slice().iter().all(|&v| v == 0.0),
        "not computed by backward"
    );
    assert!(ws.dl_dx.as_slice().iter().all(|&v| v == 0.0));
    net.backward_with_input_grads(&x, &y, &mut grads, &mut ws);
    assert_eq!(grads, plain, "the same parameter gradients");
    assert!(ws.dl_dclipped.as_slice().iter().any(|&v| v != 0.0));
    assert!(ws.dl_dx.as_slice().iter().any(|&v| v != 0.0));
    assert_passes(&gradcheck::check_model(&net, &x, &y), "input only");
    // Through the Network trait, for generic code.
    let (_, dl_dx) = Network::backward_with_input_grad(&net, &x, &y, &mut grads, &mut ws);
    assert!(dl_dx.as_slice().iter().any(|&v| v != 0.0));
}

#[test]
fn sequential_networks_give_input_gradients_too() {
    let net = ChainSequential::<f64>::new(18);
    let x = batch::<2, 5>(18);
    let y = ClassLabels::<2, 3>::new([2, 0]).unwrap();
    assert_passes(
        &gradcheck::check_model(&net, &x, &y),
        "sequential input gradients",
    );
}

#[test]
fn named_intermediates_are_workspace_fields() {
    let net = Residual::<f64>::new(19);
    let x = batch::<2, 4>(19);
    let mut ws = net.workspace::<2>();
    net.forward_with(&x, &mut ws);
    let h = x.matmul_t(&net.inp.weight).add_row(&net.inp.bias);
    for (got, z) in ws.h.as_slice().iter().zip(h.as_slice()) {
        assert!((got - z.tanh()).abs() < 1e-15);
    }
    let r = ws.h.matmul_t(&net.block1.weight).add_row(&net.block1.bias);
    let block2 = ws.r.matmul_t(&net.block2.weight).add_row(&net.block2.bias);
    for k in 0..12 {
        assert!((ws.r.as_slice()[k] - r.as_slice()[k].tanh()).abs() < 1e-15);
        let sum = ws.h.as_slice()[k] + block2.as_slice()[k];
        assert!((ws.h2.as_slice()[k] - sum).abs() < 1e-15);
    }
}

#[test]
fn the_graph_description_has_the_users_names_and_operations() {
    let spec = <Residual<f64> as Model>::GRAPH;
    assert_eq!(spec.name, "Residual");
    let names: Vec<&str> = spec.values.iter().map(|v| v.name).collect();
    assert_eq!(
        names,
        ["x", "inp", "h", "block1", "r", "block2", "h2", "out", "output"]
    );
    assert_eq!(spec.inputs, &[0]);
    assert_eq!(spec.outputs, &[8]);
    assert_eq!(spec.values[6].shape, &[6]);
    assert!(matches!(
        spec.ops[5],
        OpSpec::Add {
            lhs: 2,
            rhs: 5,
            output: 6
        }
    ));
    assert!(matches!(
        spec.ops[7],
        OpSpec::Activation {
            function: ActivationSpec::Softmax,
            input: 7,
            output: 8
        }
    ));
    let two = <TwoHeads<f64> as Model>::GRAPH;
    assert_eq!(two.outputs.len(), 2);
    assert_eq!(two.values[two.outputs[0]].name, "class");
    assert_eq!(two.values[two.outputs[1]].name, "size");
}

#[test]
fn the_dot_picture_shows_the_users_names_and_the_sum_rule() {
    let dot = Residual::<f64>::graph_dot();
    assert!(dot.starts_with("digraph Residual {"));
    for needle in [
        r#"h -> h2 [label="+"];"#,
        r#"block2 -> h2 [label="+"];"#,
        r#"dl_dh2 -> dl_dh [label="sum rule: I", style=dashed];"#,
        r#"dl_dinp -> dl_dparam_inp_weight [label="rule 5: dl_dinpᵀ·x", style=dashed];"#,
        r#"param_inp_weight [label="inp.weight [6×4]", shape=ellipse];"#,
    ] {
        assert!(dot.contains(needle), "missing {needle} in\n{dot}");
    }
    // Every edge joins declared nodes.
    let mut nodes = std::collections::HashSet::new();
    let mut edges = Vec::new();
    for line in dot.lines().map(str::trim) {
        if let Some((head, _)) = line.split_once(" [") {
            match head.split_once(" -> ") {
                Some((a, b)) => edges.push((a.to_string(), b.to_string())),
                None => {
                    nodes.insert(head.to_string());
                }
            }
        }
    }
    for (a, b) in &edges {
        assert!(nodes.contains(a) && nodes.contains(b), "{a} -> {b}");
    }
}

#[test]
fn the_architecture_records_the_forward_pass() {
    let text = <TwoHeads<f32> as Model>::ARCHITECTURE;
    assert!(text.starts_with(
        "TwoHeads { trunk: Dense<4, 5>, cls: Dense<5, 3>, reg: Dense<5, 1>, fn forward"
    ));
    assert!(
        text.ends_with("loss: cross_entropy(class) + 0.5 * mse(size) }"),
        "{text}"
    );
}

#[test]
fn a_graph_network_trains() {
    // Two inputs that must be combined: y = [x1 > x2].
    let mut net = TwoInputs::<f32>::new(20);
    let mut grads = net.gradients();
    let mut ws = net.workspace::<16>();
    let x1 = Matrix::<f32, 16, 3>::from_fn(|i, j| ((i * 7 + j * 3) % 11) as f32 / 5.0 - 1.0);
    let x2 = Matrix::<f32, 16, 2>::from_fn(|i, j| ((i * 5 + j * 2) % 13) as f32 / 6.0 - 1.0);
    let y = Matrix::<f32, 16, 2>::from_fn(|i, j| f32::from(u8::from(x1[(i, j)] > x2[(i, j)])));
    let inputs = (x1, x2);
    let first = net.backward(&inputs, &y, &mut grads, &mut ws);
    let mut last = first;
    for _ in 0..300 {
        net.sgd_step(&grads, 0.5);
        last = net.backward(&inputs, &y, &mut grads, &mut ws);
    }
    assert!(last < 0.5 * first, "{first} → {last}");
}

network! {
    /// `h` feeds every kind of operation, and two layers are applied twice:
    /// every gradient but the first one written (in reverse order) is added
    /// (each `…_acc` form of the backward pass runs).
    pub struct Accumulate {
        a: Dense<4, 4>,
        ln: LayerNorm<4>,
        b: Dense<4, 4>,
        out: Dense<24, 2>,
        fn forward(x: [4]) -> [2] {
            let h = a(x);
            let t = tanh(h);
            let s = softmax(h);
            let p = h * t;
            let q = h + s;
            let n1 = ln(h);
            let n2 = ln(t);
            let c = concat(h, p);
            let d = b(h) + b(q);
            out(concat(c, d, n1, n2, q))
        }
        loss: mse,
    }
}

#[test]
fn every_accumulated_gradient() {
    let mut net = Accumulate::<f64>::new(21);
    net.ln.weight = Matrix::from_fn(|_, j| 1.0 + 0.3 * j as f64);
    net.ln.bias = Matrix::from_fn(|_, j| 0.2 - 0.1 * j as f64);
    net.b.bias = Matrix::from_fn(|_, j| 0.05 * j as f64);
    let x = batch::<3, 4>(21);
    let y = batch::<3, 2>(22);
    assert_passes(&gradcheck::check_model(&net, &x, &y), "accumulate");
}
