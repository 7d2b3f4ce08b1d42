//! The 8×8 digits run that `residual_digits` and `digits_cnn` share: the
//! data, the optimizer, the training loop and the report. Each example only
//! declares its network (and `digits` and `two_heads` take the data from
//! here).

use std::error::Error;

use chainrule::data::{CsvOptions, Dataset};
use chainrule::optim::{Adam, Schedule};
use chainrule::train::{evaluate, train_with_validation, TrainConfig};
use chainrule::Network;

/// Rows per training step.
pub const BATCH: usize = 16;

/// The 1,797 digits split 80/20, keeping the class proportions (seed 7),
/// pixels (0..16) scaled to [0, 1]: `(training, test)`.
pub fn load() -> Result<(Dataset<f32, 64, 10>, Dataset<f32, 64, 10>), Box<dyn Error>> {
    let data =
        Dataset::<f32, 64, 10>::from_csv("examples/data/digits.csv", &CsvOptions::default())?;
    let (mut train_set, mut test_set) = data.stratified_split(0.2, 7)?;
    train_set.scale(1.0 / 16.0)?;
    test_set.scale(1.0 / 16.0)?;
    Ok((train_set, test_set))
}

/// Trains `net` on the digits with Adam (`learning_rate`, cosine decay to 0
/// over the run), `BATCH` rows a step for `epochs` epochs (the test rows give
/// the held-out curve of the pictures; nothing is tuned on them), then prints
/// the confusion matrix and writes to `target/chainrule-out/` the curves
/// (`NAME-curves.svg`, titled `title`), the graph (`NAME-graph.dot`) and the
/// weights (`NAME.safetensors`, reloaded and checked); last, the time per
/// epoch and the `test accuracy:` line.
pub fn train_and_report<N: Network<64, 10, Scalar = f32>>(
    mut net: N,
    name: &str,
    title: &str,
    learning_rate: f64,
    epochs: usize,
) -> Result<(), Box<dyn Error>> {
    let (train_set, test_set) = load()?;
    println!(
        "{name}: {} training images, {} test images",
        train_set.len(),
        test_set.len()
    );
    let steps = (epochs * (train_set.len() / BATCH)) as u64;
    let mut optimizer = Adam::new(learning_rate).schedule(Schedule::cosine(steps, 0.0));
    let config = TrainConfig::<BATCH>::new(epochs).seed(2);
    let cpu_start = super::thread_cpu_seconds();
    let history = train_with_validation(&mut net, &mut optimizer, &train_set, &test_set, &config)?;

    let evaluation = evaluate(&net, &test_set);
    println!("{}", evaluation.confusion);
    super::write_curves(&history, name, title)?;
    super::write_graph::<N, 64, 10>(name)?;
    super::save_and_reload(&net, name, test_set.features())?;
    super::print_epoch_time(&history, cpu_start);
    super::print_test_accuracy(evaluation.accuracy);
    Ok(())
}
