//! Advanced rules against a scripted Dropbox: what `search_v2` finds is what is indexed,
//! with permissions, Paper content, and `check` counting each rule's results.

use serde_json::{Value, json};

use crate::account::check;
use crate::checkpoint::Stage;
use crate::client::{Request, Response};
use crate::document::Change;
use crate::error::Error;
use crate::session::Session;
use crate::session_tests::{
    Fake, config, cp, file, folder, kinds, ok, personal_account, status, user_token_400,
};

fn hit(m: Value) -> Value {
    json!({"metadata": {".tag": "metadata", "metadata": m}, "match_type": {".tag": "filename"}})
}

fn searching(route: &str, arg: &Value, _: &Request) -> Response {
    match route {
        "team/token/get_authenticated_admin" => user_token_400(),
        "users/get_current_account" => personal_account(),
        "files/search_v2" => match arg["query"].as_str() {
            Some("budget") => {
                let paper = json!({".tag": "file", "name": "Plan.paper", "id": "id:P",
                                   "path_lower": "/finance/plan.paper", "path_display": "/Finance/Plan.paper",
                                   "rev": "r1", "size": 9, "is_downloadable": false});
                ok(
                    json!({"matches": [hit(file("id:A", "/Finance/a.pdf")), hit(paper),
                                      hit(json!({".tag": "deleted", "name": "old.pdf", "path_lower": "/finance/old.pdf"}))],
                          "has_more": true, "cursor": "s1"}),
                )
            }
            Some("roadmap") => ok(
                json!({"matches": [hit(file("id:B", "/Docs/b.txt")), hit(file("id:A", "/Finance/a.pdf"))],
                                        "has_more": false}),
            ),
            _ => status(
                409,
                json!({"error_summary": "path/not_found/..", "error": {".tag": "path", "path": {".tag": "not_found"}}}),
            ),
        },
        "files/list_folder" => ok(json!({"entries": [], "cursor": "c", "has_more": false})),
        "files/search/continue_v2" => ok(json!({
            "matches": [hit(file("id:A", "/Finance/a.pdf")), hit(folder("id:F", "/Finance/Q1"))],
            "has_more": false})),
        "files/get_metadata" => match arg["path"].as_str() {
            Some("/Finance") => ok(folder("id:FIN", "/Finance")),
            Some("/Docs") => ok(folder("id:DOCS", "/Docs")),
            _ => status(
                409,
                json!({"error_summary": "path/not_found/..", "error": {".tag": "path", "path": {".tag": "not_found"}}}),
            ),
        },
        "sharing/list_file_members/batch" => {
            let files = arg["files"].as_array().cloned().unwrap_or_default();
            ok(Value::Array(files.iter().map(|f| json!({"file": f, "result": {".tag": "result",
                "members": {"users": [], "groups": [{"access_type": {".tag": "viewer"}, "group": {"group_id": "g:fin"}}], "invitees": []}}})).collect()))
        }
        other => panic!("unexpected call {other}"),
    }
}

const RULES: &str = r#"[{"query": "budget", "options": {"path": "/Finance", "max_results": "100"}},
                        {"query": "roadmap"}]"#;

#[test]
fn rules_index_what_the_searches_find_with_permissions_and_paper() {
    let fake = Fake::new(searching);
    let cfg = config(json!({"advanced_rules": RULES, "path": "/Docs",
                            "use_document_level_security": true, "include_received_files": false}));
    let mut s = Session::start(&fake, cfg.clone(), None).unwrap();
    let mut pages = vec![s.next_page().unwrap()];
    while pages.last().unwrap().has_more {
        pages.push(s.next_page().unwrap());
    }
    let all: Vec<String> = pages.iter().flat_map(kinds).collect();
    assert_eq!(
        all,
        [
            "begin files",
            "upsert id:A",
            "upsert id:P",
            "upsert id:F",
            "upsert id:B",
            "end files",
            "begin received",
            "end received",
            "begin access_control",
            "upsert ann@example.com",
            "end access_control"
        ]
    );
    let docs: Vec<_> = pages
        .iter()
        .flat_map(|p| &p.changes)
        .filter_map(|c| match c {
            Change::Upsert(d) => Some(d.clone()),
            _ => None,
        })
        .collect();
    // Paper found by a search is exported like any Paper doc.
    let paper = docs.iter().find(|d| d.id == "id:P").unwrap();
    let content = paper.content.as_ref().unwrap();
    assert!(content.request.url.ends_with("/2/files/export"));
    assert_eq!(content.file_name, "Plan.paper.md");
    // Rules and document-level security together: the owner and the explicit members.
    let a = docs.iter().find(|d| d.id == "id:A").unwrap();
    assert_eq!(
        a.fields["_allow_access_control"],
        json!([
            "email:ann@example.com",
            "group:g:fin",
            format!("user_id:{}", crate::session_tests::ACCOUNT)
        ])
    );
    // The rule's own path wins; a rule without one searches the configured path.
    let searches = fake.args_to("files/search_v2");
    assert_eq!(
        searches,
        [
            json!({"query": "budget", "options": {"path": "/Finance", "max_results": 100}}),
            json!({"query": "roadmap", "options": {"path": "/Docs"}})
        ]
    );
    assert!(fake.sent_to("files/list_folder").is_empty());
    let done = cp(pages.last().unwrap());
    assert_eq!(done.stage, Stage::Done);
    assert!(done.units.is_empty());

    // The next run runs the rules again (searches have no cursor to resume).
    let mut s = Session::start(&fake, cfg, Some(&done.encode())).unwrap();
    let p = s.next_page().unwrap();
    assert_eq!(kinds(&p)[..2], ["begin files", "upsert id:A"]);
}

#[test]
fn check_counts_what_each_rule_selects_and_names_a_bad_path() {
    let fake = Fake::new(searching);
    let summary = check(&&fake, &config(json!({"advanced_rules": RULES}))).unwrap();
    assert!(
        summary.ends_with(
            "advanced rules select rule 1 (\"budget\" in /Finance): 3 item(s), rule 2 (\"roadmap\"): 2 item(s)"
        ),
        "{summary}"
    );
    let bad = r#"[{"query": "roadmap"}, {"query": "x", "options": {"path": "/Nope"}}]"#;
    let err = check(&&fake, &config(json!({"advanced_rules": bad}))).unwrap_err();
    assert_eq!(
        err,
        Error::InvalidConfig(
            "advanced_rules: rule 2 (\"x\" in /Nope): options.path \"/Nope\" does not exist in this Dropbox (409 path/not_found); fix the path or remove it".into()
        )
    );
}

#[test]
fn a_search_dropbox_rejects_names_the_rule() {
    let fake = Fake::new(searching);
    let rules = r#"[{"query": "roadmap"}, {"query": "zzz"}]"#;
    let cfg = config(json!({"advanced_rules": rules, "include_received_files": false}));
    let mut s = Session::start(&fake, cfg, None).unwrap();
    s.next_page().unwrap();
    let err = s.next_page().unwrap_err();
    assert!(
        matches!(&err, Error::InvalidConfig(m) if m.starts_with("advanced_rules: rule 2 (\"zzz\")")),
        "{err}"
    );
}
