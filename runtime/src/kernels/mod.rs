//! Matrix-product kernels on row-major slices.
//!
//! Every product of the crate ends in [`Scalar::gemm`], which lands here:
//! [`gemm_f32`] and [`gemm_f64`] compute `c = op(a)·op(b)` (or `c +=`).
//! Small products run plain vectorizable loops ([`gemm_direct`]); larger ones
//! run a blocked, packed product whose register-blocked micro-kernel is
//! AVX2 + FMA on x86-64 CPUs that have it (detected once, at run time, so a
//! default build without `-C target-cpu=native` is fast) and portable Rust
//! elsewhere. Nothing is allocated per call: the packing buffers of each
//! thread are reused.

mod blocked;
mod direct;
mod math;
mod pack;

#[cfg(target_arch = "x86_64")]
mod avx2;

use core::cell::RefCell;
use core::sync::atomic::{AtomicU8, Ordering};

use crate::Scalar;
use blocked::{gemm_blocked, Portable};
pub use direct::{axpy, dot};
pub use math::{exp_in_place, ln_1p_in_place, ln_in_place, sigmoid_in_place, tanh_in_place};
use pack::{PackBuffers, View};

/// Products with at most this many multiply-adds (`m·n·k`) run the direct
/// loops: below it, packing costs more than it saves.
pub const DIRECT_MAX_MULS: usize = 2048;
/// Products with fewer rows than this run the direct loops: each packed
/// block of `op(b)` would serve too few rows to repay its packing.
pub const DIRECT_BELOW_ROWS: usize = 8;

/// Whether a product of these dimensions takes the direct loops.
#[inline]
fn is_direct(m: usize, n: usize, k: usize) -> bool {
    m < DIRECT_BELOW_ROWS || m.saturating_mul(n).saturating_mul(k) <= DIRECT_MAX_MULS
}

/// Which micro-kernel the blocked product uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// Plain Rust that LLVM vectorizes for the compilation target.
    Portable,
    /// 256-bit AVX2 + FMA intrinsics (x86-64 only).
    Avx2Fma,
}

impl Backend {
    /// The fastest backend this CPU supports, detected on the first call and
    /// cached.
    #[must_use]
    pub fn detected() -> Self {
        static DETECTED: AtomicU8 = AtomicU8::new(0);
        match DETECTED.load(Ordering::Relaxed) {
            1 => Backend::Portable,
            2 => Backend::Avx2Fma,
            _ => {
                let found = if Backend::Avx2Fma.is_supported() {
                    Backend::Avx2Fma
                } else {
                    Backend::Portable
                };
                let code = if found == Backend::Avx2Fma { 2 } else { 1 };
                DETECTED.store(code, Ordering::Relaxed);
                found
            }
        }
    }

    /// Whether this CPU can run the backend.
    #[must_use]
    pub fn is_supported(self) -> bool {
        match self {
            Backend::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2Fma => avx2::Avx2Fma::detect().is_some(),
            #[cfg(not(target_arch = "x86_64"))]
            Backend::Avx2Fma => false,
        }
    }
}

/// Panics unless `a`, `b`, `c` hold `m·k`, `k·n`, `m·n` entries.
fn check_lengths<T>(m: usize, n: usize, k: usize, a: &[T], b: &[T], c: &[T]) {
    let fits = |len: usize, rows: usize, cols: usize| {
        rows.checked_mul(cols).is_some_and(|need| len >= need)
    };
    assert!(
        fits(a.len(), m, k) && fits(b.len(), k, n) && fits(c.len(), m, n),
        "gemm: slices of {}, {}, {} entries for an {m}×{k} · {k}×{n} product",
        a.len(),
        b.len(),
        c.len()
    );
}

/// `c (m×n) = op(a) · op(b)` (or `+=` when `accumulate`) with plain loops
/// and no packing; the path of small products, and a reference.
///
/// Arguments as in [`Scalar::gemm`].
///
/// # Panics
/// When a slice is shorter than the dimensions say.
#[allow(clippy::too_many_arguments)]
pub fn gemm_direct<T: Scalar>(
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
    check_lengths(m, n, k, a, b, c);
    direct::gemm_direct_impl(m, n, k, a, a_transposed, b, b_transposed, c, accumulate);
}

macro_rules! gemm_for {
    ($name:ident, $blocked:ident, $t:ty, $buffers:ident, $portable:ty) => {
        thread_local! {
            static $buffers: RefCell<PackBuffers<$t>> = const { RefCell::new(PackBuffers::new()) };
        }

        #[doc = concat!("`c (m×n) = op(a) · op(b)` (or `+=` when `accumulate`) in `", stringify!($t), "`, with `backend`.")]
        ///
        /// Arguments as in [`Scalar::gemm`], which calls this with
        /// [`Backend::detected`]. A backend this CPU does not support falls
        /// back to [`Backend::Portable`]. Products of at most
        /// [`DIRECT_MAX_MULS`] multiply-adds or fewer than
        /// [`DIRECT_BELOW_ROWS`] rows take the direct loops whatever the
        /// backend.
        ///
        /// # Panics
        /// When a slice is shorter than the dimensions say.
        #[allow(clippy::too_many_arguments)]
        pub fn $name(
            backend: Backend,
            m: usize,
            n: usize,
            k: usize,
            a: &[$t],
            a_transposed: bool,
            b: &[$t],
            b_transposed: bool,
            c: &mut [$t],
            accumulate: bool,
        ) {
            if is_direct(m, n, k) {
                gemm_direct(m, n, k, a, a_transposed, b, b_transposed, c, accumulate);
            } else {
                $blocked(backend, m, n, k, a, a_transposed, b, b_transposed, c, accumulate);
            }
        }

        #[doc = concat!("Like [`", stringify!($name), "`] but always blocked and packed, whatever the size: for tests and benchmarks.")]
        ///
        /// # Panics
        /// When a slice is shorter than the dimensions say.
        #[doc(hidden)]
        #[allow(clippy::too_many_arguments)]
        pub fn $blocked(
            backend: Backend,
            m: usize,
            n: usize,
            k: usize,
            a: &[$t],
            a_transposed: bool,
            b: &[$t],
            b_transposed: bool,
            c: &mut [$t],
            accumulate: bool,
        ) {
            check_lengths(m, n, k, a, b, c);
            let (dims, a_view, b_view) = (
                (m, n, k),
                View::new(a, m, k, a_transposed),
                View::new(b, k, n, b_transposed),
            );
            let done = $buffers.try_with(|cell| {
                let Ok(mut buffers) = cell.try_borrow_mut() else {
                    return false;
                };
                #[cfg(target_arch = "x86_64")]
                if backend == Backend::Avx2Fma {
                    if let Some(kernel) = avx2::Avx2Fma::detect() {
                        gemm_blocked(kernel, &mut buffers, dims, a_view, b_view, c, accumulate);
                        return true;
                    }
                }
                let _ = backend;
                gemm_blocked(<$portable>::default(), &mut buffers, dims, a_view, b_view, c, accumulate);
                true
            });
            // The buffers are unavailable only during thread teardown.
            if done != Ok(true) {
                direct::gemm_direct_impl(m, n, k, a, a_transposed, b, b_transposed, c, accumulate);
            }
        }
    };
}

gemm_for!(gemm_f32, gemm_blocked_f32, f32, BUFFERS_F32, Portable<4, 8>);
gemm_for!(gemm_f64, gemm_blocked_f64, f64, BUFFERS_F64, Portable<4, 4>);
