//! Iris: 150 flowers, 4 measurements each, 3 species. A 4 → 16 → 3 network
//! trained with Adam on 80 % of the rows (stratified), tested on the rest.
//!
//! Run: `cargo run --release --example iris`. Writes the training curves, the
//! computational graph and the weights to `target/chainrule-out/`.

mod support;

use std::error::Error;
use std::process::ExitCode;

use chainrule::data::{CsvOptions, Dataset, Standardizer};
use chainrule::optim::{Adam, Schedule};
use chainrule::prelude::*;
use chainrule::train::{evaluate, train_with_validation, TrainConfig};

network! {
    /// Iris: 4 measurements → 16 hidden units → 3 species.
    pub struct Iris {
        hidden: Dense<4, 16> => relu,
        output: Dense<16, 3> => softmax,
        loss: cross_entropy,
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let data = Dataset::<f32, 4, 3>::from_csv("examples/data/iris.csv", &CsvOptions::default())?;
    let (mut train_set, mut test_set) = data.stratified_split(0.2, 7)?;
    // Scale every feature to mean 0, variance 1, with the training rows' figures.
    let scaler = Standardizer::fit(&train_set);
    scaler.apply(&mut train_set)?;
    scaler.apply(&mut test_set)?;
    println!(
        "iris: {} training rows, {} test rows",
        train_set.len(),
        test_set.len()
    );

    const BATCH: usize = 8;
    const EPOCHS: usize = 60;
    let mut net = Iris::<f32>::new(1);
    // Adam with the learning rate decayed to 0 along a cosine over the run.
    let steps = (EPOCHS * (train_set.len() / BATCH)) as u64;
    let mut optimizer = Adam::new(0.01).schedule(Schedule::cosine(steps, 0.0));
    // The test rows are the held-out curve of the pictures; nothing is tuned on them.
    let config = TrainConfig::<BATCH>::new(EPOCHS)
        .seed(2)
        .train_accuracy(true);
    let cpu_start = support::thread_cpu_seconds();
    let history = train_with_validation(&mut net, &mut optimizer, &train_set, &test_set, &config)?;

    let evaluation = evaluate(&net, &test_set);
    println!("{}", evaluation.confusion);
    support::write_curves(&history, "iris", "iris: 4 → 16 → 3, Adam")?;
    support::write_graph::<Iris<f32>, 4, 3>("iris")?;
    support::save_and_reload(&net, "iris", test_set.features())?;
    support::print_epoch_time(&history, cpu_start);
    support::print_test_accuracy(evaluation.accuracy);
    Ok(())
}

fn main() -> ExitCode {
    support::main(run)
}
