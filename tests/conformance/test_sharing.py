"""sharing/list_received_files, get_shared_link_metadata, get_shared_link_file (reference §5.1-5.3)."""

import dropbox
import pytest


def received_all(dbx, limit):
    res = dbx.sharing_list_received_files(limit=limit)
    entries = list(res.entries)
    pages = 1
    while res.cursor:  # the listing ends when cursor is absent (§5.1): no has_more
        res = dbx.sharing_list_received_files_continue(res.cursor)
        entries.extend(res.entries)
        pages += 1
        assert pages < 1000
    return entries, pages


def test_list_received_files_paginates(dbx, emu):
    expected = emu.manifest["received_files"]
    entries, pages = received_all(dbx, limit=1)
    assert pages > 1
    assert sorted(e.name for e in entries) == sorted(f["name"] for f in expected)
    assert len({e.id for e in entries}) == len(entries)
    for e in entries:
        spec = next(f for f in expected if f["name"] == e.name)
        assert e.id.startswith("id:")
        assert e.preview_url
        assert spec["owner"] in (e.owner_display_names or [])
        assert e.policy is not None


def test_list_received_files_single_page(dbx, emu):
    res = dbx.sharing_list_received_files(limit=100)
    assert len(res.entries) == len(emu.manifest["received_files"])
    assert not res.cursor


def test_shared_link_metadata_and_file(dbx, emu):
    entries, _ = received_all(dbx, limit=100)
    for e in entries:
        spec = next(f for f in emu.manifest["received_files"] if f["name"] == e.name)
        data = spec["content"].encode("utf-8")
        md = dbx.sharing_get_shared_link_metadata(e.preview_url)
        assert isinstance(md, dropbox.sharing.FileLinkMetadata)
        assert md.name == spec["name"]
        assert md.size == len(data)
        assert md.url == e.preview_url
        assert md.link_permissions is not None
        fmd, resp = dbx.sharing_get_shared_link_file(e.preview_url)
        assert resp.content == data
        assert fmd.name == spec["name"] and fmd.size == len(data)


def test_received_files_not_in_user_tree(dbx, emu):
    res = dbx.files_list_folder("", recursive=True)
    names = {e.name for e in res.entries}
    while res.has_more:
        res = dbx.files_list_folder_continue(res.cursor)
        names |= {e.name for e in res.entries}
    assert not names & {f["name"] for f in emu.manifest["received_files"]}


def test_unknown_link(dbx):
    url = "https://www.dropbox.com/scl/fi/doesnotexist0000/none.txt?rlkey=zzz&dl=0"
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        dbx.sharing_get_shared_link_metadata(url)
    assert ei.value.error.is_shared_link_not_found()
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        dbx.sharing_get_shared_link_file(url)
    assert ei.value.error.is_shared_link_not_found()


def test_continue_with_bad_cursor(dbx):
    with pytest.raises((dropbox.exceptions.ApiError, dropbox.exceptions.BadInputError)) as ei:
        dbx.sharing_list_received_files_continue("not-a-real-cursor")
    if isinstance(ei.value, dropbox.exceptions.ApiError):
        assert ei.value.error.is_invalid_cursor()


def test_received_file_added_at_runtime(dbx, emu):
    emu.admin("POST", "/_admin/received", {"name": "Late.txt", "content": "late arrival", "owner": "Dan Wu"})
    entries, _ = received_all(dbx, limit=2)
    assert sorted(e.name for e in entries) == sorted([f["name"] for f in emu.manifest["received_files"]] + ["Late.txt"])
    late = next(e for e in entries if e.name == "Late.txt")
    assert "Dan Wu" in late.owner_display_names
    _, resp = dbx.sharing_get_shared_link_file(late.preview_url)
    assert resp.content == b"late arrival"


def test_shared_link_metadata_with_app_auth(dbx, emu, sess):
    """get_shared_link_metadata has auth `app, user` (§5.2): the SDK uses HTTP Basic when it has no token."""
    from conftest import APP_KEY, APP_SECRET

    entry = dbx.sharing_list_received_files().entries[0]
    app_only = dropbox.Dropbox(app_key=APP_KEY, app_secret=APP_SECRET, session=sess)
    md = app_only.sharing_get_shared_link_metadata(entry.preview_url)
    assert md.name == entry.name
