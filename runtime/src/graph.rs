//! A network's forward computation as data: the values it computes, with
//! their shapes and names, and the operations between them.
//!
//! `network!` writes one [`GraphSpec`] per network (`Model::GRAPH`), the same
//! graph its forward pass computes, in the same order. Tools walk it instead
//! of the generated code: the ONNX exporter, the graph pictures, a user's own
//! summary. Parameters are referred to by their weight-file names
//! (`"hidden.weight"`), which [`Parameters::visit`](crate::Parameters::visit)
//! gives with their entries.
//!
//! Shapes are per sample, without the batch dimension: `[128]` for a dense
//! value, `[6, 28, 28]` (channels, height, width) for an image. Every value is
//! stored as a `B × (product of its shape)` matrix, images in C, H, W order
//! (NCHW for the batch, as PyTorch).
//!
//! ```
//! use chainrule::graph::{GraphSpec, OpSpec, ValueSpec};
//! // x [4] → hidden (dense) → relu → output (dense) → softmax
//! const VALUES: &[ValueSpec] = &[
//!     ValueSpec { name: "x", shape: &[4] },
//!     ValueSpec { name: "z1", shape: &[16] },
//!     ValueSpec { name: "a1", shape: &[16] },
//! ];
//! let spec = GraphSpec {
//!     name: "Tiny",
//!     values: VALUES,
//!     inputs: &[0],
//!     outputs: &[2],
//!     ops: &[
//!         OpSpec::Dense { layer: "hidden", input: 0, output: 1, bias: true },
//!         OpSpec::Activation { function: chainrule::graph::ActivationSpec::Relu, input: 1, output: 2 },
//!     ],
//! };
//! assert_eq!(spec.values[spec.outputs[0]].shape, &[16]);
//! ```

/// The forward computation of a network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GraphSpec {
    /// The network's name, as declared.
    pub name: &'static str,
    /// Every value, inputs first; operations refer to values by index here.
    pub values: &'static [ValueSpec],
    /// The network's inputs, in the order of the forward pass's arguments.
    pub inputs: &'static [usize],
    /// The network's outputs (after the output activation: probabilities for
    /// a softmax or sigmoid output), in the order the forward pass returns them.
    pub outputs: &'static [usize],
    /// The operations in an order where every value is computed before it is
    /// read.
    pub ops: &'static [OpSpec],
}

/// One value computed by the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueSpec {
    /// The name in the generated code and the workspace (`h`, `z1`, `a1`).
    pub name: &'static str,
    /// The shape of one sample: `[N]`, or `[C, H, W]` for an image.
    pub shape: &'static [usize],
}

impl ValueSpec {
    /// The number of entries of one sample (the product of the shape).
    #[must_use]
    pub fn features(&self) -> usize {
        self.shape.iter().product()
    }
}

/// An elementwise or row-wise function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActivationSpec {
    /// `max(z, 0)`.
    Relu,
    /// `z` for `z > 0`, else `0.01·z`.
    LeakyRelu,
    /// `1 / (1 + e^(−z))`.
    Sigmoid,
    /// `tanh z`.
    Tanh,
    /// Softmax over the features of each sample.
    Softmax,
}

/// One operation of the forward pass. Layers are named by their field name,
/// their parameters by `"{layer}.weight"` / `"{layer}.bias"`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum OpSpec {
    /// `output = input·Wᵀ (+ 1·bᵀ)`, `W` = `"{layer}.weight"` (`[out, in]`),
    /// `b` = `"{layer}.bias"` (`[out]`) when `bias`.
    Dense {
        /// The layer's field name.
        layer: &'static str,
        /// The value multiplied.
        input: usize,
        /// The result.
        output: usize,
        /// Whether the layer has a bias.
        bias: bool,
    },
    /// `output = f(input)`.
    Activation {
        /// The function.
        function: ActivationSpec,
        /// Its argument.
        input: usize,
        /// Its result.
        output: usize,
    },
    /// `output = lhs + rhs` (same shapes).
    Add {
        /// The left operand.
        lhs: usize,
        /// The right operand.
        rhs: usize,
        /// The sum.
        output: usize,
    },
    /// `output = lhs ⊗ rhs`, elementwise (same shapes).
    Mul {
        /// The left operand.
        lhs: usize,
        /// The right operand.
        rhs: usize,
        /// The product.
        output: usize,
    },
    /// `output` = the features of `inputs` side by side, in order (channels
    /// for images of the same height and width).
    Concat {
        /// The concatenated values.
        inputs: &'static [usize],
        /// The result.
        output: usize,
    },
    /// Layer normalisation over the features of each sample:
    /// `γ ⊗ (x − μ)/√(σ² + ε) + β`, σ² the biased variance, `γ` =
    /// `"{layer}.weight"`, `β` = `"{layer}.bias"` (as `nn.LayerNorm`).
    LayerNorm {
        /// The layer's field name.
        layer: &'static str,
        /// The normalised value.
        input: usize,
        /// The result.
        output: usize,
        /// ε.
        epsilon: f64,
    },
    /// 2-D cross-correlation (no kernel flip), NCHW, weights
    /// `"{layer}.weight"` `[out_ch, in_ch, k, k]`, bias `[out_ch]` when `bias`.
    Conv2d {
        /// The layer's field name.
        layer: &'static str,
        /// The input image.
        input: usize,
        /// The output image.
        output: usize,
        /// The kernel's height and width.
        kernel: usize,
        /// The step between windows, both directions.
        stride: usize,
        /// Zeros added on every side.
        padding: usize,
        /// Whether the layer has a bias.
        bias: bool,
    },
    /// The maximum of each `kernel × kernel` window, per channel.
    MaxPool2d {
        /// The input image.
        input: usize,
        /// The output image.
        output: usize,
        /// The window's height and width.
        kernel: usize,
        /// The step between windows.
        stride: usize,
    },
    /// The mean of each `kernel × kernel` window, per channel.
    AvgPool2d {
        /// The input image.
        input: usize,
        /// The output image.
        output: usize,
        /// The window's height and width.
        kernel: usize,
        /// The step between windows.
        stride: usize,
    },
    /// The mean of each channel: `[C, H, W]` → `[C]`.
    GlobalAvgPool {
        /// The input image.
        input: usize,
        /// The means.
        output: usize,
    },
    /// `[C, H, W]` → `[C·H·W]` in C, H, W order (the stored entries do not
    /// move).
    Flatten {
        /// The image.
        input: usize,
        /// The flat value.
        output: usize,
    },
}
