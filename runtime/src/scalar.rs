//! The scalar types a [`Matrix`](crate::Matrix) can hold: `f32` and `f64`.

use core::fmt::{Debug, Display};
use core::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point scalar: `f32` or `f64`.
///
/// The trait is sealed. Besides arithmetic it carries the matrix-product
/// kernels, so that each scalar type can use its own vectorized code.
pub trait Scalar:
    sealed::Sealed
    + Copy
    + Default
    + PartialEq
    + PartialOrd
    + Debug
    + Display
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Machine epsilon.
    const EPSILON: Self;
    /// The name of the type, as in a weight file's dtype (`"F32"`, `"F64"`).
    const DTYPE: &'static str;

    /// Converts from `f64` (rounding for `f32`).
    fn from_f64(x: f64) -> Self;
    /// Converts to `f64` exactly.
    fn to_f64(self) -> f64;
    /// Converts from `usize` (used for batch sizes and counts).
    fn from_usize(n: usize) -> Self;
    /// e^x.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// ln(1 + x), accurate near 0.
    fn ln_1p(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// The larger of two values; NaN if either is NaN.
    fn max(self, other: Self) -> Self;
    /// The smaller of two values; NaN if either is NaN.
    fn min(self, other: Self) -> Self;
    /// `self^n` for an integer exponent.
    fn powi(self, n: i32) -> Self;
    /// Neither NaN nor infinite.
    fn is_finite(self) -> bool;
    /// Is NaN.
    fn is_nan(self) -> bool;
    /// `self · a + b` in one rounding where the hardware allows it.
    fn mul_add(self, a: Self, b: Self) -> Self;

    /// `self · a + b` in one rounding, for code compiled with FMA enabled
    /// (`#[target_feature(enable = "fma")]`), where it is one instruction;
    /// elsewhere a slow libm call. Without std, a plain multiply-add.
    #[doc(hidden)]
    #[inline(always)]
    fn fused_mul_add(self, a: Self, b: Self) -> Self {
        self * a + b
    }

    /// `x ← eˣ` for every entry. For `f32` a vectorized polynomial
    /// (AVX2 + FMA when the CPU has them; accuracy in
    /// [`kernels`](crate::kernels::exp_in_place)); for `f64` the standard
    /// library's `exp`.
    #[inline]
    fn exp_in_place(values: &mut [Self]) {
        for v in values {
            *v = v.exp();
        }
    }

    /// `x ← tanh x` for every entry; vectorized for `f32` like
    /// [`exp_in_place`](Scalar::exp_in_place).
    #[inline]
    fn tanh_in_place(values: &mut [Self]) {
        for v in values {
            *v = v.tanh();
        }
    }

    /// `dst ← tanh src` entry by entry (slices of one length), as
    /// [`tanh_in_place`](Scalar::tanh_in_place) without a copy first.
    #[inline]
    fn tanh_into(src: &[Self], dst: &mut [Self]) {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = s.tanh();
        }
    }

    /// `dst ← 1/(1 + e^(−src))` entry by entry (slices of one length), as
    /// [`sigmoid_in_place`](Scalar::sigmoid_in_place) without a copy first.
    #[inline]
    fn sigmoid_into(src: &[Self], dst: &mut [Self]) {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = crate::activations::sigmoid(s);
        }
    }

    /// `x ← 1/(1 + e^(−x))` for every entry, without overflow for any `x`;
    /// vectorized for `f32` like [`exp_in_place`](Scalar::exp_in_place),
    /// for `f64` [`sigmoid`](crate::activations::sigmoid) per entry.
    #[inline]
    fn sigmoid_in_place(values: &mut [Self]) {
        for v in values {
            *v = crate::activations::sigmoid(*v);
        }
    }

    /// `x ← ln x` for every entry; vectorized for `f32` like
    /// [`exp_in_place`](Scalar::exp_in_place).
    #[inline]
    fn ln_in_place(values: &mut [Self]) {
        for v in values {
            *v = v.ln();
        }
    }

    /// `x ← ln(1 + x)` for every entry, accurate near 0; vectorized for
    /// `f32` like [`exp_in_place`](Scalar::exp_in_place).
    #[inline]
    fn ln_1p_in_place(values: &mut [Self]) {
        for v in values {
            *v = v.ln_1p();
        }
    }

    /// Matrix product kernel on row-major slices:
    /// `c (m×n) = op(a) · op(b)`, or `c += op(a) · op(b)` when `accumulate`.
    ///
    /// `op(a)` is `a` (m×k, `a.len() == m·k`) or, when `a_transposed`, the
    /// transpose of `a` stored as k×m; likewise `op(b)` is `b` (k×n) or the
    /// transpose of `b` stored as n×k. The typed products of
    /// [`Matrix`](crate::Matrix) call this with lengths that the types
    /// guarantee.
    ///
    /// # Panics
    /// When a slice is shorter than the dimensions say.
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        m: usize,
        n: usize,
        k: usize,
        a: &[Self],
        a_transposed: bool,
        b: &[Self],
        b_transposed: bool,
        c: &mut [Self],
        accumulate: bool,
    );
}

/// `$t::f(args)`: the standard library's function with std, libm's without
/// (see [`crate::float`]).
macro_rules! std_or_libm {
    ($t:ident :: $f:ident ( $($arg:expr),* )) => {{
        #[cfg(feature = "std")]
        let value = $t::$f($($arg),*);
        #[cfg(not(feature = "std"))]
        let value = <$t as crate::float::Float>::$f($($arg),*);
        value
    }};
}

macro_rules! impl_scalar {
    ($t:ident, $dtype:literal, $gemm:ident $(, $slice_fns:item)*) => {
        impl Scalar for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const EPSILON: Self = $t::EPSILON;
            const DTYPE: &'static str = $dtype;

            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_usize(n: usize) -> Self {
                n as $t
            }
            #[inline(always)]
            fn exp(self) -> Self {
                std_or_libm!($t::exp(self))
            }
            #[inline(always)]
            fn ln(self) -> Self {
                std_or_libm!($t::ln(self))
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                std_or_libm!($t::ln_1p(self))
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                std_or_libm!($t::tanh(self))
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                std_or_libm!($t::sqrt(self))
            }
            #[inline(always)]
            fn abs(self) -> Self {
                std_or_libm!($t::abs(self))
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                if self.is_nan() || other.is_nan() {
                    $t::NAN
                } else if self >= other {
                    self
                } else {
                    other
                }
            }
            #[inline(always)]
            fn min(self, other: Self) -> Self {
                if self.is_nan() || other.is_nan() {
                    $t::NAN
                } else if self <= other {
                    self
                } else {
                    other
                }
            }
            #[inline(always)]
            fn powi(self, n: i32) -> Self {
                std_or_libm!($t::powi(self, n))
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                $t::is_finite(self)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                $t::is_nan(self)
            }
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                // A plain multiply-add: `f32::mul_add` is a slow libm call
                // without `-C target-feature=+fma`.
                self * a + b
            }
            #[cfg(feature = "std")]
            #[inline(always)]
            fn fused_mul_add(self, a: Self, b: Self) -> Self {
                $t::mul_add(self, a, b)
            }
            #[inline]
            fn gemm(
                m: usize,
                n: usize,
                k: usize,
                a: &[Self],
                a_transposed: bool,
                b: &[Self],
                b_transposed: bool,
                c: &mut [Self],
                accumulate: bool,
            ) {
                let backend = crate::kernels::Backend::detected();
                crate::kernels::$gemm(
                    backend,
                    m,
                    n,
                    k,
                    a,
                    a_transposed,
                    b,
                    b_transposed,
                    c,
                    accumulate,
                );
            }
            $($slice_fns)*
        }
    };
}

impl_scalar!(
    f32,
    "F32",
    gemm_f32,
    #[inline]
    fn exp_in_place(values: &mut [f32]) {
        crate::kernels::exp_in_place(values);
    },
    #[inline]
    fn tanh_in_place(values: &mut [f32]) {
        crate::kernels::tanh_in_place(values);
    },
    #[inline]
    fn sigmoid_in_place(values: &mut [f32]) {
        crate::kernels::sigmoid_in_place(values);
    },
    #[inline]
    fn tanh_into(src: &[f32], dst: &mut [f32]) {
        crate::kernels::tanh_into(src, dst);
    },
    #[inline]
    fn sigmoid_into(src: &[f32], dst: &mut [f32]) {
        crate::kernels::sigmoid_into(src, dst);
    },
    #[inline]
    fn ln_in_place(values: &mut [f32]) {
        crate::kernels::ln_in_place(values);
    },
    #[inline]
    fn ln_1p_in_place(values: &mut [f32]) {
        crate::kernels::ln_1p_in_place(values);
    }
);
impl_scalar!(f64, "F64", gemm_f64);
