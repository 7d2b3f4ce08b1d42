//! Network II of DESIGN.md §1: one sample at a time, a vector input, a
//! hidden vector, one sigmoid output, binary cross-entropy. The data is a
//! small binary classification problem drawn from a seeded generator: points
//! of the plane labelled 1 inside a ring and 0 elsewhere, which no linear
//! model separates. Training is plain stochastic gradient descent; the loss
//! falls and the accuracy rises.
//!
//! `cargo run --release --example network2_binary`

use chainrule::prelude::*;
use rand::{Rng, SeedableRng};

network! {
    /// 2 → 8 tanh → 1 sigmoid, binary cross-entropy.
    struct NetworkTwo {
        hidden: Dense<2, 8> => tanh,
        output: Dense<8, 1> => sigmoid,
        loss: binary_cross_entropy,
    }
}

type Sample = (Matrix<f32, 1, 2>, Matrix<f32, 1, 1>);

/// `count` points uniform in [−2, 2]², labelled 1 when 0.8 < |p| < 1.6.
fn ring_data(count: usize, rng: &mut impl Rng) -> Vec<Sample> {
    (0..count)
        .map(|_| {
            let (a, b) = (rng.random_range(-2.0..2.0), rng.random_range(-2.0..2.0));
            let radius = f32::hypot(a, b);
            let label = if radius > 0.8 && radius < 1.6 {
                1.0
            } else {
                0.0
            };
            (Matrix::from_rows([[a, b]]), Matrix::filled(label))
        })
        .collect()
}

fn evaluate(net: &NetworkTwo, data: &[Sample]) -> (f32, f32) {
    let mut ws = net.workspace::<1>();
    let mut loss = 0.0;
    let mut correct = 0;
    for (x, y) in data {
        loss += net.loss_with(x, y, &mut ws);
        let p = net.forward_with(x, &mut ws)[(0, 0)];
        if (p > 0.5) == (y[(0, 0)] > 0.5) {
            correct += 1;
        }
    }
    (loss / data.len() as f32, correct as f32 / data.len() as f32)
}

fn main() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
    let train = ring_data(400, &mut rng);
    let test = ring_data(400, &mut rng);

    let mut net = NetworkTwo::new(3);
    let mut grads = net.gradients();
    let mut ws = net.workspace::<1>();
    let learning_rate = 0.03;

    println!("epoch   train loss   test loss   test accuracy");
    for epoch in 0..=300 {
        if epoch % 30 == 0 {
            let (train_loss, _) = evaluate(&net, &train);
            let (test_loss, accuracy) = evaluate(&net, &test);
            println!(
                "{epoch:5}   {train_loss:10.4}   {test_loss:9.4}   {:12.1}%",
                100.0 * accuracy
            );
        }
        for (x, y) in &train {
            net.backward(x, y, &mut grads, &mut ws);
            net.sgd_step(&grads, learning_rate);
        }
    }
}
