//! dfdx 0.13 on its CPU device: the model as a tuple of builders, a traced
//! forward pass, the library's loss, `backward`, and its plain `Sgd`.

use dfdx::optim::{Optimizer, Sgd};
use dfdx::prelude::*;

use super::{Runner, Setup};
use crate::common::data::LEARNING_RATE;

/// Defines `fn $name(setup) -> Box<dyn Runner>` for one model type; `$layer`
/// are the tuple positions of its `Linear` layers (`2.0.0`: inside a
/// `Residual`).
macro_rules! dfdx_runner {
    ($name:ident, $model:ty, $in:literal, $out:literal, $b:literal, [$($($layer:tt).+),+],
     $loss:ident, |$o:ident| $output:expr) => {
        fn $name(setup: &Setup<'_>) -> Box<dyn Runner> {
            type Built = <$model as BuildOnDevice<Cpu, f32>>::Built;
            struct Dfdx {
                model: Built,
                grads: Option<Gradients<f32, Cpu>>,
                opt: Sgd<Built, f32, Cpu>,
                x: Tensor<Rank2<$b, $in>, f32, Cpu>,
                y: Tensor<Rank2<$b, $out>, f32, Cpu>,
                x1: Tensor<Rank2<1, $in>, f32, Cpu>,
            }
            impl Runner for Dfdx {
                fn step(&mut self) -> f32 {
                    let grads = self.grads.take().expect("gradients are put back each step");
                    let logits = self.model.forward_mut(self.x.trace(grads));
                    let loss = $loss(logits, self.y.clone());
                    let value = loss.array();
                    let mut grads = loss.backward();
                    self.opt
                        .update(&mut self.model, &grads)
                        .expect("every parameter has a gradient");
                    self.model.zero_grads(&mut grads);
                    self.grads = Some(grads);
                    value
                }
                fn infer1(&mut self) -> f32 {
                    let $o = self.model.forward(self.x1.clone());
                    let out: Tensor<Rank2<1, $out>, f32, Cpu> = $output;
                    out.array()[0][0]
                }
            }
            let dev = Cpu::default();
            let mut model = dev.build_module::<$model, f32>();
            let mut tensors = setup.params.iter();
            $(
                let w = tensors.next().expect("a weight");
                let shape = *model.$($layer).+.weight.shape();
                model.$($layer).+.weight = dev.tensor_from_vec(w.data.clone(), shape);
                let b = tensors.next().expect("a bias");
                let shape = *model.$($layer).+.bias.shape();
                model.$($layer).+.bias = dev.tensor_from_vec(b.data.clone(), shape);
            )+
            let config = SgdConfig {
                lr: f64::from(LEARNING_RATE),
                momentum: None,
                weight_decay: None,
            };
            Box::new(Dfdx {
                grads: Some(model.alloc_grads()),
                opt: Sgd::new(&model, config),
                model,
                x: dev.tensor_from_vec(setup.batch.x.clone(), (Const::<$b>, Const::<$in>)),
                y: dev.tensor_from_vec(setup.batch.y.clone(), (Const::<$b>, Const::<$out>)),
                x1: dev.tensor_from_vec(setup.batch.x[..$in].to_vec(), (Const::<1>, Const::<$in>)),
            })
        }
    };
}

dfdx_runner!(
    xor,
    (Linear<2, 8>, Tanh, Linear<8, 1>),
    2,
    1,
    4,
    [0, 2],
    binary_cross_entropy_with_logits_loss,
    |o| o.sigmoid()
);
dfdx_runner!(
    iris,
    (Linear<4, 16>, ReLU, Linear<16, 3>),
    4,
    3,
    16,
    [0, 2],
    cross_entropy_with_logits_loss,
    |o| o.softmax::<Axis<1>>()
);
dfdx_runner!(
    digits,
    (Linear<64, 32>, ReLU, Linear<32, 10>),
    64,
    10,
    32,
    [0, 2],
    cross_entropy_with_logits_loss,
    |o| o.softmax::<Axis<1>>()
);
dfdx_runner!(
    mnist,
    (Linear<784, 128>, ReLU, Linear<128, 10>),
    784,
    10,
    64,
    [0, 2],
    cross_entropy_with_logits_loss,
    |o| o.softmax::<Axis<1>>()
);
dfdx_runner!(
    mnist3,
    (
        Linear<784, 256>,
        ReLU,
        Linear<256, 128>,
        ReLU,
        Linear<128, 10>
    ),
    784,
    10,
    128,
    [0, 2, 4],
    cross_entropy_with_logits_loss,
    |o| o.softmax::<Axis<1>>()
);

dfdx_runner!(
    policy,
    (Linear<24, 64>, Tanh, Linear<64, 64>, Tanh, Linear<64, 4>),
    24,
    4,
    64,
    [0, 2, 4],
    cross_entropy_with_logits_loss,
    |o| o.softmax::<Axis<1>>()
);

/// Whether dfdx runs the workload here: its convolutions and pooling
/// (`Conv2D`, `MaxPool2D`, `Flatten2D`) are behind its `nightly` feature
/// (`generic_const_exprs`) in 0.13 and do not build on a stable
/// toolchain, so `lenet` has no dfdx column.
pub fn supports(w: &crate::common::data::Workload) -> bool {
    w.arch != crate::common::data::Arch::LeNet
}

dfdx_runner!(
    residual,
    (
        Linear<64, 128>,
        ReLU,
        Residual<(Linear<128, 128>, ReLU)>,
        Residual<(Linear<128, 128>, ReLU)>,
        Linear<128, 10>
    ),
    64,
    10,
    32,
    [0, 2.0.0, 3.0.0, 4],
    cross_entropy_with_logits_loss,
    |o| o.softmax::<Axis<1>>()
);

/// The dfdx runner for a workload.
pub fn build(setup: &Setup<'_>) -> Box<dyn Runner> {
    match setup.workload.name {
        "xor" => xor(setup),
        "iris" => iris(setup),
        "digits" => digits(setup),
        "mnist" => mnist(setup),
        "mnist3" => mnist3(setup),
        "residual" => residual(setup),
        "policy" => policy(setup),
        other => panic!("unknown workload {other}"),
    }
}
