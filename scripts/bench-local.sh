#!/usr/bin/env bash
# Local-folder source throughput (issue 8): entries/s for a generated tree of N small text files
# (default 100,000 in 100 folders), metadata only and with content, against the floor in the
# same run: `bench-floor walk` (a plain recursive std::fs walk, like walkdir; `--read` also
# reads every file). The release runner syncs into `--dry-run /dev/null` (a full walk each
# run; the checkpoint is in memory), runs alternating with the floor's, three of each; wall
# clock and peak RSS from GNU time. Writes nothing into the repository.
#
# Usage: scripts/bench-local.sh [files]
# Environment: CARGO_TARGET_DIR (default ./target), BENCH_PROFILE (release).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
FILES="${1:-100000}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
PROFILE="${BENCH_PROFILE:-release}"
TRIB="$TARGET/$PROFILE/tributary"
FLOOR="$TARGET/$PROFILE/bench-floor"
export TRIBUTARY_COMPONENT_DIR="${TRIBUTARY_COMPONENT_DIR:-$TARGET/components}"
for f in "$TRIB" "$FLOOR" "$TRIBUTARY_COMPONENT_DIR/local-folder.wasm" "$TRIBUTARY_COMPONENT_DIR/extractor.wasm"; do
    [[ -e "$f" ]] || { echo "bench-local: $f not found (cargo build --release -p tributary -p bench-floor; make components)" >&2; exit 1; }
done
[[ -x /usr/bin/time ]] || { echo "bench-local: GNU time is needed (apt-get install time)" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tributary-bench-local.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
python3 - "$WORK/tree" "$FILES" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()
for i in range(n):
    d = os.path.join(root, f"d{i % 100:03d}")
    os.makedirs(d, exist_ok=True)
    body = " ".join(rng.choice(words) for _ in range(rng.randint(20, 400)))
    with open(os.path.join(d, f"f{i:06d}.txt"), "w") as f:
        f.write(f"file {i}\n{body}\n")
PY
echo "tree: $(find "$WORK/tree" -type f | wc -l) files, $(du -sb "$WORK/tree" | cut -f1) bytes; runner $TRIB; load $(cut -d' ' -f1-3 /proc/loadavg)"

config() { # $1 = extract (true/false)
    cat <<EOF
tenant = "local-bench"
connector = "local-folder"
[source]
root = "$WORK/tree"
[content]
extract = $1
EOF
}
config false >"$WORK/meta.toml"
config true >"$WORK/content.toml"

measure() { # label, command...
    local label="$1"; shift
    /usr/bin/time -v -o "$WORK/time.txt" "$@" >"$WORK/out.txt" 2>"$WORK/err.txt" \
        || { echo "$label failed:"; tail -5 "$WORK/err.txt"; return 1; }
    python3 - "$label" "$WORK/time.txt" "$WORK/out.txt" "$WORK/report.json" <<'PY'
import json, os, re, sys
label, t = sys.argv[1], open(sys.argv[2]).read()
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t).group(1)
parts = [float(p) for p in wall.split(":")]
secs = sum(p * 60 ** (len(parts) - 1 - i) for i, p in enumerate(parts))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
if label.startswith("floor"):
    n = json.loads(open(sys.argv[3]).read())["entries"]
else:
    r = json.load(open(sys.argv[4]))
    n = r["seen"]
    assert r["outcome"] == "ok", r["outcome"]
print(f"{label:<18} {secs:7.2f} s wall  {n / secs:9.0f} entries/s  peak RSS {rss:6.1f} MB  ({n} entries)")
PY
}

for run in 1 2 3; do
    measure "floor walk" "$FLOOR" walk --root "$WORK/tree"
    measure "tributary meta" "$TRIB" --cache-dir "$WORK/cache" sync --config "$WORK/meta.toml" \
        --dry-run /dev/null --full --quiet --report "$WORK/report.json"
    measure "floor walk+read" "$FLOOR" walk --root "$WORK/tree" --read
    measure "tributary content" "$TRIB" --cache-dir "$WORK/cache" sync --config "$WORK/content.toml" \
        --dry-run /dev/null --full --quiet --report "$WORK/report.json"
done
