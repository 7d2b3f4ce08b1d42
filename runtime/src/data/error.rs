//! The errors of data loading, splitting and batching.

use std::path::PathBuf;

/// Everything that can go wrong while loading, splitting or batching data.
///
/// Every variant about a file names the file; the ones about its contents name
/// the line (CSV, 1-based, counting the header) or the byte offset (IDX).
/// Where a known script produces the file (MNIST), the message says what to
/// run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file does not exist.
    #[error("{}: file not found{}", path.display(), hint_suffix(*hint))]
    MissingFile {
        /// The file.
        path: PathBuf,
        /// What to run to get it, if a script makes it.
        hint: Option<&'static str>,
    },
    /// The file exists but could not be read.
    #[error("{}: cannot read: {source}{}", path.display(), hint_suffix(*hint))]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
        /// What to run to get the file again, if a script makes it.
        hint: Option<&'static str>,
    },
    /// The CSV reader could not split a record (for example invalid UTF-8).
    #[error("{}: line {line}: malformed CSV: {message}", path.display())]
    Csv {
        /// The file (or the name given to a reader).
        path: PathBuf,
        /// The 1-based line.
        line: u64,
        /// What the CSV reader reported.
        message: String,
    },
    /// A CSV record has the wrong number of columns.
    #[error("{}: line {line}: expected {expected} columns ({features} features and {label_columns} label or target columns), found {found}", path.display())]
    ColumnCount {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: u64,
        /// The number of columns expected: features + 1.
        expected: usize,
        /// The number of features the dataset type has (`IN`).
        features: usize,
        /// The number of label columns (1) or target columns (`OUT`).
        label_columns: usize,
        /// The number of columns found.
        found: usize,
    },
    /// A field is not a finite number.
    #[error("{}: line {line}, column {column}: {text:?} is not a finite number", path.display())]
    BadNumber {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: u64,
        /// The 1-based column.
        column: usize,
        /// The field's text: whole up to 40 bytes, else its first 32 bytes,
        /// `…` and its length.
        text: String,
    },
    /// A CSV line is far longer than a record of the expected columns can
    /// be; reading stopped there, without holding the line in memory.
    #[error("{}: line {line} is longer than {limit} bytes, far more than a record of numbers needs", path.display())]
    LineTooLong {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: u64,
        /// The longest line accepted, in bytes (1 KiB a column + 64 KiB).
        limit: usize,
    },
    /// A label is not a class index `0..classes` (CSV).
    #[error("{}: line {line}: label {text:?} is not a class index: there are {classes} classes (0..{classes})", path.display())]
    BadLabel {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: u64,
        /// The label's text (shortened as [`DataError::BadNumber`]'s).
        text: String,
        /// The number of classes (`OUT`).
        classes: usize,
    },
    /// The label column named in the options does not exist.
    #[error("{}: no label column {column}", path.display())]
    NoLabelColumn {
        /// The file.
        path: PathBuf,
        /// The column asked for (a name or an index).
        column: String,
    },
    /// The file holds no data rows.
    #[error("{}: no data rows{}", path.display(), hint_suffix(*hint))]
    Empty {
        /// The file.
        path: PathBuf,
        /// What to run to get the file again, if a script makes it.
        hint: Option<&'static str>,
    },
    /// An IDX file is malformed: bad magic number, wrong dimensions or a
    /// length that does not match its header.
    #[error("{}: not a valid IDX file: {problem}{}", path.display(), hint_suffix(*hint))]
    Idx {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: IdxProblem,
        /// What to run to get the file again, if a script makes it.
        hint: Option<&'static str>,
    },
    /// A label in an IDX label file is not below the number of classes.
    #[error("{}: label {label} of item {item} is not a class index: there are {classes} classes", path.display())]
    IdxLabel {
        /// The file.
        path: PathBuf,
        /// The 0-based item.
        item: usize,
        /// The label found.
        label: u8,
        /// The number of classes (`OUT`).
        classes: usize,
    },
    /// The images and labels files hold different numbers of items.
    #[error("{} has {images} images but {} has {labels} labels", images_path.display(), labels_path.display())]
    ItemCountMismatch {
        /// The images file.
        images_path: PathBuf,
        /// Its number of images.
        images: usize,
        /// The labels file.
        labels_path: PathBuf,
        /// Its number of labels.
        labels: usize,
    },
    /// Features and labels (or targets) of different lengths.
    #[error("{features} feature rows but {labels} labels or target rows")]
    LengthMismatch {
        /// The number of feature rows.
        features: usize,
        /// The number of labels or target rows.
        labels: usize,
    },
    /// A label given to `Dataset::new` is not below the number of classes.
    #[error("label {label} of row {row} is not a class index: there are {classes} classes")]
    LabelOutOfRange {
        /// The 0-based row.
        row: usize,
        /// The label.
        label: usize,
        /// The number of classes (`OUT`).
        classes: usize,
    },
    /// A target given to `RegressionDataset::new` is NaN or infinite.
    #[error("target {column} of row {row} is not finite")]
    NonFiniteTarget {
        /// The 0-based row.
        row: usize,
        /// The 0-based target.
        column: usize,
    },
    /// A feature is NaN or infinite: given to `Dataset::new`, or made so by
    /// [`Dataset::scale`](super::Dataset::scale) or a
    /// [`Standardizer`](super::Standardizer) (which then change nothing).
    #[error("feature {column} of row {row} is not finite")]
    NonFiniteFeature {
        /// The 0-based row.
        row: usize,
        /// The 0-based feature.
        column: usize,
    },
    /// A dataset must hold at least one row (so that a loss or an accuracy
    /// over it is always defined).
    #[error("a dataset needs at least one row, none was given")]
    NoRows,
    /// [`Dataset::scale`](super::Dataset::scale) was given a NaN or infinite
    /// factor.
    #[error("cannot scale the features by {factor}: the factor must be finite")]
    BadScale {
        /// The factor, as `f64`.
        factor: f64,
    },
    /// A split fraction outside `(0, 1)`, or one that leaves a side empty.
    #[error("cannot split {rows} rows with test fraction {fraction}: both sides must get at least one row")]
    BadSplit {
        /// The fraction asked for.
        fraction: f64,
        /// The number of rows.
        rows: usize,
    },
    /// A batch was asked for with the wrong number of row indices.
    #[error("a batch of {expected} rows was given {found} row indices")]
    BatchSize {
        /// The batch size `B`.
        expected: usize,
        /// The number of indices given.
        found: usize,
    },
    /// A row index past the end of the dataset.
    #[error("row {row} is out of range: the dataset has {rows} rows")]
    RowOutOfRange {
        /// The index.
        row: usize,
        /// The number of rows.
        rows: usize,
    },
}

/// What is wrong with an IDX file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdxProblem {
    /// The file is shorter than its header.
    #[error("the file has {found} bytes, shorter than its {expected}-byte header")]
    TruncatedHeader {
        /// The header's length.
        expected: usize,
        /// The file's length.
        found: usize,
    },
    /// The magic number is not that of the expected kind of file.
    #[error("magic number {found:#010x}, expected {expected:#010x} ({what})")]
    BadMagic {
        /// The magic number read.
        found: u32,
        /// The magic number of the expected kind of file.
        expected: u32,
        /// What that kind of file is.
        what: &'static str,
    },
    /// The data after the header is not as long as the header says.
    #[error("the header promises {expected} bytes of data, the file holds {found}")]
    LengthMismatch {
        /// The length the header implies.
        expected: u128,
        /// The length found.
        found: u128,
    },
    /// The images are not of the size the dataset type needs.
    #[error("images are {rows}×{cols} = {} pixels, the dataset has {features} features", rows * cols)]
    ImageSize {
        /// Rows of an image.
        rows: usize,
        /// Columns of an image.
        cols: usize,
        /// The number of features (`IN`).
        features: usize,
    },
}

fn hint_suffix(hint: Option<&'static str>) -> String {
    match hint {
        Some(hint) => format!(" ({hint})"),
        None => String::new(),
    }
}
