"""Envelope strictness with raw requests; longpoll (reference §0.2-0.5, §3.5, §9.2-9.3, §9.8)."""

import json
import threading
import time

import dropbox
import pytest

from conftest import list_all


def assert_400_text(r, *needles):
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("text/plain"), r.headers["Content-Type"]
    assert r.headers.get("X-Dropbox-Request-Id")
    for n in needles:
        assert n in r.text, r.text


def test_unknown_field_rejected(emu, token):
    r = emu.rpc("files/list_folder", {"path": "", "bogus_field": True}, token=token)
    assert_400_text(r, "unknown field", "files/list_folder")
    cursor = emu.rpc("files/list_folder", {"path": ""}, token=token).json()["cursor"]
    r = emu.rpc("files/list_folder/continue", {"cursor": cursor, "path": ""}, token=token)
    assert_400_text(r, "unknown field")


def test_unknown_field_in_download_arg(emu, token):
    r = emu.download("files/download", {"path": "/Docs/a.txt", "nope": 1}, token=token)
    assert_400_text(r, "unknown field")


def test_slash_root_rejected(emu, token):
    r = emu.rpc("files/list_folder", {"path": "/"}, token=token)
    assert_400_text(r)


@pytest.mark.parametrize("arg", [{"path": 5}, {}, {"path": "no-leading-slash"}, {"path": "", "limit": 0},
                                 {"path": "", "limit": 2001}, {"path": "", "recursive": "yes"}])
def test_bad_arguments_rejected(emu, token, arg):
    assert_400_text(emu.rpc("files/list_folder", arg, token=token))


def test_malformed_json_rejected(emu, token):
    assert_400_text(emu.rpc("files/list_folder", None, token=token, body=b"{not json"))


def test_content_type_checks(emu, token):
    good = emu.rpc("files/list_folder", {"path": ""}, token=token)
    assert good.status_code == 200
    assert good.headers["Content-Type"] == "application/json"  # exactly, no charset
    assert good.headers.get("X-Dropbox-Request-Id")

    r = emu.rpc("files/list_folder", {"path": ""}, token=token, content_type="text/xml")
    assert_400_text(r, "Content-Type")
    for ct in ("application/json; charset=utf-8", "text/plain; charset=dropbox-cors-hack"):
        r = emu.rpc("files/list_folder", {"path": ""}, token=token, content_type=ct)
        assert r.status_code == 200, (ct, r.text)


def test_void_route_bodies(emu, token):
    assert emu.rpc("users/get_current_account", None, token=token).status_code == 200  # "null"
    assert emu.rpc("users/get_current_account", None, token=token, body=b"", content_type=None).status_code == 200
    r = emu.rpc("users/get_current_account", None, token=token, body=b"", content_type="application/json")
    assert_400_text(r)


def test_request_id_everywhere(emu, token):
    responses = [
        emu.rpc("files/list_folder", {"path": ""}, token=token),
        emu.rpc("files/get_metadata", {"path": "/nope"}, token=token),
        emu.rpc("files/list_folder", {"path": ""}, token="sl.bogus"),
        emu.download("files/download", {"path": "/Docs/a.txt"}, token=token),
        emu.token_request({"grant_type": "refresh_token", "refresh_token": "x", "client_id": "y"}),
    ]
    ids = [r.headers.get("X-Dropbox-Request-Id") for r in responses]
    assert all(ids), [(r.status_code, dict(r.headers)) for r in responses]
    assert len(set(ids)) == len(ids), "request ids should be unique"


def test_malformed_token_is_400(emu):
    r = emu.rpc("files/list_folder", {"path": ""}, token="!!! not a token !!!")
    assert r.status_code == 400


def test_authorization_query_param_and_cors_hack(emu, token):
    r = __import__("requests").post(
        emu.base + "/2/files/list_folder",
        params={"authorization": f"Bearer {token}"},
        data=json.dumps({"path": ""}),
        headers={"Content-Type": "text/plain; charset=dropbox-cors-hack"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.json()["entries"]


def test_unknown_route_is_not_200(emu, token):
    r = emu.rpc("files/definitely_not_a_route", {}, token=token)
    assert r.status_code in (400, 404)


def test_longpoll_after_prior_change(emu, dbx, sess):
    _, cursor, _ = list_all(dbx, "", recursive=True)
    dbx.files_upload(b"change", "/poll-before.txt")
    t0 = time.monotonic()
    res = dbx.files_list_folder_longpoll(cursor, timeout=30)
    assert res.changes is True
    assert time.monotonic() - t0 < 5


def test_longpoll_wakes_on_concurrent_change(emu, dbx):
    _, cursor, _ = list_all(dbx, "", recursive=True)
    out = {}

    def poll():
        t0 = time.monotonic()
        try:
            out["res"] = dbx.files_list_folder_longpoll(cursor, timeout=30)
        except Exception as e:  # noqa: BLE001 - surfaced below
            out["err"] = e
        out["t"] = time.monotonic() - t0

    th = threading.Thread(target=poll)
    th.start()
    writer = emu.dropbox()
    writer.files_upload(b"change", "/poll-during.txt")
    t_change = time.monotonic()
    th.join(timeout=60)
    assert not th.is_alive(), "longpoll did not return after the change"
    assert "err" not in out, out.get("err")
    assert out["res"].changes is True
    assert time.monotonic() - t_change < 10, "longpoll must return promptly after the change"
    changes = dbx.files_list_folder_continue(cursor).entries
    assert [e.path_lower for e in changes] == ["/poll-during.txt"]


def test_longpoll_raw(emu, dbx):
    _, cursor, _ = list_all(dbx, "", recursive=True)
    dbx.files_upload(b"x", "/raw-poll.txt")
    r = emu.rpc("files/list_folder/longpoll", {"cursor": cursor, "timeout": 30},
                host="notify.dropboxapi.com")  # no Authorization header: noauth route
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert r.json()["changes"] is True
    for bad in (10, 481):
        r = emu.rpc("files/list_folder/longpoll", {"cursor": cursor, "timeout": bad}, host="notify.dropboxapi.com")
        assert_400_text(r)


def test_longpoll_sdk_sends_no_auth(emu, dbx):
    # Even a client without any credentials can longpoll (auth type noauth).
    _, cursor, _ = list_all(dbx, "", recursive=True)
    dbx.files_upload(b"x", "/noauth.txt")
    anon = dropbox.Dropbox(oauth2_access_token="unused-but-required", session=emu.session())
    assert anon.files_list_folder_longpoll(cursor, timeout=30).changes is True
