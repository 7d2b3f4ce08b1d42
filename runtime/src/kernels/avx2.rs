//! AVX2 + FMA micro-kernels for x86-64, chosen at run time.

use core::arch::x86_64::{
    __m256, __m256d, _mm256_add_pd, _mm256_add_ps, _mm256_broadcast_sd, _mm256_broadcast_ss,
    _mm256_fmadd_pd, _mm256_fmadd_ps, _mm256_loadu_pd, _mm256_loadu_ps, _mm256_setzero_pd,
    _mm256_setzero_ps, _mm256_storeu_pd, _mm256_storeu_ps,
};

use super::blocked::MicroKernel;

/// Proof that the CPU has AVX2 and FMA: only [`Avx2Fma::detect`] makes one.
#[derive(Clone, Copy, Debug)]
pub(super) struct Avx2Fma {
    _proof: (),
}

impl Avx2Fma {
    /// The token, when this CPU has AVX2 and FMA.
    pub fn detect() -> Option<Self> {
        (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
            .then_some(Avx2Fma { _proof: () })
    }
}

/// f32: a 6×16 tile is 12 ymm accumulators, plus two loads of `b` and one
/// broadcast of `a` per step: 15 of the 16 registers.
impl MicroKernel<f32> for Avx2Fma {
    const MR: usize = 6;
    const NR: usize = 16;

    #[inline]
    fn tile(self, a: &[f32], b: &[f32], c: &mut [f32], ldc: usize, overwrite: bool) {
        let depth = a.len() / 6;
        assert!(a.len() == depth * 6 && b.len() == depth * 16 && c.len() >= 5 * ldc + 16);
        // SAFETY: `self` proves the CPU has AVX2 and FMA; the assert above
        // bounds every read of `a` and `b` and every access to `c`.
        unsafe {
            tile_f32(
                depth,
                a.as_ptr(),
                b.as_ptr(),
                c.as_mut_ptr(),
                ldc,
                overwrite,
            )
        }
    }
}

/// See [`MicroKernel::tile`].
///
/// # Safety
/// The CPU has AVX2 and FMA; `a` holds `6·depth`, `b` `16·depth` entries;
/// `c` holds `5·ldc + 16`.
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_f32(
    depth: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    overwrite: bool,
) {
    let mut acc: [[__m256; 2]; 6] = [[_mm256_setzero_ps(); 2]; 6];
    for p in 0..depth {
        let b0 = _mm256_loadu_ps(b.add(p * 16));
        let b1 = _mm256_loadu_ps(b.add(p * 16 + 8));
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let a_pr = _mm256_broadcast_ss(&*a.add(p * 6 + r));
            acc_r[0] = _mm256_fmadd_ps(a_pr, b0, acc_r[0]);
            acc_r[1] = _mm256_fmadd_ps(a_pr, b1, acc_r[1]);
        }
    }
    for (r, acc_r) in acc.iter().enumerate() {
        let row = c.add(r * ldc);
        for (h, &v) in acc_r.iter().enumerate() {
            let dst = row.add(h * 8);
            let v = if overwrite {
                v
            } else {
                _mm256_add_ps(_mm256_loadu_ps(dst), v)
            };
            _mm256_storeu_ps(dst, v);
        }
    }
}

/// f64: a 6×8 tile, the same register budget as f32's 6×16.
impl MicroKernel<f64> for Avx2Fma {
    const MR: usize = 6;
    const NR: usize = 8;

    #[inline]
    fn tile(self, a: &[f64], b: &[f64], c: &mut [f64], ldc: usize, overwrite: bool) {
        let depth = a.len() / 6;
        assert!(a.len() == depth * 6 && b.len() == depth * 8 && c.len() >= 5 * ldc + 8);
        // SAFETY: `self` proves the CPU has AVX2 and FMA; the assert above
        // bounds every read of `a` and `b` and every access to `c`.
        unsafe {
            tile_f64(
                depth,
                a.as_ptr(),
                b.as_ptr(),
                c.as_mut_ptr(),
                ldc,
                overwrite,
            )
        }
    }
}

/// See [`MicroKernel::tile`].
///
/// # Safety
/// The CPU has AVX2 and FMA; `a` holds `6·depth`, `b` `8·depth` entries;
/// `c` holds `5·ldc + 8`.
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_f64(
    depth: usize,
    a: *const f64,
    b: *const f64,
    c: *mut f64,
    ldc: usize,
    overwrite: bool,
) {
    let mut acc: [[__m256d; 2]; 6] = [[_mm256_setzero_pd(); 2]; 6];
    for p in 0..depth {
        let b0 = _mm256_loadu_pd(b.add(p * 8));
        let b1 = _mm256_loadu_pd(b.add(p * 8 + 4));
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let a_pr = _mm256_broadcast_sd(&*a.add(p * 6 + r));
            acc_r[0] = _mm256_fmadd_pd(a_pr, b0, acc_r[0]);
            acc_r[1] = _mm256_fmadd_pd(a_pr, b1, acc_r[1]);
        }
    }
    for (r, acc_r) in acc.iter().enumerate() {
        let row = c.add(r * ldc);
        for (h, &v) in acc_r.iter().enumerate() {
            let dst = row.add(h * 4);
            let v = if overwrite {
                v
            } else {
                _mm256_add_pd(_mm256_loadu_pd(dst), v)
            };
            _mm256_storeu_pd(dst, v);
        }
    }
}
