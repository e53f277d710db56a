#!/usr/bin/env bash
# Benchmark of `tributary serve` (issue 9): many tenants in one sandboxed runner, against the
# Dropbox API emulator and osmem-server. Metadata only (`[content] extract = false`).
#
#   A  one tenant syncing the whole account (TENANTS x FILES files + TENANTS folders) in a serve
#      process of its own: entries/s
#   B  TENANTS tenants of FILES files each (one folder of the account each), `[limits]
#      concurrent_runs = CONCURRENT`, all due at once: aggregate entries/s (goal >= 70 % of A),
#      peak RSS of the serve process (VmHWM; goal <= 300 MB), and the cached component start
#      per run (goal <= 5 ms; see below)
#   C  memory per idle tenant: resident memory of a serve process holding TENANTS prepared,
#      idle tenants (their slots already ran, in B) minus that of one holding none
#
# Figures come from the coordination index (each run's claim: started_at_ms, finished_at_ms,
# counts.seen), from /proc/PID/status (VmHWM, VmRSS) and /proc/PID/stat (the runner's CPU time:
# osmem-server, on the same 2 cores, is the limit of both A and B, so the runner's CPU per
# entry is the fairer measure of what many tenants cost), and from the serve log:
#
# Component start: every run logs, at debug level, the marker `<unix ms>-<runner>` its Run was
# created with, just before the component is instantiated from the shared pre-instantiated
# component; the component's first log line of the run follows its `start` call. The gap
# (first component line - marker) bounds the instantiation from above: it also holds the
# committer's spawn and the component's own `start` work. Reported as median / p90 / max over
# the runs of B (16 at once on 2 cores: scheduling delays included) and of a quiet phase D
# (the same tenants again, one run at a time, incremental and empty).
#
# Usage: scripts/bench-serve.sh [--tenants N] [--files N] [--concurrent N] [--quick]
#   --quick: 10 tenants x 200 files (a smoke test, about a minute with a debug build)
# Environment: CARGO_TARGET_DIR (default ./target), BENCH_PROFILE (release; `debug` to try the
#   script without a release build), TRIBUTARY_BIN, DROPBOX_EMULATOR_BIN, OSMEM_SERVER_BIN,
#   BENCH_TIMEOUT (seconds per phase, 1800).
# Builds nothing: `cargo build --release -p tributary -p dropbox-emulator` and `make components`
# first. Works in a `mktemp -d` directory removed on exit; writes nothing into the repository.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TENANTS=100
FILES=1000
CONCURRENT=16
while [[ $# -gt 0 ]]; do
    case "$1" in
        --tenants) TENANTS="$2"; shift 2 ;;
        --files) FILES="$2"; shift 2 ;;
        --concurrent) CONCURRENT="$2"; shift 2 ;;
        --quick) TENANTS=10; FILES=200; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-serve: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

TARGET="${CARGO_TARGET_DIR:-target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
PROFILE="${BENCH_PROFILE:-release}"
TRIB="${TRIBUTARY_BIN:-$TARGET/$PROFILE/tributary}"
EMU="${DROPBOX_EMULATOR_BIN:-$TARGET/$PROFILE/dropbox-emulator}"
export TRIBUTARY_COMPONENT_DIR="${TRIBUTARY_COMPONENT_DIR:-$TARGET/components}"
PHASE_TIMEOUT="${BENCH_TIMEOUT:-1800}"
OSMEM="${OSMEM_SERVER_BIN:-$(python3 -c 'import osmem_server,os;print(os.path.dirname(osmem_server.__file__))' 2>/dev/null)/bin/osmem-server}"

die() { printf 'bench-serve: %s\n' "$*" >&2; exit 1; }
say() { printf '\n== %s\n' "$*"; }

[[ -x "$TRIB" ]] || die "$TRIB not found: cargo build --release -p tributary -p dropbox-emulator"
[[ -x "$EMU" ]] || die "$EMU not found: cargo build --release -p tributary -p dropbox-emulator"
[[ -f "$TRIBUTARY_COMPONENT_DIR/dropbox.wasm" ]] || die "$TRIBUTARY_COMPONENT_DIR/dropbox.wasm not found: make components"
[[ -x "$OSMEM" ]] || die "osmem-server not found: pip install osmem-server==0.1.6 (or set OSMEM_SERVER_BIN)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tributary-bench-serve.XXXXXX")"
CACHE="$WORK/component-cache"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    exec 9>&- 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

HELPER="$WORK/helper.py"
cat >"$HELPER" <<'PY'
import json, statistics, sys, time, urllib.request

def es(url, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method="POST" if data else "GET",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise

def manifest(tenants, files):
    out = {"files": [{"path": f"/t{t:03d}/f{f:05d}.txt", "size": 64}
                     for t in range(tenants) for f in range(files)]}
    json.dump(out, sys.stdout)

def tenant_file(out, tenant, emu, es_url, path, index):
    lines = [f'tenant = "{tenant}"', 'connector = "dropbox"', "[source]", f'path = "{path}"',
             'app_key = "emulator-app-key"', 'app_secret = "emulator-app-secret"',
             'refresh_token = "emulator-refresh-token"', "include_received_files = false"]
    lines += [f'{k} = "{emu}"' for k in ("api_url", "content_url", "notify_url", "oauth_url", "web_url")]
    lines += ["[elasticsearch]", f'url = "{es_url}"', f'index = "{index}"',
              'state_index = "bench-state"', "[content]", "extract = false",
              # Once a year: due once when serve starts, then idle.
              "[schedule]", 'incremental = "0 0 1 1 *"']
    open(out, "w").write("\n".join(lines) + "\n")

def claims(es_url, index):
    es(es_url, f"/{index}/_refresh", {})
    r = es(es_url, f"/{index}/_search", {"size": 10000, "query": {"term": {"kind": "claim"}}})
    return [] if r is None else [h["_source"] for h in r["hits"]["hits"]]

def wait_claims(es_url, index, n, timeout):
    deadline = time.time() + timeout
    while True:
        cs = [c for c in claims(es_url, index) if c["state"] in ("done", "failed")]
        if len(cs) >= n:
            break
        if time.time() > deadline:
            sys.exit(f"timed out: {len(cs)} of {n} runs finished")
        time.sleep(0.5)
    failed = [c for c in cs if c["state"] != "done"]
    seen = sum(c["counts"]["seen"] for c in cs)
    start = min(c["started_at_ms"] for c in cs)
    end = max(c["finished_at_ms"] for c in cs)
    took = [c["finished_at_ms"] - c["started_at_ms"] for c in cs]
    print(json.dumps({"runs": len(cs), "failed": len(failed), "seen": seen,
                      "makespan_ms": end - start, "entries_per_sec": seen * 1000 / max(end - start, 1),
                      "run_ms_median": statistics.median(took), "run_ms_max": max(took),
                      "first_failure": failed[0].get("outcome") if failed else None}))

def component_start(log):
    """Per run: first component line - the run's marker (ms)."""
    import re
    from datetime import datetime
    marker, first = {}, {}
    span = re.compile(r"^(\S+)\s+\w+\s+run\{tenant=(\S+) slot=(\S+)\}: (.*)$")
    for line in open(log, encoding="utf-8", errors="replace"):
        m = span.match(line.strip())
        if not m:
            continue
        ts, tenant, slot, msg = m.groups()
        key = (tenant, slot)
        t = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000
        mk = re.search(r"marker=(\d+)-", msg)
        if mk:
            marker.setdefault(key, int(mk.group(1)))
        if msg.startswith("component:"):
            first.setdefault(key, t)
    gaps = sorted(first[k] - marker[k] for k in first if k in marker)
    if not gaps:
        print(json.dumps({"runs": 0}))
        return
    p90 = gaps[min(len(gaps) - 1, int(len(gaps) * 0.9))]
    print(json.dumps({"runs": len(gaps), "median_ms": round(statistics.median(gaps), 2),
                      "p90_ms": round(p90, 2), "max_ms": round(gaps[-1], 2)}))

cmd, *args = sys.argv[1:]
if cmd == "manifest": manifest(int(args[0]), int(args[1]))
elif cmd == "tenant": tenant_file(*args)
elif cmd == "wait-claims": wait_claims(args[0], args[1], int(args[2]), float(args[3]))
elif cmd == "component-start": component_start(args[0])
elif cmd == "field": print(json.loads(args[0])[args[1]])
else: sys.exit(f"unknown helper command {cmd}")
PY
helper() { python3 "$HELPER" "$@"; }

# osmem-server exits when its stdin closes: feed it a FIFO only this script writes to.
mkfifo "$WORK/osmem.in"
"$OSMEM" -addr 127.0.0.1:0 <"$WORK/osmem.in" >"$WORK/osmem.out" 2>"$WORK/osmem.err" &
PIDS+=($!)
exec 9>"$WORK/osmem.in"
for _ in $(seq 100); do [[ -s "$WORK/osmem.out" ]] && break; sleep 0.1; done
ES_URL="$(head -1 "$WORK/osmem.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"].rstrip("/"))')" \
    || die "osmem-server did not start: $(cat "$WORK/osmem.err")"

say "emulator: $TENANTS folders x $FILES files"
helper manifest "$TENANTS" "$FILES" >"$WORK/manifest.json"
"$EMU" --listen 127.0.0.1:0 --manifest "$WORK/manifest.json" >"$WORK/emu.out" 2>"$WORK/emu.err" &
PIDS+=($!)
for _ in $(seq 600); do grep -q http "$WORK/emu.out" 2>/dev/null && break; sleep 0.1; done
EMU_URL="$(grep -o 'http://[0-9.:]*' "$WORK/emu.out" | head -1)"
[[ -n "$EMU_URL" ]] || die "the emulator did not start: $(cat "$WORK/emu.err")"
echo "emulator $EMU_URL, osmem-server $ES_URL, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "runner: $TRIB ($PROFILE)"

mkdir -p "$WORK/all" "$WORK/many" "$WORK/none"
helper tenant "$WORK/all/all.toml" all "$EMU_URL" "$ES_URL" "/" bench-all
for ((t = 0; t < TENANTS; t++)); do
    id=$(printf 't%03d' "$t")
    helper tenant "$WORK/many/$id.toml" "$id" "$EMU_URL" "$ES_URL" "/$id" "bench-$id"
done
printf '[limits]\nconcurrent_runs = %s\n' "$CONCURRENT" >"$WORK/serve.toml"

# Compile the component into the cache once, as a deployed runner finds it.
"$TRIB" --cache-dir "$CACHE" check --config "$WORK/many/t000.toml" >/dev/null 2>&1 \
    || die "tributary check failed on the first tenant"

SERVE_PID=""
# serve_start NAME TENANTS_DIR COORDINATION_INDEX [extra args...]
serve_start() {
    local name="$1" dir="$2" index="$3"
    shift 3
    RUST_LOG="warn,tributary=debug" NO_COLOR=1 "$TRIB" --cache-dir "$CACHE" serve \
        --tenants "$dir" --config "$WORK/serve.toml" --coordination-url "$ES_URL" \
        --coordination-index "$index" "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
    SERVE_PID=$!
    PIDS+=("$SERVE_PID")
}
serve_stop() {
    kill -INT "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
}
kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$SERVE_PID/status"; }
# CPU seconds (user + system) the serve process used so far.
TICKS=$(getconf CLK_TCK)
cpu_secs() { awk -v t="$TICKS" '{printf "%.1f", ($14 + $15) / t}' "/proc/$SERVE_PID/stat"; }
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
# Resident memory once it stops moving (three samples a second apart within 1 %).
settled_rss() {
    local a b c
    a=$(kib VmRSS); sleep 1; b=$(kib VmRSS); sleep 1; c=$(kib VmRSS)
    for _ in $(seq 60); do
        if awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN { m = (a > c ? a : c); exit !((m - (a < c ? a : c)) * 100 <= m) }'; then
            break
        fi
        a=$b; b=$c; sleep 1; c=$(kib VmRSS)
    done
    echo "$c"
}

say "A: one tenant, the whole account ($((TENANTS * FILES)) files)"
serve_start a "$WORK/all" bench-coord-a
A="$(timeout "$PHASE_TIMEOUT" python3 "$HELPER" wait-claims "$ES_URL" bench-coord-a 1 "$PHASE_TIMEOUT")" \
    || die "phase A: $(tail -5 "$WORK/a.log")"
A_HWM=$(kib VmHWM)
A_CPU=$(cpu_secs)
serve_stop
echo "$A"
echo "peak RSS $(mb "$A_HWM") MB, runner CPU $A_CPU s"

say "B: $TENANTS tenants x $FILES files, concurrent_runs = $CONCURRENT"
serve_start b "$WORK/many" bench-coord-b
B="$(timeout "$PHASE_TIMEOUT" python3 "$HELPER" wait-claims "$ES_URL" bench-coord-b "$TENANTS" "$PHASE_TIMEOUT")" \
    || die "phase B: $(tail -5 "$WORK/b.log")"
B_HWM=$(kib VmHWM)
B_CPU=$(cpu_secs)
serve_stop
echo "$B"
echo "peak RSS $(mb "$B_HWM") MB, runner CPU $B_CPU s"
B_START="$(helper component-start "$WORK/b.log")"
echo "component start per run (16 at once): $B_START"

say "C: memory of idle tenants"
serve_start c0 "$WORK/none" bench-coord-c
for _ in $(seq 100); do grep -q serving "$WORK/c0.log" && break; sleep 0.1; done
RSS0=$(settled_rss)
serve_stop
# The same tenants as B, whose slots B ran: prepared, then idle until next year.
serve_start cn "$WORK/many" bench-coord-b
for _ in $(seq 600); do
    [[ "$(grep -c 'tenant added' "$WORK/cn.log")" -ge "$TENANTS" ]] && break
    sleep 0.1
done
RSSN=$(settled_rss)
serve_stop
echo "0 tenants: $(mb "$RSS0") MB resident; $TENANTS idle tenants: $(mb "$RSSN") MB"
PER_TENANT=$(awk -v a="$RSS0" -v b="$RSSN" -v n="$TENANTS" 'BEGIN {printf "%.0f", (b - a) / n}')

say "D: component start, one quiet run at a time"
# A new coordination index: every tenant due again, incremental (nothing changed), one by one.
serve_start d "$WORK/many" bench-coord-d --concurrent-runs 1
D="$(timeout "$PHASE_TIMEOUT" python3 "$HELPER" wait-claims "$ES_URL" bench-coord-d "$TENANTS" "$PHASE_TIMEOUT")" \
    || die "phase D: $(tail -5 "$WORK/d.log")"
serve_stop
D_START="$(helper component-start "$WORK/d.log")"
echo "component start per run (one at a time): $D_START"

a_rate=$(helper field "$A" entries_per_sec)
b_rate=$(helper field "$B" entries_per_sec)
say "summary ($TENANTS tenants x $FILES files, concurrent_runs = $CONCURRENT, $PROFILE build)"
printf '%-44s %s\n' \
    "single tenant, $((TENANTS * FILES)) files" "$(printf '%.0f' "$a_rate") entries/s (peak RSS $(mb "$A_HWM") MB, runner CPU $A_CPU s)" \
    "$TENANTS tenants at once (aggregate)" "$(printf '%.0f' "$b_rate") entries/s = $(awk -v a="$a_rate" -v b="$b_rate" 'BEGIN {printf "%.0f", b * 100 / a}') % of single [goal >= 70 %]" \
    "peak RSS, $TENANTS tenants" "$(mb "$B_HWM") MB [goal <= 300 MB]; runner CPU $B_CPU s" \
    "component start per run, 16 at once" "$(helper field "$B_START" median_ms) ms median, $(helper field "$B_START" p90_ms) ms p90 [goal <= 5 ms]" \
    "component start per run, one at a time" "$(helper field "$D_START" median_ms) ms median, $(helper field "$D_START" p90_ms) ms p90" \
    "memory per idle tenant" "$PER_TENANT KiB ($(mb "$RSS0") MB with none, $(mb "$RSSN") MB with $TENANTS)"
