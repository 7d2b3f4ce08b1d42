//! The tensor-derivative rules 0 to 7 of backpropagation, one function each.
//!
//! Two forms are used. The *column form* stacks samples as columns,
//! `Y = W·X` (`W: M×N`, `X: N×B`, `Y: M×B`). The *row-batch form* is the one
//! the networks use: samples are rows and weights are out×in, so a dense layer
//! is `Z = X·Wᵀ + 1·bᵀ` (`X: B×N`, `W: M×N`, `Z: B×M`). The same rule reads
//! differently in each; both are given, with their shapes.
//!
//! | rule | column form | row-batch form |
//! | --- | --- | --- |
//! | 1 | `y = W·x` ⇒ `∂y/∂x = W` ([`rule1_jacobian_wx`]) | `z = x·Wᵀ` ⇒ `∂z/∂x = W` |
//! | 2 | | `y = x·W` ⇒ `∂y/∂x = Wᵀ` ([`rule2_jacobian_xw`]) |
//! | 3 | `y = W·x` ⇒ `∂l/∂W = ∂l/∂y · xᵀ` ([`rule3_weight_grad_wx`]) | `z = x·Wᵀ` ⇒ `∂l/∂W = (∂l/∂z)ᵀ · x` |
//! | 4 | | `y = x·W` ⇒ `∂l/∂W = xᵀ · ∂l/∂y` ([`rule4_weight_grad_xw`], [`rule4_weight_grad_batch`]) |
//! | 5 | `Y = W·X` ⇒ `∂l/∂W = ∂l/∂Y · Xᵀ` ([`rule5_weight_grad_col`]) | `Z = X·Wᵀ + 1·bᵀ` ⇒ `∂l/∂W = (∂l/∂Z)ᵀ · X` ([`rule5_weight_grad_into`]), `∂l/∂b = 1ᵀ · ∂l/∂Z` ([`bias_grad_into`]) |
//! | 6 | `Y = W·X` ⇒ `∂l/∂X = Wᵀ · ∂l/∂Y` ([`rule6_input_grad_col`]) | `Z = X·Wᵀ + 1·bᵀ` ⇒ `∂l/∂X = ∂l/∂Z · W` ([`rule6_input_grad_into`]) |
//! | 7 | `y = f(x)` ⇒ `∂l/∂x = ∂l/∂y ⊗ f′(x)` ([`rule7_elementwise_grad`]) | the same on a batch ([`rule7_activation_grad_into`]) |
//!
//! **Rule 0 (shape)** is a type, not a function: the gradient of the scalar
//! loss with respect to a `Matrix<T, R, C>` parameter is a `Matrix<T, R, C>`,
//! which is why every network's gradients struct has exactly the network's
//! fields and types. A gradient of the wrong shape does not compile:
//!
//! ```compile_fail
//! use chainrule::{rules, Matrix};
//! let dl_dy = Matrix::<f64, 3, 1>::zeros();
//! let x = Matrix::<f64, 5, 1>::zeros();
//! // W is 3×5, so its gradient is 3×5, never 5×3.
//! let dl_dw: Matrix<f64, 5, 3> = rules::rule3_weight_grad_wx(&dl_dy, &x);
//! ```
//!
//! ```compile_fail
//! use chainrule::{rules, Matrix};
//! let dl_dz = Matrix::<f64, 2, 3>::zeros(); // B = 2 rows, M = 3 outputs
//! let x = Matrix::<f64, 2, 5>::zeros(); // N = 5 inputs
//! let mut dl_dw = Matrix::<f64, 5, 3>::zeros(); // W is 3×5 (out×in)
//! rules::rule5_weight_grad_into(&dl_dz, &x, &mut dl_dw);
//! ```
//!
//! The backward pass of a dense layer with a sigmoid on a batch, rule by rule:
//!
//! ```
//! use chainrule::activations::{activate_into, Sigmoid};
//! use chainrule::{rules, Matrix};
//!
//! // Z = X·Wᵀ + 1·bᵀ, A = σ(Z): B = 2 rows, 3 inputs, 2 outputs.
//! let x = Matrix::<f64, 2, 3>::from_rows([[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]]);
//! let w = Matrix::<f64, 2, 3>::from_rows([[0.1, 0.2, 0.3], [-0.3, 0.0, 0.2]]);
//! let b = Matrix::<f64, 1, 2>::from_rows([[0.05, -0.05]]);
//! let z = x.matmul_t(&w).add_row(&b);
//! let mut a = Matrix::zeros();
//! activate_into::<Sigmoid, _, 2, 2>(&z, &mut a);
//!
//! let dl_da = Matrix::<f64, 2, 2>::filled(1.0); // l = Σ A
//! let mut dl_dz = Matrix::zeros();
//! rules::rule7_activation_grad_into::<Sigmoid, _, 2, 2>(&dl_da, &z, &a, &mut dl_dz);
//! let mut dl_dw = Matrix::<f64, 2, 3>::zeros(); // rule 0: the shape of W
//! rules::rule5_weight_grad_into(&dl_dz, &x, &mut dl_dw);
//! let mut dl_db = Matrix::<f64, 1, 2>::zeros();
//! rules::bias_grad_into(&dl_dz, &mut dl_db);
//! let mut dl_dx = Matrix::<f64, 2, 3>::zeros();
//! rules::rule6_input_grad_into(&dl_dz, &w, &mut dl_dx);
//!
//! // ∂l/∂b_j = Σ_rows σ′(z_ij)
//! let expected = (0..2).map(|i| a[(i, 0)] * (1.0 - a[(i, 0)])).sum::<f64>();
//! assert!((dl_db[(0, 0)] - expected).abs() < 1e-15);
//! ```

use crate::activations::{activation_backward_acc, activation_backward_into, Activation};
use crate::{ColVector, Matrix, RowVector, Scalar};

/// Rule 1: column vectors, `y = W·x` ⇒ `∂y/∂x = W`.
///
/// The Jacobian is `M×N`: one row per output `y_i`, one column per input
/// `x_j`, and entry `(i, j)` is `∂y_i/∂x_j = W_ij`.
#[must_use]
pub fn rule1_jacobian_wx<T: Scalar, const M: usize, const N: usize>(
    w: &Matrix<T, M, N>,
) -> Matrix<T, M, N> {
    w.clone()
}

/// Rule 2: row vectors, `y = x·W` (`x: 1×N`, `W: N×M`, `y: 1×M`) ⇒
/// `∂y/∂x = Wᵀ`, an `M×N` Jacobian (rows for `y`, columns for `x`).
#[must_use]
pub fn rule2_jacobian_xw<T: Scalar, const N: usize, const M: usize>(
    w: &Matrix<T, N, M>,
) -> Matrix<T, M, N> {
    w.transpose()
}

/// Rule 3: column vectors, `y = W·x` (`W: M×N`) ⇒ `∂l/∂W = ∂l/∂y · xᵀ`,
/// an outer product `M×1 · 1×N = M×N`, the shape of `W` (rule 0).
///
/// ```
/// use chainrule::{rules, Matrix};
/// let dl_dy = Matrix::<f64, 2, 1>::from_rows([[1.0], [-1.0]]);
/// let x = Matrix::<f64, 3, 1>::from_rows([[1.0], [2.0], [3.0]]);
/// let dl_dw = rules::rule3_weight_grad_wx(&dl_dy, &x);
/// assert_eq!(dl_dw, Matrix::from_rows([[1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]]));
/// ```
#[must_use]
pub fn rule3_weight_grad_wx<T: Scalar, const M: usize, const N: usize>(
    dl_dy: &ColVector<T, M>,
    x: &ColVector<T, N>,
) -> Matrix<T, M, N> {
    crate::ops::outer(dl_dy, x)
}

/// Rule 4: row vectors, `y = x·W` (`x: 1×N`, `W: N×M`) ⇒
/// `∂l/∂W = xᵀ · ∂l/∂y`, `N×1 · 1×M = N×M`, the shape of `W`.
#[must_use]
pub fn rule4_weight_grad_xw<T: Scalar, const N: usize, const M: usize>(
    x: &RowVector<T, N>,
    dl_dy: &RowVector<T, M>,
) -> Matrix<T, N, M> {
    x.t_matmul(dl_dy)
}

/// Rule 4 on a batch of rows: `Y = X·W` (`X: B×N`, `W: N×M`, `Y: B×M`) ⇒
/// `∂l/∂W = Xᵀ · ∂l/∂Y`, `N×B · B×M = N×M`, the shape of `W`; the sum over
/// the batch is inside the product. This is the least-squares gradient of
/// DESIGN.md §1: for `L = Σ (Ỹ − Y)²`, `∂L/∂W = Xᵀ · 2(Ỹ − Y)`.
///
/// ```
/// use chainrule::{rules, Matrix};
/// let x = Matrix::<f64, 2, 1>::from_rows([[1.0], [2.0]]);
/// let dl_dy = Matrix::<f64, 2, 1>::from_rows([[3.0], [4.0]]);
/// // 1·3 + 2·4
/// assert_eq!(rules::rule4_weight_grad_batch(&x, &dl_dy)[(0, 0)], 11.0);
/// ```
#[must_use]
pub fn rule4_weight_grad_batch<T: Scalar, const B: usize, const N: usize, const M: usize>(
    x: &Matrix<T, B, N>,
    dl_dy: &Matrix<T, B, M>,
) -> Matrix<T, N, M> {
    x.t_matmul(dl_dy)
}

/// Rule 5, column form: `Y = W·X` (`W: M×N`, `X: N×B`) ⇒
/// `∂l/∂W = ∂l/∂Y · Xᵀ`, `M×B · B×N = M×N`.
#[must_use]
pub fn rule5_weight_grad_col<T: Scalar, const M: usize, const N: usize, const B: usize>(
    dl_dy: &Matrix<T, M, B>,
    x: &Matrix<T, N, B>,
) -> Matrix<T, M, N> {
    dl_dy.matmul_t(x)
}

/// Rule 5, row-batch form: `Z = X·Wᵀ + 1·bᵀ` (`X: B×N`, `W: M×N`) ⇒
/// `∂l/∂W = (∂l/∂Z)ᵀ · X`, `M×B · B×N = M×N`; overwrites `dl_dw`.
/// The sum over the batch is inside the product.
#[inline]
pub fn rule5_weight_grad_into<T: Scalar, const B: usize, const M: usize, const N: usize>(
    dl_dz: &Matrix<T, B, M>,
    x: &Matrix<T, B, N>,
    dl_dw: &mut Matrix<T, M, N>,
) {
    crate::ops::t_matmul_into(dl_dz, x, dl_dw);
}

/// Rule 5, accumulated: `∂l/∂W += (∂l/∂Z)ᵀ · X`. A layer applied several
/// times (tied weights) collects the gradient of each application: its
/// weight feeds several operations, so by the sum rule its gradient is the
/// sum over them.
#[inline]
pub fn rule5_weight_grad_acc<T: Scalar, const B: usize, const M: usize, const N: usize>(
    dl_dz: &Matrix<T, B, M>,
    x: &Matrix<T, B, N>,
    dl_dw: &mut Matrix<T, M, N>,
) {
    crate::ops::t_matmul_acc(dl_dz, x, dl_dw);
}

/// The bias of the row-batch form: `Z = X·Wᵀ + 1·bᵀ` ⇒
/// `∂l/∂b = 1ᵀ · ∂l/∂Z`, the column sums (`1×B · B×M = 1×M`); overwrites
/// `dl_db`.
#[inline]
pub fn bias_grad_into<T: Scalar, const B: usize, const M: usize>(
    dl_dz: &Matrix<T, B, M>,
    dl_db: &mut RowVector<T, M>,
) {
    crate::ops::column_sums_into(dl_dz, dl_db);
}

/// [`bias_grad_into`], accumulated: `∂l/∂b += 1ᵀ · ∂l/∂Z`.
#[inline]
pub fn bias_grad_acc<T: Scalar, const B: usize, const M: usize>(
    dl_dz: &Matrix<T, B, M>,
    dl_db: &mut RowVector<T, M>,
) {
    crate::ops::column_sums_acc(dl_dz, dl_db);
}

/// Rule 6, column form: `Y = W·X` (`W: M×N`, `X: N×B`) ⇒
/// `∂l/∂X = Wᵀ · ∂l/∂Y`, `N×M · M×B = N×B`.
#[must_use]
pub fn rule6_input_grad_col<T: Scalar, const M: usize, const N: usize, const B: usize>(
    w: &Matrix<T, M, N>,
    dl_dy: &Matrix<T, M, B>,
) -> Matrix<T, N, B> {
    w.t_matmul(dl_dy)
}

/// Rule 6, row-batch form: `Z = X·Wᵀ + 1·bᵀ` (`X: B×N`, `W: M×N`) ⇒
/// `∂l/∂X = ∂l/∂Z · W`, `B×M · M×N = B×N`; overwrites `dl_dx`.
#[inline]
pub fn rule6_input_grad_into<T: Scalar, const B: usize, const M: usize, const N: usize>(
    dl_dz: &Matrix<T, B, M>,
    w: &Matrix<T, M, N>,
    dl_dx: &mut Matrix<T, B, N>,
) {
    crate::ops::matmul_into(dl_dz, w, dl_dx);
}

/// Rule 6, accumulated: `∂l/∂X += ∂l/∂Z · W`, for an `X` that feeds
/// several operations (the sum rule).
#[inline]
pub fn rule6_input_grad_acc<T: Scalar, const B: usize, const M: usize, const N: usize>(
    dl_dz: &Matrix<T, B, M>,
    w: &Matrix<T, M, N>,
    dl_dx: &mut Matrix<T, B, N>,
) {
    crate::ops::matmul_acc(dl_dz, w, dl_dx);
}

/// Rule 7: `y = f(x)` elementwise ⇒ `∂l/∂x = ∂l/∂y ⊗ f′(x)`, all of one
/// shape; the Jacobian is `diag(f′(x))`. Here `f′(x)` is given as a matrix.
#[must_use]
pub fn rule7_elementwise_grad<T: Scalar, const R: usize, const C: usize>(
    dl_dy: &Matrix<T, R, C>,
    f_prime_x: &Matrix<T, R, C>,
) -> Matrix<T, R, C> {
    dl_dy.hadamard(f_prime_x)
}

/// Rule 7 for an [`Activation`] `a = F(z)` on a batch, `B×N`:
/// `∂l/∂z = ∂l/∂a ⊗ F′(z)`; overwrites `dl_dz`.
#[inline]
pub fn rule7_activation_grad_into<F: Activation, T: Scalar, const B: usize, const N: usize>(
    dl_da: &Matrix<T, B, N>,
    z: &Matrix<T, B, N>,
    a: &Matrix<T, B, N>,
    dl_dz: &mut Matrix<T, B, N>,
) {
    activation_backward_into::<F, T, B, N>(dl_da, z, a, dl_dz);
}

/// Rule 7, accumulated: `∂l/∂z += ∂l/∂a ⊗ F′(z)`.
#[inline]
pub fn rule7_activation_grad_acc<F: Activation, T: Scalar, const B: usize, const N: usize>(
    dl_da: &Matrix<T, B, N>,
    z: &Matrix<T, B, N>,
    a: &Matrix<T, B, N>,
    dl_dz: &mut Matrix<T, B, N>,
) {
    activation_backward_acc::<F, T, B, N>(dl_da, z, a, dl_dz);
}

/// The sum rule for `c = a + b`: the Jacobian of a sum with respect to
/// either term is the identity, so `∂l/∂a = ∂l/∂c`; overwrites `dl_da`.
#[inline]
pub fn sum_grad_into<T: Scalar, const B: usize, const N: usize>(
    dl_dc: &Matrix<T, B, N>,
    dl_da: &mut Matrix<T, B, N>,
) {
    dl_da.as_mut_slice().copy_from_slice(dl_dc.as_slice());
}

/// [`sum_grad_into`], accumulated: `∂l/∂a += ∂l/∂c`.
#[inline]
pub fn sum_grad_acc<T: Scalar, const B: usize, const N: usize>(
    dl_dc: &Matrix<T, B, N>,
    dl_da: &mut Matrix<T, B, N>,
) {
    crate::kernels::axpy(T::ONE, dl_dc.as_slice(), dl_da.as_mut_slice());
}

/// Rule 7 for the elementwise product `c = a ⊗ b`: as a function of `a`
/// its Jacobian is `diag(b)`, so `∂l/∂a = ∂l/∂c ⊗ b`; overwrites `dl_da`.
#[inline]
pub fn product_grad_into<T: Scalar, const B: usize, const N: usize>(
    dl_dc: &Matrix<T, B, N>,
    other: &Matrix<T, B, N>,
    dl_da: &mut Matrix<T, B, N>,
) {
    let out = dl_da.as_mut_slice().iter_mut();
    for (o, (&g, &b)) in out.zip(dl_dc.as_slice().iter().zip(other.as_slice())) {
        *o = g * b;
    }
}

/// [`product_grad_into`], accumulated: `∂l/∂a += ∂l/∂c ⊗ b`.
#[inline]
pub fn product_grad_acc<T: Scalar, const B: usize, const N: usize>(
    dl_dc: &Matrix<T, B, N>,
    other: &Matrix<T, B, N>,
    dl_da: &mut Matrix<T, B, N>,
) {
    let out = dl_da.as_mut_slice().iter_mut();
    for (o, (&g, &b)) in out.zip(dl_dc.as_slice().iter().zip(other.as_slice())) {
        *o += g * b;
    }
}

/// The L2 penalty `λ·Σ w²` of a parameter tensor.
#[must_use]
pub fn l2_penalty<T: Scalar>(lambda: T, w: &[T]) -> T {
    lambda * w.iter().fold(T::ZERO, |acc, &v| acc + v * v)
}

/// The L2 penalty `λ·Σ w²` of a tensor, and its gradient `2λ·w` added to
/// `dl_dw` (after the loss's own gradient has been written there).
pub fn l2_penalty_acc<T: Scalar>(lambda: T, w: &[T], dl_dw: &mut [T]) -> T {
    crate::kernels::axpy(lambda + lambda, w, dl_dw);
    l2_penalty(lambda, w)
}
