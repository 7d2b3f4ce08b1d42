//! The exporter's checks, and the structure of what it writes (read back
//! with the same protobuf schema). Whether ONNX tools accept the models and
//! compute the same outputs is checked by `tests/interop/check_onnx.py`
//! with onnx and ONNX Runtime.

use prost::Message;

use super::proto::{tensor_shape_proto::dimension::Value as Dim, type_proto, ModelProto};
use super::*;
use crate::graph::{ActivationSpec, OpSpec, ValueSpec};
use crate::ParamInfo;

/// A hand-written parameter set: (name, shape, entries).
struct Params<T>(Vec<(&'static str, Vec<usize>, Vec<T>)>);

impl<T: crate::Scalar> Parameters for Params<T> {
    type Scalar = T;
    const TENSORS: usize = 0;
    const SCALARS: usize = 0;
    fn visit(&self, f: &mut dyn FnMut(ParamInfo<'_>, &[T])) {
        for (index, (name, shape, values)) in self.0.iter().enumerate() {
            f(ParamInfo { name, shape, index }, values);
        }
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(ParamInfo<'_>, &mut [T])) {
        for (index, (name, shape, values)) in self.0.iter_mut().enumerate() {
            f(ParamInfo { name, shape, index }, values);
        }
    }
}

/// Entries 0.01, 0.02, ... (distinct, so a mix-up shows).
fn entries<T: crate::Scalar>(shape: &[usize], start: usize) -> Vec<T> {
    let n: usize = shape.iter().product();
    (0..n)
        .map(|i| T::from_f64((start + i) as f64 * 0.01))
        .collect()
}

fn param<T: crate::Scalar>(
    name: &'static str,
    shape: &[usize],
    start: usize,
) -> (&'static str, Vec<usize>, Vec<T>) {
    (name, shape.to_vec(), entries(shape, start))
}

const MLP_VALUES: &[ValueSpec] = &[
    ValueSpec {
        name: "x",
        shape: &[3],
    },
    ValueSpec {
        name: "z1",
        shape: &[4],
    },
    ValueSpec {
        name: "a1",
        shape: &[4],
    },
    ValueSpec {
        name: "z2",
        shape: &[2],
    },
    ValueSpec {
        name: "a2",
        shape: &[2],
    },
];

const MLP: GraphSpec = GraphSpec {
    name: "Mlp",
    values: MLP_VALUES,
    inputs: &[0],
    outputs: &[4],
    ops: &[
        OpSpec::Dense {
            layer: "hidden",
            input: 0,
            output: 1,
            bias: true,
        },
        OpSpec::Activation {
            function: ActivationSpec::Tanh,
            input: 1,
            output: 2,
        },
        OpSpec::Dense {
            layer: "out",
            input: 2,
            output: 3,
            bias: false,
        },
        OpSpec::Activation {
            function: ActivationSpec::Softmax,
            input: 3,
            output: 4,
        },
    ],
};

fn mlp_params<T: crate::Scalar>() -> Params<T> {
    Params(vec![
        param("hidden.weight", &[4, 3], 1),
        param("hidden.bias", &[4], 20),
        param("out.weight", &[2, 4], 30),
    ])
}

fn decode(bytes: &[u8]) -> ModelProto {
    ModelProto::decode(bytes).expect("the exporter's bytes decode as a ModelProto")
}

/// `[batch, d1, d2, ...]` of a graph input or output, `None` for the batch.
fn dims(info: &super::proto::ValueInfoProto) -> Vec<Option<i64>> {
    let Some(type_proto::Value::TensorType(tensor)) = info.r#type.as_ref().unwrap().value.as_ref()
    else {
        panic!("not a tensor type");
    };
    tensor
        .shape
        .as_ref()
        .unwrap()
        .dim
        .iter()
        .map(|d| match d.value.as_ref().unwrap() {
            Dim::DimValue(v) => Some(*v),
            Dim::DimParam(p) => {
                assert_eq!(p, BATCH_DIM);
                None
            }
        })
        .collect()
}

#[test]
fn an_mlp_becomes_gemm_and_activations_with_named_inputs_outputs_and_initializers() {
    let bytes = to_bytes(&MLP, &mlp_params::<f32>()).unwrap();
    let model = decode(&bytes);
    assert_eq!(model.ir_version, Some(IR_VERSION));
    assert_eq!(model.opset_import.len(), 1);
    assert_eq!(model.opset_import[0].domain.as_deref(), Some(""));
    assert_eq!(model.opset_import[0].version, Some(17));
    let graph = model.graph.unwrap();
    assert_eq!(graph.name.as_deref(), Some("Mlp"));

    let ops: Vec<&str> = graph
        .node
        .iter()
        .map(|n| n.op_type.as_deref().unwrap())
        .collect();
    assert_eq!(ops, ["Gemm", "Tanh", "Gemm", "Softmax"]);
    assert_eq!(graph.node[0].input, ["x", "hidden.weight", "hidden.bias"]);
    assert_eq!(graph.node[0].output, ["z1"]);
    let trans_b = &graph.node[0].attribute[0];
    assert_eq!(
        (trans_b.name.as_deref(), trans_b.i),
        (Some("transB"), Some(1))
    );
    // No bias: Gemm with two inputs.
    assert_eq!(graph.node[2].input, ["a1", "out.weight"]);
    let axis = &graph.node[3].attribute[0];
    assert_eq!((axis.name.as_deref(), axis.i), (Some("axis"), Some(1)));

    assert_eq!(graph.input.len(), 1);
    assert_eq!(graph.input[0].name.as_deref(), Some("x"));
    assert_eq!(dims(&graph.input[0]), [None, Some(3)]);
    assert_eq!(graph.output[0].name.as_deref(), Some("a2"));
    assert_eq!(dims(&graph.output[0]), [None, Some(2)]);
    let intermediate: Vec<&str> = graph
        .value_info
        .iter()
        .map(|v| v.name.as_deref().unwrap())
        .collect();
    assert_eq!(intermediate, ["z1", "a1", "z2"]);

    // The initializers: weight-file names, PyTorch shapes, the entries as
    // little-endian f32 (data type 1).
    let names: Vec<&str> = graph
        .initializer
        .iter()
        .map(|t| t.name.as_deref().unwrap())
        .collect();
    assert_eq!(names, ["hidden.weight", "hidden.bias", "out.weight"]);
    let weight = &graph.initializer[0];
    assert_eq!(weight.dims, [4, 3]);
    assert_eq!(weight.data_type, Some(1));
    let raw = weight.raw_data.as_ref().unwrap();
    let values: Vec<f32> = raw
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(values, entries::<f32>(&[4, 3], 1));
}

#[test]
fn f64_parameters_give_a_double_model() {
    let model = decode(&to_bytes(&MLP, &mlp_params::<f64>()).unwrap());
    let graph = model.graph.unwrap();
    let bias = &graph.initializer[1];
    assert_eq!(bias.data_type, Some(11));
    let raw = bias.raw_data.as_ref().unwrap();
    assert_eq!(raw.len(), 4 * 8);
    assert_eq!(f64::from_le_bytes(raw[..8].try_into().unwrap()), 0.2);
    let Some(type_proto::Value::TensorType(t)) =
        graph.input[0].r#type.as_ref().unwrap().value.as_ref()
    else {
        panic!("not a tensor type");
    };
    assert_eq!(t.elem_type, Some(11));
}

#[test]
fn write_and_save_give_the_bytes_of_to_bytes() {
    let params = mlp_params::<f32>();
    let bytes = to_bytes(&MLP, &params).unwrap();
    let mut written = Vec::new();
    write(&MLP, &params, &mut written).unwrap();
    assert_eq!(written, bytes);

    let dir = tempfile::Builder::new()
        .prefix("chainrule-onnx-")
        .tempdir()
        .unwrap();
    let path = dir.path().join("mlp.onnx");
    std::fs::write(&path, b"old").unwrap();
    save(&MLP, &params, &path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes);

    // A failed export leaves the old file alone and no temporary file.
    let mut broken = mlp_params::<f32>();
    broken.0.pop();
    let error = save(&MLP, &broken, &path).unwrap_err();
    assert!(
        matches!(error, OnnxError::MissingParameter { .. }),
        "{error}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1);

    // Into a directory that does not exist: an I/O error naming the path.
    let missing = dir.path().join("no/such/dir/mlp.onnx");
    let error = save(&MLP, &params, &missing).unwrap_err();
    assert!(
        matches!(&error, OnnxError::File(e) if e.path() == missing),
        "{error}"
    );
    dir.close().unwrap();
}

/// An image pipeline using every image operation and the rest of the
/// activations: conv → relu → maxpool → conv (no bias) → leaky relu →
/// avgpool, concat with a global average, layer norm, dense, sigmoid; a
/// second branch flattens the pooled image and multiplies, adds.
const IMAGE_VALUES: &[ValueSpec] = &[
    ValueSpec {
        name: "img",
        shape: &[2, 8, 8],
    }, // 0
    ValueSpec {
        name: "c1",
        shape: &[3, 8, 8],
    }, // 1 conv k3 p1
    ValueSpec {
        name: "r1",
        shape: &[3, 8, 8],
    }, // 2
    ValueSpec {
        name: "p1",
        shape: &[3, 4, 4],
    }, // 3 maxpool 2
    ValueSpec {
        name: "c2",
        shape: &[4, 2, 2],
    }, // 4 conv k3 stride 2 p1 no bias -> (4+2-3)/2+1 = 2
    ValueSpec {
        name: "l2",
        shape: &[4, 2, 2],
    }, // 5 leaky relu
    ValueSpec {
        name: "g",
        shape: &[4],
    }, // 6 global avg of l2
    ValueSpec {
        name: "q",
        shape: &[3, 2, 2],
    }, // 7 avgpool 2 of p1
    ValueSpec {
        name: "qf",
        shape: &[12],
    }, // 8 flatten q
    ValueSpec {
        name: "cat",
        shape: &[16],
    }, // 9 concat(g, qf)
    ValueSpec {
        name: "ln",
        shape: &[16],
    }, // 10 layer norm
    ValueSpec {
        name: "d",
        shape: &[16],
    }, // 11 dense 16 -> 16
    ValueSpec {
        name: "m",
        shape: &[16],
    }, // 12 ln * d
    ValueSpec {
        name: "s",
        shape: &[16],
    }, // 13 m + ln
    ValueSpec {
        name: "y",
        shape: &[16],
    }, // 14 sigmoid
];

const IMAGE: GraphSpec = GraphSpec {
    name: "Image",
    values: IMAGE_VALUES,
    inputs: &[0],
    outputs: &[14],
    ops: &[
        OpSpec::Conv2d {
            layer: "conv1",
            input: 0,
            output: 1,
            kernel: 3,
            stride: 1,
            padding: 1,
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
            stride: 2,
            padding: 1,
            bias: false,
        },
        OpSpec::Activation {
            function: ActivationSpec::LeakyRelu,
            input: 4,
            output: 5,
        },
        OpSpec::GlobalAvgPool {
            input: 5,
            output: 6,
        },
        OpSpec::AvgPool2d {
            input: 3,
            output: 7,
            kernel: 2,
            stride: 2,
        },
        OpSpec::Flatten {
            input: 7,
            output: 8,
        },
        OpSpec::Concat {
            inputs: &[6, 8],
            output: 9,
        },
        OpSpec::LayerNorm {
            layer: "norm",
            input: 9,
            output: 10,
            epsilon: 1e-5,
        },
        OpSpec::Dense {
            layer: "dense",
            input: 10,
            output: 11,
            bias: true,
        },
        OpSpec::Mul {
            lhs: 10,
            rhs: 11,
            output: 12,
        },
        OpSpec::Add {
            lhs: 12,
            rhs: 10,
            output: 13,
        },
        OpSpec::Activation {
            function: ActivationSpec::Sigmoid,
            input: 13,
            output: 14,
        },
    ],
};

fn image_params() -> Params<f32> {
    Params(vec![
        param("conv1.weight", &[3, 2, 3, 3], 0),
        param("conv1.bias", &[3], 100),
        param("conv2.weight", &[4, 3, 3, 3], 200),
        param("norm.weight", &[16], 300),
        param("norm.bias", &[16], 400),
        param("dense.weight", &[16, 16], 500),
        param("dense.bias", &[16], 800),
    ])
}

#[test]
fn every_image_operation_has_its_onnx_form() {
    let model = decode(&to_bytes(&IMAGE, &image_params()).unwrap());
    let graph = model.graph.unwrap();
    let ops: Vec<&str> = graph
        .node
        .iter()
        .map(|n| n.op_type.as_deref().unwrap())
        .collect();
    assert_eq!(
        ops,
        [
            "Conv",
            "Relu",
            "MaxPool",
            "Conv",
            "LeakyRelu",
            "GlobalAveragePool",
            "Flatten",
            "AveragePool",
            "Flatten",
            "Concat",
            "LayerNormalization",
            "Gemm",
            "Mul",
            "Add",
            "Sigmoid"
        ]
    );
    let attr = |node: usize, name: &str| {
        graph.node[node]
            .attribute
            .iter()
            .find(|a| a.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("node {node} has no attribute {name}"))
            .clone()
    };
    assert_eq!(attr(0, "pads").ints, [1, 1, 1, 1]);
    assert_eq!(attr(0, "kernel_shape").ints, [3, 3]);
    assert_eq!(attr(3, "strides").ints, [2, 2]);
    assert_eq!(graph.node[3].input, ["p1", "conv2.weight"]);
    assert_eq!(attr(4, "alpha").f, Some(0.01));
    // The global average keeps [batch, C, 1, 1]; a Flatten makes it [batch, C].
    assert_eq!(graph.node[5].output, graph.node[6].input);
    assert_eq!(graph.node[6].output, ["g"]);
    assert_eq!(attr(9, "axis").i, Some(1));
    assert_eq!(attr(10, "epsilon").f, Some(1e-5));
    assert_eq!(attr(10, "axis").i, Some(1));
    assert_eq!(dims(&graph.input[0]), [None, Some(2), Some(8), Some(8)]);
}

#[test]
fn softmax_of_an_image_normalises_over_all_its_features() {
    const VALUES: &[ValueSpec] = &[
        ValueSpec {
            name: "x",
            shape: &[2, 3, 3],
        },
        ValueSpec {
            name: "y",
            shape: &[2, 3, 3],
        },
    ];
    const SPEC: GraphSpec = GraphSpec {
        name: "ImageSoftmax",
        values: VALUES,
        inputs: &[0],
        outputs: &[1],
        ops: &[OpSpec::Activation {
            function: ActivationSpec::Softmax,
            input: 0,
            output: 1,
        }],
    };
    let graph = decode(&to_bytes(&SPEC, &Params::<f32>(vec![])).unwrap())
        .graph
        .unwrap();
    let ops: Vec<&str> = graph
        .node
        .iter()
        .map(|n| n.op_type.as_deref().unwrap())
        .collect();
    assert_eq!(ops, ["Flatten", "Softmax", "Reshape"]);
    let target = &graph.initializer[0];
    assert_eq!(graph.node[2].input[1], *target.name.as_ref().unwrap());
    let shape: Vec<i64> = target
        .raw_data
        .as_ref()
        .unwrap()
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(shape, [0, 2, 3, 3]);
}

#[test]
fn helper_names_never_collide_with_the_graph_names() {
    // A value named as the helper the global average would use.
    const VALUES: &[ValueSpec] = &[
        ValueSpec {
            name: "x",
            shape: &[2, 2, 2],
        },
        ValueSpec {
            name: "g_pooled",
            shape: &[2, 2, 2],
        },
        ValueSpec {
            name: "g",
            shape: &[2],
        },
    ];
    const SPEC: GraphSpec = GraphSpec {
        name: "Names",
        values: VALUES,
        inputs: &[0],
        outputs: &[2],
        ops: &[
            OpSpec::Activation {
                function: ActivationSpec::Relu,
                input: 0,
                output: 1,
            },
            OpSpec::GlobalAvgPool {
                input: 1,
                output: 2,
            },
        ],
    };
    let graph = decode(&to_bytes(&SPEC, &Params::<f32>(vec![])).unwrap())
        .graph
        .unwrap();
    let pooled = &graph.node[1].output[0];
    assert_ne!(pooled, "g_pooled");
    assert_eq!(graph.node[2].input[0], *pooled);
}

/// The exporter refuses `spec` with `params`, with an error of which
/// `check` approves, and its message.
fn refused(spec: &GraphSpec, params: &Params<f32>, check: fn(&OnnxError) -> bool) -> String {
    match to_bytes(spec, params) {
        Ok(_) => panic!("exported although it should not have been"),
        Err(error) => {
            assert!(check(&error), "unexpected error: {error:?}");
            error.to_string()
        }
    }
}

#[test]
fn inconsistent_graphs_are_typed_errors() {
    let params = mlp_params::<f32>();

    let mut spec = MLP;
    spec.ops = &[OpSpec::Dense {
        layer: "hidden",
        input: 9,
        output: 1,
        bias: true,
    }];
    let message = refused(&spec, &params, |e| {
        matches!(
            e,
            OnnxError::ValueOutOfRange {
                index: 9,
                values: 5,
                ..
            }
        )
    });
    assert!(
        message.contains("Dense `hidden` (operation 0)"),
        "{message}"
    );

    let mut spec = MLP;
    spec.outputs = &[7];
    refused(&spec, &params, |e| {
        matches!(e, OnnxError::ValueOutOfRange { index: 7, .. })
    });

    // Reading a value before it is computed (operations out of order).
    let mut spec = MLP;
    const SWAPPED: &[OpSpec] = &[MLP.ops[1], MLP.ops[0], MLP.ops[2], MLP.ops[3]];
    spec.ops = SWAPPED;
    let message = refused(
        &spec,
        &params,
        |e| matches!(e, OnnxError::NotComputed { value, .. } if value == "z1"),
    );
    assert!(message.contains("tanh (operation 0)"), "{message}");

    // Computing a value twice, or an input.
    let mut spec = MLP;
    const REPEATED: &[OpSpec] = &[MLP.ops[0], MLP.ops[1], MLP.ops[1]];
    spec.ops = REPEATED;
    refused(
        &spec,
        &params,
        |e| matches!(e, OnnxError::ComputedTwice { value, .. } if value == "a1"),
    );
    let mut spec = MLP;
    spec.ops = &[OpSpec::Activation {
        function: ActivationSpec::Relu,
        input: 0,
        output: 0,
    }];
    refused(&spec, &params, |e| {
        matches!(e, OnnxError::ComputedTwice { .. })
    });

    // An output that is never computed.
    let mut spec = MLP;
    spec.ops = &MLP.ops[..3];
    refused(
        &spec,
        &params,
        |e| matches!(e, OnnxError::NotComputed { value, .. } if value == "a2"),
    );

    // No input, no output, an output that is an input.
    let mut spec = MLP;
    spec.inputs = &[];
    refused(&spec, &params, |e| {
        matches!(e, OnnxError::Unsupported { .. })
    });
    let mut spec = MLP;
    spec.outputs = &[];
    refused(&spec, &params, |e| {
        matches!(e, OnnxError::Unsupported { .. })
    });
    let mut spec = MLP;
    spec.outputs = &[4, 0];
    refused(&spec, &params, |e| {
        matches!(e, OnnxError::Unsupported { .. })
    });

    // Two values with one name; a value named as a parameter.
    const TWICE: &[ValueSpec] = &[
        ValueSpec {
            name: "x",
            shape: &[3],
        },
        ValueSpec {
            name: "x",
            shape: &[4],
        },
    ];
    let mut spec = MLP;
    spec.values = TWICE;
    refused(
        &spec,
        &params,
        |e| matches!(e, OnnxError::DuplicateName { name } if name == "x"),
    );
    const CLASH: &[ValueSpec] = &[
        ValueSpec {
            name: "hidden.bias",
            shape: &[3],
        },
        MLP_VALUES[1],
        MLP_VALUES[2],
        MLP_VALUES[3],
        MLP_VALUES[4],
    ];
    let mut spec = MLP;
    spec.values = CLASH;
    refused(
        &spec,
        &params,
        |e| matches!(e, OnnxError::DuplicateName { name } if name == "hidden.bias"),
    );

    // A zero dimension.
    const ZERO: &[ValueSpec] = &[
        ValueSpec {
            name: "x",
            shape: &[0],
        },
        MLP_VALUES[1],
        MLP_VALUES[2],
        MLP_VALUES[3],
        MLP_VALUES[4],
    ];
    let mut spec = MLP;
    spec.values = ZERO;
    refused(&spec, &params, |e| {
        matches!(e, OnnxError::Unsupported { .. })
    });
}

#[test]
fn parameters_that_do_not_fit_are_typed_errors() {
    // Missing, of the wrong shape, unused, non-finite, named twice.
    let mut params = mlp_params::<f32>();
    params.0.remove(1);
    refused(
        &MLP,
        &params,
        |e| matches!(e, OnnxError::MissingParameter { name, .. } if name == "hidden.bias"),
    );

    let mut params = mlp_params::<f32>();
    params.0[2] = param("out.weight", &[4, 2], 0);
    let message = refused(&MLP, &params, |e| {
        matches!(e, OnnxError::ParameterShape { name, expected, found, .. }
            if name == "out.weight" && expected == &[2, 4] && found == &[4, 2])
    });
    assert!(message.contains("Dense `out` (operation 2)"), "{message}");

    let mut params = mlp_params::<f32>();
    params.0.push(param("out.bias", &[2], 0));
    refused(
        &MLP,
        &params,
        |e| matches!(e, OnnxError::UnusedParameter { name } if name == "out.bias"),
    );

    for bad in [f32::NAN, f32::INFINITY] {
        let mut params = mlp_params::<f32>();
        params.0[1].2[3] = bad;
        refused(
            &MLP,
            &params,
            |e| matches!(e, OnnxError::NonFinite { name, index: 3 } if name == "hidden.bias"),
        );
    }

    let mut params = mlp_params::<f32>();
    params.0.push(param("hidden.bias", &[4], 0));
    refused(
        &MLP,
        &params,
        |e| matches!(e, OnnxError::DuplicateName { name } if name == "hidden.bias"),
    );
}

#[test]
fn shapes_that_do_not_fit_their_operation_are_typed_errors() {
    fn with_ops(ops: &'static [OpSpec]) -> GraphSpec {
        GraphSpec {
            name: "Bad",
            values: IMAGE_VALUES,
            inputs: &[0],
            outputs: &[14],
            ops,
        }
    }
    let params = image_params();
    let shape_error = |e: &OnnxError| matches!(e, OnnxError::Shape { .. });

    // A dense layer on an image.
    const DENSE_ON_IMAGE: &[OpSpec] = &[OpSpec::Dense {
        layer: "dense",
        input: 0,
        output: 11,
        bias: true,
    }];
    let message = refused(&with_ops(DENSE_ON_IMAGE), &params, shape_error);
    assert!(message.contains("flatten"), "{message}");

    // An activation that changes the shape.
    const RELU_RESHAPES: &[OpSpec] = &[OpSpec::Activation {
        function: ActivationSpec::Relu,
        input: 0,
        output: 3,
    }];
    refused(&with_ops(RELU_RESHAPES), &params, shape_error);

    // A convolution whose output shape is not the formula's.
    const CONV_WRONG: &[OpSpec] = &[OpSpec::Conv2d {
        layer: "conv1",
        input: 0,
        output: 1,
        kernel: 3,
        stride: 1,
        padding: 0,
        bias: true,
    }];
    let message = refused(&with_ops(CONV_WRONG), &params, shape_error);
    assert!(message.contains("[3, 6, 6]"), "{message}");

    // A window larger than the padded image; a zero kernel or stride.
    const POOL_TOO_BIG: &[OpSpec] = &[OpSpec::MaxPool2d {
        input: 0,
        output: 3,
        kernel: 9,
        stride: 1,
    }];
    refused(&with_ops(POOL_TOO_BIG), &params, shape_error);
    const ZERO_STRIDE: &[OpSpec] = &[OpSpec::AvgPool2d {
        input: 0,
        output: 3,
        kernel: 2,
        stride: 0,
    }];
    refused(&with_ops(ZERO_STRIDE), &params, |e| {
        matches!(e, OnnxError::Setting { .. })
    });

    // Pooling or a global average of a flat value.
    const POOL_FLAT: &[OpSpec] = &[
        OpSpec::Flatten {
            input: 0,
            output: 8,
        },
        OpSpec::GlobalAvgPool {
            input: 8,
            output: 6,
        },
    ];
    refused(&with_ops(POOL_FLAT), &params, shape_error);

    // A flatten to the wrong width.
    const FLATTEN_WRONG: &[OpSpec] = &[OpSpec::Flatten {
        input: 0,
        output: 8,
    }];
    refused(&with_ops(FLATTEN_WRONG), &params, shape_error);

    // Concatenating images of different sizes, or into the wrong width.
    const CONCAT_SIZES: &[OpSpec] = &[
        OpSpec::Activation {
            function: ActivationSpec::Relu,
            input: 0,
            output: 2,
        },
        OpSpec::MaxPool2d {
            input: 2,
            output: 3,
            kernel: 2,
            stride: 2,
        },
        OpSpec::Concat {
            inputs: &[0, 3],
            output: 1,
        },
    ];
    refused(&with_ops(CONCAT_SIZES), &params, shape_error);
    let mut concat_width = MLP;
    concat_width.ops = &[OpSpec::Concat {
        inputs: &[0, 0],
        output: 1,
    }];
    let message = refused(&concat_width, &mlp_params(), shape_error);
    assert!(message.contains("[6]"), "{message}");

    // Add of different shapes.
    const ADD_SHAPES: &[OpSpec] = &[
        OpSpec::GlobalAvgPool {
            input: 0,
            output: 6,
        },
        OpSpec::Add {
            lhs: 6,
            rhs: 0,
            output: 13,
        },
    ];
    refused(&with_ops(ADD_SHAPES), &params, shape_error);
}

#[test]
fn a_layer_norm_over_an_image_takes_flat_or_image_shaped_parameters() {
    const VALUES: &[ValueSpec] = &[
        ValueSpec {
            name: "x",
            shape: &[2, 2, 3],
        },
        ValueSpec {
            name: "y",
            shape: &[2, 2, 3],
        },
    ];
    const SPEC: GraphSpec = GraphSpec {
        name: "ImageNorm",
        values: VALUES,
        inputs: &[0],
        outputs: &[1],
        ops: &[OpSpec::LayerNorm {
            layer: "ln",
            input: 0,
            output: 1,
            epsilon: 1e-5,
        }],
    };
    for shape in [&[12][..], &[2, 2, 3][..]] {
        let params = Params::<f32>(vec![
            param("ln.weight", shape, 0),
            param("ln.bias", shape, 50),
        ]);
        let graph = decode(&to_bytes(&SPEC, &params).unwrap()).graph.unwrap();
        assert_eq!(graph.initializer[0].dims, [2, 2, 3]);
    }
    let params = Params::<f32>(vec![
        param("ln.weight", &[6, 2], 0),
        param("ln.bias", &[12], 50),
    ]);
    refused(&SPEC, &params, |e| {
        matches!(e, OnnxError::ParameterShape { .. })
    });

    let params = Params::<f32>(vec![
        param("ln.weight", &[12], 0),
        param("ln.bias", &[12], 50),
    ]);
    macro_rules! with_epsilon {
        ($($epsilon:expr),*) => {
            [$(&[OpSpec::LayerNorm { layer: "ln", input: 0, output: 1, epsilon: $epsilon }] as &'static [OpSpec]),*]
        };
    }
    // Zero, negative, NaN, and positive but 0 as an f32.
    for ops in with_epsilon!(0.0, -1.0, f64::NAN, 1e-300) {
        let mut bad = SPEC;
        bad.ops = ops;
        refused(&bad, &params, |e| matches!(e, OnnxError::Setting { .. }));
    }
}

#[test]
fn export_writes_the_model_of_the_networks_own_graph() {
    use crate::test_nets::Mlp;
    let net = <Mlp<f32, 3, 5, 2> as crate::Model>::init(4);
    let dir = tempfile::Builder::new()
        .prefix("chainrule-onnx-export-")
        .tempdir()
        .unwrap();
    let path = dir.path().join("mlp.onnx");
    export(&net, &path).unwrap();
    let written = std::fs::read(&path).unwrap();
    assert_eq!(
        written,
        to_bytes(&<Mlp<f32, 3, 5, 2> as crate::Model>::GRAPH, &net).unwrap()
    );
    let graph = decode(&written).graph.unwrap();
    assert_eq!(graph.name.as_deref(), Some("Mlp"));
    assert_eq!(dims(&graph.input[0]), [None, Some(3)]);
    assert_eq!(dims(&graph.output[0]), [None, Some(2)]);
    dir.close().unwrap();
}
