//! Network I of DESIGN.md §1: one sample at a time, a scalar input, one
//! sigmoid hidden unit, a scalar output, squared error. It learns the
//! function f(x) = 3·σ(2x − 1) − 1 (which it can represent exactly) from 21
//! points with plain stochastic gradient descent, printing the loss falling.
//!
//! `cargo run --release --example network1_regression`

use chainrule::prelude::*;

network! {
    /// x → z1 = w1·x + b1 → a1 = σ(z1) → z2 = w2·a1 + b2 → a2 = z2; l = (a2 − y)².
    struct NetworkOne {
        hidden: Dense<1, 1> => sigmoid,
        output: Dense<1, 1> => identity,
        loss: sse,
    }
}

/// The function to learn.
fn target(x: f64) -> f64 {
    3.0 / (1.0 + (1.0 - 2.0 * x).exp()) - 1.0
}

fn main() {
    let samples: Vec<(Matrix<f64, 1, 1>, Matrix<f64, 1, 1>)> = (0..=20)
        .map(|i| {
            let x = -2.0 + 0.2 * f64::from(i);
            (Matrix::filled(x), Matrix::filled(target(x)))
        })
        .collect();

    let mut net = NetworkOne::<f64>::new(1);
    let mut grads = net.gradients();
    let mut ws = net.workspace::<1>();
    let learning_rate = 0.05;
    let epochs = 3000;

    println!("epoch   mean loss");
    for epoch in 0..=epochs {
        let mut total = 0.0;
        for (x, y) in &samples {
            // One sample: forward, loss and backward, then θ ← θ − lr·∂l/∂θ.
            total += net.backward(x, y, &mut grads, &mut ws);
            net.sgd_step(&grads, learning_rate);
        }
        if epoch % 300 == 0 {
            println!("{epoch:5}   {:.3e}", total / samples.len() as f64);
        }
    }
    // σ(−z) = 1 − σ(z), so (w1, b1, w2, b2) = (2, −1, 3, −1) and its mirror
    // (−2, 1, −3, 2) are both exact solutions.
    println!(
        "learned w1 = {:.4}, b1 = {:.4}, w2 = {:.4}, b2 = {:.4} \
         (exact: 2, −1, 3, −1 or its mirror −2, 1, −3, 2)",
        net.hidden.weight[(0, 0)],
        net.hidden.bias[(0, 0)],
        net.output.weight[(0, 0)],
        net.output.bias[(0, 0)]
    );
}
