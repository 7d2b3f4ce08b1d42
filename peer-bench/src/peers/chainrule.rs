//! chainrule: the networks of `benches/common/nets.rs`.

use std::hint::black_box;

use chainrule::{Matrix, Network};

use super::{Runner, Setup};
use crate::common::data::LEARNING_RATE;
use crate::common::nets;

struct Chainrule<
    N: Network<IN, OUT, Scalar = f32>,
    const IN: usize,
    const OUT: usize,
    const B: usize,
> {
    net: N,
    grads: N::Gradients,
    ws: N::Workspace<B>,
    ws1: N::Workspace<1>,
    x: Matrix<f32, B, IN>,
    y: Matrix<f32, B, OUT>,
    x1: Matrix<f32, 1, IN>,
}

impl<N, const IN: usize, const OUT: usize, const B: usize> Runner for Chainrule<N, IN, OUT, B>
where
    N: Network<IN, OUT, Scalar = f32>,
{
    fn step(&mut self) -> f32 {
        let loss = self
            .net
            .backward(black_box(&self.x), &self.y, &mut self.grads, &mut self.ws);
        self.net.sgd_step(&self.grads, LEARNING_RATE);
        loss
    }

    fn infer1(&mut self) -> f32 {
        self.net.forward_with(black_box(&self.x1), &mut self.ws1)[(0, 0)]
    }
}

fn runner<N, const IN: usize, const OUT: usize, const B: usize>(
    setup: &Setup<'_>,
) -> Box<dyn Runner>
where
    N: Network<IN, OUT, Scalar = f32> + 'static,
{
    let mut net = N::init(0);
    nets::load(&mut net, setup.params);
    Box::new(Chainrule::<N, IN, OUT, B> {
        grads: net.new_gradients(),
        ws: net.new_workspace::<B>(),
        ws1: net.new_workspace::<1>(),
        x: Matrix::from_slice(&setup.batch.x).expect("B × IN inputs"),
        y: Matrix::from_slice(&setup.batch.y).expect("B × OUT targets"),
        x1: Matrix::from_slice(&setup.batch.x[..IN]).expect("one row"),
        net,
    })
}

/// The chainrule runner for a workload.
pub fn build(setup: &Setup<'_>) -> Box<dyn Runner> {
    match setup.workload.name {
        "xor" => runner::<nets::Xor, 2, 1, 4>(setup),
        "iris" => runner::<nets::Iris, 4, 3, 16>(setup),
        "digits" => runner::<nets::Digits, 64, 10, 32>(setup),
        "mnist" => runner::<nets::Mnist, 784, 10, 64>(setup),
        "mnist3" => runner::<nets::Mnist3, 784, 10, 128>(setup),
        "lenet" => runner::<nets::LeNet, 784, 10, 64>(setup),
        "residual" => runner::<nets::Residual, 64, 10, 32>(setup),
        "policy" => runner::<nets::Policy, 24, 4, 64>(setup),
        other => panic!("unknown workload {other}"),
    }
}

/// chainrule's opt-in data-parallel step: two threads, half a batch each.
struct Parallel<N, const IN: usize, const OUT: usize, const B: usize, const H: usize>
where
    N: Network<IN, OUT, Scalar = f32>,
{
    trainer: chainrule::parallel::ParallelTrainer<N, IN, OUT, B, H>,
    one: Chainrule<N, IN, OUT, B>,
}

impl<N, const IN: usize, const OUT: usize, const B: usize, const H: usize> Runner
    for Parallel<N, IN, OUT, B, H>
where
    N: Network<IN, OUT, Scalar = f32> + Sync,
    N::Gradients: Send,
    N::Workspace<H>: Send,
{
    fn step(&mut self) -> f32 {
        let one = &mut self.one;
        let loss = self
            .trainer
            .backward(&one.net, black_box(&one.x), &one.y, &mut one.grads);
        one.net.sgd_step(&one.grads, LEARNING_RATE);
        loss
    }

    fn infer1(&mut self) -> f32 {
        self.one.infer1()
    }
}

fn parallel<N, const IN: usize, const OUT: usize, const B: usize, const H: usize>(
    setup: &Setup<'_>,
) -> Box<dyn Runner>
where
    N: Network<IN, OUT, Scalar = f32> + Sync + 'static,
    N::Gradients: Send,
    N::Workspace<H>: Send,
{
    let mut net = N::init(0);
    nets::load(&mut net, setup.params);
    Box::new(Parallel::<N, IN, OUT, B, H> {
        trainer: chainrule::parallel::ParallelTrainer::new(&net).expect("start the worker thread"),
        one: Chainrule::<N, IN, OUT, B> {
            grads: net.new_gradients(),
            ws: net.new_workspace::<B>(),
            ws1: net.new_workspace::<1>(),
            x: Matrix::from_slice(&setup.batch.x).expect("B × IN inputs"),
            y: Matrix::from_slice(&setup.batch.y).expect("B × OUT targets"),
            x1: Matrix::from_slice(&setup.batch.x[..IN]).expect("one row"),
            net,
        },
    })
}

/// The two-thread chainrule runner for a workload (time it with `--wall`).
pub fn build_parallel(setup: &Setup<'_>) -> Box<dyn Runner> {
    match setup.workload.name {
        "xor" => parallel::<nets::Xor, 2, 1, 4, 2>(setup),
        "iris" => parallel::<nets::Iris, 4, 3, 16, 8>(setup),
        "digits" => parallel::<nets::Digits, 64, 10, 32, 16>(setup),
        "mnist" => parallel::<nets::Mnist, 784, 10, 64, 32>(setup),
        "mnist3" => parallel::<nets::Mnist3, 784, 10, 128, 64>(setup),
        "lenet" => parallel::<nets::LeNet, 784, 10, 64, 32>(setup),
        "residual" => parallel::<nets::Residual, 64, 10, 32, 16>(setup),
        "policy" => parallel::<nets::Policy, 24, 4, 64, 32>(setup),
        other => panic!("unknown workload {other}"),
    }
}
