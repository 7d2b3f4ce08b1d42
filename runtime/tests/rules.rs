//! Rules 0 to 7 (DESIGN.md §1), each in the column form and the row-batch
//! form, against central finite differences in f64, on a non-square and a
//! square shape (3×5 and 4×4, batches of 2 and 3).
//!
//! The scalar loss downstream of each operation is
//! `l(Y) = Σ G ⊗ Y + ½ Σ Y²`, nonlinear, with the exact gradient
//! `∂l/∂Y = G + Y`.

use chainrule::activations::{Activation, Identity, LeakyRelu, Relu, Sigmoid, Tanh};
use chainrule::gradcheck::{self, GradCheckReport};
use chainrule::jacobian::numerical_jacobian;
use chainrule::{rules, Matrix};

const TOL: f64 = 1e-7;

fn sample<const R: usize, const C: usize>(seed: usize) -> Matrix<f64, R, C> {
    // Deterministic, irregular, signs mixed, no zeros.
    Matrix::from_fn(|i, j| {
        let k = (i * C + j + 1) * (seed + 3);
        ((k * 37 % 23) as f64 - 11.3) / 7.0
    })
}

/// `l(Y) = Σ G ⊗ Y + ½ Σ Y²`.
fn loss<const R: usize, const C: usize>(g: &Matrix<f64, R, C>, y: &Matrix<f64, R, C>) -> f64 {
    g.hadamard(y).sum() + 0.5 * y.hadamard(y).sum()
}

/// `∂l/∂Y = G + Y`.
fn loss_grad<const R: usize, const C: usize>(
    g: &Matrix<f64, R, C>,
    y: &Matrix<f64, R, C>,
) -> Matrix<f64, R, C> {
    g + y
}

fn assert_passes(report: &GradCheckReport, what: &str) {
    assert!(report.passes(TOL), "{what}: {report}");
    assert!(report.entries_checked > 0, "{what}: nothing checked");
}

fn assert_close<const R: usize, const C: usize>(
    got: &Matrix<f64, R, C>,
    want: &Matrix<f64, R, C>,
    what: &str,
) {
    assert!(
        got.approx_eq(want, 1e-8),
        "{what}\ngot\n{got:.10}\nwant\n{want:.10}"
    );
}

/// The Kronecker product `A ⊗ B`.
fn kron<
    const R1: usize,
    const C1: usize,
    const R2: usize,
    const C2: usize,
    const R: usize,
    const C: usize,
>(
    a: &Matrix<f64, R1, C1>,
    b: &Matrix<f64, R2, C2>,
) -> Matrix<f64, R, C> {
    assert_eq!((R, C), (R1 * R2, C1 * C2));
    Matrix::from_fn(|i, j| a[(i / R2, j / C2)] * b[(i % R2, j % C2)])
}

// ---------------------------------------------------------------------------
// Rule 0: the gradient of a Matrix<R, C> parameter is a Matrix<R, C>.
// ---------------------------------------------------------------------------

/// Compiles only when `gradient` has exactly the shape of `parameter`.
fn gradient_of<const R: usize, const C: usize>(
    parameter: &Matrix<f64, R, C>,
    gradient: Matrix<f64, R, C>,
) -> Matrix<f64, R, C> {
    let _ = parameter;
    gradient
}

#[test]
fn rule0_every_weight_gradient_has_its_parameters_type() {
    // Column forms: W is M×N = 3×5.
    let w = sample::<3, 5>(1);
    let _ = gradient_of(
        &w,
        rules::rule3_weight_grad_wx(&sample::<3, 1>(2), &sample::<5, 1>(3)),
    );
    let _ = gradient_of(
        &w,
        rules::rule5_weight_grad_col(&sample::<3, 2>(4), &sample::<5, 2>(5)),
    );
    // Row forms: y = x·W with W N×M = 5×3.
    let w_row = sample::<5, 3>(6);
    let _ = gradient_of(
        &w_row,
        rules::rule4_weight_grad_xw(&sample::<1, 5>(7), &sample::<1, 3>(8)),
    );
    let _ = gradient_of(
        &w_row,
        rules::rule4_weight_grad_batch(&sample::<2, 5>(9), &sample::<2, 3>(10)),
    );
    // Row-batch dense layer: W is out×in = 3×5, b is 1×3, X is 2×5.
    let (x, dl_dz) = (sample::<2, 5>(11), sample::<2, 3>(12));
    let mut dl_dw = Matrix::zeros();
    rules::rule5_weight_grad_into(&dl_dz, &x, &mut dl_dw);
    let _ = gradient_of(&w, dl_dw);
    let b = sample::<1, 3>(13);
    let mut dl_db = Matrix::zeros();
    rules::bias_grad_into(&dl_dz, &mut dl_db);
    let _ = gradient_of(&b, dl_db);
    let mut dl_dx = Matrix::zeros();
    rules::rule6_input_grad_into(&dl_dz, &w, &mut dl_dx);
    let _ = gradient_of(&x, dl_dx);
    // Column form input gradient: X is N×B = 5×2.
    let _ = gradient_of(
        &sample::<5, 2>(14),
        rules::rule6_input_grad_col(&w, &sample::<3, 2>(15)),
    );
}

// ---------------------------------------------------------------------------
// Rules 1 and 2: Jacobians of linear maps.
// ---------------------------------------------------------------------------

fn rule1_case<const M: usize, const N: usize, const B: usize, const MB: usize, const NB: usize>() {
    let w = sample::<M, N>(20);
    // Column form, one vector: y = W·x, ∂y/∂x = W.
    let x = sample::<N, 1>(21);
    let numeric: Matrix<f64, M, N> = numerical_jacobian(|x| w.matmul(x), &x);
    assert_close(
        &rules::rule1_jacobian_wx(&w),
        &numeric,
        "rule 1, column vector",
    );
    // Column form, B columns: Y = W·X (X: N×B). Flattened row-major,
    // ∂Y_ib/∂X_jc = W_ij·δ_bc, i.e. W ⊗ I_B.
    let xs = sample::<N, B>(22);
    let numeric: Matrix<f64, MB, NB> = numerical_jacobian(|x| w.matmul(x), &xs);
    let i_b = Matrix::<f64, B, B>::identity();
    let expected: Matrix<f64, MB, NB> = kron(&rules::rule1_jacobian_wx(&w), &i_b);
    assert_close(&expected, &numeric, "rule 1, column batch");
    // Row-batch form, one row: z = x·Wᵀ (weights out×in), ∂z/∂x = W.
    let x = sample::<1, N>(23);
    let numeric: Matrix<f64, M, N> = numerical_jacobian(|x| x.matmul_t(&w), &x);
    assert_close(&rules::rule1_jacobian_wx(&w), &numeric, "rule 1, row");
    // Row batch: Z = X·Wᵀ (X: B×N). ∂Z_bi/∂X_cj = δ_bc·W_ij, i.e. I_B ⊗ W.
    let xs = sample::<B, N>(24);
    let numeric: Matrix<f64, MB, NB> = numerical_jacobian(|x| x.matmul_t(&w), &xs);
    let expected: Matrix<f64, MB, NB> = kron(&i_b, &rules::rule1_jacobian_wx(&w));
    assert_close(&expected, &numeric, "rule 1, row batch");
}

#[test]
fn rule1_jacobian_of_w_x_is_w() {
    rule1_case::<3, 5, 2, 6, 10>();
    rule1_case::<4, 4, 3, 12, 12>();
}

fn rule2_case<const N: usize, const M: usize, const B: usize, const BM: usize, const BN: usize>() {
    let w = sample::<N, M>(30);
    // Row vector: y = x·W, ∂y/∂x = Wᵀ.
    let x = sample::<1, N>(31);
    let numeric: Matrix<f64, M, N> = numerical_jacobian(|x| x.matmul(&w), &x);
    assert_close(&rules::rule2_jacobian_xw(&w), &numeric, "rule 2, row");
    assert_eq!(rules::rule2_jacobian_xw(&w), w.transpose());
    // Row batch: Y = X·W (X: B×N). Each row only sees its own row: I_B ⊗ Wᵀ.
    let xs = sample::<B, N>(32);
    let numeric: Matrix<f64, BM, BN> = numerical_jacobian(|x| x.matmul(&w), &xs);
    let expected: Matrix<f64, BM, BN> = kron(
        &Matrix::<f64, B, B>::identity(),
        &rules::rule2_jacobian_xw(&w),
    );
    assert_close(&expected, &numeric, "rule 2, row batch");
    // Column form of the same map: yᵀ = Wᵀ·xᵀ, whose Jacobian (rule 1) is Wᵀ.
    let xt = x.transpose();
    let numeric: Matrix<f64, M, N> = numerical_jacobian(|x| w.t_matmul(x), &xt);
    assert_close(&rules::rule2_jacobian_xw(&w), &numeric, "rule 2, column");
}

#[test]
fn rule2_jacobian_of_x_w_is_w_transposed() {
    rule2_case::<3, 5, 2, 10, 6>();
    rule2_case::<4, 4, 3, 12, 12>();
}

// ---------------------------------------------------------------------------
// Rules 3 and 4: weight gradients of one vector.
// ---------------------------------------------------------------------------

fn rule3_case<const M: usize, const N: usize>() {
    let w = sample::<M, N>(40);
    let g = sample::<M, 1>(41);
    // Column form: y = W·x.
    let x = sample::<N, 1>(42);
    let dl_dy = loss_grad(&g, &w.matmul(&x));
    let analytic = rules::rule3_weight_grad_wx(&dl_dy, &x);
    let report = gradcheck::check(|w| loss(&g, &w.matmul(&x)), &w, &analytic);
    assert_passes(&report, "rule 3, column");
    // Row form of a dense layer, weights out×in: z = x·Wᵀ ⇒ ∂l/∂W = (∂l/∂z)ᵀ·x.
    let x_row = x.transpose();
    let g_row = g.transpose();
    let dl_dz = loss_grad(&g_row, &x_row.matmul_t(&w));
    let mut analytic = Matrix::zeros();
    rules::rule5_weight_grad_into(&dl_dz, &x_row, &mut analytic);
    let report = gradcheck::check(|w| loss(&g_row, &x_row.matmul_t(w)), &w, &analytic);
    assert_passes(&report, "rule 3, row");
}

#[test]
fn rule3_weight_gradient_of_w_x() {
    rule3_case::<3, 5>();
    rule3_case::<4, 4>();
}

fn rule4_case<const N: usize, const M: usize, const B: usize>() {
    let w = sample::<N, M>(50);
    // Row vector: y = x·W ⇒ ∂l/∂W = xᵀ·∂l/∂y.
    let x = sample::<1, N>(51);
    let g = sample::<1, M>(52);
    let dl_dy = loss_grad(&g, &x.matmul(&w));
    let analytic = rules::rule4_weight_grad_xw(&x, &dl_dy);
    let report = gradcheck::check(|w| loss(&g, &x.matmul(w)), &w, &analytic);
    assert_passes(&report, "rule 4, row");
    // Row batch: Y = X·W ⇒ ∂l/∂W = Xᵀ·∂l/∂Y.
    let xs = sample::<B, N>(53);
    let gs = sample::<B, M>(54);
    let dl_dy = loss_grad(&gs, &xs.matmul(&w));
    let analytic = rules::rule4_weight_grad_batch(&xs, &dl_dy);
    let report = gradcheck::check(|w| loss(&gs, &xs.matmul(w)), &w, &analytic);
    assert_passes(&report, "rule 4, row batch");
    // Column form of the same map: yᵀ = Wᵀ·xᵀ; by rule 3 applied to Wᵀ,
    // ∂l/∂Wᵀ = ∂l/∂yᵀ · x, whose transpose is rule 4's xᵀ·∂l/∂y.
    let dl_dy = loss_grad(&g, &x.matmul(&w));
    let via_rule3 = rules::rule3_weight_grad_wx(&dl_dy.transpose(), &x.transpose()).transpose();
    assert_close(
        &via_rule3,
        &rules::rule4_weight_grad_xw(&x, &dl_dy),
        "rule 4 = rule 3 transposed",
    );
}

#[test]
fn rule4_weight_gradient_of_x_w() {
    rule4_case::<3, 5, 2>();
    rule4_case::<4, 4, 3>();
}

// ---------------------------------------------------------------------------
// Rules 5 and 6: gradients of a batch.
// ---------------------------------------------------------------------------

fn rule5_6_case<const M: usize, const N: usize, const B: usize>() {
    let w = sample::<M, N>(60);
    // Column form: Y = W·X, X: N×B.
    let x = sample::<N, B>(61);
    let g = sample::<M, B>(62);
    let dl_dy = loss_grad(&g, &w.matmul(&x));
    let analytic_w = rules::rule5_weight_grad_col(&dl_dy, &x);
    let report = gradcheck::check(|w| loss(&g, &w.matmul(&x)), &w, &analytic_w);
    assert_passes(&report, "rule 5, column");
    let analytic_x = rules::rule6_input_grad_col(&w, &dl_dy);
    let report = gradcheck::check(|x| loss(&g, &w.matmul(x)), &x, &analytic_x);
    assert_passes(&report, "rule 6, column");

    // Row-batch form: Z = X·Wᵀ + 1·bᵀ, X: B×N.
    let x = sample::<B, N>(63);
    let b = sample::<1, M>(64);
    let g = sample::<B, M>(65);
    let forward = |x: &Matrix<f64, B, N>, w: &Matrix<f64, M, N>, b: &Matrix<f64, 1, M>| {
        x.matmul_t(w).add_row(b)
    };
    let dl_dz = loss_grad(&g, &forward(&x, &w, &b));
    let mut analytic_w = Matrix::zeros();
    rules::rule5_weight_grad_into(&dl_dz, &x, &mut analytic_w);
    let report = gradcheck::check(|w| loss(&g, &forward(&x, w, &b)), &w, &analytic_w);
    assert_passes(&report, "rule 5, row batch");
    let mut analytic_b = Matrix::zeros();
    rules::bias_grad_into(&dl_dz, &mut analytic_b);
    let report = gradcheck::check(|b| loss(&g, &forward(&x, &w, b)), &b, &analytic_b);
    assert_passes(&report, "bias, row batch");
    let mut analytic_x = Matrix::zeros();
    rules::rule6_input_grad_into(&dl_dz, &w, &mut analytic_x);
    let report = gradcheck::check(|x| loss(&g, &forward(x, &w, &b)), &x, &analytic_x);
    assert_passes(&report, "rule 6, row batch");

    // The `_into` forms overwrite: stale contents do not leak in.
    let mut stale = Matrix::<f64, M, N>::filled(1e6);
    rules::rule5_weight_grad_into(&dl_dz, &x, &mut stale);
    assert_eq!(stale, analytic_w);
    let mut stale = Matrix::<f64, 1, M>::filled(1e6);
    rules::bias_grad_into(&dl_dz, &mut stale);
    assert_eq!(stale, analytic_b);
    let mut stale = Matrix::<f64, B, N>::filled(1e6);
    rules::rule6_input_grad_into(&dl_dz, &w, &mut stale);
    assert_eq!(stale, analytic_x);
}

#[test]
fn rules5_and_6_weight_and_input_gradients_of_a_batch() {
    rule5_6_case::<3, 5, 2>();
    rule5_6_case::<4, 4, 3>();
    rule5_6_case::<5, 3, 3>();
}

#[test]
fn rule5_by_hand() {
    // Y = W·X with X = [[1, 2], [3, 4]] (two columns), ∂l/∂Y = [[1, 0], [0, 1]]:
    // ∂l/∂W = ∂l/∂Y·Xᵀ = Xᵀ = [[1, 3], [2, 4]].
    let x = Matrix::<f64, 2, 2>::from_rows([[1.0, 2.0], [3.0, 4.0]]);
    let dl_dy = Matrix::<f64, 2, 2>::identity();
    assert_eq!(
        rules::rule5_weight_grad_col(&dl_dy, &x),
        Matrix::from_rows([[1.0, 3.0], [2.0, 4.0]])
    );
    // Row batch, one output, two rows x₁ = (1, 2), x₂ = (3, 4), ∂l/∂z = (10, 100)ᵀ:
    // ∂l/∂W = 10·(1, 2) + 100·(3, 4) = (310, 420); ∂l/∂b = 110.
    let dl_dz = Matrix::<f64, 2, 1>::from_rows([[10.0], [100.0]]);
    let mut dl_dw = Matrix::<f64, 1, 2>::zeros();
    rules::rule5_weight_grad_into(&dl_dz, &x, &mut dl_dw);
    assert_eq!(dl_dw, Matrix::from_rows([[310.0, 420.0]]));
    let mut dl_db = Matrix::<f64, 1, 1>::zeros();
    rules::bias_grad_into(&dl_dz, &mut dl_db);
    assert_eq!(dl_db[(0, 0)], 110.0);
    // Rule 6 with W = (5, 7): ∂l/∂X = ∂l/∂z·W = [[50, 70], [500, 700]].
    let w = Matrix::<f64, 1, 2>::from_rows([[5.0, 7.0]]);
    let mut dl_dx = Matrix::<f64, 2, 2>::zeros();
    rules::rule6_input_grad_into(&dl_dz, &w, &mut dl_dx);
    assert_eq!(dl_dx, Matrix::from_rows([[50.0, 70.0], [500.0, 700.0]]));
}

// ---------------------------------------------------------------------------
// Rule 7: elementwise functions.
// ---------------------------------------------------------------------------

fn rule7_case<F: Activation, const R: usize, const C: usize>(x: &Matrix<f64, R, C>) {
    let g = sample::<R, C>(70);
    let fx = |x: &Matrix<f64, R, C>| x.map(F::apply);
    let y = fx(x);
    let dl_dy = loss_grad(&g, &y);
    // Given f′(x) as a matrix.
    let f_prime = x.zip_map(&y, F::derivative);
    let analytic = rules::rule7_elementwise_grad(&dl_dy, &f_prime);
    let report = gradcheck::check(|x| loss(&g, &fx(x)), x, &analytic);
    assert!(report.passes(TOL), "rule 7, {}: {report}", F::NAME);
    // Through the activation, as the networks call it.
    let mut dl_dx = Matrix::filled(1e6);
    rules::rule7_activation_grad_into::<F, f64, R, C>(&dl_dy, x, &y, &mut dl_dx);
    assert_eq!(dl_dx, analytic, "rule 7, {}", F::NAME);
}

fn rule7_all<const R: usize, const C: usize>(x: &Matrix<f64, R, C>) {
    rule7_case::<Identity, R, C>(x);
    rule7_case::<Sigmoid, R, C>(x);
    rule7_case::<Tanh, R, C>(x);
    rule7_case::<Relu, R, C>(x);
    rule7_case::<LeakyRelu, R, C>(x);
}

#[test]
fn rule7_elementwise_gradient() {
    // `sample` has no zeros, so relu's kink is never probed by the
    // difference quotient (|x| ≥ 0.04 ≫ the step 1e-5).
    // Column form: a column vector and a matrix of columns.
    rule7_all(&sample::<5, 1>(71));
    rule7_all(&sample::<5, 3>(72));
    // Row-batch form: B×N.
    rule7_all(&sample::<2, 5>(73));
    rule7_all(&sample::<4, 4>(74));
}

#[test]
fn rule7_jacobian_is_diagonal() {
    // The Jacobian of y = f(x) is diag(f′(x)): numerically, nothing off the
    // diagonal.
    let x = sample::<1, 4>(75);
    let numeric: Matrix<f64, 4, 4> = numerical_jacobian(|x| x.map(f64::tanh), &x);
    for i in 0..4 {
        for j in 0..4 {
            let want = if i == j {
                1.0 - x[(0, i)].tanh().powi(2)
            } else {
                0.0
            };
            assert!((numeric[(i, j)] - want).abs() < 1e-9, "({i}, {j})");
        }
    }
}
