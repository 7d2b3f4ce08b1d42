//! Handwritten digits, 8×8 pixels (1,797 images, 10 classes): a 64 → 128 → 10
//! network trained with Adam on 80 % of the images (stratified), tested on the
//! rest. 15 % of the training images are held out for early stopping: the
//! run stops when their loss has not improved for 10 epochs, and the network
//! keeps the weights of its best epoch.
//!
//! Run: `cargo run --release --example digits`. Writes the training curves, a
//! metrics log (CSV), the computational graph and the weights to
//! `target/chainrule-out/`.

mod support;

use std::error::Error;
use std::process::ExitCode;

use chainrule::optim::{Adam, Schedule};
use chainrule::prelude::*;
use chainrule::train::{evaluate, train_with_validation, EarlyStopping, Monitor, TrainConfig};

network! {
    /// 8×8 digits: 64 pixels → 128 hidden units → 10 digits.
    pub struct Digits {
        hidden: Dense<64, 128> => relu,
        output: Dense<128, 10> => softmax,
        loss: cross_entropy,
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    // The 80/20 split, pixels scaled to [0, 1] (support/digits.rs).
    let (training, test_set) = support::digits::load()?;
    // Early stopping watches held-out rows of the training split, never the test set.
    let (train_set, validation_set) = training.stratified_split(0.15, 11)?;
    println!(
        "digits: {} training rows, {} validation rows, {} test rows",
        train_set.len(),
        validation_set.len(),
        test_set.len()
    );

    const BATCH: usize = 16;
    const MAX_EPOCHS: usize = 60;
    let mut net = Digits::<f32>::new(1);
    let steps = (MAX_EPOCHS * (train_set.len() / BATCH)) as u64;
    let mut optimizer = Adam::new(3e-3).schedule(Schedule::cosine(steps, 0.0));
    let out = support::output_dir()?;
    let stopping = EarlyStopping::new(Monitor::ValidationLoss, 10)
        .best_weights(out.join("digits-best.safetensors"));
    let config = TrainConfig::<BATCH>::new(MAX_EPOCHS)
        .seed(2)
        .train_accuracy(true)
        .early_stopping(stopping)
        .metrics_log(out.join("digits-metrics.csv"));
    let cpu_start = support::thread_cpu_seconds();
    let history = train_with_validation(
        &mut net,
        &mut optimizer,
        &train_set,
        &validation_set,
        &config,
    )?;
    support::print_stop(&history);

    let evaluation = evaluate(&net, &test_set);
    println!("{}", evaluation.confusion);
    support::write_curves(&history, "digits", "8×8 digits: 64 → 128 → 10, Adam")?;
    support::write_graph::<Digits<f32>, 64, 10>("digits")?;
    support::save_and_reload(&net, "digits", test_set.features())?;
    support::print_epoch_time(&history, cpu_start);
    support::print_test_accuracy(evaluation.accuracy);
    Ok(())
}

fn main() -> ExitCode {
    support::main(run)
}
