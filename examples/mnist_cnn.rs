//! MNIST as 1×28×28 images with a LeNet-5-like convolutional network: every
//! image shape (28×28 → 14×14 → 10×10 → 5×5, then 16·5·5 = 400 features) is
//! computed by `network!` when the example compiles.
//!
//! Fetch the data once with `scripts/fetch-mnist`, then run:
//! `cargo run --release --example mnist_cnn`. The training run (Adam with
//! cosine decay, batches of 32, 15 epochs) is the one the MNIST examples
//! share, in `support/mnist.rs`.

mod support;

use std::process::ExitCode;

use chainrule::prelude::*;

network! {
    /// LeNet-5-like: two convolutions with max pooling, three dense layers.
    pub struct LeNet {
        input: [1, 28, 28],
        conv1: Conv2d<1, 6, 5, padding = 2> => relu,
        pool1: MaxPool2d<2>,
        conv2: Conv2d<6, 16, 5> => relu,
        pool2: MaxPool2d<2>,
        flat: Flatten,
        fc1: Dense<400, 120> => relu,
        fc2: Dense<120, 84> => relu,
        out: Dense<84, 10> => softmax,
        loss: cross_entropy,
    }
}

fn main() -> ExitCode {
    support::main(|| {
        let net = LeNet::<f32>::new(1);
        support::mnist::train_and_report(net, "mnist_cnn", "MNIST: LeNet-5-like CNN, Adam")
    })
}
