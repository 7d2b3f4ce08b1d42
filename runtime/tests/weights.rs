//! chainrule::weights: safetensors round trips, PyTorch names and layouts,
//! atomic saving, and a typed error for every kind of bad file.

use std::collections::HashMap;
use std::path::Path;

use chainrule::activations::{activate_into, Relu};
use chainrule::layers::{init_rng, Dense, Init};
use chainrule::weights::{self, ContentError, WeightsError};
use chainrule::{
    losses, LossReduction, Matrix, Model, Network, ParamInfo, Parameters, Scalar, Targets, UpdateFn,
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
    dl_dx: Matrix<T, B, 3>,
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

impl<T: Scalar> Model for Mlp<T> {
    type Gradients = Mlp<T>;
    type Workspace<const B: usize> = MlpWorkspace<T, B>;
    const ARCHITECTURE: &'static str =
        "hidden: Dense<3, 4> => relu, output: Dense<4, 2> => softmax, loss: cross_entropy";

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
            dl_dx: Matrix::zeros(),
        }
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
    type Inputs<const B: usize> = Matrix<T, B, 3>;
    const GRAPH: chainrule::graph::GraphSpec = chainrule::graph::GraphSpec {
        name: "Mlp",
        values: &[
            chainrule::graph::ValueSpec {
                name: "x",
                shape: &[3],
            },
            chainrule::graph::ValueSpec {
                name: "z1",
                shape: &[4],
            },
            chainrule::graph::ValueSpec {
                name: "a1",
                shape: &[4],
            },
            chainrule::graph::ValueSpec {
                name: "z2",
                shape: &[2],
            },
            chainrule::graph::ValueSpec {
                name: "a2",
                shape: &[2],
            },
        ],
        inputs: &[0],
        outputs: &[4],
        ops: &[
            chainrule::graph::OpSpec::Dense {
                layer: "hidden",
                input: 0,
                output: 1,
                bias: true,
            },
            chainrule::graph::OpSpec::Activation {
                function: chainrule::graph::ActivationSpec::Relu,
                input: 1,
                output: 2,
            },
            chainrule::graph::OpSpec::Dense {
                layer: "output",
                input: 2,
                output: 3,
                bias: true,
            },
            chainrule::graph::OpSpec::Activation {
                function: chainrule::graph::ActivationSpec::Softmax,
                input: 3,
                output: 4,
            },
        ],
    };
    fn input_gradients<const B: usize>(ws: &Self::Workspace<B>) -> &Matrix<T, B, 3> {
        &ws.dl_dx
    }
}

impl<T: Scalar> Network<3, 2> for Mlp<T> {
    const LOSS_REDUCTION: LossReduction = LossReduction::MeanOverBatch;
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
    /// As `backward`: the loss, with every gradient (and `∂l/∂X`) zero.
    fn backward_with_input_grad<'w, const B: usize, Y: Targets<T, B, 2> + ?Sized>(
        &self,
        x: &Matrix<T, B, 3>,
        y: &Y,
        grads: &mut Self,
        ws: &'w mut MlpWorkspace<T, B>,
    ) -> (T, &'w Matrix<T, B, 3>) {
        let loss = self.backward(x, y, grads, ws);
        ws.dl_dx.fill(T::ZERO);
        (loss, &ws.dl_dx)
    }
}

// ------------------------------------------------------------------ helpers

/// A fresh directory under the system's temporary directory, removed when the
/// returned guard drops (also when the test panics).
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("chainrule-weights-{name}-"))
        .tempdir()
        .expect("create a temporary directory")
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

fn load_bytes(bytes: &[u8]) -> (Mlp<f32>, Result<(), ContentError>) {
    let mut net = Mlp::<f32>::init(1);
    let result = weights::load_from_bytes_into(&mut net, bytes);
    (net, result)
}

// ------------------------------------------------------------- round trips

fn round_trip<T: Scalar>(name: &str) {
    let dir = temp_dir(name);
    let path = dir.path().join("mlp.safetensors");
    let net = Mlp::<T>::init(7);
    weights::save(&net, &path).unwrap();
    let reloaded: Mlp<T> = weights::load(&path).unwrap();
    assert_eq!(reloaded, net, "every parameter bit for bit");
    assert_ne!(Mlp::<T>::init(0), net, "load does not just return init(0)");
    let rows = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]].map(|r| r.map(T::from_f64));
    assert_eq!(reloaded.predict(&rows), net.predict(&rows));
    assert_eq!(
        files_in(dir.path()),
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
    assert_eq!(metadata["architecture"], <Mlp<f64> as Model>::ARCHITECTURE);
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
    let bytes = raw_file(&mlp_tensors(), Some(<Mlp<f32> as Model>::ARCHITECTURE));
    let (net, result) = load_bytes(&bytes);
    result.unwrap();
    assert!(net.hidden.weight.as_slice().iter().all(|&w| w == 0.5));
    assert!(net.output.bias.as_slice().iter().all(|&b| b == 0.5));
}

#[test]
fn import_ignores_the_missing_architecture_but_checks_the_rest() {
    let dir = temp_dir("import");
    let path = dir.path().join("torch.safetensors");
    std::fs::write(&path, raw_file(&mlp_tensors(), None)).unwrap();
    let mut net = Mlp::<f32>::init(1);
    weights::import_into(&mut net, &path).unwrap();
    assert!(net.output.weight.as_slice().iter().all(|&w| w == 0.5));
    // load_into insists on the architecture.
    assert!(matches!(
        weights::load_into(&mut net, &path).unwrap_err().content(),
        Some(ContentError::WrongArchitecture { found: None, .. })
    ));
    let mut tensors = mlp_tensors();
    tensors[0].2 = vec![3, 4];
    std::fs::write(&path, raw_file(&tensors, None)).unwrap();
    assert!(matches!(
        weights::import_into(&mut net, &path).unwrap_err().content(),
        Some(ContentError::WrongShape { .. })
    ));
}

// ------------------------------------------------------------------ errors

#[test]
fn missing_file_is_named() {
    let dir = temp_dir("missing");
    let path = dir.path().join("absent.safetensors");
    let err = weights::load::<Mlp<f32>>(&path).unwrap_err();
    assert!(matches!(err, WeightsError::MissingFile { .. }), "{err:?}");
    assert!(err.to_string().contains("absent.safetensors"), "{err}");
}

#[test]
fn every_truncation_is_a_typed_error_and_leaves_the_network_unchanged() {
    let bytes = weights::to_bytes(&Mlp::<f32>::init(3)).unwrap();
    for len in 0..bytes.len() {
        let (net, result) = load_bytes(&bytes[..len]);
        assert!(
            matches!(result, Err(ContentError::Corrupt { .. })),
            "truncated to {len} bytes: {result:?}"
        );
        assert_eq!(net, Mlp::init(1), "truncated to {len}: network unchanged");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        load_bytes(&longer).1,
        Err(ContentError::Corrupt { .. })
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
    // "not a sa" as a little-endian length is far beyond any header.
    assert!(
        matches!(err, ContentError::HeaderTooLarge { .. }),
        "{err:?}"
    );
    let (_, result) = load_bytes(b"\x10\0\0\0\0\0\0\0not json at all!");
    let err = result.unwrap_err();
    assert!(matches!(err, ContentError::Corrupt { .. }), "{err:?}");
    assert!(
        err.to_string().contains("not a valid safetensors file"),
        "{err}"
    );
}

#[test]
fn another_architecture_is_refused_with_both_declarations() {
    let bytes = raw_file(&mlp_tensors(), Some("hidden: Dense<3, 5> => relu, ..."));
    let (net, result) = load_bytes(&bytes);
    let err = result.unwrap_err();
    match &err {
        ContentError::WrongArchitecture { expected, found } => {
            assert_eq!(expected, <Mlp<f32> as Model>::ARCHITECTURE);
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
    let (net, result) = load_bytes(&raw_file(&tensors, Some(<Mlp<f32> as Model>::ARCHITECTURE)));
    match result {
        Err(ContentError::MissingTensor { name }) => assert_eq!(name, "output.bias"),
        other => panic!("expected MissingTensor, got {other:?}"),
    }
    assert_eq!(net, Mlp::init(1));
}

#[test]
fn extra_tensor_is_named() {
    let mut tensors = mlp_tensors();
    tensors.push(("output.scale", Dtype::F32, vec![2], f32_bytes(2, 1.0)));
    let (net, result) = load_bytes(&raw_file(&tensors, Some(<Mlp<f32> as Model>::ARCHITECTURE)));
    match result {
        Err(ContentError::UnexpectedTensor { name }) => assert_eq!(name, "output.scale"),
        other => panic!("expected UnexpectedTensor, got {other:?}"),
    }
    assert_eq!(net, Mlp::init(1));
}

#[test]
fn transposed_weight_is_a_wrong_shape() {
    let mut tensors = mlp_tensors();
    tensors[0].2 = vec![3, 4]; // [in, out]: the classic mistake
    let (net, result) = load_bytes(&raw_file(&tensors, Some(<Mlp<f32> as Model>::ARCHITECTURE)));
    match result {
        Err(ContentError::WrongShape {
            name,
            expected,
            found,
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
    let (_, result) = load_bytes(&raw_file(&tensors, Some(<Mlp<f32> as Model>::ARCHITECTURE)));
    assert!(
        matches!(result, Err(ContentError::WrongShape { .. })),
        "{result:?}"
    );
}

#[test]
fn f64_file_into_f32_network_is_a_wrong_dtype() {
    let dir = temp_dir("dtype");
    let path = dir.path().join("mlp64.safetensors");
    weights::save(&Mlp::<f64>::init(2), &path).unwrap();
    let err = weights::load::<Mlp<f32>>(&path).unwrap_err();
    match err.content() {
        Some(ContentError::WrongDtype {
            name,
            expected,
            found,
        }) => assert_eq!(
            (name.as_str(), expected.as_str(), found.as_str()),
            ("hidden.weight", "F32", "F64")
        ),
        other => panic!("expected WrongDtype, got {other:?}"),
    }
    // A half-precision tensor is refused too.
    let mut tensors = mlp_tensors();
    tensors[2] = ("output.weight", Dtype::F16, vec![2, 4], vec![0; 16]);
    let (_, result) = load_bytes(&raw_file(&tensors, Some(<Mlp<f32> as Model>::ARCHITECTURE)));
    assert!(
        matches!(result, Err(ContentError::WrongDtype { .. })),
        "{result:?}"
    );
}

#[test]
fn non_finite_values_are_refused() {
    let mut tensors = mlp_tensors();
    let mut bias = f32_bytes(2, 0.5);
    bias[4..].copy_from_slice(&f32::NAN.to_le_bytes());
    tensors[3].3 = bias;
    let (net, result) = load_bytes(&raw_file(&tensors, Some(<Mlp<f32> as Model>::ARCHITECTURE)));
    match result {
        Err(ContentError::NonFinite { name, index }) => {
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
    let path = dir.path().join("w.safetensors");
    weights::save(&Mlp::<f32>::init(1), &path).unwrap();
    weights::save(&Mlp::<f32>::init(2), &path).unwrap();
    assert_eq!(weights::load::<Mlp<f32>>(&path).unwrap(), Mlp::init(2));
    assert_eq!(files_in(dir.path()), ["w.safetensors"]);
}

#[test]
fn a_failed_save_leaves_the_target_and_directory_as_they_were() {
    let dir = temp_dir("failed");
    // The target is a non-empty directory: the final rename fails.
    let target = dir.path().join("w.safetensors");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), b"x").unwrap();
    let err = weights::save(&Mlp::<f32>::init(1), &target).unwrap_err();
    assert!(matches!(err, WeightsError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("w.safetensors"), "{err}");
    assert_eq!(
        files_in(dir.path()),
        ["w.safetensors"],
        "the temporary file was removed"
    );
    assert_eq!(files_in(&target), ["keep"]);
    // A directory that does not exist.
    let err = weights::save(
        &Mlp::<f32>::init(1),
        dir.path().join("no/such/dir/w.safetensors"),
    )
    .unwrap_err();
    assert!(matches!(err, WeightsError::Io { .. }), "{err:?}");
}

#[test]
fn saving_parameters_with_user_metadata() {
    let dir = temp_dir("params");
    let path = dir.path().join("grads.safetensors");
    let net = Mlp::<f64>::init(4);
    weights::save_parameters(&net, &[("note", "a test")], &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let (_, metadata) = SafeTensors::read_metadata(&bytes).unwrap();
    let metadata = metadata.metadata().clone().unwrap();
    assert_eq!(metadata["note"], "a test");
    assert_eq!(metadata["format"], "pt");
    assert!(!metadata.contains_key("architecture"));
    let mut other = Mlp::<f64>::init(5);
    weights::import_into(&mut other, &path).unwrap();
    assert_eq!(other, net);
}

#[test]
fn user_metadata_cannot_overwrite_reserved_keys() {
    let dir = temp_dir("reserved");
    let path = dir.path().join("grads.safetensors");
    let net = Mlp::<f64>::init(4);
    weights::save_parameters(&net, &[("note", "the first save")], &path).unwrap();
    let first = std::fs::read(&path).unwrap();
    for key in [
        "format",
        "architecture",
        "chainrule.checksum",
        "chainrule.anything",
    ] {
        let err = weights::save_parameters(&net, &[(key, "mine")], &path).unwrap_err();
        match err.content() {
            Some(ContentError::ReservedMetadataKey { key: k }) => assert_eq!(k, key),
            other => panic!("{key}: expected ReservedMetadataKey, got {other:?}"),
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            first,
            "{key}: nothing written"
        );
    }
    assert_eq!(files_in(dir.path()), ["grads.safetensors"]);
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
    let path = dir.path().join("mnist.safetensors");
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
    let err = weights::load_from_bytes_into(&mut other, &bytes).unwrap_err();
    assert!(
        matches!(err, ContentError::WrongArchitecture { .. }),
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
    weights::load_from_bytes_into(&mut copy, &bytes).unwrap();
    assert_eq!(copy, net);
    // Another width: refused, by architecture or, when imported, by shape.
    let mut wider = Narrow::<7, f64>::zeros();
    let err = weights::load_from_bytes_into(&mut wider, &bytes).unwrap_err();
    assert!(
        matches!(
            err,
            ContentError::WrongArchitecture { .. } | ContentError::WrongShape { .. }
        ),
        "{err:?}"
    );
    let dir = temp_dir("narrow");
    std::fs::write(dir.path().join("n.safetensors"), &bytes).unwrap();
    let err = weights::import_into(&mut wider, dir.path().join("n.safetensors")).unwrap_err();
    match err.content().cloned() {
        Some(ContentError::WrongShape {
            name,
            expected,
            found,
        }) => {
            assert_eq!(name, "first.weight");
            assert_eq!((expected, found), (vec![7, 6], vec![5, 6]));
        }
        other => panic!("expected WrongShape, got {other:?}"),
    }
}

// ------------------------------------------- hostile files (issue 12, 8–11)

/// The names in `dir` that are not `keep` (temporary files left behind).
fn leftovers(dir: &Path, keep: &[&str]) -> Vec<String> {
    files_in(dir)
        .into_iter()
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

#[cfg(unix)]
#[test]
fn a_symlink_planted_at_a_temporary_name_is_never_followed() {
    let dir = temp_dir("symlink");
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    let target = dir.path().join("w.safetensors");
    // The old fixed temporary name `.NAME.tmp-<pid>`, and a few guesses.
    for name in [
        format!(".w.safetensors.tmp-{}", std::process::id()),
        ".w.safetensors.tmp".to_owned(),
        "w.safetensors.tmp".to_owned(),
    ] {
        std::os::unix::fs::symlink(&victim, dir.path().join(name)).unwrap();
    }
    weights::save(&Mlp::<f32>::init(1), &target).unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert_eq!(weights::load::<Mlp<f32>>(&target).unwrap(), Mlp::init(1));
}

#[test]
fn concurrent_saves_to_one_path_all_succeed_and_leave_one_whole_file() {
    let dir = temp_dir("concurrent");
    let path = dir.path().join("w.safetensors");
    let nets = [Mlp::<f32>::init(1), Mlp::<f32>::init(2)];
    weights::save(&nets[0], &path).unwrap();
    std::thread::scope(|scope| {
        for net in &nets {
            let path = &path;
            scope.spawn(move || {
                for round in 0..200 {
                    weights::save(net, path).unwrap_or_else(|e| panic!("round {round}: {e}"));
                }
            });
        }
        // A reader meanwhile always finds one whole save or the other.
        let path = &path;
        scope.spawn(move || {
            for _ in 0..200 {
                let loaded: Mlp<f32> = weights::load(path).unwrap();
                assert!(loaded == Mlp::init(1) || loaded == Mlp::init(2));
            }
        });
    });
    let last: Mlp<f32> = weights::load(&path).unwrap();
    assert!(last == nets[0] || last == nets[1]);
    assert_eq!(
        leftovers(dir.path(), &["w.safetensors"]),
        Vec::<String>::new()
    );
}

#[cfg(unix)]
#[test]
fn a_replaced_file_keeps_its_permissions_and_a_new_one_gets_the_usual_ones() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("permissions");
    let path = dir.path().join("w.safetensors");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    weights::save(&Mlp::<f32>::init(1), &path).unwrap();
    // A new file: what File::create gives in the same place (0666 less the umask).
    let plain = dir.path().join("plain");
    std::fs::File::create(&plain).unwrap();
    assert_eq!(mode(&path), mode(&plain));
    for wanted in [0o600, 0o640, 0o444] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(wanted)).unwrap();
        weights::save(&Mlp::<f32>::init(2), &path).unwrap();
        assert_eq!(mode(&path), wanted, "{wanted:o}");
    }
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = temp_dir("fifo");
    let path = dir.path().join("w.safetensors");
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let (sender, receiver) = std::sync::mpsc::channel();
    let fifo = path.clone();
    std::thread::spawn(move || {
        let _ = sender.send(weights::load::<Mlp<f32>>(&fifo).map(|_| ()));
    });
    // Before the fix the load opened the FIFO and blocked for ever.
    let result = receiver
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("load of a FIFO blocked");
    match result {
        Err(WeightsError::NotAFile { kind, .. }) => assert_eq!(kind, "a FIFO"),
        other => panic!("expected NotAFile, got {other:?}"),
    }
}

#[cfg(unix)]
#[test]
fn a_device_or_a_directory_is_refused_before_reading() {
    let err = weights::load::<Mlp<f32>>("/dev/zero").unwrap_err();
    assert!(
        matches!(
            err,
            WeightsError::NotAFile {
                kind: "a character device",
                ..
            }
        ),
        "{err:?}"
    );
    let dir = temp_dir("as-dir");
    let err = weights::load::<Mlp<f32>>(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            WeightsError::NotAFile {
                kind: "a directory",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

#[test]
fn a_file_larger_than_the_network_allows_is_refused_before_reading() {
    let dir = temp_dir("huge");
    let path = dir.path().join("w.safetensors");
    weights::save(&Mlp::<f32>::init(1), &path).unwrap();
    // A valid file grown to 1 GiB (sparse: no disk space used). Before the
    // fix, all of it was read into memory, then refused as corrupt.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    match weights::load::<Mlp<f32>>(&path).unwrap_err() {
        WeightsError::TooLarge { size, limit, .. } => {
            assert_eq!(size, 1 << 30);
            // 26 scalars: the limit is the 64 KiB header allowance and a bit.
            assert!(limit < 80 * 1024, "{limit}");
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let mut params = Mlp::<f32>::init(3);
    assert!(matches!(
        weights::import_into(&mut params, &path),
        Err(WeightsError::TooLarge { .. })
    ));
}

/// A valid safetensors file with `count` empty extra tensors: a header of
/// about 60 bytes each.
fn many_tensors(count: usize) -> Vec<u8> {
    let mut header = String::from("{");
    for i in 0..count {
        header += &format!(r#""t{i}":{{"dtype":"F32","shape":[0],"data_offsets":[0,0]}},"#);
    }
    header.pop();
    header.push('}');
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes
}

#[test]
fn a_header_far_larger_than_the_network_needs_is_refused_before_parsing() {
    let bytes = many_tensors(40_000); // a 2.4 MB header
    assert!(SafeTensors::deserialize(&bytes).is_ok(), "a valid file");
    let (net, result) = load_bytes(&bytes);
    match result {
        Err(ContentError::HeaderTooLarge { size, limit }) => {
            assert_eq!(size, bytes.len() as u64 - 8);
            assert!(limit < 80 * 1024, "{limit}");
        }
        other => panic!("expected HeaderTooLarge, got {other:?}"),
    }
    assert_eq!(net, Mlp::init(1));
    // A small one is parsed, and refused for what it holds.
    let (_, result) = load_bytes(&many_tensors(3));
    assert!(
        matches!(result, Err(ContentError::WrongArchitecture { .. })),
        "{result:?}"
    );
}

#[test]
fn saving_a_non_finite_parameter_is_refused_and_writes_nothing() {
    let dir = temp_dir("nan-save");
    let path = dir.path().join("w.safetensors");
    weights::save(&Mlp::<f32>::init(1), &path).unwrap();
    let before = std::fs::read(&path).unwrap();
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut net = Mlp::<f32>::init(2);
        net.output.bias.as_mut_slice()[1] = bad;
        let err = weights::save(&net, &path).unwrap_err();
        match err.content() {
            Some(ContentError::NonFinite { name, index }) => {
                assert_eq!((name.as_str(), *index), ("output.bias", 1))
            }
            other => panic!("{bad}: expected NonFinite, got {other:?}"),
        }
        assert!(matches!(
            weights::to_bytes(&net),
            Err(ContentError::NonFinite { .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), before, "{bad}: file kept");
    }
    assert_eq!(
        leftovers(dir.path(), &["w.safetensors"]),
        Vec::<String>::new()
    );
}

#[test]
fn every_single_bit_flip_is_refused_or_changes_no_weight() {
    let net = Mlp::<f32>::init(3);
    let bytes = weights::to_bytes(&net).unwrap();
    let (mut refused, mut harmless) = (0, 0);
    for byte in 0..bytes.len() {
        for bit in 0..8 {
            let mut flipped = bytes.clone();
            flipped[byte] ^= 1 << bit;
            let mut loaded = Mlp::<f32>::init(1);
            match weights::load_from_bytes_into(&mut loaded, &flipped) {
                Ok(()) => {
                    // Before the checksum, flips in the data loaded here as
                    // other weights.
                    assert_eq!(loaded, net, "byte {byte} bit {bit} loaded other weights");
                    harmless += 1;
                }
                Err(_) => {
                    assert_eq!(loaded, Mlp::init(1), "byte {byte} bit {bit}: unchanged");
                    refused += 1;
                }
            }
        }
    }
    // Harmless flips exist (say, the case of a hexadecimal digit of the
    // checksum), but every flip of the data is refused.
    let data_bits = 26 * 4 * 8;
    assert!(
        refused >= data_bits,
        "{refused} refused, {harmless} harmless"
    );
}

#[test]
fn the_checksum_is_crc32_of_the_tensors_in_name_order() {
    let net = Mlp::<f64>::init(5);
    let bytes = weights::to_bytes(&net).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut names = file.names();
    names.sort_unstable();
    let mut hasher = crc32fast::Hasher::new();
    for name in names {
        hasher.update(file.tensor(name).unwrap().data());
    }
    let (_, metadata) = SafeTensors::read_metadata(&bytes).unwrap();
    assert_eq!(
        metadata.metadata().as_ref().unwrap()[weights::CHECKSUM_KEY],
        format!("crc32:{:08x}", hasher.finalize())
    );
}

#[test]
fn a_checksum_that_does_not_match_or_does_not_parse_is_refused() {
    let architecture = <Mlp<f32> as Model>::ARCHITECTURE;
    let with_checksum = |checksum: &str| {
        let views: Vec<(String, Vec<usize>, Vec<u8>)> = mlp_tensors()
            .into_iter()
            .map(|(n, _, s, b)| (n.to_owned(), s, b))
            .collect();
        let tensors: Vec<(&str, TensorView<'_>)> = views
            .iter()
            .map(|(n, s, b)| {
                (
                    n.as_str(),
                    TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
                )
            })
            .collect();
        let metadata = HashMap::from([
            ("architecture".to_owned(), architecture.to_owned()),
            (weights::CHECKSUM_KEY.to_owned(), checksum.to_owned()),
        ]);
        safetensors::tensor::serialize(tensors, Some(metadata)).unwrap()
    };
    let (net, result) = load_bytes(&with_checksum("crc32:00000000"));
    match result {
        Err(ContentError::ChecksumMismatch { stored, computed }) => {
            assert_eq!(stored, "crc32:00000000");
            assert!(computed.starts_with("crc32:") && computed.len() == 14);
        }
        other => panic!("expected ChecksumMismatch, got {other:?}"),
    }
    assert_eq!(net, Mlp::init(1));
    let (_, result) = load_bytes(&with_checksum("sha256:abc"));
    assert!(
        matches!(result, Err(ContentError::BadChecksum { .. })),
        "{result:?}"
    );
    // Without a checksum (as PyTorch writes files) the tensors still load.
    let (_, result) = load_bytes(&raw_file(&mlp_tensors(), Some(architecture)));
    result.unwrap();
}

#[test]
fn bytes_and_files_get_exactly_the_same_checks() {
    let good = weights::to_bytes(&Mlp::<f32>::init(3)).unwrap();
    let architecture = <Mlp<f32> as Model>::ARCHITECTURE;
    let mut nan = mlp_tensors();
    nan[3].3[..4].copy_from_slice(&f32::NAN.to_le_bytes());
    // A header of `len` bytes: `{}` and spaces (valid JSON).
    let padded_header = |len: u64| {
        let mut bytes = len.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        bytes.resize(8 + len as usize, b' ');
        bytes
    };
    let header_limit = match weights::load_from_bytes::<Mlp<f32>>(&many_tensors(40_000)) {
        Err(ContentError::HeaderTooLarge { limit, .. }) => limit,
        other => panic!("expected HeaderTooLarge, got {other:?}"),
    };
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() - 3].to_vec()),
        ("flipped bit", flipped),
        ("no architecture", raw_file(&mlp_tensors(), None)),
        ("another architecture", raw_file(&mlp_tensors(), Some("x"))),
        ("NaN", raw_file(&nan, Some(architecture))),
        ("header over the limit", padded_header(header_limit + 1)),
        ("not safetensors", b"\x02\0\0\0\0\0\0\0{}".to_vec()),
    ];
    let dir = temp_dir("same-checks");
    for (what, bytes) in cases {
        let path = dir.path().join(format!("{what}.safetensors"));
        std::fs::write(&path, &bytes).unwrap();
        let from_file = weights::load::<Mlp<f32>>(&path).unwrap_err();
        let from_bytes = weights::load_from_bytes::<Mlp<f32>>(&bytes).unwrap_err();
        assert_eq!(from_file.content(), Some(&from_bytes), "{what}");
        assert_eq!(from_file.path(), path, "{what}");
        assert!(
            from_file.to_string().contains(&*path.to_string_lossy()),
            "{what}"
        );
    }
}
