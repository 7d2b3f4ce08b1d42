//! Handwritten digits, 8×8 pixels, with a residual MLP declared in the graph
//! form of `network!`: each block adds its output to its input (`h + …`),
//! so the gradient of `h` is the sum over the two paths (the sum rule; see
//! `Residual::graph_dot()`).
//!
//! Run: `cargo run --release --example residual_digits`. Prints the
//! confusion matrix and `test accuracy: X`; writes the curves, the graph and
//! the weights to `target/chainrule-out/`.

mod support;

use std::error::Error;
use std::process::ExitCode;

use chainrule::data::{CsvOptions, Dataset};
use chainrule::optim::{Adam, Schedule};
use chainrule::prelude::*;
use chainrule::train::{evaluate, train_with_validation, TrainConfig};

network! {
    /// 64 pixels → 96 → two residual blocks → 10 digits.
    pub struct Residual {
        stem: Dense<64, 96>,
        block1: Dense<96, 96>,
        block2: Dense<96, 96>,
        head: Dense<96, 10>,
        fn forward(x: [64]) -> [10] {
            let h = relu(stem(x));
            let h1 = h + relu(block1(h));
            let h2 = h1 + relu(block2(h1));
            softmax(head(h2))
        }
        loss: cross_entropy + 3e-4 * l2(stem.weight, block1.weight, block2.weight, head.weight),
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let data =
        Dataset::<f32, 64, 10>::from_csv("examples/data/digits.csv", &CsvOptions::default())?;
    let (mut train_set, mut test_set) = data.stratified_split(0.2, 7)?;
    train_set.scale(1.0 / 16.0)?;
    test_set.scale(1.0 / 16.0)?;
    println!(
        "residual digits: {} training rows, {} test rows",
        train_set.len(),
        test_set.len()
    );

    const BATCH: usize = 16;
    const EPOCHS: usize = 40;
    let mut net = Residual::<f32>::new(1);
    let steps = (EPOCHS * (train_set.len() / BATCH)) as u64;
    let mut optimizer = Adam::new(2e-3).schedule(Schedule::cosine(steps, 0.0));
    let config = TrainConfig::<BATCH>::new(EPOCHS).seed(2);
    let cpu_start = support::thread_cpu_seconds();
    let history = train_with_validation(&mut net, &mut optimizer, &train_set, &test_set, &config)?;

    let evaluation = evaluate(&net, &test_set);
    println!("{}", evaluation.confusion);
    support::write_curves(
        &history,
        "residual_digits",
        "8×8 digits: residual MLP, Adam",
    )?;
    support::write_graph::<Residual<f32>, 64, 10>("residual_digits")?;
    support::save_and_reload(&net, "residual_digits", test_set.features())?;
    support::print_epoch_time(&history, cpu_start);
    support::print_test_accuracy(evaluation.accuracy);
    Ok(())
}

fn main() -> ExitCode {
    support::main(run)
}
