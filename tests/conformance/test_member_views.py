"""Member-scoped views (Select-User, Path-Root, Select-Admin) and what sharing changes do to
`list_folder` deltas (reference §3, §6.5; issue 11)."""

import dropbox
import pytest

from team_world import (
    drain,
    enterprise_manifest,
    list_everything,
    members_by_email,
    rooted,
)


@pytest.fixture
def manifest():
    return enterprise_manifest()


@pytest.fixture
def ctx(emu, sess):
    t = emu.team(session=sess)
    return {"team": t, "p": members_by_email(t), "emu": emu}


def user(ctx, email):
    return ctx["team"].as_user(ctx["p"][email].team_member_id)


def paths(entries):
    return [e.path_display for e in entries]


def test_home_views_show_own_files_and_mounted_shares(ctx):
    bob_home, _ = list_everything(user(ctx, "bob@example.com"))
    assert paths(bob_home) == ["/Bob Shared", "/Bob Shared/shared.txt", "/private.txt",
                               "/Project X", "/Project X/plan.md", "/Project X/Secret",
                               "/Project X/Secret/keys.txt"]
    carol_home, _ = list_everything(user(ctx, "carol@example.com"))
    assert paths(carol_home) == ["/carol.txt", "/Bob Shared", "/Bob Shared/shared.txt",
                                 "/Secret", "/Secret/keys.txt"], \
        "a nested shared folder is mounted on its own when its parent is out of reach"
    ann = user(ctx, "ann@example.com")
    ann_home, _ = list_everything(ann)
    assert "/Bob Shared" not in paths(ann_home)
    # The same file, seen by its owner and by a member, has one id and the mount's path.
    ann_plan = next(e for e in ann_home if e.name == "plan.md")
    bob_plan = next(e for e in bob_home if e.name == "plan.md")
    assert ann_plan.id == bob_plan.id and ann_plan.path_lower == "/project x/plan.md"
    # Viewers see read-only sharing info.
    dave_home, _ = list_everything(user(ctx, "dave@example.com"))
    dave_plan = next(e for e in dave_home if e.name == "plan.md")
    assert dave_plan.sharing_info.read_only is True and bob_plan.sharing_info.read_only is False
    px = next(e for e in dave_home if e.name == "Project X")
    assert px.shared_folder_id and px.sharing_info.shared_folder_id == px.shared_folder_id


def test_other_members_files_are_invisible(ctx):
    bob = rooted(user(ctx, "bob@example.com"), ctx["team"])
    notes = rooted(user(ctx, "ann@example.com"), ctx["team"]).files_get_metadata("/Ann Lee/notes.txt")
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        bob.files_get_metadata(notes.id)
    assert ei.value.error.get_path().is_not_found()
    with pytest.raises(dropbox.exceptions.ApiError):
        bob.files_get_metadata("/Ann Lee/notes.txt")
    with pytest.raises(dropbox.exceptions.ApiError):
        bob.files_download(notes.id)
    root, _ = list_everything(bob)
    assert not any(p.startswith("/Ann Lee") or p.startswith("/Carol Diaz") for p in paths(root))
    assert "/Finance Docs" in paths(root)
    dave_root, _ = list_everything(rooted(user(ctx, "dave@example.com"), ctx["team"]))
    assert "/Finance Docs" not in paths(dave_root), "team folders a member is not in stay hidden"


def test_include_mounted_folders_false_lists_each_namespace_once(ctx):
    bob = user(ctx, "bob@example.com")
    entries, _ = list_everything(bob, include_mounted_folders=False)
    assert paths(entries) == ["/Bob Shared", "/private.txt", "/Project X"], \
        "mount points are listed, their content is not"
    root = rooted(bob, ctx["team"])
    entries, _ = list_everything(root, include_mounted_folders=False)
    assert paths(entries) == ["/Bob Smith", "/Engineering", "/Finance Docs"]


def test_path_root_namespace_and_select_admin(ctx):
    t = ctx["team"]
    spaces = t.team_namespaces_list().namespaces
    ns = {n.name: n.namespace_id for n in spaces}
    bob = user(ctx, "bob@example.com")
    px = bob.with_path_root(dropbox.common.PathRoot.namespace_id(ns["Project X"]))
    entries, _ = list_everything(px)
    assert paths(entries) == ["/plan.md", "/Secret", "/Secret/keys.txt"]
    erin = user(ctx, "erin@example.com")
    with pytest.raises(dropbox.exceptions.PathRootError) as ei:
        erin.with_path_root(dropbox.common.PathRoot.namespace_id(ns["Project X"])).files_list_folder("")
    assert ei.value.error.is_no_permission()
    # An admin acting team-wide reaches every namespace, a member's home included.
    admin = t.as_admin(ctx["p"]["ann@example.com"].team_member_id)
    for name, want in [("Bob Smith", {"/Bob Shared", "/Bob Shared/shared.txt", "/private.txt"}),
                       ("Bob Shared", {"/shared.txt"}),
                       ("Finance Docs", {"/q1.xlsx", "/summary.pdf"})]:
        view = admin.with_path_root(dropbox.common.PathRoot.namespace_id(ns[name]))
        entries, _ = list_everything(view)
        assert set(paths(entries)) == want, name
    with pytest.raises(dropbox.exceptions.PathRootError):
        user(ctx, "ann@example.com").with_path_root(
            dropbox.common.PathRoot.namespace_id(ns["Bob Smith"])).files_list_folder("")


def test_per_member_cursors_see_only_their_changes(ctx):
    bob, carol = user(ctx, "bob@example.com"), user(ctx, "carol@example.com")
    _, bob_cur = list_everything(bob)
    _, carol_cur = list_everything(carol)
    rooted(user(ctx, "ann@example.com"), ctx["team"]).files_upload(b"x", "/Ann Lee/Project X/new.txt")
    user(ctx, "carol@example.com").files_upload(b"c", "/carol2.txt")
    got, bob_cur = drain(bob, bob_cur)
    assert paths(got) == ["/Project X/new.txt"]
    got, _ = drain(carol, carol_cur)
    assert paths(got) == ["/carol2.txt"]
    got, _ = drain(bob, bob_cur)
    assert got == []


def test_sharing_changes_show_as_mounts_and_unmounts(ctx):
    emu = ctx["emu"]
    erin = user(ctx, "erin@example.com")
    _, cur = list_everything(erin)
    dave = user(ctx, "dave@example.com")
    _, dave_cur = list_everything(dave)
    emu.admin("POST", "/_admin/share", {"target": "/Ann Lee/Project X",
                                         "members": [{"user": "erin@example.com", "access": "viewer"}]})
    got, cur = drain(erin, cur)
    assert paths(got) == ["/Project X", "/Project X/plan.md", "/Project X/Secret", "/Project X/Secret/keys.txt"]
    got, dave_cur = drain(dave, dave_cur)
    assert got == [], "members who keep their access see no change"
    emu.admin("POST", "/_admin/unshare", {"target": "/Ann Lee/Project X",
                                           "members": [{"user": "erin@example.com"}]})
    got, cur = drain(erin, cur)
    assert [(type(e).__name__, e.path_display) for e in got] == [("DeletedMetadata", "/Project X")]
    # A group change reaches its members' views too.
    emu.admin("POST", "/_admin/groups/members", {"group": "Design", "add": ["erin@example.com"]})
    got, cur = drain(erin, cur)
    assert "/Project X/Secret/keys.txt" in paths(got)


def test_sharing_a_folder_rejournals_it_and_file_shares_do_not(ctx):
    emu = ctx["emu"]
    ann = user(ctx, "ann@example.com")
    ann.files_upload(b"a", "/Plans/a.txt")
    _, cur = list_everything(ann)
    r = emu.admin("POST", "/_admin/share", {"target": "/Ann Lee/Plans", "members": [{"user": "bob@example.com"}]})
    sfid = r.json()["shared_folder_id"]
    got, cur = drain(ann, cur)
    assert paths(got) == ["/Plans", "/Plans/a.txt"]
    assert got[0].shared_folder_id == sfid and got[1].parent_shared_folder_id == sfid
    emu.admin("POST", "/_admin/share", {"target": "/Ann Lee/notes.txt", "members": [{"user": "bob@example.com"}]})
    got, cur = drain(ann, cur)
    assert got == [], "file members never show in list_folder"
    md = ann.files_get_metadata("/notes.txt", include_has_explicit_shared_members=True)
    assert md.has_explicit_shared_members is True
    entries, _ = list_everything(ann, include_has_explicit_shared_members=True)
    flags = {e.name: e.has_explicit_shared_members for e in entries if isinstance(e, dropbox.files.FileMetadata)}
    assert flags["notes.txt"] is True and flags["a.txt"] is False and flags["wide.txt"] is True
    emu.admin("POST", "/_admin/unshare", {"target": "/Ann Lee/Plans"})
    got, cur = drain(ann, cur)
    assert paths(got) == ["/Plans", "/Plans/a.txt"]
    assert got[0].shared_folder_id is None and got[1].parent_shared_folder_id is None


def test_removed_member_leaves_every_view(ctx):
    emu, t = ctx["emu"], ctx["team"]
    emu.admin("POST", "/_admin/members/status", {"member": "bob@example.com", "status": "removed"})
    with pytest.raises(dropbox.exceptions.AuthError):
        user(ctx, "bob@example.com").files_list_folder("")
    names = {n.name for n in t.team_namespaces_list().namespaces}
    assert "Bob Smith" not in names and "Bob Shared" in names, "his shared folder outlives him"
    tree = emu.admin("GET", "/_admin/tree?all=true").json()
    all_paths = {e["path_display"] for e in tree["entries"]}
    assert "/Bob Smith/private.txt" not in all_paths
    assert "/Bob Smith/Bob Shared/shared.txt" in all_paths
    carol, _ = list_everything(user(ctx, "carol@example.com"))
    assert "/Bob Shared/shared.txt" in paths(carol)
    ids = set(emu.admin("GET", "/_admin/access?member=bob@example.com").json()["ids"])
    assert ids == set()


def test_member_joins_and_sees_team_folders(ctx):
    emu = ctx["emu"]
    emu.admin("POST", "/_admin/members", {"email": "ivy@example.com", "display_name": "Ivy Lo"})
    p = members_by_email(ctx["team"])
    ivy = rooted(ctx["team"].as_user(p["ivy@example.com"].team_member_id), ctx["team"])
    entries, _ = list_everything(ivy, include_mounted_folders=False)
    assert paths(entries) == ["/Engineering", "/Ivy Lo"]


def test_select_admin_root_namespace_lists_every_namespace_once(ctx):
    """Select-Admin + the root namespace, without mounted folders: every namespace's mount point
    once; with each namespace listed the same way, every item exactly once."""
    t = ctx["team"]
    admin = t.as_admin(ctx["p"]["ann@example.com"].team_member_id)
    spaces = t.team_namespaces_list().namespaces
    root = next(n for n in spaces if n.namespace_type.is_team_member_root())
    view = admin.with_path_root(dropbox.common.PathRoot.namespace_id(root.namespace_id))
    top, _ = list_everything(view, include_mounted_folders=False)
    homes = {n.name for n in spaces if n.namespace_type.is_team_member_folder()}
    assert {e.name for e in top} == homes | {"Engineering", "Finance Docs"}
    seen = {}
    for n in spaces:
        v = admin.with_path_root(dropbox.common.PathRoot.namespace_id(n.namespace_id))
        entries, _ = list_everything(v, include_mounted_folders=False)
        for e in entries:
            seen.setdefault(e.id, []).append(n.name)
    truth = ctx["emu"].admin("GET", "/_admin/tree?all=true").json()["entries"]
    assert len(seen) == len(truth) and all(len(v) == 1 for v in seen.values()), \
        {k: v for k, v in seen.items() if len(v) > 1}
