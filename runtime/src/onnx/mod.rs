//! ONNX export of a network's forward pass (feature `onnx`).
//!
//! [`export`]`(&net, "net.onnx")` writes a network declared with `network!`
//! as a standard ONNX model that ONNX Runtime, Triton, onnxruntime-web and
//! other ONNX tools load. Underneath, [`to_bytes`], [`write`](write()) and
//! [`save`] take any computation ([`GraphSpec`], what [`Model::GRAPH`]
//! gives) and parameters ([`Parameters`]):
//!
//! - opset [`OPSET_VERSION`] (17, the first with `LayerNormalization`), IR
//!   version [`IR_VERSION`];
//! - one graph input per network input and one graph output per network
//!   output, named by the graph's value names (`x`, `a2`, ...), each of shape
//!   `[batch, ...]`: the first dimension is the symbolic [`BATCH_DIM`], the
//!   others the value's per-sample shape (`[batch, 784]` for a dense value,
//!   `[batch, C, H, W]` for an image, NCHW as PyTorch);
//! - the element type of the network's scalar (`float` for `f32`, `double`
//!   for `f64`);
//! - every parameter as an initializer named by its weight-file name
//!   (`hidden.weight`, `[out, in]` as `nn.Linear`), every intermediate value
//!   with its shape in the graph's `value_info`.
//!
//! | operation | ONNX |
//! | --- | --- |
//! | [`OpSpec::Dense`] | `Gemm` (`transB = 1`, bias as `C` when present) |
//! | relu, leaky relu, sigmoid, tanh | `Relu`, `LeakyRelu` (`alpha = 0.01`), `Sigmoid`, `Tanh` |
//! | softmax | `Softmax` (`axis = 1`); on an image `Flatten`, `Softmax`, `Reshape` (over all its features) |
//! | [`OpSpec::Add`], [`OpSpec::Mul`] | `Add`, `Mul` |
//! | [`OpSpec::Concat`] | `Concat` (`axis = 1`: features, or channels of images) |
//! | [`OpSpec::LayerNorm`] | `LayerNormalization` (`axis = 1`, `epsilon`) |
//! | [`OpSpec::Conv2d`] | `Conv` (`kernel_shape`, `strides`, `pads`) |
//! | [`OpSpec::MaxPool2d`], [`OpSpec::AvgPool2d`] | `MaxPool`, `AveragePool` |
//! | [`OpSpec::GlobalAvgPool`] | `GlobalAveragePool`, then `Flatten` (to `[batch, C]`) |
//! | [`OpSpec::Flatten`] | `Flatten` (`axis = 1`) |
//!
//! Everything is checked before a byte is written: value indices, the order
//! of the operations, every shape against its operation's rule and against
//! the parameters, that every parameter is used and finite. A graph that
//! cannot be expressed is an [`OnnxError`], never a broken file.
//!
//! ```
//! use chainrule::graph::{ActivationSpec, GraphSpec, OpSpec, ValueSpec};
//! use chainrule::prelude::*;
//!
//! network! {
//!     /// 4 → 8 → 3 classifier.
//!     pub struct Small {
//!         hidden: Dense<4, 8> => relu,
//!         output: Dense<8, 3> => softmax,
//!         loss: cross_entropy,
//!     }
//! }
//!
//! // The same computation as data, written by hand (`Small::GRAPH` is it).
//! const VALUES: &[ValueSpec] = &[
//!     ValueSpec { name: "x", shape: &[4] },
//!     ValueSpec { name: "z1", shape: &[8] },
//!     ValueSpec { name: "a1", shape: &[8] },
//!     ValueSpec { name: "z2", shape: &[3] },
//!     ValueSpec { name: "a2", shape: &[3] },
//! ];
//! const SMALL: GraphSpec = GraphSpec {
//!     name: "Small",
//!     values: VALUES,
//!     inputs: &[0],
//!     outputs: &[4],
//!     ops: &[
//!         OpSpec::Dense { layer: "hidden", input: 0, output: 1, bias: true },
//!         OpSpec::Activation { function: ActivationSpec::Relu, input: 1, output: 2 },
//!         OpSpec::Dense { layer: "output", input: 2, output: 3, bias: true },
//!         OpSpec::Activation { function: ActivationSpec::Softmax, input: 3, output: 4 },
//!     ],
//! };
//!
//! let net = Small::<f32>::new(7);
//! let model: Vec<u8> = chainrule::onnx::to_bytes(&SMALL, &net)?;
//! assert_eq!(model, chainrule::onnx::to_bytes(&Small::<f32>::GRAPH, &net)?);
//! // chainrule::onnx::export(&net, "small.onnx")?; writes the same bytes.
//!
//! // A graph that does not fit the parameters is refused.
//! let mut wrong = SMALL;
//! wrong.ops = &[OpSpec::Dense { layer: "missing", input: 0, output: 1, bias: true }];
//! assert!(chainrule::onnx::to_bytes(&wrong, &net).is_err());
//! # Ok::<(), chainrule::onnx::OnnxError>(())
//! ```
//!
//! In Python: `onnxruntime.InferenceSession("small.onnx").run(None, {"x": x})`
//! with `x` a `float32` array of shape `[n, 4]`.
//!
//! The messages of the ONNX schema are compiled for [`prost`] (the
//! Rust protobuf crate of the tokio project: small, derive-based, no
//! `protoc` needed at build time) and checked in; see `src/onnx/schema/`.
//!
//! [`prost`]: https://docs.rs/prost
//! [`OpSpec::Dense`]: crate::graph::OpSpec::Dense
//! [`OpSpec::Add`]: crate::graph::OpSpec::Add
//! [`OpSpec::Mul`]: crate::graph::OpSpec::Mul
//! [`OpSpec::Concat`]: crate::graph::OpSpec::Concat
//! [`OpSpec::LayerNorm`]: crate::graph::OpSpec::LayerNorm
//! [`OpSpec::Conv2d`]: crate::graph::OpSpec::Conv2d
//! [`OpSpec::MaxPool2d`]: crate::graph::OpSpec::MaxPool2d
//! [`OpSpec::AvgPool2d`]: crate::graph::OpSpec::AvgPool2d
//! [`OpSpec::GlobalAvgPool`]: crate::graph::OpSpec::GlobalAvgPool
//! [`OpSpec::Flatten`]: crate::graph::OpSpec::Flatten

mod lower;
#[allow(
    missing_docs,
    rustdoc::all,
    clippy::all,
    clippy::pedantic,
    dead_code,
    unreachable_pub
)]
mod proto;

use std::io::Write;
use std::path::Path;

use prost::Message;

use crate::graph::GraphSpec;
use crate::{Model, Parameters};

/// The ONNX operator set the models use (17: `LayerNormalization`).
pub const OPSET_VERSION: i64 = 17;
/// The ONNX IR version of the models (8, the one of opset 17's releases).
pub const IR_VERSION: i64 = 8;
/// The name of the symbolic first dimension of every input and output.
pub const BATCH_DIM: &str = "batch";
/// The producer name written into every model.
pub const PRODUCER: &str = "chainrule";

/// Why a graph and its parameters cannot be exported. Nothing is written
/// when one of these is returned.
///
/// Operations are named in messages as `Dense \`hidden\` (operation 0)`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OnnxError {
    /// An operation, input or output refers to a value index the graph does
    /// not have.
    #[error("{at} refers to value {index}, but the graph has {values} values")]
    ValueOutOfRange {
        /// Where the index is.
        at: String,
        /// The index.
        index: usize,
        /// The number of values.
        values: usize,
    },
    /// Two values, two parameters, or a value and a parameter share a name
    /// (ONNX names every tensor once).
    #[error("the name {name:?} is used twice")]
    DuplicateName {
        /// The name.
        name: String,
    },
    /// A value is computed by two operations, or computed although it is an
    /// input.
    #[error("value `{value}` is computed twice (by {at})")]
    ComputedTwice {
        /// The value's name.
        value: String,
        /// The second operation computing it.
        at: String,
    },
    /// A value is read before any operation computes it (or an output is
    /// never computed).
    #[error("{at} reads value `{value}`, which is not computed before it")]
    NotComputed {
        /// The value's name.
        value: String,
        /// The operation or output reading it.
        at: String,
    },
    /// A value's shape does not fit its operation.
    #[error("{at}: {reason}")]
    Shape {
        /// The operation.
        at: String,
        /// What does not fit, with the shapes.
        reason: String,
    },
    /// An operation's setting is out of range (a zero kernel or stride, a
    /// negative ε).
    #[error("{at}: {reason}")]
    Setting {
        /// The operation.
        at: String,
        /// What is wrong.
        reason: String,
    },
    /// An operation needs a parameter the parameter set does not have.
    #[error("{at} needs the parameter {name:?}, which the parameters do not have")]
    MissingParameter {
        /// The operation.
        at: String,
        /// The parameter's weight-file name.
        name: String,
    },
    /// A parameter has another shape than its operation needs.
    #[error("{at}: parameter {name:?} has shape {found:?}, the operation needs {expected:?}")]
    ParameterShape {
        /// The operation.
        at: String,
        /// The parameter's weight-file name.
        name: String,
        /// The shape the operation needs.
        expected: Vec<usize>,
        /// The parameter's shape.
        found: Vec<usize>,
    },
    /// A parameter is used by no operation: the graph and the parameters do
    /// not belong together.
    #[error("parameter {name:?} is used by no operation of the graph")]
    UnusedParameter {
        /// The parameter's weight-file name.
        name: String,
    },
    /// A parameter holds a NaN or an infinity.
    #[error("parameter {name:?} holds a non-finite value at flat index {index}")]
    NonFinite {
        /// The parameter's weight-file name.
        name: String,
        /// The row-major index of the first one.
        index: usize,
    },
    /// The graph uses something ONNX export does not support.
    #[error("cannot export {what}")]
    Unsupported {
        /// What, and why.
        what: String,
    },
    /// The model would be larger than a protobuf message can be (2 GiB).
    #[error(
        "the model would take {bytes} bytes; ONNX files without external data hold at most 2 GiB"
    )]
    TooLarge {
        /// The size it would have.
        bytes: u64,
    },
    /// Writing the model failed.
    #[error("cannot write the ONNX model: {source}")]
    Write {
        /// The error of the writer.
        #[source]
        source: std::io::Error,
    },
    /// Writing the model file failed (the error names the file and what
    /// failed).
    #[error("cannot save the ONNX model: {0}")]
    File(#[source] crate::weights::WeightsError),
}

/// Saves the ONNX model of a network declared with `network!` to `path`:
/// its forward pass ([`Model::GRAPH`]) with its parameters. The same as
/// [`save`]`(&N::GRAPH, net, path)`.
///
/// ```no_run
/// use chainrule::prelude::*;
///
/// network! {
///     /// 4 → 16 → 3 classifier.
///     pub struct Iris {
///         hidden: Dense<4, 16> => relu,
///         output: Dense<16, 3> => softmax,
///         loss: cross_entropy,
///     }
/// }
///
/// let net = Iris::<f32>::new(1);
/// // Input `x` [batch, 4], output `a2` [batch, 3] (the probabilities).
/// chainrule::onnx::export(&net, "iris.onnx")?;
/// # Ok::<(), chainrule::onnx::OnnxError>(())
/// ```
///
/// # Errors
/// As [`save`].
pub fn export<N: Model>(net: &N, path: impl AsRef<Path>) -> Result<(), OnnxError> {
    save(&N::GRAPH, net, path)
}

/// The ONNX model (protobuf bytes) of `graph`'s forward pass with the
/// parameters `params`.
///
/// # Errors
/// An [`OnnxError`] when the graph is inconsistent, does not fit the
/// parameters, or uses something ONNX cannot express.
pub fn to_bytes<P: Parameters>(graph: &GraphSpec, params: &P) -> Result<Vec<u8>, OnnxError> {
    let model = lower::model(graph, params)?;
    let bytes = model.encoded_len() as u64;
    if bytes > i32::MAX as u64 {
        return Err(OnnxError::TooLarge { bytes });
    }
    Ok(model.encode_to_vec())
}

/// Writes the ONNX model of `graph` with `params` to `writer` (see
/// [`to_bytes`]). Nothing is written when the export fails.
///
/// # Errors
/// As [`to_bytes`], and [`OnnxError::Write`] when the writer fails.
pub fn write<P: Parameters, W: Write>(
    graph: &GraphSpec,
    params: &P,
    mut writer: W,
) -> Result<(), OnnxError> {
    let bytes = to_bytes(graph, params)?;
    writer
        .write_all(&bytes)
        .and_then(|()| writer.flush())
        .map_err(|source| OnnxError::Write { source })
}

/// Saves the ONNX model of `graph` with `params` to `path` (see
/// [`to_bytes`]).
///
/// Nothing is written when the export fails. The file is written as
/// [`weights::save`](crate::weights::save) writes weight files: to a fresh,
/// exclusive temporary file in the same directory, flushed to disk and
/// renamed over `path`, so `path` holds the old file or the whole new model,
/// never part of one.
///
/// # Errors
/// As [`to_bytes`], and [`OnnxError::File`] when the file cannot be written.
pub fn save<P: Parameters>(
    graph: &GraphSpec,
    params: &P,
    path: impl AsRef<Path>,
) -> Result<(), OnnxError> {
    let path = path.as_ref();
    let bytes = to_bytes(graph, params)?;
    crate::weights::write_atomically(path, &bytes).map_err(OnnxError::File)
}

#[cfg(test)]
mod tests;
