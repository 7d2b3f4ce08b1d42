//! Sets `cfg(chainrule_avx2)` where the AVX2 + FMA kernels are compiled: on
//! x86-64 with std (the CPU is asked at run time), or without std when the
//! target enables both features at compile time (`-C
//! target-feature=+avx2,+fma`). Targets without SSE such as
//! `x86_64-unknown-none` cannot compile that code at all.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(chainrule_avx2)");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let features = var("CARGO_CFG_TARGET_FEATURE");
    let has = |feature: &str| features.split(',').any(|f| f == feature);
    let std = std::env::var_os("CARGO_FEATURE_STD").is_some();
    if var("CARGO_CFG_TARGET_ARCH") == "x86_64" && (std || (has("avx2") && has("fma"))) {
        println!("cargo::rustc-cfg=chainrule_avx2");
    }
}
