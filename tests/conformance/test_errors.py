"""Error model, 409 envelopes, injected 429/5xx faults, cursor reset (reference §2, §3.3, §7, §9.5-9.6)."""

import re
import time

import dropbox
import pytest

from conftest import list_all


def test_get_metadata_not_found(dbx):
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        dbx.files_get_metadata("/nope")
    err = ei.value.error
    assert err.is_path() and err.get_path().is_not_found()
    assert ei.value.request_id


def test_409_envelope_raw(emu, token):
    r = emu.rpc("files/get_metadata", {"path": "/nope"}, token=token)
    assert r.status_code == 409
    assert r.headers["Content-Type"] == "application/json"
    body = r.json()
    assert body["error"] == {".tag": "path", "path": {".tag": "not_found"}}
    assert re.fullmatch(r"path/not_found/\.*", body["error_summary"]), body["error_summary"]
    assert r.headers.get("X-Dropbox-Request-Id")


def test_get_metadata_root_is_400(emu, token):
    # (The SDK refuses "" client-side, so this is raw only.)
    r = emu.rpc("files/get_metadata", {"path": ""}, token=token)
    assert r.status_code == 400
    assert r.headers["Content-Type"].startswith("text/plain")


def test_rate_limit_retried_by_sdk(emu):
    dbx = emu.dropbox(max_retries_on_rate_limit=1)
    dbx.users_get_current_account()  # token refresh happens outside the faulted prefix
    emu.set_faults([{"kind": "rate_limit", "route_prefix": "files/", "fraction": 1.0, "count": 1,
                     "retry_after_secs": 1}])
    before = emu.route_count("files/list_folder")
    t0 = time.monotonic()
    res = dbx.files_list_folder("")
    elapsed = time.monotonic() - t0
    assert res.entries
    assert elapsed >= 1.0, "the SDK must have slept retry_after seconds"
    assert emu.route_count("files/list_folder") - before == 2, "one 429, one retried success"
    assert emu.stats()["routes"]["files/list_folder"]["statuses"] == {"429": 1, "200": 1}


def test_rate_limit_error_details(emu):
    dbx = emu.dropbox(max_retries_on_rate_limit=0)
    dbx.users_get_current_account()
    emu.set_faults([{"kind": "rate_limit", "route_prefix": "files/", "fraction": 1.0, "count": 1,
                     "retry_after_secs": 7}])
    with pytest.raises(dropbox.exceptions.RateLimitError) as ei:
        dbx.files_list_folder("")
    assert ei.value.backoff == 7
    assert ei.value.error is not None and ei.value.error.reason.is_too_many_requests()
    # count=1: the next call goes through.
    assert dbx.files_list_folder("").entries


def test_rate_limit_raw_and_text_variant(emu, token):
    emu.set_faults([{"kind": "rate_limit", "route_prefix": "files/list_folder", "fraction": 1.0, "count": 1,
                     "retry_after_secs": 3}])
    r = emu.rpc("files/list_folder", {"path": ""}, token=token)
    assert r.status_code == 429
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Retry-After"] == "3"
    body = r.json()
    assert body["error"]["retry_after"] == 3
    assert body["error"]["reason"][".tag"] in ("too_many_requests", "too_many_write_operations")

    emu.admin("DELETE", "/_admin/faults")
    emu.set_faults([{"kind": "rate_limit", "route_prefix": "files/", "fraction": 1.0, "count": 1,
                     "retry_after_secs": 4, "text_body": True}])
    sess_dbx = dropbox.Dropbox(token, session=emu.session(), max_retries_on_rate_limit=0)
    with pytest.raises(dropbox.exceptions.RateLimitError) as ei:
        sess_dbx.files_list_folder("")
    assert ei.value.error is None and ei.value.backoff == 4  # taken from the Retry-After header


def test_fault_scoped_to_prefix(emu, dbx):
    dbx.users_get_current_account()
    emu.set_faults([{"kind": "rate_limit", "route_prefix": "sharing/", "fraction": 1.0, "count": 5,
                     "retry_after_secs": 1}])
    assert dbx.files_list_folder("").entries  # not faulted
    with pytest.raises(dropbox.exceptions.RateLimitError):
        dbx.sharing_list_received_files()
    emu.admin("DELETE", "/_admin/faults")
    dbx.sharing_list_received_files()


def test_server_error_retried_then_surfaced(emu):
    dbx = emu.dropbox(max_retries_on_error=1)
    dbx.users_get_current_account()
    emu.set_faults([{"kind": "server_error", "route_prefix": "files/get_metadata", "fraction": 1.0,
                     "count": 1, "status": 503}])
    assert dbx.files_get_metadata("/Docs/a.txt").name == "a.txt"

    dbx0 = emu.dropbox(max_retries_on_error=0)
    dbx0.users_get_current_account()
    emu.set_faults([{"kind": "server_error", "route_prefix": "files/get_metadata", "fraction": 1.0,
                     "count": 1, "status": 503}])
    with pytest.raises(dropbox.exceptions.InternalServerError) as ei:
        dbx0.files_get_metadata("/Docs/a.txt")
    assert ei.value.status_code == 503


def test_cursor_reset(emu, dbx):
    _, cursor, _ = list_all(dbx, "", recursive=True)
    emu.admin("POST", "/_admin/cursors/reset")
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        dbx.files_list_folder_continue(cursor)
    assert ei.value.error.is_reset()
    # A fresh list_folder works again and yields a usable cursor.
    _, cursor, _ = list_all(dbx, "", recursive=True)
    assert dbx.files_list_folder_continue(cursor).entries == []


def test_cursor_of_deleted_folder(dbx):
    _, cursor, _ = list_all(dbx, "/Old", recursive=True)
    dbx.files_delete_v2("/Old")
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        dbx.files_list_folder_continue(cursor)
    assert ei.value.error.is_path() and ei.value.error.get_path().is_not_found()


def test_longpoll_reset(emu, dbx):
    _, cursor, _ = list_all(dbx, "", recursive=True)
    emu.admin("POST", "/_admin/cursors/reset")
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        dbx.files_list_folder_longpoll(cursor, timeout=30)
    assert ei.value.error.is_reset()


def test_team_token_needs_select_user(start_emulator):
    from test_team import TEAM_MANIFEST

    emu = start_emulator(TEAM_MANIFEST)
    tok = emu.access_token()
    r = emu.rpc("users/get_current_account", None, token=tok)
    assert r.status_code == 400
    assert r.headers["Content-Type"].startswith("text/plain")


def test_drop_fault_then_recovery(emu, dbx):
    import requests

    dbx.users_get_current_account()
    emu.set_faults([{"kind": "drop", "route_prefix": "files/get_metadata", "fraction": 1.0, "count": 1}])
    with pytest.raises(requests.exceptions.ConnectionError):
        dbx.files_get_metadata("/Docs/a.txt")
    assert dbx.files_get_metadata("/Docs/a.txt").name == "a.txt"
    assert emu.stats()["routes"]["files/get_metadata"]["statuses"].get("dropped") == 1


def test_latency_fault(emu, dbx):
    dbx.users_get_current_account()
    emu.set_faults([{"kind": "latency", "route_prefix": "files/get_metadata", "fraction": 1.0, "count": 1,
                     "latency_ms": 700}])
    t0 = time.monotonic()
    dbx.files_get_metadata("/Docs/a.txt")
    assert time.monotonic() - t0 >= 0.7
    t0 = time.monotonic()
    dbx.files_get_metadata("/Docs/a.txt")
    assert time.monotonic() - t0 < 0.7, "count=1: only the first call is delayed"


def test_fault_fraction_is_seeded(emu, dbx):
    """fraction < 1 hits a reproducible subset for a given seed."""
    dbx.users_get_current_account()

    def pattern():
        emu.set_faults([{"kind": "server_error", "route_prefix": "files/get_metadata", "fraction": 0.5,
                         "status": 500}], seed=11)
        out = []
        for _ in range(20):
            try:
                dbx.files_get_metadata("/Docs/a.txt")
                out.append(0)
            except dropbox.exceptions.InternalServerError as e:
                assert e.status_code == 500
                out.append(1)
        return out

    first = pattern()
    assert 0 < sum(first) < 20
    assert pattern() == first
