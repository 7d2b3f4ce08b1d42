//! The IDX format of the MNIST files: a big-endian header, then unsigned bytes.
//!
//! Images (`idx3-ubyte`): magic `0x00000803`, item count, rows, columns, then
//! `count · rows · cols` pixels. Labels (`idx1-ubyte`): magic `0x00000801`,
//! item count, then one byte per item.

use std::path::{Path, PathBuf};

use super::{DataError, Dataset, IdxProblem};
use crate::Scalar;

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// The images of an IDX `idx3-ubyte` file, pixels as stored (`0..=255`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    /// The number of images.
    pub count: usize,
    /// Rows of an image.
    pub rows: usize,
    /// Columns of an image.
    pub cols: usize,
    /// `count · rows · cols` pixels, image after image, each row-major.
    pub pixels: Vec<u8>,
}

/// Reads an IDX image file (`idx3-ubyte`, uncompressed). `hint` is what the
/// errors tell the user to run to get the file (e.g. `run scripts/fetch-mnist`).
///
/// Errors: the file is missing or unreadable, shorter than its header, has
/// another magic number, or is not exactly as long as its header says.
pub fn read_idx_images(path: &Path, hint: Option<&'static str>) -> Result<IdxImages, DataError> {
    let bytes = read_file(path, hint)?;
    let header = parse_header(
        &bytes,
        IMAGES_MAGIC,
        "unsigned-byte images, 3 dimensions",
        4,
        path,
        hint,
    )?;
    let (count, rows, cols) = (header[0], header[1], header[2]);
    // In u128: a product of three u32 sizes cannot overflow it.
    let expected = count as u128 * rows as u128 * cols as u128;
    let pixels = check_length(bytes, 16, expected, path, hint)?;
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels,
    })
}

/// Reads an IDX label file (`idx1-ubyte`, uncompressed): one byte per item.
/// Errors as [`read_idx_images`].
pub fn read_idx_labels(path: &Path, hint: Option<&'static str>) -> Result<Vec<u8>, DataError> {
    let bytes = read_file(path, hint)?;
    let header = parse_header(
        &bytes,
        LABELS_MAGIC,
        "unsigned-byte labels, 1 dimension",
        2,
        path,
        hint,
    )?;
    check_length(bytes, 8, header[0] as u128, path, hint)
}

impl<T: Scalar, const IN: usize, const OUT: usize> Dataset<T, IN, OUT> {
    /// Loads an IDX pair: images of `IN` pixels each, scaled from `0..=255`
    /// to `[0, 1]`, and labels below `OUT`. `hint` is what the errors tell the
    /// user to run to get the files.
    ///
    /// Errors: either file missing or malformed (see [`read_idx_images`]),
    /// images of other than `IN` pixels, no images, different item counts,
    /// a label not below `OUT`.
    pub fn from_idx(
        images_path: impl AsRef<Path>,
        labels_path: impl AsRef<Path>,
        hint: Option<&'static str>,
    ) -> Result<Self, DataError> {
        let (images_path, labels_path) = (images_path.as_ref(), labels_path.as_ref());
        let images = read_idx_images(images_path, hint)?;
        if images.rows * images.cols != IN {
            return Err(DataError::Idx {
                path: images_path.to_path_buf(),
                problem: IdxProblem::ImageSize {
                    rows: images.rows,
                    cols: images.cols,
                    features: IN,
                },
                hint: None,
            });
        }
        if images.count == 0 {
            return Err(DataError::Empty {
                path: images_path.to_path_buf(),
                hint,
            });
        }
        let labels = read_idx_labels(labels_path, hint)?;
        if labels.len() != images.count {
            return Err(DataError::ItemCountMismatch {
                images_path: images_path.to_path_buf(),
                images: images.count,
                labels_path: labels_path.to_path_buf(),
                labels: labels.len(),
            });
        }
        if let Some((item, &label)) = labels.iter().enumerate().find(|(_, &l)| l as usize >= OUT) {
            return Err(DataError::IdxLabel {
                path: labels_path.to_path_buf(),
                item,
                label,
                classes: OUT,
            });
        }
        let scale = T::ONE / T::from_f64(255.0);
        let features = images
            .pixels
            .chunks_exact(IN.max(1))
            .take(images.count)
            .map(|image| {
                let mut row = [T::ZERO; IN];
                for (dst, &pixel) in row.iter_mut().zip(image) {
                    *dst = T::from_usize(pixel as usize) * scale;
                }
                row
            })
            .collect::<Vec<_>>();
        let labels = labels.into_iter().map(usize::from).collect();
        Self::new(features, labels)
    }
}

fn read_file(path: &Path, hint: Option<&'static str>) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            DataError::MissingFile {
                path: path.to_path_buf(),
                hint,
            }
        } else {
            DataError::Io {
                path: path.to_path_buf(),
                source,
                hint,
            }
        }
    })
}

/// The `dims` header words after the magic number, as sizes.
fn parse_header(
    bytes: &[u8],
    magic: u32,
    what: &'static str,
    words: usize,
    path: &Path,
    hint: Option<&'static str>,
) -> Result<Vec<usize>, DataError> {
    let error = |problem| DataError::Idx {
        path: PathBuf::from(path),
        problem,
        hint,
    };
    let word = |i: usize| {
        let b = &bytes[4 * i..4 * i + 4];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    };
    // The magic number first: a file of the wrong kind says so even when short.
    if bytes.len() >= 4 && word(0) != magic {
        return Err(error(IdxProblem::BadMagic {
            found: word(0),
            expected: magic,
            what,
        }));
    }
    let header_len = 4 * words;
    if bytes.len() < header_len {
        return Err(error(IdxProblem::TruncatedHeader {
            expected: header_len,
            found: bytes.len(),
        }));
    }
    Ok((1..words).map(|i| word(i) as usize).collect())
}

/// The data after a `header_len`-byte header, when it is `expected` bytes long.
fn check_length(
    mut bytes: Vec<u8>,
    header_len: usize,
    expected: u128,
    path: &Path,
    hint: Option<&'static str>,
) -> Result<Vec<u8>, DataError> {
    let found = (bytes.len() - header_len) as u128;
    if found != expected {
        return Err(DataError::Idx {
            path: path.to_path_buf(),
            problem: IdxProblem::LengthMismatch { expected, found },
            hint,
        });
    }
    bytes.drain(..header_len);
    Ok(bytes)
}
