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
//! - networks declared with `network!` (MLPs covering every activation, in
//!   f32 and f64): the io file holds the inputs (`x`) and chainrule's own
//!   outputs (`y`, from `predict`), which ONNX Runtime must reproduce;
//! - hand-written [`GraphSpec`]s for the operations `network!` does not
//!   generate yet (every [`OpSpec`] variant: convolutions, pooling, flatten,
//!   concat, layer norm, add, mul, several inputs and outputs): the io file
//!   holds the inputs under the graph's input names, `NAME.params.safetensors`
//!   the parameters and `NAME.spec.json` the graph, from which the script
//!   computes the reference outputs in numpy.
//!
//! The graphs of the `network!` cases are written out by hand here: they are
//! the computation `network!` generates for those declarations.

use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chainrule::graph::{ActivationSpec, GraphSpec, OpSpec, ValueSpec};
use chainrule::prelude::*;
use chainrule::{onnx, weights, ParamInfo};

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

/// The graph of a chain of dense layers as `network!` computes it: `x`,
/// then `z{k}` (the product) and `a{k}` (the activation) per layer; a layer
/// without activation outputs its `z{k}`. Leaked: graphs are `'static`.
fn chain_spec(
    name: &'static str,
    inputs: usize,
    layers: &[(&'static str, usize, bool, Option<ActivationSpec>)],
) -> &'static GraphSpec {
    let mut values = vec![ValueSpec {
        name: "x",
        shape: leak(vec![inputs]),
    }];
    let mut ops = Vec::new();
    let mut current = 0;
    for (k, &(layer, width, bias, activation)) in layers.iter().enumerate() {
        let shape = leak(vec![width]);
        values.push(ValueSpec {
            name: leak_str(format!("z{}", k + 1)),
            shape,
        });
        let z = values.len() - 1;
        ops.push(OpSpec::Dense {
            layer,
            input: current,
            output: z,
            bias,
        });
        current = z;
        if let Some(function) = activation {
            values.push(ValueSpec {
                name: leak_str(format!("a{}", k + 1)),
                shape,
            });
            ops.push(OpSpec::Activation {
                function,
                input: z,
                output: values.len() - 1,
            });
            current = values.len() - 1;
        }
    }
    Box::leak(Box::new(GraphSpec {
        name,
        values: leak(values),
        inputs: leak(vec![0]),
        outputs: leak(vec![current]),
        ops: leak(ops),
    }))
}

fn leak<T>(v: Vec<T>) -> &'static [T] {
    Box::leak(v.into_boxed_slice())
}

fn leak_str(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// `ROWS` deterministic inputs in about [-2, 2].
fn inputs<T: Scalar>(width: usize, salt: usize) -> Vec<T> {
    (0..ROWS * width)
        .map(|i| T::from_f64(2.0 * ((i * 7 + salt * 31) as f64 * 0.37).cos()))
        .collect()
}

/// Exports a `network!` network: its ONNX model and its own outputs.
fn export_network<N: Network<IN, OUT>, const IN: usize, const OUT: usize>(
    mut net: N,
    spec: &GraphSpec,
    dir: &Path,
    case: &str,
) -> Result<(), Box<dyn Error>> {
    // Every parameter moved off its initial value (biases start at zero),
    // so a mixed-up layout or a dropped bias shows.
    net.visit_mut(&mut |info, values| {
        for (k, v) in values.iter_mut().enumerate() {
            *v += N::Scalar::from_f64(0.2 * ((k * 7 + info.index * 13) as f64).sin());
        }
    });
    let x = inputs::<N::Scalar>(IN, 0);
    let rows: Vec<[N::Scalar; IN]> = x
        .chunks_exact(IN)
        .map(|r| std::array::from_fn(|j| r[j]))
        .collect();
    let y: Vec<N::Scalar> = net.predict(&rows).into_iter().flatten().collect();
    onnx::save(spec, &net, dir.join(format!("{case}.onnx")))?;
    let input = spec.values[spec.inputs[0]].name.to_owned();
    let output = spec.values[spec.outputs[0]].name.to_owned();
    let io = Tensors {
        tensors: vec![(input, vec![ROWS, IN], x), (output, vec![ROWS, OUT], y)],
    };
    weights::save_parameters(
        &io,
        &[("kind", "network")],
        dir.join(format!("{case}.io.safetensors")),
    )?;
    println!("wrote {case}.onnx (network!, chainrule's outputs)");
    Ok(())
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

/// LeNet-style: conv (padding 2) → relu → max pool → conv → relu → max pool
/// → flatten → dense → relu → dense → softmax, on 1×12×12 images.
const LENET: GraphSpec = GraphSpec {
    name: "SmallLeNet",
    values: &[
        ValueSpec {
            name: "img",
            shape: &[1, 12, 12],
        },
        ValueSpec {
            name: "c1",
            shape: &[4, 12, 12],
        },
        ValueSpec {
            name: "r1",
            shape: &[4, 12, 12],
        },
        ValueSpec {
            name: "p1",
            shape: &[4, 6, 6],
        },
        ValueSpec {
            name: "c2",
            shape: &[6, 4, 4],
        },
        ValueSpec {
            name: "r2",
            shape: &[6, 4, 4],
        },
        ValueSpec {
            name: "p2",
            shape: &[6, 2, 2],
        },
        ValueSpec {
            name: "flat",
            shape: &[24],
        },
        ValueSpec {
            name: "z3",
            shape: &[10],
        },
        ValueSpec {
            name: "a3",
            shape: &[10],
        },
        ValueSpec {
            name: "z4",
            shape: &[3],
        },
        ValueSpec {
            name: "probs",
            shape: &[3],
        },
    ],
    inputs: &[0],
    outputs: &[11],
    ops: &[
        OpSpec::Conv2d {
            layer: "conv1",
            input: 0,
            output: 1,
            kernel: 5,
            stride: 1,
            padding: 2,
            bias: true,
        },
        OpSpec::Activation {
            function: ActivationSpec::Relu,
            input: 1,
            output: 2,
        },
        OpSpec::MaxPool2d {
            input: 2,
            output: 3,
            kernel: 2,
            stride: 2,
        },
        OpSpec::Conv2d {
            layer: "conv2",
            input: 3,
            output: 4,
            kernel: 3,
            stride: 1,
            padding: 0,
            bias: true,
        },
        OpSpec::Activation {
            function: ActivationSpec::Relu,
            input: 4,
            output: 5,
        },
        OpSpec::MaxPool2d {
            input: 5,
            output: 6,
            kernel: 2,
            stride: 2,
        },
        OpSpec::Flatten {
            input: 6,
            output: 7,
        },
        OpSpec::Dense {
            layer: "fc1",
            input: 7,
            output: 8,
            bias: true,
        },
        OpSpec::Activation {
            function: ActivationSpec::Relu,
            input: 8,
            output: 9,
        },
        OpSpec::Dense {
            layer: "fc2",
            input: 9,
            output: 10,
            bias: true,
        },
        OpSpec::Activation {
            function: ActivationSpec::Softmax,
            input: 10,
            output: 11,
        },
    ],
};

const LENET_PARAMS: &[(&str, &[usize])] = &[
    ("conv1.weight", &[4, 1, 5, 5]),
    ("conv1.bias", &[4]),
    ("conv2.weight", &[6, 4, 3, 3]),
    ("conv2.bias", &[6]),
    ("fc1.weight", &[10, 24]),
    ("fc1.bias", &[10]),
    ("fc2.weight", &[3, 10]),
    ("fc2.bias", &[3]),
];

/// Every other image operation: a strided convolution without bias, leaky
/// relu, average pooling with a stride smaller than its window, a global
/// average, concatenation of images along channels and of flat values, a
/// layer norm over an image (flat γ, β as `LayerNorm<N>` stores them), a
/// softmax over a whole image, tanh and sigmoid.
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

/// A graph-form MLP: two inputs, a residual connection (add), gating
/// (mul), a layer applied twice (tied weights), concat, a layer norm, a
/// dense layer without bias, and two outputs.
const GRAPH_MLP: GraphSpec = GraphSpec {
    name: "GraphMlp",
    values: &[
        ValueSpec {
            name: "x1",
            shape: &[6],
        }, // 0
        ValueSpec {
            name: "x2",
            shape: &[4],
        }, // 1
        ValueSpec {
            name: "h1",
            shape: &[6],
        }, // 2 shared(x1)
        ValueSpec {
            name: "r1",
            shape: &[6],
        }, // 3 relu
        ValueSpec {
            name: "h2",
            shape: &[6],
        }, // 4 shared(r1): the tied layer again
        ValueSpec {
            name: "res",
            shape: &[6],
        }, // 5 h2 + x1
        ValueSpec {
            name: "gate",
            shape: &[6],
        }, // 6 sigmoid(proj(x2))
        ValueSpec {
            name: "pg",
            shape: &[6],
        }, // 7 proj(x2), no bias
        ValueSpec {
            name: "m",
            shape: &[6],
        }, // 8 res * gate
        ValueSpec {
            name: "c",
            shape: &[10],
        }, // 9 concat(m, x2)
        ValueSpec {
            name: "ln",
            shape: &[10],
        }, // 10 layer norm
        ValueSpec {
            name: "z",
            shape: &[3],
        }, // 11 head
        ValueSpec {
            name: "probs",
            shape: &[3],
        }, // 12 softmax (output)
        ValueSpec {
            name: "reg",
            shape: &[2],
        }, // 13 second head, identity (output)
    ],
    inputs: &[0, 1],
    outputs: &[12, 13],
    ops: &[
        OpSpec::Dense {
            layer: "shared",
            input: 0,
            output: 2,
            bias: true,
        },
        OpSpec::Activation {
            function: ActivationSpec::Relu,
            input: 2,
            output: 3,
        },
        OpSpec::Dense {
            layer: "shared",
            input: 3,
            output: 4,
            bias: true,
        },
        OpSpec::Add {
            lhs: 4,
            rhs: 0,
            output: 5,
        },
        OpSpec::Dense {
            layer: "proj",
            input: 1,
            output: 7,
            bias: false,
        },
        OpSpec::Activation {
            function: ActivationSpec::Sigmoid,
            input: 7,
            output: 6,
        },
        OpSpec::Mul {
            lhs: 5,
            rhs: 6,
            output: 8,
        },
        OpSpec::Concat {
            inputs: &[8, 1],
            output: 9,
        },
        OpSpec::LayerNorm {
            layer: "norm",
            input: 9,
            output: 10,
            epsilon: 1e-5,
        },
        OpSpec::Dense {
            layer: "head",
            input: 10,
            output: 11,
            bias: true,
        },
        OpSpec::Activation {
            function: ActivationSpec::Softmax,
            input: 11,
            output: 12,
        },
        OpSpec::Dense {
            layer: "reg",
            input: 10,
            output: 13,
            bias: true,
        },
    ],
};

const GRAPH_MLP_PARAMS: &[(&str, &[usize])] = &[
    ("shared.weight", &[6, 6]),
    ("shared.bias", &[6]),
    ("proj.weight", &[6, 4]),
    ("norm.weight", &[10]),
    ("norm.bias", &[10]),
    ("head.weight", &[3, 10]),
    ("head.bias", &[3]),
    ("reg.weight", &[2, 10]),
    ("reg.bias", &[2]),
];

fn main() -> Result<(), Box<dyn Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| ".cache/interop-onnx".into()),
    );
    std::fs::create_dir_all(&dir)?;

    use ActivationSpec::{LeakyRelu, Relu, Sigmoid, Softmax, Tanh};
    let classifier = chain_spec(
        "Classifier",
        5,
        &[
            ("hidden", 16, true, Some(Relu)),
            ("middle", 8, true, Some(Tanh)),
            ("output", 3, true, Some(Softmax)),
        ],
    );
    let regressor = chain_spec(
        "Regressor",
        5,
        &[
            ("first", 7, false, Some(LeakyRelu)),
            ("second", 4, true, Some(Sigmoid)),
            ("last", 2, true, None),
        ],
    );
    export_network(
        Classifier::<f32>::new(1),
        classifier,
        &dir,
        "classifier_f32",
    )?;
    export_network(Regressor::<f32>::new(2), regressor, &dir, "regressor_f32")?;
    export_network(
        Classifier::<f64>::new(3),
        classifier,
        &dir,
        "classifier_f64",
    )?;
    export_network(Regressor::<f64>::new(4), regressor, &dir, "regressor_f64")?;

    export_spec(&LENET, LENET_PARAMS, &dir, "lenet_f32")?;
    export_spec(&IMAGE_OPS, IMAGE_OPS_PARAMS, &dir, "image_ops_f32")?;
    export_spec(&GRAPH_MLP, GRAPH_MLP_PARAMS, &dir, "graph_mlp_f32")?;
    Ok(())
}
