//! chainrule::weights: safetensors round trips, PyTorch names and layouts,
//! atomic saving, and a typed error for every kind of bad file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chainrule::activations::{activate_into, Relu};
use chainrule::layers::{init_rng, Dense, Init};
use chainrule::weights::{self, WeightsError};
use chainrule::{
    losses, LossReduction, Matrix, Network, ParamInfo, Parameters, Scalar, Targets, UpdateFn,
};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

// ------------------------------------------------ a hand-written test network

/// 3 → 4 (relu) → 2 (softmax), cross-entropy: what `network!` generates for
/// `hidden: Dense<3, 4> => relu, output: Dense<4, 2> => softmax`.
#[derive(Clone, Debug, PartialEq)]
struct Mlp<T: Scalar> {
    hidden: Dense<T, 3, 4>,
    output: Dense<T, 4, 2>,
}

struct MlpWorkspace<T: Scalar, const B: usize> {
    z1: Matrix<T, B, 4>,
    a1: Matrix<T, B, 4>,
    z2: Matrix<T, B, 2>,
    a2: Matrix<T, B, 2>,
}

const NAMES: [&str; 4] = [
    "hidden.weight",
    "hidden.bias",
    "output.weight",
    "output.bias",
];
const SHAPES: [&[usize]; 4] = [&[4, 3], &[4], &[2, 4], &[2]];

fn info(index: usize) -> ParamInfo<'static> {
    ParamInfo {
        name: NAMES[index],
        shape: SHAPES[index],
        index,
    }
}

impl<T: Scalar> Parameters for Mlp<T> {
    type Scalar = T;
    const TENSORS: usize = 4;
    const SCALARS: usize = 12 + 4 + 8 + 2;
    fn visit(&self, f: &mut dyn FnMut(ParamInfo<'_>, &[T])) {
        f(info(0), self.hidden.weight.as_slice());
        f(info(1), self.hidden.bias.as_slice());
        f(info(2), self.output.weight.as_slice());
        f(info(3), self.output.bias.as_slice());
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(ParamInfo<'_>, &mut [T])) {
        f(info(0), self.hidden.weight.as_mut_slice());
        f(info(1), self.hidden.bias.as_mut_slice());
        f(info(2), self.output.weight.as_mut_slice());
        f(info(3), self.output.bias.as_mut_slice());
    }
}

impl<T: Scalar> Mlp<T> {
    fn logits<const B: usize>(&self, x: &Matrix<T, B, 3>, ws: &mut MlpWorkspace<T, B>) {
        self.hidden.forward_into(x, &mut ws.z1);
        activate_into::<Relu, T, B, 4>(&ws.z1, &mut ws.a1);
        self.output.forward_into(&ws.a1, &mut ws.z2);
    }
}

impl<T: Scalar> Network<3, 2> for Mlp<T> {
    type Gradients = Mlp<T>;
    type Workspace<const B: usize> = MlpWorkspace<T, B>;
    const ARCHITECTURE: &'static str =
        "hidden: Dense<3, 4> => relu, output: Dense<4, 2> => softmax, loss: cross_entropy";
    const LOSS_REDUCTION: LossReduction = LossReduction::MeanOverBatch;

    fn init(seed: u64) -> Self {
        let mut rng = init_rng(seed);
        let mut net = Self {
            hidden: Dense::init(Init::He, &mut rng),
            output: Dense::init(Init::Xavier, &mut rng),
        };
        // Non-zero biases, so that a bias mix-up changes the outputs.
        net.hidden.bias = Matrix::from_fn(|_, j| T::from_f64(0.1 * j as f64 - 0.12));
        net.output.bias = Matrix::from_fn(|_, j| T::from_f64(0.3 - 0.5 * j as f64));
        net
    }
    fn new_gradients(&self) -> Self {
        Self {
            hidden: Dense::zeros(),
            output: Dense::zeros(),
        }
    }
    fn new_workspace<const B: usize>(&self) -> MlpWorkspace<T, B> {
        MlpWorkspace {
            z1: Matrix::zeros(),
            a1: Matrix::zeros(),
            z2: Matrix::zeros(),
            a2: Matrix::zeros(),
        }
    }
    fn forward_with<'w, const B: usize>(
        &self,
        x: &Matrix<T, B, 3>,
        ws: &'w mut MlpWorkspace<T, B>,
    ) -> &'w Matrix<T, B, 2> {
        self.logits(x, ws);
        chainrule::activations::softmax_rows_into(&ws.z2, &mut ws.a2);
        &ws.a2
    }
    fn loss_with<const B: usize, Y: Targets<T, B, 2> + ?Sized>(
        &self,
        x: &Matrix<T, B, 3>,
        y: &Y,
        ws: &mut MlpWorkspace<T, B>,
    ) -> T {
        self.logits(x, ws);
        losses::softmax_cross_entropy(&ws.z2, y, &mut ws.a2, None)
    }
    /// Weight files need no gradients: this test network reports the loss
    /// and leaves `grads` at zero.
    fn backward<const B: usize, Y: Targets<T, B, 2> + ?Sized>(
        &self,
        x: &Matrix<T, B, 3>,
        y: &Y,
        grads: &mut Self,
        ws: &mut MlpWorkspace<T, B>,
    ) -> T {
        *grads = self.new_gradients();
        self.loss_with(x, y, ws)
    }
    fn update_with(&mut self, grads: &Self, f: &mut UpdateFn<'_, T>) {
        f(
            info(0),
            self.hidden.weight.as_mut_slice(),
            grads.hidden.weight.as_slice(),
        );
        f(
            info(1),
            self.hidden.bias.as_mut_slice(),
            grads.hidden.bias.as_slice(),
        );
        f(
            info(2),
            self.output.weight.as_mut_slice(),
            grads.output.weight.as_slice(),
        );
        f(
            info(3),
            self.output.bias.as_mut_slice(),
            grads.output.bias.as_slice(),
        );
    }
    fn graph_dot() -> String {
        String::from("digraph mlp {}")
    }
}

// ------------------------------------------------------------------ helpers

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chainrule-weights-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A safetensors file made directly with the safetensors crate: `tensors`
/// are (name, dtype, shape, little-endian bytes).
fn raw_file(tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)], architecture: Option<&str>) -> Vec<u8> {
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            (
                *name,
                TensorView::new(*dtype, shape.clone(), bytes).unwrap(),
            )
        })
        .collect();
    let metadata = architecture.map(|a| HashMap::from([("architecture".to_owned(), a.to_owned())]));
    safetensors::tensor::serialize(views, metadata).unwrap()
}

fn f32_bytes(n: usize, value: f32) -> Vec<u8> {
    (0..n).flat_map(|_| value.to_le_bytes()).collect()
}

/// The tensors of the test network as raw-file entries, all values `0.5`.
fn mlp_tensors() -> Vec<(&'static str, Dtype, Vec<usize>, Vec<u8>)> {
    NAMES
        .iter()
        .zip(SHAPES)
        .map(|(name, shape)| {
            let n = shape.iter().product();
            (*name, Dtype::F32, shape.to_vec(), f32_bytes(n, 0.5))
        })
        .collect()
}

fn load_bytes(bytes: &[u8]) -> (Mlp<f32>, Result<(), WeightsError>) {
    let mut net = Mlp::<f32>::init(1);
    let result = weights::from_bytes_into(&mut net, bytes, "test.safetensors");
    (net, result)
}

// ------------------------------------------------------------- round trips

fn round_trip<T: Scalar>(name: &str) {
    let dir = temp_dir(name);
    let path = dir.join("mlp.safetensors");
    let net = Mlp::<T>::init(7);
    weights::save(&net, &path).unwrap();
    let reloaded: Mlp<T> = weights::load(&path).unwrap();
    assert_eq!(reloaded, net, "every parameter bit for bit");
    assert_ne!(Mlp::<T>::init(0), net, "load does not just return init(0)");
    let rows = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]].map(|r| r.map(T::from_f64));
    assert_eq!(reloaded.predict(&rows), net.predict(&rows));
    assert_eq!(
        files_in(&dir),
        ["mlp.safetensors"],
        "no temporary file left"
    );
}

#[test]
fn f32_network_round_trips_exactly() {
    round_trip::<f32>("rt32");
}

#[test]
fn f64_network_round_trips_exactly() {
    round_trip::<f64>("rt64");
}

#[test]
fn file_has_pytorch_names_layouts_dtype_and_architecture() {
    let net = Mlp::<f64>::init(3);
    let bytes = weights::to_bytes(&net).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut names = file.names();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "hidden.bias",
            "hidden.weight",
            "output.bias",
            "output.weight"
        ]
    );
    let tensor = |name: &str| {
        let view = file.tensor(name).unwrap();
        assert_eq!(view.dtype(), Dtype::F64);
        let values: Vec<f64> = view
            .data()
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect();
        (view.shape().to_vec(), values)
    };
    let (w1_shape, w1) = tensor("hidden.weight");
    let (b1_shape, b1) = tensor("hidden.bias");
    let (w2_shape, w2) = tensor("output.weight");
    let (b2_shape, b2) = tensor("output.bias");
    assert_eq!(
        (w1_shape, b1_shape, w2_shape, b2_shape),
        (vec![4, 3], vec![4], vec![2, 4], vec![2])
    );
    // PyTorch's nn.Linear: y_i = Σ_j W[i, j] x_j + b_i with W stored [out, in]
    // row-major. Recompute the forward pass that way from the file alone.
    let x = [0.3, -1.2, 0.8];
    let h: Vec<f64> = (0..4)
        .map(|i| ((0..3).map(|j| w1[i * 3 + j] * x[j]).sum::<f64>() + b1[i]).max(0.0))
        .collect();
    let z: Vec<f64> = (0..2)
        .map(|i| (0..4).map(|j| w2[i * 4 + j] * h[j]).sum::<f64>() + b2[i])
        .collect();
    let p0 = 1.0 / (1.0 + (z[1] - z[0]).exp());
    let out = net.predict(&[x])[0];
    assert!((out[0] - p0).abs() < 1e-14 && (out[1] - (1.0 - p0)).abs() < 1e-14);

    let (_, metadata) = SafeTensors::read_metadata(&bytes).unwrap();
    let metadata = metadata.metadata().clone().unwrap();
    assert_eq!(
        metadata["architecture"],
        <Mlp<f64> as Network<3, 2>>::ARCHITECTURE
    );
    assert_eq!(metadata["format"], "pt");
}

#[test]
fn f32_file_has_f32_tensors() {
    let bytes = weights::to_bytes(&Mlp::<f32>::init(3)).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    for name in NAMES {
        assert_eq!(file.tensor(name).unwrap().dtype(), Dtype::F32, "{name}");
    }
    // Four bytes a value: 26 values.
    let data: usize = NAMES
        .iter()
        .map(|n| file.tensor(n).unwrap().data().len())
        .sum();
    assert_eq!(data, 26 * 4);
}

#[test]
fn a_file_written_by_another_program_loads() {
    // Values 0.5 everywhere, with the right architecture: what a PyTorch
    // exporter that copies our metadata would write.
    let bytes = raw_file(
        &mlp_tensors(),
        Some(<Mlp<f32> as Network<3, 2>>::ARCHITECTURE),
    );
    let (net, result) = load_bytes(&bytes);
    result.unwrap();
    assert!(net.hidden.weight.as_slice().iter().all(|&w| w == 0.5));
    assert!(net.output.bias.as_slice().iter().all(|&b| b == 0.5));
}

#[test]
fn import_ignores_the_missing_architecture_but_checks_the_rest() {
    let dir = temp_dir("import");
    let path = dir.join("torch.safetensors");
    std::fs::write(&path, raw_file(&mlp_tensors(), None)).unwrap();
    let mut net = Mlp::<f32>::init(1);
    weights::import_into(&mut net, &path).unwrap();
    assert!(net.output.weight.as_slice().iter().all(|&w| w == 0.5));
    // load_into insists on the architecture.
    assert!(matches!(
        weights::load_into(&mut net, &path),
        Err(WeightsError::WrongArchitecture { found: None, .. })
    ));
    let mut tensors = mlp_tensors();
    tensors[0].2 = vec![3, 4];
    std::fs::write(&path, raw_file(&tensors, None)).unwrap();
    assert!(matches!(
        weights::import_into(&mut net, &path),
        Err(WeightsError::WrongShape { .. })
    ));
}

// ------------------------------------------------------------------ errors

#[test]
fn missing_file_is_named() {
    let path = temp_dir("missing").join("absent.safetensors");
    let err = weights::load::<Mlp<f32>, 3, 2>(&path).unwrap_err();
    assert!(matches!(err, WeightsError::MissingFile { .. }), "{err:?}");
    assert!(err.to_string().contains("absent.safetensors"), "{err}");
}

#[test]
fn every_truncation_is_a_typed_error_and_leaves_the_network_unchanged() {
    let bytes = weights::to_bytes(&Mlp::<f32>::init(3)).unwrap();
    for len in 0..bytes.len() {
        let (net, result) = load_bytes(&bytes[..len]);
        assert!(
            matches!(result, Err(WeightsError::Corrupt { .. })),
            "truncated to {len} bytes: {result:?}"
        );
        assert_eq!(net, Mlp::init(1), "truncated to {len}: network unchanged");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        load_bytes(&longer).1,
        Err(WeightsError::Corrupt { .. })
    ));
}

#[test]
fn corrupt_bytes_give_typed_errors_never_panics() {
    let bytes = weights::to_bytes(&Mlp::<f32>::init(3)).unwrap();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    // Flip every byte of the length prefix and of the JSON header in turn.
    for i in 0..header_end {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = bytes.clone();
            bad[i] ^= flip;
            // Ok happens when the flip lands in a harmless place of the JSON
            // (e.g. the case of a letter in the metadata is still valid JSON
            // but then the architecture differs): all that matters is no panic.
            let _ = load_bytes(&bad);
        }
    }
    let (_, result) = load_bytes(b"not a safetensors file at all");
    let err = result.unwrap_err();
    assert!(matches!(err, WeightsError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("test.safetensors"), "{err}");
}

#[test]
fn another_architecture_is_refused_with_both_declarations() {
    let bytes = raw_file(&mlp_tensors(), Some("hidden: Dense<3, 5> => relu, ..."));
    let (net, result) = load_bytes(&bytes);
    let err = result.unwrap_err();
    match &err {
        WeightsError::WrongArchitecture {
            expected, found, ..
        } => {
            assert_eq!(expected, <Mlp<f32> as Network<3, 2>>::ARCHITECTURE);
            assert_eq!(found.as_deref(), Some("hidden: Dense<3, 5> => relu, ..."));
        }
        other => panic!("expected WrongArchitecture, got {other:?}"),
    }
    assert!(err.to_string().contains("Dense<3, 5>"), "{err}");
    assert_eq!(net, Mlp::init(1));
}

#[test]
fn missing_tensor_is_named() {
    let mut tensors = mlp_tensors();
    tensors.remove(3);
    let (net, result) = load_bytes(&raw_file(
        &tensors,
        Some(<Mlp<f32> as Network<3, 2>>::ARCHITECTURE),
    ));
    match result {
        Err(WeightsError::MissingTensor { name, .. }) => assert_eq!(name, "output.bias"),
        other => panic!("expected MissingTensor, got {other:?}"),
    }
    assert_eq!(net, Mlp::init(1));
}

#[test]
fn extra_tensor_is_named() {
    let mut tensors = mlp_tensors();
    tensors.push(("output.scale", Dtype::F32, vec![2], f32_bytes(2, 1.0)));
    let (net, result) = load_bytes(&raw_file(
        &tensors,
        Some(<Mlp<f32> as Network<3, 2>>::ARCHITECTURE),
    ));
    match result {
        Err(WeightsError::UnexpectedTensor { name, .. }) => assert_eq!(name, "output.scale"),
        other => panic!("expected UnexpectedTensor, got {other:?}"),
    }
    assert_eq!(net, Mlp::init(1));
}

#[test]
fn transposed_weight_is_a_wrong_shape() {
    let mut tensors = mlp_tensors();
    tensors[0].2 = vec![3, 4]; // [in, out]: the classic mistake
    let (net, result) = load_bytes(&raw_file(
        &tensors,
        Some(<Mlp<f32> as Network<3, 2>>::ARCHITECTURE),
    ));
    match result {
        Err(WeightsError::WrongShape {
            name,
            expected,
            found,
            ..
        }) => {
            assert_eq!(name, "hidden.weight");
            assert_eq!((expected, found), (vec![4, 3], vec![3, 4]));
        }
        other => panic!("expected WrongShape, got {other:?}"),
    }
    assert_eq!(net, Mlp::init(1));
    // A bias stored as a [1, out] row is also refused.
    let mut tensors = mlp_tensors();
    tensors[1].2 = vec![1, 4];
    let (_, result) = load_bytes(&raw_file(
        &tensors,
        Some(<Mlp<f32> as Network<3, 2>>::ARCHITECTURE),
    ));
    assert!(
        matches!(result, Err(WeightsError::WrongShape { .. })),
        "{result:?}"
    );
}

#[test]
fn f64_file_into_f32_network_is_a_wrong_dtype() {
    let dir = temp_dir("dtype");
    let path = dir.join("mlp64.safetensors");
    weights::save(&Mlp::<f64>::init(2), &path).unwrap();
    let err = weights::load::<Mlp<f32>, 3, 2>(&path).unwrap_err();
    match &err {
        WeightsError::WrongDtype {
            name,
            expected,
            found,
            ..
        } => assert_eq!(
            (name.as_str(), expected.as_str(), found.as_str()),
            ("hidden.weight", "F32", "F64")
        ),
        other => panic!("expected WrongDtype, got {other:?}"),
    }
    // A half-precision tensor is refused too.
    let mut tensors = mlp_tensors();
    tensors[2] = ("output.weight", Dtype::F16, vec![2, 4], vec![0; 16]);
    let (_, result) = load_bytes(&raw_file(
        &tensors,
        Some(<Mlp<f32> as Network<3, 2>>::ARCHITECTURE),
    ));
    assert!(
        matches!(result, Err(WeightsError::WrongDtype { .. })),
        "{result:?}"
    );
}

#[test]
fn non_finite_values_are_refused() {
    let mut tensors = mlp_tensors();
    let mut bias = f32_bytes(2, 0.5);
    bias[4..].copy_from_slice(&f32::NAN.to_le_bytes());
    tensors[3].3 = bias;
    let (net, result) = load_bytes(&raw_file(
        &tensors,
        Some(<Mlp<f32> as Network<3, 2>>::ARCHITECTURE),
    ));
    match result {
        Err(WeightsError::NonFinite { name, index, .. }) => {
            assert_eq!((name.as_str(), index), ("output.bias", 1))
        }
        other => panic!("expected NonFinite, got {other:?}"),
    }
    assert_eq!(net, Mlp::init(1));
}

// ----------------------------------------------------------- atomic saving

#[test]
fn saving_replaces_an_existing_file_and_leaves_no_temporary() {
    let dir = temp_dir("replace");
    let path = dir.join("w.safetensors");
    weights::save(&Mlp::<f32>::init(1), &path).unwrap();
    weights::save(&Mlp::<f32>::init(2), &path).unwrap();
    assert_eq!(
        weights::load::<Mlp<f32>, 3, 2>(&path).unwrap(),
        Mlp::init(2)
    );
    assert_eq!(files_in(&dir), ["w.safetensors"]);
}

#[test]
fn a_failed_save_leaves_the_target_and_directory_as_they_were() {
    let dir = temp_dir("failed");
    // The target is a non-empty directory: the final rename fails.
    let target = dir.join("w.safetensors");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), b"x").unwrap();
    let err = weights::save(&Mlp::<f32>::init(1), &target).unwrap_err();
    assert!(matches!(err, WeightsError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("w.safetensors"), "{err}");
    assert_eq!(
        files_in(&dir),
        ["w.safetensors"],
        "the temporary file was removed"
    );
    assert_eq!(files_in(&target), ["keep"]);
    // A directory that does not exist.
    let err =
        weights::save(&Mlp::<f32>::init(1), dir.join("no/such/dir/w.safetensors")).unwrap_err();
    assert!(matches!(err, WeightsError::Io { .. }), "{err:?}");
}

#[test]
fn saving_parameters_with_their_own_architecture_string() {
    let dir = temp_dir("params");
    let path = dir.join("grads.safetensors");
    let net = Mlp::<f64>::init(4);
    weights::save_parameters(
        &net,
        &[("architecture", "gradients"), ("note", "a test")],
        &path,
    )
    .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let (_, metadata) = SafeTensors::read_metadata(&bytes).unwrap();
    assert_eq!(
        metadata.metadata().as_ref().unwrap()["architecture"],
        "gradients"
    );
    let mut other = Mlp::<f64>::init(5);
    weights::import_into(&mut other, &path).unwrap();
    assert_eq!(other, net);
}

// ------------------------------------------------- networks from network!

mod generated {
    use chainrule::prelude::*;

    network! {
        /// The MNIST classifier of the README.
        pub struct Mnist {
            hidden: Dense<784, 128> => relu,
            output: Dense<128, 10> => softmax,
            loss: cross_entropy,
        }
    }

    network! {
        /// The same tensors as `Mnist`, another function (tanh).
        pub struct MnistTanh {
            hidden: Dense<784, 128> => tanh,
            output: Dense<128, 10> => softmax,
            loss: cross_entropy,
        }
    }

    network! {
        /// No bias in the first layer, a const generic width.
        pub struct Narrow<const H: usize> {
            first: DenseNoBias<6, H> => sigmoid,
            second: Dense<H, 2>,
            loss: mse,
        }
    }
}

use generated::{Mnist, MnistTanh, Narrow};

#[test]
fn generated_mnist_network_round_trips_with_pytorch_shapes() {
    let dir = temp_dir("generated");
    let path = dir.join("mnist.safetensors");
    let mut net = Mnist::<f32>::new(11);
    net.output.bias = Matrix::from_fn(|_, j| 0.01 * j as f32);
    weights::save(&net, &path).unwrap();
    let reloaded: Mnist<f32> = weights::load(&path).unwrap();
    assert_eq!(reloaded, net);
    let rows: Vec<[f32; 784]> = (0..5)
        .map(|i| std::array::from_fn(|j| ((i * 784 + j) % 17) as f32 / 17.0))
        .collect();
    assert_eq!(reloaded.predict(&rows), net.predict(&rows));

    let bytes = std::fs::read(&path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let shape = |name: &str| file.tensor(name).unwrap().shape().to_vec();
    assert_eq!(shape("hidden.weight"), [128, 784]);
    assert_eq!(shape("hidden.bias"), [128]);
    assert_eq!(shape("output.weight"), [10, 128]);
    assert_eq!(shape("output.bias"), [10]);
    assert_eq!(file.len(), 4);
    // 101,770 parameters of 4 bytes, plus the header.
    assert!(bytes.len() > 101_770 * 4 && bytes.len() < 101_770 * 4 + 1024);
}

#[test]
fn same_tensors_with_another_activation_is_another_architecture() {
    let bytes = weights::to_bytes(&Mnist::<f32>::new(1)).unwrap();
    let mut other = MnistTanh::<f32>::new(2);
    let before = other.clone();
    let err = weights::from_bytes_into(&mut other, &bytes, "mnist.safetensors").unwrap_err();
    assert!(
        matches!(err, WeightsError::WrongArchitecture { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("relu") && err.to_string().contains("tanh"),
        "{err}"
    );
    assert_eq!(other, before);
}

#[test]
fn a_layer_without_bias_has_no_bias_tensor_and_widths_are_checked() {
    let net = Narrow::<5, f64>::new(3);
    let bytes = weights::to_bytes(&net).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut names = file.names();
    names.sort_unstable();
    assert_eq!(names, ["first.weight", "second.bias", "second.weight"]);
    assert_eq!(file.tensor("first.weight").unwrap().shape(), [5, 6]);
    let mut copy = Narrow::<5, f64>::zeros();
    weights::from_bytes_into(&mut copy, &bytes, "narrow.safetensors").unwrap();
    assert_eq!(copy, net);
    // Another width: refused, by architecture or, when imported, by shape.
    let mut wider = Narrow::<7, f64>::zeros();
    let err = weights::from_bytes_into(&mut wider, &bytes, "narrow.safetensors").unwrap_err();
    assert!(
        matches!(
            err,
            WeightsError::WrongArchitecture { .. } | WeightsError::WrongShape { .. }
        ),
        "{err:?}"
    );
    let dir = temp_dir("narrow");
    std::fs::write(dir.join("n.safetensors"), &bytes).unwrap();
    let err = weights::import_into(&mut wider, dir.join("n.safetensors")).unwrap_err();
    match err {
        WeightsError::WrongShape {
            name,
            expected,
            found,
            ..
        } => {
            assert_eq!(name, "first.weight");
            assert_eq!((expected, found), (vec![7, 6], vec![5, 6]));
        }
        other => panic!("expected WrongShape, got {other:?}"),
    }
}
