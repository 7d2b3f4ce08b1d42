//! Convolutions, pooling and flatten: shapes computed by the macro, the
//! forward pass against a direct (loop) implementation written here, the
//! backward pass against central differences in f64 (weights, biases and
//! input, strided and padded, stacked), PyTorch's conventions (NCHW,
//! cross-correlation, `[out, in, k, k]` weights, max-pool gradient to the
//! first maximum), and no image-sized array on the stack.

use chainrule::gradcheck::{self, GradCheckReport};
use chainrule::prelude::*;

fn batch<const B: usize, const N: usize>(seed: u64) -> Matrix<f64, B, N> {
    Matrix::from_fn(|i, j| {
        let t = ((i * 131 + j * 37) as u64 + seed * 11) % 29;
        (t as f64 - 14.0) / 9.1 + 0.03
    })
}

fn assert_passes(report: &GradCheckReport, what: &str) {
    assert!(
        report.passes(gradcheck::DEFAULT_TOLERANCE),
        "{what}: {report}"
    );
    assert!(report.entries_checked > 0);
}

/// The convolution by its definition: `y[o, i, j] = b[o] + Σ_{c, u, v}
/// w[o, c, u, v] · x[c, i·s + u − p, j·s + v − p]` (zero outside).
#[allow(clippy::too_many_arguments)]
fn conv_direct(
    x: &[f64],
    (c, h, w): (usize, usize, usize),
    weight: &[f64],
    bias: Option<&[f64]>,
    out_ch: usize,
    k: usize,
    s: usize,
    p: usize,
) -> Vec<f64> {
    let oh = (h + 2 * p - k) / s + 1;
    let ow = (w + 2 * p - k) / s + 1;
    let mut y = vec![0.0; out_ch * oh * ow];
    for o in 0..out_ch {
        for i in 0..oh {
            for j in 0..ow {
                let mut acc = bias.map_or(0.0, |b| b[o]);
                for ch in 0..c {
                    for u in 0..k {
                        for v in 0..k {
                            let (r, q) = (
                                (i * s + u) as isize - p as isize,
                                (j * s + v) as isize - p as isize,
                            );
                            if r >= 0 && q >= 0 && (r as usize) < h && (q as usize) < w {
                                acc += weight[((o * c + ch) * k + u) * k + v]
                                    * x[(ch * h + r as usize) * w + q as usize];
                            }
                        }
                    }
                }
                y[(o * oh + i) * ow + j] = acc;
            }
        }
    }
    y
}

network! {
    /// Stride 2 with padding 1, then a second convolution, then a dense layer.
    pub struct Strided {
        input: [2, 7, 6],
        conv1: Conv2d<2, 3, 3, stride = 2, padding = 1> => tanh,
        conv2: Conv2d<3, 2, 2> => tanh,
        flat: Flatten,
        out: Dense<12, 3> => softmax,
        loss: cross_entropy,
    }
}

#[test]
fn stacked_strided_padded_convolutions() {
    // conv1: ⌊(7 + 2 − 3)/2⌋ + 1 = 4 rows, ⌊(6 + 2 − 3)/2⌋ + 1 = 3 columns;
    // conv2: 3 × 2; flat: 2·3·2 = 12.
    let net = Strided::<f64>::new(1);
    let x = batch::<2, 84>(1);
    let mut ws = net.workspace::<2>();
    net.forward_with(&x, &mut ws);
    for row in 0..2 {
        let expected = conv_direct(
            x.row(row),
            (2, 7, 6),
            net.conv1.weight.as_slice(),
            Some(net.conv1.bias.as_slice()),
            3,
            3,
            2,
            1,
        );
        assert_eq!(expected.len(), 36);
        for (got, want) in ws.z1.row(row).iter().zip(&expected) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
    }
    let y = ClassLabels::<2, 3>::new([2, 0]).unwrap();
    assert_passes(&gradcheck::check_model(&net, &x, &y), "strided");
    assert_passes(&gradcheck::check_network(&net, &x, &y), "strided (Network)");
    let names: Vec<&str> = <Strided<f64> as Model>::GRAPH
        .values
        .iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names, ["x", "z1", "a1", "z2", "a2", "z3", "z4", "a4"]);
    assert_eq!(<Strided<f64> as Model>::GRAPH.values[1].shape, &[3, 4, 3]);
}

network! {
    /// LeNet-like, small: max pooling, average pooling, no-bias convolution.
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

#[test]
fn pooling_gradients() {
    let net = Pools::<f64>::new(2);
    let x = batch::<3, 64>(2);
    let y = ClassLabels::<3, 2>::new([1, 0, 1]).unwrap();
    assert_passes(&gradcheck::check_model(&net, &x, &y), "pools");
    // Names follow the weight-file layout of nn.Conv2d.
    let mut shapes = Vec::new();
    net.visit(&mut |info, _| shapes.push((info.name.to_string(), info.shape.to_vec())));
    assert_eq!(
        shapes,
        [
            ("conv1.weight".to_string(), vec![2, 1, 3, 3]),
            ("conv1.bias".to_string(), vec![2]),
            ("conv2.weight".to_string(), vec![3, 2, 3, 3]),
            ("out.weight".to_string(), vec![2, 3]),
            ("out.bias".to_string(), vec![2]),
        ]
    );
}

network! {
    /// The graph form: two convolution branches joined along their channels,
    /// global average pooling.
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

#[test]
fn image_concat_and_global_pooling_gradients() {
    let net = Inception::<f64>::new(3);
    let x = batch::<2, 36>(3);
    let y = Matrix::<f64, 2, 2>::from_rows([[1.0, 0.0], [0.0, 1.0]]);
    assert_passes(&gradcheck::check_model(&net, &x, &y), "inception");
}

#[test]
fn max_pooling_sends_the_gradient_to_the_first_maximum() {
    use chainrule::conv::Pool2dGeometry;
    type G = Pool2dGeometry<1, 2, 4, 2, 2>;
    // Two windows: [1, 3; 3, 0] (tie: the first 3, row-major) and [5, 5; 5, 5].
    let x = Matrix::<f64, 1, 8>::from_rows([[1.0, 3.0, 5.0, 5.0, 3.0, 0.0, 5.0, 5.0]]);
    let mut y = Matrix::<f64, 1, 2>::zeros();
    G::max_forward(&x, &mut y);
    assert_eq!(y, Matrix::from_rows([[3.0, 5.0]]));
    let dy = Matrix::<f64, 1, 2>::from_rows([[10.0, 20.0]]);
    let mut dx = Matrix::<f64, 1, 8>::filled(7.0);
    G::max_backward(&x, &dy, &mut dx, false);
    assert_eq!(
        dx,
        Matrix::from_rows([[0.0, 10.0, 20.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    );
    // A NaN is the maximum, as in PyTorch.
    let x = Matrix::<f64, 1, 8>::from_rows([[1.0, f64::NAN, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0]]);
    G::max_forward(&x, &mut y);
    assert!(y[(0, 0)].is_nan());
}

network! {
    /// A LeNet-5-sized network (issue 10's `lenet`).
    pub struct LeNet {
        input: [1, 28, 28],
        conv1: Conv2d<1, 6, 5, padding = 2> => relu,
        pool1: MaxPool2d<2>,
        conv2: Conv2d<6, 16, 5> => relu,
        pool2: MaxPool2d<2>,
        flat: Flatten,
        fc1: Dense<400, 120> => relu,
        fc2: Dense<120, 84> => relu,
        out: Dense<84, 10> => softmax,
        loss: cross_entropy,
    }
}

#[test]
fn a_lenet_batch_of_64_runs_in_a_2_mib_thread() {
    // Nothing image-sized lives on the stack, even in a debug build.
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let net = LeNet::<f32>::new(4);
            let x = Matrix::<f32, 64, 784>::from_fn(|i, j| ((i + j) % 7) as f32 / 7.0);
            let labels =
                ClassLabels::<64, 10>::from_slice(&(0..64).map(|i| i % 10).collect::<Vec<_>>())
                    .unwrap();
            let mut grads = net.gradients();
            let mut ws = net.workspace::<64>();
            let loss = net.backward(&x, &labels, &mut grads, &mut ws);
            assert!(loss.is_finite());
            let mut norm = 0.0;
            grads.visit(&mut |_, g| norm += g.iter().map(|v| v * v).sum::<f32>());
            assert!(norm > 0.0);
        })
        .expect("spawn");
    handle.join().expect("the LeNet step ran in 2 MiB");
}

#[test]
fn lenet_shapes_are_computed() {
    let spec = <LeNet<f32> as Model>::GRAPH;
    let shapes: Vec<(&str, &[usize])> = spec.values.iter().map(|v| (v.name, v.shape)).collect();
    assert_eq!(shapes[1], ("z1", &[6, 28, 28][..]));
    assert_eq!(shapes[3], ("z2", &[6, 14, 14][..]));
    assert_eq!(shapes[4], ("z3", &[16, 10, 10][..]));
    assert_eq!(shapes[6], ("z4", &[16, 5, 5][..]));
    assert_eq!(shapes[7], ("z5", &[400][..]));
    assert_eq!(LeNet::<f32>::INPUTS, 784);
}

#[test]
fn a_cnn_weight_file_round_trips_with_pytorch_names_and_shapes() {
    let net = Pools::<f32>::new(9);
    let dir = std::env::temp_dir().join(format!("chainrule-cnn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let path = dir.join("pools.safetensors");
    chainrule::weights::save(&net, &path).expect("saved");
    let reloaded: Pools<f32> = chainrule::weights::load(&path).expect("loaded");
    assert_eq!(reloaded, net);
    // The file itself: the kernels as [out_ch, in_ch, k, k], as nn.Conv2d.
    let bytes = std::fs::read(&path).expect("read back");
    let file = safetensors::SafeTensors::deserialize(&bytes).expect("a safetensors file");
    let conv2 = file.tensor("conv2.weight").expect("conv2.weight");
    assert_eq!(conv2.shape(), &[3, 2, 3, 3]);
    assert!(
        file.tensor("conv2.bias").is_err(),
        "Conv2dNoBias has no bias"
    );
    let first: Vec<f32> = conv2.data()[..16]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(first, net.conv2.weight.as_slice()[..4]);
    let _ = std::fs::remove_dir_all(&dir);
}

network! {
    /// A flattened image named by a `let`.
    pub struct Named {
        conv: Conv2d<1, 2, 3>,
        out: Dense<8, 2>,
        fn forward(image: [1, 4, 4]) -> [2] {
            let features = tanh(conv(image));
            let flat = flatten(features);
            out(flat)
        }
        loss: mse,
    }
}

#[test]
fn a_flattened_value_is_read_by_its_name() {
    let net = Named::<f64>::new(10);
    let x = batch::<2, 16>(10);
    let mut ws = net.workspace::<2>();
    net.forward_with(&x, &mut ws);
    // The same entries, C, H, W order: no copy was made.
    assert_eq!(ws.flat().as_slice(), ws.features.as_slice());
    assert!(std::ptr::eq(ws.flat(), &ws.features));
}
