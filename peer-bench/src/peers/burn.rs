//! burn 0.22 with autodiff on a CPU backend: `nn::Linear`, `nn::conv::Conv2d`
//! and `nn::pool::MaxPool2d` modules, the library's losses, `backward`, and
//! its `Sgd` optimizer (no momentum).
//! Two backends: NdArray (deprecated in 0.22 but still shipped) and Flex
//! (burn's pure-Rust CPU backend since 0.22).

use burn::module::{Module, Param};
use burn::nn::loss::{
    BinaryCrossEntropyLoss, BinaryCrossEntropyLossConfig, CrossEntropyLoss, CrossEntropyLossConfig,
};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{activation, Device, Int, Tensor, TensorData};

use super::{Runner, Setup};
use crate::common::data::{Arch, Head, Hidden, LEARNING_RATE, LENET_CONVS};

/// A network of one workload: its logits for a batch of rows.
trait Net: Module {
    fn logits(&self, hidden: Hidden, x: Tensor<2>) -> Tensor<2>;
}

#[derive(Module, Debug)]
struct Mlp {
    layers: Vec<Linear>,
}

/// Issue 10's LeNet-5 (input rows reshaped to 1×28×28 images).
#[derive(Module, Debug)]
struct LeNet {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    fc: Vec<Linear>,
}

impl Net for LeNet {
    fn logits(&self, _: Hidden, x: Tensor<2>) -> Tensor<2> {
        let rows = x.dims()[0];
        let x: Tensor<4> = x.reshape([rows, 1, 28, 28]);
        let h = self.pool.forward(activation::relu(self.conv1.forward(x)));
        let h = self.pool.forward(activation::relu(self.conv2.forward(h)));
        let mut h: Tensor<2> = h.flatten(1, 3);
        let last = self.fc.len() - 1;
        for (l, layer) in self.fc.iter().enumerate() {
            h = layer.forward(h);
            if l < last {
                h = activation::relu(h);
            }
        }
        h
    }
}

/// Issue 9's residual network: `relu(stem(x))`, two blocks
/// `h + relu(block(h))`, then the head.
#[derive(Module, Debug)]
struct Residual {
    layers: Vec<Linear>,
}

impl Net for Residual {
    fn logits(&self, _: Hidden, x: Tensor<2>) -> Tensor<2> {
        let mut h = activation::relu(self.layers[0].forward(x));
        for block in &self.layers[1..3] {
            h = h.clone() + activation::relu(block.forward(h));
        }
        self.layers[3].forward(h)
    }
}

impl Net for Mlp {
    fn logits(&self, hidden: Hidden, x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let mut h = x;
        for (l, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if l < last {
                h = match hidden {
                    Hidden::Tanh => activation::tanh(h),
                    Hidden::Relu => activation::relu(h),
                };
            }
        }
        h
    }
}

enum Loss {
    Ce(CrossEntropyLoss, Tensor<1, Int>),
    Bce(BinaryCrossEntropyLoss, Tensor<2, Int>),
}

struct Burn<M: Net> {
    hidden: Hidden,
    model: Option<M>,
    inference: Option<M>,
    opt: burn::optim::ModuleOptimizer,
    loss: Loss,
    x: Tensor<2>,
    x1: Tensor<2>,
}

impl<M: Net> Runner for Burn<M> {
    fn step(&mut self) -> f32 {
        let model = self.model.take().expect("the model is put back each step");
        let logits = model.logits(self.hidden, self.x.clone());
        let loss = match &self.loss {
            Loss::Ce(loss, targets) => loss.forward(logits, targets.clone()),
            Loss::Bce(loss, targets) => loss.forward(logits, targets.clone()),
        };
        let value = loss.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        self.model = Some(self.opt.step(f64::from(LEARNING_RATE), model, grads));
        self.inference = None;
        value
    }

    fn infer1(&mut self) -> f32 {
        let model = self.model.as_ref().expect("a model");
        let inference = self.inference.get_or_insert_with(|| model.valid());
        let logits = inference.logits(self.hidden, self.x1.clone());
        let out = match self.loss {
            Loss::Ce(..) => activation::softmax(logits, 1),
            Loss::Bce(..) => activation::sigmoid(logits),
        };
        out.into_data().try_to_vec::<f32>().expect("f32 outputs")[0]
    }
}

/// A convolution with PyTorch-layout parameters (`[out, in, k, k]`, `[out]`).
fn conv(weight: &crate::common::data::Tensor, bias: &crate::common::data::Tensor, padding: usize, device: &Device) -> Conv2d {
    let (o, c, k) = (weight.shape[0], weight.shape[1], weight.shape[2]);
    let mut layer = Conv2dConfig::new([c, o], [k, k])
        .with_padding(PaddingConfig2d::Explicit(padding, padding, padding, padding))
        .init(device);
    layer.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(weight.data.clone(), [o, c, k, k]),
        device,
    ));
    layer.bias = Some(Param::from_tensor(Tensor::from_data(
        TensorData::new(bias.data.clone(), [o]),
        device,
    )));
    layer
}

fn build(setup: &Setup<'_>, plain: Device) -> Box<dyn Runner> {
    let device = plain.clone().autodiff();
    let w = setup.workload;
    let dense_params = match w.arch {
        Arch::LeNet => &setup.params[2 * LENET_CONVS.len()..],
        Arch::Mlp | Arch::Residual => setup.params,
    };
    let layers: Vec<Linear> = dense_params
        .chunks_exact(2)
        .map(|pair| {
            let (n_out, n_in) = (pair[0].shape[0], pair[0].shape[1]);
            // burn stores weights [in, out]: transpose PyTorch's [out, in].
            let mut weight_in_out = vec![0.0f32; n_in * n_out];
            for o in 0..n_out {
                for i in 0..n_in {
                    weight_in_out[i * n_out + o] = pair[0].data[o * n_in + i];
                }
            }
            let mut layer = LinearConfig::new(n_in, n_out).init(&device);
            layer.weight = Param::from_tensor(Tensor::from_data(
                TensorData::new(weight_in_out, [n_in, n_out]),
                &device,
            ));
            layer.bias = Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(pair[1].data.clone(), [n_out]),
                &device,
            )));
            layer
        })
        .collect();
    match w.arch {
        Arch::Mlp => runner(setup, plain, device, Mlp { layers }),
        Arch::Residual => runner(setup, plain, device, Residual { layers }),
        Arch::LeNet => {
            let p = setup.params;
            let model = LeNet {
                conv1: conv(&p[0], &p[1], LENET_CONVS[0].3, &device),
                conv2: conv(&p[2], &p[3], LENET_CONVS[1].3, &device),
                pool: MaxPool2dConfig::new([2, 2]).init(),
                fc: layers,
            };
            runner(setup, plain, device, model)
        }
    }
}

fn runner<M: Net + 'static>(setup: &Setup<'_>, plain: Device, device: Device, model: M) -> Box<dyn Runner> {
    let (w, batch) = (setup.workload, setup.batch);
    let rows = batch.labels.len();
    let loss = match w.head {
        Head::SoftmaxCe => {
            let labels: Vec<i64> = batch.labels.iter().map(|&c| c as i64).collect();
            Loss::Ce(
                CrossEntropyLossConfig::new().init(&device),
                Tensor::from_data(TensorData::new(labels, [rows]), &device),
            )
        }
        Head::SigmoidBce => {
            let targets: Vec<i64> = batch.y.iter().map(|&y| y as i64).collect();
            Loss::Bce(
                BinaryCrossEntropyLossConfig::new()
                    .with_logits(true)
                    .init(&device),
                Tensor::from_data(TensorData::new(targets, [rows, w.outputs()]), &device),
            )
        }
    };
    Box::new(Burn {
        hidden: w.hidden,
        model: Some(model),
        inference: None,
        opt: SgdConfig::new().init(),
        loss,
        x: Tensor::from_data(
            TensorData::new(batch.x.clone(), [rows, w.inputs()]),
            &device,
        ),
        // Inference runs the model without autodiff (`valid()`), on the plain device.
        x1: Tensor::from_data(
            TensorData::new(batch.x[..w.inputs()].to_vec(), [1, w.inputs()]),
            &plain,
        ),
    })
}

/// burn on the NdArray backend.
#[allow(deprecated)] // NdArray is deprecated in burn 0.22; it is the backend issue 5 names
pub fn build_ndarray(setup: &Setup<'_>) -> Box<dyn Runner> {
    build(setup, Device::ndarray())
}

/// burn on the Flex backend.
pub fn build_flex(setup: &Setup<'_>) -> Box<dyn Runner> {
    build(setup, Device::flex())
}
