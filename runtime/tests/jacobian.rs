//! Explicit Jacobians against numerical ones, the chain rule as a product of
//! Jacobians, and the portfolio case of DESIGN.md §1.

use chainrule::activations::{softmax_rows, Activation, Identity, LeakyRelu, Relu, Sigmoid, Tanh};
use chainrule::jacobian::{self, numerical_jacobian};
use chainrule::{rules, Matrix};

const TOL: f64 = 1e-8;

fn sample<const R: usize, const C: usize>(seed: usize) -> Matrix<f64, R, C> {
    // Deterministic, irregular, signs mixed, no zeros.
    Matrix::from_fn(|i, j| {
        let k = (i * C + j + 1) * (seed + 3);
        ((k * 37 % 23) as f64 - 11.3) / 7.0
    })
}

fn assert_close<const R: usize, const C: usize>(
    got: &Matrix<f64, R, C>,
    want: &Matrix<f64, R, C>,
    tol: f64,
) {
    assert!(
        got.approx_eq(want, tol),
        "got\n{got:.10}\nwant\n{want:.10}\nlargest difference {:e}",
        got.max_abs_diff(want)
    );
}

#[test]
fn jacobian_of_w_times_column_vector_is_w() {
    fn case<const M: usize, const N: usize>() {
        let w = sample::<M, N>(1);
        let x = sample::<N, 1>(2);
        let numeric: Matrix<f64, M, N> = numerical_jacobian(|x| w.matmul(x), &x);
        assert_close(&jacobian::wx(&w), &numeric, TOL);
        assert_eq!(jacobian::wx(&w), w);
    }
    case::<3, 5>();
    case::<4, 4>();
    case::<1, 3>();
}

#[test]
fn jacobian_of_row_vector_times_w_is_w_transposed() {
    fn case<const N: usize, const M: usize>() {
        let w = sample::<N, M>(3);
        let x = sample::<1, N>(4);
        let numeric: Matrix<f64, M, N> = numerical_jacobian(|x| x.matmul(&w), &x);
        assert_close(&jacobian::xw(&w), &numeric, TOL);
        assert_eq!(jacobian::xw(&w), w.transpose());
    }
    case::<3, 5>();
    case::<4, 4>();
}

#[test]
fn jacobian_of_a_dense_row_is_its_out_by_in_weights() {
    fn case<const M: usize, const N: usize>() {
        let w = sample::<M, N>(5);
        let b = sample::<1, M>(6);
        let x = sample::<1, N>(7);
        let numeric: Matrix<f64, M, N> = numerical_jacobian(|x| x.matmul_t(&w).add_row(&b), &x);
        assert_close(&jacobian::dense_row(&w), &numeric, TOL);
    }
    case::<3, 5>();
    case::<4, 4>();
}

#[test]
fn jacobian_of_the_identity_is_i() {
    let x = sample::<1, 4>(8);
    let numeric: Matrix<f64, 4, 4> = numerical_jacobian(|x| x.clone(), &x);
    assert_close(&jacobian::identity::<f64, 4>(), &numeric, TOL);
    assert_eq!(
        jacobian::identity::<f64, 3>(),
        Matrix::from_rows([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    );
}

#[test]
fn jacobian_of_elementwise_activations_is_diag_of_the_derivative() {
    fn case<F: Activation>(z: &Matrix<f64, 1, 5>) {
        let numeric: Matrix<f64, 5, 5> = numerical_jacobian(|z| z.map(F::apply), z);
        let explicit = jacobian::elementwise::<F, f64, 5>(z);
        assert_close(&explicit, &numeric, 1e-7);
        // Off the diagonal everything is exactly zero.
        for i in 0..5 {
            for j in 0..5 {
                if i != j {
                    assert_eq!(explicit[(i, j)], 0.0, "{} ({i}, {j})", F::NAME);
                }
            }
        }
    }
    // No entry at 0, where relu has no derivative.
    let z = Matrix::<f64, 1, 5>::from_rows([[-2.0, -0.3, 0.4, 1.5, 3.0]]);
    case::<Identity>(&z);
    case::<Sigmoid>(&z);
    case::<Tanh>(&z);
    case::<Relu>(&z);
    case::<LeakyRelu>(&z);
}

#[test]
fn jacobian_of_elementwise_activations_by_hand() {
    // sigmoid(0) = ½, sigmoid′(0) = ¼; tanh′(0) = 1; relu′(2) = 1, relu′(−1) = 0.
    let z = Matrix::<f64, 1, 3>::from_rows([[0.0, 2.0, -1.0]]);
    let s = jacobian::elementwise::<Sigmoid, f64, 3>(&z);
    assert!((s[(0, 0)] - 0.25).abs() < 1e-15);
    let t = jacobian::elementwise::<Tanh, f64, 3>(&z);
    assert!((t[(0, 0)] - 1.0).abs() < 1e-15);
    // tanh′(2) = 1 − tanh²(2) = 1 − 0.96402758…² = 0.0706508…
    assert!((t[(1, 1)] - 0.070_650_824_853_164_4).abs() < 1e-12);
    let r = jacobian::elementwise::<Relu, f64, 3>(&z);
    assert_eq!((r[(1, 1)], r[(2, 2)]), (1.0, 0.0));
}

#[test]
fn jacobian_of_softmax_is_diag_s_minus_s_s_transposed() {
    fn case<const N: usize>(z: Matrix<f64, 1, N>) {
        let numeric: Matrix<f64, N, N> = numerical_jacobian(softmax_rows, &z);
        let explicit = jacobian::softmax(&z);
        assert_close(&explicit, &numeric, 1e-8);
        // Each row sums to zero: the outputs always sum to 1.
        for i in 0..N {
            let row_sum: f64 = explicit.row(i).iter().sum();
            assert!(row_sum.abs() < 1e-15, "row {i} sums to {row_sum}");
        }
        // Symmetric.
        assert_close(&explicit, &explicit.transpose(), 0.0);
    }
    case(Matrix::<f64, 1, 3>::from_rows([[1.0, 2.0, 3.0]]));
    case(Matrix::<f64, 1, 5>::from_rows([[0.5, -1.0, 2.0, 0.0, 4.0]]));
    // Large logits: the max is subtracted, the Jacobian stays finite.
    let big = jacobian::softmax(&Matrix::<f64, 1, 3>::from_rows([[1000.0, 999.0, -1000.0]]));
    assert!(big.is_finite());
}

#[test]
fn jacobian_of_softmax_by_hand() {
    // z = (0, ln 3): s = (¼, ¾); diag(s) − s sᵀ = [[¼ − 1/16, −3/16], [−3/16, ¾ − 9/16]]
    //                                           = [[3/16, −3/16], [−3/16, 3/16]].
    let z = Matrix::<f64, 1, 2>::from_rows([[0.0, 3f64.ln()]]);
    let want = Matrix::from_rows([[3.0 / 16.0, -3.0 / 16.0], [-3.0 / 16.0, 3.0 / 16.0]]);
    assert_close(&jacobian::softmax(&z), &want, 1e-15);
}

#[test]
fn jacobian_with_respect_to_the_weights_gives_rule_3() {
    fn case<const M: usize, const N: usize, const MN: usize>() {
        let w = sample::<M, N>(9);
        let x = sample::<N, 1>(10);
        // y = W·x as a function of W, flattened.
        let numeric: Matrix<f64, M, MN> = numerical_jacobian(|w| w.matmul(&x), &w);
        let explicit: Matrix<f64, M, MN> = jacobian::wx_wrt_weights(&x);
        assert_close(&explicit, &numeric, TOL);
        // (∂l/∂y)ᵀ · J, unflattened, is rule 3's ∂l/∂y · xᵀ.
        let dl_dy = sample::<M, 1>(11);
        let via_jacobian = dl_dy.t_matmul(&explicit);
        let rule3 = rules::rule3_weight_grad_wx(&dl_dy, &x);
        assert_close(
            &Matrix::<f64, M, N>::from_slice(via_jacobian.as_slice()).expect("M·N entries"),
            &rule3,
            1e-12,
        );
    }
    case::<3, 5, 15>();
    case::<4, 4, 16>();
}

#[test]
fn numerical_jacobian_flattens_row_major() {
    // f(X) = Xᵀ for X 2×3: output entry (i, j) = X[(j, i)], i.e. output
    // number 2i + j equals input number 3j + i. The Jacobian is the
    // permutation matrix with a 1 at (2i + j, 3j + i).
    let x = sample::<2, 3>(12);
    let numeric: Matrix<f64, 6, 6> = numerical_jacobian(|x| x.transpose(), &x);
    let want = Matrix::from_fn(|p, q| {
        let (i, j) = (p / 2, p % 2); // output entry (i, j) of the 3×2 result
        if q == 3 * j + i {
            1.0
        } else {
            0.0
        }
    });
    assert_close(&numeric, &want, 1e-9);
    // Row 1 = output entry (0, 1) = X[(1, 0)] = input number 3.
    assert!((numeric[(1, 3)] - 1.0).abs() < 1e-9);
}

#[test]
fn chain_rule_through_dense_then_softmax() {
    // z = x·Wᵀ + b, s = softmax(z): ∂s/∂x = (diag(s) − s sᵀ) · W.
    let w = sample::<4, 3>(13);
    let b = sample::<1, 4>(14);
    let x = sample::<1, 3>(15);
    let z = x.matmul_t(&w).add_row(&b);
    let product = jacobian::chain(&jacobian::softmax(&z), &jacobian::dense_row(&w));
    let numeric: Matrix<f64, 4, 3> =
        numerical_jacobian(|x| softmax_rows(&x.matmul_t(&w).add_row(&b)), &x);
    assert_close(&product, &numeric, 1e-8);
}

#[test]
fn chain_rule_through_three_functions() {
    // y = W1·x, a = tanh(y), o = W2·a (columns): ∂o/∂x = W2 · diag(tanh′(y)) · W1.
    let w1 = sample::<4, 3>(16);
    let w2 = sample::<2, 4>(17);
    let x = sample::<3, 1>(18).scale(0.3);
    let y = w1.matmul(&x);
    let d_tanh = jacobian::elementwise::<Tanh, f64, 4>(&y.transpose());
    let product = jacobian::chain(&jacobian::chain(&w2, &d_tanh), &w1);
    // Associativity: the same grouped the other way.
    let other = jacobian::chain(&w2, &jacobian::chain(&d_tanh, &w1));
    assert_close(&product, &other, 1e-12);
    let numeric: Matrix<f64, 2, 3> =
        numerical_jacobian(|x| w2.matmul(&w1.matmul(x).map(f64::tanh)), &x);
    assert_close(&product, &numeric, 1e-8);
}

/// DESIGN.md §1: 3 stocks S, 2 portfolios P = W·S, 4 funds F = U·P.
#[test]
fn portfolio_jacobian_is_u_times_w() {
    let w = Matrix::<f64, 2, 3>::from_rows([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    let u = Matrix::<f64, 4, 2>::from_rows([[0.2, 0.8], [0.5, 0.5], [0.7, 0.3], [0.9, 0.1]]);
    // By hand, row i of U·W is U_i0·(1, 2, 3) + U_i1·(4, 5, 6):
    //   0.2·(1,2,3) + 0.8·(4,5,6) = (0.2+3.2, 0.4+4.0, 0.6+4.8) = (3.4, 4.4, 5.4)
    //   0.5·(1,2,3) + 0.5·(4,5,6) = (0.5+2.0, 1.0+2.5, 1.5+3.0) = (2.5, 3.5, 4.5)
    //   0.7·(1,2,3) + 0.3·(4,5,6) = (0.7+1.2, 1.4+1.5, 2.1+1.8) = (1.9, 2.9, 3.9)
    //   0.9·(1,2,3) + 0.1·(4,5,6) = (0.9+0.4, 1.8+0.5, 2.7+0.6) = (1.3, 2.3, 3.3)
    let by_hand = Matrix::<f64, 4, 3>::from_rows([
        [3.4, 4.4, 5.4],
        [2.5, 3.5, 4.5],
        [1.9, 2.9, 3.9],
        [1.3, 2.3, 3.3],
    ]);
    // ∂F/∂S = ∂F/∂P · ∂P/∂S.
    let df_dp = jacobian::wx(&u);
    let dp_ds = jacobian::wx(&w);
    let product = jacobian::chain(&df_dp, &dp_ds);
    assert_close(&product, &by_hand, 1e-14);
    assert!((product[(0, 0)] - 3.4).abs() < 1e-15);

    // Numerically, at any S (the map is linear).
    for s in [
        Matrix::<f64, 3, 1>::from_rows([[10.0], [20.0], [30.0]]),
        Matrix::<f64, 3, 1>::from_rows([[-1.5], [0.0], [250.0]]),
    ] {
        let numeric: Matrix<f64, 4, 3> = numerical_jacobian(|s| u.matmul(&w.matmul(s)), &s);
        assert_close(&numeric, &by_hand, 1e-8);
    }
}
