//! Activations: derivatives against central finite differences, hand values,
//! stability for large inputs, softmax and log-softmax, NaN propagation.

use chainrule::activations::{
    activate_into, activation_backward_into, log_softmax_rows_into, log_sum_exp, sigmoid,
    softmax_backward_into, softmax_rows, softmax_rows_into, Activation, Identity, LeakyRelu, Relu,
    Sigmoid, Tanh, LEAKY_RELU_SLOPE,
};
use chainrule::jacobian::{self, numerical_jacobian};
use chainrule::{gradcheck, Matrix};

/// Points away from 0 (relu's kink), negative and positive, small and large.
const POINTS: [f64; 12] = [
    -8.0, -3.1, -1.0, -0.5, -0.01, 0.02, 0.3, 0.999, 1.7, 2.5, 6.0, 12.0,
];

fn derivative_matches_finite_differences<F: Activation>() {
    for &z in &POINTS {
        let h = 1e-6;
        let numeric = (F::apply(z + h) - F::apply(z - h)) / (2.0 * h);
        let analytic = F::derivative(z, F::apply(z));
        let err = (analytic - numeric).abs() / analytic.abs().max(1e-3);
        assert!(
            err < 1e-7,
            "{}′({z}) = {analytic}, numeric {numeric}",
            F::NAME
        );
    }
}

#[test]
fn derivatives_match_finite_differences() {
    derivative_matches_finite_differences::<Identity>();
    derivative_matches_finite_differences::<Sigmoid>();
    derivative_matches_finite_differences::<Tanh>();
    derivative_matches_finite_differences::<Relu>();
    derivative_matches_finite_differences::<LeakyRelu>();
}

#[test]
fn values_by_hand() {
    // σ(0) = ½, σ(ln 3) = 3/4, σ(−ln 3) = 1/4.
    assert_eq!(Sigmoid::apply(0.0_f64), 0.5);
    assert!((Sigmoid::apply(3f64.ln()) - 0.75).abs() < 1e-15);
    assert!((Sigmoid::apply(-(3f64.ln())) - 0.25).abs() < 1e-15);
    // σ′(ln 3) = ¾·¼ = 3/16.
    assert!((Sigmoid::derivative(3f64.ln(), 0.75) - 3.0 / 16.0).abs() < 1e-15);
    // tanh(ln 2) = (2 − ½)/(2 + ½) = 3/5; tanh′ = 1 − 9/25 = 16/25.
    let t = Tanh::apply(2f64.ln());
    assert!((t - 0.6).abs() < 1e-15);
    assert!((Tanh::derivative(2f64.ln(), t) - 0.64).abs() < 1e-15);
    assert_eq!(Relu::apply(-2.5_f64), 0.0);
    assert_eq!(Relu::apply(2.5_f64), 2.5);
    assert_eq!(LeakyRelu::apply(-2.0_f64), -0.02);
    assert_eq!(LeakyRelu::apply(2.0_f64), 2.0);
    assert_eq!(Identity::apply(-7.25_f64), -7.25);
    assert_eq!(Identity::derivative(-7.25_f64, -7.25), 1.0);
}

#[test]
fn relu_derivative_at_zero_is_zero() {
    assert_eq!(Relu::derivative(0.0_f64, 0.0), 0.0);
    assert_eq!(Relu::derivative(-0.0_f64, 0.0), 0.0);
    assert_eq!(Relu::derivative(0.0_f32, 0.0), 0.0);
    assert_eq!(Relu::derivative(1e-300_f64, 1e-300), 1.0);
    assert_eq!(LeakyRelu::derivative(0.0_f64, 0.0), LEAKY_RELU_SLOPE);
    assert_eq!(LeakyRelu::derivative(-1.0_f64, -0.01), 0.01);
}

#[test]
fn sigmoid_is_stable_for_large_inputs() {
    for z in [1000.0_f64, 100.0, 40.0] {
        assert_eq!(sigmoid(z), 1.0);
        // σ(−z) = e^(−z)/(1 + e^(−z)) ≈ e^(−z), never NaN.
        let low = sigmoid(-z);
        assert!(low >= 0.0 && low.is_finite());
        assert!((low - (-z).exp()).abs() <= 1e-15 * (-z).exp().max(f64::MIN_POSITIVE));
    }
    assert_eq!(sigmoid(-1000.0_f64), 0.0);
    assert_eq!(sigmoid(1000.0_f32), 1.0);
    assert_eq!(sigmoid(-1000.0_f32), 0.0);
    assert_eq!(sigmoid(f64::INFINITY), 1.0);
    assert_eq!(sigmoid(f64::NEG_INFINITY), 0.0);
    assert!(Tanh::apply(1000.0_f64) == 1.0 && Tanh::apply(-1000.0_f64) == -1.0);
}

#[test]
fn f32_matches_f64() {
    fn case<F: Activation>() {
        for &z in &POINTS {
            let a64 = F::apply(z);
            let a32 = F::apply(z as f32);
            assert!(
                (a32 as f64 - a64).abs() <= 1e-6 * a64.abs().max(1.0),
                "{}",
                F::NAME
            );
            let d64 = F::derivative(z, a64);
            let d32 = F::derivative(z as f32, a32);
            // Absolute: sigmoid′ = a(1 − a) loses its relative precision in
            // f32 where a ≈ 1 (1 − a cancels), but not its absolute one.
            assert!((d32 as f64 - d64).abs() <= 1e-6, "{}′({z})", F::NAME);
        }
    }
    case::<Identity>();
    case::<Sigmoid>();
    case::<Tanh>();
    case::<Relu>();
    case::<LeakyRelu>();
}

#[test]
fn activate_and_backward_on_a_batch() {
    // l = Σ G ⊗ F(Z): ∂l/∂Z = G ⊗ F′(Z) (rule 7), checked numerically.
    fn case<F: Activation>() {
        let z = Matrix::<f64, 3, 4>::from_fn(|i, j| POINTS[i * 4 + j]);
        let g = Matrix::<f64, 3, 4>::from_fn(|i, j| (i as f64) - 0.7 * (j as f64) + 0.2);
        let mut a = Matrix::filled(f64::NAN);
        activate_into::<F, f64, 3, 4>(&z, &mut a);
        assert_eq!(a, z.map(F::apply));
        let mut dl_dz = Matrix::filled(f64::NAN);
        activation_backward_into::<F, f64, 3, 4>(&g, &z, &a, &mut dl_dz);
        let report = gradcheck::check(|z| g.hadamard(&z.map(F::apply)).sum(), &z, &dl_dz);
        assert!(report.passes(1e-7), "{}: {report}", F::NAME);
    }
    case::<Identity>();
    case::<Sigmoid>();
    case::<Tanh>();
    case::<Relu>();
    case::<LeakyRelu>();
}

#[test]
fn softmax_rows_sum_to_one() {
    let z = Matrix::<f64, 3, 4>::from_rows([
        [1.0, 2.0, 3.0, 4.0],
        [-5.0, 0.0, 5.0, 0.5],
        [0.0, 0.0, 0.0, 0.0],
    ]);
    let s = softmax_rows(&z);
    for (i, row) in s.rows().enumerate() {
        let total: f64 = row.iter().sum();
        assert!((total - 1.0).abs() < 1e-15, "row {i} sums to {total}");
        assert!(row.iter().all(|&p| p > 0.0 && p < 1.0));
    }
    // Equal logits: uniform.
    assert_eq!(s.row(2), &[0.25; 4]);
    // By hand: z = (0, ln 3) ⇒ s = (1/4, 3/4).
    let s = softmax_rows(&Matrix::<f64, 1, 2>::from_rows([[0.0, 3f64.ln()]]));
    assert!(s.approx_eq(&Matrix::from_rows([[0.25, 0.75]]), 1e-15));
}

#[test]
fn softmax_subtracts_the_row_maximum() {
    // Naively e^1000 overflows to ∞ and ∞/∞ is NaN. Shifting a row by a
    // constant does not change its softmax, so the result must equal the
    // softmax of the small logits.
    let small = Matrix::<f64, 2, 3>::from_rows([[0.0, -1.0, -2.0], [1.0, 0.5, -0.5]]);
    let shifted =
        Matrix::<f64, 2, 3>::from_rows([[1000.0, 999.0, 998.0], [-999.0, -999.5, -1000.5]]);
    let s = softmax_rows(&shifted);
    assert!(s.is_finite(), "{s}");
    assert!(s.approx_eq(&softmax_rows(&small), 1e-12), "{s}");
    // Logits ±1000 in one row: one class takes everything.
    let s = softmax_rows(&Matrix::<f64, 1, 3>::from_rows([[1000.0, -1000.0, 0.0]]));
    assert_eq!(s.row(0), &[1.0, 0.0, 0.0]);
    let s32 = softmax_rows(&Matrix::<f32, 1, 3>::from_rows([[1000.0, 999.0, -1000.0]]));
    assert!(s32.is_finite(), "{s32}");
    // By hand: (1, e^−1, 0) / (1 + e^−1).
    let e = (-1.0_f64).exp();
    assert!((s32[(0, 0)] as f64 - 1.0 / (1.0 + e)).abs() < 1e-6);
}

#[test]
fn softmax_into_overwrites() {
    let z = Matrix::<f64, 2, 3>::from_rows([[0.1, 0.2, 0.3], [3.0, 2.0, 1.0]]);
    let mut s = Matrix::filled(123.0);
    softmax_rows_into(&z, &mut s);
    assert_eq!(s, softmax_rows(&z));
}

#[test]
fn log_softmax_is_the_log_of_softmax_and_stays_finite() {
    let z = Matrix::<f64, 2, 4>::from_rows([[1.0, 2.0, 3.0, 4.0], [-2.0, 0.5, 0.0, 7.0]]);
    let mut log_s = Matrix::zeros();
    log_softmax_rows_into(&z, &mut log_s);
    assert!(log_s.approx_eq(&softmax_rows(&z).map(f64::ln), 1e-14));
    // ln softmax of (1000, −1000): (0, −2000), where ln(softmax) would be −∞.
    let big = Matrix::<f64, 1, 2>::from_rows([[1000.0, -1000.0]]);
    let mut log_s = Matrix::zeros();
    log_softmax_rows_into(&big, &mut log_s);
    assert_eq!(log_s, Matrix::from_rows([[0.0, -2000.0]]));
}

#[test]
fn log_sum_exp_by_hand() {
    // ln(e^0 + e^(ln 3)) = ln 4.
    assert!((log_sum_exp(&[0.0_f64, 3f64.ln()]) - 4f64.ln()).abs() < 1e-15);
    // ln(2·e^1000) = 1000 + ln 2, no overflow.
    assert!((log_sum_exp(&[1000.0_f64, 1000.0]) - (1000.0 + 2f64.ln())).abs() < 1e-12);
    assert_eq!(
        log_sum_exp(&[-1000.0_f64, 0.0, -2000.0]),
        (1.0 + (-1000.0_f64).exp()).ln()
    );
    assert_eq!(log_sum_exp::<f64>(&[]), f64::NEG_INFINITY);
    assert!(log_sum_exp(&[1.0, f64::NAN]).is_nan());
}

#[test]
fn softmax_backward_is_the_row_times_the_jacobian() {
    let z = Matrix::<f64, 3, 4>::from_rows([
        [0.5, -1.0, 2.0, 0.0],
        [3.0, 1.0, -2.0, 0.25],
        [1000.0, 999.0, 0.0, -1000.0],
    ]);
    let g = Matrix::<f64, 3, 4>::from_fn(|i, j| ((i * 4 + j) as f64).sin());
    let s = softmax_rows(&z);
    let mut dl_dz = Matrix::filled(f64::NAN);
    softmax_backward_into(&s, &g, &mut dl_dz);
    for i in 0..3 {
        let z_row = Matrix::<f64, 1, 4>::from_slice(z.row(i)).expect("4 entries");
        let g_row = Matrix::<f64, 1, 4>::from_slice(g.row(i)).expect("4 entries");
        // The Jacobian is symmetric, so the row g·J equals (J·gᵀ)ᵀ.
        let via_jacobian = g_row.matmul(&jacobian::softmax(&z_row));
        let got = Matrix::<f64, 1, 4>::from_slice(dl_dz.row(i)).expect("4 entries");
        assert!(got.approx_eq(&via_jacobian, 1e-14), "row {i}");
    }
    // And numerically, where the logits are moderate.
    let z = Matrix::<f64, 2, 4>::from_fn(|i, j| z[(i, j)]);
    let g = Matrix::<f64, 2, 4>::from_fn(|i, j| g[(i, j)]);
    let s = softmax_rows(&z);
    let mut dl_dz = Matrix::zeros();
    softmax_backward_into(&s, &g, &mut dl_dz);
    let report = gradcheck::check(|z| g.hadamard(&softmax_rows(z)).sum(), &z, &dl_dz);
    assert!(report.passes(1e-7), "{report}");
    let numeric: Matrix<f64, 4, 4> = numerical_jacobian(
        softmax_rows,
        &Matrix::<f64, 1, 4>::from_slice(z.row(0)).expect("4 entries"),
    );
    assert!(numeric.approx_eq(
        &jacobian::softmax(&Matrix::from_slice(z.row(0)).expect("4")),
        1e-8
    ));
}

#[test]
fn nan_propagates_without_panicking() {
    let nan = f64::NAN;
    assert!(Identity::apply(nan).is_nan());
    assert!(Sigmoid::apply(nan).is_nan());
    assert!(Tanh::apply(nan).is_nan());
    assert!(Relu::apply(nan).is_nan());
    assert!(LeakyRelu::apply(nan).is_nan());
    assert!(Relu::apply(f32::NAN).is_nan());
    // Softmax: the row with a NaN is NaN, the other rows are untouched.
    let z = Matrix::<f64, 2, 3>::from_rows([[1.0, nan, 0.0], [1.0, 2.0, 3.0]]);
    let s = softmax_rows(&z);
    assert!(s.row(0).iter().all(|p| p.is_nan()), "{s}");
    assert!(s.row(1).iter().all(|p| p.is_finite()));
    let mut log_s = Matrix::zeros();
    log_softmax_rows_into(&z, &mut log_s);
    assert!(log_s.row(0).iter().all(|p| p.is_nan()));
    // Backward: a NaN upstream gradient reaches ∂l/∂z.
    let g = Matrix::<f64, 2, 3>::from_rows([[nan, 0.0, 0.0], [0.0, 0.0, 0.0]]);
    let s = softmax_rows(&Matrix::<f64, 2, 3>::zeros());
    let mut out = Matrix::zeros();
    softmax_backward_into(&s, &g, &mut out);
    assert!(out.row(0).iter().all(|x| x.is_nan()));
    let mut out = Matrix::zeros();
    let z = Matrix::<f64, 2, 3>::filled(0.5);
    activation_backward_into::<Tanh, f64, 2, 3>(&g, &z, &z.map(f64::tanh), &mut out);
    assert!(out[(0, 0)].is_nan());
    // Infinity: relu passes it, sigmoid saturates, tanh saturates.
    assert_eq!(Relu::apply(f64::INFINITY), f64::INFINITY);
    assert_eq!(Tanh::apply(f64::INFINITY), 1.0);
}

/// The slice form (vectorized for f32 where a function has a kernel) agrees
/// with the scalar form: exactly in f64, within 4e-7 relative in f32
/// (the documented accuracy of the f32 kernels), over a sweep that crosses
/// every branch of the kernels.
fn slice_form_matches_scalar_form<F: Activation>() {
    let sweep: Vec<f64> = (0..4001).map(|i| -20.0 + i as f64 * 0.01).collect();
    let mut in_place = sweep.clone();
    F::apply_in_place(&mut in_place);
    for (&z, &a) in sweep.iter().zip(&in_place) {
        assert_eq!(a, F::apply(z), "{}({z}) in f64", F::NAME);
    }
    let sweep32: Vec<f32> = sweep.iter().map(|&z| z as f32).collect();
    let mut in_place32 = sweep32.clone();
    F::apply_in_place(&mut in_place32);
    for (&z, &a) in sweep32.iter().zip(&in_place32) {
        let exact = F::apply(f64::from(z));
        let err = (f64::from(a) - exact).abs() / exact.abs().max(f64::from(f32::MIN_POSITIVE));
        assert!(err < 4e-7, "{}({z}) = {a} in f32, exact {exact}", F::NAME);
    }
}

#[test]
fn slice_forms_match_scalar_forms() {
    slice_form_matches_scalar_form::<Identity>();
    slice_form_matches_scalar_form::<Sigmoid>();
    slice_form_matches_scalar_form::<Tanh>();
    slice_form_matches_scalar_form::<Relu>();
    slice_form_matches_scalar_form::<LeakyRelu>();
}

/// The softmax of one row as the per-entry loops compute it: the row
/// maximum, `e^(z − max)`, their sum in order, each times `1/sum`.
fn softmax_row_reference(row: &[f64]) -> (Vec<f64>, f64) {
    let max = row.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x));
    let exps: Vec<f64> = row.iter().map(|&z| (z - max).exp()).collect();
    let total = exps.iter().fold(0.0, |acc, &e| acc + e);
    let inv = 1.0 / total;
    (exps.iter().map(|e| e * inv).collect(), max + total.ln())
}

/// Softmax and log-softmax over more rows than one block of the slice
/// kernels (16) and rows of 3 and 10: bit for bit the per-entry loops in
/// f64, within the kernels' accuracy in f32.
fn softmax_matches_the_per_entry_loops<const B: usize, const N: usize>() {
    let z = Matrix::<f64, B, N>::from_fn(|i, j| ((i * N + j) as f64 * 0.737).sin() * 12.0);
    let s = softmax_rows(&z);
    let mut log_s = Matrix::zeros();
    log_softmax_rows_into(&z, &mut log_s);
    let z32 = z.cast::<f32>();
    let z32_in_f64 = z32.cast::<f64>();
    let s32 = softmax_rows(&z32);
    let mut log_s32 = Matrix::zeros();
    log_softmax_rows_into(&z32, &mut log_s32);
    for i in 0..B {
        let (expected, lse) = softmax_row_reference(z.row(i));
        assert_eq!(s.row(i), &expected[..], "row {i} of {B}×{N}");
        assert_eq!(log_sum_exp(z.row(i)), lse);
        let (exact32, lse32) = softmax_row_reference(z32_in_f64.row(i));
        let max32 = z32_in_f64
            .row(i)
            .iter()
            .fold(f64::NEG_INFINITY, |m, &x| m.max(x));
        for j in 0..N {
            assert_eq!(log_s[(i, j)], z[(i, j)] - lse);
            // Besides the kernels' error, the rounding of z − max in f32
            // (half an ulp of |z − max|) is amplified by exp.
            let p = exact32[j];
            let bound = 5e-7 + 6e-8 * (z32_in_f64[(i, j)] - max32).abs();
            let err = (f64::from(s32[(i, j)]) - p).abs() / p;
            assert!(
                err < bound,
                "f32 softmax ({i}, {j}): {} vs {p}",
                s32[(i, j)]
            );
            let log_p = z32_in_f64[(i, j)] - lse32;
            let err = (f64::from(log_s32[(i, j)]) - log_p).abs();
            assert!(
                err < 1e-6 * (1.0 + log_p.abs()),
                "f32 log-softmax ({i}, {j})"
            );
        }
    }
}

#[test]
fn softmax_and_log_softmax_match_the_per_entry_loops() {
    softmax_matches_the_per_entry_loops::<37, 3>();
    softmax_matches_the_per_entry_loops::<37, 10>();
    softmax_matches_the_per_entry_loops::<1, 1>();
    softmax_matches_the_per_entry_loops::<16, 2>();
}

#[test]
fn log_sum_exp_of_long_slices() {
    // Longer than a chunk of the slice kernel (16): ln(40·e⁵) = 5 + ln 40.
    let xs = [5.0_f64; 40];
    assert!((log_sum_exp(&xs) - (5.0 + 40f64.ln())).abs() < 1e-14);
    let xs32 = [5.0_f32; 40];
    assert!((log_sum_exp(&xs32) - (5.0 + 40f32.ln())).abs() < 1e-5);
    let mut xs = [0.0_f64; 33];
    xs[32] = f64::NAN;
    assert!(log_sum_exp(&xs).is_nan());
    xs[32] = f64::INFINITY;
    assert_eq!(log_sum_exp(&xs), f64::INFINITY);
}
