//! chainrule side by side with its peers on the five workloads of issue 5
//! and the `lenet` (issue 10) and `residual` (issue 9) workloads:
//! hand-written loops, a nalgebra `SMatrix` network, dfdx 0.13, candle 0.11
//! and burn 0.22 (NdArray and Flex backends), one thread, f32, in
//! interleaved rounds (`--rounds N`, default 3: every framework on every
//! workload once, then again, …; medians and spread of the rounds).
//!
//! ```sh
//! peer-bench/run.sh                          # all builds and runs: results.md, results-threads.md
//! peer-bench/run.sh --quick --workloads mnist --only chainrule,burn-flex
//! ```
//!
//! Not a member of the workspace (`cargo test --workspace` never builds it).
//! Features `dfdx`, `candle` and `burn` (all default) pull in the peers; the
//! first build needs crates.io, ~4 GB of disk and, on a shared 2-core
//! machine, over an hour (see run.sh); `--no-default-features`
//! keeps chainrule, the hand-written loops and nalgebra only.
//!
//! One thread everywhere (`RAYON_NUM_THREADS=1` is set before any library
//! starts its pool), timed on the process's CPU clock (`--wall`: wall clock).
//! Every framework starts from the same weights and trains on the same batch
//! with the same plain SGD step; a check before timing compares each
//! framework's first two losses with the hand-written code's. The FMA peak is
//! measured before every workload (the clock of a virtual machine moves with
//! load) and "% of peak" uses the highest measurement. GFLOP/s are given
//! twice: by issue 5's count (6·in·out per dense layer) and by the FLOPs
//! executed (the first layer needs no input gradient: 4·in·out).
//! `--threads` instead writes the wall-clock table of chainrule on one and
//! two threads.

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

use common::data::{Workload, NEW_WORKLOADS, WORKLOADS};
use peers::{Runner, Setup};

struct Options {
    /// Seconds a timed sample lasts (5 samples a measurement).
    sample_secs: f64,
    only: Option<Vec<String>>,
    workloads: Option<Vec<String>>,
    out: String,
    emit: Option<String>,
    portable: Option<String>,
    /// The two-thread table instead of the side-by-side one.
    threads: bool,
    /// Interleaved rounds: every framework on every workload once, then
    /// again, …; the tables give the median of the rounds and their spread.
    rounds: usize,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        sample_secs: 0.3,
        only: None,
        workloads: None,
        out: concat!(env!("CARGO_MANIFEST_DIR"), "/results.md").to_string(),
        emit: None,
        portable: None,
        threads: false,
        rounds: 3,
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
            "--threads" => options.threads = true,
            "--rounds" => {
                options.rounds = value()?
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or("--rounds needs a positive count")?
            }
            "--help" | "-h" => {
                return Err(
                    "usage: peer-bench [--quick] [--wall] [--rounds N] [--only chainrule,dfdx,…] \
                            [--workloads xor,mnist,…] [--out FILE] [--emit TSV] [--portable TSV] \
                            [--threads]"
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
    /// Training samples per second: the median of the rounds.
    samples_per_sec: f64,
    /// Batch-1 inference latency, seconds: the median of the rounds.
    latency: f64,
    /// Loss before the first step and after it.
    losses: (f32, f32),
    /// Each round's samples/s (each the median of 5 samples), in order.
    round_rates: Vec<f64>,
    /// Each round's latency.
    round_latencies: Vec<f64>,
}

impl Measured {
    /// `(min, max)` of the rounds' samples/s.
    fn rate_spread(&self) -> (f64, f64) {
        spread(&self.round_rates)
    }
}

/// The median of a list (the mean of the middle two for an even count).
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// `(min, max)` of a list.
fn spread(values: &[f64]) -> (f64, f64) {
    values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
        (lo.min(v), hi.max(v))
    })
}

/// The single-core peak, measured before every workload and once at the end:
/// the clock of a shared or virtual machine moves with load, so one
/// measurement can be far below what the core reaches a minute later.
struct Peaks {
    /// How the peak is measured.
    method: &'static str,
    /// (when, GFLOP/s): "round 1, before xor", …, "at the end".
    measured: Vec<(String, f64)>,
    /// The 512-bit FMA peak at the same moments (AVX-512F CPUs only).
    measured_512: Vec<f64>,
}

impl Peaks {
    fn measure(&mut self, when: String) {
        let (gflops, method) = peak::measure();
        eprintln!("peak {when}: {gflops:.1} GFLOP/s");
        if let Some(wide) = peak::measure_512() {
            eprintln!("512-bit peak {when}: {wide:.1} GFLOP/s");
            self.measured_512.push(wide);
        }
        self.method = method;
        self.measured.push((when, gflops));
    }

    /// The highest measurement: the denominator of every "% of peak".
    fn max(&self) -> f64 {
        self.measured.iter().map(|m| m.1).fold(f64::NAN, f64::max)
    }

    fn min(&self) -> f64 {
        self.measured.iter().map(|m| m.1).fold(f64::NAN, f64::min)
    }
}

/// FLOPs per sample the way issue 5 counts them (its targets' definition):
/// 6·in·out per dense layer (forward, input gradient, weight gradient).
fn issue_flops_per_sample(w: &Workload) -> f64 {
    w.flops_per_sample()
}

/// FLOPs per sample actually executed: no framework computes the gradient
/// with respect to the network's input, so the first layer costs 4·in·out
/// (forward and weight gradient) and each later one 6·in·out (for a
/// convolution: its forward count, 2·out·in·k²·positions, twice or three
/// times). Bias, activation, pooling, loss and update are left out, as in
/// the issue's count.
fn executed_flops_per_sample(w: &Workload) -> f64 {
    w.executed_flops_per_sample()
}

/// One framework set up on one workload, measured once a round.
struct Entry {
    measured: Measured,
    runner: Box<dyn Runner>,
    batch: usize,
}

/// Builds the runner and records its first two losses (the check that every
/// framework computes the same thing).
fn prepare(name: &str, mut runner: Box<dyn Runner>, w: &Workload) -> Entry {
    let first = runner.step();
    let second = runner.step();
    Entry {
        measured: Measured {
            workload: w.name,
            framework: name.to_string(),
            samples_per_sec: f64::NAN,
            latency: f64::NAN,
            losses: (first, second),
            round_rates: Vec::new(),
            round_latencies: Vec::new(),
        },
        runner,
        batch: w.batch,
    }
}

/// One round of one entry: training steps, then batch-1 inference.
fn measure_round(entry: &mut Entry, sample_secs: f64) {
    let runner = &mut entry.runner;
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
    let m = &mut entry.measured;
    assert!(
        last.is_finite(),
        "{} on {}: loss {last} after training",
        m.framework,
        m.workload
    );
    m.round_rates.push(steps * entry.batch as f64);
    m.round_latencies.push(1.0 / calls);
    m.samples_per_sec = median(&m.round_rates);
    m.latency = median(&m.round_latencies);
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

fn report(results: &[Measured], workloads: &[Workload], peaks: &Peaks, opts: &Options) -> String {
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
        "- one thread (`RAYON_NUM_THREADS=1`), f32, {} interleaved rounds (every framework \
         on every workload once, then again, …); a round's figure is the median of 5 \
         samples of {:.2} s; the tables give the **median of the rounds** and, in \
         parentheses, the lowest and highest round",
        opts.rounds, opts.sample_secs
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let _ = writeln!(
        out,
        "- load average at the end of the run (1, 5, 15 min): {}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(
        out,
        "- single-core peak: **{:.1} GFLOP/s**, the highest of {} measurements \
         (one before each workload in every round, one at the end; range {:.1}–{:.1}: \
         the clock moves with load); {}. Every \"% of peak\" below uses the highest.",
        peaks.max(),
        peaks.measured.len(),
        peaks.min(),
        peaks.max(),
        peaks.method
    );
    let wide = if peaks.measured_512.is_empty() {
        "no AVX-512F on this CPU: the 256-bit peak is the widest; chainrule's \
         kernels ran their AVX2 + FMA (256-bit) path, whose peak every \"% of peak\" uses"
            .to_string()
    } else {
        let (lo, hi) = spread(&peaks.measured_512);
        format!(
            "512-bit FMA peak (AVX-512F, 12 chains): {hi:.1} GFLOP/s (range {lo:.1}–{hi:.1}); \
             chainrule has no AVX-512 kernels, so its widest path in this run was \
             AVX2 + FMA (256-bit), whose peak every \"% of peak\" uses"
        )
    };
    let _ = writeln!(out, "- {wide}");
    let _ = writeln!(
        out,
        "- the peak measurements in order: {}",
        peaks
            .measured
            .iter()
            .map(|(when, g)| format!("{g:.1} {when}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        out,
        "- one training step = forward, loss, backward, plain SGD (lr {}).",
        common::data::LEARNING_RATE
    );
    let _ = writeln!(
        out,
        "- FLOPs per sample, two counts: **issue 5's count** (the targets' definition, \
         the headline) is 6·in·out per dense layer; **executed** counts what is \
         computed: 4·in·out for the first layer (no framework computes the gradient \
         with respect to the input) and 6·in·out for the others. A convolution \
         counts as a dense layer of its product: forward 2·out·in·k²·positions \
         (lenet: 833 k forward FLOPs per image). Bias, activation, pooling, loss and \
         update are in neither.\n"
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
                        find(w.name, f).map_or("—".into(), |r| {
                            let (lo, hi) = r.rate_spread();
                            if r.round_rates.len() > 1 {
                                format!("{} ({}–{})", human(r.samples_per_sec), human(lo), human(hi))
                            } else {
                                human(r.samples_per_sec)
                            }
                        })
                    }))
                    .collect()
            })
            .collect();
    table(&mut out, &header, &rows);

    if names.len() > 1 && names[0] == "chainrule" {
        let _ = writeln!(
            out,
            "## chainrule ÷ peer (training samples/s; above 1: chainrule is faster): \
             ratio of the medians (lowest–highest ratio within one round)\n"
        );
        let peers = &names[1..];
        let header: Vec<String> = std::iter::once("workload".to_string())
            .chain(peers.iter().cloned())
            .collect();
        let rows: Vec<Vec<String>> = workloads
            .iter()
            .map(|w| {
                let ours = find(w.name, "chainrule");
                std::iter::once(w.name.to_string())
                    .chain(peers.iter().map(|f| match (ours, find(w.name, f)) {
                        (Some(ours), Some(r)) => {
                            let per_round: Vec<f64> = ours
                                .round_rates
                                .iter()
                                .zip(&r.round_rates)
                                .map(|(a, b)| a / b)
                                .collect();
                            let ratio = ours.samples_per_sec / r.samples_per_sec;
                            if per_round.len() > 1 {
                                let (lo, hi) = spread(&per_round);
                                format!("{ratio:.2}× ({lo:.2}–{hi:.2})")
                            } else {
                                format!("{ratio:.2}×")
                            }
                        }
                        _ => "—".into(),
                    }))
                    .collect()
            })
            .collect();
        table(&mut out, &header, &rows);
    }

    type FlopCount = fn(&Workload) -> f64;
    let counts: [(&str, FlopCount); 2] = [
        (
            "issue 5's count, 6·in·out per layer",
            issue_flops_per_sample,
        ),
        (
            "executed FLOPs, 4·in·out for the first layer",
            executed_flops_per_sample,
        ),
    ];
    for (title, flops_per_sample) in counts {
        let _ = writeln!(
            out,
            "## GFLOP/s (% of the {:.1} GFLOP/s peak), {title}\n",
            peaks.max()
        );
        let rows: Vec<Vec<String>> = workloads
            .iter()
            .map(|w| {
                let flops = flops_per_sample(w);
                std::iter::once(format!("{} ({flops:.0} flop/sample)", w.name))
                    .chain(names.iter().map(|f| {
                        find(w.name, f).map_or("—".into(), |r| {
                            let gflops = r.samples_per_sec * flops / 1e9;
                            format!("{gflops:.2} ({:.0}%)", 100.0 * gflops / peaks.max())
                        })
                    }))
                    .collect()
            })
            .collect();
        table(&mut out, &header, &rows);
    }

    let _ = writeln!(
        out,
        "## Batch-1 inference latency, µs (lower is better; through the output activation; \
         median of the rounds)\n"
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
            // The hand-written loops where they exist (the MLPs), else chainrule.
            let reference = find(w.name, "hand-written")
                .or_else(|| find(w.name, "chainrule"))
                .map(|r| r.losses);
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

fn run(mut opts: Options) {
    if opts.threads {
        // The speed-up of two threads is a wall-clock figure (the CPU clock
        // adds up both threads); the small workloads only show the overhead.
        WALL_CLOCK.store(true, Ordering::Relaxed);
        opts.only = Some(vec!["chainrule".into(), "chainrule 2 threads".into()]);
        opts.workloads
            .get_or_insert_with(|| vec!["digits".into(), "mnist".into(), "mnist3".into()]);
    }
    let selected = |list: &Option<Vec<String>>, name: &str| {
        list.as_ref().is_none_or(|l| l.iter().any(|n| n == name))
    };
    let workloads: Vec<Workload> = WORKLOADS
        .iter()
        .chain(&NEW_WORKLOADS)
        .filter(|w| selected(&opts.workloads, w.name))
        .copied()
        .collect();
    // The peak only matters for the side-by-side table.
    let with_peak = opts.emit.is_none() && !opts.threads;
    let mut peaks = Peaks {
        method: "",
        measured: Vec::new(),
        measured_512: Vec::new(),
    };

    // Every runner is built (and its first two losses recorded) first;
    // then the rounds: all of them once, then again, … so that a noisy
    // minute of the shared machine hits every framework alike.
    let mut entries: Vec<Entry> = Vec::new();
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
                || !(framework.supports)(w)
                || (two_threads && !WALL_CLOCK.load(Ordering::Relaxed))
            {
                continue;
            }
            entries.push(prepare(framework.name, (framework.build)(&setup), w));
        }
    }
    for round in 1..=opts.rounds {
        let mut last_workload = "";
        for entry in &mut entries {
            let workload = entry.measured.workload;
            if with_peak && workload != last_workload {
                peaks.measure(format!("round {round}, before {workload}"));
            }
            last_workload = workload;
            eprint!("round {round} {workload:>8} {:<20}", entry.measured.framework);
            measure_round(entry, opts.sample_secs);
            let m = &entry.measured;
            eprintln!(
                " {:>10} samples/s  {:>9.3} µs/inference",
                human(*m.round_rates.last().unwrap_or(&f64::NAN)),
                m.round_latencies.last().unwrap_or(&f64::NAN) * 1e6
            );
        }
    }
    let mut results = Vec::new();
    for entry in entries {
        let is_chainrule = entry.measured.framework == "chainrule";
        let workload = entry.measured.workload;
        results.push(entry.measured);
        if is_chainrule {
            if let Some(path) = &opts.portable {
                if let Some(w) = workloads.iter().find(|w| w.name == workload) {
                    results.extend(read_portable(path, w));
                }
            }
        }
    }

    if let Some(path) = &opts.emit {
        let tsv: String = results
            .iter()
            .map(|r| {
                let rounds: String = r.round_rates.iter().map(|v| format!("\t{v}")).collect();
                format!(
                    "{}\t{}\t{}\t{}\t{}{rounds}\n",
                    r.workload, r.samples_per_sec, r.latency, r.losses.0, r.losses.1
                )
            })
            .collect();
        std::fs::write(path, tsv).unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
        eprintln!("wrote {path}");
        return;
    }
    let text = if opts.threads {
        report_threads(&results, &workloads, &opts)
    } else {
        peaks.measure("at the end".into());
        report(&results, &workloads, &peaks, &opts)
    };
    print!("{text}");
    std::fs::write(&opts.out, &text).unwrap_or_else(|e| panic!("cannot write {}: {e}", opts.out));
    eprintln!("wrote {}", opts.out);
}

/// The two-thread table (`--threads`): chainrule's one-thread step against
/// its data-parallel step on two threads, on the wall clock.
fn report_threads(results: &[Measured], workloads: &[Workload], opts: &Options) -> String {
    let find = |w: &str, f: &str| results.iter().find(|r| r.workload == w && r.framework == f);
    let mut out = String::new();
    let _ = writeln!(out, "# peer-bench: chainrule on one and two threads\n");
    let _ = writeln!(out, "- date: {}", utc_now());
    let _ = writeln!(out, "- machine: {}", machine());
    let _ = writeln!(
        out,
        "- build: {}",
        if cfg!(target_feature = "avx2") {
            "`RUSTFLAGS=\"-C target-cpu=native\"`"
        } else {
            "default target (no target-cpu flag)"
        }
    );
    let _ = writeln!(
        out,
        "- wall clock, f32; median of 5 samples of {:.2} s each; two threads = \
         `chainrule::parallel::ParallelTrainer`: half the batch on each thread, \
         gradients summed, then the same SGD step. Other load on the machine \
         takes a core away from the second thread and lowers the speed-up.\n",
        opts.sample_secs
    );
    let header: Vec<String> = [
        "workload",
        "1 thread, samples/s",
        "2 threads, samples/s",
        "speed-up",
        "first loss, 1 / 2 threads",
    ]
    .map(String::from)
    .to_vec();
    let rows: Vec<Vec<String>> = workloads
        .iter()
        .map(|w| {
            let one = find(w.name, "chainrule");
            let two = find(w.name, "chainrule 2 threads");
            let rate = |r: Option<&Measured>| r.map_or("—".into(), |r| human(r.samples_per_sec));
            let (speedup, losses) = match (one, two) {
                (Some(one), Some(two)) => {
                    let (a, b) = (one.losses.0, two.losses.0);
                    let agree = (a - b).abs() <= 1e-4 * a.abs().max(1e-3);
                    (
                        format!("{:.2}×", two.samples_per_sec / one.samples_per_sec),
                        format!("{a:.5} / {b:.5}{}", if agree { "" } else { " **differs**" }),
                    )
                }
                _ => ("—".into(), "—".into()),
            };
            vec![
                format!("{} (B={})", w.name, w.batch),
                rate(one),
                rate(two),
                speedup,
                losses,
            ]
        })
        .collect();
    table(&mut out, &header, &rows);
    out
}

/// The chainrule figures of the default (portable) build, from `--emit`.
fn read_portable(path: &str, w: &Workload) -> Option<Measured> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split('\t').collect();
        (f.len() >= 5 && f[0] == w.name).then(|| Measured {
            workload: w.name,
            framework: "chainrule (default build)".into(),
            samples_per_sec: f[1].parse().unwrap_or(f64::NAN),
            latency: f[2].parse().unwrap_or(f64::NAN),
            round_rates: f[5..].iter().filter_map(|v| v.parse().ok()).collect(),
            round_latencies: Vec::new(),
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
