#!/usr/bin/env bash
# S3 source throughput (issue 8): objects/s listed and synced from moto into osmem-server.
# Runs the e2e test `ten_thousand_keys_sync_completely` (tests/e2e/tests/s3.rs): seeds
# S3_E2E_OBJECTS small text objects (default 10,500) plus the awkward keys, then times two
# `tributary sync` processes end to end (start-up, listing, downloads, extraction, writes):
#   synced  the first run: every object listed, downloaded and indexed;
#   listed  the second run over the unchanged bucket: listed, content skipped by ETag;
#   floor   boto3 (16 threads) listing the same bucket, then GETting every object: what moto
#           itself allows.
# Uses TRIBUTARY_BIN when set, else <target>/release/tributary when it exists, else the debug
# build; s3.wasm must be in the component directory (make components).
#
# Usage: scripts/bench-s3.sh [objects]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
if [[ -z "${TRIBUTARY_BIN:-}" && -x "$TARGET/release/tributary" ]]; then
    export TRIBUTARY_BIN="$TARGET/release/tributary"
fi
export S3_E2E_OBJECTS="${1:-10500}"
echo "runner: ${TRIBUTARY_BIN:-$TARGET/debug/tributary}; objects: $S3_E2E_OBJECTS" >&2
cargo test -p tributary-e2e --test s3 -- --exact ten_thousand_keys_sync_completely --nocapture 2>&1 \
    | grep -E "^(seeded|S3 from moto|S3 floor)|test result"
