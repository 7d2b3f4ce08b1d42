//! Parameter-holding layers and their initialisation.
//!
//! Weights are stored out×in, as in PyTorch's `nn.Linear`, so a dense layer on
//! a batch `X` (`B×in`) computes `Z = X·Wᵀ + 1·bᵀ` (`B×out`).

use rand::{Rng, SeedableRng};

use crate::{Matrix, RowVector, Scalar};

/// How a layer's weights are drawn at initialisation. Biases start at zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// He (Kaiming) uniform, `U(±√(6 / in))`: for relu and leaky relu layers.
    He,
    /// Xavier (Glorot) uniform, `U(±√(6 / (in + out)))`: for the others.
    Xavier,
}

impl Init {
    /// The bound `a` of the uniform distribution `U(−a, a)` for a layer.
    #[must_use]
    pub fn bound(self, inputs: usize, outputs: usize) -> f64 {
        match self {
            Init::He => (6.0 / inputs as f64).sqrt(),
            Init::Xavier => (6.0 / (inputs + outputs) as f64).sqrt(),
        }
    }

    /// A matrix of weights drawn from this distribution.
    #[must_use]
    pub fn sample<T: Scalar, const OUT: usize, const IN: usize>(
        self,
        rng: &mut impl Rng,
    ) -> Matrix<T, OUT, IN> {
        let bound = self.bound(IN, OUT);
        Matrix::from_fn(|_, _| T::from_f64(rng.random_range(-bound..=bound)))
    }
}

/// The seeded random-number generator used for initialisation (ChaCha8, the
/// same stream on every platform).
pub type InitRng = rand_chacha::ChaCha8Rng;

/// A seeded generator for initialisation.
#[must_use]
pub fn init_rng(seed: u64) -> InitRng {
    InitRng::seed_from_u64(seed)
}

/// A dense (fully connected) layer with bias: `Z = X·Wᵀ + 1·bᵀ`.
#[derive(Clone, PartialEq, Debug)]
pub struct Dense<T: Scalar, const IN: usize, const OUT: usize> {
    /// The weights, `OUT×IN` (PyTorch's layout); weight-file key `NAME.weight`.
    pub weight: Matrix<T, OUT, IN>,
    /// The bias, a `1×OUT` row; weight-file key `NAME.bias`, shape `[OUT]`.
    pub bias: RowVector<T, OUT>,
}

/// A dense layer without bias: `Z = X·Wᵀ`.
#[derive(Clone, PartialEq, Debug)]
pub struct DenseNoBias<T: Scalar, const IN: usize, const OUT: usize> {
    /// The weights, `OUT×IN`; weight-file key `NAME.weight`.
    pub weight: Matrix<T, OUT, IN>,
}

impl<T: Scalar, const IN: usize, const OUT: usize> Dense<T, IN, OUT> {
    /// All parameters zero (also the starting value of a gradient).
    #[must_use]
    pub fn zeros() -> Self {
        Self {
            weight: Matrix::zeros(),
            bias: Matrix::zeros(),
        }
    }

    /// Weights drawn by `init`, bias zero.
    #[must_use]
    // Out of line: a network's constructor calls it once per layer.
    #[inline(never)]
    pub fn init(init: Init, rng: &mut impl Rng) -> Self {
        Self {
            weight: init.sample(rng),
            bias: Matrix::zeros(),
        }
    }

    /// `z = x·Wᵀ + 1·bᵀ` for a batch of `B` rows, into `z`.
    #[inline]
    pub fn forward_into<const B: usize>(&self, x: &Matrix<T, B, IN>, z: &mut Matrix<T, B, OUT>) {
        crate::ops::matmul_t_bias_into(x, &self.weight, &self.bias, z);
    }
}

impl<T: Scalar, const IN: usize, const OUT: usize> DenseNoBias<T, IN, OUT> {
    /// All parameters zero (also the starting value of a gradient).
    #[must_use]
    pub fn zeros() -> Self {
        Self {
            weight: Matrix::zeros(),
        }
    }

    /// Weights drawn by `init`.
    #[must_use]
    // Out of line: a network's constructor calls it once per layer.
    #[inline(never)]
    pub fn init(init: Init, rng: &mut impl Rng) -> Self {
        Self {
            weight: init.sample(rng),
        }
    }

    /// `z = x·Wᵀ` for a batch of `B` rows, into `z`.
    #[inline]
    pub fn forward_into<const B: usize>(&self, x: &Matrix<T, B, IN>, z: &mut Matrix<T, B, OUT>) {
        crate::ops::matmul_t_into(x, &self.weight, z);
    }
}

/// ε of [`LayerNorm`], as PyTorch's `nn.LayerNorm`.
pub const LAYER_NORM_EPSILON: f64 = 1e-5;

/// Layer normalisation over the `N` features of each row:
/// `y = γ ⊗ (x − μ)/√(σ² + ε) + β`, with `μ` and `σ²` the mean and the
/// biased variance of the row and `ε` = [`LAYER_NORM_EPSILON`] (as
/// `nn.LayerNorm(N)`).
///
/// ```
/// use chainrule::layers::LayerNorm;
/// use chainrule::Matrix;
/// let ln = LayerNorm::<f64, 3>::new();
/// let x = Matrix::<f64, 1, 3>::from_rows([[1.0, 2.0, 3.0]]);
/// let (mut x_hat, mut inv_std, mut y) = (Matrix::zeros(), Matrix::zeros(), Matrix::zeros());
/// ln.forward_into(&x, &mut x_hat, &mut inv_std, &mut y);
/// // mean 2, biased variance 2/3: (x − 2)/√(2/3 + 1e-5)
/// assert!((y[(0, 2)] - 1.0 / (2.0f64 / 3.0 + 1e-5).sqrt()).abs() < 1e-12);
/// ```
#[derive(Clone, PartialEq, Debug)]
pub struct LayerNorm<T: Scalar, const N: usize> {
    /// The scale `γ`, a `1×N` row; weight-file key `NAME.weight`, shape
    /// `[N]` (as `nn.LayerNorm.weight`).
    pub weight: RowVector<T, N>,
    /// The shift `β`; weight-file key `NAME.bias`, shape `[N]`.
    pub bias: RowVector<T, N>,
}

impl<T: Scalar, const N: usize> Default for LayerNorm<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Scalar, const N: usize> LayerNorm<T, N> {
    /// `γ = 1`, `β = 0`: the initialisation of PyTorch.
    #[must_use]
    pub fn new() -> Self {
        Self {
            weight: Matrix::filled(T::ONE),
            bias: Matrix::zeros(),
        }
    }

    /// All parameters zero (the starting value of a gradient).
    #[must_use]
    pub fn zeros() -> Self {
        Self {
            weight: Matrix::zeros(),
            bias: Matrix::zeros(),
        }
    }

    /// `y = γ ⊗ x̂ + β` with `x̂ = (x − μ)·inv_std` per row; keeps `x̂` and
    /// `inv_std = 1/√(σ² + ε)` (one per row) for the backward pass.
    pub fn forward_into<const B: usize>(
        &self,
        x: &Matrix<T, B, N>,
        x_hat: &mut Matrix<T, B, N>,
        inv_std: &mut Matrix<T, B, 1>,
        y: &mut Matrix<T, B, N>,
    ) {
        let n = T::from_f64(N as f64);
        let epsilon = T::from_f64(LAYER_NORM_EPSILON);
        let (gamma, beta) = (self.weight.row(0), self.bias.row(0));
        let rows = x.rows().zip(x_hat.rows_mut()).zip(y.rows_mut());
        for (((x_row, h_row), y_row), s) in rows.zip(inv_std.as_mut_slice()) {
            // Two passes (mean, then squared deviations): no cancellation.
            let mean = x_row.iter().fold(T::ZERO, |acc, &v| acc + v) / n;
            let var = x_row
                .iter()
                .fold(T::ZERO, |acc, &v| acc + (v - mean) * (v - mean))
                / n;
            *s = T::ONE / (var + epsilon).sqrt();
            for ((h, &v), ((o, &g), &b)) in h_row
                .iter_mut()
                .zip(x_row)
                .zip(y_row.iter_mut().zip(gamma).zip(beta))
            {
                *h = (v - mean) * *s;
                *o = g * *h + b;
            }
        }
    }

    /// `∂l/∂γ = Σ_rows ∂l/∂y ⊗ x̂` and `∂l/∂β = Σ_rows ∂l/∂y` (the bias rule
    /// per feature), written (`accumulate = false`) or added into `grads`.
    pub fn param_grads<const B: usize>(
        dl_dy: &Matrix<T, B, N>,
        x_hat: &Matrix<T, B, N>,
        grads: &mut Self,
        accumulate: bool,
    ) {
        if !accumulate {
            grads.weight.fill(T::ZERO);
            grads.bias.fill(T::ZERO);
        }
        let (dg, db) = (grads.weight.row_mut(0), grads.bias.row_mut(0));
        for (d_row, h_row) in dl_dy.rows().zip(x_hat.rows()) {
            for (((g, b), &d), &h) in dg.iter_mut().zip(db.iter_mut()).zip(d_row).zip(h_row) {
                *g += d * h;
                *b += d;
            }
        }
    }

    /// `∂l/∂x` per row, with `g = ∂l/∂y ⊗ γ`:
    /// `inv_std · (g − mean(g) − x̂ ⊗ mean(g ⊗ x̂))` (the Jacobian of the
    /// normalisation, `inv_std · (I − 1·1ᵀ/N − x̂·x̂ᵀ/N)`, applied without
    /// forming it); written or added into `dl_dx`.
    pub fn input_grad<const B: usize>(
        &self,
        dl_dy: &Matrix<T, B, N>,
        x_hat: &Matrix<T, B, N>,
        inv_std: &Matrix<T, B, 1>,
        dl_dx: &mut Matrix<T, B, N>,
        accumulate: bool,
    ) {
        let n = T::from_f64(N as f64);
        let gamma = self.weight.row(0);
        let rows = dl_dy.rows().zip(x_hat.rows()).zip(dl_dx.rows_mut());
        for (((d_row, h_row), out), &s) in rows.zip(inv_std.as_slice()) {
            let (mut mean_g, mut mean_gh) = (T::ZERO, T::ZERO);
            for ((&d, &h), &w) in d_row.iter().zip(h_row).zip(gamma) {
                let g = d * w;
                mean_g += g;
                mean_gh += g * h;
            }
            mean_g /= n;
            mean_gh /= n;
            for ((o, (&d, &h)), &w) in out.iter_mut().zip(d_row.iter().zip(h_row)).zip(gamma) {
                let v = s * (d * w - mean_g - h * mean_gh);
                *o = if accumulate { *o + v } else { v };
            }
        }
    }
}

/// A 2-D convolution's parameters: `OUT_CH` kernels of `PATCH = in_ch·k·k`
/// entries each, and one bias per kernel. The geometry (image size, kernel,
/// stride, padding) is a [`Conv2dGeometry`](crate::conv::Conv2dGeometry)
/// that `network!` writes next to each use.
#[derive(Clone, PartialEq, Debug)]
pub struct Conv2d<T: Scalar, const OUT_CH: usize, const PATCH: usize> {
    /// The kernels, one per row: weight-file key `NAME.weight`, shape
    /// `[out_ch, in_ch, k, k]` (as `nn.Conv2d.weight`), stored flattened.
    pub weight: Matrix<T, OUT_CH, PATCH>,
    /// The biases; weight-file key `NAME.bias`, shape `[out_ch]`.
    pub bias: RowVector<T, OUT_CH>,
}

/// A 2-D convolution without bias.
#[derive(Clone, PartialEq, Debug)]
pub struct Conv2dNoBias<T: Scalar, const OUT_CH: usize, const PATCH: usize> {
    /// The kernels; weight-file key `NAME.weight`, `[out_ch, in_ch, k, k]`.
    pub weight: Matrix<T, OUT_CH, PATCH>,
}

impl Init {
    /// A matrix drawn with the bound of a layer of `fan_in` inputs and
    /// `fan_out` outputs per weight (for a convolution `in_ch·k·k` and
    /// `out_ch·k·k`, as PyTorch's initialisers count them).
    #[must_use]
    pub fn sample_fans<T: Scalar, const R: usize, const C: usize>(
        self,
        fan_in: usize,
        fan_out: usize,
        rng: &mut impl Rng,
    ) -> Matrix<T, R, C> {
        let bound = self.bound(fan_in, fan_out);
        Matrix::from_fn(|_, _| T::from_f64(rng.random_range(-bound..=bound)))
    }
}

impl<T: Scalar, const OUT_CH: usize, const PATCH: usize> Conv2d<T, OUT_CH, PATCH> {
    /// All parameters zero (also the starting value of a gradient).
    #[must_use]
    pub fn zeros() -> Self {
        Self {
            weight: Matrix::zeros(),
            bias: Matrix::zeros(),
        }
    }

    /// Kernels drawn by `init` (fans `in_ch·k·k` and `out_ch·k·k`, with
    /// `kernel_area = k·k`), biases zero.
    #[must_use]
    // Out of line: a network's constructor calls it once per layer.
    #[inline(never)]
    pub fn init(init: Init, kernel_area: usize, rng: &mut impl Rng) -> Self {
        Self {
            weight: init.sample_fans(PATCH, OUT_CH * kernel_area, rng),
            bias: Matrix::zeros(),
        }
    }
}

impl<T: Scalar, const OUT_CH: usize, const PATCH: usize> Conv2dNoBias<T, OUT_CH, PATCH> {
    /// All parameters zero (also the starting value of a gradient).
    #[must_use]
    pub fn zeros() -> Self {
        Self {
            weight: Matrix::zeros(),
        }
    }

    /// Kernels drawn by `init` (see [`Conv2d::init`]).
    #[must_use]
    // Out of line: a network's constructor calls it once per layer.
    #[inline(never)]
    pub fn init(init: Init, kernel_area: usize, rng: &mut impl Rng) -> Self {
        Self {
            weight: init.sample_fans(PATCH, OUT_CH * kernel_area, rng),
        }
    }
}
