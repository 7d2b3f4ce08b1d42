//! RMSprop.

use super::{
    common_builders, restore, state_of, Common, Optimizer, OptimizerState, StateMismatch,
    TensorState,
};
use crate::{Model, Scalar};

/// RMSprop (PyTorch's `torch.optim.RMSprop`, not centered):
/// `v ← α v + (1 − α) g²`, `θ ← θ − η g / (√v + ε)`; with momentum μ,
/// `b ← μ b + g / (√v + ε)` and `θ ← θ − η b`. Defaults α = 0.99, ε = 10⁻⁸.
///
/// ```
/// use chainrule::optim::RmsProp;
/// let rmsprop = RmsProp::<f32>::new(1e-3).alpha(0.9).momentum(0.5);
/// # let _ = rmsprop;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RmsProp<T: Scalar = f32> {
    common: Common,
    alpha: f64,
    eps: f64,
    momentum: f64,
    square_average: TensorState<T>,
    velocity: TensorState<T>,
}

impl<T: Scalar> RmsProp<T> {
    /// RMSprop at `learning_rate` (PyTorch's default is 10⁻²).
    #[must_use]
    pub fn new(learning_rate: f64) -> Self {
        Self {
            common: Common::new(learning_rate),
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.0,
            square_average: TensorState::default(),
            velocity: TensorState::default(),
        }
    }

    /// Sets α, the decay rate of the running mean of g².
    #[must_use]
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// Sets ε, added to `√v` in the denominator.
    #[must_use]
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Sets the momentum μ (default 0: none).
    #[must_use]
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    common_builders!();
}

impl<T: Scalar> Optimizer<T> for RmsProp<T> {
    fn step<N: Model<Scalar = T>>(&mut self, net: &mut N, grads: &N::Gradients) {
        let scalars = self.common.begin(grads);
        self.square_average.fit(net);
        let use_momentum = self.momentum != 0.0;
        if use_momentum {
            self.velocity.fit(net);
        }
        let rate = T::from_f64(scalars.rate);
        let grad_scale = T::from_f64(scalars.grad_scale);
        let decay = T::from_f64(self.common.weight_decay);
        let alpha = T::from_f64(self.alpha);
        let one_minus_alpha = T::from_f64(1.0 - self.alpha);
        let eps = T::from_f64(self.eps);
        let momentum = T::from_f64(self.momentum);
        let (square_average, velocity) = (&mut self.square_average, &mut self.velocity);
        net.update_with(grads, &mut |info, params, grads| {
            let v = square_average.get_mut(info.index);
            if use_momentum {
                let b = velocity.get_mut(info.index);
                for (((theta, &g), v), b) in params.iter_mut().zip(grads).zip(v).zip(b) {
                    let g = g * grad_scale + decay * *theta;
                    *v = alpha * *v + one_minus_alpha * (g * g);
                    *b = momentum * *b + g / (v.sqrt() + eps);
                    *theta -= rate * *b;
                }
            } else {
                for ((theta, &g), v) in params.iter_mut().zip(grads).zip(v) {
                    let g = g * grad_scale + decay * *theta;
                    *v = alpha * *v + one_minus_alpha * (g * g);
                    *theta -= rate * g / (v.sqrt() + eps);
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
        "rmsprop"
    }

    fn set_learning_rate(&mut self, learning_rate: f64) {
        self.common.learning_rate = learning_rate;
    }

    /// The buffer `square_average`, and `momentum` when the momentum is not 0.
    fn state(&self) -> OptimizerState<T> {
        if self.momentum != 0.0 {
            state_of(
                &self.common,
                &[
                    ("square_average", &self.square_average),
                    ("momentum", &self.velocity),
                ],
            )
        } else {
            state_of(&self.common, &[("square_average", &self.square_average)])
        }
    }

    fn set_state(&mut self, state: OptimizerState<T>) -> Result<(), StateMismatch> {
        if self.momentum != 0.0 {
            restore(
                "rmsprop",
                &mut self.common,
                &mut [
                    ("square_average", &mut self.square_average),
                    ("momentum", &mut self.velocity),
                ],
                state,
            )
        } else {
            restore(
                "rmsprop",
                &mut self.common,
                &mut [("square_average", &mut self.square_average)],
                state,
            )
        }
    }
}
