//! The five workloads of issue 5 and the convolution and graph-form ones of
//! issues 10 and 9 (`lenet`, `residual`), with deterministic data and
//! initial weights so that every framework trains exactly the same network
//! on the same batch.

/// The activation of the hidden layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hidden {
    /// Hyperbolic tangent.
    Tanh,
    /// max(0, z).
    Relu,
}

/// The output activation and loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// Sigmoid output, binary cross-entropy (mean over B·N).
    SigmoidBce,
    /// Softmax output, cross-entropy (mean over the batch).
    SoftmaxCe,
}

/// The shape of a workload's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// Dense layers of `dims`, the hidden activation after each but the last.
    Mlp,
    /// Issue 10's LeNet-5: 1×28×28 → conv 6@5×5 pad 2 → relu → maxpool 2 →
    /// conv 16@5×5 → relu → maxpool 2 → flatten 400 → 120 → 84 → 10 (relu
    /// between the dense layers). `dims` is `[784, 400, 120, 84, 10]`.
    LeNet,
    /// Issue 9's residual MLP: `h = relu(stem(x))`, then two blocks
    /// `h + relu(block(h))`, then `head(h)`. `dims` is `[64, 128, 128, 128, 10]`.
    Residual,
}

/// One benchmark workload: a network and its training batch.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// Short name (`xor`, `iris`, `digits`, `mnist`, `mnist3`, `lenet`,
    /// `residual`, `policy`).
    pub name: &'static str,
    /// Layer widths, input first: `[784, 128, 10]`.
    pub dims: &'static [usize],
    /// Rows per training step.
    pub batch: usize,
    /// Hidden-layer activation.
    pub hidden: Hidden,
    /// Output activation and loss.
    pub head: Head,
    /// The network's shape.
    pub arch: Arch,
}

/// The learning rate of the plain SGD step, the same for every framework.
pub const LEARNING_RATE: f32 = 0.01;

/// The workloads, smallest first.
pub const WORKLOADS: [Workload; 5] = [
    Workload {
        name: "xor",
        dims: &[2, 8, 1],
        batch: 4,
        hidden: Hidden::Tanh,
        head: Head::SigmoidBce,
        arch: Arch::Mlp,
    },
    Workload {
        name: "iris",
        dims: &[4, 16, 3],
        batch: 16,
        hidden: Hidden::Relu,
        head: Head::SoftmaxCe,
        arch: Arch::Mlp,
    },
    Workload {
        name: "digits",
        dims: &[64, 32, 10],
        batch: 32,
        hidden: Hidden::Relu,
        head: Head::SoftmaxCe,
        arch: Arch::Mlp,
    },
    Workload {
        name: "mnist",
        dims: &[784, 128, 10],
        batch: 64,
        hidden: Hidden::Relu,
        head: Head::SoftmaxCe,
        arch: Arch::Mlp,
    },
    Workload {
        name: "mnist3",
        dims: &[784, 256, 128, 10],
        batch: 128,
        hidden: Hidden::Relu,
        head: Head::SoftmaxCe,
        arch: Arch::Mlp,
    },
];

/// The workloads of issues 10, 9 and 15: a convolutional network, a
/// residual one and a control policy (training step and batch-1 inference,
/// like the others).
pub const NEW_WORKLOADS: [Workload; 3] = [
    Workload {
        name: "lenet",
        dims: &[784, 400, 120, 84, 10],
        batch: 64,
        hidden: Hidden::Relu,
        head: Head::SoftmaxCe,
        arch: Arch::LeNet,
    },
    Workload {
        name: "residual",
        dims: &[64, 128, 128, 128, 10],
        batch: 32,
        hidden: Hidden::Relu,
        head: Head::SoftmaxCe,
        arch: Arch::Residual,
    },
    Workload {
        name: "policy",
        dims: &[24, 64, 64, 4],
        batch: 64,
        hidden: Hidden::Tanh,
        head: Head::SoftmaxCe,
        arch: Arch::Mlp,
    },
];

/// LeNet's convolutions: (in channels, out channels, kernel, padding, output
/// positions per channel).
pub const LENET_CONVS: [(usize, usize, usize, usize, usize); 2] =
    [(1, 6, 5, 2, 784), (6, 16, 5, 0, 100)];

/// The workload called `name`.
pub fn workload(name: &str) -> Workload {
    *WORKLOADS
        .iter()
        .chain(&NEW_WORKLOADS)
        .find(|w| w.name == name)
        .unwrap_or_else(|| panic!("no workload named {name}"))
}

/// A training batch, row-major.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Inputs, `B × inputs`.
    pub x: Vec<f32>,
    /// Targets, `B × outputs`: one-hot rows for softmax, 0/1 values for sigmoid.
    pub y: Vec<f32>,
    /// The class of each row (softmax workloads; the target value for sigmoid).
    pub labels: Vec<usize>,
}

/// One parameter tensor in PyTorch's layout: a weight `[out, in]` or a bias `[out]`.
#[derive(Debug, Clone)]
pub struct Tensor {
    /// `[out, in]` or `[out]`.
    pub shape: Vec<usize>,
    /// Entries, row-major.
    pub data: Vec<f32>,
}

/// SplitMix64: a tiny deterministic generator, so the benchmarks need no
/// random-number crate and every framework sees the same numbers.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

impl Workload {
    /// Number of inputs.
    pub fn inputs(&self) -> usize {
        self.dims[0]
    }

    /// Number of outputs.
    pub fn outputs(&self) -> usize {
        self.dims[self.dims.len() - 1]
    }

    /// Forward multiply-adds ×2 of each layer with parameters, in order:
    /// 2·in·out per dense layer, 2·out_ch·in_ch·k²·positions per convolution.
    pub fn layer_forward_flops(&self) -> Vec<f64> {
        let dense = |dims: &[usize]| -> Vec<f64> {
            dims.windows(2)
                .map(|w| 2.0 * (w[0] * w[1]) as f64)
                .collect()
        };
        match self.arch {
            Arch::Mlp | Arch::Residual => dense(self.dims),
            Arch::LeNet => LENET_CONVS
                .iter()
                .map(|&(c, o, k, _, positions)| 2.0 * (o * c * k * k * positions) as f64)
                .chain(dense(&self.dims[1..]))
                .collect(),
        }
    }

    /// Multiply-adds ×6 per sample: forward, the input gradient and the
    /// weight gradient (the forward count each), summed over the layers
    /// (issue 5's count: 6·in·out per dense layer).
    pub fn flops_per_sample(&self) -> f64 {
        3.0 * self.forward_flops_per_sample()
    }

    /// Forward flops per sample (2·in·out per dense layer,
    /// 2·out_ch·in_ch·k²·positions per convolution).
    pub fn forward_flops_per_sample(&self) -> f64 {
        self.layer_forward_flops().iter().sum()
    }

    /// FLOPs per sample actually executed in a training step: no framework
    /// computes the gradient with respect to the network's input, so the
    /// first layer costs twice its forward count and every later one three
    /// times.
    pub fn executed_flops_per_sample(&self) -> f64 {
        self.layer_forward_flops()
            .iter()
            .enumerate()
            .map(|(layer, f)| if layer == 0 { 2.0 } else { 3.0 } * f)
            .sum()
    }

    /// The training batch of `rows` rows: the xor truth table repeated, or
    /// pixel-like inputs in [0, 1) with random classes.
    pub fn batch(&self, rows: usize) -> Batch {
        let (n_in, n_out) = (self.inputs(), self.outputs());
        let mut rng = SplitMix(0x5EED_0000 + self.dims.iter().sum::<usize>() as u64);
        let mut x = Vec::with_capacity(rows * n_in);
        let mut y = vec![0.0; rows * n_out];
        let mut labels = Vec::with_capacity(rows);
        for r in 0..rows {
            match self.head {
                Head::SigmoidBce => {
                    let (a, b) = (r & 1, (r >> 1) & 1);
                    x.extend([a as f32, b as f32]);
                    labels.push(a ^ b);
                    y[r] = (a ^ b) as f32;
                }
                Head::SoftmaxCe => {
                    x.extend((0..n_in).map(|_| rng.uniform()));
                    let class = (rng.next_u64() % n_out as u64) as usize;
                    labels.push(class);
                    y[r * n_out + class] = 1.0;
                }
            }
        }
        Batch { x, y, labels }
    }

    /// The initial parameters, in order `layer1.weight, layer1.bias, …`:
    /// He uniform for relu layers, Xavier uniform for the others, biases zero.
    ///
    /// LeNet starts with its two convolutions (`[out, in, k, k]` weights,
    /// He uniform with fan-in `in·k²`); the residual network's layers are
    /// `stem, block1, block2, head`.
    pub fn initial_parameters(&self) -> Vec<Tensor> {
        let mut rng = SplitMix(0xC0FF_EE00 + self.batch as u64);
        let mut out = Vec::new();
        let dense_dims = match self.arch {
            Arch::Mlp | Arch::Residual => self.dims,
            Arch::LeNet => {
                for &(c, o, k, _, _) in &LENET_CONVS {
                    let bound = (6.0 / (c * k * k) as f32).sqrt();
                    let data = (0..o * c * k * k)
                        .map(|_| bound * (2.0 * rng.uniform() - 1.0))
                        .collect();
                    out.push(Tensor {
                        shape: vec![o, c, k, k],
                        data,
                    });
                    out.push(Tensor {
                        shape: vec![o],
                        data: vec![0.0; o],
                    });
                }
                &self.dims[1..]
            }
        };
        let last = dense_dims.len() - 2;
        for (l, w) in dense_dims.windows(2).enumerate() {
            let (n_in, n_out) = (w[0], w[1]);
            let bound = if l < last && self.hidden == Hidden::Relu {
                (6.0 / n_in as f32).sqrt()
            } else {
                (6.0 / (n_in + n_out) as f32).sqrt()
            };
            let data = (0..n_in * n_out)
                .map(|_| bound * (2.0 * rng.uniform() - 1.0))
                .collect();
            out.push(Tensor {
                shape: vec![n_out, n_in],
                data,
            });
            out.push(Tensor {
                shape: vec![n_out],
                data: vec![0.0; n_out],
            });
        }
        out
    }
}
