//! Losses: hand-computed values, gradients against central finite
//! differences in f64 (dense and class-label targets), one-hot = class
//! indices, the fused forms' A − Y, stability at extreme logits, NaN.

use chainrule::activations::{activate_into, softmax_backward_into, softmax_rows, Sigmoid};
use chainrule::gradcheck;
use chainrule::losses::{
    binary_cross_entropy, cross_entropy, mse, sigmoid_binary_cross_entropy, softmax_cross_entropy,
    sse,
};
use chainrule::{ClassLabels, Matrix, Targets};

const B: usize = 3;
const N: usize = 4;

/// A loss on a prediction `p` (probabilities or logits), as a function of
/// `p` only, with its gradient: the six losses behind one signature.
type LossFn<Y> = fn(&Matrix<f64, B, N>, &Y, Option<&mut Matrix<f64, B, N>>) -> f64;

fn sigmoid_bce<Y: Targets<f64, B, N> + ?Sized>(
    z: &Matrix<f64, B, N>,
    y: &Y,
    g: Option<&mut Matrix<f64, B, N>>,
) -> f64 {
    let mut a = Matrix::zeros();
    sigmoid_binary_cross_entropy(z, y, &mut a, g)
}

fn softmax_ce<Y: Targets<f64, B, N> + ?Sized>(
    z: &Matrix<f64, B, N>,
    y: &Y,
    g: Option<&mut Matrix<f64, B, N>>,
) -> f64 {
    let mut a = Matrix::zeros();
    softmax_cross_entropy(z, y, &mut a, g)
}

/// Every loss with a prediction it accepts: probabilities inside (0, 1) for
/// the ones on probabilities, logits for the fused ones.
fn all_losses<Y: Targets<f64, B, N> + ?Sized>() -> Vec<(&'static str, LossFn<Y>, Matrix<f64, B, N>)>
{
    let logits = Matrix::from_rows([
        [0.5, -1.2, 2.0, 0.1],
        [-0.3, 0.8, -2.2, 1.4],
        [1.1, 0.0, -0.6, -1.9],
    ]);
    let probs = logits.map(|z| 0.1 + 0.8 * chainrule::activations::sigmoid(z));
    let rows = softmax_rows(&logits);
    vec![
        ("sse", sse::<f64, Y, B, N>, logits.clone()),
        ("mse", mse::<f64, Y, B, N>, logits.clone()),
        (
            "binary_cross_entropy",
            binary_cross_entropy::<f64, Y, B, N>,
            probs,
        ),
        (
            "sigmoid_binary_cross_entropy",
            sigmoid_bce::<Y>,
            logits.clone(),
        ),
        ("cross_entropy", cross_entropy::<f64, Y, B, N>, rows),
        ("softmax_cross_entropy", softmax_ce::<Y>, logits),
    ]
}

fn labels() -> ClassLabels<B, N> {
    ClassLabels::new([2, 0, 3]).expect("labels below 4")
}

fn check_gradients<Y: Targets<f64, B, N> + ?Sized>(y: &Y, what: &str) {
    for (name, loss, p) in all_losses::<Y>() {
        let mut grad = Matrix::filled(f64::NAN);
        let value = loss(&p, y, Some(&mut grad));
        assert_eq!(
            value,
            loss(&p, y, None),
            "{name}: the value does not depend on the gradient"
        );
        let report = gradcheck::check(|p| loss(p, y, None), &p, &grad);
        // Truncation error grows as y/a⁴ for cross-entropy on small
        // probabilities (a ≈ 0.02 here): about 1e-7, well below any bug.
        assert!(report.passes(1e-6), "{name}, {what}: {report}");
    }
}

#[test]
fn gradients_match_finite_differences_for_dense_targets() {
    // Regression-like values, also outside [0, 1].
    check_gradients(
        &Matrix::<f64, B, N>::from_rows([
            [0.0, 1.0, 0.5, -0.25],
            [2.0, 0.0, 0.0, 1.0],
            [0.3, 0.3, 0.2, 0.2],
        ]),
        "dense",
    );
    // Soft probabilities in [0, 1] (the binary cross-entropies' domain).
    check_gradients(
        &Matrix::<f64, B, N>::from_rows([
            [0.0, 1.0, 0.5, 0.25],
            [0.9, 0.0, 0.1, 1.0],
            [0.3, 0.3, 0.2, 0.2],
        ]),
        "soft",
    );
}

#[test]
fn gradients_match_finite_differences_for_one_hot_and_class_labels() {
    check_gradients(&labels(), "class labels");
    check_gradients(&labels().to_one_hot::<f64>(), "one-hot");
}

#[test]
fn class_indices_and_one_hot_rows_give_the_same_values_and_gradients() {
    let l = labels();
    let one_hot: Matrix<f64, B, N> = l.to_one_hot();
    let by_label = all_losses::<ClassLabels<B, N>>();
    let by_row = all_losses::<Matrix<f64, B, N>>();
    for ((name, loss_l, p), (_, loss_r, _)) in by_label.into_iter().zip(by_row) {
        let (mut g_l, mut g_r) = (Matrix::zeros(), Matrix::zeros());
        let v_l = loss_l(&p, &l, Some(&mut g_l));
        let v_r = loss_r(&p, &one_hot, Some(&mut g_r));
        assert!(
            (v_l - v_r).abs() <= 1e-15 * v_r.abs(),
            "{name}: {v_l} vs {v_r}"
        );
        assert!(g_l.approx_eq(&g_r, 1e-15), "{name}:\n{g_l}\n{g_r}");
    }
}

#[test]
fn values_by_hand() {
    // sse: A − Y = (1, 0, −2, 3) ⇒ 1 + 0 + 4 + 9 = 14; gradient 2(A − Y).
    let a = Matrix::<f64, 2, 2>::from_rows([[1.0, 2.0], [3.0, 4.0]]);
    let y = Matrix::<f64, 2, 2>::from_rows([[0.0, 2.0], [5.0, 1.0]]);
    let mut g = Matrix::zeros();
    assert_eq!(sse(&a, &y, Some(&mut g)), 14.0);
    assert_eq!(g, Matrix::from_rows([[2.0, 0.0], [-4.0, 6.0]]));
    // mse: 14 / (B·N = 4) = 3.5; gradient 2(A − Y)/4.
    assert_eq!(mse(&a, &y, Some(&mut g)), 3.5);
    assert_eq!(g, Matrix::from_rows([[0.5, 0.0], [-1.0, 1.5]]));

    // binary cross-entropy: a = (0.8, 0.4), y = (1, 0), B·N = 2:
    // −[ln 0.8 + ln 0.6]/2 = (0.2231435513 + 0.5108256238)/2 = 0.3669845875;
    // gradient (a − y)/(a(1 − a))/2 = (−0.2/0.16/2, 0.4/0.24/2) = (−0.625, 0.8333…).
    let a = Matrix::<f64, 1, 2>::from_rows([[0.8, 0.4]]);
    let y = Matrix::<f64, 1, 2>::from_rows([[1.0, 0.0]]);
    let mut g = Matrix::zeros();
    let l = binary_cross_entropy(&a, &y, Some(&mut g));
    assert!((l - 0.366_984_587_5).abs() < 1e-10, "{l}");
    assert!(
        g.approx_eq(&Matrix::from_rows([[-0.625, 5.0 / 6.0]]), 1e-14),
        "{g}"
    );

    // sigmoid + BCE on logits z = (0, ln 3) ⇒ a = (½, ¾), y = (1, 0):
    // −[ln ½ + ln ¼]/2 = (ln 2 + 2 ln 2)/2 = 1.5 ln 2; gradient (a − y)/2 = (−¼, ⅜).
    let z = Matrix::<f64, 1, 2>::from_rows([[0.0, 3f64.ln()]]);
    let mut a = Matrix::zeros();
    let l = sigmoid_binary_cross_entropy(&z, &y, &mut a, Some(&mut g));
    assert!((l - 1.5 * 2f64.ln()).abs() < 1e-15, "{l}");
    assert!(a.approx_eq(&Matrix::from_rows([[0.5, 0.75]]), 1e-15));
    assert!(
        g.approx_eq(&Matrix::from_rows([[-0.25, 0.375]]), 1e-15),
        "{g}"
    );

    // cross-entropy: rows a = (¼, ¾), (½, ½), labels 1 and 0, B = 2:
    // −(ln ¾ + ln ½)/2 = (0.2876820725 + 0.6931471806)/2 = 0.4904146265;
    // gradient −y/a/B = [[0, −(4/3)/2], [−2/2, 0]].
    let a = Matrix::<f64, 2, 2>::from_rows([[0.25, 0.75], [0.5, 0.5]]);
    let labels = ClassLabels::<2, 2>::new([1, 0]).expect("labels below 2");
    let mut g = Matrix::zeros();
    let l = cross_entropy(&a, &labels, Some(&mut g));
    assert!((l - 0.490_414_626_5).abs() < 1e-10, "{l}");
    assert!(
        g.approx_eq(&Matrix::from_rows([[0.0, -2.0 / 3.0], [-1.0, 0.0]]), 1e-15),
        "{g}"
    );

    // softmax + cross-entropy on logits (0, ln 3), (0, 0): the same rows and
    // loss; gradient (A − Y)/B = [[¼ − 0, ¾ − 1], [½ − 1, ½ − 0]]/2.
    let z = Matrix::<f64, 2, 2>::from_rows([[0.0, 3f64.ln()], [0.0, 0.0]]);
    let mut s = Matrix::zeros();
    let l = softmax_cross_entropy(&z, &labels, &mut s, Some(&mut g));
    assert!((l - 0.490_414_626_5).abs() < 1e-10, "{l}");
    assert!(s.approx_eq(&a, 1e-15));
    assert!(
        g.approx_eq(&Matrix::from_rows([[0.125, -0.125], [-0.25, 0.25]]), 1e-15),
        "{g}"
    );
}

#[test]
fn fused_softmax_cross_entropy_gives_a_minus_y_over_b() {
    let (_, _, z) = all_losses::<ClassLabels<B, N>>().pop().expect("six losses");
    let y: Matrix<f64, B, N> = labels().to_one_hot();
    let mut a = Matrix::zeros();
    let mut g = Matrix::zeros();
    let fused = softmax_cross_entropy(&z, &y, &mut a, Some(&mut g));
    assert_eq!(a, softmax_rows(&z));
    let expected = (&a - &y).scale(1.0 / B as f64);
    assert!(g.approx_eq(&expected, 1e-15), "{g}\n{expected}");
    // The same as cross-entropy after softmax, by the chain rule.
    let mut dl_da = Matrix::zeros();
    let separate = cross_entropy(&a, &y, Some(&mut dl_da));
    assert!((fused - separate).abs() < 1e-14);
    let mut chained = Matrix::zeros();
    softmax_backward_into(&a, &dl_da, &mut chained);
    assert!(chained.approx_eq(&g, 1e-14), "{chained}\n{g}");
}

#[test]
fn fused_sigmoid_binary_cross_entropy_gives_a_minus_y_over_b_n() {
    let z = all_losses::<Matrix<f64, B, N>>()[3].2.clone();
    let y = Matrix::<f64, B, N>::from_fn(|i, j| ((i + j) % 2) as f64);
    let mut a = Matrix::zeros();
    let mut g = Matrix::zeros();
    let fused = sigmoid_binary_cross_entropy(&z, &y, &mut a, Some(&mut g));
    let mut expected_a = Matrix::zeros();
    activate_into::<Sigmoid, f64, B, N>(&z, &mut expected_a);
    assert_eq!(a, expected_a);
    let expected = (&a - &y).scale(1.0 / (B * N) as f64);
    assert!(g.approx_eq(&expected, 1e-15), "{g}\n{expected}");
    // The same as binary cross-entropy after the sigmoid, by the chain rule:
    // ∂l/∂z = ∂l/∂a ⊗ a(1 − a).
    let mut dl_da = Matrix::zeros();
    let separate = binary_cross_entropy(&a, &y, Some(&mut dl_da));
    assert!((fused - separate).abs() < 1e-14);
    let chained = dl_da.zip_map(&a, |g, a| g * a * (1.0 - a));
    assert!(chained.approx_eq(&g, 1e-14), "{chained}\n{g}");
}

#[test]
fn squared_error_is_a_multiple_of_a_minus_y() {
    let a = Matrix::<f64, B, N>::from_fn(|i, j| (i * N + j) as f64 * 0.3 - 1.0);
    let y = Matrix::<f64, B, N>::from_fn(|i, j| (i as f64) - (j as f64));
    let mut g = Matrix::zeros();
    let _ = sse(&a, &y, Some(&mut g));
    assert!(g.approx_eq(&(&a - &y).scale(2.0), 1e-15));
    let _ = mse(&a, &y, Some(&mut g));
    assert!(g.approx_eq(&(&a - &y).scale(2.0 / (B * N) as f64), 1e-15));
}

#[test]
fn softmax_cross_entropy_is_finite_for_logits_of_a_thousand() {
    // lse(1000, −1000, 0) = 1000 (+ e^−1000, lost); loss of label c = 1000 − z_c.
    let z = Matrix::<f64, 3, 3>::from_rows([
        [1000.0, -1000.0, 0.0],
        [1000.0, -1000.0, 0.0],
        [-1000.0, -1000.0, 1000.0],
    ]);
    let labels = ClassLabels::<3, 3>::new([0, 1, 0]).expect("labels below 3");
    let mut a = Matrix::zeros();
    let mut g = Matrix::zeros();
    let l = softmax_cross_entropy(&z, &labels, &mut a, Some(&mut g));
    // (0 + 2000 + 2000) / 3
    assert!((l - 4000.0 / 3.0).abs() < 1e-9, "{l}");
    assert!(a.is_finite() && g.is_finite());
    let y: Matrix<f64, 3, 3> = labels.to_one_hot();
    assert!(g.approx_eq(&(&a - &y).scale(1.0 / 3.0), 1e-15));
    // One-hot targets take the other path; f32 too.
    let l_dense = softmax_cross_entropy(&z, &y, &mut a, Some(&mut g));
    assert!((l_dense - l).abs() < 1e-9 && g.is_finite());
    let z32 = z.cast::<f32>();
    let mut a32 = Matrix::zeros();
    let mut g32 = Matrix::zeros();
    let l32 = softmax_cross_entropy(&z32, &labels, &mut a32, Some(&mut g32));
    assert!((l32 - 4000.0 / 3.0).abs() < 1e-3, "{l32}");
    assert!(a32.is_finite() && g32.is_finite());
}

#[test]
fn sigmoid_binary_cross_entropy_is_finite_for_logits_of_a_hundred() {
    // Per entry max(z, 0) − z·y + ln(1 + e^−|z|):
    //   z = 100, y = 0: 100;   z = −100, y = 1: 100;
    //   z = 100, y = 1: e^−100; z = −100, y = 0: e^−100.
    let z = Matrix::<f64, 1, 4>::from_rows([[100.0, -100.0, 100.0, -100.0]]);
    let y = Matrix::<f64, 1, 4>::from_rows([[0.0, 1.0, 1.0, 0.0]]);
    let mut a = Matrix::zeros();
    let mut g = Matrix::zeros();
    let l = sigmoid_binary_cross_entropy(&z, &y, &mut a, Some(&mut g));
    assert!((l - 200.0 / 4.0).abs() < 1e-12, "{l}");
    assert!(a.is_finite() && g.is_finite());
    // (a − y)/4 = (¼, −¼, ~0, ~0)
    assert!(
        g.approx_eq(&Matrix::from_rows([[0.25, -0.25, 0.0, 0.0]]), 1e-15),
        "{g}"
    );
    let mut a32 = Matrix::zeros();
    let mut g32 = Matrix::zeros();
    let l32 =
        sigmoid_binary_cross_entropy(&z.cast::<f32>(), &y.cast::<f32>(), &mut a32, Some(&mut g32));
    assert!(
        (l32 - 50.0).abs() < 1e-4 && a32.is_finite() && g32.is_finite(),
        "{l32}"
    );
    // Even ±1000 stays finite.
    let l = sigmoid_binary_cross_entropy(&z.scale(10.0), &y, &mut a, Some(&mut g));
    assert!((l - 500.0).abs() < 1e-9 && g.is_finite(), "{l}");
}

#[test]
fn probability_losses_clamp_saturated_inputs() {
    // a = 0 or 1 exactly would give ln 0; the clamp keeps the loss finite
    // (and large) instead.
    let a = Matrix::<f64, 1, 2>::from_rows([[0.0, 1.0]]);
    let y = Matrix::<f64, 1, 2>::from_rows([[1.0, 0.0]]);
    let mut g = Matrix::zeros();
    let l = binary_cross_entropy(&a, &y, Some(&mut g));
    assert!(l.is_finite() && l > 30.0, "{l}");
    assert!(g.is_finite());
    let labels = ClassLabels::<1, 2>::new([0]).expect("label below 2");
    let l = cross_entropy(&a, &labels, Some(&mut g));
    assert!(l.is_finite() && l > 30.0, "{l}");
    assert!(g.is_finite());
}

#[test]
fn nan_input_propagates_without_panicking() {
    let labels = labels();
    for (name, loss, mut p) in all_losses::<ClassLabels<B, N>>() {
        p[(1, 2)] = f64::NAN;
        let mut g = Matrix::zeros();
        let l = loss(&p, &labels, Some(&mut g));
        assert!(l.is_nan(), "{name} gave {l}");
        assert!(!g.is_finite(), "{name}: the gradient hides the NaN");
    }
    // A NaN in the targets too.
    let mut y = labels.to_one_hot::<f64>();
    y[(0, 0)] = f64::NAN;
    for (name, loss, p) in all_losses::<Matrix<f64, B, N>>() {
        let l = loss(&p, &y, None);
        assert!(l.is_nan(), "{name} gave {l}");
    }
}

/// f32 against f64 on the same (f32-representable) logits, over more rows
/// than one block of the slice kernels: the loss to 1e-6 relative, each
/// gradient entry to 3e-6/B (the kernels' error, amplified by the rounding
/// of z − max in f32).
fn softmax_cross_entropy_f32_matches_f64<const B: usize, const N: usize>() {
    let z =
        Matrix::<f64, B, N>::from_fn(|i, j| ((i * N + j) as f64 * 0.61).sin() * 8.0).cast::<f32>();
    let labels = ClassLabels::<B, N>::from_slice(&(0..B).map(|i| (i * 7) % N).collect::<Vec<_>>())
        .expect("labels below N");
    let one_hot: Matrix<f64, B, N> = labels.to_one_hot();
    let (mut a, mut g, mut a32, mut g32) = (
        Matrix::zeros(),
        Matrix::zeros(),
        Matrix::zeros(),
        Matrix::zeros(),
    );
    let l = softmax_cross_entropy(&z.cast::<f64>(), &labels, &mut a, Some(&mut g));
    for l32 in [
        softmax_cross_entropy(&z, &labels, &mut a32, Some(&mut g32)),
        softmax_cross_entropy(&z, &one_hot.cast::<f32>(), &mut a32, Some(&mut g32)),
    ] {
        assert!(
            (f64::from(l32) - l).abs() <= 1e-6 * l,
            "{B}×{N}: {l32} vs {l}"
        );
        assert!(a32.cast::<f64>().approx_eq(&a, 3e-6), "{B}×{N}");
        assert!(g32.cast::<f64>().approx_eq(&g, 3e-6 / B as f64), "{B}×{N}");
    }
}

#[test]
fn f32_softmax_cross_entropy_matches_f64() {
    softmax_cross_entropy_f32_matches_f64::<37, 10>();
    softmax_cross_entropy_f32_matches_f64::<16, 3>();
    softmax_cross_entropy_f32_matches_f64::<3, 1>();
}

/// The binary cross-entropies in f32 against f64 on the same inputs, over
/// more entries than one chunk of the slice kernels (64): the loss to 1e-6
/// relative, `a` and the gradient to the kernels' accuracy; the fused form's
/// `a` is exactly what `Sigmoid` computes in f32.
fn binary_cross_entropies_f32_match_f64<const B: usize, const N: usize>() {
    let z =
        Matrix::<f64, B, N>::from_fn(|i, j| ((i * N + j) as f64 * 0.83).sin() * 30.0).cast::<f32>();
    let y = Matrix::<f64, B, N>::from_fn(|i, j| [0.0, 1.0, 0.25][(i + 2 * j) % 3]);
    let y32 = y.cast::<f32>();
    let inv_bn = 1.0 / (B * N) as f64;

    let (mut a, mut g, mut a32, mut g32) = (
        Matrix::zeros(),
        Matrix::zeros(),
        Matrix::zeros(),
        Matrix::zeros(),
    );
    let l = sigmoid_binary_cross_entropy(&z.cast::<f64>(), &y, &mut a, Some(&mut g));
    let l32 = sigmoid_binary_cross_entropy(&z, &y32, &mut a32, Some(&mut g32));
    assert!(
        (f64::from(l32) - l).abs() <= 1e-6 * l,
        "{B}×{N}: {l32} vs {l}"
    );
    assert!(a32.cast::<f64>().approx_eq(&a, 4e-7), "{B}×{N}");
    assert!(g32.cast::<f64>().approx_eq(&g, 4e-7 * inv_bn), "{B}×{N}");
    let mut sigmoid32 = Matrix::zeros();
    activate_into::<Sigmoid, f32, B, N>(&z, &mut sigmoid32);
    assert_eq!(a32, sigmoid32);

    // On probabilities, away from the clamp (the same f32 values in both).
    let p32 = a.map(|a| 0.05 + 0.9 * a).cast::<f32>();
    let l = binary_cross_entropy(&p32.cast::<f64>(), &y, Some(&mut g));
    let l32 = binary_cross_entropy(&p32, &y32, Some(&mut g32));
    assert!(
        (f64::from(l32) - l).abs() <= 1e-6 * l,
        "{B}×{N}: {l32} vs {l}"
    );
    // The gradient takes no kernel: a few roundings of f32.
    for (&g32, &g) in g32.as_slice().iter().zip(g.as_slice()) {
        assert!(
            (f64::from(g32) - g).abs() <= 1e-6 * g.abs(),
            "{B}×{N}: {g32} vs {g}"
        );
    }
}

#[test]
fn f32_binary_cross_entropies_match_f64() {
    binary_cross_entropies_f32_match_f64::<37, 3>();
    binary_cross_entropies_f32_match_f64::<4, 1>();
    binary_cross_entropies_f32_match_f64::<64, 1>();
}
