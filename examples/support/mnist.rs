//! The MNIST run that `mnist` and `mnist_deep` share: the data, the
//! optimizer, the training loop and the report. Each example only declares
//! its network.

use std::error::Error;

use chainrule::data::mnist;
use chainrule::optim::{Adam, Schedule};
use chainrule::train::{evaluate, train_with_validation, TrainConfig};
use chainrule::Network;

/// Rows per training step.
pub const BATCH: usize = 32;
/// Passes over the 60,000 training images.
pub const EPOCHS: usize = 15;

/// Trains `net` on MNIST (fetched once with `scripts/fetch-mnist`) with Adam
/// (learning rate 0.001, cosine decay to 0 over the whole run), `BATCH` rows
/// a step for `EPOCHS` epochs, then prints the confusion matrix on the 10,000
/// test images and writes to `target/chainrule-out/` the training curves
/// (`NAME-curves.svg`, titled `title`), the computational graph
/// (`NAME-graph.dot`) and the weights (`NAME.safetensors`, reloaded and
/// checked); last, the time per epoch and the `test accuracy:` line.
pub fn train_and_report<N: Network<784, 10, Scalar = f32>>(
    mut net: N,
    name: &str,
    title: &str,
) -> Result<(), Box<dyn Error>> {
    let dir = mnist::default_dir();
    let train_set = mnist::train::<f32>(&dir)?;
    let test_set = mnist::test::<f32>(&dir)?;
    println!(
        "{name}: {} training images, {} test images",
        train_set.len(),
        test_set.len()
    );

    let steps = (EPOCHS * (train_set.len() / BATCH)) as u64;
    let mut optimizer = Adam::new(1e-3).schedule(Schedule::cosine(steps, 0.0));
    // The test images are the held-out curve of the pictures; nothing is tuned on them.
    let config = TrainConfig::<BATCH>::new(EPOCHS).seed(2);
    let cpu_start = super::thread_cpu_seconds();
    let history = train_with_validation(&mut net, &mut optimizer, &train_set, &test_set, &config)?;

    let evaluation = evaluate(&net, &test_set);
    println!("{}", evaluation.confusion);
    super::write_curves(&history, name, title)?;
    super::write_graph::<N, 784, 10>(name)?;
    super::save_and_reload(&net, name, test_set.features())?;
    super::print_epoch_time(&history, cpu_start);
    super::print_test_accuracy(evaluation.accuracy);
    Ok(())
}
