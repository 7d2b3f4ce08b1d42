//! Checkpoints: everything a training run needs to continue bit for bit, in
//! one safetensors file written atomically after every epoch.
//!
//! Tensors (names say what they are):
//! - `model.<name>`: the network after the epoch (`model.hidden.weight`, ...);
//! - `optimizer.<buffer>.<name>`: the optimizer's per-tensor buffers
//!   (`optimizer.first_moment.hidden.weight`, see
//!   [`StateBuffer`](crate::optim::StateBuffer)), absent before its first
//!   step;
//! - `best.<name>`: the weights of the best epoch so far, with early
//!   stopping;
//! - `history`: `F64 [epochs, 8]`, one row per epoch: epoch, training loss,
//!   training accuracy, validation loss, validation accuracy, learning
//!   rate, seconds, samples per second (NaN where not measured).
//!
//! Metadata: `architecture`, and under `chainrule.`: `checkpoint` (the
//! format version, 1), `epoch` (epochs done), `seed`, `batch`, `rows` (of
//! the training set), `optimizer` (its kind), `optimizer.steps`,
//! `optimizer.learning_rate`, `best_epoch` and `best_value` (early
//! stopping), `stop` (`early` or `hook` when the run had stopped), and the
//! checksum.

use std::path::Path;

use safetensors::tensor::Dtype;

use super::{EpochRecord, History, Stop, TrainError};
use crate::optim::{Optimizer, OptimizerState, StateBuffer};
use crate::weights::{self, ContentError, TensorFile, TensorWriter, WeightsError};
use crate::{Network, Scalar};

/// The format version written under `chainrule.checkpoint`.
const VERSION: &str = "1";

/// The columns of the `history` tensor.
const HISTORY_COLUMNS: usize = 8;

/// What identifies a run: a checkpoint is resumed only by the same one.
pub(super) struct RunKey {
    pub seed: u64,
    pub batch: usize,
    pub rows: usize,
}

/// Where a run stands after some epochs (besides the network and the
/// optimizer).
pub(super) struct RunProgress<T> {
    /// Epochs done.
    pub epoch: usize,
    pub history: History,
    /// The best epoch so far, its monitored value and its weights (flat,
    /// in `visit` order), with early stopping.
    pub best: Option<(usize, f64, Vec<T>)>,
    /// Epochs since the best one.
    pub wait: usize,
}

fn key(name: &str) -> String {
    format!("{}{name}", weights::RESERVED_PREFIX)
}

/// Writes the checkpoint of `net`, `optimizer` and `progress` to `path`,
/// atomically.
pub(super) fn save<N, O, const IN: usize, const OUT: usize>(
    path: &Path,
    net: &N,
    optimizer: &O,
    progress: &RunProgress<N::Scalar>,
    run: &RunKey,
) -> Result<(), TrainError>
where
    N: Network<IN, OUT>,
    O: Optimizer<N::Scalar>,
{
    let content = |error| {
        TrainError::Checkpoint(WeightsError::Content {
            path: path.to_path_buf(),
            error,
        })
    };
    let mut writer = TensorWriter::new();
    writer.metadata(weights::ARCHITECTURE_KEY, N::ARCHITECTURE);
    writer.metadata(&key("checkpoint"), VERSION);
    writer.metadata(&key("epoch"), &progress.epoch.to_string());
    writer.metadata(&key("seed"), &run.seed.to_string());
    writer.metadata(&key("batch"), &run.batch.to_string());
    writer.metadata(&key("rows"), &run.rows.to_string());
    let state = optimizer.state();
    writer.metadata(&key("optimizer"), optimizer.name());
    writer.metadata(&key("optimizer.steps"), &state.steps.to_string());
    // `{:?}` prints the shortest text that parses back to the same f64.
    writer.metadata(
        &key("optimizer.learning_rate"),
        &format!("{:?}", state.learning_rate),
    );
    writer.parameters("model.", net).map_err(content)?;
    for buffer in state.buffers.iter().filter(|b| !b.tensors.is_empty()) {
        let mut result = Ok(());
        net.visit(&mut |info, _| {
            match buffer.tensors.get(info.index) {
                Some(values) if result.is_ok() => writer.values(
                    &format!("optimizer.{}.{}", buffer.name, info.name),
                    info.shape,
                    values,
                ),
                Some(_) => {}
                None => {
                    result = Err(ContentError::MissingTensor {
                        name: format!("optimizer.{}.{}", buffer.name, info.name),
                    })
                }
            };
        });
        result.map_err(content)?;
    }
    if let Some((epoch, value, values)) = &progress.best {
        writer.metadata(&key("best_epoch"), &epoch.to_string());
        writer.metadata(&key("best_value"), &format!("{value:?}"));
        writer.metadata(&key("wait"), &progress.wait.to_string());
        let mut offset = 0;
        net.visit(&mut |info, entries| {
            let best = &values[offset..offset + entries.len()];
            offset += entries.len();
            writer.values(&format!("best.{}", info.name), info.shape, best);
        });
    }
    match progress.history.stop {
        Stop::Completed => {}
        Stop::EarlyStopping { .. } => writer.metadata(&key("stop"), "early"),
        Stop::Hook { .. } => writer.metadata(&key("stop"), "hook"),
    }
    let rows: Vec<f64> = progress
        .history
        .epochs
        .iter()
        .flat_map(history_row)
        .collect();
    writer.values(
        "history",
        &[progress.history.epochs.len(), HISTORY_COLUMNS],
        &rows,
    );
    let bytes = writer.finish().map_err(content)?;
    weights::write_atomically(path, &bytes).map_err(TrainError::Checkpoint)
}

fn history_row(record: &EpochRecord) -> [f64; HISTORY_COLUMNS] {
    let or_nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
    [
        record.epoch as f64,
        record.train_loss,
        or_nan(record.train_accuracy),
        or_nan(record.validation_loss),
        or_nan(record.validation_accuracy),
        record.learning_rate,
        record.seconds,
        record.samples_per_second,
    ]
}

fn history_record(row: &[f64]) -> EpochRecord {
    let some = |v: f64| (!v.is_nan()).then_some(v);
    EpochRecord {
        epoch: row[0] as usize,
        train_loss: row[1],
        train_accuracy: some(row[2]),
        validation_loss: some(row[3]),
        validation_accuracy: some(row[4]),
        learning_rate: row[5],
        seconds: row[6],
        samples_per_second: row[7],
    }
}

/// Loads the checkpoint at `path` into `net` and `optimizer` and returns
/// the run's progress; checks first that it was made by this network, this
/// optimizer and this run (seed, batch size, training rows). On error
/// `net` and `optimizer` are unchanged.
pub(super) fn load<N, O, const IN: usize, const OUT: usize>(
    path: &Path,
    net: &mut N,
    optimizer: &mut O,
    run: &RunKey,
    epochs: usize,
) -> Result<RunProgress<N::Scalar>, TrainError>
where
    N: Network<IN, OUT>,
    O: Optimizer<N::Scalar>,
{
    let content = |error| {
        TrainError::Checkpoint(WeightsError::Content {
            path: path.to_path_buf(),
            error,
        })
    };
    let mismatch =
        |what: &'static str, checkpoint: String, this_run: String| TrainError::CheckpointMismatch {
            path: path.to_path_buf(),
            what,
            checkpoint,
            this_run,
        };
    let buffers: Vec<String> = optimizer
        .state()
        .buffers
        .into_iter()
        .map(|b| b.name)
        .collect();
    // Model, best weights and every optimizer buffer: the tensor entries of
    // the network a few times over, and the history.
    let copies = 2 + buffers.len() as u64;
    let header_limit = copies * weights::header_limit(&*net, N::ARCHITECTURE.len()) + 4096;
    let history_bytes = 8 * HISTORY_COLUMNS as u64 * (epochs as u64 + 1);
    let file_limit = 8 + header_limit + copies * 8 * N::SCALARS as u64 + history_bytes + 4096;
    let bytes = weights::read_bounded(path, file_limit).map_err(TrainError::Checkpoint)?;
    let file = TensorFile::parse(&bytes, header_limit).map_err(content)?;

    let found = file.metadata(weights::ARCHITECTURE_KEY);
    if found != Some(N::ARCHITECTURE) {
        return Err(content(ContentError::WrongArchitecture {
            expected: N::ARCHITECTURE.to_owned(),
            found: found.map(str::to_owned),
        }));
    }
    let text = |name: &str| file.metadata(&key(name)).unwrap_or("(none)").to_owned();
    if text("checkpoint") != VERSION {
        return Err(mismatch(
            "format version",
            text("checkpoint"),
            VERSION.to_owned(),
        ));
    }
    for (what, name, expected) in [
        ("seed", "seed", run.seed.to_string()),
        ("batch size", "batch", run.batch.to_string()),
        ("training rows", "rows", run.rows.to_string()),
        ("optimizer", "optimizer", optimizer.name().to_owned()),
    ] {
        if text(name) != expected {
            return Err(mismatch(what, text(name), expected));
        }
    }
    let number = |name: &str| -> Result<u64, TrainError> {
        text(name).parse::<u64>().map_err(|_| {
            content(ContentError::Corrupt {
                message: format!(
                    "metadata {}{name} is not a number",
                    weights::RESERVED_PREFIX
                ),
            })
        })
    };
    let float = |name: &str| -> Result<f64, TrainError> {
        text(name).parse::<f64>().map_err(|_| {
            content(ContentError::Corrupt {
                message: format!(
                    "metadata {}{name} is not a number",
                    weights::RESERVED_PREFIX
                ),
            })
        })
    };
    let epoch = number("epoch")? as usize;
    let steps = number("optimizer.steps")?;
    let learning_rate = float("optimizer.learning_rate")?;

    // Every tensor, checked before anything is written.
    let dtype = if <N::Scalar as Scalar>::DTYPE == "F32" {
        Dtype::F32
    } else {
        Dtype::F64
    };
    file.check_parameters("model.", &*net).map_err(content)?;
    let mut expected = TensorFile::names_of("model.", &*net);
    let mut state = OptimizerState {
        learning_rate,
        steps,
        buffers: Vec::new(),
    };
    for buffer in buffers {
        let prefix = format!("optimizer.{buffer}.");
        let names = TensorFile::names_of(&prefix, &*net);
        let mut tensors = Vec::new();
        if names.iter().any(|n| file.tensor(n).is_some()) {
            let mut error = None;
            net.visit(&mut |info, _| {
                if error.is_some() {
                    return;
                }
                match file.values(&format!("{prefix}{}", info.name), info.shape, dtype) {
                    Ok(values) => tensors.push(
                        values
                            .into_iter()
                            .map(<N::Scalar as Scalar>::from_f64)
                            .collect(),
                    ),
                    Err(e) => error = Some(e),
                }
            });
            if let Some(e) = error {
                return Err(content(e));
            }
            expected.extend(names);
        }
        state.buffers.push(StateBuffer {
            name: buffer,
            tensors,
        });
    }
    let best = match file.metadata(&key("best_epoch")) {
        Some(_) => {
            let best_epoch = number("best_epoch")? as usize;
            let value = float("best_value")?;
            let mut values = Vec::with_capacity(N::SCALARS);
            let mut error = None;
            net.visit(&mut |info, _| {
                if error.is_none() {
                    match file.values(&format!("best.{}", info.name), info.shape, dtype) {
                        Ok(v) => values.extend(v.into_iter().map(<N::Scalar as Scalar>::from_f64)),
                        Err(e) => error = Some(e),
                    }
                }
            });
            if let Some(e) = error {
                return Err(content(e));
            }
            expected.extend(TensorFile::names_of("best.", &*net));
            Some((best_epoch, value, values))
        }
        None => None,
    };
    let rows = file
        .values("history", &[epoch, HISTORY_COLUMNS], Dtype::F64)
        .map_err(content)?;
    expected.push("history".to_owned());
    file.check_no_other(&expected).map_err(content)?;

    let stop = match file.metadata(&key("stop")) {
        None => Stop::Completed,
        Some("early") => Stop::EarlyStopping { epoch },
        Some("hook") => Stop::Hook { epoch },
        Some(other) => {
            return Err(content(ContentError::Corrupt {
                message: format!("unknown stop reason {other:?}"),
            }))
        }
    };
    let wait = match &best {
        Some(_) => number("wait")? as usize,
        None => 0,
    };

    // All checked: write.
    optimizer.set_state(state).map_err(|e| {
        mismatch(
            "optimizer state",
            format!("{:?}", e.found),
            format!("{:?}", e.expected),
        )
    })?;
    file.read_parameters("model.", net);
    let history = History {
        epochs: rows
            .chunks_exact(HISTORY_COLUMNS)
            .map(history_record)
            .collect(),
        stop,
        best_epoch: best.as_ref().map(|(e, _, _)| *e),
    };
    Ok(RunProgress {
        epoch,
        history,
        best,
        wait,
    })
}
