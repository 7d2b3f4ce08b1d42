//! The confusion matrix of a classifier.

use core::fmt;

/// Counts of (actual class, predicted class) pairs over `K` classes: row
/// `actual`, column `predicted`. Its [`Display`](fmt::Display) is a table.
///
/// ```
/// use chainrule::train::ConfusionMatrix;
/// let mut confusion = ConfusionMatrix::<3>::new();
/// for (actual, predicted) in [(0, 0), (1, 1), (1, 2), (2, 2)] {
///     confusion.record(actual, predicted);
/// }
/// assert_eq!(confusion.count(1, 2), 1);
/// assert_eq!(confusion.accuracy(), 0.75);
/// println!("{confusion}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix<const K: usize> {
    /// `K·K` counts, row-major (heap: no `K²` array on the stack).
    counts: Box<[u64]>,
}

impl<const K: usize> Default for ConfusionMatrix<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const K: usize> ConfusionMatrix<K> {
    /// All counts zero.
    #[must_use]
    pub fn new() -> Self {
        Self {
            counts: vec![0; K * K].into_boxed_slice(),
        }
    }

    /// Counts one sample of class `actual` predicted as `predicted`.
    ///
    /// # Panics
    /// When either class is not below `K`.
    pub fn record(&mut self, actual: usize, predicted: usize) {
        assert!(
            actual < K && predicted < K,
            "class ({actual}, {predicted}) out of range for {K} classes"
        );
        self.counts[actual * K + predicted] += 1;
    }

    /// The number of samples of class `actual` predicted as `predicted`
    /// (0 outside the matrix).
    #[must_use]
    pub fn count(&self, actual: usize, predicted: usize) -> u64 {
        if actual < K && predicted < K {
            self.counts[actual * K + predicted]
        } else {
            0
        }
    }

    /// The number of samples counted.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The number of samples predicted right (the diagonal).
    #[must_use]
    pub fn correct(&self) -> u64 {
        (0..K).map(|c| self.counts[c * K + c]).sum()
    }

    /// The fraction predicted right; 0 when nothing was counted.
    #[must_use]
    pub fn accuracy(&self) -> f64 {
        match self.total() {
            0 => 0.0,
            total => self.correct() as f64 / total as f64,
        }
    }

    /// For each class, the fraction of its samples predicted right (recall);
    /// `None` for a class with no samples.
    #[must_use]
    pub fn recall(&self) -> [Option<f64>; K] {
        core::array::from_fn(|c| {
            let row: u64 = self.counts[c * K..(c + 1) * K].iter().sum();
            (row > 0).then(|| self.counts[c * K + c] as f64 / row as f64)
        })
    }
}

impl<const K: usize> fmt::Display for ConfusionMatrix<K> {
    /// A table: one row per actual class, one column per predicted class,
    /// then the recall of the row.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let widest = self.counts.iter().max().copied().unwrap_or(0).max(K as u64);
        let width = widest.to_string().len().max(2);
        write!(f, "{:>18} |", "actual \\ predicted")?;
        for c in 0..K {
            write!(f, " {c:>width$}")?;
        }
        writeln!(f, " | recall")?;
        writeln!(f, "{}", "-".repeat(20 + K * (width + 1) + 9))?;
        let recall = self.recall();
        for (actual, (row, recall)) in self.counts.chunks_exact(K).zip(recall).enumerate() {
            write!(f, "{actual:>18} |")?;
            for count in row {
                write!(f, " {count:>width$}")?;
            }
            match recall {
                Some(r) => writeln!(f, " | {r:.3}")?,
                None => writeln!(f, " |   -")?,
            }
        }
        write!(
            f,
            "accuracy {:.4} ({} of {})",
            self.accuracy(),
            self.correct(),
            self.total()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_a_hand_made_case() {
        // actual:    0 0 0 1 1 2 2 2 2
        // predicted: 0 0 1 1 2 2 2 0 2
        let actual = [0, 0, 0, 1, 1, 2, 2, 2, 2];
        let predicted = [0, 0, 1, 1, 2, 2, 2, 0, 2];
        let mut m = ConfusionMatrix::<3>::new();
        for (&a, &p) in actual.iter().zip(&predicted) {
            m.record(a, p);
        }
        // By hand: row 0 = [2, 1, 0], row 1 = [0, 1, 1], row 2 = [1, 0, 3].
        let expected = [[2, 1, 0], [0, 1, 1], [1, 0, 3]];
        for (a, row) in expected.iter().enumerate() {
            for (p, &n) in row.iter().enumerate() {
                assert_eq!(m.count(a, p), n, "({a}, {p})");
            }
        }
        assert_eq!(m.total(), 9);
        assert_eq!(m.correct(), 6);
        assert_eq!(m.accuracy(), 6.0 / 9.0);
        assert_eq!(m.recall(), [Some(2.0 / 3.0), Some(0.5), Some(0.75)]);
        let table = m.to_string();
        assert!(
            table.contains("                 2 |  1  0  3 | 0.750"),
            "{table}"
        );
        assert!(table.ends_with("accuracy 0.6667 (6 of 9)"), "{table}");
    }

    #[test]
    fn empty_matrix_has_no_accuracy_and_no_recall() {
        let m = ConfusionMatrix::<2>::new();
        assert_eq!(m.accuracy(), 0.0);
        assert_eq!(m.recall(), [None, None]);
        assert_eq!(m.count(5, 0), 0);
    }
}
