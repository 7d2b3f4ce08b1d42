//! Explicit Jacobians, for inspection and teaching.
//!
//! The networks never form a Jacobian: backpropagation multiplies an
//! intermediate gradient by a local one directly (rules 3 to 7). These
//! functions build the matrices that those products stand for, so that a
//! derivation can be checked entry by entry.
//!
//! **Convention.** The Jacobian of `y = f(x)` has one row per output entry and
//! one column per input entry: entry `(p, q)` is `∂y_p/∂x_q`. A matrix-valued
//! input or output is flattened row-major, so entry `(i, j)` of an `R×C`
//! matrix is number `i·C + j`. For a vector input and output this is the
//! usual `m×n` Jacobian of rule 1.
//!
//! The chain rule is then a product of Jacobians, [`chain`]: for
//! `z = g(y)`, `y = f(x)`, `∂z/∂x = ∂z/∂y · ∂y/∂x`. The worked case of the
//! design, three stocks `S`, two portfolios `P = W·S`, four funds `F = U·P`:
//!
//! ```
//! use chainrule::{jacobian, Matrix};
//!
//! let w = Matrix::<f64, 2, 3>::from_rows([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
//! let u = Matrix::<f64, 4, 2>::from_rows([[0.2, 0.8], [0.5, 0.5], [0.7, 0.3], [0.9, 0.1]]);
//! // ∂F/∂S = ∂F/∂P · ∂P/∂S = U · W (rule 1 twice)
//! let df_ds = jacobian::chain(&jacobian::wx(&u), &jacobian::wx(&w));
//! assert!((df_ds[(0, 0)] - 3.4).abs() < 1e-12); // 0.2·1 + 0.8·4
//!
//! // The same, numerically.
//! let s = Matrix::<f64, 3, 1>::from_rows([[10.0], [20.0], [30.0]]);
//! let numeric: Matrix<f64, 4, 3> = jacobian::numerical_jacobian(|s| u.matmul(&w.matmul(s)), &s);
//! assert!(numeric.approx_eq(&df_ds, 1e-8));
//! ```

use crate::activations::{softmax_rows, Activation};
use crate::gradcheck::DEFAULT_STEP;
use crate::{ColVector, Matrix, RowVector, Scalar};

/// Rule 1: the Jacobian of `y = W·x` (column vectors, `W: M×N`) with respect
/// to `x` is `W` itself, `M×N`.
///
/// ```
/// use chainrule::{jacobian, Matrix};
/// let w = Matrix::<f64, 2, 3>::from_rows([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
/// assert_eq!(jacobian::wx(&w), w);
/// ```
#[must_use]
pub fn wx<T: Scalar, const M: usize, const N: usize>(w: &Matrix<T, M, N>) -> Matrix<T, M, N> {
    crate::rules::rule1_jacobian_wx(w)
}

/// Rule 2: the Jacobian of `y = x·W` (row vectors, `x: 1×N`, `W: N×M`) with
/// respect to `x` is `Wᵀ`, `M×N`.
///
/// ```
/// use chainrule::{jacobian, Matrix};
/// let w = Matrix::<f64, 3, 2>::from_rows([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
/// assert_eq!(jacobian::xw(&w), w.transpose());
/// ```
#[must_use]
pub fn xw<T: Scalar, const N: usize, const M: usize>(w: &Matrix<T, N, M>) -> Matrix<T, M, N> {
    crate::rules::rule2_jacobian_xw(w)
}

/// The Jacobian of the dense layer on one row, `z = x·Wᵀ + b` (`x: 1×N`,
/// weights `W: M×N` stored out×in), with respect to `x`: `W`, `M×N`.
/// This is rule 2 with the weights transposed, and the reason rule 6 reads
/// `∂l/∂X = ∂l/∂Z · W` in the row-batch form.
#[must_use]
pub fn dense_row<T: Scalar, const M: usize, const N: usize>(
    w: &Matrix<T, M, N>,
) -> Matrix<T, M, N> {
    w.clone()
}

/// The Jacobian of `y = W·x` (`W: M×N`) with respect to the weights,
/// flattened row-major: `M × (M·N)`, entry `(i, k·N + l)` is
/// `∂y_i/∂W_kl = δ_ik·x_l`.
///
/// Rule 3 is the product of a gradient row with this Jacobian: the row
/// `(∂l/∂y)ᵀ · J`, unflattened, is `∂l/∂y · xᵀ`. `MN` must equal `M·N`
/// (checked when the function is compiled for given sizes).
///
/// ```
/// use chainrule::{jacobian, Matrix};
/// let x = Matrix::<f64, 2, 1>::from_rows([[3.0], [5.0]]);
/// let j: Matrix<f64, 2, 4> = jacobian::wx_wrt_weights(&x);
/// assert_eq!(j, Matrix::from_rows([[3.0, 5.0, 0.0, 0.0], [0.0, 0.0, 3.0, 5.0]]));
/// ```
#[must_use]
pub fn wx_wrt_weights<T: Scalar, const M: usize, const N: usize, const MN: usize>(
    x: &ColVector<T, N>,
) -> Matrix<T, M, MN> {
    const { assert!(MN == M * N, "the Jacobian has M·N columns") };
    Matrix::from_fn(|i, q| {
        let (k, l) = (q / N, q % N);
        if k == i {
            x[(l, 0)]
        } else {
            T::ZERO
        }
    })
}

/// The Jacobian of the identity `z = x` on `N` entries: `I`, `N×N`.
#[must_use]
pub fn identity<T: Scalar, const N: usize>() -> Matrix<T, N, N> {
    Matrix::identity()
}

/// The diagonal matrix with `d` on its diagonal.
#[must_use]
pub fn diag<T: Scalar, const N: usize>(d: &RowVector<T, N>) -> Matrix<T, N, N> {
    Matrix::from_fn(|i, j| if i == j { d[(0, i)] } else { T::ZERO })
}

/// Rule 7: the Jacobian of an elementwise activation `a = F(z)` at the row
/// `z` is `diag(F′(z))`, `N×N`.
///
/// ```
/// use chainrule::activations::Relu;
/// use chainrule::{jacobian, Matrix};
/// let z = Matrix::<f64, 1, 3>::from_rows([[-1.0, 0.0, 2.0]]);
/// let j = jacobian::elementwise::<Relu, f64, 3>(&z);
/// assert_eq!(j, Matrix::from_rows([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]));
/// ```
#[must_use]
pub fn elementwise<F: Activation, T: Scalar, const N: usize>(
    z: &RowVector<T, N>,
) -> Matrix<T, N, N> {
    diag(&z.map(|z| F::derivative(z, F::apply(z))))
}

/// The Jacobian of row softmax `s = softmax(z)` at the row `z`:
/// `diag(s) − s·sᵀ`, `N×N` (entry `(i, j)` is `s_i·(δ_ij − s_j)`).
///
/// ```
/// use chainrule::{jacobian, Matrix};
/// let z = Matrix::<f64, 1, 2>::from_rows([[0.0, 0.0]]); // s = (½, ½)
/// let j = jacobian::softmax(&z);
/// assert!(j.approx_eq(&Matrix::from_rows([[0.25, -0.25], [-0.25, 0.25]]), 1e-15));
/// ```
#[must_use]
pub fn softmax<T: Scalar, const N: usize>(z: &RowVector<T, N>) -> Matrix<T, N, N> {
    softmax_of_output(&softmax_rows(z))
}

/// The Jacobian of softmax given its output `s`: `diag(s) − s·sᵀ`.
#[must_use]
pub fn softmax_of_output<T: Scalar, const N: usize>(s: &RowVector<T, N>) -> Matrix<T, N, N> {
    // s is a row, so s·sᵀ of the column vector is sᵀ·s here.
    let outer = s.t_matmul(s);
    &diag(s) - &outer
}

/// The chain rule as a product of Jacobians: for `z = g(y)` and `y = f(x)`,
/// `∂z/∂x = ∂z/∂y · ∂y/∂x` (`P×M · M×N = P×N`). A mismatch of the middle
/// dimension does not compile.
///
/// ```compile_fail
/// use chainrule::{jacobian, Matrix};
/// let outer = Matrix::<f64, 4, 2>::zeros();
/// let inner = Matrix::<f64, 3, 3>::zeros(); // y has 3 entries, not 2
/// let _ = jacobian::chain(&outer, &inner);
/// ```
#[must_use]
pub fn chain<T: Scalar, const P: usize, const M: usize, const N: usize>(
    outer: &Matrix<T, P, M>,
    inner: &Matrix<T, M, N>,
) -> Matrix<T, P, N> {
    outer.matmul(inner)
}

/// The Jacobian of any function between fixed-size `f64` matrices, by
/// central differences: `(R2·C2) × (R1·C1)`, one row per output entry and one
/// column per input entry, both flattened row-major (see the
/// [module docs](self)).
///
/// Each input entry `x` moves by `±h`, `h = 1e-5 · max(1, |x|)`
/// ([`DEFAULT_STEP`]), and the function is called `2·R1·C1` times. `OUT`
/// must equal `R2·C2` and `IN` must equal `R1·C1`: both are usually
/// inferred from the type of the result, and a wrong one is an error when
/// the function is compiled for the given sizes.
///
/// ```
/// use chainrule::{jacobian, Matrix};
/// // f(X) = Xᵀ for a 2×1 matrix: the Jacobian of a reshape is I.
/// let x = Matrix::<f64, 2, 1>::from_rows([[1.0], [2.0]]);
/// let j: Matrix<f64, 2, 2> = jacobian::numerical_jacobian(|x| x.transpose(), &x);
/// assert!(j.approx_eq(&Matrix::identity(), 1e-9));
/// ```
///
/// ```compile_fail
/// use chainrule::{jacobian, Matrix};
/// let x = Matrix::<f64, 2, 1>::zeros();
/// // The output has 2 entries, so the Jacobian has 2 rows, not 3.
/// let j: Matrix<f64, 3, 2> = jacobian::numerical_jacobian(|x| x.transpose(), &x);
/// ```
#[must_use]
pub fn numerical_jacobian<
    const R1: usize,
    const C1: usize,
    const R2: usize,
    const C2: usize,
    const OUT: usize,
    const IN: usize,
>(
    f: impl Fn(&Matrix<f64, R1, C1>) -> Matrix<f64, R2, C2>,
    x: &Matrix<f64, R1, C1>,
) -> Matrix<f64, OUT, IN> {
    const {
        assert!(OUT == R2 * C2, "the Jacobian has one row per output entry");
        assert!(IN == R1 * C1, "the Jacobian has one column per input entry");
    };
    let mut probe = x.clone();
    let mut jac = Matrix::<f64, OUT, IN>::zeros();
    for q in 0..IN {
        let original = x.as_slice()[q];
        let h = DEFAULT_STEP * original.abs().max(1.0);
        probe.as_mut_slice()[q] = original + h;
        let up = f(&probe);
        probe.as_mut_slice()[q] = original - h;
        let down = f(&probe);
        probe.as_mut_slice()[q] = original;
        for (p, (&u, &d)) in up.as_slice().iter().zip(down.as_slice()).enumerate() {
            jac[(p, q)] = (u - d) / (2.0 * h);
        }
    }
    jac
}
