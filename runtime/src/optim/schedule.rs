//! Learning-rate schedules: the rate of each optimizer step.

/// How the learning rate changes with the optimizer step `t` (0 for the first
/// step): the rate of step `t` is [`rate(base, t)`](Schedule::rate), `base`
/// being the optimizer's learning rate.
///
/// Schedules count optimizer steps (batches), not epochs: for a cosine decay
/// over a whole run use `epochs × batches per epoch` steps.
///
/// ```
/// use chainrule::optim::Schedule;
/// // 100 steps of linear warm-up, then a cosine decay to 0 over 900 steps.
/// let schedule = Schedule::warmup(100, Schedule::cosine(900, 0.0));
/// assert_eq!(schedule.rate(0.1, 99), 0.1);
/// assert_eq!(schedule.rate(0.1, 1000), 0.0);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Schedule {
    /// The base rate at every step.
    #[default]
    Constant,
    /// `base · gamma^⌊t / every⌋`: multiplied by `gamma` every `every` steps.
    Step {
        /// Steps between two decays (0 is taken as 1).
        every: u64,
        /// The factor of each decay.
        gamma: f64,
    },
    /// Cosine annealing from `base` down to `min_rate` over `steps` steps,
    /// `min_rate + (base − min_rate)·(1 + cos(π t / steps))/2`, then
    /// `min_rate` (as PyTorch's `CosineAnnealingLR` without restarts).
    Cosine {
        /// The length of the decay in steps (0 gives `min_rate` at once).
        steps: u64,
        /// The final rate.
        min_rate: f64,
    },
    /// Linear warm-up: `base · (t + 1) / steps` for `t < steps`, then the
    /// schedule `then`, counting its steps from the end of the warm-up.
    Warmup {
        /// The length of the warm-up in steps.
        steps: u64,
        /// The schedule after the warm-up.
        then: Box<Schedule>,
    },
}

impl Schedule {
    /// Multiply the rate by `gamma` every `every` steps.
    #[must_use]
    pub fn step(every: u64, gamma: f64) -> Self {
        Schedule::Step { every, gamma }
    }

    /// Cosine annealing to `min_rate` over `steps` steps.
    #[must_use]
    pub fn cosine(steps: u64, min_rate: f64) -> Self {
        Schedule::Cosine { steps, min_rate }
    }

    /// A linear warm-up over `steps` steps, then `then`.
    #[must_use]
    pub fn warmup(steps: u64, then: Schedule) -> Self {
        Schedule::Warmup {
            steps,
            then: Box::new(then),
        }
    }

    /// The learning rate of step `t` (from 0) for the base rate `base`.
    #[must_use]
    pub fn rate(&self, base: f64, t: u64) -> f64 {
        match self {
            Schedule::Constant => base,
            Schedule::Step { every, gamma } => {
                let decays = t / (*every).max(1);
                base * super::pow_u64(*gamma, decays)
            }
            Schedule::Cosine { steps, min_rate } => {
                if t >= *steps {
                    *min_rate
                } else {
                    let progress = t as f64 / *steps as f64;
                    let cosine = 0.5 * (1.0 + (core::f64::consts::PI * progress).cos());
                    min_rate + (base - min_rate) * cosine
                }
            }
            Schedule::Warmup { steps, then } => {
                if t < *steps {
                    base * (t + 1) as f64 / *steps as f64
                } else {
                    then.rate(base, t - steps)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_is_the_base() {
        assert_eq!(Schedule::Constant.rate(0.3, 0), 0.3);
        assert_eq!(Schedule::Constant.rate(0.3, 1_000_000), 0.3);
    }

    #[test]
    fn step_halves_every_two_steps() {
        let s = Schedule::step(2, 0.5);
        let rates: Vec<f64> = (0..6).map(|t| s.rate(0.5, t)).collect();
        // 0.5·0.5^⌊t/2⌋ for t = 0..5
        assert_eq!(rates, [0.5, 0.5, 0.25, 0.25, 0.125, 0.125]);
    }

    #[test]
    fn cosine_goes_from_base_to_min() {
        let s = Schedule::cosine(4, 0.0);
        assert_eq!(s.rate(2.0, 0), 2.0); // (1 + cos 0)/2 = 1
        assert_eq!(s.rate(2.0, 2), 1.0); // (1 + cos π/2)/2 = 1/2 (cos π/2 ≈ 6e-17)
        assert_eq!(s.rate(2.0, 4), 0.0); // (1 + cos π)/2 = 0
        assert_eq!(s.rate(2.0, 9), 0.0); // past the end: min_rate
                                         // t = 1: 2·(1 + √2/2)/2 = 1 + √2/2 = 1.7071067811865475…
        assert!((s.rate(2.0, 1) - 1.707_106_781_186_547_5).abs() < 1e-15);
        let floor = Schedule::cosine(2, 0.5);
        // t = 1: 0.5 + (1.5 − 0.5)·(1 + cos π/2)/2 = 1.0
        assert!((floor.rate(1.5, 1) - 1.0).abs() < 1e-15);
        assert_eq!(floor.rate(1.5, 2), 0.5);
    }

    #[test]
    fn warmup_rises_linearly_then_hands_over() {
        let s = Schedule::warmup(4, Schedule::step(1, 0.5));
        let rates: Vec<f64> = (0..7).map(|t| s.rate(1.0, t)).collect();
        // (t+1)/4 for t < 4, then 0.5^(t−4)
        assert_eq!(rates, [0.25, 0.5, 0.75, 1.0, 1.0, 0.5, 0.25]);
    }
}
