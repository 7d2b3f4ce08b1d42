//! Adam and AdamW.

use super::{
    common_builders, pow_u64, restore, state_of, Common, Optimizer, OptimizerState, StateMismatch,
    TensorState,
};
use crate::{Model, Scalar};

/// The state and the update shared by [`Adam`] and [`AdamW`].
#[derive(Debug, Clone, PartialEq)]
struct AdamCore<T: Scalar> {
    common: Common,
    beta1: f64,
    beta2: f64,
    eps: f64,
    first_moment: TensorState<T>,
    second_moment: TensorState<T>,
}

impl<T: Scalar> AdamCore<T> {
    fn new(learning_rate: f64) -> Self {
        Self {
            common: Common::new(learning_rate),
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            first_moment: TensorState::default(),
            second_moment: TensorState::default(),
        }
    }

    /// One step; `decoupled` selects AdamW's weight decay over L2.
    fn step<N: Model<Scalar = T>>(&mut self, net: &mut N, grads: &N::Gradients, decoupled: bool) {
        let scalars = self.common.begin(grads);
        self.first_moment.fit(net);
        self.second_moment.fit(net);
        // t counts from 1. The bias corrections are applied as PyTorch's
        // implementation does: θ ← θ − (η / c₁) · m / (√v / √c₂ + ε), which
        // is η·m̂/(√v̂ + ε) with m̂ = m/c₁, v̂ = v/c₂ and never divides small
        // numbers by small numbers.
        let t = self.common.steps + 1;
        let correction1 = 1.0 - pow_u64(self.beta1, t);
        let correction2 = 1.0 - pow_u64(self.beta2, t);
        let step_size = T::from_f64(scalars.rate / correction1);
        let inv_sqrt_correction2 = T::from_f64(1.0 / correction2.sqrt());
        let grad_scale = T::from_f64(scalars.grad_scale);
        let (l2, shrink) = if decoupled {
            (
                T::ZERO,
                T::from_f64(1.0 - scalars.rate * self.common.weight_decay),
            )
        } else {
            (T::from_f64(self.common.weight_decay), T::ONE)
        };
        let (beta1, beta2) = (T::from_f64(self.beta1), T::from_f64(self.beta2));
        let (one_minus_beta1, one_minus_beta2) =
            (T::from_f64(1.0 - self.beta1), T::from_f64(1.0 - self.beta2));
        let eps = T::from_f64(self.eps);
        let (first, second) = (&mut self.first_moment, &mut self.second_moment);
        net.update_with(grads, &mut |info, params, grads| {
            let m = first.get_mut(info.index);
            let v = second.get_mut(info.index);
            for (((theta, &g), m), v) in params.iter_mut().zip(grads).zip(m).zip(v) {
                let g = g * grad_scale + l2 * *theta;
                *theta *= shrink;
                *m = beta1 * *m + one_minus_beta1 * g;
                *v = beta2 * *v + one_minus_beta2 * (g * g);
                let denominator = v.sqrt() * inv_sqrt_correction2 + eps;
                *theta -= step_size * *m / denominator;
            }
        });
        self.common.steps += 1;
    }
}

/// Adam (Kingma & Ba; PyTorch's `torch.optim.Adam`): β₁ = 0.9, β₂ = 0.999,
/// ε = 10⁻⁸ unless set. Weight decay here is the L2 form `g ← g + λ θ`; for
/// decoupled weight decay use [`AdamW`].
///
/// ```
/// use chainrule::optim::Adam;
/// let adam = Adam::<f32>::new(1e-3).betas(0.9, 0.99).eps(1e-7);
/// # let _ = adam;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Adam<T: Scalar = f32> {
    core: AdamCore<T>,
}

/// AdamW (Loshchilov & Hutter; PyTorch's `torch.optim.AdamW`): Adam with
/// decoupled weight decay, `θ ← θ (1 − η λ)` before the Adam update.
/// Defaults as [`Adam`], and λ = 0.01 as in PyTorch.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamW<T: Scalar = f32> {
    core: AdamCore<T>,
}

macro_rules! adam_builders {
    () => {
        /// Sets β₁ and β₂, the decay rates of the moment estimates.
        #[must_use]
        pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
            self.core.beta1 = beta1;
            self.core.beta2 = beta2;
            self
        }

        /// Sets ε, added to `√v̂` in the denominator.
        #[must_use]
        pub fn eps(mut self, eps: f64) -> Self {
            self.core.eps = eps;
            self
        }
    };
}

/// The shared builders of [`Common`], reached through `core`.
macro_rules! core_common_builders {
    () => {
        /// Sets the weight decay λ.
        #[must_use]
        pub fn weight_decay(mut self, lambda: f64) -> Self {
            self.core = self.core.weight_decay(lambda);
            self
        }

        /// Scales all gradients together so their global norm is at most
        /// `max` (see the [module docs](crate::optim)).
        #[must_use]
        pub fn clip_grad_norm(mut self, max: f64) -> Self {
            self.core = self.core.clip_grad_norm(max);
            self
        }

        /// Sets the learning-rate schedule (default [`Schedule::Constant`](crate::optim::Schedule::Constant)).
        #[must_use]
        pub fn schedule(mut self, schedule: crate::optim::Schedule) -> Self {
            self.core = self.core.schedule(schedule);
            self
        }
    };
}

impl<T: Scalar> AdamCore<T> {
    common_builders!();

    fn state(&self) -> OptimizerState<T> {
        state_of(
            &self.common,
            &[
                ("first_moment", &self.first_moment),
                ("second_moment", &self.second_moment),
            ],
        )
    }

    fn set_state(
        &mut self,
        optimizer: &'static str,
        state: OptimizerState<T>,
    ) -> Result<(), StateMismatch> {
        restore(
            optimizer,
            &mut self.common,
            &mut [
                ("first_moment", &mut self.first_moment),
                ("second_moment", &mut self.second_moment),
            ],
            state,
        )
    }
}

impl<T: Scalar> Adam<T> {
    /// Adam at `learning_rate` (PyTorch's default is 10⁻³).
    #[must_use]
    pub fn new(learning_rate: f64) -> Self {
        Self {
            core: AdamCore::new(learning_rate),
        }
    }
    adam_builders!();
    core_common_builders!();
}

impl<T: Scalar> AdamW<T> {
    /// AdamW at `learning_rate`, weight decay 0.01.
    #[must_use]
    pub fn new(learning_rate: f64) -> Self {
        Self {
            core: AdamCore::new(learning_rate).weight_decay(0.01),
        }
    }
    adam_builders!();
    core_common_builders!();
}

impl<T: Scalar> Optimizer<T> for Adam<T> {
    fn step<N: Model<Scalar = T>>(&mut self, net: &mut N, grads: &N::Gradients) {
        self.core.step(net, grads, false);
    }

    fn learning_rate(&self) -> f64 {
        self.core.common.current_rate()
    }

    fn steps(&self) -> u64 {
        self.core.common.steps
    }
    fn name(&self) -> &'static str {
        "adam"
    }

    fn set_learning_rate(&mut self, learning_rate: f64) {
        self.core.common.learning_rate = learning_rate;
    }

    fn state(&self) -> OptimizerState<T> {
        self.core.state()
    }

    fn set_state(&mut self, state: OptimizerState<T>) -> Result<(), StateMismatch> {
        self.core.set_state("adam", state)
    }
}

impl<T: Scalar> Optimizer<T> for AdamW<T> {
    fn step<N: Model<Scalar = T>>(&mut self, net: &mut N, grads: &N::Gradients) {
        self.core.step(net, grads, true);
    }

    fn learning_rate(&self) -> f64 {
        self.core.common.current_rate()
    }

    fn steps(&self) -> u64 {
        self.core.common.steps
    }
    fn name(&self) -> &'static str {
        "adamw"
    }

    fn set_learning_rate(&mut self, learning_rate: f64) {
        self.core.common.learning_rate = learning_rate;
    }

    fn state(&self) -> OptimizerState<T> {
        self.core.state()
    }

    fn set_state(&mut self, state: OptimizerState<T>) -> Result<(), StateMismatch> {
        self.core.set_state("adamw", state)
    }
}
