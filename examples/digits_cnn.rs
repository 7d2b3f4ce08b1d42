//! Handwritten digits as 1×8×8 images, with a small convolutional network:
//! every image shape is computed by `network!` when the example compiles
//! (write `Dense<500, 64>` for `fc` and the build stops, naming 512).
//!
//! Run: `cargo run --release --example digits_cnn`. Prints the confusion
//! matrix and `test accuracy: X`; writes the curves, the graph and the
//! weights to `target/chainrule-out/`.

mod support;

use std::error::Error;
use std::process::ExitCode;

use chainrule::data::{CsvOptions, Dataset};
use chainrule::optim::{Adam, Schedule};
use chainrule::prelude::*;
use chainrule::train::{evaluate, train_with_validation, TrainConfig};

network! {
    /// 1×8×8 → conv 16@3×3 → conv 32@3×3 → max pool 2 → 512 → 64 → 10.
    pub struct DigitsCnn {
        input: [1, 8, 8],
        conv1: Conv2d<1, 16, 3, padding = 1> => relu,
        conv2: Conv2d<16, 32, 3, padding = 1> => relu,
        pool: MaxPool2d<2>,
        flat: Flatten,
        fc: Dense<512, 64> => relu,
        out: Dense<64, 10> => softmax,
        loss: cross_entropy,
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    // Each row of the CSV is an image, row by row: the C, H, W order of a
    // 1×8×8 image, so the rows are the network's inputs as they are.
    let data =
        Dataset::<f32, 64, 10>::from_csv("examples/data/digits.csv", &CsvOptions::default())?;
    let (mut train_set, mut test_set) = data.stratified_split(0.2, 7)?;
    train_set.scale(1.0 / 16.0)?;
    test_set.scale(1.0 / 16.0)?;
    println!(
        "digits (CNN): {} training images, {} test images",
        train_set.len(),
        test_set.len()
    );

    const BATCH: usize = 16;
    const EPOCHS: usize = 30;
    let mut net = DigitsCnn::<f32>::new(1);
    let steps = (EPOCHS * (train_set.len() / BATCH)) as u64;
    let mut optimizer = Adam::new(2e-3).schedule(Schedule::cosine(steps, 0.0));
    let config = TrainConfig::<BATCH>::new(EPOCHS).seed(2);
    let cpu_start = support::thread_cpu_seconds();
    let history = train_with_validation(&mut net, &mut optimizer, &train_set, &test_set, &config)?;

    let evaluation = evaluate(&net, &test_set);
    println!("{}", evaluation.confusion);
    support::write_curves(&history, "digits_cnn", "8×8 digits: CNN, Adam")?;
    support::write_graph::<DigitsCnn<f32>, 64, 10>("digits_cnn")?;
    support::save_and_reload(&net, "digits_cnn", test_set.features())?;
    support::print_epoch_time(&history, cpu_start);
    support::print_test_accuracy(evaluation.accuracy);
    Ok(())
}

fn main() -> ExitCode {
    support::main(run)
}
