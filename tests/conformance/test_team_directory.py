"""Team directory routes: members (statuses, groups), groups, group members, namespaces, team
folders, account lookups (reference §6; issue 11)."""

import json

import dropbox
import pytest
from dropbox import stone_serializers, team, users

from team_world import ENTERPRISE, all_pages, enterprise_manifest, members_by_email


@pytest.fixture
def manifest():
    return enterprise_manifest()


@pytest.fixture
def team_client(emu, sess):
    return emu.team(session=sess)


def groups_all(t, limit=1000):
    res = t.team_groups_list(limit=limit)
    return all_pages(res, t.team_groups_list_continue, "groups")


def test_members_statuses_groups_and_removed(team_client):
    want = {m["email"]: m for m in ENTERPRISE["team"]["members"]}
    res = team_client.team_members_list_v2(limit=5)
    active_view, pages = all_pages(res, team_client.team_members_list_continue_v2, "members")
    assert pages > 1
    emails = {m.profile.email for m in active_view}
    assert "gina@example.com" not in emails, "removed members need include_removed"
    assert emails == set(want) - {"gina@example.com"}
    profiles = members_by_email(team_client)
    assert set(profiles) == set(want)
    assert profiles["gina@example.com"].status.is_removed()
    assert profiles["erin@example.com"].status.is_suspended()
    frank = profiles["frank@example.com"]
    assert frank.status.is_invited() and frank.account_id is None, "invited members have no account yet"
    assert profiles["bob@example.com"].external_id == "ext-bob"
    groups, _ = groups_all(team_client)
    by_name = {g.group_name: g.group_id for g in groups}
    everyone = by_name["Everyone at Acme"]
    assert set(profiles["bob@example.com"].groups) == {everyone, by_name["Finance"]}
    assert set(profiles["carol@example.com"].groups) == {everyone, by_name["Finance"]}
    assert set(profiles["dave@example.com"].groups) == {everyone, by_name["Design"]}
    assert profiles["erin@example.com"].groups == [everyone], "suspended members keep their groups"
    assert profiles["gina@example.com"].groups == [] and profiles["frank@example.com"].groups == []
    for p in profiles.values():
        assert p.member_folder_id and p.root_folder_id and p.team_member_id.startswith("dbmid:")


def test_groups_list_and_members(team_client):
    groups, pages = groups_all(team_client, limit=1)
    assert pages == 3
    by_name = {g.group_name: g for g in groups}
    assert set(by_name) == {"Everyone at Acme", "Finance", "Design"}
    assert by_name["Everyone at Acme"].group_management_type.is_system_managed()
    assert by_name["Finance"].group_management_type.is_company_managed()
    assert by_name["Design"].group_management_type.is_user_managed()
    assert by_name["Finance"].group_external_id == "ext-finance"
    # Everyone: active and suspended members (not invited, not removed).
    assert by_name["Everyone at Acme"].member_count == 25
    assert by_name["Finance"].member_count == 2

    sel = team.GroupSelector.group_id(by_name["Finance"].group_id)
    res = team_client.team_groups_members_list(sel, limit=1)
    members, pages = all_pages(res, team_client.team_groups_members_list_continue, "members")
    assert pages == 2
    got = {m.profile.email: m.access_type for m in members}
    assert set(got) == {"bob@example.com", "carol@example.com"}
    assert got["carol@example.com"].is_owner() and got["bob@example.com"].is_member()
    by_ext = team_client.team_groups_members_list(team.GroupSelector.group_external_id("ext-finance"))
    assert {m.profile.email for m in by_ext.members} == set(got)


def test_groups_errors(team_client):
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        team_client.team_groups_members_list(team.GroupSelector.group_id("g:00000000000000000000000000000000"))
    assert ei.value.error.is_group_not_found()
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        team_client.team_groups_list_continue("not-a-cursor")
    assert ei.value.error.is_invalid_cursor()
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        team_client.team_groups_members_list_continue("not-a-cursor")
    assert ei.value.error.is_invalid_cursor()
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        team_client.team_members_list_continue_v2("not-a-cursor")
    assert ei.value.error.is_invalid_cursor()


def test_namespaces_list(team_client):
    res = team_client.team_namespaces_list(limit=4)
    spaces, pages = all_pages(res, team_client.team_namespaces_list_continue, "namespaces")
    assert pages > 1
    by_name = {n.name: n for n in spaces}
    assert len(by_name) == len(spaces)
    profiles = members_by_email(team_client)
    assert by_name["Acme"].namespace_type.is_team_member_root()
    assert by_name["Acme"].namespace_id == profiles["ann@example.com"].root_folder_id
    ann = by_name["Ann Lee"]
    assert ann.namespace_type.is_team_member_folder()
    assert ann.team_member_id == profiles["ann@example.com"].team_member_id
    assert ann.namespace_id == profiles["ann@example.com"].member_folder_id
    assert "Gina Roe" not in by_name and "Frank Ode" not in by_name, "removed and invited members have no home"
    assert "Erin Wu" in by_name
    for tf in ("Engineering", "Finance Docs"):
        assert by_name[tf].namespace_type.is_team_folder() and by_name[tf].team_member_id is None
    for sf in ("Project X", "Secret", "Specs", "Bob Shared"):
        assert by_name[sf].namespace_type.is_shared_folder()
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        team_client.team_namespaces_list_continue("garbage")
    assert ei.value.error.is_invalid_cursor()


def test_team_folder_list_and_namespace_ids_agree(team_client):
    res = team_client.team_team_folder_list(limit=1)
    folders, _ = all_pages(res, team_client.team_team_folder_list_continue, "team_folders")
    spaces, _ = all_pages(team_client.team_namespaces_list(), team_client.team_namespaces_list_continue,
                          "namespaces")
    ns = {n.name: n.namespace_id for n in spaces if n.namespace_type.is_team_folder()}
    assert {f.name: f.team_folder_id for f in folders} == ns


def test_get_account_and_batch(emu, team_client):
    profiles = members_by_email(team_client)
    ann = team_client.as_user(profiles["ann@example.com"].team_member_id)
    bob = profiles["bob@example.com"]
    acct = ann.users_get_account(bob.account_id)
    assert acct.email == "bob@example.com" and acct.is_teammate and acct.team_member_id == bob.team_member_id
    ids = [profiles[e].account_id for e in ("bob@example.com", "carol@example.com", "ann@example.com")]
    batch = ann.users_get_account_batch(ids)
    assert [a.account_id for a in batch] == ids
    assert batch[2].is_teammate is False, "the caller is not its own teammate"
    missing = "dbid:" + "A" * 35
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        ann.users_get_account_batch([ids[0], missing])
    assert ei.value.error.is_no_account() and ei.value.error.get_no_account() == missing
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        ann.users_get_account(missing)
    assert ei.value.error.is_no_account()


def test_team_directory_strict(emu, team_client):
    """Raw payloads decode strictly with the SDK's validators."""
    tok = emu.access_token()
    checks = [
        ("team/members/list_v2", {"include_removed": True}, team.members_list_v2.result_type),
        ("team/members/list", {"limit": 3}, team.members_list.result_type),
        ("team/groups/list", {}, team.groups_list.result_type),
        ("team/namespaces/list", {}, team.namespaces_list.result_type),
        ("team/team_folder/list", {}, team.team_folder_list.result_type),
    ]
    for route, arg, validator in checks:
        r = emu.rpc(route, arg, token=tok)
        assert r.status_code == 200, (route, r.text)
        stone_serializers.json_decode(validator, r.text, strict=True)
    gid = emu.rpc("team/groups/list", {}, token=tok).json()["groups"][1]["group_id"]
    r = emu.rpc("team/groups/members/list", {"group": {".tag": "group_id", "group_id": gid}}, token=tok)
    stone_serializers.json_decode(team.groups_members_list.result_type, r.text, strict=True)
    r = emu.rpc("team/groups/members/list", {"group": {".tag": "group_id", "group_id": "g:nope"}}, token=tok)
    assert r.status_code == 409 and r.json()["error"][".tag"] == "group_not_found"
    profiles = members_by_email(team_client)
    h = {"Dropbox-API-Select-User": profiles["ann@example.com"].team_member_id}
    r = emu.rpc("users/get_account_batch", {"account_ids": [profiles["bob@example.com"].account_id]},
                token=tok, headers=h)
    stone_serializers.json_decode(users.get_account_batch.result_type, r.text, strict=True)
    r = emu.rpc("users/get_account_batch", {"account_ids": ["short"]}, token=tok, headers=h)
    assert r.status_code == 400 and "account_ids" in r.text


def test_select_user_rejects_invited_and_removed(team_client):
    profiles = members_by_email(team_client)
    for email in ("frank@example.com", "gina@example.com"):
        with pytest.raises(dropbox.exceptions.AuthError) as ei:
            team_client.as_user(profiles[email].team_member_id).users_get_current_account()
        assert ei.value.error.is_invalid_select_user()
    erin = team_client.as_user(profiles["erin@example.com"].team_member_id)
    assert erin.users_get_current_account().email == "erin@example.com"


def test_admin_adds_member_and_changes_status(emu, team_client):
    r = emu.admin("POST", "/_admin/members", {"email": "hank@example.com", "display_name": "Hank Poe"})
    hank = r.json()
    assert hank["team_member_id"].startswith("dbmid:") and hank["home_path"] == "/Hank Poe"
    profiles = members_by_email(team_client)
    assert profiles["hank@example.com"].status.is_active()
    emu.admin("POST", "/_admin/members/status", {"member": "hank@example.com", "status": "removed"})
    profiles = members_by_email(team_client)
    assert profiles["hank@example.com"].status.is_removed()
    r = json.loads(emu.admin("GET", "/_admin/access?member=hank@example.com").text)
    assert r["ids"] == []
