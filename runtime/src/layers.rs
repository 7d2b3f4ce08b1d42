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
