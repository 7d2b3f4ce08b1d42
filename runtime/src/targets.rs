//! What a loss compares the network's output with: dense rows or class labels.

use core::fmt;

use crate::{Matrix, Scalar};

/// Targets for a batch of `B` rows and `N` outputs: either a `Matrix<T, B, N>`
/// (regression values, or one-hot rows) or [`ClassLabels<B, N>`] (one class
/// index per row). Losses read both through this trait; for labels the dense
/// view is the one-hot row, so both give the same loss and gradient.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the targets of a batch of {B} rows with {N} outputs",
    label = "targets of the wrong shape or kind",
    note = "targets are a `Matrix<T, {B}, {N}>` or `ClassLabels<{B}, {N}>`: one row per sample, one column per output"
)]
pub trait Targets<T: Scalar, const B: usize, const N: usize> {
    /// The dense target `y[row, col]` (1 or 0 for class labels).
    fn value(&self, row: usize, col: usize) -> T;
    /// The class index of every row, when the targets are labels.
    fn class_indices(&self) -> Option<&[usize; B]>;
}

impl<T: Scalar, const B: usize, const N: usize> Targets<T, B, N> for Matrix<T, B, N> {
    #[inline(always)]
    fn value(&self, row: usize, col: usize) -> T {
        self.as_slice()[row * N + col]
    }
    #[inline(always)]
    fn class_indices(&self) -> Option<&[usize; B]> {
        None
    }
}

/// One class index per row, each below `N`, checked when the labels are made.
///
/// ```
/// use chainrule::ClassLabels;
/// let labels = ClassLabels::<3, 10>::new([7, 0, 9]).unwrap();
/// assert_eq!(labels.as_array(), &[7, 0, 9]);
/// assert!(ClassLabels::<1, 10>::new([10]).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ClassLabels<const B: usize, const N: usize> {
    labels: [usize; B],
}

/// A class index outside `0..N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelOutOfRange {
    /// The row of the bad label.
    pub row: usize,
    /// The label found.
    pub label: usize,
    /// The number of classes.
    pub classes: usize,
}

impl fmt::Display for LabelOutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "label {} in row {} is not a class index: there are {} classes (0..{})",
            self.label, self.row, self.classes, self.classes
        )
    }
}

impl std::error::Error for LabelOutOfRange {}

impl<const B: usize, const N: usize> ClassLabels<B, N> {
    /// The labels, or an error naming the first one that is not below `N`.
    pub fn new(labels: [usize; B]) -> Result<Self, LabelOutOfRange> {
        Self::from_slice(&labels)
    }

    /// The labels from a slice of exactly `B` entries, or an error naming the
    /// first one that is not below `N` (a short slice reports row `len`).
    pub fn from_slice(labels: &[usize]) -> Result<Self, LabelOutOfRange> {
        let mut out = [0; B];
        for (row, slot) in out.iter_mut().enumerate() {
            match labels.get(row) {
                Some(&label) if label < N => *slot = label,
                Some(&label) => {
                    return Err(LabelOutOfRange {
                        row,
                        label,
                        classes: N,
                    })
                }
                None => {
                    return Err(LabelOutOfRange {
                        row,
                        label: usize::MAX,
                        classes: N,
                    })
                }
            }
        }
        Ok(Self { labels: out })
    }

    /// The class indices.
    #[must_use]
    pub fn as_array(&self) -> &[usize; B] {
        &self.labels
    }

    /// The one-hot rows.
    #[must_use]
    pub fn to_one_hot<T: Scalar>(&self) -> Matrix<T, B, N> {
        Matrix::from_fn(|i, j| if self.labels[i] == j { T::ONE } else { T::ZERO })
    }
}

impl<T: Scalar, const B: usize, const N: usize> Targets<T, B, N> for ClassLabels<B, N> {
    #[inline(always)]
    fn value(&self, row: usize, col: usize) -> T {
        if self.labels[row] == col {
            T::ONE
        } else {
            T::ZERO
        }
    }
    #[inline(always)]
    fn class_indices(&self) -> Option<&[usize; B]> {
        Some(&self.labels)
    }
}
