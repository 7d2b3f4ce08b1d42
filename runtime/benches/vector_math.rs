//! The f32 slice kernels and the fused losses against the standard library,
//! each baseline measured in the same run:
//! - `exp`, `tanh`, `sigmoid`, `ln` on a 64×128 batch of activations:
//!   `kernels::*_in_place` against the scalar `f32` functions per entry;
//! - `softmax_ce/B×N`: [`losses::softmax_cross_entropy`] (softmax, loss
//!   and gradient from logits) at the shapes of digits (32×10), iris (16×3)
//!   and mnist (64×10), against the same pass with std `exp`/`ln` per entry,
//!   once with each `exp` computed once (`std_one_pass`) and once as the
//!   runtime did before (`std_two_pass`: softmax, then a log-sum-exp per row
//!   that computes the exps again);
//! - `sigmoid_bce/B×1`: [`losses::sigmoid_binary_cross_entropy`] at the
//!   xor shape (4×1) and 64×1 against the per-entry std form.
//!
//! `cargo bench -p chainrule --bench vector_math`; criterion reports
//! elements per second for each; the ratio of `chainrule` to a baseline of
//! the same group is the speed-up.

use std::hint::black_box;
use std::time::Duration;

use chainrule::losses::{sigmoid_binary_cross_entropy, softmax_cross_entropy};
use chainrule::{kernels, ClassLabels, Matrix};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};

const LEN: usize = 64 * 128;

fn inputs(lo: f32, hi: f32, len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| lo + ((i * 37) % 1000) as f32 / 1000.0 * (hi - lo))
        .collect()
}

fn configure<M: criterion::measurement::Measurement>(group: &mut BenchmarkGroup<'_, M>) {
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
}

/// The logistic function per entry, stable, with std's `exp`.
fn sigmoid_std(z: f32) -> f32 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// A function: its name, the input range, the slice version and the
/// standard library's scalar one.
type Case = (&'static str, f32, f32, fn(&mut [f32]), fn(f32) -> f32);

fn vector_math(c: &mut Criterion) {
    let cases: [Case; 4] = [
        ("exp", -20.0, 20.0, kernels::exp_in_place, f32::exp),
        ("tanh", -5.0, 5.0, kernels::tanh_in_place, f32::tanh),
        (
            "sigmoid",
            -20.0,
            20.0,
            kernels::sigmoid_in_place,
            sigmoid_std,
        ),
        ("ln", 1e-3, 100.0, kernels::ln_in_place, f32::ln),
    ];
    for (name, lo, hi, vectorized, scalar) in cases {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(LEN as u64));
        configure(&mut group);
        let source = inputs(lo, hi, LEN);
        let mut values = source.clone();
        group.bench_function("chainrule", |b| {
            b.iter(|| {
                values.copy_from_slice(&source);
                vectorized(black_box(&mut values));
            })
        });
        group.bench_function("std", |b| {
            b.iter(|| {
                values.copy_from_slice(&source);
                for v in black_box(&mut values).iter_mut() {
                    *v = scalar(*v);
                }
            })
        });
        group.finish();
    }
}

/// Softmax + cross-entropy with class labels, per entry with std `exp`/`ln`;
/// with `twice`, the exps are computed again for the log-sum-exp, as the
/// runtime did before its slice kernels.
fn softmax_ce_std<const B: usize, const N: usize>(
    z: &Matrix<f32, B, N>,
    labels: &[usize; B],
    a: &mut Matrix<f32, B, N>,
    g: &mut Matrix<f32, B, N>,
    twice: bool,
) -> f32 {
    let inv = 1.0 / B as f32;
    let mut total = 0.0;
    for (i, &c) in labels.iter().enumerate() {
        let z_row = z.row(i);
        let max = z_row.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
        let a_row = a.row_mut(i);
        let mut sum = 0.0;
        for (a, &z) in a_row.iter_mut().zip(z_row) {
            *a = (z - max).exp();
            sum += *a;
        }
        for a in a_row.iter_mut() {
            *a /= sum;
        }
        if twice {
            sum = z_row.iter().map(|&z| (z - max).exp()).sum();
        }
        total += max + sum.ln() - z_row[c];
        let g_row = g.row_mut(i);
        for (g, &a) in g_row.iter_mut().zip(a.row(i)) {
            *g = a * inv;
        }
        g_row[c] -= inv;
    }
    total * inv
}

fn softmax_ce_shape<const B: usize, const N: usize>(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("softmax_ce/{B}x{N}"));
    group.throughput(Throughput::Elements((B * N) as u64));
    configure(&mut group);
    let source = inputs(-6.0, 6.0, B * N);
    let z = Matrix::<f32, B, N>::from_slice(&source).expect("B·N logits");
    let label_list: Vec<usize> = (0..B).map(|i| (i * 7) % N).collect();
    let labels = ClassLabels::<B, N>::from_slice(&label_list).expect("labels below N");
    let mut a = Matrix::zeros();
    let mut g = Matrix::zeros();
    group.bench_function("chainrule", |b| {
        b.iter(|| softmax_cross_entropy(black_box(&z), &labels, &mut a, Some(&mut g)))
    });
    for (name, twice) in [("std_one_pass", false), ("std_two_pass", true)] {
        group.bench_function(name, |b| {
            b.iter(|| softmax_ce_std(black_box(&z), labels.as_array(), &mut a, &mut g, twice))
        });
    }
    group.finish();
}

/// Sigmoid + binary cross-entropy per entry with std `exp`/`ln_1p`.
fn sigmoid_bce_std<const B: usize, const N: usize>(
    z: &Matrix<f32, B, N>,
    y: &Matrix<f32, B, N>,
    a: &mut Matrix<f32, B, N>,
    g: &mut Matrix<f32, B, N>,
) -> f32 {
    let inv = 1.0 / (B * N) as f32;
    let mut total = 0.0;
    let entries = z.as_slice().iter().zip(y.as_slice());
    let outputs = a.as_mut_slice().iter_mut().zip(g.as_mut_slice());
    for ((&z, &t), (a, g)) in entries.zip(outputs) {
        total += z.max(0.0) - z * t + (-z.abs()).exp().ln_1p();
        *a = sigmoid_std(z);
        *g = (*a - t) * inv;
    }
    total * inv
}

fn sigmoid_bce_shape<const B: usize>(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("sigmoid_bce/{B}x1"));
    group.throughput(Throughput::Elements(B as u64));
    configure(&mut group);
    let z = Matrix::<f32, B, 1>::from_slice(&inputs(-6.0, 6.0, B)).expect("B logits");
    let y = Matrix::<f32, B, 1>::from_fn(|i, _| (i % 2) as f32);
    let mut a = Matrix::zeros();
    let mut g = Matrix::zeros();
    group.bench_function("chainrule", |b| {
        b.iter(|| sigmoid_binary_cross_entropy(black_box(&z), &y, &mut a, Some(&mut g)))
    });
    group.bench_function("std", |b| {
        b.iter(|| sigmoid_bce_std(black_box(&z), &y, &mut a, &mut g))
    });
    group.finish();
}

fn losses(c: &mut Criterion) {
    softmax_ce_shape::<16, 3>(c);
    softmax_ce_shape::<32, 10>(c);
    softmax_ce_shape::<64, 10>(c);
    sigmoid_bce_shape::<4>(c);
    sigmoid_bce_shape::<64>(c);
}

criterion_group!(benches, vector_math, losses);
criterion_main!(benches);
