//! What the training loop shows while it runs: an indicatif progress bar on a
//! terminal, one plain line per epoch otherwise (CI logs, pipes).

use std::io::{IsTerminal, Write};
use std::time::Instant;

use super::EpochRecord;

/// How [`train`](super::train) reports progress (on standard error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Progress {
    /// A bar when standard error is a terminal and the `progress` feature is
    /// on, else one line per epoch.
    #[default]
    Auto,
    /// A bar (one line per epoch without the `progress` feature).
    Bar,
    /// One line per epoch.
    Lines,
    /// Nothing.
    Silent,
}

/// How often the bar's message (loss, samples per second) is redrawn.
#[cfg(feature = "progress")]
const REFRESH: std::time::Duration = std::time::Duration::from_millis(100);

pub(super) enum Reporter {
    Silent,
    Lines,
    #[cfg(feature = "progress")]
    Bar {
        bar: Option<indicatif::ProgressBar>,
        last_message: Instant,
        /// Draw the bar (off in tests, which read its message).
        visible: bool,
    },
}

impl Reporter {
    pub(super) fn new(progress: Progress) -> Self {
        let terminal = std::io::stderr().is_terminal();
        match progress {
            Progress::Silent => Reporter::Silent,
            Progress::Lines => Reporter::Lines,
            #[cfg(feature = "progress")]
            Progress::Bar => Reporter::bar(),
            #[cfg(feature = "progress")]
            Progress::Auto if terminal => Reporter::bar(),
            #[cfg(not(feature = "progress"))]
            Progress::Bar => Reporter::Lines,
            Progress::Auto => {
                let _ = terminal;
                Reporter::Lines
            }
        }
    }

    #[cfg(feature = "progress")]
    fn bar() -> Self {
        Reporter::Bar {
            bar: None,
            last_message: Instant::now(),
            visible: true,
        }
    }

    pub(super) fn start_epoch(&mut self, epoch: usize, epochs: usize, batches: usize) {
        let _ = (epoch, epochs, batches);
        #[cfg(feature = "progress")]
        if let Reporter::Bar { bar, visible, .. } = self {
            let style = indicatif::ProgressStyle::with_template(
                "{prefix:>13} [{bar:25}] {pos:>5}/{len:5} {wide_msg}",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            let new_bar = if *visible {
                indicatif::ProgressBar::new(batches as u64)
            } else {
                indicatif::ProgressBar::hidden()
            };
            new_bar.set_length(batches as u64);
            let new_bar = new_bar
                .with_style(style)
                .with_prefix(format!("epoch {epoch}/{epochs}"));
            *bar = Some(new_bar);
        }
    }

    /// Called after every batch; redraws at most every [`REFRESH`].
    pub(super) fn batch(&mut self, done: usize, running_loss: f64, started: Instant, rows: usize) {
        let _ = (done, running_loss, started, rows);
        #[cfg(feature = "progress")]
        if let Reporter::Bar {
            bar: Some(bar),
            last_message,
            ..
        } = self
        {
            bar.set_position(done as u64);
            if last_message.elapsed() >= REFRESH || bar.length() == Some(done as u64) {
                *last_message = Instant::now();
                let rate = rows as f64 / started.elapsed().as_secs_f64().max(1e-9);
                // Only figures of this epoch: the accuracies are measured
                // after it, and shown in its closing line.
                bar.set_message(format!("loss {running_loss:.4}  {}", per_second(rate)));
            }
        }
    }

    pub(super) fn end_epoch(&mut self, record: &EpochRecord, epochs: usize) {
        match self {
            Reporter::Silent => return,
            Reporter::Lines => {}
            // The bar gives way to the same plain line, which may wrap on a
            // narrow terminal without confusing the bar's redrawing.
            #[cfg(feature = "progress")]
            Reporter::Bar { bar, .. } => {
                if let Some(bar) = bar.take() {
                    bar.finish_and_clear();
                }
            }
        }
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "epoch {:>3}/{epochs}  {}",
            record.epoch,
            summary(record)
        );
    }

    /// Clears an unfinished bar (training stopped with an error).
    pub(super) fn abandon(&mut self) {
        #[cfg(feature = "progress")]
        if let Reporter::Bar { bar, .. } = self {
            if let Some(bar) = bar.take() {
                bar.abandon();
            }
        }
    }
}

/// `loss 0.1234  accuracy 0.9712  …  52.1k samples/s  1.20 s`.
fn summary(record: &EpochRecord) -> String {
    let mut line = format!("loss {:.4}", record.train_loss);
    if let Some(accuracy) = record.train_accuracy {
        line += &format!("  accuracy {accuracy:.4}");
    }
    if let Some(loss) = record.validation_loss {
        line += &format!("  validation loss {loss:.4}");
    }
    if let Some(accuracy) = record.validation_accuracy {
        line += &format!("  validation accuracy {accuracy:.4}");
    }
    line += &format!(
        "  lr {:.2e}  {}  {:.2} s",
        record.learning_rate,
        per_second(record.samples_per_second),
        record.seconds
    );
    line
}

fn per_second(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2}M samples/s", rate / 1e6)
    } else if rate >= 1e3 {
        format!("{:.1}k samples/s", rate / 1e3)
    } else {
        format!("{rate:.0} samples/s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// While an epoch runs, the bar shows that epoch's figures only: the
    /// previous epoch's accuracy used to be shown as if current.
    #[cfg(feature = "progress")]
    #[test]
    fn the_bar_shows_no_figure_of_the_previous_epoch() {
        let mut reporter = Reporter::Bar {
            bar: None,
            last_message: Instant::now(),
            visible: false,
        };
        let record = EpochRecord {
            epoch: 1,
            train_loss: 0.5,
            train_accuracy: Some(0.875),
            validation_loss: Some(0.25),
            validation_accuracy: Some(0.9375),
            learning_rate: 0.1,
            seconds: 1.0,
            samples_per_second: 100.0,
        };
        reporter.start_epoch(1, 2, 4);
        reporter.batch(4, 0.5, Instant::now(), 16);
        reporter.end_epoch(&record, 2);
        reporter.start_epoch(2, 2, 4);
        reporter.batch(4, 0.375, Instant::now(), 16);
        let Reporter::Bar { bar: Some(bar), .. } = &reporter else {
            panic!("a bar during the epoch");
        };
        let message = bar.message();
        assert!(message.starts_with("loss 0.3750  "), "{message}");
        assert!(
            !message.contains("accuracy") && !message.contains("0.9375"),
            "{message}"
        );
    }

    #[test]
    fn summary_names_every_measured_figure() {
        let record = EpochRecord {
            epoch: 3,
            train_loss: 0.123_44,
            train_accuracy: None,
            validation_loss: Some(0.2),
            validation_accuracy: Some(0.971_24),
            learning_rate: 1e-3,
            seconds: 1.2,
            samples_per_second: 52_100.0,
        };
        assert_eq!(
            summary(&record),
            "loss 0.1234  validation loss 0.2000  validation accuracy 0.9712  lr 1.00e-3  52.1k samples/s  1.20 s"
        );
        assert_eq!(per_second(999.4), "999 samples/s");
        assert_eq!(per_second(2_500_000.0), "2.50M samples/s");
    }
}
