//! The hand-written plain-loop baseline of `benches/common/handwritten.rs`.

use std::hint::black_box;

use super::{Runner, Setup};
use crate::common::data::{Batch, LEARNING_RATE};
use crate::common::handwritten::{Mlp1, Mlp2, Model};

struct Handwritten<M: Model> {
    model: M,
    batch: Batch,
    inputs: usize,
}

impl<M: Model> Runner for Handwritten<M> {
    fn step(&mut self) -> f32 {
        self.model
            .step(black_box(&self.batch.x), &self.batch.y, LEARNING_RATE)
    }

    fn infer1(&mut self) -> f32 {
        self.model
            .predict(1, black_box(&self.batch.x[..self.inputs]))[0]
    }
}

fn runner<M: Model + 'static>(setup: &Setup<'_>) -> Box<dyn Runner> {
    let w = setup.workload;
    Box::new(Handwritten {
        model: M::build(w.hidden, w.head, setup.params),
        batch: setup.batch.clone(),
        inputs: w.inputs(),
    })
}

/// The hand-written runner for a workload.
pub fn build(setup: &Setup<'_>) -> Box<dyn Runner> {
    match setup.workload.name {
        "xor" => runner::<Mlp1<2, 8, 1, 4>>(setup),
        "iris" => runner::<Mlp1<4, 16, 3, 16>>(setup),
        "digits" => runner::<Mlp1<64, 32, 10, 32>>(setup),
        "mnist" => runner::<Mlp1<784, 128, 10, 64>>(setup),
        "mnist3" => runner::<Mlp2<784, 256, 128, 10, 128>>(setup),
        "policy" => runner::<Mlp2<24, 64, 64, 4, 64>>(setup),
        other => panic!("unknown workload {other}"),
    }
}
