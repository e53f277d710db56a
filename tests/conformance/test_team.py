"""Team mode: admin token, members, team folders, Select-User and Path-Root (reference §6, §9.13)."""

import copy

import dropbox
import pytest

from conftest import DEFAULT_MANIFEST, list_all

TEAM_MANIFEST = copy.deepcopy(DEFAULT_MANIFEST)
TEAM_MANIFEST["team"] = {
    "name": "Acme",
    "members": [
        {"email": "ann@example.com", "display_name": "Ann Lee", "admin": True},
        {"email": "bob@example.com", "display_name": "Bob Smith", "admin": False},
        {"email": "carol@example.com", "display_name": "Carol Diaz", "admin": False},
    ],
    "team_folders": [{"name": "Engineering"}, {"name": "Sales"}],
}


@pytest.fixture
def manifest():
    return copy.deepcopy(TEAM_MANIFEST)


@pytest.fixture
def team(emu, sess):
    return emu.team(session=sess)


def members_all(team, limit):
    res = team.team_members_list_v2(limit=limit)
    members = list(res.members)
    pages = 1
    while res.has_more:
        res = team.team_members_list_continue_v2(res.cursor)
        members += res.members
        pages += 1
        assert pages < 1000
    return members, pages


def test_get_authenticated_admin(team, emu):
    admin = next(m for m in emu.manifest["team"]["members"] if m["admin"])
    prof = team.team_token_get_authenticated_admin().admin_profile
    assert prof.email == admin["email"]
    assert prof.name.display_name == admin["display_name"]
    assert prof.team_member_id.startswith("dbmid:")
    assert prof.status.is_active()


def test_members_list_paginates(team, emu):
    want = emu.manifest["team"]["members"]
    members, pages = members_all(team, limit=1)
    assert pages > 1
    got = {m.profile.email: m.profile for m in members}
    assert set(got) == {m["email"] for m in want}
    for m in want:
        p = got[m["email"]]
        assert p.name.display_name == m["display_name"]
        assert p.team_member_id.startswith("dbmid:")
        assert p.member_folder_id and p.root_folder_id
        assert isinstance(p.groups, list)
    assert len({p.team_member_id for p in got.values()}) == len(want)


def test_team_folder_list(team, emu):
    res = team.team_team_folder_list(limit=1)
    folders = list(res.team_folders)
    while res.has_more:
        res = team.team_team_folder_list_continue(res.cursor)
        folders += res.team_folders
    assert sorted(f.name for f in folders) == sorted(f["name"] for f in emu.manifest["team"]["team_folders"])
    for f in folders:
        assert f.status.is_active()
        assert f.team_folder_id


def test_as_user_root_namespace_lists_team_folders(team, emu):
    admin_id = team.team_token_get_authenticated_admin().admin_profile.team_member_id
    user = team.as_user(admin_id)
    acct = user.users_get_current_account()
    assert acct.email == emu.manifest["account"]["email"]
    assert acct.team is not None and acct.team.name == emu.manifest["team"]["name"]
    assert acct.team_member_id == admin_id
    root = acct.root_info
    assert isinstance(root, dropbox.common.TeamRootInfo)
    assert root.root_namespace_id != root.home_namespace_id

    rooted = user.with_path_root(dropbox.common.PathRoot.root(root.root_namespace_id))
    entries, _, _ = list_all(rooted, "", recursive=False)
    names = {e.name for e in entries if isinstance(e, dropbox.files.FolderMetadata)}
    for tf in emu.manifest["team"]["team_folders"]:
        assert tf["name"] in names

    # The emulator seeds manifest files under the team root (seed.rs contract).
    assert "/docs" in {e.path_lower for e in entries}
    # The member's own home folder is mounted at home_path under the root.
    assert root.home_path.lower() in {e.path_lower for e in entries}

    # Without a Path-Root header, paths are relative to the home namespace (§6.5 `home`).
    up = user.files_upload(b"mine", "/mine.txt")
    assert up.path_lower == "/mine.txt"
    home_entries, _, _ = list_all(user, "", recursive=False)
    assert [e.path_lower for e in home_entries] == ["/mine.txt"]
    seen_from_root = rooted.files_get_metadata(root.home_path + "/mine.txt")
    assert seen_from_root.id == up.id
    assert seen_from_root.path_display == root.home_path + "/mine.txt"


def test_namespace_id_path_root(team, emu):
    admin_id = team.team_token_get_authenticated_admin().admin_profile.team_member_id
    user = team.as_user(admin_id)
    res = team.team_team_folder_list()
    eng = next(f for f in res.team_folders if f.name == "Engineering")
    in_folder = user.with_path_root(dropbox.common.PathRoot.namespace_id(eng.team_folder_id))
    up = in_folder.files_upload(b"spec", "/design.md")
    assert up.path_lower == "/design.md"
    entries, _, _ = list_all(in_folder, "", recursive=False)
    assert [e.name for e in entries] == ["design.md"]


def test_path_root_mismatch_is_422(team):
    admin_id = team.team_token_get_authenticated_admin().admin_profile.team_member_id
    user = team.as_user(admin_id)
    root = user.users_get_current_account().root_info
    bad = user.with_path_root(dropbox.common.PathRoot.root("999999999"))
    with pytest.raises(dropbox.exceptions.PathRootError) as ei:
        bad.files_list_folder("")
    assert ei.value.error.is_invalid_root()
    assert ei.value.error.get_invalid_root().root_namespace_id == root.root_namespace_id


def test_select_user_other_member(team, emu):
    members, _ = members_all(team, limit=100)
    bob = next(m.profile for m in members if m.profile.email == "bob@example.com")
    acct = team.as_user(bob.team_member_id).users_get_current_account()
    assert acct.email == "bob@example.com"
    assert acct.name.display_name == "Bob Smith"


def test_invalid_select_user(team):
    admin_id = team.team_token_get_authenticated_admin().admin_profile.team_member_id
    forged = admin_id[:-1] + ("A" if admin_id[-1] != "A" else "B")
    # Well-formed but unknown member -> 401 invalid_select_user; badly formed -> 400 (§6.5).
    with pytest.raises(dropbox.exceptions.AuthError) as ei:
        team.as_user(forged).users_get_current_account()
    assert ei.value.error.is_invalid_select_user()
    with pytest.raises(dropbox.exceptions.BadInputError):
        team.as_user("not-a-member-id").users_get_current_account()


def test_select_admin_requires_admin(team):
    members, _ = members_all(team, limit=100)
    bob = next(m.profile for m in members if m.profile.email == "bob@example.com")
    with pytest.raises(dropbox.exceptions.AuthError) as ei:
        team.as_admin(bob.team_member_id).files_list_folder("")
    assert ei.value.error.is_invalid_select_admin()
