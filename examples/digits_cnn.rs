//! Handwritten digits as 1×8×8 images, with a small convolutional network:
//! every image shape is computed by `network!` when the example compiles
//! (write `Dense<500, 64>` for `fc` and the build stops, naming 512).
//!
//! Run: `cargo run --release --example digits_cnn`. The run (Adam 0.002
//! with cosine decay, batches of 16, 30 epochs) is in `support/digits.rs`;
//! it prints the confusion matrix and `test accuracy: X`, and writes the
//! curves, the graph and the weights to `target/chainrule-out/`.

mod support;

use std::process::ExitCode;

use chainrule::prelude::*;

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

fn main() -> ExitCode {
    // Each row of the digits' CSV is an image row by row: the C, H, W order
    // of a 1×8×8 image, so the rows are the network's inputs as they are.
    support::main(|| {
        let net = DigitsCnn::<f32>::new(1);
        support::digits::train_and_report(net, "digits_cnn", "8×8 digits: CNN, Adam", 2e-3, 30)
    })
}
