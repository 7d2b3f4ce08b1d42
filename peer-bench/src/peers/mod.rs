//! One module a framework; each builds a [`Runner`] for a workload.

use crate::common::data::{Arch, Batch, Tensor, Workload};

#[cfg(feature = "burn")]
pub mod burn;
#[cfg(feature = "candle")]
pub mod candle;
pub mod chainrule;
#[cfg(feature = "dfdx")]
pub mod dfdx;
pub mod handwritten;
pub mod nalgebra;

/// A network of one framework, set up on one workload's batch.
pub trait Runner {
    /// One training step on the batch (forward, loss, backward, plain SGD);
    /// returns the loss before the update.
    fn step(&mut self) -> f32;
    /// The forward pass on one row, through the output activation; returns
    /// the first output.
    fn infer1(&mut self) -> f32;
}

/// Everything a framework needs to build its runner.
pub struct Setup<'a> {
    /// The workload.
    pub workload: &'a Workload,
    /// Its training batch.
    pub batch: &'a Batch,
    /// The initial parameters, PyTorch layout.
    pub params: &'a [Tensor],
}

/// A framework: its name and how it builds a runner (`None`: not built in).
pub struct Framework {
    /// The column name.
    pub name: &'static str,
    /// Builds the runner for a workload.
    pub build: fn(&Setup<'_>) -> Box<dyn Runner>,
    /// Whether it has a runner for the workload (the hand-written baselines
    /// are multilayer perceptrons only).
    pub supports: fn(&Workload) -> bool,
}

fn any(_: &Workload) -> bool {
    true
}

fn mlp_only(w: &Workload) -> bool {
    w.arch == Arch::Mlp
}

/// The frameworks compiled into this binary, chainrule first.
pub fn frameworks() -> Vec<Framework> {
    #[allow(unused_mut)] // nothing is pushed without the peer features
    let mut all = vec![
        Framework {
            name: "chainrule",
            build: chainrule::build,
            supports: any,
        },
        Framework {
            name: "chainrule 2 threads",
            build: chainrule::build_parallel,
            supports: any,
        },
        Framework {
            name: "hand-written",
            build: handwritten::build,
            supports: mlp_only,
        },
        Framework {
            name: "nalgebra",
            build: nalgebra::build,
            supports: mlp_only,
        },
    ];
    #[cfg(feature = "dfdx")]
    all.push(Framework {
        name: "dfdx",
        build: dfdx::build,
        supports: dfdx::supports,
    });
    #[cfg(feature = "candle")]
    all.push(Framework {
        name: "candle",
        build: candle::build,
        supports: any,
    });
    #[cfg(feature = "burn")]
    {
        all.push(Framework {
            name: "burn-ndarray",
            build: burn::build_ndarray,
            supports: any,
        });
        all.push(Framework {
            name: "burn-flex",
            build: burn::build_flex,
            supports: any,
        });
    }
    all
}
