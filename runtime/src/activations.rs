//! Activation functions and their derivatives.
//!
//! An elementwise activation `a = f(z)` is a zero-sized type implementing
//! [`Activation`]; its backward pass is rule 7, `∂l/∂z = ∂l/∂a ⊗ f′(z)`
//! ([`activation_backward_into`]). Softmax acts on whole rows and has its own
//! functions ([`softmax_rows_into`], [`softmax_backward_into`]).

use crate::{Matrix, Scalar};

/// An elementwise activation function `a = f(z)`.
pub trait Activation {
    /// The name used in the `network!` macro (`"relu"`, …).
    const NAME: &'static str;
    /// `f(z)`.
    fn apply<T: Scalar>(z: T) -> T;
    /// `f′(z)`, given both `z` and `a = f(z)` so that each function can use
    /// the cheaper one (sigmoid′ = a(1 − a), tanh′ = 1 − a²).
    fn derivative<T: Scalar>(z: T, a: T) -> T;
    /// Whether [`apply_in_place`](Activation::apply_in_place) has a
    /// vectorized kernel that beats one [`apply`](Activation::apply) per
    /// entry (on at least [`VECTORIZED_MIN_ENTRIES`] entries).
    const VECTORIZED: bool = false;
    /// `x ← f(x)` for every entry of a slice: the form the generated code
    /// and [`activate_into`] call, so that a function can use a vectorized
    /// kernel ([`Tanh`] does for `f32`).
    #[inline]
    fn apply_in_place<T: Scalar>(values: &mut [T]) {
        for v in values {
            *v = Self::apply(*v);
        }
    }
    /// `a ← f(z)` entry by entry (slices of one length): what
    /// [`apply_in_place`](Activation::apply_in_place) does to a copy of `z`,
    /// without the copy.
    #[inline]
    fn apply_into<T: Scalar>(z: &[T], a: &mut [T]) {
        for (a, &z) in a.iter_mut().zip(z) {
            *a = Self::apply(z);
        }
    }
}

/// `f(z) = z`; `f′ = 1`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Identity;
/// `f(z) = 1 / (1 + e^(−z))`; `f′ = a(1 − a)`. Computed without overflow
/// for any `z`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sigmoid;
/// `f(z) = tanh z`; `f′ = 1 − a²`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tanh;
/// `f(z) = max(z, 0)`; `f′(z) = 1` for `z > 0`, else 0 (so `relu′(0) = 0`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relu;
/// `f(z) = z` for `z > 0`, else `0.01·z`; `f′` is 1 or 0.01 (0.01 at 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeakyRelu;

/// The slope of [`LeakyRelu`] for negative inputs.
pub const LEAKY_RELU_SLOPE: f64 = 0.01;

impl Activation for Identity {
    const NAME: &'static str = "identity";
    #[inline(always)]
    fn apply<T: Scalar>(z: T) -> T {
        z
    }
    #[inline(always)]
    fn derivative<T: Scalar>(_z: T, _a: T) -> T {
        T::ONE
    }
}

impl Activation for Sigmoid {
    const VECTORIZED: bool = true;
    const NAME: &'static str = "sigmoid";
    #[inline(always)]
    fn apply<T: Scalar>(z: T) -> T {
        sigmoid(z)
    }
    #[inline]
    fn apply_in_place<T: Scalar>(values: &mut [T]) {
        T::sigmoid_in_place(values);
    }
    #[inline]
    fn apply_into<T: Scalar>(z: &[T], a: &mut [T]) {
        T::sigmoid_into(z, a);
    }
    #[inline(always)]
    fn derivative<T: Scalar>(_z: T, a: T) -> T {
        a * (T::ONE - a)
    }
}

impl Activation for Tanh {
    const VECTORIZED: bool = true;
    const NAME: &'static str = "tanh";
    #[inline(always)]
    fn apply<T: Scalar>(z: T) -> T {
        z.tanh()
    }
    #[inline]
    fn apply_in_place<T: Scalar>(values: &mut [T]) {
        T::tanh_in_place(values);
    }
    #[inline]
    fn apply_into<T: Scalar>(z: &[T], a: &mut [T]) {
        T::tanh_into(z, a);
    }
    #[inline(always)]
    fn derivative<T: Scalar>(_z: T, a: T) -> T {
        T::ONE - a * a
    }
}

impl Activation for Relu {
    const NAME: &'static str = "relu";
    #[inline(always)]
    fn apply<T: Scalar>(z: T) -> T {
        // Written so that NaN propagates (`max` with 0 would hide it).
        if z > T::ZERO || z.is_nan() {
            z
        } else {
            T::ZERO
        }
    }
    #[inline(always)]
    fn derivative<T: Scalar>(z: T, _a: T) -> T {
        if z > T::ZERO {
            T::ONE
        } else {
            T::ZERO
        }
    }
}

impl Activation for LeakyRelu {
    const NAME: &'static str = "leaky_relu";
    #[inline(always)]
    fn apply<T: Scalar>(z: T) -> T {
        if z > T::ZERO {
            z
        } else {
            z * T::from_f64(LEAKY_RELU_SLOPE)
        }
    }
    #[inline(always)]
    fn derivative<T: Scalar>(z: T, _a: T) -> T {
        if z > T::ZERO {
            T::ONE
        } else {
            T::from_f64(LEAKY_RELU_SLOPE)
        }
    }
}

/// The logistic function `1 / (1 + e^(−z))`, stable for any `z`.
#[inline(always)]
#[must_use]
pub fn sigmoid<T: Scalar>(z: T) -> T {
    if z >= T::ZERO {
        T::ONE / (T::ONE + (-z).exp())
    } else {
        let e = z.exp();
        e / (T::ONE + e)
    }
}

/// Below this many entries, a [`VECTORIZED`](Activation::VECTORIZED)
/// activation is applied entry by entry: on fewer entries than one vector
/// the kernel's call, copy and padding cost more (xor's sigmoid output at
/// batch 1: forward 109 ns → 82 ns).
pub const VECTORIZED_MIN_ENTRIES: usize = 8;

/// Above this many entries the elementwise passes (`f` entry by entry, rule
/// 7) run in one function per activation over slices, called from every
/// layer, rather than as a loop inlined into each layer: the same speed
/// there, and a deep network's generated forward and backward stay a list
/// of calls that LLVM optimizes quickly (with the kernels' dispatch out of
/// line too, 32 × `Dense<32, 32>` tanh built for the kernels only rebuilds
/// in release in 0.66 of the time it took; docs/benchmarks.md). Smaller
/// passes stay inline, where a call would cost as much as the loop. At 64
/// (the bound until 2026-11-30) a 32-layer `Dense<8, 8>` relu network at
/// B = 8 carried 32 inlined, vectorized rule-7 loops in its backward pass:
/// rustc's instructions for its release rebuild were 6.89 G, at 8 they are
/// 6.08 G, and its training step runs 96 fewer instructions (callgrind).
pub const INLINE_ELEMENTWISE_MAX_ENTRIES: usize = 8;

/// `a = f(z)` elementwise.
#[inline]
pub fn activate_into<F: Activation, T: Scalar, const B: usize, const N: usize>(
    z: &Matrix<T, B, N>,
    a: &mut Matrix<T, B, N>,
) {
    if F::VECTORIZED && B * N >= VECTORIZED_MIN_ENTRIES {
        F::apply_into(z.as_slice(), a.as_mut_slice());
    } else if B * N <= INLINE_ELEMENTWISE_MAX_ENTRIES {
        apply_entries::<F, T>(z.as_slice(), a.as_mut_slice());
    } else {
        apply_entries_outlined::<F, T>(z.as_slice(), a.as_mut_slice());
    }
}

/// `a = f(z)` entry by entry.
#[inline(always)]
fn apply_entries<F: Activation, T: Scalar>(z: &[T], a: &mut [T]) {
    for (a, &z) in a.iter_mut().zip(z) {
        *a = F::apply(z);
    }
}

/// [`apply_entries`], never inlined: one copy per activation and scalar.
#[inline(never)]
fn apply_entries_outlined<F: Activation, T: Scalar>(z: &[T], a: &mut [T]) {
    apply_entries::<F, T>(z, a);
}

/// Rule 7: `∂l/∂z = ∂l/∂a ⊗ f′(z)`, the Jacobian of an elementwise function
/// being `diag(f′(z))`. Shapes: all four are `B×N`.
#[inline]
pub fn activation_backward_into<F: Activation, T: Scalar, const B: usize, const N: usize>(
    dl_da: &Matrix<T, B, N>,
    z: &Matrix<T, B, N>,
    a: &Matrix<T, B, N>,
    dl_dz: &mut Matrix<T, B, N>,
) {
    rule7_pass::<F, T, B, N, false>(dl_da, z, a, dl_dz);
}

/// Rule 7, accumulated: `∂l/∂z += ∂l/∂a ⊗ f′(z)` (a value feeding several
/// operations collects the gradient of each: the sum rule).
#[inline]
pub fn activation_backward_acc<F: Activation, T: Scalar, const B: usize, const N: usize>(
    dl_da: &Matrix<T, B, N>,
    z: &Matrix<T, B, N>,
    a: &Matrix<T, B, N>,
    dl_dz: &mut Matrix<T, B, N>,
) {
    rule7_pass::<F, T, B, N, true>(dl_da, z, a, dl_dz);
}

/// Rule 7 written (or added, `ACCUMULATE`): inline on small matrices, else
/// the one out-of-line pass per activation.
#[inline(always)]
fn rule7_pass<F: Activation, T: Scalar, const B: usize, const N: usize, const ACCUMULATE: bool>(
    dl_da: &Matrix<T, B, N>,
    z: &Matrix<T, B, N>,
    a: &Matrix<T, B, N>,
    dl_dz: &mut Matrix<T, B, N>,
) {
    let (g, z, a, out) = (
        dl_da.as_slice(),
        z.as_slice(),
        a.as_slice(),
        dl_dz.as_mut_slice(),
    );
    if B * N <= INLINE_ELEMENTWISE_MAX_ENTRIES {
        derivative_entries::<F, T, ACCUMULATE>(g, z, a, out);
    } else {
        derivative_entries_outlined::<F, T, ACCUMULATE>(g, z, a, out);
    }
}

/// `out = g ⊗ f′(z)` (or `+=` when `ACCUMULATE`) entry by entry.
#[inline(always)]
fn derivative_entries<F: Activation, T: Scalar, const ACCUMULATE: bool>(
    dl_da: &[T],
    z: &[T],
    a: &[T],
    out: &mut [T],
) {
    let inputs = dl_da.iter().zip(z).zip(a);
    for (out, ((&g, &z), &a)) in out.iter_mut().zip(inputs) {
        let term = g * F::derivative(z, a);
        *out = if ACCUMULATE { *out + term } else { term };
    }
}

/// [`derivative_entries`], never inlined: one copy per activation and scalar.
#[inline(never)]
fn derivative_entries_outlined<F: Activation, T: Scalar, const ACCUMULATE: bool>(
    dl_da: &[T],
    z: &[T],
    a: &[T],
    out: &mut [T],
) {
    derivative_entries::<F, T, ACCUMULATE>(dl_da, z, a, out);
}

/// Row-wise softmax `s_ij = e^(z_ij − m_i) / Σ_k e^(z_ik − m_i)` with `m_i`
/// the row maximum, so no `exp` overflows (logits of ±1000 are fine). A NaN
/// logit makes its row NaN.
///
/// A single row of at most [`SCALAR_SOFTMAX_MAX_WIDTH`] entries takes the
/// scalar `exp`: there the vector kernel's call, padding and reductions cost
/// more (iris, 16→3, batch-1 forward: 164 ns → 95 ns).
pub fn softmax_rows_into<T: Scalar, const B: usize, const N: usize>(
    z: &Matrix<T, B, N>,
    s: &mut Matrix<T, B, N>,
) {
    if B == 1 && N > 0 && N <= SCALAR_SOFTMAX_MAX_WIDTH {
        for (z_row, s_row) in z.rows().zip(s.rows_mut()) {
            // Skips NaN like the block form; a NaN still spreads through the sum.
            let max = z_row
                .iter()
                .fold(z_row[0], |m, &x| if x > m { x } else { m });
            let mut total = T::ZERO;
            for (s, &z) in s_row.iter_mut().zip(z_row) {
                *s = (z - max).exp();
                total += *s;
            }
            let inv = T::ONE / total;
            for s in s_row.iter_mut() {
                *s *= inv;
            }
        }
    } else {
        softmax_rows_with::<T, N>(z.as_slice(), s.as_mut_slice(), false, |_, _, _| {});
    }
}

/// The widest single row that [`softmax_rows_into`] computes with the
/// scalar `exp`.
pub const SCALAR_SOFTMAX_MAX_WIDTH: usize = 16;

/// Rows whose `exp` (and `ln`) go through one call of the slice kernels.
const ROWS_PER_BLOCK: usize = 16;

/// Row-wise softmax of `z` into `s` (row-major, rows of `N`), calling
/// `row_done(i, lse_i, s_i)` after row `i` with its log-sum-exp
/// `lse_i = ln Σ_k e^(z_ik)` (when `want_lse`; otherwise `lse_i` is
/// meaningless) and its finished softmax row.
///
/// Each `exp` and `ln` is computed once, a block of rows at a time through
/// [`Scalar::exp_in_place`] and [`Scalar::ln_in_place`], so that `f32` takes
/// the vector kernels even for rows of 3. For `f64` the values are those of
/// the per-entry loops, to the last bit.
pub(crate) fn softmax_rows_with<T: Scalar, const N: usize>(
    z: &[T],
    s: &mut [T],
    want_lse: bool,
    mut row_done: impl FnMut(usize, T, &mut [T]),
) {
    if N == 0 {
        return;
    }
    let block_len = ROWS_PER_BLOCK * N;
    for (block, (z_block, s_block)) in z.chunks(block_len).zip(s.chunks_mut(block_len)).enumerate()
    {
        let mut maxima = [T::ZERO; ROWS_PER_BLOCK];
        let mut logs = [T::ZERO; ROWS_PER_BLOCK];
        for ((s_row, z_row), max) in s_block
            .chunks_exact_mut(N)
            .zip(z_block.chunks_exact(N))
            .zip(&mut maxima)
        {
            // A plain comparison that skips NaN (a NaN-propagating `max` is
            // a long dependency chain per entry): a NaN logit still makes
            // its row NaN through the sum of the exps.
            *max = z_row.iter().fold(
                T::from_f64(f64::NEG_INFINITY),
                |m, &x| if x > m { x } else { m },
            );
            for (s, &z) in s_row.iter_mut().zip(z_row) {
                *s = z - *max;
            }
        }
        T::exp_in_place(s_block);
        let rows = s_block.len() / N;
        for (s_row, total) in s_block.chunks_exact(N).zip(&mut logs) {
            *total = s_row.iter().fold(T::ZERO, |acc, &e| acc + e);
        }
        let totals = logs;
        if want_lse {
            T::ln_in_place(&mut logs[..rows]);
        }
        for (r, s_row) in s_block.chunks_exact_mut(N).enumerate() {
            let inv = T::ONE / totals[r];
            for s in s_row.iter_mut() {
                *s *= inv;
            }
            // An infinite maximum is the log-sum-exp itself (and keeps
            // ∞ − ∞ out of it), unless the row also holds a NaN.
            let lse = if maxima[r].is_finite() {
                maxima[r] + logs[r]
            } else {
                let row = &z_block[r * N..(r + 1) * N];
                row.iter().fold(maxima[r], |m, &x| m.max(x))
            };
            row_done(block * ROWS_PER_BLOCK + r, lse, s_row);
        }
    }
}

/// Row-wise softmax, allocating (see [`softmax_rows_into`]).
///
/// ```
/// use chainrule::activations::softmax_rows;
/// use chainrule::Matrix;
/// let s = softmax_rows(&Matrix::<f64, 2, 2>::from_rows([[0.0, 3f64.ln()], [1000.0, -1000.0]]));
/// assert!(s.approx_eq(&Matrix::from_rows([[0.25, 0.75], [1.0, 0.0]]), 1e-15));
/// ```
#[must_use]
pub fn softmax_rows<T: Scalar, const B: usize, const N: usize>(
    z: &Matrix<T, B, N>,
) -> Matrix<T, B, N> {
    let mut s = Matrix::zeros();
    softmax_rows_into(z, &mut s);
    s
}

/// Row-wise log-softmax `z_ij − m_i − ln Σ_k e^(z_ik − m_i)` (log-sum-exp).
pub fn log_softmax_rows_into<T: Scalar, const B: usize, const N: usize>(
    z: &Matrix<T, B, N>,
    out: &mut Matrix<T, B, N>,
) {
    let z = z.as_slice();
    softmax_rows_with::<T, N>(z, out.as_mut_slice(), true, |i, lse, o_row| {
        for (o, &z) in o_row.iter_mut().zip(&z[i * N..]) {
            *o = z - lse;
        }
    });
}

/// `ln Σ e^(x_k)`, computed as `m + ln Σ e^(x_k − m)` with `m = max x`; NaN
/// if any `x_k` is NaN, `−∞` for an empty slice.
#[must_use]
pub fn log_sum_exp<T: Scalar>(xs: &[T]) -> T {
    let Some(&first) = xs.first() else {
        return T::from_f64(f64::NEG_INFINITY);
    };
    let max = xs.iter().fold(first, |m, &x| m.max(x));
    if !max.is_finite() {
        return max;
    }
    // The exps a chunk at a time through the slice kernel, summed in order.
    let mut shifted = [T::ZERO; ROWS_PER_BLOCK];
    let mut total = T::ZERO;
    for chunk in xs.chunks(ROWS_PER_BLOCK) {
        let shifted = &mut shifted[..chunk.len()];
        for (e, &x) in shifted.iter_mut().zip(chunk) {
            *e = x - max;
        }
        T::exp_in_place(shifted);
        total = shifted.iter().fold(total, |acc, &e| acc + e);
    }
    max + total.ln()
}

/// Backward through a row-wise softmax `s = softmax(z)`:
/// `∂l/∂z = s ⊗ (∂l/∂s − (∂l/∂s · s) 1)` per row, which is the row times the
/// Jacobian `diag(s) − s sᵀ` without forming it.
pub fn softmax_backward_into<T: Scalar, const B: usize, const N: usize>(
    s: &Matrix<T, B, N>,
    dl_ds: &Matrix<T, B, N>,
    dl_dz: &mut Matrix<T, B, N>,
) {
    for ((out, s_row), g_row) in dl_dz.rows_mut().zip(s.rows()).zip(dl_ds.rows()) {
        let inner = s_row
            .iter()
            .zip(g_row)
            .fold(T::ZERO, |acc, (&s, &g)| acc + s * g);
        for ((o, &s), &g) in out.iter_mut().zip(s_row).zip(g_row) {
            *o = s * (g - inner);
        }
    }
}

/// [`softmax_backward_into`], accumulated: `∂l/∂z += …`.
pub fn softmax_backward_acc<T: Scalar, const B: usize, const N: usize>(
    s: &Matrix<T, B, N>,
    dl_ds: &Matrix<T, B, N>,
    dl_dz: &mut Matrix<T, B, N>,
) {
    for ((out, s_row), g_row) in dl_dz.rows_mut().zip(s.rows()).zip(dl_ds.rows()) {
        let inner = s_row
            .iter()
            .zip(g_row)
            .fold(T::ZERO, |acc, (&s, &g)| acc + s * g);
        for ((o, &s), &g) in out.iter_mut().zip(s_row).zip(g_row) {
            *o += s * (g - inner);
        }
    }
}
