//! f32 matrix products at the MNIST sizes and at small sizes, in GFLOP/s,
//! each against a naive single-accumulator dot-product loop measured in the
//! same run, plus the single-core FMA peak for a "% of peak" figure.
//!
//! `cargo bench -p chainrule --bench matmul` runs criterion, then prints a
//! summary table (GFLOP/s, ratio to the naive loop, % of peak).
//! `cargo test -p chainrule --benches` runs every case once (smoke mode).

use std::hint::black_box;
use std::time::{Duration, Instant};

use chainrule::kernels::{self, Backend};
use chainrule::Scalar;
use criterion::{criterion_group, Criterion, Throughput};

/// One product `c (m×n) = op(a)·op(b)`.
#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    m: usize,
    n: usize,
    k: usize,
    a_transposed: bool,
    b_transposed: bool,
}

impl Case {
    fn flops(self) -> u64 {
        2 * (self.m * self.n * self.k) as u64
    }
}

/// A `Case` in the form a dense layer's product takes.
const fn case(name: &'static str, (m, n, k): (usize, usize, usize), a_t: bool, b_t: bool) -> Case {
    Case {
        name,
        m,
        n,
        k,
        a_transposed: a_t,
        b_transposed: b_t,
    }
}

/// A dense layer 784→128 on a batch of 64 (weights out×in), the products of
/// a digits step (64→32→10, batch 32) and of the mnist output layer
/// (128→10, batch 64), larger ones of mnist3 (784→256→128, batch 128), and
/// small ones.
const CASES: [Case; 21] = [
    case("mnist3_dw1_dz1t_x", (256, 784, 128), true, false),
    case("mnist3_fwd_a1_w2t", (128, 128, 256), false, true),
    case("mnist3_dw2_dz2t_a1", (128, 256, 128), true, false),
    case("digits_fwd_x_w1t", (32, 32, 64), false, true),
    case("digits_fwd_a1_w2t", (32, 10, 32), false, true),
    case("digits_dw2_dz2t_a1", (10, 32, 32), true, false),
    case("digits_da1_dz2_w2", (32, 32, 10), false, false),
    case("digits_dw1_dz1t_x", (32, 64, 32), true, false),
    case("mnist_fwd_a1_w2t", (64, 10, 128), false, true),
    case("mnist_dw2_dz2t_a1", (10, 128, 64), true, false),
    case("mnist_da1_dz2_w2", (64, 128, 10), false, false),
    // Z = X·Wᵀ: X 64×784, W 128×784.
    Case {
        name: "mnist_forward_x_wt",
        m: 64,
        n: 128,
        k: 784,
        a_transposed: false,
        b_transposed: true,
    },
    // dW = dZᵀ·X: dZ 64×128, X 64×784.
    Case {
        name: "mnist_weight_grad_dzt_x",
        m: 128,
        n: 784,
        k: 64,
        a_transposed: true,
        b_transposed: false,
    },
    // dX = dZ·W: dZ 64×128, W 128×784.
    Case {
        name: "mnist_input_grad_dz_w",
        m: 64,
        n: 784,
        k: 128,
        a_transposed: false,
        b_transposed: false,
    },
    // A batch of one through the same layer.
    Case {
        name: "batch1_forward_x_wt",
        m: 1,
        n: 128,
        k: 784,
        a_transposed: false,
        b_transposed: true,
    },
    Case {
        name: "small_16x4_4x16",
        m: 16,
        n: 16,
        k: 4,
        a_transposed: false,
        b_transposed: false,
    },
    Case {
        name: "tiny_4x2_2x8",
        m: 4,
        n: 8,
        k: 2,
        a_transposed: false,
        b_transposed: false,
    },
    // Around the size where the direct loops give way to the blocked product.
    Case {
        name: "square_8",
        m: 8,
        n: 8,
        k: 8,
        a_transposed: false,
        b_transposed: true,
    },
    Case {
        name: "square_16",
        m: 16,
        n: 16,
        k: 16,
        a_transposed: false,
        b_transposed: true,
    },
    Case {
        name: "square_24",
        m: 24,
        n: 24,
        k: 24,
        a_transposed: false,
        b_transposed: true,
    },
    Case {
        name: "square_32",
        m: 32,
        n: 32,
        k: 32,
        a_transposed: false,
        b_transposed: true,
    },
];

/// The operands of a case, filled with small deterministic values.
struct Operands {
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
}

impl Operands {
    fn new(case: Case) -> Self {
        let fill = |len: usize, seed: usize| -> Vec<f32> {
            (0..len)
                .map(|i| ((i * 7 + seed) % 23) as f32 / 23.0 - 0.5)
                .collect()
        };
        Operands {
            a: fill(case.m * case.k, 1),
            b: fill(case.k * case.n, 5),
            c: vec![0.0; case.m * case.n],
        }
    }
}

/// The baseline: one dot product per entry with a single accumulator, so
/// every add waits for the previous one.
fn naive(case: Case, a: &[f32], b: &[f32], c: &mut [f32]) {
    let Case {
        m,
        n,
        k,
        a_transposed,
        b_transposed,
        ..
    } = case;
    for i in 0..m {
        for j in 0..n {
            let mut sum = 0.0f32;
            for p in 0..k {
                let x = if a_transposed {
                    a[p * m + i]
                } else {
                    a[i * k + p]
                };
                let y = if b_transposed {
                    b[j * k + p]
                } else {
                    b[p * n + j]
                };
                sum += x * y;
            }
            c[i * n + j] = sum;
        }
    }
}

/// One way to compute a case into its operands' `c`.
type Variant = fn(Case, &mut Operands);

/// What is measured for each case: the crate's product (as the networks
/// call it), the blocked product with the portable micro-kernel forced, the
/// direct loops, and the naive baseline.
fn variants() -> Vec<(&'static str, Variant)> {
    vec![
        ("chainrule", |case, o| {
            f32::gemm(
                case.m,
                case.n,
                case.k,
                &o.a,
                case.a_transposed,
                &o.b,
                case.b_transposed,
                &mut o.c,
                false,
            )
        }),
        ("blocked_avx2", |case, o| {
            kernels::gemm_blocked_f32(
                Backend::Avx2Fma,
                case.m,
                case.n,
                case.k,
                &o.a,
                case.a_transposed,
                &o.b,
                case.b_transposed,
                &mut o.c,
                false,
            )
        }),
        ("small_avx2", |case, o| {
            kernels::gemm_small_f32(
                case.m,
                case.n,
                case.k,
                &o.a,
                case.a_transposed,
                &o.b,
                case.b_transposed,
                &mut o.c,
                false,
            )
        }),
        ("blocked_portable", |case, o| {
            kernels::gemm_blocked_f32(
                Backend::Portable,
                case.m,
                case.n,
                case.k,
                &o.a,
                case.a_transposed,
                &o.b,
                case.b_transposed,
                &mut o.c,
                false,
            )
        }),
        ("direct", |case, o| {
            kernels::gemm_direct(
                case.m,
                case.n,
                case.k,
                &o.a,
                case.a_transposed,
                &o.b,
                case.b_transposed,
                &mut o.c,
                false,
            )
        }),
        ("naive", |case, o| naive(case, &o.a, &o.b, &mut o.c)),
    ]
}

fn products(c: &mut Criterion) {
    for case in CASES {
        let mut group = c.benchmark_group(case.name);
        group.throughput(Throughput::Elements(case.flops()));
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        let mut operands = Operands::new(case);
        for (name, run) in variants() {
            group.bench_function(name, |bench| {
                bench.iter(|| {
                    run(case, black_box(&mut operands));
                })
            });
        }
        group.finish();
    }
}

/// Independent FMA chains, enough to cover the latency on two FMA pipes.
const CHAINS: usize = 12;
/// Steps per chain in one call.
const PEAK_STEPS: usize = 1000;
/// FLOPs of one [`fma_peak`] call (8 lanes, multiply and add).
const PEAK_FLOPS: u64 = (CHAINS * PEAK_STEPS * 8 * 2) as u64;

/// Runs [`PEAK_STEPS`] 256-bit FMAs on each of [`CHAINS`] independent
/// accumulators; `None` without AVX2 + FMA.
fn fma_peak(seed: f32) -> Option<f32> {
    #[cfg(target_arch = "x86_64")]
    if Backend::Avx2Fma.is_supported() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return Some(unsafe { fma_chains(seed) });
    }
    let _ = seed;
    None
}

/// # Safety
/// The CPU has AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_chains(seed: f32) -> f32 {
    use std::arch::x86_64::*;
    let mul = _mm256_set1_ps(0.999_9);
    let add = _mm256_set1_ps(seed);
    let mut acc = [_mm256_set1_ps(seed); CHAINS];
    for _ in 0..PEAK_STEPS {
        for a in acc.iter_mut() {
            *a = _mm256_fmadd_ps(*a, mul, add);
        }
    }
    let mut sum = _mm256_setzero_ps();
    for a in acc {
        sum = _mm256_add_ps(sum, a);
    }
    let mut lanes = [0.0f32; 8];
    _mm256_storeu_ps(lanes.as_mut_ptr(), sum);
    lanes.iter().sum()
}

fn peak(c: &mut Criterion) {
    if fma_peak(0.0).is_none() {
        return;
    }
    let mut group = c.benchmark_group("fma_peak");
    group.throughput(Throughput::Elements(PEAK_FLOPS));
    group.bench_function("avx2_fma_chains", |bench| {
        bench.iter(|| fma_peak(black_box(0.5)))
    });
    group.finish();
}

/// The CPU time this thread has used, in seconds: unlike the wall clock it
/// does not count the time other processes hold the core, so the figures
/// stay comparable on a busy machine.
#[cfg(unix)]
fn thread_seconds() -> f64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    now.tv_sec as f64 + now.tv_nsec as f64 * 1e-9
}

/// The wall clock since the first call, where no thread CPU clock exists.
#[cfg(not(unix))]
fn thread_seconds() -> f64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64()
}

/// Best GFLOP/s of `run` over several batches of about 40 ms of thread CPU
/// time.
fn gflops(flops: u64, mut run: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < Duration::from_millis(20) {
        run();
        calls += 1;
    }
    let per_batch = (calls * 2).max(1);
    let mut best = f64::INFINITY;
    for _ in 0..9 {
        let start = thread_seconds();
        for _ in 0..per_batch {
            run();
        }
        best = best.min((thread_seconds() - start) / per_batch as f64);
    }
    flops as f64 / best / 1e9
}

/// The table of the report: GFLOP/s per case and variant, the ratio to the
/// naive loop, and the share of the FMA peak.
fn summary() {
    let peak = fma_peak(0.0).map(|_| {
        gflops(PEAK_FLOPS, || {
            black_box(fma_peak(black_box(0.5)));
        })
    });
    match peak {
        Some(p) => {
            println!("\nsingle-core f32 FMA peak (256-bit, {CHAINS} chains): {p:.1} GFLOP/s")
        }
        None => println!("\nno AVX2 + FMA: no peak measured"),
    }
    println!("backend: {:?}", Backend::detected());
    println!(
        "{:<26} {:<17} {:>9} {:>9} {:>8}",
        "product", "variant", "GFLOP/s", "x naive", "% peak"
    );
    for case in CASES {
        let mut operands = Operands::new(case);
        let results: Vec<(&str, f64)> = variants()
            .into_iter()
            .map(|(name, run)| {
                (
                    name,
                    gflops(case.flops(), || run(case, black_box(&mut operands))),
                )
            })
            .collect();
        let naive = results
            .iter()
            .find(|r| r.0 == "naive")
            .map_or(f64::NAN, |r| r.1);
        for (name, rate) in results {
            let share = peak.map_or(String::from("-"), |p| format!("{:.0}%", 100.0 * rate / p));
            println!(
                "{:<26} {:<17} {:>9.2} {:>9.1} {:>8}",
                case.name,
                name,
                rate,
                rate / naive,
                share
            );
        }
    }
}

criterion_group!(benches, products, peak);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // Only a real benchmark run (`cargo bench` passes `--bench`) prints the
    // summary; the smoke run of `cargo test --benches` stays quick.
    // `--profile-time` (a run under a profiler) skips it too.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|arg| arg == "--bench") && !args.iter().any(|arg| arg == "--profile-time") {
        summary();
    }
}
