"""sharing/list_folder_members, list_file_members (+batch, +continue) (reference §5.4-5.5)."""

import copy
import json

import dropbox
import pytest
from dropbox import sharing, stone_serializers

from test_team import TEAM_MANIFEST


@pytest.fixture
def manifest():
    return copy.deepcopy(TEAM_MANIFEST)


@pytest.fixture
def ctx(emu, sess):
    team = emu.team(session=sess)
    members = team.team_members_list_v2().members
    admin = team.team_token_get_authenticated_admin().admin_profile
    user = team.as_user(admin.team_member_id)
    root = user.users_get_current_account().root_info
    rooted = user.with_path_root(dropbox.common.PathRoot.root(root.root_namespace_id))
    return {"team": team, "user": rooted, "member_ids": {m.profile.team_member_id for m in members},
            "account_ids": {m.profile.account_id for m in members}, "admin": admin}


def test_team_folder_members_paginate(ctx):
    user = ctx["user"]
    eng = user.files_get_metadata("/Engineering")
    sfid = eng.sharing_info.shared_folder_id
    assert sfid and eng.shared_folder_id == sfid, "mount points carry both forms (§3.2)"
    res = user.sharing_list_folder_members(sfid, limit=1)
    users, groups = list(res.users), list(res.groups)
    pages = 1
    while res.cursor:
        res = user.sharing_list_folder_members_continue(res.cursor)
        users += res.users
        groups += res.groups
        pages += 1
        assert pages < 100
    # A team folder is shared with groups; by default the team's "Everyone at <team>" group.
    assert [g.group.group_name for g in groups] == ["Everyone at Acme"]
    assert groups[0].access_type.is_editor() and groups[0].group.group_type.is_team()
    assert groups[0].group.member_count == len(ctx["member_ids"]) and groups[0].group.is_member
    assert len({u.user.account_id for u in users}) == len(users)
    for u in users:
        assert u.user.account_id in ctx["account_ids"]
        assert u.user.same_team is True and u.user.team_member_id in ctx["member_ids"]


def test_file_in_team_folder_has_parent_shared_folder(ctx):
    user = ctx["user"]
    up = user.files_upload(b"spec", "/Engineering/spec.md")
    eng = user.files_get_metadata("/Engineering")
    md = user.files_get_metadata(up.id)
    assert md.sharing_info is not None
    assert md.sharing_info.parent_shared_folder_id == eng.sharing_info.shared_folder_id
    assert md.parent_shared_folder_id == eng.sharing_info.shared_folder_id

    res = user.sharing_list_file_members(up.id, include_inherited=True)
    # Inherited from the team folder: its group, flagged as inherited.
    assert [g.group.group_name for g in res.groups] == ["Everyone at Acme"]
    assert res.groups[0].is_inherited and res.users == []
    direct = user.sharing_list_file_members(up.id, include_inherited=False)
    assert (direct.users, direct.groups, direct.invitees) == ([], [], [])

    batch = user.sharing_list_file_members_batch([up.id, "id:doesnotexist000000"])
    assert len(batch) == 2
    assert batch[0].file == up.id and batch[0].result.is_result()
    assert batch[1].result.is_access_error()
    assert batch[1].result.get_access_error().is_invalid_file()


def test_list_file_members_errors(ctx):
    user = ctx["user"]
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        user.sharing_list_file_members("id:doesnotexist000000")
    assert ei.value.error.is_access_error() and ei.value.error.get_access_error().is_invalid_file()
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        user.sharing_list_file_members("/Engineering")
    assert ei.value.error.is_access_error()


def test_members_strict(emu, ctx):
    tok = emu.access_token()
    h = {"Dropbox-API-Select-User": ctx["admin"].team_member_id}
    acct = emu.rpc("users/get_current_account", None, token=tok, headers=h).json()
    h["Dropbox-API-Path-Root"] = json.dumps({".tag": "root", "root": acct["root_info"]["root_namespace_id"]})
    sfid = emu.rpc("files/get_metadata", {"path": "/Engineering"}, token=tok, headers=h).json()["shared_folder_id"]
    r = emu.rpc("sharing/list_folder_members", {"shared_folder_id": sfid}, token=tok, headers=h)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    stone_serializers.json_decode(sharing.SharedFolderMembers_validator, r.text, strict=True)
    fid = emu.rpc("files/get_metadata", {"path": "/Docs/a.txt"}, token=tok, headers=h).json()["id"]
    r = emu.rpc("sharing/list_file_members", {"file": fid}, token=tok, headers=h)
    assert r.status_code == 200
    stone_serializers.json_decode(sharing.SharedFileMembers_validator, r.text, strict=True)
    r = emu.rpc("sharing/list_file_members/batch", {"files": [fid]}, token=tok, headers=h)
    assert r.status_code == 200
    assert isinstance(r.json(), list), "batch result is a top-level JSON array (§5.4)"
    stone_serializers.json_decode(sharing.list_file_members_batch.result_type, r.text, strict=True)
