//! The opt-in data-parallel backward pass (`chainrule::parallel`, two halves
//! of the batch on two threads) against the single-thread backward pass, in
//! the same run, on the two large workloads of issue 5: mnist (784→128→10,
//! B = 64) and mnist3 (784→256→128→10, B = 128), f32.
//!
//! Three variants per workload, each one backward pass (forward, loss,
//! gradients) over the batch: `one_thread` (`Network::backward`),
//! `parallel` (`ParallelTrainer::backward`, the worker thread parked between
//! steps) and `parallel_spawning` (`ParallelTrainer::backward_spawning`, a
//! scoped thread spawned per step). The speed-up is the ratio of their
//! times. `cargo bench --bench parallel` measures; `cargo test --benches`
//! runs each once.

mod common;

use std::hint::black_box;
use std::time::Duration;

use chainrule::parallel::ParallelTrainer;
use chainrule::{Matrix, Network};
use common::data;
use common::nets;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn compare<N, const IN: usize, const OUT: usize, const B: usize, const H: usize>(
    c: &mut Criterion,
    name: &str,
) where
    N: Network<IN, OUT, Scalar = f32> + Sync,
    N::Gradients: Send,
    N::Workspace<H>: Send,
{
    let spec = data::workload(name);
    assert_eq!((spec.inputs(), spec.outputs(), spec.batch), (IN, OUT, B));
    let batch = spec.batch(B);
    let x = Matrix::<f32, B, IN>::from_slice(&batch.x).expect("B × IN inputs");
    let y = Matrix::<f32, B, OUT>::from_slice(&batch.y).expect("B × OUT targets");
    let mut net = N::init(0);
    nets::load(&mut net, &spec.initial_parameters());
    let mut grads = net.new_gradients();
    let mut ws = net.new_workspace::<B>();
    let mut trainer = ParallelTrainer::<N, IN, OUT, B, H>::new(&net).expect("a worker thread");

    let mut group = c.benchmark_group(format!("backward/{name}"));
    group.throughput(Throughput::Elements(B as u64));
    group.bench_function("one_thread", |bench| {
        bench.iter(|| net.backward(black_box(&x), &y, &mut grads, &mut ws))
    });
    group.bench_function("parallel", |bench| {
        bench.iter(|| trainer.backward(&net, black_box(&x), &y, &mut grads))
    });
    group.bench_function("parallel_spawning", |bench| {
        bench.iter(|| trainer.backward_spawning(&net, black_box(&x), &y, &mut grads))
    });
    group.finish();
}

fn parallel(c: &mut Criterion) {
    compare::<nets::Mnist, 784, 10, 64, 32>(c, "mnist");
    compare::<nets::Mnist3, 784, 10, 128, 64>(c, "mnist3");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = parallel
}
criterion_main!(benches);
