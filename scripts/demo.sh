#!/usr/bin/env bash
# Demo: index a small sample Dropbox (served by the emulator) into a local search server,
# search it, then show that the second sync is incremental.
#
# Needs: the binaries built under ${CARGO_TARGET_DIR:-target} (make build), the component at
# <target>/components/dropbox.wasm, and osmem-server (pip install osmem-server==0.1.6).
# Usage: scripts/demo.sh [search words]   (default: "search latency")
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
TRIBUTARY="${TRIBUTARY_BIN:-$TARGET/debug/tributary}"
EMULATOR="${DROPBOX_EMULATOR_BIN:-$TARGET/debug/dropbox-emulator}"
export TRIBUTARY_COMPONENT_DIR="${TRIBUTARY_COMPONENT_DIR:-$TARGET/components}"
export TRIBUTARY_CACHE_DIR="${TRIBUTARY_CACHE_DIR:-$TARGET/tributary-test-cache}"
QUERY="${*:-search latency}"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

[[ -x "$TRIBUTARY" ]] || die "$TRIBUTARY not found: run 'make build' (or cargo build) first"
[[ -x "$EMULATOR" ]] || die "$EMULATOR not found: run 'make build' (or cargo build) first"
[[ -f "$TRIBUTARY_COMPONENT_DIR/dropbox.wasm" ]] || die "$TRIBUTARY_COMPONENT_DIR/dropbox.wasm not found: build the component (make build)"
OSMEM="${OSMEM_SERVER_BIN:-$(python3 -c 'import osmem_server,os;print(os.path.dirname(osmem_server.__file__))' 2>/dev/null)/bin/osmem-server}"
[[ -x "$OSMEM" ]] || die "osmem-server not found: pip install osmem-server==0.1.6 (or set OSMEM_SERVER_BIN)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tributary-demo.XXXXXX")"
EMU_PID=""
ES_PID=""
cleanup() {
    [[ -n "$EMU_PID" ]] && kill "$EMU_PID" 2>/dev/null || true
    [[ -n "$ES_PID" ]] && kill "$ES_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

say "Starting the Dropbox emulator with tests/fixtures/sample-docs"
"$EMULATOR" --listen 127.0.0.1:0 --seed-dir tests/fixtures/sample-docs >"$WORK/emulator.out" 2>"$WORK/emulator.err" &
EMU_PID=$!
DROPBOX_URL=""
for _ in $(seq 1 200); do
    DROPBOX_URL="$(grep -o 'http://[0-9.:]*' "$WORK/emulator.out" 2>/dev/null | head -n1 || true)"
    [[ -n "$DROPBOX_URL" ]] && break
    kill -0 "$EMU_PID" 2>/dev/null || die "the emulator exited: $(cat "$WORK/emulator.err")"
    sleep 0.05
done
[[ -n "$DROPBOX_URL" ]] || die "the emulator printed no URL"
echo "Dropbox emulator: $DROPBOX_URL"

say "Starting osmem-server (Elasticsearch-compatible, in memory)"
# Port 0: osmem picks a free port and prints {"url": ...} first. It normally exits when its
# stdin closes; here it follows this script's pid instead.
"$OSMEM" -addr 127.0.0.1:0 -no-stdin-watch -parent-pid $$ </dev/null >"$WORK/osmem.out" 2>"$WORK/osmem.err" &
ES_PID=$!
ES_URL=""
for _ in $(seq 1 200); do
    ES_URL="$(grep -o 'http://[0-9.:]*' "$WORK/osmem.out" 2>/dev/null | head -n1 || true)"
    [[ -n "$ES_URL" ]] && curl -fsS "$ES_URL/" >/dev/null 2>&1 && break
    kill -0 "$ES_PID" 2>/dev/null || die "osmem-server exited: $(cat "$WORK/osmem.err")"
    sleep 0.05
done
[[ -n "$ES_URL" ]] && curl -fsS "$ES_URL/" >/dev/null || die "osmem-server did not come up"
echo "Search server: $ES_URL"

CONFIG="$WORK/demo.toml"
cat >"$CONFIG" <<EOF
tenant = "demo"
connector = "dropbox"

[source]
path = "/"
app_key = "emulator-app-key"
app_secret = "emulator-app-secret"
refresh_token = "emulator-refresh-token"
api_url = "$DROPBOX_URL"
content_url = "$DROPBOX_URL"
notify_url = "$DROPBOX_URL"
oauth_url = "$DROPBOX_URL"
web_url = "$DROPBOX_URL"

[elasticsearch]
url = "$ES_URL"
index = "dropbox-demo"
state_index = "tributary-state"

[content]
max_bytes = 10485760
EOF
echo "Config written to $CONFIG"

say "tributary check"
"$TRIBUTARY" check --config "$CONFIG"

say "tributary sync (first run: full)"
"$TRIBUTARY" sync --config "$CONFIG" --quiet

say "Searching for: $QUERY"
curl -fsS -X POST "$ES_URL/dropbox-demo/_refresh" >/dev/null
QUERY_JSON="$(python3 -c 'import json,sys; print(json.dumps({"size": 5, "query": {"multi_match": {"query": sys.argv[1], "fields": ["name^2", "body"]}}, "_source": ["name", "file_path", "body", "type"]}))' "$QUERY")"
cat >"$WORK/show_hits.py" <<'PY'
import json, sys
res = json.load(sys.stdin)
hits = res["hits"]["hits"]
total = res["hits"]["total"]
total = total["value"] if isinstance(total, dict) else total
words = [w for w in sys.argv[1].lower().split() if w]
print("%d matching documents; top %d:" % (total, len(hits)))
for i, h in enumerate(hits, 1):
    s = h["_source"]
    body = s.get("body") or ""
    low = body.lower()
    found = [low.find(w) for w in words if low.find(w) >= 0]
    start = max(0, (min(found) if found else 0) - 60)
    snippet = ("..." if start else "") + body[start:start + 160] + ("..." if len(body) > start + 160 else "")
    print()
    print(" %d. %s   (score %.2f)" % (i, s.get("name"), h["_score"]))
    print("    %s" % s.get("file_path", "(shared with you)"))
    if snippet.strip():
        print('    "%s"' % snippet)
PY
curl -fsS -X POST "$ES_URL/dropbox-demo/_search" -H 'Content-Type: application/json' -d "$QUERY_JSON" |
    python3 "$WORK/show_hits.py" "$QUERY"

RICH="winter traverse Cabane du Glacier"
say "Searching inside PDF, Word, Excel and PowerPoint files for: $RICH"
RICH_JSON="$(python3 -c 'import json,sys; print(json.dumps({"size": 5, "query": {"multi_match": {"query": sys.argv[1], "fields": ["name^2", "body"]}}, "_source": ["name", "file_path", "body", "type"]}))' "$RICH")"
curl -fsS -X POST "$ES_URL/dropbox-demo/_search" -H 'Content-Type: application/json' -d "$RICH_JSON" |
    python3 "$WORK/show_hits.py" "$RICH"

say "Changing one file in Dropbox, then syncing again (incremental: only the change is fetched)"
TOKEN="$(curl -fsS -X POST "$DROPBOX_URL/oauth2/token" \
    -d grant_type=refresh_token -d refresh_token=emulator-refresh-token \
    -d client_id=emulator-app-key -d client_secret=emulator-app-secret |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
curl -fsS -X POST "$DROPBOX_URL/2/files/upload" \
    -H "Authorization: Bearer $TOKEN" \
    -H 'Dropbox-API-Arg: {"path": "/Meeting Notes/2025-03-17 retro.md", "mode": "overwrite"}' \
    -H 'Content-Type: application/octet-stream' \
    --data-binary $'# Retro - 17 March\n\nSearch latency is now 40 ms. Watch mode demo went well.\n' >/dev/null
"$TRIBUTARY" sync --config "$CONFIG" --quiet

say "Done"
echo "The second run above says 'incremental' and fetched one document."
