//! Vectorized `exp`, `tanh`, `sigmoid`, `ln` and `ln_1p` over f32 slices.
//!
//! Plain branch-free arithmetic that LLVM vectorizes: SSE2 in a default
//! build, 8 lanes of AVX2 + FMA when the CPU has them (picked at run time;
//! there the polynomials use fused multiply-adds, so the last bit may differ
//! between the two paths).
//! A tail of fewer than 8 entries is padded to 8, so that even the 3 or 4
//! entries of a small network's row take the vector code.
//!
//! Accuracy against the f64 functions of the standard library, measured by
//! the tests of this module on evenly spaced points, each with its two f32
//! neighbours (600 000 points per range), the worse of the two paths:
//! - [`exp_in_place`] on `[-104, 89]`: largest relative error 9.8e-8 (under
//!   1 ulp; the tests allow 3e-7) wherever the result is a normal f32; below
//!   `f32::MIN_POSITIVE` a correctly scaled subnormal; `+∞` above `88.73`,
//!   `0` below `-103.98`; NaN stays NaN.
//! - [`tanh_in_place`] on `[-20, 20]`: largest relative error 1.4e-7 (the
//!   tests allow 4e-7), also near 0; exactly `±1` beyond `|x| ≈ 9`; odd,
//!   with `tanh(−0) = −0`; NaN stays NaN.
//! - [`sigmoid_in_place`] on `[-87, 88]`: largest relative error 1.7e-7 (the
//!   tests allow 4e-7); computed from `e = exp(−|x|)` as `1/(1 + e)` or
//!   `e/(1 + e)`, so it never overflows: exactly `1` above `x ≈ 17`, a
//!   subnormal down to `x ≈ −103`, then `0`; `σ(±0) = ½`; NaN stays NaN.
//! - [`ln_in_place`] on `[1e-38, 1e38]` (log-spaced) and `[0.5, 2]`: largest
//!   relative error 1.7e-7 (the tests allow 3e-7), 4.4e-8 on subnormal
//!   inputs; `ln 0 = −∞`, `ln ∞ = ∞`, negative or NaN
//!   inputs give NaN.
//! - [`ln_1p_in_place`] on `[-0.999, 100]` and `[-1e-3, 1e-3]`: largest
//!   relative error 2.4e-7 (the tests allow 4e-7), also for tiny inputs
//!   (`ln_1p(x) = x` below `|x| ≈ 6e-8`, `ln_1p(−0) = −0`); `ln_1p(−1) = −∞`,
//!   `ln_1p(∞) = ∞`, below −1 or NaN gives NaN.

#[cfg(all(chainrule_avx2, not(feature = "std")))]
use crate::float::Float;

/// `log2(e)`.
const LOG2_E: f32 = core::f32::consts::LOG2_E;
/// `ln 2` split in two so that `n·LN2_HI` is exact for the `n` used.
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
/// Adding and subtracting `1.5·2²³` rounds an f32 of magnitude below 2²² to
/// the nearest integer.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// How the kernels compute `a·b + c`.
trait MulAdd {
    fn mul_add(a: f32, b: f32, c: f32) -> f32;
}

/// One rounding, for the AVX2 + FMA code (`vfmadd`).
#[cfg(chainrule_avx2)]
struct Fused;
/// Two roundings, for the portable code (where `f32::mul_add` would be a
/// slow library call).
struct Separate;

#[cfg(chainrule_avx2)]
impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

impl MulAdd for Separate {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

/// e^x for one value, written so that a loop over it vectorizes.
#[inline(always)]
fn exp_one<M: MulAdd>(x: f32) -> f32 {
    // Clamp (NaN stays NaN); beyond these bounds the result is +∞ or 0
    // anyway.
    let clamped = x.clamp(-104.0, 89.0);
    let shifted = M::mul_add(clamped, LOG2_E, ROUND_MAGIC);
    let n = shifted - ROUND_MAGIC;
    // n·LN2_HI is exact, so both forms of the first step agree.
    let r = M::mul_add(-n, LN2_HI, clamped);
    let r = M::mul_add(-n, LN2_LO, r);
    // e^r on |r| ≤ ln2/2 by its Taylor series to degree 7 (error < 1.5e-9).
    let p = 1.0 / 5040.0;
    let p = M::mul_add(p, r, 1.0 / 720.0);
    let p = M::mul_add(p, r, 1.0 / 120.0);
    let p = M::mul_add(p, r, 1.0 / 24.0);
    let p = M::mul_add(p, r, 1.0 / 6.0);
    let p = M::mul_add(p, r, 0.5);
    let p = M::mul_add(p, r, 1.0);
    let p = M::mul_add(p, r, 1.0);
    // 2ⁿ as two normal powers of two, so that subnormal results and the
    // overflow to +∞ come out of ordinary multiplications.
    // The integer n sits in the low bits of `shifted` (an `as` cast would
    // not vectorize: it saturates lane by lane).
    let n = (shifted.to_bits() as i32).wrapping_sub(ROUND_MAGIC.to_bits() as i32);
    let half = n >> 1;
    let scale = |e: i32| f32::from_bits(((e + 127) as u32) << 23);
    // NaN went through the clamp and the polynomial, so y is NaN too. (No
    // branch returns `x` itself: LLVM would turn that into a masked store,
    // which is slow on AMD CPUs.)
    p * scale(half) * scale(n - half)
}

/// tanh(x) for one value, written so that a loop over it vectorizes.
#[inline(always)]
fn tanh_one<M: MulAdd>(x: f32) -> f32 {
    let a = x.abs();
    // Small |x|: an odd polynomial (Cephes' tanhf), free of the cancellation
    // of 1 − 2/(e²ˣ + 1).
    let z = x * x;
    let poly = -5.704_988_7e-3;
    let poly = M::mul_add(poly, z, 2.063_909e-2);
    let poly = M::mul_add(poly, z, -5.373_971_6e-2);
    let poly = M::mul_add(poly, z, 1.333_144_2e-1);
    let poly = M::mul_add(poly, z, -3.333_328e-1);
    // Computed on |x| and signed after, so that tanh(−0) = −0.
    let small = M::mul_add(poly * z, a, a).copysign(x);
    // Larger |x|: 1 − 2/(e^{2|x|} + 1), with the sign of x.
    let large = (1.0 - 2.0 / (exp_one::<M>(2.0 * a) + 1.0)).copysign(x);
    // NaN takes `large`, which is NaN.
    if a < 0.625 {
        small
    } else {
        large
    }
}

/// The logistic function for one value, written so that a loop over it
/// vectorizes: `e = exp(−|x|)`, then `1/(1 + e)` for `x ≥ 0` and
/// `e/(1 + e)` otherwise, so nothing overflows.
#[inline(always)]
fn sigmoid_one<M: MulAdd>(x: f32) -> f32 {
    let e = exp_one::<M>(-x.abs());
    let numerator = if x >= 0.0 { 1.0 } else { e };
    numerator / (1.0 + e)
}

/// ln(x) for one value, written so that a loop over it vectorizes.
#[inline(always)]
fn ln_one<M: MulAdd>(x: f32) -> f32 {
    // Subnormals are scaled into the normal range first (2²³ exactly).
    let subnormal = x < f32::MIN_POSITIVE;
    let scaled = if subnormal { x * 8_388_608.0 } else { x };
    let bits = scaled.to_bits() as i32;
    let exponent = (bits >> 23) - 127 - if subnormal { 23 } else { 0 };
    // x = m·2^k with m in [√½, √2), so that ln m is small and its series
    // converges fast.
    let mantissa = f32::from_bits(((bits & 0x007f_ffff) | 0x3f80_0000) as u32);
    let above = mantissa > core::f32::consts::SQRT_2;
    let m = if above { mantissa * 0.5 } else { mantissa };
    let k = (exponent + i32::from(above)) as f32;
    // ln m = 2 atanh(s) = 2(s + s³/3 + s⁵/5 + …), s = (m − 1)/(m + 1),
    // |s| ≤ 0.1716; m − 1 is exact. Truncation error below 3e-9.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let p = 2.0 / 11.0;
    let p = M::mul_add(p, s2, 2.0 / 9.0);
    let p = M::mul_add(p, s2, 2.0 / 7.0);
    let p = M::mul_add(p, s2, 2.0 / 5.0);
    let p = M::mul_add(p, s2, 2.0 / 3.0);
    let ln_m = M::mul_add(s * s2, p, 2.0 * s);
    // k·LN2_HI is exact.
    let y = M::mul_add(k, LN2_HI, M::mul_add(k, LN2_LO, ln_m));
    if x == 0.0 {
        f32::NEG_INFINITY
    } else if x == f32::INFINITY {
        f32::INFINITY
    } else if x > 0.0 {
        y
    } else {
        // Negative or NaN.
        f32::NAN
    }
}

/// ln(1 + x) for one value, written so that a loop over it vectorizes.
#[inline(always)]
fn ln_1p_one<M: MulAdd>(x: f32) -> f32 {
    let m = 1.0 + x;
    let d = m - 1.0;
    // ln(m)·x/(m − 1) corrects for the rounding of 1 + x (Goldberg's trick);
    // where 1 + x rounds to 1, ln(1 + x) is x to within half an ulp.
    let y = ln_one::<M>(m) * (x / d);
    if d == 0.0 {
        // x − x²/2 rounds to x here (and keeps −0); written so rather than
        // as `x`, which LLVM would turn into a slow masked store.
        x - 0.5 * x * x
    } else if m == f32::INFINITY || m == 0.0 {
        ln_one::<M>(m)
    } else {
        y
    }
}

/// Applies `f` to every entry with AVX2 + FMA compiled for 8 lanes.
///
/// Plain loops whose trip count LLVM cannot see: its loop vectorizer then
/// turns the branches of `f` into blends (a fully unrolled loop over 8 would
/// be left to the weaker straight-line vectorizer, which keeps tanh scalar).
/// A tail shorter than 8 is padded to 8 so that it takes the vector code too.
#[inline(always)]
fn map_in_place(values: &mut [f32], f: impl Fn(f32) -> f32) {
    let split = values.len() & !7;
    let (body, tail) = values.split_at_mut(split);
    for v in body.iter_mut() {
        *v = f(*v);
    }
    if !tail.is_empty() {
        // Element by element rather than `copy_from_slice`, which calls
        // `memcpy`: a few entries are the whole work in a small network.
        let mut padded: [f32; 8] = core::array::from_fn(|k| tail.get(k).copied().unwrap_or(0.0));
        let lanes = core::hint::black_box(8usize).min(8);
        for v in padded[..lanes].iter_mut() {
            *v = f(*v);
        }
        for (v, &p) in tail.iter_mut().zip(&padded) {
            *v = p;
        }
    }
}

/// [`map_in_place`] reading `src` and writing `dst` (of the same length):
/// an activation's `a = f(z)` without first copying `z` into `a`.
#[inline(always)]
fn map_into(src: &[f32], dst: &mut [f32], f: impl Fn(f32) -> f32) {
    let split = src.len().min(dst.len()) & !7;
    let (body, tail) = dst.split_at_mut(split);
    for (d, &s) in body.iter_mut().zip(&src[..split]) {
        *d = f(s);
    }
    if !tail.is_empty() {
        let rest = &src[split..];
        let mut padded: [f32; 8] = core::array::from_fn(|k| rest.get(k).copied().unwrap_or(0.0));
        let lanes = core::hint::black_box(8usize).min(8);
        for v in padded[..lanes].iter_mut() {
            *v = f(*v);
        }
        for (d, &p) in tail.iter_mut().zip(&padded) {
            *d = p;
        }
    }
}

/// The out-of-place form of a [`slice_fn!`] function.
macro_rules! slice_into_fn {
    ($(#[$doc:meta])* $name:ident, $one:ident, $avx2:ident) => {
        $(#[$doc])*
        ///
        /// # Panics
        /// If the two slices differ in length.
        pub fn $name(src: &[f32], dst: &mut [f32]) {
            assert_eq!(src.len(), dst.len(), "source and destination lengths differ");
            #[cfg(chainrule_avx2)]
            if super::Backend::detected() == super::Backend::Avx2Fma {
                // SAFETY: the CPU has AVX2 and FMA (just detected).
                return unsafe { $avx2(src, dst) };
            }
            map_into(src, dst, $one::<Separate>);
        }

        /// The loop compiled with AVX2 and FMA.
        ///
        /// # Safety
        /// The CPU has AVX2 and FMA.
        #[cfg(chainrule_avx2)]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $avx2(src: &[f32], dst: &mut [f32]) {
            map_into(src, dst, $one::<Fused>);
        }
    };
}

slice_into_fn!(
    /// `dst ← tanh(src)` entry by entry, as [`tanh_in_place`].
    tanh_into,
    tanh_one,
    tanh_into_avx2
);
slice_into_fn!(
    /// `dst ← 1/(1 + e^(−src))` entry by entry, as [`sigmoid_in_place`].
    sigmoid_into,
    sigmoid_one,
    sigmoid_into_avx2
);

macro_rules! slice_fn {
    ($(#[$doc:meta])* $name:ident, $one:ident, $avx2:ident) => {
        $(#[$doc])*
        pub fn $name(values: &mut [f32]) {
            #[cfg(chainrule_avx2)]
            if super::Backend::detected() == super::Backend::Avx2Fma {
                // SAFETY: the CPU has AVX2 and FMA (just detected).
                return unsafe { $avx2(values) };
            }
            map_in_place(values, $one::<Separate>);
        }

        /// The loop compiled with AVX2 and FMA.
        ///
        /// # Safety
        /// The CPU has AVX2 and FMA.
        #[cfg(chainrule_avx2)]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $avx2(values: &mut [f32]) {
            map_in_place(values, $one::<Fused>);
        }
    };
}

slice_fn!(
    /// `x ← eˣ` for every entry (see the module docs for the accuracy).
    exp_in_place,
    exp_one,
    exp_avx2
);
slice_fn!(
    /// `x ← tanh(x)` for every entry (see the module docs for the accuracy).
    tanh_in_place,
    tanh_one,
    tanh_avx2
);
slice_fn!(
    /// `x ← 1/(1 + e^(−x))` for every entry, without overflow (see the module
    /// docs for the accuracy).
    sigmoid_in_place,
    sigmoid_one,
    sigmoid_avx2
);
slice_fn!(
    /// `x ← ln(x)` for every entry (see the module docs for the accuracy).
    ln_in_place,
    ln_one,
    ln_avx2
);
slice_fn!(
    /// `x ← ln(1 + x)` for every entry, accurate near 0 (see the module docs
    /// for the accuracy).
    ln_1p_in_place,
    ln_1p_one,
    ln_1p_avx2
);

#[cfg(test)]
mod tests {
    use super::*;

    /// The portable loops, whatever the CPU has.
    fn exp_portable(values: &mut [f32]) {
        map_in_place(values, exp_one::<Separate>);
    }
    fn tanh_portable(values: &mut [f32]) {
        map_in_place(values, tanh_one::<Separate>);
    }
    fn sigmoid_portable(values: &mut [f32]) {
        map_in_place(values, sigmoid_one::<Separate>);
    }
    fn ln_portable(values: &mut [f32]) {
        map_in_place(values, ln_one::<Separate>);
    }
    fn ln_1p_portable(values: &mut [f32]) {
        map_in_place(values, ln_1p_one::<Separate>);
    }

    /// The out-of-place forms write what the in-place ones leave, bit for
    /// bit, at every length around the 8-lane split.
    #[test]
    fn into_forms_match_the_in_place_forms() {
        for len in (0..=19).chain([37, 64]) {
            let src: Vec<f32> = (0..len).map(|i| (i as f32 - 9.5) * 0.73).collect();
            type Into = fn(&[f32], &mut [f32]);
            type InPlace = fn(&mut [f32]);
            let pairs: [(Into, InPlace); 2] =
                [(tanh_into, tanh_in_place), (sigmoid_into, sigmoid_in_place)];
            for (into, in_place) in pairs {
                let mut expected = src.clone();
                in_place(&mut expected);
                let mut dst = vec![f32::NAN; len];
                into(&src, &mut dst);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&dst), bits(&expected), "length {len}");
            }
        }
    }

    /// Evenly spaced points of `[lo, hi]`, plus their neighbours one ulp away.
    fn sweep(lo: f32, hi: f32, count: usize) -> Vec<f32> {
        let mut points = Vec::with_capacity(3 * count);
        for i in 0..count {
            let x = lo + (hi - lo) * i as f32 / (count - 1) as f32;
            points.extend([x, f32::from_bits(x.to_bits() + 1), x.next_down_compat()]);
        }
        points
    }

    trait NextDown {
        fn next_down_compat(self) -> Self;
    }
    impl NextDown for f32 {
        fn next_down_compat(self) -> f32 {
            if self > 0.0 {
                f32::from_bits(self.to_bits() - 1)
            } else if self < 0.0 {
                f32::from_bits(self.to_bits() + 1)
            } else {
                -f32::from_bits(1)
            }
        }
    }

    /// Largest relative error of `f` against `reference` (in f64) over
    /// `points` whose exact result has magnitude at least `floor`.
    fn max_relative_error(
        points: &[f32],
        f: fn(&mut [f32]),
        reference: fn(f64) -> f64,
        floor: f64,
    ) -> (f64, f32) {
        let mut values = points.to_vec();
        f(&mut values);
        let mut worst = (0.0, 0.0);
        for (&x, &y) in points.iter().zip(&values) {
            let exact = reference(x as f64);
            if exact.abs() >= floor && exact.is_finite() && exact.abs() <= f32::MAX as f64 {
                let error = ((y as f64 - exact) / exact).abs();
                if error > worst.0 {
                    worst = (error, x);
                }
            }
        }
        worst
    }

    #[test]
    fn exp_is_accurate_over_the_normal_range() {
        let points = sweep(-104.0, 89.0, 200_001);
        for f in [exp_in_place, exp_portable] {
            let (error, at) = max_relative_error(&points, f, f64::exp, f32::MIN_POSITIVE as f64);
            println!("exp: max relative error {error:e} at x = {at}");
            assert!(error < 3e-7, "exp: relative error {error:e} at x = {at}");
        }
    }

    #[test]
    fn exp_edges() {
        let mut v = [
            0.0,
            1.0,
            -1.0,
            88.8,
            1000.0,
            f32::INFINITY,
            -104.5,
            -1000.0,
            f32::NEG_INFINITY,
            f32::NAN,
            -100.0,
        ];
        exp_in_place(&mut v);
        assert_eq!(v[0], 1.0);
        assert!((v[1] - core::f32::consts::E).abs() <= f32::EPSILON * 3.0);
        assert!((v[2] - 1.0 / core::f32::consts::E).abs() <= f32::EPSILON);
        assert_eq!(&v[3..6], &[f32::INFINITY; 3]);
        assert_eq!(&v[6..9], &[0.0; 3]);
        assert!(v[9].is_nan());
        // A subnormal result, correctly scaled.
        let exact = (-100.0f64).exp();
        assert!(
            (v[10] as f64 - exact).abs() <= 2.0 * f64::from(f32::from_bits(1)),
            "{} vs {exact}",
            v[10]
        );
    }

    #[test]
    fn tanh_is_accurate_and_odd() {
        let points = sweep(-20.0, 20.0, 200_001);
        let tiny = sweep(-1e-3, 1e-3, 2001);
        for f in [tanh_in_place, tanh_portable] {
            let (error, at) = max_relative_error(&points, f, f64::tanh, 1e-30);
            println!("tanh: max relative error {error:e} at x = {at}");
            assert!(error < 4e-7, "tanh: relative error {error:e} at x = {at}");
            let (error, at) = max_relative_error(&tiny, f, f64::tanh, 1e-30);
            assert!(
                error < 4e-7,
                "tanh near 0: relative error {error:e} at x = {at}"
            );
        }
        let mut plus = points.clone();
        let mut minus: Vec<f32> = points.iter().map(|x| -x).collect();
        tanh_in_place(&mut plus);
        tanh_in_place(&mut minus);
        assert!(plus.iter().zip(&minus).all(|(p, m)| *p == -*m));
    }

    #[test]
    fn tanh_edges() {
        let mut v = [
            0.0,
            -0.0,
            10.0,
            -10.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
        ];
        tanh_in_place(&mut v);
        assert_eq!(v[0].to_bits(), 0.0f32.to_bits());
        assert_eq!(v[1].to_bits(), (-0.0f32).to_bits());
        assert_eq!(&v[2..6], &[1.0, -1.0, 1.0, -1.0]);
        assert!(v[6].is_nan());
    }

    /// The logistic function in f64.
    fn sigmoid_f64(x: f64) -> f64 {
        if x >= 0.0 {
            1.0 / (1.0 + (-x).exp())
        } else {
            let e = x.exp();
            e / (1.0 + e)
        }
    }

    #[test]
    fn sigmoid_is_accurate_over_the_normal_range() {
        let points = sweep(-87.0, 88.0, 200_001);
        let tiny = sweep(-1e-3, 1e-3, 2001);
        for f in [sigmoid_in_place, sigmoid_portable] {
            for set in [&points, &tiny] {
                let (error, at) = max_relative_error(set, f, sigmoid_f64, f32::MIN_POSITIVE as f64);
                println!("sigmoid: max relative error {error:e} at x = {at}");
                assert!(
                    error < 4e-7,
                    "sigmoid: relative error {error:e} at x = {at}"
                );
            }
        }
    }

    #[test]
    fn sigmoid_edges_and_subnormal_results() {
        let mut v = [
            0.0,
            -0.0,
            17.0,
            100.0,
            f32::INFINITY,
            -104.0,
            -1000.0,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MAX,
            f32::MIN,
        ];
        sigmoid_in_place(&mut v);
        assert_eq!(&v[..5], &[0.5, 0.5, 1.0, 1.0, 1.0]);
        assert_eq!(&v[5..8], &[0.0; 3]);
        assert!(v[8].is_nan());
        assert_eq!(v[9], 1.0);
        assert_eq!(v[10], 0.0);
        // Subnormal results, to within two units of the smallest subnormal.
        let below = sweep(-103.0, -87.5, 2001);
        let mut values = below.clone();
        sigmoid_in_place(&mut values);
        for (&x, &y) in below.iter().zip(&values) {
            let exact = sigmoid_f64(f64::from(x));
            assert!(
                (f64::from(y) - exact).abs() <= 2.0 * f64::from(f32::from_bits(1)),
                "sigmoid({x}) = {y}, exact {exact}"
            );
        }
    }

    /// `count` points spaced evenly in the logarithm over `[lo, hi]`, plus
    /// their neighbours.
    fn log_sweep(lo: f32, hi: f32, count: usize) -> Vec<f32> {
        let (a, b) = (f64::from(lo).ln(), f64::from(hi).ln());
        (0..count)
            .flat_map(|i| {
                let x = (a + (b - a) * i as f64 / (count - 1) as f64).exp() as f32;
                [x, f32::from_bits(x.to_bits() + 1), x.next_down_compat()]
            })
            .collect()
    }

    #[test]
    fn ln_is_accurate_for_normal_and_subnormal_inputs() {
        let wide = log_sweep(1e-38, 1e38, 200_001);
        let near_one = sweep(0.5, 2.0, 200_001);
        // Every 997th subnormal bit pattern.
        let subnormal: Vec<f32> = (1..0x0080_0000u32)
            .step_by(997)
            .map(f32::from_bits)
            .collect();
        for f in [ln_in_place, ln_portable] {
            for set in [&wide, &near_one, &subnormal] {
                let (error, at) = max_relative_error(set, f, f64::ln, 0.0);
                println!("ln: max relative error {error:e} at x = {at}");
                assert!(error < 3e-7, "ln: relative error {error:e} at x = {at}");
            }
        }
    }

    #[test]
    fn ln_edges() {
        let mut v = [
            1.0,
            0.0,
            -0.0,
            f32::INFINITY,
            -1.0,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MAX,
            f32::from_bits(1),
            2.0,
        ];
        ln_in_place(&mut v);
        assert_eq!(v[0], 0.0);
        assert_eq!(&v[1..3], &[f32::NEG_INFINITY; 2]);
        assert_eq!(v[3], f32::INFINITY);
        assert!(v[4].is_nan() && v[5].is_nan() && v[6].is_nan());
        assert!((f64::from(v[7]) - f64::from(f32::MAX).ln()).abs() < 1e-4);
        // ln 2⁻¹⁴⁹
        assert!((f64::from(v[8]) + 149.0 * core::f64::consts::LN_2).abs() < 1e-4);
        assert!((v[9] - core::f32::consts::LN_2).abs() <= f32::EPSILON);
    }

    #[test]
    fn ln_1p_is_accurate_also_near_zero() {
        let points = sweep(-0.999, 100.0, 200_001);
        let tiny = sweep(-1e-3, 1e-3, 20_001);
        let tinier = log_sweep(1e-30, 1e-6, 2001);
        for f in [ln_1p_in_place, ln_1p_portable] {
            for set in [&points, &tiny, &tinier] {
                let (error, at) = max_relative_error(set, f, f64::ln_1p, 1e-40);
                println!("ln_1p: max relative error {error:e} at x = {at}");
                assert!(error < 4e-7, "ln_1p: relative error {error:e} at x = {at}");
            }
        }
    }

    #[test]
    fn ln_1p_edges() {
        let mut v = [
            0.0,
            -0.0,
            -1.0,
            f32::INFINITY,
            -2.0,
            f32::NAN,
            1e-30,
            f32::MAX,
            1.0,
        ];
        ln_1p_in_place(&mut v);
        assert_eq!(v[0].to_bits(), 0.0f32.to_bits());
        assert_eq!(v[1].to_bits(), (-0.0f32).to_bits());
        assert_eq!(v[2], f32::NEG_INFINITY);
        assert_eq!(v[3], f32::INFINITY);
        assert!(v[4].is_nan() && v[5].is_nan());
        assert_eq!(v[6], 1e-30);
        assert!((f64::from(v[7]) - f64::from(f32::MAX).ln()).abs() < 1e-4);
        assert!((v[8] - core::f32::consts::LN_2).abs() <= f32::EPSILON);
    }

    /// Short slices and ragged tails give exactly the values of the full
    /// vector code.
    #[test]
    fn every_length_matches_the_long_slice() {
        let points = sweep(-3.0, 3.0, 11);
        let positive: Vec<f32> = points.iter().map(|x| x.abs() + 0.25).collect();
        type SliceFn = fn(&mut [f32]);
        let cases: [(SliceFn, &[f32]); 5] = [
            (exp_in_place, &points),
            (tanh_in_place, &points),
            (sigmoid_in_place, &points),
            (ln_in_place, &positive),
            (ln_1p_in_place, &positive),
        ];
        for (f, source) in cases {
            let mut whole = source.to_vec();
            f(&mut whole);
            for len in 0..source.len() {
                let mut part = source[..len].to_vec();
                f(&mut part);
                assert_eq!(part, whole[..len], "length {len}");
                // And the untouched remainder of a longer slice stays as it was.
                let mut prefix = source.to_vec();
                f(&mut prefix[..len]);
                assert_eq!(prefix[len..], source[len..]);
            }
        }
    }
}
