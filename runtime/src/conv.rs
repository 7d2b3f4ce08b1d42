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
//! ```
//! use chainrule::conv::Conv2dGeometry;
//! use chainrule::Matrix;
//! // One 1×3×3 image, one 2×2 kernel of ones, no padding, stride 1.
//! type G = Conv2dGeometry<1, 3, 3, 2, 1, 0>;
//! assert_eq!((G::OUT_HEIGHT, G::OUT_WIDTH), (2, 2));
//! let x = Matrix::<f64, 1, 9>::from_rows([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]]);
//! let w = Matrix::<f64, 1, 4>::filled(1.0);
//! let mut patches = Matrix::<f64, 1, 16>::zeros(); // 4 positions × 4 entries
//! let mut y = Matrix::<f64, 1, 4>::zeros();
//! G::forward(&x, &w, None, &mut patches, &mut y);
//! assert_eq!(y, Matrix::from_rows([[12.0, 16.0, 24.0, 28.0]]));
//! ```

use crate::{Matrix, RowVector, Scalar};

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
    /// Entries of one window (a row of the unfolded patches, a row of the
    /// flattened weight): `C·K·K`.
    pub const PATCH: usize = C * K * K;
    /// Entries of one input image.
    pub const IN_FEATURES: usize = C * H * W;

    /// Checks (at compile time) that the matrices fit the geometry.
    const fn check(inputs: usize, outputs: usize, patches: usize, out_channels: usize) {
        assert!(
            K >= 1 && S >= 1 && K <= H + 2 * P && K <= W + 2 * P,
            "the kernel fits the padded image"
        );
        assert!(inputs == C * H * W, "the input is C·H·W wide");
        assert!(
            patches == Self::POSITIONS * Self::PATCH,
            "the patch buffer holds one image's patches"
        );
        assert!(
            outputs == out_channels * Self::POSITIONS,
            "the output is out_ch·positions wide"
        );
    }

    /// Unfolds image `x` (`C·H·W` entries) into `patches`, stored
    /// transposed: `C·K·K × positions`, row `(c, kh, kw)` holding, for every
    /// output position, the input entry that kernel entry meets there (zero
    /// on the padding). For stride 1 each output row of a patch row is one
    /// shifted run of an input row, copied as a slice.
    fn unfold<T: Scalar>(x: &[T], patches: &mut [T]) {
        let (out_h, out_w, positions) = (Self::OUT_HEIGHT, Self::OUT_WIDTH, Self::POSITIONS);
        let mut rows = patches.chunks_exact_mut(positions);
        for c in 0..C {
            let plane = &x[c * H * W..(c + 1) * H * W];
            for kh in 0..K {
                for kw in 0..K {
                    let Some(row) = rows.next() else { return };
                    for (oh, out) in row.chunks_exact_mut(out_w).take(out_h).enumerate() {
                        // The input row this output row reads, if inside.
                        let Some(r) = (oh * S + kh).checked_sub(P).filter(|&r| r < H) else {
                            out.fill(T::ZERO);
                            continue;
                        };
                        let src = &plane[r * W..(r + 1) * W];
                        if S == 1 {
                            // Output column ow reads input column ow + kw − P.
                            let first = P.saturating_sub(kw).min(out_w);
                            let last = (W + P).saturating_sub(kw).clamp(first, out_w);
                            out[..first].fill(T::ZERO);
                            out[last..].fill(T::ZERO);
                            let from = first + kw - P;
                            out[first..last].copy_from_slice(&src[from..from + (last - first)]);
                        } else {
                            for (ow, e) in out.iter_mut().enumerate() {
                                *e = match (ow * S + kw).checked_sub(P).filter(|&q| q < W) {
                                    Some(q) => src[q],
                                    None => T::ZERO,
                                };
                            }
                        }
                    }
                }
            }
        }
    }

    /// col2im for one image: adds each entry of the transposed patches'
    /// gradient (`C·K·K × positions`) to the input entry it was read from
    /// (padding entries are dropped).
    fn fold<T: Scalar>(patches: &[T], dx: &mut [T]) {
        let (out_h, out_w, positions) = (Self::OUT_HEIGHT, Self::OUT_WIDTH, Self::POSITIONS);
        let mut rows = patches.chunks_exact(positions);
        for c in 0..C {
            let plane = &mut dx[c * H * W..(c + 1) * H * W];
            for kh in 0..K {
                for kw in 0..K {
                    let Some(row) = rows.next() else { return };
                    for (oh, g) in row.chunks_exact(out_w).take(out_h).enumerate() {
                        let Some(r) = (oh * S + kh).checked_sub(P).filter(|&r| r < H) else {
                            continue;
                        };
                        let dst = &mut plane[r * W..(r + 1) * W];
                        if S == 1 {
                            let first = P.saturating_sub(kw).min(out_w);
                            let last = (W + P).saturating_sub(kw).clamp(first, out_w);
                            let from = first + kw - P;
                            for (d, &v) in dst[from..from + (last - first)]
                                .iter_mut()
                                .zip(&g[first..last])
                            {
                                *d += v;
                            }
                        } else {
                            for (ow, &v) in g.iter().enumerate() {
                                if let Some(q) = (ow * S + kw).checked_sub(P).filter(|&q| q < W) {
                                    dst[q] += v;
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `y = W·P + b` for every image of the batch (`P` the transposed
    /// patches): `x` (`B × C·H·W`), `weight` (`out_ch × C·K·K`, PyTorch's
    /// `[out, in, k, k]` flattened), `bias` (one per output channel),
    /// `patches` (`B × C·K·K·positions`, kept for the backward pass), `y`
    /// (`B × out_ch·positions`).
    pub fn forward<
        T: Scalar,
        const B: usize,
        const IN: usize,
        const OC: usize,
        const KK: usize,
        const PATCHES: usize,
        const OUT: usize,
    >(
        x: &Matrix<T, B, IN>,
        weight: &Matrix<T, OC, KK>,
        bias: Option<&RowVector<T, OC>>,
        patches: &mut Matrix<T, B, PATCHES>,
        y: &mut Matrix<T, B, OUT>,
    ) {
        const { Self::check(IN, OUT, PATCHES, OC) };
        const { assert!(KK == C * K * K, "the weight is out_ch × C·K·K") };
        let positions = Self::POSITIONS;
        for ((x_row, p_row), y_row) in x.rows().zip(patches.rows_mut()).zip(y.rows_mut()) {
            Self::unfold(x_row, p_row);
            // Y (OC × positions) = W (OC × KK) · P (KK × positions)
            T::gemm(
                OC,
                positions,
                KK,
                weight.as_slice(),
                false,
                p_row,
                false,
                y_row,
                false,
            );
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
    /// added.
    pub fn param_grads<
        T: Scalar,
        const B: usize,
        const OC: usize,
        const KK: usize,
        const PATCHES: usize,
        const OUT: usize,
    >(
        dl_dy: &Matrix<T, B, OUT>,
        patches: &Matrix<T, B, PATCHES>,
        dl_dw: &mut Matrix<T, OC, KK>,
        dl_db: Option<&mut RowVector<T, OC>>,
        accumulate: bool,
    ) {
        const { Self::check(C * H * W, OUT, PATCHES, OC) };
        let positions = Self::POSITIONS;
        for (i, (d_row, p_row)) in dl_dy.rows().zip(patches.rows()).enumerate() {
            // ∂l/∂W (OC × KK) += ∂l/∂Y (OC × positions) · Pᵀ (positions × KK)
            T::gemm(
                OC,
                KK,
                positions,
                d_row,
                false,
                p_row,
                true,
                dl_dw.as_mut_slice(),
                accumulate || i > 0,
            );
        }
        if B == 0 && !accumulate {
            // No image wrote it.
            dl_dw.fill(T::ZERO);
        }
        if let Some(dl_db) = dl_db {
            if !accumulate {
                dl_db.fill(T::ZERO);
            }
            for d_row in dl_dy.rows() {
                for (channel, g) in d_row.chunks_exact(positions).zip(dl_db.as_mut_slice()) {
                    *g += channel.iter().fold(T::ZERO, |acc, &v| acc + v);
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
        const { Self::check(IN, OUT, SCRATCH, OC) };
        let positions = Self::POSITIONS;
        for (d_row, dx_row) in dl_dy.rows().zip(dl_dx.rows_mut()) {
            // ∂l/∂P (KK × positions) = Wᵀ (KK × OC) · ∂l/∂Y (OC × positions)
            T::gemm(
                KK,
                positions,
                OC,
                weight.as_slice(),
                true,
                d_row,
                false,
                scratch.as_mut_slice(),
                false,
            );
            if !accumulate {
                dx_row.fill(T::ZERO);
            }
            Self::fold(scratch.as_slice(), dx_row);
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

    /// Calls `f(channel, output index, window)` for every window, where
    /// `window` yields the input indices of the window in row-major order.
    #[inline]
    fn windows(mut f: impl FnMut(usize, usize, &mut dyn Iterator<Item = usize>)) {
        let (oh_n, ow_n) = (Self::OUT_HEIGHT, Self::OUT_WIDTH);
        for c in 0..C {
            for oh in 0..oh_n {
                for ow in 0..ow_n {
                    let out = (c * oh_n + oh) * ow_n + ow;
                    let base = c * H * W + oh * S * W + ow * S;
                    let mut window = (0..K).flat_map(|kh| (0..K).map(move |kw| base + kh * W + kw));
                    f(c, out, &mut window);
                }
            }
        }
    }

    /// The index of the first maximum of a window in row-major order (a
    /// NaN counts as the maximum, so that it propagates as in PyTorch).
    #[inline]
    fn argmax<T: Scalar>(x: &[T], window: &mut dyn Iterator<Item = usize>) -> usize {
        let Some(first) = window.next() else { return 0 };
        let mut best = first;
        if x[first].is_nan() {
            return first;
        }
        for i in window {
            if x[i].is_nan() {
                return i;
            }
            if x[i] > x[best] {
                best = i;
            }
        }
        best
    }

    /// `y` = the maximum of each window.
    pub fn max_forward<T: Scalar, const B: usize, const IN: usize, const OUT: usize>(
        x: &Matrix<T, B, IN>,
        y: &mut Matrix<T, B, OUT>,
    ) {
        const { Self::check(IN, OUT) };
        for (x_row, y_row) in x.rows().zip(y.rows_mut()) {
            Self::windows(|_, out, window| y_row[out] = x_row[Self::argmax(x_row, window)]);
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
        for ((x_row, d_row), dx_row) in x.rows().zip(dl_dy.rows()).zip(dl_dx.rows_mut()) {
            if !accumulate {
                dx_row.fill(T::ZERO);
            }
            Self::windows(|_, out, window| dx_row[Self::argmax(x_row, window)] += d_row[out]);
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
            Self::windows(|_, out, window| {
                y_row[out] = window.fold(T::ZERO, |acc, i| acc + x_row[i]) * scale;
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
            Self::windows(|_, out, window| {
                let g = d_row[out] * scale;
                for i in window {
                    dx_row[i] += g;
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
                *out = channel.iter().fold(T::ZERO, |acc, &v| acc + v) * scale;
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
