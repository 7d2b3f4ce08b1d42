//! Loading a [`Dataset`] from CSV: `IN` feature columns and one label column.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{DataError, Dataset};
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
    /// feature, in file order.
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
        let file = std::fs::File::open(path).map_err(|source| {
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
        })?;
        Self::from_csv_reader(std::io::BufReader::new(file), path, options)
    }

    /// Like [`from_csv`](Self::from_csv), reading from `reader`; `name` is
    /// the file name the errors report.
    pub fn from_csv_reader(
        reader: impl Read,
        name: impl AsRef<Path>,
        options: &CsvOptions,
    ) -> Result<Self, DataError> {
        let path: PathBuf = name.as_ref().to_path_buf();
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(options.has_header)
            .delimiter(options.delimiter)
            .flexible(true)
            .trim(::csv::Trim::All)
            .from_reader(reader);
        let columns = IN + 1;
        let csv_error = |e: ::csv::Error, path: &PathBuf| DataError::Csv {
            path: path.clone(),
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        };
        let label_index = match &options.label_column {
            LabelColumn::Last => IN,
            LabelColumn::First => 0,
            LabelColumn::Index(i) if *i < columns => *i,
            LabelColumn::Index(i) => {
                return Err(DataError::NoLabelColumn {
                    path,
                    column: format!("at index {i} (the records have {columns} columns)"),
                })
            }
            LabelColumn::Named(name) => {
                let headers = if options.has_header {
                    Some(reader.headers().map_err(|e| csv_error(e, &path))?)
                } else {
                    None
                };
                match headers.and_then(|h| h.iter().position(|c| c == name)) {
                    Some(i) => i,
                    None => {
                        return Err(DataError::NoLabelColumn {
                            path,
                            column: format!("named {name:?}"),
                        })
                    }
                }
            }
        };

        let mut features = Vec::new();
        let mut labels = Vec::new();
        let mut record = ::csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(csv_error(e, &path)),
            }
            let line = record.position().map_or(0, |p| p.line());
            if record.len() == 1 && record.get(0) == Some("") {
                continue;
            }
            if record.len() != columns {
                return Err(DataError::ColumnCount {
                    path,
                    line,
                    expected: columns,
                    features: IN,
                    found: record.len(),
                });
            }
            let mut row = [T::ZERO; IN];
            let mut slots = row.iter_mut();
            for (column, text) in record.iter().enumerate() {
                if column == label_index {
                    labels.push(parse_label(text, OUT).ok_or_else(|| DataError::BadLabel {
                        path: path.clone(),
                        line,
                        text: text.to_owned(),
                        classes: OUT,
                    })?);
                } else {
                    // Checked after the conversion: 1e300 is finite in f64, not in f32.
                    let value = text
                        .parse::<f64>()
                        .ok()
                        .map(T::from_f64)
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| DataError::BadNumber {
                            path: path.clone(),
                            line,
                            column: column + 1,
                            text: text.to_owned(),
                        })?;
                    if let Some(slot) = slots.next() {
                        *slot = value;
                    }
                }
            }
            features.push(row);
        }
        if labels.is_empty() {
            return Err(DataError::Empty { path, hint: None });
        }
        Self::new(features, labels)
    }
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
