//! Per-feature standardisation, fitted on the training split only.

use super::{DataError, Dataset};
use crate::Scalar;

/// Per-feature standardisation `x ← (x − mean) / std`, with the mean and the
/// (population) standard deviation of each feature fitted on one dataset,
/// usually the training split, and applied unchanged to the others, so no
/// test statistics leak into training.
///
/// A feature that is constant in the fitted data (standard deviation below
/// 1e-12 of its scale, e.g. a corner pixel that is always 0) is only
/// centred: its scale is 1.
///
/// Every figure is computed in `f64` without overflow, however large the
/// (finite) features: the fitted mean and scale are finite, the fitted rows
/// standardise to finite values, and applying to rows whose result would
/// not be finite in `T` (a value far outside the fitted spread) is an error
/// that changes nothing.
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer<T: Scalar, const IN: usize> {
    mean: Vec<T>,
    scale: Vec<T>,
    /// The mean and the divisor in `f64`, as computed (what is applied).
    mean_f64: Vec<f64>,
    scale_f64: Vec<f64>,
}

/// Features larger than this are summed after scaling by a power of two, so
/// that the sums of squares cannot overflow `f64`.
const RESCALE_ABOVE: f64 = 1e100;

impl<T: Scalar, const IN: usize> Standardizer<T, IN> {
    /// The mean and standard deviation of every feature of `data`, computed
    /// in `f64` (two passes).
    #[must_use]
    pub fn fit<const OUT: usize>(data: &Dataset<T, IN, OUT>) -> Self {
        Self::fit_rows(data.features())
    }

    /// The mean and standard deviation of every feature of these rows (for
    /// a [`RegressionDataset`](super::RegressionDataset): `fit_rows(train.features())`).
    /// No rows give mean 0 and scale 1.
    #[must_use]
    pub fn fit_rows(rows: &[[T; IN]]) -> Self {
        let n = rows.len().max(1) as f64;
        let mut mean_f64 = Vec::with_capacity(IN);
        let mut scale_f64 = Vec::with_capacity(IN);
        for j in 0..IN {
            let (mean, std) = mean_and_std(rows.iter().map(|row| row[j].to_f64()), n);
            mean_f64.push(mean);
            scale_f64.push(if std > 1e-12 * mean.abs().max(1.0) {
                std
            } else {
                1.0
            });
        }
        Self {
            mean: mean_f64.iter().map(|&m| T::from_f64(m)).collect(),
            scale: scale_f64.iter().map(|&s| T::from_f64(s)).collect(),
            mean_f64,
            scale_f64,
        }
    }

    /// The fitted mean of every feature.
    #[must_use]
    pub fn mean(&self) -> &[T] {
        &self.mean
    }

    /// The divisor of every feature: its standard deviation, or 1 for a
    /// constant feature.
    #[must_use]
    pub fn scale(&self) -> &[T] {
        &self.scale
    }

    /// Standardises one row in place (e.g. an input at deployment). An error
    /// ([`DataError::NonFiniteFeature`], row 0), leaving the row unchanged,
    /// when a result would not be finite in `T`.
    pub fn apply_row(&self, row: &mut [T; IN]) -> Result<(), DataError> {
        self.apply_rows(core::slice::from_mut(row))
    }

    /// Standardises every row of `data` in place. An error naming the first
    /// feature whose result would not be finite in `T`; then nothing changed.
    pub fn apply<const OUT: usize>(&self, data: &mut Dataset<T, IN, OUT>) -> Result<(), DataError> {
        self.apply_rows(data.features_mut())
    }

    /// Standardises these rows in place, or, changing nothing, returns an
    /// error naming the first feature whose result would not be finite in
    /// `T`. Allocates nothing (one pass checks, a second writes).
    pub fn apply_rows(&self, rows: &mut [[T; IN]]) -> Result<(), DataError> {
        for (row, features) in rows.iter().enumerate() {
            if let Some(column) =
                (0..IN).position(|j| !self.standardize(j, features[j]).is_finite())
            {
                return Err(DataError::NonFiniteFeature { row, column });
            }
        }
        for features in rows {
            for (j, x) in features.iter_mut().enumerate() {
                *x = self.standardize(j, *x);
            }
        }
        Ok(())
    }

    /// `(x − mean) / scale` of feature `j`, in `f64`, rounded once to `T`.
    fn standardize(&self, j: usize, x: T) -> T {
        let (x, mean, scale) = (x.to_f64(), self.mean_f64[j], self.scale_f64[j]);
        let deviation = x - mean;
        let z = if deviation.is_finite() {
            deviation / scale
        } else {
            // Both near f64::MAX with opposite signs: halve everything.
            (0.5 * x - 0.5 * mean) / (0.5 * scale)
        };
        T::from_f64(z)
    }
}

/// The mean and population standard deviation of finite `values` (`n` of
/// them), computed in two passes; values beyond [`RESCALE_ABOVE`] are first
/// divided by a power of two (exactly), so nothing overflows.
fn mean_and_std(values: impl Iterator<Item = f64> + Clone, n: f64) -> (f64, f64) {
    let largest = values.clone().fold(0.0f64, |m, x| m.max(x.abs()));
    // 2^⌊log2(largest)⌋ ≤ largest is finite, and every scaled value is below 2
    // in magnitude.
    let unit = if largest > RESCALE_ABOVE {
        2f64.powi(largest.log2().floor() as i32)
    } else {
        1.0
    };
    let mean = values.clone().map(|x| x / unit).sum::<f64>() / n;
    let variance = values
        .map(|x| {
            let d = x / unit - mean;
            d * d
        })
        .sum::<f64>()
        / n;
    (mean * unit, variance.sqrt() * unit)
}
