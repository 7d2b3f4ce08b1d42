//! Convolution speed, in interleaved rounds (every case once per round, then
//! again; medians and spread of the rounds): the LeNet-5 workload of issue 10
//! (28×28×1 → conv 6@5×5 pad 2 → relu → maxpool 2 → conv 16@5×5 → relu →
//! maxpool 2 → 400 → 120 → 84 → 10, B = 64: training step with plain SGD,
//! and batch-1 inference) and its convolution and pooling calls one by one.
//!
//! `cargo bench --bench conv` measures (`-- --rounds N`, default 7);
//! `cargo test --benches` runs every case once (the CI smoke mode).

use std::hint::black_box;

use chainrule::conv::{Conv2dGeometry, Pool2dGeometry};
use chainrule::prelude::*;

network! {
    /// Issue 10's LeNet-5 workload.
    struct LeNet {
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

const B: usize = 64;
type Conv1 = Conv2dGeometry<1, 28, 28, 5, 1, 2>;
type Conv2 = Conv2dGeometry<6, 14, 14, 5, 1, 0>;
type Pool1 = Pool2dGeometry<6, 28, 28, 2, 2>;
type Pool2 = Pool2dGeometry<16, 10, 10, 2, 2>;

/// Multiply-adds ×2 of one LeNet training step per image: forward products,
/// weight gradients of every layer, input gradients of every layer but the
/// first convolution.
const STEP_FLOPS_PER_IMAGE: f64 = {
    let conv1 = 2.0 * 6.0 * 25.0 * 784.0;
    let conv2 = 2.0 * 16.0 * 150.0 * 100.0;
    let dense = 2.0 * (400.0 * 120.0 + 120.0 * 84.0 + 84.0 * 10.0);
    conv1 * 2.0 + conv2 * 3.0 + dense * 3.0
};

/// Seconds of CPU time of this thread: what a step costs even when other
/// programs share the cores (the machines these figures come from are
/// shared and noisy).
fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write into.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn time(mut step: impl FnMut(), iterations: usize) -> f64 {
    let start = thread_cpu_seconds();
    for _ in 0..iterations {
        step();
    }
    (thread_cpu_seconds() - start) / iterations as f64
}

fn filled<const R: usize, const C: usize>(seed: usize) -> Matrix<f32, R, C> {
    let mut m = Matrix::<f32, R, C>::zeros();
    for (i, v) in m.as_mut_slice().iter_mut().enumerate() {
        *v = ((i * 31 + seed * 7) % 23) as f32 / 11.5 - 1.0;
    }
    m
}

fn median_spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(|a, b| a.total_cmp(b));
    (
        values[values.len() / 2],
        values[0],
        values[values.len() - 1],
    )
}

type Case<'a> = (&'a str, f64, Box<dyn FnMut(usize) -> f64 + 'a>);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let measuring = args.iter().any(|a| a == "--bench");
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(if measuring { 7 } else { 1 });
    let filter = args
        .iter()
        .skip(1)
        .find(|a| !a.starts_with("--") && a.parse::<usize>().is_err());
    let scale = if measuring { 1.0 } else { 0.0 };
    let steps = |per_second: f64| ((per_second * 0.2 * scale) as usize).max(1);

    let mut net = LeNet::<f32>::new(1);
    let mut grads = net.gradients();
    let mut ws = net.workspace::<B>();
    let mut ws1 = net.workspace::<1>();
    let x = filled::<B, 784>(1);
    let x1 = filled::<1, 784>(2);
    let labels: Vec<usize> = (0..B).map(|i| (i * 7) % 10).collect();
    let y = ClassLabels::<B, 10>::from_slice(&labels).expect("labels below 10");

    // The pieces, on buffers of the workload's sizes.
    let w1 = filled::<6, 25>(3);
    let b1 = filled::<1, 6>(4);
    let mut p1 = Matrix::<f32, 1, { Conv1::PATCHES_PER_IMAGE }>::zeros();
    let mut scratch1 = Matrix::<f32, 1, { Conv1::scratch_len(6) }>::zeros();
    let mut scratch1f = Matrix::<f32, 1, { Conv1::scratch_len(6) }>::zeros();
    let mut scratch2f = Matrix::<f32, 1, { Conv2::scratch_len(16) }>::zeros();
    let mut y1 = Matrix::<f32, B, { 6 * 784 }>::zeros();
    let dy1 = filled::<B, { 6 * 784 }>(11);
    let mut dw1 = Matrix::<f32, 6, 25>::zeros();
    let mut db1 = Matrix::<f32, 1, 6>::zeros();
    let x2 = filled::<B, { 6 * 196 }>(5);
    let w2 = filled::<16, 150>(6);
    let b2 = filled::<1, 16>(7);
    let mut p2 = Matrix::<f32, 1, { Conv2::PATCHES_PER_IMAGE }>::zeros();
    let mut y2 = Matrix::<f32, B, 1600>::zeros();
    let dy2 = filled::<B, 1600>(8);
    let dy2b = filled::<B, 1600>(14);
    let mut dw2 = Matrix::<f32, 16, 150>::zeros();
    let mut db2 = Matrix::<f32, 1, 16>::zeros();
    let mut scratch2 = Matrix::<f32, 1, { Conv2::scratch_len(16) }>::zeros();
    let mut scratch2b = Matrix::<f32, 1, { Conv2::scratch_len(16) }>::zeros();
    let mut dx2 = Matrix::<f32, B, { 6 * 196 }>::zeros();
    let a1 = filled::<B, { 6 * 784 }>(9);
    let mut pooled1 = Matrix::<f32, B, { 6 * 196 }>::zeros();
    let dpooled1 = filled::<B, { 6 * 196 }>(12);
    let mut da1 = Matrix::<f32, B, { 6 * 784 }>::zeros();
    let a2 = filled::<B, 1600>(10);
    let mut pooled2 = Matrix::<f32, B, 400>::zeros();
    let dpooled2 = filled::<B, 400>(13);
    let mut da2 = Matrix::<f32, B, 1600>::zeros();
    Conv1::forward(&x, &w1, Some(&b1), &mut p1, &mut scratch1f, &mut y1);
    Conv2::forward(&x2, &w2, Some(&b2), &mut p2, &mut scratch2f, &mut y2);
    let (mut p1c, mut p2c) = (p1.clone(), p2.clone());

    let mut cases: Vec<Case> = vec![
        (
            "lenet step (B = 64)",
            1e2,
            Box::new(|n| {
                time(
                    || {
                        black_box(net.backward(black_box(&x), &y, &mut grads, &mut ws));
                        net.sgd_step(&grads, 1e-3);
                    },
                    n,
                )
            }),
        ),
        (
            "lenet inference (B = 1)",
            1e4,
            Box::new(|n| {
                let net = LeNet::<f32>::new(1);
                time(
                    || {
                        black_box(net.forward_with(black_box(&x1), &mut ws1)[(0, 0)]);
                    },
                    n,
                )
            }),
        ),
        (
            "conv1 forward",
            1e3,
            Box::new(|n| {
                time(
                    || Conv1::forward(&x, &w1, Some(&b1), &mut p1, &mut scratch1f, &mut y1),
                    n,
                )
            }),
        ),
        (
            "conv1 weight gradient",
            1e3,
            Box::new(|n| {
                time(
                    || {
                        Conv1::param_grads(
                            &dy1,
                            &x,
                            &mut p1c,
                            &mut scratch1,
                            &mut dw1,
                            Some(&mut db1),
                            false,
                        )
                    },
                    n,
                )
            }),
        ),
        (
            "conv2 forward",
            1e3,
            Box::new(|n| {
                time(
                    || Conv2::forward(&x2, &w2, Some(&b2), &mut p2, &mut scratch2f, &mut y2),
                    n,
                )
            }),
        ),
        (
            "conv2 weight gradient",
            1e3,
            Box::new(|n| {
                time(
                    || {
                        Conv2::param_grads(
                            &dy2,
                            &x2,
                            &mut p2c,
                            &mut scratch2b,
                            &mut dw2,
                            Some(&mut db2),
                            false,
                        )
                    },
                    n,
                )
            }),
        ),
        (
            "conv2 input gradient",
            1e3,
            Box::new(|n| {
                time(
                    || Conv2::input_grad(&dy2b, &w2, &mut scratch2, &mut dx2, false),
                    n,
                )
            }),
        ),
        (
            "pool1 max forward",
            1e4,
            Box::new(|n| time(|| Pool1::max_forward(&a1, &mut pooled1), n)),
        ),
        (
            "pool1 max backward",
            1e4,
            Box::new(|n| time(|| Pool1::max_backward(&a1, &dpooled1, &mut da1, false), n)),
        ),
        (
            "pool2 max forward",
            1e4,
            Box::new(|n| time(|| Pool2::max_forward(&a2, &mut pooled2), n)),
        ),
        (
            "pool2 max backward",
            1e4,
            Box::new(|n| time(|| Pool2::max_backward(&a2, &dpooled2, &mut da2, false), n)),
        ),
    ];
    if let Some(filter) = filter {
        cases.retain(|(name, _, _)| name.contains(filter.as_str()));
    }
    let mut seconds: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for _ in 0..rounds {
        for ((_, rate, case), times) in cases.iter_mut().zip(seconds.iter_mut()) {
            times.push(case(steps(*rate)));
        }
    }
    println!("conv, {rounds} interleaved rounds (median, min–max of the rounds):");
    for ((name, _, _), times) in cases.iter().zip(&seconds) {
        let (mid, lo, hi) = median_spread(times.clone());
        let extra = if name.starts_with("lenet step") {
            format!(
                "   {:.0} samples/s, {:.1} GFLOP/s",
                B as f64 / mid,
                STEP_FLOPS_PER_IMAGE * B as f64 / mid / 1e9
            )
        } else {
            String::new()
        };
        println!(
            "  {name:<26} {:>10.2} µs  ({:.2}–{:.2}){extra}",
            mid * 1e6,
            lo * 1e6,
            hi * 1e6
        );
    }
}
