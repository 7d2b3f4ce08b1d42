//! Weight files in the [safetensors] format, readable by PyTorch, numpy and
//! every other safetensors reader.
//!
//! A network's tensors are stored under their PyTorch names and layouts:
//! `hidden.weight` is `[out, in]` (row-major, as `nn.Linear.weight`),
//! `hidden.bias` is `[out]`. The dtype is the network's scalar (`F32` or
//! `F64`, little-endian). The metadata holds `format: pt` (so that PyTorch
//! tools accept the file), the network's declaration
//! ([`Model::ARCHITECTURE`]) under `architecture`, and a checksum of the
//! tensor data under `chainrule.checksum` (see [`CHECKSUM_KEY`]).
//!
//! What is guaranteed:
//! - **Loading never panics and never half-loads.** [`load`] checks the file
//!   type and size before reading, the header's size before parsing it (it is
//!   parsed once), the architecture, the checksum when present, every
//!   tensor's name, dtype and shape, and that no value is NaN or infinite; any
//!   failure is a [`WeightsError`] naming the file, and the network given to
//!   [`load_into`] is unchanged.
//! - **Saving is atomic.** [`save`] writes a fresh temporary file (an
//!   exclusive, randomly named file in the target's directory), flushes it to
//!   disk, gives it the permissions of the file it replaces, renames it over
//!   the target and flushes the directory. After a crash the target holds
//!   the old file or the new one, never a mix; concurrent saves to one path
//!   each write their own temporary file, and the target ends up holding one
//!   complete save. A symbolic link at the target is replaced, not followed.
//! - **What is saved loads.** Parameters with a NaN or an infinity are
//!   refused by [`save`] ([`ContentError::NonFinite`]), as [`load`] would
//!   refuse them.
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
//! Weights built into the program need no file system: the `*_from_bytes`
//! functions run the same checks on a byte slice and return a
//! [`ContentError`] (a type with no file-system or I/O parts):
//!
//! ```no_run
//! use chainrule::prelude::*;
//! use chainrule::weights;
//!
//! network! {
//!     pub struct Iris {
//!         hidden: Dense<4, 16> => relu,
//!         output: Dense<16, 3> => softmax,
//!         loss: cross_entropy,
//!     }
//! }
//!
//! /// A file written by `weights::save`, built into the program.
//! static WEIGHTS: &[u8] = include_bytes!("../tests/fixtures/mlp-3-4-2-f32.safetensors");
//!
//! # fn main() -> Result<(), weights::ContentError> {
//! let net: Iris = weights::load_from_bytes(WEIGHTS)?;
//! # Ok(())
//! # }
//! ```
//!
//! In Python: `safetensors.numpy.load_file("iris.safetensors")["hidden.weight"]`
//! is the `[out, in]` array; `safetensors.torch.load_file` gives a state dict
//! for an `nn.Sequential` / module with the same attribute names.
//!
//! [safetensors]: https://github.com/huggingface/safetensors

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
#[cfg(feature = "std")]
use std::io::{Read, Write};
#[cfg(feature = "std")]
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, Metadata, SafeTensors, TensorView};

use crate::{Model, Parameters, Scalar};

/// The metadata key of the network's declaration.
pub const ARCHITECTURE_KEY: &str = "architecture";

/// The metadata key PyTorch's tools read (`pt`).
pub const FORMAT_KEY: &str = "format";

/// The metadata key of the checksum: `crc32:` and 8 hexadecimal digits, the
/// CRC-32 (IEEE, as zlib's `crc32`) of the tensors' data bytes, the tensors
/// taken in ascending order of their names (byte order). In Python:
/// `zlib.crc32(b"".join(t[k].tobytes() for k in sorted(t)))` with
/// `t = safetensors.numpy.load_file(path)`.
///
/// CRC-32 finds every single flipped bit and every burst of up to 32 flipped
/// bits, which is what a checksum against accidental damage is for; like
/// any checksum stored next to the data it does not stop a deliberate
/// forger, who can recompute it.
pub const CHECKSUM_KEY: &str = "chainrule.checksum";

/// Metadata keys starting with this are chainrule's own: user metadata given
/// to [`save_parameters`] may not use them (nor `format` and
/// `architecture`).
pub const RESERVED_PREFIX: &str = "chainrule.";

/// Headers are allowed this many bytes beyond what the network's own tensor
/// entries and architecture take (user metadata, a writer's padding).
const HEADER_SLACK: u64 = 64 * 1024;

/// What is wrong with the bytes of a weight file, or with parameters about
/// to be written as one: every check that needs no file system.
///
/// [`load_from_bytes`] and the other byte-slice functions return it as is;
/// the file functions wrap it in [`WeightsError::Content`] with the file's
/// path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContentError {
    /// Not a valid safetensors file (truncated, corrupt header, overlapping
    /// tensors, ...).
    #[error("not a valid safetensors file (truncated or corrupt): {message}")]
    Corrupt {
        /// What is wrong, as the safetensors parser reported it.
        message: String,
    },
    /// The header is far larger than the network's tensors need: refused
    /// before it is parsed.
    #[error(
        "the header is {size} bytes, far more than this network's tensors need (at most {limit})"
    )]
    HeaderTooLarge {
        /// The header size the file gives.
        size: u64,
        /// The largest header accepted for this network.
        limit: u64,
    },
    /// The file was written for another network declaration, or has none.
    #[error("the file holds weights of another network.\n  file:    {}\n  network: {expected}", found.as_deref().unwrap_or("(no architecture in the metadata)"))]
    WrongArchitecture {
        /// The declaration of the network being loaded.
        expected: String,
        /// The declaration in the file, if any.
        found: Option<String>,
    },
    /// The tensor data does not have the checksum the file gives: the file
    /// was damaged after it was written.
    #[error("the tensor data is damaged: its checksum is {computed}, the file says {stored}")]
    ChecksumMismatch {
        /// The checksum in the metadata.
        stored: String,
        /// The checksum of the data found.
        computed: String,
    },
    /// The checksum in the metadata is not of the form `crc32:` and 8
    /// hexadecimal digits.
    #[error("the checksum {text:?} is not of the form crc32:<8 hex digits>")]
    BadChecksum {
        /// The metadata value (its first 40 bytes when longer).
        text: String,
    },
    /// A tensor of the network is not in the file.
    #[error("tensor {name:?} is missing")]
    MissingTensor {
        /// The tensor's name.
        name: String,
    },
    /// The file holds a tensor the network does not have.
    #[error("unexpected tensor {name:?}: the network has no such parameter")]
    UnexpectedTensor {
        /// The tensor's name.
        name: String,
    },
    /// A tensor has another element type than the network's scalar.
    #[error("tensor {name:?} has dtype {found}, the network needs {expected}")]
    WrongDtype {
        /// The tensor's name.
        name: String,
        /// The network's dtype (`F32` or `F64`).
        expected: String,
        /// The file's dtype.
        found: String,
    },
    /// A tensor has another shape than the network's parameter.
    #[error("tensor {name:?} has shape {found:?}, the network needs {expected:?}")]
    WrongShape {
        /// The tensor's name.
        name: String,
        /// The network's shape (`[out, in]` or `[out]`).
        expected: Vec<usize>,
        /// The file's shape.
        found: Vec<usize>,
    },
    /// A tensor holds a NaN or an infinity: in the file being loaded, or in
    /// the parameters being saved (which are then not written).
    #[error("tensor {name:?} holds a non-finite value at flat index {index}")]
    NonFinite {
        /// The tensor's name.
        name: String,
        /// The row-major index of the first bad value.
        index: usize,
    },
    /// User metadata tried to set one of chainrule's own keys.
    #[error("the metadata key {key:?} is reserved (format, architecture and chainrule.*)")]
    ReservedMetadataKey {
        /// The key.
        key: String,
    },
    /// Serialising the tensors failed (reported by the safetensors crate).
    #[error("cannot serialise the tensors: {message}")]
    Serialize {
        /// What the safetensors crate reported.
        message: String,
    },
}

/// What can go wrong while saving or loading a weight file. Every variant
/// names the file. (With the `std` feature.)
#[cfg(feature = "std")]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WeightsError {
    /// The file does not exist.
    #[error("{}: weight file not found", path.display())]
    MissingFile {
        /// The file.
        path: PathBuf,
    },
    /// The path is not a regular file (a directory, a FIFO, a device, ...):
    /// refused before opening it for reading.
    #[error("{}: not a regular file but {kind}", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// The file is larger than any weight file of this network can be:
    /// refused before reading it.
    #[error("{}: {size} bytes, more than a weight file of this network can hold (at most {limit})", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The file's size in bytes (at least; it may still be growing).
        size: u64,
        /// The largest file accepted for this network.
        limit: u64,
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
    /// The file's contents (or the parameters to save) are not right.
    #[error("{}: {error}", path.display())]
    Content {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        error: ContentError,
    },
}

#[cfg(feature = "std")]
impl WeightsError {
    /// The file the error is about.
    #[must_use]
    pub fn path(&self) -> &Path {
        match self {
            WeightsError::MissingFile { path }
            | WeightsError::NotAFile { path, .. }
            | WeightsError::TooLarge { path, .. }
            | WeightsError::Io { path, .. }
            | WeightsError::Content { path, .. } => path,
        }
    }

    /// What is wrong with the contents, when that is the error.
    #[must_use]
    pub fn content(&self) -> Option<&ContentError> {
        match self {
            WeightsError::Content { error, .. } => Some(error),
            _ => None,
        }
    }
}

// ------------------------------------------------------------ byte slices

/// The safetensors bytes of a network (what [`save`] writes). Refuses
/// parameters with a NaN or an infinity.
pub fn to_bytes<N: Model>(net: &N) -> Result<Vec<u8>, ContentError> {
    let mut writer = TensorWriter::new();
    writer.metadata(ARCHITECTURE_KEY, N::ARCHITECTURE);
    writer.parameters("", net)?;
    writer.finish()
}

/// The safetensors bytes of any set of parameters with user metadata (what
/// [`save_parameters`] writes). Refuses reserved metadata keys and
/// non-finite values.
pub fn parameters_to_bytes<P: Parameters>(
    params: &P,
    metadata: &[(&str, &str)],
) -> Result<Vec<u8>, ContentError> {
    let mut writer = TensorWriter::new();
    for (key, value) in metadata {
        if is_reserved(key) {
            return Err(ContentError::ReservedMetadataKey {
                key: (*key).to_owned(),
            });
        }
        writer.metadata(key, value);
    }
    writer.parameters("", params)?;
    writer.finish()
}

/// Loads a network from the bytes of a weight file, with exactly the checks
/// of [`load`] (but the file type and size, which bytes in memory do not
/// have): for weights built into the program with `include_bytes!`, or
/// received over a network. Touches no file system.
///
/// ```no_run
/// # use chainrule::prelude::*;
/// # network! { pub struct Iris { hidden: Dense<4, 16> => relu, output: Dense<16, 3> => softmax, loss: cross_entropy } }
/// static WEIGHTS: &[u8] = include_bytes!("../tests/fixtures/mlp-3-4-2-f32.safetensors");
/// # fn main() -> Result<(), chainrule::weights::ContentError> {
/// let net: Iris = chainrule::weights::load_from_bytes(WEIGHTS)?;
/// # Ok(())
/// # }
/// ```
pub fn load_from_bytes<N: Model>(bytes: &[u8]) -> Result<N, ContentError> {
    let mut net = N::init(0);
    load_from_bytes_into(&mut net, bytes)?;
    Ok(net)
}

/// Like [`load_from_bytes`], overwriting the parameters of `net`. On error
/// `net` is unchanged.
pub fn load_from_bytes_into<N: Model>(net: &mut N, bytes: &[u8]) -> Result<(), ContentError> {
    decode_into(net, bytes, Some(N::ARCHITECTURE))
}

/// Like [`import_into`], from bytes in memory: any set of parameters, every
/// check but the architecture. On error `params` is unchanged.
pub fn import_from_bytes_into<P: Parameters>(
    params: &mut P,
    bytes: &[u8],
) -> Result<(), ContentError> {
    decode_into(params, bytes, None)
}

// ------------------------------------------------------------------ files

#[cfg(feature = "std")]
/// Saves the network's parameters to `path` in the safetensors format,
/// atomically (see the [module docs](self)): readers see the old file or the
/// new one, never a mix, even if the process dies midway.
///
/// Refuses, writing nothing, parameters with a NaN or an infinity
/// ([`ContentError::NonFinite`]).
pub fn save<N: Model>(net: &N, path: impl AsRef<Path>) -> Result<(), WeightsError> {
    let path = path.as_ref();
    let bytes = to_bytes(net).map_err(|error| content(path, error))?;
    write_atomically(path, &bytes)
}

#[cfg(feature = "std")]
/// Loads a network saved by [`save`]: the architecture in the file must be
/// this network's, the checksum (when the file has one) must match, and
/// every tensor must be present with the right dtype and shape and finite
/// values; no other tensor may be in the file.
///
/// The architecture is the declaration text, struct name included: weights
/// saved from a network since renamed (or with another activation) are
/// refused. [`import_into`] loads them anyway when the tensors fit.
///
/// Before reading, the path must be a regular file no larger than a weight
/// file of this network can be (its tensors in 8-byte values plus a header
/// of 64 KiB more than its tensor entries need): a FIFO, a device or a huge
/// file is refused at once ([`WeightsError::NotAFile`],
/// [`WeightsError::TooLarge`]).
pub fn load<N: Model>(path: impl AsRef<Path>) -> Result<N, WeightsError> {
    let mut net = N::init(0);
    load_into(&mut net, path)?;
    Ok(net)
}

#[cfg(feature = "std")]
/// Like [`load`], overwriting the parameters of `net`. On error `net` is
/// unchanged.
pub fn load_into<N: Model>(net: &mut N, path: impl AsRef<Path>) -> Result<(), WeightsError> {
    let path = path.as_ref();
    let bytes = read_bounded(path, file_limit(&*net, N::ARCHITECTURE.len()))?;
    decode_into(net, &bytes, Some(N::ARCHITECTURE)).map_err(|error| content(path, error))
}

#[cfg(feature = "std")]
/// Loads tensors written by another program (for example PyTorch's
/// `safetensors.torch.save_file(model.state_dict(), path)`) into any set of
/// parameters: names, dtypes, shapes, finiteness and the checksum (when
/// present; PyTorch writes none) are checked as in [`load_into`], the
/// architecture metadata is not (such files have none). On error `params`
/// is unchanged.
pub fn import_into<P: Parameters>(
    params: &mut P,
    path: impl AsRef<Path>,
) -> Result<(), WeightsError> {
    let path = path.as_ref();
    let bytes = read_bounded(path, file_limit(&*params, 0))?;
    decode_into(params, &bytes, None).map_err(|error| content(path, error))
}

#[cfg(feature = "std")]
/// Saves any set of parameters (for example a network's gradients, or
/// inputs and outputs for a test) with these metadata entries (besides
/// `format: pt` and the checksum), atomically as [`save`].
///
/// The keys `format`, `architecture` and `chainrule.*` are reserved
/// ([`ContentError::ReservedMetadataKey`]); keep user metadata small (a
/// file's header may be 64 KiB larger than its tensor entries need, or
/// [`import_into`] refuses it).
pub fn save_parameters<P: Parameters>(
    params: &P,
    metadata: &[(&str, &str)],
    path: impl AsRef<Path>,
) -> Result<(), WeightsError> {
    let path = path.as_ref();
    let bytes = parameters_to_bytes(params, metadata).map_err(|error| content(path, error))?;
    write_atomically(path, &bytes)
}

// ------------------------------------------------------ writing (no I/O)

fn is_reserved(key: &str) -> bool {
    key == FORMAT_KEY || key == ARCHITECTURE_KEY || key.starts_with(RESERVED_PREFIX)
}

/// The safetensors dtype of a scalar type.
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

/// Collects tensors and metadata, then writes a safetensors file with the
/// checksum: the one writer of weight files and checkpoints.
pub(crate) struct TensorWriter {
    tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)>,
    metadata: Vec<(String, String)>,
}

impl TensorWriter {
    pub(crate) fn new() -> Self {
        Self {
            tensors: Vec::new(),
            metadata: vec![(FORMAT_KEY.to_owned(), "pt".to_owned())],
        }
    }

    /// Adds (or replaces) a metadata entry.
    pub(crate) fn metadata(&mut self, key: &str, value: &str) {
        self.metadata.retain(|(k, _)| k != key);
        self.metadata.push((key.to_owned(), value.to_owned()));
    }

    /// Adds every tensor of `params` under `prefix` + its name; an error
    /// naming the first non-finite value.
    pub(crate) fn parameters<P: Parameters + ?Sized>(
        &mut self,
        prefix: &str,
        params: &P,
    ) -> Result<(), ContentError> {
        let dtype = dtype_of::<P::Scalar>();
        let mut error = None;
        params.visit(&mut |info, values| {
            if error.is_some() {
                return;
            }
            if let Some(index) = values.iter().position(|x| !x.is_finite()) {
                error = Some(ContentError::NonFinite {
                    name: format!("{prefix}{}", info.name),
                    index,
                });
                return;
            }
            let mut bytes = Vec::with_capacity(values.len() * dtype.bitsize() / 8);
            for &x in values {
                push_le(x, &mut bytes);
            }
            self.tensors.push((
                format!("{prefix}{}", info.name),
                dtype,
                info.shape.to_vec(),
                bytes,
            ));
        });
        error.map_or(Ok(()), Err)
    }

    /// Adds one tensor of `values` (no finiteness check: an optimizer's
    /// moments or a history with NaN for "not measured" are kept as they are).
    #[cfg(feature = "std")]
    pub(crate) fn values<T: Scalar>(&mut self, name: &str, shape: &[usize], values: &[T]) {
        let mut bytes = Vec::with_capacity(core::mem::size_of_val(values));
        for &x in values {
            push_le(x, &mut bytes);
        }
        self.tensors
            .push((name.to_owned(), dtype_of::<T>(), shape.to_vec(), bytes));
    }

    /// The file's bytes, with the checksum of the tensors in the metadata.
    pub(crate) fn finish(mut self) -> Result<Vec<u8>, ContentError> {
        let serialize_error = |message: String| ContentError::Serialize { message };
        let mut order: Vec<usize> = (0..self.tensors.len()).collect();
        order.sort_by(|&a, &b| self.tensors[a].0.cmp(&self.tensors[b].0));
        let mut hasher = crc32fast::Hasher::new();
        for &i in &order {
            hasher.update(&self.tensors[i].3);
        }
        let checksum = format_checksum(hasher.finalize());
        self.metadata(CHECKSUM_KEY, &checksum);
        let mut views = Vec::with_capacity(self.tensors.len());
        for (name, dtype, shape, bytes) in &self.tensors {
            let view = TensorView::new(*dtype, shape.clone(), bytes)
                .map_err(|e| serialize_error(format!("tensor {name:?}: {e}")))?;
            views.push((name.as_str(), view));
        }
        let metadata = self.metadata.into_iter().collect();
        safetensors::tensor::serialize(views, Some(metadata))
            .map_err(|e| serialize_error(e.to_string()))
    }
}

fn format_checksum(crc: u32) -> String {
    format!("crc32:{crc:08x}")
}

// ------------------------------------------------------ reading (no I/O)

/// The largest header accepted for `params` with an architecture of
/// `architecture_len` bytes: what its own tensor entries and metadata can
/// take, written generously, plus [`HEADER_SLACK`].
pub(crate) fn header_limit<P: Parameters + ?Sized>(params: &P, architecture_len: usize) -> u64 {
    let mut entries = 0u64;
    params.visit(&mut |info, _| {
        // `"NAME":{"dtype":"F64","shape":[…],"data_offsets":[…,…]},`, each
        // number at most 20 digits, the name JSON-escaped (≤ 6 bytes a byte).
        entries += 6 * info.name.len() as u64 + 64 + 21 * (info.shape.len() as u64 + 2);
    });
    // The architecture JSON-escaped, the format and checksum entries.
    entries + 6 * architecture_len as u64 + 128 + HEADER_SLACK
}

#[cfg(feature = "std")]
/// The largest weight file accepted for `params`: the length prefix, the
/// header limit and every scalar in 8 bytes (so that an F64 file for an f32
/// network still reaches the clearer dtype error).
fn file_limit<P: Parameters + ?Sized>(params: &P, architecture_len: usize) -> u64 {
    8 + header_limit(params, architecture_len) + 8 * P::SCALARS as u64
}

/// A safetensors file parsed once: its metadata and the data it describes.
pub(crate) struct TensorFile<'a> {
    metadata: Metadata,
    data: &'a [u8],
}

impl<'a> TensorFile<'a> {
    /// Parses `bytes`, refusing (before parsing) a header over `header_limit`
    /// bytes, then verifies the checksum when the metadata has one.
    pub(crate) fn parse(bytes: &'a [u8], header_limit: u64) -> Result<Self, ContentError> {
        let corrupt = |e: safetensors::SafeTensorError| ContentError::Corrupt {
            message: e.to_string(),
        };
        let Some(prefix) = bytes.first_chunk::<8>() else {
            return Err(ContentError::Corrupt {
                message: format!(
                    "{} bytes, shorter than the 8-byte header length",
                    bytes.len()
                ),
            });
        };
        let size = u64::from_le_bytes(*prefix);
        if size > header_limit {
            return Err(ContentError::HeaderTooLarge {
                size,
                limit: header_limit,
            });
        }
        let (header, metadata) = SafeTensors::read_metadata(bytes).map_err(corrupt)?;
        let file = Self {
            metadata,
            data: &bytes[8 + header..],
        };
        file.verify_checksum()?;
        Ok(file)
    }

    /// The metadata value of `key`, if any.
    pub(crate) fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata
            .metadata()
            .as_ref()
            .and_then(|m| m.get(key))
            .map(String::as_str)
    }

    /// The dtype, shape and data of the tensor `name`.
    pub(crate) fn tensor(&self, name: &str) -> Option<(Dtype, &[usize], &'a [u8])> {
        let info = self.metadata.info(name)?;
        let (start, end) = info.data_offsets;
        // `read_metadata` checked that the offsets tile the data exactly.
        let data = self.data.get(start..end)?;
        Some((info.dtype, &info.shape, data))
    }

    /// Every tensor name, sorted.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names = self.metadata.offset_keys();
        names.sort_unstable();
        names
    }

    fn verify_checksum(&self) -> Result<(), ContentError> {
        let Some(stored) = self.metadata(CHECKSUM_KEY) else {
            return Ok(());
        };
        let expected = parse_checksum(stored).ok_or_else(|| ContentError::BadChecksum {
            text: stored.chars().take(40).collect(),
        })?;
        let mut hasher = crc32fast::Hasher::new();
        for name in self.names() {
            if let Some((_, _, data)) = self.tensor(&name) {
                hasher.update(data);
            }
        }
        let computed = hasher.finalize();
        if computed == expected {
            Ok(())
        } else {
            Err(ContentError::ChecksumMismatch {
                stored: stored.to_owned(),
                computed: format_checksum(computed),
            })
        }
    }

    /// Checks that the file has every tensor of `params` (named `prefix` +
    /// its name) with the right dtype and shape and finite values.
    pub(crate) fn check_parameters<P: Parameters + ?Sized>(
        &self,
        prefix: &str,
        params: &P,
    ) -> Result<(), ContentError> {
        let dtype = dtype_of::<P::Scalar>();
        let mut first_error = None;
        params.visit(&mut |info, _| {
            if first_error.is_none() {
                let name = format!("{prefix}{}", info.name);
                first_error = self.check_tensor(&name, info.shape, dtype).err();
            }
        });
        first_error.map_or(Ok(()), Err)
    }

    /// Copies the tensors of `params` from the file; call after
    /// [`check_parameters`](Self::check_parameters) succeeded.
    pub(crate) fn read_parameters<P: Parameters + ?Sized>(&self, prefix: &str, params: &mut P) {
        let dtype = dtype_of::<P::Scalar>();
        params.visit_mut(&mut |info, values| {
            if let Some((_, _, data)) = self.tensor(&format!("{prefix}{}", info.name)) {
                for (dst, x) in values.iter_mut().zip(read_values(data, dtype)) {
                    *dst = P::Scalar::from_f64(x);
                }
            }
        });
    }

    /// The names of `params`'s tensors under `prefix`.
    pub(crate) fn names_of<P: Parameters + ?Sized>(prefix: &str, params: &P) -> Vec<String> {
        let mut names = Vec::with_capacity(P::TENSORS);
        params.visit(&mut |info, _| names.push(format!("{prefix}{}", info.name)));
        names
    }

    /// The values of tensor `name`, which must have this dtype (`F32` or
    /// `F64`) and shape; NaN and infinities are returned as they are.
    #[cfg(feature = "std")]
    pub(crate) fn values(
        &self,
        name: &str,
        shape: &[usize],
        dtype: Dtype,
    ) -> Result<Vec<f64>, ContentError> {
        let (found_dtype, found_shape, data) =
            self.tensor(name)
                .ok_or_else(|| ContentError::MissingTensor {
                    name: name.to_owned(),
                })?;
        if found_dtype != dtype {
            return Err(ContentError::WrongDtype {
                name: name.to_owned(),
                expected: dtype.to_string(),
                found: found_dtype.to_string(),
            });
        }
        if found_shape != shape {
            return Err(ContentError::WrongShape {
                name: name.to_owned(),
                expected: shape.to_vec(),
                found: found_shape.to_vec(),
            });
        }
        Ok(read_values(data, dtype).collect())
    }

    /// An error naming the first tensor (in name order) not in `expected`.
    pub(crate) fn check_no_other(&self, expected: &[String]) -> Result<(), ContentError> {
        match self
            .names()
            .into_iter()
            .find(|name| !expected.iter().any(|e| e == name))
        {
            Some(name) => Err(ContentError::UnexpectedTensor { name }),
            None => Ok(()),
        }
    }

    fn check_tensor(&self, name: &str, shape: &[usize], dtype: Dtype) -> Result<(), ContentError> {
        let (found_dtype, found_shape, data) =
            self.tensor(name)
                .ok_or_else(|| ContentError::MissingTensor {
                    name: name.to_owned(),
                })?;
        if found_dtype != dtype {
            return Err(ContentError::WrongDtype {
                name: name.to_owned(),
                expected: dtype.to_string(),
                found: found_dtype.to_string(),
            });
        }
        if found_shape != shape {
            return Err(ContentError::WrongShape {
                name: name.to_owned(),
                expected: shape.to_vec(),
                found: found_shape.to_vec(),
            });
        }
        if let Some(index) = read_values(data, dtype).position(|x| !x.is_finite()) {
            return Err(ContentError::NonFinite {
                name: name.to_owned(),
                index,
            });
        }
        Ok(())
    }
}

/// `crc32:` and exactly 8 hexadecimal digits (either case).
fn parse_checksum(text: &str) -> Option<u32> {
    let digits = text.strip_prefix("crc32:")?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

fn decode_into<P: Parameters>(
    params: &mut P,
    bytes: &[u8],
    architecture: Option<&str>,
) -> Result<(), ContentError> {
    let limit = header_limit(&*params, architecture.map_or(0, str::len));
    let file = TensorFile::parse(bytes, limit)?;
    if let Some(expected) = architecture {
        let found = file.metadata(ARCHITECTURE_KEY);
        if found != Some(expected) {
            return Err(ContentError::WrongArchitecture {
                expected: expected.to_owned(),
                found: found.map(|f| f.chars().take(4096).collect()),
            });
        }
    }
    // Check everything before writing anything, so that `params` is
    // unchanged on error.
    file.check_parameters("", &*params)?;
    file.check_no_other(&TensorFile::names_of("", &*params))?;
    file.read_parameters("", params);
    Ok(())
}

/// The little-endian values of an `F32` or `F64` tensor's bytes, as f64
/// (exact); callers check the dtype first.
pub(crate) fn read_values(bytes: &[u8], dtype: Dtype) -> impl Iterator<Item = f64> + '_ {
    let width = if dtype == Dtype::F32 { 4 } else { 8 };
    bytes.chunks_exact(width).map(move |b| {
        if width == 4 {
            f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        } else {
            f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
        }
    })
}

// --------------------------------------------------------- file system

#[cfg(feature = "std")]
fn content(path: &Path, error: ContentError) -> WeightsError {
    WeightsError::Content {
        path: path.to_path_buf(),
        error,
    }
}

#[cfg(feature = "std")]
/// What a path that is not a regular file is.
fn file_kind(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

#[cfg(feature = "std")]
/// Reads the regular file `path` of at most `limit` bytes: its type and size
/// are checked before reading (a FIFO or a device is never read), and the
/// read stops past `limit` bytes should the file grow meanwhile.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, WeightsError> {
    let io = |action: &'static str| {
        move |source: std::io::Error| {
            if source.kind() == std::io::ErrorKind::NotFound {
                WeightsError::MissingFile {
                    path: path.to_path_buf(),
                }
            } else {
                WeightsError::Io {
                    path: path.to_path_buf(),
                    action,
                    source,
                }
            }
        }
    };
    let check = |metadata: &std::fs::Metadata| {
        if !metadata.is_file() {
            return Err(WeightsError::NotAFile {
                path: path.to_path_buf(),
                kind: file_kind(metadata.file_type()),
            });
        }
        if metadata.len() > limit {
            return Err(WeightsError::TooLarge {
                path: path.to_path_buf(),
                size: metadata.len(),
                limit,
            });
        }
        Ok(())
    };
    // The type before opening: opening a FIFO for reading blocks.
    check(&std::fs::metadata(path).map_err(io("cannot read"))?)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        // Should the path become a FIFO between the check and the open, the
        // open does not block (O_NONBLOCK changes nothing for a regular file).
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(io("cannot open"))?;
    let metadata = file.metadata().map_err(io("cannot read"))?;
    check(&metadata)?;
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io("cannot read"))?;
    if bytes.len() as u64 > limit {
        return Err(WeightsError::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

#[cfg(feature = "std")]
/// Writes `bytes` to a fresh temporary file next to `path` (created
/// exclusively under a random name), syncs it, gives it the permissions of
/// the file it replaces, renames it to `path` and syncs the directory. On
/// error the temporary file is removed and `path` untouched.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WeightsError> {
    let io = |action: &'static str| {
        move |source: std::io::Error| WeightsError::Io {
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
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(file_name);
    prefix.push(".");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // A new file gets the usual 0666 less the umask (tempfile's default is
    // 0600); a replaced file keeps its own mode, set below.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut temp = builder
        .tempfile_in(dir)
        .map_err(io("cannot create a temporary file"))?;
    // The temporary file is deleted when `temp` is dropped on any error.
    temp.write_all(bytes).map_err(io("cannot write"))?;
    match std::fs::metadata(path) {
        Ok(old) if old.is_file() => temp
            .as_file()
            .set_permissions(old.permissions())
            .map_err(io("cannot copy the permissions of the file it replaces"))?,
        _ => {}
    }
    temp.as_file()
        .sync_all()
        .map_err(io("cannot flush to disk"))?;
    temp.persist(path)
        .map_err(|e| io("cannot rename the temporary file")(e.error))?;
    sync_dir(dir).map_err(io("cannot flush the directory to disk"))
}

#[cfg(feature = "std")]
/// Flushes a directory's entries (the rename) to disk, where the platform
/// can (Unix); elsewhere the rename is as durable as the OS makes it.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_nets::Mlp;
    use crate::Model;

    /// A weight file committed to the repository, written by
    /// `weights::save(&Mlp::<f32, 3, 4, 2>::init(7), …)`: it is read here
    /// with `include_bytes!` only, so this test (which Miri runs with its
    /// file-system isolation on) shows the byte path touches no file
    /// system, and that a file written earlier still loads.
    static EMBEDDED: &[u8] = include_bytes!("../tests/fixtures/mlp-3-4-2-f32.safetensors");

    #[test]
    fn an_embedded_weight_file_loads_without_a_file_system() {
        let net: Mlp<f32, 3, 4, 2> = load_from_bytes(EMBEDDED).unwrap();
        assert_eq!(net, Mlp::init(7));
        // The same checks as `load`: another shape is refused...
        let err = load_from_bytes::<Mlp<f32, 3, 5, 2>>(EMBEDDED).unwrap_err();
        assert!(matches!(err, ContentError::WrongShape { .. }), "{err:?}");
        // ... and so is any damaged byte of the data (the last 26·4 bytes).
        let mut damaged = EMBEDDED.to_vec();
        let last = damaged.len() - 1;
        damaged[last] ^= 0x01;
        let err = load_from_bytes::<Mlp<f32, 3, 4, 2>>(&damaged).unwrap_err();
        assert!(
            matches!(err, ContentError::ChecksumMismatch { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn checksum_is_the_standard_crc32() {
        // The CRC-32 check value of "123456789" (IEEE 802.3, as zlib).
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(b"123456789");
        assert_eq!(format_checksum(hasher.finalize()), "crc32:cbf43926");
        assert_eq!(parse_checksum("crc32:CBF43926"), Some(0xcbf4_3926));
        for bad in [
            "crc32:cbf4392",
            "crc32:cbf439261",
            "crc32:xbf43926",
            "md5:cbf43926",
            "",
        ] {
            assert_eq!(parse_checksum(bad), None, "{bad:?}");
        }
    }
}
