#!/usr/bin/env python3
"""Watch latency: how long from a change in Dropbox (the emulator) until it is searchable.

Runs `tributary watch` against a running emulator and search server, then N times: uploads a
file with a unique word through the Dropbox API, and polls `_search` for that word until it is
found (bounded). Prints one JSON object: {"n", "median_ms", "p95_ms", "max_ms", "samples_ms"}.

usage: watch_latency.py TRIBUTARY CACHE_DIR CONFIG EMULATOR_URL ES_URL INDEX [N]
"""
import json
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

tributary, cache, config, emu, es, index = sys.argv[1:7]
n = int(sys.argv[7]) if len(sys.argv) > 7 else 20


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


token = json.loads(http("POST", emu + "/oauth2/token", urllib.parse.urlencode({
    "grant_type": "refresh_token", "refresh_token": "emulator-refresh-token",
    "client_id": "emulator-app-key", "client_secret": "emulator-app-secret"}).encode(),
    {"Content-Type": "application/x-www-form-urlencoded"}))["access_token"]


def upload(path, text):
    http("POST", emu + "/2/files/upload", text.encode(), {
        "Authorization": "Bearer " + token, "Content-Type": "application/octet-stream",
        "Dropbox-API-Arg": json.dumps({"path": path, "mode": "overwrite"})})


def found(word):
    body = json.dumps({"query": {"match": {"body": word}}, "size": 1}).encode()
    try:
        r = json.loads(http("POST", f"{es}/{index}/_search", body, {"Content-Type": "application/json"}))
    except urllib.error.HTTPError as e:
        if e.code == 404:  # the index does not exist until watch's first sync creates it
            return False
        raise
    return r["hits"]["total"]["value"] > 0 if isinstance(r["hits"]["total"], dict) else r["hits"]["total"] > 0


# The first full sync happens inside `watch`; wait until its first document is searchable.
upload("/watch/warmup.txt", "warmupword")
watch = subprocess.Popen([tributary, "--cache-dir", cache, "watch", "--config", config, "--poll-secs", "30"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
samples = []
try:
    deadline = time.time() + 120
    while not found("warmupword"):
        if time.time() > deadline or watch.poll() is not None:
            sys.exit("watch did not index the warm-up file within 120 s")
        time.sleep(0.01)
    for i in range(n):
        word = f"latencyword{i}x{int(time.time() * 1000)}"
        t0 = time.monotonic()
        upload(f"/watch/change-{i}.txt", f"a change with {word} inside")
        deadline = t0 + 30
        while not found(word):
            if time.monotonic() > deadline:
                sys.exit(f"change {i} not searchable within 30 s")
            time.sleep(0.005)
        samples.append((time.monotonic() - t0) * 1000)
finally:
    watch.terminate()
    watch.wait(timeout=30)
samples.sort()
p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
print(json.dumps({"n": n, "median_ms": round(statistics.median(samples), 1), "p95_ms": round(p95, 1),
                  "max_ms": round(samples[-1], 1), "samples_ms": [round(s, 1) for s in samples]}))
