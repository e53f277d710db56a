//! Session, check and watch behaviour against a scripted fake Dropbox.

use std::cell::RefCell;

use serde_json::{Value, json};

use crate::account::check;
use crate::checkpoint::{Checkpoint, Stage, Unit};
use crate::client::{Level, Request, Response, Transport, TransportError};
use crate::config::Config;
use crate::document::Change;
use crate::error::Error;
use crate::session::{Page, Session};
use crate::watch::wait_for_changes;

pub(crate) const ACCOUNT: &str = "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc";

type Handler = Box<dyn Fn(&str, &Value, &Request) -> Response>;

/// A fake host: routes requests to a handler and records them.
pub(crate) struct Fake {
    handler: Handler,
    pub(crate) sent: RefCell<Vec<Request>>,
    pub(crate) logs: RefCell<Vec<(Level, String)>>,
    /// The routes of each `send-many` call, in order.
    pub(crate) many: RefCell<Vec<Vec<String>>>,
    /// Every `prefetch`, in order.
    pub(crate) prefetched: RefCell<Vec<Request>>,
    /// What `content_wanted` answers (the host's `run.content-wanted`).
    pub(crate) content_wanted: std::cell::Cell<bool>,
}

fn route_of(req: &Request) -> String {
    req.url
        .split_once("/2/")
        .map(|(_, r)| r.to_string())
        .unwrap_or_default()
}

impl Fake {
    pub(crate) fn new(handler: impl Fn(&str, &Value, &Request) -> Response + 'static) -> Fake {
        Fake {
            handler: Box::new(handler),
            sent: RefCell::new(Vec::new()),
            logs: RefCell::new(Vec::new()),
            many: RefCell::new(Vec::new()),
            prefetched: RefCell::new(Vec::new()),
            content_wanted: std::cell::Cell::new(true),
        }
    }

    /// The arguments of every request to `route`.
    pub(crate) fn args_to(&self, route: &str) -> Vec<Value> {
        self.sent_to(route)
            .iter()
            .map(|r| {
                r.body
                    .as_deref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or(Value::Null)
            })
            .collect()
    }

    pub(crate) fn sent_to(&self, route: &str) -> Vec<Request> {
        self.sent
            .borrow()
            .iter()
            .filter(|r| r.url.ends_with(&format!("/2/{route}")))
            .cloned()
            .collect()
    }
}

impl Transport for &Fake {
    fn send_many(&self, reqs: Vec<Request>) -> Vec<Result<Response, TransportError>> {
        self.many
            .borrow_mut()
            .push(reqs.iter().map(route_of).collect());
        reqs.into_iter().map(|r| self.send(r)).collect()
    }

    fn send(&self, req: Request) -> Result<Response, TransportError> {
        let route = route_of(&req);
        let arg: Value = req
            .body
            .as_deref()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        self.sent.borrow_mut().push(req.clone());
        Ok((self.handler)(&route, &arg, &req))
    }

    fn prefetch(&self, req: Request) {
        self.prefetched.borrow_mut().push(req);
    }

    fn content_wanted(&self) -> bool {
        self.content_wanted.get()
    }

    fn log(&self, level: Level, message: &str) {
        self.logs.borrow_mut().push((level, message.to_string()));
    }
}

pub(crate) fn ok(v: Value) -> Response {
    Response {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: v.to_string().into_bytes(),
    }
}

pub(crate) fn status(code: u16, v: Value) -> Response {
    Response {
        status: code,
        headers: vec![],
        body: v.to_string().into_bytes(),
    }
}

pub(crate) fn user_token_400() -> Response {
    Response {
        status: 400,
        headers: vec![],
        body: b"Error in call to API function \"team/token/get_authenticated_admin\": Invalid authorization value in HTTP header".to_vec(),
    }
}

pub(crate) fn personal_account() -> Response {
    ok(json!({
        "account_id": ACCOUNT, "email": "ann@example.com",
        "name": {"display_name": "Ann"},
        "root_info": {".tag": "user", "root_namespace_id": "100", "home_namespace_id": "100"}
    }))
}

pub(crate) fn team_account() -> Response {
    ok(json!({
        "account_id": ACCOUNT, "email": "admin@acme.example",
        "team": {"id": "dbtid:1", "name": "Acme"}, "team_member_id": "dbmid:AAA1",
        "root_info": {".tag": "team", "root_namespace_id": "7", "home_namespace_id": "1", "home_path": "/Admin"}
    }))
}

pub(crate) fn file(id: &str, path: &str) -> Value {
    let name = path.rsplit('/').next().unwrap_or_default();
    json!({".tag": "file", "name": name, "id": id, "path_lower": path.to_lowercase(), "path_display": path,
           "client_modified": "2024-04-01T09:00:00Z", "server_modified": "2024-04-01T09:00:05Z",
           "rev": "015f1a2b3c4d5e6f70000000100", "size": 10, "is_downloadable": true,
           "content_hash": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"})
}

pub(crate) fn folder(id: &str, path: &str) -> Value {
    let name = path.rsplit('/').next().unwrap_or_default();
    json!({".tag": "folder", "name": name, "id": id, "path_lower": path.to_lowercase(), "path_display": path})
}

pub(crate) fn config(extra: Value) -> Config {
    let mut c = json!({"app_key": "k"});
    if let (Some(m), Value::Object(e)) = (c.as_object_mut(), extra) {
        m.extend(e);
    }
    Config::parse(&c.to_string()).unwrap()
}

pub(crate) fn kinds(page: &Page) -> Vec<String> {
    page.changes
        .iter()
        .map(|c| match c {
            Change::Upsert(d) => format!("upsert {}", d.id),
            Change::Delete { id, .. } => format!("delete {id}"),
            Change::DeleteTree { field, value, .. } => format!("delete-tree {field}={value}"),
            Change::BeginEnumeration(s) => format!("begin {s}"),
            Change::EndEnumeration(s) => format!("end {s}"),
        })
        .collect()
}

pub(crate) fn cp(page: &Page) -> Checkpoint {
    Checkpoint::decode(page.checkpoint.as_deref().unwrap()).unwrap()
}

/// The root unit's cursor and whether its listing completed.
fn root_cursor(c: &Checkpoint) -> (Option<&str>, bool) {
    (c.units[0].cursor.as_deref(), c.units[0].listed)
}

pub(crate) fn personal_dropbox(route: &str, arg: &Value, _: &Request) -> Response {
    match route {
        "team/token/get_authenticated_admin" => user_token_400(),
        "users/get_current_account" => personal_account(),
        "files/list_folder" => ok(json!({
            "entries": [folder("id:F", "/Reports"), file("id:A", "/Reports/a.txt")],
            "cursor": "c1", "has_more": true})),
        "files/list_folder/continue" => match arg["cursor"].as_str() {
            Some("c1") => {
                ok(json!({"entries": [file("id:B", "/b.pdf")], "cursor": "c2", "has_more": false}))
            }
            _ => status(
                409,
                json!({"error_summary": "reset/..", "error": {".tag": "reset"}}),
            ),
        },
        "sharing/list_received_files" => ok(json!({
            "entries": [
                {"id": "id:M", "name": "mounted.txt", "preview_url": "https://www.dropbox.com/scl/fi/m", "path_lower": "/mounted.txt",
                 "policy": {"acl_update_policy": {".tag": "owner"}, "shared_link_policy": {".tag": "anyone"}}},
                {"id": "id:R1", "name": "r1.docx", "preview_url": "https://www.dropbox.com/scl/fi/r1",
                 "owner_display_names": ["Bob"],
                 "policy": {"acl_update_policy": {".tag": "owner"}, "shared_link_policy": {".tag": "anyone"}}}],
            "cursor": "rc1"})),
        "sharing/list_received_files/continue" => ok(json!({
            "entries": [{"id": "id:R2", "name": "gone.txt", "preview_url": "https://www.dropbox.com/scl/fi/gone",
                         "policy": {"acl_update_policy": {".tag": "owner"}, "shared_link_policy": {".tag": "anyone"}}}]})),
        "sharing/get_shared_link_metadata" => match arg["url"].as_str() {
            Some("https://www.dropbox.com/scl/fi/r1") => ok(json!({
                ".tag": "file", "url": "https://www.dropbox.com/scl/fi/r1", "name": "r1.docx",
                "server_modified": "2024-05-01T12:00:00Z", "client_modified": "2024-05-01T11:00:00Z",
                "rev": "a1b2c3d4e5", "size": 99,
                "link_permissions": {"can_revoke": false}})),
            _ => status(
                409,
                json!({"error_summary": "shared_link_not_found/..", "error": {".tag": "shared_link_not_found"}}),
            ),
        },
        _ => status(404, json!({})),
    }
}

/// A listing page that says more follows starts the next page's request before it is mapped,
/// and the session's next call sends exactly that request (so the host can answer it from
/// the prefetch); the last page starts nothing.
#[test]
fn a_listing_page_with_more_prefetches_exactly_the_next_request() {
    let fake = Fake::new(personal_dropbox);
    let mut s = Session::start(&fake, config(json!({})), None).unwrap();
    s.next_page().unwrap();
    let early = fake.prefetched.borrow().clone();
    assert_eq!(early.len(), 1, "{early:?}");
    assert!(early[0].url.ends_with("/2/files/list_folder/continue"));
    s.next_page().unwrap();
    let sent = fake.sent_to("files/list_folder/continue");
    assert_eq!(
        sent, early,
        "the next call must send the prefetched request unchanged"
    );
    // The second page has no more: nothing further was started.
    assert_eq!(fake.prefetched.borrow().len(), 1);
}

/// Told that the host fetches no content, the session describes no download for any file or
/// received file; told it does, every downloadable file carries its request.
#[test]
fn documents_describe_content_only_when_the_host_wants_it() {
    let described = |wanted: bool| -> (usize, usize) {
        let fake = Fake::new(personal_dropbox);
        fake.content_wanted.set(wanted);
        let mut s = Session::start(&fake, config(json!({})), None).unwrap();
        let (mut files, mut with_content) = (0, 0);
        loop {
            let page = s.next_page().unwrap();
            for change in &page.changes {
                if let Change::Upsert(d) = change
                    && d.fields["type"] == "File"
                {
                    files += 1;
                    with_content += usize::from(d.content.is_some());
                }
            }
            if !page.has_more {
                return (files, with_content);
            }
        }
    };
    let (files, with_content) = described(true);
    assert!(files >= 3, "{files} files");
    assert_eq!(with_content, files, "every file is downloadable here");
    assert_eq!(described(false), (files, 0));
}

#[test]
fn full_sync_emits_one_dropbox_page_per_call_then_received_files() {
    let fake = Fake::new(personal_dropbox);
    let mut s = Session::start(&fake, config(json!({})), None).unwrap();

    let p1 = s.next_page().unwrap();
    assert_eq!(kinds(&p1), ["begin files", "upsert id:F", "upsert id:A"]);
    assert!(p1.has_more);
    let c1 = cp(&p1);
    assert_eq!(
        (c1.stage, root_cursor(&c1), c1.account.as_str()),
        (Stage::Units, (Some("c1"), false), ACCOUNT)
    );
    assert_eq!(c1.root, "100");
    assert_eq!(c1.path, "");

    let p2 = s.next_page().unwrap();
    assert_eq!(kinds(&p2), ["upsert id:B", "end files"]);
    let c2 = cp(&p2);
    assert_eq!(
        (c2.stage, root_cursor(&c2), c2.received_cursor.as_deref()),
        (Stage::Received, (Some("c2"), true), None)
    );
    assert!(p2.has_more);

    let p3 = s.next_page().unwrap();
    assert_eq!(kinds(&p3), ["begin received", "upsert id:R1"]);
    let c3 = cp(&p3);
    assert_eq!(c3.stage, Stage::Received);
    assert_eq!(c3.received_cursor.as_deref(), Some("rc1"));
    assert_eq!(root_cursor(&c3), (Some("c2"), true));
    match &p3.changes[1] {
        Change::Upsert(d) => {
            assert_eq!(d.scope, "received");
            assert_eq!(d.fields["owner"], "Bob");
            assert_eq!(d.fields["size"], 99);
        }
        other => panic!("{other:?}"),
    }

    let p4 = s.next_page().unwrap();
    assert_eq!(kinds(&p4), ["end received"]);
    assert!(!p4.has_more);
    let c4 = cp(&p4);
    assert_eq!(
        (c4.stage, root_cursor(&c4), c4.received_cursor.as_deref()),
        (Stage::Done, (Some("c2"), true), None)
    );
    assert!(fake.logs.borrow().iter().any(|(l, m)| *l == Level::Warn
        && m.contains("gone.txt")
        && m.contains("409 shared_link_not_found")));

    // After the end the session keeps answering with the final checkpoint.
    let p5 = s.next_page().unwrap();
    assert!(p5.changes.is_empty() && !p5.has_more);
    assert_eq!(p5.checkpoint, p4.checkpoint);

    // Wire details: Void routes carry no body or type; list_folder asks for everything.
    let admin = &fake.sent_to("team/token/get_authenticated_admin")[0];
    assert!(admin.body.is_none() && admin.header("Content-Type").is_none() && admin.authorized);
    let acct = &fake.sent_to("users/get_current_account")[0];
    assert!(acct.body.is_none() && acct.header("Content-Type").is_none());
    let list = &fake.sent_to("files/list_folder")[0];
    assert_eq!(list.header("Content-Type"), Some("application/json"));
    let arg: Value = serde_json::from_slice(list.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        arg,
        json!({"path": "", "recursive": true, "limit": 2000, "include_non_downloadable_files": true})
    );
    assert!(list.header("Dropbox-API-Select-User").is_none());
    assert!(list.header("Dropbox-API-Path-Root").is_none());
    let received = &fake.sent_to("sharing/list_received_files")[0];
    let arg: Value = serde_json::from_slice(received.body.as_deref().unwrap()).unwrap();
    assert_eq!(arg, json!({"limit": 300}));
    // The mounted received file was never resolved.
    assert_eq!(fake.sent_to("sharing/get_shared_link_metadata").len(), 2);
}

#[test]
fn team_admin_token_selects_the_admin_and_the_team_root() {
    let fake = Fake::new(|route, arg, req| match route {
        "team/token/get_authenticated_admin" => ok(json!({"admin_profile": {
            "team_member_id": "dbmid:AAA1", "email": "admin@acme.example"}})),
        "users/get_current_account" => {
            assert_eq!(req.header("Dropbox-API-Select-User"), Some("dbmid:AAA1"));
            assert!(req.header("Dropbox-API-Path-Root").is_none());
            team_account()
        }
        "files/list_folder" => {
            assert_eq!(arg["path"], "/Team Space");
            ok(
                json!({"entries": [folder("id:T", "/Team Space"), file("id:A", "/Team Space/a.txt")],
                      "cursor": "c1", "has_more": false}),
            )
        }
        _ => status(500, json!({})),
    });
    let cfg = config(json!({"path": "/Team Space", "include_received_files": false}));
    let mut s = Session::start(&fake, cfg, None).unwrap();
    let p = s.next_page().unwrap();
    assert_eq!(
        kinds(&p),
        [
            "begin files",
            "upsert id:T",
            "upsert id:A",
            "end files",
            "begin received",
            "end received"
        ]
    );
    assert!(!p.has_more);
    let c = cp(&p);
    assert_eq!(
        (c.account.as_str(), c.root.as_str(), c.path.as_str()),
        ("dbmid:AAA1", "7", "/team space")
    );
    assert_eq!(c.stage, Stage::Done);
    let admin = &fake.sent_to("team/token/get_authenticated_admin")[0];
    assert!(admin.header("Dropbox-API-Select-User").is_none());
    let list = &fake.sent_to("files/list_folder")[0];
    assert_eq!(list.header("Dropbox-API-Select-User"), Some("dbmid:AAA1"));
    assert_eq!(
        list.header("Dropbox-API-Path-Root"),
        Some(r#"{".tag":"root","root":"7"}"#)
    );
    let Change::Upsert(doc) = &p.changes[2] else {
        panic!()
    };
    let req = &doc.content.as_ref().unwrap().request;
    assert_eq!(req.header("Dropbox-API-Select-User"), Some("dbmid:AAA1"));
    assert_eq!(
        req.header("Dropbox-API-Path-Root"),
        Some(r#"{".tag":"root","root":"7"}"#)
    );
    assert_eq!(
        doc.fields["web_url"],
        "https://www.dropbox.com/home/Team%20Space?preview=a.txt"
    );
}

pub(crate) fn delta_checkpoint(cursor: &str) -> String {
    delta_state(cursor, &config(json!({}))).encode()
}

/// A completed run of the root unit, taken under `cfg`'s settings.
pub(crate) fn delta_state(cursor: &str, cfg: &Config) -> Checkpoint {
    Checkpoint {
        stage: Stage::Done,
        units: vec![Unit {
            cursor: Some(cursor.into()),
            listed: true,
            ..Unit::root()
        }],
        ..Checkpoint::fresh(&crate::checkpoint::Identity {
            account: ACCOUNT.into(),
            root: "100".into(),
            path: String::new(),
            settings: cfg.fingerprint(),
        })
    }
}

#[test]
fn incremental_sync_applies_deletes_and_moves_in_order() {
    let fake = Fake::new(|route, arg, _| match route {
        "team/token/get_authenticated_admin" => user_token_400(),
        "users/get_current_account" => personal_account(),
        "files/list_folder/continue" => match arg["cursor"].as_str() {
            Some("c5") => ok(json!({"entries": [
                {".tag": "deleted", "name": "Old", "path_lower": "/old", "path_display": "/Old"},
                file("id:X", "/New/x.txt")], "cursor": "c6", "has_more": true})),
            Some("c6") => ok(
                json!({"entries": [folder("id:N", "/Newer")], "cursor": "c7", "has_more": false}),
            ),
            _ => status(500, json!({})),
        },
        _ => status(500, json!({})),
    });
    let cfg = config(json!({"include_received_files": false}));
    let mut s = Session::start(&fake, cfg, Some(&delta_checkpoint("c5"))).unwrap();
    let p1 = s.next_page().unwrap();
    assert_eq!(kinds(&p1), ["delete-tree path_lower=/old", "upsert id:X"]);
    assert!(p1.has_more);
    assert_eq!(
        (cp(&p1).stage, root_cursor(&cp(&p1))),
        (Stage::Units, (Some("c6"), true))
    );
    // An incremental update does not touch what it does not know (no null ACL field).
    let Change::Upsert(x) = &p1.changes[1] else {
        panic!()
    };
    assert!(x.fields.get("_allow_access_control").is_none());
    let p2 = s.next_page().unwrap();
    assert_eq!(
        kinds(&p2),
        ["upsert id:N", "begin received", "end received"]
    );
    assert!(!p2.has_more);
    assert_eq!(
        (cp(&p2).stage, root_cursor(&cp(&p2))),
        (Stage::Done, (Some("c7"), true))
    );
    assert!(fake.sent_to("files/list_folder").is_empty());
}

#[test]
fn incremental_sync_re_enumerates_received_files() {
    let fake = Fake::new(|route, arg, req| match route {
        "files/list_folder/continue" => {
            ok(json!({"entries": [], "cursor": "c9", "has_more": false}))
        }
        _ => personal_dropbox(route, arg, req),
    });
    let mut s = Session::start(&fake, config(json!({})), Some(&delta_checkpoint("c8"))).unwrap();
    // An empty delta does not cost a page of its own.
    let p2 = s.next_page().unwrap();
    assert_eq!(kinds(&p2), ["begin received", "upsert id:R1"]);
    assert_eq!(
        (cp(&p2).stage, root_cursor(&cp(&p2))),
        (Stage::Received, (Some("c9"), true))
    );
    let p3 = s.next_page().unwrap();
    assert_eq!(kinds(&p3), ["end received"]);
    assert_eq!(
        (cp(&p3).stage, root_cursor(&cp(&p3))),
        (Stage::Done, (Some("c9"), true))
    );
}

#[test]
fn resuming_a_listing_does_not_reopen_the_enumeration() {
    let fake = Fake::new(personal_dropbox);
    let mut c = Checkpoint::decode(&delta_checkpoint("c1")).unwrap();
    c.stage = Stage::Units;
    c.units[0].listed = false;
    let mut s = Session::start(
        &fake,
        config(json!({"include_received_files": false})),
        Some(&c.encode()),
    )
    .unwrap();
    let p = s.next_page().unwrap();
    assert_eq!(
        kinds(&p),
        ["upsert id:B", "end files", "begin received", "end received"]
    );
}

#[test]
fn resuming_the_received_walk_continues_its_cursor() {
    let fake = Fake::new(personal_dropbox);
    let mut c = Checkpoint::decode(&delta_checkpoint("c2")).unwrap();
    c.stage = Stage::Received;
    c.received_cursor = Some("rc1".into());
    let mut s = Session::start(&fake, config(json!({})), Some(&c.encode())).unwrap();
    let p = s.next_page().unwrap();
    assert_eq!(kinds(&p), ["end received"]);
    assert_eq!(
        (cp(&p).stage, root_cursor(&cp(&p))),
        (Stage::Done, (Some("c2"), true))
    );
}

#[test]
fn resuming_the_received_walk_with_received_files_switched_off_closes_it_empty() {
    let fake = Fake::new(personal_dropbox);
    let mut c = Checkpoint::decode(&delta_checkpoint("c2")).unwrap();
    c.stage = Stage::Received;
    c.received_cursor = Some("rc1".into());
    let cfg = config(json!({"include_received_files": false}));
    let mut s = Session::start(&fake, cfg, Some(&c.encode())).unwrap();
    let p = s.next_page().unwrap();
    assert_eq!(kinds(&p), ["end received"]);
    assert!(!p.has_more);
    assert!(
        fake.sent_to("sharing/list_received_files/continue")
            .is_empty()
    );
}

#[test]
fn received_invalid_cursor_restarts_the_walk_without_a_new_begin() {
    let fake = Fake::new(|route, arg, req| match route {
        "sharing/list_received_files/continue" if arg["cursor"] == "stale" => status(
            409,
            json!({"error_summary": "invalid_cursor/..", "error": {".tag": "invalid_cursor"}}),
        ),
        _ => personal_dropbox(route, arg, req),
    });
    let mut c = Checkpoint::decode(&delta_checkpoint("c2")).unwrap();
    c.stage = Stage::Received;
    c.received_cursor = Some("stale".into());
    let mut s = Session::start(&fake, config(json!({})), Some(&c.encode())).unwrap();
    let p = s.next_page().unwrap();
    assert_eq!(kinds(&p), ["upsert id:R1"]);
    assert_eq!(cp(&p).received_cursor.as_deref(), Some("rc1"));
}

#[test]
fn checkpoint_for_another_account_or_path_is_refused() {
    let fake = Fake::new(personal_dropbox);
    let mut c = Checkpoint::decode(&delta_checkpoint("c1")).unwrap();
    c.account = "dbid:someone-else".into();
    let err = Session::start(&fake, config(json!({})), Some(&c.encode()))
        .err()
        .unwrap();
    assert!(
        matches!(&err, Error::CheckpointMismatch(m) if m.contains("sync --full")),
        "{err}"
    );
    let err = Session::start(
        &fake,
        config(json!({"path": "/Docs"})),
        Some(&delta_checkpoint("c1")),
    )
    .err()
    .unwrap();
    assert!(matches!(err, Error::CheckpointMismatch(_)));
    let err = Session::start(&fake, config(json!({})), Some("{garbage"))
        .err()
        .unwrap();
    assert!(matches!(err, Error::CheckpointMismatch(_)));
}

#[test]
fn expired_cursor_is_reported_as_checkpoint_expired() {
    let fake = Fake::new(personal_dropbox);
    let mut s = Session::start(&fake, config(json!({})), Some(&delta_checkpoint("old"))).unwrap();
    assert!(matches!(s.next_page(), Err(Error::CheckpointExpired(_))));
}

#[test]
fn missing_path_is_an_invalid_config_naming_path() {
    let fake = Fake::new(|route, _, _| match route {
        "team/token/get_authenticated_admin" => user_token_400(),
        "users/get_current_account" => personal_account(),
        _ => status(
            409,
            json!({"error_summary": "path/not_found/...", "error": {".tag": "path", "path": {".tag": "not_found"}}}),
        ),
    });
    let mut s = Session::start(&fake, config(json!({"path": "/X"})), None).unwrap();
    assert_eq!(
        s.next_page().err().unwrap(),
        Error::InvalidConfig(
            "path: \"/X\" does not exist in this Dropbox (409 path/not_found); set path to an existing folder or \"/\"".into()
        )
    );
    assert!(
        matches!(check(&&fake, &config(json!({"path": "/X"}))), Err(Error::InvalidConfig(m)) if m.starts_with("path: \"/X\""))
    );
}

#[test]
fn errors_leave_the_session_where_it_was() {
    let calls = RefCell::new(0);
    let fake = Fake::new(move |route, arg, req| match route {
        "files/list_folder" => {
            *calls.borrow_mut() += 1;
            if *calls.borrow() == 1 {
                status(503, json!({}))
            } else {
                personal_dropbox(route, arg, req)
            }
        }
        _ => personal_dropbox(route, arg, req),
    });
    let mut s = Session::start(&fake, config(json!({})), None).unwrap();
    assert!(matches!(s.next_page(), Err(Error::Transient(_))));
    let p = s.next_page().unwrap();
    assert_eq!(kinds(&p)[0], "begin files");
}

#[test]
fn revoked_token_is_unauthorized_with_the_dropbox_tag() {
    let fake = Fake::new(|route, _, _| match route {
        "team/token/get_authenticated_admin" => user_token_400(),
        _ => status(
            401,
            json!({"error_summary": "invalid_access_token/..", "error": {".tag": "invalid_access_token"}}),
        ),
    });
    let err = Session::start(&fake, config(json!({})), None)
        .err()
        .unwrap();
    assert!(
        matches!(&err, Error::Unauthorized(m) if m.contains("invalid_access_token")),
        "{err}"
    );
}

#[test]
fn admin_probe_outage_is_transient_not_personal_mode() {
    let fake = Fake::new(|_, _, _| status(503, json!({})));
    assert!(matches!(
        Session::start(&fake, config(json!({})), None),
        Err(Error::Transient(_))
    ));
}

#[test]
fn check_summarises_personal_and_team_accounts() {
    let fake = Fake::new(personal_dropbox);
    assert_eq!(
        check(&&fake, &config(json!({}))).unwrap(),
        "Dropbox account ann@example.com (personal), path \"/\" readable"
    );
    let fake = Fake::new(|route, _, _| match route {
        "team/token/get_authenticated_admin" => {
            ok(json!({"admin_profile": {"team_member_id": "dbmid:AAA1"}}))
        }
        "users/get_current_account" => team_account(),
        "files/get_metadata" => ok(folder("id:D", "/Docs")),
        _ => status(500, json!({})),
    });
    assert_eq!(
        check(&&fake, &config(json!({"path": "/Docs"}))).unwrap(),
        "Dropbox account admin@acme.example (team Acme, admin dbmid:AAA1, root namespace 7), path \"/Docs\" readable"
    );
    let fake = Fake::new(|route, _, _| match route {
        "team/token/get_authenticated_admin" => user_token_400(),
        "users/get_current_account" => personal_account(),
        "files/get_metadata" => ok(file("id:A", "/a.txt")),
        _ => status(500, json!({})),
    });
    assert!(
        matches!(check(&&fake, &config(json!({"path": "/a.txt"}))), Err(Error::InvalidConfig(m)) if m.contains("not a folder"))
    );
}

#[test]
fn wait_for_changes_long_polls_without_credentials() {
    let fake = Fake::new(|route, arg, req| {
        assert_eq!(route, "files/list_folder/longpoll");
        assert!(!req.authorized);
        assert_eq!(
            req.headers,
            vec![("Content-Type".to_string(), "application/json".to_string())]
        );
        assert_eq!(arg["cursor"], "c2");
        ok(json!({"changes": false, "backoff": 60}))
    });
    let r = wait_for_changes(&&fake, &config(json!({})), &delta_checkpoint("c2"), 10).unwrap();
    assert!(!r.changes);
    assert_eq!(r.backoff_secs, Some(60));
    let sent = fake.sent_to("files/list_folder/longpoll");
    assert!(sent[0].url.starts_with("https://notify.dropboxapi.com/"));
    let arg: Value = serde_json::from_slice(sent[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(arg["timeout"], 30);
    assert_eq!(sent[0].timeout_ms, Some(120_000));
    wait_for_changes(&&fake, &config(json!({})), &delta_checkpoint("c2"), 10_000).unwrap();
    let arg: Value = serde_json::from_slice(
        fake.sent_to("files/list_folder/longpoll")[1]
            .body
            .as_deref()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(arg["timeout"], 480);
}

#[test]
fn wait_for_changes_reports_interrupted_runs_and_resets() {
    let fake = Fake::new(|_, _, _| {
        status(
            409,
            json!({"error_summary": "reset/..", "error": {".tag": "reset"}}),
        )
    });
    let mut c = Checkpoint::decode(&delta_checkpoint("c2")).unwrap();
    c.stage = Stage::Units;
    let r = wait_for_changes(&&fake, &config(json!({})), &c.encode(), 60).unwrap();
    assert!(r.changes);
    assert!(fake.sent.borrow().is_empty());
    assert!(matches!(
        wait_for_changes(&&fake, &config(json!({})), &delta_checkpoint("c2"), 60),
        Err(Error::CheckpointExpired(_))
    ));
}

#[test]
fn wait_for_changes_polls_on_a_timer_without_a_single_cursor() {
    let fake = Fake::new(|_, _, _| panic!("no long poll with many cursors"));
    let mut c = Checkpoint::decode(&delta_checkpoint("c2")).unwrap();
    c.units.push(Unit {
        kind: crate::checkpoint::UnitKind::MemberFolder,
        ns: Some("12".into()),
        name: "Ann".into(),
        member: Some("dbmid:A".into()),
        cursor: Some("c12".into()),
        listed: true,
    });
    let r = wait_for_changes(&&fake, &config(json!({})), &c.encode(), 60).unwrap();
    assert!(r.changes);
    assert_eq!(r.backoff_secs, Some(60));
    // Document-level security on a team: a quiet long poll still ends in a sync that reads
    // the event log.
    let quiet = Fake::new(|_, _, _| ok(json!({"changes": false})));
    let mut c = Checkpoint::decode(&delta_checkpoint("c2")).unwrap();
    c.events.insert("sharing".into(), "ev".into());
    let r = wait_for_changes(&&quiet, &config(json!({})), &c.encode(), 60).unwrap();
    assert!(r.changes);
}
