//! Loading a [`Dataset`] (`IN` feature columns and one label column) or a
//! [`RegressionDataset`] (`IN` feature columns and `OUT` target columns) from CSV.

use std::io::Read;
use std::path::Path;

use super::{DataError, Dataset, RegressionDataset};
use crate::Scalar;

/// Which column holds the class index.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LabelColumn {
    /// The last column (the default).
    #[default]
    Last,
    /// The first column.
    First,
    /// The column at this 0-based index.
    Index(usize),
    /// The column with this header name (needs a header row).
    Named(String),
}

/// How to read a CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// The first line is a header of column names (default `true`).
    pub has_header: bool,
    /// The column of the labels (default: the last). Every other column is a
    /// feature, in file order. For a [`RegressionDataset`] the first of the
    /// `OUT` consecutive target columns (default: the last `OUT` columns).
    pub label_column: LabelColumn,
    /// The field separator (default `b','`).
    pub delimiter: u8,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            has_header: true,
            label_column: LabelColumn::Last,
            delimiter: b',',
        }
    }
}

impl<T: Scalar, const IN: usize, const OUT: usize> Dataset<T, IN, OUT> {
    /// Loads a CSV file: each record holds `IN` features and a class index
    /// below `OUT` (an integer, `2` or `2.0`). Blank lines are skipped.
    ///
    /// Errors name the file and, for bad contents, the line: a missing file,
    /// a record with other than `IN + 1` columns, a field that is not a finite
    /// number, a label that is not a class index, or no rows at all.
    pub fn from_csv(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Self, DataError> {
        let path = path.as_ref();
        Self::from_csv_reader(std::io::BufReader::new(open(path)?), path, options)
    }

    /// Like [`from_csv`](Self::from_csv), reading from `reader`; `name` is
    /// the file name the errors report.
    pub fn from_csv_reader(
        reader: impl Read,
        name: impl AsRef<Path>,
        options: &CsvOptions,
    ) -> Result<Self, DataError> {
        let path = name.as_ref();
        let mut labels = Vec::new();
        let features = read_records::<T, IN>(reader, path, options, 1, |line, fields| {
            let text = fields[0].1;
            let label = parse_label(text, OUT).ok_or_else(|| DataError::BadLabel {
                path: path.to_path_buf(),
                line,
                text: excerpt(text),
                classes: OUT,
            })?;
            labels.push(label);
            Ok(())
        })?;
        Self::new(features, labels)
    }
}

impl<T: Scalar, const IN: usize, const OUT: usize> RegressionDataset<T, IN, OUT> {
    /// Loads a CSV file: each record holds `IN` features and `OUT` target
    /// values in consecutive columns: the last `OUT` columns by default, or
    /// starting at the column [`CsvOptions::label_column`] names. Blank lines
    /// are skipped. Errors as [`Dataset::from_csv`].
    pub fn from_csv(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Self, DataError> {
        let path = path.as_ref();
        Self::from_csv_reader(std::io::BufReader::new(open(path)?), path, options)
    }

    /// Like [`from_csv`](Self::from_csv), reading from `reader`; `name` is
    /// the file name the errors report.
    pub fn from_csv_reader(
        reader: impl Read,
        name: impl AsRef<Path>,
        options: &CsvOptions,
    ) -> Result<Self, DataError> {
        let path = name.as_ref();
        let mut targets = Vec::new();
        let features = read_records::<T, IN>(reader, path, options, OUT, |line, fields| {
            let mut row = [T::ZERO; OUT];
            for (slot, &(column, text)) in row.iter_mut().zip(fields) {
                *slot = parse_number(text, path, line, column)?;
            }
            targets.push(row);
            Ok(())
        })?;
        Self::new(features, targets)
    }
}

fn open(path: &Path) -> Result<std::fs::File, DataError> {
    std::fs::File::open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            DataError::MissingFile {
                path: path.to_path_buf(),
                hint: None,
            }
        } else {
            DataError::Io {
                path: path.to_path_buf(),
                source,
                hint: None,
            }
        }
    })
}

/// A finite number, or an error naming the line and the 0-based `column`
/// (reported 1-based).
fn parse_number<T: Scalar>(
    text: &str,
    path: &Path,
    line: u64,
    column: usize,
) -> Result<T, DataError> {
    // Checked after the conversion: 1e300 is finite in f64, not in f32.
    text.parse::<f64>()
        .ok()
        .map(T::from_f64)
        .filter(|v| v.is_finite())
        .ok_or_else(|| DataError::BadNumber {
            path: path.to_path_buf(),
            line,
            column: column + 1,
            text: excerpt(text),
        })
}

/// Reads every record of `IN + label_columns` fields: the features are
/// returned, the `label_columns` consecutive label fields (with their 0-based
/// column) go to `on_labels` with the record's line.
fn read_records<T: Scalar, const IN: usize>(
    reader: impl Read,
    path: &Path,
    options: &CsvOptions,
    label_columns: usize,
    mut on_labels: impl FnMut(u64, &[(usize, &str)]) -> Result<(), DataError>,
) -> Result<Vec<[T; IN]>, DataError> {
    let columns = IN + label_columns;
    let limit = max_line_bytes(columns);
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(options.has_header)
        .delimiter(options.delimiter)
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(LineLimit::new(reader, limit));
    // A line over the limit surfaces as an I/O error of the CSV reader.
    let csv_error = |e: ::csv::Error, source: &LineLimit<_>| match source.too_long_at {
        Some(line) => DataError::LineTooLong {
            path: path.to_path_buf(),
            line,
            limit,
        },
        None => DataError::Csv {
            path: path.to_path_buf(),
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        },
    };
    let no_column = |column: String| DataError::NoLabelColumn {
        path: path.to_path_buf(),
        column,
    };
    // `label_columns` consecutive columns from `first` lie within the record
    // (checked: `first` may be any usize).
    let fits = |first: usize| {
        first
            .checked_add(label_columns)
            .is_some_and(|end| end <= columns)
    };
    let first_label = match &options.label_column {
        LabelColumn::Last => IN,
        LabelColumn::First => 0,
        LabelColumn::Index(i) if fits(*i) => *i,
        LabelColumn::Index(i) => {
            return Err(no_column(format!(
                "at index {i} (the records have {columns} columns)"
            )))
        }
        LabelColumn::Named(name) => {
            let headers = if options.has_header {
                match reader.headers() {
                    Ok(headers) => Some(headers.clone()),
                    Err(e) => return Err(csv_error(e, reader.get_ref())),
                }
            } else {
                None
            };
            match headers.and_then(|h| h.iter().position(|c| c == name)) {
                Some(i) if fits(i) => i,
                _ => return Err(no_column(format!("named {name:?}"))),
            }
        }
    };
    let label_range = first_label..first_label + label_columns;

    let mut features = Vec::new();
    let mut record = ::csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(e, reader.get_ref())),
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.len() == 1 && record.get(0) == Some("") {
            continue;
        }
        if record.len() != columns {
            return Err(DataError::ColumnCount {
                path: path.to_path_buf(),
                line,
                expected: columns,
                features: IN,
                label_columns,
                found: record.len(),
            });
        }
        let mut row = [T::ZERO; IN];
        let mut slots = row.iter_mut();
        let mut label_fields = Vec::with_capacity(label_columns);
        for (column, text) in record.iter().enumerate() {
            if label_range.contains(&column) {
                label_fields.push((column, text));
            } else if let Some(slot) = slots.next() {
                *slot = parse_number(text, path, line, column)?;
            }
        }
        on_labels(line, &label_fields)?;
        features.push(row);
    }
    if features.is_empty() {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
            hint: None,
        });
    }
    Ok(features)
}

/// A class index below `classes`, written as an integer (`2`) or an integral
/// float (`2.0`).
fn parse_label(text: &str, classes: usize) -> Option<usize> {
    let label = match text.parse::<usize>() {
        Ok(label) => label,
        Err(_) => {
            let value = text.parse::<f64>().ok()?;
            if value.fract() != 0.0 || value < 0.0 || value >= classes as f64 {
                return None;
            }
            value as usize
        }
    };
    (label < classes).then_some(label)
}

/// The longest line accepted from a CSV file with `columns` columns: 1 KiB a
/// column (far more than any number or column name takes) plus 64 KiB. A
/// longer line is refused before it is held in memory whole.
fn max_line_bytes(columns: usize) -> usize {
    columns.saturating_mul(1024).saturating_add(64 * 1024)
}

/// A reader that fails once a line exceeds `limit` bytes, remembering the
/// (1-based) line.
struct LineLimit<R> {
    inner: R,
    limit: usize,
    /// Bytes since the last newline.
    current: usize,
    /// The 1-based line being read.
    line: u64,
    /// Set when a line went over the limit.
    too_long_at: Option<u64>,
}

impl<R: Read> LineLimit<R> {
    fn new(inner: R, limit: usize) -> Self {
        Self {
            inner,
            limit,
            current: 0,
            line: 1,
            too_long_at: None,
        }
    }
}

impl<R: Read> Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.too_long_at.is_some() {
            return Err(std::io::Error::other("line too long"));
        }
        let n = self.inner.read(buf)?;
        for &byte in &buf[..n] {
            if byte == b'\n' {
                self.current = 0;
                self.line += 1;
            } else {
                self.current += 1;
                if self.current > self.limit {
                    self.too_long_at = Some(self.line);
                    return Err(std::io::Error::other("line too long"));
                }
            }
        }
        Ok(n)
    }
}

/// A field as an error quotes it: whole when short, else its first 32 bytes
/// (cut at a character boundary), `…` and its length, so that a 50 MB field
/// does not make a 50 MB message.
fn excerpt(text: &str) -> String {
    const WHOLE: usize = 40;
    const PREFIX: usize = 32;
    if text.len() <= WHOLE {
        return text.to_owned();
    }
    let mut end = PREFIX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}
