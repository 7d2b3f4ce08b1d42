//! Datasets for training and evaluation: loading (CSV, MNIST IDX),
//! normalisation, seeded shuffling, train/test splits and batching into the
//! fixed batch size `B` of a network.
//!
//! A [`Dataset<T, IN, OUT>`](Dataset) holds `IN` features and one class index
//! below `OUT` per row, checked when it is made. Its feature rows are a
//! `&[[T; IN]]`, exactly what [`Network::predict`](crate::Network::predict)
//! takes, so evaluation runs every row, the last partial batch included.
//! Training copies rows into buffers it owns with
//! [`fill_batch`](Dataset::fill_batch), allocating nothing per batch, and
//! iterates over `order.chunks_exact(B)`, which drops the tail.
//!
//! ```
//! use chainrule::data::{CsvOptions, Dataset, Shuffler, Standardizer};
//! use chainrule::{ClassLabels, Matrix};
//!
//! # fn main() -> Result<(), chainrule::data::DataError> {
//! let csv = "a,b,label\n1,2,0\n3,4,1\n5,6,2\n7,8,0\n9,10,1\n11,12,2\n";
//! let data = Dataset::<f32, 2, 3>::from_csv_reader(csv.as_bytes(), "inline.csv", &CsvOptions::default())?;
//! let (mut train, mut test) = data.stratified_split(0.5, 7)?; // one row of each class to test
//! let scaler = Standardizer::fit(&train);
//! scaler.apply(&mut train)?;
//! scaler.apply(&mut test)?;
//!
//! const B: usize = 2;
//! let mut x = Matrix::<f32, B, 2>::zeros();
//! let mut y = ClassLabels::<B, 3>::new([0; B]).unwrap();
//! let mut shuffler = Shuffler::new(train.len(), 42);
//! for _epoch in 0..3 {
//!     shuffler.shuffle();
//!     for rows in shuffler.order().chunks_exact(B) {
//!         train.fill_batch(rows, &mut x, &mut y)?;
//!         // net.backward(&x, &y, &mut grads, &mut ws); ...
//!     }
//! }
//! // Evaluation: every test row, through `net.predict(test.features())`.
//! assert_eq!((train.len(), test.len(), test.class_counts()), (3, 3, [1, 1, 1]));
//! # Ok(())
//! # }
//! ```

mod csv;
mod error;
mod idx;
pub mod mnist;
mod normalize;
mod regression;

use rand::seq::SliceRandom;
use rand::SeedableRng;

pub use self::csv::{CsvOptions, LabelColumn};
pub use error::{DataError, IdxProblem};
pub use idx::{read_idx_images, read_idx_labels, IdxImages};
pub use normalize::Standardizer;
pub use regression::RegressionDataset;

use crate::{ClassLabels, Matrix, Scalar};

/// The seeded generator of shuffles and splits (ChaCha8: the same stream on
/// every platform).
pub type DataRng = rand_chacha::ChaCha8Rng;

/// A classification dataset: rows of `IN` features, each with a class index
/// below `OUT`.
///
/// The features are one heap allocation of `len × IN` values; there is at
/// least one row, every feature is finite and every label below `OUT`
/// (checked by every constructor, kept by every method).
#[derive(Clone, PartialEq, Debug)]
pub struct Dataset<T: Scalar, const IN: usize, const OUT: usize> {
    features: Vec<[T; IN]>,
    labels: Vec<usize>,
}

impl<T: Scalar, const IN: usize, const OUT: usize> Dataset<T, IN, OUT> {
    /// The dataset with these rows and labels, or an error when their lengths
    /// differ, there are none, a label is not below `OUT` or a feature is not
    /// finite.
    pub fn new(features: Vec<[T; IN]>, labels: Vec<usize>) -> Result<Self, DataError> {
        if features.is_empty() && labels.is_empty() {
            return Err(DataError::NoRows);
        }
        if features.len() != labels.len() {
            return Err(DataError::LengthMismatch {
                features: features.len(),
                labels: labels.len(),
            });
        }
        if let Some((row, &label)) = labels.iter().enumerate().find(|(_, &l)| l >= OUT) {
            return Err(DataError::LabelOutOfRange {
                row,
                label,
                classes: OUT,
            });
        }
        for (row, features) in features.iter().enumerate() {
            if let Some(column) = features.iter().position(|x| !x.is_finite()) {
                return Err(DataError::NonFiniteFeature { row, column });
            }
        }
        Ok(Self { features, labels })
    }

    /// The number of rows.
    #[must_use]
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// No rows: always `false`, a dataset has at least one row.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The feature rows (what [`Network::predict`](crate::Network::predict)
    /// takes).
    #[must_use]
    pub fn features(&self) -> &[[T; IN]] {
        &self.features
    }

    /// The class index of every row, each below `OUT`.
    #[must_use]
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// The features and class index of row `i`, or `None` past the end.
    #[must_use]
    pub fn get(&self, i: usize) -> Option<(&[T; IN], usize)> {
        Some((self.features.get(i)?, *self.labels.get(i)?))
    }

    /// The one-hot row of the label of row `i`, or `None` past the end.
    #[must_use]
    pub fn one_hot(&self, i: usize) -> Option<[T; OUT]> {
        let label = *self.labels.get(i)?;
        let mut row = [T::ZERO; OUT];
        row[label] = T::ONE;
        Some(row)
    }

    /// The features and labels, taken apart.
    #[must_use]
    pub fn into_parts(self) -> (Vec<[T; IN]>, Vec<usize>) {
        (self.features, self.labels)
    }

    /// How many rows each class has.
    #[must_use]
    pub fn class_counts(&self) -> [usize; OUT] {
        let mut counts = [0; OUT];
        for &label in &self.labels {
            counts[label] += 1;
        }
        counts
    }

    /// The rows at these indices, in this order (repeats allowed), or an
    /// error naming the first index past the end, or [`DataError::NoRows`]
    /// for no indices.
    pub fn subset(&self, rows: &[usize]) -> Result<Self, DataError> {
        if rows.is_empty() {
            return Err(DataError::NoRows);
        }
        let mut features = Vec::with_capacity(rows.len());
        let mut labels = Vec::with_capacity(rows.len());
        for &row in rows {
            let (x, y) = self.get(row).ok_or(DataError::RowOutOfRange {
                row,
                rows: self.len(),
            })?;
            features.push(*x);
            labels.push(y);
        }
        Ok(Self { features, labels })
    }

    /// Shuffles the rows with a generator seeded by `seed` (the same order on
    /// every platform).
    pub fn shuffle(&mut self, seed: u64) {
        let order = shuffled_indices(self.len(), &mut DataRng::seed_from_u64(seed));
        self.reorder(&order);
    }

    /// Multiplies every feature by `factor` (for example `1.0 / 16.0` for the
    /// digits, whose pixels are `0..=16`).
    ///
    /// Errors, changing nothing: [`DataError::BadScale`] when `factor` is NaN
    /// or infinite, [`DataError::NonFiniteFeature`] (the first one) when a
    /// product would overflow to infinity: the features stay finite.
    pub fn scale(&mut self, factor: T) -> Result<(), DataError> {
        if !factor.is_finite() {
            return Err(DataError::BadScale {
                factor: factor.to_f64(),
            });
        }
        // Check every product first, then write: on error nothing changed.
        for (row, features) in self.features.iter().enumerate() {
            if let Some(column) = features.iter().position(|&x| !(x * factor).is_finite()) {
                return Err(DataError::NonFiniteFeature { row, column });
            }
        }
        for row in &mut self.features {
            row.iter_mut().for_each(|x| *x *= factor);
        }
        Ok(())
    }

    /// Splits off a shuffled test set of `round(len · test_fraction)` rows;
    /// returns `(train, test)`, both shuffled by `seed`. An error when the
    /// fraction is not in `(0, 1)` or leaves either side empty.
    pub fn split(self, test_fraction: f64, seed: u64) -> Result<(Self, Self), DataError> {
        let (train, test) = split_order(self.len(), test_fraction, seed)?;
        Ok((self.take_rows(&train), self.take_rows(&test)))
    }

    /// Like [`split`](Self::split), but each class is split separately so the
    /// test set has (up to rounding) the class proportions of the whole:
    /// `round(count · test_fraction)` rows of each class go to the test set.
    /// Both sets are shuffled by `seed`.
    pub fn stratified_split(
        self,
        test_fraction: f64,
        seed: u64,
    ) -> Result<(Self, Self), DataError> {
        test_rows(self.len(), test_fraction)?;
        let mut rng = DataRng::seed_from_u64(seed);
        let mut train = Vec::with_capacity(self.len());
        let mut test = Vec::new();
        for class in 0..OUT {
            let mut rows: Vec<usize> = (0..self.len())
                .filter(|&i| self.labels[i] == class)
                .collect();
            rows.shuffle(&mut rng);
            let take = round_fraction(rows.len(), test_fraction);
            test.extend_from_slice(&rows[..take]);
            train.extend_from_slice(&rows[take..]);
        }
        if train.is_empty() || test.is_empty() {
            return Err(DataError::BadSplit {
                fraction: test_fraction,
                rows: self.len(),
            });
        }
        train.shuffle(&mut rng);
        test.shuffle(&mut rng);
        Ok((self.take_rows(&train), self.take_rows(&test)))
    }

    /// Copies the rows `rows` (exactly `B` indices, each below
    /// [`len`](Self::len)) into `x` and their class indices into `labels`.
    /// Allocates nothing. An error when `rows` has not `B` entries or an index
    /// is past the end; then `x` and `labels` are unspecified.
    pub fn fill_batch<const B: usize>(
        &self,
        rows: &[usize],
        x: &mut Matrix<T, B, IN>,
        labels: &mut ClassLabels<B, OUT>,
    ) -> Result<(), DataError> {
        let mut indices = [0usize; B];
        self.fill_features(rows, x, &mut indices)?;
        // The labels were checked when the dataset was made; this cannot fail.
        *labels = ClassLabels::from_slice(&indices).map_err(|e| DataError::LabelOutOfRange {
            row: e.row,
            label: e.label,
            classes: OUT,
        })?;
        Ok(())
    }

    /// Like [`fill_batch`](Self::fill_batch), with the labels as one-hot rows
    /// of `y`.
    pub fn fill_batch_one_hot<const B: usize>(
        &self,
        rows: &[usize],
        x: &mut Matrix<T, B, IN>,
        y: &mut Matrix<T, B, OUT>,
    ) -> Result<(), DataError> {
        let mut indices = [0usize; B];
        self.fill_features(rows, x, &mut indices)?;
        for (dst, &label) in y.rows_mut().zip(&indices) {
            dst.fill(T::ZERO);
            dst[label] = T::ONE;
        }
        Ok(())
    }

    /// The number of batches of `B` rows one pass takes: whole batches only
    /// when `tail` is [`Tail::Drop`], one more for a partial last batch when
    /// it is [`Tail::Keep`].
    #[must_use]
    pub fn batch_count<const B: usize>(&self, tail: Tail) -> usize {
        match tail {
            Tail::Drop => self.len() / B,
            Tail::Keep => self.len().div_ceil(B),
        }
    }

    fn fill_features<const B: usize>(
        &self,
        rows: &[usize],
        x: &mut Matrix<T, B, IN>,
        indices: &mut [usize; B],
    ) -> Result<(), DataError> {
        if rows.len() != B {
            return Err(DataError::BatchSize {
                expected: B,
                found: rows.len(),
            });
        }
        for ((dst, slot), &row) in x.rows_mut().zip(indices.iter_mut()).zip(rows) {
            let (features, label) = self.get(row).ok_or(DataError::RowOutOfRange {
                row,
                rows: self.len(),
            })?;
            dst.copy_from_slice(features);
            *slot = label;
        }
        Ok(())
    }

    fn take_rows(&self, rows: &[usize]) -> Self {
        Self {
            features: rows.iter().map(|&i| self.features[i]).collect(),
            labels: rows.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    fn reorder(&mut self, order: &[usize]) {
        *self = self.take_rows(order);
    }

    pub(crate) fn features_mut(&mut self) -> &mut [[T; IN]] {
        &mut self.features
    }
}

/// What to do with the last rows of a pass that do not fill a batch of `B`.
///
/// Training may drop them (`order.chunks_exact(B)`), evaluation must not:
/// evaluate with [`Network::predict`](crate::Network::predict) on
/// [`Dataset::features`], which runs the tail with smaller batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// Skip the partial last batch (training: the order changes each epoch,
    /// so every row is still seen).
    Drop,
    /// Count the partial last batch too.
    Keep,
}

/// A seeded order of `0..rows`, a new one each epoch.
///
/// The order of epoch `e` (from 0) depends on the seed and `e` only: it is
/// the identity shuffled by a ChaCha8 generator seeded with `seed` on stream
/// `e`. So a run resumed at epoch `e` ([`at_epoch`](Self::at_epoch)) sees
/// exactly the orders an uninterrupted run would.
///
/// ```
/// use chainrule::data::Shuffler;
/// let mut a = Shuffler::new(10, 3);
/// let mut b = Shuffler::new(10, 3);
/// assert_eq!(a.order(), &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
/// assert_eq!(a.shuffle(), b.shuffle()); // same seed, same order
/// a.shuffle(); // epoch 1
/// let third = a.shuffle().to_vec(); // epoch 2
/// assert_eq!(Shuffler::at_epoch(10, 3, 2).shuffle(), third.as_slice());
/// ```
#[derive(Clone, Debug)]
pub struct Shuffler {
    order: Vec<usize>,
    seed: u64,
    epoch: u64,
}

impl Shuffler {
    /// The identity order of `0..rows`; the first [`shuffle`](Self::shuffle)
    /// gives the order of epoch 0 for `seed`.
    #[must_use]
    pub fn new(rows: usize, seed: u64) -> Self {
        Self::at_epoch(rows, seed, 0)
    }

    /// Like [`new`](Self::new), but the next [`shuffle`](Self::shuffle)
    /// gives the order of epoch `epoch` (from 0): for resuming a run.
    #[must_use]
    pub fn at_epoch(rows: usize, seed: u64, epoch: u64) -> Self {
        Self {
            order: (0..rows).collect(),
            seed,
            epoch,
        }
    }

    /// Makes the order of the next epoch in place (no allocation) and
    /// returns it.
    pub fn shuffle(&mut self) -> &[usize] {
        for (i, slot) in self.order.iter_mut().enumerate() {
            *slot = i;
        }
        let mut rng = DataRng::seed_from_u64(self.seed);
        rng.set_stream(self.epoch);
        self.order.shuffle(&mut rng);
        self.epoch += 1;
        &self.order
    }

    /// The current order.
    #[must_use]
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// The epoch (from 0) whose order the next [`shuffle`](Self::shuffle)
    /// makes.
    #[must_use]
    pub fn next_epoch(&self) -> u64 {
        self.epoch
    }
}

/// The rows `0..len` shuffled by `seed` and cut into `(train, test)` with
/// `round(len · test_fraction)` test rows.
fn split_order(
    len: usize,
    test_fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>), DataError> {
    let test = test_rows(len, test_fraction)?;
    let mut order = shuffled_indices(len, &mut DataRng::seed_from_u64(seed));
    let train = order.split_off(test);
    Ok((train, order))
}

/// The number of test rows, when both sides get at least one.
fn test_rows(len: usize, test_fraction: f64) -> Result<usize, DataError> {
    let rows = round_fraction(len, test_fraction);
    if test_fraction > 0.0 && test_fraction < 1.0 && rows > 0 && rows < len {
        Ok(rows)
    } else {
        Err(DataError::BadSplit {
            fraction: test_fraction,
            rows: len,
        })
    }
}

fn shuffled_indices(len: usize, rng: &mut DataRng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(rng);
    order
}

fn round_fraction(len: usize, fraction: f64) -> usize {
    let rows = (len as f64 * fraction).round();
    if rows.is_finite() && rows > 0.0 {
        (rows as usize).min(len)
    } else {
        0
    }
}
