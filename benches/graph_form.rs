//! The graph form's speed, in interleaved rounds (every case once per round,
//! then again; medians and spread of the rounds):
//! - a chain written in the graph form against the same chain in the
//!   sequential form, same weights, same batch (they generate the same
//!   work: the ratio should be 1 within noise), at an unrolled size (iris,
//!   4 → 16 → 3, B = 16) and a kernel size (mnist, 784 → 128 → 10, B = 64);
//! - the workloads of issue 9: a residual MLP (64 → 128, two residual
//!   blocks, → 10, B = 32) and a two-input network (32 + 16 inputs, B = 32):
//!   training step and batch-1 inference, in samples/s and µs.
//!
//! `cargo bench --bench graph_form` measures (`-- --rounds N`, default 7);
//! `cargo test --benches` runs every case once (the CI smoke mode).

use std::hint::black_box;
use std::time::Instant;

use chainrule::prelude::*;

network! {
    struct IrisSequential {
        hidden: Dense<4, 16> => relu,
        output: Dense<16, 3> => softmax,
        loss: cross_entropy,
    }
}

network! {
    struct IrisGraph {
        hidden: Dense<4, 16>,
        output: Dense<16, 3>,
        fn forward(x: [4]) -> [3] {
            softmax(output(relu(hidden(x))))
        }
        loss: cross_entropy,
    }
}

network! {
    struct MnistSequential {
        hidden: Dense<784, 128> => relu,
        output: Dense<128, 10> => softmax,
        loss: cross_entropy,
    }
}

network! {
    struct MnistGraph {
        hidden: Dense<784, 128>,
        output: Dense<128, 10>,
        fn forward(x: [784]) -> [10] {
            softmax(output(relu(hidden(x))))
        }
        loss: cross_entropy,
    }
}

network! {
    /// Issue 9's residual workload.
    struct Residual {
        stem: Dense<64, 128>,
        block1: Dense<128, 128>,
        block2: Dense<128, 128>,
        head: Dense<128, 10>,
        fn forward(x: [64]) -> [10] {
            let h = relu(stem(x));
            let h1 = h + relu(block1(h));
            let h2 = h1 + relu(block2(h1));
            softmax(head(h2))
        }
        loss: cross_entropy,
    }
}

network! {
    /// Issue 9's two-input workload.
    struct TwoInputs {
        a: Dense<32, 64>,
        b: Dense<16, 64>,
        mid: Dense<64, 32>,
        out: Dense<48, 10>,
        fn forward(x1: [32], x2: [16]) -> [10] {
            let h = relu(a(x1) + b(x2));
            let m = relu(mid(h));
            softmax(out(concat(m, x2)))
        }
        loss: cross_entropy,
    }
}

/// One timed case: runs `iterations` steps, returns the seconds per step.
type Case<'a> = (&'a str, Box<dyn FnMut(usize) -> f64 + 'a>);

fn time(mut step: impl FnMut(), iterations: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..iterations {
        step();
    }
    start.elapsed().as_secs_f64() / iterations as f64
}

fn inputs<const B: usize, const N: usize>(seed: usize) -> Matrix<f32, B, N> {
    Matrix::from_fn(|i, j| ((i * 31 + j * 17 + seed * 7) % 23) as f32 / 11.5 - 1.0)
}

fn labels<const B: usize, const N: usize>() -> ClassLabels<B, N> {
    let all: Vec<usize> = (0..B).map(|i| (i * 7) % N).collect();
    ClassLabels::from_slice(&all).expect("labels below N")
}

/// A training step (backward and SGD) of `net` on `(x, y)`.
fn train_case<'a, N, const IN: usize, const OUT: usize, const B: usize>(
    mut net: N,
    x: &'a Matrix<f32, B, IN>,
    y: &'a ClassLabels<B, OUT>,
) -> Box<dyn FnMut(usize) -> f64 + 'a>
where
    N: Network<IN, OUT, Scalar = f32> + 'a,
{
    let mut grads = net.new_gradients();
    let mut ws = net.new_workspace::<B>();
    Box::new(move |n| {
        time(
            || {
                black_box(net.backward(black_box(x), y, &mut grads, &mut ws));
                net.sgd_step(&grads, 1e-3);
            },
            n,
        )
    })
}

/// Median and (min, max) of a list.
fn median_spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(|a, b| a.total_cmp(b));
    let mid = values[values.len() / 2];
    (mid, values[0], values[values.len() - 1])
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let measuring = args.iter().any(|a| a == "--bench");
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(if measuring { 7 } else { 1 });
    // Steps per case per round: about 0.2 s each when measuring.
    let scale = if measuring { 1.0 } else { 0.001 };
    let steps = |per_second: f64| ((per_second * 0.2 * scale) as usize).max(1);

    let (iris_x, iris_y) = (inputs::<16, 4>(1), labels::<16, 3>());
    let (mnist_x, mnist_y) = (inputs::<64, 784>(2), labels::<64, 10>());
    let (res_x, res_y) = (inputs::<32, 64>(3), labels::<32, 10>());
    let two_x = (inputs::<32, 32>(4), inputs::<32, 16>(5));
    let two_y = labels::<32, 10>();

    // The same weights in both forms of each chain.
    let iris_seq = IrisSequential::<f32>::new(1);
    let mut iris_graph = IrisGraph::<f32>::zeros();
    iris_graph.hidden = iris_seq.hidden.clone();
    iris_graph.output = iris_seq.output.clone();
    let mnist_seq = MnistSequential::<f32>::new(1);
    let mut mnist_graph = MnistGraph::<f32>::zeros();
    mnist_graph.hidden = mnist_seq.hidden.clone();
    mnist_graph.output = mnist_seq.output.clone();

    let residual = Residual::<f32>::new(1);
    let mut res_grads = residual.gradients();
    let mut res_ws = residual.workspace::<32>();
    let mut res_ws1 = residual.workspace::<1>();
    let res_x1 = inputs::<1, 64>(3);
    let two = TwoInputs::<f32>::new(1);
    let mut two_grads = two.gradients();
    let mut two_ws = two.workspace::<32>();
    let mut two_ws1 = two.workspace::<1>();
    let two_x1 = (inputs::<1, 32>(4), inputs::<1, 16>(5));

    let mut cases: Vec<Case> = vec![
        (
            "iris step, sequential",
            train_case(iris_seq, &iris_x, &iris_y),
        ),
        (
            "iris step, graph form",
            train_case(iris_graph, &iris_x, &iris_y),
        ),
        (
            "mnist step, sequential",
            train_case(mnist_seq, &mnist_x, &mnist_y),
        ),
        (
            "mnist step, graph form",
            train_case(mnist_graph, &mnist_x, &mnist_y),
        ),
        (
            "residual step (B = 32)",
            Box::new(|n| {
                time(
                    || {
                        black_box(residual.backward(
                            black_box(&res_x),
                            &res_y,
                            &mut res_grads,
                            &mut res_ws,
                        ));
                    },
                    n,
                )
            }),
        ),
        (
            "residual inference (B = 1)",
            Box::new(|n| {
                time(
                    || {
                        black_box(residual.forward_with(black_box(&res_x1), &mut res_ws1)[(0, 0)]);
                    },
                    n,
                )
            }),
        ),
        (
            "two-input step (B = 32)",
            Box::new(|n| {
                time(
                    || {
                        black_box(two.backward(
                            black_box(&two_x),
                            &two_y,
                            &mut two_grads,
                            &mut two_ws,
                        ));
                    },
                    n,
                )
            }),
        ),
        (
            "two-input inference (B = 1)",
            Box::new(|n| {
                time(
                    || {
                        black_box(two.forward_with(black_box(&two_x1), &mut two_ws1)[(0, 0)]);
                    },
                    n,
                )
            }),
        ),
    ];
    let rates = [2e6, 2e6, 3e3, 3e3, 3e4, 1e6, 1e5, 1e6];
    let mut seconds: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for _ in 0..rounds {
        for ((_, case), (times, rate)) in cases.iter_mut().zip(seconds.iter_mut().zip(rates)) {
            times.push(case(steps(rate)));
        }
    }
    let names: Vec<&str> = cases.iter().map(|(n, _)| *n).collect();
    println!("graph form, {rounds} interleaved rounds (median, min–max of the rounds):");
    for (name, times) in names.iter().zip(&seconds) {
        let (mid, lo, hi) = median_spread(times.clone());
        println!(
            "  {name:<30} {:>9.2} µs  ({:.2}–{:.2})",
            mid * 1e6,
            lo * 1e6,
            hi * 1e6
        );
    }
    for (label, seq, graph) in [("iris", 0, 1), ("mnist", 2, 3)] {
        let ratios: Vec<f64> = seconds[graph]
            .iter()
            .zip(&seconds[seq])
            .map(|(g, s)| g / s)
            .collect();
        let (mid, lo, hi) = median_spread(ratios);
        println!("  {label}: graph form ÷ sequential step time {mid:.3} ({lo:.3}–{hi:.3})");
    }
    for (name, index, batch) in [("residual", 4, 32.0), ("two-input", 6, 32.0)] {
        let (mid, _, _) = median_spread(seconds[index].clone());
        println!("  {name}: {:.0} samples/s", batch / mid);
    }
}
