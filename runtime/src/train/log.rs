//! The per-epoch metrics log: CSV or JSON lines, one row per epoch, for any
//! plotting tool.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{EpochRecord, TrainError};

/// The columns of the metrics log, in order.
pub const LOG_COLUMNS: [&str; 8] = [
    "epoch",
    "train_loss",
    "train_accuracy",
    "validation_loss",
    "validation_accuracy",
    "learning_rate",
    "seconds",
    "samples_per_second",
];

/// The format of the metrics log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Comma-separated values with a header line; a figure not measured is
    /// an empty field.
    Csv,
    /// One JSON object a line (JSON lines), keys as [`LOG_COLUMNS`]; a
    /// figure not measured is `null`.
    JsonLines,
}

impl LogFormat {
    /// JSON lines for a path ending in `.jsonl`, `.ndjson` or `.json`, CSV
    /// otherwise.
    #[must_use]
    pub fn from_path(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl" | "ndjson" | "json") => LogFormat::JsonLines,
            _ => LogFormat::Csv,
        }
    }
}

/// An open metrics log.
pub(super) struct MetricsLog {
    out: BufWriter<File>,
    format: LogFormat,
    path: PathBuf,
}

impl MetricsLog {
    /// Creates (or truncates) the log and writes the header (CSV) and the
    /// rows of the epochs already done (a resumed run).
    pub(super) fn create(path: &Path, done: &[EpochRecord]) -> Result<Self, TrainError> {
        let error = |source| TrainError::Log {
            path: path.to_path_buf(),
            source,
        };
        let file = File::create(path).map_err(error)?;
        let mut log = Self {
            out: BufWriter::new(file),
            format: LogFormat::from_path(path),
            path: path.to_path_buf(),
        };
        if log.format == LogFormat::Csv {
            writeln!(log.out, "{}", LOG_COLUMNS.join(",")).map_err(error)?;
        }
        for record in done {
            log.write_row(record).map_err(error)?;
        }
        log.out.flush().map_err(error)?;
        Ok(log)
    }

    /// Appends one epoch's row and flushes it, so the file is current
    /// while training runs.
    pub(super) fn append(&mut self, record: &EpochRecord) -> Result<(), TrainError> {
        self.write_row(record)
            .and_then(|()| self.out.flush())
            .map_err(|source| TrainError::Log {
                path: self.path.clone(),
                source,
            })
    }

    fn write_row(&mut self, record: &EpochRecord) -> std::io::Result<()> {
        let line = row(record, self.format);
        writeln!(self.out, "{line}")
    }
}

/// One epoch as a CSV or JSON-lines row (no newline).
pub(super) fn row(record: &EpochRecord, format: LogFormat) -> String {
    let values = [
        Some(record.epoch as f64),
        Some(record.train_loss),
        record.train_accuracy,
        record.validation_loss,
        record.validation_accuracy,
        Some(record.learning_rate),
        Some(record.seconds),
        Some(record.samples_per_second),
    ];
    // `{:?}` is the shortest text that parses back to the same f64 (and is
    // valid JSON for every finite value); the epoch is an integer.
    let text = |i: usize, v: Option<f64>| match v {
        Some(v) if i == 0 => format!("{}", v as u64),
        Some(v) if v.is_finite() => format!("{v:?}"),
        _ => String::new(),
    };
    match format {
        LogFormat::Csv => values
            .iter()
            .enumerate()
            .map(|(i, &v)| text(i, v))
            .collect::<Vec<_>>()
            .join(","),
        LogFormat::JsonLines => {
            let fields: Vec<String> = values
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let value = text(i, v);
                    let value = if value.is_empty() {
                        "null".to_owned()
                    } else {
                        value
                    };
                    format!("\"{}\":{value}", LOG_COLUMNS[i])
                })
                .collect();
            format!("{{{}}}", fields.join(","))
        }
    }
}
