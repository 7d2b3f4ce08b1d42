//! From a [`GraphSpec`] and its parameters to an ONNX `ModelProto`: every
//! check first, then one or a few ONNX nodes per operation.

use std::collections::{HashMap, HashSet};

use super::proto::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};
use super::{OnnxError, BATCH_DIM, IR_VERSION, OPSET_VERSION, PRODUCER};
use crate::graph::{ActivationSpec, GraphSpec, OpSpec, ValueSpec};
use crate::{Parameters, Scalar};

/// The slope of leaky relu, as the runtime computes it.
const LEAKY_RELU_SLOPE: f64 = crate::activations::LEAKY_RELU_SLOPE;

/// One parameter tensor, as `Parameters::visit` gave it.
struct Param {
    shape: Vec<usize>,
    /// Little-endian entries in the network's scalar type.
    raw: Vec<u8>,
    /// The dimensions written to ONNX, when they differ from `shape` (a
    /// layer norm over an image takes γ and β in the image's shape).
    onnx_dims: Option<Vec<usize>>,
    used: bool,
}

/// The ONNX model of `graph` with `params`, every check done.
pub(super) fn model<P: Parameters>(graph: &GraphSpec, params: &P) -> Result<ModelProto, OnnxError> {
    let mut lower = Lower::new(graph, params)?;
    for (index, op) in graph.ops.iter().enumerate() {
        lower.op(index, op)?;
    }
    lower.finish()
}

struct Lower<'g> {
    graph: &'g GraphSpec,
    elem_type: i32,
    /// Parameters by weight-file name, and their order.
    params: HashMap<String, Param>,
    param_order: Vec<String>,
    /// Every name in the model, for fresh helper names.
    names: HashSet<String>,
    computed: Vec<bool>,
    nodes: Vec<NodeProto>,
    /// Constant tensors of helper nodes (reshape targets).
    constants: Vec<TensorProto>,
}

impl<'g> Lower<'g> {
    fn new<P: Parameters>(graph: &'g GraphSpec, params: &P) -> Result<Self, OnnxError> {
        let is_f32 = <P::Scalar as Scalar>::DTYPE == "F32";
        let elem_type = if is_f32 {
            DataType::Float
        } else {
            DataType::Double
        } as i32;
        let mut names = HashSet::new();
        for value in graph.values {
            if value.name.is_empty() {
                return Err(OnnxError::Unsupported {
                    what: "a value without a name".to_owned(),
                });
            }
            if !names.insert(value.name.to_owned()) {
                return Err(OnnxError::DuplicateName {
                    name: value.name.to_owned(),
                });
            }
            check_shape_dims(value)?;
        }
        let mut map = HashMap::new();
        let mut order = Vec::new();
        let mut first_error = None;
        params.visit(&mut |info, values| {
            if first_error.is_some() {
                return;
            }
            if !names.insert(info.name.to_owned()) {
                first_error = Some(OnnxError::DuplicateName {
                    name: info.name.to_owned(),
                });
                return;
            }
            if let Some(index) = values.iter().position(|x| !x.is_finite()) {
                first_error = Some(OnnxError::NonFinite {
                    name: info.name.to_owned(),
                    index,
                });
                return;
            }
            let mut raw = Vec::with_capacity(values.len() * if is_f32 { 4 } else { 8 });
            for &x in values {
                if is_f32 {
                    // Exact: the value is an f32.
                    raw.extend_from_slice(&(x.to_f64() as f32).to_le_bytes());
                } else {
                    raw.extend_from_slice(&x.to_f64().to_le_bytes());
                }
            }
            order.push(info.name.to_owned());
            map.insert(
                info.name.to_owned(),
                Param {
                    shape: info.shape.to_vec(),
                    raw,
                    onnx_dims: None,
                    used: false,
                },
            );
        });
        if let Some(error) = first_error {
            return Err(error);
        }

        let mut computed = vec![false; graph.values.len()];
        if graph.inputs.is_empty() {
            return Err(OnnxError::Unsupported {
                what: format!("graph `{}`: it has no input", graph.name),
            });
        }
        if graph.outputs.is_empty() {
            return Err(OnnxError::Unsupported {
                what: format!("graph `{}`: it has no output", graph.name),
            });
        }
        for &input in graph.inputs {
            let value = value_at(graph, input, &|| "an input of the graph".to_owned())?;
            if computed[input] {
                return Err(OnnxError::Unsupported {
                    what: format!("value `{}`: it is given twice as an input", value.name),
                });
            }
            computed[input] = true;
        }
        Ok(Self {
            graph,
            elem_type,
            params: map,
            param_order: order,
            names,
            computed,
            nodes: Vec::new(),
            constants: Vec::new(),
        })
    }

    /// The value at `index`, which must be computed already.
    fn read(&self, index: usize, at: &dyn Fn() -> String) -> Result<&'g ValueSpec, OnnxError> {
        let value = value_at(self.graph, index, at)?;
        if !self.computed[index] {
            return Err(OnnxError::NotComputed {
                value: value.name.to_owned(),
                at: at(),
            });
        }
        Ok(value)
    }

    /// The value at `index`, which must not be computed yet; marks it.
    fn compute(
        &mut self,
        index: usize,
        at: &dyn Fn() -> String,
    ) -> Result<&'g ValueSpec, OnnxError> {
        let value = value_at(self.graph, index, at)?;
        if self.computed[index] {
            return Err(OnnxError::ComputedTwice {
                value: value.name.to_owned(),
                at: at(),
            });
        }
        self.computed[index] = true;
        Ok(value)
    }

    /// Marks the parameter `name` used after checking its shape against
    /// `expected`.
    fn param(&mut self, at: &str, name: &str, expected: &[usize]) -> Result<String, OnnxError> {
        let param = self
            .params
            .get_mut(name)
            .ok_or_else(|| OnnxError::MissingParameter {
                at: at.to_owned(),
                name: name.to_owned(),
            })?;
        if param.shape != expected {
            return Err(OnnxError::ParameterShape {
                at: at.to_owned(),
                name: name.to_owned(),
                expected: expected.to_vec(),
                found: param.shape.clone(),
            });
        }
        param.used = true;
        Ok(name.to_owned())
    }

    /// A name not used yet, starting with `base`.
    fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_owned();
        let mut n = 1;
        while self.names.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        self.names.insert(name.clone());
        name
    }

    fn node(
        &mut self,
        op_type: &str,
        name: &str,
        inputs: &[&str],
        outputs: &[&str],
        attributes: Vec<AttributeProto>,
    ) {
        let name = self.fresh(name);
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| (*s).to_owned()).collect(),
            output: outputs.iter().map(|s| (*s).to_owned()).collect(),
            name: Some(name),
            op_type: Some(op_type.to_owned()),
            attribute: attributes,
            ..NodeProto::default()
        });
    }

    /// A constant int64 tensor (a `Reshape` target) under a fresh name.
    fn int64_constant(&mut self, base: &str, values: &[i64]) -> String {
        let name = self.fresh(base);
        self.constants.push(TensorProto {
            dims: vec![values.len() as i64],
            data_type: Some(DataType::Int64 as i32),
            name: Some(name.clone()),
            raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
            ..TensorProto::default()
        });
        name
    }

    fn op(&mut self, index: usize, op: &OpSpec) -> Result<(), OnnxError> {
        let at_string = describe(index, op);
        let at = || at_string.clone();
        match *op {
            OpSpec::Dense {
                layer,
                input,
                output,
                bias,
            } => {
                let x = self.read(input, &at)?;
                let y = self.compute(output, &at)?;
                let ([inputs], [outputs]) = (x.shape, y.shape) else {
                    return Err(OnnxError::Shape {
                        at: at(),
                        reason: format!(
                            "a dense layer maps a flat value to a flat value, here `{}` {:?} to `{}` {:?} (flatten an image first)",
                            x.name, x.shape, y.name, y.shape
                        ),
                    });
                };
                let mut args = vec![
                    x.name.to_owned(),
                    self.param(&at(), &format!("{layer}.weight"), &[*outputs, *inputs])?,
                ];
                if bias {
                    args.push(self.param(&at(), &format!("{layer}.bias"), &[*outputs])?);
                }
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                self.node("Gemm", layer, &args, &[y.name], vec![int_attr("transB", 1)]);
            }
            OpSpec::Activation {
                function,
                input,
                output,
            } => {
                let x = self.read(input, &at)?;
                let y = self.compute(output, &at)?;
                same_shape(&at, x, y)?;
                let name = format!("{}_{index}", activation_name(function));
                match function {
                    ActivationSpec::Relu => self.node("Relu", &name, &[x.name], &[y.name], vec![]),
                    ActivationSpec::LeakyRelu => self.node(
                        "LeakyRelu",
                        &name,
                        &[x.name],
                        &[y.name],
                        vec![float_attr("alpha", LEAKY_RELU_SLOPE as f32)],
                    ),
                    ActivationSpec::Sigmoid => {
                        self.node("Sigmoid", &name, &[x.name], &[y.name], vec![]);
                    }
                    ActivationSpec::Tanh => self.node("Tanh", &name, &[x.name], &[y.name], vec![]),
                    ActivationSpec::Softmax if x.shape.len() == 1 => self.node(
                        "Softmax",
                        &name,
                        &[x.name],
                        &[y.name],
                        vec![int_attr("axis", 1)],
                    ),
                    ActivationSpec::Softmax => {
                        // Softmax over all the features of a sample: ONNX's
                        // Softmax normalises along one axis only.
                        let flat = self.fresh(&format!("{}_flat", x.name));
                        let soft = self.fresh(&format!("{}_softmax", x.name));
                        let mut target = vec![0];
                        target.extend(dims_i64(&at, y.shape)?);
                        let shape = self.int64_constant(&format!("{}_shape", y.name), &target);
                        self.node(
                            "Flatten",
                            &format!("{name}_flatten"),
                            &[x.name],
                            &[&flat],
                            vec![int_attr("axis", 1)],
                        );
                        self.node(
                            "Softmax",
                            &name,
                            &[&flat],
                            &[&soft],
                            vec![int_attr("axis", 1)],
                        );
                        self.node(
                            "Reshape",
                            &format!("{name}_reshape"),
                            &[&soft, &shape],
                            &[y.name],
                            vec![],
                        );
                    }
                    #[allow(unreachable_patterns)]
                    _ => {
                        return Err(OnnxError::Unsupported {
                            what: format!("{}: the activation {function:?}", at()),
                        })
                    }
                }
            }
            OpSpec::Add { lhs, rhs, output } | OpSpec::Mul { lhs, rhs, output } => {
                let a = self.read(lhs, &at)?;
                let b = self.read(rhs, &at)?;
                let y = self.compute(output, &at)?;
                same_shape(&at, a, b)?;
                same_shape(&at, a, y)?;
                let (op_type, base) = if matches!(op, OpSpec::Add { .. }) {
                    ("Add", "add")
                } else {
                    ("Mul", "mul")
                };
                self.node(
                    op_type,
                    &format!("{base}_{index}"),
                    &[a.name, b.name],
                    &[y.name],
                    vec![],
                );
            }
            OpSpec::Concat { inputs, output } => {
                let mut parts = Vec::with_capacity(inputs.len());
                for &input in inputs {
                    parts.push(self.read(input, &at)?);
                }
                let y = self.compute(output, &at)?;
                let Some(first) = parts.first() else {
                    return Err(OnnxError::Shape {
                        at: at(),
                        reason: "a concatenation of no value".to_owned(),
                    });
                };
                // Along the first per-sample axis: features, or channels of
                // images with the same height and width.
                let rest = &first.shape[1..];
                let mut leading = 0usize;
                for part in &parts {
                    if part.shape.len() != first.shape.len() || &part.shape[1..] != rest {
                        return Err(OnnxError::Shape {
                            at: at(),
                            reason: format!(
                                "`{}` {:?} and `{}` {:?} cannot be concatenated along their first axis",
                                first.name, first.shape, part.name, part.shape
                            ),
                        });
                    }
                    leading += part.shape[0];
                }
                let mut expected = vec![leading];
                expected.extend_from_slice(rest);
                if y.shape != expected.as_slice() {
                    return Err(OnnxError::Shape {
                        at: at(),
                        reason: format!(
                            "the concatenation has shape {expected:?}, but `{}` is {:?}",
                            y.name, y.shape
                        ),
                    });
                }
                let names: Vec<&str> = parts.iter().map(|p| p.name).collect();
                self.node(
                    "Concat",
                    &format!("concat_{index}"),
                    &names,
                    &[y.name],
                    vec![int_attr("axis", 1)],
                );
            }
            OpSpec::LayerNorm {
                layer,
                input,
                output,
                epsilon,
            } => {
                let x = self.read(input, &at)?;
                let y = self.compute(output, &at)?;
                same_shape(&at, x, y)?;
                let epsilon32 = epsilon as f32;
                if !(epsilon32.is_finite() && epsilon32 > 0.0) {
                    return Err(OnnxError::Setting {
                        at: at(),
                        reason: format!("ε = {epsilon} is not a positive f32"),
                    });
                }
                let mut args = Vec::new();
                for part in ["weight", "bias"] {
                    let name = format!("{layer}.{part}");
                    args.push(self.layer_norm_param(&at(), &name, x.shape)?);
                }
                self.node(
                    "LayerNormalization",
                    layer,
                    &[x.name, &args[0], &args[1]],
                    &[y.name],
                    vec![int_attr("axis", 1), float_attr("epsilon", epsilon32)],
                );
            }
            OpSpec::Conv2d {
                layer,
                input,
                output,
                kernel,
                stride,
                padding,
                bias,
            } => {
                let x = self.read(input, &at)?;
                let y = self.compute(output, &at)?;
                let [channels, height, width] = image(&at, x)?;
                positive(&at, "kernel", kernel)?;
                positive(&at, "stride", stride)?;
                let out_channels = *y.shape.first().unwrap_or(&0);
                let expected = [
                    out_channels,
                    window_count(&at, height, kernel, stride, padding)?,
                    window_count(&at, width, kernel, stride, padding)?,
                ];
                output_shape(&at, y, &expected)?;
                let mut args = vec![
                    x.name.to_owned(),
                    self.param(
                        &at(),
                        &format!("{layer}.weight"),
                        &[out_channels, channels, kernel, kernel],
                    )?,
                ];
                if bias {
                    args.push(self.param(&at(), &format!("{layer}.bias"), &[out_channels])?);
                }
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let [k, s, p] = [kernel, stride, padding];
                let [k, s, p] = [
                    dims_i64(&at, &[k])?[0],
                    dims_i64(&at, &[s])?[0],
                    dims_i64(&at, &[p])?[0],
                ];
                self.node(
                    "Conv",
                    layer,
                    &args,
                    &[y.name],
                    vec![
                        ints_attr("kernel_shape", vec![k, k]),
                        ints_attr("strides", vec![s, s]),
                        ints_attr("pads", vec![p, p, p, p]),
                    ],
                );
            }
            OpSpec::MaxPool2d {
                input,
                output,
                kernel,
                stride,
            }
            | OpSpec::AvgPool2d {
                input,
                output,
                kernel,
                stride,
            } => {
                let x = self.read(input, &at)?;
                let y = self.compute(output, &at)?;
                let [channels, height, width] = image(&at, x)?;
                positive(&at, "kernel", kernel)?;
                positive(&at, "stride", stride)?;
                let expected = [
                    channels,
                    window_count(&at, height, kernel, stride, 0)?,
                    window_count(&at, width, kernel, stride, 0)?,
                ];
                output_shape(&at, y, &expected)?;
                let (op_type, base) = if matches!(op, OpSpec::MaxPool2d { .. }) {
                    ("MaxPool", "maxpool")
                } else {
                    ("AveragePool", "avgpool")
                };
                let [k, s] = [dims_i64(&at, &[kernel])?[0], dims_i64(&at, &[stride])?[0]];
                self.node(
                    op_type,
                    &format!("{base}_{index}"),
                    &[x.name],
                    &[y.name],
                    vec![
                        ints_attr("kernel_shape", vec![k, k]),
                        ints_attr("strides", vec![s, s]),
                    ],
                );
            }
            OpSpec::GlobalAvgPool { input, output } => {
                let x = self.read(input, &at)?;
                let y = self.compute(output, &at)?;
                let [channels, _, _] = image(&at, x)?;
                output_shape(&at, y, &[channels])?;
                // ONNX keeps the pooled axes ([batch, C, 1, 1]); the value is [C].
                let pooled = self.fresh(&format!("{}_pooled", y.name));
                let name = format!("globalavgpool_{index}");
                self.node("GlobalAveragePool", &name, &[x.name], &[&pooled], vec![]);
                self.node(
                    "Flatten",
                    &format!("{name}_flatten"),
                    &[&pooled],
                    &[y.name],
                    vec![int_attr("axis", 1)],
                );
            }
            OpSpec::Flatten { input, output } => {
                let x = self.read(input, &at)?;
                let y = self.compute(output, &at)?;
                output_shape(&at, y, &[x.features()])?;
                self.node(
                    "Flatten",
                    &format!("flatten_{index}"),
                    &[x.name],
                    &[y.name],
                    vec![int_attr("axis", 1)],
                );
            }
            #[allow(unreachable_patterns)]
            _ => {
                return Err(OnnxError::Unsupported {
                    what: format!("{}: no ONNX form yet", at()),
                })
            }
        }
        Ok(())
    }

    /// γ or β of a layer norm over a value of `shape`: stored flat
    /// (`[features]`, as `LayerNorm<N>`) or in the value's shape; written to
    /// ONNX in the value's shape.
    fn layer_norm_param(
        &mut self,
        at: &str,
        name: &str,
        shape: &[usize],
    ) -> Result<String, OnnxError> {
        let features: usize = shape.iter().product();
        let Some(param) = self.params.get_mut(name) else {
            return Err(OnnxError::MissingParameter {
                at: at.to_owned(),
                name: name.to_owned(),
            });
        };
        if param.shape == shape {
            // As it is.
        } else if param.shape == [features] {
            param.onnx_dims = Some(shape.to_vec());
        } else {
            return Err(OnnxError::ParameterShape {
                at: at.to_owned(),
                name: name.to_owned(),
                expected: shape.to_vec(),
                found: param.shape.clone(),
            });
        }
        param.used = true;
        Ok(name.to_owned())
    }

    fn finish(self) -> Result<ModelProto, OnnxError> {
        let graph = self.graph;
        let mut is_io = vec![false; graph.values.len()];
        let mut outputs = Vec::with_capacity(graph.outputs.len());
        for &output in graph.outputs {
            let value = value_at(graph, output, &|| "an output of the graph".to_owned())?;
            if !self.computed[output] {
                return Err(OnnxError::NotComputed {
                    value: value.name.to_owned(),
                    at: "the graph's outputs".to_owned(),
                });
            }
            if graph.inputs.contains(&output) {
                return Err(OnnxError::Unsupported {
                    what: format!("value `{}` as both an input and an output", value.name),
                });
            }
            if is_io[output] {
                return Err(OnnxError::Unsupported {
                    what: format!("value `{}`: it is given twice as an output", value.name),
                });
            }
            is_io[output] = true;
            outputs.push(self.value_info(value)?);
        }
        let mut inputs = Vec::with_capacity(graph.inputs.len());
        for &input in graph.inputs {
            is_io[input] = true;
            inputs.push(self.value_info(&graph.values[input])?);
        }
        let mut value_info = Vec::new();
        for (index, value) in graph.values.iter().enumerate() {
            if self.computed[index] && !is_io[index] {
                value_info.push(self.value_info(value)?);
            }
        }
        let mut initializer = Vec::with_capacity(self.param_order.len() + self.constants.len());
        let mut params = self.params;
        for name in &self.param_order {
            let Some(param) = params.remove(name) else {
                continue;
            };
            if !param.used {
                return Err(OnnxError::UnusedParameter { name: name.clone() });
            }
            let dims = param.onnx_dims.as_deref().unwrap_or(&param.shape);
            initializer.push(TensorProto {
                dims: dims_i64(&|| format!("parameter {name:?}"), dims)?,
                data_type: Some(self.elem_type),
                name: Some(name.clone()),
                raw_data: Some(param.raw),
                ..TensorProto::default()
            });
        }
        initializer.extend(self.constants);
        Ok(ModelProto {
            ir_version: Some(IR_VERSION),
            opset_import: vec![OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(OPSET_VERSION),
            }],
            producer_name: Some(PRODUCER.to_owned()),
            producer_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            doc_string: Some(format!(
                "The forward pass of the chainrule network `{}`.",
                graph.name
            )),
            graph: Some(GraphProto {
                node: self.nodes,
                name: Some(graph.name.to_owned()),
                initializer,
                input: inputs,
                output: outputs,
                value_info,
                ..GraphProto::default()
            }),
            ..ModelProto::default()
        })
    }

    /// A value's name, element type and shape `[batch, ...]`.
    fn value_info(&self, value: &ValueSpec) -> Result<ValueInfoProto, OnnxError> {
        let mut dim = vec![tensor_shape_proto::Dimension {
            value: Some(tensor_shape_proto::dimension::Value::DimParam(
                BATCH_DIM.to_owned(),
            )),
            ..Default::default()
        }];
        for d in dims_i64(&|| format!("value `{}`", value.name), value.shape)? {
            dim.push(tensor_shape_proto::Dimension {
                value: Some(tensor_shape_proto::dimension::Value::DimValue(d)),
                ..Default::default()
            });
        }
        Ok(ValueInfoProto {
            name: Some(value.name.to_owned()),
            r#type: Some(TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type: Some(self.elem_type),
                    shape: Some(TensorShapeProto { dim }),
                })),
                ..TypeProto::default()
            }),
            ..ValueInfoProto::default()
        })
    }
}

/// `Dense \`hidden\` (operation 0)`: how errors name an operation.
fn describe(index: usize, op: &OpSpec) -> String {
    let (kind, layer) = match *op {
        OpSpec::Dense { layer, .. } => ("Dense", Some(layer)),
        OpSpec::Activation { function, .. } => (activation_name(function), None),
        OpSpec::Add { .. } => ("Add", None),
        OpSpec::Mul { .. } => ("Mul", None),
        OpSpec::Concat { .. } => ("Concat", None),
        OpSpec::LayerNorm { layer, .. } => ("LayerNorm", Some(layer)),
        OpSpec::Conv2d { layer, .. } => ("Conv2d", Some(layer)),
        OpSpec::MaxPool2d { .. } => ("MaxPool2d", None),
        OpSpec::AvgPool2d { .. } => ("AvgPool2d", None),
        OpSpec::GlobalAvgPool { .. } => ("GlobalAvgPool", None),
        OpSpec::Flatten { .. } => ("Flatten", None),
        #[allow(unreachable_patterns)]
        _ => ("an operation", None),
    };
    match layer {
        Some(layer) => format!("{kind} `{layer}` (operation {index})"),
        None => format!("{kind} (operation {index})"),
    }
}

fn activation_name(function: ActivationSpec) -> &'static str {
    match function {
        ActivationSpec::Relu => "relu",
        ActivationSpec::LeakyRelu => "leaky_relu",
        ActivationSpec::Sigmoid => "sigmoid",
        ActivationSpec::Tanh => "tanh",
        ActivationSpec::Softmax => "softmax",
        #[allow(unreachable_patterns)]
        _ => "activation",
    }
}

fn value_at<'g>(
    graph: &'g GraphSpec,
    index: usize,
    at: &dyn Fn() -> String,
) -> Result<&'g ValueSpec, OnnxError> {
    graph
        .values
        .get(index)
        .ok_or_else(|| OnnxError::ValueOutOfRange {
            at: at(),
            index,
            values: graph.values.len(),
        })
}

/// Every value has a shape of at least one dimension, none of them zero.
fn check_shape_dims(value: &ValueSpec) -> Result<(), OnnxError> {
    if value.shape.is_empty() || value.shape.contains(&0) {
        return Err(OnnxError::Unsupported {
            what: format!(
                "value `{}` of shape {:?}: every value needs at least one dimension, none of them 0",
                value.name, value.shape
            ),
        });
    }
    Ok(())
}

fn same_shape(at: &dyn Fn() -> String, a: &ValueSpec, b: &ValueSpec) -> Result<(), OnnxError> {
    if a.shape == b.shape {
        Ok(())
    } else {
        Err(OnnxError::Shape {
            at: at(),
            reason: format!(
                "`{}` has shape {:?} but `{}` has shape {:?}; they must be equal",
                a.name, a.shape, b.name, b.shape
            ),
        })
    }
}

fn output_shape(
    at: &dyn Fn() -> String,
    y: &ValueSpec,
    expected: &[usize],
) -> Result<(), OnnxError> {
    if y.shape == expected {
        Ok(())
    } else {
        Err(OnnxError::Shape {
            at: at(),
            reason: format!(
                "the result has shape {expected:?}, but `{}` is {:?}",
                y.name, y.shape
            ),
        })
    }
}

/// The `[C, H, W]` of an image value.
fn image(at: &dyn Fn() -> String, x: &ValueSpec) -> Result<[usize; 3], OnnxError> {
    match *x.shape {
        [c, h, w] => Ok([c, h, w]),
        _ => Err(OnnxError::Shape {
            at: at(),
            reason: format!(
                "it takes an image [channels, height, width], but `{}` is {:?}",
                x.name, x.shape
            ),
        }),
    }
}

fn positive(at: &dyn Fn() -> String, what: &str, n: usize) -> Result<(), OnnxError> {
    if n == 0 {
        return Err(OnnxError::Setting {
            at: at(),
            reason: format!("the {what} is 0"),
        });
    }
    Ok(())
}

/// ⌊(size + 2·padding − kernel) / stride⌋ + 1, the number of windows along
/// one axis.
fn window_count(
    at: &dyn Fn() -> String,
    size: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> Result<usize, OnnxError> {
    let padded = padding
        .checked_mul(2)
        .and_then(|p| p.checked_add(size))
        .filter(|&padded| padded >= kernel)
        .ok_or_else(|| OnnxError::Shape {
            at: at(),
            reason: format!(
                "a {kernel}×{kernel} window does not fit in {size} entries padded by {padding}"
            ),
        })?;
    Ok((padded - kernel) / stride + 1)
}

fn dims_i64(at: &dyn Fn() -> String, dims: &[usize]) -> Result<Vec<i64>, OnnxError> {
    dims.iter()
        .map(|&d| {
            i64::try_from(d).map_err(|_| OnnxError::Unsupported {
                what: format!("{}: the dimension {d} does not fit in an i64", at()),
            })
        })
        .collect()
}

fn int_attr(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_owned()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(value),
        ..AttributeProto::default()
    }
}

fn ints_attr(name: &str, values: Vec<i64>) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_owned()),
        r#type: Some(AttributeType::Ints as i32),
        ints: values,
        ..AttributeProto::default()
    }
}

fn float_attr(name: &str, value: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_owned()),
        r#type: Some(AttributeType::Float as i32),
        f: Some(value),
        ..AttributeProto::default()
    }
}
