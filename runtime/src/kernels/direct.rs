//! Plain loops for small products, where packing would cost more than it
//! saves: the inner loops run along contiguous rows (axpy form) or keep
//! several independent accumulators (dot form) so that LLVM vectorizes them.

use super::Backend;
use crate::Scalar;

/// Independent accumulators in the dot-product form; enough to hide the
/// latency of the adds and let LLVM vectorize.
const LANES: usize = 8;

/// `c (m×n) = op(a) · op(b)` (or `+=` when `accumulate`) with plain loops.
///
/// The caller has checked the lengths (`a`, `b`, `c` hold at least `m·k`,
/// `k·n`, `m·n` entries).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm_direct_impl<T: Scalar>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    a_transposed: bool,
    b: &[T],
    b_transposed: bool,
    c: &mut [T],
    accumulate: bool,
) {
    let (a, b, c) = (&a[..m * k], &b[..k * n], &mut c[..m * n]);
    if !accumulate {
        c.fill(T::ZERO);
    }
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    match (a_transposed, b_transposed) {
        // c[i, :] += a[i, p] · b[p, :]
        (false, false) => {
            for (c_row, a_row) in c.chunks_exact_mut(n).zip(a.chunks_exact(k)) {
                for (&a_ip, b_row) in a_row.iter().zip(b.chunks_exact(n)) {
                    axpy(a_ip, b_row, c_row);
                }
            }
        }
        // a is k×m: c[i, :] += a[p, i] · b[p, :]
        (true, false) => {
            for (a_row, b_row) in a.chunks_exact(m).zip(b.chunks_exact(n)) {
                for (&a_pi, c_row) in a_row.iter().zip(c.chunks_exact_mut(n)) {
                    axpy(a_pi, b_row, c_row);
                }
            }
        }
        // b is n×k: c[i, j] += a[i, :] · b[j, :]
        (false, true) => {
            for (c_row, a_row) in c.chunks_exact_mut(n).zip(a.chunks_exact(k)) {
                for (c_ij, b_row) in c_row.iter_mut().zip(b.chunks_exact(k)) {
                    *c_ij += dot(a_row, b_row);
                }
            }
        }
        // both transposed: c[i, j] += Σ_p a[p, i] · b[j, p]
        (true, true) => {
            for (i, c_row) in c.chunks_exact_mut(n).enumerate() {
                for (c_ij, b_row) in c_row.iter_mut().zip(b.chunks_exact(k)) {
                    let mut sum = T::ZERO;
                    for (a_row, &b_jp) in a.chunks_exact(m).zip(b_row) {
                        sum += a_row[i] * b_jp;
                    }
                    *c_ij += sum;
                }
            }
        }
    }
}

/// [`gemm_direct_impl`] with AVX2 + FMA when `backend` is
/// [`Backend::Avx2Fma`] and the CPU has them: the same additions in the same
/// order (Rust never contracts `a·b + c` into one multiply-add), on 8 lanes
/// instead of SSE2's 4. A default build otherwise runs these loops, which
/// carry every product of fewer than 8 rows (a batch-1 forward pass), on
/// SSE2 only.
#[inline]
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm_direct<T: Scalar>(
    backend: Backend,
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    a_transposed: bool,
    b: &[T],
    b_transposed: bool,
    c: &mut [T],
    accumulate: bool,
) {
    #[cfg(chainrule_avx2)]
    if backend == Backend::Avx2Fma && Backend::detected() == Backend::Avx2Fma {
        // SAFETY: the CPU has AVX2 and FMA (detected).
        return unsafe {
            gemm_direct_avx2(m, n, k, a, a_transposed, b, b_transposed, c, accumulate)
        };
    }
    let _ = backend;
    gemm_direct_impl(m, n, k, a, a_transposed, b, b_transposed, c, accumulate);
}

/// [`gemm_direct_impl`] compiled with AVX2 and FMA.
///
/// # Safety
/// The CPU has AVX2 and FMA.
#[cfg(chainrule_avx2)]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_direct_avx2<T: Scalar>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    a_transposed: bool,
    b: &[T],
    b_transposed: bool,
    c: &mut [T],
    accumulate: bool,
) {
    gemm_direct_impl(m, n, k, a, a_transposed, b, b_transposed, c, accumulate);
}

/// `y += alpha · x` over the common length of `x` and `y`.
#[inline(always)]
pub fn axpy<T: Scalar>(alpha: T, x: &[T], y: &mut [T]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += alpha * x;
    }
}

/// `x · y` over the common length, with eight independent accumulators.
#[inline(always)]
pub fn dot<T: Scalar>(x: &[T], y: &[T]) -> T {
    let len = x.len().min(y.len());
    let (x, y) = (&x[..len], &y[..len]);
    let mut acc = [T::ZERO; LANES];
    let mut xs = x.chunks_exact(LANES);
    let mut ys = y.chunks_exact(LANES);
    for (xc, yc) in (&mut xs).zip(&mut ys) {
        for l in 0..LANES {
            acc[l] += xc[l] * yc[l];
        }
    }
    let mut sum = T::ZERO;
    for (&x, &y) in xs.remainder().iter().zip(ys.remainder()) {
        sum += x * y;
    }
    // Pairwise reduction of the accumulators.
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            acc[l] += acc[l + width];
        }
    }
    acc[0] + sum
}
