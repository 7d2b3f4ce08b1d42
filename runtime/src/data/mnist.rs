//! MNIST (60,000 training and 10,000 test images of 28×28 handwritten
//! digits), read from the four uncompressed IDX files that
//! `scripts/fetch-mnist` puts in `.cache/mnist/`.
//!
//! ```no_run
//! use chainrule::data::mnist;
//! # fn main() -> Result<(), chainrule::data::DataError> {
//! let dir = mnist::default_dir();
//! let train = mnist::train::<f32>(&dir)?; // Dataset<f32, 784, 10>, pixels in [0, 1]
//! let test = mnist::test::<f32>(&dir)?;
//! assert_eq!((train.len(), test.len()), (60_000, 10_000));
//! # Ok(())
//! # }
//! ```

use std::path::{Path, PathBuf};

use super::{DataError, Dataset};
use crate::Scalar;

/// Pixels per image (28×28).
pub const PIXELS: usize = 784;
/// Classes (the digits 0 to 9).
pub const CLASSES: usize = 10;
/// The file names of the training images and labels.
pub const TRAIN_FILES: [&str; 2] = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"];
/// The file names of the test images and labels.
pub const TEST_FILES: [&str; 2] = ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];
/// What the errors tell the user to run when a file is missing or corrupt.
pub const FETCH_HINT: &str = "run scripts/fetch-mnist to fetch the MNIST files";
/// The environment variable that overrides [`default_dir`].
pub const DIR_VARIABLE: &str = "CHAINRULE_MNIST_DIR";

/// MNIST as a dataset type.
pub type Mnist<T> = Dataset<T, PIXELS, CLASSES>;

/// Where `scripts/fetch-mnist` puts the files: `$CHAINRULE_MNIST_DIR` if set,
/// else `.cache/mnist` (relative to the current directory: run from the
/// repository root, as `cargo run --example` does).
#[must_use]
pub fn default_dir() -> PathBuf {
    std::env::var_os(DIR_VARIABLE)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".cache/mnist"))
}

/// The 60,000 training images of `dir`, pixels scaled to `[0, 1]`.
pub fn train<T: Scalar>(dir: impl AsRef<Path>) -> Result<Mnist<T>, DataError> {
    load(dir.as_ref(), TRAIN_FILES)
}

/// The 10,000 test images of `dir`, pixels scaled to `[0, 1]`.
pub fn test<T: Scalar>(dir: impl AsRef<Path>) -> Result<Mnist<T>, DataError> {
    load(dir.as_ref(), TEST_FILES)
}

fn load<T: Scalar>(dir: &Path, files: [&str; 2]) -> Result<Mnist<T>, DataError> {
    Dataset::from_idx(dir.join(files[0]), dir.join(files[1]), Some(FETCH_HINT))
}
