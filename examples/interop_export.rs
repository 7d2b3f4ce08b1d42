//! Writes networks, inputs and chainrule's outputs as safetensors files, for
//! `tests/interop/check_safetensors.py` to recompute in numpy.
//!
//! ```sh
//! cargo run --example interop_export -- .cache/interop
//! python3 tests/interop/check_safetensors.py .cache/interop
//! cargo run --example interop_export -- --import .cache/interop
//! ```
//!
//! For each case NAME it writes `model_NAME.safetensors` (the network, as
//! [`chainrule::weights::save`] writes it) and `io_NAME.safetensors` (inputs
//! `x` [rows, in] and outputs `y` [rows, out], with the layers in order in the
//! metadata entry `layers`).
//!
//! With `--import` it goes the other way: it reads the weights and the
//! inputs and outputs that the Python script wrote with numpy
//! (`from_python_classifier_f32.safetensors`, no architecture metadata, as
//! PyTorch writes them), and fails unless chainrule's outputs match numpy's
//! to 1e-5.

use std::error::Error;
use std::path::{Path, PathBuf};

use chainrule::prelude::*;
use chainrule::weights::{self, ContentError};
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
) -> Result<(), Box<dyn Error>> {
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
    if reloaded.predict(&rows) != outputs {
        return Err(format!("{name}: the reloaded network predicts differently").into());
    }
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

/// Loads the classifier numpy wrote and checks chainrule's outputs against
/// numpy's.
fn import_from_python(dir: &Path) -> Result<(), Box<dyn Error>> {
    let model = dir.join("from_python_classifier_f32.safetensors");
    let mut net = Classifier::<f32>::zeros();
    // Written without our architecture metadata: `load_into` refuses it,
    // `import_into` checks names, dtypes and shapes only.
    if !matches!(
        weights::load_into(&mut net, &model).map_err(|e| e.content().cloned()),
        Err(Some(ContentError::WrongArchitecture { found: None, .. }))
    ) {
        return Err(format!(
            "{}: load_into should refuse a file without architecture",
            model.display()
        )
        .into());
    }
    weights::import_into(&mut net, &model)?;
    let mut io = InputsOutputs::<f32, 5, 3> {
        x: vec![0.0; ROWS * 5],
        y: vec![0.0; ROWS * 3],
    };
    weights::import_into(
        &mut io,
        dir.join("from_python_io_classifier_f32.safetensors"),
    )?;
    let rows: Vec<[f32; 5]> =
        io.x.chunks_exact(5)
            .map(|r| [r[0], r[1], r[2], r[3], r[4]])
            .collect();
    let outputs = net.predict(&rows);
    let error = outputs
        .iter()
        .flatten()
        .zip(&io.y)
        .map(|(a, b)| (a - b).abs())
        .fold(
            0.0f32,
            |worst, d| if d.is_nan() || d > worst { d } else { worst },
        ); // NaN sticks
    if error.is_nan() || error > 1e-5 {
        return Err(format!(
            "numpy's weights in chainrule: outputs differ from numpy's by {error:e} > 1e-5"
        )
        .into());
    }
    println!(
        "interop import: numpy-written weights ({} rows) give numpy's outputs in chainrule: max difference {error:.2e} (tolerance 1e-5)",
        rows.len()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--import") {
        let dir = args.get(1).map_or(".cache/interop", String::as_str);
        return import_from_python(Path::new(dir));
    }
    let dir = PathBuf::from(args.first().map_or(".cache/interop", String::as_str));
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
