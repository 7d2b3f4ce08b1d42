//! Optimizers: how a network's parameters move given their gradients.
//!
//! Every optimizer works on any network through
//! [`Network::update_with`], keeps its per-tensor state (momentum, moment
//! estimates) keyed by [`ParamInfo::index`](crate::ParamInfo), allocates that
//! state once at its first step, and allocates nothing per step.
//!
//! | optimizer | update of a parameter θ with gradient g (PyTorch's formulas) |
//! | --- | --- |
//! | [`Sgd`] | `θ ← θ − η g`; with momentum μ: `b ← μ b + g`, `θ ← θ − η b` (Nesterov: `θ ← θ − η (g + μ b)`) |
//! | [`Adam`] | `m ← β₁ m + (1 − β₁) g`, `v ← β₂ v + (1 − β₂) g²`, `θ ← θ − η m̂ / (√v̂ + ε)` with `m̂ = m / (1 − β₁ᵗ)`, `v̂ = v / (1 − β₂ᵗ)` |
//! | [`AdamW`] | `θ ← θ (1 − η λ)` (decoupled weight decay), then the Adam update |
//! | [`RmsProp`] | `v ← α v + (1 − α) g²`, `θ ← θ − η g / (√v + ε)` (with momentum μ: `b ← μ b + g / (√v + ε)`, `θ ← θ − η b`) |
//!
//! Common to all, set with the builder methods:
//! - **weight decay** λ ([`Sgd::weight_decay`] …): L2, `g ← g + λ θ`, before
//!   the update (for [`AdamW`] it is the decoupled form above);
//! - **gradient clipping by global norm** ([`Sgd::clip_grad_norm`] …): when
//!   the norm of all gradients together, `‖g‖ = √(Σ g²)`, exceeds `max`,
//!   every gradient is scaled by `max / (‖g‖ + 10⁻⁶)` (as
//!   `torch.nn.utils.clip_grad_norm_`), before weight decay;
//! - **a learning-rate [`Schedule`]** ([`Sgd::schedule`] …), counted in
//!   optimizer steps.
//!
//! ```
//! use chainrule::optim::{Adam, Optimizer, Schedule};
//! let optimizer = Adam::<f32>::new(1e-3)
//!     .weight_decay(1e-4)
//!     .clip_grad_norm(5.0)
//!     .schedule(Schedule::warmup(100, Schedule::cosine(10_000, 0.0)));
//! // step 0 of the warm-up: 1e-3 · 1/100
//! assert!((optimizer.learning_rate() - 1e-5).abs() < 1e-18);
//! ```

mod adam;
mod rmsprop;
mod schedule;
mod sgd;

pub use adam::{Adam, AdamW};
pub use rmsprop::RmsProp;
pub use schedule::Schedule;
pub use sgd::Sgd;

use crate::{Network, Parameters, Scalar};

/// An optimizer: updates a network from its gradients, one step at a time.
pub trait Optimizer<T: Scalar> {
    /// Updates `net` from `grads` (the gradients of the loss, as
    /// [`Network::backward`] wrote them) at the current learning rate, then
    /// advances the schedule by one step.
    ///
    /// The state is made at the first step for the network's tensors; giving
    /// a network with different tensors later starts the state afresh.
    fn step<const IN: usize, const OUT: usize, N: Network<IN, OUT, Scalar = T>>(
        &mut self,
        net: &mut N,
        grads: &N::Gradients,
    );

    /// The learning rate the next step will use (the schedule applied).
    fn learning_rate(&self) -> f64;

    /// The number of steps taken so far.
    fn steps(&self) -> u64;
}

/// The settings every optimizer shares.
#[derive(Debug, Clone, PartialEq)]
struct Common {
    learning_rate: f64,
    weight_decay: f64,
    max_grad_norm: Option<f64>,
    schedule: Schedule,
    steps: u64,
}

/// What one step needs besides the per-tensor state.
#[derive(Debug, Clone, Copy)]
struct StepScalars {
    /// The learning rate of this step.
    rate: f64,
    /// The factor applied to every gradient (1 unless clipping).
    grad_scale: f64,
}

impl Common {
    fn new(learning_rate: f64) -> Self {
        Self {
            learning_rate,
            weight_decay: 0.0,
            max_grad_norm: None,
            schedule: Schedule::Constant,
            steps: 0,
        }
    }

    fn current_rate(&self) -> f64 {
        self.schedule.rate(self.learning_rate, self.steps)
    }

    /// The rate and the clipping factor of the coming step.
    fn begin<G: Parameters>(&self, grads: &G) -> StepScalars {
        let grad_scale = match self.max_grad_norm {
            Some(max) => {
                let norm = global_norm(grads);
                if norm > max {
                    max / (norm + 1e-6)
                } else {
                    1.0
                }
            }
            None => 1.0,
        };
        StepScalars {
            rate: self.current_rate(),
            grad_scale,
        }
    }
}

/// The builder methods every optimizer shares (they set [`Common`]).
macro_rules! common_builders {
    () => {
        /// Sets the weight decay λ (L2 penalty: `g ← g + λ θ`; default 0).
        #[must_use]
        pub fn weight_decay(mut self, lambda: f64) -> Self {
            self.common.weight_decay = lambda;
            self
        }

        /// Scales all gradients together so their global norm is at most
        /// `max` (see the [module docs](crate::optim)).
        #[must_use]
        pub fn clip_grad_norm(mut self, max: f64) -> Self {
            self.common.max_grad_norm = Some(max);
            self
        }

        /// Sets the learning-rate schedule (default [`Schedule::Constant`]).
        #[must_use]
        pub fn schedule(mut self, schedule: $crate::optim::Schedule) -> Self {
            self.common.schedule = schedule;
            self
        }
    };
}
use common_builders;

/// The norm of all tensors together, `√(Σ x²)` over every entry, summed in
/// `f64`.
#[must_use]
pub fn global_norm<P: Parameters + ?Sized>(tensors: &P) -> f64 {
    let mut sum = 0.0f64;
    tensors.visit(&mut |_, entries| {
        for &x in entries {
            let x = x.to_f64();
            sum += x * x;
        }
    });
    sum.sqrt()
}

/// Scales `grads` in place so that their global norm is at most `max`, as
/// `torch.nn.utils.clip_grad_norm_` (factor `max / (norm + 10⁻⁶)` when the
/// norm exceeds `max`); returns the norm before clipping. The optimizers'
/// [`clip_grad_norm`](Sgd::clip_grad_norm) setting does the same without
/// touching the gradients.
pub fn clip_grad_norm<P: Parameters + ?Sized>(grads: &mut P, max: f64) -> f64 {
    let norm = global_norm(grads);
    if norm > max {
        let scale = P::Scalar::from_f64(max / (norm + 1e-6));
        grads.visit_mut(&mut |_, entries| {
            for x in entries {
                *x *= scale;
            }
        });
    }
    norm
}

/// One state buffer per tensor (a momentum, a moment estimate), shaped like
/// the network's tensors.
#[derive(Debug, Clone, Default, PartialEq)]
struct TensorState<T> {
    tensors: Vec<Vec<T>>,
}

impl<T: Scalar> TensorState<T> {
    /// Makes the buffers (zeros) unless they already fit `net`'s tensors.
    fn fit<P: Parameters<Scalar = T> + ?Sized>(&mut self, net: &P) {
        let mut fits = self.tensors.len() == P::TENSORS;
        if fits {
            let tensors = &self.tensors;
            net.visit(&mut |info, entries| {
                fits &= tensors.get(info.index).map(Vec::len) == Some(entries.len());
            });
        }
        if !fits {
            let mut tensors = vec![Vec::new(); P::TENSORS];
            net.visit(&mut |info, entries| {
                if let Some(slot) = tensors.get_mut(info.index) {
                    *slot = vec![T::ZERO; entries.len()];
                }
            });
            self.tensors = tensors;
        }
    }

    /// The buffer of tensor `index` (made by [`fit`](Self::fit)).
    fn get_mut(&mut self, index: usize) -> &mut [T] {
        &mut self.tensors[index]
    }
}

#[cfg(test)]
mod tests;
