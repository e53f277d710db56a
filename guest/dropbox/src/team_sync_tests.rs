//! `team_scope = "all_members"` against a scripted team: every namespace once, with its
//! own cursor, context headers and scope; members joining and leaving.

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::{Value, json};

use crate::checkpoint::{Stage, UnitKind};
use crate::client::{Request, Response};
use crate::document::Change;
use crate::error::Error;
use crate::session::{Page, Session};
use crate::session_tests::{Fake, config, cp, file, folder, kinds, ok, status, team_account};

fn profile(id: &str, name: &str, home: &str) -> Value {
    json!({"profile": {"team_member_id": format!("dbmid:{id}"), "account_id": format!("dbid:{id}"),
                       "email": format!("{id}@acme.example"), "status": {".tag": "active"},
                       "name": {"display_name": name}, "groups": [], "member_folder_id": home}})
}

/// Which namespace (and as whom) a request is rooted in.
fn rooted(req: &Request) -> (Option<String>, Option<String>, Option<String>) {
    let ns = req.header("Dropbox-API-Path-Root").and_then(|h| {
        serde_json::from_str::<Value>(h)
            .ok()
            .and_then(|v| v["namespace_id"].as_str().map(str::to_string))
    });
    (
        ns,
        req.header("Dropbox-API-Select-User").map(str::to_string),
        req.header("Dropbox-API-Select-Admin").map(str::to_string),
    )
}

struct Team {
    /// Members present: (id, display name, home namespace).
    members: Vec<(&'static str, &'static str, &'static str)>,
}

fn team_handler(team: Rc<RefCell<Team>>) -> impl Fn(&str, &Value, &Request) -> Response {
    move |route, arg, req| {
        let t = team.borrow();
        match route {
            "team/token/get_authenticated_admin" => {
                ok(json!({"admin_profile": {"team_member_id": "dbmid:ann"}}))
            }
            "users/get_current_account" => team_account(),
            "team/members/list_v2" => ok(json!({
                "members": t.members.iter().map(|(id, name, home)| profile(id, name, home)).collect::<Vec<_>>(),
                "cursor": "m", "has_more": false})),
            "team/namespaces/list" => {
                let mut ns = vec![
                    json!({"name": "Engineering", "namespace_id": "10", "namespace_type": {".tag": "team_folder"}}),
                    json!({"name": "Secret", "namespace_id": "55", "namespace_type": {".tag": "shared_folder"}}),
                    json!({"name": "Proj", "namespace_id": "66", "namespace_type": {".tag": "shared_folder"}}),
                ];
                for (id, name, home) in &t.members {
                    ns.push(json!({"name": name, "namespace_id": home, "team_member_id": format!("dbmid:{id}"),
                                   "namespace_type": {".tag": "team_member_folder"}}));
                }
                ok(json!({"namespaces": ns, "cursor": "n", "has_more": false}))
            }
            "sharing/get_folder_metadata" => {
                assert_eq!(rooted(req).2.as_deref(), Some("dbmid:ann"));
                let id = arg["shared_folder_id"].as_str().unwrap_or_default();
                let name = match id {
                    "10" => "Engineering",
                    "66" => "Proj",
                    _ => "x",
                };
                ok(
                    json!({"shared_folder_id": id, "name": name, "is_team_folder": id == "10",
                          "is_inside_team_folder": id == "55", "folder_id": format!("id:root{id}")}),
                )
            }
            "files/get_metadata" => {
                // A home's own folder, read as its member in the team space.
                let (ns, user, _) = rooted(req);
                assert!(ns.is_none());
                assert_eq!(
                    req.header("Dropbox-API-Path-Root"),
                    Some(r#"{".tag":"root","root":"7"}"#)
                );
                let path = arg["path"].as_str().unwrap_or_default().to_string();
                let member = format!("dbmid:{}", path.trim_start_matches('/').to_lowercase());
                assert_eq!(user.as_deref(), Some(member.as_str()));
                ok(folder(&format!("id:home{}", &path[1..]), &path))
            }
            "files/list_folder" => {
                assert_eq!(arg["path"], "");
                let (ns, user, admin) = rooted(req);
                match (ns.as_deref(), user.as_deref(), admin.as_deref()) {
                    (Some("10"), None, Some("dbmid:ann")) => {
                        assert!(arg.get("include_mounted_folders").is_none());
                        let mut a = file("id:TA", "/a.txt");
                        a["parent_shared_folder_id"] = json!("10");
                        let mut secret = folder("id:SEC", "/Secret");
                        secret["shared_folder_id"] = json!("55");
                        let mut s = file("id:TS", "/Secret/s.txt");
                        s["parent_shared_folder_id"] = json!("55");
                        ok(json!({"entries": [a, secret, s], "cursor": "c10", "has_more": false}))
                    }
                    (Some("66"), None, Some("dbmid:ann")) => {
                        let mut x = file("id:PX", "/x.txt");
                        x["parent_shared_folder_id"] = json!("66");
                        ok(json!({"entries": [x], "cursor": "c66", "has_more": false}))
                    }
                    (Some("1"), None, Some("dbmid:ann")) => {
                        assert_eq!(arg["include_mounted_folders"], false);
                        // Dropbox may still report a mounted folder and its content: skipped.
                        let mut proj = folder("id:PRJ", "/Proj");
                        proj["shared_folder_id"] = json!("66");
                        let mut x = file("id:PX", "/Proj/x.txt");
                        x["parent_shared_folder_id"] = json!("66");
                        ok(json!({"entries": [file("id:AN", "/notes.txt"), proj, x],
                                  "cursor": "c1", "has_more": false}))
                    }
                    (Some("2"), None, Some("dbmid:ann")) => ok(
                        json!({"entries": [file("id:BB", "/b.txt")], "cursor": "c2", "has_more": false}),
                    ),
                    (Some("4"), None, Some("dbmid:ann")) => ok(
                        json!({"entries": [file("id:DD", "/d.txt")], "cursor": "c4", "has_more": false}),
                    ),
                    other => panic!("unexpected listing context {other:?}"),
                }
            }
            "files/list_folder/continue" => match arg["cursor"].as_str() {
                Some("c10") => status(
                    409,
                    json!({"error_summary": "reset/..", "error": {".tag": "reset"}}),
                ),
                Some(c) => ok(json!({"entries": [], "cursor": c, "has_more": false})),
                None => status(400, json!({})),
            },
            "sharing/list_file_members/batch" => ok(json!([])),
            "team_log/get_events" | "team_log/get_events/continue" => {
                ok(json!({"events": [], "cursor": "ev", "has_more": false}))
            }
            "sharing/list_folder_members" => {
                let id = arg["shared_folder_id"].as_str().unwrap_or_default();
                ok(json!({"users": [], "invitees": [],
                          "groups": [{"access_type": {".tag": "editor"}, "group": {"group_id": format!("g:{id}")}}]}))
            }
            other => panic!("unexpected call {other}"),
        }
    }
}

fn run(s: &mut Session<&Fake>) -> Vec<Page> {
    let mut pages = vec![s.next_page().unwrap()];
    while pages.last().unwrap().has_more {
        pages.push(s.next_page().unwrap());
    }
    pages
}

fn upserts(pages: &[Page]) -> Vec<(String, String, String, Value)> {
    pages
        .iter()
        .flat_map(|p| &p.changes)
        .filter_map(|c| match c {
            Change::Upsert(d) if d.scope != "access_control" => Some((
                d.id.clone(),
                d.scope.clone(),
                d.fields["file_path"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                d.fields["_allow_access_control"].clone(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn every_namespace_is_enumerated_once_with_its_own_cursor() {
    let team = Rc::new(RefCell::new(Team {
        members: vec![("ann", "Ann", "1"), ("bob", "Bob", "2")],
    }));
    let fake = Fake::new(team_handler(team.clone()));
    let cfg = config(
        json!({"team_scope": "all_members", "use_document_level_security": true,
                            "include_received_files": false}),
    );
    let mut s = Session::start(&fake, cfg.clone(), None).unwrap();
    let pages = run(&mut s);
    let ann = json!(["email:ann@acme.example", "user_id:dbid:ann"]);
    let bob = json!(["email:bob@acme.example", "user_id:dbid:bob"]);
    let expect = |id: &str, scope: &str, path: &str, acl: &Value| {
        (
            id.to_string(),
            scope.to_string(),
            path.to_string(),
            acl.clone(),
        )
    };
    let (g10, g55, g66) = (
        json!(["group:g:10"]),
        json!(["group:g:55"]),
        json!(["group:g:66"]),
    );
    assert_eq!(
        upserts(&pages),
        [
            // Each namespace's own folder, under its real id.
            expect("id:root10", "ns:10", "/Engineering", &g10),
            expect("id:TA", "ns:10", "/Engineering/a.txt", &g10),
            // A shared folder nested in a team folder is part of it, with its own members.
            expect("id:SEC", "ns:10", "/Engineering/Secret", &g55),
            expect("id:TS", "ns:10", "/Engineering/Secret/s.txt", &g55),
            // The shared folder mounted in Ann's home: once, in its own scope.
            expect("id:root66", "ns:66", "/Proj", &g66),
            expect("id:PX", "ns:66", "/Proj/x.txt", &g66),
            // Private files: the owner only.
            expect("id:homeAnn", "ns:1", "/Ann", &ann),
            expect("id:AN", "ns:1", "/Ann/notes.txt", &ann),
            expect("id:homeBob", "ns:2", "/Bob", &bob),
            expect("id:BB", "ns:2", "/Bob/b.txt", &bob),
        ]
    );
    let all: Vec<String> = pages.iter().flat_map(kinds).collect();
    for scope in ["ns:10", "ns:66", "ns:1", "ns:2"] {
        assert!(all.contains(&format!("begin {scope}")) && all.contains(&format!("end {scope}")));
    }
    // The switch from the admin's view removes what it indexed, after everything else.
    let files_end = all.iter().position(|k| k == "end files").unwrap();
    assert!(files_end > all.iter().position(|k| k == "end ns:2").unwrap());
    assert!(all.contains(&"upsert bob@acme.example".to_string()));
    // Downloads carry the namespace's context.
    let doc = pages
        .iter()
        .flat_map(|p| &p.changes)
        .find_map(|c| match c {
            Change::Upsert(d) if d.id == "id:AN" => Some(d.clone()),
            _ => None,
        })
        .unwrap();
    let req = doc.content.unwrap().request;
    assert_eq!(req.header("Dropbox-API-Select-Admin"), Some("dbmid:ann"));
    assert_eq!(
        req.header("Dropbox-API-Path-Root"),
        Some(r#"{".tag":"namespace_id","namespace_id":"1"}"#)
    );
    let done = cp(pages.last().unwrap());
    assert_eq!(done.stage, Stage::Done);
    assert_eq!(done.units.len(), 4);
    assert!(done.units.iter().all(|u| u.listed && u.cursor.is_some()));
    assert_eq!(done.nested.get("55").map(String::as_str), Some("10"));
    assert_eq!(done.units[1].kind, UnitKind::SharedFolder);

    // Bob leaves, Dee joins; the team folder's cursor expired.
    team.borrow_mut().members = vec![("ann", "Ann", "1"), ("dee", "Dee", "4")];
    let lists_before = fake.sent_to("files/list_folder").len();
    let mut s = Session::start(&fake, cfg, Some(&done.encode())).unwrap();
    let pages = run(&mut s);
    let all: Vec<String> = pages.iter().flat_map(kinds).collect();
    // Bob's files go (his whole scope), Dee's home is listed, the team folder is listed
    // again on its own; Ann's home and the shared folder only continue their cursors.
    assert_eq!(&all[..2], ["begin ns:2", "end ns:2"]);
    assert!(all.contains(&"begin ns:10".to_string()) && all.contains(&"end ns:10".to_string()));
    assert!(all.contains(&"upsert id:DD".to_string()));
    assert!(!all.contains(&"begin ns:1".to_string()));
    assert!(!all.contains(&"begin files".to_string()), "{all:?}");
    let relisted: Vec<_> = fake.sent_to("files/list_folder")[lists_before..]
        .iter()
        .map(|r| rooted(r).0.unwrap_or_default())
        .collect();
    assert_eq!(relisted, ["10", "4"]);
    assert!(all.contains(&"upsert dee@acme.example".to_string()));
    assert!(!all.contains(&"upsert bob@acme.example".to_string()));
}

#[test]
fn all_members_needs_a_team_token() {
    let fake = Fake::new(crate::session_tests::personal_dropbox);
    let err = Session::start(&fake, config(json!({"team_scope": "all_members"})), None)
        .err()
        .unwrap();
    assert!(matches!(err, Error::InvalidConfig(m) if m.starts_with("team_scope:")));
}
