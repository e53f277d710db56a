"""team_log/get_events (+continue): the audit log an incremental DLS consumer polls (issue 11)."""

import datetime

import dropbox
import pytest
from dropbox import stone_serializers, team_common, team_log

from team_world import enterprise_manifest, members_by_email


@pytest.fixture
def manifest():
    return enterprise_manifest()


@pytest.fixture
def t(emu, sess):
    return emu.team(session=sess)


def events_all(t, **kw):
    res = t.team_log_get_events(**kw)
    events = list(res.events)
    while res.has_more:
        res = t.team_log_get_events_continue(res.cursor)
        events += res.events
    return events, res.cursor


def drain(t, cursor):
    events = []
    while True:
        res = t.team_log_get_events_continue(cursor)
        events += res.events
        cursor = res.cursor
        if not res.has_more:
            return events, cursor


def asset_ids(ev):
    out = []
    for a in ev.assets or []:
        v = a.get_file() if a.is_file() else a.get_folder()
        out.append(v.file_id)
    return out


def participants(ev):
    out = []
    for p in ev.participants or []:
        if p.is_user():
            out.append(("user", p.get_user().email))
        elif p.is_group():
            out.append(("group", p.get_group().display_name))
    return out


def test_seed_history_by_category(t):
    sharing, _ = events_all(t, category=team_log.EventCategory.sharing, limit=3)
    types = [e.event_type._tag for e in sharing]
    assert types.count("shared_folder_create") == 4
    assert "shared_content_add_invitees" in types and "shared_content_add_member" in types
    for e in sharing:
        assert e.event_category.is_sharing()
        assert asset_ids(e), "sharing events name the item"
    groups, _ = events_all(t, category=team_log.EventCategory.groups)
    assert {e.event_type._tag for e in groups} == {"group_create", "group_add_member"}
    members, _ = events_all(t, category=team_log.EventCategory.members)
    assert all(e.event_type.is_member_change_status() for e in members) and len(members) == 27
    folders, _ = events_all(t, category=team_log.EventCategory.team_folders)
    assert [e.event_type._tag for e in folders] == ["team_folder_create", "team_folder_create"]


def test_incremental_consumer_sees_each_change_once(emu, t):
    _, cursor = events_all(t, category=team_log.EventCategory.sharing)
    got, cursor = drain(t, cursor)
    assert got == [], "nothing new yet"
    r = emu.admin("POST", "/_admin/share", {"target": "/Ann Lee/notes.txt",
                                             "members": [{"user": "bob@example.com", "access": "viewer"},
                                                         {"email": "x@outside.org"}]})
    file_id = r.json()["file_id"]
    emu.admin("POST", "/_admin/share", {"target": "/Ann Lee/notes.txt",
                                         "members": [{"user": "bob@example.com", "access": "editor"}]})
    emu.admin("POST", "/_admin/unshare", {"target": "/Ann Lee/notes.txt", "members": [{"email": "x@outside.org"}]})
    emu.admin("POST", "/_admin/groups/members", {"group": "Finance", "add": ["dave@example.com"]})
    got, cursor = drain(t, cursor)
    assert [e.event_type._tag for e in got] == [
        "shared_content_add_member", "shared_content_add_invitees",
        "shared_content_change_member_role", "shared_content_remove_invitees"], \
        "the category filter stays with the cursor"
    add = got[0]
    assert asset_ids(add) == [file_id] and participants(add) == [("user", "bob@example.com")]
    assert add.details.get_shared_content_add_member_details().shared_content_access_level.is_viewer()
    assert add.assets[0].get_file().path.contextual == "/Ann Lee/notes.txt"
    assert got[1].details.get_shared_content_add_invitees_details().invitees == ["x@outside.org"]
    assert got[1].involve_non_team_member is True
    role = got[2].details.get_shared_content_change_member_role_details()
    assert role.previous_access_level.is_viewer() and role.new_access_level.is_editor()
    again, cursor = drain(t, cursor)
    assert again == []


def test_folder_membership_events_name_folder_and_participants(emu, t):
    _, cursor = events_all(t)
    emu.admin("POST", "/_admin/share", {"target": "/Ann Lee/Project X", "members": [{"group": "Finance"}]})
    emu.admin("POST", "/_admin/unshare", {"target": "/Ann Lee/Project X", "members": [{"user": "bob@example.com"}]})
    emu.admin("POST", "/_admin/members/status", {"member": "dave@example.com", "status": "suspended"})
    got, _ = drain(t, cursor)
    assert [e.event_type._tag for e in got] == ["shared_content_add_member", "shared_content_remove_member",
                                                "member_change_status"]
    folder = got[0].assets[0].get_folder()
    assert folder.display_name == "Project X"
    assert folder.path.namespace_relative.is_shared_namespace is True
    assert participants(got[0]) == [("group", "Finance")]
    assert participants(got[1]) == [("user", "bob@example.com")]
    status = got[2].details.get_member_change_status_details()
    assert status.previous_value.is_active() and status.new_value.is_suspended()
    assert got[2].context.get_team_member().email == "dave@example.com"


def test_filters_by_type_account_and_time(emu, t):
    ev, _ = events_all(t, event_type=team_log.EventTypeArg.shared_folder_create)
    assert len(ev) == 4 and all(e.event_type.is_shared_folder_create() for e in ev)
    p = members_by_email(t)
    carol, _ = events_all(t, account_id=p["carol@example.com"].account_id)
    assert carol and all(
        any(x == ("user", "carol@example.com") for x in participants(e))
        or (e.context and e.context.is_team_member() and e.context.get_team_member().email == "carol@example.com")
        or (e.actor and (e.actor.is_user() or e.actor.is_admin())
            and (e.actor.get_user() if e.actor.is_user() else e.actor.get_admin()).email == "carol@example.com")
        for e in carol)
    future = datetime.datetime(2100, 1, 1)
    none, cursor = events_all(t, time=team_common.TimeRange(start_time=future))
    assert none == []
    start = datetime.datetime.utcnow() - datetime.timedelta(minutes=5)
    _, cursor = events_all(t, time=team_common.TimeRange(start_time=start))
    emu.admin("POST", "/_admin/groups", {"name": "Ops", "members": ["erin@example.com"]})
    got, _ = drain(t, cursor)
    assert [e.event_type._tag for e in got] == ["group_create", "group_add_member"]


def test_errors(t):
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        t.team_log_get_events(category=team_log.EventCategory.sharing,
                              event_type=team_log.EventTypeArg.shared_folder_create)
    assert ei.value.error.is_invalid_filters()
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        t.team_log_get_events(account_id="dbid:" + "Z" * 35)
    assert ei.value.error.is_account_id_not_found()
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        t.team_log_get_events(time=team_common.TimeRange(start_time=datetime.datetime(2030, 1, 1),
                                                         end_time=datetime.datetime(2020, 1, 1)))
    assert ei.value.error.is_invalid_time_range()
    with pytest.raises(dropbox.exceptions.ApiError) as ei:
        t.team_log_get_events_continue("not-a-cursor")
    assert ei.value.error.is_bad_cursor()


def test_events_strict(emu, t):
    emu.admin("POST", "/_admin/share", {"target": "/Ann Lee/notes.txt", "members": [{"user": "bob@example.com"}]})
    emu.admin("POST", "/_admin/members/status", {"member": "bob@example.com", "status": "removed"})
    emu.admin("DELETE", "/_admin/groups?group=Design")
    tok = emu.access_token()
    r = emu.rpc("team_log/get_events", {"limit": 1000}, token=tok)
    assert r.status_code == 200
    stone_serializers.json_decode(team_log.get_events.result_type, r.text, strict=True)
    types = {e["event_type"][".tag"] for e in r.json()["events"]}
    assert {"group_delete", "member_change_status", "shared_content_add_member"} <= types
