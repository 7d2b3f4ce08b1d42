//! Exports ONNX models for `tests/interop/check_onnx.py` to check with the
//! `onnx` checker and ONNX Runtime.
//!
//! ```sh
//! cargo run --example interop_onnx -- .cache/interop-onnx
//! python3 tests/interop/check_onnx.py .cache/interop-onnx
//! ```
//!
//! Two kinds of cases, each `NAME.onnx` plus `NAME.io.safetensors`:
//!
//! - networks declared with `network!`, exported with [`onnx::export`] (their
//!   own graph, `Model::GRAPH`): MLPs covering every activation in f32 and
//!   f64, a graph-form network (two inputs, two outputs, a tied layer, add,
//!   mul, concat, layer norm) and two convolution networks (convolutions
//!   with and without bias, max and average pooling, flatten, concatenated
//!   images, global average pooling). The io file holds the inputs and
//!   chainrule's own outputs, under the graph's names, which ONNX Runtime
//!   must reproduce;
//! - hand-written [`GraphSpec`]s for what `network!` does not write
//!   (softmax and layer norm over a whole image, strided pooling windows
//!   that overlap, ...): the io file holds the inputs,
//!   `NAME.params.safetensors` the parameters and `NAME.spec.json` the
//!   graph, from which the script computes the reference outputs in numpy.

use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chainrule::graph::{ActivationSpec, GraphSpec, OpSpec, ValueSpec};
use chainrule::prelude::*;
use chainrule::{onnx, weights, Model, ParamInfo};

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

network! {
    /// The graph form: two inputs, a layer applied twice, a residual sum,
    /// gating, a concatenation, a layer norm and two heads.
    pub struct TwoWay {
        shared: Dense<6, 6>,
        proj: DenseNoBias<4, 6>,
        norm: LayerNorm<10>,
        head: Dense<10, 3>,
        reg: Dense<10, 2>,
        fn forward(x1: [6], x2: [4]) -> (class: [3], size: [2]) {
            let h = relu(shared(x1));
            let res = shared(h) + x1;
            let gated = res * sigmoid(proj(x2));
            let n = norm(concat(gated, x2));
            (softmax(head(n)), reg(n))
        }
        loss: cross_entropy(class, labels) + 0.5 * mse(size, sizes),
    }
}

network! {
    /// Convolutions in the sequential form: padded, without bias, max and
    /// average pooling, flatten.
    pub struct SmallConv {
        input: [1, 12, 12],
        conv1: Conv2d<1, 4, 5, padding = 2> => relu,
        pool1: MaxPool2d<2>,
        conv2: Conv2dNoBias<4, 6, 3> => leaky_relu,
        pool2: AvgPool2d<2>,
        flat: Flatten,
        out: Dense<24, 3> => softmax,
        loss: cross_entropy,
    }
}

network! {
    /// Convolutions in the graph form: two branches joined along their
    /// channels, a strided convolution, global average pooling.
    pub struct Inception {
        a: Conv2d<2, 3, 3, padding = 1>,
        b: Conv2d<2, 2, 1>,
        c: Conv2d<5, 4, 3, stride = 2>,
        pool: GlobalAvgPool,
        head: Dense<4, 2>,
        fn forward(image: [2, 9, 9]) -> [2] {
            let both = concat(tanh(a(image)), sigmoid(b(image)));
            let features = pool(relu(c(both)));
            sigmoid(head(features))
        }
        loss: binary_cross_entropy,
    }
}

/// Rows per case: not a multiple of `predict`'s batch, so its tail is
/// covered too.
const ROWS: usize = 23;

/// Named tensors (inputs, outputs or parameters) as one [`Parameters`] set,
/// for `weights::save_parameters`.
struct Tensors<T> {
    tensors: Vec<(String, Vec<usize>, Vec<T>)>,
}

impl<T: Scalar> Parameters for Tensors<T> {
    type Scalar = T;
    const TENSORS: usize = 0;
    const SCALARS: usize = 0;
    fn visit(&self, f: &mut dyn FnMut(ParamInfo<'_>, &[T])) {
        for (index, (name, shape, values)) in self.tensors.iter().enumerate() {
            f(ParamInfo { name, shape, index }, values);
        }
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(ParamInfo<'_>, &mut [T])) {
        for (index, (name, shape, values)) in self.tensors.iter_mut().enumerate() {
            f(ParamInfo { name, shape, index }, values);
        }
    }
}

/// `ROWS` deterministic inputs in about [-2, 2].
fn inputs<T: Scalar>(width: usize, salt: usize) -> Vec<T> {
    (0..ROWS * width)
        .map(|i| T::from_f64(2.0 * ((i * 7 + salt * 31) as f64 * 0.37).cos()))
        .collect()
}

/// Moves every parameter off its initial value (biases start at zero, layer
/// norms at 1 and 0), so a mixed-up layout or a dropped bias shows.
fn perturb<P: Parameters>(net: &mut P) {
    net.visit_mut(&mut |info, values| {
        for (k, v) in values.iter_mut().enumerate() {
            *v += P::Scalar::from_f64(0.2 * ((k * 7 + info.index * 13) as f64).sin());
        }
    });
}

/// Exports a `network!` network with [`onnx::export`] and writes `tensors`
/// (its inputs and its own outputs, named as in its graph).
fn export_model<N: Model>(
    net: &N,
    tensors: Vec<(String, Vec<usize>, Vec<N::Scalar>)>,
    dir: &Path,
    case: &str,
) -> Result<(), Box<dyn Error>> {
    onnx::export(net, dir.join(format!("{case}.onnx")))?;
    let io = Tensors { tensors };
    weights::save_parameters(
        &io,
        &[("kind", "network")],
        dir.join(format!("{case}.io.safetensors")),
    )?;
    println!("wrote {case}.onnx (network!, chainrule's outputs)");
    Ok(())
}

/// The name and `[ROWS, shape...]` of value `index` of `N`'s graph.
fn named<N: Model>(index: usize) -> (String, Vec<usize>) {
    let value = &N::GRAPH.values[index];
    let mut shape = vec![ROWS];
    shape.extend_from_slice(value.shape);
    (value.name.to_owned(), shape)
}

/// Exports a network with one input and one output; its outputs by `predict`.
fn export_network<N: Network<IN, OUT>, const IN: usize, const OUT: usize>(
    mut net: N,
    dir: &Path,
    case: &str,
) -> Result<(), Box<dyn Error>> {
    perturb(&mut net);
    let x = inputs::<N::Scalar>(IN, 0);
    let rows: Vec<[N::Scalar; IN]> = x
        .chunks_exact(IN)
        .map(|r| std::array::from_fn(|j| r[j]))
        .collect();
    let y: Vec<N::Scalar> = net.predict(&rows).into_iter().flatten().collect();
    let ((x_name, x_shape), (y_name, y_shape)) = (
        named::<N>(N::GRAPH.inputs[0]),
        named::<N>(N::GRAPH.outputs[0]),
    );
    export_model(
        &net,
        vec![(x_name, x_shape, x), (y_name, y_shape, y)],
        dir,
        case,
    )
}

/// Exports `TwoWay` (two inputs, two outputs); its outputs by `forward_with`.
fn export_two_way(dir: &Path) -> Result<(), Box<dyn Error>> {
    let mut net = TwoWay::<f32>::new(5);
    perturb(&mut net);
    let (x1, x2) = (inputs::<f32>(6, 1), inputs::<f32>(4, 2));
    let batch = (
        Matrix::<f32, ROWS, 6>::from_vec(x1.clone())?,
        Matrix::<f32, ROWS, 4>::from_vec(x2.clone())?,
    );
    let mut ws = net.workspace::<ROWS>();
    let (class, size) = net.forward_with(&batch, &mut ws);
    let (class, size) = (class.as_slice().to_vec(), size.as_slice().to_vec());
    type G = TwoWay<f32>;
    let graph = G::GRAPH;
    let tensors = [
        (graph.inputs[0], x1),
        (graph.inputs[1], x2),
        (graph.outputs[0], class),
        (graph.outputs[1], size),
    ]
    .into_iter()
    .map(|(index, values)| {
        let (name, shape) = named::<G>(index);
        (name, shape, values)
    })
    .collect();
    export_model(&net, tensors, dir, "two_way_f32")
}

/// Exports a hand-written graph with deterministic parameters: the
/// model, the inputs, the parameters and the graph as JSON.
fn export_spec(
    spec: &GraphSpec,
    params: &[(&str, &[usize])],
    dir: &Path,
    case: &str,
) -> Result<(), Box<dyn Error>> {
    let params = Tensors::<f32> {
        tensors: params
            .iter()
            .enumerate()
            .map(|(p, &(name, shape))| {
                let n: usize = shape.iter().product();
                // Small weights keep every value O(1); the scale per tensor
                // keeps fan-in sums moderate.
                let scale = 1.0 / (n as f64).sqrt().max(1.0);
                let values = (0..n)
                    .map(|i| (scale * 1.5 * ((i * 13 + p * 101) as f64 * 0.7).sin()) as f32)
                    .collect();
                (name.to_owned(), shape.to_vec(), values)
            })
            .collect(),
    };
    onnx::save(spec, &params, dir.join(format!("{case}.onnx")))?;
    let io = Tensors::<f32> {
        tensors: spec
            .inputs
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                let value = &spec.values[i];
                let mut shape = vec![ROWS];
                shape.extend_from_slice(value.shape);
                (
                    value.name.to_owned(),
                    shape,
                    inputs::<f32>(value.features(), k + 1),
                )
            })
            .collect(),
    };
    weights::save_parameters(
        &io,
        &[("kind", "spec")],
        dir.join(format!("{case}.io.safetensors")),
    )?;
    weights::save_parameters(&params, &[], dir.join(format!("{case}.params.safetensors")))?;
    std::fs::write(dir.join(format!("{case}.spec.json")), spec_json(spec))?;
    println!("wrote {case}.onnx (hand-written graph, numpy reference)");
    Ok(())
}

/// The graph as JSON, for the numpy reference.
fn spec_json(spec: &GraphSpec) -> String {
    let list = |xs: &[usize]| {
        xs.iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = String::new();
    let _ = writeln!(out, "{{\"name\": \"{}\",", spec.name);
    let values: Vec<String> = spec
        .values
        .iter()
        .map(|v| {
            format!(
                "{{\"name\": \"{}\", \"shape\": [{}]}}",
                v.name,
                list(v.shape)
            )
        })
        .collect();
    let _ = writeln!(out, "\"values\": [{}],", values.join(", "));
    let _ = writeln!(
        out,
        "\"inputs\": [{}], \"outputs\": [{}],",
        list(spec.inputs),
        list(spec.outputs)
    );
    let ops: Vec<String> = spec
        .ops
        .iter()
        .map(|op| match *op {
            OpSpec::Dense { layer, input, output, bias } => format!(
                "{{\"op\": \"dense\", \"layer\": \"{layer}\", \"input\": {input}, \"output\": {output}, \"bias\": {bias}}}"
            ),
            OpSpec::Activation { function, input, output } => {
                let f = match function {
                    ActivationSpec::Relu => "relu",
                    ActivationSpec::LeakyRelu => "leaky_relu",
                    ActivationSpec::Sigmoid => "sigmoid",
                    ActivationSpec::Tanh => "tanh",
                    ActivationSpec::Softmax => "softmax",
                    _ => "unknown",
                };
                format!("{{\"op\": \"{f}\", \"input\": {input}, \"output\": {output}}}")
            }
            OpSpec::Add { lhs, rhs, output } => {
                format!("{{\"op\": \"add\", \"inputs\": [{lhs}, {rhs}], \"output\": {output}}}")
            }
            OpSpec::Mul { lhs, rhs, output } => {
                format!("{{\"op\": \"mul\", \"inputs\": [{lhs}, {rhs}], \"output\": {output}}}")
            }
            OpSpec::Concat { inputs, output } => format!(
                "{{\"op\": \"concat\", \"inputs\": [{}], \"output\": {output}}}",
                list(inputs)
            ),
            OpSpec::LayerNorm { layer, input, output, epsilon } => format!(
                "{{\"op\": \"layer_norm\", \"layer\": \"{layer}\", \"input\": {input}, \"output\": {output}, \"epsilon\": {epsilon:e}}}"
            ),
            OpSpec::Conv2d { layer, input, output, kernel, stride, padding, bias } => format!(
                "{{\"op\": \"conv2d\", \"layer\": \"{layer}\", \"input\": {input}, \"output\": {output}, \"kernel\": {kernel}, \"stride\": {stride}, \"padding\": {padding}, \"bias\": {bias}}}"
            ),
            OpSpec::MaxPool2d { input, output, kernel, stride } => format!(
                "{{\"op\": \"max_pool\", \"input\": {input}, \"output\": {output}, \"kernel\": {kernel}, \"stride\": {stride}}}"
            ),
            OpSpec::AvgPool2d { input, output, kernel, stride } => format!(
                "{{\"op\": \"avg_pool\", \"input\": {input}, \"output\": {output}, \"kernel\": {kernel}, \"stride\": {stride}}}"
            ),
            OpSpec::GlobalAvgPool { input, output } => {
                format!("{{\"op\": \"global_avg_pool\", \"input\": {input}, \"output\": {output}}}")
            }
            OpSpec::Flatten { input, output } => {
                format!("{{\"op\": \"flatten\", \"input\": {input}, \"output\": {output}}}")
            }
            _ => "{\"op\": \"unknown\"}".to_owned(),
        })
        .collect();
    let _ = writeln!(out, "\"ops\": [\n  {}\n]}}", ops.join(",\n  "));
    out
}

/// What `network!` does not write: a layer norm over an image (flat γ, β
/// as `LayerNorm<N>` stores them), a softmax over a whole image, average
/// pooling whose windows overlap (stride smaller than the window); with a
/// strided convolution without bias, concatenations of images and of flat
/// values, a global average, a second input and a second output.
const IMAGE_OPS: GraphSpec = GraphSpec {
    name: "ImageOps",
    values: &[
        ValueSpec {
            name: "img",
            shape: &[2, 9, 9],
        }, // 0
        ValueSpec {
            name: "c",
            shape: &[3, 4, 4],
        }, // 1 conv k3 s2 p0, no bias: (9-3)/2+1 = 4
        ValueSpec {
            name: "l",
            shape: &[3, 4, 4],
        }, // 2 leaky relu
        ValueSpec {
            name: "ap",
            shape: &[2, 4, 4],
        }, // 3 avg pool k3 s2 of img: (9-3)/2+1 = 4
        ValueSpec {
            name: "cc",
            shape: &[5, 4, 4],
        }, // 4 concat(l, ap) along channels
        ValueSpec {
            name: "n",
            shape: &[5, 4, 4],
        }, // 5 layer norm over the image
        ValueSpec {
            name: "sm",
            shape: &[5, 4, 4],
        }, // 6 softmax over the image (an output)
        ValueSpec {
            name: "g",
            shape: &[5],
        }, // 7 global average of n
        ValueSpec {
            name: "t",
            shape: &[5],
        }, // 8 tanh
        ValueSpec {
            name: "side",
            shape: &[3],
        }, // 9 a second input
        ValueSpec {
            name: "gs",
            shape: &[8],
        }, // 10 concat(t, side)
        ValueSpec {
            name: "o",
            shape: &[8],
        }, // 11 sigmoid (an output)
    ],
    inputs: &[0, 9],
    outputs: &[11, 6],
    ops: &[
        OpSpec::Conv2d {
            layer: "conv",
            input: 0,
            output: 1,
            kernel: 3,
            stride: 2,
            padding: 0,
            bias: false,
        },
        OpSpec::Activation {
            function: ActivationSpec::LeakyRelu,
            input: 1,
            output: 2,
        },
        OpSpec::AvgPool2d {
            input: 0,
            output: 3,
            kernel: 3,
            stride: 2,
        },
        OpSpec::Concat {
            inputs: &[2, 3],
            output: 4,
        },
        OpSpec::LayerNorm {
            layer: "norm",
            input: 4,
            output: 5,
            epsilon: 1e-5,
        },
        OpSpec::Activation {
            function: ActivationSpec::Softmax,
            input: 5,
            output: 6,
        },
        OpSpec::GlobalAvgPool {
            input: 5,
            output: 7,
        },
        OpSpec::Activation {
            function: ActivationSpec::Tanh,
            input: 7,
            output: 8,
        },
        OpSpec::Concat {
            inputs: &[8, 9],
            output: 10,
        },
        OpSpec::Activation {
            function: ActivationSpec::Sigmoid,
            input: 10,
            output: 11,
        },
    ],
};

const IMAGE_OPS_PARAMS: &[(&str, &[usize])] = &[
    ("conv.weight", &[3, 2, 3, 3]),
    ("norm.weight", &[80]),
    ("norm.bias", &[80]),
];

fn main() -> Result<(), Box<dyn Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| ".cache/interop-onnx".into()),
    );
    std::fs::create_dir_all(&dir)?;

    export_network(Classifier::<f32>::new(1), &dir, "classifier_f32")?;
    export_network(Regressor::<f32>::new(2), &dir, "regressor_f32")?;
    export_network(Classifier::<f64>::new(3), &dir, "classifier_f64")?;
    export_network(Regressor::<f64>::new(4), &dir, "regressor_f64")?;
    export_two_way(&dir)?;
    export_network(SmallConv::<f32>::new(6), &dir, "small_conv_f32")?;
    export_network(Inception::<f32>::new(7), &dir, "inception_f32")?;
    // No f64 convolution case: ONNX Runtime's CPU provider has no double
    // `Conv` (the model is valid ONNX; ONNX Runtime refuses to run it).

    export_spec(&IMAGE_OPS, IMAGE_OPS_PARAMS, &dir, "image_ops_f32")?;
    Ok(())
}
