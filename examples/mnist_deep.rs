//! MNIST (60,000 training and 10,000 test images of 28×28 handwritten
//! digits): a deeper 784 → 256 → 128 → 10 network trained with Adam.
//!
//! Fetch the data once with `scripts/fetch-mnist`, then run:
//! `cargo run --release --example mnist_deep`. The training run (Adam with
//! cosine decay, batches of 32, 15 epochs) is the one `mnist` and
//! `mnist_deep` share, in `support/mnist.rs`. Writes the training curves,
//! the computational graph and the weights to `target/chainrule-out/`.

mod support;

use std::process::ExitCode;

use chainrule::prelude::*;

network! {
    /// MNIST, deeper: 784 pixels → 256 → 128 hidden units → 10 digits.
    pub struct MnistDeep {
        hidden1: Dense<784, 256> => relu,
        hidden2: Dense<256, 128> => relu,
        output: Dense<128, 10> => softmax,
        loss: cross_entropy,
    }
}

fn main() -> ExitCode {
    support::main(|| {
        let net = MnistDeep::<f32>::new(1);
        support::mnist::train_and_report(net, "mnist_deep", "MNIST: 784 → 256 → 128 → 10, Adam")
    })
}
