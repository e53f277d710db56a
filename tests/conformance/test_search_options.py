"""files/search_v2 options as advanced sync rules use them (reference §4.5; issue 11): path,
max_results, file_status, filename_only, file_extensions, file_categories, order_by, match
metadata, highlights, and the member's own view."""

import dropbox
import pytest
from dropbox import files, stone_serializers

from team_world import enterprise_manifest, members_by_email, rooted


@pytest.fixture
def manifest():
    return enterprise_manifest()


@pytest.fixture
def ctx(emu, sess):
    t = emu.team(session=sess)
    p = members_by_email(t)
    return {"team": t, "p": p, "emu": emu,
            "ann": rooted(t.as_user(p["ann@example.com"].team_member_id), t)}


def search_all(dbx, query, **opts):
    res = dbx.files_search_v2(query, options=files.SearchOptions(**opts) if opts else None)
    matches = list(res.matches)
    pages = 1
    while res.has_more:
        res = dbx.files_search_continue_v2(res.cursor)
        matches += res.matches
        pages += 1
    return matches, pages


def paths(matches):
    return [m.metadata.get_metadata().path_display for m in matches]


def test_content_and_filename_matches(ctx):
    ann = ctx["ann"]
    matches, _ = search_all(ann, "budget")
    kinds = {m.metadata.get_metadata().path_display: m.match_type._tag for m in matches}
    assert kinds == {"/Ann Lee/notes.txt": "file_content", "/Ann Lee/Project X/plan.md": "file_content",
                     "/Engineering/Specs/api.md": "file_content", "/Engineering/Roadmap.paper": "file_content"}
    only_names, _ = search_all(ann, "budget", filename_only=True)
    assert only_names == []
    named, _ = search_all(ann, "plan")
    assert paths(named) == ["/Ann Lee/Project X/plan.md"] and named[0].match_type.is_filename_and_content()


def test_path_extensions_categories(ctx):
    ann = ctx["ann"]
    m, _ = search_all(ann, "", path="/Finance Docs")
    assert sorted(paths(m)) == ["/Finance Docs/q1.xlsx", "/Finance Docs/summary.pdf"]
    m, _ = search_all(ann, "", file_extensions=["pdf"])
    assert sorted(paths(m)) == ["/Ann Lee/report.pdf", "/Finance Docs/summary.pdf"]
    m, _ = search_all(ann, "", file_categories=[files.FileCategory.spreadsheet])
    assert sorted(paths(m)) == ["/Finance Docs/q1.xlsx"]
    m, _ = search_all(ann, "", file_categories=[files.FileCategory.paper, files.FileCategory.document])
    assert sorted(paths(m)) == ["/Ann Lee/Project X/Secret/keys.txt", "/Ann Lee/Project X/plan.md",
                                "/Ann Lee/notes.txt", "/Ann Lee/wide.txt", "/Engineering/Roadmap.paper",
                                "/Engineering/Specs/api.md", "/Engineering/design.docx"]
    m, _ = search_all(ann, "", file_categories=[files.FileCategory.folder], path="/Ann Lee")
    assert sorted(paths(m)) == ["/Ann Lee/Project X", "/Ann Lee/Project X/Secret"]
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        ann.files_search_v2("x", options=files.SearchOptions(path="/Nowhere"))
    assert ei.value.error.is_path() and ei.value.error.get_path().is_not_found()


def test_max_results_order_and_highlights(ctx):
    ann = ctx["ann"]
    for i in range(5):
        ann.files_upload(f"v{i}".encode(), f"/Ann Lee/Logs/log{i}.txt",
                         client_modified=None, mode=files.WriteMode.overwrite)
    m, pages = search_all(ann, "log", max_results=2, order_by=files.SearchOrderBy.last_modified_time)
    assert pages == 3
    times = [x.metadata.get_metadata().server_modified for x in m
             if isinstance(x.metadata.get_metadata(), files.FileMetadata)]
    assert times == sorted(times, reverse=True)
    res = ann.files_search_v2("log3", match_field_options=files.SearchMatchFieldOptions(include_highlights=True))
    spans = [(s.highlight_str, s.is_highlighted) for s in res.matches[0].highlight_spans]
    assert spans == [("log3", True), (".txt", False)]


def test_deleted_status(ctx):
    ann = ctx["ann"]
    ann.files_delete_v2("/Ann Lee/notes.txt")
    m, _ = search_all(ann, "notes", file_status=files.FileStatus.deleted)
    assert [type(x.metadata.get_metadata()).__name__ for x in m] == ["DeletedMetadata"]
    m, _ = search_all(ann, "notes")
    assert m == []


def test_search_is_member_scoped(ctx):
    t, p = ctx["team"], ctx["p"]
    bob = t.as_user(p["bob@example.com"].team_member_id)
    m, _ = search_all(bob, "")
    got = set(paths(m))
    assert "/Project X/plan.md" in got and "/private.txt" in got
    assert not any("notes" in x or "carol" in x for x in got)
    carol = rooted(t.as_user(p["carol@example.com"].team_member_id), t)
    m, _ = search_all(carol, "keys")
    assert paths(m) == ["/Carol Diaz/Secret/keys.txt"]
    m, _ = search_all(ctx["ann"], "", account_id=p["bob@example.com"].account_id)
    assert m == [], "Ann cannot see Bob's files"
    m, _ = search_all(bob, "", account_id=p["ann@example.com"].account_id)
    assert sorted(paths(m)) == ["/Project X", "/Project X/Secret", "/Project X/Secret/keys.txt",
                                "/Project X/plan.md"], "what Bob sees that Ann owns"


def test_search_strict_and_errors(ctx):
    emu, p = ctx["emu"], ctx["p"]
    tok = emu.access_token()
    h = {"Dropbox-API-Select-User": p["ann@example.com"].team_member_id}
    arg = {"query": "budget", "options": {"max_results": 1, "file_categories": [{".tag": "document"}],
                                          "order_by": {".tag": "relevance"}},
           "match_field_options": {"include_highlights": True}}
    r = emu.rpc("files/search_v2", arg, token=tok, headers=h)
    assert r.status_code == 200
    stone_serializers.json_decode(files.search_v2.result_type, r.text, strict=True)
    r = emu.rpc("files/search_v2", {"query": "x", "options": {"max_results": 0}}, token=tok, headers=h)
    assert r.status_code == 400 and "max_results" in r.text
    r = emu.rpc("files/search_v2", {"query": "x", "options": {"file_categories": [{".tag": "nope"}]}},
                token=tok, headers=h)
    assert r.status_code == 400
    r = emu.rpc("files/search/continue_v2", {"cursor": "garbage"}, token=tok, headers=h)
    assert r.status_code == 409 and r.json()["error"][".tag"] == "invalid_argument"
