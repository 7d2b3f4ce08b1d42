//! The surface `network!` generates (GENERATED_API.md): constants,
//! initialisation, the parameter tensors, the agreement of the convenience
//! methods with the workspace ones and with the `Network` trait, `predict`,
//! const generics, and the graph description.

use chainrule::layers::Init;
use chainrule::prelude::*;

network! {
    /// 784 → 128 → 10 classifier.
    pub struct Mnist {
        hidden: Dense<784, 128> => relu,
        output: Dense<128, 10> => softmax,
        loss: cross_entropy,
    }
}

network! {
    /// Xavier and He layers side by side, and a layer without bias.
    pub struct Mixed {
        squash: Dense<6, 5> => tanh,
        rectify: Dense<5, 4> => leaky_relu,
        project: DenseNoBias<4, 3>,
        loss: mse,
    }
}

network! {
    /// A width chosen by the user of the type.
    pub struct Mlp<const H: usize> {
        hidden: Dense<3, H> => sigmoid,
        output: Dense<H, 2> => identity,
        loss: sse,
    }
}

/// Every tensor's (name, shape, length) in visiting order.
fn tensors<P: Parameters>(params: &P) -> Vec<(String, Vec<usize>, usize)> {
    let mut out = Vec::new();
    params.visit(&mut |info, values| {
        out.push((info.name.to_owned(), info.shape.to_vec(), values.len()));
    });
    out
}

fn all_values<P: Parameters>(params: &P) -> Vec<f64> {
    let mut out = Vec::new();
    params.visit(&mut |_, values| out.extend(values.iter().map(|v| v.to_f64())));
    out
}

#[test]
fn constants_name_the_input_and_output_widths() {
    assert_eq!(Mnist::<f32>::INPUTS, 784);
    assert_eq!(Mnist::<f32>::OUTPUTS, 10);
    assert_eq!(Mixed::<f64>::INPUTS, 6);
    assert_eq!(Mixed::<f64>::OUTPUTS, 3);
    assert_eq!(Mlp::<7, f64>::INPUTS, 3);
}

#[test]
fn parameters_are_named_and_shaped_like_pytorch() {
    let net = Mnist::<f32>::zeros();
    let expected = [
        ("hidden.weight".to_owned(), vec![128, 784], 128 * 784),
        ("hidden.bias".to_owned(), vec![128], 128),
        ("output.weight".to_owned(), vec![10, 128], 10 * 128),
        ("output.bias".to_owned(), vec![10], 10),
    ];
    assert_eq!(tensors(&net), expected);
    // The gradients have exactly the same tensors (rule 0).
    assert_eq!(tensors(&net.gradients()), expected);
    assert_eq!(<Mnist<f32> as Parameters>::TENSORS, 4);
    assert_eq!(
        <Mnist<f32> as Parameters>::SCALARS,
        128 * 784 + 128 + 10 * 128 + 10
    );

    let mixed = Mixed::<f64>::zeros();
    let names: Vec<String> = tensors(&mixed).into_iter().map(|(n, _, _)| n).collect();
    assert_eq!(
        names,
        [
            "squash.weight",
            "squash.bias",
            "rectify.weight",
            "rectify.bias",
            "project.weight"
        ]
    );
    assert_eq!(<Mixed<f64> as Parameters>::SCALARS, 30 + 5 + 20 + 4 + 12);

    // Indices count tensors in order, from 0.
    let mut indices = Vec::new();
    mixed.visit(&mut |info, _| indices.push(info.index));
    assert_eq!(indices, [0, 1, 2, 3, 4]);
}

#[test]
fn tensor_lengths_are_the_visited_lengths() {
    fn lengths<P: Parameters>(params: &P) -> Vec<usize> {
        tensors(params).into_iter().map(|(_, _, n)| n).collect()
    }
    let mnist = Mnist::<f32>::zeros();
    assert_eq!(<Mnist<f32> as Parameters>::TENSOR_LENGTHS, lengths(&mnist));
    assert_eq!(
        <MnistGradients<f32> as Parameters>::TENSOR_LENGTHS,
        lengths(&mnist.gradients())
    );
    let mixed = Mixed::<f64>::zeros();
    assert_eq!(<Mixed<f64> as Parameters>::TENSOR_LENGTHS, lengths(&mixed));
    let mlp = Mlp::<7, f64>::zeros();
    assert_eq!(<Mlp<7, f64> as Parameters>::TENSOR_LENGTHS, lengths(&mlp));
    assert_eq!(<Mlp<7, f64> as Parameters>::TENSOR_LENGTHS, [21, 7, 14, 2]);
}

#[test]
fn initialisation_is_seeded_bounded_and_zero_biased() {
    let a = Mixed::<f64>::new(42);
    assert_eq!(
        a,
        Mixed::<f64>::new(42),
        "the same seed gives the same network"
    );
    assert_ne!(
        a,
        Mixed::<f64>::new(43),
        "another seed gives another network"
    );
    assert_eq!(<Mixed<f64> as Model>::init(42), a, "Network::init is new");

    // tanh layer: Xavier, U(±√(6/(6+5))); leaky_relu layer: He, U(±√(6/5));
    // the identity layer: Xavier, U(±√(6/(4+3))).
    let check = |what: &str, values: &[f64], bound: f64| {
        assert!(
            values.iter().all(|v| v.abs() <= bound),
            "{what} exceeds ±{bound}"
        );
        // Spread over the range, not clustered: the largest is past half the bound.
        let largest = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(
            largest > 0.5 * bound,
            "{what}: largest |w| {largest} of bound {bound}"
        );
    };
    check(
        "squash.weight",
        a.squash.weight.as_slice(),
        Init::Xavier.bound(6, 5),
    );
    check(
        "rectify.weight",
        a.rectify.weight.as_slice(),
        Init::He.bound(5, 4),
    );
    check(
        "project.weight",
        a.project.weight.as_slice(),
        Init::Xavier.bound(4, 3),
    );
    assert!((Init::He.bound(5, 4) - (6.0f64 / 5.0).sqrt()).abs() < 1e-15);
    assert!(a.squash.bias.as_slice().iter().all(|&b| b == 0.0));
    assert!(a.rectify.bias.as_slice().iter().all(|&b| b == 0.0));

    // He for the relu layer of Mnist: a bound of √(6/784) ≈ 0.0875, not
    // Xavier's √(6/912) ≈ 0.0811; the largest of 100 352 draws exceeds 0.0811.
    let mnist = Mnist::<f32>::new(0);
    let largest = mnist
        .hidden
        .weight
        .as_slice()
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(f64::from(largest) <= Init::He.bound(784, 128));
    assert!(
        f64::from(largest) > Init::Xavier.bound(784, 128),
        "hidden layer is not He"
    );

    assert!(all_values(&Mixed::<f64>::zeros()).iter().all(|&v| v == 0.0));
    assert!(all_values(&a.gradients()).iter().all(|&v| v == 0.0));
}

#[test]
fn convenience_methods_agree_with_workspace_methods_and_the_trait() {
    let mut net = Mixed::<f64>::new(9);
    net.squash.bias = Matrix::from_fn(|_, j| 0.1 * j as f64);
    let x = Matrix::<f64, 4, 6>::from_fn(|i, j| ((i * 6 + j) % 7) as f64 * 0.3 - 0.9);
    let y = Matrix::<f64, 4, 3>::from_fn(|i, j| (i + 2 * j) as f64 * 0.1);

    let out = net.forward(&x);
    let mut ws = net.workspace::<4>();
    assert_eq!(*net.forward_with(&x, &mut ws), out);
    let mut trait_ws = <Mixed<f64> as Model>::new_workspace::<4>(&net);
    assert_eq!(*Network::forward_with(&net, &x, &mut trait_ws), out);

    let loss = net.loss(&x, &y);
    assert_eq!(net.loss_with(&x, &y, &mut ws), loss);
    let mut grads = net.gradients();
    assert_eq!(net.backward(&x, &y, &mut grads, &mut ws), loss);
    let mut trait_grads = Model::new_gradients(&net);
    assert_eq!(
        Network::backward(&net, &x, &y, &mut trait_grads, &mut trait_ws),
        loss
    );
    assert_eq!(trait_grads, grads);

    // The loss is the mse of the forward output, computed here.
    let expected: f64 = out
        .as_slice()
        .iter()
        .zip(y.as_slice())
        .map(|(a, y)| (a - y) * (a - y))
        .sum::<f64>()
        / 12.0;
    assert!((loss - expected).abs() < 1e-14, "{loss} vs {expected}");
}

#[test]
fn a_workspace_serves_any_number_of_batches() {
    let net = Mlp::<5, f64>::new(1);
    let x1 = Matrix::<f64, 2, 3>::from_rows([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]]);
    let x2 = Matrix::<f64, 2, 3>::from_rows([[0.0, -2.0, 1.0], [4.0, 0.5, -3.0]]);
    let mut ws = net.workspace::<2>();
    let first = net.forward_with(&x1, &mut ws).clone();
    let _ = net.forward_with(&x2, &mut ws);
    // Nothing from the previous batch leaks into the next.
    assert_eq!(*net.forward_with(&x1, &mut ws), first);
    assert_eq!(net.forward(&x1), first);
}

#[test]
fn forward_is_row_independent_and_predict_runs_any_number_of_rows() {
    let net = Mnist::<f32>::new(3);
    // 37 rows: two batches of 16 and five single rows.
    let rows: Vec<[f32; 784]> = (0..37)
        .map(|r| core::array::from_fn(|j| ((r * 13 + j * 5) % 17) as f32 / 16.0))
        .collect();
    let predicted = net.predict(&rows);
    assert_eq!(predicted.len(), 37);
    for (r, row) in rows.iter().enumerate() {
        let one = net.forward(&Matrix::<f32, 1, 784>::from_slice(row).expect("784 entries"));
        for c in 0..10 {
            let difference = (one[(0, c)] - predicted[r][c]).abs();
            assert!(difference < 1e-6, "row {r}, class {c}: {difference}");
        }
        // Softmax output: a probability distribution.
        let total: f32 = predicted[r].iter().sum();
        assert!((total - 1.0).abs() < 1e-5);
    }
}

#[test]
fn const_generic_widths_change_the_types() {
    let narrow = Mlp::<2, f64>::new(0);
    let wide = Mlp::<9, f64>::new(0);
    let _: &Matrix<f64, 2, 3> = &narrow.hidden.weight;
    let _: &Matrix<f64, 9, 3> = &wide.hidden.weight;
    let _: &Matrix<f64, 2, 9> = &wide.output.weight;
    assert_eq!(<Mlp<9, f64> as Parameters>::SCALARS, 27 + 9 + 18 + 2);
    // The scalar defaults to f32.
    let default: Mlp<4> = Mlp::zeros();
    let _: &Matrix<f32, 4, 3> = &default.hidden.weight;
}

#[test]
fn update_with_visits_every_tensor_with_its_gradient() {
    let mut net = Mixed::<f64>::new(5);
    let before = all_values(&net);
    let mut grads = net.gradients();
    let mut k = 0.0;
    grads.visit_mut(&mut |_, values| {
        for v in values {
            k += 1.0;
            *v = k;
        }
    });
    let mut seen = Vec::new();
    Model::update_with(&mut net, &grads, &mut |info, params, g| {
        assert_eq!(params.len(), g.len(), "{}", info.name);
        seen.push(info.name.to_owned());
    });
    assert_eq!(seen.len(), 5);
    // sgd_step: θ ← θ − lr·g, entry by entry.
    net.sgd_step(&grads, 0.5);
    let after = all_values(&net);
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        let expected = b - 0.5 * (i + 1) as f64;
        assert!((a - expected).abs() < 1e-12, "entry {i}: {a} vs {expected}");
    }
}

#[test]
fn graph_dot_describes_forward_and_backward() {
    let dot = Mnist::<f32>::graph_dot();
    assert!(dot.trim_start().starts_with("digraph"), "{dot}");
    assert!(dot.trim_end().ends_with('}'), "{dot}");
    for name in ["hidden", "output", "relu", "softmax", "cross_entropy"] {
        assert!(
            dot.contains(name),
            "the graph does not mention {name}:\n{dot}"
        );
    }
    // The backward half: intermediate gradients named as in DESIGN.md §1.
    assert!(
        dot.contains("dl_d") || dot.contains("∂l/∂"),
        "no backward nodes:\n{dot}"
    );
    assert_eq!(<Mnist<f32> as Model>::graph_dot(), dot);
    assert!(!<Mnist<f32> as Model>::ARCHITECTURE.is_empty());
}

#[test]
fn clone_debug_and_equality_are_derived() {
    let net = Mixed::<f32>::new(0);
    let mut copy = net.clone();
    assert_eq!(copy, net);
    copy.project.weight[(0, 0)] += 1.0;
    assert_ne!(copy, net);
    assert!(format!("{net:?}").contains("project"));
    let grads = net.gradients();
    assert_eq!(grads.clone(), grads);
    assert!(format!("{grads:?}").contains("squash"));
}

/// The same network in f32 and f64 (f32 weights rounded from the f64 ones)
/// gives the same loss and gradients to f32 precision: the generated code is
/// one generic body, and nothing in it is specific to one scalar.
#[test]
fn f32_and_f64_agree_to_single_precision() {
    let wide = Mnist::<f64>::new(21);
    let mut narrow = Mnist::<f32>::zeros();
    let mut values = Vec::new();
    wide.visit(&mut |_, v| values.push(v.to_vec()));
    let mut t = 0;
    narrow.visit_mut(&mut |_, v| {
        for (n, &w) in v.iter_mut().zip(&values[t]) {
            *n = w as f32;
        }
        t += 1;
    });
    let x64 = Matrix::<f64, 4, 784>::from_fn(|i, j| ((i * 29 + j * 3) % 64) as f64 / 63.0);
    let x32 = x64.cast::<f32>();
    let labels = ClassLabels::<4, 10>::new([1, 4, 7, 9]).expect("labels below 10");

    let mut g64 = wide.gradients();
    let mut g32 = narrow.gradients();
    let l64 = wide.backward(&x64, &labels, &mut g64, &mut wide.workspace::<4>());
    let l32 = narrow.backward(&x32, &labels, &mut g32, &mut narrow.workspace::<4>());
    assert!(
        (f64::from(l32) - l64).abs() < 1e-5 * l64.abs().max(1.0),
        "{l32} vs {l64}"
    );

    let mut wide_grads = Vec::new();
    g64.visit(&mut |info, v| wide_grads.push((info.name.to_owned(), v.to_vec())));
    let mut t = 0;
    g32.visit(&mut |info, v| {
        let (name, wide) = &wide_grads[t];
        assert_eq!(name, info.name);
        let scale = wide.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        for (k, (&n, &w)) in v.iter().zip(wide).enumerate() {
            assert!(
                (f64::from(n) - w).abs() <= 1e-4 * scale,
                "{name}[{k}]: f32 {n}, f64 {w} (largest |g| {scale})"
            );
        }
        t += 1;
    });
}

#[test]
fn loss_and_output_come_from_one_forward_pass() {
    // Evaluation's path: the loss leaves the outputs in the workspace, equal
    // (up to rounding) to what forward_with gives, for fused and unfused
    // losses alike.
    let net = Mnist::<f64>::new(3);
    let x = Matrix::<f64, 3, 784>::from_fn(|i, j| ((i * 7 + j) % 13) as f64 / 13.0);
    let y = ClassLabels::<3, 10>::new([1, 5, 9]).expect("labels below 10");
    let mut ws = net.workspace::<3>();
    let (loss, out) = Network::loss_and_output_with(&net, &x, &y, &mut ws);
    let out = out.clone();
    assert_eq!(loss, net.loss(&x, &y));
    let expected = net.forward(&x);
    for (a, b) in out.as_slice().iter().zip(expected.as_slice()) {
        assert!((a - b).abs() < 1e-15, "{a} vs {b}");
    }
    let mixed = Mixed::<f64>::new(4);
    let x = Matrix::<f64, 2, 6>::from_fn(|i, j| (i + j) as f64 * 0.1);
    let y = Matrix::<f64, 2, 3>::filled(0.25);
    let mut ws = mixed.workspace::<2>();
    let (loss, out) = Network::loss_and_output_with(&mixed, &x, &y, &mut ws);
    assert_eq!(out, &mixed.forward(&x));
    assert_eq!(loss, mixed.loss(&x, &y));
}
