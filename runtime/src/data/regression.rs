//! Datasets with real-valued targets.

use rand::SeedableRng;

use super::{shuffled_indices, split_order, DataError, DataRng, Standardizer};
use crate::{Matrix, Scalar};

/// A regression dataset: rows of `IN` features, each with `OUT` target
/// values (for `sse` / `mse` networks). There is at least one row, and every
/// feature and target is finite (checked by every constructor).
///
/// ```
/// use chainrule::data::{CsvOptions, RegressionDataset};
/// use chainrule::Matrix;
/// # fn main() -> Result<(), chainrule::data::DataError> {
/// let csv = "x1,x2,y\n1,2,3.5\n2,0,2\n0,1,1.5\n";
/// let data = RegressionDataset::<f64, 2, 1>::from_csv_reader(csv.as_bytes(), "xy.csv", &CsvOptions::default())?;
/// let mut x = Matrix::<f64, 2, 2>::zeros();
/// let mut y = Matrix::<f64, 2, 1>::zeros();
/// data.fill_batch(&[2, 0], &mut x, &mut y)?;
/// assert_eq!(y, Matrix::from_rows([[1.5], [3.5]]));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, PartialEq, Debug)]
pub struct RegressionDataset<T: Scalar, const IN: usize, const OUT: usize> {
    features: Vec<[T; IN]>,
    targets: Vec<[T; OUT]>,
}

impl<T: Scalar, const IN: usize, const OUT: usize> RegressionDataset<T, IN, OUT> {
    /// The dataset with these rows and targets, or an error when their
    /// lengths differ, there are none or a value is not finite.
    pub fn new(features: Vec<[T; IN]>, targets: Vec<[T; OUT]>) -> Result<Self, DataError> {
        if features.is_empty() && targets.is_empty() {
            return Err(DataError::NoRows);
        }
        if features.len() != targets.len() {
            return Err(DataError::LengthMismatch {
                features: features.len(),
                labels: targets.len(),
            });
        }
        for (row, (x, y)) in features.iter().zip(&targets).enumerate() {
            if let Some(column) = x.iter().position(|v| !v.is_finite()) {
                return Err(DataError::NonFiniteFeature { row, column });
            }
            if let Some(column) = y.iter().position(|v| !v.is_finite()) {
                return Err(DataError::NonFiniteTarget { row, column });
            }
        }
        Ok(Self { features, targets })
    }

    /// The number of rows.
    #[must_use]
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// No rows: always `false`, a dataset has at least one row.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The feature rows (what [`Network::predict`](crate::Network::predict)
    /// takes).
    #[must_use]
    pub fn features(&self) -> &[[T; IN]] {
        &self.features
    }

    /// The target rows.
    #[must_use]
    pub fn targets(&self) -> &[[T; OUT]] {
        &self.targets
    }

    /// The features and targets of row `i`, or `None` past the end.
    #[must_use]
    pub fn get(&self, i: usize) -> Option<(&[T; IN], &[T; OUT])> {
        Some((self.features.get(i)?, self.targets.get(i)?))
    }

    /// Shuffles the rows with a generator seeded by `seed`.
    pub fn shuffle(&mut self, seed: u64) {
        let order = shuffled_indices(self.len(), &mut DataRng::seed_from_u64(seed));
        *self = self.take_rows(&order);
    }

    /// Splits off a shuffled test set of `round(len · test_fraction)` rows;
    /// returns `(train, test)`. An error when either side would be empty.
    pub fn split(self, test_fraction: f64, seed: u64) -> Result<(Self, Self), DataError> {
        let (train, test) = split_order(self.len(), test_fraction, seed)?;
        Ok((self.take_rows(&train), self.take_rows(&test)))
    }

    /// Standardises the features with `standardizer` (fitted with
    /// [`Standardizer::fit_rows`] on the training features). An error,
    /// changing nothing, when a standardised feature would not be finite
    /// (see [`Standardizer::apply_rows`]).
    pub fn standardize(&mut self, standardizer: &Standardizer<T, IN>) -> Result<(), DataError> {
        standardizer.apply_rows(&mut self.features)
    }

    /// Copies the rows `rows` (exactly `B` indices) into `x` and their targets
    /// into `y`. Allocates nothing. An error when `rows` has not `B` entries
    /// or an index is past the end.
    pub fn fill_batch<const B: usize>(
        &self,
        rows: &[usize],
        x: &mut Matrix<T, B, IN>,
        y: &mut Matrix<T, B, OUT>,
    ) -> Result<(), DataError> {
        if rows.len() != B {
            return Err(DataError::BatchSize {
                expected: B,
                found: rows.len(),
            });
        }
        for ((x_row, y_row), &row) in x.rows_mut().zip(y.rows_mut()).zip(rows) {
            let (features, targets) = self.get(row).ok_or(DataError::RowOutOfRange {
                row,
                rows: self.len(),
            })?;
            x_row.copy_from_slice(features);
            y_row.copy_from_slice(targets);
        }
        Ok(())
    }

    fn take_rows(&self, rows: &[usize]) -> Self {
        Self {
            features: rows.iter().map(|&i| self.features[i]).collect(),
            targets: rows.iter().map(|&i| self.targets[i]).collect(),
        }
    }
}
