//! The measurements behind `chainrule::dense::pays`: each of a dense
//! layer's three products (forward, weight gradient, input gradient) by the
//! small forms (`chainrule::small`) and by the kernels, over batches 1–64
//! and dimensions 2–32, f32, one thread, in interleaved rounds (every shape
//! and product once per round; medians of the rounds).
//!
//! `cargo bench --bench small_forms` prints a Markdown table per product:
//! the ratio small ÷ kernels, marked `*` where `pays` chooses the small
//! form, and the share of shapes where the choice is within 5% of the
//! faster of the two. `-- --rounds N` sets the rounds (default 3);
//! `cargo test --benches` runs one quick round.

use std::hint::black_box;
use std::time::Instant;

use chainrule::dense::{pays, Product};
use chainrule::{ops, rules, small, Matrix, RowVector};

const BATCHES: [usize; 6] = [1, 2, 4, 8, 16, 64];
const DIMS: [usize; 5] = [2, 4, 8, 16, 32];
const WIDE_DIMS: [usize; 4] = [64, 128, 256, 512];
const PRODUCTS: [Product; 3] = [Product::Forward, Product::WeightGrad, Product::InputGrad];

/// Nanoseconds per call: the median of 5 samples of about `sample_secs`.
fn time(sample_secs: f64, mut f: impl FnMut()) -> f64 {
    let mut n = 1u64;
    loop {
        let start = Instant::now();
        for _ in 0..n {
            f();
        }
        if start.elapsed().as_secs_f64() > sample_secs {
            break;
        }
        n *= 2;
    }
    let mut samples: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..n {
                f();
            }
            start.elapsed().as_secs_f64() / n as f64 * 1e9
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[2]
}

/// `(small, kernels)` nanoseconds of each product, in `PRODUCTS` order.
fn shape<const B: usize, const IN: usize, const OUT: usize>(secs: f64) -> [(f64, f64); 3] {
    let x = Matrix::<f32, B, IN>::from_fn(|i, j| ((i * 7 + j * 3) % 11) as f32 / 11.0 - 0.5);
    let w = Matrix::<f32, OUT, IN>::from_fn(|i, j| ((i * 5 + j * 3) % 13) as f32 / 13.0 - 0.5);
    let dz = Matrix::<f32, B, OUT>::from_fn(|i, j| ((i * 3 + j * 5) % 7) as f32 / 7.0 - 0.5);
    let b = RowVector::<f32, OUT>::zeros();
    let mut z = Matrix::<f32, B, OUT>::zeros();
    let mut dx = Matrix::<f32, B, IN>::zeros();
    let mut dw = Matrix::<f32, OUT, IN>::zeros();
    let mut db = RowVector::<f32, OUT>::zeros();
    let forward = (
        time(secs, || {
            small::forward(black_box(&x), black_box(&w), Some(&b), black_box(&mut z))
        }),
        time(secs, || {
            ops::matmul_t_bias_into(black_box(&x), black_box(&w), &b, black_box(&mut z))
        }),
    );
    let weight = (
        time(secs, || {
            small::weight_grad(
                black_box(&dz),
                black_box(&x),
                black_box(&mut dw),
                Some(&mut db),
            )
        }),
        time(secs, || {
            rules::rule5_weight_grad_into(black_box(&dz), black_box(&x), black_box(&mut dw));
            rules::bias_grad_into(black_box(&dz), black_box(&mut db));
        }),
    );
    let input = (
        time(secs, || {
            small::input_grad(black_box(&dz), black_box(&w), black_box(&mut dx))
        }),
        time(secs, || {
            rules::rule6_input_grad_into(black_box(&dz), black_box(&w), black_box(&mut dx))
        }),
    );
    [forward, weight, input]
}

/// One shape's `(B, IN, OUT)` and the `(small, kernels)` nanoseconds of each
/// product, in `PRODUCTS` order.
type Timed = (usize, usize, usize, [(f64, f64); 3]);

/// Every shape of the grid once.
fn round(secs: f64) -> Vec<Timed> {
    let mut out = Vec::new();
    macro_rules! outs {
        ($b:literal, $i:literal; $($o:literal)*) => { $( out.push(($b, $i, $o, shape::<$b, $i, $o>(secs))); )* };
    }
    macro_rules! ins {
        ($b:literal; $($i:literal)*) => { $( outs!($b, $i; 2 4 8 16 32); )* };
    }
    macro_rules! batches {
        ($($b:literal)*) => { $( ins!($b; 2 4 8 16 32); )* };
    }
    batches!(1 2 4 8 16 64);
    // One row through wider layers (beyond MAX_WEIGHTS).
    macro_rules! wide_outs {
        ($i:literal; $($o:literal)*) => { $( out.push((1, $i, $o, shape::<1, $i, $o>(secs))); )* };
    }
    macro_rules! wide {
        ($($i:literal)*) => { $( wide_outs!($i; 64 128 256 512); )* };
    }
    wide!(64 128 256 512);
    out
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo test --benches` passes no `--bench`: one quick round.
    let quick = !args.iter().any(|a| a == "--bench");
    let rounds = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(if quick { 1 } else { 3 });
    let secs = if quick { 0.0005 } else { 0.004 };
    let runs: Vec<_> = (0..rounds).map(|_| round(secs)).collect();

    for (p, product) in PRODUCTS.iter().enumerate() {
        table(&runs, p, *product, &BATCHES, &DIMS);
    }
    println!("\n## One row through wider layers\n");
    for (p, product) in PRODUCTS.iter().enumerate() {
        table(&runs, p, *product, &[1], &WIDE_DIMS);
    }
}

/// The Markdown table of one product over `batches` × `dims` × `dims`.
fn table(runs: &[Vec<Timed>], p: usize, product: Product, batches: &[usize], dims: &[usize]) {
    println!("\n### {product:?}: small ÷ kernels (`*`: pays chooses the small form)\n");
    print!("| B \\ IN×OUT |");
    for i in dims {
        for o in dims {
            print!(" {i}×{o} |");
        }
    }
    println!();
    println!("|{}", " --- |".repeat(dims.len() * dims.len() + 1));
    let (mut good, mut total, mut worst) = (0, 0, 1.0f64);
    for &b in batches {
        print!("| {b} |");
        for &i in dims {
            for &o in dims {
                let mut smalls = Vec::new();
                let mut kernels = Vec::new();
                for run in runs {
                    let entry = run.iter().find(|e| (e.0, e.1, e.2) == (b, i, o));
                    if let Some(&(_, _, _, t)) = entry {
                        smalls.push(t[p].0);
                        kernels.push(t[p].1);
                    }
                }
                let (s, k) = (median(&mut smalls), median(&mut kernels));
                let chosen_small = pays(product, b, i, o);
                let chosen = if chosen_small { s } else { k };
                let loss = chosen / s.min(k);
                worst = worst.max(loss);
                total += 1;
                good += usize::from(loss <= 1.05);
                print!(" {:.2}{} |", s / k, if chosen_small { "*" } else { "" });
            }
        }
        println!();
    }
    println!(
        "\n{product:?}: the choice is within 5% of the faster on {good} of {total} shapes; \
         at worst {worst:.2}× the faster."
    );
}
