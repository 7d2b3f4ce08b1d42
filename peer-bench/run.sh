#!/usr/bin/env bash
# Runs the side-by-side benchmark and writes peer-bench/results.md.
#   1. chainrule alone in a default build (no target-cpu flag: what a user's
#      `cargo build --release` gets), into target/portable.tsv;
#   2. every framework built with RUSTFLAGS="-C target-cpu=native", in one run,
#      with the figures of step 1 as the column "chainrule (default build)".
# Extra arguments go to both runs: --quick, --workloads xor,mnist, --only chainrule,dfdx.
# The first build compiles dfdx, candle and burn: allow 30+ minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release --no-default-features --target-dir target/portable
target/portable/release/peer-bench --only chainrule --emit target/portable.tsv "$@"
RUSTFLAGS="-C target-cpu=native" cargo build --release
target/release/peer-bench --portable target/portable.tsv "$@"
