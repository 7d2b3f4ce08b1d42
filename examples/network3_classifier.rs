//! Network III of DESIGN.md §1: the whole batch as matrices, a relu hidden
//! layer, softmax over the classes, cross-entropy with class-index labels.
//! The data is a synthetic 3-class problem from a seeded generator: three
//! interleaved spiral arms in the plane. Training is full-batch plain
//! gradient descent; the loss falls and the accuracy rises.
//!
//! `cargo run --release --example network3_classifier`

use chainrule::prelude::*;
use rand::{Rng, SeedableRng};

/// Points per class.
const PER_CLASS: usize = 60;
/// Classes (spiral arms).
const CLASSES: usize = 3;
/// The batch: every point.
const B: usize = PER_CLASS * CLASSES;

network! {
    /// 2 → 32 relu → 3 softmax, cross-entropy.
    struct NetworkThree {
        hidden: Dense<2, 32> => relu,
        output: Dense<32, CLASSES> => softmax,
        loss: cross_entropy,
    }
}

/// Three spiral arms with a little noise: arm `c`, point `i` at radius
/// r = i/PER_CLASS and angle 4r + 2πc/3.
fn spirals(rng: &mut impl Rng) -> (Matrix<f32, B, 2>, ClassLabels<B, CLASSES>) {
    let mut x = Matrix::<f32, B, 2>::zeros();
    let mut labels = [0; B];
    for class in 0..CLASSES {
        for i in 0..PER_CLASS {
            let row = class * PER_CLASS + i;
            let r = i as f32 / PER_CLASS as f32;
            let angle = 4.0 * r
                + class as f32 * 2.0 * std::f32::consts::PI / CLASSES as f32
                + rng.random_range(-0.2..0.2);
            x[(row, 0)] = r * angle.cos();
            x[(row, 1)] = r * angle.sin();
            labels[row] = class;
        }
    }
    let labels = ClassLabels::new(labels).expect("every label is below CLASSES");
    (x, labels)
}

fn accuracy(probabilities: &Matrix<f32, B, CLASSES>, labels: &ClassLabels<B, CLASSES>) -> f32 {
    let correct = probabilities
        .rows()
        .zip(labels.as_array())
        .filter(|(p, &label)| {
            let best = (0..CLASSES).fold(0, |best, c| if p[c] > p[best] { c } else { best });
            best == label
        })
        .count();
    correct as f32 / B as f32
}

fn main() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let (x, labels) = spirals(&mut rng);

    let mut net = NetworkThree::new(4);
    let mut grads = net.gradients();
    let mut ws = net.workspace::<B>();
    let learning_rate = 1.0;

    println!("step   loss     accuracy");
    for step in 0..=3000 {
        // Forward over all B rows, loss, backward: ∂l/∂Z2 = (A2 − Y)/B, …
        let loss = net.backward(&x, &labels, &mut grads, &mut ws);
        if step % 250 == 0 {
            let probabilities = net.forward_with(&x, &mut ws);
            println!(
                "{step:4}   {loss:.4}   {:5.1}%",
                100.0 * accuracy(probabilities, &labels)
            );
        }
        net.sgd_step(&grads, learning_rate);
    }
}
