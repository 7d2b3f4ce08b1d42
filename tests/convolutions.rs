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
    let dir = tempfile::Builder::new()
        .prefix("chainrule-cnn-")
        .tempdir()
        .expect("temporary directory");
    let path = dir.path().join("pools.safetensors");
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

/// Runs one convolution geometry in f32 (the AVX2 + FMA products where the
/// CPU has them: patches read in place with rows padded to 8 positions,
/// strided result rows, the weight gradient computed transposed) and in
/// f64, and checks the f32 forward pass, weight, bias and input gradients
/// (written, then accumulated) against the f64 ones and the forward pass
/// against the definition.
macro_rules! conv_f32_matches_f64 {
    ($c:literal, $h:literal, $w:literal, $k:literal, $s:literal, $p:literal, $oc:literal, $b:literal) => {{
        use chainrule::conv::Conv2dGeometry;
        type G = Conv2dGeometry<$c, $h, $w, $k, $s, $p>;
        const IN: usize = $c * $h * $w;
        const KK: usize = $c * $k * $k;
        const OUT: usize = $oc * G::POSITIONS;
        const PATCHES: usize = G::PATCHES_PER_IMAGE;
        const SCRATCH: usize = G::scratch_len($oc);
        let what = stringify!(($c, $h, $w, $k, $s, $p, $oc, $b));
        let x = batch::<$b, IN>(3);
        let w = batch::<$oc, KK>(4);
        let bias = batch::<1, $oc>(5);
        let dy = batch::<$b, OUT>(6);
        let (x32, w32, bias32, dy32) = (
            x.cast::<f32>(),
            w.cast::<f32>(),
            bias.cast::<f32>(),
            dy.cast::<f32>(),
        );
        let close = |got: &[f32], want: &[f64], what: &str| {
            let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            for (i, (&g, &v)) in got.iter().zip(want).enumerate() {
                assert!(
                    (f64::from(g) - v).abs() <= 1e-5 * scale,
                    "{what}: entry {i}: {g} (f32) vs {v} (f64)"
                );
            }
        };
        // Forward.
        let (mut p64, mut p32) = (
            Matrix::<f64, 1, PATCHES>::zeros(),
            Matrix::<f32, 1, PATCHES>::filled(f32::NAN),
        );
        let (mut s64, mut s32) = (
            Matrix::<f64, 1, SCRATCH>::zeros(),
            Matrix::<f32, 1, SCRATCH>::filled(f32::NAN),
        );
        let (mut y64, mut y32) = (
            Matrix::<f64, $b, OUT>::zeros(),
            Matrix::<f32, $b, OUT>::filled(f32::NAN),
        );
        G::forward(&x, &w, Some(&bias), &mut p64, &mut s64, &mut y64);
        G::forward(&x32, &w32, Some(&bias32), &mut p32, &mut s32, &mut y32);
        close(y32.as_slice(), y64.as_slice(), &format!("{what} forward"));
        for row in 0..$b {
            let want = conv_direct(
                x.row(row),
                ($c, $h, $w),
                w.as_slice(),
                Some(bias.as_slice()),
                $oc,
                $k,
                $s,
                $p,
            );
            for (got, want) in y64.row(row).iter().zip(&want) {
                assert!(
                    (got - want).abs() < 1e-12,
                    "{what} forward (f64): {got} vs {want}"
                );
            }
        }
        // Weight and bias gradients, written then added.
        let (mut dw64, mut dw32) = (
            Matrix::<f64, $oc, KK>::zeros(),
            Matrix::<f32, $oc, KK>::filled(f32::NAN),
        );
        let (mut db64, mut db32) = (
            Matrix::<f64, 1, $oc>::zeros(),
            Matrix::<f32, 1, $oc>::filled(f32::NAN),
        );
        for accumulate in [false, true] {
            G::param_grads(
                &dy,
                &x,
                &mut p64,
                &mut s64,
                &mut dw64,
                Some(&mut db64),
                accumulate,
            );
            G::param_grads(
                &dy32,
                &x32,
                &mut p32,
                &mut s32,
                &mut dw32,
                Some(&mut db32),
                accumulate,
            );
            close(
                dw32.as_slice(),
                dw64.as_slice(),
                &format!("{what} weight gradient, accumulate {accumulate}"),
            );
            close(
                db32.as_slice(),
                db64.as_slice(),
                &format!("{what} bias gradient, accumulate {accumulate}"),
            );
        }
        // The weight gradient by its definition: Σ_images, positions dy·x.
        let (oh, ow) = (G::OUT_HEIGHT, G::OUT_WIDTH);
        for o in 0..$oc {
            for r in 0..KK {
                let (ch, u, v) = (r / ($k * $k), r / $k % $k, r % $k);
                let mut want = 0.0;
                for n in 0..$b {
                    for i in 0..oh {
                        for j in 0..ow {
                            let (rr, qq) = ((i * $s + u) as isize - $p, (j * $s + v) as isize - $p);
                            if rr >= 0 && qq >= 0 && (rr as usize) < $h && (qq as usize) < $w {
                                want += dy[(n, (o * oh + i) * ow + j)]
                                    * x[(n, (ch * $h + rr as usize) * $w + qq as usize)];
                            }
                        }
                    }
                }
                let got = dw64[(o, r)] / 2.0; // written, then added once more
                assert!(
                    (got - want).abs() < 1e-9 * want.abs().max(1.0),
                    "{what} dW[{o}, {r}]: {got} vs {want}"
                );
            }
        }
        // Input gradient, written then added.
        let (mut dx64, mut dx32) = (
            Matrix::<f64, $b, IN>::zeros(),
            Matrix::<f32, $b, IN>::filled(f32::NAN),
        );
        for accumulate in [false, true] {
            G::input_grad(&dy, &w, &mut s64, &mut dx64, accumulate);
            G::input_grad(&dy32, &w32, &mut s32, &mut dx32, accumulate);
            close(
                dx32.as_slice(),
                dx64.as_slice(),
                &format!("{what} input gradient, accumulate {accumulate}"),
            );
        }
    }};
}

#[test]
fn f32_convolution_kernels_match_f64_and_the_definition() {
    // LeNet's two convolutions (784 positions, a multiple of 8; 100, not),
    // at batch sizes whose last image's rows end the buffers.
    conv_f32_matches_f64!(1, 28, 28, 5, 1, 2, 6, 3);
    conv_f32_matches_f64!(6, 14, 14, 5, 1, 0, 16, 2);
    // Stride 2 with padding, more output channels than positions, one
    // image, odd sizes.
    conv_f32_matches_f64!(2, 7, 6, 3, 2, 1, 3, 1);
    conv_f32_matches_f64!(3, 5, 5, 3, 1, 0, 24, 2);
    conv_f32_matches_f64!(2, 9, 11, 4, 3, 2, 5, 3);
}

/// Max pooling by its definition: the value and the gradient of the first
/// maximum of each window in row-major order (a NaN is the maximum).
fn max_pool_direct(
    x: &[f64],
    (c, h, w): (usize, usize, usize),
    k: usize,
    s: usize,
    dy: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let (oh, ow) = ((h - k) / s + 1, (w - k) / s + 1);
    let (mut y, mut dx) = (vec![0.0; c * oh * ow], vec![0.0; c * h * w]);
    for ch in 0..c {
        for i in 0..oh {
            for j in 0..ow {
                let mut best: Option<usize> = None;
                for u in 0..k {
                    for v in 0..k {
                        let at = (ch * h + i * s + u) * w + j * s + v;
                        best = match best {
                            Some(b) if x[b].is_nan() || !(x[at] > x[b] || x[at].is_nan()) => {
                                Some(b)
                            }
                            _ => Some(at),
                        };
                    }
                }
                let (b, out) = (best.unwrap(), (ch * oh + i) * ow + j);
                y[out] = x[b];
                dx[b] += dy[out];
            }
        }
    }
    (y, dx)
}

#[test]
fn max_pooling_matches_its_definition_with_ties_nans_and_odd_sizes() {
    use chainrule::conv::Pool2dGeometry;
    fn check<
        const C: usize,
        const H: usize,
        const W: usize,
        const K: usize,
        const S: usize,
        const IN: usize,
        const OUT: usize,
    >() {
        // Few distinct values (ties everywhere) and a few NaNs.
        let mut x = Matrix::<f64, 2, IN>::from_fn(|i, j| ((i * 7 + j * 5) % 4) as f64);
        x[(1, 3)] = f64::NAN;
        x[(1, IN - 1)] = f64::NAN;
        let dy = batch::<2, OUT>(8);
        let mut y = Matrix::<f64, 2, OUT>::zeros();
        Pool2dGeometry::<C, H, W, K, S>::max_forward(&x, &mut y);
        let mut dx = Matrix::<f64, 2, IN>::filled(3.0);
        Pool2dGeometry::<C, H, W, K, S>::max_backward(&x, &dy, &mut dx, false);
        let mut dx_added = Matrix::<f64, 2, IN>::filled(3.0);
        Pool2dGeometry::<C, H, W, K, S>::max_backward(&x, &dy, &mut dx_added, true);
        for row in 0..2 {
            let (want_y, want_dx) = max_pool_direct(x.row(row), (C, H, W), K, S, dy.row(row));
            for (got, want) in y.row(row).iter().zip(&want_y) {
                assert!(
                    got == want || (got.is_nan() && want.is_nan()),
                    "{C}×{H}×{W}, K {K}, S {S}: {got} vs {want}"
                );
            }
            assert_eq!(
                dx.row(row).as_slice(),
                want_dx.as_slice(),
                "{C}×{H}×{W}, K {K}, S {S}"
            );
            // Added onto what was there (overlapping windows add in another
            // order: equal to rounding).
            for (got, want) in dx_added.row(row).iter().zip(&want_dx) {
                assert!((got - (want + 3.0)).abs() < 1e-12, "{got} vs {want} + 3");
            }
        }
    }
    check::<2, 6, 8, 2, 2, 96, 24>(); // the 2×2 stride-2 path
    check::<3, 5, 7, 2, 2, 105, 18>(); // odd sizes: a row and a column in no window
    check::<2, 6, 6, 3, 2, 72, 8>(); // overlapping windows: the general path
    check::<1, 5, 5, 2, 1, 25, 16>();
}
