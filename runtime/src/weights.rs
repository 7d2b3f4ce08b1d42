//! Weight files in the [safetensors] format, readable by PyTorch, numpy and
//! every other safetensors reader.
//!
//! A network's tensors are stored under their PyTorch names and layouts:
//! `hidden.weight` is `[out, in]` (row-major, as `nn.Linear.weight`),
//! `hidden.bias` is `[out]`. The dtype is the network's scalar (`F32` or
//! `F64`, little-endian). The metadata holds the network's declaration
//! ([`Network::ARCHITECTURE`]) under `architecture`, and `format: pt` so that
//! PyTorch tools accept the file.
//!
//! [`save`] writes a temporary file in the target's directory and renames it
//! over the target, so a crash never leaves a half-written file. [`load`]
//! checks the architecture, every tensor's name, dtype and shape, and that no
//! value is NaN or infinite, and returns a [`WeightsError`], never a panic.
//!
//! ```no_run
//! use chainrule::prelude::*;
//! use chainrule::weights;
//!
//! # fn demo<N: Network<4, 3>>(net: &N) -> Result<(), weights::WeightsError> {
//! weights::save(net, "iris.safetensors")?;
//! let reloaded: N = weights::load("iris.safetensors")?;
//! # Ok(())
//! # }
//! ```
//!
//! In Python: `safetensors.numpy.load_file("iris.safetensors")["hidden.weight"]`
//! is the `[out, in]` array; `safetensors.torch.load_file` gives a state dict
//! for an `nn.Sequential` / module with the same attribute names.
//!
//! [safetensors]: https://github.com/huggingface/safetensors

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::{Network, Parameters, Scalar};

/// The metadata key of the network's declaration.
pub const ARCHITECTURE_KEY: &str = "architecture";

/// What can go wrong while saving or loading a weight file.
///
/// Variants about a file name it; variants about a tensor name the tensor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WeightsError {
    /// The file does not exist.
    #[error("{}: weight file not found", path.display())]
    MissingFile {
        /// The file.
        path: PathBuf,
    },
    /// Reading, writing or renaming failed.
    #[error("{}: {action}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is not a valid safetensors file (truncated, corrupt header,
    /// overlapping tensors, ...).
    #[error("{}: not a valid safetensors file (truncated or corrupt): {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the safetensors parser reported.
        message: String,
    },
    /// The file was written for another network declaration, or has none.
    #[error("{}: the file holds weights of another network.\n  file:    {}\n  network: {expected}", path.display(), found.as_deref().unwrap_or("(no architecture in the metadata)"))]
    WrongArchitecture {
        /// The file.
        path: PathBuf,
        /// The declaration of the network being loaded.
        expected: String,
        /// The declaration in the file, if any.
        found: Option<String>,
    },
    /// A tensor of the network is not in the file.
    #[error("{}: tensor {name:?} is missing", path.display())]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
    },
    /// The file holds a tensor the network does not have.
    #[error("{}: unexpected tensor {name:?}: the network has no such parameter", path.display())]
    UnexpectedTensor {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
    },
    /// A tensor has another element type than the network's scalar.
    #[error("{}: tensor {name:?} has dtype {found}, the network needs {expected}", path.display())]
    WrongDtype {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The network's dtype (`F32` or `F64`).
        expected: String,
        /// The file's dtype.
        found: String,
    },
    /// A tensor has another shape than the network's parameter.
    #[error("{}: tensor {name:?} has shape {found:?}, the network needs {expected:?}", path.display())]
    WrongShape {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The network's shape (`[out, in]` or `[out]`).
        expected: Vec<usize>,
        /// The file's shape.
        found: Vec<usize>,
    },
    /// A tensor holds a NaN or an infinity.
    #[error("{}: tensor {name:?} holds a non-finite value at flat index {index}", path.display())]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The row-major index of the first bad value.
        index: usize,
    },
    /// Serialising the tensors failed (reported by the safetensors crate).
    #[error("{}: cannot serialise the tensors: {message}", path.display())]
    Serialize {
        /// The file.
        path: PathBuf,
        /// What the safetensors crate reported.
        message: String,
    },
}

/// The safetensors bytes of a network (what [`save`] writes).
pub fn to_bytes<N: Network<IN, OUT>, const IN: usize, const OUT: usize>(
    net: &N,
) -> Result<Vec<u8>, WeightsError> {
    encode(
        net,
        &[(ARCHITECTURE_KEY, N::ARCHITECTURE)],
        Path::new("<memory>"),
    )
}

/// Saves the network's parameters to `path` in the safetensors format.
///
/// The bytes go to a temporary file in the same directory, which is flushed
/// to disk and then renamed over `path`: readers see the old file or the new
/// one, never a mix, even if the process dies midway.
pub fn save<N: Network<IN, OUT>, const IN: usize, const OUT: usize>(
    net: &N,
    path: impl AsRef<Path>,
) -> Result<(), WeightsError> {
    let path = path.as_ref();
    let bytes = encode(net, &[(ARCHITECTURE_KEY, N::ARCHITECTURE)], path)?;
    write_atomically(path, &bytes)
}

/// Loads a network saved by [`save`]: the architecture in the file must be
/// this network's, and every tensor must be present with the right dtype and
/// shape and finite values; no other tensor may be in the file.
///
/// The architecture is the declaration text, struct name included: weights
/// saved from a network since renamed (or with another activation) are
/// refused. [`import_into`] loads them anyway when the tensors fit.
pub fn load<N: Network<IN, OUT>, const IN: usize, const OUT: usize>(
    path: impl AsRef<Path>,
) -> Result<N, WeightsError> {
    let mut net = N::init(0);
    load_into(&mut net, path)?;
    Ok(net)
}

/// Like [`load`], overwriting the parameters of `net`. On error `net` is
/// unchanged.
pub fn load_into<N: Network<IN, OUT>, const IN: usize, const OUT: usize>(
    net: &mut N,
    path: impl AsRef<Path>,
) -> Result<(), WeightsError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    decode_into(net, &bytes, Some(N::ARCHITECTURE), path)
}

/// Like [`load_into`], from bytes in memory; `name` is what errors call them.
pub fn from_bytes_into<N: Network<IN, OUT>, const IN: usize, const OUT: usize>(
    net: &mut N,
    bytes: &[u8],
    name: impl AsRef<Path>,
) -> Result<(), WeightsError> {
    decode_into(net, bytes, Some(N::ARCHITECTURE), name.as_ref())
}

/// Loads tensors written by another program (for example PyTorch's
/// `safetensors.torch.save_file(model.state_dict(), path)`) into any set of
/// parameters: names, dtypes, shapes and finiteness are checked as in
/// [`load_into`], the architecture metadata is not (such files have none).
/// On error `params` is unchanged.
pub fn import_into<P: Parameters>(
    params: &mut P,
    path: impl AsRef<Path>,
) -> Result<(), WeightsError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    decode_into(params, &bytes, None, path)
}

/// Saves any set of parameters (for example a network's gradients, inputs
/// and outputs for a test, or an optimizer's state) with these metadata
/// entries (besides `format: pt`), atomically as [`save`].
pub fn save_parameters<P: Parameters>(
    params: &P,
    metadata: &[(&str, &str)],
    path: impl AsRef<Path>,
) -> Result<(), WeightsError> {
    let path = path.as_ref();
    let bytes = encode(params, metadata, path)?;
    write_atomically(path, &bytes)
}

fn dtype_of<T: Scalar>() -> Dtype {
    if T::DTYPE == "F32" {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

/// One scalar's little-endian bytes, appended to `out`.
fn push_le<T: Scalar>(x: T, out: &mut Vec<u8>) {
    // `to_f64` is exact, and so is the cast back for an f32.
    match dtype_of::<T>() {
        Dtype::F32 => out.extend_from_slice(&(x.to_f64() as f32).to_le_bytes()),
        _ => out.extend_from_slice(&x.to_f64().to_le_bytes()),
    }
}

fn encode<P: Parameters>(
    params: &P,
    metadata: &[(&str, &str)],
    path: &Path,
) -> Result<Vec<u8>, WeightsError> {
    let dtype = dtype_of::<P::Scalar>();
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::with_capacity(P::TENSORS);
    params.visit(&mut |info, values| {
        let mut bytes = Vec::with_capacity(values.len() * dtype.bitsize() / 8);
        for &x in values {
            push_le(x, &mut bytes);
        }
        tensors.push((info.name.to_owned(), info.shape.to_vec(), bytes));
    });
    let mut views = Vec::with_capacity(tensors.len());
    for (name, shape, bytes) in &tensors {
        let view =
            TensorView::new(dtype, shape.clone(), bytes).map_err(|e| WeightsError::Serialize {
                path: path.to_path_buf(),
                message: format!("tensor {name:?}: {e}"),
            })?;
        views.push((name.as_str(), view));
    }
    let mut entries = HashMap::new();
    entries.insert("format".to_owned(), "pt".to_owned());
    for (key, value) in metadata {
        entries.insert((*key).to_owned(), (*value).to_owned());
    }
    safetensors::tensor::serialize(views, Some(entries)).map_err(|e| WeightsError::Serialize {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn decode_into<P: Parameters>(
    params: &mut P,
    bytes: &[u8],
    architecture: Option<&str>,
    path: &Path,
) -> Result<(), WeightsError> {
    let corrupt = |e: safetensors::SafeTensorError| WeightsError::Corrupt {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(corrupt)?;
    if let Some(expected) = architecture {
        let found = metadata
            .metadata()
            .as_ref()
            .and_then(|m| m.get(ARCHITECTURE_KEY));
        if found.map(String::as_str) != Some(expected) {
            return Err(WeightsError::WrongArchitecture {
                path: path.to_path_buf(),
                expected: expected.to_owned(),
                found: found.cloned(),
            });
        }
    }
    let file = SafeTensors::deserialize(bytes).map_err(corrupt)?;

    // Check everything before writing anything, so that `params` is
    // unchanged on error.
    let dtype = dtype_of::<P::Scalar>();
    let mut expected_names = Vec::with_capacity(P::TENSORS);
    let mut first_error = None;
    params.visit(&mut |info, _| {
        expected_names.push(info.name.to_owned());
        if first_error.is_none() {
            first_error = check_tensor(&file, info.name, info.shape, dtype, path).err();
        }
    });
    if let Some(error) = first_error {
        return Err(error);
    }
    let mut extra: Vec<&str> = file
        .names()
        .into_iter()
        .filter(|name| !expected_names.iter().any(|n| n == name))
        .collect();
    extra.sort_unstable();
    if let Some(name) = extra.first() {
        return Err(WeightsError::UnexpectedTensor {
            path: path.to_path_buf(),
            name: (*name).to_owned(),
        });
    }

    params.visit_mut(&mut |info, values| {
        // Checked above: present, of this dtype and shape, all finite.
        if let Ok(view) = file.tensor(info.name) {
            for (dst, x) in values.iter_mut().zip(read_values(view.data(), dtype)) {
                *dst = P::Scalar::from_f64(x);
            }
        }
    });
    Ok(())
}

fn check_tensor(
    file: &SafeTensors<'_>,
    name: &str,
    shape: &[usize],
    dtype: Dtype,
    path: &Path,
) -> Result<(), WeightsError> {
    let view = file.tensor(name).map_err(|_| WeightsError::MissingTensor {
        path: path.to_path_buf(),
        name: name.to_owned(),
    })?;
    if view.dtype() != dtype {
        return Err(WeightsError::WrongDtype {
            path: path.to_path_buf(),
            name: name.to_owned(),
            expected: dtype.to_string(),
            found: view.dtype().to_string(),
        });
    }
    if view.shape() != shape {
        return Err(WeightsError::WrongShape {
            path: path.to_path_buf(),
            name: name.to_owned(),
            expected: shape.to_vec(),
            found: view.shape().to_vec(),
        });
    }
    if let Some(index) = read_values(view.data(), dtype).position(|x| !x.is_finite()) {
        return Err(WeightsError::NonFinite {
            path: path.to_path_buf(),
            name: name.to_owned(),
            index,
        });
    }
    Ok(())
}

/// The little-endian F32 or F64 values of a tensor's bytes, as f64 (exact).
fn read_values(bytes: &[u8], dtype: Dtype) -> impl Iterator<Item = f64> + '_ {
    let width = if dtype == Dtype::F32 { 4 } else { 8 };
    bytes.chunks_exact(width).map(move |b| {
        if width == 4 {
            f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        } else {
            f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
        }
    })
}

fn read(path: &Path) -> Result<Vec<u8>, WeightsError> {
    std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            WeightsError::MissingFile {
                path: path.to_path_buf(),
            }
        } else {
            WeightsError::Io {
                path: path.to_path_buf(),
                action: "cannot read",
                source,
            }
        }
    })
}

/// Writes `bytes` to a temporary file next to `path`, syncs it and renames it
/// to `path`. On error the temporary file is removed and `path` untouched.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WeightsError> {
    let io = |action: &'static str| {
        move |source| WeightsError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    };
    let file_name = path.file_name().ok_or_else(|| WeightsError::Io {
        path: path.to_path_buf(),
        action: "cannot save",
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file"),
    })?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(".tmp-{}", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let result = (|| {
        let mut file =
            std::fs::File::create(&temp).map_err(io("cannot create a temporary file"))?;
        file.write_all(bytes).map_err(io("cannot write"))?;
        file.sync_all().map_err(io("cannot flush to disk"))?;
        drop(file);
        std::fs::rename(&temp, path).map_err(io("cannot rename the temporary file"))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
