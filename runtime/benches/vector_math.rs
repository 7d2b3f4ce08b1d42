//! `kernels::exp_in_place` and `kernels::tanh_in_place` against the standard
//! library's scalar `exp` and `tanh`, on a 64×128 batch of activations.
//!
//! `cargo bench -p chainrule --bench vector_math`; criterion reports
//! elements per second for each.

use std::hint::black_box;
use std::time::Duration;

use chainrule::kernels;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const LEN: usize = 64 * 128;

fn inputs(scale: f32) -> Vec<f32> {
    (0..LEN)
        .map(|i| ((i * 37) % 1000) as f32 / 1000.0 * 2.0 * scale - scale)
        .collect()
}

/// A function: its name, the input range `[-scale, scale]`, the slice
/// version and the standard library's scalar one.
type Case = (&'static str, f32, fn(&mut [f32]), fn(f32) -> f32);

fn vector_math(c: &mut Criterion) {
    let cases: [Case; 2] = [
        ("exp", 20.0, kernels::exp_in_place, f32::exp),
        ("tanh", 5.0, kernels::tanh_in_place, f32::tanh),
    ];
    for (name, scale, vectorized, scalar) in cases {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(LEN as u64));
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        let source = inputs(scale);
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

criterion_group!(benches, vector_math);
criterion_main!(benches);
