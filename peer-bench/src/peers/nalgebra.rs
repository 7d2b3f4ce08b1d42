//! A hand-written network over nalgebra's statically sized `SMatrix`, as a
//! user of nalgebra would write it: samples as rows, `Z = X·Wᵀ + b`, BLAS-like
//! in-place products (`gemm`, `gemm_tr`), no heap allocation per step.
//! The large matrices are boxed; `Wᵀ` in the input gradient is a stack copy.

use std::hint::black_box;

use nalgebra::SMatrix;

use super::{Runner, Setup};
use crate::common::data::{Head, Hidden, Tensor, LEARNING_RATE};

type M<const R: usize, const C: usize> = SMatrix<f32, R, C>;

struct Layer<const IN: usize, const OUT: usize> {
    /// `IN × OUT`: `Z = X·wt + b`.
    wt: Box<M<IN, OUT>>,
    b: Box<M<1, OUT>>,
    gwt: Box<M<IN, OUT>>,
    gb: Box<M<1, OUT>>,
}

impl<const IN: usize, const OUT: usize> Layer<IN, OUT> {
    fn new(weight: &Tensor, bias: &Tensor) -> Self {
        Self {
            wt: Box::new(M::from_fn(|i, o| weight.data[o * IN + i])),
            b: Box::new(M::from_row_slice(&bias.data)),
            gwt: Box::new(M::zeros()),
            gb: Box::new(M::zeros()),
        }
    }

    fn forward<const R: usize>(&self, x: &M<R, IN>, z: &mut M<R, OUT>) {
        z.gemm(1.0, x, &self.wt, 0.0);
        for (mut column, &b) in z.column_iter_mut().zip(self.b.iter()) {
            column.add_scalar_mut(b);
        }
    }

    fn backward<const R: usize>(&mut self, x: &M<R, IN>, dz: &M<R, OUT>) {
        self.gwt.gemm_tr(1.0, x, dz, 0.0);
        *self.gb = dz.row_sum();
    }

    fn input_gradient<const R: usize>(&self, dz: &M<R, OUT>, dx: &mut M<R, IN>) {
        dx.gemm(1.0, dz, &self.wt.transpose(), 0.0);
    }

    fn sgd(&mut self, lr: f32) {
        self.wt.zip_apply(&*self.gwt, |w, g| *w -= lr * g);
        self.b.zip_apply(&*self.gb, |b, g| *b -= lr * g);
    }
}

fn activate<const R: usize, const C: usize>(hidden: Hidden, a: &mut M<R, C>) {
    match hidden {
        Hidden::Tanh => a.apply(|v| *v = v.tanh()),
        Hidden::Relu => a.apply(|v| *v = v.max(0.0)),
    }
}

fn activate_backward<const R: usize, const C: usize>(
    hidden: Hidden,
    a: &M<R, C>,
    da: &mut M<R, C>,
) {
    match hidden {
        Hidden::Tanh => da.zip_apply(a, |d, a| *d *= 1.0 - a * a),
        Hidden::Relu => da.zip_apply(a, |d, a| {
            if a <= 0.0 {
                *d = 0.0
            }
        }),
    }
}

fn head_forward<const R: usize, const C: usize>(head: Head, z: &mut M<R, C>) {
    match head {
        Head::SigmoidBce => z.apply(|v| *v = 1.0 / (1.0 + (-*v).exp())),
        Head::SoftmaxCe => {
            for mut row in z.row_iter_mut() {
                let max = row.max();
                row.apply(|v| *v = (*v - max).exp());
                let sum = row.sum();
                row /= sum;
            }
        }
    }
}

/// The loss and the fused gradient `dz` of the logits `z`.
fn head_loss<const R: usize, const C: usize>(
    head: Head,
    z: &M<R, C>,
    y: &M<R, C>,
    dz: &mut M<R, C>,
) -> f32 {
    match head {
        Head::SigmoidBce => {
            let scale = 1.0 / (R * C) as f32;
            let mut loss = 0.0;
            for ((d, &z), &y) in dz.iter_mut().zip(z.iter()).zip(y.iter()) {
                let e = (-z.abs()).exp();
                loss += z.max(0.0) - z * y + e.ln_1p();
                let s = if z >= 0.0 {
                    1.0 / (1.0 + e)
                } else {
                    e / (1.0 + e)
                };
                *d = (s - y) * scale;
            }
            loss * scale
        }
        Head::SoftmaxCe => {
            let scale = 1.0 / R as f32;
            let mut loss = 0.0;
            for r in 0..R {
                let (z, y) = (z.row(r), y.row(r));
                let max = z.max();
                let sum: f32 = z.iter().map(|&v| (v - max).exp()).sum();
                let log_sum = sum.ln() + max;
                for c in 0..C {
                    loss += y[c] * (log_sum - z[c]);
                    dz[(r, c)] = ((z[c] - log_sum).exp() - y[c]) * scale;
                }
            }
            loss * scale
        }
    }
}

struct Mlp1<const IN: usize, const H: usize, const OUT: usize, const B: usize> {
    hidden: Hidden,
    head: Head,
    l1: Layer<IN, H>,
    l2: Layer<H, OUT>,
    x: Box<M<B, IN>>,
    y: Box<M<B, OUT>>,
    a1: Box<M<B, H>>,
    z2: Box<M<B, OUT>>,
    dz2: Box<M<B, OUT>>,
    da1: Box<M<B, H>>,
    x_1: Box<M<1, IN>>,
    a1_1: Box<M<1, H>>,
    z2_1: Box<M<1, OUT>>,
}

impl<const IN: usize, const H: usize, const OUT: usize, const B: usize> Runner
    for Mlp1<IN, H, OUT, B>
{
    fn step(&mut self) -> f32 {
        self.l1.forward(black_box(&*self.x), &mut self.a1);
        activate(self.hidden, &mut *self.a1);
        self.l2.forward(&self.a1, &mut self.z2);
        let loss = head_loss(self.head, &self.z2, &self.y, &mut self.dz2);
        self.l2.backward(&self.a1, &self.dz2);
        self.l2.input_gradient(&self.dz2, &mut self.da1);
        activate_backward(self.hidden, &self.a1, &mut self.da1);
        self.l1.backward(&self.x, &self.da1);
        self.l1.sgd(LEARNING_RATE);
        self.l2.sgd(LEARNING_RATE);
        loss
    }

    fn infer1(&mut self) -> f32 {
        self.l1.forward(black_box(&*self.x_1), &mut self.a1_1);
        activate(self.hidden, &mut *self.a1_1);
        self.l2.forward(&self.a1_1, &mut self.z2_1);
        head_forward(self.head, &mut *self.z2_1);
        self.z2_1[0]
    }
}

struct Mlp2<const IN: usize, const H1: usize, const H2: usize, const OUT: usize, const B: usize> {
    hidden: Hidden,
    head: Head,
    l1: Layer<IN, H1>,
    l2: Layer<H1, H2>,
    l3: Layer<H2, OUT>,
    x: Box<M<B, IN>>,
    y: Box<M<B, OUT>>,
    a1: Box<M<B, H1>>,
    a2: Box<M<B, H2>>,
    z3: Box<M<B, OUT>>,
    dz3: Box<M<B, OUT>>,
    da2: Box<M<B, H2>>,
    da1: Box<M<B, H1>>,
    x_1: Box<M<1, IN>>,
    a1_1: Box<M<1, H1>>,
    a2_1: Box<M<1, H2>>,
    z3_1: Box<M<1, OUT>>,
}

impl<const IN: usize, const H1: usize, const H2: usize, const OUT: usize, const B: usize> Runner
    for Mlp2<IN, H1, H2, OUT, B>
{
    fn step(&mut self) -> f32 {
        self.l1.forward(black_box(&*self.x), &mut self.a1);
        activate(self.hidden, &mut *self.a1);
        self.l2.forward(&self.a1, &mut self.a2);
        activate(self.hidden, &mut *self.a2);
        self.l3.forward(&self.a2, &mut self.z3);
        let loss = head_loss(self.head, &self.z3, &self.y, &mut self.dz3);
        self.l3.backward(&self.a2, &self.dz3);
        self.l3.input_gradient(&self.dz3, &mut self.da2);
        activate_backward(self.hidden, &self.a2, &mut self.da2);
        self.l2.backward(&self.a1, &self.da2);
        self.l2.input_gradient(&self.da2, &mut self.da1);
        activate_backward(self.hidden, &self.a1, &mut self.da1);
        self.l1.backward(&self.x, &self.da1);
        self.l1.sgd(LEARNING_RATE);
        self.l2.sgd(LEARNING_RATE);
        self.l3.sgd(LEARNING_RATE);
        loss
    }

    fn infer1(&mut self) -> f32 {
        self.l1.forward(black_box(&*self.x_1), &mut self.a1_1);
        activate(self.hidden, &mut *self.a1_1);
        self.l2.forward(&self.a1_1, &mut self.a2_1);
        activate(self.hidden, &mut *self.a2_1);
        self.l3.forward(&self.a2_1, &mut self.z3_1);
        head_forward(self.head, &mut *self.z3_1);
        self.z3_1[0]
    }
}

fn mlp1<const IN: usize, const H: usize, const OUT: usize, const B: usize>(
    setup: &Setup<'_>,
) -> Box<dyn Runner> {
    let (w, p) = (setup.workload, setup.params);
    Box::new(Mlp1::<IN, H, OUT, B> {
        hidden: w.hidden,
        head: w.head,
        l1: Layer::new(&p[0], &p[1]),
        l2: Layer::new(&p[2], &p[3]),
        x: Box::new(M::from_row_slice(&setup.batch.x)),
        y: Box::new(M::from_row_slice(&setup.batch.y)),
        a1: Box::new(M::zeros()),
        z2: Box::new(M::zeros()),
        dz2: Box::new(M::zeros()),
        da1: Box::new(M::zeros()),
        x_1: Box::new(M::from_row_slice(&setup.batch.x[..IN])),
        a1_1: Box::new(M::zeros()),
        z2_1: Box::new(M::zeros()),
    })
}

fn mlp2<const IN: usize, const H1: usize, const H2: usize, const OUT: usize, const B: usize>(
    setup: &Setup<'_>,
) -> Box<dyn Runner> {
    let (w, p) = (setup.workload, setup.params);
    Box::new(Mlp2::<IN, H1, H2, OUT, B> {
        hidden: w.hidden,
        head: w.head,
        l1: Layer::new(&p[0], &p[1]),
        l2: Layer::new(&p[2], &p[3]),
        l3: Layer::new(&p[4], &p[5]),
        x: Box::new(M::from_row_slice(&setup.batch.x)),
        y: Box::new(M::from_row_slice(&setup.batch.y)),
        a1: Box::new(M::zeros()),
        a2: Box::new(M::zeros()),
        z3: Box::new(M::zeros()),
        dz3: Box::new(M::zeros()),
        da2: Box::new(M::zeros()),
        da1: Box::new(M::zeros()),
        x_1: Box::new(M::from_row_slice(&setup.batch.x[..IN])),
        a1_1: Box::new(M::zeros()),
        a2_1: Box::new(M::zeros()),
        z3_1: Box::new(M::zeros()),
    })
}

/// The nalgebra runner for a workload.
pub fn build(setup: &Setup<'_>) -> Box<dyn Runner> {
    match setup.workload.name {
        "xor" => mlp1::<2, 8, 1, 4>(setup),
        "iris" => mlp1::<4, 16, 3, 16>(setup),
        "digits" => mlp1::<64, 32, 10, 32>(setup),
        "mnist" => mlp1::<784, 128, 10, 64>(setup),
        "mnist3" => mlp2::<784, 256, 128, 10, 128>(setup),
        "policy" => mlp2::<24, 64, 64, 4, 64>(setup),
        other => panic!("unknown workload {other}"),
    }
}
