//! The hand-written baseline: a multilayer perceptron in plain Rust loops over
//! `f32` slices, every dimension a const generic, nothing allocated per step.
//! Written the way a careful person would without a library: weights stored
//! input-major (`in × out`) so the forward pass and the weight gradient are
//! axpy loops along the output dimension, which LLVM vectorizes.

use super::data::{Head, Hidden, Tensor};

/// A dense layer, weights stored `IN × OUT` (the transpose of PyTorch's).
#[derive(Clone)]
pub struct Dense<const IN: usize, const OUT: usize> {
    /// `w[i·OUT + o]`.
    pub w: Box<[f32]>,
    /// `b[o]`.
    pub b: Box<[f32]>,
}

#[inline(always)]
fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += alpha * x;
    }
}

#[inline(always)]
fn dot(x: &[f32], y: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
    let tail: f32 = xc
        .remainder()
        .iter()
        .zip(yc.remainder())
        .map(|(a, b)| a * b)
        .sum();
    for (a, b) in xc.zip(yc) {
        for l in 0..8 {
            acc[l] += a[l] * b[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

impl<const IN: usize, const OUT: usize> Dense<IN, OUT> {
    /// All zeros (a gradient buffer).
    pub fn zeros() -> Self {
        Self {
            w: vec![0.0; IN * OUT].into_boxed_slice(),
            b: vec![0.0; OUT].into_boxed_slice(),
        }
    }

    /// From PyTorch-layout tensors (`weight [OUT, IN]`, `bias [OUT]`).
    pub fn from_tensors(weight: &Tensor, bias: &Tensor) -> Self {
        assert_eq!(weight.shape, [OUT, IN]);
        assert_eq!(bias.shape, [OUT]);
        let mut layer = Self::zeros();
        for o in 0..OUT {
            for i in 0..IN {
                layer.w[i * OUT + o] = weight.data[o * IN + i];
            }
        }
        layer.b.copy_from_slice(&bias.data);
        layer
    }

    /// `z = x·W + 1·bᵀ` over `rows` rows.
    #[inline]
    pub fn forward(&self, rows: usize, x: &[f32], z: &mut [f32]) {
        for (z, x) in z.chunks_exact_mut(OUT).zip(x.chunks_exact(IN)).take(rows) {
            z.copy_from_slice(&self.b);
            for (&xi, w) in x.iter().zip(self.w.chunks_exact(OUT)) {
                axpy(xi, w, z);
            }
        }
    }

    /// Given `dz` (`rows × OUT`), writes the gradients into `grad` and, when
    /// asked, `dx = dz·Wᵀ` (`rows × IN`).
    #[inline]
    pub fn backward(
        &self,
        rows: usize,
        x: &[f32],
        dz: &[f32],
        grad: &mut Self,
        dx: Option<&mut [f32]>,
    ) {
        grad.b.fill(0.0);
        for dz in dz.chunks_exact(OUT).take(rows) {
            axpy(1.0, dz, &mut grad.b);
        }
        for (i, gw) in grad.w.chunks_exact_mut(OUT).enumerate() {
            gw.fill(0.0);
            for (x, dz) in x.chunks_exact(IN).zip(dz.chunks_exact(OUT)).take(rows) {
                axpy(x[i], dz, gw);
            }
        }
        if let Some(dx) = dx {
            for (dx, dz) in dx.chunks_exact_mut(IN).zip(dz.chunks_exact(OUT)).take(rows) {
                for (dxi, w) in dx.iter_mut().zip(self.w.chunks_exact(OUT)) {
                    *dxi = dot(w, dz);
                }
            }
        }
    }

    /// `θ ← θ − lr·∂l/∂θ`.
    #[inline]
    pub fn sgd(&mut self, grad: &Self, lr: f32) {
        axpy(-lr, &grad.w, &mut self.w);
        axpy(-lr, &grad.b, &mut self.b);
    }
}

/// `a ← f(a)` in place for the hidden activation.
#[inline]
fn activate(hidden: Hidden, a: &mut [f32]) {
    match hidden {
        Hidden::Tanh => a.iter_mut().for_each(|a| *a = a.tanh()),
        Hidden::Relu => a.iter_mut().for_each(|a| *a = a.max(0.0)),
    }
}

/// `da ← da ⊗ f′(z)` (rule 7), from the activation `a = f(z)`.
#[inline]
fn activate_backward(hidden: Hidden, a: &[f32], da: &mut [f32]) {
    match hidden {
        Hidden::Tanh => da.iter_mut().zip(a).for_each(|(d, a)| *d *= 1.0 - a * a),
        Hidden::Relu => da
            .iter_mut()
            .zip(a)
            .for_each(|(d, &a)| *d = if a > 0.0 { *d } else { 0.0 }),
    }
}

/// `z ← output activation(z)` in place, row by row (`n` outputs a row).
#[inline]
fn head_forward(head: Head, n: usize, z: &mut [f32]) {
    match head {
        Head::SigmoidBce => z.iter_mut().for_each(|z| *z = 1.0 / (1.0 + (-*z).exp())),
        Head::SoftmaxCe => {
            for z in z.chunks_exact_mut(n) {
                let max = z.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                let mut sum = 0.0;
                for z in z.iter_mut() {
                    *z = (*z - max).exp();
                    sum += *z;
                }
                let inv = 1.0 / sum;
                z.iter_mut().for_each(|z| *z *= inv);
            }
        }
    }
}

/// The loss of the logits `z` (`rows × n`) against `y`, and `dz = ∂l/∂z`
/// (the fused logits forms: (σ(z) − y)/(B·N) and (softmax(z) − y)/B).
#[inline]
fn head_loss(head: Head, rows: usize, n: usize, z: &[f32], y: &[f32], dz: &mut [f32]) -> f32 {
    match head {
        Head::SigmoidBce => {
            let scale = 1.0 / (rows * n) as f32;
            let mut loss = 0.0;
            for ((d, &z), &y) in dz.iter_mut().zip(z).zip(y).take(rows * n) {
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
            let scale = 1.0 / rows as f32;
            let mut loss = 0.0;
            for ((d, z), y) in dz
                .chunks_exact_mut(n)
                .zip(z.chunks_exact(n))
                .zip(y.chunks_exact(n))
                .take(rows)
            {
                let max = z.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                let mut sum = 0.0;
                for (d, &z) in d.iter_mut().zip(z) {
                    *d = (z - max).exp();
                    sum += *d;
                }
                let (inv, log_sum) = (1.0 / sum, sum.ln() + max);
                for ((d, &z), &y) in d.iter_mut().zip(z).zip(y) {
                    loss += y * (log_sum - z);
                    *d = (*d * inv - y) * scale;
                }
            }
            loss * scale
        }
    }
}

/// One hidden layer, `IN → H → OUT`, for batches of up to `B` rows.
pub struct Mlp1<const IN: usize, const H: usize, const OUT: usize, const B: usize> {
    hidden: Hidden,
    head: Head,
    l1: Dense<IN, H>,
    l2: Dense<H, OUT>,
    g1: Dense<IN, H>,
    g2: Dense<H, OUT>,
    a1: Box<[f32]>,
    z2: Box<[f32]>,
    dz2: Box<[f32]>,
    da1: Box<[f32]>,
}

impl<const IN: usize, const H: usize, const OUT: usize, const B: usize> Mlp1<IN, H, OUT, B> {
    /// The network with these PyTorch-layout parameters (`l1.weight, l1.bias, …`).
    pub fn new(hidden: Hidden, head: Head, params: &[Tensor]) -> Self {
        Self {
            hidden,
            head,
            l1: Dense::from_tensors(&params[0], &params[1]),
            l2: Dense::from_tensors(&params[2], &params[3]),
            g1: Dense::zeros(),
            g2: Dense::zeros(),
            a1: vec![0.0; B * H].into_boxed_slice(),
            z2: vec![0.0; B * OUT].into_boxed_slice(),
            dz2: vec![0.0; B * OUT].into_boxed_slice(),
            da1: vec![0.0; B * H].into_boxed_slice(),
        }
    }

    fn logits(&mut self, rows: usize, x: &[f32]) {
        self.l1.forward(rows, x, &mut self.a1);
        activate(self.hidden, &mut self.a1[..rows * H]);
        self.l2.forward(rows, &self.a1, &mut self.z2);
    }

    /// The outputs (after the output activation) for `rows ≤ B` rows.
    pub fn forward(&mut self, rows: usize, x: &[f32]) -> &[f32] {
        self.logits(rows, x);
        head_forward(self.head, OUT, &mut self.z2[..rows * OUT]);
        &self.z2[..rows * OUT]
    }

    /// The loss of a batch of `B` rows, without a step.
    pub fn loss(&mut self, x: &[f32], y: &[f32]) -> f32 {
        self.logits(B, x);
        head_loss(self.head, B, OUT, &self.z2, y, &mut self.dz2)
    }

    /// One training step on `B` rows: forward, loss, backward, SGD. Returns the loss.
    pub fn train_step(&mut self, x: &[f32], y: &[f32], lr: f32) -> f32 {
        let loss = self.loss(x, y);
        self.l2
            .backward(B, &self.a1, &self.dz2, &mut self.g2, Some(&mut self.da1));
        activate_backward(self.hidden, &self.a1, &mut self.da1);
        self.l1.backward(B, x, &self.da1, &mut self.g1, None);
        self.l1.sgd(&self.g1, lr);
        self.l2.sgd(&self.g2, lr);
        loss
    }
}

/// Two hidden layers, `IN → H1 → H2 → OUT`, for batches of up to `B` rows.
pub struct Mlp2<const IN: usize, const H1: usize, const H2: usize, const OUT: usize, const B: usize>
{
    hidden: Hidden,
    head: Head,
    l1: Dense<IN, H1>,
    l2: Dense<H1, H2>,
    l3: Dense<H2, OUT>,
    g1: Dense<IN, H1>,
    g2: Dense<H1, H2>,
    g3: Dense<H2, OUT>,
    a1: Box<[f32]>,
    a2: Box<[f32]>,
    z3: Box<[f32]>,
    dz3: Box<[f32]>,
    da2: Box<[f32]>,
    da1: Box<[f32]>,
}

impl<const IN: usize, const H1: usize, const H2: usize, const OUT: usize, const B: usize>
    Mlp2<IN, H1, H2, OUT, B>
{
    /// The network with these PyTorch-layout parameters (`l1.weight, l1.bias, …`).
    pub fn new(hidden: Hidden, head: Head, params: &[Tensor]) -> Self {
        Self {
            hidden,
            head,
            l1: Dense::from_tensors(&params[0], &params[1]),
            l2: Dense::from_tensors(&params[2], &params[3]),
            l3: Dense::from_tensors(&params[4], &params[5]),
            g1: Dense::zeros(),
            g2: Dense::zeros(),
            g3: Dense::zeros(),
            a1: vec![0.0; B * H1].into_boxed_slice(),
            a2: vec![0.0; B * H2].into_boxed_slice(),
            z3: vec![0.0; B * OUT].into_boxed_slice(),
            dz3: vec![0.0; B * OUT].into_boxed_slice(),
            da2: vec![0.0; B * H2].into_boxed_slice(),
            da1: vec![0.0; B * H1].into_boxed_slice(),
        }
    }

    fn logits(&mut self, rows: usize, x: &[f32]) {
        self.l1.forward(rows, x, &mut self.a1);
        activate(self.hidden, &mut self.a1[..rows * H1]);
        self.l2.forward(rows, &self.a1, &mut self.a2);
        activate(self.hidden, &mut self.a2[..rows * H2]);
        self.l3.forward(rows, &self.a2, &mut self.z3);
    }

    /// The outputs (after the output activation) for `rows ≤ B` rows.
    pub fn forward(&mut self, rows: usize, x: &[f32]) -> &[f32] {
        self.logits(rows, x);
        head_forward(self.head, OUT, &mut self.z3[..rows * OUT]);
        &self.z3[..rows * OUT]
    }

    /// The loss of a batch of `B` rows, without a step.
    pub fn loss(&mut self, x: &[f32], y: &[f32]) -> f32 {
        self.logits(B, x);
        head_loss(self.head, B, OUT, &self.z3, y, &mut self.dz3)
    }

    /// One training step on `B` rows: forward, loss, backward, SGD. Returns the loss.
    pub fn train_step(&mut self, x: &[f32], y: &[f32], lr: f32) -> f32 {
        let loss = self.loss(x, y);
        self.l3
            .backward(B, &self.a2, &self.dz3, &mut self.g3, Some(&mut self.da2));
        activate_backward(self.hidden, &self.a2, &mut self.da2);
        self.l2
            .backward(B, &self.a1, &self.da2, &mut self.g2, Some(&mut self.da1));
        activate_backward(self.hidden, &self.a1, &mut self.da1);
        self.l1.backward(B, x, &self.da1, &mut self.g1, None);
        self.l1.sgd(&self.g1, lr);
        self.l2.sgd(&self.g2, lr);
        self.l3.sgd(&self.g3, lr);
        loss
    }
}

/// What the benchmarks call on a hand-written network, whatever its depth.
pub trait Model {
    /// The network with these PyTorch-layout parameters.
    fn build(hidden: Hidden, head: Head, params: &[Tensor]) -> Self;
    /// One training step on a full batch; returns the loss.
    fn step(&mut self, x: &[f32], y: &[f32], lr: f32) -> f32;
    /// The outputs for `rows` rows.
    fn predict(&mut self, rows: usize, x: &[f32]) -> &[f32];
    /// The loss of a full batch.
    fn batch_loss(&mut self, x: &[f32], y: &[f32]) -> f32;
}

impl<const IN: usize, const H: usize, const OUT: usize, const B: usize> Model
    for Mlp1<IN, H, OUT, B>
{
    fn build(hidden: Hidden, head: Head, params: &[Tensor]) -> Self {
        Self::new(hidden, head, params)
    }
    fn step(&mut self, x: &[f32], y: &[f32], lr: f32) -> f32 {
        self.train_step(x, y, lr)
    }
    fn predict(&mut self, rows: usize, x: &[f32]) -> &[f32] {
        self.forward(rows, x)
    }
    fn batch_loss(&mut self, x: &[f32], y: &[f32]) -> f32 {
        self.loss(x, y)
    }
}

impl<const IN: usize, const H1: usize, const H2: usize, const OUT: usize, const B: usize> Model
    for Mlp2<IN, H1, H2, OUT, B>
{
    fn build(hidden: Hidden, head: Head, params: &[Tensor]) -> Self {
        Self::new(hidden, head, params)
    }
    fn step(&mut self, x: &[f32], y: &[f32], lr: f32) -> f32 {
        self.train_step(x, y, lr)
    }
    fn predict(&mut self, rows: usize, x: &[f32]) -> &[f32] {
        self.forward(rows, x)
    }
    fn batch_loss(&mut self, x: &[f32], y: &[f32]) -> f32 {
        self.loss(x, y)
    }
}
