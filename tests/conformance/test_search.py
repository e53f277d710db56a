"""files/search_v2 (reference §4.5): matches carry metadata.metadata."""

import dropbox


def test_search_finds_file_by_name(dbx):
    res = dbx.files_search_v2("nested")
    paths = [m.metadata.get_metadata().path_lower for m in res.matches]
    assert "/docs/reports/deep/nested.md" in paths
    assert all(isinstance(m.metadata.get_metadata(), (dropbox.files.FileMetadata, dropbox.files.FolderMetadata))
               for m in res.matches)


def test_search_path_and_extension_filters(dbx):
    opts = dropbox.files.SearchOptions(path="/Docs", file_extensions=["md"])
    res = dbx.files_search_v2("nested", options=opts)
    assert [m.metadata.get_metadata().path_lower for m in res.matches] == ["/docs/reports/deep/nested.md"]
    res = dbx.files_search_v2("nested", options=dropbox.files.SearchOptions(path="/Old"))
    assert res.matches == []


def test_search_pagination(dbx):
    for i in range(5):
        dbx.files_upload(b"x", f"/Many/zebra{i}.txt")
    res = dbx.files_search_v2("zebra", options=dropbox.files.SearchOptions(max_results=2))
    found = [m.metadata.get_metadata().path_lower for m in res.matches]
    assert res.has_more and res.cursor
    while res.has_more:
        res = dbx.files_search_continue_v2(res.cursor)
        found += [m.metadata.get_metadata().path_lower for m in res.matches]
    assert set(found) == {f"/many/zebra{i}.txt" for i in range(5)}
