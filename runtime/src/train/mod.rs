//! The training loop, evaluation (accuracy, confusion matrix) and the
//! per-epoch history, for any network and any [`Optimizer`].
//!
//! ```
//! use chainrule::data::Dataset;
//! use chainrule::optim::Adam;
//! use chainrule::train::{evaluate, train_with_validation, TrainConfig, TrainError};
//! use chainrule::Network;
//!
//! /// Trains any network with 4 inputs and 3 classes (one declared with
//! /// `network!`) and returns its test accuracy.
//! fn fit<N: Network<4, 3, Scalar = f32>>(
//!     net: &mut N,
//!     train_set: &Dataset<f32, 4, 3>,
//!     test_set: &Dataset<f32, 4, 3>,
//! ) -> Result<f64, TrainError> {
//!     let mut optimizer = Adam::new(0.01);
//!     let config = TrainConfig::<16>::new(50).seed(7);
//!     let history = train_with_validation(net, &mut optimizer, train_set, test_set, &config)?;
//!     history.write_svg("curves.svg", "training curves").ok();
//!     let evaluation = evaluate(net, test_set);
//!     println!("{}", evaluation.confusion);
//!     Ok(evaluation.accuracy)
//! }
//! ```

mod checkpoint;
mod confusion;
mod history;
mod log;
mod progress;

use core::fmt;
use std::path::PathBuf;
use std::time::Instant;

pub use confusion::ConfusionMatrix;
pub use history::{EpochRecord, History, Stop};
pub use log::{LogFormat, LOG_COLUMNS};
pub use progress::Progress;

use crate::data::{DataError, Dataset, Shuffler};
use crate::optim::Optimizer;
use crate::weights::{self, WeightsError};
use crate::{ClassLabels, Matrix, Network, Parameters, Scalar, PREDICT_BATCH};
use checkpoint::{RunKey, RunProgress};
use log::MetricsLog;
use progress::Reporter;

/// The settings of a training run; `B` is the batch size, a constant of the
/// type so the workspaces are sized at compile time.
///
/// ```
/// use chainrule::train::{EarlyStopping, Monitor, Progress, TrainConfig};
/// let config = TrainConfig::<32>::new(20).seed(7).progress(Progress::Lines);
/// assert_eq!((config.epochs, config.seed), (20, 7));
/// let same = TrainConfig::<32> { epochs: 20, seed: 7, progress: Progress::Lines, ..Default::default() };
/// assert_eq!(config, same);
///
/// // Early stopping on the validation loss (patience 5), a checkpoint after
/// // every epoch that a rerun resumes from, a metrics log to plot elsewhere.
/// let config = TrainConfig::<32>::new(100)
///     .early_stopping(EarlyStopping::new(Monitor::ValidationLoss, 5))
///     .checkpoint("run.ckpt.safetensors")
///     .resume(true)
///     .metrics_log("metrics.csv");
/// # let _ = config;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig<const B: usize> {
    /// The number of passes over the training set.
    pub epochs: usize,
    /// The seed of the order of the rows (reshuffled every epoch).
    pub seed: u64,
    /// How progress is shown.
    pub progress: Progress,
    /// Whether to measure the accuracy on the whole training set after each
    /// epoch (one more forward pass over it; off by default).
    pub train_accuracy: bool,
    /// Stop when a figure stops improving, and keep the best weights.
    pub early_stopping: Option<EarlyStopping>,
    /// Where to write a checkpoint after every epoch (atomically): the
    /// network, the optimizer's state, the history and the early-stopping
    /// state, everything [`resume`](Self::resume) needs.
    pub checkpoint: Option<PathBuf>,
    /// Continue from the [`checkpoint`](Self::checkpoint) file when it
    /// exists (a fresh run when it does not): the result is bit for bit
    /// that of an uninterrupted run.
    pub resume: bool,
    /// Where to write the metrics of every epoch: JSON lines for a path
    /// ending in `.jsonl`, `.ndjson` or `.json`, CSV otherwise (see
    /// [`LogFormat`]). Rewritten from the start of the run on resume.
    pub metrics_log: Option<PathBuf>,
}

impl<const B: usize> Default for TrainConfig<B> {
    fn default() -> Self {
        Self::new(10)
    }
}

impl<const B: usize> TrainConfig<B> {
    /// `epochs` epochs, seed 0, [`Progress::Auto`], no training accuracy.
    #[must_use]
    pub fn new(epochs: usize) -> Self {
        Self {
            epochs,
            seed: 0,
            progress: Progress::Auto,
            train_accuracy: false,
            early_stopping: None,
            checkpoint: None,
            resume: false,
            metrics_log: None,
        }
    }

    /// Sets the shuffling seed.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets how progress is shown.
    #[must_use]
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// Measures the training-set accuracy after each epoch.
    #[must_use]
    pub fn train_accuracy(mut self, yes: bool) -> Self {
        self.train_accuracy = yes;
        self
    }

    /// Stops early as `early_stopping` says.
    #[must_use]
    pub fn early_stopping(mut self, early_stopping: EarlyStopping) -> Self {
        self.early_stopping = Some(early_stopping);
        self
    }

    /// Writes a checkpoint to `path` after every epoch.
    #[must_use]
    pub fn checkpoint(mut self, path: impl Into<PathBuf>) -> Self {
        self.checkpoint = Some(path.into());
        self
    }

    /// Resumes from the checkpoint file when it exists.
    #[must_use]
    pub fn resume(mut self, yes: bool) -> Self {
        self.resume = yes;
        self
    }

    /// Writes the metrics of every epoch to `path` (CSV or JSON lines).
    #[must_use]
    pub fn metrics_log(mut self, path: impl Into<PathBuf>) -> Self {
        self.metrics_log = Some(path.into());
        self
    }
}

/// The figure early stopping watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Monitor {
    /// The validation loss (lower is better); needs a validation set.
    ValidationLoss,
    /// The validation accuracy (higher is better); needs a validation set.
    ValidationAccuracy,
    /// The training loss (lower is better).
    TrainLoss,
}

impl Monitor {
    /// The figure in an epoch's record.
    #[must_use]
    pub fn value(self, record: &EpochRecord) -> Option<f64> {
        match self {
            Monitor::ValidationLoss => record.validation_loss,
            Monitor::ValidationAccuracy => record.validation_accuracy,
            Monitor::TrainLoss => Some(record.train_loss),
        }
    }

    /// Whether `value` improves on `best` by more than `min_delta`.
    #[must_use]
    pub fn improves(self, value: f64, best: f64, min_delta: f64) -> bool {
        match self {
            Monitor::ValidationAccuracy => value > best + min_delta,
            Monitor::ValidationLoss | Monitor::TrainLoss => value < best - min_delta,
        }
    }

    fn needs_validation(self) -> bool {
        !matches!(self, Monitor::TrainLoss)
    }
}

/// Early stopping (as Keras' `EarlyStopping`): after each epoch, the
/// [`Monitor`]ed figure is compared with the best so far; training stops
/// when it has not improved by more than `min_delta` for `patience`
/// epochs, and the network is given back with the weights of its best
/// epoch (unless `restore_best` is off). `best_weights` also saves them,
/// atomically, each time they improve.
///
/// ```
/// use chainrule::train::{EarlyStopping, Monitor};
/// let stopping = EarlyStopping::new(Monitor::ValidationAccuracy, 8)
///     .min_delta(1e-4)
///     .best_weights("best.safetensors");
/// assert!(stopping.restore_best);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyStopping {
    /// The figure watched.
    pub monitor: Monitor,
    /// Training stops at the `patience`-th epoch in a row without
    /// improvement (0 and 1: at the first).
    pub patience: usize,
    /// The smallest change that counts as an improvement (default 0).
    pub min_delta: f64,
    /// Give the network back with the best epoch's weights (default on).
    pub restore_best: bool,
    /// Where to save the best epoch's weights (a weight file, as
    /// [`weights::save`] writes), each time they improve.
    pub best_weights: Option<PathBuf>,
}

impl EarlyStopping {
    /// Watch `monitor` with this patience; `min_delta` 0, best weights
    /// restored, not saved.
    #[must_use]
    pub fn new(monitor: Monitor, patience: usize) -> Self {
        Self {
            monitor,
            patience,
            min_delta: 0.0,
            restore_best: true,
            best_weights: None,
        }
    }

    /// Sets the smallest change that counts as an improvement.
    #[must_use]
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta;
        self
    }

    /// Whether to give the network back with the best epoch's weights.
    #[must_use]
    pub fn restore_best(mut self, yes: bool) -> Self {
        self.restore_best = yes;
        self
    }

    /// Saves the best epoch's weights to `path` each time they improve.
    #[must_use]
    pub fn best_weights(mut self, path: impl Into<PathBuf>) -> Self {
        self.best_weights = Some(path.into());
        self
    }
}

/// What an epoch hook asks for (see [`train_with_hook`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on training.
    Continue,
    /// Stop after this epoch (the history's [`Stop::Hook`]).
    Stop,
}

/// The parameters a network holds after [`train`] stopped on a NaN or an
/// infinity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkState {
    /// The parameters after the last update, all finite (they gave the
    /// non-finite loss on this batch; no update was made from it).
    LastUpdate,
    /// The last update made some parameter non-finite, so the network was
    /// restored to its parameters at the start of epoch `epoch` (finite).
    RestoredToEpochStart {
        /// The epoch whose starting parameters the network holds, from 1.
        epoch: usize,
    },
    /// Training never started: the network was given with a non-finite
    /// parameter, and is left as it was.
    Unchanged,
}

/// Why training stopped.
#[derive(Debug)]
#[non_exhaustive]
pub enum TrainError {
    /// The training set has fewer rows than one batch.
    TooFewRows {
        /// The rows of the training set.
        rows: usize,
        /// The batch size `B`.
        batch: usize,
    },
    /// The loss of a batch was NaN or infinite. No update was made from it.
    NonFiniteLoss {
        /// The epoch, from 1.
        epoch: usize,
        /// The batch within the epoch, from 1.
        batch: usize,
        /// The loss found.
        loss: f64,
        /// What the network holds now.
        network: NetworkState,
    },
    /// A parameter was NaN or infinite: after the last update of epoch
    /// `epoch`, or before training (epoch 0).
    NonFiniteParameters {
        /// The epoch, from 1 (0: before training).
        epoch: usize,
        /// The tensor holding the first bad value.
        tensor: String,
        /// What the network holds now.
        network: NetworkState,
    },
    /// A batch could not be read from the dataset.
    Data(DataError),
    /// Early stopping watches a validation figure, and no validation set
    /// was given.
    NoValidationSet {
        /// The figure watched.
        monitor: Monitor,
    },
    /// A checkpoint or best-weights file could not be written or read.
    Checkpoint(WeightsError),
    /// The checkpoint to resume from was made by another run.
    CheckpointMismatch {
        /// The checkpoint.
        path: PathBuf,
        /// What differs (`seed`, `batch size`, `training rows`,
        /// `optimizer`, ...).
        what: &'static str,
        /// Its value in the checkpoint.
        checkpoint: String,
        /// Its value in this run.
        this_run: String,
    },
    /// The metrics log could not be written.
    Log {
        /// The log file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl fmt::Display for NetworkState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkState::LastUpdate => write!(
                f,
                "the network keeps its parameters from the last update (all finite)"
            ),
            NetworkState::RestoredToEpochStart { epoch } => write!(
                f,
                "the network was restored to its (finite) parameters from the start of epoch {epoch}"
            ),
            NetworkState::Unchanged => write!(f, "the network was left unchanged"),
        }
    }
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::TooFewRows { rows, batch } => write!(
                f,
                "the training set has {rows} rows, fewer than one batch of {batch}: use a smaller batch size"
            ),
            TrainError::NonFiniteLoss {
                epoch,
                batch,
                loss,
                network,
            } => write!(
                f,
                "the loss became {loss} at epoch {epoch}, batch {batch}; {network}. \
                 Try a smaller learning rate or gradient clipping"
            ),
            TrainError::NonFiniteParameters {
                epoch: 0,
                tensor,
                network,
            } => write!(
                f,
                "the network has a NaN or infinite parameter in `{tensor}` before training; {network}"
            ),
            TrainError::NonFiniteParameters {
                epoch,
                tensor,
                network,
            } => write!(
                f,
                "the last update of epoch {epoch} made a parameter of `{tensor}` NaN or infinite; {network}. \
                 Try a smaller learning rate or gradient clipping"
            ),
            TrainError::Data(e) => write!(f, "reading a batch: {e}"),
            TrainError::NoValidationSet { monitor } => write!(
                f,
                "early stopping watches {monitor:?}, which needs a validation set: use train_with_validation"
            ),
            TrainError::Checkpoint(e) => write!(f, "{e}"),
            TrainError::CheckpointMismatch {
                path,
                what,
                checkpoint,
                this_run,
            } => write!(
                f,
                "{}: the checkpoint is of another run: its {what} is {checkpoint}, this run's is {this_run}",
                path.display()
            ),
            TrainError::Log { path, source } => {
                write!(f, "{}: cannot write the metrics log: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for TrainError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TrainError::Data(e) => Some(e),
            TrainError::Checkpoint(e) => Some(e),
            TrainError::Log { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<DataError> for TrainError {
    fn from(e: DataError) -> Self {
        TrainError::Data(e)
    }
}

/// Trains `net` with `optimizer` on `data` for `config.epochs` epochs of
/// batches of `B` rows, the rows reshuffled every epoch (a last partial batch
/// is left out of that epoch; the order changes, so every row is used).
/// Returns the [`History`]: the training loss per epoch.
///
/// Stops with [`TrainError::NonFiniteLoss`] or
/// [`TrainError::NonFiniteParameters`] when a NaN or an infinity appears,
/// naming the epoch and batch and what the network holds then (always finite
/// parameters when there were any to begin with).
///
/// Early stopping, checkpoints, resuming and the metrics log are set in the
/// [`TrainConfig`]; [`train_with_hook`] adds a closure called after every
/// epoch.
///
/// Allocates the workspaces once; a step allocates nothing (the progress
/// bar's message is redrawn at most ten times a second).
pub fn train<const B: usize, const IN: usize, const OUT: usize, N, O>(
    net: &mut N,
    optimizer: &mut O,
    data: &Dataset<N::Scalar, IN, OUT>,
    config: &TrainConfig<B>,
) -> Result<History, TrainError>
where
    N: Network<IN, OUT>,
    O: Optimizer<N::Scalar>,
{
    run(net, optimizer, data, None, config, |_, _, _| {
        Control::Continue
    })
}

/// [`train`], measuring the loss and accuracy on `validation` after every
/// epoch (all its rows) into the [`History`].
pub fn train_with_validation<const B: usize, const IN: usize, const OUT: usize, N, O>(
    net: &mut N,
    optimizer: &mut O,
    data: &Dataset<N::Scalar, IN, OUT>,
    validation: &Dataset<N::Scalar, IN, OUT>,
    config: &TrainConfig<B>,
) -> Result<History, TrainError>
where
    N: Network<IN, OUT>,
    O: Optimizer<N::Scalar>,
{
    run(net, optimizer, data, Some(validation), config, |_, _, _| {
        Control::Continue
    })
}

/// [`train`] (with a validation set when one is given) calling `hook` after
/// every epoch with the epoch's record, the network and the optimizer: for
/// custom logging, a learning-rate rule of one's own
/// ([`Optimizer::set_learning_rate`]) or a stopping rule
/// ([`Control::Stop`]), without forking the loop.
///
/// The hook runs after the record is logged and early stopping has judged
/// the epoch, before the checkpoint is written (so a rate it sets is in the
/// checkpoint). A resumed run does not call it for the epochs already done.
///
/// ```
/// use chainrule::data::Dataset;
/// use chainrule::optim::{Optimizer, Sgd};
/// use chainrule::train::{train_with_hook, Control, TrainConfig, TrainError};
/// use chainrule::Network;
///
/// fn fit<N: Network<4, 3, Scalar = f32>>(
///     net: &mut N,
///     data: &Dataset<f32, 4, 3>,
///     validation: &Dataset<f32, 4, 3>,
/// ) -> Result<(), TrainError> {
///     let config = TrainConfig::<8>::new(50);
///     train_with_hook(net, &mut Sgd::new(0.1), data, Some(validation), &config, |record, _net, optimizer| {
///         if record.epoch == 20 {
///             optimizer.set_learning_rate(0.01); // a step of one's own
///         }
///         match record.validation_accuracy {
///             Some(a) if a >= 0.99 => Control::Stop,
///             _ => Control::Continue,
///         }
///     })?;
///     Ok(())
/// }
/// ```
pub fn train_with_hook<const B: usize, const IN: usize, const OUT: usize, N, O, H>(
    net: &mut N,
    optimizer: &mut O,
    data: &Dataset<N::Scalar, IN, OUT>,
    validation: Option<&Dataset<N::Scalar, IN, OUT>>,
    config: &TrainConfig<B>,
    hook: H,
) -> Result<History, TrainError>
where
    N: Network<IN, OUT>,
    O: Optimizer<N::Scalar>,
    H: FnMut(&EpochRecord, &N, &mut O) -> Control,
{
    run(net, optimizer, data, validation, config, hook)
}

fn run<const B: usize, const IN: usize, const OUT: usize, N, O, H>(
    net: &mut N,
    optimizer: &mut O,
    data: &Dataset<N::Scalar, IN, OUT>,
    validation: Option<&Dataset<N::Scalar, IN, OUT>>,
    config: &TrainConfig<B>,
    mut hook: H,
) -> Result<History, TrainError>
where
    N: Network<IN, OUT>,
    O: Optimizer<N::Scalar>,
    H: FnMut(&EpochRecord, &N, &mut O) -> Control,
{
    if data.len() < B || B == 0 {
        return Err(TrainError::TooFewRows {
            rows: data.len(),
            batch: B,
        });
    }
    if let Some(stopping) = &config.early_stopping {
        if stopping.monitor.needs_validation() && validation.is_none() {
            return Err(TrainError::NoValidationSet {
                monitor: stopping.monitor,
            });
        }
    }
    let mut snapshot = Snapshot::new(N::SCALARS);
    if let Some(tensor) = snapshot.take(net) {
        return Err(TrainError::NonFiniteParameters {
            epoch: 0,
            tensor,
            network: NetworkState::Unchanged,
        });
    }
    let key = RunKey {
        seed: config.seed,
        batch: B,
        rows: data.len(),
    };
    let mut progress = match &config.checkpoint {
        Some(path) if config.resume && path.exists() => {
            let progress = checkpoint::load(path, net, optimizer, &key, config.epochs)?;
            // The checkpoint's network was finite when saved; take it as the
            // fallback of its first epoch here.
            snapshot.take(net);
            progress
        }
        _ => RunProgress {
            epoch: 0,
            history: History::default(),
            best: None,
            wait: 0,
        },
    };
    let mut log = match &config.metrics_log {
        Some(path) => Some(MetricsLog::create(path, &progress.history.epochs)?),
        None => None,
    };
    if progress.history.stop != Stop::Completed || progress.epoch >= config.epochs {
        return Ok(finish(net, config, progress));
    }

    let mut grads = net.new_gradients();
    let mut ws = net.new_workspace::<B>();
    let mut x = Matrix::<N::Scalar, B, IN>::zeros();
    let mut y = ClassLabels::<B, OUT>::new([0; B]).map_err(|e| {
        TrainError::Data(DataError::LabelOutOfRange {
            row: e.row,
            label: e.label,
            classes: e.classes,
        })
    })?;
    let mut evaluator = Evaluator::<N, IN, OUT, B>::new(net);
    let mut shuffler = Shuffler::at_epoch(data.len(), config.seed, progress.epoch as u64);
    let mut reporter = Reporter::new(config.progress);
    let batches = data.len() / B;

    for epoch in progress.epoch + 1..=config.epochs {
        reporter.start_epoch(epoch, config.epochs, batches);
        shuffler.shuffle();
        let started = Instant::now();
        let mut loss_sum = 0.0f64;
        let mut learning_rate = optimizer.learning_rate();
        for (index, rows) in shuffler.order().chunks_exact(B).enumerate() {
            if let Err(e) = data.fill_batch(rows, &mut x, &mut y) {
                reporter.abandon();
                return Err(e.into());
            }
            let loss = net.backward(&x, &y, &mut grads, &mut ws).to_f64();
            if !loss.is_finite() {
                reporter.abandon();
                let network = snapshot.restore_if_needed(net, epoch);
                return Err(TrainError::NonFiniteLoss {
                    epoch,
                    batch: index + 1,
                    loss,
                    network,
                });
            }
            learning_rate = optimizer.learning_rate();
            optimizer.step(net, &grads);
            loss_sum += loss;
            reporter.batch(
                index + 1,
                loss_sum / (index + 1) as f64,
                started,
                (index + 1) * B,
            );
        }
        let seconds = started.elapsed().as_secs_f64();
        if let Some(tensor) = first_non_finite(net) {
            reporter.abandon();
            let network = snapshot.restore_if_needed(net, epoch);
            return Err(TrainError::NonFiniteParameters {
                epoch,
                tensor,
                network,
            });
        }
        snapshot.take(net);
        let train_accuracy = config
            .train_accuracy
            .then(|| evaluator.run(net, data).accuracy);
        let measured = validation.map(|v| evaluator.run(net, v));
        let record = EpochRecord {
            epoch,
            train_loss: loss_sum / batches as f64,
            train_accuracy,
            validation_loss: measured.as_ref().map(|v| v.loss),
            validation_accuracy: measured.as_ref().map(|v| v.accuracy),
            learning_rate,
            seconds,
            samples_per_second: (batches * B) as f64 / seconds.max(1e-9),
        };
        progress.epoch = epoch;
        progress.history.epochs.push(record.clone());
        if let Some(log) = &mut log {
            log.append(&record)?;
        }
        if let Some(stopping) = &config.early_stopping {
            if judge(stopping, &record, net, &mut progress)? {
                progress.history.stop = Stop::EarlyStopping { epoch };
            }
        }
        if hook(&record, net, optimizer) == Control::Stop
            && progress.history.stop == Stop::Completed
        {
            progress.history.stop = Stop::Hook { epoch };
        }
        if let Some(path) = &config.checkpoint {
            checkpoint::save(path, net, optimizer, &progress, &key)?;
        }
        reporter.end_epoch(&record, config.epochs);
        if progress.history.stop != Stop::Completed {
            break;
        }
    }
    Ok(finish(net, config, progress))
}

/// Early stopping's judgement of an epoch: records (and saves) the weights
/// when the figure improved; true when training should stop.
fn judge<N: Network<IN, OUT>, const IN: usize, const OUT: usize>(
    stopping: &EarlyStopping,
    record: &EpochRecord,
    net: &N,
    progress: &mut RunProgress<N::Scalar>,
) -> Result<bool, TrainError> {
    let Some(value) = stopping.monitor.value(record) else {
        return Ok(false);
    };
    let improved = match &progress.best {
        None => true,
        Some((_, best, _)) => stopping.monitor.improves(value, *best, stopping.min_delta),
    };
    if improved {
        // The buffer is allocated at the first improvement and reused.
        let mut values = match progress.best.take() {
            Some((_, _, mut values)) => {
                values.clear();
                values
            }
            None => Vec::with_capacity(N::SCALARS),
        };
        net.visit(&mut |_, entries| values.extend_from_slice(entries));
        progress.best = Some((record.epoch, value, values));
        progress.history.best_epoch = Some(record.epoch);
        progress.wait = 0;
        if let Some(path) = &stopping.best_weights {
            weights::save(net, path).map_err(TrainError::Checkpoint)?;
        }
        Ok(false)
    } else {
        progress.wait += 1;
        Ok(progress.wait >= stopping.patience)
    }
}

/// The end of a run: the best weights put back when early stopping says so.
fn finish<N: Network<IN, OUT>, const B: usize, const IN: usize, const OUT: usize>(
    net: &mut N,
    config: &TrainConfig<B>,
    progress: RunProgress<N::Scalar>,
) -> History {
    let restore = config
        .early_stopping
        .as_ref()
        .is_some_and(|s| s.restore_best);
    if let (true, Some((_, _, values))) = (restore, &progress.best) {
        let mut offset = 0;
        net.visit_mut(&mut |_, entries| {
            entries.copy_from_slice(&values[offset..offset + entries.len()]);
            offset += entries.len();
        });
    }
    progress.history
}

/// A copy of a network's parameters, to fall back on when an update makes
/// one non-finite. Allocated once; taken once per epoch.
struct Snapshot<T> {
    values: Vec<T>,
}

impl<T: Scalar> Snapshot<T> {
    fn new(scalars: usize) -> Self {
        Self {
            values: Vec::with_capacity(scalars),
        }
    }

    /// Copies the parameters unless one is not finite: then keeps the old
    /// copy and returns the name of the tensor.
    fn take<P: Parameters<Scalar = T>>(&mut self, net: &P) -> Option<String> {
        if let Some(tensor) = first_non_finite(net) {
            return Some(tensor);
        }
        self.values.clear();
        net.visit(&mut |_, entries| self.values.extend_from_slice(entries));
        None
    }

    /// Leaves finite parameters as they are; restores non-finite ones to the
    /// copy, which was taken at the start of `epoch`.
    fn restore_if_needed<P: Parameters<Scalar = T>>(
        &self,
        net: &mut P,
        epoch: usize,
    ) -> NetworkState {
        if first_non_finite(net).is_none() {
            return NetworkState::LastUpdate;
        }
        let mut offset = 0;
        net.visit_mut(&mut |_, entries| {
            let len = entries.len();
            entries.copy_from_slice(&self.values[offset..offset + len]);
            offset += len;
        });
        NetworkState::RestoredToEpochStart { epoch }
    }
}

/// The name of the first tensor holding a NaN or an infinity.
fn first_non_finite<P: Parameters + ?Sized>(net: &P) -> Option<String> {
    let mut found = None;
    net.visit(&mut |info, entries| {
        if found.is_none() && entries.iter().any(|x| !x.is_finite()) {
            found = Some(info.name.to_string());
        }
    });
    found
}

/// The loss, accuracy and confusion matrix of a network on a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation<const K: usize> {
    /// The loss averaged over the rows (each batch's loss weighted by its
    /// rows): the dataset's loss for losses that average over the batch, as
    /// `cross_entropy`, `binary_cross_entropy` and `mse` do.
    pub loss: f64,
    /// The fraction of rows whose largest output is at the row's label.
    pub accuracy: f64,
    /// The counts of (label, predicted class).
    pub confusion: ConfusionMatrix<K>,
}

/// Evaluates `net` on every row of `data` (batches of
/// [`PREDICT_BATCH`], then the remaining rows one at a time): loss, accuracy
/// and confusion matrix. The predicted class of a row is its largest output
/// (the first one on a tie; a NaN output is never the largest). The loss and
/// the outputs of a batch come from one
/// [`loss_and_output_with`](Network::loss_and_output_with).
pub fn evaluate<const IN: usize, const OUT: usize, N: Network<IN, OUT>>(
    net: &N,
    data: &Dataset<N::Scalar, IN, OUT>,
) -> Evaluation<OUT> {
    Evaluator::<N, IN, OUT, PREDICT_BATCH>::new(net).run(net, data)
}

/// The index of the largest entry (the first on a tie; NaN never wins; 0
/// when all are NaN).
#[must_use]
pub fn argmax<T: Scalar>(values: &[T]) -> usize {
    let mut best = 0;
    let mut best_value: Option<T> = None;
    for (i, &v) in values.iter().enumerate() {
        if v.is_nan() {
            continue;
        }
        if best_value.is_none_or(|b| v > b) {
            best = i;
            best_value = Some(v);
        }
    }
    best
}

/// Buffers for evaluating a network with batches of `B` rows and single rows.
struct Evaluator<N: Network<IN, OUT>, const IN: usize, const OUT: usize, const B: usize> {
    ws: N::Workspace<B>,
    ws1: N::Workspace<1>,
    x: Matrix<N::Scalar, B, IN>,
    x1: Matrix<N::Scalar, 1, IN>,
}

impl<N: Network<IN, OUT>, const IN: usize, const OUT: usize, const B: usize>
    Evaluator<N, IN, OUT, B>
{
    fn new(net: &N) -> Self {
        Self {
            ws: net.new_workspace::<B>(),
            ws1: net.new_workspace::<1>(),
            x: Matrix::zeros(),
            x1: Matrix::zeros(),
        }
    }

    fn run(&mut self, net: &N, data: &Dataset<N::Scalar, IN, OUT>) -> Evaluation<OUT> {
        let mut confusion = ConfusionMatrix::<OUT>::new();
        let mut loss_sum = 0.0f64;
        let features = data.features();
        let labels = data.labels();
        let mut feature_chunks = features.chunks_exact(B);
        let mut label_chunks = labels.chunks_exact(B);
        for (rows, row_labels) in (&mut feature_chunks).zip(&mut label_chunks) {
            for (dst, src) in self.x.rows_mut().zip(rows) {
                dst.copy_from_slice(src);
            }
            // The labels were checked when the dataset was made.
            if let Ok(y) = ClassLabels::<B, OUT>::from_slice(row_labels) {
                let (loss, outputs) = net.loss_and_output_with(&self.x, &y, &mut self.ws);
                loss_sum += loss.to_f64() * B as f64;
                for (output, &label) in outputs.rows().zip(row_labels) {
                    confusion.record(label, argmax(output));
                }
            }
        }
        for (row, &label) in feature_chunks
            .remainder()
            .iter()
            .zip(label_chunks.remainder())
        {
            self.x1.row_mut(0).copy_from_slice(row);
            if let Ok(y) = ClassLabels::<1, OUT>::new([label]) {
                let (loss, output) = net.loss_and_output_with(&self.x1, &y, &mut self.ws1);
                loss_sum += loss.to_f64();
                confusion.record(label, argmax(output.row(0)));
            }
        }
        let rows = data.len().max(1) as f64;
        Evaluation {
            loss: loss_sum / rows,
            accuracy: confusion.accuracy(),
            confusion,
        }
    }
}

#[cfg(test)]
mod tests;
