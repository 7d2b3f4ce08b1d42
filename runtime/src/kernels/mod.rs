//! Matrix-product kernels on row-major slices.
//!
//! Every product of the crate ends in [`Scalar::gemm`], which lands here:
//! [`gemm_f32`] and [`gemm_f64`] compute `c = op(a)·op(b)` (or `c +=`).
//! On x86-64 CPUs with AVX2 + FMA (detected once, at run time, so a default
//! build without `-C target-cpu=native` is fast), f32 products whose
//! operands fit in the caches take the small path: no blocking, `op(a)` read
//! in place, `op(b)` copied only when its rows are not contiguous, and tile
//! heights that divide the rows evenly (see [`SMALL_MAX_A`]). Other small
//! products run plain vectorizable loops ([`gemm_direct`]); larger ones run
//! a blocked, packed product whose register-blocked micro-kernel is AVX2 +
//! FMA where the CPU has it and portable Rust elsewhere. [`gemm_bias`] adds
//! a dense layer's bias as the product is written. Nothing is allocated per
//! call once a thread's buffers have grown: they are reused.

mod blocked;
mod direct;
mod math;
mod pack;

// x86-64 with std, or a target with AVX2 + FMA enabled at compile time
// (see build.rs).
#[cfg(chainrule_avx2)]
mod avx2;

use core::any::TypeId;
#[cfg(feature = "std")]
use core::cell::RefCell;
use core::sync::atomic::{AtomicU8, Ordering};

use crate::activations::{Activation, Relu};
use crate::Scalar;
use blocked::{gemm_blocked, Portable};
pub use direct::{axpy, dot};
pub use math::{
    exp_in_place, ln_1p_in_place, ln_in_place, sigmoid_in_place, sigmoid_into, tanh_in_place,
    tanh_into,
};
use pack::PackBuffers;
pub(crate) use pack::View;

/// Products with at most this many multiply-adds (`m·n·k`) run the direct
/// loops: below it, packing costs more than it saves.
pub const DIRECT_MAX_MULS: usize = 2048;
/// Products with fewer rows than this run the direct loops: each packed
/// block of `op(b)` would serve too few rows to repay its packing.
pub const DIRECT_BELOW_ROWS: usize = 8;

/// Products whose `op(a)` has at most this many entries run the small path
/// (on AVX2 + FMA): `op(a)` is read in place, so it must stay in L1/L2.
pub const SMALL_MAX_A: usize = 32 * 1024;
/// Products whose `op(b)` has at most this many entries run the small path:
/// a column panel of it stays in L1 (its depth at most [`SMALL_MAX_DEPTH`]).
pub const SMALL_MAX_B: usize = 128 * 1024;
/// The deepest product that runs the small path.
pub const SMALL_MAX_DEPTH: usize = 512;

/// Whether a product of these dimensions takes the small path (AVX2 + FMA,
/// no packing of `op(a)`, no blocking): operands that fit in the caches, and
/// more than one row (a single row is a dot or axpy product, which the
/// direct loops do without copying `op(b)`).
#[inline]
fn is_small(m: usize, n: usize, k: usize) -> bool {
    m >= 2
        && k <= SMALL_MAX_DEPTH
        && m.saturating_mul(k) <= SMALL_MAX_A
        && k.saturating_mul(n) <= SMALL_MAX_B
}

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

/// [`Backend::detected`]'s cache: 0 until the first call, then 1 for
/// [`Backend::Portable`], 2 for [`Backend::Avx2Fma`].
static DETECTED_BACKEND: AtomicU8 = AtomicU8::new(0);

impl Backend {
    /// The fastest backend this CPU supports, detected on the first call and
    /// cached.
    ///
    /// Inline: every small product of a generated pass asks, and a call
    /// through the library's symbol cost more than the cached load.
    #[must_use]
    #[inline]
    pub fn detected() -> Self {
        match DETECTED_BACKEND.load(Ordering::Relaxed) {
            1 => Backend::Portable,
            2 => Backend::Avx2Fma,
            _ => Backend::detect(),
        }
    }

    /// The first call of [`Backend::detected`]: asks the CPU and caches.
    #[cold]
    #[inline(never)]
    fn detect() -> Self {
        let (found, code) = if Backend::Avx2Fma.is_supported() {
            (Backend::Avx2Fma, 2)
        } else {
            (Backend::Portable, 1)
        };
        DETECTED_BACKEND.store(code, Ordering::Relaxed);
        found
    }

    /// Whether this CPU can run the backend.
    #[must_use]
    pub fn is_supported(self) -> bool {
        match self {
            Backend::Portable => true,
            #[cfg(chainrule_avx2)]
            Backend::Avx2Fma => avx2::Avx2Fma::detect().is_some(),
            #[cfg(not(chainrule_avx2))]
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

/// `c += 1·biasᵀ`: `bias` added to each of the rows of `c` (`n` entries each).
fn add_bias_rows<T: Scalar>(c: &mut [T], bias: &[T], n: usize) {
    let bias = &bias[..n];
    for row in c.chunks_exact_mut(n) {
        for (x, &b) in row.iter_mut().zip(bias) {
            *x += b;
        }
    }
}

/// The bias and relu of `out`, after a product that wrote `c` without them.
fn finish<T: Scalar>(c: &mut [T], n: usize, out: Out<'_, T>) {
    match out {
        Out::Overwrite | Out::Accumulate => {}
        Out::Bias(bias) => add_bias_rows(c, bias, n),
        Out::BiasRelu(bias, relu) => {
            add_bias_rows(c, bias, n);
            for (a, &z) in relu.iter_mut().zip(&*c) {
                *a = Relu::apply(z);
            }
        }
    }
}

/// Panics unless `relu` holds `m·n` entries.
fn check_relu<T>(m: usize, n: usize, relu: &[T]) {
    assert!(
        relu.len() >= m * n,
        "gemm: a relu output of {} entries for an {m}×{n} product",
        relu.len()
    );
}

/// Panics unless `bias` holds `n` entries.
fn check_bias<T>(n: usize, bias: &[T]) {
    assert!(
        bias.len() >= n,
        "gemm: a bias of {} entries for {n} columns",
        bias.len()
    );
}

macro_rules! gemm_for {
    ($name:ident, $bias_name:ident, $relu_name:ident, $blocked:ident, $t:ident, $buffers:ident, $portable:ty, $small:expr) => {
        #[cfg(feature = "std")]
        thread_local! {
            static $buffers: RefCell<PackBuffers<$t>> = const { RefCell::new(PackBuffers::new()) };
        }
        #[cfg(not(feature = "std"))]
        static $buffers: shared::SharedBuffers<$t> = shared::SharedBuffers::new();

        #[doc = concat!("`c (m×n) = op(a) · op(b)` (or `+=` when `accumulate`) in `", stringify!($t), "`, with `backend`.")]
        ///
        /// Arguments as in [`Scalar::gemm`], which calls this with
        /// [`Backend::detected`]. A backend this CPU does not support falls
        /// back to [`Backend::Portable`]. Products of at most
        /// [`DIRECT_MAX_MULS`] multiply-adds or fewer than
        /// [`DIRECT_BELOW_ROWS`] rows take the direct loops whatever the
        /// backend, unless (f32 on AVX2 + FMA) they take the small path
        /// (see [`SMALL_MAX_A`]).
        ///
        /// # Panics
        /// When a slice is shorter than the dimensions say.
        #[allow(clippy::too_many_arguments)]
        #[inline]
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
            check_lengths(m, n, k, a, b, c);
            let out = if accumulate { Out::Accumulate } else { Out::Overwrite };
            product(backend, (m, n, k), a, a_transposed, b, b_transposed, c, out);
        }

        #[doc = concat!("`c (m×n) = op(a) · op(b) + 1·biasᵀ` in `", stringify!($t), "`, with `backend`: a dense layer's forward product with its bias added in the same pass where the kernel can (`bias` holds `n` entries, one per column).")]
        ///
        /// Other arguments as in [`Scalar::gemm`].
        ///
        /// # Panics
        /// When a slice is shorter than the dimensions say.
        #[allow(clippy::too_many_arguments)]
        #[inline]
        pub fn $bias_name(
            backend: Backend,
            m: usize,
            n: usize,
            k: usize,
            a: &[$t],
            a_transposed: bool,
            b: &[$t],
            b_transposed: bool,
            bias: &[$t],
            c: &mut [$t],
        ) {
            check_lengths(m, n, k, a, b, c);
            check_bias(n, bias);
            product(backend, (m, n, k), a, a_transposed, b, b_transposed, c, Out::Bias(bias));
        }

        #[doc = concat!("Like [`", stringify!($bias_name), "`], and also `relu = relu(c)` entrywise (`relu(z) = z` for `z > 0` or NaN, else 0): a dense layer followed by a relu, both written as the product is stored.")]
        ///
        /// # Panics
        /// When a slice is shorter than the dimensions say (`relu` as `c`).
        #[allow(clippy::too_many_arguments)]
        #[inline]
        pub fn $relu_name(
            backend: Backend,
            m: usize,
            n: usize,
            k: usize,
            a: &[$t],
            a_transposed: bool,
            b: &[$t],
            b_transposed: bool,
            bias: &[$t],
            c: &mut [$t],
            relu: &mut [$t],
        ) {
            check_lengths(m, n, k, a, b, c);
            check_bias(n, bias);
            check_relu(m, n, relu);
            let out = Out::BiasRelu(bias, relu);
            product(backend, (m, n, k), a, a_transposed, b, b_transposed, c, out);
        }

        /// The product after the checks: the small path, the direct loops
        /// or the blocked product.
        #[allow(clippy::too_many_arguments)]
        fn product(
            backend: Backend,
            (m, n, k): (usize, usize, usize),
            a: &[$t],
            a_transposed: bool,
            b: &[$t],
            b_transposed: bool,
            c: &mut [$t],
            mut out: Out<'_, $t>,
        ) {
            let small: fn(Backend, (usize, usize, usize), View<'_, $t>, View<'_, $t>, &mut [$t], &mut Out<'_, $t>) -> bool = $small;
            if m != 0 && n != 0 && k != 0 && is_small(m, n, k) {
                let views = (View::new(a, m, k, a_transposed), View::new(b, k, n, b_transposed));
                if small(backend, (m, n, k), views.0, views.1, c, &mut out) {
                    return;
                }
            }
            let accumulate = matches!(out, Out::Accumulate);
            if is_direct(m, n, k) {
                direct::gemm_direct(backend, m, n, k, a, a_transposed, b, b_transposed, c, accumulate);
            } else {
                blocked_impl(backend, (m, n, k), a, a_transposed, b, b_transposed, c, accumulate);
            }
            finish(&mut c[..m * n], n, out);
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
            blocked_impl(backend, (m, n, k), a, a_transposed, b, b_transposed, c, accumulate);
        }

        /// The blocked product after the checks.
        #[allow(clippy::too_many_arguments)]
        fn blocked_impl(
            backend: Backend,
            (m, n, k): (usize, usize, usize),
            a: &[$t],
            a_transposed: bool,
            b: &[$t],
            b_transposed: bool,
            c: &mut [$t],
            accumulate: bool,
        ) {
            let (dims, a_view, b_view) = (
                (m, n, k),
                View::new(a, m, k, a_transposed),
                View::new(b, k, n, b_transposed),
            );
            let done = $buffers.try_with(|cell| {
                let Ok(mut buffers) = cell.try_borrow_mut() else {
                    return false;
                };
                #[cfg(chainrule_avx2)]
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

/// Without std there are no thread-locals: one set of buffers per scalar
/// type for the whole program, taken with a try-lock. A product that finds
/// them taken (another thread, or an interrupt handler, is using them) runs
/// the direct loops instead, as a thread does during its teardown with std.
#[cfg(not(feature = "std"))]
mod shared {
    use core::cell::RefCell;
    #[cfg(target_has_atomic = "8")]
    use core::sync::atomic::{AtomicBool, Ordering};

    use super::PackBuffers;
    use crate::Scalar;

    /// The buffers are in use.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) struct Busy;

    /// Buffers shared by every thread, with the interface of a
    /// thread-local's `try_with`.
    pub(super) struct SharedBuffers<T> {
        #[cfg(target_has_atomic = "8")]
        taken: AtomicBool,
        buffers: RefCell<PackBuffers<T>>,
    }

    // SAFETY: `buffers` is only reached in `try_with`, by the one caller
    // that swapped `taken` from false to true, until it stores false again:
    // never by two threads at once. Without compare-and-swap (targets
    // without `target_has_atomic = "8"`) it is never reached.
    unsafe impl<T: Send> Sync for SharedBuffers<T> {}

    impl<T: Scalar> SharedBuffers<T> {
        pub(super) const fn new() -> Self {
            Self {
                #[cfg(target_has_atomic = "8")]
                taken: AtomicBool::new(false),
                buffers: RefCell::new(PackBuffers::new()),
            }
        }

        /// Calls `f` on the buffers unless someone else holds them.
        pub(super) fn try_with<R>(
            &self,
            f: impl FnOnce(&RefCell<PackBuffers<T>>) -> R,
        ) -> Result<R, Busy> {
            #[cfg(target_has_atomic = "8")]
            {
                struct Release<'a>(&'a AtomicBool);
                impl Drop for Release<'_> {
                    fn drop(&mut self) {
                        self.0.store(false, Ordering::Release);
                    }
                }
                if self
                    .taken
                    .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_err()
                {
                    return Err(Busy);
                }
                let _release = Release(&self.taken);
                Ok(f(&self.buffers))
            }
            #[cfg(not(target_has_atomic = "8"))]
            {
                let _ = f;
                Err(Busy)
            }
        }
    }
}

/// What a product does with its result.
#[derive(Debug)]
enum Out<'a, T> {
    /// `c = product`.
    Overwrite,
    /// `c += product`.
    Accumulate,
    /// `c = product + 1·biasᵀ`.
    Bias(&'a [T]),
    /// `c = product + 1·biasᵀ` and `relu = relu(c)` (`m·n` entries).
    BiasRelu(&'a [T], &'a mut [T]),
}

mod f32_paths {
    use super::*;
    gemm_for!(gemm_f32, gemm_bias_f32, gemm_bias_relu_f32, gemm_blocked_f32, f32, BUFFERS_F32, Portable<4, 8>, small_f32);

    /// The small path of an f32 product on AVX2 + FMA; `false` when this
    /// CPU lacks them (or the buffers are gone), and nothing was done.
    #[allow(unused_variables)]
    fn small_f32(
        backend: Backend,
        dims: (usize, usize, usize),
        a: View<'_, f32>,
        b: View<'_, f32>,
        c: &mut [f32],
        out: &mut Out<'_, f32>,
    ) -> bool {
        small_f32_strided(backend, dims, a, b, c, dims.1, out)
    }

    /// [`small_f32`] with row `i` of `c` at `i·ldc`.
    #[allow(unused_variables)]
    pub(super) fn small_f32_strided(
        backend: Backend,
        dims: (usize, usize, usize),
        a: View<'_, f32>,
        b: View<'_, f32>,
        c: &mut [f32],
        ldc: usize,
        out: &mut Out<'_, f32>,
    ) -> bool {
        #[cfg(chainrule_avx2)]
        if backend == Backend::Avx2Fma {
            if let Some(token) = avx2::Avx2Fma::detect() {
                let tile_out = match out {
                    Out::Overwrite => avx2::TileOut::Overwrite,
                    Out::Accumulate => avx2::TileOut::Accumulate,
                    Out::Bias(bias) => avx2::TileOut::Bias(bias.as_ptr()),
                    Out::BiasRelu(bias, relu) => {
                        avx2::TileOut::BiasRelu(bias.as_ptr(), relu.as_mut_ptr())
                    }
                };
                return BUFFERS_F32
                    .try_with(|cell| {
                        let Ok(mut buffers) = cell.try_borrow_mut() else {
                            return false;
                        };
                        avx2::gemm_small_f32(
                            token,
                            buffers.small_b(),
                            dims,
                            a,
                            b,
                            c,
                            ldc,
                            tile_out,
                        );
                        true
                    })
                    .unwrap_or(false);
            }
        }
        false
    }

    #[doc = "Like [`gemm_f32`] but always the small path when this CPU has AVX2 + FMA (the blocked product otherwise), whatever the size: for tests and benchmarks."]
    ///
    /// # Panics
    /// When a slice is shorter than the dimensions say.
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    pub fn gemm_small_f32(
        m: usize,
        n: usize,
        k: usize,
        a: &[f32],
        a_transposed: bool,
        b: &[f32],
        b_transposed: bool,
        c: &mut [f32],
        accumulate: bool,
    ) {
        check_lengths(m, n, k, a, b, c);
        let out = if accumulate {
            Out::Accumulate
        } else {
            Out::Overwrite
        };
        if m != 0 && n != 0 && k != 0 {
            let views = (
                View::new(a, m, k, a_transposed),
                View::new(b, k, n, b_transposed),
            );
            if small_f32(Backend::Avx2Fma, (m, n, k), views.0, views.1, c, &mut {
                out
            }) {
                return;
            }
        }
        blocked_impl(
            Backend::detected(),
            (m, n, k),
            a,
            a_transposed,
            b,
            b_transposed,
            c,
            accumulate,
        );
    }
}

mod f64_paths {
    use super::*;
    gemm_for!(gemm_f64, gemm_bias_f64, gemm_bias_relu_f64, gemm_blocked_f64, f64, BUFFERS_F64, Portable<4, 4>, |_, _, _, _, _, _| false);
}

pub use f32_paths::{
    gemm_bias_f32, gemm_bias_relu_f32, gemm_blocked_f32, gemm_f32, gemm_small_f32,
};
pub use f64_paths::{gemm_bias_f64, gemm_bias_relu_f64, gemm_blocked_f64, gemm_f64};

/// `c (m×n) = op(a) · op(b) + 1·biasᵀ` for either scalar type, with
/// [`Backend::detected`]: [`gemm_bias_f32`] or [`gemm_bias_f64`].
///
/// # Panics
/// When a slice is shorter than the dimensions say.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn gemm_bias<T: Scalar>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    a_transposed: bool,
    b: &[T],
    b_transposed: bool,
    bias: &[T],
    c: &mut [T],
) {
    let backend = Backend::detected();
    if let (Some(a), Some(b), Some(bias), Some(c)) =
        (as_f32(a), as_f32(b), as_f32(bias), as_f32_mut(c))
    {
        gemm_bias_f32(backend, m, n, k, a, a_transposed, b, b_transposed, bias, c);
    } else {
        check_lengths(m, n, k, a, b, c);
        check_bias(n, bias);
        T::gemm(m, n, k, a, a_transposed, b, b_transposed, c, false);
        add_bias_rows(&mut c[..m * n], bias, n);
    }
}

/// `c (m×n) = op(a) · op(b) + 1·biasᵀ` and `relu = relu(c)` for either
/// scalar type, with [`Backend::detected`]: [`gemm_bias_relu_f32`] or
/// [`gemm_bias_relu_f64`].
///
/// # Panics
/// When a slice is shorter than the dimensions say (`relu` as `c`).
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn gemm_bias_relu<T: Scalar>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    a_transposed: bool,
    b: &[T],
    b_transposed: bool,
    bias: &[T],
    c: &mut [T],
    relu: &mut [T],
) {
    let backend = Backend::detected();
    let f32_operands = (as_f32(a), as_f32(b), as_f32(bias));
    if let ((Some(a), Some(b), Some(bias)), Some(c), Some(relu)) =
        (f32_operands, as_f32_mut(c), as_f32_mut(relu))
    {
        gemm_bias_relu_f32(
            backend,
            m,
            n,
            k,
            a,
            a_transposed,
            b,
            b_transposed,
            bias,
            c,
            relu,
        );
    } else {
        check_lengths(m, n, k, a, b, c);
        check_bias(n, bias);
        check_relu(m, n, relu);
        T::gemm(m, n, k, a, a_transposed, b, b_transposed, c, false);
        finish(&mut c[..m * n], n, Out::BiasRelu(bias, relu));
    }
}

/// `values` as `f32`s when `T` is `f32`.
#[inline]
fn as_f32<T: Scalar>(values: &[T]) -> Option<&[f32]> {
    (TypeId::of::<T>() == TypeId::of::<f32>()).then(|| {
        // SAFETY: T is f32 (same TypeId), so the slice is reinterpreted as itself.
        unsafe { core::slice::from_raw_parts(values.as_ptr().cast::<f32>(), values.len()) }
    })
}

/// `values` as `f32`s when `T` is `f32`.
#[inline]
fn as_f32_mut<T: Scalar>(values: &mut [T]) -> Option<&mut [f32]> {
    (TypeId::of::<T>() == TypeId::of::<f32>()).then(|| {
        // SAFETY: T is f32 (same TypeId), so the slice is reinterpreted as itself.
        unsafe { core::slice::from_raw_parts_mut(values.as_mut_ptr().cast::<f32>(), values.len()) }
    })
}

/// `c (m×n) = op(a) · op(b)` (or `+=` when `accumulate`) for operands read
/// through strides (`View`s) and row `i` of `c` starting at `i·ldc`: the
/// products of the convolutions, whose operands are blocks of larger
/// buffers. f32 on AVX2 + FMA runs the small path (depth in chunks of at
/// most [`SMALL_MAX_DEPTH`], rows in chunks that keep `op(a)` within
/// [`SMALL_MAX_A`]); everything else plain loops.
///
/// # Panics
/// When a view or `c` does not cover its dimensions.
pub(crate) fn gemm_strided<T: Scalar>(
    (m, n, k): (usize, usize, usize),
    a: View<'_, T>,
    b: View<'_, T>,
    c: &mut [T],
    ldc: usize,
    accumulate: bool,
) {
    let covers = |v: &View<'_, T>, rows: usize, cols: usize| {
        rows == 0
            || cols == 0
            || (rows - 1)
                .checked_mul(v.row_stride)
                .zip((cols - 1).checked_mul(v.col_stride))
                .and_then(|(r, c)| r.checked_add(c))
                .is_some_and(|last| last < v.data.len())
    };
    assert!(
        covers(&a, m, k) && covers(&b, k, n),
        "gemm_strided: an operand does not cover its {m}×{k} · {k}×{n} block"
    );
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        ldc >= n && (m - 1) * ldc + n <= c.len(),
        "gemm_strided: {} entries in rows of {ldc} for an {m}×{n} result",
        c.len()
    );
    if k == 0 {
        if !accumulate {
            for row in c.chunks_mut(ldc).take(m) {
                row[..n].fill(T::ZERO);
            }
        }
        return;
    }
    if let (Some(a32), Some(b32)) = (view_as_f32(a), view_as_f32(b)) {
        let backend = Backend::detected();
        if backend == Backend::Avx2Fma && m >= 2 && n <= SMALL_MAX_B / SMALL_MAX_DEPTH.min(k) {
            let Some(c32) = as_f32_mut(c) else {
                unreachable!("T is f32: its operands are")
            };
            let depth = SMALL_MAX_DEPTH.min(k);
            let rows = (SMALL_MAX_A / depth).clamp(1, m);
            let mut done = true;
            for p0 in (0..k).step_by(depth) {
                let kc = depth.min(k - p0);
                for i0 in (0..m).step_by(rows) {
                    let mc = rows.min(m - i0);
                    let a_block = View {
                        data: &a32.data[i0 * a32.row_stride + p0 * a32.col_stride..],
                        ..a32
                    };
                    let b_block = View {
                        data: &b32.data[p0 * b32.row_stride..],
                        ..b32
                    };
                    let mut out = if accumulate || p0 > 0 {
                        Out::Accumulate
                    } else {
                        Out::Overwrite
                    };
                    done &= f32_paths::small_f32_strided(
                        backend,
                        (mc, n, kc),
                        a_block,
                        b_block,
                        &mut c32[i0 * ldc..],
                        ldc,
                        &mut out,
                    );
                }
                if !done {
                    break;
                }
            }
            if done {
                return;
            }
        }
    }
    // Plain loops: c[i, :] (+)= Σ_p a[i, p] · b[p, :].
    for (i, c_row) in c.chunks_mut(ldc).take(m).enumerate() {
        let c_row = &mut c_row[..n];
        if !accumulate {
            c_row.fill(T::ZERO);
        }
        for p in 0..k {
            let a_ip = a.data[i * a.row_stride + p * a.col_stride];
            let b_row = &b.data[p * b.row_stride..];
            if b.col_stride == 1 {
                axpy(a_ip, &b_row[..n], c_row);
            } else {
                for (j, c_ij) in c_row.iter_mut().enumerate() {
                    *c_ij += a_ip * b_row[j * b.col_stride];
                }
            }
        }
    }
}

/// A view of `f32`s when `T` is `f32`.
#[inline]
fn view_as_f32<T: Scalar>(v: View<'_, T>) -> Option<View<'_, f32>> {
    Some(View {
        data: as_f32(v.data)?,
        row_stride: v.row_stride,
        col_stride: v.col_stride,
    })
}
