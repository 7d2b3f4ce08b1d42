//! A 784 → 128 → 10 classifier, paired with its expansion
//! (`examples/expanded_mnist.expanded.rs`): what `network!` writes for it,
//! the backward pass tagged rule by rule. Run:
//! `cargo run --release --example expanded_mnist`.

use chainrule::prelude::*;

network! {
    /// 784 → 128 → 10 classifier.
    pub struct Mnist {
        hidden: Dense<784, 128> => relu,
        output: Dense<128, 10> => softmax,
        loss: cross_entropy,
    }
}

fn main() {
    let mut net = Mnist::<f32>::new(7);
    let x = Matrix::<f32, 4, 784>::from_fn(|i, j| ((i * 31 + j * 7) % 17) as f32 / 17.0);
    let y = ClassLabels::<4, 10>::new([3, 1, 4, 1]).expect("labels below 10");
    let mut grads = net.gradients();
    let mut ws = net.workspace::<4>();
    for step in 0..5 {
        let loss = net.backward(&x, &y, &mut grads, &mut ws);
        println!("step {step}: loss {loss:.4}");
        net.sgd_step(&grads, 0.1);
    }
    println!("{}", Mnist::<f32>::graph_dot().lines().count());
}
