//! Losses, each returning the loss and, when asked, its gradient.
//!
//! Conventions (the gradients follow from them):
//!
//! | loss | value | gradient |
//! | --- | --- | --- |
//! | [`sse`] | `Σ (a − y)²` over all entries | `2 (A − Y)` |
//! | [`mse`] | `Σ (a − y)² / (B·N)` (mean over all entries) | `2 (A − Y) / (B·N)` |
//! | [`binary_cross_entropy`] | `−Σ [y ln a + (1 − y) ln(1 − a)] / (B·N)` | `(A − Y) / (A ⊗ (1 − A)) / (B·N)` |
//! | [`sigmoid_binary_cross_entropy`] | the same of `a = σ(z)`, from logits | `(A − Y) / (B·N)` w.r.t. the logits |
//! | [`cross_entropy`] | `−Σ y ln a / B` (mean over the batch) | `−Y / A / B` |
//! | [`softmax_cross_entropy`] | the same of `a = softmax(z)`, from logits | `(A − Y) / B` w.r.t. the logits |
//!
//! No `½` in the squared errors. The fused forms (`sigmoid_…`, `softmax_…`)
//! work on logits with log-sum-exp, so they stay finite for logits of ±1000,
//! and they also write the activation `A` they computed. Targets are a
//! [`Matrix`] or [`ClassLabels`](crate::ClassLabels), see [`Targets`]. The
//! gradient argument is optional: pass `None` to compute the loss only.
//!
//! ```
//! use chainrule::losses::softmax_cross_entropy;
//! use chainrule::{ClassLabels, Matrix};
//!
//! // Two rows of logits, classes 1 and 0. Row 1 is (0, ln 3): softmax (¼, ¾).
//! let z = Matrix::<f64, 2, 2>::from_rows([[0.0, 3f64.ln()], [0.0, 0.0]]);
//! let labels = ClassLabels::<2, 2>::new([1, 0]).unwrap();
//! let mut a = Matrix::zeros();
//! let mut dl_dz = Matrix::zeros();
//! let loss = softmax_cross_entropy(&z, &labels, &mut a, Some(&mut dl_dz));
//! // −(ln ¾ + ln ½) / 2
//! assert!((loss - (-(0.75f64.ln() + 0.5f64.ln()) / 2.0)).abs() < 1e-15);
//! // (A − Y) / B
//! let y: Matrix<f64, 2, 2> = labels.to_one_hot();
//! assert!(dl_dz.approx_eq(&(&a - &y).scale(0.5), 1e-15));
//! ```

use crate::{Matrix, Scalar, Targets};

/// Sum of squared errors, `Σ (a − y)²`; gradient `2 (A − Y)`.
///
/// ```
/// use chainrule::{losses, Matrix};
/// let a = Matrix::<f64, 1, 2>::from_rows([[1.0, 2.0]]);
/// let y = Matrix::<f64, 1, 2>::from_rows([[0.0, 4.0]]);
/// let mut grad = Matrix::zeros();
/// assert_eq!(losses::sse(&a, &y, Some(&mut grad)), 1.0 + 4.0);
/// assert_eq!(grad, Matrix::from_rows([[2.0, -4.0]]));
/// assert_eq!(losses::mse(&a, &y, None), 5.0 / 2.0);
/// ```
pub fn sse<T: Scalar, Y: Targets<T, B, N> + ?Sized, const B: usize, const N: usize>(
    a: &Matrix<T, B, N>,
    y: &Y,
    dl_da: Option<&mut Matrix<T, B, N>>,
) -> T {
    squared_error(a, y, dl_da, T::ONE)
}

/// Mean squared error over all `B·N` entries; gradient `2 (A − Y) / (B·N)`.
pub fn mse<T: Scalar, Y: Targets<T, B, N> + ?Sized, const B: usize, const N: usize>(
    a: &Matrix<T, B, N>,
    y: &Y,
    dl_da: Option<&mut Matrix<T, B, N>>,
) -> T {
    squared_error(a, y, dl_da, T::ONE / T::from_usize(B * N))
}

fn squared_error<T: Scalar, Y: Targets<T, B, N> + ?Sized, const B: usize, const N: usize>(
    a: &Matrix<T, B, N>,
    y: &Y,
    mut dl_da: Option<&mut Matrix<T, B, N>>,
    weight: T,
) -> T {
    let two_w = (T::ONE + T::ONE) * weight;
    let mut total = T::ZERO;
    for i in 0..B {
        for j in 0..N {
            let d = a.as_slice()[i * N + j] - y.value(i, j);
            total += d * d;
            if let Some(g) = dl_da.as_deref_mut() {
                g.as_mut_slice()[i * N + j] = two_w * d;
            }
        }
    }
    total * weight
}

/// Binary cross-entropy on probabilities `a ∈ (0, 1)`, mean over all `B·N`
/// entries. Probabilities are clamped to `[ε, 1 − ε]` (ε = 1e-7 for `f32`,
/// 1e-15 for `f64`) before the logarithms; prefer
/// [`sigmoid_binary_cross_entropy`] on logits, which needs no clamp.
pub fn binary_cross_entropy<
    T: Scalar,
    Y: Targets<T, B, N> + ?Sized,
    const B: usize,
    const N: usize,
>(
    a: &Matrix<T, B, N>,
    y: &Y,
    mut dl_da: Option<&mut Matrix<T, B, N>>,
) -> T {
    let eps = probability_floor::<T>();
    let inv = T::ONE / T::from_usize(B * N);
    let mut total = T::ZERO;
    // The logarithms a chunk at a time through the slice kernels.
    let mut ln_p = [T::ZERO; CHUNK];
    let mut ln_q = [T::ZERO; CHUNK];
    for (chunk, a_chunk) in a.as_slice().chunks(CHUNK).enumerate() {
        let ln_p = &mut ln_p[..a_chunk.len()];
        let ln_q = &mut ln_q[..a_chunk.len()];
        for ((lp, lq), &a) in ln_p.iter_mut().zip(ln_q.iter_mut()).zip(a_chunk) {
            *lp = a.max(eps).min(T::ONE - eps);
            *lq = T::ONE - *lp;
        }
        if let Some(g) = dl_da.as_deref_mut() {
            let g_chunk = &mut g.as_mut_slice()[chunk * CHUNK..][..a_chunk.len()];
            for (k, (g, &p)) in g_chunk.iter_mut().zip(ln_p.iter()).enumerate() {
                let t = target_at(y, chunk * CHUNK + k);
                *g = (p - t) / (p * (T::ONE - p)) * inv;
            }
        }
        T::ln_in_place(ln_p);
        T::ln_in_place(ln_q);
        for (k, (&lp, &lq)) in ln_p.iter().zip(ln_q.iter()).enumerate() {
            let t = target_at(y, chunk * CHUNK + k);
            total -= t * lp + (T::ONE - t) * lq;
        }
    }
    total * inv
}

/// Entries whose `exp`/`ln` go through one call of the slice kernels; the
/// buffers live on the stack (`CHUNK` scalars each).
const CHUNK: usize = 64;

/// The target of the entry at row-major index `k` of a `B×N` matrix.
#[inline(always)]
fn target_at<T: Scalar, Y: Targets<T, B, N> + ?Sized, const B: usize, const N: usize>(
    y: &Y,
    k: usize,
) -> T {
    y.value(k / N, k % N)
}

/// Sigmoid followed by binary cross-entropy, from logits `z`, mean over all
/// `B·N` entries: per entry `max(z, 0) − z·y + ln(1 + e^(−|z|))`, finite for
/// any finite `z`. Writes `a = σ(z)` and, when asked, `∂l/∂z = (A − Y)/(B·N)`.
pub fn sigmoid_binary_cross_entropy<
    T: Scalar,
    Y: Targets<T, B, N> + ?Sized,
    const B: usize,
    const N: usize,
>(
    z: &Matrix<T, B, N>,
    y: &Y,
    a: &mut Matrix<T, B, N>,
    mut dl_dz: Option<&mut Matrix<T, B, N>>,
) -> T {
    let inv = T::ONE / T::from_usize(B * N);
    let mut total = T::ZERO;
    // Per chunk: e = e^(−|z|) through the slice kernel, σ(z) from it
    // (`1/(1 + e)` or `e/(1 + e)`, as `Sigmoid` computes it), then the
    // softplus ln(1 + e) through the slice kernel.
    let mut softplus = [T::ZERO; CHUNK];
    let chunks = z
        .as_slice()
        .chunks(CHUNK)
        .zip(a.as_mut_slice().chunks_mut(CHUNK));
    for (chunk, (z_chunk, a_chunk)) in chunks.enumerate() {
        let e = &mut softplus[..z_chunk.len()];
        for (e, &z) in e.iter_mut().zip(z_chunk) {
            *e = -z.abs();
        }
        T::exp_in_place(e);
        for ((a, &e), &z) in a_chunk.iter_mut().zip(e.iter()).zip(z_chunk) {
            let numerator = if z >= T::ZERO { T::ONE } else { e };
            *a = numerator / (T::ONE + e);
        }
        T::ln_1p_in_place(e);
        for (k, (&zk, &sp)) in z_chunk.iter().zip(e.iter()).enumerate() {
            let t = target_at(y, chunk * CHUNK + k);
            total += zk.max(T::ZERO) - zk * t + sp;
        }
        if let Some(g) = dl_dz.as_deref_mut() {
            let g_chunk = &mut g.as_mut_slice()[chunk * CHUNK..][..z_chunk.len()];
            for (k, (g, &ak)) in g_chunk.iter_mut().zip(a_chunk.iter()).enumerate() {
                *g = (ak - target_at(y, chunk * CHUNK + k)) * inv;
            }
        }
    }
    total * inv
}

/// Cross-entropy on probabilities, `−Σ y ln a / B`; gradient `−Y / A / B`.
/// Probabilities are clamped below at ε as in [`binary_cross_entropy`];
/// prefer [`softmax_cross_entropy`] on logits.
pub fn cross_entropy<T: Scalar, Y: Targets<T, B, N> + ?Sized, const B: usize, const N: usize>(
    a: &Matrix<T, B, N>,
    y: &Y,
    mut dl_da: Option<&mut Matrix<T, B, N>>,
) -> T {
    let eps = probability_floor::<T>();
    let inv = T::ONE / T::from_usize(B);
    let mut total = T::ZERO;
    for i in 0..B {
        for j in 0..N {
            let p = a.as_slice()[i * N + j].max(eps);
            let t = y.value(i, j);
            // 0·ln p is taken as 0 (p may be ε), but a NaN prediction
            // must still reach the loss.
            if t != T::ZERO || p.is_nan() {
                total -= t * p.ln();
            }
            if let Some(g) = dl_da.as_deref_mut() {
                g.as_mut_slice()[i * N + j] = -t / p * inv;
            }
        }
    }
    total * inv
}

/// Softmax followed by cross-entropy, from logits `z`, mean over the batch:
/// per row `Σ_j y_j (lse(z) − z_j)` with `lse` the log-sum-exp, finite for
/// logits of ±1000. Writes `a = softmax(z)` and, when asked,
/// `∂l/∂z = (A·(Σ_j y_j) − Y)/B`, which is `(A − Y)/B` for one-hot rows and
/// class labels.
pub fn softmax_cross_entropy<
    T: Scalar,
    Y: Targets<T, B, N> + ?Sized,
    const B: usize,
    const N: usize,
>(
    z: &Matrix<T, B, N>,
    y: &Y,
    a: &mut Matrix<T, B, N>,
    mut dl_dz: Option<&mut Matrix<T, B, N>>,
) -> T {
    let inv = T::ONE / T::from_usize(B);
    let mut total = T::ZERO;
    let labels = y.class_indices();
    let z = z.as_slice();
    // One pass: each row's exps, its softmax, its log-sum-exp, then its loss
    // and gradient.
    crate::activations::softmax_rows_with::<T, N>(z, a.as_mut_slice(), true, |i, lse, a_row| {
        let z_row = &z[i * N..(i + 1) * N];
        match labels {
            Some(labels) => {
                let c = labels[i];
                total += lse - z_row[c];
                if let Some(g) = dl_dz.as_deref_mut() {
                    let g_row = g.row_mut(i);
                    for (gj, &aj) in g_row.iter_mut().zip(a_row.iter()) {
                        *gj = aj * inv;
                    }
                    g_row[c] -= inv;
                }
            }
            None => {
                let mut mass = T::ZERO;
                for (j, &zj) in z_row.iter().enumerate() {
                    let t = y.value(i, j);
                    if t != T::ZERO {
                        total += t * (lse - zj);
                    }
                    mass += t;
                }
                if let Some(g) = dl_dz.as_deref_mut() {
                    let g_row = g.row_mut(i);
                    for (j, (gj, &aj)) in g_row.iter_mut().zip(a_row.iter()).enumerate() {
                        *gj = (aj * mass - y.value(i, j)) * inv;
                    }
                }
            }
        }
    });
    total * inv
}

/// The smallest probability taken inside a logarithm.
fn probability_floor<T: Scalar>() -> T {
    if T::EPSILON.to_f64() < 1e-10 {
        T::from_f64(1e-15)
    } else {
        T::from_f64(1e-7)
    }
}
