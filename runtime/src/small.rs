//! Fixed-size forms of small dense layers, for the generated code.
//!
//! A dense layer of a few dozen weights spends more time entering the
//! matrix-product kernels (checks, dispatch, tiling) than multiplying. These
//! forms take every dimension as a constant and work one batch row at a
//! time on arrays: LLVM unrolls the loops over `IN` and `OUT` and turns
//! each into a few vector operations, with the layer's weights held in
//! registers across the rows. The batch loop stays a loop.
//!
//! Each form is a generic function, so a network repeating one layer shape
//! compiles it once (its callers share the instance), and a network's
//! compile time grows with its number of distinct small shapes rather than
//! with its depth. [`crate::dense`] chooses, product by product, between
//! these forms and the kernels (its measured cost model), and
//! `#[chainrule(unroll = N)]` makes the generated code call these forms
//! directly for layers of at most N weights. The forms read the matrices in
//! place; only the forward pass over four or more rows copies the weights,
//! transposed, into a local array, and only for layers of at most 4096
//! weights (a larger layer takes the dot form), so that no weight-sized
//! array lands on the stack.
//!
//! Every form computes what its kernel counterpart computes, in the same
//! order of additions per entry (the bias first, then the inputs in order),
//! so the two agree to rounding.

use core::hint::black_box;

use crate::activations::Activation;
use crate::matrix::{Matrix, RowVector};
use crate::scalar::Scalar;

/// Layers with at least this many outputs run their forward pass in the
/// column form (`acc += x_i · W[:, i]`, `OUT`-wide vector operations);
/// narrower ones as one dot product per output.
const COLUMN_MIN_OUTPUTS: usize = 4;

/// Batches of fewer rows run the forward pass as dot products even when
/// the layer is wide: the column form first transposes the weights, which
/// costs more than it saves over one or two rows.
const COLUMN_MIN_ROWS: usize = 4;

/// The column form copies the weights, transposed, into a local array;
/// past this many weights (16 KiB of f32) the forward pass takes the dot
/// form instead, so that no weight-sized array lands on the stack even when
/// `#[chainrule(unroll = N)]` forces the small forms onto a large layer.
const COLUMN_MAX_WEIGHTS: usize = 4096;

/// How many batch rows the wide forms take at once: enough independent
/// accumulator vectors to cover the multiply-add latency (one row of a
/// 16-wide f32 layer is a chain of dependent multiply-adds on two
/// vectors), few enough that they stay in registers.
const fn rows_per_block(width: usize) -> usize {
    if width <= 16 {
        4
    } else if width <= 32 {
        2
    } else {
        1
    }
}

/// Calls `block` on every run of `R` consecutive rows of `x`, in order,
/// and returns the first row left over (`B − B mod R`). `black_box` on each
/// block keeps LLVM from vectorizing across the whole batch instead (8 rows
/// at a time, every weight broadcast to its own register and spilled, the
/// rows transposed through shuffles), so that each row is vectorized along
/// its own entries.
#[inline(always)]
fn full_blocks<T: Scalar, const R: usize, const B: usize, const C: usize>(
    x: &[[T; C]; B],
    mut block: impl FnMut(usize, [&[T; C]; R]),
) -> usize {
    let mut first = 0;
    while first + R <= B {
        block(first, black_box(core::array::from_fn(|k| &x[first + k])));
        first += R;
    }
    first
}

/// `acc_r = start + Σ_i x_r[i] · columns[i]` for every row `r` of a block:
/// `OUT`-wide vector multiply-adds, `R` independent chains.
#[inline(always)]
fn combine_columns<
    T: Scalar,
    const FUSED: bool,
    const R: usize,
    const IN: usize,
    const OUT: usize,
>(
    rows: [&[T; IN]; R],
    columns: &[[T; OUT]; IN],
    start: [T; OUT],
) -> [[T; OUT]; R] {
    let mut acc = [start; R];
    for (i, column) in columns.iter().enumerate() {
        for (acc_row, row) in acc.iter_mut().zip(&rows) {
            let xi = row[i];
            for (a, &w) in acc_row.iter_mut().zip(column) {
                *a = madd::<T, FUSED>(xi, w, *a);
            }
        }
    }
    acc
}

/// `z = x·Wᵀ + 1·bᵀ`; `store(r, row)` receives each row of `z`, in order.
#[inline(always)]
fn forward_rows<T: Scalar, const FUSED: bool, const B: usize, const IN: usize, const OUT: usize>(
    x: &Matrix<T, B, IN>,
    weight: &Matrix<T, OUT, IN>,
    bias: Option<&RowVector<T, OUT>>,
    mut store: impl FnMut(usize, [T; OUT]),
) {
    let start = bias.map_or([T::ZERO; OUT], |b| *b.row(0));
    let (x, weight) = (x.as_rows(), weight.as_rows());
    // Decided at compile time, so that a debug build does not reserve the
    // column array's stack either where the dot form runs.
    if const {
        OUT >= COLUMN_MIN_OUTPUTS
            && B >= COLUMN_MIN_ROWS
            && IN.saturating_mul(OUT) <= COLUMN_MAX_WEIGHTS
    } {
        let mut columns = [[T::ZERO; OUT]; IN];
        for (j, w_row) in weight.iter().enumerate() {
            for (column, &w) in columns.iter_mut().zip(w_row) {
                column[j] = w;
            }
        }
        let columns = &columns;
        macro_rules! blocks {
            ($r:literal) => {{
                let rest = full_blocks::<T, $r, B, IN>(x, |first, block| {
                    for (k, acc) in combine_columns::<T, FUSED, _, _, _>(block, columns, start)
                        .into_iter()
                        .enumerate()
                    {
                        store(first + k, acc);
                    }
                });
                for r in rest..B {
                    let [acc] =
                        combine_columns::<T, FUSED, _, _, _>([black_box(&x[r])], columns, start);
                    store(r, acc);
                }
            }};
        }
        match rows_per_block(OUT) {
            // Blocks of rows of four inputs come out 2-6× slower (measured:
            // LLVM shuffles the block as a tile); one row at a time does not.
            4 if IN == 4 => blocks!(1),
            4 => blocks!(4),
            2 => blocks!(2),
            _ => blocks!(1),
        }
    } else {
        for (r, x_row) in x.iter().enumerate() {
            let x_row = black_box(x_row);
            let mut acc = start;
            for (a, w_row) in acc.iter_mut().zip(weight) {
                for (&w, &xi) in w_row.iter().zip(x_row) {
                    *a = madd::<T, FUSED>(w, xi, *a);
                }
            }
            store(r, acc);
        }
    }
}

/// The body of [`forward`]; `FUSED`: multiply-adds in one rounding.
#[inline(always)]
fn forward_body<T: Scalar, const FUSED: bool, const B: usize, const IN: usize, const OUT: usize>(
    x: &Matrix<T, B, IN>,
    weight: &Matrix<T, OUT, IN>,
    bias: Option<&RowVector<T, OUT>>,
    z: &mut Matrix<T, B, OUT>,
) {
    let z = z.as_rows_mut();
    forward_rows::<T, FUSED, B, IN, OUT>(x, weight, bias, |r, acc| z[r] = acc);
}

/// The body of [`forward_activate`]; `FUSED`: multiply-adds in one rounding.
#[inline(always)]
fn forward_activate_body<
    F: Activation,
    T: Scalar,
    const FUSED: bool,
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
    let vectorized = F::VECTORIZED && B * OUT >= crate::activations::VECTORIZED_MIN_ENTRIES;
    {
        let (z, a) = (z.as_rows_mut(), a.as_rows_mut());
        forward_rows::<T, FUSED, B, IN, OUT>(x, weight, bias, |r, acc| {
            z[r] = acc;
            if !vectorized {
                let a_row = &mut a[r];
                *a_row = acc;
                for v in a_row.iter_mut() {
                    *v = F::apply(*v);
                }
            }
        });
    }
    if vectorized {
        F::apply_into(z.as_slice(), a.as_mut_slice());
    }
}

/// The body of [`weight_grad`]; `FUSED`: multiply-adds in one rounding.
#[inline(always)]
fn weight_grad_body<
    T: Scalar,
    const FUSED: bool,
    const B: usize,
    const IN: usize,
    const OUT: usize,
>(
    dl_dz: &Matrix<T, B, OUT>,
    x: &Matrix<T, B, IN>,
    dl_dw: &mut Matrix<T, OUT, IN>,
    dl_db: Option<&mut RowVector<T, OUT>>,
) {
    let (dl_dz, x, dw) = (dl_dz.as_rows(), x.as_rows(), dl_dw.as_rows_mut());
    // Rows of ∂l/∂W, `J` at a time: row j = Σ_b dl_dz[b][j] · x[b].
    macro_rules! blocks {
        ($j:literal) => {{
            let mut first = 0;
            while OUT - first >= $j {
                let rows = outer_sums::<T, FUSED, $j, B, OUT, IN>(dl_dz, first, x);
                for (k, row) in rows.into_iter().enumerate() {
                    dw[first + k] = row;
                }
                first += $j;
            }
            for j in first..OUT {
                let [row] = outer_sums::<T, FUSED, 1, B, OUT, IN>(dl_dz, j, x);
                dw[j] = row;
            }
        }};
    }
    match block_height::<T>(IN) {
        8 => blocks!(8),
        4 => blocks!(4),
        2 => blocks!(2),
        _ => blocks!(1),
    }
    if let Some(dl_db) = dl_db {
        let mut db = [T::ZERO; OUT];
        for d_row in dl_dz {
            for (g, &d) in db.iter_mut().zip(d_row) {
                *g += d;
            }
        }
        *dl_db.row_mut(0) = db;
    }
}

/// How many `width`-long accumulators a block of [`outer_sums`] keeps: as
/// many as fit in about 12 of the 16 vector registers (256-bit), at most 8.
const fn block_height<T>(width: usize) -> usize {
    let vectors = (width * core::mem::size_of::<T>()).div_ceil(32);
    if vectors <= 1 {
        8
    } else if vectors <= 3 {
        4
    } else if vectors <= 6 {
        2
    } else {
        1
    }
}

/// `acc_k = Σ_b a[b][first + k] · v[b]` for `k < J`: `J` rows of an outer
/// product summed over the batch, each a `LEN`-wide accumulator that stays
/// in registers through the batch loop (`J·⌈LEN/8⌉` independent chains).
#[inline(always)]
fn outer_sums<
    T: Scalar,
    const FUSED: bool,
    const J: usize,
    const B: usize,
    const A: usize,
    const LEN: usize,
>(
    a: &[[T; A]; B],
    first: usize,
    v: &[[T; LEN]; B],
) -> [[T; LEN]; J] {
    let mut acc = [[T::ZERO; LEN]; J];
    for (a_row, v_row) in a.iter().zip(v) {
        let (a_row, v_row) = black_box((a_row, v_row));
        for (k, acc_row) in acc.iter_mut().enumerate() {
            let coefficient = a_row[first + k];
            for (g, &value) in acc_row.iter_mut().zip(v_row) {
                *g = madd::<T, FUSED>(coefficient, value, *g);
            }
        }
    }
    acc
}

/// The body of [`input_grad`]; `FUSED`: multiply-adds in one rounding.
#[inline(always)]
fn input_grad_body<
    T: Scalar,
    const FUSED: bool,
    const B: usize,
    const IN: usize,
    const OUT: usize,
>(
    dl_dz: &Matrix<T, B, OUT>,
    weight: &Matrix<T, OUT, IN>,
    dl_dx: &mut Matrix<T, B, IN>,
) {
    let (dl_dz, rows, dx) = (dl_dz.as_rows(), weight.as_rows(), dl_dx.as_rows_mut());
    let zero = [T::ZERO; IN];
    macro_rules! blocks {
        ($r:literal) => {{
            let rest = full_blocks::<T, $r, B, OUT>(dl_dz, |first, block| {
                for (k, acc) in combine_columns::<T, FUSED, _, _, _>(block, rows, zero)
                    .into_iter()
                    .enumerate()
                {
                    dx[first + k] = acc;
                }
            });
            for r in rest..B {
                let [acc] =
                    combine_columns::<T, FUSED, _, _, _>([black_box(&dl_dz[r])], rows, zero);
                dx[r] = acc;
            }
        }};
    }
    match rows_per_block(IN) {
        4 => blocks!(4),
        2 => blocks!(2),
        _ => blocks!(1),
    }
}

/// Whether the forms run their AVX2 + FMA instances: the kernels' own
/// detection, asked once and cached.
#[cfg(chainrule_avx2)]
#[inline(always)]
fn has_avx2_fma() -> bool {
    crate::kernels::Backend::detected() == crate::kernels::Backend::Avx2Fma
}

/// `a · b + acc`, in one rounding when `FUSED` (the AVX2 + FMA instances).
#[inline(always)]
fn madd<T: Scalar, const FUSED: bool>(a: T, b: T, acc: T) -> T {
    if FUSED {
        a.fused_mul_add(b, acc)
    } else {
        acc + a * b
    }
}

/// `z = x·Wᵀ + 1·bᵀ` (no bias: `bias = None`).
///
/// ```
/// use chainrule::{small, Matrix, RowVector};
/// let x = Matrix::<f64, 1, 2>::from_rows([[1.0, 2.0]]);
/// let w = Matrix::<f64, 3, 2>::from_rows([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]);
/// let b = RowVector::<f64, 3>::from_rows([[0.5, 0.5, 0.5]]);
/// let mut z = Matrix::zeros();
/// small::forward(&x, &w, Some(&b), &mut z);
/// assert_eq!(z.row(0), &[1.5, 2.5, 3.5]);
/// ```
pub fn forward<T: Scalar, const B: usize, const IN: usize, const OUT: usize>(
    x: &Matrix<T, B, IN>,
    weight: &Matrix<T, OUT, IN>,
    bias: Option<&RowVector<T, OUT>>,
    z: &mut Matrix<T, B, OUT>,
) {
    #[cfg(chainrule_avx2)]
    {
        if has_avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA (asked just above).
            return unsafe { avx2_fma::forward::<T, B, IN, OUT>(x, weight, bias, z) };
        }
        kernels::forward(x, weight, bias, z);
    }
    #[cfg(not(chainrule_avx2))]
    forward_body::<T, false, B, IN, OUT>(x, weight, bias, z)
}

/// `z = x·Wᵀ + 1·bᵀ` and `a = f(z)` in one pass over the rows: `f` entry
/// by entry in the row loop, or, when `f` has a vectorized slice form
/// ([`Activation::VECTORIZED`]), over the whole of `a` after it.
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
    #[cfg(chainrule_avx2)]
    {
        if has_avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA (asked just above).
            return unsafe {
                avx2_fma::forward_activate::<F, T, B, IN, OUT>(x, weight, bias, z, a)
            };
        }
        kernels::forward_activate::<F, T, B, IN, OUT>(x, weight, bias, z, a);
    }
    #[cfg(not(chainrule_avx2))]
    forward_activate_body::<F, T, false, B, IN, OUT>(x, weight, bias, z, a)
}

/// Rule 5 and the bias gradient, written (not added): `∂l/∂W = (∂l/∂z)ᵀ·x`
/// and `∂l/∂b = 1ᵀ·∂l/∂z`.
///
/// The weight rows are computed a block at a time (`row j = Σ_b
/// dl_dz[b][j] · x[b]`): as many `[T; IN]` accumulators as fit in the
/// vector registers run through the whole batch and are stored once.
pub fn weight_grad<T: Scalar, const B: usize, const IN: usize, const OUT: usize>(
    dl_dz: &Matrix<T, B, OUT>,
    x: &Matrix<T, B, IN>,
    dl_dw: &mut Matrix<T, OUT, IN>,
    dl_db: Option<&mut RowVector<T, OUT>>,
) {
    #[cfg(chainrule_avx2)]
    {
        if has_avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA (asked just above).
            return unsafe { avx2_fma::weight_grad::<T, B, IN, OUT>(dl_dz, x, dl_dw, dl_db) };
        }
        kernels::weight_grad(dl_dz, x, dl_dw, dl_db);
    }
    #[cfg(not(chainrule_avx2))]
    weight_grad_body::<T, false, B, IN, OUT>(dl_dz, x, dl_dw, dl_db)
}

/// Rule 6, written: `∂l/∂x = ∂l/∂z·W`, each row a sum of the weight rows
/// scaled by the row of `∂l/∂z`.
pub fn input_grad<T: Scalar, const B: usize, const IN: usize, const OUT: usize>(
    dl_dz: &Matrix<T, B, OUT>,
    weight: &Matrix<T, OUT, IN>,
    dl_dx: &mut Matrix<T, B, IN>,
) {
    #[cfg(chainrule_avx2)]
    {
        if has_avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA (asked just above).
            return unsafe { avx2_fma::input_grad::<T, B, IN, OUT>(dl_dz, weight, dl_dx) };
        }
        kernels::input_grad(dl_dz, weight, dl_dx);
    }
    #[cfg(not(chainrule_avx2))]
    input_grad_body::<T, false, B, IN, OUT>(dl_dz, weight, dl_dx)
}

/// Where the AVX2 + FMA forms are compiled (x86-64) but the CPU lacks the
/// features, the kernels, compiled once in this crate, stand in for the
/// forms' plain instances: a second instance of every form shape in each
/// crate that uses them would add to every release rebuild (about a tenth
/// of a 32-layer network's) for CPUs older than 2013. Elsewhere the plain
/// bodies are the only instance.
#[cfg(chainrule_avx2)]
mod kernels {
    use super::*;

    /// `z = x·Wᵀ + 1·bᵀ` by the kernels.
    #[cold]
    #[inline(never)]
    pub(super) fn forward<T: Scalar, const B: usize, const IN: usize, const OUT: usize>(
        x: &Matrix<T, B, IN>,
        weight: &Matrix<T, OUT, IN>,
        bias: Option<&RowVector<T, OUT>>,
        z: &mut Matrix<T, B, OUT>,
    ) {
        crate::dense::by_kernels::forward(x, weight, bias, z);
    }

    /// [`forward`], then `a = f(z)`.
    #[cold]
    #[inline(never)]
    pub(super) fn forward_activate<
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
        crate::dense::by_kernels::forward_activate::<F, T, B, IN, OUT>(x, weight, bias, z, a);
    }

    /// Rule 5 and the bias gradient by the kernels.
    #[cold]
    #[inline(never)]
    pub(super) fn weight_grad<T: Scalar, const B: usize, const IN: usize, const OUT: usize>(
        dl_dz: &Matrix<T, B, OUT>,
        x: &Matrix<T, B, IN>,
        dl_dw: &mut Matrix<T, OUT, IN>,
        dl_db: Option<&mut RowVector<T, OUT>>,
    ) {
        crate::dense::by_kernels::weight_grad(dl_dz, x, dl_dw, dl_db);
    }

    /// Rule 6 by the kernels.
    #[cold]
    #[inline(never)]
    pub(super) fn input_grad<T: Scalar, const B: usize, const IN: usize, const OUT: usize>(
        dl_dz: &Matrix<T, B, OUT>,
        weight: &Matrix<T, OUT, IN>,
        dl_dx: &mut Matrix<T, B, IN>,
    ) {
        crate::rules::rule6_input_grad_into(dl_dz, weight, dl_dx);
    }
}

/// The forms compiled for AVX2 + FMA: the same bodies, instantiated inside
/// functions that enable the features, so that LLVM vectorizes them 8 f32
/// wide with fused multiply-adds. A default build (no `-C target-cpu`)
/// otherwise gets SSE2 only, while the kernels pick AVX2 at run time.
#[cfg(chainrule_avx2)]
mod avx2_fma {
    use super::*;

    /// [`super::forward`] compiled for AVX2 + FMA.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn forward<T: Scalar, const B: usize, const IN: usize, const OUT: usize>(
        x: &Matrix<T, B, IN>,
        weight: &Matrix<T, OUT, IN>,
        bias: Option<&RowVector<T, OUT>>,
        z: &mut Matrix<T, B, OUT>,
    ) {
        super::forward_body::<T, true, B, IN, OUT>(x, weight, bias, z)
    }

    /// [`super::forward_activate`] compiled for AVX2 + FMA.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn forward_activate<
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
        super::forward_activate_body::<F, T, true, B, IN, OUT>(x, weight, bias, z, a)
    }

    /// [`super::weight_grad`] compiled for AVX2 + FMA.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn weight_grad<
        T: Scalar,
        const B: usize,
        const IN: usize,
        const OUT: usize,
    >(
        dl_dz: &Matrix<T, B, OUT>,
        x: &Matrix<T, B, IN>,
        dl_dw: &mut Matrix<T, OUT, IN>,
        dl_db: Option<&mut RowVector<T, OUT>>,
    ) {
        super::weight_grad_body::<T, true, B, IN, OUT>(dl_dz, x, dl_dw, dl_db)
    }

    /// [`super::input_grad`] compiled for AVX2 + FMA.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn input_grad<
        T: Scalar,
        const B: usize,
        const IN: usize,
        const OUT: usize,
    >(
        dl_dz: &Matrix<T, B, OUT>,
        weight: &Matrix<T, OUT, IN>,
        dl_dx: &mut Matrix<T, B, IN>,
    ) {
        super::input_grad_body::<T, true, B, IN, OUT>(dl_dz, weight, dl_dx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activations::{Relu, Tanh};
    use crate::ops::{matmul_into, matmul_t_into, t_matmul_into};

    fn filled<const R: usize, const C: usize>(seed: usize) -> Matrix<f64, R, C> {
        Matrix::from_fn(|i, j| (((i * 31 + j * 17 + seed * 7) % 23) as f64 - 11.0) / 7.0)
    }

    fn close<const R: usize, const C: usize>(a: &Matrix<f64, R, C>, b: &Matrix<f64, R, C>) {
        for (x, y) in a.as_slice().iter().zip(b.as_slice()) {
            assert!((x - y).abs() <= 1e-12 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    /// Every form against the kernels' products, on both sides of the
    /// column/dot-product and rows/columns splits.
    fn check_shape<const B: usize, const IN: usize, const OUT: usize>() {
        let x = filled::<B, IN>(1);
        let w = filled::<OUT, IN>(2);
        let b = filled::<1, OUT>(3);
        let dz = filled::<B, OUT>(4);

        let mut expected = Matrix::<f64, B, OUT>::zeros();
        matmul_t_into(&x, &w, &mut expected);
        let mut z = Matrix::zeros();
        forward(&x, &w, None, &mut z);
        close(&z, &expected);
        for row in expected.rows_mut() {
            for (e, &bj) in row.iter_mut().zip(b.row(0)) {
                *e += bj;
            }
        }
        forward(&x, &w, Some(&b), &mut z);
        close(&z, &expected);

        let (mut z2, mut a) = (Matrix::zeros(), Matrix::zeros());
        forward_activate::<Tanh, _, B, IN, OUT>(&x, &w, Some(&b), &mut z2, &mut a);
        close(&z2, &expected);
        close(&a, &Matrix::from_fn(|i, j| expected.row(i)[j].tanh()));
        forward_activate::<Relu, _, B, IN, OUT>(&x, &w, Some(&b), &mut z2, &mut a);
        close(&a, &Matrix::from_fn(|i, j| expected.row(i)[j].max(0.0)));

        let mut dw_expected = Matrix::<f64, OUT, IN>::zeros();
        t_matmul_into(&dz, &x, &mut dw_expected);
        let (mut dw, mut db) = (Matrix::zeros(), RowVector::zeros());
        weight_grad(&dz, &x, &mut dw, Some(&mut db));
        close(&dw, &dw_expected);
        let sums = Matrix::<f64, 1, OUT>::from_fn(|_, j| dz.rows().map(|r| r[j]).sum());
        close(&db, &sums);

        let mut dx_expected = Matrix::<f64, B, IN>::zeros();
        matmul_into(&dz, &w, &mut dx_expected);
        let mut dx = Matrix::zeros();
        input_grad(&dz, &w, &mut dx);
        close(&dx, &dx_expected);
    }

    /// The portable bodies (what a CPU without AVX2 and FMA runs) against
    /// the public forms (the AVX2 + FMA instances where the CPU has them).
    fn check_portable<const B: usize, const IN: usize, const OUT: usize>() {
        let x = filled::<B, IN>(1);
        let w = filled::<OUT, IN>(2);
        let b = filled::<1, OUT>(3);
        let dz = filled::<B, OUT>(4);
        let (mut z1, mut z2) = (Matrix::zeros(), Matrix::zeros());
        let (mut a1, mut a2) = (Matrix::zeros(), Matrix::zeros());
        forward_activate::<Tanh, _, B, IN, OUT>(&x, &w, Some(&b), &mut z1, &mut a1);
        forward_activate_body::<Tanh, _, false, B, IN, OUT>(&x, &w, Some(&b), &mut z2, &mut a2);
        close(&z2, &z1);
        close(&a2, &a1);
        let (mut dw1, mut dw2) = (Matrix::zeros(), Matrix::zeros());
        let (mut db1, mut db2) = (RowVector::zeros(), RowVector::zeros());
        weight_grad(&dz, &x, &mut dw1, Some(&mut db1));
        weight_grad_body::<_, false, B, IN, OUT>(&dz, &x, &mut dw2, Some(&mut db2));
        close(&dw2, &dw1);
        close(&db2, &db1);
        let (mut dx1, mut dx2) = (Matrix::zeros(), Matrix::zeros());
        input_grad(&dz, &w, &mut dx1);
        input_grad_body::<_, false, B, IN, OUT>(&dz, &w, &mut dx2);
        close(&dx2, &dx1);
    }

    /// The kernels' stand-ins for the plain instances (a CPU without AVX2
    /// on x86-64) against the plain bodies, bias or none.
    #[cfg(chainrule_avx2)]
    fn check_stand_ins<const B: usize, const IN: usize, const OUT: usize>() {
        let x = filled::<B, IN>(5);
        let w = filled::<OUT, IN>(6);
        let b = filled::<1, OUT>(7);
        let dz = filled::<B, OUT>(8);
        for bias in [Some(&b), None] {
            let (mut z1, mut z2) = (Matrix::zeros(), Matrix::zeros());
            let (mut a1, mut a2) = (Matrix::zeros(), Matrix::zeros());
            kernels::forward_activate::<Relu, _, B, IN, OUT>(&x, &w, bias, &mut z1, &mut a1);
            forward_activate_body::<Relu, _, false, B, IN, OUT>(&x, &w, bias, &mut z2, &mut a2);
            close(&z1, &z2);
            close(&a1, &a2);
        }
        let (mut dw1, mut dw2) = (Matrix::zeros(), Matrix::zeros());
        let (mut db1, mut db2) = (RowVector::zeros(), RowVector::zeros());
        kernels::weight_grad(&dz, &x, &mut dw1, Some(&mut db1));
        weight_grad_body::<_, false, B, IN, OUT>(&dz, &x, &mut dw2, Some(&mut db2));
        close(&dw1, &dw2);
        close(&db1, &db2);
        let (mut dx1, mut dx2) = (Matrix::zeros(), Matrix::zeros());
        kernels::input_grad(&dz, &w, &mut dx1);
        input_grad_body::<_, false, B, IN, OUT>(&dz, &w, &mut dx2);
        close(&dx1, &dx2);
    }

    #[cfg(chainrule_avx2)]
    #[test]
    fn the_kernels_stand_in_for_the_plain_forms() {
        check_stand_ins::<1, 3, 8>();
        check_stand_ins::<6, 8, 3>();
        check_stand_ins::<9, 20, 17>();
    }

    #[test]
    fn portable_bodies_match_the_forms() {
        check_portable::<1, 3, 8>();
        check_portable::<6, 8, 3>();
        check_portable::<9, 20, 17>();
    }

    #[test]
    fn forms_match_the_kernels() {
        check_shape::<1, 2, 8>();
        check_shape::<3, 8, 2>();
        check_shape::<5, 4, 4>();
        check_shape::<7, 3, 1>();
        check_shape::<16, 16, 3>();
        check_shape::<2, 5, 9>();
        check_shape::<5, 24, 20>();
        check_shape::<3, 40, 33>();
        // One row through a layer wider than MAX_WEIGHTS (dense::pays takes
        // the gradient forms there).
        check_shape::<1, 70, 130>();
        // Rows through a layer past COLUMN_MAX_WEIGHTS: the dot form.
        check_shape::<5, 70, 65>();
    }
}
