//! A dense layer's three products, each by whichever of the small forms
//! ([`crate::small`]) and the matrix-product kernels is faster for its
//! shape and batch size: the measured cost model of [`pays`].
//!
//! The generated code of every dense layer that [`covers`] accepts calls
//! these functions; all their dimensions are constants, so each choice is
//! made when the code is compiled and the other path is removed. Larger
//! layers call the kernels directly.

use crate::activations::{activate_into, Activation};
use crate::matrix::{Matrix, RowVector};
use crate::scalar::Scalar;
use crate::{ops, rules, small};

/// Layers of more weights never take the small forms: the forms keep the
/// weights (or their gradient) in local arrays, which must stay small.
pub const MAX_WEIGHTS: usize = 1024;

/// With one batch row, the gradient products take the small forms for
/// layers of up to this many inputs and outputs, whatever their weight
/// count: over one row those forms keep only row-sized arrays.
pub const MAX_ONE_ROW_DIM: usize = 512;

/// Whether [`pays`] may choose a small form for some product of a layer
/// `inputs` → `outputs` at some batch size: the layers whose generated code
/// calls this module.
///
/// ```
/// use chainrule::dense::covers;
/// assert!(covers(32, 32));
/// assert!(covers(256, 128), "its gradients over one row");
/// assert!(!covers(784, 128));
/// ```
#[must_use]
pub const fn covers(inputs: usize, outputs: usize) -> bool {
    inputs.saturating_mul(outputs) <= MAX_WEIGHTS
        || (inputs <= MAX_ONE_ROW_DIM && outputs <= MAX_ONE_ROW_DIM)
}

/// One of the three matrix products of a dense layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Product {
    /// `z = x·Wᵀ + 1·bᵀ`.
    Forward,
    /// Rule 5 and the bias: `∂l/∂W = (∂l/∂z)ᵀ·x`, `∂l/∂b = 1ᵀ·∂l/∂z`.
    WeightGrad,
    /// Rule 6: `∂l/∂x = ∂l/∂z·W`.
    InputGrad,
}

/// Whether the small form of `product` is faster than the kernels for a
/// batch of `batch` rows through a layer of `inputs` → `outputs`.
///
/// Measured product by product (`cargo bench --bench small_forms`: batches
/// 1–64 and dimensions 2–32, and one row through layers of 64–512; the
/// tables and the machine are in docs/benchmarks.md, "Small layers"):
/// - the weight gradient (rule 5 and the bias): up to [`MAX_WEIGHTS`]
///   (0.1–0.9 of the kernels' time: the kernels check, dispatch, pack and
///   tile a product whose every dimension is small), and over one row up to
///   [`MAX_ONE_ROW_DIM`] inputs and outputs (0.3–0.65);
/// - the input gradient (rule 6): up to [`MAX_WEIGHTS`], and over one row
///   up to 64 inputs (0.4–0.55; from 128 inputs 0.8–1.3, no gain);
/// - the forward product: up to [`MAX_WEIGHTS`] with at most 16 inputs, and
///   over two or three rows (one dot product per output and row) only up to
///   128 weights. Past 16 inputs the kernels' eight-lane dot products and
///   packed tiles win (32 inputs: up to 1.5–1.9×; one row through a
///   64–512-wide layer: 2–11×).
///
/// ```
/// use chainrule::dense::{pays, Product};
/// assert!(pays(Product::WeightGrad, 64, 16, 16));
/// assert!(!pays(Product::Forward, 64, 32, 32));
/// assert!(!pays(Product::InputGrad, 8, 784, 10), "more than MAX_WEIGHTS");
/// assert!(pays(Product::WeightGrad, 1, 256, 256), "one row");
/// assert!(!pays(Product::Forward, 1, 64, 64));
/// ```
#[must_use]
pub const fn pays(product: Product, batch: usize, inputs: usize, outputs: usize) -> bool {
    let weights = inputs.saturating_mul(outputs);
    let small = weights <= MAX_WEIGHTS;
    let one_row = batch == 1 && covers(inputs, outputs);
    match product {
        Product::WeightGrad => small || one_row,
        Product::InputGrad => small || (one_row && inputs <= 64),
        Product::Forward => small && inputs <= 16 && (batch == 1 || batch >= 4 || weights <= 128),
    }
}

/// `z = x·Wᵀ + 1·bᵀ` (no bias: `bias = None`).
///
/// ```
/// use chainrule::{dense, Matrix, RowVector};
/// let x = Matrix::<f64, 1, 2>::from_rows([[1.0, 2.0]]);
/// let w = Matrix::<f64, 3, 2>::from_rows([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]);
/// let b = RowVector::<f64, 3>::from_rows([[0.5, 0.5, 0.5]]);
/// let mut z = Matrix::zeros();
/// dense::forward(&x, &w, Some(&b), &mut z);
/// assert_eq!(z.row(0), &[1.5, 2.5, 3.5]);
/// ```
#[inline]
pub fn forward<T: Scalar, const B: usize, const IN: usize, const OUT: usize>(
    x: &Matrix<T, B, IN>,
    weight: &Matrix<T, OUT, IN>,
    bias: Option<&RowVector<T, OUT>>,
    z: &mut Matrix<T, B, OUT>,
) {
    if const { pays(Product::Forward, B, IN, OUT) } {
        small::forward(x, weight, bias, z);
    } else {
        by_kernels::forward(x, weight, bias, z);
    }
}

/// [`forward`], then `a = f(z)`: by [`small::forward_activate`] where the
/// small forward pays (`f` in its pass over the rows, or a vectorized `f`
/// such as tanh over the whole of `z` after it), else by the kernels, relu
/// in their store after a bias, any other `f` in a pass over `z` after the
/// product (reading `z`, writing `a`: no copy first).
#[inline]
pub fn forward_activate<
    F: Activation,
    T: Scalar,
    const B: usize,
    const IN: usize,
    const OUT: usize,
>(
    x: &Matrix<T, B, IN>,
    weight: &Matrix<T, OUT, IN>,
    bias: Option<&RowVector<T, OUT>>,
    z: &mut Matrix<T, B, OUT>,
    a: &mut Matrix<T, B, OUT>,
) {
    if const { pays(Product::Forward, B, IN, OUT) } {
        small::forward_activate::<F, T, B, IN, OUT>(x, weight, bias, z, a);
    } else {
        by_kernels::forward_activate::<F, T, B, IN, OUT>(x, weight, bias, z, a);
    }
}

/// Rule 5 and the bias gradient, written: `∂l/∂W = (∂l/∂z)ᵀ·x`,
/// `∂l/∂b = 1ᵀ·∂l/∂z`.
#[inline]
pub fn weight_grad<T: Scalar, const B: usize, const IN: usize, const OUT: usize>(
    dl_dz: &Matrix<T, B, OUT>,
    x: &Matrix<T, B, IN>,
    dl_dw: &mut Matrix<T, OUT, IN>,
    dl_db: Option<&mut RowVector<T, OUT>>,
) {
    if const { pays(Product::WeightGrad, B, IN, OUT) } {
        small::weight_grad(dl_dz, x, dl_dw, dl_db);
    } else {
        by_kernels::weight_grad(dl_dz, x, dl_dw, dl_db);
    }
}

/// Rule 6, written: `∂l/∂x = ∂l/∂z·W`.
#[inline]
pub fn input_grad<T: Scalar, const B: usize, const IN: usize, const OUT: usize>(
    dl_dz: &Matrix<T, B, OUT>,
    weight: &Matrix<T, OUT, IN>,
    dl_dx: &mut Matrix<T, B, IN>,
) {
    if const { pays(Product::InputGrad, B, IN, OUT) } {
        small::input_grad(dl_dz, weight, dl_dx);
    } else {
        rules::rule6_input_grad_into(dl_dz, weight, dl_dx);
    }
}

/// The products by the kernels: the branch of each function above where the
/// small form does not pay, and what [`small`] runs on an x86-64 CPU
/// without AVX2.
pub(crate) mod by_kernels {
    use super::*;

    /// `z = x·Wᵀ + 1·bᵀ` (no bias: `bias = None`).
    #[inline]
    pub(crate) fn forward<T: Scalar, const B: usize, const IN: usize, const OUT: usize>(
        x: &Matrix<T, B, IN>,
        weight: &Matrix<T, OUT, IN>,
        bias: Option<&RowVector<T, OUT>>,
        z: &mut Matrix<T, B, OUT>,
    ) {
        match bias {
            Some(bias) => ops::matmul_t_bias_into(x, weight, bias, z),
            None => ops::matmul_t_into(x, weight, z),
        }
    }

    /// [`forward`], then `a = f(z)`: relu in the kernels' store after a
    /// bias, any other `f` in a pass from `z` to `a`.
    #[inline]
    pub(crate) fn forward_activate<
        F: Activation,
        T: Scalar,
        const B: usize,
        const IN: usize,
        const OUT: usize,
    >(
        x: &Matrix<T, B, IN>,
        weight: &Matrix<T, OUT, IN>,
        bias: Option<&RowVector<T, OUT>>,
        z: &mut Matrix<T, B, OUT>,
        a: &mut Matrix<T, B, OUT>,
    ) {
        if let (Some(bias), true) = (bias, F::NAME.as_bytes() == b"relu") {
            ops::matmul_t_bias_relu_into(x, weight, bias, z, a);
        } else {
            forward(x, weight, bias, z);
            activate_into::<F, T, B, OUT>(z, a);
        }
    }

    /// Rule 5 and the bias gradient.
    #[inline]
    pub(crate) fn weight_grad<T: Scalar, const B: usize, const IN: usize, const OUT: usize>(
        dl_dz: &Matrix<T, B, OUT>,
        x: &Matrix<T, B, IN>,
        dl_dw: &mut Matrix<T, OUT, IN>,
        dl_db: Option<&mut RowVector<T, OUT>>,
    ) {
        rules::rule5_weight_grad_into(dl_dz, x, dl_dw);
        if let Some(dl_db) = dl_db {
            rules::bias_grad_into(dl_dz, dl_db);
        }
    }
}
