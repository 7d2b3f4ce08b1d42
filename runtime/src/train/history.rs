//! What happened in each epoch, and the training curves as an SVG picture.

use std::fmt::Write as _;
use std::path::Path;

/// The figures of one epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochRecord {
    /// The epoch, from 1.
    pub epoch: usize,
    /// The mean of the batch losses of the epoch (each measured before its
    /// update).
    pub train_loss: f64,
    /// The accuracy on the whole training set after the epoch, when
    /// [`TrainConfig::train_accuracy`](super::TrainConfig::train_accuracy)
    /// asks for it.
    pub train_accuracy: Option<f64>,
    /// The loss on the validation set after the epoch, when there is one.
    pub validation_loss: Option<f64>,
    /// The accuracy on the validation set after the epoch, when there is one.
    pub validation_accuracy: Option<f64>,
    /// The learning rate of the epoch's last step.
    pub learning_rate: f64,
    /// Wall-clock seconds of the epoch's training steps (evaluation excluded).
    pub seconds: f64,
    /// Training samples per second over the epoch's training steps.
    pub samples_per_second: f64,
}

/// The loss and accuracy history of a run, one [`EpochRecord`] per epoch,
/// and how it ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// The epochs, in order (of the whole run, when it was resumed).
    pub epochs: Vec<EpochRecord>,
    /// Why the run ended.
    pub stop: Stop,
    /// With early stopping: the epoch with the best monitored figure (the
    /// weights the network is given back with, unless
    /// [`restore_best`](super::EarlyStopping::restore_best) is off).
    pub best_epoch: Option<usize>,
}

/// Why a training run ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Stop {
    /// Every epoch ran.
    #[default]
    Completed,
    /// Early stopping ended it after this epoch.
    EarlyStopping {
        /// The last epoch run.
        epoch: usize,
    },
    /// The epoch hook asked to stop after this epoch.
    Hook {
        /// The last epoch run.
        epoch: usize,
    },
}

impl History {
    /// The last epoch's record, if any epoch ran.
    #[must_use]
    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }

    /// The training loss of every epoch.
    #[must_use]
    pub fn train_losses(&self) -> Vec<f64> {
        self.epochs.iter().map(|e| e.train_loss).collect()
    }

    /// The validation accuracy of every epoch that measured it.
    #[must_use]
    pub fn validation_accuracies(&self) -> Vec<f64> {
        self.epochs
            .iter()
            .filter_map(|e| e.validation_accuracy)
            .collect()
    }

    /// The mean seconds per epoch of training steps.
    #[must_use]
    pub fn mean_epoch_seconds(&self) -> f64 {
        if self.epochs.is_empty() {
            0.0
        } else {
            self.epochs.iter().map(|e| e.seconds).sum::<f64>() / self.epochs.len() as f64
        }
    }

    /// The training curves as a self-contained SVG document: loss per epoch
    /// on the left, accuracy per epoch on the right, each for the training
    /// set (when measured) and the held-out set given to
    /// [`train_with_validation`](super::train_with_validation). Text is left to the viewer's sans-serif font, so
    /// making the picture needs no font files.
    #[must_use]
    pub fn svg(&self, title: &str) -> String {
        let epochs: Vec<f64> = self.epochs.iter().map(|e| e.epoch as f64).collect();
        let series = |get: fn(&EpochRecord) -> Option<f64>| -> Vec<(f64, f64)> {
            self.epochs
                .iter()
                .zip(&epochs)
                .filter_map(|(e, &x)| get(e).map(|y| (x, y)))
                .collect()
        };
        let loss_panel = Panel {
            title: "loss",
            lines: vec![
                ("training", TRAIN_COLOUR, series(|e| Some(e.train_loss))),
                ("held-out", VALIDATION_COLOUR, series(|e| e.validation_loss)),
            ],
            y_floor: Some(0.0),
            y_ceiling: None,
            legend_at_bottom: false,
        };
        let accuracy_panel = Panel {
            title: "accuracy",
            lines: vec![
                ("training", TRAIN_COLOUR, series(|e| e.train_accuracy)),
                (
                    "held-out",
                    VALIDATION_COLOUR,
                    series(|e| e.validation_accuracy),
                ),
            ],
            y_floor: None,
            y_ceiling: Some(1.0),
            legend_at_bottom: true,
        };
        let mut svg = String::new();
        let _ = write!(
            svg,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="26" font-size="17" text-anchor="middle">{}</text>
"##,
            WIDTH / 2.0,
            escape(title)
        );
        loss_panel.draw(&mut svg, 0.0);
        accuracy_panel.draw(&mut svg, WIDTH / 2.0);
        svg.push_str("</svg>\n");
        svg
    }

    /// Writes [`svg`](Self::svg) to `path`.
    pub fn write_svg(&self, path: impl AsRef<Path>, title: &str) -> std::io::Result<()> {
        std::fs::write(path, self.svg(title))
    }
}

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 400.0;
const TRAIN_COLOUR: &str = "#1f77b4";
const VALIDATION_COLOUR: &str = "#d62728";

/// A named line of a chart: name, colour, points (epoch, value).
type Line = (&'static str, &'static str, Vec<(f64, f64)>);

/// One chart: a frame, axes with ticks, and lines.
struct Panel {
    title: &'static str,
    lines: Vec<Line>,
    y_floor: Option<f64>,
    y_ceiling: Option<f64>,
    /// Loss falls (room at the top right), accuracy rises (room below).
    legend_at_bottom: bool,
}

impl Panel {
    fn draw(&self, svg: &mut String, left: f64) {
        // The plotting area inside the panel.
        let (x0, x1) = (left + 70.0, left + WIDTH / 2.0 - 20.0);
        let (y0, y1) = (HEIGHT - 60.0, 60.0);
        let points = self.lines.iter().flat_map(|(_, _, pts)| pts.iter());
        let (mut x_min, mut x_max, mut y_min, mut y_max) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in points.filter(|(_, y)| y.is_finite()) {
            x_min = x_min.min(x);
            x_max = x_max.max(x);
            y_min = y_min.min(y);
            y_max = y_max.max(y);
        }
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="50" font-size="14" text-anchor="middle">{}</text>"##,
            (x0 + x1) / 2.0,
            self.title
        );
        let _ = writeln!(
            svg,
            r##"<rect x="{x0}" y="{y1}" width="{}" height="{}" fill="none" stroke="#444"/>"##,
            x1 - x0,
            y0 - y1
        );
        if x_min > x_max {
            let _ = writeln!(
                svg,
                r##"<text x="{}" y="{}" font-size="12" text-anchor="middle" fill="#777">not measured</text>"##,
                (x0 + x1) / 2.0,
                (y0 + y1) / 2.0
            );
            return;
        }
        // Axis ranges: x over the epochs; y over the data with 5 % of room,
        // clamped to the panel's natural bounds (loss ≥ 0, accuracy ≤ 1).
        if x_max == x_min {
            x_max = x_min + 1.0;
        }
        let room = ((y_max - y_min) * 0.05).max(1e-3);
        y_min -= room;
        y_max += room;
        if let Some(floor) = self.y_floor {
            y_min = y_min.max(floor);
        }
        if let Some(ceiling) = self.y_ceiling {
            y_max = y_max.min(ceiling);
        }
        if y_max <= y_min {
            y_max = y_min + 1e-3;
        }
        let sx = |x: f64| x0 + (x - x_min) / (x_max - x_min) * (x1 - x0);
        let sy = |y: f64| y0 - (y - y_min) / (y_max - y_min) * (y0 - y1);

        for tick in nice_ticks(y_min, y_max, 6) {
            let y = sy(tick);
            let _ = writeln!(
                svg,
                r##"<line x1="{x0}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
                x0 - 6.0,
                y + 4.0,
                format_tick(tick)
            );
        }
        for tick in nice_ticks(x_min, x_max, 8)
            .into_iter()
            .filter(|t| t.fract() == 0.0)
        {
            let x = sx(tick);
            let _ = writeln!(
                svg,
                r##"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{}" stroke="#444"/><text x="{x:.1}" y="{}" font-size="11" text-anchor="middle">{}</text>"##,
                y0 + 5.0,
                y0 + 18.0,
                tick
            );
        }
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" font-size="12" text-anchor="middle">epoch</text>"##,
            (x0 + x1) / 2.0,
            y0 + 38.0
        );
        let drawn = self
            .lines
            .iter()
            .filter(|(_, _, pts)| !pts.is_empty())
            .count();
        let legend_top = if self.legend_at_bottom {
            y0 - 12.0 - 18.0 * drawn as f64
        } else {
            y1 + 8.0
        };
        let mut legend = String::new();
        if drawn > 0 {
            let _ = writeln!(
                legend,
                r##"<rect x="{}" y="{legend_top}" width="112" height="{}" fill="white" fill-opacity="0.85" stroke="#ccc"/>"##,
                x1 - 122.0,
                18.0 * drawn as f64 + 4.0
            );
        }
        let mut legend_y = legend_top + 12.0;
        for (name, colour, pts) in &self.lines {
            if pts.is_empty() {
                continue;
            }
            let path: Vec<String> = pts
                .iter()
                .filter(|(_, y)| y.is_finite())
                .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y.clamp(y_min, y_max))))
                .collect();
            let _ = writeln!(
                svg,
                r##"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"##,
                path.join(" ")
            );
            if pts.len() <= 40 {
                for p in &path {
                    let (cx, cy) = p.split_once(',').unwrap_or(("0", "0"));
                    let _ = writeln!(
                        svg,
                        r##"<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colour}"/>"##
                    );
                }
            }
            let _ = writeln!(
                legend,
                r##"<line x1="{}" y1="{legend_y}" x2="{}" y2="{legend_y}" stroke="{colour}" stroke-width="2"/><text x="{}" y="{}" font-size="12">{name}</text>"##,
                x1 - 110.0,
                x1 - 85.0,
                x1 - 80.0,
                legend_y + 4.0
            );
            legend_y += 18.0;
        }
        svg.push_str(&legend);
    }
}

/// Round tick values (1, 2 or 5 × 10ᵏ apart) covering `[low, high]`, about
/// `target` of them.
fn nice_ticks(low: f64, high: f64, target: usize) -> Vec<f64> {
    let raw = (high - low) / target.max(1) as f64;
    if !(raw.is_finite() && raw > 0.0) {
        return vec![low];
    }
    // 10^k by multiplications (exact for the powers of ten a chart needs),
    // not `powf`, whose last bits vary by platform (and under Miri).
    let exponent = raw.log10().floor() as i32;
    let power = (0..exponent.unsigned_abs()).fold(1.0f64, |p, _| p * 10.0);
    let magnitude = if exponent >= 0 { power } else { 1.0 / power };
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (low / step).ceil() as i64;
    let last = (high / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

fn format_tick(value: f64) -> String {
    let text = format!("{value:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize, loss: f64, accuracy: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            train_loss: loss,
            train_accuracy: None,
            validation_loss: None,
            validation_accuracy: Some(accuracy),
            learning_rate: 0.1,
            seconds: 2.0,
            samples_per_second: 100.0,
        }
    }

    #[test]
    fn ticks_are_round_numbers_inside_the_range() {
        assert_eq!(
            nice_ticks(0.0, 1.0, 5),
            [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(nice_ticks(1.0, 10.0, 8), [2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(format_tick(0.6000000000000001), "0.6");
        assert_eq!(format_tick(-0.0), "0");
    }

    #[test]
    fn svg_has_one_point_per_epoch_and_escapes_the_title() {
        let history = History {
            epochs: vec![
                record(1, 1.0, 0.5),
                record(2, 0.5, 0.75),
                record(3, 0.25, 0.9),
            ],
            ..History::default()
        };
        let svg = history.svg("iris <4-16-3>");
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("iris &lt;4-16-3&gt;"));
        // Loss: training line; accuracy: validation line; 3 points each.
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 6);
        // The accuracy panel with no training accuracy still draws its frame.
        assert_eq!(svg.matches("not measured").count(), 0);
        assert_eq!(history.mean_epoch_seconds(), 2.0);
        assert_eq!(history.train_losses(), [1.0, 0.5, 0.25]);
        assert_eq!(history.validation_accuracies(), [0.5, 0.75, 0.9]);
    }

    #[test]
    fn empty_history_draws_empty_panels() {
        let svg = History::default().svg("nothing");
        assert_eq!(svg.matches("not measured").count(), 2);
    }
}
