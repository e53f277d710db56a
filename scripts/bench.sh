#!/usr/bin/env bash
# Throughput benchmarks for tributary: the release runner + the Dropbox component, against the
# Dropbox API emulator (tests/dropbox-emulator), a near-zero-cost `_bulk` stand-in and
# osmem-server. `make bench` builds everything and runs this script; the method and the last
# recorded figures are in docs/benchmarks.md.
#
# The floor is built in: `bench-floor` (scripts/bench-floor) lists, and for content downloads,
# the same tree from the same emulator in the same run, with the runner's requests and nothing
# else; its runs alternate with the runner's, and the runner's time is reported as a multiple
# of it. The runner writes to `bench-floor bulk-sink`, which answers every `_bulk` item at once
# and passes everything else (index creation, checkpoints, counts) on to osmem-server.
#
# Scenarios (issue targets in brackets):
#   1  metadata-only full sync of generated trees (--sizes, default 100k and 1M files)
#      [<= 2x the listing floor; peak RSS flat from the smallest to the largest]
#   2  content sync, 9,000 x 20 KB text files in 10,000 entries, concurrent_downloads = 100
#      [<= 3.5x the list+download floor; peak RSS <= 64 MB]; and peak RSS of content syncs of
#      generated trees (--content-sizes) [flat]
#   3  documents/s into osmem-server: the runner's metadata sync against the Elastic
#      connector's documents for the same tree bulked by a plain client [runner >= Elastic]
#   4  incremental after 1 % of a generated tree changed (files/upload), into the stand-in
#      [<= 3 % of the full sync's time; list_folder/continue calls <= changes/2000 + 2]
#   5  the emulator's own throughput (emulator-bench)
#   6  watch latency (a change in Dropbox until it is searchable)
#
# Every measured run is repeated (--runs, default 3) and the median is reported. Wall clock is
# measured around the whole process (start-up, component instantiation from the compile cache,
# OAuth, listing, downloads, writes); peak RSS and CPU come from GNU time -v.
# Nothing is written into the repository unless --write-doc is given (it replaces the block
# between the bench-results markers of docs/benchmarks.md).
#
# Usage: scripts/bench.sh [--runs N] [--only 1,2,3,4,5,6] [--sizes "100000 1000000"]
#                         [--content-sizes "100000 1000000"] [--osmem-sizes "20000 100000"]
#                         [--incr-files N] [--quick] [--write-doc]
# Environment: CARGO_TARGET_DIR (default ./target), TRIBUTARY_BIN, DROPBOX_EMULATOR_BIN,
#              EMULATOR_BENCH_BIN, BENCH_FLOOR_BIN, OSMEM_SERVER_BIN,
#              BENCH_SYNC_TIMEOUT (seconds per sync, 900).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

RUNS=3
ONLY="1,2,3,4,5,6"
SIZES="100000 1000000"
CONTENT_SIZES="100000 1000000"
OSMEM_SIZES="20000 100000"
INCR_FILES=100000
CONTENT_FILES=9000
CONTENT_ENTRIES=10000
WRITE_DOC=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) RUNS="$2"; shift 2 ;;
        --only) ONLY="$2"; shift 2 ;;
        --sizes) SIZES="$2"; shift 2 ;;
        --content-sizes) CONTENT_SIZES="$2"; shift 2 ;;
        --osmem-sizes) OSMEM_SIZES="$2"; shift 2 ;;
        --incr-files) INCR_FILES="$2"; shift 2 ;;
        --content-files) CONTENT_FILES="$2"; CONTENT_ENTRIES=$(( $2 * 10 / 9 )); shift 2 ;;
        --quick) RUNS=1; SIZES="5000 20000"; CONTENT_SIZES="5000 20000"; OSMEM_SIZES="2000"; INCR_FILES=5000; CONTENT_FILES=900; CONTENT_ENTRIES=1000; shift ;;
        --write-doc) WRITE_DOC=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

TARGET="${CARGO_TARGET_DIR:-target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
PROFILE="${BENCH_PROFILE:-release}"
TRIB="${TRIBUTARY_BIN:-$TARGET/$PROFILE/tributary}"
EMU="${DROPBOX_EMULATOR_BIN:-$TARGET/$PROFILE/dropbox-emulator}"
EMU_BENCH="${EMULATOR_BENCH_BIN:-$TARGET/$PROFILE/emulator-bench}"
FLOOR="${BENCH_FLOOR_BIN:-$TARGET/$PROFILE/bench-floor}"
export TRIBUTARY_COMPONENT_DIR="${TRIBUTARY_COMPONENT_DIR:-$TARGET/components}"
# The runner is measured as it is deployed, without RUST_BACKTRACE. With it set, every error
# wasmtime builds captures a stack trace, among them the one it builds when a store is dropped
# with a fiber still suspended; the unwinding pages in about 1 MB of unwind tables and cost the
# content sync 1.5-3 MB of peak RSS (docs/benchmarks.md, run H).
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
SYNC_TIMEOUT="${BENCH_SYNC_TIMEOUT:-900}"
GEN_REST="depth=6,fanout=10,seed=7,max_size=1048576,paper=0.01,text=0.8"

die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
want() { [[ ",$ONLY," == *",$1,"* ]]; }

[[ -x "$TRIB" ]] || die "$TRIB not found: cargo build --release -p tributary -p dropbox-emulator (or make bench)"
[[ -x "$EMU" ]] || die "$EMU not found: cargo build --release -p tributary -p dropbox-emulator"
[[ -x "$FLOOR" ]] || die "$FLOOR not found: cargo build --release -p bench-floor"
[[ -f "$TRIBUTARY_COMPONENT_DIR/dropbox.wasm" ]] || die "$TRIBUTARY_COMPONENT_DIR/dropbox.wasm not found: make components"
[[ -f "$TRIBUTARY_COMPONENT_DIR/extractor.wasm" ]] || die "$TRIBUTARY_COMPONENT_DIR/extractor.wasm not found: make components"
OSMEM="${OSMEM_SERVER_BIN:-$(python3 -c 'import osmem_server,os;print(os.path.dirname(osmem_server.__file__))' 2>/dev/null)/bin/osmem-server}"
[[ -x "$OSMEM" ]] || die "osmem-server not found: pip install osmem-server==0.1.6 (or set OSMEM_SERVER_BIN)"
if ! [[ -x /usr/bin/time ]] || ! /usr/bin/time -v true >/dev/null 2>&1; then
    echo "bench: GNU time missing; installing the Debian 'time' package" >&2
    if command -v apt-get >/dev/null; then
        apt-get install -y -qq time >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq time >/dev/null 2>&1; } || true
    fi
    [[ -x /usr/bin/time ]] || die "GNU time (/usr/bin/time -v) is needed for peak RSS: apt-get install time"
fi
command -v curl >/dev/null || die "curl is needed"
command -v timeout >/dev/null || die "timeout (coreutils) is needed"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tributary-bench.XXXXXX")"
CACHE="$WORK/component-cache"
EMU_PID=""
ES_PID=""
ES_FIFO_OPEN=0
SINK_PID=""
stop_emulator() {
    if [[ -n "$EMU_PID" ]]; then
        kill "$EMU_PID" 2>/dev/null || true
        wait "$EMU_PID" 2>/dev/null || true
        EMU_PID=""
    fi
}
stop_osmem() {
    if [[ -n "$ES_PID" ]]; then
        kill "$ES_PID" 2>/dev/null || true
        wait "$ES_PID" 2>/dev/null || true
        ES_PID=""
    fi
    if [[ "$ES_FIFO_OPEN" == 1 ]]; then
        exec 9>&-
        ES_FIFO_OPEN=0
    fi
}
stop_sink() {
    if [[ -n "$SINK_PID" ]]; then
        kill "$SINK_PID" 2>/dev/null || true
        wait "$SINK_PID" 2>/dev/null || true
        SINK_PID=""
    fi
}
cleanup() {
    stop_emulator
    stop_sink
    stop_osmem
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# ---------------------------------------------------------------------------------------------
# Python helper: records, medians, uploads, markdown.
HELPER="$WORK/bench_helper.py"
cat >"$HELPER" <<'PY'
import json, os, re, statistics, sys, urllib.request, urllib.parse, http.client

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def load(path):
    out = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.strip():
                    out.append(json.loads(line))
    return out

def cmd_record(label, report, timefile, t0, t1, load_before):
    rep = json.load(open(report)) if os.path.exists(report) else {}
    rss_kb = None
    cpu = 0.0
    for line in open(timefile):
        if "Maximum resident set size" in line:
            rss_kb = int(line.rsplit(":", 1)[1])
        elif "User time (seconds)" in line or "System time (seconds)" in line:
            cpu += float(line.rsplit(":", 1)[1])
    wall = float(t1) - float(t0)
    rec = {"label": label, "wall": wall, "rss_mb": rss_kb / 1024 if rss_kb else None,
           "cpu_s": cpu, "load": load_before}
    for k in ("mode", "outcome", "seen", "indexed", "unchanged_content", "downloads",
              "shared_extractions", "bytes_downloaded", "api_calls", "duration_secs", "docs_per_sec", "pages",
              "skipped", "content_failures", "write_failures"):
        rec[k] = rep.get(k)
    print(json.dumps(rec))

def cmd_record_floor(label, out_file, timefile, t0, t1, load_before):
    """A floor run: the client's own JSON line plus wall clock, CPU and RSS."""
    out = {}
    for line in open(out_file):
        if line.strip().startswith("{"):
            out = json.loads(line)
    rss_kb, cpu = None, 0.0
    for line in open(timefile):
        if "Maximum resident set size" in line:
            rss_kb = int(line.rsplit(":", 1)[1])
        elif "User time (seconds)" in line or "System time (seconds)" in line:
            cpu += float(line.rsplit(":", 1)[1])
    rec = {"label": label, "wall": float(t1) - float(t0), "rss_mb": rss_kb / 1024 if rss_kb else None,
           "cpu_s": cpu, "load": load_before, "seen": out.get("entries"),
           "downloads": out.get("downloads"), "bytes_downloaded": out.get("bytes")}
    print(json.dumps(rec))

def cmd_sinkstats(url, label, runs_file):
    """Attach the stand-in's counters (since its last reset) to run `label`."""
    s = json.load(urllib.request.urlopen(url + "/_bench/stats"))
    urllib.request.urlopen(urllib.request.Request(url + "/_bench/reset", method="POST")).read()
    rs = load(runs_file)
    for r in rs:
        if r["label"] == label:
            r["sink"] = s
            docs = s["index"] + s["update"]
            r["bulk_bytes"] = s["bulk_bytes"]
            r["bytes_per_doc"] = s["bulk_bytes"] / docs if docs else None
    with open(runs_file, "w") as f:
        for r in rs:
            f.write(json.dumps(r) + "\n")

def cmd_ratio(a, b):
    print("n/a" if a in ("n/a", "None") or b in ("n/a", "None") or float(b) == 0 else round(float(a) / float(b), 2))

def cmd_content_manifest(path, files, entries, size):
    """`files` text files of `size` bytes, distinct contents, spread over `entries - files`
    folders (so the tree has `entries` entries)."""
    import random
    files, entries, size = int(files), int(entries), int(size)
    folders = max(1, entries - files - 1)  # plus /bench itself
    rnd = random.Random(7)
    words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 10)))
             for _ in range(5000)]
    corpus, length = [], 0
    while length < 4 * 1024 * 1024:
        line = " ".join(rnd.choice(words) for _ in range(12)) + ".\n"
        corpus.append(line)
        length += len(line)
    corpus = "".join(corpus)
    out = []
    for i in range(files):
        head = "Benchmark document %06d\n" % i
        off = (i * 7919) % (len(corpus) - size)
        out.append({"path": "/bench/dir-%04d/file-%06d.txt" % (i % folders, i),
                    "content": (head + corpus[off:off + size])[:size]})
    json.dump({"files": out}, open(path, "w"))

def cmd_summary(runs_file, label_prefix):
    rs = [r for r in load(runs_file) if r["label"].startswith(label_prefix)]
    if not rs:
        print("{}")
        return
    s = {"n": len(rs), "label": label_prefix}
    for k in ("wall", "cpu_s", "rss_mb", "seen", "indexed", "downloads", "shared_extractions",
              "bytes_downloaded", "api_calls",
              "duration_secs", "pages", "list_continue", "list_calls", "requests",
              "bytes_per_doc", "bulk_bytes"):
        s[k] = med([r.get(k) for r in rs])
    s["walls"] = [round(r["wall"], 3) for r in rs]
    s["rss_all"] = [round(r["rss_mb"], 1) if r.get("rss_mb") else None for r in rs]
    s["loads"] = [r.get("load") for r in rs]
    s["modes"] = sorted({r.get("mode") or "?" for r in rs})
    s["outcomes"] = sorted({r.get("outcome") or "?" for r in rs})
    # rates per run, then the median (not the ratio of medians)
    s["seen_per_s"] = med([r["seen"] / r["wall"] for r in rs if r.get("seen") is not None])
    s["seen_per_s_report"] = med([r["seen"] / r["duration_secs"] for r in rs
                                  if r.get("seen") is not None and r.get("duration_secs")])
    s["dl_per_s"] = med([r["downloads"] / r["wall"] for r in rs if r.get("downloads") is not None])
    s["indexed_per_s"] = med([r["indexed"] / r["wall"] for r in rs if r.get("indexed") is not None])
    s["mb_per_s"] = med([r["bytes_downloaded"] / 1e6 / r["wall"] for r in rs
                         if r.get("bytes_downloaded") is not None])
    print(json.dumps(s))

def cmd_annotate(runs_file, label, key, value):
    rs = load(runs_file)
    for r in rs:
        if r["label"] == label:
            r[key] = json.loads(value)
    with open(runs_file, "w") as f:
        for r in rs:
            f.write(json.dumps(r) + "\n")

def cmd_stat(url, route):
    s = json.load(urllib.request.urlopen(url + "/_admin/stats"))
    if route == "total":
        print(s.get("total_requests", 0))
    else:
        print(s.get("routes", {}).get(route, {}).get("count", 0))

def cmd_manifest(path, n, size):
    """n text files of `size` bytes with distinct content (identical content would be
    downloaded once and shared by the runner, which is not what this scenario measures)."""
    import random
    n, size = int(n), int(size)
    rnd = random.Random(7)
    words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 10)))
             for _ in range(5000)]
    corpus = []
    length = 0
    while length < 4 * 1024 * 1024:
        line = " ".join(rnd.choice(words) for _ in range(12)) + ".\n"
        corpus.append(line)
        length += len(line)
    corpus = "".join(corpus)
    files = []
    for i in range(n):
        head = "Benchmark document %06d\n" % i
        off = (i * 7919) % (len(corpus) - size)
        files.append({"path": "/bench/dir-%03d/file-%06d.txt" % (i % 50, i),
                      "content": (head + corpus[off:off + size])[:size]})
    json.dump({"files": files}, open(path, "w"))

def cmd_change(url, fraction, round_no, out):
    """Overwrite `fraction` of the (non-Paper) files through files/upload; print the count."""
    tree = json.load(urllib.request.urlopen(url + "/_admin/tree"))
    files = sorted(e["path_display"] for e in tree["entries"]
                   if e.get(".tag") == "file" and not e["path_display"].endswith(".paper"))
    step = max(1, round(1 / float(fraction)))
    round_no = int(round_no)
    picked = files[(round_no * 37) % step::step]
    u = urllib.parse.urlsplit(url)
    form = urllib.parse.urlencode({"grant_type": "refresh_token",
                                   "refresh_token": "emulator-refresh-token",
                                   "client_id": "emulator-app-key",
                                   "client_secret": "emulator-app-secret"})
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    conn.request("POST", "/oauth2/token", body=form,
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    token = json.loads(conn.getresponse().read())["access_token"]
    for p in picked:
        body = ("benchmark change, round %d, %s\n" % (round_no, p)).encode()
        conn.request("POST", "/2/files/upload", body=body, headers={
            "Authorization": "Bearer " + token,
            "Dropbox-API-Arg": json.dumps({"path": p, "mode": "overwrite"}),
            "Content-Type": "application/octet-stream"})
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            sys.exit("upload %s: HTTP %d" % (p, r.status))
    with open(out, "w") as f:
        f.write(str(len(picked)))
    print(len(picked))

def cmd_esbulk(es_url, manifest):
    """The server's own ceiling: the manifest's files as {path, body} documents, plain _bulk
    requests of <= 5 MB / 1000 actions over one keep-alive connection, then _refresh."""
    import time
    files = json.load(open(manifest))["files"]
    u = urllib.parse.urlsplit(es_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=900)
    def req(method, path, body=None, ctype="application/json"):
        conn.request(method, path, body=body, headers={"Content-Type": ctype})
        r = conn.getresponse()
        d = r.read()
        if r.status >= 300:
            sys.exit("%s %s: HTTP %d %s" % (method, path, r.status, d[:300]))
        return json.loads(d or b"{}")
    req("PUT", "/baseline", json.dumps({"mappings": {"properties": {
        "body": {"type": "text"}, "path": {"type": "keyword"}}}}))
    t = time.time()
    batch, size = [], 0
    def flush():
        if batch:
            res = req("POST", "/_bulk", "".join(batch), "application/x-ndjson")
            if res.get("errors"):
                sys.exit("baseline _bulk reported errors")
        batch.clear()
    for i, f in enumerate(files):
        a = (json.dumps({"index": {"_index": "baseline", "_id": str(i)}}) + "\n"
             + json.dumps({"path": f["path"], "body": f.get("content", "")}) + "\n")
        batch.append(a)
        size += len(a)
        if size >= 5 * 1024 * 1024 or len(batch) >= 1000:
            flush()
            size = 0
    flush()
    req("POST", "/baseline/_refresh")
    secs = time.time() - t
    print(json.dumps({"docs": len(files), "secs": secs, "rate": len(files) / secs}))

def cmd_emubench(out_file):
    txt = open(out_file).read()
    rec = {}
    m = re.search(r"seeded (\d+) files in ([\d.]+)s", txt)
    if m:
        rec["seed_secs"] = float(m.group(2))
    for m in re.finditer(r"list round (\d): (\d+) entries in ([\d.]+)s = (\d+) entries/s", txt):
        rec["list%s" % m.group(1)] = float(m.group(4))
        rec["list_entries"] = int(m.group(2))
    m = re.search(r"download: (\d+) files, ([\d.]+) MB in ([\d.]+)s = (\d+) MB/s", txt)
    if m:
        rec["dl_mb_s"] = float(m.group(4))
        rec["dl_mb"] = float(m.group(2))
        rec["dl_files"] = int(m.group(1))
    print(json.dumps(rec))

def cmd_median_json(path, key):
    print(med([r.get(key) for r in load(path)]))

def cmd_splice(doc, block):
    begin, end = "<!-- bench-results:begin -->", "<!-- bench-results:end -->"
    new = open(block).read().rstrip("\n")
    text = open(doc).read() if os.path.exists(doc) else "# Benchmarks\n"
    if begin in text and end in text:
        pre, rest = text.split(begin, 1)
        post = rest.split(end, 1)[1]
        text = pre + begin + "\n" + new + "\n" + end + post
    else:
        text = text.rstrip("\n") + "\n\n" + begin + "\n" + new + "\n" + end + "\n"
    open(doc, "w").write(text)

globals()["cmd_" + sys.argv[1].replace("-", "_")](*sys.argv[2:])
PY
h() { python3 "$HELPER" "$@"; }

RUNS_FILE="$WORK/runs.jsonl"
RESULTS_MD="$WORK/results.md"
: >"$RUNS_FILE"
: >"$RESULTS_MD"
md() { printf '%s\n' "$*" >>"$RESULTS_MD"; }
fmt() { python3 -c 'import sys; v=sys.argv[1]; d=int(sys.argv[2]) if len(sys.argv)>2 else 0
try: x=float(v); print(f"{x:,.{d}f}")
except ValueError: print(v)' "$@"; }
jget() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("n/a" if v is None else v)' "$1" "$2"; }
cmp_ge() { python3 -c 'import sys; a,b=sys.argv[1:3]; print("n/a" if a in ("n/a","None") else ("yes" if float(a)>=float(b) else "**no**"))' "$1" "$2"; }
cmp_lt() { python3 -c 'import sys; a,b=sys.argv[1:3]; print("n/a" if a in ("n/a","None") else ("yes" if float(a)<float(b) else "**no**"))' "$1" "$2"; }
cmp_le() { python3 -c 'import sys; a,b=sys.argv[1:3]; print("n/a" if a in ("n/a","None") else ("yes" if float(a)<=float(b) else "**no**"))' "$1" "$2"; }

# ---------------------------------------------------------------------------------------------
start_emulator() { # args: emulator flags
    stop_emulator
    echo "\$ dropbox-emulator --listen 127.0.0.1:0 $*"
    "$EMU" --listen 127.0.0.1:0 "$@" >"$WORK/emulator.out" 2>"$WORK/emulator.err" 9>&- &
    EMU_PID=$!
    EMU_URL=""
    for _ in $(seq 1 1200); do
        EMU_URL="$(grep -o 'http://[0-9.:]*' "$WORK/emulator.out" 2>/dev/null | head -n1 || true)"
        [[ -n "$EMU_URL" ]] && break
        kill -0 "$EMU_PID" 2>/dev/null || die "the emulator exited: $(cat "$WORK/emulator.err")"
        sleep 0.1
    done
    [[ -n "$EMU_URL" ]] || die "the emulator printed no URL within 120 s"
}

# The `_bulk` stand-in in front of the running osmem-server; SINK_URL is where the runner writes.
start_sink() {
    stop_sink
    "$FLOOR" bulk-sink --upstream "$ES_URL" --sample "$WORK/bulk-sample.ndjson" >"$WORK/sink.out" 2>"$WORK/sink.err" 9>&- &
    SINK_PID=$!
    SINK_URL=""
    for _ in $(seq 1 300); do
        SINK_URL="$(grep -o 'http://[0-9.:]*' "$WORK/sink.out" 2>/dev/null | head -n1 || true)"
        [[ -n "$SINK_URL" ]] && return 0
        kill -0 "$SINK_PID" 2>/dev/null || die "bench-floor bulk-sink exited: $(cat "$WORK/sink.err")"
        sleep 0.1
    done
    die "bench-floor bulk-sink printed no URL within 30 s"
}

# run_floor LABEL SUBCOMMAND [args...]: one timed floor run, recorded in runs.jsonl
run_floor() {
    local label="$1"
    shift
    local out="$WORK/$label.out" tf="$WORK/$label.time" ld t0 t1
    ld="$(loadavg)"
    t0=$EPOCHREALTIME
    timeout "$SYNC_TIMEOUT" /usr/bin/time -v -o "$tf" "$FLOOR" "$@" >"$out" 2>"$WORK/$label.err" 9>&- ||
        { tail -n 15 "$WORK/$label.err" >&2; die "$label: bench-floor $1 failed"; }
    t1=$EPOCHREALTIME
    h record_floor "$label" "$out" "$tf" "$t0" "$t1" "$ld" >>"$RUNS_FILE"
    tail -n 1 "$RUNS_FILE" | python3 -c 'import json,sys; r=json.load(sys.stdin)
print("  %-14s %7.3fs wall %6.2fs CPU %7.1f MB RSS  entries=%s downloads=%s load=%s"
      % (r["label"], r["wall"], r["cpu_s"], r["rss_mb"] or -1, r["seen"], r["downloads"], r["load"]))'
}

start_osmem() {
    stop_osmem
    ES_PORT="$(free_port)"
    ES_URL="http://127.0.0.1:$ES_PORT"
    # osmem-server exits when its stdin closes: feed it a FIFO whose only writer is this script
    # (fd 9), so it also goes away if the script dies.
    local fifo="$WORK/osmem.stdin"
    rm -f "$fifo"
    mkfifo "$fifo"
    exec 9<>"$fifo"
    ES_FIFO_OPEN=1
    "$OSMEM" -addr "127.0.0.1:$ES_PORT" <"$fifo" >"$WORK/osmem.log" 2>&1 &
    ES_PID=$!
    for _ in $(seq 1 600); do
        curl -fsS "$ES_URL/" >/dev/null 2>&1 && return 0
        kill -0 "$ES_PID" 2>/dev/null || die "osmem-server exited: $(cat "$WORK/osmem.log")"
        sleep 0.1
    done
    die "osmem-server did not answer on $ES_URL within 60 s"
}

write_config() { # file tenant extract(true|false) [es_index [es_url]]
    local file="$1" tenant="$2" extract="$3" index="${4:-}" url="${5:-${ES_URL:-}}"
    {
        echo "tenant = \"$tenant\""
        echo "connector = \"dropbox\""
        echo "[source]"
        echo "app_key = \"emulator-app-key\""
        echo "app_secret = \"emulator-app-secret\""
        echo "refresh_token = \"emulator-refresh-token\""
        for k in api_url content_url notify_url oauth_url web_url; do echo "$k = \"$EMU_URL\""; done
        echo "concurrent_downloads = 100"
        if [[ "$extract" == false ]]; then
            echo "[content]"
            echo "extract = false"
        fi
        if [[ -n "$index" ]]; then
            echo "[elasticsearch]"
            echo "url = \"$url\""
            echo "index = \"$index\""
        fi
    } >"$file"
}

# run_sync LABEL CONFIG [sync flags...]: one timed `tributary sync`, recorded in runs.jsonl
run_sync() {
    local label="$1" config="$2"
    shift 2
    local rep="$WORK/$label.report.json" tf="$WORK/$label.time"
    local ld t0 t1
    ld="$(loadavg)"
    t0=$EPOCHREALTIME
    if ! timeout "$SYNC_TIMEOUT" /usr/bin/time -v -o "$tf" \
        "$TRIB" --cache-dir "$CACHE" sync --config "$config" "$@" --report "$rep" --quiet \
        >"$WORK/$label.out" 2>"$WORK/$label.err" 9>&-; then
        echo "bench: $label failed (exit or timeout after ${SYNC_TIMEOUT}s); last log lines:" >&2
        tail -n 15 "$WORK/$label.err" >&2
        return 1
    fi
    t1=$EPOCHREALTIME
    h record "$label" "$rep" "$tf" "$t0" "$t1" "$ld" >>"$RUNS_FILE"
    tail -n 1 "$RUNS_FILE" | python3 -c 'import json,sys; r=json.load(sys.stdin)
print("  %-14s %7.3fs wall %6.2fs CPU %7.1f MB RSS  seen=%s indexed=%s downloads=%s shared=%s api_calls=%s skipped=%s mode=%s outcome=%s load=%s"
      % (r["label"], r["wall"], r["cpu_s"], r["rss_mb"] or -1, r["seen"], r["indexed"], r["downloads"], r["shared_extractions"],
         r["api_calls"], json.dumps(r["skipped"]), r["mode"], r["outcome"], r["load"]))'
}

# ---------------------------------------------------------------------------------------------
RUSTC="$(rustc --version 2>/dev/null || echo 'rustc: n/a')"
GIT_REV="$(git rev-parse --short HEAD 2>/dev/null || echo n/a)"
if [[ -n "$(git status --porcelain 2>/dev/null | head -n1)" ]]; then GIT_REV="$GIT_REV (+ uncommitted changes)"; fi
say "Machine"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "nproc:   $(nproc)"
echo "uname:   $(uname -r)"
echo "rustc:   $RUSTC"
echo "load:    $(loadavg) (1/5/15 min)"
echo "commit:  $GIT_REV"
echo "profile: $PROFILE ($TRIB)"
free -g
BUILT="$(date -u -r "$TRIB" '+%Y-%m-%d %H:%M UTC')"
echo "built:   tributary binary modified $BUILT"
md "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), HEAD $GIT_REV, \`$PROFILE\` binaries built $BUILT (older than HEAD's last commit means they may predate it), median of $RUNS run(s)."
md "Machine: \`nproc\` = $(nproc), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM (\`free -g\` total), kernel $(uname -r), $RUSTC; load average at start $(loadavg)."
md ""

say "Warm-up (fills the component compile caches; not measured)"
start_emulator --generate "files=1000,$GEN_REST"
write_config "$WORK/warm.toml" bench false
"$TRIB" --cache-dir "$CACHE" sync --config "$WORK/warm.toml" --dry-run /dev/null --quiet >/dev/null 2>"$WORK/warm.err" 9>&- ||
    { tail -n 20 "$WORK/warm.err" >&2; die "warm-up sync failed"; }
write_config "$WORK/warm2.toml" bench-warm true
"$TRIB" --cache-dir "$CACHE" sync --config "$WORK/warm2.toml" --dry-run /dev/null --quiet >/dev/null 2>"$WORK/warm.err" 9>&- ||
    { tail -n 20 "$WORK/warm.err" >&2; die "warm-up sync with content failed"; }
echo "ok"
start_osmem
start_sink
echo "bulk stand-in: $SINK_URL (everything but _bulk goes to osmem-server at $ES_URL)"

# floor_vs_runner PREFIX CONFIG FLOOR_ARGS...: RUNS alternating pairs of floor and runner runs
floor_vs_runner() {
    local prefix="$1" config="$2"
    shift 2
    for i in $(seq 1 "$RUNS"); do
        run_floor "$prefix-floor-$i" "$@"
        curl -fsS -X POST "$SINK_URL/_bench/reset" >/dev/null
        run_sync "$prefix-trib-$i" "$config" --full
        h sinkstats "$SINK_URL" "$prefix-trib-$i" "$RUNS_FILE"
    done
}

# ---------------------------------------------------------------------------------------------
if want 1; then
    say "Scenario 1: metadata-only full sync against the listing floor"
    md "### 1. Metadata-only full sync, against the listing floor"
    md ""
    md "| generated files | entries | floor (list), median | tributary, median | × floor | tributary CPU | tributary peak RSS | bulk bytes/doc | floor runs (s) | tributary runs (s) | load before runs |"
    md "|---|---|---|---|---|---|---|---|---|---|---|"
    declare -A S1
    for n in $SIZES; do
        start_emulator --generate "files=$n,$GEN_REST"
        write_config "$WORK/s1.toml" bench-meta false bench-meta "$SINK_URL"
        echo "\$ bench-floor list --url EMU   /   tributary --cache-dir DIR sync --config s1.toml --full --report r.json --quiet   (alternating, x$RUNS)"
        floor_vs_runner "s1-$n" "$WORK/s1.toml" list --url "$EMU_URL"
        F="$(h summary "$RUNS_FILE" "s1-$n-floor-")"
        T="$(h summary "$RUNS_FILE" "s1-$n-trib-")"
        S1[$n]="$T"
        x="$(h ratio "$(jget "$T" wall)" "$(jget "$F" wall)")"
        md "| $(fmt "$n") | $(fmt "$(jget "$T" seen)") | $(fmt "$(jget "$F" wall)" 3) s | $(fmt "$(jget "$T" wall)" 3) s | **$x** | $(fmt "$(jget "$T" cpu_s)" 2) s | $(fmt "$(jget "$T" rss_mb)" 1) MB | $(fmt "$(jget "$T" bytes_per_doc)") | $(jget "$F" walls) | $(jget "$T" walls) | $(jget "$T" loads) |"
        echo "  => $n files: floor $(jget "$F" wall) s, tributary $(jget "$T" wall) s = ${x}x floor; RSS $(fmt "$(jget "$T" rss_mb)" 1) MB; $(fmt "$(jget "$T" bytes_per_doc)") bulk bytes/doc"
        if [[ -f "$WORK/bulk-sample.ndjson" ]]; then
            head -c 1200 "$WORK/bulk-sample.ndjson" >"$WORK/s1-$n-sample.txt"
        fi
    done
    stop_emulator
    sizes=($SIZES)
    small="${sizes[0]}"
    big="${sizes[${#sizes[@]}-1]}"
    rss_big="$(jget "${S1[$big]}" rss_mb)"
    rss_small="$(jget "${S1[$small]}" rss_mb)"
    flat="$(python3 -c 'import sys; print("yes" if float(sys.argv[1]) <= 1.15*float(sys.argv[2]) else "**no**")' "$rss_big" "$rss_small")"
    md ""
    md "Peak RSS $(fmt "$rss_small" 1) MB at $(fmt "$small") files, $(fmt "$rss_big" 1) MB at $(fmt "$big") files: flat (≤ +15 %)? $flat. Target: ≤ 2 × floor at every size."
    md ""
    md "Command: \`dropbox-emulator --generate files=N,$GEN_REST\`; floor \`bench-floor list --url EMU\`; tributary \`sync --config bench.toml --full\` into \`bench-floor bulk-sink\` (\`[content] extract = false\`), each under \`/usr/bin/time -v\`, floor and tributary runs alternating."
    md ""
    if [[ -f "$WORK/s1-$big-sample.txt" ]]; then
        md "First documents of the last run's first \`_bulk\` request:"
        md ""
        md '```'
        md "$(head -n 4 "$WORK/s1-$big-sample.txt" | cut -c1-900)"
        md '```'
        md ""
    fi
fi

# ---------------------------------------------------------------------------------------------
if want 2; then
    say "Scenario 2: content sync against the list+download floor"
    md "### 2. Content sync (extraction on, \`concurrent_downloads = 100\`), against the list+download floor"
    md ""
    h content_manifest "$WORK/text20k.json" "$CONTENT_FILES" "$CONTENT_ENTRIES" 20480
    start_emulator --manifest "$WORK/text20k.json"
    write_config "$WORK/s2.toml" bench-content true bench-content "$SINK_URL"
    echo "\$ bench-floor download --url EMU --concurrency 100   /   tributary --cache-dir DIR sync --config s2.toml --full --report r.json --quiet   (alternating, x$RUNS)"
    floor_vs_runner "s2" "$WORK/s2.toml" download --url "$EMU_URL" --concurrency 100
    F="$(h summary "$RUNS_FILE" "s2-floor-")"
    T="$(h summary "$RUNS_FILE" "s2-trib-")"
    x="$(h ratio "$(jget "$T" wall)" "$(jget "$F" wall)")"
    echo "  => floor $(jget "$F" wall) s, tributary $(jget "$T" wall) s = ${x}x floor; RSS $(fmt "$(jget "$T" rss_mb)" 1) MB"
    md "| tree | floor (list + download), median | tributary, median | × floor (target ≤ 3.5) | tributary CPU | tributary peak RSS (target ≤ 64 MB) | downloads | bulk bytes/doc | floor runs (s) | tributary runs (s) | load before runs |"
    md "|---|---|---|---|---|---|---|---|---|---|---|"
    md "| $(fmt "$CONTENT_FILES") × 20 KiB distinct \`.txt\` in $(fmt "$(jget "$T" seen)") entries | $(fmt "$(jget "$F" wall)" 3) s | $(fmt "$(jget "$T" wall)" 3) s | **$x** | $(fmt "$(jget "$T" cpu_s)" 2) s | $(fmt "$(jget "$T" rss_mb)" 1) MB | $(fmt "$(jget "$T" downloads)") | $(fmt "$(jget "$T" bytes_per_doc)") | $(jget "$F" walls) | $(jget "$T" walls) | $(jget "$T" loads) |"
    md ""
    if [[ -n "$CONTENT_SIZES" ]]; then
        md "Peak RSS of content syncs of generated trees (text and binary files, sizes log-uniform up to 16 KiB, extraction on):"
        md ""
        md "| generated files | entries | downloads | wall | tributary peak RSS |"
        md "|---|---|---|---|---|"
        declare -A S2
        for n in $CONTENT_SIZES; do
            start_emulator --generate "files=$n,depth=6,fanout=10,seed=7,max_size=16384,paper=0.01,text=0.8"
            write_config "$WORK/s2b.toml" bench-content-gen true bench-content-gen "$SINK_URL"
            run_sync "s2b-$n-1" "$WORK/s2b.toml" --full
            S2[$n]="$(h summary "$RUNS_FILE" "s2b-$n-")"
            s="${S2[$n]}"
            md "| $(fmt "$n") | $(fmt "$(jget "$s" seen)") | $(fmt "$(jget "$s" downloads)") | $(fmt "$(jget "$s" wall)" 2) s | $(fmt "$(jget "$s" rss_mb)" 1) MB |"
        done
        sizes=($CONTENT_SIZES)
        rss_small="$(jget "${S2[${sizes[0]}]}" rss_mb)"
        rss_big="$(jget "${S2[${sizes[${#sizes[@]}-1]}]}" rss_mb)"
        flat="$(python3 -c 'import sys; print("yes" if float(sys.argv[1]) <= 1.15*float(sys.argv[2]) else "**no**")' "$rss_big" "$rss_small")"
        md ""
        md "Flat (≤ +15 %)? $flat."
        md ""
    fi
    stop_emulator
    md "Command: \`dropbox-emulator --manifest text20k.json\` ($(fmt "$CONTENT_FILES") files of 20,480 bytes with distinct text, in $(fmt "$CONTENT_ENTRIES") entries); floor \`bench-floor download --url EMU --concurrency 100\`; tributary \`sync --config bench.toml --full\` into \`bench-floor bulk-sink\`; generated trees \`--generate files=N,depth=6,fanout=10,seed=7,max_size=16384,paper=0.01,text=0.8\`, one run each."
    md ""
fi

# ---------------------------------------------------------------------------------------------
if want 3; then
    say "Scenario 3: documents/s into osmem-server, tributary against the Elastic connector's documents"
    md "### 3. Documents/s into osmem-server: tributary's documents against the Elastic connector's"
    md ""
    md "| generated files | documents | tributary: docs/s (whole sync) | Elastic's documents: docs/s (bulk only) | tributary ≥ Elastic? | bulk bytes/doc tributary / Elastic | tributary runs (s) | Elastic runs (s) |"
    md "|---|---|---|---|---|---|---|---|"
    stop_sink
    for n in $OSMEM_SIZES; do
        start_emulator --generate "files=$n,$GEN_REST"
        runs=$RUNS
        [[ "$n" -gt 50000 ]] && runs=1
        : >"$WORK/elastic-$n.jsonl"
        for i in $(seq 1 "$runs"); do
            start_osmem
            write_config "$WORK/s3.toml" "bench-osmem-$n-$i" false "bench-osmem"
            echo "\$ tributary --cache-dir DIR sync --config s3.toml --report r.json --quiet   (fresh osmem-server)"
            run_sync "s3-$n-$i" "$WORK/s3.toml"
            start_osmem
            echo "\$ bench-floor elastic --emulator EMU --es OSMEM   (fresh osmem-server)"
            "$FLOOR" elastic --emulator "$EMU_URL" --es "$ES_URL" 9>&- | tee -a "$WORK/elastic-$n.jsonl"
        done
        T="$(h summary "$RUNS_FILE" "s3-$n-")"
        E_RATE="$(h median_json "$WORK/elastic-$n.jsonl" docs_per_sec)"
        E_BYTES="$(h median_json "$WORK/elastic-$n.jsonl" bytes_per_doc)"
        E_SECS="$(python3 -c 'import json,sys; print([round(json.loads(l)["secs"],2) for l in open(sys.argv[1])])' "$WORK/elastic-$n.jsonl")"
        T_BYTES="$(python3 -c 'import json,sys
rs=[json.loads(l) for l in open(sys.argv[1])]
v=[r.get("bytes_per_doc") for r in rs if r["label"].startswith("s1-") and r.get("bytes_per_doc")]
print(round(v[-1]) if v else "n/a")' "$RUNS_FILE")"
        md "| $(fmt "$n") | $(fmt "$(jget "$T" indexed)") | $(fmt "$(jget "$T" indexed_per_s)") | $(fmt "$E_RATE") | $(cmp_ge "$(jget "$T" indexed_per_s)" "$E_RATE") | $T_BYTES / $(fmt "$E_BYTES") | $(jget "$T" walls) | $E_SECS |"
        echo "  => $n files: tributary $(fmt "$(jget "$T" indexed_per_s)") docs/s, Elastic's documents $(fmt "$E_RATE") docs/s"
    done
    stop_emulator
    start_osmem
    start_sink
    md ""
    md "Command: tributary \`sync --config bench.toml\` (metadata only, a fresh osmem-server and index per run; docs/s = documents indexed / whole process wall clock, listing included); Elastic's documents: \`bench-floor elastic\` builds \`{id, type, name, file_path, size, _timestamp, _extract_binary_content, _reduce_whitespace, _run_ml_inference}\` for every entry of the same tree and bulks them into a fresh osmem-server with the Elastic framework's sizes (500 operations, 3 MiB, 5 in flight), dynamic mappings, then \`_refresh\` (docs/s = documents / bulk time, listing not included). Bytes/doc of tributary from scenario 1's stand-in."
    md ""
fi

# ---------------------------------------------------------------------------------------------
if want 4; then
    say "Scenario 4: incremental sync after changing 1% of $INCR_FILES files"
    start_emulator --generate "files=$INCR_FILES,$GEN_REST"
    write_config "$WORK/s4.toml" bench-incr false bench-incr "$SINK_URL"
    curl -fsS -X POST "$EMU_URL/_admin/stats/reset" >/dev/null
    echo "\$ tributary --cache-dir DIR sync --config s4.toml --report r.json --quiet   (first run: full)"
    run_sync "s4full-1" "$WORK/s4.toml"
    h annotate "$RUNS_FILE" s4full-1 list_continue "$(h stat "$EMU_URL" files/list_folder/continue)"
    h annotate "$RUNS_FILE" s4full-1 requests "$(h stat "$EMU_URL" total)"
    F="$(h summary "$RUNS_FILE" "s4full-")"
    echo "  full: $(jget "$F" wall) s, $(jget "$F" list_continue) list_folder/continue calls"
    CHANGES=""
    for i in $(seq 1 "$RUNS"); do
        echo "\$ (overwrite 1% of the files via POST /2/files/upload, round $i)"
        CHANGES="$(h change "$EMU_URL" 0.01 "$i" "$WORK/changes-$i")"
        curl -fsS -X POST "$EMU_URL/_admin/stats/reset" >/dev/null
        echo "\$ tributary --cache-dir DIR sync --config s4.toml --report r.json --quiet   (incremental, $CHANGES changes)"
        run_sync "s4inc-$i" "$WORK/s4.toml"
        h annotate "$RUNS_FILE" "s4inc-$i" list_continue "$(h stat "$EMU_URL" files/list_folder/continue)"
        h annotate "$RUNS_FILE" "s4inc-$i" list_calls "$(h stat "$EMU_URL" files/list_folder)"
        h annotate "$RUNS_FILE" "s4inc-$i" requests "$(h stat "$EMU_URL" total)"
    done
    stop_emulator
    I="$(h summary "$RUNS_FILE" "s4inc-")"
    ratio="$(python3 -c 'import sys; print(100*float(sys.argv[1])/float(sys.argv[2]))' "$(jget "$I" wall)" "$(jget "$F" wall)")"
    limit="$(python3 -c 'import sys; print(int(sys.argv[1])/2000+2)' "$CHANGES")"
    echo "  => incremental $(jget "$I" wall) s = $(fmt "$ratio" 2)% of full; list_folder/continue calls: $(jget "$I" list_continue) (limit $limit)"
    md "### 4. Incremental sync after 1 % of $(fmt "$INCR_FILES") generated files changed (metadata only, into the stand-in)"
    md ""
    md "| figure | full sync | incremental (median of $RUNS rounds) | target | met? |"
    md "|---|---|---|---|---|"
    md "| wall clock | $(fmt "$(jget "$F" wall)" 3) s | $(fmt "$(jget "$I" wall)" 3) s ($(jget "$I" walls)) = $(fmt "$ratio" 2) % of full | ≤ 3 % of full | $(cmp_le "$ratio" 3) |"
    md "| documents seen | $(fmt "$(jget "$F" seen)") | $(fmt "$(jget "$I" seen)") (changes per round: $CHANGES) | | |"
    md "| \`files/list_folder/continue\` calls | $(fmt "$(jget "$F" list_continue)") | $(jget "$I" list_continue) | ≤ changes/2000 + 2 = $limit | $(cmp_le "$(jget "$I" list_continue)" "$limit") |"
    md "| emulator requests (all routes) | $(fmt "$(jget "$F" requests)") | $(jget "$I" requests) | | |"
    md "| mode | $(jget "$F" modes) | $(jget "$I" modes) | | |"
    md "| tributary peak RSS | $(fmt "$(jget "$F" rss_mb)" 1) MB | $(fmt "$(jget "$I" rss_mb)" 1) MB | | |"
    md ""
    md "Changes: \`POST /2/files/upload\` (\`mode: overwrite\`) of every 100th non-Paper file (a different offset each round). Command: \`dropbox-emulator --generate files=$INCR_FILES,$GEN_REST\`; \`tributary --cache-dir DIR sync --config bench.toml --report r.json --quiet\` into the stand-in (first run full, then incremental). Load average before the full run: $(jget "$F" loads); before the incremental runs: $(jget "$I" loads)."
    md ""
fi
stop_sink
stop_osmem

# ---------------------------------------------------------------------------------------------
if want 5; then
    say "Scenario 5: emulator throughput (emulator-bench)"
    if [[ -x "$EMU_BENCH" ]]; then
        : >"$WORK/emubench.jsonl"
        echo "\$ emulator-bench --generate files=100000,$GEN_REST   (x$RUNS)"
        for i in $(seq 1 "$RUNS"); do
            ld="$(loadavg)"
            timeout 600 "$EMU_BENCH" --generate "files=100000,$GEN_REST" >"$WORK/emubench-$i.out" 2>&1 9>&- ||
                { cat "$WORK/emubench-$i.out" >&2; die "emulator-bench failed"; }
            sed 's/^/  /' "$WORK/emubench-$i.out"
            h emubench "$WORK/emubench-$i.out" | python3 -c 'import json,sys; r=json.load(sys.stdin); r["load"]=sys.argv[1]; print(json.dumps(r))' "$ld" >>"$WORK/emubench.jsonl"
        done
        L1="$(h median_json "$WORK/emubench.jsonl" list1)"
        L2="$(h median_json "$WORK/emubench.jsonl" list2)"
        DL="$(h median_json "$WORK/emubench.jsonl" dl_mb_s)"
        SEED="$(h median_json "$WORK/emubench.jsonl" seed_secs)"
        LOADS="$(python3 -c 'import json,sys; print([json.loads(l)["load"] for l in open(sys.argv[1])])' "$WORK/emubench.jsonl")"
        echo "  => listing $(fmt "$L1") entries/s (first round), $(fmt "$L2") (second); downloads $(fmt "$DL") MB/s"
        md "### 5. Emulator throughput (\`emulator-bench\`, client and server in one process)"
        md ""
        md "| figure | value (median of $RUNS) | target | met? |"
        md "|---|---|---|---|"
        md "| seeding 100,000 generated files | $(fmt "$SEED" 2) s | | |"
        md "| recursive listing, limit 2000, first round (lazy content hashes) | $(fmt "$L1") entries/s | ≥ 50,000 | $(cmp_ge "$L1" 50000) |"
        md "| same, second round (hashes cached) | $(fmt "$L2") entries/s | ≥ 50,000 | $(cmp_ge "$L2" 50000) |"
        md "| downloads, largest files first, 2 connections, 4 GiB budget | $(fmt "$DL") MB/s | ≥ 300 | $(cmp_ge "$DL" 300) |"
        md ""
        md "Command: \`$PROFILE/emulator-bench --generate files=100000,$GEN_REST\`. Load average before the runs: $LOADS."
        md ""
    else
        echo "emulator-bench not built ($EMU_BENCH): skipped"
        md "### 5. Emulator throughput: skipped (\`$EMU_BENCH\` not built)"
        md ""
    fi
fi

if want 6; then
    say "Scenario 6: watch latency (a change in Dropbox until it is searchable)"
    echo '{"files": [{"path": "/watch/seed.txt", "content": "seed"}]}' >"$WORK/watch-manifest.json"
    start_emulator --manifest "$WORK/watch-manifest.json"
    start_osmem
    write_config "$WORK/watch.toml" watch true watch
    echo "\$ scripts/watch_latency.py tributary ... 20   (tributary watch --config watch.toml; 20 uploads, each polled in _search)"
    ld="$(loadavg)"
    WL="$(python3 "$ROOT/scripts/watch_latency.py" "$TRIB" "$CACHE" "$WORK/watch.toml" "$EMU_URL" "$ES_URL" watch 20 9>&-)" ||
        die "watch latency measurement failed"
    echo "  $WL"
    WMED="$(jget "$WL" median_ms)"
    WP95="$(jget "$WL" p95_ms)"
    md "### 6. Watch latency (\`tributary watch\`, change → searchable)"
    md ""
    md "| figure | value (20 changes) | target | met? |"
    md "|---|---|---|---|"
    md "| median | $WMED ms | ≤ 2,000 ms | $(cmp_le "$WMED" 2000) |"
    md "| 95th percentile | $WP95 ms | | |"
    md ""
    md "Command: \`scripts/watch_latency.py $PROFILE/tributary CACHE watch.toml EMULATOR_URL ES_URL watch 20\` (uploads through \`/2/files/upload\`, polls \`_search\` every 5 ms). Load before: $ld."
    md ""
    stop_osmem
    stop_emulator
fi

md "Load average at the end: $(loadavg)."

say "Results (markdown)"
cat "$RESULTS_MD"
if [[ "$WRITE_DOC" == 1 ]]; then
    h splice "$ROOT/docs/benchmarks.md" "$RESULTS_MD"
    echo
    echo "docs/benchmarks.md: results block replaced"
fi
