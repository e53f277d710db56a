"""files/list_folder, /continue, /get_latest_cursor and the change journal (reference §3)."""

import re

import dropbox
import pytest

from conftest import content_hash, drain, expected_tree, list_all, tag_of

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def parent_of(path_lower: str) -> str:
    return path_lower.rsplit("/", 1)[0]


def test_recursive_listing_paginates_exact_tree(dbx, emu):
    expected = expected_tree(emu.manifest)
    entries, cursor, pages = list_all(dbx, "", recursive=True, limit=3)

    assert pages > 1, "limit=3 over a tree of %d items must paginate" % len(expected)
    assert cursor
    seen = [e.path_lower for e in entries]
    assert len(seen) == len(set(seen)), f"duplicate entries across pages: {seen}"
    assert set(seen) == set(expected), (
        f"missing={sorted(set(expected) - set(seen))} extra={sorted(set(seen) - set(expected))}"
    )

    position = {p: i for i, p in enumerate(seen)}
    ids = set()
    for e in entries:
        exp = expected[e.path_lower]
        assert tag_of(e) == exp["tag"], e.path_lower
        assert e.name == exp["name"]
        assert e.path_display == exp["path_display"]
        assert e.path_lower == exp["path_display"].lower()
        assert e.id.startswith("id:") and e.id not in ids
        ids.add(e.id)
        parent = parent_of(e.path_lower)
        if parent:
            assert position[parent] < position[e.path_lower], f"{e.path_lower} listed before its parent"
        if exp["tag"] != "file":
            continue
        assert re.fullmatch(r"[0-9a-f]{9,}", e.rev), e.rev
        assert e.server_modified and e.client_modified
        if exp["paper"]:
            assert e.is_downloadable is False
            assert e.export_info is not None and e.export_info.export_as == "html"
            assert "markdown" in (e.export_info.export_options or [])
            continue
        assert e.is_downloadable is True
        assert e.size == exp["size"], e.path_lower
        if exp["content"] is not None:
            assert e.content_hash == content_hash(exp["content"]), e.path_lower


def test_size_only_file_hash_matches_downloaded_bytes(dbx, emu):
    spec = next(f for f in emu.manifest["files"] if "size" in f)
    md = dbx.files_get_metadata(spec["path"])
    _, resp = dbx.files_download(spec["path"])
    data = resp.content
    assert len(data) == spec["size"] == md.size
    assert md.content_hash == content_hash(data)


def test_known_hash_values(dbx):
    # Published values (§3.7): empty file; and a multi-block file is not sha256(data).
    md = dbx.files_get_metadata("/empty.bin")
    assert md.size == 0
    assert md.content_hash == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    big = dbx.files_get_metadata("/Big/blocks.bin")
    import hashlib
    from conftest import BIG
    assert big.content_hash != hashlib.sha256(BIG).hexdigest()
    assert big.content_hash == content_hash(BIG)


def test_non_recursive_listing_of_root_and_subfolder(dbx, emu):
    expected = expected_tree(emu.manifest)
    entries, _, _ = list_all(dbx, "", recursive=False)
    top = {p for p in expected if p.count("/") == 1}
    assert {e.path_lower for e in entries} == top

    entries, _, _ = list_all(dbx, "/docs", recursive=False)  # case-insensitive path
    assert {e.path_lower for e in entries} == {p for p in expected if parent_of(p) == "/docs"}
    assert {e.path_display for e in entries} == {"/Docs/a.txt", "/Docs/Reports"}

    entries, _, _ = list_all(dbx, "/Empty", recursive=False)
    assert entries == []


def test_timestamps_are_whole_seconds_utc(emu, token):
    r = emu.rpc("files/list_folder", {"path": "", "recursive": True}, token=token)
    assert r.status_code == 200
    for e in r.json()["entries"]:
        for k in ("client_modified", "server_modified"):
            if k in e:
                assert TS.match(e[k]), e[k]
        if e[".tag"] == "deleted":
            assert "id" not in e
        for v in e.values():
            assert v is not None, f"optional fields must be omitted, not null: {e}"


def test_list_folder_errors(dbx):
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        dbx.files_list_folder("/does/not/exist")
    assert ei.value.error.is_path() and ei.value.error.get_path().is_not_found()

    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        dbx.files_list_folder("/Docs/a.txt")
    assert ei.value.error.is_path() and ei.value.error.get_path().is_not_folder()


def apply_changes(state: dict, entries):
    """Apply list_folder entries with the documented client rules (§3.3)."""
    for e in entries:
        p = e.path_lower
        t = tag_of(e)
        if t == "deleted":
            for k in [k for k in state if k == p or k.startswith(p + "/")]:
                del state[k]
        elif t == "file":
            for k in [k for k in state if k.startswith(p + "/")]:
                del state[k]
            state[p] = ("file", e.id, e.rev, e.size, e.content_hash)
        else:
            state[p] = ("folder", e.id)
    return state


def test_continue_returns_exactly_the_writes(dbx):
    initial, cursor, _ = list_all(dbx, "", recursive=True, limit=4)
    ids_before = {e.path_lower: e.id for e in initial}

    # No change yet: nothing to report.
    res = dbx.files_list_folder_continue(cursor)
    assert res.entries == [] and res.has_more is False
    cursor = res.cursor

    new_data = b"freshly uploaded\n"
    up = dbx.files_upload(new_data, "/Docs/new.txt")
    assert up.size == len(new_data) and up.content_hash == content_hash(new_data)
    created = dbx.files_create_folder_v2("/NewFolder").metadata
    deleted = dbx.files_delete_v2("/Old").metadata
    assert isinstance(deleted, dropbox.files.FolderMetadata) and deleted.path_lower == "/old"
    moved = dbx.files_move_v2("/Docs/a.txt", "/Archive/a.txt").metadata
    assert moved.id == ids_before["/docs/a.txt"], "a move must keep the id"

    changes, cursor2 = drain(dbx, cursor)
    got = sorted((tag_of(e), e.path_lower) for e in changes)
    want = sorted([
        ("file", "/docs/new.txt"),
        ("folder", "/newfolder"),
        ("deleted", "/old"),
        ("deleted", "/docs/a.txt"),
        ("file", "/archive/a.txt"),
    ])
    assert got == want, f"continue returned {got}"

    by_path = {e.path_lower: e for e in changes}
    assert by_path["/docs/new.txt"].id == up.id and by_path["/docs/new.txt"].rev == up.rev
    assert by_path["/docs/new.txt"].content_hash == content_hash(new_data)
    assert by_path["/newfolder"].id == created.id
    assert by_path["/archive/a.txt"].id == ids_before["/docs/a.txt"]
    assert by_path["/archive/a.txt"].path_display == "/Archive/a.txt"
    assert not hasattr(by_path["/old"], "id") or getattr(by_path["/old"], "id", None) is None

    # Applying initial listing + changes in order must give the same state as a fresh listing.
    state = apply_changes({}, initial)
    apply_changes(state, changes)
    fresh, _, _ = list_all(dbx, "", recursive=True)
    assert state == apply_changes({}, fresh)

    # And nothing more is pending.
    res = dbx.files_list_folder_continue(cursor2)
    assert res.entries == [] and res.has_more is False


def test_subfolder_cursor_only_sees_its_subtree(dbx):
    _, cursor, _ = list_all(dbx, "/Docs", recursive=True)
    dbx.files_upload(b"outside", "/outside.txt")
    dbx.files_upload(b"inside", "/Docs/Reports/inside.txt")
    changes, _ = drain(dbx, cursor)
    assert [(tag_of(e), e.path_lower) for e in changes] == [("file", "/docs/reports/inside.txt")]


def test_get_latest_cursor_sees_only_later_changes(dbx):
    latest = dbx.files_list_folder_get_latest_cursor("", recursive=True).cursor
    assert latest
    dbx.files_upload(b"x", "/later.txt")
    changes, _ = drain(dbx, latest)
    assert [(tag_of(e), e.path_lower) for e in changes] == [("file", "/later.txt")]


def test_overwrite_changes_rev_and_hash(dbx):
    before = dbx.files_get_metadata("/Docs/a.txt")
    after = dbx.files_upload(b"replaced", "/Docs/a.txt", mode=dropbox.files.WriteMode.overwrite)
    assert after.id == before.id
    assert after.rev != before.rev
    assert after.content_hash == content_hash(b"replaced") != before.content_hash
    _, resp = dbx.files_download("/Docs/a.txt")
    assert resp.content == b"replaced"


def test_upload_conflict_in_add_mode(dbx):
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        dbx.files_upload(b"dup", "/Docs/a.txt", mode=dropbox.files.WriteMode.add, autorename=False)
    assert ei.value.error.is_path() and ei.value.error.get_path().reason.is_conflict()


def test_upload_content_hash_mismatch_is_rejected(dbx):
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        dbx.files_upload(b"payload", "/hash.txt", content_hash=content_hash(b"other"))
    assert ei.value.error.is_content_hash_mismatch()


def test_case_only_rename_is_not_reported_but_name_changes(dbx):
    _, cursor, _ = list_all(dbx, "", recursive=True)
    dbx.files_move_v2("/Photos", "/photos")
    md = dbx.files_get_metadata("/PHOTOS")
    assert md.name == "photos"
    changes, _ = drain(dbx, cursor)
    # §3.3: "Changes that only alter the case of a path are not reported."
    assert [(tag_of(c), c.path_lower) for c in changes] == []


def test_include_deleted_on_initial_listing(dbx):
    dbx.files_delete_v2("/Old/one.txt")
    entries, _, _ = list_all(dbx, "", recursive=True, include_deleted=True)
    deleted = [e.path_lower for e in entries if tag_of(e) == "deleted"]
    assert "/old/one.txt" in deleted
    plain, _, _ = list_all(dbx, "", recursive=True)
    assert "/old/one.txt" not in {e.path_lower for e in plain}
    assert all(tag_of(e) != "deleted" for e in plain)


def test_get_metadata_include_deleted(dbx):
    dbx.files_delete_v2("/Old/one.txt")
    with pytest.raises(dropbox.exceptions.ApiError):
        dbx.files_get_metadata("/Old/one.txt")
    md = dbx.files_get_metadata("/Old/one.txt", include_deleted=True)
    assert isinstance(md, dropbox.files.DeletedMetadata) and md.name == "one.txt"


def test_old_revision_still_downloadable(dbx):
    old = dbx.files_get_metadata("/Docs/a.txt")
    dbx.files_upload(b"v2", "/Docs/a.txt", mode=dropbox.files.WriteMode.overwrite)
    _, resp = dbx.files_download("rev:" + old.rev)
    assert resp.content == b"alpha file\n"
    _, resp = dbx.files_download("/Docs/a.txt")
    assert resp.content == b"v2"
