#!/usr/bin/env bash
# Compile-time figures of issue 5 (item 5), printed as a Markdown table:
#   1. a clean release build of the workspace (fresh target directory);
#   2. the incremental rebuild after editing an mnist-sized network, debug and release;
#   3. expansion time and size of `network!` for 2, 8 and 32 dense layers.
# Expansion is read with rustc's -Zunpretty=expanded and -Ztime-passes, which
# need RUSTC_BOOTSTRAP=1 on a stable toolchain (only for these measurements).
# Everything is built under peer-bench/target/compile-times (gitignored).
# Usage: peer-bench/compile-times.sh [--skip-clean]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$root/peer-bench/target/compile-times"
mkdir -p "$work"
export CARGO_TARGET_DIR="$work/target"

# Runs a command quietly; prints "wall | CPU" in seconds (CPU = user + system
# of all its processes: less sensitive than wall time to other load).
timed() {
    local TIMEFORMAT="%R %U %S" times
    times=$( { time "$@" >/dev/null 2>&1; } 2>&1 | tail -1)
    awk '{ printf "%.1f | %.1f", $1, $2 + $3 }' <<<"$times"
}

# A scratch crate depending on the runtime, with `src/main.rs` from stdin.
scratch() {
    local dir="$work/$1"
    mkdir -p "$dir/src"
    cat > "$dir/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
chainrule = { path = "$root/runtime" }
TOML
    cat > "$dir/src/main.rs"
    echo "$dir"
}

# A network of `$1` dense layers 64 → 64 (relu), softmax output, and a main
# that runs one training step so nothing is optimised away.
deep_network() {
    local layers=$1 i
    echo "use chainrule::prelude::*;"
    echo "network! {"
    echo "    pub struct Deep {"
    for ((i = 1; i < layers; i++)); do
        echo "        layer$i: Dense<64, 64> => relu,"
    done
    echo "        output: Dense<64, 10> => softmax,"
    echo "        loss: cross_entropy,"
    echo "    }"
    echo "}"
    cat <<'RS'
fn main() {
    let mut net = Deep::<f32>::new(1);
    let mut grads = net.gradients();
    let mut ws = net.workspace::<8>();
    let x = Matrix::<f32, 8, 64>::filled(0.5);
    let y = ClassLabels::<8, 10>::new([0, 1, 2, 3, 4, 5, 6, 7]).expect("labels < 10");
    let loss = net.backward(&x, &y, &mut grads, &mut ws);
    net.sgd_step(&grads, 0.01);
    println!("{loss}");
}
RS
}

mnist_network() {
    cat <<RS
use chainrule::prelude::*;
network! {
    pub struct Mnist {
        hidden: Dense<784, $1> => relu,
        output: Dense<$1, 10> => softmax,
        loss: cross_entropy,
    }
}
fn main() {
    let mut net = Mnist::<f32>::new(1);
    let mut grads = net.gradients();
    let mut ws = net.workspace::<64>();
    let x = Matrix::<f32, 64, 784>::filled(0.5);
    let y = ClassLabels::<64, 10>::from_slice(&[3; 64]).expect("labels < 10");
    let loss = net.backward(&x, &y, &mut grads, &mut ws);
    net.sgd_step(&grads, 0.01);
    println!("{loss}");
}
RS
}

echo "# Compile times"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(rustc -V)"
echo "- load while measuring: $(cut -d' ' -f1-3 /proc/loadavg) (other builds on the machine inflate the figures)"
echo

if [[ "${1:-}" != "--skip-clean" ]]; then
    clean_dir="$work/clean-target"
    rm -rf "$clean_dir"
    figures=$(CARGO_TARGET_DIR="$clean_dir" timed cargo build --release --workspace --manifest-path "$root/Cargo.toml")
    rm -rf "$clean_dir"
    echo "| measurement | wall (s) | CPU (s) |"
    echo "| --- | --- | --- |"
    echo "| clean release build of the workspace (\`cargo build --release --workspace\`, $(nproc) jobs) | $figures |"
else
    echo "| measurement | wall (s) | CPU (s) |"
    echo "| --- | --- | --- |"
fi

# Incremental: build once, then change the hidden width (128 → 129) and rebuild.
dir=$(mnist_network 128 | scratch ct-mnist)
for profile in dev release; do
    mnist_network 128 > "$dir/src/main.rs"
    cargo build --profile "$profile" --manifest-path "$dir/Cargo.toml" -q
    mnist_network 129 > "$dir/src/main.rs"
    figures=$(timed cargo build --profile "$profile" --manifest-path "$dir/Cargo.toml")
    echo "| incremental rebuild after editing an mnist-sized network ($profile profile) | $figures |"
done
echo

echo "| dense layers | expansion (s, rustc's macro_expand_crate) | expanded size (bytes) | expanded lines | \`cargo check\` of the crate, wall / CPU (s) | release build of the crate, wall / CPU (s) |"
echo "| --- | --- | --- | --- | --- | --- |"
for layers in 2 8 32; do
    dir=$(deep_network "$layers" | scratch "ct-deep$layers")
    # Dependencies first, so the timings below are the crate alone.
    cargo check --manifest-path "$dir/Cargo.toml" -q 2>/dev/null || true
    cargo build --release --manifest-path "$dir/Cargo.toml" -q 2>/dev/null || true
    # RUSTC_BOOTSTRAP changes the fingerprints: its builds get their own target
    # directory so the timed builds below stay incremental.
    touch "$dir/src/main.rs"
    expanded=$(CARGO_TARGET_DIR="$work/target-bootstrap" RUSTC_BOOTSTRAP=1 cargo rustc -q --profile=check --manifest-path "$dir/Cargo.toml" -- -Zunpretty=expanded 2>/dev/null)
    touch "$dir/src/main.rs"
    expand_time=$(CARGO_TARGET_DIR="$work/target-bootstrap" RUSTC_BOOTSTRAP=1 cargo rustc -q --profile=check --manifest-path "$dir/Cargo.toml" -- -Ztime-passes 2>&1 \
        | awk '/time: .*macro_expand_crate/ { gsub(";", "", $2); print $2; exit }')
    touch "$dir/src/main.rs"
    check=$(timed cargo check --manifest-path "$dir/Cargo.toml")
    touch "$dir/src/main.rs"
    release=$(timed cargo build --release --manifest-path "$dir/Cargo.toml")
    echo "| $layers | ${expand_time:-?} | $(printf %s "$expanded" | wc -c) | $(printf %s "$expanded" | wc -l) | ${check/ | / / } | ${release/ | / / } |"
done
