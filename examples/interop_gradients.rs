//! Writes, for graph-form and convolutional networks in f64, everything an
//! independent implementation needs to recompute chainrule's forward pass,
//! loss and gradients: `tests/interop/check_gradients.py` recomputes them
//! with JAX's automatic differentiation and compares.
//!
//! ```sh
//! cargo run --example interop_gradients -- .cache/interop-gradients
//! .cache/venv/bin/python tests/interop/check_gradients.py .cache/interop-gradients
//! ```
//!
//! For each case NAME it writes three safetensors files:
//! - `NAME.weights.safetensors`: the network's parameters, written by
//!   [`chainrule::weights::save`] (PyTorch's names and layouts:
//!   dense `[out, in]`, convolution `[out_ch, in_ch, k, k]`, LayerNorm
//!   `weight` / `bias`); every parameter is moved off its initial value, so
//!   biases are not zero and LayerNorm's γ is not one;
//! - `NAME.grads.safetensors`: chainrule's gradient of the loss with respect
//!   to every parameter, same names and shapes;
//! - `NAME.data.safetensors`: `input.X` for each input `X` of `fn forward`
//!   (`[B, N]`, or `[B, C, H, W]` for an image), `target.Y` for each output
//!   `Y` (`[B, N]` values, or `[B]` class indices as I64; a network with one
//!   output calls it `output`), chainrule's outputs `output.Y` (after the
//!   output activation), its `loss` (a scalar) and its gradient with respect
//!   to each input, `grad_input.X`; the metadata entry `architecture` holds
//!   the network's declaration.
//!
//! Gradients come from `Backprop::backprop_with_input_grads` and
//! `Model::input_gradients`, the generic interface; the file `cases.txt`
//! lists the cases written.

use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chainrule::graph::GraphSpec;
use chainrule::prelude::*;
use chainrule::weights;
use chainrule::{Backprop, BatchInputs, Targets};

// ------------------------------------------------------------- issue 9: graph form

network! {
    /// A residual MLP: `h` feeds the block and the sum after it.
    pub struct Residual {
        inp: Dense<4, 6>,
        block1: Dense<6, 6>,
        block2: Dense<6, 6>,
        out: Dense<6, 3>,
        fn forward(x: [4]) -> [3] {
            let h = tanh(inp(x));
            let r = relu(block1(h));
            let h2 = h + block2(r);
            softmax(out(h2))
        }
        loss: cross_entropy,
    }
}

network! {
    /// Two branches of one input, concatenated; soft (not one-hot) targets.
    pub struct Branches {
        left: Dense<3, 4>,
        right: Dense<3, 2>,
        head: Dense<6, 3>,
        fn forward(x: [3]) -> [3] {
            let a = tanh(left(x));
            let b = sigmoid(right(x));
            softmax(head(concat(a, b)))
        }
        loss: cross_entropy,
    }
}

network! {
    /// One layer applied twice (tied weights).
    pub struct Tied {
        shared: Dense<5, 5>,
        out: Dense<5, 2>,
        fn forward(x: [5]) -> [2] {
            let h = leaky_relu(shared(x));
            let h2 = tanh(shared(h));
            out(h2)
        }
        loss: mse,
    }
}

network! {
    /// Two inputs, joined by a sum and a concat; fractional targets.
    pub struct TwoInputs {
        a: Dense<3, 4>,
        b: Dense<2, 4>,
        out: Dense<9, 2>,
        fn forward(x1: [3], x2: [2]) -> [2] {
            let h = tanh(a(x1) + b(x2));
            sigmoid(out(concat(h, x1, x2)))
        }
        loss: binary_cross_entropy,
    }
}

network! {
    /// A class head and a regression head, a weighted sum of losses.
    pub struct TwoHeads {
        trunk: Dense<4, 5>,
        cls: Dense<5, 3>,
        reg: Dense<5, 2>,
        fn forward(x: [4]) -> (class: [3], size: [2]) {
            let h = tanh(trunk(x));
            (softmax(cls(h)), reg(h))
        }
        loss: cross_entropy(class, labels) + 0.5 * mse(size, sizes),
    }
}

network! {
    /// L2 penalties on two weights and a bias, added to a sum of squares.
    pub struct Penalty {
        a: Dense<3, 4>,
        b: Dense<4, 2>,
        fn forward(x: [3]) -> [2] {
            b(tanh(a(x)))
        }
        loss: sse + 0.01 * l2(a.weight, b.weight) + 0.5 * l2(b.bias),
    }
}

network! {
    /// Gating (an elementwise product), and a value multiplied by itself.
    pub struct Gated {
        gate: Dense<4, 3>,
        value: Dense<4, 3>,
        out: Dense<3, 2>,
        fn forward(x: [4]) -> [2] {
            let g = sigmoid(gate(x));
            let v = tanh(value(x));
            let gv = g * v;
            out(gv * gv + v)
        }
        loss: mse,
    }
}

network! {
    /// Layer normalisation between two layers.
    pub struct Normed {
        a: Dense<4, 6>,
        ln: LayerNorm<6>,
        b: Dense<6, 3>,
        fn forward(x: [4]) -> [3] {
            let h = ln(a(x));
            softmax(b(tanh(h)))
        }
        loss: cross_entropy,
    }
}

network! {
    /// All of the above in one graph: two inputs, a layer applied twice,
    /// LayerNorm, residual sums, gating, a concat, two heads with weighted
    /// losses and an L2 penalty.
    pub struct Everything {
        embed: Dense<4, 6>,
        side: Dense<3, 6>,
        block: Dense<6, 6>,
        ln: LayerNorm<6>,
        gate: DenseNoBias<3, 6>,
        cls: Dense<12, 3>,
        reg: Dense<6, 2>,
        fn forward(x: [4], extra: [3]) -> (class: [3], flags: [2]) {
            let h = tanh(embed(x)) + side(extra);
            let r = h + relu(block(ln(h)));
            let r2 = r + tanh(block(r));
            let g = sigmoid(gate(extra)) * r2;
            (softmax(cls(concat(g, h))), sigmoid(reg(g)))
        }
        loss: 2 * cross_entropy(class) + 0.5 * binary_cross_entropy(flags)
            + 0.001 * l2(embed.weight, block.weight, ln.weight),
    }
}

// ---------------------------------------------------------- issue 10: convolutions

network! {
    /// Stride 2 with padding 1 on a 7×6 image (the floor in the output size
    /// matters for the width), then a second convolution, flatten, dense.
    pub struct Strided {
        input: [2, 7, 6],
        conv1: Conv2d<2, 3, 3, stride = 2, padding = 1> => tanh,
        conv2: Conv2d<3, 2, 2> => tanh,
        flat: Flatten,
        out: Dense<12, 3> => softmax,
        loss: cross_entropy,
    }
}

network! {
    /// Max pooling after relu, a convolution without bias, average pooling
    /// with stride 1 (overlapping windows).
    pub struct Pools {
        input: [1, 8, 8],
        conv1: Conv2d<1, 2, 3, padding = 1> => relu,
        pool1: MaxPool2d<2>,
        conv2: Conv2dNoBias<2, 3, 3> => sigmoid,
        pool2: AvgPool2d<2, stride = 1>,
        flat: Flatten,
        out: Dense<3, 2> => softmax,
        loss: cross_entropy,
    }
}

network! {
    /// Pooling straight on an input with many ties: overlapping 3×3 max
    /// windows with stride 2, and 2×2 average windows, both flattened.
    pub struct PoolTies {
        maxp: MaxPool2d<3, stride = 2>,
        avgp: AvgPool2d<2>,
        head: Dense<26, 3>,
        fn forward(image: [2, 6, 6]) -> [3] {
            softmax(head(concat(flatten(maxp(image)), flatten(avgp(image)))))
        }
        loss: cross_entropy,
    }
}

network! {
    /// Two convolution branches joined along their channels, global
    /// average pooling, sigmoid outputs.
    pub struct Inception {
        a: Conv2d<1, 2, 3, padding = 1>,
        b: Conv2d<1, 2, 1>,
        c: Conv2d<4, 3, 3>,
        pool: GlobalAvgPool,
        head: Dense<3, 2>,
        fn forward(image: [1, 6, 6]) -> [2] {
            let both = concat(tanh(a(image)), tanh(b(image)));
            let features = pool(tanh(c(both)));
            sigmoid(head(features))
        }
        loss: binary_cross_entropy,
    }
}

network! {
    /// A convolution applied twice, a residual sum and a gate on images, a
    /// strided padded convolution, global pooling, an L2 penalty.
    pub struct ConvGraph {
        stem: Conv2d<1, 2, 3, padding = 1>,
        mix: Conv2d<2, 2, 3, padding = 1>,
        down: Conv2d<2, 3, 3, stride = 2, padding = 1>,
        pool: GlobalAvgPool,
        head: Dense<3, 2>,
        fn forward(image: [1, 5, 5]) -> [2] {
            let h = tanh(stem(image));
            let r = h + tanh(mix(h));
            let g = sigmoid(mix(r)) * r;
            softmax(head(pool(relu(down(g)))))
        }
        loss: cross_entropy + 0.01 * l2(mix.weight, stem.weight),
    }
}

// ------------------------------------------------------------------ writing

/// A tensor for a safetensors file.
struct Tensor {
    name: String,
    shape: Vec<usize>,
    data: Data,
}

enum Data {
    F64(Vec<f64>),
    I64(Vec<i64>),
}

impl Tensor {
    fn f64(name: impl Into<String>, shape: Vec<usize>, values: &[f64]) -> Self {
        assert_eq!(shape.iter().product::<usize>(), values.len());
        Tensor {
            name: name.into(),
            shape,
            data: Data::F64(values.to_vec()),
        }
    }
}

/// A JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32).unwrap(),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes `tensors` as a safetensors file (little-endian data, the header
/// padded with spaces to a multiple of 8 bytes).
fn write_tensors(
    path: &Path,
    tensors: &[Tensor],
    metadata: &[(&str, &str)],
) -> std::io::Result<()> {
    let mut header = String::from("{");
    let mut data = Vec::new();
    if !metadata.is_empty() {
        header.push_str("\"__metadata__\":{");
        let entries: Vec<String> = metadata
            .iter()
            .map(|(k, v)| format!("{}:{}", json_string(k), json_string(v)))
            .collect();
        header.push_str(&entries.join(","));
        header.push_str("},");
    }
    let mut entries = Vec::new();
    for t in tensors {
        let start = data.len();
        let dtype = match &t.data {
            Data::F64(v) => {
                v.iter()
                    .for_each(|x| data.extend_from_slice(&x.to_le_bytes()));
                "F64"
            }
            Data::I64(v) => {
                v.iter()
                    .for_each(|x| data.extend_from_slice(&x.to_le_bytes()));
                "I64"
            }
        };
        let shape: Vec<String> = t.shape.iter().map(usize::to_string).collect();
        entries.push(format!(
            "{}:{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{start},{}]}}",
            json_string(&t.name),
            shape.join(","),
            data.len()
        ));
    }
    header.push_str(&entries.join(","));
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&data);
    std::fs::write(path, bytes)
}

/// The targets of output `name` as a tensor: class indices (I64, `[B]`) or
/// values (`[B, N]`).
fn targets<Y: Targets<f64, B, N>, const B: usize, const N: usize>(name: &str, y: &Y) -> Tensor {
    let name = format!("target.{name}");
    match y.class_indices() {
        Some(labels) => Tensor {
            name,
            shape: vec![B],
            data: Data::I64(labels.iter().map(|&c| c as i64).collect()),
        },
        None => {
            let values: Vec<f64> = (0..B * N).map(|k| y.value(k / N, k % N)).collect();
            Tensor::f64(name, vec![B, N], &values)
        }
    }
}

/// Input entries spread over about [−1.5, 1.5], different for each case,
/// input and entry.
fn smooth(case: u64, input: usize, k: usize) -> f64 {
    1.5 * ((k as f64 + 1.0) * 0.731 + input as f64 * 2.17 + case as f64 * 0.59).sin()
}

/// Input entries on a grid of 5 values, so that pooling windows hold ties.
fn coarse(case: u64, input: usize, k: usize) -> f64 {
    (2.0 * smooth(case, input, k)).round() / 4.0
}

/// Runs forward, loss and backward (with input gradients) on `net` and
/// writes the case's three files.
#[allow(clippy::too_many_arguments)]
fn export<N, Y, const B: usize>(
    dir: &Path,
    case: &str,
    seed: u64,
    mut net: N,
    fill: fn(u64, usize, usize) -> f64,
    y: &Y,
    target_tensors: Vec<Tensor>,
    outputs: impl Fn(&N, &N::Inputs<B>, &mut N::Workspace<B>) -> Vec<Vec<f64>>,
) -> Result<(), Box<dyn Error>>
where
    N: Backprop<B, Y> + Model<Scalar = f64>,
    Y: ?Sized,
{
    // Every parameter off its initial value (biases off zero, LayerNorm's
    // γ off one), so that a mixed-up layout or a missed term shows.
    net.visit_mut(&mut |info, values| {
        for (k, v) in values.iter_mut().enumerate() {
            *v += 0.2 * ((k * 7 + info.index * 13) as f64 + seed as f64).sin();
        }
    });
    let spec = N::GRAPH;
    let mut x = <N::Inputs<B> as BatchInputs<f64>>::zeros();
    x.visit_mut(&mut |i, values| {
        for (k, v) in values.iter_mut().enumerate() {
            *v = fill(seed, i, k);
        }
    });

    let mut grads = net.new_gradients();
    let mut ws = net.new_workspace::<B>();
    let loss = net.backprop_with_input_grads(&x, y, &mut grads, &mut ws);
    let mut data = Vec::new();
    let shape_of = |value: usize| {
        let mut shape = vec![B];
        shape.extend_from_slice(spec.values[value].shape);
        shape
    };
    x.visit(&mut |i, values| {
        let value = spec.inputs[i];
        data.push(Tensor::f64(
            format!("input.{}", spec.values[value].name),
            shape_of(value),
            values,
        ));
    });
    N::input_gradients(&ws).visit(&mut |i, values| {
        let value = spec.inputs[i];
        data.push(Tensor::f64(
            format!("grad_input.{}", spec.values[value].name),
            shape_of(value),
            values,
        ));
    });
    data.extend(target_tensors);
    data.push(Tensor::f64("loss", vec![], &[loss]));
    // The outputs of a fresh forward pass (the backward pass may reuse the
    // buffers).
    let mut fresh = net.new_workspace::<B>();
    let outs = outputs(&net, &x, &mut fresh);
    assert_eq!(outs.len(), spec.outputs.len());
    for (&value, out) in spec.outputs.iter().zip(&outs) {
        data.push(Tensor::f64(
            format!("output.{}", output_name(spec, value)),
            shape_of(value),
            out,
        ));
    }

    let weights_file = dir.join(format!("{case}.weights.safetensors"));
    weights::save(&net, &weights_file)?;
    // The file reloads to the same parameters.
    let mut reloaded = N::init(seed + 100);
    weights::load_into(&mut reloaded, &weights_file)?;
    let tensors = |params: &N| {
        let mut all = Vec::new();
        params.visit(&mut |_, values| all.push(values.to_vec()));
        all
    };
    if tensors(&reloaded) != tensors(&net) {
        return Err(format!("{case}: the weight file reloads to other parameters").into());
    }
    weights::save_parameters(&grads, &[], dir.join(format!("{case}.grads.safetensors")))?;
    write_tensors(
        &dir.join(format!("{case}.data.safetensors")),
        &data,
        &[("architecture", N::ARCHITECTURE), ("case", case)],
    )?;
    println!(
        "interop gradients: {case}: loss {loss:.6}, files in {}",
        dir.display()
    );
    Ok(())
}

/// The name of an output in the files: its name in `fn forward`, or
/// `output` for the one output of a network (which the sequential form names
/// after its last value, `a4`).
fn output_name(spec: GraphSpec, value: usize) -> &'static str {
    if spec.outputs.len() == 1 {
        "output"
    } else {
        spec.values[value].name
    }
}

/// A batch of `B` class labels.
fn labels<const B: usize, const N: usize>(seed: usize) -> ClassLabels<B, N> {
    let rows: Vec<usize> = (0..B).map(|i| (i * 2 + seed) % N).collect();
    ClassLabels::from_slice(&rows).expect("labels below N")
}

/// Regression targets in about [−1, 1].
fn values<const B: usize, const N: usize>(seed: u64) -> Matrix<f64, B, N> {
    Matrix::from_fn(|i, j| ((i * N + j) as f64 * 1.37 + seed as f64).cos())
}

/// Probabilities in [0, 1] as targets of sigmoid outputs, some 0 and 1.
fn probabilities<const B: usize, const N: usize>() -> Matrix<f64, B, N> {
    Matrix::from_fn(|i, j| [0.0, 1.0, 0.3, 0.85][(i + 2 * j) % 4])
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| ".cache/interop-gradients".into()),
    );
    std::fs::create_dir_all(&dir)?;
    let mut cases = Vec::new();
    macro_rules! single {
        ($case:literal, $seed:literal, $net:ty, $b:literal, $fill:expr, $y:expr) => {{
            let y = $y;
            let spec = <$net as Model>::GRAPH;
            let output = output_name(spec, spec.outputs[0]);
            export::<$net, _, $b>(
                &dir,
                $case,
                $seed,
                <$net>::new($seed),
                $fill,
                &y,
                vec![targets(output, &y)],
                |n, x, ws| vec![n.forward_with(x, ws).as_slice().to_vec()],
            )?;
            cases.push($case);
        }};
    }

    // Issue 9: the graph form.
    single!("residual", 1, Residual<f64>, 4, smooth, labels::<4, 3>(0));
    let soft = Matrix::<f64, 4, 3>::from_rows([
        [0.2, 0.5, 0.3],
        [1.0, 0.0, 0.0],
        [0.0, 0.6, 0.4],
        [0.1, 0.1, 0.8],
    ]);
    single!("branches", 2, Branches<f64>, 4, smooth, soft);
    single!("tied", 3, Tied<f64>, 4, smooth, values::<4, 2>(3));
    single!(
        "two_inputs",
        4,
        TwoInputs<f64>,
        4,
        smooth,
        probabilities::<4, 2>()
    );
    {
        let (class, size) = (labels::<4, 3>(1), values::<4, 2>(5));
        export::<TwoHeads<f64>, _, 4>(
            &dir,
            "two_heads",
            5,
            TwoHeads::new(5),
            smooth,
            &(&class, &size),
            vec![targets("class", &class), targets("size", &size)],
            |n, x, ws| {
                let (a, b) = n.forward_with(x, ws);
                vec![a.as_slice().to_vec(), b.as_slice().to_vec()]
            },
        )?;
        cases.push("two_heads");
    }
    single!("penalty", 6, Penalty<f64>, 4, smooth, values::<4, 2>(6));
    single!("gated", 7, Gated<f64>, 4, smooth, values::<4, 2>(7));
    single!("layer_norm", 8, Normed<f64>, 4, smooth, labels::<4, 3>(2));
    {
        let (class, flags) = (labels::<4, 3>(2), probabilities::<4, 2>());
        export::<Everything<f64>, _, 4>(
            &dir,
            "everything",
            9,
            Everything::new(9),
            smooth,
            &(&class, &flags),
            vec![targets("class", &class), targets("flags", &flags)],
            |n, x, ws| {
                let (a, b) = n.forward_with(x, ws);
                vec![a.as_slice().to_vec(), b.as_slice().to_vec()]
            },
        )?;
        cases.push("everything");
    }

    // Issue 10: convolutions.
    single!(
        "conv_strided",
        10,
        Strided<f64>,
        3,
        smooth,
        labels::<3, 3>(1)
    );
    single!("conv_pools", 11, Pools<f64>, 3, smooth, labels::<3, 2>(1));
    single!("pool_ties", 12, PoolTies<f64>, 3, coarse, labels::<3, 3>(2));
    single!(
        "conv_inception",
        13,
        Inception<f64>,
        3,
        smooth,
        probabilities::<3, 2>()
    );
    single!(
        "conv_graph",
        14,
        ConvGraph<f64>,
        3,
        smooth,
        labels::<3, 2>(0)
    );

    std::fs::write(dir.join("cases.txt"), cases.join("\n") + "\n")?;
    Ok(())
}
