"""Shared fixtures for the Dropbox emulator conformance suite.

Every test talks to a freshly started `dropbox-emulator` process (one per test,
so that writes, faults and token expiry never leak between tests).  The
official Dropbox Python SDK is pointed at it through a `requests.Session`
subclass that rewrites the Dropbox hosts to the emulator's base URL
(reference §8.1).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
from pathlib import Path

import dropbox
import pytest
import requests
from dropbox.content_hash import DropboxContentHasher

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

APP_KEY = "emulator-app-key"
APP_SECRET = "emulator-app-secret"
REFRESH_TOKEN = "emulator-refresh-token"

DROPBOX_HOSTS = {
    "api.dropboxapi.com": "api.dropboxapi.com",
    "content.dropboxapi.com": "content.dropboxapi.com",
    "notify.dropboxapi.com": "notify.dropboxapi.com",
    "www.dropbox.com": "www.dropbox.com",
}


# --------------------------------------------------------------------------------------
# Independent helpers
# --------------------------------------------------------------------------------------

BLOCK = 4 * 1024 * 1024


def content_hash(data: bytes) -> str:
    """Dropbox content_hash (reference §3.7), implemented independently of the SDK."""
    import hashlib

    digests = b"".join(
        hashlib.sha256(data[i : i + BLOCK]).digest() for i in range(0, len(data), BLOCK)
    )
    ours = hashlib.sha256(digests).hexdigest()
    # Cross-check against the SDK's own hasher so that the two can never disagree silently.
    h = DropboxContentHasher()
    h.update(data)
    assert h.hexdigest() == ours
    return ours


def pattern_bytes(n: int, seed: int = 0) -> bytes:
    """Deterministic, non-repeating-per-block bytes (fast for multi-MiB sizes)."""
    base = bytes((i * 7 + seed) % 251 for i in range(251))
    return (base * (n // 251 + 1))[:n]


def file_bytes(spec: dict) -> bytes | None:
    if "content" in spec:
        return spec["content"].encode("utf-8")
    if "content_base64" in spec:
        return base64.b64decode(spec["content_base64"])
    return None  # {"size": N}: the emulator invents the bytes


BIG = pattern_bytes(BLOCK * 2 + 1234, seed=3)  # three 4 MiB blocks, the last one short

DEFAULT_MANIFEST = {
    "account": {"display_name": "Ann Lee", "email": "ann@example.com"},
    "folders": ["/Empty", "/Archive"],
    "files": [
        {"path": "/Docs/a.txt", "content": "alpha file\n"},
        {"path": "/Docs/Reports/Q1 Report.txt", "content": "Quarter one numbers: 42\n"},
        {"path": "/Docs/Reports/Deep/nested.md", "content": "# nested\n\nbody\n"},
        {"path": "/Old/one.txt", "content": "one"},
        {"path": "/Old/sub/two.txt", "content": "two"},
        {"path": "/empty.bin", "content_base64": ""},
        {"path": "/Photos/pixel.bin", "content_base64": base64.b64encode(bytes(range(256)) * 3).decode()},
        {"path": "/Big/blocks.bin", "content_base64": base64.b64encode(BIG).decode()},
        {"path": "/Big/sized.dat", "size": 5000},
        {"path": "/Ünïcødé/日本語.txt", "content": "こんにちは 🌸"},
    ],
    "paper": [{"path": "/Plan.paper", "markdown": "# Plan\n\n- ship the emulator\n- test it\n"}],
    "received_files": [
        {"name": "Budget.txt", "content": "Budget 2025: 1,000,000\n", "owner": "Bob Smith"},
        {"name": "Roadmap.md", "content": "# Roadmap\n", "owner": "Carol Diaz"},
        {"name": "Ünïcode notes.txt", "content": "naïve café ☕", "owner": "Bob Smith"},
    ],
}


def expected_tree(manifest: dict) -> dict:
    """path_lower -> {tag, path_display, name, content (bytes|None), size (int|None), paper}."""
    tree: dict[str, dict] = {}

    def add_parents(path: str):
        parts = path.strip("/").split("/")[:-1]
        cur = ""
        for p in parts:
            cur += "/" + p
            tree.setdefault(
                cur.lower(),
                {"tag": "folder", "path_display": cur, "name": p, "content": None, "size": None, "paper": False},
            )

    for f in manifest.get("folders", []):
        add_parents(f)
        tree[f.lower()] = {"tag": "folder", "path_display": f, "name": f.rsplit("/", 1)[1],
                           "content": None, "size": None, "paper": False}
    for f in manifest.get("files", []):
        add_parents(f["path"])
        data = file_bytes(f)
        tree[f["path"].lower()] = {
            "tag": "file", "path_display": f["path"], "name": f["path"].rsplit("/", 1)[1],
            "content": data, "size": len(data) if data is not None else f.get("size"), "paper": False,
        }
    for p in manifest.get("paper", []):
        add_parents(p["path"])
        tree[p["path"].lower()] = {"tag": "file", "path_display": p["path"], "name": p["path"].rsplit("/", 1)[1],
                                   "content": None, "size": None, "paper": True}
    return tree


def tag_of(md) -> str:
    if isinstance(md, dropbox.files.FileMetadata):
        return "file"
    if isinstance(md, dropbox.files.FolderMetadata):
        return "folder"
    if isinstance(md, dropbox.files.DeletedMetadata):
        return "deleted"
    raise AssertionError(f"unexpected metadata type {type(md)!r}")


def list_all(dbx, path="", recursive=True, limit=None, **kw):
    """list_folder + continue until has_more is false. Returns (entries, cursor, pages)."""
    res = dbx.files_list_folder(path, recursive=recursive, limit=limit, **kw)
    entries = list(res.entries)
    pages = 1
    while res.has_more:
        res = dbx.files_list_folder_continue(res.cursor)
        entries.extend(res.entries)
        pages += 1
        assert pages < 10_000, "pagination never terminates"
    return entries, res.cursor, pages


def drain(dbx, cursor):
    """continue until has_more is false. Returns (entries, newest cursor)."""
    entries = []
    while True:
        res = dbx.files_list_folder_continue(cursor)
        entries.extend(res.entries)
        cursor = res.cursor
        if not res.has_more:
            return entries, cursor


# --------------------------------------------------------------------------------------
# Session that points the SDK at the emulator (reference §8.1)
# --------------------------------------------------------------------------------------


class EmulatorSession(requests.Session):
    def __init__(self, base: str):
        super().__init__()
        self.base = base.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        u = urllib.parse.urlsplit(url)
        if u.hostname in DROPBOX_HOSTS:
            headers = dict(kwargs.pop("headers", None) or {})
            headers["X-Emulator-Host"] = u.hostname
            kwargs["headers"] = headers
            url = self.base + u.path + ("?" + u.query if u.query else "")
        return super().request(method, url, *args, **kwargs)


# --------------------------------------------------------------------------------------
# Emulator process
# --------------------------------------------------------------------------------------


def emulator_binary() -> Path:
    env = os.environ.get("DROPBOX_EMULATOR_BIN")
    if env:
        return Path(env)
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        t = Path(target)
        if not t.is_absolute():
            t = REPO / t
        return t / "debug" / "dropbox-emulator"
    return REPO / "target" / "debug" / "dropbox-emulator"


class Emulator:
    def __init__(self, binary: Path, manifest: dict, workdir: Path, extra_args=()):
        self.manifest = manifest
        workdir.mkdir(parents=True, exist_ok=True)
        self.manifest_path = workdir / "manifest.json"
        self.manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
        self.stderr_path = workdir / "emulator.stderr"
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [str(binary), "--listen", "127.0.0.1:0", "--manifest", str(self.manifest_path), *extra_args],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
        )
        lines: queue.Queue = queue.Queue()

        def pump():
            first = True
            for line in self.proc.stdout:  # keep draining so the child never blocks on a full pipe
                if first:
                    lines.put(line)
                    first = False
            if first:
                lines.put(b"")

        threading.Thread(target=pump, daemon=True).start()
        try:
            line = lines.get(timeout=30).decode("utf-8", "replace").strip()
        except queue.Empty:
            self.stop()
            raise RuntimeError("emulator printed nothing on stdout within 30 s")
        prefix = "dropbox-emulator listening on "
        if not line.startswith(prefix):
            self.stop()
            raise RuntimeError(f"unexpected first stdout line {line!r}; stderr:\n{self.stderr_text()}")
        self.base = line[len(prefix):].strip().rstrip("/")

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._stderr.close()

    # ---- clients -------------------------------------------------------------------

    def session(self) -> EmulatorSession:
        return EmulatorSession(self.base)

    def dropbox(self, **kw) -> dropbox.Dropbox:
        kw.setdefault("oauth2_refresh_token", REFRESH_TOKEN)
        kw.setdefault("app_key", APP_KEY)
        kw.setdefault("app_secret", APP_SECRET)
        kw.setdefault("max_retries_on_error", 0)
        kw.setdefault("max_retries_on_rate_limit", 0)
        kw.setdefault("timeout", 60)
        return dropbox.Dropbox(session=kw.pop("session", None) or self.session(), **kw)

    def team(self, **kw) -> dropbox.DropboxTeam:
        kw.setdefault("oauth2_refresh_token", REFRESH_TOKEN)
        kw.setdefault("app_key", APP_KEY)
        kw.setdefault("app_secret", APP_SECRET)
        kw.setdefault("max_retries_on_error", 0)
        kw.setdefault("max_retries_on_rate_limit", 0)
        kw.setdefault("timeout", 60)
        return dropbox.DropboxTeam(session=kw.pop("session", None) or self.session(), **kw)

    # ---- raw HTTP --------------------------------------------------------------------

    def token_request(self, data=None, params=None, auth=None) -> requests.Response:
        return requests.post(self.base + "/oauth2/token", data=data, params=params, auth=auth,
                             headers={"X-Emulator-Host": "api.dropboxapi.com"}, timeout=30)

    def access_token(self, refresh_token=REFRESH_TOKEN) -> str:
        r = self.token_request({"grant_type": "refresh_token", "refresh_token": refresh_token,
                                "client_id": APP_KEY, "client_secret": APP_SECRET})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def rpc(self, route, arg=None, token=None, headers=None, body=None, content_type="application/json",
            host="api.dropboxapi.com", timeout=60) -> requests.Response:
        h = {"X-Emulator-Host": host}
        if content_type is not None:
            h["Content-Type"] = content_type
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        h.update(headers or {})
        if body is None:
            body = json.dumps(arg).encode("utf-8")
        return requests.post(f"{self.base}/2/{route}", data=body, headers=h, timeout=timeout)

    def download(self, route, arg, token=None, headers=None, params=None) -> requests.Response:
        h = {"X-Emulator-Host": "content.dropboxapi.com"}
        if arg is not None:
            h["Dropbox-API-Arg"] = json.dumps(arg)  # ensure_ascii=True: header-safe JSON (§0.2)
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        h.update(headers or {})
        return requests.post(f"{self.base}/2/{route}", headers=h, params=params, timeout=60)

    def admin(self, method, path, body=None) -> requests.Response:
        r = requests.request(method, self.base + path, json=body, timeout=30)
        assert 200 <= r.status_code < 300, f"admin {method} {path} -> {r.status_code}: {r.text}"
        return r

    def stats(self) -> dict:
        return self.admin("GET", "/_admin/stats").json()

    def route_count(self, route: str) -> int:
        return route_count(self.stats(), route)

    def expire_tokens(self):
        self.admin("POST", "/_admin/tokens/expire")

    def set_faults(self, rules, seed=7):
        self.admin("POST", "/_admin/faults", {"seed": seed, "rules": rules})


def route_count(stats, route: str) -> int:
    """Number of calls recorded for `route` ("oauth2/token", "files/list_folder", ...).

    Accepts the shapes an admin stats endpoint plausibly has: {"routes": {route: n | {"count": n}}},
    {route: n}, keys with or without a leading "/2/" or "/"."""
    candidates = {route, "/" + route, "/2/" + route, "2/" + route}
    containers = [stats]
    if isinstance(stats, dict):
        for key in ("routes", "calls", "requests", "by_route", "counts"):
            if isinstance(stats.get(key), (dict, list)):
                containers.append(stats[key])
    for c in containers:
        if isinstance(c, dict):
            for k, v in c.items():
                if k in candidates:
                    if isinstance(v, dict):
                        for f in ("count", "calls", "requests", "total"):
                            if isinstance(v.get(f), int):
                                return v[f]
                    if isinstance(v, int):
                        return v
        if isinstance(c, list):
            for item in c:
                if isinstance(item, dict) and item.get("route") in candidates:
                    for f in ("count", "calls", "requests", "total"):
                        if isinstance(item.get(f), int):
                            return item[f]
    return 0


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------


@pytest.fixture
def start_emulator():
    # A directory this fixture owns and removes: manifests can be tens of MB, and pytest's own
    # tmp_path directories outlive the run.
    binary = emulator_binary()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail(
            f"dropbox-emulator binary not found at {binary}; build it with "
            "`cargo build -p dropbox-emulator` or set DROPBOX_EMULATOR_BIN"
        )
    workdir = Path(tempfile.mkdtemp(prefix="dropbox-emulator-conformance-"))
    started: list[Emulator] = []

    def _start(manifest=None, extra_args=()):
        m = copy.deepcopy(DEFAULT_MANIFEST if manifest is None else manifest)
        e = Emulator(binary, m, workdir / f"emu{len(started)}", extra_args)
        started.append(e)
        return e

    try:
        yield _start
    finally:
        for e in started:
            e.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def manifest():
    """Override in a test module to change the data set."""
    return copy.deepcopy(DEFAULT_MANIFEST)


@pytest.fixture
def emu(start_emulator, manifest):
    return start_emulator(manifest)


@pytest.fixture
def sess(emu):
    return emu.session()


@pytest.fixture
def dbx(emu, sess):
    return emu.dropbox(session=sess)


@pytest.fixture
def token(emu):
    return emu.access_token()
