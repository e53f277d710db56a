"""files/export of Paper docs (reference §4.3, checklist §9.10)."""

import re

import dropbox
import pytest

from conftest import content_hash


def paper(emu):
    return emu.manifest["paper"][0]


def test_export_markdown(dbx, emu):
    doc = paper(emu)
    result, resp = dbx.files_export(doc["path"], export_format="markdown")
    body = resp.content
    assert body.decode("utf-8") == doc["markdown"]
    em = result.export_metadata
    assert re.fullmatch(r"[0-9a-f]{64}", em.export_hash)
    assert em.export_hash == content_hash(body), "export_hash uses the content_hash algorithm (§3.7)"
    assert em.size == len(body)
    assert em.paper_revision is not None
    fm = result.file_metadata
    assert fm.name == doc["path"].rsplit("/", 1)[1]
    assert fm.path_lower == doc["path"].lower()
    assert fm.is_downloadable is False
    assert fm.id.startswith("id:")


def test_export_default_format_is_export_as(dbx, emu):
    doc = paper(emu)
    md = dbx.files_get_metadata(doc["path"])
    assert md.export_info.export_as == "html"
    result, resp = dbx.files_export(doc["path"])
    assert resp.content, "default export (html) must not be empty"
    assert resp.content.decode("utf-8") != doc["markdown"], "default export is html, not markdown"
    assert result.export_metadata.export_hash == content_hash(resp.content)


def test_export_by_id(dbx, emu):
    doc = paper(emu)
    md = dbx.files_get_metadata(doc["path"])
    _, resp = dbx.files_export(md.id, export_format="markdown")
    assert resp.content.decode("utf-8") == doc["markdown"]


def test_download_paper_is_unsupported_file(dbx, emu):
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        dbx.files_download(paper(emu)["path"])
    assert ei.value.error.is_unsupported_file()


def test_export_normal_file_is_non_exportable(dbx):
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        dbx.files_export("/Docs/a.txt", export_format="markdown")
    assert ei.value.error.is_non_exportable()


def test_export_invalid_format(dbx, emu):
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        dbx.files_export(paper(emu)["path"], export_format="xlsx")
    assert ei.value.error.is_invalid_export_format()


def test_export_missing_path(dbx):
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        dbx.files_export("/nope.paper", export_format="markdown")
    assert ei.value.error.is_path() and ei.value.error.get_path().is_not_found()


def test_paper_listed_as_non_downloadable_and_excludable(dbx, emu):
    doc = paper(emu)
    res = dbx.files_list_folder("", recursive=True)
    entries = list(res.entries)
    while res.has_more:
        res = dbx.files_list_folder_continue(res.cursor)
        entries += res.entries
    paper_entries = [e for e in entries if e.path_lower == doc["path"].lower()]
    assert len(paper_entries) == 1 and paper_entries[0].is_downloadable is False
    res = dbx.files_list_folder("", recursive=True, include_non_downloadable_files=False)
    entries = list(res.entries)
    while res.has_more:
        res = dbx.files_list_folder_continue(res.cursor)
        entries += res.entries
    assert doc["path"].lower() not in {e.path_lower for e in entries}
    assert "/docs/a.txt" in {e.path_lower for e in entries}


def test_paper_edit_via_admin_is_journaled(dbx, emu):
    doc = paper(emu)
    before = dbx.files_get_metadata(doc["path"])
    r0, _ = dbx.files_export(doc["path"], export_format="markdown")
    res = dbx.files_list_folder("", recursive=True)
    while res.has_more:
        res = dbx.files_list_folder_continue(res.cursor)
    new_md = "# Plan v2\n\nrewritten\n"
    emu.admin("POST", "/_admin/paper", {"path": doc["path"], "markdown": new_md})
    changes = dbx.files_list_folder_continue(res.cursor).entries
    assert [(type(c).__name__, c.path_lower) for c in changes] == [("FileMetadata", doc["path"].lower())]
    assert changes[0].id == before.id and changes[0].rev != before.rev
    r1, resp = dbx.files_export(doc["path"], export_format="markdown")
    assert resp.content.decode() == new_md
    assert r1.export_metadata.paper_revision > r0.export_metadata.paper_revision
    assert r1.export_metadata.export_hash == content_hash(new_md.encode())

    # A new Paper doc created at runtime is listed and exportable.
    emu.admin("POST", "/_admin/paper", {"path": "/Notes/Idea.paper", "markdown": "idea"})
    _, resp = dbx.files_export("/Notes/Idea.paper", export_format="markdown")
    assert resp.content == b"idea"
