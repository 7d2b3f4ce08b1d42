//! The fixed-size matrix type.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use alloc::{format, vec};
use core::fmt;
use core::mem::ManuallyDrop;
use core::ops::{Add, AddAssign, Index, IndexMut, Mul, Neg, Sub, SubAssign};

use crate::Scalar;

/// An `R × C` matrix of `T`, stored row-major on the heap.
///
/// Both dimensions are part of the type, so a product or a sum of matrices
/// whose shapes disagree does not compile. The entries live in one heap
/// allocation of exactly `R · C` values: a 784 × 128 matrix never touches the
/// stack, even in a debug build. Every operation that returns a new matrix
/// allocates; the `*_into` forms write into a matrix you already have and
/// allocate nothing.
///
/// A column vector is a `Matrix<T, N, 1>` ([`ColVector`]), a row vector a
/// `Matrix<T, 1, N>` ([`RowVector`]). A batch of `B` samples with `N` features
/// is a `Matrix<T, B, N>`: one sample per row.
///
/// ```
/// use chainrule::Matrix;
///
/// let a = Matrix::<f64, 2, 3>::from_rows([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
/// let b = Matrix::<f64, 3, 1>::from_rows([[1.0], [0.0], [-1.0]]);
/// let c = a.matmul(&b); // Matrix<f64, 2, 1>
/// assert_eq!(c[(0, 0)], -2.0);
/// assert_eq!(c[(1, 0)], -2.0);
/// ```
///
/// Shapes that do not fit are rejected by the compiler:
///
/// ```compile_fail
/// use chainrule::Matrix;
/// let a = Matrix::<f64, 2, 3>::zeros();
/// let b = Matrix::<f64, 2, 3>::zeros();
/// let _ = a.matmul(&b); // 2×3 · 2×3: inner dimensions 3 and 2 differ
/// ```
///
/// The same holds for sums, differences and elementwise products, which
/// need equal shapes:
///
/// ```compile_fail
/// use chainrule::Matrix;
/// let a = Matrix::<f64, 2, 3>::zeros();
/// let b = Matrix::<f64, 3, 2>::zeros();
/// let _ = &a + &b; // 2×3 + 3×2
/// ```
///
/// ```compile_fail
/// use chainrule::Matrix;
/// let a = Matrix::<f64, 2, 3>::zeros();
/// let b = Matrix::<f64, 2, 2>::zeros();
/// let _ = &a - &b; // 2×3 − 2×2
/// ```
///
/// ```compile_fail
/// use chainrule::Matrix;
/// let mut a = Matrix::<f64, 4, 1>::zeros();
/// a += &Matrix::<f64, 1, 4>::zeros(); // a column plus a row
/// ```
///
/// ```compile_fail
/// use chainrule::Matrix;
/// let a = Matrix::<f64, 2, 3>::zeros();
/// let _ = a.hadamard(&Matrix::<f64, 2, 4>::zeros()); // 2×3 ⊗ 2×4
/// ```
///
/// ```compile_fail
/// use chainrule::Matrix;
/// // Three rows given for a 2×2 matrix.
/// let _ = Matrix::<f64, 2, 2>::from_rows([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
/// ```
///
/// ```compile_fail
/// use chainrule::Matrix;
/// let a = Matrix::<f64, 2, 3>::zeros();
/// let _: Matrix<f64, 2, 3> = a.transpose(); // the transpose is 3×2
/// ```
#[derive(Clone, PartialEq)]
#[repr(transparent)]
pub struct Matrix<T, const R: usize, const C: usize> {
    /// Exactly `R · C` entries, row-major; freed by [`release`] in `drop`.
    data: ManuallyDrop<Box<[T]>>,
}

impl<T, const R: usize, const C: usize> Drop for Matrix<T, R, C> {
    #[inline]
    fn drop(&mut self) {
        release(&mut self.data);
    }
}

/// Frees a matrix's entries: one out-of-line call per matrix, so that the
/// drop of a network's workspace (a hundred matrices at 32 layers) is a
/// hundred calls rather than a hundred inlined deallocations for LLVM to
/// optimise in every crate that declares a network. The C ABI tells rustc
/// that the call cannot unwind (the entries are `Scalar`s, whose drop does
/// nothing, and a deallocation does not panic), so the drop of a struct of
/// matrices has no unwinding path per field either.
#[inline(never)]
extern "C" fn release<T>(data: &mut ManuallyDrop<Box<[T]>>) {
    // SAFETY: called only from `Matrix::drop`, once; the matrix, and so
    // `data`, is not used after.
    unsafe { ManuallyDrop::drop(data) }
}

/// A column vector: an `N × 1` matrix.
pub type ColVector<T, const N: usize> = Matrix<T, N, 1>;
/// A row vector: a `1 × N` matrix.
pub type RowVector<T, const N: usize> = Matrix<T, 1, N>;

/// A slice or vector whose length does not fit the matrix it was meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthMismatch {
    /// The number of entries the matrix needs (`R · C`).
    pub expected: usize,
    /// The number of entries given.
    pub found: usize,
}

impl fmt::Display for LengthMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expected {} entries for the matrix, found {}",
            self.expected, self.found
        )
    }
}

#[cfg(feature = "std")]
impl std::error::Error for LengthMismatch {}

impl<T: Scalar, const R: usize, const C: usize> Matrix<T, R, C> {
    /// Number of rows, `R`.
    pub const ROWS: usize = R;
    /// Number of columns, `C`.
    pub const COLS: usize = C;
    /// Number of entries, `R · C`.
    pub const LEN: usize = R * C;

    /// The matrix of zeros.
    #[must_use]
    pub fn zeros() -> Self {
        Self::filled(T::ZERO)
    }

    /// The matrix with every entry equal to `value`.
    #[must_use]
    #[inline(never)]
    pub fn filled(value: T) -> Self {
        Self {
            data: ManuallyDrop::new(vec![value; R * C].into_boxed_slice()),
        }
    }

    /// The matrix whose entry `(i, j)` is `f(i, j)`.
    #[must_use]
    pub fn from_fn(mut f: impl FnMut(usize, usize) -> T) -> Self {
        let mut data = Vec::with_capacity(R * C);
        for i in 0..R {
            for j in 0..C {
                data.push(f(i, j));
            }
        }
        Self {
            data: ManuallyDrop::new(data.into_boxed_slice()),
        }
    }

    /// The matrix with these rows.
    ///
    /// The argument is an array on the stack: for large matrices prefer
    /// [`from_fn`](Self::from_fn) or [`from_vec`](Self::from_vec).
    #[must_use]
    pub fn from_rows(rows: [[T; C]; R]) -> Self {
        Self::from_fn(|i, j| rows[i][j])
    }

    /// The matrix with these row-major entries, or an error when there are not
    /// exactly `R · C` of them.
    pub fn from_slice(entries: &[T]) -> Result<Self, LengthMismatch> {
        Self::from_vec(entries.to_vec())
    }

    /// The matrix owning these row-major entries (no copy), or an error when
    /// there are not exactly `R · C` of them.
    pub fn from_vec(entries: Vec<T>) -> Result<Self, LengthMismatch> {
        if entries.len() == R * C {
            Ok(Self {
                data: ManuallyDrop::new(entries.into_boxed_slice()),
            })
        } else {
            Err(LengthMismatch {
                expected: R * C,
                found: entries.len(),
            })
        }
    }

    /// The entries, row-major (`R · C` of them).
    #[inline(always)]
    #[must_use]
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// The entries, row-major, mutable.
    #[inline(always)]
    #[must_use]
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// The entries as a `Vec`, row-major.
    #[must_use]
    pub fn into_vec(self) -> Vec<T> {
        let mut matrix = ManuallyDrop::new(self);
        // SAFETY: `matrix` is never dropped (it is `ManuallyDrop`) nor used
        // after its entries are taken, so they are taken once and not freed.
        unsafe { ManuallyDrop::take(&mut matrix.data) }.into_vec()
    }

    /// The entry at row `i`, column `j`, or `None` outside the matrix.
    #[inline]
    #[must_use]
    pub fn get(&self, i: usize, j: usize) -> Option<T> {
        if i < R && j < C {
            Some(self.data[i * C + j])
        } else {
            None
        }
    }

    /// Row `i` as an array.
    ///
    /// # Panics
    /// When `i >= R`.
    #[inline(always)]
    #[must_use]
    pub fn row(&self, i: usize) -> &[T; C] {
        let row = &self.data[i * C..(i + 1) * C];
        // ok: the slice has exactly C entries.
        row.try_into().expect("row has C entries")
    }

    /// Row `i` as a mutable array.
    ///
    /// # Panics
    /// When `i >= R`.
    #[inline(always)]
    #[must_use]
    pub fn row_mut(&mut self, i: usize) -> &mut [T; C] {
        let row = &mut self.data[i * C..(i + 1) * C];
        row.try_into().expect("row has C entries")
    }

    /// All the rows as one array, for loops whose every bound is a
    /// constant (no bounds checks, fully unrollable).
    #[inline(always)]
    pub(crate) fn as_rows(&self) -> &[[T; C]; R] {
        assert_eq!(self.data.len(), R * C, "a matrix holds R·C entries");
        // SAFETY: `data` holds exactly R·C entries of T (asserted; it is
        // the type's invariant, so the check folds away), and `[[T; C]; R]`
        // is R·C consecutive T with T's alignment.
        unsafe { &*self.data.as_ptr().cast::<[[T; C]; R]>() }
    }

    /// [`Matrix::as_rows`], mutable.
    #[inline(always)]
    pub(crate) fn as_rows_mut(&mut self) -> &mut [[T; C]; R] {
        assert_eq!(self.data.len(), R * C, "a matrix holds R·C entries");
        // SAFETY: as in `as_rows`; `&mut self` makes the borrow unique.
        unsafe { &mut *self.data.as_mut_ptr().cast::<[[T; C]; R]>() }
    }

    /// The rows, top to bottom.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[T; C]> + '_ {
        self.data
            .chunks_exact(C.max(1))
            .take(R)
            .map(|row| row.try_into().expect("row has C entries"))
    }

    /// The rows, top to bottom, mutable.
    pub fn rows_mut(&mut self) -> impl ExactSizeIterator<Item = &mut [T; C]> + '_ {
        self.data
            .chunks_exact_mut(C.max(1))
            .take(R)
            .map(|row| row.try_into().expect("row has C entries"))
    }

    /// Column `j` as a column vector.
    ///
    /// # Panics
    /// When `j >= C`.
    #[must_use]
    pub fn column(&self, j: usize) -> ColVector<T, R> {
        assert!(j < C, "column {j} of a matrix with {C} columns");
        Matrix::from_fn(|i, _| self.data[i * C + j])
    }

    /// The transpose, `C × R`.
    #[must_use]
    pub fn transpose(&self) -> Matrix<T, C, R> {
        Matrix::from_fn(|i, j| self.data[j * C + i])
    }

    /// Sets every entry to `value`.
    #[inline]
    pub fn fill(&mut self, value: T) {
        self.data.fill(value);
    }

    /// Copies the entries of `other` into `self`.
    #[inline]
    pub fn copy_from(&mut self, other: &Self) {
        self.data.copy_from_slice(&other.data);
    }

    /// A new matrix with `f` applied to every entry.
    #[must_use]
    pub fn map(&self, mut f: impl FnMut(T) -> T) -> Self {
        let mut out = self.clone();
        out.data.iter_mut().for_each(|x| *x = f(*x));
        out
    }

    /// Applies `f` to every entry in place.
    #[inline]
    pub fn map_in_place(&mut self, mut f: impl FnMut(T) -> T) {
        self.data.iter_mut().for_each(|x| *x = f(*x));
    }

    /// A new matrix whose entries are `f(self[i, j], other[i, j])`.
    #[must_use]
    pub fn zip_map(&self, other: &Self, mut f: impl FnMut(T, T) -> T) -> Self {
        let mut out = self.clone();
        for (x, &y) in out.data.iter_mut().zip(other.data.iter()) {
            *x = f(*x, y);
        }
        out
    }

    /// Writes `f(a[i, j], b[i, j])` into `self`.
    #[inline]
    pub fn zip_map_into(&mut self, a: &Self, b: &Self, mut f: impl FnMut(T, T) -> T) {
        for ((out, &x), &y) in self.data.iter_mut().zip(a.data.iter()).zip(b.data.iter()) {
            *out = f(x, y);
        }
    }

    /// The elementwise (Hadamard) product `self ⊗ other`.
    #[must_use]
    pub fn hadamard(&self, other: &Self) -> Self {
        self.zip_map(other, |x, y| x * y)
    }

    /// `self · factor`.
    #[must_use]
    pub fn scale(&self, factor: T) -> Self {
        self.map(|x| x * factor)
    }

    /// `self ← self · factor`.
    #[inline]
    pub fn scale_in_place(&mut self, factor: T) {
        self.map_in_place(|x| x * factor);
    }

    /// `self ← self + alpha · other` (an axpy).
    #[inline]
    pub fn add_scaled(&mut self, alpha: T, other: &Self) {
        crate::kernels::axpy(alpha, &other.data, &mut self.data);
    }

    /// The sum of all entries.
    #[must_use]
    pub fn sum(&self) -> T {
        self.data.iter().fold(T::ZERO, |acc, &x| acc + x)
    }

    /// The Frobenius norm, √(Σ x²).
    #[must_use]
    pub fn norm(&self) -> T {
        self.data.iter().fold(T::ZERO, |acc, &x| acc + x * x).sqrt()
    }

    /// The largest |self[i, j] − other[i, j]|; NaN if any entry is NaN.
    #[must_use]
    pub fn max_abs_diff(&self, other: &Self) -> T {
        let mut worst = T::ZERO;
        for (&x, &y) in self.data.iter().zip(other.data.iter()) {
            let d = (x - y).abs();
            if d.is_nan() {
                return d;
            }
            worst = worst.max(d);
        }
        worst
    }

    /// True when every entry satisfies |a − b| ≤ tol · max(1, |a|, |b|):
    /// an absolute tolerance near zero, a relative one for large entries.
    /// NaN is never approximately equal to anything.
    #[must_use]
    pub fn approx_eq(&self, other: &Self, tol: T) -> bool {
        self.data.iter().zip(other.data.iter()).all(|(&a, &b)| {
            let scale = T::ONE.max(a.abs()).max(b.abs());
            (a - b).abs() <= tol * scale
        })
    }

    /// True when no entry is NaN or infinite.
    #[must_use]
    pub fn is_finite(&self) -> bool {
        self.data.iter().all(|x| x.is_finite())
    }

    /// Converts every entry to another scalar type.
    #[must_use]
    pub fn cast<U: Scalar>(&self) -> Matrix<U, R, C> {
        Matrix {
            data: ManuallyDrop::new(self.data.iter().map(|x| U::from_f64(x.to_f64())).collect()),
        }
    }
}

impl<T: Scalar, const N: usize> Matrix<T, N, N> {
    /// The identity matrix.
    #[must_use]
    pub fn identity() -> Self {
        Self::from_fn(|i, j| if i == j { T::ONE } else { T::ZERO })
    }
}

impl<T: Scalar, const R: usize, const C: usize> Default for Matrix<T, R, C> {
    fn default() -> Self {
        Self::zeros()
    }
}

impl<T: Scalar, const R: usize, const C: usize> Index<(usize, usize)> for Matrix<T, R, C> {
    type Output = T;

    /// The entry at `(row, column)`.
    ///
    /// # Panics
    /// When the index is outside the matrix.
    #[inline(always)]
    fn index(&self, (i, j): (usize, usize)) -> &T {
        assert!(i < R && j < C, "index ({i}, {j}) outside a {R}×{C} matrix");
        &self.data[i * C + j]
    }
}

impl<T: Scalar, const R: usize, const C: usize> IndexMut<(usize, usize)> for Matrix<T, R, C> {
    /// The entry at `(row, column)`, mutable.
    ///
    /// # Panics
    /// When the index is outside the matrix.
    #[inline(always)]
    fn index_mut(&mut self, (i, j): (usize, usize)) -> &mut T {
        assert!(i < R && j < C, "index ({i}, {j}) outside a {R}×{C} matrix");
        &mut self.data[i * C + j]
    }
}

impl<T: Scalar, const R: usize, const C: usize> Add for &Matrix<T, R, C> {
    type Output = Matrix<T, R, C>;
    fn add(self, rhs: Self) -> Matrix<T, R, C> {
        self.zip_map(rhs, |x, y| x + y)
    }
}

impl<T: Scalar, const R: usize, const C: usize> Sub for &Matrix<T, R, C> {
    type Output = Matrix<T, R, C>;
    fn sub(self, rhs: Self) -> Matrix<T, R, C> {
        self.zip_map(rhs, |x, y| x - y)
    }
}

impl<T: Scalar, const R: usize, const C: usize> Neg for &Matrix<T, R, C> {
    type Output = Matrix<T, R, C>;
    fn neg(self) -> Matrix<T, R, C> {
        self.map(|x| -x)
    }
}

impl<T: Scalar, const R: usize, const C: usize> AddAssign<&Matrix<T, R, C>> for Matrix<T, R, C> {
    fn add_assign(&mut self, rhs: &Matrix<T, R, C>) {
        for (x, &y) in self.data.iter_mut().zip(rhs.data.iter()) {
            *x += y;
        }
    }
}

impl<T: Scalar, const R: usize, const C: usize> SubAssign<&Matrix<T, R, C>> for Matrix<T, R, C> {
    fn sub_assign(&mut self, rhs: &Matrix<T, R, C>) {
        for (x, &y) in self.data.iter_mut().zip(rhs.data.iter()) {
            *x -= y;
        }
    }
}

impl<T: Scalar, const R: usize, const K: usize, const C: usize> Mul<&Matrix<T, K, C>>
    for &Matrix<T, R, K>
{
    type Output = Matrix<T, R, C>;
    /// The matrix product, as [`Matrix::matmul`].
    fn mul(self, rhs: &Matrix<T, K, C>) -> Matrix<T, R, C> {
        self.matmul(rhs)
    }
}

/// Shows the matrix as rows of aligned columns, with its shape:
///
/// ```text
/// Matrix 2×3
/// [ 1.0000  2.0000  3.0000 ]
/// [ 4.0000  5.0000  6.0000 ]
/// ```
///
/// The precision (`{:.2}`) applies to each entry; the default is 4 digits.
/// Large matrices show their first and last rows and columns only.
impl<T: Scalar, const R: usize, const C: usize> fmt::Display for Matrix<T, R, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let precision = f.precision().unwrap_or(4);
        self.fmt_grid(f, &|x| format!("{x:.precision$}"))
    }
}

/// Like [`Display`](fmt::Display), in scientific notation (`{:e}`, `{:.2e}`;
/// the default is 3 digits after the point): for matrices of errors or of
/// entries of very different sizes.
///
/// ```
/// use chainrule::Matrix;
/// let m = Matrix::<f64, 1, 2>::from_rows([[1234.5, -0.000123]]);
/// assert_eq!(format!("{m:.1e}"), "Matrix 1×2\n[   1.2e3 -1.2e-4 ]");
/// ```
impl<T: Scalar, const R: usize, const C: usize> fmt::LowerExp for Matrix<T, R, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let precision = f.precision().unwrap_or(3);
        self.fmt_grid(f, &|x| format!("{:.precision$e}", x.to_f64()))
    }
}

impl<T: Scalar, const R: usize, const C: usize> Matrix<T, R, C> {
    /// Writes the shape, then the rows of cells right-aligned to the widest,
    /// eliding the middle rows and columns of large matrices.
    fn fmt_grid(&self, f: &mut fmt::Formatter<'_>, show: &dyn Fn(T) -> String) -> fmt::Result {
        const EDGE: usize = 4;
        let shown = |n: usize| -> Vec<Option<usize>> {
            if n <= 2 * EDGE + 1 {
                (0..n).map(Some).collect()
            } else {
                (0..EDGE)
                    .map(Some)
                    .chain(core::iter::once(None))
                    .chain((n - EDGE..n).map(Some))
                    .collect()
            }
        };
        let (rows, cols) = (shown(R), shown(C));
        let cell = |i: usize, j: Option<usize>| match j {
            Some(j) => show(self.data[i * C + j]),
            None => "…".to_string(),
        };
        let width = rows
            .iter()
            .flatten()
            .flat_map(|&i| cols.iter().map(move |&j| (i, j)))
            .map(|(i, j)| cell(i, j).chars().count())
            .max()
            .unwrap_or(1);
        writeln!(f, "Matrix {R}×{C}")?;
        for (n, i) in rows.iter().enumerate() {
            write!(f, "[")?;
            for j in &cols {
                match i {
                    Some(i) => write!(f, " {:>width$}", cell(*i, *j))?,
                    None => write!(f, " {:>width$}", "⋮")?,
                }
            }
            write!(f, " ]")?;
            if n + 1 < rows.len() {
                writeln!(f)?;
            }
        }
        Ok(())
    }
}

/// Like [`Display`](fmt::Display), full precision: the matrix as rows.
impl<T: Scalar, const R: usize, const C: usize> fmt::Debug for Matrix<T, R, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Matrix<{R}, {C}> [")?;
        for (n, row) in self.rows().enumerate() {
            if n > 0 {
                write!(f, ",")?;
            }
            write!(f, "\n    {row:?}")?;
        }
        write!(f, "\n]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Under Miri (CI runs the library's tests there), a leak or a double
    // free of the entries that `Matrix` frees by hand fails this test.
    #[test]
    fn entries_are_freed_once_and_move_out_whole() {
        let m = Matrix::<f64, 2, 3>::from_fn(|i, j| (i * 3 + j) as f64);
        let copy = m.clone();
        let entries = m.into_vec();
        assert_eq!(entries, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(copy.as_slice(), &entries[..]);
        let narrowed: Matrix<f32, 2, 3> = copy.cast();
        assert_eq!(narrowed.as_slice()[5], 5.0);
        assert!(Matrix::<f32, 0, 4>::zeros().into_vec().is_empty());
        let reread = Matrix::<f64, 2, 3>::from_vec(entries).expect("six entries");
        assert_eq!(reread.get(1, 2), Some(5.0));
    }
}
