//! The five workloads of issue 5, one training step (forward, loss,
//! backward, plain SGD) and batch-1 inference, for chainrule and for the
//! hand-written plain-loop baseline measured in the same run.
//!
//! `cargo bench --bench workloads` measures; `cargo test --benches` runs each
//! benchmark once (the CI smoke mode). Throughput is reported in samples/s.
//! The side-by-side comparison with other libraries is `peer-bench/`.

mod common;

use std::hint::black_box;
use std::time::Duration;

use chainrule::{Matrix, Network};
use common::data::{self, LEARNING_RATE};
use common::handwritten::{self, Model};
use common::nets;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Benchmarks one workload: network `N` against the hand-written `H`.
fn workload<N, H, const IN: usize, const OUT: usize, const B: usize>(c: &mut Criterion, name: &str)
where
    N: Network<IN, OUT, Scalar = f32>,
    H: Model,
{
    let spec = data::workload(name);
    assert_eq!((spec.inputs(), spec.outputs(), spec.batch), (IN, OUT, B));
    let batch = spec.batch(B);
    let params = spec.initial_parameters();
    let x = Matrix::<f32, B, IN>::from_slice(&batch.x).expect("B × IN inputs");
    let y = Matrix::<f32, B, OUT>::from_slice(&batch.y).expect("B × OUT targets");
    let x1 = Matrix::<f32, 1, IN>::from_slice(&batch.x[..IN]).expect("one row");

    let mut net = N::init(0);
    nets::load(&mut net, &params);
    let mut grads = net.new_gradients();
    let mut ws = net.new_workspace::<B>();
    let mut ws1 = net.new_workspace::<1>();
    let mut hand = H::build(spec.hidden, spec.head, &params);

    let mut group = c.benchmark_group(format!("train/{name}"));
    group.throughput(Throughput::Elements(B as u64));
    group.bench_function("chainrule", |bench| {
        bench.iter(|| {
            let loss = net.backward(black_box(&x), &y, &mut grads, &mut ws);
            net.sgd_step(&grads, LEARNING_RATE);
            loss
        })
    });
    group.bench_function("handwritten", |bench| {
        bench.iter(|| hand.step(black_box(&batch.x), &batch.y, LEARNING_RATE))
    });
    group.finish();

    let mut group = c.benchmark_group(format!("infer1/{name}"));
    group.throughput(Throughput::Elements(1));
    group.bench_function("chainrule", |bench| {
        bench.iter(|| net.forward_with(black_box(&x1), &mut ws1)[(0, 0)])
    });
    group.bench_function("handwritten", |bench| {
        bench.iter(|| hand.predict(1, black_box(&batch.x[..IN]))[0])
    });
    group.finish();
}

fn workloads(c: &mut Criterion) {
    use handwritten::{Mlp1, Mlp2};
    workload::<nets::Xor, Mlp1<2, 8, 1, 4>, 2, 1, 4>(c, "xor");
    workload::<nets::Iris, Mlp1<4, 16, 3, 16>, 4, 3, 16>(c, "iris");
    workload::<nets::Digits, Mlp1<64, 32, 10, 32>, 64, 10, 32>(c, "digits");
    workload::<nets::Mnist, Mlp1<784, 128, 10, 64>, 784, 10, 64>(c, "mnist");
    workload::<nets::Mnist3, Mlp2<784, 256, 128, 10, 128>, 784, 10, 128>(c, "mnist3");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = workloads
}
criterion_main!(benches);
