//! Per-feature standardisation, fitted on the training split only.

use super::Dataset;
use crate::Scalar;

/// Per-feature standardisation `x ← (x − mean) / std`, with the mean and the
/// (population) standard deviation of each feature fitted on one dataset,
/// usually the training split, and applied unchanged to the others, so no
/// test statistics leak into training.
///
/// A feature that is constant in the fitted data (standard deviation below
/// 1e-12 of its scale, e.g. a corner pixel that is always 0) is only
/// centred: its scale is 1.
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer<T: Scalar, const IN: usize> {
    mean: Vec<T>,
    scale: Vec<T>,
}

impl<T: Scalar, const IN: usize> Standardizer<T, IN> {
    /// The mean and standard deviation of every feature of `data`, computed
    /// in `f64` (two passes). An empty dataset gives mean 0 and scale 1.
    #[must_use]
    pub fn fit<const OUT: usize>(data: &Dataset<T, IN, OUT>) -> Self {
        Self::fit_rows(data.features())
    }

    /// The mean and standard deviation of every feature of these rows (for
    /// a [`RegressionDataset`](super::RegressionDataset): `fit_rows(train.features())`).
    #[must_use]
    pub fn fit_rows(rows: &[[T; IN]]) -> Self {
        let n = rows.len().max(1) as f64;
        let mut mean = vec![0.0f64; IN];
        for row in rows {
            for (m, &x) in mean.iter_mut().zip(row) {
                *m += x.to_f64();
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0f64; IN];
        for row in rows {
            for ((v, &m), &x) in var.iter_mut().zip(&mean).zip(row) {
                let d = x.to_f64() - m;
                *v += d * d;
            }
        }
        let scale = var
            .iter()
            .zip(&mean)
            .map(|(&v, &m)| {
                let std = (v / n).sqrt();
                if std > 1e-12 * m.abs().max(1.0) {
                    T::from_f64(std)
                } else {
                    T::ONE
                }
            })
            .collect();
        Self {
            mean: mean.into_iter().map(T::from_f64).collect(),
            scale,
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

    /// Standardises one row in place (e.g. an input at deployment).
    pub fn apply_row(&self, row: &mut [T; IN]) {
        for ((x, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.scale) {
            *x = (*x - m) / s;
        }
    }

    /// Standardises every row of `data` in place.
    pub fn apply<const OUT: usize>(&self, data: &mut Dataset<T, IN, OUT>) {
        self.apply_rows(data.features_mut());
    }

    /// Standardises these rows in place.
    pub fn apply_rows(&self, rows: &mut [[T; IN]]) {
        for row in rows {
            self.apply_row(row);
        }
    }
}
