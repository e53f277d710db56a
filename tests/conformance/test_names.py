"""Names that stress Dropbox-API-Arg / Dropbox-API-Result escaping (reference §0.2)."""

import json

import pytest

from conftest import content_hash, list_all

NAMES = [
    'He said "hi".txt',
    "back\\slash\\name.txt",
    "emoji 😀🎉 party.txt",
    "日本語のファイル.txt",
    "Ελληνικά русский.txt",
    "עברית عربي.txt",
    "mixed 'quote' & ampersand {braces} [x] %20.txt",
    "tab\u00a0nbsp ÿ\u007f.txt",
]


@pytest.mark.parametrize("name", NAMES)
def test_upload_download_roundtrip(dbx, name):
    path = "/Names/" + name
    data = ("content of " + name).encode("utf-8")
    up = dbx.files_upload(data, path)
    assert up.name == name
    assert up.path_display == path
    md, resp = dbx.files_download(path)
    assert resp.content == data
    assert md.name == name and md.path_display == path and md.id == up.id
    assert md.content_hash == content_hash(data)
    got = dbx.files_get_metadata(path)
    assert got.name == name and got.path_lower == path.lower()


def test_listing_returns_exact_names(dbx):
    for i, name in enumerate(NAMES):
        dbx.files_upload(str(i).encode(), "/Names/" + name)
    entries, _, _ = list_all(dbx, "/Names", recursive=False)
    assert sorted(e.name for e in entries) == sorted(NAMES)


def test_manifest_non_latin_path_listed(dbx, emu):
    spec = next(f for f in emu.manifest["files"] if f["path"].startswith("/Ünïcødé"))
    entries, _, _ = list_all(dbx, "/Ünïcødé", recursive=False)
    assert [e.path_display for e in entries] == [spec["path"]]
    _, resp = dbx.files_download(spec["path"])
    assert resp.content.decode("utf-8") == spec["content"]


def test_result_header_is_ascii_escaped(emu, token):
    name = "日本語 😀.txt"
    r = emu.rpc("files/list_folder", {"path": ""}, token=token)  # warm-up: token works
    assert r.status_code == 200
    up = emu.download("files/download", {"path": "/Ünïcødé/日本語.txt"}, token=token)
    assert up.status_code == 200
    raw = up.headers["Dropbox-API-Result"]
    # requests decodes header bytes as latin-1: any raw UTF-8 would show up as chars >= 0x80.
    assert all(ord(c) < 0x7F for c in raw), raw
    assert json.loads(raw)["name"] == "日本語.txt"
    del name
