#!/usr/bin/env bash
# Content sync of a mixed tree of office files (issue 10): N files (default 2,000) made from the
# extraction corpus (tests/fixtures/extraction/corpus: PDF, Word, Excel, PowerPoint,
# OpenDocument, RTF, e-mail, HTML, plain text...), each one made distinct so that no two share
# an extraction: text formats get a line of their own, zip-based formats (OOXML, ODF, EPUB) an
# extra member, PDF a trailing comment; legacy OLE files (.doc .xls .ppt .msg) are copied as
# they are (identical content is extracted once per run, which the report counts as shared).
# The release runner syncs the tree from the emulator into `--dry-run /dev/null` with
# extraction on and the default concurrent_downloads, three times; wall clock and peak RSS
# come from GNU time. Writes nothing into the repository.
#
# Usage: scripts/bench-mixed-content.sh [files]
# Environment: CARGO_TARGET_DIR (default ./target), BENCH_PROFILE (release).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
FILES="${1:-2000}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
PROFILE="${BENCH_PROFILE:-release}"
TRIB="$TARGET/$PROFILE/tributary"
EMU="$TARGET/$PROFILE/dropbox-emulator"
export TRIBUTARY_COMPONENT_DIR="${TRIBUTARY_COMPONENT_DIR:-$TARGET/components}"
for f in "$TRIB" "$EMU" "$TRIBUTARY_COMPONENT_DIR/dropbox.wasm" "$TRIBUTARY_COMPONENT_DIR/extractor.wasm"; do
    [[ -e "$f" ]] || { echo "bench-mixed-content: $f not found (cargo build --release -p tributary -p dropbox-emulator; make components)" >&2; exit 1; }
done
[[ -x /usr/bin/time ]] || { echo "bench-mixed-content: GNU time is needed (apt-get install time)" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tributary-bench-mixed.XXXXXX")"
EMU_PID=""
cleanup() {
    [[ -n "$EMU_PID" ]] && kill "$EMU_PID" 2>/dev/null && wait "$EMU_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

python3 - "$ROOT/tests/fixtures/extraction/corpus" "$WORK/tree" "$FILES" <<'PY'
import os, shutil, sys, zipfile
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
corpus = sorted(f for f in os.listdir(src) if os.path.isfile(os.path.join(src, f)))
text = {".txt", ".md", ".markdown", ".rst", ".py", ".rb", ".sh", ".csv", ".tsv", ".json",
        ".html", ".aspx", ".xml", ".svg", ".eml"}
zips = {".docx", ".xlsx", ".xlsm", ".xlsb", ".pptx", ".potx", ".odt", ".ods", ".odp", ".epub",
        ".vsdx", ".vsdm"}
for i in range(n):
    name = corpus[i % len(corpus)]
    stem, ext = os.path.splitext(name)
    folder = os.path.join(dst, f"team{i % 20:02d}", f"batch{i // 200:02d}")
    os.makedirs(folder, exist_ok=True)
    out = os.path.join(folder, f"{stem}-{i:05d}{ext}")
    data = open(os.path.join(src, name), "rb").read()
    if ext == ".json" and data.rstrip().endswith(b"}"):
        # A line of its own would break the JSON: a member of its own instead.
        data = data.rstrip()[:-1] + f', "copy": {i}}}\n'.encode()
    elif ext in {".html", ".aspx", ".xml", ".svg"}:
        data = data + f"\n<!-- copy {i} -->\n".encode()
    elif ext in text:
        data = data + f"\ncopy {i}\n".encode()
    elif ext == ".pdf":
        data = data + f"\n% copy {i}\n".encode()
    elif ext == ".rtf":
        data = data + f"\n".encode() * (1 + i % 7) + f"{{\\*\\copy {i}}}".encode()
    if ext in zips:
        shutil.copyfile(os.path.join(src, name), out)
        with zipfile.ZipFile(out, "a") as z:
            z.writestr(f"tributary-bench/copy-{i}.txt", str(i))
    else:
        open(out, "wb").write(data)
PY
COUNT=$(find "$WORK/tree" -type f | wc -l)
BYTES=$(du -sb "$WORK/tree" | cut -f1)

"$EMU" --listen 127.0.0.1:0 --seed-dir "$WORK/tree" >"$WORK/emu.out" 2>"$WORK/emu.err" &
EMU_PID=$!
URL=""
for _ in $(seq 1 200); do
    URL="$(grep -o 'http://[0-9.:]*' "$WORK/emu.out" 2>/dev/null | head -n1 || true)"
    [[ -n "$URL" ]] && break
    sleep 0.05
done
[[ -n "$URL" ]] || { echo "bench-mixed-content: the emulator did not start: $(cat "$WORK/emu.err")" >&2; exit 1; }

cat >"$WORK/bench.toml" <<EOF
tenant = "mixed"
connector = "dropbox"
[source]
path = "/"
app_key = "emulator-app-key"
app_secret = "emulator-app-secret"
refresh_token = "emulator-refresh-token"
api_url = "$URL"
content_url = "$URL"
notify_url = "$URL"
oauth_url = "$URL"
web_url = "$URL"
EOF

echo "tree: $COUNT files, $BYTES bytes, from $(ls "$ROOT/tests/fixtures/extraction/corpus" | wc -l) corpus files; runner $TRIB"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for run in 1 2 3; do
    /usr/bin/time -v -o "$WORK/time.txt" "$TRIB" --cache-dir "$WORK/cache" sync --config "$WORK/bench.toml" \
        --dry-run /dev/null --full --quiet --report "$WORK/report.json" >/dev/null 2>"$WORK/sync.err" \
        || { echo "run $run failed:"; tail -5 "$WORK/sync.err"; }
    python3 - "$WORK/report.json" "$WORK/time.txt" "$run" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1]))
t = open(sys.argv[2]).read()
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", t).group(1)
parts = [float(p) for p in wall.split(":")]
secs = sum(p * 60 ** (len(parts) - 1 - i) for i, p in enumerate(parts))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
cpu = float(re.search(r"User time \(seconds\): (\S+)", t).group(1)) + float(re.search(r"System time \(seconds\): (\S+)", t).group(1))
keys = ["seen", "indexed", "downloads", "shared_extractions", "content_failures", "bytes_downloaded", "outcome"]
extra = {k: r.get(k) for k in keys if k in r}
print(f"run {sys.argv[3]}: {secs:.2f} s wall, {cpu:.2f} s CPU, peak RSS {rss:.1f} MB, "
      f"{r.get('seen', 0) / secs:.0f} docs/s; {json.dumps(extra)}; skipped {json.dumps(r.get('skipped', {}))}")
PY
done
