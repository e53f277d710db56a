"""Members of folders and files for document-level security (reference §5.4-5.6; issue 11):
users, groups and invitees, inheritance, `limit` and continuation, the batch form and its
truncation, shared folder metadata."""

import dropbox
import pytest
from dropbox import sharing, stone_serializers

from team_world import (
    enterprise_manifest,
    file_members_all,
    folder_members_all,
    members_by_email,
    rooted,
)


@pytest.fixture
def manifest():
    return enterprise_manifest()


@pytest.fixture
def ctx(emu, sess):
    t = emu.team(session=sess)
    profiles = members_by_email(t)
    ann = rooted(t.as_user(profiles["ann@example.com"].team_member_id), t)
    return {"team": t, "p": profiles, "ann": ann, "emu": emu}


def member(ctx, email, root=True):
    dbx = ctx["team"].as_user(ctx["p"][email].team_member_id)
    return rooted(dbx, ctx["team"]) if root else dbx


def sfid(dbx, path):
    return dbx.files_get_metadata(path).shared_folder_id


def test_shared_folder_members_users_groups_invitees(ctx):
    ann, p = ctx["ann"], ctx["p"]
    sid = sfid(ann, "/Ann Lee/Project X")
    users, groups, invitees, pages = folder_members_all(ann, sid, limit=1)
    assert pages == 4, "owner, Bob, the Design group, the invitee: one per page"
    assert [(u.user.email, u.access_type._tag, u.is_inherited) for u in users] == [
        ("ann@example.com", "owner", False), ("bob@example.com", "editor", False)]
    assert users[0].user.team_member_id == p["ann@example.com"].team_member_id and users[0].user.same_team
    assert [(g.group.group_name, g.access_type._tag) for g in groups] == [("Design", "viewer")]
    g = groups[0].group
    assert g.member_count == 1 and g.group_type.is_user_managed() and not g.is_member
    assert [(i.invitee.get_email(), i.access_type._tag) for i in invitees] == [("guest@partner.org", "viewer")]


def test_nested_folder_direct_and_inherited_members(ctx):
    ann = ctx["ann"]
    sid = sfid(ann, "/Ann Lee/Project X/Secret")
    md = ann.files_get_metadata("/Ann Lee/Project X/Secret")
    assert md.sharing_info.parent_shared_folder_id == sfid(ann, "/Ann Lee/Project X")
    users, groups, invitees, _ = folder_members_all(ann, sid)
    assert [(u.user.email, u.is_inherited) for u in users] == [("ann@example.com", False),
                                                               ("carol@example.com", False)]
    assert groups == [] and invitees == []
    # With `path`, members reaching it through the parent folder come too, flagged inherited.
    users, groups, invitees, _ = folder_members_all(ann, sid, path="/Ann Lee/Project X/Secret")
    got = {(u.user.email, u.is_inherited) for u in users}
    assert got == {("ann@example.com", False), ("carol@example.com", False), ("bob@example.com", True)}
    assert [(g.group.group_name, g.is_inherited) for g in groups] == [("Design", True)]
    assert [i.invitee.get_email() for i in invitees] == ["guest@partner.org"]


def test_folder_members_actions_and_errors(ctx):
    ann, emu = ctx["ann"], ctx["emu"]
    sid = sfid(ann, "/Ann Lee/Project X")
    actions = [sharing.MemberAction.remove, sharing.MemberAction.make_viewer]
    res = ann.sharing_list_folder_members(sid, actions=actions)
    perms = {u.user.email: [(x.action._tag, x.allow, x.reason and x.reason._tag) for x in u.permissions]
             for u in res.users}
    assert perms["ann@example.com"] == [("remove", False, "target_is_owner"),
                                        ("make_viewer", False, "target_is_owner")]
    assert perms["bob@example.com"] == [("remove", True, None), ("make_viewer", True, None)]
    dave = member(ctx, "dave@example.com")
    res = dave.sharing_list_folder_members(sid, actions=actions)
    bob = next(u for u in res.users if u.user.email == "bob@example.com")
    assert [(x.allow, x.reason._tag) for x in bob.permissions] == [(False, "permission_denied")] * 2, \
        "a viewer cannot manage members"
    # Errors: bare SharedFolderAccessError on list, wrapped on continue.
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        ann.sharing_list_folder_members("999999")
    assert ei.value.error.is_invalid_id()
    erin = member(ctx, "erin@example.com")
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        erin.sharing_list_folder_members(sid)
    assert ei.value.error.is_not_a_member()
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        ann.sharing_list_folder_members_continue("bad")
    assert ei.value.error.is_invalid_cursor()
    tok = emu.access_token()
    h = {"Dropbox-API-Select-User": ctx["p"]["ann@example.com"].team_member_id}
    r = emu.rpc("sharing/list_folder_members", {"shared_folder_id": "999999"}, token=tok, headers=h)
    assert r.status_code == 409 and r.json()["error"] == {".tag": "invalid_id"}
    r = emu.rpc("sharing/list_folder_members", {"shared_folder_id": sid, "limit": 0}, token=tok, headers=h)
    assert r.status_code == 400 and "limit" in r.text


def test_select_admin_reads_any_folder_members(ctx):
    """An admin acting team-wide (Select-Admin) reads members of folders it is not in."""
    bob_shared = sfid(member(ctx, "bob@example.com"), "/Bob Smith/Bob Shared")
    admin = ctx["team"].as_admin(ctx["p"]["ann@example.com"].team_member_id)
    users, _, _, _ = folder_members_all(admin, bob_shared)
    assert [u.user.email for u in users] == ["bob@example.com", "carol@example.com"]
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        ctx["ann"].sharing_list_folder_members(bob_shared)
    assert ei.value.error.is_not_a_member()


def test_file_members_direct_and_inherited(ctx):
    ann = ctx["ann"]
    report = ann.files_get_metadata("/Ann Lee/report.pdf")
    users, groups, invitees, _ = file_members_all(ann, report.id, include_inherited=False)
    assert [(u.user.email, u.access_type._tag, u.is_inherited) for u in users] == [
        ("ann@example.com", "owner", False), ("dave@example.com", "viewer", False)]
    assert [g.group.group_name for g in groups] == ["Finance"]
    assert [i.invitee.get_email() for i in invitees] == ["auditor@outside.org"]
    assert all(u.platform_type is not None for u in users), "file member entries carry platform_type"

    plan = ann.files_get_metadata("/Ann Lee/Project X/plan.md")
    assert plan.sharing_info.parent_shared_folder_id == plan.parent_shared_folder_id
    users, groups, invitees, _ = file_members_all(ann, plan.id, include_inherited=False)
    assert [(u.user.email, u.access_type._tag, u.is_inherited) for u in users] == [
        ("carol@example.com", "editor", False)]
    assert groups == [] and invitees == []
    users, groups, invitees, _ = file_members_all(ann, plan.id, include_inherited=True)
    got = {(u.user.email, u.access_type._tag, u.is_inherited) for u in users}
    assert got == {("ann@example.com", "owner", True), ("bob@example.com", "editor", True),
                   ("carol@example.com", "editor", False)}
    assert [(g.group.group_name, g.is_inherited) for g in groups] == [("Design", True)]
    assert [(i.invitee.get_email(), i.is_inherited) for i in invitees] == [("guest@partner.org", True)]

    spec = ann.files_get_metadata("/Engineering/Specs/api.md")
    users, groups, invitees, _ = file_members_all(ann, spec.id, include_inherited=True)
    assert users == []
    assert [(g.group.group_name, g.is_inherited) for g in groups] == [("Everyone at Acme", True)]
    assert [i.invitee.get_email() for i in invitees] == ["contractor@outside.org"]


def test_file_members_limit_and_continue_past_twenty(ctx):
    ann, p = ctx["ann"], ctx["p"]
    wide = ann.files_get_metadata("/Ann Lee/wide.txt")
    users, groups, invitees, pages = file_members_all(ann, wide.id, include_inherited=False, limit=7)
    everyone_but_ann = {e for e, prof in p.items()
                        if e != "ann@example.com" and (prof.status.is_active() or prof.status.is_suspended())}
    assert len(everyone_but_ann) == 24
    assert {u.user.email for u in users} == everyone_but_ann | {"ann@example.com"}
    assert len(users) == 25 and pages == 4
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        ann.sharing_list_file_members_continue("bad")
    assert ei.value.error.is_invalid_cursor()


def test_batch_counts_truncates_and_continues(ctx):
    ann = ctx["ann"]
    wide = ann.files_get_metadata("/Ann Lee/wide.txt").id
    report = ann.files_get_metadata("/Ann Lee/report.pdf").id
    notes = ann.files_get_metadata("/Ann Lee/notes.txt").id
    spec = ann.files_get_metadata("/Engineering/Specs/api.md").id
    res = ann.sharing_list_file_members_batch([wide, report, notes, spec, "id:doesnotexist000000"], limit=20)
    assert [r.file for r in res] == [wide, report, notes, spec, "id:doesnotexist000000"]
    w = res[0].result.get_result()
    assert w.member_count == 25, "member_count counts every direct member"
    assert len(w.members.users) == 20, "members are cut at `limit` (Elastic's D6 truncation)"
    assert w.members.cursor, "a truncated batch entry carries a cursor"
    rest = ann.sharing_list_file_members_continue(w.members.cursor)
    seen = [u.user.email for u in w.members.users] + [u.user.email for u in rest.users]
    while rest.cursor:
        rest = ann.sharing_list_file_members_continue(rest.cursor)
        seen += [u.user.email for u in rest.users]
    assert len(seen) == 25 and len(set(seen)) == 25
    r = res[1].result.get_result()
    assert r.member_count == 4 and r.members.cursor is None
    assert {u.user.email for u in r.members.users} == {"ann@example.com", "dave@example.com"}
    assert all(u.permissions is None for u in r.members.users), "the batch leaves out permissions"
    n = res[2].result.get_result()
    assert n.member_count == 1 and [u.access_type._tag for u in n.members.users] == ["owner"]
    s = res[3].result.get_result()
    assert s.member_count == 0 and s.members.groups == [], "inherited members are left out of the batch"
    assert res[4].result.is_access_error() and res[4].result.get_access_error().is_invalid_file()
    zero = ann.sharing_list_file_members_batch([wide], limit=0)[0].result.get_result()
    assert zero.member_count == 25 and zero.members.users == [] and zero.members.cursor


def test_file_members_access_rules(ctx):
    ann = ctx["ann"]
    notes = ann.files_get_metadata("/Ann Lee/notes.txt").id
    bob = member(ctx, "bob@example.com")
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        bob.sharing_list_file_members(notes)
    assert ei.value.error.get_access_error().is_no_permission()
    # A file shared with Carol directly is reachable by id although it is not in her Dropbox.
    carol = member(ctx, "carol@example.com")
    plan = ann.files_get_metadata("/Ann Lee/Project X/plan.md").id
    res = carol.sharing_list_file_members(plan, include_inherited=False)
    assert [u.user.email for u in res.users] == ["carol@example.com"]
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        carol.files_get_metadata(plan)
    assert ei.value.error.get_path().is_not_found()
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        ann.sharing_list_file_members("/Ann Lee/Project X")
    assert ei.value.error.get_access_error().is_is_folder()


def test_get_folder_metadata_and_list_folders(ctx):
    ann, p = ctx["ann"], ctx["p"]
    px = ann.files_get_metadata("/Ann Lee/Project X")
    md = ann.sharing_get_folder_metadata(px.shared_folder_id,
                                         actions=[sharing.FolderAction.unshare, sharing.FolderAction.edit_contents])
    assert md.name == "Project X" and md.access_type.is_owner() and not md.is_team_folder
    assert md.owner_display_names == ["Ann Lee"] and md.folder_id == px.id
    assert md.path_lower == "/ann lee/project x" and md.access_inheritance.is_inherit()
    assert [(x.action._tag, x.allow) for x in md.permissions] == [("unshare", True), ("edit_contents", True)]
    dave = member(ctx, "dave@example.com")
    md = dave.sharing_get_folder_metadata(px.shared_folder_id)
    assert md.access_type.is_viewer() and md.path_lower == "/dave kim/project x"
    eng = ann.files_get_metadata("/Engineering")
    md = ann.sharing_get_folder_metadata(eng.shared_folder_id)
    assert md.is_team_folder and md.access_type.is_editor()
    specs = ann.sharing_get_folder_metadata(ann.files_get_metadata("/Engineering/Specs").shared_folder_id)
    assert specs.is_inside_team_folder and specs.parent_shared_folder_id == eng.shared_folder_id
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        ann.sharing_get_folder_metadata("12345")
    assert ei.value.error.is_invalid_id()
    carol = member(ctx, "carol@example.com")
    res = carol.sharing_list_folders(limit=2)
    names = [e.name for e in res.entries]
    while res.cursor:
        res = carol.sharing_list_folders_continue(res.cursor)
        names += [e.name for e in res.entries]
    assert sorted(names) == ["Bob Shared", "Engineering", "Finance Docs", "Secret", "Specs"]
    assert p["carol@example.com"].team_member_id


def test_members_routes_strict(ctx):
    emu, ann, p = ctx["emu"], ctx["ann"], ctx["p"]
    tok = emu.access_token()
    root = ann.users_get_current_account().root_info.root_namespace_id
    h = {"Dropbox-API-Select-User": p["ann@example.com"].team_member_id,
         "Dropbox-API-Path-Root": '{".tag": "root", "root": "%s"}' % root}
    px = emu.rpc("files/get_metadata", {"path": "/Ann Lee/Project X"}, token=tok, headers=h).json()
    report = emu.rpc("files/get_metadata", {"path": "/Ann Lee/report.pdf"}, token=tok, headers=h).json()
    calls = [
        ("sharing/list_folder_members", {"shared_folder_id": px["shared_folder_id"],
                                         "actions": [{".tag": "remove"}]}, sharing.SharedFolderMembers_validator),
        ("sharing/list_file_members", {"file": report["id"], "actions": [{".tag": "make_editor"}]},
         sharing.SharedFileMembers_validator),
        ("sharing/list_file_members/batch", {"files": [report["id"]], "limit": 1},
         sharing.list_file_members_batch.result_type),
        ("sharing/get_folder_metadata", {"shared_folder_id": px["shared_folder_id"]},
         sharing.get_folder_metadata.result_type),
        ("sharing/list_folders", {"limit": 10}, sharing.list_folders.result_type),
        ("sharing/list_received_files", {}, sharing.list_received_files.result_type),
    ]
    for route, arg, validator in calls:
        r = emu.rpc(route, arg, token=tok, headers=h)
        assert r.status_code == 200, (route, r.text)
        stone_serializers.json_decode(validator, r.text, strict=True)
