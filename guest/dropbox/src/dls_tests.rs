//! Document-level security against a scripted Dropbox: identities from batched member
//! lookups, access-control documents, and permission changes from the team event log.

use std::cell::Cell;

use serde_json::{Value, json};

use crate::access::DLS_QUERY;
use crate::checkpoint::{Checkpoint, Stage};
use crate::client::{Request, Response};
use crate::document::Change;
use crate::error::Error;
use crate::session::{Page, Session};
use crate::session_tests::{
    ACCOUNT, Fake, config, cp, delta_state, file, folder, kinds, ok, personal_account, status,
    team_account, user_token_400,
};

fn acl(page: &Page, id: &str) -> Value {
    page.changes
        .iter()
        .find_map(|c| match c {
            Change::Upsert(d) if d.id == id => Some(d.fields["_allow_access_control"].clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{id} not upserted in {:?}", kinds(page)))
}

fn user(id: &str) -> Value {
    json!({"access_type": {".tag": "viewer"},
           "user": {"account_id": format!("dbid:{id}"), "email": format!("{id}@x.org"), "display_name": id}})
}

/// A personal Dropbox with a shared folder (two pages of members), a file shared with 250
/// people (three pages), a private file, and a file whose members Dropbox will not show.
fn shared_dropbox(route: &str, arg: &Value, _: &Request) -> Response {
    match route {
        "team/token/get_authenticated_admin" => user_token_400(),
        "users/get_current_account" => personal_account(),
        "files/list_folder" => {
            let mut a = file("id:A", "/Shared/a.txt");
            a["parent_shared_folder_id"] = json!("sf1");
            a["has_explicit_shared_members"] = json!(false);
            let mut big = file("id:BIG", "/big.txt");
            big["has_explicit_shared_members"] = json!(true);
            let mut private = file("id:P", "/private.txt");
            private["has_explicit_shared_members"] = json!(false);
            let mut shared = folder("id:S", "/Shared");
            shared["shared_folder_id"] = json!("sf1");
            ok(
                json!({"entries": [shared, a, big, private, file("id:N", "/nolist.txt")],
                      "cursor": "c1", "has_more": false}),
            )
        }
        "sharing/list_file_members/batch" => {
            let files = arg["files"].as_array().cloned().unwrap_or_default();
            let out: Vec<Value> = files
                .iter()
                .map(|f| match f.as_str() {
                    Some("id:BIG") => json!({"file": "id:BIG", "result": {".tag": "result",
                        "members": {"users": (0..100).map(|i| user(&format!("u{i}"))).collect::<Vec<_>>(),
                                    "groups": [], "invitees": [], "cursor": "big-2"},
                        "member_count": 250}}),
                    Some(other) => json!({"file": other, "result": {".tag": "access_error",
                        "access_error": {".tag": "no_permission"}}}),
                    None => json!({}),
                })
                .collect();
            ok(Value::Array(out))
        }
        "sharing/list_file_members/continue" => match arg["cursor"].as_str() {
            Some("big-2") => ok(
                json!({"users": (100..200).map(|i| user(&format!("u{i}"))).collect::<Vec<_>>(),
                                       "groups": [], "invitees": [], "cursor": "big-3"}),
            ),
            Some("big-3") => ok(
                json!({"users": (200..250).map(|i| user(&format!("u{i}"))).collect::<Vec<_>>(),
                                       "groups": [], "invitees": []}),
            ),
            _ => status(409, json!({"error_summary": "invalid_cursor/.."})),
        },
        "sharing/list_folder_members" => {
            assert_eq!(arg["shared_folder_id"], "sf1");
            ok(json!({"users": [{"access_type": {".tag": "owner"},
                                 "user": {"account_id": ACCOUNT, "email": "ann@example.com", "display_name": "Ann"}}],
                      "groups": [], "invitees": [], "cursor": "sf1-2"}))
        }
        "sharing/list_folder_members/continue" => ok(json!({
            "users": [],
            "groups": [{"access_type": {".tag": "editor"}, "group": {"group_id": "g:fin", "group_name": "Finance"}}],
            "invitees": [{"access_type": {".tag": "viewer"}, "invitee": {".tag": "email", "email": "guest@y.org"}}]})),
        _ => status(500, json!({})),
    }
}

#[test]
fn personal_full_sync_resolves_every_member_through_batched_lookups() {
    let fake = Fake::new(shared_dropbox);
    let cfg = config(json!({"use_document_level_security": true, "include_received_files": false}));
    let mut s = Session::start(&fake, cfg, None).unwrap();
    let p = s.next_page().unwrap();
    assert!(p.has_more);
    let last = s.next_page().unwrap();
    let owner = json!([
        format!("email:ann@example.com"),
        format!("user_id:{ACCOUNT}")
    ]);
    let folder_ids = json!([
        "email:ann@example.com",
        "email:guest@y.org",
        "group:g:fin",
        format!("user_id:{ACCOUNT}")
    ]);
    // The shared folder and what is in it: its members, every page of them.
    assert_eq!(acl(&p, "id:S"), folder_ids);
    assert_eq!(acl(&p, "id:A"), folder_ids);
    // Private files: the owner, prefixed like every other identity.
    assert_eq!(acl(&p, "id:P"), owner);
    // Members hidden from us: the owner only (never more than is known).
    assert_eq!(acl(&p, "id:N"), owner);
    // 250 explicit members: no truncation at the first page.
    let big = acl(&p, "id:BIG");
    let big: Vec<&str> = big
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(big.len(), 2 * 250 + 2, "{big:?}");
    assert!(big.contains(&"user_id:dbid:u249") && big.contains(&"email:u0@x.org"));
    // Files Dropbox says have no explicit members are not looked up.
    let batch = fake.args_to("sharing/list_file_members/batch");
    assert_eq!(batch, [json!({"files": ["id:BIG", "id:N"], "limit": 100})]);
    // The first lookups went out together through send-many, then the continuations.
    let many = fake.many.borrow();
    assert_eq!(
        many[0],
        [
            "sharing/list_folder_members",
            "sharing/list_file_members/batch"
        ]
    );
    assert!(many[1].contains(&"sharing/list_file_members/continue".to_string()));
    assert!(many[1].contains(&"sharing/list_folder_members/continue".to_string()));
    drop(many);
    let list = &fake.args_to("files/list_folder")[0];
    assert_eq!(list["include_has_explicit_shared_members"], true);
    // The access-control document of the account, wrapped in its enumeration.
    assert!(kinds(&p).ends_with(&[
        "end files".into(),
        "begin received".into(),
        "end received".into()
    ]));
    assert_eq!(
        kinds(&last),
        [
            "begin access_control",
            "upsert ann@example.com",
            "end access_control"
        ]
    );
    let Some(Change::Upsert(doc)) = last.changes.iter().rev().nth(1) else {
        panic!()
    };
    assert_eq!(doc.scope, "access_control");
    assert_eq!(
        doc.fields["query"]["template"]["params"]["access_control"],
        json!([
            "email:ann@example.com",
            "user:Ann",
            format!("user_id:{ACCOUNT}")
        ])
    );
    assert_eq!(doc.fields["query"]["template"]["source"], DLS_QUERY);
    assert!(!last.has_more);
}

#[test]
fn a_transient_lookup_failure_fails_the_page_and_a_retry_repeats_it() {
    let failures = Cell::new(1);
    let fake = Fake::new(move |route, arg, req| {
        if route == "sharing/list_folder_members" && failures.get() > 0 {
            failures.set(failures.get() - 1);
            return status(503, json!({}));
        }
        shared_dropbox(route, arg, req)
    });
    let cfg = config(json!({"use_document_level_security": true, "include_received_files": false}));
    let mut s = Session::start(&fake, cfg, None).unwrap();
    assert!(matches!(s.next_page(), Err(Error::Transient(_))));
    let p = s.next_page().unwrap();
    assert_eq!(kinds(&p)[0], "begin files");
    assert_eq!(acl(&p, "id:A")[1], "email:guest@y.org");
}

#[test]
fn an_item_no_one_can_be_shown_to_carries_no_one_never_nothing() {
    let fake = Fake::new(|route, arg, req| match route {
        "files/list_folder" => {
            let mut a = file("id:A", "/Shared/a.txt");
            a["parent_shared_folder_id"] = json!("gone");
            a["has_explicit_shared_members"] = json!(false);
            ok(json!({"entries": [a], "cursor": "c1", "has_more": false}))
        }
        "sharing/list_folder_members" => status(
            409,
            json!({"error_summary": "access_error/invalid_id/..", "error": {".tag": "access_error", "access_error": {".tag": "invalid_id"}}}),
        ),
        _ => shared_dropbox(route, arg, req),
    });
    let cfg = config(json!({"use_document_level_security": true, "include_received_files": false}));
    let mut s = Session::start(&fake, cfg, None).unwrap();
    let p = s.next_page().unwrap();
    assert_eq!(acl(&p, "id:A"), json!(["none:"]));
    assert!(
        fake.logs
            .borrow()
            .iter()
            .any(|(_, m)| m.contains("shared folder gone"))
    );
}

#[test]
fn switching_security_off_clears_the_identities_once() {
    let fake = Fake::new(shared_dropbox);
    let on = config(json!({"use_document_level_security": true}));
    let off = config(json!({"include_received_files": false}));
    let taken_on = delta_state("c0", &on).encode();
    let mut s = Session::start(&fake, off.clone(), Some(&taken_on)).unwrap();
    let p = s.next_page().unwrap();
    assert_eq!(kinds(&p)[0], "begin files");
    assert_eq!(acl(&p, "id:A"), Value::Null);
    let k = kinds(&p);
    assert!(k.ends_with(&["begin access_control".into(), "end access_control".into()]));
    assert!(fake.sent_to("sharing/list_file_members/batch").is_empty());
    // The next run is an ordinary incremental one: the field is not written again.
    let done = cp(&p);
    assert!(!done.clear_access && done.stage == Stage::Done);
    let mut s = Session::start(&fake, off, Some(&done.encode())).unwrap();
    assert!(s.next_page().is_err(), "the fake has no continue for c1");
    // Any other settings change is a controlled full resync decided by the host.
    let rules = config(json!({"use_document_level_security": true,
                              "advanced_rules": "[{\"query\": \"x\"}]"}));
    assert!(matches!(
        Session::start(&fake, rules, Some(&taken_on)).err(),
        Some(Error::CheckpointExpired(_))
    ));
}

/// A team (admin view) whose event log says who changed what.
fn team_dropbox(route: &str, arg: &Value, req: &Request) -> Response {
    match route {
        "team/token/get_authenticated_admin" => {
            ok(json!({"admin_profile": {"team_member_id": "dbmid:AAA1"}}))
        }
        "users/get_current_account" => {
            let mut r = team_account();
            r.headers
                .push(("Date".into(), "Mon, 01 Apr 2024 09:05:07 GMT".into()));
            r
        }
        "team/members/list_v2" => ok(json!({"members": [
            {"profile": {"team_member_id": "dbmid:AAA1", "account_id": ACCOUNT, "email": "admin@acme.example",
                         "status": {".tag": "active"}, "name": {"display_name": "Admin"}, "groups": ["g:all"],
                         "member_folder_id": "1", "joined_on": "2024-01-01T00:00:00Z"}},
            {"profile": {"team_member_id": "dbmid:B", "account_id": "dbid:B", "email": "bob@acme.example",
                         "status": {".tag": "active"}, "name": {"display_name": "Bob"}, "groups": [],
                         "member_folder_id": "2"}},
            {"profile": {"team_member_id": "dbmid:C", "email": "cy@acme.example",
                         "status": {".tag": "invited"}, "name": {"display_name": "Cy"}, "groups": [],
                         "member_folder_id": "3"}},
            {"profile": {"team_member_id": "dbmid:D", "account_id": "dbid:D", "email": "dee@acme.example",
                         "status": {".tag": "suspended"}, "name": {"display_name": "Dee"}, "groups": [],
                         "member_folder_id": "4"}}],
            "cursor": "m", "has_more": false})),
        "team/groups/list" => ok(json!({"groups": [
            {"group_name": "Finance", "group_id": "g:fin", "group_management_type": {".tag": "company_managed"}},
            {"group_name": "Everyone at Acme", "group_id": "g:all", "group_management_type": {".tag": "system_managed"}}],
            "cursor": "g", "has_more": false})),
        "team_log/get_events" => {
            let c = arg["category"][".tag"].as_str().unwrap_or("?");
            ok(json!({"events": [], "cursor": format!("{c}-start"), "has_more": false}))
        }
        "team_log/get_events/continue" => match arg["cursor"].as_str() {
            // Nothing happened during the full sync.
            Some(c) if c.ends_with("-start") => ok(json!({"events": [],
                "cursor": c.replace("-start", "-0"), "has_more": false})),
            Some("sharing-0") => ok(json!({"events": [
                {"timestamp": "2024-04-02T00:00:00Z", "event_category": {".tag": "sharing"},
                 "event_type": {".tag": "shared_content_add_member", "description": "Added users to shared file"},
                 "details": {".tag": "shared_content_add_member_details"},
                 "assets": [{".tag": "file", "file_id": "id:A", "display_name": "a.txt",
                             "path": {"contextual": "/Team Space/a.txt",
                                      "namespace_relative": {"ns_id": "7", "relative_path": "/Team Space/a.txt", "is_shared_namespace": true}}}]},
                {"event_category": {".tag": "sharing"}, "event_type": {".tag": "shared_content_view"},
                 "assets": [{".tag": "file", "file_id": "id:VIEWED"}]},
                {"event_category": {".tag": "sharing"}, "event_type": {".tag": "shared_content_remove_member"},
                 "assets": [{".tag": "folder", "file_id": "id:F", "path": {"namespace_relative": {"ns_id": "7"}}}]},
                {"event_category": {".tag": "sharing"}, "event_type": {".tag": "shared_content_add_member"},
                 "assets": [{".tag": "file", "file_id": "id:OUTSIDE"}]}],
                "cursor": "sharing-1", "has_more": false})),
            Some("members-0") => ok(json!({"events": [
                {"event_category": {".tag": "members"}, "event_type": {".tag": "member_change_status"}}],
                "cursor": "members-1", "has_more": false})),
            Some(c) => ok(json!({"events": [], "cursor": c, "has_more": false})),
            None => status(400, json!({})),
        },
        "files/list_folder" => {
            assert!(req.header("Dropbox-API-Select-User").is_some());
            match arg["path"].as_str() {
                Some("/Team Space") => ok(
                    json!({"entries": [folder("id:T", "/Team Space")], "cursor": "c1", "has_more": false}),
                ),
                Some("id:F") => {
                    let mut f = folder("id:F", "/Team Space/F");
                    f["sharing_info"] =
                        json!({"read_only": false, "parent_shared_folder_id": "tf"});
                    let mut b = file("id:B", "/Team Space/F/b.txt");
                    b["parent_shared_folder_id"] = json!("tf");
                    b["has_explicit_shared_members"] = json!(false);
                    ok(json!({"entries": [f, b], "cursor": "cf", "has_more": false}))
                }
                other => panic!("unexpected listing of {other:?}"),
            }
        }
        "files/list_folder/continue" => {
            ok(json!({"entries": [], "cursor": "c2", "has_more": false}))
        }
        "files/get_metadata" => match arg["path"].as_str() {
            Some("id:A") => {
                let mut a = file("id:A", "/Team Space/a.txt");
                a["parent_shared_folder_id"] = json!("tf");
                ok(a)
            }
            // Outside the configured folder: must not be indexed.
            Some("id:OUTSIDE") => ok(file("id:OUTSIDE", "/Elsewhere/o.txt")),
            _ => status(
                409,
                json!({"error_summary": "path/not_found/..", "error": {".tag": "path", "path": {".tag": "not_found"}}}),
            ),
        },
        "sharing/list_file_members/batch" => {
            let files = arg["files"].as_array().cloned().unwrap_or_default();
            ok(Value::Array(
                files
                    .iter()
                    .map(|f| {
                        json!({"file": f, "result": {".tag": "result", "member_count": 1,
                        "members": {"users": [user("newcomer")], "groups": [], "invitees": []}}})
                    })
                    .collect(),
            ))
        }
        "sharing/list_folder_members" => ok(json!({
            "users": [], "invitees": [],
            "groups": [{"access_type": {".tag": "editor"}, "group": {"group_id": "g:all"}}]})),
        other => panic!("unexpected call {other}"),
    }
}

#[test]
fn team_permission_changes_re_read_only_the_items_the_event_log_names() {
    let fake = Fake::new(team_dropbox);
    let cfg = config(
        json!({"use_document_level_security": true, "include_received_files": false,
                            "path": "/Team Space", "team_scope": "admin"}),
    );
    let mut s = Session::start(&fake, cfg.clone(), None).unwrap();
    let p = s.next_page().unwrap();
    // The event cursors start at Dropbox's clock, one per category.
    let starts = fake.args_to("team_log/get_events");
    assert_eq!(starts.len(), 4);
    assert_eq!(
        starts[0],
        json!({"limit": 1000, "category": {".tag": "sharing"},
                                 "time": {"start_time": "2024-04-01T09:05:07Z"}})
    );
    // A folder at the team root, outside the admin's home: everyone's.
    assert_eq!(acl(&p, "id:T"), json!(["group:g:all"]));
    let mut p = p;
    while p.has_more {
        p = s.next_page().unwrap();
    }
    let done = cp(&p);
    assert_eq!(done.events["sharing"], "sharing-0");
    // Access-control documents are for members who can open files: not the invited or
    // the suspended one.
    assert_eq!(
        fake.sent_to("team/members/list_v2").len(),
        1,
        "members are read once per run"
    );
    let list_calls = fake.sent_to("files/list_folder").len();

    // The next run: nothing changed in the files, two items changed members.
    let mut s = Session::start(&fake, cfg, Some(&done.encode())).unwrap();
    let mut pages = vec![s.next_page().unwrap()];
    while pages.last().unwrap().has_more {
        pages.push(s.next_page().unwrap());
    }
    let all: Vec<String> = pages.iter().flat_map(kinds).collect();
    assert_eq!(
        all,
        [
            "begin received",
            "end received",
            "upsert id:A",
            "upsert id:F",
            "upsert id:B",
            "begin access_control",
            "upsert admin@acme.example",
            "upsert bob@acme.example",
            "end access_control"
        ]
    );
    let a = pages
        .iter()
        .find(|p| kinds(p).contains(&"upsert id:A".into()))
        .unwrap();
    assert_eq!(
        acl(a, "id:A"),
        json!([
            "email:newcomer@x.org",
            "group:g:all",
            "user_id:dbid:newcomer"
        ])
    );
    // The folder was re-read below itself only; the root was not listed again.
    assert_eq!(fake.sent_to("files/list_folder").len(), list_calls + 1);
    assert_eq!(
        fake.args_to("files/list_folder").last().unwrap()["path"],
        "id:F"
    );
    // A view event changes nobody's access: not re-read.
    assert!(
        !fake
            .args_to("files/get_metadata")
            .iter()
            .any(|a| a["path"] == "id:VIEWED")
    );
    let last = cp(pages.last().unwrap());
    assert_eq!(last.events["sharing"], "sharing-1");
    assert_eq!(last.events["members"], "members-1");
    assert_eq!(last.stage, Stage::Done);
}

#[test]
fn an_expired_event_cursor_is_a_controlled_full_resync() {
    let fake = Fake::new(|route, arg, req| match route {
        "team_log/get_events/continue" => status(
            409,
            json!({"error_summary": "reset/..", "error": {".tag": "reset", "reset": "2024-01-01T00:00:00Z"}}),
        ),
        _ => team_dropbox(route, arg, req),
    });
    let cfg = config(
        json!({"use_document_level_security": true, "include_received_files": false,
                            "path": "/Team Space"}),
    );
    let mut state: Checkpoint = delta_state("c1", &cfg);
    state.account = "dbmid:AAA1".into();
    state.root = "7".into();
    state.path = "/team space".into();
    state.events.insert("sharing".into(), "sharing-0".into());
    let mut s = Session::start(&fake, cfg, Some(&state.encode())).unwrap();
    assert!(
        matches!(s.next_page(), Err(Error::CheckpointExpired(m)) if m.contains("sharing event log"))
    );
}

#[test]
fn inherited_access_asks_dropbox_for_the_members_above_a_folder() {
    let fake = Fake::new(|route, arg, req| match route {
        "sharing/list_folder_members" => {
            assert_eq!(arg["path"], "/shared");
            ok(json!({"users": [
                {"access_type": {".tag": "owner"}, "user": {"account_id": "dbid:O", "email": "o@x.org"}},
                {"access_type": {".tag": "editor"}, "is_inherited": true,
                 "user": {"account_id": "dbid:UP", "email": "up@x.org"}}],
                "groups": [], "invitees": []}))
        }
        _ => shared_dropbox(route, arg, req),
    });
    let cfg = config(json!({"use_document_level_security": true,
                            "include_inherited_users_and_groups": true,
                            "include_received_files": false}));
    let mut s = Session::start(&fake, cfg, None).unwrap();
    let p = s.next_page().unwrap();
    assert_eq!(
        acl(&p, "id:A"),
        json!([
            "email:o@x.org",
            "email:up@x.org",
            "user_id:dbid:O",
            "user_id:dbid:UP"
        ])
    );
    let without = Fake::new(|route, arg, req| match route {
        "sharing/list_folder_members" => {
            assert!(arg.get("path").is_none());
            ok(json!({"users": [
                {"access_type": {".tag": "owner"}, "user": {"account_id": "dbid:O", "email": "o@x.org"}},
                {"access_type": {".tag": "editor"}, "is_inherited": true,
                 "user": {"account_id": "dbid:UP", "email": "up@x.org"}}],
                "groups": [], "invitees": []}))
        }
        _ => shared_dropbox(route, arg, req),
    });
    let cfg = config(json!({"use_document_level_security": true, "include_received_files": false}));
    let mut s = Session::start(&without, cfg, None).unwrap();
    let p = s.next_page().unwrap();
    assert_eq!(acl(&p, "id:A"), json!(["email:o@x.org", "user_id:dbid:O"]));
}
