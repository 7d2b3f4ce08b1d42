//! The single-core floating-point peak, measured with independent FMA chains.

/// Independent accumulator chains: enough to cover the FMA latency on every
/// x86 core of the last decade (latency 4–5 cycles × 2 pipes) without spilling.
const CHAINS: usize = 12;

/// The peak of one core in GFLOP/s, and how it was measured.
pub fn measure() -> (f64, &'static str) {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            let gflops = best_of(|iters| {
                // SAFETY: the CPU has AVX2 and FMA (checked just above).
                let sink = unsafe { fma_avx2(iters) };
                std::hint::black_box(sink);
                (iters * CHAINS as u64 * 8 * 2) as f64
            });
            return (
                gflops,
                "12 independent chains of 256-bit FMA (AVX2+FMA, detected at run time)",
            );
        }
    }
    let gflops = best_of(|iters| {
        std::hint::black_box(portable(iters));
        (iters * CHAINS as u64 * 8 * 2) as f64
    });
    (
        gflops,
        "12 independent chains of 8-lane multiply-add (portable code, no FMA)",
    )
}

/// The 512-bit FMA peak of one core in GFLOP/s (12 independent chains of
/// AVX-512F FMA), or `None` when the CPU has no AVX-512F. Not exercised on
/// the AVX2-only machine the figures of this repository come from.
pub fn measure_512() -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            return Some(best_of(|iters| {
                // SAFETY: the CPU has AVX-512F (checked just above).
                let sink = unsafe { fma_avx512(iters) };
                std::hint::black_box(sink);
                (iters * CHAINS as u64 * 16 * 2) as f64
            }));
        }
    }
    None
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_avx512(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let a = _mm512_set1_ps(0.999_999);
    let b = _mm512_set1_ps(1.0e-7);
    let mut acc = [_mm512_set1_ps(1.0); CHAINS];
    for _ in 0..iters {
        for acc in acc.iter_mut() {
            *acc = _mm512_fmadd_ps(*acc, a, b);
        }
    }
    let mut total = _mm512_setzero_ps();
    for acc in acc {
        total = _mm512_add_ps(total, acc);
    }
    _mm512_reduce_add_ps(total)
}

/// The best of 5 runs of ~0.1 s each, in GFLOP/s (a peak: the fastest run is
/// the one least disturbed); `run(iters)` returns the flops done. About 0.6 s
/// in all, short enough to repeat before every workload.
fn best_of(mut run: impl FnMut(u64) -> f64) -> f64 {
    let mut iters = 1u64 << 14;
    loop {
        let start = crate::clock();
        run(iters);
        if crate::clock() - start > 0.02 {
            break;
        }
        iters *= 2;
    }
    iters *= 5;
    let mut rates: Vec<f64> = (0..5)
        .map(|_| {
            let start = crate::clock();
            let flops = run(iters);
            flops / (crate::clock() - start) / 1e9
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[4]
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_avx2(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let a = _mm256_set1_ps(0.999_999);
    let b = _mm256_set1_ps(1.0e-7);
    let mut acc = [_mm256_set1_ps(1.0); CHAINS];
    for _ in 0..iters {
        for acc in acc.iter_mut() {
            *acc = _mm256_fmadd_ps(*acc, a, b);
        }
    }
    let mut total = _mm256_setzero_ps();
    for acc in acc {
        total = _mm256_add_ps(total, acc);
    }
    let mut lanes = [0.0f32; 8];
    _mm256_storeu_ps(lanes.as_mut_ptr(), total);
    lanes.iter().sum()
}

fn portable(iters: u64) -> f32 {
    let (a, b) = (
        std::hint::black_box(0.999_999f32),
        std::hint::black_box(1.0e-7f32),
    );
    let mut acc = [[1.0f32; 8]; CHAINS];
    for _ in 0..iters {
        for chain in acc.iter_mut() {
            for lane in chain.iter_mut() {
                *lane = *lane * a + b;
            }
        }
    }
    acc.iter().flatten().sum()
}
