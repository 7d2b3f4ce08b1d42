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

mod confusion;
mod history;
mod progress;

use core::fmt;
use std::time::Instant;

pub use confusion::ConfusionMatrix;
pub use history::{EpochRecord, History};
pub use progress::Progress;

use crate::data::{DataError, Dataset, Shuffler};
use crate::optim::Optimizer;
use crate::{ClassLabels, Matrix, Network, Parameters, Scalar, PREDICT_BATCH};
use progress::Reporter;

/// The settings of a training run; `B` is the batch size, a constant of the
/// type so the workspaces are sized at compile time.
///
/// ```
/// use chainrule::train::{Progress, TrainConfig};
/// let config = TrainConfig::<32>::new(20).seed(7).progress(Progress::Lines);
/// assert_eq!((config.epochs, config.seed), (20, 7));
/// let same = TrainConfig::<32> { epochs: 20, seed: 7, progress: Progress::Lines, ..Default::default() };
/// assert_eq!(config, same);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
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
        }
    }
}

impl std::error::Error for TrainError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TrainError::Data(e) => Some(e),
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
    run(net, optimizer, data, None, config)
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
    run(net, optimizer, data, Some(validation), config)
}

fn run<const B: usize, const IN: usize, const OUT: usize, N, O>(
    net: &mut N,
    optimizer: &mut O,
    data: &Dataset<N::Scalar, IN, OUT>,
    validation: Option<&Dataset<N::Scalar, IN, OUT>>,
    config: &TrainConfig<B>,
) -> Result<History, TrainError>
where
    N: Network<IN, OUT>,
    O: Optimizer<N::Scalar>,
{
    if data.len() < B || B == 0 {
        return Err(TrainError::TooFewRows {
            rows: data.len(),
            batch: B,
        });
    }
    let mut snapshot = Snapshot::new(N::SCALARS);
    if let Some(tensor) = snapshot.take(net) {
        return Err(TrainError::NonFiniteParameters {
            epoch: 0,
            tensor,
            network: NetworkState::Unchanged,
        });
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
    let mut shuffler = Shuffler::new(data.len(), config.seed);
    let mut reporter = Reporter::new(config.progress);
    let batches = data.len() / B;
    let mut history = History::default();

    for epoch in 1..=config.epochs {
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
        let validation = validation.map(|v| evaluator.run(net, v));
        let record = EpochRecord {
            epoch,
            train_loss: loss_sum / batches as f64,
            train_accuracy,
            validation_loss: validation.as_ref().map(|v| v.loss),
            validation_accuracy: validation.as_ref().map(|v| v.accuracy),
            learning_rate,
            seconds,
            samples_per_second: (batches * B) as f64 / seconds.max(1e-9),
        };
        reporter.end_epoch(&record, config.epochs);
        history.epochs.push(record);
    }
    Ok(history)
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
/// (the first one on a tie; a NaN output is never the largest). Runs the
/// forward pass twice per batch, once for the loss and once for the outputs.
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
            if let Ok(y) = ClassLabels::<B, OUT>::from_slice(row_labels) {
                loss_sum += net.loss_with(&self.x, &y, &mut self.ws).to_f64() * B as f64;
            }
            // The workspace is opaque: the outputs need their own forward pass.
            let outputs = net.forward_with(&self.x, &mut self.ws);
            for (output, &label) in outputs.rows().zip(row_labels) {
                confusion.record(label, argmax(output));
            }
        }
        for (row, &label) in feature_chunks
            .remainder()
            .iter()
            .zip(label_chunks.remainder())
        {
            self.x1.row_mut(0).copy_from_slice(row);
            if let Ok(y) = ClassLabels::<1, OUT>::new([label]) {
                loss_sum += net.loss_with(&self.x1, &y, &mut self.ws1).to_f64();
            }
            let output = net.forward_with(&self.x1, &mut self.ws1);
            confusion.record(label, argmax(output.row(0)));
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
