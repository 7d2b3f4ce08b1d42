//! Stochastic gradient descent, with optional momentum and Nesterov momentum.

use super::{
    common_builders, restore, state_of, Common, Optimizer, OptimizerState, StateMismatch,
    TensorState,
};
use crate::{Model, Scalar};

/// Stochastic gradient descent (PyTorch's `torch.optim.SGD` without
/// dampening): `θ ← θ − η g`; with momentum μ, `b ← μ b + g` (so `b = g` at
/// the first step) and `θ ← θ − η b`; with Nesterov momentum
/// `θ ← θ − η (g + μ b)`. Weight decay λ adds `λ θ` to `g` first.
///
/// ```
/// use chainrule::optim::Sgd;
/// let sgd = Sgd::<f64>::new(0.1).momentum(0.9).nesterov(true).weight_decay(5e-4);
/// # let _ = sgd;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Sgd<T: Scalar = f32> {
    common: Common,
    momentum: f64,
    nesterov: bool,
    velocity: TensorState<T>,
}

impl<T: Scalar> Sgd<T> {
    /// Plain gradient descent at `learning_rate`.
    #[must_use]
    pub fn new(learning_rate: f64) -> Self {
        Self {
            common: Common::new(learning_rate),
            momentum: 0.0,
            nesterov: false,
            velocity: TensorState::default(),
        }
    }

    /// Sets the momentum μ (default 0: none).
    #[must_use]
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    /// Uses Nesterov momentum (needs a momentum μ > 0 to have an effect).
    #[must_use]
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    common_builders!();
}

impl<T: Scalar> Optimizer<T> for Sgd<T> {
    fn step<N: Model<Scalar = T>>(&mut self, net: &mut N, grads: &N::Gradients) {
        let scalars = self.common.begin(grads);
        let rate = T::from_f64(scalars.rate);
        let grad_scale = T::from_f64(scalars.grad_scale);
        let decay = T::from_f64(self.common.weight_decay);
        let momentum = T::from_f64(self.momentum);
        let use_momentum = self.momentum != 0.0;
        let nesterov = self.nesterov;
        if use_momentum {
            self.velocity.fit(net);
        }
        let velocity = &mut self.velocity;
        net.update_with(grads, &mut |info, params, grads| {
            if use_momentum {
                let buffer = velocity.get_mut(info.index);
                for ((theta, &g), b) in params.iter_mut().zip(grads).zip(buffer) {
                    let g = g * grad_scale + decay * *theta;
                    *b = momentum * *b + g;
                    let direction = if nesterov { g + momentum * *b } else { *b };
                    *theta -= rate * direction;
                }
            } else {
                for (theta, &g) in params.iter_mut().zip(grads) {
                    let g = g * grad_scale + decay * *theta;
                    *theta -= rate * g;
                }
            }
        });
        self.common.steps += 1;
    }

    fn learning_rate(&self) -> f64 {
        self.common.current_rate()
    }

    fn steps(&self) -> u64 {
        self.common.steps
    }

    fn name(&self) -> &'static str {
        "sgd"
    }

    fn set_learning_rate(&mut self, learning_rate: f64) {
        self.common.learning_rate = learning_rate;
    }

    /// The buffer `momentum` when the momentum is not 0; none otherwise.
    fn state(&self) -> OptimizerState<T> {
        if self.momentum != 0.0 {
            state_of(&self.common, &[("momentum", &self.velocity)])
        } else {
            state_of(&self.common, &[])
        }
    }

    fn set_state(&mut self, state: OptimizerState<T>) -> Result<(), StateMismatch> {
        if self.momentum != 0.0 {
            restore(
                "sgd",
                &mut self.common,
                &mut [("momentum", &mut self.velocity)],
                state,
            )
        } else {
            restore("sgd", &mut self.common, &mut [], state)
        }
    }
}
