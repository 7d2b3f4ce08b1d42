//! Products and reductions of [`Matrix`]: the operations the rules need.
//!
//! Every product has an allocating form (a method returning a new matrix) and
//! an `_into` form that overwrites an output you own, and an `_acc` form that
//! adds to it; the generated networks use the last two so a training step
//! allocates nothing. Transposed operands are never materialised.

use crate::{Matrix, RowVector, Scalar};

impl<T: Scalar, const R: usize, const K: usize> Matrix<T, R, K> {
    /// The product `A·B` (`R×K · K×C → R×C`).
    ///
    /// Covers `W·x` for a column vector `x` (`C = 1`) and `x·W` for a row
    /// vector `x` (`R = 1`).
    #[must_use]
    pub fn matmul<const C: usize>(&self, b: &Matrix<T, K, C>) -> Matrix<T, R, C> {
        let mut out = Matrix::zeros();
        matmul_into(self, b, &mut out);
        out
    }

    /// The product `A·Bᵀ` (`R×K · (C×K)ᵀ → R×C`), without forming `Bᵀ`.
    ///
    /// This is the dense forward pass `Z = X·Wᵀ` with weights stored out×in.
    ///
    /// ```
    /// use chainrule::Matrix;
    /// let x = Matrix::<f64, 1, 3>::from_rows([[1.0, 2.0, 3.0]]);
    /// let w = Matrix::<f64, 2, 3>::from_rows([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]);
    /// assert_eq!(x.matmul_t(&w), Matrix::from_rows([[1.0, 5.0]]));
    /// ```
    ///
    /// Both operands need the same number of columns:
    ///
    /// ```compile_fail
    /// use chainrule::Matrix;
    /// let x = Matrix::<f64, 8, 3>::zeros();
    /// let w = Matrix::<f64, 3, 2>::zeros(); // should be out×in = 2×3
    /// let _ = x.matmul_t(&w);
    /// ```
    #[must_use]
    pub fn matmul_t<const C: usize>(&self, b: &Matrix<T, C, K>) -> Matrix<T, R, C> {
        let mut out = Matrix::zeros();
        matmul_t_into(self, b, &mut out);
        out
    }
}

impl<T: Scalar, const K: usize, const R: usize> Matrix<T, K, R> {
    /// The product `Aᵀ·B` (`(K×R)ᵀ · K×C → R×C`), without forming `Aᵀ`.
    ///
    /// This is the weight gradient of a batch, `∂l/∂W = (∂l/∂Z)ᵀ·X` (rule 5).
    ///
    /// ```
    /// use chainrule::Matrix;
    /// let dz = Matrix::<f64, 2, 1>::from_rows([[1.0], [2.0]]);
    /// let x = Matrix::<f64, 2, 2>::from_rows([[1.0, 0.0], [3.0, 1.0]]);
    /// assert_eq!(dz.t_matmul(&x), Matrix::from_rows([[7.0, 2.0]]));
    /// ```
    ///
    /// Both operands need the same number of rows:
    ///
    /// ```compile_fail
    /// use chainrule::Matrix;
    /// let dz = Matrix::<f64, 8, 2>::zeros();
    /// let x = Matrix::<f64, 4, 3>::zeros(); // 4 rows, not 8
    /// let _ = dz.t_matmul(&x);
    /// ```
    #[must_use]
    pub fn t_matmul<const C: usize>(&self, b: &Matrix<T, K, C>) -> Matrix<T, R, C> {
        let mut out = Matrix::zeros();
        t_matmul_into(self, b, &mut out);
        out
    }
}

/// `out = A·B` (`R×K · K×C`).
///
/// ```compile_fail
/// use chainrule::{ops, Matrix};
/// let a = Matrix::<f64, 2, 3>::zeros();
/// let b = Matrix::<f64, 3, 4>::zeros();
/// let mut out = Matrix::<f64, 4, 2>::zeros(); // the product is 2×4
/// ops::matmul_into(&a, &b, &mut out);
/// ```
#[inline]
pub fn matmul_into<T: Scalar, const R: usize, const K: usize, const C: usize>(
    a: &Matrix<T, R, K>,
    b: &Matrix<T, K, C>,
    out: &mut Matrix<T, R, C>,
) {
    T::gemm(
        R,
        C,
        K,
        a.as_slice(),
        false,
        b.as_slice(),
        false,
        out.as_mut_slice(),
        false,
    );
}

/// `out += A·B` (`R×K · K×C`).
#[inline]
pub fn matmul_acc<T: Scalar, const R: usize, const K: usize, const C: usize>(
    a: &Matrix<T, R, K>,
    b: &Matrix<T, K, C>,
    out: &mut Matrix<T, R, C>,
) {
    T::gemm(
        R,
        C,
        K,
        a.as_slice(),
        false,
        b.as_slice(),
        false,
        out.as_mut_slice(),
        true,
    );
}

/// `out = Aᵀ·B` (`(K×R)ᵀ · K×C`).
#[inline]
pub fn t_matmul_into<T: Scalar, const K: usize, const R: usize, const C: usize>(
    a: &Matrix<T, K, R>,
    b: &Matrix<T, K, C>,
    out: &mut Matrix<T, R, C>,
) {
    T::gemm(
        R,
        C,
        K,
        a.as_slice(),
        true,
        b.as_slice(),
        false,
        out.as_mut_slice(),
        false,
    );
}

/// `out += Aᵀ·B` (`(K×R)ᵀ · K×C`).
#[inline]
pub fn t_matmul_acc<T: Scalar, const K: usize, const R: usize, const C: usize>(
    a: &Matrix<T, K, R>,
    b: &Matrix<T, K, C>,
    out: &mut Matrix<T, R, C>,
) {
    T::gemm(
        R,
        C,
        K,
        a.as_slice(),
        true,
        b.as_slice(),
        false,
        out.as_mut_slice(),
        true,
    );
}

/// `out = A·Bᵀ` (`R×K · (C×K)ᵀ`).
#[inline]
pub fn matmul_t_into<T: Scalar, const R: usize, const K: usize, const C: usize>(
    a: &Matrix<T, R, K>,
    b: &Matrix<T, C, K>,
    out: &mut Matrix<T, R, C>,
) {
    T::gemm(
        R,
        C,
        K,
        a.as_slice(),
        false,
        b.as_slice(),
        true,
        out.as_mut_slice(),
        false,
    );
}

/// `out += A·Bᵀ` (`R×K · (C×K)ᵀ`).
#[inline]
pub fn matmul_t_acc<T: Scalar, const R: usize, const K: usize, const C: usize>(
    a: &Matrix<T, R, K>,
    b: &Matrix<T, C, K>,
    out: &mut Matrix<T, R, C>,
) {
    T::gemm(
        R,
        C,
        K,
        a.as_slice(),
        false,
        b.as_slice(),
        true,
        out.as_mut_slice(),
        true,
    );
}

/// `out = A·Bᵀ + 1·biasᵀ` (`R×K · (C×K)ᵀ`, `bias` one entry per column): a
/// dense layer's forward pass `Z = X·Wᵀ + 1·bᵀ`, the bias added as the
/// product writes `out` (one pass over `out`, not two).
///
/// ```
/// use chainrule::{ops, Matrix};
/// let x = Matrix::<f64, 1, 3>::from_rows([[1.0, 2.0, 3.0]]);
/// let w = Matrix::<f64, 2, 3>::from_rows([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]);
/// let b = Matrix::<f64, 1, 2>::from_rows([[0.5, -1.0]]);
/// let mut z = Matrix::zeros();
/// ops::matmul_t_bias_into(&x, &w, &b, &mut z);
/// assert_eq!(z, Matrix::from_rows([[1.5, 4.0]]));
/// ```
#[inline]
pub fn matmul_t_bias_into<T: Scalar, const R: usize, const K: usize, const C: usize>(
    a: &Matrix<T, R, K>,
    b: &Matrix<T, C, K>,
    bias: &RowVector<T, C>,
    out: &mut Matrix<T, R, C>,
) {
    crate::kernels::gemm_bias(
        R,
        C,
        K,
        a.as_slice(),
        false,
        b.as_slice(),
        true,
        bias.as_slice(),
        out.as_mut_slice(),
    );
}

/// `z = A·Bᵀ + 1·biasᵀ` and `a = relu(z)`: a dense layer followed by a relu,
/// both written as the product is stored (no second pass over `z`).
/// `relu(z)` is `z` for `z > 0` (and for NaN), else 0, as
/// [`Relu`](crate::activations::Relu).
///
/// ```
/// use chainrule::{ops, Matrix};
/// let x = Matrix::<f64, 1, 2>::from_rows([[1.0, 2.0]]);
/// let w = Matrix::<f64, 2, 2>::from_rows([[1.0, 0.0], [0.0, -1.0]]);
/// let b = Matrix::<f64, 1, 2>::from_rows([[0.5, 0.5]]);
/// let (mut z, mut a) = (Matrix::zeros(), Matrix::zeros());
/// ops::matmul_t_bias_relu_into(&x, &w, &b, &mut z, &mut a);
/// assert_eq!(z, Matrix::from_rows([[1.5, -1.5]]));
/// assert_eq!(a, Matrix::from_rows([[1.5, 0.0]]));
/// ```
#[inline]
pub fn matmul_t_bias_relu_into<T: Scalar, const R: usize, const K: usize, const C: usize>(
    a: &Matrix<T, R, K>,
    b: &Matrix<T, C, K>,
    bias: &RowVector<T, C>,
    z: &mut Matrix<T, R, C>,
    relu: &mut Matrix<T, R, C>,
) {
    crate::kernels::gemm_bias_relu(
        R,
        C,
        K,
        a.as_slice(),
        false,
        b.as_slice(),
        true,
        bias.as_slice(),
        z.as_mut_slice(),
        relu.as_mut_slice(),
    );
}

/// The outer product `x·yᵀ` of two column vectors (`M×1 · (N×1)ᵀ → M×N`).
#[must_use]
pub fn outer<T: Scalar, const M: usize, const N: usize>(
    x: &Matrix<T, M, 1>,
    y: &Matrix<T, N, 1>,
) -> Matrix<T, M, N> {
    Matrix::from_fn(|i, j| x.as_slice()[i] * y.as_slice()[j])
}

/// `z ← z + 1·bᵀ`: adds the row vector `b` to every row of `z` (the bias of a
/// dense layer on a batch).
#[inline]
pub fn add_row_broadcast<T: Scalar, const B: usize, const N: usize>(
    z: &mut Matrix<T, B, N>,
    bias: &RowVector<T, N>,
) {
    let bias = bias.row(0);
    for row in z.rows_mut() {
        for (z, &b) in row.iter_mut().zip(bias) {
            *z += b;
        }
    }
}

/// `out = 1ᵀ·A`: the sum of each column, a row vector. This is the gradient
/// of a bias added to every row: `∂l/∂b = 1ᵀ·∂l/∂Z`.
#[inline]
pub fn column_sums_into<T: Scalar, const B: usize, const N: usize>(
    a: &Matrix<T, B, N>,
    out: &mut RowVector<T, N>,
) {
    out.fill(T::ZERO);
    column_sums_acc(a, out);
}

/// `out += 1ᵀ·A` (see [`column_sums_into`]).
#[inline]
pub fn column_sums_acc<T: Scalar, const B: usize, const N: usize>(
    a: &Matrix<T, B, N>,
    out: &mut RowVector<T, N>,
) {
    let sums = out.row_mut(0);
    for row in a.rows() {
        for (s, &x) in sums.iter_mut().zip(row) {
            *s += x;
        }
    }
}

impl<T: Scalar, const B: usize, const N: usize> Matrix<T, B, N> {
    /// `1ᵀ·A`: the sum of each column, as a row vector.
    #[must_use]
    pub fn column_sums(&self) -> RowVector<T, N> {
        let mut out = Matrix::zeros();
        column_sums_into(self, &mut out);
        out
    }

    /// `A + 1·bᵀ`: the row vector `b` added to every row.
    ///
    /// ```compile_fail
    /// use chainrule::Matrix;
    /// let z = Matrix::<f64, 4, 3>::zeros();
    /// let b = Matrix::<f64, 1, 4>::zeros(); // one bias per column: 3, not 4
    /// let _ = z.add_row(&b);
    /// ```
    #[must_use]
    pub fn add_row(&self, bias: &RowVector<T, N>) -> Self {
        let mut out = self.clone();
        add_row_broadcast(&mut out, bias);
        out
    }
}

/// `c = a + b`, elementwise.
#[inline]
pub fn add_into<T: Scalar, const B: usize, const N: usize>(
    a: &Matrix<T, B, N>,
    b: &Matrix<T, B, N>,
    c: &mut Matrix<T, B, N>,
) {
    let out = c.as_mut_slice().iter_mut();
    for (o, (&x, &y)) in out.zip(a.as_slice().iter().zip(b.as_slice())) {
        *o = x + y;
    }
}

/// `c = a ⊗ b`, elementwise.
#[inline]
pub fn hadamard_into<T: Scalar, const B: usize, const N: usize>(
    a: &Matrix<T, B, N>,
    b: &Matrix<T, B, N>,
    c: &mut Matrix<T, B, N>,
) {
    let out = c.as_mut_slice().iter_mut();
    for (o, (&x, &y)) in out.zip(a.as_slice().iter().zip(b.as_slice())) {
        *o = x * y;
    }
}

/// The columns `FROM ..` of a matrix, as one part of a concatenation
/// `whole = concat(…, part, …)` (the part's width gives the end): the
/// forward pass places each part, the backward pass takes each part's
/// gradient back out (`∂l/∂part` is those columns of `∂l/∂whole`: the
/// Jacobian of a concatenation selects them).
///
/// ```
/// use chainrule::{ops::Columns, Matrix};
/// let a = Matrix::<f64, 1, 2>::from_rows([[1.0, 2.0]]);
/// let b = Matrix::<f64, 1, 1>::from_rows([[3.0]]);
/// let mut c = Matrix::<f64, 1, 3>::zeros();
/// Columns::<0>::place(&a, &mut c);
/// Columns::<2>::place(&b, &mut c);
/// assert_eq!(c, Matrix::from_rows([[1.0, 2.0, 3.0]]));
/// let mut db = Matrix::<f64, 1, 1>::zeros();
/// Columns::<2>::take_into(&c, &mut db);
/// assert_eq!(db, b);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Columns<const FROM: usize>;

impl<const FROM: usize> Columns<FROM> {
    /// Writes `part` into columns `FROM .. FROM + N` of `whole`.
    #[inline]
    pub fn place<T: Scalar, const B: usize, const N: usize, const C: usize>(
        part: &Matrix<T, B, N>,
        whole: &mut Matrix<T, B, C>,
    ) {
        const { assert!(FROM + N <= C, "the part lies inside the concatenation") };
        for (row, src) in whole.rows_mut().zip(part.rows()) {
            row[FROM..FROM + N].copy_from_slice(src);
        }
    }

    /// `part = ` columns `FROM .. FROM + N` of `whole` (overwrites `part`).
    #[inline]
    pub fn take_into<T: Scalar, const B: usize, const N: usize, const C: usize>(
        whole: &Matrix<T, B, C>,
        part: &mut Matrix<T, B, N>,
    ) {
        const { assert!(FROM + N <= C, "the part lies inside the concatenation") };
        for (dst, row) in part.rows_mut().zip(whole.rows()) {
            dst.copy_from_slice(&row[FROM..FROM + N]);
        }
    }

    /// `part += ` columns `FROM .. FROM + N` of `whole`.
    #[inline]
    pub fn take_acc<T: Scalar, const B: usize, const N: usize, const C: usize>(
        whole: &Matrix<T, B, C>,
        part: &mut Matrix<T, B, N>,
    ) {
        const { assert!(FROM + N <= C, "the part lies inside the concatenation") };
        for (dst, row) in part.rows_mut().zip(whole.rows()) {
            for (d, &g) in dst.iter_mut().zip(&row[FROM..FROM + N]) {
                *d += g;
            }
        }
    }
}

/// `m ← factor·m` (a weighted loss term's gradient).
#[inline]
pub fn scale_in_place<T: Scalar, const B: usize, const N: usize>(
    factor: T,
    m: &mut Matrix<T, B, N>,
) {
    for v in m.as_mut_slice() {
        *v *= factor;
    }
}
