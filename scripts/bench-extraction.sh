#!/usr/bin/env bash
# Extraction throughput, sandbox vs native, and peak memory with 100 extractions in flight.
# The component and the native bench are release builds; the host example is the debug
# profile (dependencies at opt-level 1): the guest's code runs as Cranelift output either way.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --quiet --target wasm32-wasip2 -p content-extractor --release
cargo build --quiet --release -p content-extractor --example bench_native
cargo build --quiet -p tributary --example extract_bench
"$TARGET_DIR/debug/examples/extract_bench" \
  "$TARGET_DIR/wasm32-wasip2/release/content_extractor.wasm" \
  "$TARGET_DIR/release/examples/bench_native" \
  "${MIN_MILLIS:-1000}" tests/fixtures/extraction/corpus/*
