//! For every allowed activation × loss pairing and for depths 1 to 4,
//! `backward` agrees with central finite differences in f64 (largest
//! relative error below 1e-6, as computed by
//! `chainrule::gradcheck::check_network`, which checks every parameter entry).
//!
//! Pairings: output identity, sigmoid, tanh, relu and leaky_relu with sse and
//! with mse; sigmoid with binary_cross_entropy; softmax with cross_entropy
//! (with class labels and with one-hot rows). Depth 2 crosses every hidden
//! activation with every pairing; depths 3 and 4 rotate the hidden
//! activations so that each appears at every depth.
//!
//! Relu kinks: a finite difference across the kink of relu or leaky_relu is
//! meaningless, so each network's seed is the first one (from 0) for which
//! every pre-activation of a relu or leaky_relu layer is at least `KINK_MARGIN`
//! from 0 (a hundred times the finite-difference step) and no relu unit is
//! dead on the whole batch (which would make its checks vacuous); both are
//! computed by an independent forward pass written here.

use chainrule::gradcheck::{check_network, GradCheckReport};
use chainrule::prelude::*;

/// The largest relative error allowed (issue 3, item 8).
const TOLERANCE: f64 = 1e-6;
/// Pre-activations of relu layers stay this far from the kink.
const KINK_MARGIN: f64 = 1e-3;
/// Rows in the batch.
const B: usize = 3;

/// Three input rows of three features, of both signs.
fn inputs() -> Matrix<f64, B, 3> {
    Matrix::from_rows([[0.9, -1.3, 0.4], [-0.5, 0.8, 1.7], [1.2, 0.3, -0.9]])
}

/// Non-zero biases (initialisation makes them zero), so their gradients are
/// checked at a general point; they differ between seeds.
fn bias_for<const N: usize>(seed: u64) -> RowVector<f64, N> {
    Matrix::from_fn(|_, j| 0.15 * ((seed as usize + j) % 5) as f64 - 0.3)
}

/// The activation named `name`, written out here independently of the runtime.
fn activate<const R: usize, const C: usize>(
    name: &str,
    z: &Matrix<f64, R, C>,
) -> Matrix<f64, R, C> {
    z.map(|z| match name {
        "sigmoid" => 1.0 / (1.0 + (-z).exp()),
        "tanh" => z.tanh(),
        "relu" => z.max(0.0),
        "leaky_relu" => {
            if z > 0.0 {
                z
            } else {
                0.01 * z
            }
        }
        // identity; softmax is only ever the output layer, whose
        // activation this forward pass does not need.
        _ => z,
    })
}

/// How close the pre-activations `z` of a layer come to a kink of its
/// activation `name`; 0 when a relu unit is dead on the whole batch (its
/// gradients would be zero and the check of them vacuous).
fn kink_margin<const R: usize, const C: usize>(name: &str, z: &Matrix<f64, R, C>) -> f64 {
    match name {
        "relu" | "leaky_relu" => {
            let dead_unit = (0..C).any(|j| (0..R).all(|i| z[(i, j)] <= 0.0));
            if name == "relu" && dead_unit {
                return 0.0;
            }
            z.as_slice()
                .iter()
                .fold(f64::INFINITY, |m, z| m.min(z.abs()))
        }
        _ => f64::INFINITY,
    }
}

/// The network of the first seed whose relu pre-activations are all at least
/// `KINK_MARGIN` from 0 and whose relu units are all alive on some row.
fn clear_of_kinks<N>(what: &str, make: impl Fn(u64) -> (N, f64)) -> N {
    for seed in 0..100 {
        let (net, margin) = make(seed);
        if margin >= KINK_MARGIN {
            return net;
        }
    }
    panic!("{what}: no seed below 100 keeps the relu pre-activations {KINK_MARGIN} from 0");
}

#[track_caller]
fn assert_passes(what: &str, report: &GradCheckReport) {
    eprintln!("{what}: {report}");
    assert!(report.entries_checked > 0, "{what}: nothing checked");
    assert!(report.passes(TOLERANCE), "{what}: {report}");
}

/// Every gradient tensor has a non-zero entry, so the comparison with
/// finite differences is not a comparison of zeros.
fn assert_not_vacuous<N, Y, const IN: usize, const OUT: usize>(
    what: &str,
    net: &N,
    x: &Matrix<f64, B, IN>,
    y: &Y,
) where
    N: Network<IN, OUT> + Parameters<Scalar = f64>,
    Y: Targets<f64, B, OUT>,
{
    let mut grads = net.new_gradients();
    net.backward(x, y, &mut grads, &mut net.new_workspace::<B>());
    grads.visit(&mut |info, values| {
        assert!(
            values.iter().any(|&g| g != 0.0),
            "{what}: {} is all zero",
            info.name
        );
    });
}

/// The targets of each loss for a batch of `B` rows.
macro_rules! targets {
    (cross_entropy) => {
        ClassLabels::<B, 3>::new([2, 0, 1]).expect("labels below 3")
    };
    (binary_cross_entropy) => {
        // Hard labels and one soft one.
        Matrix::<f64, B, 2>::from_rows([[1.0, 0.0], [0.0, 0.3], [1.0, 1.0]])
    };
    ($regression:ident) => {
        // Inside the range of every output activation (relu, sigmoid, tanh…).
        Matrix::<f64, B, 2>::from_rows([[0.2, 0.7], [0.9, 0.1], [0.5, 0.4]])
    };
}

/// Checks beyond the first: cross-entropy is also checked with one-hot rows.
macro_rules! also_check {
    (cross_entropy, $what:expr, $net:expr, $x:expr) => {
        let one_hot = targets!(cross_entropy).to_one_hot::<f64>();
        assert_passes(
            &format!("{} (one-hot)", $what),
            &check_network($net, $x, &one_hot),
        );
    };
    ($loss:ident, $what:expr, $net:expr, $x:expr) => {};
}

/// `test_name: NetName [hidden activations…] => output_activation, loss;`
/// declares the network (3 inputs, hidden widths 4, 5, 4, then 2 outputs, or
/// 3 classes for cross-entropy) and a test that checks its gradients.
macro_rules! gradient_cases {
    ($( $test:ident: $net:ident [$($hidden:ident),*] => $output:ident, $loss:ident; )*) => {
        $( gradient_cases!(@outputs $test $net [$($hidden),*] $output $loss); )*
    };
    (@outputs $test:ident $net:ident [$($h:ident),*] $o:ident cross_entropy) => {
        gradient_cases!(@depth $test $net [$($h),*] $o cross_entropy 3);
    };
    (@outputs $test:ident $net:ident [$($h:ident),*] $o:ident $loss:ident) => {
        gradient_cases!(@depth $test $net [$($h),*] $o $loss 2);
    };
    (@depth $test:ident $net:ident [] $o:ident $loss:ident $out:tt) => {
        gradient_cases!(@define $test $net $loss [output 3 $out $o]);
    };
    (@depth $test:ident $net:ident [$h1:ident] $o:ident $loss:ident $out:tt) => {
        gradient_cases!(@define $test $net $loss [first 3 4 $h1] [output 4 $out $o]);
    };
    (@depth $test:ident $net:ident [$h1:ident, $h2:ident] $o:ident $loss:ident $out:tt) => {
        gradient_cases!(@define $test $net $loss
            [first 3 4 $h1] [second 4 5 $h2] [output 5 $out $o]);
    };
    (@depth $test:ident $net:ident [$h1:ident, $h2:ident, $h3:ident] $o:ident $loss:ident $out:tt) => {
        gradient_cases!(@define $test $net $loss
            [first 3 4 $h1] [second 4 5 $h2] [third 5 4 $h3] [output 4 $out $o]);
    };
    (@define $test:ident $net:ident $loss:ident $([$layer:ident $in:tt $n:tt $act:ident])+) => {
        network! {
            struct $net {
                $( $layer: Dense<$in, $n> => $act, )+
                loss: $loss,
            }
        }

        #[test]
        fn $test() {
            let x = inputs();
            let net = clear_of_kinks(stringify!($net), |seed| {
                let mut net = $net::<f64>::new(seed);
                let mut margin = f64::INFINITY;
                let a = x.clone();
                $(
                    net.$layer.bias = bias_for(seed);
                    let z = a.matmul_t(&net.$layer.weight).add_row(&net.$layer.bias);
                    margin = margin.min(kink_margin(stringify!($act), &z));
                    let a = activate(stringify!($act), &z);
                )+
                let _ = a;
                (net, margin)
            });
            let y = targets!($loss);
            assert_not_vacuous(stringify!($test), &net, &x, &y);
            assert_passes(stringify!($test), &check_network(&net, &x, &y));
            also_check!($loss, stringify!($test), &net, &x);
        }
    };
}

gradient_cases! {
    // Depth 1: the output layer alone.
    depth1_identity_sse: D1IdentitySse [] => identity, sse;
    depth1_identity_mse: D1IdentityMse [] => identity, mse;
    depth1_sigmoid_sse: D1SigmoidSse [] => sigmoid, sse;
    depth1_sigmoid_mse: D1SigmoidMse [] => sigmoid, mse;
    depth1_tanh_sse: D1TanhSse [] => tanh, sse;
    depth1_tanh_mse: D1TanhMse [] => tanh, mse;
    depth1_relu_sse: D1ReluSse [] => relu, sse;
    depth1_relu_mse: D1ReluMse [] => relu, mse;
    depth1_leaky_relu_sse: D1LeakyReluSse [] => leaky_relu, sse;
    depth1_leaky_relu_mse: D1LeakyReluMse [] => leaky_relu, mse;
    depth1_sigmoid_bce: D1SigmoidBce [] => sigmoid, binary_cross_entropy;
    depth1_softmax_ce: D1SoftmaxCe [] => softmax, cross_entropy;
    // Depth 2: every hidden activation with every output/loss pairing.
    depth2_identity_then_identity_sse: D2IdentityIdentitySse [identity] => identity, sse;
    depth2_identity_then_identity_mse: D2IdentityIdentityMse [identity] => identity, mse;
    depth2_identity_then_sigmoid_sse: D2IdentitySigmoidSse [identity] => sigmoid, sse;
    depth2_identity_then_sigmoid_mse: D2IdentitySigmoidMse [identity] => sigmoid, mse;
    depth2_identity_then_tanh_sse: D2IdentityTanhSse [identity] => tanh, sse;
    depth2_identity_then_tanh_mse: D2IdentityTanhMse [identity] => tanh, mse;
    depth2_identity_then_relu_sse: D2IdentityReluSse [identity] => relu, sse;
    depth2_identity_then_relu_mse: D2IdentityReluMse [identity] => relu, mse;
    depth2_identity_then_leaky_relu_sse: D2IdentityLeakyReluSse [identity] => leaky_relu, sse;
    depth2_identity_then_leaky_relu_mse: D2IdentityLeakyReluMse [identity] => leaky_relu, mse;
    depth2_identity_then_sigmoid_bce: D2IdentitySigmoidBce [identity] => sigmoid, binary_cross_entropy;
    depth2_identity_then_softmax_ce: D2IdentitySoftmaxCe [identity] => softmax, cross_entropy;
    depth2_sigmoid_then_identity_sse: D2SigmoidIdentitySse [sigmoid] => identity, sse;
    depth2_sigmoid_then_identity_mse: D2SigmoidIdentityMse [sigmoid] => identity, mse;
    depth2_sigmoid_then_sigmoid_sse: D2SigmoidSigmoidSse [sigmoid] => sigmoid, sse;
    depth2_sigmoid_then_sigmoid_mse: D2SigmoidSigmoidMse [sigmoid] => sigmoid, mse;
    depth2_sigmoid_then_tanh_sse: D2SigmoidTanhSse [sigmoid] => tanh, sse;
    depth2_sigmoid_then_tanh_mse: D2SigmoidTanhMse [sigmoid] => tanh, mse;
    depth2_sigmoid_then_relu_sse: D2SigmoidReluSse [sigmoid] => relu, sse;
    depth2_sigmoid_then_relu_mse: D2SigmoidReluMse [sigmoid] => relu, mse;
    depth2_sigmoid_then_leaky_relu_sse: D2SigmoidLeakyReluSse [sigmoid] => leaky_relu, sse;
    depth2_sigmoid_then_leaky_relu_mse: D2SigmoidLeakyReluMse [sigmoid] => leaky_relu, mse;
    depth2_sigmoid_then_sigmoid_bce: D2SigmoidSigmoidBce [sigmoid] => sigmoid, binary_cross_entropy;
    depth2_sigmoid_then_softmax_ce: D2SigmoidSoftmaxCe [sigmoid] => softmax, cross_entropy;
    depth2_tanh_then_identity_sse: D2TanhIdentitySse [tanh] => identity, sse;
    depth2_tanh_then_identity_mse: D2TanhIdentityMse [tanh] => identity, mse;
    depth2_tanh_then_sigmoid_sse: D2TanhSigmoidSse [tanh] => sigmoid, sse;
    depth2_tanh_then_sigmoid_mse: D2TanhSigmoidMse [tanh] => sigmoid, mse;
    depth2_tanh_then_tanh_sse: D2TanhTanhSse [tanh] => tanh, sse;
    depth2_tanh_then_tanh_mse: D2TanhTanhMse [tanh] => tanh, mse;
    depth2_tanh_then_relu_sse: D2TanhReluSse [tanh] => relu, sse;
    depth2_tanh_then_relu_mse: D2TanhReluMse [tanh] => relu, mse;
    depth2_tanh_then_leaky_relu_sse: D2TanhLeakyReluSse [tanh] => leaky_relu, sse;
    depth2_tanh_then_leaky_relu_mse: D2TanhLeakyReluMse [tanh] => leaky_relu, mse;
    depth2_tanh_then_sigmoid_bce: D2TanhSigmoidBce [tanh] => sigmoid, binary_cross_entropy;
    depth2_tanh_then_softmax_ce: D2TanhSoftmaxCe [tanh] => softmax, cross_entropy;
    depth2_relu_then_identity_sse: D2ReluIdentitySse [relu] => identity, sse;
    depth2_relu_then_identity_mse: D2ReluIdentityMse [relu] => identity, mse;
    depth2_relu_then_sigmoid_sse: D2ReluSigmoidSse [relu] => sigmoid, sse;
    depth2_relu_then_sigmoid_mse: D2ReluSigmoidMse [relu] => sigmoid, mse;
    depth2_relu_then_tanh_sse: D2ReluTanhSse [relu] => tanh, sse;
    depth2_relu_then_tanh_mse: D2ReluTanhMse [relu] => tanh, mse;
    depth2_relu_then_relu_sse: D2ReluReluSse [relu] => relu, sse;
    depth2_relu_then_relu_mse: D2ReluReluMse [relu] => relu, mse;
    depth2_relu_then_leaky_relu_sse: D2ReluLeakyReluSse [relu] => leaky_relu, sse;
    depth2_relu_then_leaky_relu_mse: D2ReluLeakyReluMse [relu] => leaky_relu, mse;
    depth2_relu_then_sigmoid_bce: D2ReluSigmoidBce [relu] => sigmoid, binary_cross_entropy;
    depth2_relu_then_softmax_ce: D2ReluSoftmaxCe [relu] => softmax, cross_entropy;
    depth2_leaky_relu_then_identity_sse: D2LeakyReluIdentitySse [leaky_relu] => identity, sse;
    depth2_leaky_relu_then_identity_mse: D2LeakyReluIdentityMse [leaky_relu] => identity, mse;
    depth2_leaky_relu_then_sigmoid_sse: D2LeakyReluSigmoidSse [leaky_relu] => sigmoid, sse;
    depth2_leaky_relu_then_sigmoid_mse: D2LeakyReluSigmoidMse [leaky_relu] => sigmoid, mse;
    depth2_leaky_relu_then_tanh_sse: D2LeakyReluTanhSse [leaky_relu] => tanh, sse;
    depth2_leaky_relu_then_tanh_mse: D2LeakyReluTanhMse [leaky_relu] => tanh, mse;
    depth2_leaky_relu_then_relu_sse: D2LeakyReluReluSse [leaky_relu] => relu, sse;
    depth2_leaky_relu_then_relu_mse: D2LeakyReluReluMse [leaky_relu] => relu, mse;
    depth2_leaky_relu_then_leaky_relu_sse: D2LeakyReluLeakyReluSse [leaky_relu] => leaky_relu, sse;
    depth2_leaky_relu_then_leaky_relu_mse: D2LeakyReluLeakyReluMse [leaky_relu] => leaky_relu, mse;
    depth2_leaky_relu_then_sigmoid_bce: D2LeakyReluSigmoidBce [leaky_relu] => sigmoid, binary_cross_entropy;
    depth2_leaky_relu_then_softmax_ce: D2LeakyReluSoftmaxCe [leaky_relu] => softmax, cross_entropy;
    // Depths 3 and 4: hidden activations in rotation, so each appears at every depth.
    depth3_identity_sigmoid_then_identity_sse: D3IdentitySse [identity, sigmoid] => identity, sse;
    depth3_sigmoid_tanh_then_identity_mse: D3IdentityMse [sigmoid, tanh] => identity, mse;
    depth3_tanh_relu_then_sigmoid_sse: D3SigmoidSse [tanh, relu] => sigmoid, sse;
    depth3_relu_leaky_relu_then_sigmoid_mse: D3SigmoidMse [relu, leaky_relu] => sigmoid, mse;
    depth3_leaky_relu_identity_then_tanh_sse: D3TanhSse [leaky_relu, identity] => tanh, sse;
    depth3_identity_sigmoid_then_tanh_mse: D3TanhMse [identity, sigmoid] => tanh, mse;
    depth3_sigmoid_tanh_then_relu_sse: D3ReluSse [sigmoid, tanh] => relu, sse;
    depth3_tanh_relu_then_relu_mse: D3ReluMse [tanh, relu] => relu, mse;
    depth3_relu_leaky_relu_then_leaky_relu_sse: D3LeakyReluSse [relu, leaky_relu] => leaky_relu, sse;
    depth3_leaky_relu_identity_then_leaky_relu_mse: D3LeakyReluMse [leaky_relu, identity] => leaky_relu, mse;
    depth3_identity_sigmoid_then_sigmoid_bce: D3SigmoidBce [identity, sigmoid] => sigmoid, binary_cross_entropy;
    depth3_sigmoid_tanh_then_softmax_ce: D3SoftmaxCe [sigmoid, tanh] => softmax, cross_entropy;
    depth4_tanh_relu_leaky_relu_then_identity_sse: D4IdentitySse [tanh, relu, leaky_relu] => identity, sse;
    depth4_relu_leaky_relu_identity_then_identity_mse: D4IdentityMse [relu, leaky_relu, identity] => identity, mse;
    depth4_leaky_relu_identity_sigmoid_then_sigmoid_sse: D4SigmoidSse [leaky_relu, identity, sigmoid] => sigmoid, sse;
    depth4_identity_sigmoid_tanh_then_sigmoid_mse: D4SigmoidMse [identity, sigmoid, tanh] => sigmoid, mse;
    depth4_sigmoid_tanh_relu_then_tanh_sse: D4TanhSse [sigmoid, tanh, relu] => tanh, sse;
    depth4_tanh_relu_leaky_relu_then_tanh_mse: D4TanhMse [tanh, relu, leaky_relu] => tanh, mse;
    depth4_relu_leaky_relu_identity_then_relu_sse: D4ReluSse [relu, leaky_relu, identity] => relu, sse;
    depth4_leaky_relu_identity_sigmoid_then_relu_mse: D4ReluMse [leaky_relu, identity, sigmoid] => relu, mse;
    depth4_identity_sigmoid_tanh_then_leaky_relu_sse: D4LeakyReluSse [identity, sigmoid, tanh] => leaky_relu, sse;
    depth4_sigmoid_tanh_relu_then_leaky_relu_mse: D4LeakyReluMse [sigmoid, tanh, relu] => leaky_relu, mse;
    depth4_tanh_relu_leaky_relu_then_sigmoid_bce: D4SigmoidBce [tanh, relu, leaky_relu] => sigmoid, binary_cross_entropy;
    depth4_relu_leaky_relu_identity_then_softmax_ce: D4SoftmaxCe [relu, leaky_relu, identity] => softmax, cross_entropy;
}
