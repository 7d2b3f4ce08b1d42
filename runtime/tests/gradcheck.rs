//! Gradient checking: `check` on plain functions and `check_network` on a
//! hand-written network (tanh hidden layer, sigmoid output, binary
//! cross-entropy), including backward passes with deliberate bugs that the
//! check must catch and locate.

use chainrule::activations::{activate_into, activation_backward_into, Tanh};
use chainrule::gradcheck::{self, GradCheckOptions};
use chainrule::layers::Dense;
use chainrule::{losses, ops, rules};
use chainrule::{
    ClassLabels, LossReduction, Matrix, Model, Network, ParamInfo, Parameters, Targets, UpdateFn,
};

// ---------------------------------------------------------------------------
// check() on plain functions
// ---------------------------------------------------------------------------

#[test]
fn check_passes_a_correct_gradient_of_a_nonlinear_function() {
    // f(X) = Σ sin(x_ij)·x_ij², ∂f/∂x = cos(x)·x² + 2x·sin(x).
    let x = Matrix::<f64, 3, 2>::from_rows([[0.3, -1.2], [2.0, 0.0], [-0.7, 5.0]]);
    let f = |x: &Matrix<f64, 3, 2>| x.as_slice().iter().map(|v| v.sin() * v * v).sum();
    let grad = x.map(|v| v.cos() * v * v + 2.0 * v * v.sin());
    let report = gradcheck::check(f, &x, &grad);
    assert_eq!(report.entries_checked, 6);
    // The entry at x = 0 has gradient 0 and a numeric value that is pure
    // rounding (≈ ε·|f|/h); the floor keeps it small.
    assert!(report.passes(1e-6), "{report}");
    assert!(report.max_absolute_error < 1e-7, "{report}");
}

#[test]
fn check_fails_and_locates_a_wrong_entry() {
    let x = Matrix::<f64, 2, 3>::from_fn(|i, j| (i as f64) - 0.5 * (j as f64) + 0.25);
    let f = |x: &Matrix<f64, 2, 3>| x.as_slice().iter().map(|v| v.exp()).sum();
    let mut grad = x.map(f64::exp);
    grad[(1, 2)] *= 1.01; // a 1 % error in one entry
    let report = gradcheck::check(f, &x, &grad);
    assert!(!report.passes(1e-4), "{report}");
    let worst = report.worst.as_ref().expect("entries were checked");
    assert_eq!(worst.tensor, "x");
    assert_eq!(worst.position, (1, 2));
    assert_eq!(worst.index, 5);
    // relative error = 0.01·e^x / (1.01·e^x) = 0.01 / 1.01
    assert!(
        (worst.relative_error - 0.01 / 1.01).abs() < 1e-6,
        "{report}"
    );
    assert!((report.max_relative_error - worst.relative_error).abs() == 0.0);
}

#[test]
fn tiny_gradients_are_judged_against_the_floor() {
    // f(x) = 1e-9·x, gradient 1e-9. An analytic 0 is off by 1e-9 absolute,
    // which is 1e-9 / floor(1e-4) = 1e-5 relative, not 100 %.
    let x = Matrix::<f64, 1, 1>::from_rows([[0.5]]);
    let report = gradcheck::check(|x| 1e-9 * x[(0, 0)], &x, &Matrix::zeros());
    assert!((report.max_relative_error - 1e-5).abs() < 1e-9, "{report}");
    // With a floor of 0 the same error is total.
    let options = GradCheckOptions {
        floor: 0.0,
        ..GradCheckOptions::default()
    };
    let report = gradcheck::check_with(|x| 1e-9 * x[(0, 0)], &x, &Matrix::zeros(), options);
    assert!((report.max_relative_error - 1.0).abs() < 1e-6, "{report}");
}

#[test]
fn the_step_is_relative_to_large_entries() {
    // f(x) = x³ at x = 1e4: f′ = 3e8. An absolute step of 1e-5 would lose
    // about 1e12·1e-16/1e-5 ≈ 1e1 to rounding; the relative step of 0.1 keeps
    // the central difference exact up to h² = 1e-2 (error h²·f‴/6 = 1e-2).
    let x = Matrix::<f64, 1, 1>::from_rows([[1e4]]);
    let report = gradcheck::check(|x| x[(0, 0)].powi(3), &x, &Matrix::filled(3e8));
    assert!(report.passes(1e-9), "{report}");
}

#[test]
fn nan_gradients_fail_the_check_and_are_reported() {
    let x = Matrix::<f64, 1, 3>::from_rows([[1.0, 2.0, 3.0]]);
    let mut grad = x.scale(2.0);
    grad[(0, 1)] = f64::NAN;
    let report = gradcheck::check(|x| x.hadamard(x).sum(), &x, &grad);
    assert!(report.max_relative_error.is_nan());
    assert!(!report.passes(f64::INFINITY));
    let worst = report.worst.expect("entries were checked");
    assert_eq!(worst.position, (0, 1));
    // The NaN stays the worst entry even when a later entry is wrong too.
    let mut grad = x.scale(2.0);
    grad[(0, 0)] = f64::NAN;
    grad[(0, 2)] = 100.0;
    let report = gradcheck::check(|x| x.hadamard(x).sum(), &x, &grad);
    assert_eq!(report.worst.expect("checked").position, (0, 0));
}

#[test]
fn a_nan_function_value_fails_the_check() {
    let x = Matrix::<f64, 1, 2>::from_rows([[1.0, -1.0]]);
    let report = gradcheck::check(|x| x[(0, 1)].sqrt(), &x, &Matrix::zeros());
    assert!(!report.passes(1.0), "{report}");
}

#[test]
fn display_names_the_worst_entry_and_both_values() {
    let x = Matrix::<f64, 2, 2>::from_rows([[1.0, 2.0], [3.0, 4.0]]);
    let mut grad = x.scale(2.0);
    grad[(1, 0)] = 7.0; // true value 6
    let report = gradcheck::check(|x| x.hadamard(x).sum(), &x, &grad);
    let text = report.to_string();
    assert!(text.contains("4 entries"), "{text}");
    assert!(text.contains("x[(1, 0)]"), "{text}");
    assert!(text.contains("analytic 7.0"), "{text}");
    assert!(
        text.contains("numeric 6.0") || text.contains("numeric 5.9999"),
        "{text}"
    );
    // relative error 1/7
    assert!(text.contains("1.429e-1"), "{text}");
}

#[test]
fn numerical_gradient_of_a_quadratic_form() {
    // f(x) = xᵀ·A·x for a column vector ⇒ ∇f = (A + Aᵀ)·x.
    let a = Matrix::<f64, 3, 3>::from_rows([[1.0, 2.0, 0.0], [-1.0, 3.0, 4.0], [0.5, 0.0, -2.0]]);
    let x = Matrix::<f64, 3, 1>::from_rows([[1.0], [-2.0], [0.5]]);
    let g = gradcheck::numerical_gradient(|x| x.t_matmul(&a.matmul(x))[(0, 0)], &x);
    let expected = (&a + &a.transpose()).matmul(&x);
    assert!(g.approx_eq(&expected, 1e-8), "{g}\n{expected}");
}

// ---------------------------------------------------------------------------
// check_network() on a hand-written network
// ---------------------------------------------------------------------------

/// A deliberate mistake in the backward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bug {
    None,
    /// Forgets the mean: ∂l/∂Z2 = A − Y instead of (A − Y)/(B·N).
    NoMean,
    /// Leaves the hidden bias gradient at zero.
    NoHiddenBias,
    /// Uses f′ = 1 − z² instead of 1 − a² for tanh.
    TanhDerivativeOfZ,
    /// Adds 1e-3 to one entry of the output weight gradient.
    OneEntry,
}

/// x (3) → hidden: Dense<3, 4> → tanh → output: Dense<4, 2> → sigmoid,
/// binary cross-entropy on logits.
#[derive(Clone, Debug)]
struct Tiny {
    hidden: Dense<f64, 3, 4>,
    output: Dense<f64, 4, 2>,
    bug: Bug,
}

#[derive(Clone, Debug)]
struct TinyGrads {
    hidden: Dense<f64, 3, 4>,
    output: Dense<f64, 4, 2>,
}

struct TinyWorkspace<const B: usize> {
    z1: Matrix<f64, B, 4>,
    a1: Matrix<f64, B, 4>,
    z2: Matrix<f64, B, 2>,
    a2: Matrix<f64, B, 2>,
    dz2: Matrix<f64, B, 2>,
    da1: Matrix<f64, B, 4>,
    dz1: Matrix<f64, B, 4>,
    dx: Matrix<f64, B, 3>,
}

const SHAPES: [&[usize]; 4] = [&[4, 3], &[4], &[2, 4], &[2]];
const NAMES: [&str; 4] = [
    "hidden.weight",
    "hidden.bias",
    "output.weight",
    "output.bias",
];

fn info(index: usize) -> ParamInfo<'static> {
    ParamInfo {
        name: NAMES[index],
        shape: SHAPES[index],
        index,
    }
}

macro_rules! impl_parameters {
    ($t:ty) => {
        impl Parameters for $t {
            type Scalar = f64;
            const TENSORS: usize = 4;
            const SCALARS: usize = 12 + 4 + 8 + 2;
            fn visit(&self, f: &mut dyn FnMut(ParamInfo<'_>, &[f64])) {
                f(info(0), self.hidden.weight.as_slice());
                f(info(1), self.hidden.bias.as_slice());
                f(info(2), self.output.weight.as_slice());
                f(info(3), self.output.bias.as_slice());
            }
            fn visit_mut(&mut self, f: &mut dyn FnMut(ParamInfo<'_>, &mut [f64])) {
                f(info(0), self.hidden.weight.as_mut_slice());
                f(info(1), self.hidden.bias.as_mut_slice());
                f(info(2), self.output.weight.as_mut_slice());
                f(info(3), self.output.bias.as_mut_slice());
            }
        }
    };
}
impl_parameters!(Tiny);
impl_parameters!(TinyGrads);

impl Tiny {
    fn forward_logits<const B: usize>(&self, x: &Matrix<f64, B, 3>, ws: &mut TinyWorkspace<B>) {
        self.hidden.forward_into(x, &mut ws.z1);
        activate_into::<Tanh, f64, B, 4>(&ws.z1, &mut ws.a1);
        self.output.forward_into(&ws.a1, &mut ws.z2);
    }
}

impl Model for Tiny {
    type Gradients = TinyGrads;
    type Workspace<const B: usize> = TinyWorkspace<B>;
    const ARCHITECTURE: &'static str =
        "hidden: Dense<3, 4> => tanh, output: Dense<4, 2> => sigmoid, loss: binary_cross_entropy";

    fn init(seed: u64) -> Self {
        let mut rng = chainrule::layers::init_rng(seed);
        let mut net = Self {
            hidden: Dense::init(chainrule::layers::Init::Xavier, &mut rng),
            output: Dense::init(chainrule::layers::Init::Xavier, &mut rng),
            bug: Bug::None,
        };
        // Non-zero biases, so that their gradients are exercised fully.
        net.hidden.bias = Matrix::from_rows([[0.1, -0.2, 0.3, 0.05]]);
        net.output.bias = Matrix::from_rows([[-0.15, 0.25]]);
        net
    }

    fn new_gradients(&self) -> TinyGrads {
        TinyGrads {
            hidden: Dense::zeros(),
            output: Dense::zeros(),
        }
    }

    fn new_workspace<const B: usize>(&self) -> TinyWorkspace<B> {
        TinyWorkspace {
            z1: Matrix::zeros(),
            a1: Matrix::zeros(),
            z2: Matrix::zeros(),
            a2: Matrix::zeros(),
            dz2: Matrix::zeros(),
            da1: Matrix::zeros(),
            dz1: Matrix::zeros(),
            dx: Matrix::zeros(),
        }
    }

    fn update_with(&mut self, grads: &TinyGrads, f: &mut UpdateFn<'_, f64>) {
        f(
            info(0),
            self.hidden.weight.as_mut_slice(),
            grads.hidden.weight.as_slice(),
        );
        f(
            info(1),
            self.hidden.bias.as_mut_slice(),
            grads.hidden.bias.as_slice(),
        );
        f(
            info(2),
            self.output.weight.as_mut_slice(),
            grads.output.weight.as_slice(),
        );
        f(
            info(3),
            self.output.bias.as_mut_slice(),
            grads.output.bias.as_slice(),
        );
    }

    fn graph_dot() -> String {
        "digraph tiny {}".to_string()
    }
    type Inputs<const B: usize> = Matrix<f64, B, 3>;
    const GRAPH: chainrule::graph::GraphSpec = chainrule::graph::GraphSpec {
        name: "Tiny",
        values: &[
            chainrule::graph::ValueSpec {
                name: "x",
                shape: &[3],
            },
            chainrule::graph::ValueSpec {
                name: "z1",
                shape: &[4],
            },
            chainrule::graph::ValueSpec {
                name: "a1",
                shape: &[4],
            },
            chainrule::graph::ValueSpec {
                name: "z2",
                shape: &[2],
            },
            chainrule::graph::ValueSpec {
                name: "a2",
                shape: &[2],
            },
        ],
        inputs: &[0],
        outputs: &[4],
        ops: &[
            chainrule::graph::OpSpec::Dense {
                layer: "hidden",
                input: 0,
                output: 1,
                bias: true,
            },
            chainrule::graph::OpSpec::Activation {
                function: chainrule::graph::ActivationSpec::Tanh,
                input: 1,
                output: 2,
            },
            chainrule::graph::OpSpec::Dense {
                layer: "output",
                input: 2,
                output: 3,
                bias: true,
            },
            chainrule::graph::OpSpec::Activation {
                function: chainrule::graph::ActivationSpec::Sigmoid,
                input: 3,
                output: 4,
            },
        ],
    };
    fn input_gradients<const B: usize>(ws: &Self::Workspace<B>) -> &Matrix<f64, B, 3> {
        &ws.dx
    }
}

impl Network<3, 2> for Tiny {
    const LOSS_REDUCTION: LossReduction = LossReduction::MeanOverBatch;

    fn forward_with<'w, const B: usize>(
        &self,
        x: &Matrix<f64, B, 3>,
        ws: &'w mut TinyWorkspace<B>,
    ) -> &'w Matrix<f64, B, 2> {
        self.forward_logits(x, ws);
        activate_into::<chainrule::activations::Sigmoid, f64, B, 2>(&ws.z2, &mut ws.a2);
        &ws.a2
    }

    fn loss_with<const B: usize, Y: Targets<f64, B, 2> + ?Sized>(
        &self,
        x: &Matrix<f64, B, 3>,
        y: &Y,
        ws: &mut TinyWorkspace<B>,
    ) -> f64 {
        self.forward_logits(x, ws);
        losses::sigmoid_binary_cross_entropy(&ws.z2, y, &mut ws.a2, None)
    }

    fn backward<const B: usize, Y: Targets<f64, B, 2> + ?Sized>(
        &self,
        x: &Matrix<f64, B, 3>,
        y: &Y,
        grads: &mut TinyGrads,
        ws: &mut TinyWorkspace<B>,
    ) -> f64 {
        self.forward_logits(x, ws);
        let loss = losses::sigmoid_binary_cross_entropy(&ws.z2, y, &mut ws.a2, Some(&mut ws.dz2));
        if self.bug == Bug::NoMean {
            ws.dz2.scale_in_place((B * 2) as f64);
        }
        rules::rule5_weight_grad_into(&ws.dz2, &ws.a1, &mut grads.output.weight);
        rules::bias_grad_into(&ws.dz2, &mut grads.output.bias);
        rules::rule6_input_grad_into(&ws.dz2, &self.output.weight, &mut ws.da1);
        if self.bug == Bug::TanhDerivativeOfZ {
            // f′ evaluated with z in place of a.
            activation_backward_into::<Tanh, f64, B, 4>(&ws.da1, &ws.z1, &ws.z1, &mut ws.dz1);
        } else {
            activation_backward_into::<Tanh, f64, B, 4>(&ws.da1, &ws.z1, &ws.a1, &mut ws.dz1);
        }
        rules::rule5_weight_grad_into(&ws.dz1, x, &mut grads.hidden.weight);
        if self.bug == Bug::NoHiddenBias {
            grads.hidden.bias.fill(0.0);
        } else {
            ops::column_sums_into(&ws.dz1, &mut grads.hidden.bias);
        }
        if self.bug == Bug::OneEntry {
            grads.output.weight[(1, 2)] += 1e-3;
        }
        loss
    }
    fn backward_with_input_grad<'w, const B: usize, Y: Targets<f64, B, 2> + ?Sized>(
        &self,
        x: &Matrix<f64, B, 3>,
        y: &Y,
        grads: &mut TinyGrads,
        ws: &'w mut TinyWorkspace<B>,
    ) -> (f64, &'w Matrix<f64, B, 3>) {
        let loss = self.backward(x, y, grads, ws);
        rules::rule6_input_grad_into(&ws.dz1, &self.hidden.weight, &mut ws.dx);
        (loss, &ws.dx)
    }
}

fn batch() -> (Matrix<f64, 5, 3>, Matrix<f64, 5, 2>) {
    let x = Matrix::from_rows([
        [0.5, -1.0, 2.0],
        [1.5, 0.2, -0.3],
        [-0.8, 0.9, 0.1],
        [0.0, -0.4, 1.1],
        [2.0, 1.0, -1.5],
    ]);
    let y = Matrix::from_rows([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]]);
    (x, y)
}

fn tiny(bug: Bug) -> Tiny {
    Tiny {
        bug,
        ..Tiny::init(7)
    }
}

#[test]
fn check_network_passes_a_correct_backward_pass() {
    let (x, y) = batch();
    let report = gradcheck::check_network(&tiny(Bug::None), &x, &y);
    assert_eq!(report.entries_checked, <Tiny as Parameters>::SCALARS);
    assert!(report.passes(gradcheck::DEFAULT_TOLERANCE), "{report}");
    assert!(report.passes(1e-7), "{report}");
}

#[test]
fn check_network_passes_with_class_labels_and_one_row() {
    let x = Matrix::<f64, 1, 3>::from_rows([[0.3, -0.7, 1.2]]);
    let labels = ClassLabels::<1, 2>::new([1]).expect("label below 2");
    let report = gradcheck::check_network(&tiny(Bug::None), &x, &labels);
    assert!(report.passes(1e-7), "{report}");
}

#[test]
fn check_network_catches_a_missing_mean() {
    let (x, y) = batch();
    let report = gradcheck::check_network(&tiny(Bug::NoMean), &x, &y);
    // Every gradient is B·N = 10 times too large: relative error 9/10.
    assert!((report.max_relative_error - 0.9).abs() < 1e-6, "{report}");
}

#[test]
fn check_network_catches_a_missing_bias_gradient() {
    let (x, y) = batch();
    let report = gradcheck::check_network(&tiny(Bug::NoHiddenBias), &x, &y);
    assert!(!report.passes(1e-2), "{report}");
    assert_eq!(report.worst.expect("checked").tensor, "hidden.bias");
}

#[test]
fn check_network_catches_a_wrong_activation_derivative() {
    let (x, y) = batch();
    let report = gradcheck::check_network(&tiny(Bug::TanhDerivativeOfZ), &x, &y);
    assert!(!report.passes(1e-2), "{report}");
    let worst = report.worst.expect("checked");
    assert!(worst.tensor.starts_with("hidden."), "{worst}");
}

#[test]
fn check_network_locates_a_single_wrong_entry() {
    let (x, y) = batch();
    let report = gradcheck::check_network(&tiny(Bug::OneEntry), &x, &y);
    assert!(!report.passes(gradcheck::DEFAULT_TOLERANCE), "{report}");
    let worst = report.worst.expect("checked");
    assert_eq!(worst.tensor, "output.weight");
    assert_eq!(worst.position, (1, 2));
    assert_eq!(worst.index, 4 + 2);
    assert!(
        (worst.analytic - worst.numeric - 1e-3).abs() < 1e-8,
        "{worst}"
    );
}

#[test]
fn check_network_leaves_the_network_unchanged() {
    let (x, y) = batch();
    let net = tiny(Bug::None);
    let before = net.clone();
    let _ = gradcheck::check_network(&net, &x, &y);
    assert_eq!(net.hidden, before.hidden);
    assert_eq!(net.output, before.output);
}

// ---------------------------------------------------------------------------
// check_network() on networks generated by network! (DESIGN.md §1's three
// worked networks, small, and every activation and loss)
// ---------------------------------------------------------------------------

mod generated {
    use chainrule::gradcheck;
    use chainrule::prelude::*;

    network! {
        /// Network I: scalar x → scalar hidden → scalar output, regression.
        pub struct ScalarRegression {
            hidden: Dense<1, 1> => tanh,
            output: Dense<1, 1>,
            loss: sse,
        }
    }

    network! {
        /// Network II: vector → hidden vector → one sigmoid output, BCE.
        pub struct Binary {
            hidden: Dense<4, 6> => relu,
            output: Dense<6, 1> => sigmoid,
            loss: binary_cross_entropy,
        }
    }

    network! {
        /// Network III, small: a batch, a hidden layer, softmax, CE.
        pub struct Classifier {
            hidden: Dense<6, 8> => leaky_relu,
            output: Dense<8, 5> => softmax,
            loss: cross_entropy,
        }
    }

    network! {
        /// Two hidden layers, mean squared error, a layer without bias.
        pub struct Deep {
            first: Dense<3, 4> => sigmoid,
            second: DenseNoBias<4, 4> => tanh,
            output: Dense<4, 2>,
            loss: mse,
        }
    }

    network! {
        /// Seventeen layers: more fields than the constructors write one by
        /// one (they make the fields of each type together, then name them).
        pub struct Tall {
            l1: Dense<3, 4> => tanh,
            l2: Dense<4, 4> => sigmoid,
            l3: DenseNoBias<4, 5> => tanh,
            l4: Dense<5, 4> => tanh,
            l5: Dense<4, 4> => sigmoid,
            l6: Dense<4, 4> => tanh,
            l7: Dense<4, 4> => sigmoid,
            l8: Dense<4, 4> => tanh,
            l9: Dense<4, 4> => sigmoid,
            l10: Dense<4, 4> => tanh,
            l11: Dense<4, 4> => sigmoid,
            l12: Dense<4, 4> => tanh,
            l13: Dense<4, 4> => sigmoid,
            l14: Dense<4, 4> => tanh,
            l15: Dense<4, 4> => sigmoid,
            l16: Dense<4, 4> => tanh,
            l17: Dense<4, 2>,
            loss: mse,
        }
    }

    fn inputs<const B: usize, const N: usize>(seed: u64) -> Matrix<f64, B, N> {
        // Away from zero so that no relu input sits at the kink.
        Matrix::from_fn(|i, j| {
            let k = (i * N + j) as u64 * 7 + seed * 13;
            ((k % 17) as f64 - 8.3) / 5.0
        })
    }

    #[test]
    fn network_one_scalar_regression() {
        let net = ScalarRegression::<f64>::init(3);
        let x = Matrix::<f64, 3, 1>::from_rows([[0.5], [-1.0], [2.0]]);
        let y = Matrix::<f64, 3, 1>::from_rows([[1.0], [0.0], [-0.5]]);
        let report = gradcheck::check_network(&net, &x, &y);
        assert_eq!(report.entries_checked, 4);
        assert!(report.passes(1e-7), "{report}");
    }

    #[test]
    fn network_two_binary_classifier() {
        let net = Binary::<f64>::init(4);
        let x = inputs::<5, 4>(1);
        let y = Matrix::<f64, 5, 1>::from_rows([[1.0], [0.0], [0.0], [1.0], [1.0]]);
        let report = gradcheck::check_network(&net, &x, &y);
        assert_eq!(report.entries_checked, 4 * 6 + 6 + 6 + 1);
        assert!(report.passes(1e-6), "{report}");
        let one = inputs::<1, 4>(2);
        let label = Matrix::<f64, 1, 1>::from_rows([[0.0]]);
        let report = gradcheck::check_network(&net, &one, &label);
        assert!(report.passes(1e-6), "{report}");
    }

    #[test]
    fn network_three_softmax_classifier() {
        let net = Classifier::<f64>::init(5);
        let x = inputs::<4, 6>(3);
        let labels = ClassLabels::<4, 5>::new([0, 4, 2, 2]).expect("labels below 5");
        let report = gradcheck::check_network(&net, &x, &labels);
        assert_eq!(report.entries_checked, 6 * 8 + 8 + 8 * 5 + 5);
        assert!(report.passes(1e-6), "{report}");
        let one_hot: Matrix<f64, 4, 5> = labels.to_one_hot();
        let report = gradcheck::check_network(&net, &x, &one_hot);
        assert!(report.passes(1e-6), "{report}");
    }

    #[test]
    fn tall_network_built_type_by_type() {
        // Every parameter and buffer starts at zero, each named buffer has
        // its own shape and storage, and the gradient is right.
        let zeros = Tall::<f64>::zeros();
        let mut entries = 0;
        zeros.visit(&mut |_, values| {
            entries += values.len();
            assert!(values.iter().all(|&v| v == 0.0));
        });
        assert_eq!(
            entries,
            3 * 4 + 4 + 4 * 5 + 5 * 4 + 4 + 12 * (4 * 4 + 4) + 4 * 4 + 4 + 4 * 2 + 2
        );
        let net = Tall::<f64>::init(8);
        let mut grads = net.gradients();
        grads.visit(&mut |_, values| assert!(values.iter().all(|&v| v == 0.0)));
        let mut ws = net.workspace::<3>();
        let z3: &Matrix<f64, 3, 5> = &ws.z3;
        let z17: &Matrix<f64, 3, 2> = &ws.z17;
        assert!(z3
            .as_slice()
            .iter()
            .chain(z17.as_slice())
            .all(|&v| v == 0.0));
        let x = inputs::<3, 3>(6);
        let y = inputs::<3, 2>(7);
        net.backward(&x, &y, &mut grads, &mut ws);
        // Each layer's values in its own buffer: z of a layer is its
        // input's product with its weights, entry by entry.
        for (z, input, layer) in [(&ws.z5, &ws.a4, &net.l5), (&ws.z6, &ws.a5, &net.l6)] {
            for b in 0..3 {
                for i in 0..4 {
                    let by_hand = layer.bias[(0, i)]
                        + (0..4)
                            .map(|j| input[(b, j)] * layer.weight[(i, j)])
                            .sum::<f64>();
                    assert!((z[(b, i)] - by_hand).abs() < 1e-12);
                }
            }
        }
        let report = gradcheck::check_network(&net, &x, &y);
        assert_eq!(report.entries_checked, entries);
        assert!(report.passes(1e-6), "{report}");
    }

    #[test]
    fn deeper_network_with_mse_and_no_bias() {
        let net = Deep::<f64>::init(6);
        let x = inputs::<3, 3>(4);
        let y = inputs::<3, 2>(5);
        let report = gradcheck::check_network(&net, &x, &y);
        assert_eq!(report.entries_checked, 3 * 4 + 4 + 4 * 4 + 4 * 2 + 2);
        assert!(report.passes(1e-6), "{report}");
    }
}
