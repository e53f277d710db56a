"""files/download: by path, by id, by rev, Range requests (reference §4.2, §0.2-0.3)."""

import json

import dropbox
import pytest

from conftest import BIG, content_hash

A_TXT = b"alpha file\n"


def test_download_by_path(dbx):
    md, resp = dbx.files_download("/Docs/a.txt")
    assert resp.status_code == 200
    assert resp.content == A_TXT
    assert isinstance(md, dropbox.files.FileMetadata)
    assert md.name == "a.txt" and md.path_display == "/Docs/a.txt"
    assert md.size == len(A_TXT)
    assert md.content_hash == content_hash(A_TXT)
    assert resp.headers["Content-Type"] == "application/octet-stream"


def test_download_by_id_and_rev(dbx):
    meta = dbx.files_get_metadata("/Docs/Reports/Q1 Report.txt")
    md, resp = dbx.files_download(meta.id)
    assert resp.content == b"Quarter one numbers: 42\n"
    assert md.id == meta.id and md.path_lower == "/docs/reports/q1 report.txt"

    md2, resp2 = dbx.files_download("rev:" + meta.rev)
    assert resp2.content == b"Quarter one numbers: 42\n" and md2.rev == meta.rev

    # id-relative path: id:<folder id>/child
    folder = dbx.files_get_metadata("/Docs/Reports")
    md3, resp3 = dbx.files_download(folder.id + "/Q1 Report.txt")
    assert resp3.content == b"Quarter one numbers: 42\n" and md3.id == meta.id


def test_download_multiblock_file(dbx):
    md, resp = dbx.files_download("/Big/blocks.bin")
    assert resp.content == BIG
    assert md.size == len(BIG) and md.content_hash == content_hash(BIG)


@pytest.mark.parametrize(
    "byte_range,sl",
    [((10, 19), slice(10, 20)), ((100, None), slice(100, None)), ((None, 5), slice(-5, None)),
     ((0, 0), slice(0, 1))],
)
def test_download_range_via_sdk(dbx, byte_range, sl):
    data = bytes(range(256)) * 3
    total = len(data)
    md, resp = dbx.files_download("/Photos/pixel.bin", extra_headers=dropbox.build_range_headers(byte_range))
    want = data[sl]
    assert resp.status_code == 206
    start = sl.start if sl.start is None or sl.start >= 0 else total + sl.start
    start = start or 0
    assert resp.headers["Content-Range"] == f"bytes {start}-{start + len(want) - 1}/{total}"
    assert resp.content == want
    assert md.size == total, "Dropbox-API-Result describes the whole file"
    assert md.content_hash == content_hash(data)


def test_download_range_across_block_boundary(dbx):
    lo, hi = 4 * 1024 * 1024 - 10, 4 * 1024 * 1024 + 9
    md, resp = dbx.files_download("/Big/blocks.bin", extra_headers={"Range": f"bytes={lo}-{hi}"})
    assert resp.status_code == 206
    assert resp.content == BIG[lo : hi + 1]
    assert resp.headers["Content-Range"] == f"bytes {lo}-{hi}/{len(BIG)}"


def test_download_range_raw(emu, token):
    r = emu.download("files/download", {"path": "/Docs/a.txt"}, token=token, headers={"Range": "bytes=2-5"})
    assert r.status_code == 206
    assert r.content == A_TXT[2:6]
    assert r.headers["Content-Range"] == f"bytes 2-5/{len(A_TXT)}"
    assert "X-Dropbox-Request-Id" in r.headers
    result = json.loads(r.headers["Dropbox-API-Result"])
    assert result["size"] == len(A_TXT) and result["name"] == "a.txt"


def test_download_unsatisfiable_range(emu, token):
    r = emu.download("files/download", {"path": "/Docs/a.txt"}, token=token, headers={"Range": "bytes=500-600"})
    # Dropbox answers either RFC 416 or 409 range/not_satisfiable (§4.2); never a 2xx with wrong bytes.
    assert r.status_code in (409, 416), (r.status_code, r.content[:200])


def test_download_query_string_alternatives(emu, token):
    # ?arg= and ?authorization= instead of headers (§0.2).
    r = emu.download("files/download", None,
                     params={"arg": json.dumps({"path": "/Docs/a.txt"}), "authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.content == A_TXT
    assert json.loads(r.headers["Dropbox-API-Result"])["path_lower"] == "/docs/a.txt"


def test_download_get_method_allowed(emu, token):
    r = __import__("requests").get(
        emu.base + "/2/files/download",
        headers={"Authorization": f"Bearer {token}", "Dropbox-API-Arg": json.dumps({"path": "/Docs/a.txt"})},
        timeout=30,
    )
    assert r.status_code == 200 and r.content == A_TXT


def test_download_errors(dbx):
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        dbx.files_download("/Docs/missing.txt")
    assert ei.value.error.is_path() and ei.value.error.get_path().is_not_found()

    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        dbx.files_download("/Docs")
    assert ei.value.error.is_path() and ei.value.error.get_path().is_not_file()


def test_get_metadata_by_id_path_and_case(dbx):
    by_path = dbx.files_get_metadata("/DOCS/A.TXT")
    assert by_path.name == "a.txt", "name always has the stored case"
    assert by_path.path_lower == "/docs/a.txt"
    by_id = dbx.files_get_metadata(by_path.id)
    assert by_id.id == by_path.id and by_id.rev == by_path.rev
    folder = dbx.files_get_metadata("/Docs")
    assert isinstance(folder, dropbox.files.FolderMetadata) and folder.name == "Docs"
