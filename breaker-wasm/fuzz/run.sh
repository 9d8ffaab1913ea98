#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60) on the pinned stable toolchain and fails
# on the first crash. Usage: breaker-wasm/fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# `--sanitizer none`: no -Zsanitizer, so stable Rust builds it; libFuzzer's coverage guidance
# (-Cpasses=sancov-module) needs no nightly.
for target in handle_bytes message_sequences json_validity stream_chunks batch_log; do
    mkdir -p "corpus/$target"
    seeds=()
    [ -d "seeds/$target" ] && seeds=("seeds/$target")
    cargo fuzz run --sanitizer none -O "$target" "corpus/$target" "${seeds[@]}" -- \
        -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
done
