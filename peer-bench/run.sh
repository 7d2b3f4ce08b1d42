#!/usr/bin/env bash
# Runs the side-by-side benchmark of issue 5 (and the lenet and residual
# workloads of issues 10 and 9) and writes peer-bench/results.md and
# peer-bench/results-threads.md, every figure the median of interleaved
# rounds (--rounds N, default 3: every framework on every workload once,
# then again, ...) with the spread of the rounds:
#   1. chainrule alone in a default build (no target-cpu flag: what a user's
#      `cargo build --release` gets), into target/portable.tsv;
#   2. every framework (chainrule, hand-written loops, nalgebra, dfdx, candle,
#      burn) built with RUSTFLAGS="-C target-cpu=native", in one run, with the
#      figures of step 1 as the column "chainrule (default build)": one thread,
#      process CPU clock, the FMA peak measured before every workload
#      -> results.md;
#   3. chainrule on one thread and on two (its opt-in data-parallel step) on
#      the wall clock, digits, mnist and mnist3 -> results-threads.md.
# Extra arguments go to every run: --quick, --rounds N, --workloads
# xor,mnist,lenet, and --only chainrule,dfdx (step 3 ignores --only).
# Needs: a Rust toolchain (1.95 here), crates.io, ~4 GB in peer-bench/target.
# Build times on the shared 2-core machine (load 5-6 from other builds):
# adding burn (NdArray + Flex) to a warm dfdx + candle build took 63 minutes
# at `nice -n 19` with CARGO_BUILD_JOBS=1 (burn changes the features of
# shared crates such as half and serde, so candle and dfdx rebuild too);
# from nothing allow well over an hour. After that a rebuild of peer-bench
# takes about 1.5 minutes. A run takes about 3 minutes (--quick: under 1).
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release --no-default-features --target-dir target/portable
target/portable/release/peer-bench --only chainrule --emit target/portable.tsv "$@"
RUSTFLAGS="-C target-cpu=native" cargo build --release
target/release/peer-bench --portable target/portable.tsv "$@"
target/release/peer-bench --threads --out results-threads.md "$@"
