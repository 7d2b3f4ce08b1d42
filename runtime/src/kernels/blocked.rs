//! The blocked, packed product (the Goto/BLIS loop nest) and its portable
//! micro-kernel.
//!
//! Loops, outermost first: columns in blocks of `nc` (the packed block of
//! `op(b)` stays in L2), depth in blocks of `kc`, rows in blocks of `mc` (the
//! packed block of `op(a)`), then `NR`-wide column panels (one stays in L1)
//! and `MR`-tall row panels; the micro-kernel keeps an `MR×NR` tile of `c` in
//! registers for the whole depth block.

use super::pack::{pack_panels, PackBuffers, View};
use crate::Scalar;

/// Depth of a block; `k` is split into equal blocks of at most this many.
const KC: usize = 256;
/// Row panels in a block of `op(a)`.
const MC_PANELS: usize = 16;
/// Size of a packed block of `op(b)`, in bytes (half of a 1 MiB L2).
const B_BLOCK_BYTES: usize = 512 * 1024;
/// The largest `MR·NR` of any micro-kernel (the scratch tile for edges).
pub(super) const TILE_MAX: usize = 128;

/// A register-blocked micro-kernel: an `MR×NR` tile of `c` from one packed
/// row panel of `op(a)` and one packed column panel of `op(b)`.
pub(super) trait MicroKernel<T: Scalar>: Copy {
    /// Rows of the tile.
    const MR: usize;
    /// Columns of the tile.
    const NR: usize;
    /// `c[r·ldc + j] = Σ_p a[p·MR + r] · b[p·NR + j]` for `r < MR`,
    /// `j < NR` (`+=` unless `overwrite`), with depth `a.len() / MR`.
    ///
    /// # Panics
    /// When `a.len()` is not a multiple of `MR`, `b` does not have the same
    /// depth, or `c` is shorter than `(MR − 1)·ldc + NR`.
    fn tile(self, a: &[T], b: &[T], c: &mut [T], ldc: usize, overwrite: bool);

    /// Packs a block into panels of `width` rows, as [`pack_panels`] does;
    /// a kernel may supply a faster way for its own CPU.
    #[inline]
    fn pack(
        self,
        dst: &mut [T],
        src: View<'_, T>,
        rows: (usize, usize),
        depth: (usize, usize),
        width: usize,
    ) {
        pack_panels(dst, src, rows, depth, width);
    }
}

/// `c (m×n) = a · b` (or `+=` when `accumulate`) for views `a` (m×k) and
/// `b` (k×n), with `kernel`.
///
/// The caller has checked that the views and `c` cover their dimensions.
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm_blocked<T: Scalar, K: MicroKernel<T>>(
    kernel: K,
    buffers: &mut PackBuffers<T>,
    (m, n, k): (usize, usize, usize),
    a: View<'_, T>,
    b: View<'_, T>,
    c: &mut [T],
    accumulate: bool,
) {
    let (mr, nr) = (K::MR, K::NR);
    let c = &mut c[..m * n];
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.fill(T::ZERO);
        }
        return;
    }
    let kc_max = k.div_ceil(k.div_ceil(KC));
    let mc_max = (MC_PANELS * mr).min(m.div_ceil(mr) * mr);
    let nc_max = (B_BLOCK_BYTES / core::mem::size_of::<T>() / kc_max / nr * nr)
        .max(nr)
        .min(n.div_ceil(nr) * nr);
    let (packed_a, packed_b) = buffers.get(mc_max * kc_max, nc_max * kc_max);
    let b_t = b.t();
    let mut scratch = [T::ZERO; TILE_MAX];
    let scratch = &mut scratch[..mr * nr];

    for jc in (0..n).step_by(nc_max) {
        let nc = nc_max.min(n - jc);
        for pc in (0..k).step_by(kc_max) {
            let kc = kc_max.min(k - pc);
            let overwrite = !accumulate && pc == 0;
            kernel.pack(packed_b, b_t, (jc, nc), (pc, kc), nr);
            let b_panels = packed_b[..nc.div_ceil(nr) * nr * kc].chunks_exact(nr * kc);
            for ic in (0..m).step_by(mc_max) {
                let mc = mc_max.min(m - ic);
                kernel.pack(packed_a, a, (ic, mc), (pc, kc), mr);
                let a_panels = &packed_a[..mc.div_ceil(mr) * mr * kc];
                for (jq, b_panel) in b_panels.clone().enumerate() {
                    let j = jc + jq * nr;
                    let cols = nr.min(n - j);
                    for (iq, a_panel) in a_panels.chunks_exact(mr * kc).enumerate() {
                        let i = ic + iq * mr;
                        let rows = mr.min(m - i);
                        if rows == mr && cols == nr {
                            kernel.tile(a_panel, b_panel, &mut c[i * n + j..], n, overwrite);
                        } else {
                            // An edge tile: compute it whole, keep the part inside c.
                            kernel.tile(a_panel, b_panel, scratch, nr, true);
                            for (r, src) in scratch.chunks_exact(nr).take(rows).enumerate() {
                                let dst = &mut c[(i + r) * n + j..][..cols];
                                if overwrite {
                                    dst.copy_from_slice(&src[..cols]);
                                } else {
                                    for (d, &s) in dst.iter_mut().zip(src) {
                                        *d += s;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The portable micro-kernel: plain Rust over an `MR×NR` array of
/// accumulators, which LLVM keeps in vector registers of whatever width the
/// target has.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Portable<const MR: usize, const NR: usize>;

impl<T: Scalar, const MR: usize, const NR: usize> MicroKernel<T> for Portable<MR, NR> {
    const MR: usize = MR;
    const NR: usize = NR;

    #[inline]
    fn tile(self, a: &[T], b: &[T], c: &mut [T], ldc: usize, overwrite: bool) {
        let depth = a.len() / MR;
        assert!(a.len() == depth * MR && b.len() == depth * NR && c.len() >= (MR - 1) * ldc + NR);
        let mut acc = [[T::ZERO; NR]; MR];
        for (a_p, b_p) in a.chunks_exact(MR).zip(b.chunks_exact(NR)) {
            let (a_p, b_p) = (&a_p[..MR], &b_p[..NR]);
            for (acc_row, &a_pr) in acc.iter_mut().zip(a_p) {
                for (acc_rj, &b_pj) in acc_row.iter_mut().zip(b_p) {
                    *acc_rj += a_pr * b_pj;
                }
            }
        }
        for (r, acc_row) in acc.iter().enumerate() {
            let dst = &mut c[r * ldc..][..NR];
            if overwrite {
                dst.copy_from_slice(acc_row);
            } else {
                for (d, &s) in dst.iter_mut().zip(acc_row) {
                    *d += s;
                }
            }
        }
    }
}
