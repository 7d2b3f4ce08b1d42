//! burn 0.22 with autodiff on a CPU backend: `nn::Linear` modules, the
//! library's losses, `backward`, and its `Sgd` optimizer (no momentum).
//! Two backends: NdArray (deprecated in 0.22 but still shipped) and Flex
//! (burn's pure-Rust CPU backend since 0.22).

use burn::module::{Module, Param};
use burn::nn::loss::{
    BinaryCrossEntropyLoss, BinaryCrossEntropyLossConfig, CrossEntropyLoss, CrossEntropyLossConfig,
};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{activation, Device, Int, Tensor, TensorData};

use super::{Runner, Setup};
use crate::common::data::{Head, Hidden, LEARNING_RATE};

#[derive(Module, Debug)]
struct Mlp {
    layers: Vec<Linear>,
}

impl Mlp {
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

struct Burn {
    hidden: Hidden,
    model: Option<Mlp>,
    inference: Option<Mlp>,
    opt: burn::optim::ModuleOptimizer,
    loss: Loss,
    x: Tensor<2>,
    x1: Tensor<2>,
}

impl Runner for Burn {
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

fn build(setup: &Setup<'_>, plain: Device) -> Box<dyn Runner> {
    let device = plain.clone().autodiff();
    let (w, batch) = (setup.workload, setup.batch);
    let layers = setup
        .params
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
        model: Some(Mlp { layers }),
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
