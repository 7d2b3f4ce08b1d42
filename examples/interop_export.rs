//! Writes networks, inputs and chainrule's outputs as safetensors files, for
//! `tests/interop/check_safetensors.py` to recompute in numpy.
//!
//! ```sh
//! cargo run --example interop_export -- .cache/interop
//! python3 tests/interop/check_safetensors.py .cache/interop
//! ```
//!
//! For each case NAME it writes `model_NAME.safetensors` (the network, as
//! [`chainrule::weights::save`] writes it) and `io_NAME.safetensors` (inputs
//! `x` [rows, in] and outputs `y` [rows, out], with the layers in order in the
//! metadata entry `layers`).

use std::path::{Path, PathBuf};

use chainrule::prelude::*;
use chainrule::weights::{self, WeightsError};
use chainrule::ParamInfo;

network! {
    /// 5 → 16 → 8 → 3 classifier: relu, tanh, softmax.
    pub struct Classifier {
        hidden: Dense<5, 16> => relu,
        middle: Dense<16, 8> => tanh,
        output: Dense<8, 3> => softmax,
        loss: cross_entropy,
    }
}

network! {
    /// 5 → 7 → 4 → 2 regressor: no bias and leaky relu, sigmoid, identity.
    pub struct Regressor {
        first: DenseNoBias<5, 7> => leaky_relu,
        second: Dense<7, 4> => sigmoid,
        last: Dense<4, 2>,
        loss: mse,
    }
}

const ROWS: usize = 23; // not a multiple of the predict batch: the tail is covered

/// Inputs and outputs as two named tensors.
struct InputsOutputs<T: Scalar, const IN: usize, const OUT: usize> {
    x: Vec<T>,
    y: Vec<T>,
}

impl<T: Scalar, const IN: usize, const OUT: usize> Parameters for InputsOutputs<T, IN, OUT> {
    type Scalar = T;
    const TENSORS: usize = 2;
    const SCALARS: usize = ROWS * (IN + OUT);
    fn visit(&self, f: &mut dyn FnMut(ParamInfo<'_>, &[T])) {
        let (x_shape, y_shape) = ([ROWS, IN], [ROWS, OUT]);
        f(
            ParamInfo {
                name: "x",
                shape: &x_shape,
                index: 0,
            },
            &self.x,
        );
        f(
            ParamInfo {
                name: "y",
                shape: &y_shape,
                index: 1,
            },
            &self.y,
        );
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(ParamInfo<'_>, &mut [T])) {
        let (x_shape, y_shape) = ([ROWS, IN], [ROWS, OUT]);
        f(
            ParamInfo {
                name: "x",
                shape: &x_shape,
                index: 0,
            },
            &mut self.x,
        );
        f(
            ParamInfo {
                name: "y",
                shape: &y_shape,
                index: 1,
            },
            &mut self.y,
        );
    }
}

/// Saves `net` (with every parameter, biases included, moved off its
/// initial value so a mixed-up layout shows), runs `ROWS` inputs through it
/// and saves them with the outputs.
fn export<N: Network<IN, OUT>, const IN: usize, const OUT: usize>(
    mut net: N,
    dir: &Path,
    name: &str,
    layers: &str,
) -> Result<(), WeightsError> {
    net.visit_mut(&mut |info, values| {
        for (k, v) in values.iter_mut().enumerate() {
            *v += N::Scalar::from_f64(0.2 * ((k * 7 + info.index * 13) as f64).sin());
        }
    });
    let rows: Vec<[N::Scalar; IN]> = (0..ROWS)
        .map(|i| {
            std::array::from_fn(|j| N::Scalar::from_f64(2.0 * ((i * IN + j) as f64 * 0.37).cos()))
        })
        .collect();
    let outputs = net.predict(&rows);
    let model = dir.join(format!("model_{name}.safetensors"));
    weights::save(&net, &model)?;
    // The file reloads to the same network: same predictions, bit for bit.
    let reloaded: N = weights::load(&model)?;
    assert!(
        reloaded.predict(&rows) == outputs,
        "{name}: reloaded predictions differ"
    );
    let io = InputsOutputs::<N::Scalar, IN, OUT> {
        x: rows.iter().flatten().copied().collect(),
        y: outputs.iter().flatten().copied().collect(),
    };
    weights::save_parameters(
        &io,
        &[("layers", layers)],
        dir.join(format!("io_{name}.safetensors")),
    )?;
    println!("wrote {} and io_{name}.safetensors", model.display());
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| ".cache/interop".into()),
    );
    std::fs::create_dir_all(&dir)?;
    let classifier = "hidden=relu,middle=tanh,output=softmax";
    let regressor = "first=leaky_relu,second=sigmoid,last=identity";
    export(
        Classifier::<f32>::new(1),
        &dir,
        "classifier_f32",
        classifier,
    )?;
    export(
        Classifier::<f64>::new(2),
        &dir,
        "classifier_f64",
        classifier,
    )?;
    export(Regressor::<f32>::new(3), &dir, "regressor_f32", regressor)?;
    export(Regressor::<f64>::new(4), &dir, "regressor_f64", regressor)?;
    Ok(())
}
