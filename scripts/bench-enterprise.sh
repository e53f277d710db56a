#!/usr/bin/env bash
# Enterprise benchmark (issue 11): what document-level security costs on a whole team.
#
# The emulator generates a team (`--generate-team members=M,files=F`, its defaults otherwise:
# 3 groups, 2 team folders, M/2 shared folders, M individually shared files plus one shared
# with 25 members, outside invitees): F files in every member's home and in every team folder.
# `tributary sync` indexes it with `team_scope = "all_members"` (every namespace once), metadata
# only (`[content] extract = false`) into `--dry-run /dev/null`, first with
# `use_document_level_security = false`, then `true` (with inherited members). Each is a full
# sync of a fresh run (`--full`), repeated --runs times; the medians are reported:
#   entries/s         documents written / wall-clock time of the whole `tributary sync` process
#                     (start-up, OAuth, plan, listing, member lookups, access-control documents)
#   API calls/entry   Dropbox API requests the run made / documents written
#   DLS / no DLS      the time ratio (the issue's goal: < 2)
#
# Binaries: TRIBUTARY_BIN and DROPBOX_EMULATOR_BIN, else <target>/release/..., else
# <target>/debug/... (say which in the output); dropbox.wasm from TRIBUTARY_COMPONENT_DIR or
# <target>/components (make components).
#
# Usage: scripts/bench-enterprise.sh [--members N] [--files N] [--runs N]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MEMBERS=200
FILES=500
RUNS=3
while [[ $# -gt 0 ]]; do
    case "$1" in
        --members) MEMBERS="$2"; shift 2 ;;
        --files) FILES="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-enterprise: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

TARGET="${CARGO_TARGET_DIR:-target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
pick() {
    local var="$1" name="$2"
    if [[ -n "${!var:-}" ]]; then echo "${!var}"
    elif [[ -x "$TARGET/release/$name" ]]; then echo "$TARGET/release/$name"
    else echo "$TARGET/debug/$name"; fi
}
TRIB="$(pick TRIBUTARY_BIN tributary)"
EMU="$(pick DROPBOX_EMULATOR_BIN dropbox-emulator)"
export TRIBUTARY_COMPONENT_DIR="${TRIBUTARY_COMPONENT_DIR:-$TARGET/components}"

die() { printf 'bench-enterprise: %s\n' "$*" >&2; exit 1; }
[[ -x "$TRIB" ]] || die "$TRIB not found: cargo build -p tributary -p dropbox-emulator"
[[ -x "$EMU" ]] || die "$EMU not found: cargo build -p dropbox-emulator"
[[ -f "$TRIBUTARY_COMPONENT_DIR/dropbox.wasm" ]] || die "$TRIBUTARY_COMPONENT_DIR/dropbox.wasm not found: make components"
command -v python3 >/dev/null || die "python3 is needed"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tributary-bench-enterprise.XXXXXX")"
EMU_PID=""
cleanup() {
    if [[ -n "$EMU_PID" ]]; then
        kill "$EMU_PID" 2>/dev/null || true
        wait "$EMU_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SPEC="members=$MEMBERS,files=$FILES"
echo "runner: $TRIB" >&2
echo "emulator: $EMU --generate-team $SPEC" >&2
"$EMU" --listen 127.0.0.1:0 --generate-team "$SPEC" >"$WORK/emu.out" 2>"$WORK/emu.err" &
EMU_PID=$!
URL=""
for _ in $(seq 1 600); do
    URL="$(grep -o 'http://[0-9.:]*' "$WORK/emu.out" 2>/dev/null | head -1 || true)"
    [[ -n "$URL" ]] && break
    kill -0 "$EMU_PID" 2>/dev/null || die "the emulator exited: $(cat "$WORK/emu.err")"
    sleep 0.5
done
[[ -n "$URL" ]] || die "the emulator printed no URL within 300 s"

config() {
    local file="$1" dls="$2"
    {
        echo "tenant = \"bench-enterprise\""
        echo "connector = \"dropbox\""
        echo "[source]"
        echo "app_key = \"emulator-app-key\""
        echo "app_secret = \"emulator-app-secret\""
        echo "refresh_token = \"emulator-refresh-token\""
        for k in api_url content_url notify_url oauth_url web_url; do echo "$k = \"$URL\""; done
        echo "team_scope = \"all_members\""
        echo "include_received_files = false"
        echo "use_document_level_security = $dls"
        [[ "$dls" == true ]] && echo "include_inherited_users_and_groups = true"
        echo "[content]"
        echo "extract = false"
    } >"$file"
}
config "$WORK/off.toml" false
config "$WORK/on.toml" true

CACHE="$WORK/component-cache"
# Warm the compile cache so that no measured run compiles the component.
"$TRIB" --cache-dir "$CACHE" sync --config "$WORK/off.toml" --dry-run /dev/null --full --quiet \
    --report "$WORK/warm.json" >/dev/null 2>"$WORK/warm.err" || die "warm-up sync failed: $(tail -5 "$WORK/warm.err")"

# Peak RSS of the runner (component included) when GNU time is there.
TIMED=()
if [[ -x /usr/bin/time ]] && /usr/bin/time -v true >/dev/null 2>&1; then
    TIMED=(/usr/bin/time -v -o)
fi
for i in $(seq 1 "$RUNS"); do
    for mode in off on; do
        start=$(date +%s.%N)
        if [[ ${#TIMED[@]} -gt 0 ]]; then
            "${TIMED[@]}" "$WORK/$mode-$i.time" \
                "$TRIB" --cache-dir "$CACHE" sync --config "$WORK/$mode.toml" --dry-run /dev/null --full --quiet \
                --report "$WORK/$mode-$i.json" >/dev/null 2>"$WORK/$mode-$i.err" \
                || die "sync ($mode, run $i) failed: $(tail -5 "$WORK/$mode-$i.err")"
        else
            "$TRIB" --cache-dir "$CACHE" sync --config "$WORK/$mode.toml" --dry-run /dev/null --full --quiet \
                --report "$WORK/$mode-$i.json" >/dev/null 2>"$WORK/$mode-$i.err" \
                || die "sync ($mode, run $i) failed: $(tail -5 "$WORK/$mode-$i.err")"
        fi
        end=$(date +%s.%N)
        echo "{\"mode\": \"$mode\", \"wall\": $(python3 -c "print($end - $start)")}" >"$WORK/$mode-$i.wall"
    done
done

python3 - "$WORK" "$RUNS" "$SPEC" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, os, re, statistics, sys
work, runs, spec, load = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

def rss_mb(path):
    if not os.path.exists(path):
        return None
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(path).read())
    return int(m.group(1)) / 1024 if m else None

rows = {}
for mode in ("off", "on"):
    walls, entries, calls, rss = [], [], [], []
    for i in range(1, runs + 1):
        rep = json.load(open(f"{work}/{mode}-{i}.json"))
        walls.append(json.load(open(f"{work}/{mode}-{i}.wall"))["wall"])
        entries.append(rep["indexed"])
        calls.append(rep["api_calls"])
        rss.append(rss_mb(f"{work}/{mode}-{i}.time"))
    rss = [r for r in rss if r is not None]
    rows[mode] = (statistics.median(walls), statistics.median(entries),
                  statistics.median(calls), statistics.median(rss) if rss else None)
print(f"team: {spec} (emulator --generate-team); load before the report: {load}; median of {runs} runs")
print(f"{'':24}{'time (s)':>10}{'documents':>12}{'entries/s':>12}{'API calls':>11}{'calls/entry':>13}{'peak RSS':>11}")
for mode, label in (("off", "DLS off"), ("on", "DLS on (+inherited)")):
    wall, n, c, rss = rows[mode]
    shown = f"{rss:.0f} MB" if rss is not None else "-"
    print(f"{label:24}{wall:>10.2f}{n:>12.0f}{n / wall:>12.0f}{c:>11.0f}{c / n:>13.4f}{shown:>11}")
ratio = rows["on"][0] / rows["off"][0]
print(f"DLS / no DLS time: {ratio:.2f}x (goal < 2)")
PY
