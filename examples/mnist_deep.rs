//! MNIST (60,000 training and 10,000 test images of 28×28 handwritten
//! digits): a deeper 784 → 256 → 128 → 10 network trained with Adam.
//!
//! Fetch the data once with `scripts/fetch-mnist`, then run:
//! `cargo run --release --example mnist_deep`. Writes the training curves, the
//! computational graph and the weights to `target/chainrule-out/`.

mod support;

use std::error::Error;
use std::process::ExitCode;

use chainrule::data::mnist;
use chainrule::optim::{Adam, Schedule};
use chainrule::prelude::*;
use chainrule::train::{evaluate, train_with_validation, TrainConfig};

network! {
    /// MNIST, deeper: 784 pixels → 256 → 128 hidden units → 10 digits.
    pub struct MnistDeep {
        hidden1: Dense<784, 256> => relu,
        hidden2: Dense<256, 128> => relu,
        output: Dense<128, 10> => softmax,
        loss: cross_entropy,
    }
}

const BATCH: usize = 32;
const EPOCHS: usize = 15;

fn run() -> Result<(), Box<dyn Error>> {
    let dir = mnist::default_dir();
    let train_set = mnist::train::<f32>(&dir)?;
    let test_set = mnist::test::<f32>(&dir)?;
    println!(
        "mnist: {} training images, {} test images",
        train_set.len(),
        test_set.len()
    );

    let mut net = MnistDeep::<f32>::new(1);
    let steps = (EPOCHS * (train_set.len() / BATCH)) as u64;
    let mut optimizer = Adam::new(1e-3).schedule(Schedule::cosine(steps, 0.0));
    // The test images are the held-out curve of the pictures; nothing is tuned on them.
    let config = TrainConfig::<BATCH>::new(EPOCHS).seed(2);
    let cpu_start = support::thread_cpu_seconds();
    let history = train_with_validation(&mut net, &mut optimizer, &train_set, &test_set, &config)?;

    let evaluation = evaluate(&net, &test_set);
    println!("{}", evaluation.confusion);
    support::write_curves(&history, "mnist_deep", "MNIST: 784 → 256 → 128 → 10, Adam")?;
    support::write_graph::<MnistDeep<f32>, 784, 10>("mnist_deep")?;
    support::save_and_reload(&net, "mnist_deep", test_set.features())?;
    support::print_epoch_time(&history, cpu_start);
    support::print_test_accuracy(evaluation.accuracy);
    Ok(())
}

fn main() -> ExitCode {
    support::main(run)
}
