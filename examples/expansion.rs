//! Three networks paired with their expansion (`examples/expansion_expanded.rs`):
//! what `network!` writes for each, the backward pass tagged rule by rule.
//! - `Mnist`: the sequential form, 784 → 128 → 10;
//! - `Skip`: the graph form, a residual block (the sum rule where `h` feeds
//!   two operations) and a second input joined by `concat`;
//! - `TinyCnn`: a convolution (rules 5 and 6 on the unfolded patches),
//!   max pooling and flatten.
//!
//! Run: `cargo run --release --example expansion`.

use chainrule::prelude::*;

network! {
    /// 784 → 128 → 10 classifier.
    pub struct Mnist {
        hidden: Dense<784, 128> => relu,
        output: Dense<128, 10> => softmax,
        loss: cross_entropy,
    }
}

network! {
    /// A residual block and a second input.
    pub struct Skip {
        first: Dense<64, 32>,
        block: Dense<32, 32>,
        out: Dense<36, 10>,
        fn forward(x: [64], extra: [4]) -> [10] {
            let h = relu(first(x));
            let r = h + tanh(block(h));
            softmax(out(concat(r, extra)))
        }
        loss: cross_entropy,
    }
}

network! {
    /// A small CNN on 8×8 images.
    pub struct TinyCnn {
        input: [1, 8, 8],
        conv: Conv2d<1, 4, 3, padding = 1> => relu,
        pool: MaxPool2d<2>,
        flat: Flatten,
        output: Dense<64, 10> => softmax,
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
        println!("mnist step {step}: loss {loss:.4}");
        net.sgd_step(&grads, 0.1);
    }

    let mut skip = Skip::<f32>::new(7);
    let inputs = (
        Matrix::<f32, 4, 64>::from_fn(|i, j| ((i * 13 + j * 5) % 11) as f32 / 11.0),
        Matrix::<f32, 4, 4>::from_fn(|i, j| (i + j) as f32 / 8.0),
    );
    let mut grads = skip.gradients();
    let mut ws = skip.workspace::<4>();
    for step in 0..5 {
        let loss = skip.backward(&inputs, &y, &mut grads, &mut ws);
        println!("skip step {step}: loss {loss:.4}");
        skip.sgd_step(&grads, 0.1);
    }

    let mut cnn = TinyCnn::<f32>::new(7);
    let images = Matrix::<f32, 4, 64>::from_fn(|i, j| ((i * 7 + j * 3) % 9) as f32 / 9.0);
    let mut grads = cnn.gradients();
    let mut ws = cnn.workspace::<4>();
    for step in 0..5 {
        let loss = cnn.backward(&images, &y, &mut grads, &mut ws);
        println!("cnn step {step}: loss {loss:.4}");
        cnn.sgd_step(&grads, 0.1);
    }
}
