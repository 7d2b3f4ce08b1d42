//! Packing: copying a block of an operand into the panel layout the
//! micro-kernels read, contiguous and in the order of use.

use alloc::vec::Vec;

use crate::Scalar;

/// Alignment of the packed panels, in bytes (a cache line; covers the
/// 32-byte AVX loads).
const PANEL_ALIGN: usize = 64;

/// A matrix read through strides: entry `(i, j)` is
/// `data[i * row_stride + j * col_stride]`.
///
/// This describes `op(a)` and `op(b)` of a product without copying:
/// transposing a view swaps its strides.
#[derive(Clone, Copy, Debug)]
pub(crate) struct View<'a, T> {
    pub data: &'a [T],
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a, T> View<'a, T> {
    /// A row-major `rows×cols` matrix, or its transpose (`data` stored
    /// `cols×rows`) when `transposed`.
    pub fn new(data: &'a [T], rows: usize, cols: usize, transposed: bool) -> Self {
        if transposed {
            View {
                data,
                row_stride: 1,
                col_stride: rows,
            }
        } else {
            View {
                data,
                row_stride: cols,
                col_stride: 1,
            }
        }
    }

    /// The transpose, without copying.
    pub fn t(self) -> Self {
        View {
            data: self.data,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }
}

/// Packs the block `rows × depth` of `src` starting at `(row0, depth0)` into
/// panels of `width` rows: panel `q` holds, for each `p` in `0..depth`, the
/// `width` entries `src[row0 + q·width + r, depth0 + p]` (rows past the block
/// are zeros), so `dst[q·width·depth + p·width + r]`.
///
/// For `op(a)` the rows are rows of the product; for `op(b)` pass its
/// transpose, so the rows are columns of the product.
///
/// # Panics
/// When `dst` is shorter than `rows.div_ceil(width) · width · depth` or the
/// block lies outside `src` (the callers check the operands once, so this
/// does not happen).
pub(super) fn pack_panels<T: Scalar>(
    dst: &mut [T],
    src: View<'_, T>,
    rows: (usize, usize),
    depth: (usize, usize),
    width: usize,
) {
    // A constant width turns the copies into a few vector moves.
    match width {
        4 => pack_panels_of::<T, 4>(dst, src, rows, depth),
        6 => pack_panels_of::<T, 6>(dst, src, rows, depth),
        8 => pack_panels_of::<T, 8>(dst, src, rows, depth),
        16 => pack_panels_of::<T, 16>(dst, src, rows, depth),
        _ => pack_panels_any(dst, src, rows, depth, width),
    }
}

/// [`pack_panels`] for a width known at compile time.
fn pack_panels_of<T: Scalar, const W: usize>(
    dst: &mut [T],
    src: View<'_, T>,
    (row0, rows): (usize, usize),
    (depth0, depth): (usize, usize),
) {
    let panels = rows.div_ceil(W);
    let dst = &mut dst[..panels * W * depth];
    if depth == 0 {
        return;
    }
    for (q, panel) in dst.chunks_exact_mut(W * depth).enumerate() {
        let first = row0 + q * W;
        let live = W.min(rows - q * W);
        if src.row_stride == 1 && live == W {
            // The `W` entries of each depth step are contiguous.
            for (p, out) in panel.chunks_exact_mut(W).enumerate() {
                let start = (depth0 + p) * src.col_stride + first;
                out.copy_from_slice(&src.data[start..start + W]);
            }
        } else if src.col_stride == 1 {
            // Each row is contiguous along the depth: scatter it.
            for r in 0..live {
                let start = (first + r) * src.row_stride + depth0;
                let row = &src.data[start..start + depth];
                for (out, &x) in panel.chunks_exact_mut(W).zip(row) {
                    out[r] = x;
                }
            }
            if live < W {
                for out in panel.chunks_exact_mut(W) {
                    out[live..].fill(T::ZERO);
                }
            }
        } else {
            pack_panels_any(panel, src, (first, live), (depth0, depth), W);
        }
    }
}

/// [`pack_panels`] for any width and strides.
fn pack_panels_any<T: Scalar>(
    dst: &mut [T],
    src: View<'_, T>,
    (row0, rows): (usize, usize),
    (depth0, depth): (usize, usize),
    width: usize,
) {
    let panels = rows.div_ceil(width);
    let dst = &mut dst[..panels * width * depth];
    if depth == 0 {
        return;
    }
    for (q, panel) in dst.chunks_exact_mut(width * depth).enumerate() {
        let first = row0 + q * width;
        let live = width.min(rows - q * width);
        for (p, out) in panel.chunks_exact_mut(width).enumerate() {
            let col = (depth0 + p) * src.col_stride;
            for (r, slot) in out.iter_mut().enumerate() {
                *slot = if r < live {
                    src.data[(first + r) * src.row_stride + col]
                } else {
                    T::ZERO
                };
            }
        }
    }
}

/// The reusable packing buffers of one thread: they grow to the largest block
/// used and are never freed, so a product allocates nothing once warm.
#[derive(Debug, Default)]
pub(super) struct PackBuffers<T> {
    a: Vec<T>,
    b: Vec<T>,
}

impl<T: Scalar> PackBuffers<T> {
    /// Empty buffers.
    pub const fn new() -> Self {
        PackBuffers {
            a: Vec::new(),
            b: Vec::new(),
        }
    }

    /// The buffer the small path copies `op(b)` into (it needs no
    /// alignment; the blocked product's packed `op(b)` reuses it).
    #[cfg_attr(not(chainrule_avx2), allow(dead_code))]
    pub fn small_b(&mut self) -> &mut Vec<T> {
        &mut self.b
    }

    /// Two aligned scratch slices of `a_len` and `b_len` entries.
    pub fn get(&mut self, a_len: usize, b_len: usize) -> (&mut [T], &mut [T]) {
        (aligned(&mut self.a, a_len), aligned(&mut self.b, b_len))
    }
}

/// A slice of `len` entries of `buf` starting at a [`PANEL_ALIGN`]-byte
/// boundary, growing `buf` when it is too short.
fn aligned<T: Scalar>(buf: &mut Vec<T>, len: usize) -> &mut [T] {
    let slack = PANEL_ALIGN / core::mem::size_of::<T>();
    if buf.len() < len + slack {
        buf.resize(len + slack, T::ZERO);
    }
    let offset = buf.as_ptr().align_offset(PANEL_ALIGN).min(slack);
    &mut buf[offset..offset + len]
}
