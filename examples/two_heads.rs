//! One network, two outputs, a weighted sum of two losses: on the 8×8
//! digits, a shared trunk feeds a classifier head (the digit, softmax and
//! cross-entropy) and a regression head (the image's ink coverage, the
//! fraction of its 64 pixels that are at least half bright, standardized on
//! the training set; squared error).
//! The loss is `cross_entropy(digit) + 0.5 · mse(ink)`; the trunk's gradient
//! is the sum of what the two heads send back (the sum rule).
//!
//! The training loop is written out (batches, Adam, the two kinds of
//! targets), as a user would for a network with two outputs.
//!
//! Run: `cargo run --release --example two_heads`. Prints both heads'
//! metrics and `test accuracy: X` for the class head.

mod support;

use std::error::Error;
use std::process::ExitCode;

use chainrule::data::Shuffler;
use chainrule::optim::{Adam, Optimizer, Schedule};
use chainrule::prelude::*;
use chainrule::train::ConfusionMatrix;

network! {
    /// A shared trunk, a digit head and an ink head.
    pub struct TwoHeads {
        trunk: Dense<64, 128>,
        digit_head: Dense<128, 10>,
        ink_head: Dense<128, 1>,
        fn forward(x: [64]) -> (digit: [10], ink: [1]) {
            let h = relu(trunk(x));
            (softmax(digit_head(h)), ink_head(h))
        }
        loss: cross_entropy(digit, labels) + 0.5 * mse(ink, inks),
    }
}

/// The fraction of an image's pixels (scaled to [0, 1]) at least half
/// bright: the regression target, derived from the image.
fn ink(pixels: &[f32; 64]) -> f32 {
    pixels.iter().filter(|&&p| p >= 0.5).count() as f32 / 64.0
}

const BATCH: usize = 16;
const EPOCHS: usize = 40;

fn run() -> Result<(), Box<dyn Error>> {
    let (train_set, test_set) = support::digits::load()?;
    println!(
        "two heads: {} training rows, {} test rows",
        train_set.len(),
        test_set.len()
    );

    // The ink target, standardized with the training set's mean and spread.
    let train_inks: Vec<f32> = train_set.features().iter().map(ink).collect();
    let mean = train_inks.iter().sum::<f32>() / train_inks.len() as f32;
    let spread = (train_inks.iter().map(|i| (i - mean).powi(2)).sum::<f32>()
        / train_inks.len() as f32)
        .sqrt();
    let target = |pixels: &[f32; 64]| (ink(pixels) - mean) / spread;

    let mut net = TwoHeads::<f32>::new(1);
    let mut grads = net.gradients();
    let mut ws = net.workspace::<BATCH>();
    let batches = train_set.len() / BATCH;
    let mut optimizer = Adam::new(2e-3).schedule(Schedule::cosine((EPOCHS * batches) as u64, 0.0));
    let mut order = Shuffler::new(train_set.len(), 2);
    let mut x = Matrix::<f32, BATCH, 64>::zeros();
    let mut labels = ClassLabels::<BATCH, 10>::new([0; BATCH])?;
    let mut inks = Matrix::<f32, BATCH, 1>::zeros();
    for epoch in 1..=EPOCHS {
        let mut total = 0.0;
        for rows in order.shuffle().chunks_exact(BATCH) {
            train_set.fill_batch(rows, &mut x, &mut labels)?;
            for (ink, row) in inks.rows_mut().zip(x.rows()) {
                ink[0] = target(row);
            }
            total += net.backward(&x, (&labels, &inks), &mut grads, &mut ws);
            optimizer.step(&mut net, &grads);
        }
        if epoch % 10 == 0 {
            println!(
                "epoch {epoch:>2}/{EPOCHS}  loss {:.4}",
                total / batches as f32
            );
        }
    }

    // Every test image, one at a time: the digit's accuracy and the ink's
    // root mean squared error, in training-set standard deviations (1.0 is
    // what predicting the training set's mean gives, near enough).
    let mut confusion = ConfusionMatrix::<10>::new();
    let (mut squared, mut squared_baseline) = (0.0f64, 0.0f64);
    let mut one = net.workspace::<1>();
    let mut image = Matrix::<f32, 1, 64>::zeros();
    for (pixels, &label) in test_set.features().iter().zip(test_set.labels()) {
        image.row_mut(0).copy_from_slice(pixels);
        let (digit, predicted_ink) = net.forward_with(&image, &mut one);
        let row = digit.row(0);
        let predicted = (0..10).fold(0, |best, k| if row[k] > row[best] { k } else { best });
        confusion.record(label, predicted);
        let expected = target(pixels);
        squared += f64::from(predicted_ink[(0, 0)] - expected).powi(2);
        squared_baseline += f64::from(expected).powi(2);
    }
    let n = test_set.len() as f64;
    println!("{confusion}");
    println!(
        "ink head: root mean squared error {:.3} standard deviations (predicting the mean: {:.3})",
        (squared / n).sqrt(),
        (squared_baseline / n).sqrt()
    );
    std::fs::write(
        support::output_dir()?.join("two_heads-graph.dot"),
        TwoHeads::<f32>::graph_dot(),
    )?;
    support::print_test_accuracy(confusion.accuracy());
    Ok(())
}

fn main() -> ExitCode {
    support::main(run)
}
