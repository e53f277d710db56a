"""An enterprise team world (issue 11) and helpers shared by the team/DLS conformance tests.

Who can open what, by construction (the tests check the emulator against this and against its
own `/_admin/access` truth):

* Ann (admin) owns `/Ann Lee`: `Project X` is shared with Bob (editor), the Design group (Dave,
  viewer) and an outside invitee; `Project X/Secret` is a nested shared folder adding Carol;
  `report.pdf` is shared with Dave, the Finance group and an outside auditor; `wide.txt` with
  every member one by one (more than 20: the batch truncation case); `Project X/plan.md` has
  Carol as an explicit file member although she cannot open Project X.
* Bob shares `/Bob Smith/Bob Shared` with Carol.
* Team folders: `Engineering` (everyone), `Finance Docs` (Finance group editors, Ann viewer);
  `Engineering/Specs` is a shared folder inside a team folder with an outside editor.
* Erin is suspended (keeps her access), Frank invited (no account yet), Gina removed.
"""

from __future__ import annotations

import copy

import dropbox

FILLER = [
    {"email": f"member{i:02d}@example.com", "display_name": f"Member {i:02d}"} for i in range(1, 21)
]

ENTERPRISE = {
    "team": {
        "name": "Acme",
        "members": [
            {"email": "ann@example.com", "display_name": "Ann Lee", "admin": True},
            {"email": "bob@example.com", "display_name": "Bob Smith", "external_id": "ext-bob"},
            {"email": "carol@example.com", "display_name": "Carol Diaz"},
            {"email": "dave@example.com", "display_name": "Dave Kim"},
            {"email": "erin@example.com", "display_name": "Erin Wu", "status": "suspended"},
            {"email": "frank@example.com", "display_name": "Frank Ode", "status": "invited"},
            {"email": "gina@example.com", "display_name": "Gina Roe", "status": "removed"},
            *FILLER,
        ],
        "groups": [
            {"name": "Finance", "members": ["bob@example.com"], "owners": ["carol@example.com"],
             "external_id": "ext-finance"},
            {"name": "Design", "members": ["dave@example.com"], "management": "user_managed"},
        ],
        "team_folders": [
            {"name": "Engineering"},
            {"name": "Finance Docs", "members": [{"group": "Finance", "access": "editor"},
                                                 {"user": "ann@example.com", "access": "viewer"}]},
        ],
        "shared_folders": [
            {"path": "/Ann Lee/Project X",
             "members": [{"user": "bob@example.com", "access": "editor"},
                         {"group": "Design", "access": "viewer"},
                         {"email": "guest@partner.org", "access": "viewer"}]},
            {"path": "/Ann Lee/Project X/Secret", "members": [{"user": "carol@example.com", "access": "viewer"}]},
            {"path": "/Engineering/Specs", "members": [{"email": "contractor@outside.org", "access": "editor"}]},
            {"path": "/Bob Smith/Bob Shared", "members": [{"user": "carol@example.com"}]},
        ],
        "shared_files": [
            {"path": "/Ann Lee/report.pdf",
             "members": [{"user": "dave@example.com", "access": "viewer"},
                         {"group": "Finance", "access": "viewer"},
                         {"email": "auditor@outside.org", "access": "viewer"}]},
            {"path": "/Ann Lee/wide.txt", "members": [{"user": "*", "access": "viewer"}]},
            {"path": "/Ann Lee/Project X/plan.md", "members": [{"user": "carol@example.com", "access": "editor"}]},
        ],
    },
    "files": [
        {"path": "/Ann Lee/notes.txt", "content": "ann private notes about the budget"},
        {"path": "/Ann Lee/report.pdf", "content": "%PDF-1.4 quarterly report"},
        {"path": "/Ann Lee/wide.txt", "content": "everyone reads this"},
        {"path": "/Ann Lee/Project X/plan.md", "content": "# Plan\n\nlaunch on budget\n"},
        {"path": "/Ann Lee/Project X/Secret/keys.txt", "content": "secret keys"},
        {"path": "/Bob Smith/private.txt", "content": "bob private"},
        {"path": "/Bob Smith/Bob Shared/shared.txt", "content": "bob shares this"},
        {"path": "/Carol Diaz/carol.txt", "content": "carol"},
        {"path": "/Dave Kim/dave.xlsx", "size": 100},
        {"path": "/Engineering/design.docx", "size": 2000},
        {"path": "/Engineering/Specs/api.md", "content": "# API spec\n\nbudget endpoints\n"},
        {"path": "/Finance Docs/q1.xlsx", "size": 3000},
        {"path": "/Finance Docs/summary.pdf", "size": 1000},
        {"path": "/Erin Wu/erin.txt", "content": "erin"},
        {"path": "/Gina Roe/gina.txt", "content": "gina"},
    ],
    "paper": [{"path": "/Engineering/Roadmap.paper", "markdown": "# Roadmap\n\n- budget review\n"}],
}

# What each named member can open (team-root display paths), by the rules above.
ENGINEERING = {"/Engineering", "/Engineering/design.docx", "/Engineering/Specs",
               "/Engineering/Specs/api.md", "/Engineering/Roadmap.paper"}
FINANCE_DOCS = {"/Finance Docs", "/Finance Docs/q1.xlsx", "/Finance Docs/summary.pdf"}
PROJECT_X = {"/Ann Lee/Project X", "/Ann Lee/Project X/plan.md", "/Ann Lee/Project X/Secret",
             "/Ann Lee/Project X/Secret/keys.txt"}
EXPECTED_ACCESS = {
    "ann@example.com": {"/Ann Lee", "/Ann Lee/notes.txt", "/Ann Lee/report.pdf", "/Ann Lee/wide.txt"}
    | PROJECT_X | ENGINEERING | FINANCE_DOCS,
    "bob@example.com": {"/Bob Smith", "/Bob Smith/private.txt", "/Bob Smith/Bob Shared",
                        "/Bob Smith/Bob Shared/shared.txt", "/Ann Lee/report.pdf", "/Ann Lee/wide.txt"}
    | PROJECT_X | ENGINEERING | FINANCE_DOCS,
    # Carol owns the Finance group, so she is in it.
    "carol@example.com": {"/Carol Diaz", "/Carol Diaz/carol.txt", "/Ann Lee/Project X/Secret",
                          "/Ann Lee/Project X/Secret/keys.txt", "/Ann Lee/Project X/plan.md",
                          "/Bob Smith/Bob Shared", "/Bob Smith/Bob Shared/shared.txt",
                          "/Ann Lee/report.pdf", "/Ann Lee/wide.txt"}
    | ENGINEERING | FINANCE_DOCS,
    "dave@example.com": {"/Dave Kim", "/Dave Kim/dave.xlsx", "/Ann Lee/report.pdf", "/Ann Lee/wide.txt"}
    | PROJECT_X | ENGINEERING,
    "erin@example.com": {"/Erin Wu", "/Erin Wu/erin.txt", "/Ann Lee/wide.txt"} | ENGINEERING,
    "frank@example.com": set(),
    "gina@example.com": set(),
}


def enterprise_manifest() -> dict:
    return copy.deepcopy(ENTERPRISE)


def all_pages(first, more, key, cursor_attr="cursor", has_more_attr="has_more"):
    """Collect `key` items over a listing and its continuation (has_more style)."""
    res = first
    items = list(getattr(res, key))
    pages = 1
    while getattr(res, has_more_attr):
        res = more(getattr(res, cursor_attr))
        items += list(getattr(res, key))
        pages += 1
        assert pages < 10_000
    return items, pages


def members_by_email(team) -> dict:
    res = team.team_members_list_v2(include_removed=True)
    items, _ = all_pages(res, team.team_members_list_continue_v2, "members")
    return {m.profile.email: m.profile for m in items}


def as_member(team, profile) -> dropbox.Dropbox:
    return team.as_user(profile.team_member_id)


def rooted(dbx, team) -> dropbox.Dropbox:
    """The member's team-root view (Path-Root root)."""
    root = dbx.users_get_current_account().root_info.root_namespace_id
    return dbx.with_path_root(dropbox.common.PathRoot.root(root))


def list_everything(dbx, path="", **kw):
    res = dbx.files_list_folder(path, recursive=True, **kw)
    entries = list(res.entries)
    while res.has_more:
        res = dbx.files_list_folder_continue(res.cursor)
        entries += res.entries
    return entries, res.cursor


def drain(dbx, cursor):
    entries = []
    while True:
        res = dbx.files_list_folder_continue(cursor)
        entries += res.entries
        cursor = res.cursor
        if not res.has_more:
            return entries, cursor


def file_members_all(dbx, file, include_inherited=True, limit=100):
    res = dbx.sharing_list_file_members(file, include_inherited=include_inherited, limit=limit)
    users, groups, invitees = list(res.users), list(res.groups), list(res.invitees)
    pages = 1
    while res.cursor:
        res = dbx.sharing_list_file_members_continue(res.cursor)
        users += res.users
        groups += res.groups
        invitees += res.invitees
        pages += 1
        assert pages < 1000
    return users, groups, invitees, pages


def folder_members_all(dbx, sfid, limit=1000, path=None, actions=None):
    res = dbx.sharing_list_folder_members(sfid, actions=actions, limit=limit, path=path)
    users, groups, invitees = list(res.users), list(res.groups), list(res.invitees)
    pages = 1
    while res.cursor:
        res = dbx.sharing_list_folder_members_continue(res.cursor)
        users += res.users
        groups += res.groups
        invitees += res.invitees
        pages += 1
        assert pages < 1000
    return users, groups, invitees, pages
