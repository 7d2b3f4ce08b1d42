//! Handwritten digits, 8×8 pixels, with a residual MLP declared in the graph
//! form of `network!`: each block adds its output to its input (`h + …`),
//! so the gradient of `h` is the sum over the two paths (the sum rule; see
//! `Residual::graph_dot()`).
//!
//! Run: `cargo run --release --example residual_digits`. The run (Adam
//! 0.002 with cosine decay, batches of 16, 40 epochs) is in
//! `support/digits.rs`; it prints the confusion matrix and `test accuracy:
//! X`, and writes the curves, the graph and the weights to
//! `target/chainrule-out/`.

mod support;

use std::process::ExitCode;

use chainrule::prelude::*;

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

fn main() -> ExitCode {
    support::main(|| {
        let net = Residual::<f32>::new(1);
        support::digits::train_and_report(
            net,
            "residual_digits",
            "8×8 digits: residual MLP, Adam",
            2e-3,
            40,
        )
    })
}
