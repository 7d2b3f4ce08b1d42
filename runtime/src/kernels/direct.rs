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
        if !a_transposed && b_transposed {
            if let (Some(a), Some(b), Some(c)) =
                (super::as_f32(a), super::as_f32(b), super::as_f32_mut(c))
            {
                // SAFETY: the CPU has AVX2 and FMA (detected).
                return unsafe { dot_rows_avx2(m, n, k, a, b, c, accumulate) };
            }
        }
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

/// `c (m×n) = a · bᵀ` (or `+=` when `accumulate`), `b` being `n×k`: the
/// dot-product form of [`gemm_direct_impl`] for f32 on AVX2, four columns of
/// `c` per pass over a row of `a`. Each entry is summed exactly as [`dot`]
/// sums it (eight lanes, multiply then add, the same pairwise reduction,
/// the tail last), so the result is the portable one to the bit; what
/// changes is that four accumulator chains run side by side, the four
/// reductions share their shuffles, and the loops count with indices
/// rather than `chunks_exact` (whose lengths cost a division each): a
/// one-row product (a batch-1 forward pass) was bound by the set-up.
///
/// # Safety
/// The CPU has AVX2 and FMA.
#[cfg(chainrule_avx2)]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_rows_avx2(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    accumulate: bool,
) {
    use core::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_castps256_ps128, _mm256_extractf128_ps, _mm256_loadu_ps,
        _mm256_mul_ps, _mm256_setzero_ps, _mm_add_ps, _mm_loadu_ps, _mm_movehl_ps, _mm_movelh_ps,
        _mm_setr_ps, _mm_setzero_ps, _mm_shuffle_ps, _mm_storeu_ps,
    };
    let (a, b, c) = (&a[..m * k], &b[..k * n], &mut c[..m * n]);
    if !accumulate {
        c.fill(0.0);
    }
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let full = k - k % LANES;
    let quads = n - n % 4;
    for i in 0..m {
        let a_row = &a[i * k..(i + 1) * k];
        let x = a_row.as_ptr();
        let mut j = 0;
        while j < quads {
            // SAFETY: j + 4 <= n, so rows j..j + 4 of b (k entries each)
            // and entries i·n + j .. i·n + j + 4 of c are in bounds;
            // p + 8 <= full <= k.
            unsafe {
                let y = b.as_ptr().add(j * k);
                let mut acc: [__m256; 4] = [_mm256_setzero_ps(); 4];
                let mut p = 0;
                while p < full {
                    let xv = _mm256_loadu_ps(x.add(p));
                    for (r, acc) in acc.iter_mut().enumerate() {
                        let yv = _mm256_loadu_ps(y.add(r * k + p));
                        *acc = _mm256_add_ps(*acc, _mm256_mul_ps(xv, yv));
                    }
                    p += LANES;
                }
                let mut tails = [0.0f32; 4];
                if full < k {
                    for (r, tail) in tails.iter_mut().enumerate() {
                        let row_tail = &b[(j + r) * k + full..(j + r + 1) * k];
                        for (&x, &y) in a_row[full..].iter().zip(row_tail) {
                            *tail += x * y;
                        }
                    }
                }
                // The order of `reduce` in `dot`, four accumulators at once:
                // lanes l + 4 onto l, then l + 2 onto l, then 1 onto 0.
                let mut halves = [_mm_setzero_ps(); 4];
                for (half, v) in halves.iter_mut().zip(acc) {
                    *half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
                }
                // [a0 + a2, a1 + a3, b0 + b2, b1 + b3], and c, d alike.
                let ab = _mm_add_ps(
                    _mm_movelh_ps(halves[0], halves[1]),
                    _mm_movehl_ps(halves[1], halves[0]),
                );
                let cd = _mm_add_ps(
                    _mm_movelh_ps(halves[2], halves[3]),
                    _mm_movehl_ps(halves[3], halves[2]),
                );
                let sums = _mm_add_ps(
                    _mm_shuffle_ps(ab, cd, 0b10_00_10_00),
                    _mm_shuffle_ps(ab, cd, 0b11_01_11_01),
                );
                let tails = _mm_setr_ps(tails[0], tails[1], tails[2], tails[3]);
                let out = c.as_mut_ptr().add(i * n + j);
                _mm_storeu_ps(out, _mm_add_ps(_mm_loadu_ps(out), _mm_add_ps(sums, tails)));
            }
            j += 4;
        }
        for j in quads..n {
            c[i * n + j] += dot(a_row, &b[j * k..(j + 1) * k]);
        }
    }
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
