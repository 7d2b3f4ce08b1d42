//! chainrule side by side with its peers on the five workloads of issue 5.
//!
//! ```sh
//! peer-bench/run.sh            # both builds, the full table into peer-bench/results.md
//! ```
//!
//! One thread everywhere (`RAYON_NUM_THREADS=1` is set before any library
//! starts its pool). Every framework starts from the same weights and trains
//! on the same batch with the same plain SGD step; a check before timing
//! compares each framework's first two losses with the hand-written code's.

#[path = "../../benches/common/mod.rs"]
mod common;
mod peak;
mod peers;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

/// Time with the process's CPU clock (the default) or the wall clock.
static WALL_CLOCK: AtomicBool = AtomicBool::new(false);

/// Seconds on the chosen clock. The CPU clock (`CLOCK_PROCESS_CPUTIME_ID`,
/// all threads of the process) is what a step costs even when other programs
/// share the cores; on an idle machine both clocks agree for one thread.
fn clock() -> f64 {
    if WALL_CLOCK.load(Ordering::Relaxed) {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        return START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_secs_f64();
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write into.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

use common::data::{Workload, WORKLOADS};
use peers::{Runner, Setup};

struct Options {
    /// Seconds a timed sample lasts (5 samples a measurement).
    sample_secs: f64,
    only: Option<Vec<String>>,
    workloads: Option<Vec<String>>,
    out: String,
    emit: Option<String>,
    portable: Option<String>,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        sample_secs: 0.3,
        only: None,
        workloads: None,
        out: concat!(env!("CARGO_MANIFEST_DIR"), "/results.md").to_string(),
        emit: None,
        portable: None,
    };
    let mut args = std::env::args().skip(1);
    let list = |s: String| s.split(',').map(str::to_string).collect::<Vec<_>>();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--quick" => options.sample_secs = 0.03,
            "--wall" => WALL_CLOCK.store(true, Ordering::Relaxed),
            "--only" => options.only = Some(list(value()?)),
            "--workloads" => options.workloads = Some(list(value()?)),
            "--out" => options.out = value()?,
            "--emit" => options.emit = Some(value()?),
            "--portable" => options.portable = Some(value()?),
            "--help" | "-h" => {
                return Err(
                    "usage: peer-bench [--quick] [--wall] [--only chainrule,dfdx,…] \
                            [--workloads xor,mnist,…] [--out FILE] [--emit TSV] [--portable TSV]"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument {other} (try --help)")),
        }
    }
    Ok(options)
}

/// Calls per second of `f`: median of 5 timed samples after a calibration
/// that also warms up.
fn median_rate(mut f: impl FnMut(), sample_secs: f64) -> f64 {
    let mut calls = 1u64;
    let elapsed = loop {
        let start = clock();
        for _ in 0..calls {
            f();
        }
        let elapsed = clock() - start;
        if elapsed > sample_secs / 4.0 {
            break elapsed;
        }
        calls *= 2;
    };
    let calls = ((calls as f64 * sample_secs / elapsed).ceil() as u64).max(1);
    let mut rates: Vec<f64> = (0..5)
        .map(|_| {
            let start = clock();
            for _ in 0..calls {
                f();
            }
            calls as f64 / (clock() - start)
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[2]
}

/// One framework on one workload.
struct Measured {
    workload: &'static str,
    framework: String,
    /// Training samples per second.
    samples_per_sec: f64,
    /// Batch-1 inference latency, seconds.
    latency: f64,
    /// Loss before the first step and after it.
    losses: (f32, f32),
}

fn measure(name: &str, mut runner: Box<dyn Runner>, w: &Workload, sample_secs: f64) -> Measured {
    let first = runner.step();
    let second = runner.step();
    let steps = median_rate(
        || {
            std::hint::black_box(runner.step());
        },
        sample_secs,
    );
    let calls = median_rate(
        || {
            std::hint::black_box(runner.infer1());
        },
        sample_secs,
    );
    let last = runner.step();
    assert!(
        last.is_finite(),
        "{name} on {}: loss {last} after training",
        w.name
    );
    Measured {
        workload: w.name,
        framework: name.to_string(),
        samples_per_sec: steps * w.batch as f64,
        latency: 1.0 / calls,
        losses: (first, second),
    }
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut features = Vec::new();
    #[cfg(target_arch = "x86_64")]
    for (name, present) in [
        ("avx2", is_x86_feature_detected!("avx2")),
        ("fma", is_x86_feature_detected!("fma")),
        ("avx512f", is_x86_feature_detected!("avx512f")),
    ] {
        if present {
            features.push(name);
        }
    }
    format!("{model}, {cores} cores, {}", features.join("+"))
}

/// `YYYY-MM-DD HH:MM UTC` from the system clock.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

fn human(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2} M", rate / 1e6)
    } else if rate >= 1e3 {
        format!("{:.1} k", rate / 1e3)
    } else {
        format!("{rate:.0}")
    }
}

fn table(out: &mut String, header: &[String], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(
        out,
        "|{}",
        header.iter().map(|_| " --- |").collect::<String>()
    );
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out.push('\n');
}

fn report(
    results: &[Measured],
    workloads: &[Workload],
    peak: (f64, &str),
    opts: &Options,
) -> String {
    let mut names: Vec<String> = Vec::new();
    for r in results {
        if !names.contains(&r.framework) {
            names.push(r.framework.clone());
        }
    }
    let find = |w: &str, f: &str| results.iter().find(|r| r.workload == w && r.framework == f);
    let native = cfg!(target_feature = "avx2");
    let mut out = String::new();
    let _ = writeln!(out, "# peer-bench results\n");
    let _ = writeln!(out, "- date: {}", utc_now());
    let _ = writeln!(out, "- machine: {}", machine());
    let _ = writeln!(
        out,
        "- build: {} (AVX2 {} at compile time)",
        if native {
            "`RUSTFLAGS=\"-C target-cpu=native\"`"
        } else {
            "default target (no target-cpu flag)"
        },
        if native { "enabled" } else { "not enabled" }
    );
    let _ = writeln!(
        out,
        "- one thread (`RAYON_NUM_THREADS=1`), f32; median of 5 samples of {:.2} s each",
        opts.sample_secs
    );
    let _ = writeln!(
        out,
        "- single-core peak: {:.1} GFLOP/s ({})",
        peak.0, peak.1
    );
    let _ = writeln!(
        out,
        "- one training step = forward, loss, backward, plain SGD (lr {}); FLOPs per sample = 6·in·out per dense layer\n",
        common::data::LEARNING_RATE
    );

    let _ = writeln!(
        out,
        "## Training throughput, samples/s (higher is better)\n"
    );
    let header: Vec<String> = std::iter::once("workload".to_string())
        .chain(names.iter().cloned())
        .collect();
    let rows: Vec<Vec<String>> =
        workloads
            .iter()
            .map(|w| {
                std::iter::once(format!("{} (B={})", w.name, w.batch))
                    .chain(names.iter().map(|f| {
                        find(w.name, f).map_or("—".into(), |r| human(r.samples_per_sec))
                    }))
                    .collect()
            })
            .collect();
    table(&mut out, &header, &rows);

    if names.len() > 1 && names[0] == "chainrule" {
        let _ = writeln!(
            out,
            "## chainrule ÷ peer (training samples/s; above 1: chainrule is faster)\n"
        );
        let peers = &names[1..];
        let header: Vec<String> = std::iter::once("workload".to_string())
            .chain(peers.iter().cloned())
            .collect();
        let rows: Vec<Vec<String>> = workloads
            .iter()
            .map(|w| {
                let ours = find(w.name, "chainrule").map(|r| r.samples_per_sec);
                std::iter::once(w.name.to_string())
                    .chain(peers.iter().map(|f| match (ours, find(w.name, f)) {
                        (Some(ours), Some(r)) => format!("{:.2}×", ours / r.samples_per_sec),
                        _ => "—".into(),
                    }))
                    .collect()
            })
            .collect();
        table(&mut out, &header, &rows);
    }

    let _ = writeln!(out, "## GFLOP/s (% of the measured peak)\n");
    let header: Vec<String> = std::iter::once("workload".to_string())
        .chain(names.iter().cloned())
        .collect();
    let rows: Vec<Vec<String>> = workloads
        .iter()
        .map(|w| {
            std::iter::once(format!(
                "{} ({:.0} flop/sample)",
                w.name,
                w.flops_per_sample()
            ))
            .chain(names.iter().map(|f| {
                find(w.name, f).map_or("—".into(), |r| {
                    let gflops = r.samples_per_sec * w.flops_per_sample() / 1e9;
                    format!("{gflops:.2} ({:.0}%)", 100.0 * gflops / peak.0)
                })
            }))
            .collect()
        })
        .collect();
    table(&mut out, &header, &rows);

    let _ = writeln!(
        out,
        "## Batch-1 inference latency, µs (lower is better; through the output activation)\n"
    );
    let rows: Vec<Vec<String>> = workloads
        .iter()
        .map(|w| {
            let ours = find(w.name, "chainrule").map(|r| r.latency);
            std::iter::once(w.name.to_string())
                .chain(names.iter().map(|f| {
                    find(w.name, f).map_or("—".into(), |r| match ours {
                        Some(ours) if f != "chainrule" => {
                            format!("{:.3} ({:.1}×)", r.latency * 1e6, r.latency / ours)
                        }
                        _ => format!("{:.3}", r.latency * 1e6),
                    })
                }))
                .collect()
        })
        .collect();
    table(&mut out, &header, &rows);
    let _ = writeln!(out, "(×: the peer's latency ÷ chainrule's)\n");

    let _ = writeln!(
        out,
        "## Same computation? Loss before the first step / decrease after it\n"
    );
    let rows: Vec<Vec<String>> = workloads
        .iter()
        .map(|w| {
            let reference = find(w.name, "hand-written").map(|r| r.losses);
            std::iter::once(w.name.to_string())
                .chain(names.iter().map(|f| {
                    find(w.name, f).map_or("—".into(), |r| {
                        let (l0, l1) = r.losses;
                        let agrees = reference.is_none_or(|(h0, h1)| {
                            let close =
                                |a: f32, b: f32, tol: f32| (a - b).abs() <= tol * b.abs().max(1e-3);
                            close(l0, h0, 1e-4) && close(l0 - l1, h0 - h1, 0.05)
                        });
                        if r.losses.0.is_nan() {
                            "not run".into()
                        } else {
                            format!(
                                "{l0:.5} / {:.2e}{}",
                                l0 - l1,
                                if agrees { "" } else { " **differs**" }
                            )
                        }
                    })
                }))
                .collect()
        })
        .collect();
    table(&mut out, &header, &rows);
    out
}

fn run(opts: Options) {
    let selected = |list: &Option<Vec<String>>, name: &str| {
        list.as_ref().is_none_or(|l| l.iter().any(|n| n == name))
    };
    let workloads: Vec<Workload> = WORKLOADS
        .iter()
        .filter(|w| selected(&opts.workloads, w.name))
        .copied()
        .collect();
    eprintln!("measuring the single-core peak…");
    let mut peak = peak::measure();
    eprintln!("peak: {:.1} GFLOP/s", peak.0);

    let mut results = Vec::new();
    for w in &workloads {
        let batch = w.batch(w.batch);
        let params = w.initial_parameters();
        let setup = Setup {
            workload: w,
            batch: &batch,
            params: &params,
        };
        for framework in peers::frameworks() {
            // Two threads only mean something on the wall clock (the CPU
            // clock adds up both threads).
            let two_threads = framework.name == "chainrule 2 threads";
            if !selected(&opts.only, framework.name)
                || (two_threads && !WALL_CLOCK.load(Ordering::Relaxed))
            {
                continue;
            }
            eprint!("{:>7} {:<13}", w.name, framework.name);
            let measured = measure(
                framework.name,
                (framework.build)(&setup),
                w,
                opts.sample_secs,
            );
            eprintln!(
                " {:>10} samples/s  {:>9.3} µs/inference",
                human(measured.samples_per_sec),
                measured.latency * 1e6
            );
            results.push(measured);
            if framework.name == "chainrule" {
                if let Some(path) = &opts.portable {
                    results.extend(read_portable(path, w));
                }
            }
        }
    }

    // The clock of a shared or virtual machine drifts: measure the peak again
    // and keep the higher figure.
    peak.0 = peak.0.max(peak::measure().0);
    if let Some(path) = &opts.emit {
        let tsv: String = results
            .iter()
            .map(|r| {
                format!(
                    "{}\t{}\t{}\t{}\t{}\n",
                    r.workload, r.samples_per_sec, r.latency, r.losses.0, r.losses.1
                )
            })
            .collect();
        std::fs::write(path, tsv).unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
        eprintln!("wrote {path}");
        return;
    }
    let text = report(&results, &workloads, peak, &opts);
    print!("{text}");
    std::fs::write(&opts.out, &text).unwrap_or_else(|e| panic!("cannot write {}: {e}", opts.out));
    eprintln!("wrote {}", opts.out);
}

/// The chainrule figures of the default (portable) build, from `--emit`.
fn read_portable(path: &str, w: &Workload) -> Option<Measured> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split('\t').collect();
        (f.len() == 5 && f[0] == w.name).then(|| Measured {
            workload: w.name,
            framework: "chainrule (default build)".into(),
            samples_per_sec: f[1].parse().unwrap_or(f64::NAN),
            latency: f[2].parse().unwrap_or(f64::NAN),
            losses: (
                f[3].parse().unwrap_or(f32::NAN),
                f[4].parse().unwrap_or(f32::NAN),
            ),
        })
    })
}

fn main() {
    // One thread for every library that uses rayon (dfdx, candle, burn).
    std::env::set_var("RAYON_NUM_THREADS", "1");
    let opts = match parse_args() {
        Ok(opts) => opts,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    // nalgebra's SMatrix values pass through the stack on construction.
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || run(opts))
        .expect("spawn the benchmark thread")
        .join()
        .expect("benchmark thread");
}
