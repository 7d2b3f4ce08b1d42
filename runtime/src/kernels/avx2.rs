//! AVX2 + FMA micro-kernels for x86-64, chosen at run time.

use core::arch::x86_64::{
    __m256, __m256d, _mm256_add_pd, _mm256_add_ps, _mm256_broadcast_sd, _mm256_broadcast_ss,
    _mm256_fmadd_pd, _mm256_fmadd_ps, _mm256_loadu_pd, _mm256_loadu_ps, _mm256_permute2f128_ps,
    _mm256_setzero_pd, _mm256_setzero_ps, _mm256_shuffle_ps, _mm256_storeu_pd, _mm256_storeu_ps,
    _mm256_unpackhi_ps, _mm256_unpacklo_ps,
};

use super::blocked::MicroKernel;
use super::pack::{pack_panels, View};

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

    /// Rows contiguous along the depth (`op(a)` = `a`, or `op(b)` = `bᵀ`) are
    /// packed by 8×8 register transposes instead of one store per entry.
    fn pack(
        self,
        dst: &mut [f32],
        src: View<'_, f32>,
        (row0, rows): (usize, usize),
        (depth0, depth): (usize, usize),
        width: usize,
    ) {
        if src.col_stride != 1 || !(width == 6 || width == 16) || depth == 0 {
            return pack_panels(dst, src, (row0, rows), (depth0, depth), width);
        }
        let panels = rows.div_ceil(width);
        for (q, panel) in dst[..panels * width * depth]
            .chunks_exact_mut(width * depth)
            .enumerate()
        {
            let first = row0 + q * width;
            let live = width.min(rows - q * width);
            // Each live row's slice is bounds-checked here, once.
            let mut starts = [None; 16];
            for (r, start) in starts.iter_mut().enumerate().take(live) {
                let at = (first + r) * src.row_stride + depth0;
                *start = Some(src.data[at..at + depth].as_ptr());
            }
            // SAFETY: `self` proves AVX2; each pointer in `starts` begins
            // `depth` readable entries (sliced above), and `panel` holds
            // `width·depth` entries.
            unsafe { transpose_panel_f32(panel, &starts, width, depth) }
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

/// Fills `panel` (`width·depth` entries, `width` 6 or 16) with
/// `panel[p·width + r] = row_r[p]`, zeros for the rows without a pointer.
///
/// # Safety
/// The CPU has AVX2; every `Some` pointer of `rows` begins `depth` readable
/// `f32`s; `panel.len() == width·depth`.
#[target_feature(enable = "avx2")]
unsafe fn transpose_panel_f32(
    panel: &mut [f32],
    rows: &[Option<*const f32>; 16],
    width: usize,
    depth: usize,
) {
    debug_assert_eq!(panel.len(), width * depth);
    let out = panel.as_mut_ptr();
    debug_assert!(width == 6 || width == 16);
    let full = depth / 8 * 8;
    for group in (0..width).step_by(8) {
        let group_width = 8.min(width - group);
        let src: [Option<*const f32>; 8] = core::array::from_fn(|r| {
            if r < group_width {
                rows[group + r]
            } else {
                None
            }
        });
        for p0 in (0..full).step_by(8) {
            let v: [__m256; 8] = core::array::from_fn(|r| match src[r] {
                Some(row) => _mm256_loadu_ps(row.add(p0)),
                None => _mm256_setzero_ps(),
            });
            let columns = transpose8x8(v);
            for (dp, column) in columns.iter().enumerate() {
                let dst = out.add((p0 + dp) * width + group);
                if group_width == 8 {
                    _mm256_storeu_ps(dst, *column);
                } else {
                    // Only width 6 has a partial group: a constant-length copy.
                    let mut lanes = [0.0f32; 8];
                    _mm256_storeu_ps(lanes.as_mut_ptr(), *column);
                    core::ptr::copy_nonoverlapping(lanes.as_ptr(), dst, 6);
                }
            }
        }
        for p in full..depth {
            for (r, row) in src.iter().enumerate().take(group_width) {
                *out.add(p * width + group + r) = match row {
                    Some(row) => *row.add(p),
                    None => 0.0,
                };
            }
        }
    }
}

/// The transpose of the 8×8 block whose rows are `v`: entry `q` of the
/// result holds entry `q` of every row.
#[inline]
#[target_feature(enable = "avx2")]
fn transpose8x8(v: [__m256; 8]) -> [__m256; 8] {
    let t0 = _mm256_unpacklo_ps(v[0], v[1]);
    let t1 = _mm256_unpackhi_ps(v[0], v[1]);
    let t2 = _mm256_unpacklo_ps(v[2], v[3]);
    let t3 = _mm256_unpackhi_ps(v[2], v[3]);
    let t4 = _mm256_unpacklo_ps(v[4], v[5]);
    let t5 = _mm256_unpackhi_ps(v[4], v[5]);
    let t6 = _mm256_unpacklo_ps(v[6], v[7]);
    let t7 = _mm256_unpackhi_ps(v[6], v[7]);
    let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    [
        _mm256_permute2f128_ps::<0x20>(s0, s4),
        _mm256_permute2f128_ps::<0x20>(s1, s5),
        _mm256_permute2f128_ps::<0x20>(s2, s6),
        _mm256_permute2f128_ps::<0x20>(s3, s7),
        _mm256_permute2f128_ps::<0x31>(s0, s4),
        _mm256_permute2f128_ps::<0x31>(s1, s5),
        _mm256_permute2f128_ps::<0x31>(s2, s6),
        _mm256_permute2f128_ps::<0x31>(s3, s7),
    ]
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
