//! Convolution and pooling over images, with PyTorch's conventions: a batch
//! of `B` images is a `Matrix<T, B, C·H·W>`, each row one image in C, H, W
//! order (NCHW); convolution weights are `[out_ch, in_ch, k, k]`; the
//! convolution is a cross-correlation (no kernel flip); the output size is
//! `⌊(H + 2P − K)/S⌋ + 1`; max pooling sends the gradient to the first
//! maximum of each window in row-major order.
//!
//! Every size is a constant of a geometry type ([`Conv2dGeometry`],
//! [`Pool2dGeometry`], [`GlobalAvgPoolGeometry`]), which `network!` computes
//! and checks when the crate compiles; the functions assert (at compile
//! time) that the matrices they are given fit it.
//!
//! A convolution is a matrix product on the unfolded patches (im2col): for
//! each image, `P` is the `(C·K·K) × positions` matrix whose column `p`
//! holds the input window of output position `p` (zeros where the window
//! covers the padding), and the output is `Y = W·P` (`out_ch × positions`,
//! which is NCHW). So the backward pass is rules 5 and 6 applied to `P`:
//! `∂l/∂W = Σ_images ∂l/∂Y·Pᵀ` and `∂l/∂P = Wᵀ·∂l/∂Y`, folded back onto the
//! image (col2im: each input entry receives the sum over the windows that
//! read it).
//!
//! Layouts (measured on the LeNet-5 step of `benches/conv.rs`): the rows of
//! `P` are padded to a multiple of 8 positions
//! ([`Conv2dGeometry::POSITION_STRIDE`]), so that the forward product reads
//! `P` in place in whole 8-lane vectors; the weight gradient is computed
//! transposed, `(∂l/∂W)ᵀ = Σ_images P·(∂l/∂Y)ᵀ`, so that only the small
//! `∂l/∂Y` is transposed for the product (not the patches), then written
//! back as `out_ch × C·K·K`.
//!
//! ```
//! use chainrule::conv::Conv2dGeometry;
//! use chainrule::Matrix;
//! // One 1×3×3 image, one 2×2 kernel of ones, no padding, stride 1.
//! type G = Conv2dGeometry<1, 3, 3, 2, 1, 0>;
//! assert_eq!((G::OUT_HEIGHT, G::OUT_WIDTH), (2, 2));
//! // 4 entries a window, each a row of 4 positions padded to 8.
//! assert_eq!((G::PATCH, G::POSITION_STRIDE, G::PATCHES_PER_IMAGE), (4, 8, 32));
//! let x = Matrix::<f64, 1, 9>::from_rows([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]]);
//! let w = Matrix::<f64, 1, 4>::filled(1.0);
//! let mut patches = Matrix::<f64, 1, 32>::zeros(); // one image's
//! let mut scratch = Matrix::<f64, 1, { G::scratch_len(1) }>::zeros();
//! let mut y = Matrix::<f64, 1, 4>::zeros();
//! G::forward(&x, &w, None, &mut patches, &mut scratch, &mut y);
//! assert_eq!(y, Matrix::from_rows([[12.0, 16.0, 24.0, 28.0]]));
//! ```

use crate::kernels::{gemm_strided, View};
use crate::{Matrix, RowVector, Scalar};

/// The sum of `values` with eight independent partial sums (a single
/// running sum is one dependent add per entry; these vectorize).
#[inline]
fn sum<T: Scalar>(values: &[T]) -> T {
    let mut lanes = [T::ZERO; 8];
    let mut chunks = values.chunks_exact(8);
    for chunk in &mut chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    let tail = chunks.remainder().iter().fold(T::ZERO, |acc, &v| acc + v);
    lanes.iter().fold(tail, |acc, &v| acc + v)
}

/// A convolution's geometry: `C` input channels of `H × W`, square kernels
/// of `K × K`, stride `S`, padding `P` on every side.
#[derive(Debug, Clone, Copy, Default)]
pub struct Conv2dGeometry<
    const C: usize,
    const H: usize,
    const W: usize,
    const K: usize,
    const S: usize,
    const P: usize,
>;

impl<
        const C: usize,
        const H: usize,
        const W: usize,
        const K: usize,
        const S: usize,
        const P: usize,
    > Conv2dGeometry<C, H, W, K, S, P>
{
    /// The output's height, `⌊(H + 2P − K)/S⌋ + 1`.
    pub const OUT_HEIGHT: usize = (H + 2 * P - K) / S + 1;
    /// The output's width.
    pub const OUT_WIDTH: usize = (W + 2 * P - K) / S + 1;
    /// Output positions per channel.
    pub const POSITIONS: usize = Self::OUT_HEIGHT * Self::OUT_WIDTH;
    /// The length of a row of the unfolded patches: the positions rounded
    /// up to a multiple of 8 (the padding holds zeros).
    pub const POSITION_STRIDE: usize = Self::POSITIONS.div_ceil(8) * 8;
    /// Entries of one window (a row of the unfolded patches, a row of the
    /// flattened weight): `C·K·K`.
    pub const PATCH: usize = C * K * K;
    /// Entries of one image's unfolded patches: `C·K·K` rows of
    /// [`POSITION_STRIDE`](Self::POSITION_STRIDE).
    pub const PATCHES_PER_IMAGE: usize = Self::PATCH * Self::POSITION_STRIDE;
    /// Entries of one input image.
    pub const IN_FEATURES: usize = C * H * W;

    /// Entries of the scratch buffer of [`forward`](Self::forward),
    /// [`param_grads`](Self::param_grads) and [`input_grad`](Self::input_grad)
    /// for `out_channels` output channels: one image's `∂l/∂P` (`C·K·K ×
    /// positions`) or the transposed weight gradient (`C·K·K × out_ch`),
    /// whichever is larger, then (with padding) a zero-padded copy of one
    /// image, `C × (H + 2P) × (W + 2P)`.
    #[must_use]
    pub const fn scratch_len(out_channels: usize) -> usize {
        let widest = if out_channels > Self::POSITIONS {
            out_channels
        } else {
            Self::POSITIONS
        };
        Self::PATCH * widest + Self::PADDED_IMAGE
    }

    /// Checks (at compile time) that the matrices fit the geometry.
    const fn check(inputs: usize, outputs: usize, patches: usize, out_channels: usize) {
        assert!(
            K >= 1 && S >= 1 && K <= H + 2 * P && K <= W + 2 * P,
            "the kernel fits the padded image"
        );
        assert!(inputs == C * H * W, "the input is C·H·W wide");
        assert!(
            patches == Self::PATCHES_PER_IMAGE,
            "the patch buffer holds one image's patches (C·K·K rows of the positions rounded up to 8)"
        );
        assert!(
            outputs == out_channels * Self::POSITIONS,
            "the output is out_ch·positions wide"
        );
    }

    /// The padded image's height, `H + 2P`.
    const PADDED_HEIGHT: usize = H + 2 * P;
    /// The padded image's width, `W + 2P`.
    const PADDED_WIDTH: usize = W + 2 * P;
    /// Entries of the zero-padded copy of an image that a padded
    /// convolution unfolds from and folds into (none without padding: the
    /// image itself is read and written).
    const PADDED_IMAGE: usize = if P > 0 {
        C * Self::PADDED_HEIGHT * Self::PADDED_WIDTH
    } else {
        0
    };

    /// Copies image `x` into `padded` (`C × (H + 2P) × (W + 2P)`) with a
    /// border of `P` zeros.
    fn pad<T: Scalar>(x: &[T], padded: &mut [T]) {
        let (hp, wp) = (Self::PADDED_HEIGHT, Self::PADDED_WIDTH);
        padded.fill(T::ZERO);
        for (plane, padded) in x.chunks_exact(H * W).zip(padded.chunks_exact_mut(hp * wp)) {
            for (row, padded) in plane
                .chunks_exact(W)
                .zip(padded[P * wp..].chunks_exact_mut(wp))
            {
                padded[P..P + W].copy_from_slice(row);
            }
        }
    }

    /// Unfolds the padded image `xp` (`C × (H + 2P) × (W + 2P)`; the image
    /// itself when `P = 0`) into `patches`, stored transposed: `C·K·K` rows
    /// of [`POSITION_STRIDE`](Self::POSITION_STRIDE), row `(c, kh, kw)`
    /// holding, for every output position, the entry that kernel entry
    /// meets there, and zeros past the last position. With stride 1 each
    /// output row of a patch row is a run of `OUT_WIDTH` entries of one
    /// row of `xp`, a copy of constant length.
    fn unfold<T: Scalar>(xp: &[T], patches: &mut [T]) {
        let (hp, wp) = (Self::PADDED_HEIGHT, Self::PADDED_WIDTH);
        let out_w = Self::OUT_WIDTH;
        let mut rows = patches.chunks_exact_mut(Self::POSITION_STRIDE);
        for plane in xp.chunks_exact(hp * wp).take(C) {
            for kh in 0..K {
                for kw in 0..K {
                    let Some(row) = rows.next() else { return };
                    let (row, tail) = row.split_at_mut(Self::POSITIONS);
                    tail.fill(T::ZERO);
                    for (oh, out) in row.chunks_exact_mut(out_w).enumerate() {
                        let src = &plane[(oh * S + kh) * wp + kw..];
                        if S == 1 {
                            out.copy_from_slice(&src[..out_w]);
                        } else {
                            for (e, &v) in out.iter_mut().zip(src.iter().step_by(S)) {
                                *e = v;
                            }
                        }
                    }
                }
            }
        }
    }

    /// col2im for one image: adds each entry of the transposed patches'
    /// gradient (`C·K·K × positions`, unpadded rows) to the entry of the
    /// padded image `dxp` (`C × (H + 2P) × (W + 2P)`; the image itself
    /// when `P = 0`) it was read from.
    fn fold<T: Scalar>(patches: &[T], dxp: &mut [T]) {
        let (hp, wp) = (Self::PADDED_HEIGHT, Self::PADDED_WIDTH);
        let out_w = Self::OUT_WIDTH;
        let mut rows = patches.chunks_exact(Self::POSITIONS);
        for plane in dxp.chunks_exact_mut(hp * wp).take(C) {
            for kh in 0..K {
                for kw in 0..K {
                    let Some(row) = rows.next() else { return };
                    for (oh, g) in row.chunks_exact(out_w).enumerate() {
                        let dst = &mut plane[(oh * S + kh) * wp + kw..];
                        if S == 1 {
                            for (d, &v) in dst[..out_w].iter_mut().zip(g) {
                                *d += v;
                            }
                        } else {
                            for (d, &v) in dst.iter_mut().step_by(S).zip(g) {
                                *d += v;
                            }
                        }
                    }
                }
            }
        }
    }

    /// Unfolds image `x` into `patches` (one image's, see
    /// [`unfold`](Self::unfold)), through a zero-padded copy in `padded`
    /// when the convolution pads.
    fn unfold_image<T: Scalar>(x: &[T], padded: &mut [T], patches: &mut [T]) {
        if P > 0 {
            Self::pad(x, padded);
            Self::unfold(padded, patches);
        } else {
            Self::unfold(x, patches);
        }
    }

    /// `y = W·P + b` for every image of the batch (`P` the transposed
    /// patches): `x` (`B × C·H·W`), `weight` (`out_ch × C·K·K`, PyTorch's
    /// `[out, in, k, k]` flattened), `bias` (one per output channel),
    /// `patches` (one image's, [`PATCHES_PER_IMAGE`](Self::PATCHES_PER_IMAGE)
    /// entries, refilled for each image), `scratch`
    /// ([`scratch_len`](Self::scratch_len) entries), `y` (`B ×
    /// out_ch·positions`).
    ///
    /// One image's patches at a time, used at once while they are in the
    /// cache: the patches of a whole batch (5 MB for LeNet's first
    /// convolution at B = 64) would go to memory and back. Rule 5 unfolds
    /// each image again (measured faster on the LeNet step).
    pub fn forward<
        T: Scalar,
        const B: usize,
        const IN: usize,
        const OC: usize,
        const KK: usize,
        const PATCHES: usize,
        const SCRATCH: usize,
        const OUT: usize,
    >(
        x: &Matrix<T, B, IN>,
        weight: &Matrix<T, OC, KK>,
        bias: Option<&RowVector<T, OC>>,
        patches: &mut Matrix<T, 1, PATCHES>,
        scratch: &mut Matrix<T, 1, SCRATCH>,
        y: &mut Matrix<T, B, OUT>,
    ) {
        const { Self::check(IN, OUT, PATCHES, OC) };
        const { assert!(KK == C * K * K, "the weight is out_ch × C·K·K") };
        const {
            assert!(
                SCRATCH == Self::scratch_len(OC),
                "the scratch holds C·K·K × max(positions, out_ch), then a padded image"
            )
        };
        let positions = Self::POSITIONS;
        let padded = &mut scratch.as_mut_slice()[SCRATCH - Self::PADDED_IMAGE..];
        let w = View {
            data: weight.as_slice(),
            row_stride: KK,
            col_stride: 1,
        };
        for (x_row, y_row) in x.rows().zip(y.rows_mut()) {
            Self::unfold_image(x_row, padded, patches.as_mut_slice());
            // Y (OC × positions) = W (OC × KK) · P (KK × positions); P is
            // read in place, its rows padded to whole vectors.
            let p = View {
                data: patches.as_slice(),
                row_stride: Self::POSITION_STRIDE,
                col_stride: 1,
            };
            gemm_strided((OC, positions, KK), w, p, y_row, positions, false);
            if let Some(bias) = bias {
                for (channel, &b) in y_row.chunks_exact_mut(positions).zip(bias.as_slice()) {
                    for v in channel {
                        *v += b;
                    }
                }
            }
        }
    }

    /// Rule 5 on the patches: `∂l/∂W = Σ_images ∂l/∂Y·Pᵀ` (`out_ch × C·K·K`)
    /// and `∂l/∂b = Σ_images, positions ∂l/∂Y`, written or (`accumulate`)
    /// added. Each image of the convolution's input `x` is unfolded again
    /// into `patches`; the product is computed transposed, `(∂l/∂W)ᵀ = Σ
    /// P·(∂l/∂Y)ᵀ`, in `scratch` ([`scratch_len`](Self::scratch_len)
    /// entries).
    #[allow(clippy::too_many_arguments)]
    pub fn param_grads<
        T: Scalar,
        const B: usize,
        const IN: usize,
        const OC: usize,
        const KK: usize,
        const PATCHES: usize,
        const OUT: usize,
        const SCRATCH: usize,
    >(
        dl_dy: &Matrix<T, B, OUT>,
        x: &Matrix<T, B, IN>,
        patches: &mut Matrix<T, 1, PATCHES>,
        scratch: &mut Matrix<T, 1, SCRATCH>,
        dl_dw: &mut Matrix<T, OC, KK>,
        dl_db: Option<&mut RowVector<T, OC>>,
        accumulate: bool,
    ) {
        const { Self::check(IN, OUT, PATCHES, OC) };
        const { assert!(KK == C * K * K, "the weight is out_ch × C·K·K") };
        const {
            assert!(
                SCRATCH == Self::scratch_len(OC),
                "the scratch holds C·K·K × max(positions, out_ch), then a padded image"
            )
        };
        let positions = Self::POSITIONS;
        // (∂l/∂W)ᵀ (KK × OC) = Σ_images P (KK × positions) · (∂l/∂Y)ᵀ
        // (positions × OC): P is read in place and only the small ∂l/∂Y is
        // transposed for the product. (Measured against the other
        // orientation, ∂l/∂Y·Pᵀ, which transposes P, and against 8-lane dot
        // products of the rows of ∂l/∂Y and P with no transposes at all:
        // this one is faster for both convolutions of the LeNet step.)
        let (dw_t, rest) = scratch.as_mut_slice().split_at_mut(KK * OC);
        let rest_len = rest.len();
        let padded = &mut rest[rest_len - Self::PADDED_IMAGE..];
        if B == 0 {
            dw_t.fill(T::ZERO);
        }
        for (i, (x_row, d_row)) in x.rows().zip(dl_dy.rows()).enumerate() {
            Self::unfold_image(x_row, padded, patches.as_mut_slice());
            let p = View {
                data: patches.as_slice(),
                row_stride: Self::POSITION_STRIDE,
                col_stride: 1,
            };
            let d_t = View {
                data: &d_row[..],
                row_stride: 1,
                col_stride: positions,
            };
            gemm_strided((KK, OC, positions), p, d_t, dw_t, OC, i > 0);
        }
        for (o, dw_row) in dl_dw.as_mut_slice().chunks_exact_mut(KK).enumerate() {
            for (g, &v) in dw_row.iter_mut().zip(dw_t[o..].iter().step_by(OC)) {
                *g = if accumulate { *g + v } else { v };
            }
        }
        if let Some(dl_db) = dl_db {
            if !accumulate {
                dl_db.fill(T::ZERO);
            }
            for d_row in dl_dy.rows() {
                for (channel, g) in d_row.chunks_exact(positions).zip(dl_db.as_mut_slice()) {
                    *g += sum(channel);
                }
            }
        }
    }

    /// Rule 6 on the patches, then folded back: `∂l/∂P = Wᵀ·∂l/∂Y`
    /// (`C·K·K × positions`, one image at a time in `scratch`), each entry
    /// added to the input entry it was read from (col2im); `∂l/∂X` written
    /// or (`accumulate`) added.
    pub fn input_grad<
        T: Scalar,
        const B: usize,
        const IN: usize,
        const OC: usize,
        const KK: usize,
        const SCRATCH: usize,
        const OUT: usize,
    >(
        dl_dy: &Matrix<T, B, OUT>,
        weight: &Matrix<T, OC, KK>,
        scratch: &mut Matrix<T, 1, SCRATCH>,
        dl_dx: &mut Matrix<T, B, IN>,
        accumulate: bool,
    ) {
        const { Self::check(IN, OUT, Self::PATCHES_PER_IMAGE, OC) };
        const { assert!(KK == C * K * K, "the weight is out_ch × C·K·K") };
        const {
            assert!(
                SCRATCH == Self::scratch_len(OC),
                "the scratch holds C·K·K × max(positions, out_ch)"
            )
        };
        let positions = Self::POSITIONS;
        let w_t = View {
            data: weight.as_slice(),
            row_stride: 1,
            col_stride: KK,
        };
        let (dp, rest) = scratch.as_mut_slice().split_at_mut(KK * positions);
        let rest_len = rest.len();
        let padded = &mut rest[rest_len - Self::PADDED_IMAGE..];
        for (i, dx_row) in dl_dx.rows_mut().enumerate() {
            // ∂l/∂P (KK × positions) = Wᵀ (KK × OC) · ∂l/∂Y (OC × positions);
            // ∂l/∂Y is read in place (whole vectors may run into the next
            // image's entries: those lanes are never stored).
            let d = View {
                data: &dl_dy.as_slice()[i * OUT..],
                row_stride: positions,
                col_stride: 1,
            };
            gemm_strided((KK, positions, OC), w_t, d, dp, positions, false);
            if P == 0 {
                if !accumulate {
                    dx_row.fill(T::ZERO);
                }
                Self::fold(dp, dx_row);
                continue;
            }
            // Folded into a padded image, whose interior is the gradient.
            padded.fill(T::ZERO);
            Self::fold(dp, padded);
            let (hp, wp) = (Self::PADDED_HEIGHT, Self::PADDED_WIDTH);
            for (plane, padded) in dx_row
                .chunks_exact_mut(H * W)
                .zip(padded.chunks_exact(hp * wp))
            {
                for (row, padded) in plane
                    .chunks_exact_mut(W)
                    .zip(padded[P * wp..].chunks_exact(wp))
                {
                    for (d, &v) in row.iter_mut().zip(&padded[P..P + W]) {
                        *d = if accumulate { *d + v } else { v };
                    }
                }
            }
        }
    }
}

/// A pooling layer's geometry: `C` channels of `H × W`, windows of `K × K`,
/// stride `S`, no padding.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pool2dGeometry<
    const C: usize,
    const H: usize,
    const W: usize,
    const K: usize,
    const S: usize,
>;

impl<const C: usize, const H: usize, const W: usize, const K: usize, const S: usize>
    Pool2dGeometry<C, H, W, K, S>
{
    /// The output's height, `⌊(H − K)/S⌋ + 1`.
    pub const OUT_HEIGHT: usize = (H - K) / S + 1;
    /// The output's width.
    pub const OUT_WIDTH: usize = (W - K) / S + 1;

    /// Checks (at compile time) that the matrices fit the geometry.
    const fn check(inputs: usize, outputs: usize) {
        assert!(
            K >= 1 && S >= 1 && K <= H && K <= W,
            "the window fits the image"
        );
        assert!(inputs == C * H * W, "the input is C·H·W wide");
        assert!(
            outputs == C * Self::OUT_HEIGHT * Self::OUT_WIDTH,
            "the output is C·OH·OW wide"
        );
    }

    /// Calls `f(output index, first input index)` for every window, in
    /// the order of the output; the window's entries are
    /// `first + kh·W + kw` for `kh, kw < K`.
    #[inline(always)]
    fn windows(mut f: impl FnMut(usize, usize)) {
        let (oh_n, ow_n) = (Self::OUT_HEIGHT, Self::OUT_WIDTH);
        for c in 0..C {
            for oh in 0..oh_n {
                let (out, first) = ((c * oh_n + oh) * ow_n, c * H * W + oh * S * W);
                for ow in 0..ow_n {
                    f(out + ow, first + ow * S);
                }
            }
        }
    }

    /// The window of an image that starts at entry `first`: its `K` rows,
    /// `W` apart (one bounds check for the whole window).
    #[inline(always)]
    fn window<T>(x: &[T], first: usize) -> &[T] {
        &x[first..first + (K - 1) * W + K]
    }

    /// The index of the first maximum of the window that starts at `first`,
    /// in row-major order (a NaN counts as the maximum, so that it
    /// propagates as in PyTorch).
    #[inline(always)]
    fn argmax<T: Scalar>(x: &[T], first: usize) -> usize {
        let window = Self::window(x, first);
        let mut best = 0;
        for kh in 0..K {
            for kw in 0..K {
                let i = kh * W + kw;
                if window[i].is_nan() {
                    return first + i;
                }
                if window[i] > window[best] {
                    best = i;
                }
            }
        }
        first + best
    }

    /// Whether `v` replaces `best` as the running maximum of a window read
    /// in row-major order: larger, or the first NaN.
    #[inline(always)]
    fn beats<T: Scalar>(v: T, best: T) -> bool {
        v > best || (v.is_nan() && !best.is_nan())
    }

    /// The index (in row-major order) and value of the first maximum of a
    /// 2×2 window (the common case), without branches so that the loops
    /// over windows vectorize.
    #[inline(always)]
    fn first_max<T: Scalar>(window: [T; 4]) -> (usize, T) {
        let (mut at, mut best) = (0, window[0]);
        for (i, &v) in window.iter().enumerate().skip(1) {
            let wins = Self::beats(v, best);
            at = if wins { i } else { at };
            best = if wins { v } else { best };
        }
        (at, best)
    }

    /// `y` = the maximum of each window.
    pub fn max_forward<T: Scalar, const B: usize, const IN: usize, const OUT: usize>(
        x: &Matrix<T, B, IN>,
        y: &mut Matrix<T, B, OUT>,
    ) {
        const { Self::check(IN, OUT) };
        if K == 2 && S == 2 {
            let (oh_n, ow_n) = (Self::OUT_HEIGHT, Self::OUT_WIDTH);
            for (x_row, y_row) in x.rows().zip(y.rows_mut()) {
                for (plane, out) in x_row
                    .chunks_exact(H * W)
                    .zip(y_row.chunks_exact_mut(oh_n * ow_n))
                {
                    for (rows, out) in plane.chunks_exact(2 * W).zip(out.chunks_exact_mut(ow_n)) {
                        let (top, bottom) = rows.split_at(W);
                        let windows = top.chunks_exact(2).zip(bottom.chunks_exact(2));
                        for (o, (t, b)) in out.iter_mut().zip(windows) {
                            *o = Self::first_max([t[0], t[1], b[0], b[1]]).1;
                        }
                    }
                }
            }
            return;
        }
        for (x_row, y_row) in x.rows().zip(y.rows_mut()) {
            Self::windows(|out, first| {
                // The value at `argmax`, without branches: a later entry
                // wins when it is larger, or the first NaN.
                let window = Self::window(x_row, first);
                let mut best = window[0];
                for kh in 0..K {
                    for kw in 0..K {
                        let v = window[kh * W + kw];
                        if Self::beats(v, best) {
                            best = v;
                        }
                    }
                }
                y_row[out] = best;
            });
        }
    }

    /// The gradient of a maximum goes to the entry that was the maximum
    /// (the first one, in row-major order, on ties): the Jacobian of a
    /// window's max is the indicator of its argmax. Written or added.
    pub fn max_backward<T: Scalar, const B: usize, const IN: usize, const OUT: usize>(
        x: &Matrix<T, B, IN>,
        dl_dy: &Matrix<T, B, OUT>,
        dl_dx: &mut Matrix<T, B, IN>,
        accumulate: bool,
    ) {
        const { Self::check(IN, OUT) };
        if K == 2 && S == 2 {
            // Every entry of a window gets its gradient or zero, written
            // (or added) once: the windows do not overlap.
            let (oh_n, ow_n) = (Self::OUT_HEIGHT, Self::OUT_WIDTH);
            let rows = x.rows().zip(dl_dy.rows()).zip(dl_dx.rows_mut());
            for ((x_row, d_row), dx_row) in rows {
                if !accumulate && (H % 2 == 1 || W % 2 == 1) {
                    // The last row or column is in no window.
                    dx_row.fill(T::ZERO);
                }
                let planes = x_row
                    .chunks_exact(H * W)
                    .zip(d_row.chunks_exact(oh_n * ow_n))
                    .zip(dx_row.chunks_exact_mut(H * W));
                for ((plane, d), dx) in planes {
                    let rows = plane
                        .chunks_exact(2 * W)
                        .zip(d.chunks_exact(ow_n))
                        .zip(dx.chunks_exact_mut(2 * W));
                    for ((rows, d), dx) in rows {
                        let (top, bottom) = rows.split_at(W);
                        let (dx_top, dx_bottom) = dx.split_at_mut(W);
                        let windows = top.chunks_exact(2).zip(bottom.chunks_exact(2)).zip(d).zip(
                            dx_top
                                .chunks_exact_mut(2)
                                .zip(dx_bottom.chunks_exact_mut(2)),
                        );
                        // Two loops, so that neither branches on `accumulate`.
                        if accumulate {
                            for (((t, b), &g), (dt, db)) in windows {
                                let at = Self::first_max([t[0], t[1], b[0], b[1]]).0;
                                let part = |i| if at == i { g } else { T::ZERO };
                                dt[0] += part(0);
                                dt[1] += part(1);
                                db[0] += part(2);
                                db[1] += part(3);
                            }
                        } else {
                            for (((t, b), &g), (dt, db)) in windows {
                                let at = Self::first_max([t[0], t[1], b[0], b[1]]).0;
                                let part = |i| if at == i { g } else { T::ZERO };
                                dt[0] = part(0);
                                dt[1] = part(1);
                                db[0] = part(2);
                                db[1] = part(3);
                            }
                        }
                    }
                }
            }
            return;
        }
        for ((x_row, d_row), dx_row) in x.rows().zip(dl_dy.rows()).zip(dl_dx.rows_mut()) {
            if !accumulate {
                dx_row.fill(T::ZERO);
            }
            Self::windows(|out, first| dx_row[Self::argmax(x_row, first)] += d_row[out]);
        }
    }

    /// `y` = the mean of each window.
    pub fn avg_forward<T: Scalar, const B: usize, const IN: usize, const OUT: usize>(
        x: &Matrix<T, B, IN>,
        y: &mut Matrix<T, B, OUT>,
    ) {
        const { Self::check(IN, OUT) };
        let scale = T::ONE / T::from_f64((K * K) as f64);
        for (x_row, y_row) in x.rows().zip(y.rows_mut()) {
            Self::windows(|out, first| {
                let window = Self::window(x_row, first);
                let mut sum = T::ZERO;
                for kh in 0..K {
                    for kw in 0..K {
                        sum += window[kh * W + kw];
                    }
                }
                y_row[out] = sum * scale;
            });
        }
    }

    /// The gradient of a mean: `∂l/∂y / K²` to every entry of the window
    /// (added over overlapping windows). Written or added.
    pub fn avg_backward<T: Scalar, const B: usize, const IN: usize, const OUT: usize>(
        dl_dy: &Matrix<T, B, OUT>,
        dl_dx: &mut Matrix<T, B, IN>,
        accumulate: bool,
    ) {
        const { Self::check(IN, OUT) };
        let scale = T::ONE / T::from_f64((K * K) as f64);
        for (d_row, dx_row) in dl_dy.rows().zip(dl_dx.rows_mut()) {
            if !accumulate {
                dx_row.fill(T::ZERO);
            }
            Self::windows(|out, first| {
                let g = d_row[out] * scale;
                let window = &mut dx_row[first..first + (K - 1) * W + K];
                for kh in 0..K {
                    for kw in 0..K {
                        window[kh * W + kw] += g;
                    }
                }
            });
        }
    }
}

/// Global average pooling: `C` channels of `AREA = H·W` entries, each
/// replaced by its mean (`[C, H, W]` → `[C]`).
#[derive(Debug, Clone, Copy, Default)]
pub struct GlobalAvgPoolGeometry<const C: usize, const AREA: usize>;

impl<const C: usize, const AREA: usize> GlobalAvgPoolGeometry<C, AREA> {
    /// `y[c]` = the mean of channel `c`.
    pub fn forward<T: Scalar, const B: usize, const IN: usize>(
        x: &Matrix<T, B, IN>,
        y: &mut Matrix<T, B, C>,
    ) {
        const { assert!(IN == C * AREA && AREA > 0, "the input is C·H·W wide") };
        let scale = T::ONE / T::from_f64(AREA as f64);
        for (x_row, y_row) in x.rows().zip(y.rows_mut()) {
            for (channel, out) in x_row.chunks_exact(AREA).zip(y_row.iter_mut()) {
                *out = sum(channel) * scale;
            }
        }
    }

    /// `∂l/∂x = ∂l/∂y[c] / (H·W)` on every entry of channel `c`. Written or
    /// added.
    pub fn backward<T: Scalar, const B: usize, const IN: usize>(
        dl_dy: &Matrix<T, B, C>,
        dl_dx: &mut Matrix<T, B, IN>,
        accumulate: bool,
    ) {
        const { assert!(IN == C * AREA && AREA > 0, "the input is C·H·W wide") };
        let scale = T::ONE / T::from_f64(AREA as f64);
        for (d_row, dx_row) in dl_dy.rows().zip(dl_dx.rows_mut()) {
            for (channel, &g) in dx_row.chunks_exact_mut(AREA).zip(d_row.iter()) {
                let g = g * scale;
                for v in channel {
                    *v = if accumulate { *v + g } else { g };
                }
            }
        }
    }
}
