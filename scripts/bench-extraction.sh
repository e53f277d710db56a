#!/usr/bin/env bash
# Extraction throughput, sandbox vs native, and peak memory with 100 extractions in flight.
# The component and the native bench are release builds; the host example is the debug
# profile (dependencies at opt-level 1, as the workspace sets) with the host crate itself at
# opt-level 2: wasmtime's generic lowering code (copying the bytes into the guest) is
# instantiated in the host crate and is a per-byte loop unoptimised. A release build of
# wasmtime takes 10+ minutes on a 2-core machine; the guest's code runs as Cranelift output
# either way. HOST_OPT_LEVEL=0 measures the plain debug host.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --quiet --target wasm32-wasip2 -p content-extractor --release
cargo build --quiet --release -p content-extractor --example bench_native
cargo build --quiet -p tributary --example extract_bench \
  --config "profile.dev.package.tributary.opt-level=${HOST_OPT_LEVEL:-2}"
"$TARGET_DIR/debug/examples/extract_bench" \
  "$TARGET_DIR/wasm32-wasip2/release/content_extractor.wasm" \
  "$TARGET_DIR/release/examples/bench_native" \
  "${MIN_MILLIS:-1000}" tests/fixtures/extraction/corpus/*
