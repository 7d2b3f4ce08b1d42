//! What the examples share: where they write their files, the pictures
//! (training curves as SVG, the computational graph as DOT and SVG), the
//! weight-file round trip, and the final accuracy line.

#![allow(dead_code)] // each example uses its own part of this module

pub mod digits;
pub mod mnist;

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use chainrule::train::{History, Stop};
use chainrule::{weights, Network, Scalar};

/// Runs an example's body; prints an error with its message (not its
/// `Debug` form) and exits with failure.
pub fn main(run: fn() -> Result<(), Box<dyn Error>>) -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Where the examples write: `target/chainrule-out/` (inside the gitignored
/// `target/`), or `$CHAINRULE_OUT`.
pub fn output_dir() -> Result<PathBuf, Box<dyn Error>> {
    let dir = std::env::var_os("CHAINRULE_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/chainrule-out"));
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("creating the output folder {}: {e}", dir.display()))?;
    Ok(dir)
}

/// Writes the training curves to `NAME-curves.svg`.
pub fn write_curves(history: &History, name: &str, title: &str) -> Result<PathBuf, Box<dyn Error>> {
    let path = output_dir()?.join(format!("{name}-curves.svg"));
    history
        .write_svg(&path, title)
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    println!("training curves: {}", path.display());
    Ok(path)
}

/// Writes the network's computational graph (forward and backward) to
/// `NAME-graph.dot`, and renders it to `NAME-graph.svg` when Graphviz's `dot`
/// is installed (skipped with a note otherwise).
pub fn write_graph<N: Network<IN, OUT>, const IN: usize, const OUT: usize>(
    name: &str,
) -> Result<(), Box<dyn Error>> {
    let dir = output_dir()?;
    let dot_path = dir.join(format!("{name}-graph.dot"));
    std::fs::write(&dot_path, N::graph_dot())
        .map_err(|e| format!("writing {}: {e}", dot_path.display()))?;
    let svg_path = dir.join(format!("{name}-graph.svg"));
    match render_dot(&dot_path, &svg_path) {
        Ok(()) => println!(
            "computational graph: {} (rendered: {})",
            dot_path.display(),
            svg_path.display()
        ),
        Err(why) => println!(
            "computational graph: {} (not rendered: {why}; install Graphviz and run `dot -Tsvg`)",
            dot_path.display()
        ),
    }
    Ok(())
}

fn render_dot(dot_path: &Path, svg_path: &Path) -> Result<(), String> {
    let output = Command::new("dot")
        .arg("-Tsvg")
        .arg(dot_path)
        .arg("-o")
        .arg(svg_path)
        .output()
        .map_err(|_| "Graphviz's `dot` was not found".to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`dot` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Saves `net` to `NAME.safetensors`, loads it back and checks that the
/// reloaded network's outputs on `rows` are bit-for-bit those of `net`.
pub fn save_and_reload<N: Network<IN, OUT>, const IN: usize, const OUT: usize>(
    net: &N,
    name: &str,
    rows: &[[N::Scalar; IN]],
) -> Result<N, Box<dyn Error>> {
    let path = output_dir()?.join(format!("{name}.safetensors"));
    weights::save(net, &path)?;
    let reloaded: N = weights::load(&path)?;
    let before = net.predict(rows);
    let after = reloaded.predict(rows);
    let identical = before.len() == after.len()
        && before.iter().zip(&after).all(|(a, b)| {
            a.iter()
                .zip(b)
                .all(|(x, y)| x.to_f64().to_bits() == y.to_f64().to_bits())
        });
    if !identical {
        return Err(format!(
            "the network reloaded from {} does not give the same predictions",
            path.display()
        )
        .into());
    }
    println!(
        "weights: {} (reloaded: identical predictions on {} rows)",
        path.display(),
        rows.len()
    );
    Ok(reloaded)
}

/// Prints how training ended: every epoch run, or early stopping's last
/// and best epochs.
pub fn print_stop(history: &History) {
    match (history.stop, history.best_epoch) {
        (Stop::EarlyStopping { epoch }, Some(best)) => println!(
            "early stopping: no better validation loss for {} epochs after epoch {best}; stopped after epoch {epoch}, weights of epoch {best} kept",
            epoch - best
        ),
        (Stop::Hook { epoch }, _) => println!("stopped by the epoch hook after epoch {epoch}"),
        (_, Some(best)) => println!(
            "trained all {} epochs; weights of the best epoch ({best}) kept",
            history.epochs.len()
        ),
        _ => println!("trained all {} epochs", history.epochs.len()),
    }
}

/// Prints the line CI reads: `test accuracy: 0.9812`.
pub fn print_test_accuracy(accuracy: f64) {
    println!("test accuracy: {accuracy:.4}");
}

/// The CPU time this thread has used, in seconds: user + system time from
/// `/proc/thread-self/stat` (Linux; 1/100 s resolution), `None` elsewhere.
/// Unlike wall-clock time it does not grow when other programs share the
/// cores.
pub fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ, the unit of these fields, is 100 on Linux.
    Some((user + system) / 100.0)
}

/// Prints the time per epoch: the wall-clock time of the training steps (from
/// the history) and, when known, the CPU time of the whole training call
/// (steps and per-epoch evaluation) since `cpu_start`.
pub fn print_epoch_time(history: &History, cpu_start: Option<f64>) {
    let epochs = history.epochs.len().max(1) as f64;
    println!(
        "time per epoch: {} wall clock (training steps, one thread)",
        duration(history.mean_epoch_seconds())
    );
    match (cpu_start, thread_cpu_seconds()) {
        (Some(start), Some(now)) if now - start >= 0.5 => println!(
            "cpu time per epoch: {} (training steps and evaluation, one thread)",
            duration((now - start) / epochs)
        ),
        (Some(_), Some(_)) => {
            println!("cpu time per epoch: too short for the clock's 10 ms resolution")
        }
        _ => {}
    }
}

fn duration(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.2} ms", seconds * 1e3)
    } else {
        format!("{seconds:.2} s")
    }
}
