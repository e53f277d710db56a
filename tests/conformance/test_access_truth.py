"""`/_admin/access` (what each member can open) agrees with the API and with the world's rules
(issue 11: "a search filtered by one member's identities returns exactly what that member can
open in the emulator" needs a trustworthy truth)."""

import pytest
from dropbox import team

from team_world import (
    EXPECTED_ACCESS,
    enterprise_manifest,
    file_members_all,
    folder_members_all,
    list_everything,
    members_by_email,
    rooted,
)


@pytest.fixture
def manifest():
    return enterprise_manifest()


def access(emu, email):
    return emu.admin("GET", f"/_admin/access?member={email}").json()


def test_access_matches_expected_paths(emu):
    for email, want in EXPECTED_ACCESS.items():
        got = {e["path_display"] for e in access(emu, email)["entries"]}
        assert got == want, email
    filler = {e["path_display"] for e in access(emu, "member07@example.com")["entries"]}
    assert filler == {"/Member 07", "/Ann Lee/wide.txt", "/Engineering", "/Engineering/design.docx",
                      "/Engineering/Specs", "/Engineering/Specs/api.md", "/Engineering/Roadmap.paper"}


def test_access_equals_each_members_listing_and_received_files(emu, sess):
    t = emu.team(session=sess)
    for email, prof in members_by_email(t).items():
        truth = set(access(emu, email)["ids"])
        if not (prof.status.is_active() or prof.status.is_suspended()):
            assert truth == set(), email
            continue
        dbx = t.as_user(prof.team_member_id)
        entries, _ = list_everything(rooted(dbx, t))
        seen = {e.id for e in entries}
        res = dbx.sharing_list_received_files()
        received = {f.id for f in res.entries}
        while res.cursor:
            res = dbx.sharing_list_received_files_continue(res.cursor)
            received |= {f.id for f in res.entries}
        assert seen | received == truth, email


def test_member_lists_expand_to_the_access_truth(emu, sess):
    """For every item: the users and groups list_*_members report (inherited included), with
    the groups expanded, are exactly the members who can open it."""
    t = emu.team(session=sess)
    profiles = members_by_email(t)
    by_account = {p.account_id: e for e, p in profiles.items() if p.account_id}
    group_members = {}
    for g in t.team_groups_list().groups:
        res = t.team_groups_members_list(team.GroupSelector.group_id(g.group_id))
        group_members[g.group_id] = {m.profile.email for m in res.members}
    openers = {}
    for email in profiles:
        for e in access(emu, email)["entries"]:
            openers.setdefault(e["id"], set()).add(email)
    admin = t.as_admin(profiles["ann@example.com"].team_member_id)
    items = emu.admin("GET", "/_admin/acl?all=true").json()["items"]
    assert len(items) > 20
    checked = 0
    for item in items:
        if item["tag"] != "file" or item["path_display"].startswith(("/Gina Roe", "/Frank Ode")):
            continue
        users, groups, _, _ = file_members_all(admin, item["id"], include_inherited=True)
        expanded = {by_account[u.user.account_id] for u in users}
        for g in groups:
            expanded |= group_members[g.group.group_id]
        active = {e for e in expanded
                  if profiles[e].status.is_active() or profiles[e].status.is_suspended()}
        assert active == openers.get(item["id"], set()), item["path_display"]
        assert set(item["team_member_ids"]) == {profiles[e].team_member_id
                                                for e in openers.get(item["id"], set())}
        checked += 1
    assert checked >= 12
    # Shared folders: folder members (direct) plus inheritance through `path`.
    admin_root = rooted(admin, t)
    px = admin_root.files_get_metadata("/Ann Lee/Project X/Secret")
    users, groups, _, _ = folder_members_all(admin_root, px.shared_folder_id, path="/Ann Lee/Project X/Secret")
    expanded = {by_account[u.user.account_id] for u in users}
    for g in groups:
        expanded |= group_members[g.group.group_id]
    assert expanded == openers[px.id]
