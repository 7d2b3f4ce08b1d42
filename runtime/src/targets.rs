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

impl<T: Scalar, Y: Targets<T, B, N> + ?Sized, const B: usize, const N: usize> Targets<T, B, N>
    for &Y
{
    #[inline(always)]
    fn value(&self, row: usize, col: usize) -> T {
        (**self).value(row, col)
    }
    #[inline(always)]
    fn class_indices(&self) -> Option<&[usize; B]> {
        (**self).class_indices()
    }
}

/// The inputs of a batch of `B` rows of `N` features: a `Matrix<T, B, N>`.
/// The generated methods take `&impl InputRows<T, B, N>` rather than the
/// matrix itself, so that a batch of the wrong width, scalar or number of
/// rows (for the workspace given) is one error that says what the network
/// takes, not a bare type mismatch.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the inputs of this network: it takes rows of {N} features of `{T}`, a `Matrix<{T}, B, {N}>`",
    label = "not a batch of {N}-feature rows of `{T}`",
    note = "a batch is a matrix with one row per sample (and, with a workspace, as many rows as the workspace was made for)"
)]
pub trait InputRows<T, const B: usize, const N: usize> {
    /// The batch as the matrix it is.
    fn as_matrix(&self) -> &Matrix<T, B, N>;
}

#[diagnostic::do_not_recommend]
impl<T, const B: usize, const N: usize> InputRows<T, B, N> for Matrix<T, B, N> {
    #[inline(always)]
    fn as_matrix(&self) -> &Matrix<T, B, N> {
        self
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

#[cfg(feature = "std")]
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

/// `R` consecutive rows, from row `first`, of the targets of a batch of `B`
/// rows: the targets of a part of the batch, read in place (nothing is
/// copied). Works for any [`Targets`], so for both a `Matrix<T, B, N>` and
/// [`ClassLabels<B, N>`]; [`parallel`](crate::parallel) gives each thread
/// its half of the batch this way.
///
/// ```
/// use chainrule::{ClassLabels, Matrix, TargetRows, Targets};
/// let labels = ClassLabels::<4, 10>::new([7, 0, 9, 2]).unwrap();
/// let back = TargetRows::<_, 4, 2>::new::<f32, 10>(&labels, 2);
/// assert_eq!(Targets::<f32, 2, 10>::class_indices(&back), Some(&[9, 2]));
/// let y = Matrix::<f64, 3, 2>::from_rows([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
/// let last = TargetRows::<_, 3, 1>::new::<f64, 2>(&y, 2);
/// assert_eq!(last.value(0, 1), 6.0);
/// ```
pub struct TargetRows<'a, Y: ?Sized, const B: usize, const R: usize> {
    targets: &'a Y,
    first: usize,
    classes: Option<&'a [usize; R]>,
}

impl<'a, Y: ?Sized, const B: usize, const R: usize> TargetRows<'a, Y, B, R> {
    /// Rows `first .. first + R` of `targets`.
    ///
    /// # Panics
    /// When `first + R > B`: the rows are not all in the batch.
    pub fn new<T: Scalar, const N: usize>(targets: &'a Y, first: usize) -> Self
    where
        Y: Targets<T, B, N>,
    {
        let end = first.checked_add(R).filter(|&end| end <= B);
        let Some(end) = end else {
            panic!("rows {first}..{first}+{R} are not all in a batch of {B} rows");
        };
        let classes = targets.class_indices().map(|all| {
            <&[usize; R]>::try_from(&all[first..end]).expect("a slice of exactly R labels")
        });
        Self {
            targets,
            first,
            classes,
        }
    }

    /// The first row of the batch this view starts at.
    #[must_use]
    pub fn first(&self) -> usize {
        self.first
    }
}

impl<T: Scalar, Y, const B: usize, const R: usize, const N: usize> Targets<T, R, N>
    for TargetRows<'_, Y, B, R>
where
    Y: Targets<T, B, N> + ?Sized,
{
    #[inline(always)]
    fn value(&self, row: usize, col: usize) -> T {
        debug_assert!(row < R, "row {row} of a view of {R} rows");
        self.targets.value(self.first + row, col)
    }
    #[inline(always)]
    fn class_indices(&self) -> Option<&[usize; R]> {
        self.classes
    }
}

impl<Y: ?Sized, const B: usize, const R: usize> Clone for TargetRows<'_, Y, B, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Y: ?Sized, const B: usize, const R: usize> Copy for TargetRows<'_, Y, B, R> {}

impl<Y: ?Sized, const B: usize, const R: usize> fmt::Debug for TargetRows<'_, Y, B, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetRows")
            .field("first", &self.first)
            .field("rows", &R)
            .field("of", &B)
            .finish_non_exhaustive()
    }
}
