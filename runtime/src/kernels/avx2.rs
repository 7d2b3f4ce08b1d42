//! AVX2 + FMA micro-kernels for x86-64, chosen at run time.

use core::arch::x86_64::{
    __m256, __m256d, __m256i, _mm256_add_pd, _mm256_add_ps, _mm256_broadcast_sd,
    _mm256_broadcast_ss, _mm256_castps256_ps128, _mm256_extractf128_ps, _mm256_fmadd_pd,
    _mm256_fmadd_ps, _mm256_loadu_pd, _mm256_loadu_ps, _mm256_loadu_si256, _mm256_maskload_ps,
    _mm256_max_ps, _mm256_permute2f128_ps, _mm256_setzero_pd, _mm256_setzero_ps, _mm256_shuffle_ps,
    _mm256_storeu_pd, _mm256_storeu_ps, _mm256_unpackhi_ps, _mm256_unpacklo_ps, _mm_castps_pd,
    _mm_movehl_ps, _mm_store_ss, _mm_storel_pd, _mm_storeu_ps,
};

use alloc::vec::Vec;

use super::blocked::MicroKernel;
use super::pack::{pack_panels, View};

/// Proof that the CPU has AVX2 and FMA: only [`Avx2Fma::detect`] makes one.
#[derive(Clone, Copy, Debug)]
pub(super) struct Avx2Fma {
    _proof: (),
}

impl Avx2Fma {
    /// The token, when this CPU has AVX2 and FMA.
    ///
    /// With std the CPU is asked at run time; without std only a target
    /// compiled with both features (`-C target-feature=+avx2,+fma`) has them.
    pub fn detect() -> Option<Self> {
        #[cfg(feature = "std")]
        let found = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
        #[cfg(not(feature = "std"))]
        let found = cfg!(all(target_feature = "avx2", target_feature = "fma"));
        found.then_some(Avx2Fma { _proof: () })
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

/// What a tile of the small product does with its result.
#[derive(Clone, Copy, Debug)]
pub(super) enum TileOut {
    /// `c = product`.
    Overwrite,
    /// `c += product`.
    Accumulate,
    /// `c = product + bias[j]`; the pointer is at the tile's first column.
    Bias(*const f32),
    /// As `Bias`, and `relu[r·ldc + j] = relu(c[r·ldc + j])` (NaN stays
    /// NaN); the second pointer is at the tile's first entry of `relu`.
    BiasRelu(*const f32, *mut f32),
}

/// `-1` (all bits) then `0`: eight entries from offset `8 − live` make the
/// mask of the first `live` lanes.
static LANE_MASKS: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];

/// The mask of the first `live` lanes (`live < 8`).
///
/// # Safety
/// The CPU has AVX; `live <= 8`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn lane_mask(live: usize) -> __m256i {
    debug_assert!(live <= 8);
    _mm256_loadu_si256(LANE_MASKS.as_ptr().add(8 - live).cast())
}

/// Eight lanes from `src`, or only those of `mask` (the rest zero) unless
/// `full`.
///
/// # Safety
/// The CPU has AVX; the loaded lanes are readable.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load_lanes(src: *const f32, full: bool, mask: __m256i) -> __m256 {
    if full {
        _mm256_loadu_ps(src)
    } else {
        _mm256_maskload_ps(src, mask)
    }
}

/// One `MR × 8·NV` tile of the small product, reading `op(a)` in place
/// (entry `(r, p)` at `a[r·a_rs + p·a_cs]`) and `op(b)` as rows of a
/// row-major matrix (entry `(p, j)` at `b[p·ldb + j]`, all `8·NV` columns
/// readable), writing the first `cols` columns of the tile of `c`.
///
/// # Safety
/// The CPU has AVX2 and FMA; every address above is readable for
/// `r < MR`, `p < k`, `j < 8·NV`; `c[r·ldc + j]` is writable for `r < MR`,
/// `j < cols`, `cols <= 8·NV`, `cols > 8·(NV − 1)`; a bias pointer is
/// readable for `cols` entries.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn small_tile_f32<const MR: usize, const NV: usize>(
    k: usize,
    a: *const f32,
    (a_rs, a_cs): (usize, usize),
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    out: TileOut,
) {
    let mut acc = [[_mm256_setzero_ps(); NV]; MR];
    for p in 0..k {
        let mut b_p = [_mm256_setzero_ps(); NV];
        for (h, b_ph) in b_p.iter_mut().enumerate() {
            *b_ph = _mm256_loadu_ps(b.add(p * ldb + h * 8));
        }
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let a_rp = _mm256_broadcast_ss(&*a.add(r * a_rs + p * a_cs));
            for (acc_rh, &b_ph) in acc_r.iter_mut().zip(&b_p) {
                *acc_rh = _mm256_fmadd_ps(a_rp, b_ph, *acc_rh);
            }
        }
    }
    // Only the last vector of a row can be partial.
    let tail = cols - (NV - 1) * 8;
    let mask = lane_mask(tail % 8);
    for (r, acc_r) in acc.iter().enumerate() {
        let row = c.add(r * ldc);
        for (h, &v) in acc_r.iter().enumerate() {
            let dst = row.add(h * 8);
            let full = h + 1 < NV || tail == 8;
            let v = match out {
                TileOut::Overwrite => v,
                TileOut::Accumulate => _mm256_add_ps(load_lanes(dst, full, mask), v),
                TileOut::Bias(bias) | TileOut::BiasRelu(bias, _) => {
                    _mm256_add_ps(load_lanes(bias.add(h * 8), full, mask), v)
                }
            };
            store_lanes(dst, v, if full { 8 } else { tail });
            if let TileOut::BiasRelu(_, relu) = out {
                // max(0, v) is v when v is NaN.
                let a = _mm256_max_ps(_mm256_setzero_ps(), v);
                store_lanes(relu.add(r * ldc + h * 8), a, if full { 8 } else { tail });
            }
        }
    }
}

/// Stores the first `live` lanes of `v` at `dst` (a masked store is slow on
/// some CPUs: whole 4-, 2- and 1-lane stores instead).
///
/// # Safety
/// The CPU has AVX; `dst` is writable for `live <= 8` entries.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn store_lanes(dst: *mut f32, v: __m256, live: usize) {
    if live == 8 {
        _mm256_storeu_ps(dst, v);
        return;
    }
    let (mut dst, mut live) = (dst, live);
    let mut part = _mm256_castps256_ps128(v);
    if live >= 4 {
        _mm_storeu_ps(dst, part);
        part = _mm256_extractf128_ps::<1>(v);
        dst = dst.add(4);
        live -= 4;
    }
    if live >= 2 {
        _mm_storel_pd(dst.cast(), _mm_castps_pd(part));
        part = _mm_movehl_ps(part, part);
        dst = dst.add(2);
        live -= 2;
    }
    if live == 1 {
        _mm_store_ss(dst, part);
    }
}

/// The small product, `c (m×n) = a · b` (or `+=`, or `+ 1·biasᵀ`, as `out`
/// says) for views `a` (m×k) and `b` (k×n) that fit in the L1/L2 caches,
/// row `i` of `c` starting at `i·ldc` (`ldc >= n`; a relu output has the
/// same layout): `a` is read in place, `b` too when its rows are contiguous
/// and whole vectors can be read from each (the lanes past column `n`, read
/// from the storage that follows, are computed and never stored);
/// otherwise `b` is first copied row-major with the width padded to a
/// multiple of 8. No edge tile computes rows it throws away: the tile
/// heights (at most 6) are chosen to divide `m` evenly.
///
/// The caller has checked that the views and `c` cover their dimensions and
/// that `m, n, k > 0`.
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm_small_f32(
    _token: Avx2Fma,
    packed: &mut Vec<f32>,
    (m, n, k): (usize, usize, usize),
    a: View<'_, f32>,
    b: View<'_, f32>,
    c: &mut [f32],
    ldc: usize,
    out: TileOut,
) {
    assert!(ldc >= n, "gemm_small_f32: rows of {ldc} for {n} columns");
    let c = &mut c[..(m - 1) * ldc + n];
    let whole = n.div_ceil(8) * 8;
    let (b_data, ldb): (&[f32], usize) = if b.col_stride == 1
        && (k - 1)
            .checked_mul(b.row_stride)
            .and_then(|last_row| last_row.checked_add(whole))
            .is_some_and(|end| end <= b.data.len())
    {
        (&b.data[..(k - 1) * b.row_stride + whole], b.row_stride)
    } else {
        let width = n.div_ceil(8) * 8;
        if packed.len() < k * width {
            packed.resize(k * width, 0.0);
        }
        let dst = &mut packed[..k * width];
        pack_rows_f32(_token, dst, b, (k, n), width);
        (&*dst, width)
    };
    // The last entry each operand is read at (checked once, here).
    let a_last = (m - 1) * a.row_stride + (k - 1) * a.col_stride;
    assert!(a_last < a.data.len() && (k - 1) * ldb + n.div_ceil(8) * 8 <= b_data.len());
    let tiles = m.div_ceil(6);
    let (height, taller) = (m / tiles, m % tiles);
    for j in (0..n).step_by(16) {
        let cols = 16.min(n - j);
        let mut i = 0;
        for t in 0..tiles {
            let rows = height + usize::from(t < taller);
            let tile_out = match out {
                TileOut::Bias(bias) => TileOut::Bias(bias.wrapping_add(j)),
                TileOut::BiasRelu(bias, relu) => {
                    TileOut::BiasRelu(bias.wrapping_add(j), relu.wrapping_add(i * ldc + j))
                }
                other => other,
            };
            // SAFETY: `_token` proves AVX2 + FMA; rows `i..i + rows < m` and
            // depths `p < k` of `a` lie within `a_last`, the columns
            // `j..j + 8·NV` of `b` (padded to whole vectors) within
            // `b_data`, the written part of the tile within `c`
            // (`(i + rows − 1)·ldc + j + cols <= (m − 1)·ldc + n`), and a
            // bias pointer covers `n` entries (checked by the caller).
            unsafe {
                let a_tile = a.data.as_ptr().add(i * a.row_stride);
                let b_tile = b_data.as_ptr().add(j);
                let c_tile = c.as_mut_ptr().add(i * ldc + j);
                let strides = (a.row_stride, a.col_stride);
                macro_rules! tile {
                    ($($mr:literal),*) => {
                        match (rows, cols > 8) {
                            $(
                                ($mr, false) => small_tile_f32::<$mr, 1>(k, a_tile, strides, b_tile, ldb, c_tile, ldc, cols, tile_out),
                                ($mr, true) => small_tile_f32::<$mr, 2>(k, a_tile, strides, b_tile, ldb, c_tile, ldc, cols, tile_out),
                            )*
                            _ => unreachable!("tile heights are 1..=6"),
                        }
                    };
                }
                tile!(1, 2, 3, 4, 5, 6);
            }
            i += rows;
        }
    }
}

/// Copies the `depth × n` view `src` into `dst` row-major with rows of
/// `width` entries, the padding zero; a transposed source (columns
/// contiguous) goes through 8×8 register transposes.
///
/// `_token` proves the CPU has AVX2 (the transposes need it). The layout is
/// checked here, in every build: `width` must hold `n` rounded up to whole
/// 8-lane vectors (each transpose stores 8 entries a row) and `dst` exactly
/// `depth` such rows.
///
/// # Panics
/// When `width < 8·⌈n/8⌉` or `dst.len() != depth·width`, or the view does not
/// cover `depth × n` entries of its storage.
fn pack_rows_f32(
    _token: Avx2Fma,
    dst: &mut [f32],
    src: View<'_, f32>,
    (depth, n): (usize, usize),
    width: usize,
) {
    assert!(
        width >= n.div_ceil(8) * 8 && Some(dst.len()) == depth.checked_mul(width),
        "pack_rows_f32: {depth}×{n} into {} entries in rows of {width}",
        dst.len()
    );
    if depth == 0 || n == 0 {
        dst.fill(0.0);
        return;
    }
    if src.row_stride == 1 && src.col_stride >= depth {
        // Column j of the view is contiguous: src.data[j·col_stride + p].
        let full = depth / 8 * 8;
        let cs = src.col_stride;
        assert!((n - 1) * cs + depth <= src.data.len());
        for j0 in (0..n).step_by(8) {
            let live = 8.min(n - j0);
            for p0 in (0..full).step_by(8) {
                // SAFETY: `_token` proves AVX2; rows `j0..j0 + live` of the
                // storage hold `depth` entries from `p0` (asserted above);
                // `dst` holds `depth >= p0 + 8` rows of `width >= j0 + 8`
                // entries (`width` is at least `n` rounded up to 8, asserted
                // on entry).
                unsafe { transpose_block_f32(dst, src.data, (j0, live, cs), p0, width) }
            }
            for p in full..depth {
                let row = &mut dst[p * width + j0..][..8];
                for (jj, slot) in row.iter_mut().enumerate() {
                    *slot = if jj < live {
                        src.data[(j0 + jj) * cs + p]
                    } else {
                        0.0
                    };
                }
            }
        }
    } else {
        for (p, row) in dst.chunks_exact_mut(width).enumerate() {
            for (j, slot) in row.iter_mut().enumerate() {
                *slot = if j < n {
                    src.data[p * src.row_stride + j * src.col_stride]
                } else {
                    0.0
                };
            }
        }
    }
}

/// `dst[(p0 + d)·width + j0 + r] = data[(j0 + r)·cs + p0 + d]` for `d < 8`,
/// `r < 8` (zero for `r >= live`).
///
/// # Safety
/// The CPU has AVX2; `data[(j0 + r)·cs + p0 ..][..8]` is readable for
/// `r < live`; `dst` holds `(p0 + 8)·width` entries and `j0 + 8 <= width`.
#[target_feature(enable = "avx2")]
unsafe fn transpose_block_f32(
    dst: &mut [f32],
    data: &[f32],
    (j0, live, cs): (usize, usize, usize),
    p0: usize,
    width: usize,
) {
    let src = data.as_ptr();
    let mut v = [_mm256_setzero_ps(); 8];
    for (r, v_r) in v.iter_mut().enumerate().take(live) {
        *v_r = _mm256_loadu_ps(src.add((j0 + r) * cs + p0));
    }
    let out = dst.as_mut_ptr();
    for (d, column) in transpose8x8(v).iter().enumerate() {
        _mm256_storeu_ps(out.add((p0 + d) * width + j0), *column);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The row-major copy of the `depth × n` view, rows padded to `width`.
    fn packed_by_hand(src: View<'_, f32>, (depth, n): (usize, usize), width: usize) -> Vec<f32> {
        let mut out = vec![0.0; depth * width];
        for p in 0..depth {
            for j in 0..n {
                out[p * width + j] = src.data[p * src.row_stride + j * src.col_stride];
            }
        }
        out
    }

    #[test]
    fn pack_rows_copies_plain_and_transposed_views() {
        let Some(token) = Avx2Fma::detect() else {
            return; // nothing to test on a CPU without AVX2 (or under Miri)
        };
        for (depth, n) in [(1usize, 1usize), (8, 8), (9, 5), (17, 13), (3, 16), (16, 3)] {
            let data: Vec<f32> = (0..depth * n).map(|i| i as f32 + 0.5).collect();
            let width = n.div_ceil(8) * 8;
            // Row-major depth × n, and the transpose of a row-major n × depth.
            for transposed in [false, true] {
                let view = View::new(&data, depth, n, transposed);
                let mut dst = vec![f32::NAN; depth * width];
                pack_rows_f32(token, &mut dst, view, (depth, n), width);
                assert_eq!(
                    dst,
                    packed_by_hand(view, (depth, n), width),
                    "{depth}×{n}, transposed: {transposed}"
                );
            }
        }
    }

    #[test]
    fn pack_rows_refuses_a_width_the_transposes_would_overrun() {
        let Some(token) = Avx2Fma::detect() else {
            return;
        };
        // n = 5 columns in rows of width 5: each 8×8 transpose would store 8
        // entries a row, the last row past the end of `dst`. This passed the
        // old `debug_assert!` (width ≥ n) and wrote out of bounds.
        let (depth, n, width) = (8, 5, 5);
        let data = vec![1.0f32; depth * n];
        let view = View::new(&data, depth, n, true);
        let result = std::panic::catch_unwind(|| {
            let mut dst = vec![0.0f32; depth * width];
            pack_rows_f32(token, &mut dst, view, (depth, n), width);
        });
        assert!(result.is_err(), "a too-narrow width must be refused");
        // A destination of the wrong length is refused too (release builds
        // included: the check is not a debug assertion).
        let result = std::panic::catch_unwind(|| {
            let mut dst = vec![0.0f32; depth * 8 - 1];
            pack_rows_f32(token, &mut dst, view, (depth, n), 8);
        });
        assert!(result.is_err(), "a short destination must be refused");
    }
}
