//! candle (candle-core + candle-nn) on the CPU: `Var` parameters,
//! `candle_nn::Linear` and `candle_nn::Conv2d`, `Tensor::max_pool2d`, the
//! library's losses, and its `SGD` optimizer.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{Conv2d, Conv2dConfig, Linear, Module, Optimizer, SGD};

use super::{Runner, Setup};
use crate::common::data::{Arch, Head, Hidden, LEARNING_RATE, LENET_CONVS};

struct Candle {
    hidden: Hidden,
    head: Head,
    arch: Arch,
    /// LeNet's two convolutions.
    convs: Vec<Conv2d>,
    layers: Vec<Linear>,
    opt: SGD,
    x: Tensor,
    /// Class indices (u32) for softmax, 0/1 values (f32) for sigmoid.
    target: Tensor,
    x1: Tensor,
}

impl Candle {
    fn logits(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let last = self.layers.len() - 1;
        let mut h = match self.arch {
            Arch::Mlp => x.clone(),
            Arch::Residual => {
                let mut h = self.layers[0].forward(x)?.relu()?;
                for block in &self.layers[1..3] {
                    h = (&h + block.forward(&h)?.relu()?)?;
                }
                return self.layers[3].forward(&h);
            }
            Arch::LeNet => {
                let rows = x.dim(0)?;
                let mut h = x.reshape((rows, 1, 28, 28))?;
                for conv in &self.convs {
                    h = conv.forward(&h)?.relu()?.max_pool2d(2)?;
                }
                h.flatten_from(1)?
            }
        };
        for (l, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h)?;
            if l < last {
                h = match self.hidden {
                    Hidden::Tanh => h.tanh()?,
                    Hidden::Relu => h.relu()?,
                };
            }
        }
        Ok(h)
    }

    fn try_step(&mut self) -> candle_core::Result<f32> {
        let logits = self.logits(&self.x)?;
        let loss = match self.head {
            Head::SoftmaxCe => candle_nn::loss::cross_entropy(&logits, &self.target)?,
            Head::SigmoidBce => {
                candle_nn::loss::binary_cross_entropy_with_logit(&logits, &self.target)?
            }
        };
        self.opt.backward_step(&loss)?;
        loss.to_scalar::<f32>()
    }

    fn try_infer1(&self) -> candle_core::Result<f32> {
        let logits = self.logits(&self.x1)?;
        let out = match self.head {
            Head::SoftmaxCe => candle_nn::ops::softmax_last_dim(&logits)?,
            Head::SigmoidBce => candle_nn::ops::sigmoid(&logits)?,
        };
        out.flatten_all()?.get(0)?.to_scalar::<f32>()
    }
}

impl Runner for Candle {
    fn step(&mut self) -> f32 {
        self.try_step().expect("candle training step")
    }

    fn infer1(&mut self) -> f32 {
        self.try_infer1().expect("candle forward")
    }
}

fn try_build(setup: &Setup<'_>) -> candle_core::Result<Box<dyn Runner>> {
    let dev = Device::Cpu;
    let (w, batch) = (setup.workload, setup.batch);
    let mut vars = Vec::new();
    let mut convs = Vec::new();
    let dense_params = match w.arch {
        Arch::LeNet => {
            for (pair, &(_, _, _, padding, _)) in setup.params.chunks_exact(2).zip(&LENET_CONVS) {
                let weight = Var::from_vec(pair[0].data.clone(), pair[0].shape.as_slice(), &dev)?;
                let bias = Var::from_vec(pair[1].data.clone(), pair[1].shape.as_slice(), &dev)?;
                let config = Conv2dConfig {
                    padding,
                    ..Conv2dConfig::default()
                };
                convs.push(Conv2d::new(
                    weight.as_tensor().clone(),
                    Some(bias.as_tensor().clone()),
                    config,
                ));
                vars.extend([weight, bias]);
            }
            &setup.params[2 * LENET_CONVS.len()..]
        }
        Arch::Mlp | Arch::Residual => setup.params,
    };
    let mut layers = Vec::new();
    for pair in dense_params.chunks_exact(2) {
        let weight = Var::from_vec(pair[0].data.clone(), pair[0].shape.as_slice(), &dev)?;
        let bias = Var::from_vec(pair[1].data.clone(), pair[1].shape.as_slice(), &dev)?;
        layers.push(Linear::new(
            weight.as_tensor().clone(),
            Some(bias.as_tensor().clone()),
        ));
        vars.extend([weight, bias]);
    }
    let rows = batch.labels.len();
    let target = match w.head {
        Head::SoftmaxCe => {
            let labels: Vec<u32> = batch.labels.iter().map(|&c| c as u32).collect();
            Tensor::from_vec(labels, rows, &dev)?
        }
        Head::SigmoidBce => Tensor::from_vec(batch.y.clone(), (rows, w.outputs()), &dev)?,
    };
    debug_assert_eq!(target.dtype() == DType::U32, w.head == Head::SoftmaxCe);
    Ok(Box::new(Candle {
        hidden: w.hidden,
        head: w.head,
        arch: w.arch,
        convs,
        layers,
        opt: SGD::new(vars, f64::from(LEARNING_RATE))?,
        x: Tensor::from_vec(batch.x.clone(), (rows, w.inputs()), &dev)?,
        target,
        x1: Tensor::from_vec(batch.x[..w.inputs()].to_vec(), (1, w.inputs()), &dev)?,
    }))
}

/// The candle runner for a workload.
pub fn build(setup: &Setup<'_>) -> Box<dyn Runner> {
    try_build(setup).expect("candle setup")
}
