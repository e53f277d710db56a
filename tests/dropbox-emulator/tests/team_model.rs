//! The team model: access rules and inheritance, member views with their cursors under
//! random sharing and membership changes, member-list paging, and the audit log cursor.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Emu, Model, apply, spawn, spawn_app};
use dropbox_emulator::team_gen::TeamGenSpec;
use dropbox_emulator::{App, Config};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = dropbox_emulator::content::mix(self.0 ^ 0x51);
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds(default: &[u64]) -> Vec<u64> {
    match std::env::var("SEED") {
        Ok(s) => vec![s.parse().expect("SEED must be a number")],
        Err(_) => default.to_vec(),
    }
}

async fn team_world(spec: &str) -> Emu {
    let mut world = dropbox_emulator::seed::world_from_manifest(None).unwrap();
    let g: TeamGenSpec = spec.parse().unwrap();
    dropbox_emulator::team_gen::generate_team(&mut world, &g).unwrap();
    spawn_app(Arc::new(App::new(Config::default(), world))).await
}

async fn admin_get(emu: &Emu, path: &str) -> Value {
    emu.admin(Method::GET, path, Value::Null).await
}

/// (status, body) of an admin call that may be refused.
async fn admin_try(emu: &Emu, method: Method, path: &str, body: Value) -> (u16, Value) {
    let r = emu
        .http
        .request(method, format!("{}/_admin/{path}", emu.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Members as (team_member_id, email, status), removed ones included.
async fn members(emu: &Emu) -> Vec<(String, String, String)> {
    let mut page = emu
        .ok(
            "team/members/list_v2",
            json!({"limit": 3, "include_removed": true}),
        )
        .await;
    let mut out = Vec::new();
    loop {
        for m in page["members"].as_array().unwrap() {
            let p = &m["profile"];
            out.push((
                p["team_member_id"].as_str().unwrap().to_string(),
                p["email"].as_str().unwrap().to_string(),
                p["status"][".tag"].as_str().unwrap().to_string(),
            ));
        }
        if page["has_more"] != true {
            return out;
        }
        page = emu
            .ok(
                "team/members/list/continue_v2",
                json!({"cursor": page["cursor"]}),
            )
            .await;
    }
}

fn hdrs(mid: &str, root: bool) -> Vec<(&str, &str)> {
    let mut h = vec![("Dropbox-API-Select-User", mid)];
    if root {
        h.push((
            "Dropbox-API-Path-Root",
            r#"{".tag": "root", "root": "3235640"}"#,
        ));
    }
    h
}

async fn call_as(emu: &Emu, mid: &str, root: bool, route: &str, arg: Value) -> Value {
    let (s, v) = emu.rpc_with(route, arg.clone(), &hdrs(mid, root)).await;
    assert_eq!(s, 200, "{route} {arg} as {mid} -> {v}");
    v
}

/// A member's full recursive listing (small pages) and its cursor.
async fn list_as(emu: &Emu, mid: &str, root: bool) -> (Vec<Value>, String) {
    let mut page = call_as(
        emu,
        mid,
        root,
        "files/list_folder",
        json!({"path": "", "recursive": true, "limit": 5}),
    )
    .await;
    let mut entries = page["entries"].as_array().unwrap().clone();
    while page["has_more"] == true {
        page = call_as(
            emu,
            mid,
            root,
            "files/list_folder/continue",
            json!({"cursor": page["cursor"]}),
        )
        .await;
        entries.extend(page["entries"].as_array().unwrap().iter().cloned());
    }
    (entries, page["cursor"].as_str().unwrap().to_string())
}

async fn replay_as(emu: &Emu, mid: &str, root: bool, cursor: &str, model: &mut Model) -> String {
    let mut cursor = cursor.to_string();
    loop {
        let page = call_as(
            emu,
            mid,
            root,
            "files/list_folder/continue",
            json!({"cursor": cursor}),
        )
        .await;
        apply(model, page["entries"].as_array().unwrap());
        cursor = page["cursor"].as_str().unwrap().to_string();
        if page["has_more"] != true {
            return cursor;
        }
    }
}

async fn received_ids(emu: &Emu, mid: &str) -> BTreeSet<String> {
    let mut page = call_as(
        emu,
        mid,
        false,
        "sharing/list_received_files",
        json!({"limit": 2}),
    )
    .await;
    let mut out = BTreeSet::new();
    loop {
        for e in page["entries"].as_array().unwrap() {
            out.insert(e["id"].as_str().unwrap().to_string());
        }
        match page.get("cursor") {
            Some(c) if !c.is_null() => {
                page = call_as(
                    emu,
                    mid,
                    false,
                    "sharing/list_received_files/continue",
                    json!({"cursor": c}),
                )
                .await;
            }
            _ => return out,
        }
    }
}

async fn access_ids(emu: &Emu, member: &str) -> BTreeSet<String> {
    admin_get(emu, &format!("access?member={member}")).await["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn ids_of(entries: &[Value]) -> BTreeSet<String> {
    entries
        .iter()
        .filter_map(|e| e["id"].as_str().map(str::to_string))
        .collect()
}

// ------------------------------------------------------------------------------------------

fn rules_manifest() -> Value {
    json!({"team": {"name": "Acme",
        "members": [{"email": "ann@x.com", "display_name": "Ann", "admin": true},
                    {"email": "bob@x.com", "display_name": "Bob"},
                    {"email": "cat@x.com", "display_name": "Cat"},
                    {"email": "dan@x.com", "display_name": "Dan", "status": "suspended"},
                    {"email": "eve@x.com", "display_name": "Eve", "status": "invited"}],
        "groups": [{"name": "G", "members": ["cat@x.com", "eve@x.com"]}],
        "team_folders": [{"name": "TF", "members": [{"group": "G", "access": "viewer"}]}],
        "shared_folders": [{"path": "/Ann/S", "members": [{"user": "bob@x.com", "access": "viewer"}]},
                           {"path": "/Ann/S/N", "members": [{"group": "G"}]},
                           {"path": "/TF/Open", "members": [{"user": "dan@x.com"}]}],
        "shared_files": [{"path": "/Ann/f.txt", "members": [{"user": "cat@x.com"}, {"email": "o@y.org"}]}]},
     "files": [{"path": "/Ann/f.txt", "content": "f"}, {"path": "/Ann/S/s.txt", "content": "s"},
               {"path": "/Ann/S/N/n.txt", "content": "n"}, {"path": "/TF/t.txt", "content": "t"},
               {"path": "/TF/Open/o.txt", "content": "o"}, {"path": "/top.txt", "content": "root"}]})
}

#[tokio::test]
async fn access_rules_and_inheritance() {
    let emu = spawn(rules_manifest()).await;
    let paths = |v: &Value| -> BTreeSet<String> {
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path_display"].as_str().unwrap().to_string())
            .collect()
    };
    let set = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    // Team-root content is open to every member with access; homes to their owner.
    let ann = admin_get(&emu, "access?member=ann@x.com").await;
    assert_eq!(
        paths(&ann),
        set(&[
            "/Ann",
            "/Ann/f.txt",
            "/Ann/S",
            "/Ann/S/s.txt",
            "/Ann/S/N",
            "/Ann/S/N/n.txt",
            "/top.txt"
        ])
    );
    // Bob: the shared folder and, by inheritance, the nested one.
    let bob = admin_get(&emu, "access?member=bob@x.com").await;
    assert_eq!(
        paths(&bob),
        set(&[
            "/Bob",
            "/Ann/S",
            "/Ann/S/s.txt",
            "/Ann/S/N",
            "/Ann/S/N/n.txt",
            "/top.txt"
        ])
    );
    // Cat: the team folder through G (viewer), the nested folder through G, the file share.
    let cat = admin_get(&emu, "access?member=cat@x.com").await;
    assert_eq!(
        paths(&cat),
        set(&[
            "/Cat",
            "/TF",
            "/TF/t.txt",
            "/TF/Open",
            "/TF/Open/o.txt",
            "/Ann/S/N",
            "/Ann/S/N/n.txt",
            "/Ann/f.txt",
            "/top.txt"
        ])
    );
    let level = |v: &Value, p: &str| {
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["path_display"] == p)
            .map(|e| e["access"].as_str().unwrap().to_string())
    };
    assert_eq!(level(&cat, "/TF/t.txt").as_deref(), Some("viewer"));
    assert_eq!(level(&cat, "/Ann/S/N/n.txt").as_deref(), Some("editor"));
    assert_eq!(level(&bob, "/Ann/S/N/n.txt").as_deref(), Some("viewer"));
    // Suspended members keep their access; invited members have none, groups or not.
    let dan = admin_get(&emu, "access?member=dan@x.com").await;
    assert_eq!(
        paths(&dan),
        set(&["/Dan", "/TF/Open", "/TF/Open/o.txt", "/top.txt"])
    );
    assert!(paths(&admin_get(&emu, "access?member=eve@x.com").await).is_empty());
    // The access list of a file in a nested folder: direct members of neither, both inherited.
    let acl = admin_get(&emu, "acl?target=/Ann/S/N/n.txt").await;
    let members: Vec<(String, String, bool)> = acl["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["email"]
                    .as_str()
                    .or(m["group_name"].as_str())
                    .unwrap()
                    .to_string(),
                m["access"].as_str().unwrap().to_string(),
                m["inherited"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        members,
        vec![
            ("ann@x.com".into(), "owner".into(), true),
            ("bob@x.com".into(), "viewer".into(), true),
            ("G".into(), "editor".into(), true),
        ]
    );
    let acl = admin_get(&emu, "acl?target=/Ann/f.txt").await;
    let kinds: Vec<(&str, bool)> = acl["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["type"].as_str().unwrap(),
                m["inherited"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![("user", false), ("user", false), ("invitee", false)]
    );
    // Every opener but the invitee, who has not accepted.
    assert_eq!(acl["team_member_ids"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn nested_share_mounted_alone_then_through_its_parent() {
    let emu = spawn(rules_manifest()).await;
    let ms = members(&emu).await;
    let cat = ms.iter().find(|m| m.1 == "cat@x.com").unwrap().0.clone();
    let (entries, cursor) = list_as(&emu, &cat, false).await;
    let got: Vec<&str> = entries
        .iter()
        .map(|e| e["path_lower"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        vec!["/n", "/n/n.txt"],
        "a nested share Cat reaches alone sits in her home"
    );
    let mut model = Model::new();
    apply(&mut model, &entries);
    admin_try(
        &emu,
        Method::POST,
        "share",
        json!({"target": "/Ann/S", "members": [{"user": "cat@x.com"}]}),
    )
    .await;
    replay_as(&emu, &cat, false, &cursor, &mut model).await;
    let keys: Vec<&String> = model.keys().collect();
    assert_eq!(
        keys,
        vec!["/s", "/s/n", "/s/n/n.txt", "/s/s.txt"],
        "now through its parent"
    );
    let (fresh, _) = list_as(&emu, &cat, false).await;
    let mut want = Model::new();
    apply(&mut want, &fresh);
    assert_eq!(model, want);
}

// ------------------------------------------------------------------------------------------

/// One random sharing/membership/content change; returns what it did.
async fn random_change(
    emu: &Emu,
    rng: &mut Rng,
    step: usize,
    actives: &[(String, String)],
) -> String {
    let tree = admin_get(emu, "tree?all=true").await;
    let entries = tree["entries"].as_array().unwrap();
    let folders: Vec<&str> = entries
        .iter()
        .filter(|e| e[".tag"] == "folder")
        .map(|e| e["path_display"].as_str().unwrap())
        .collect();
    let files: Vec<&str> = entries
        .iter()
        .filter(|e| e[".tag"] == "file")
        .map(|e| e["path_display"].as_str().unwrap())
        .collect();
    let member = |rng: &mut Rng| actives[rng.below(actives.len())].1.clone();
    let access = |rng: &mut Rng| ["editor", "viewer"][rng.below(2)];
    let groups = admin_get(emu, "namespaces").await;
    let shared: Vec<String> = groups["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["namespace_type"] == "shared_folder" || n["namespace_type"] == "team_folder")
        .map(|n| n["path_display"].as_str().unwrap().to_string())
        .collect();
    let (what, status, body) = match rng.below(9) {
        0 if !shared.is_empty() => {
            // A new member of an existing shared or team folder: only a mount shows it.
            let f = &shared[rng.below(shared.len())];
            let body =
                json!({"target": f, "members": [{"user": member(rng), "access": access(rng)}]});
            let r = admin_try(emu, Method::POST, "share", body.clone()).await;
            (format!("add member {body}"), r.0, r.1)
        }
        0 | 1 => {
            let f = folders[rng.below(folders.len())];
            let body =
                json!({"target": f, "members": [{"user": member(rng), "access": access(rng)}]});
            let r = admin_try(emu, Method::POST, "share", body.clone()).await;
            (format!("share {body}"), r.0, r.1)
        }
        2 if !shared.is_empty() => {
            let f = &shared[rng.below(shared.len())];
            let body = json!({"target": f, "members": [{"user": member(rng)}]});
            let r = admin_try(emu, Method::POST, "unshare", body.clone()).await;
            (format!("unshare member {body}"), r.0, r.1)
        }
        3 if !shared.is_empty() => {
            let f = &shared[rng.below(shared.len())];
            let body = json!({"target": f});
            let r = admin_try(emu, Method::POST, "unshare", body.clone()).await;
            (format!("unshare {body}"), r.0, r.1)
        }
        4 if !files.is_empty() => {
            let f = files[rng.below(files.len())];
            let body =
                json!({"target": f, "members": [{"user": member(rng)}, {"group": "Group 01"}]});
            let r = admin_try(emu, Method::POST, "share", body.clone()).await;
            (format!("share file {body}"), r.0, r.1)
        }
        5 => {
            let key = if rng.below(2) == 0 { "add" } else { "remove" };
            let body = json!({"group": format!("Group 0{}", 1 + rng.below(2)), key: [member(rng)]});
            let r = admin_try(emu, Method::POST, "groups/members", body.clone()).await;
            (format!("group {body}"), r.0, r.1)
        }
        6 => {
            // Content: the owner writes into a random folder of its space.
            let (mid, _) = &actives[rng.below(actives.len())];
            let (entries, _) = list_as(emu, mid, true).await;
            let dirs: Vec<&str> = entries
                .iter()
                .filter(|e| e[".tag"] == "folder")
                .map(|e| e["path_display"].as_str().unwrap())
                .collect();
            let dir = if dirs.is_empty() {
                ""
            } else {
                dirs[rng.below(dirs.len())]
            };
            let path = format!("{dir}/w{step}.txt");
            let arg = common::header_json(&json!({"path": path, "mode": "overwrite"}));
            let r = emu
                .http
                .post(format!("{}/2/files/upload", emu.url))
                .bearer_auth(&emu.token)
                .header("Content-Type", "application/octet-stream")
                .header("Dropbox-API-Arg", arg)
                .header("Dropbox-API-Select-User", mid.as_str())
                .header(
                    "Dropbox-API-Path-Root",
                    r#"{".tag": "root", "root": "3235640"}"#,
                )
                .body(format!("w{step}"))
                .send()
                .await
                .unwrap();
            (
                format!("upload {path} as {mid}"),
                r.status().as_u16(),
                Value::Null,
            )
        }
        7 => {
            let m = member(rng);
            let status = ["suspended", "active"][rng.below(2)];
            let body = json!({"member": m, "status": status});
            let r = admin_try(emu, Method::POST, "members/status", body.clone()).await;
            (format!("status {body}"), r.0, r.1)
        }
        _ => {
            // Delete or move a random folder inside a home (may carry shared folders along).
            let (mid, _) = &actives[rng.below(actives.len())];
            let (entries, _) = list_as(emu, mid, false).await;
            let dirs: Vec<&str> = entries
                .iter()
                .filter(|e| e[".tag"] == "folder" && e.get("shared_folder_id").is_none())
                .map(|e| e["path_display"].as_str().unwrap())
                .collect();
            if dirs.is_empty() {
                return "nothing to move".into();
            }
            let d = dirs[rng.below(dirs.len())];
            let (route, arg) = if rng.below(2) == 0 {
                ("files/delete_v2", json!({"path": d}))
            } else {
                (
                    "files/move_v2",
                    json!({"from_path": d, "to_path": format!("/moved{step}")}),
                )
            };
            let (s, v) = emu.rpc_with(route, arg.clone(), &hdrs(mid, false)).await;
            (format!("{route} {arg} as {mid}"), s, v)
        }
    };
    // Refusals (sharing a home, moving into a mount…) are fine; errors must be explained.
    assert!(status == 200 || status == 409, "{what} -> {status} {body}");
    format!(
        "{what} -> {status} {}",
        if status == 200 {
            String::new()
        } else {
            body.to_string()
        }
    )
}

async fn run_model(seed: u64, steps: usize) {
    let emu = team_world(&format!(
        "members=5,files=6,groups=2,team_folders=2,shares=3,file_shares=3,wide=4,invitees=1,depth=1,fanout=2,seed={seed}"
    ))
    .await;
    let ms = members(&emu).await;
    let actives: Vec<(String, String)> = ms.iter().map(|m| (m.0.clone(), m.1.clone())).collect();
    // Per member and view (home, root): the model from the first cursor, and a rolling one.
    let mut states: BTreeMap<(String, bool), (Model, String, Model, String)> = BTreeMap::new();
    for (mid, _) in &actives {
        for root in [false, true] {
            let (entries, cursor) = list_as(&emu, mid, root).await;
            let mut m = Model::new();
            apply(&mut m, &entries);
            states.insert((mid.clone(), root), (m.clone(), cursor.clone(), m, cursor));
        }
    }
    let mut log = Vec::new();
    for step in 0..steps {
        log.push(random_change(&emu, &mut Rng(seed ^ (step as u64 * 7919)), step, &actives).await);
        for (mid, email) in &actives {
            for root in [false, true] {
                let (entries, _) = list_as(&emu, mid, root).await;
                let mut truth = Model::new();
                apply(&mut truth, &entries);
                let st = states.get_mut(&(mid.clone(), root)).unwrap();
                let mut from_start = st.0.clone();
                replay_as(&emu, mid, root, &st.1, &mut from_start).await;
                assert_eq!(
                    from_start, truth,
                    "SEED={seed} step {step} {email} root={root} (from start); ops: {log:#?}"
                );
                st.3 = replay_as(&emu, mid, root, &st.3, &mut st.2).await;
                assert_eq!(
                    st.2, truth,
                    "SEED={seed} step {step} {email} root={root} (rolling); ops: {log:#?}"
                );
                if root {
                    let seen: BTreeSet<String> = ids_of(&entries)
                        .union(&received_ids(&emu, mid).await)
                        .cloned()
                        .collect();
                    assert_eq!(
                        seen,
                        access_ids(&emu, email).await,
                        "SEED={seed} step {step} {email}: listing ∪ received ≠ access truth; ops: {log:#?}"
                    );
                }
            }
        }
        // Member lists (inherited included, groups expanded) name exactly who can open each file.
        let acl = admin_get(&emu, "acl?all=true").await;
        for item in acl["items"].as_array().unwrap() {
            let mut expanded: BTreeSet<String> = BTreeSet::new();
            for m in item["members"].as_array().unwrap() {
                match m["type"].as_str().unwrap() {
                    "user" => {
                        let mid = m["team_member_id"].as_str().unwrap();
                        let active = ms
                            .iter()
                            .any(|x| x.0 == mid && (x.2 == "active" || x.2 == "suspended"));
                        if active {
                            expanded.insert(mid.to_string());
                        }
                    }
                    "group" => {
                        let sel = json!({".tag": "group_id", "group_id": m["group_id"]});
                        let g = emu
                            .ok("team/groups/members/list", json!({"group": sel}))
                            .await;
                        for x in g["members"].as_array().unwrap() {
                            expanded
                                .insert(x["profile"]["team_member_id"].as_str().unwrap().into());
                        }
                    }
                    _ => {}
                }
            }
            let openers: BTreeSet<String> = item["team_member_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            assert_eq!(
                expanded, openers,
                "SEED={seed} step {step} {}: acl ≠ openers; ops: {log:#?}",
                item["path_display"]
            );
        }
    }
    if std::env::var("VERBOSE").is_ok() {
        eprintln!("SEED={seed} ops: {log:#?}");
    }
}

#[tokio::test]
async fn member_cursors_and_access_follow_random_sharing_changes() {
    for seed in seeds(&[11, 12, 13]) {
        eprintln!("team model SEED={seed}");
        run_model(seed, 25).await;
    }
}

// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn member_listings_page_like_one_big_page() {
    for seed in seeds(&[5]) {
        let emu = team_world(&format!(
            "members=30,files=3,groups=4,shares=6,file_shares=4,wide=27,seed={seed}"
        ))
        .await;
        let mut rng = Rng(seed);
        let admin = emu
            .ok("team/token/get_authenticated_admin", Value::Null)
            .await["admin_profile"]["team_member_id"]
            .as_str()
            .unwrap()
            .to_string();
        let h = hdrs(&admin, true);
        // The widest file: every page size gives the same members in the same order.
        let acl = admin_get(&emu, "acl?all=true").await;
        let wide = acl["items"]
            .as_array()
            .unwrap()
            .iter()
            .max_by_key(|i| i["members"].as_array().unwrap().len())
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let all = |v: &Value| -> Vec<String> {
            ["users", "groups", "invitees"]
                .iter()
                .flat_map(|k| v[*k].as_array().unwrap().iter().map(|x| x.to_string()))
                .collect()
        };
        let big = emu
            .rpc_with(
                "sharing/list_file_members",
                json!({"file": wide, "limit": 300}),
                &h,
            )
            .await
            .1;
        assert!(big.get("cursor").is_none());
        let want = all(&big);
        assert!(
            want.len() > 20,
            "SEED={seed}: the wide share has {} members",
            want.len()
        );
        for _ in 0..3 {
            let limit = 1 + rng.below(9);
            let mut page = emu
                .rpc_with(
                    "sharing/list_file_members",
                    json!({"file": wide, "limit": limit}),
                    &h,
                )
                .await
                .1;
            let mut got = all(&page);
            while let Some(c) = page.get("cursor").filter(|c| !c.is_null()).cloned() {
                page = emu
                    .rpc_with(
                        "sharing/list_file_members/continue",
                        json!({"cursor": c}),
                        &h,
                    )
                    .await
                    .1;
                got.extend(all(&page));
            }
            assert_eq!(got, want, "SEED={seed} limit={limit}");
            // The batch: member_count is the whole, the page stops at `limit`.
            let b = emu
                .rpc_with(
                    "sharing/list_file_members/batch",
                    json!({"files": [wide], "limit": limit}),
                    &h,
                )
                .await
                .1;
            let r = &b[0]["result"];
            assert_eq!(r["member_count"].as_u64().unwrap() as usize, want.len());
            assert_eq!(all(&r["members"]).len(), limit.min(want.len()));
        }
        // Team listings.
        for (route, cont, key, n) in [
            (
                "team/members/list_v2",
                "team/members/list/continue_v2",
                "members",
                30,
            ),
            ("team/groups/list", "team/groups/list/continue", "groups", 5),
            (
                "team/namespaces/list",
                "team/namespaces/list/continue",
                "namespaces",
                0,
            ),
        ] {
            let big = emu.ok(route, json!({"limit": 1000})).await;
            let want = big[key].as_array().unwrap().clone();
            if n > 0 {
                assert_eq!(want.len(), n, "{route}");
            }
            let limit = 1 + rng.below(6);
            let mut page = emu.ok(route, json!({"limit": limit})).await;
            let mut got = page[key].as_array().unwrap().clone();
            while page["has_more"] == true {
                page = emu.ok(cont, json!({"cursor": page["cursor"]})).await;
                got.extend(page[key].as_array().unwrap().iter().cloned());
            }
            assert_eq!(got, want, "SEED={seed} {route} limit={limit}");
        }
    }
}

#[tokio::test]
async fn audit_log_cursor_reads_each_event_once() {
    let emu = spawn(rules_manifest()).await;
    let all = emu.ok("team_log/get_events", json!({})).await;
    let total = all["events"].as_array().unwrap().len();
    assert!(total > 10 && all["has_more"] == false);
    // Categories partition the log.
    let mut by_cat = 0;
    for c in ["sharing", "groups", "members", "team_folders"] {
        let v = emu
            .ok("team_log/get_events", json!({"category": {".tag": c}}))
            .await;
        for e in v["events"].as_array().unwrap() {
            assert_eq!(e["event_category"][".tag"], c);
        }
        by_cat += v["events"].as_array().unwrap().len();
    }
    assert_eq!(by_cat, total);
    // Small pages, then new events after the end, each seen once.
    let mut page = emu.ok("team_log/get_events", json!({"limit": 3})).await;
    let mut seen = page["events"].as_array().unwrap().len();
    while page["has_more"] == true {
        page = emu
            .ok(
                "team_log/get_events/continue",
                json!({"cursor": page["cursor"]}),
            )
            .await;
        seen += page["events"].as_array().unwrap().len();
    }
    assert_eq!(seen, total);
    let cursor = page["cursor"].clone();
    let idle = emu
        .ok("team_log/get_events/continue", json!({"cursor": cursor}))
        .await;
    assert!(idle["events"].as_array().unwrap().is_empty() && idle["has_more"] == false);
    admin_try(
        &emu,
        Method::POST,
        "share",
        json!({"target": "/Ann/f.txt", "members": [{"user": "bob@x.com"}]}),
    )
    .await;
    let next = emu
        .ok("team_log/get_events/continue", json!({"cursor": cursor}))
        .await;
    let types: Vec<&str> = next["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"][".tag"].as_str().unwrap())
        .collect();
    assert_eq!(types, vec!["shared_content_add_member"]);
    assert_eq!(
        next["events"][0]["assets"][0]["path"]["contextual"],
        "/Ann/f.txt"
    );
    let (s, v) = emu
        .rpc("team_log/get_events/continue", json!({"cursor": "nope"}))
        .await;
    assert_eq!((s, v["error"][".tag"].as_str()), (409, Some("bad_cursor")));
}

#[tokio::test]
async fn admin_root_cursor_sees_a_team_folder_it_joins() {
    let emu = spawn(rules_manifest()).await;
    let ms = members(&emu).await;
    let ann = ms.iter().find(|m| m.1 == "ann@x.com").unwrap().0.clone();
    let h = [
        ("Dropbox-API-Select-Admin", ann.as_str()),
        (
            "Dropbox-API-Path-Root",
            r#"{".tag": "root", "root": "3235640"}"#,
        ),
    ];
    let (s, page) = emu
        .rpc_with(
            "files/list_folder",
            json!({"path": "", "recursive": true}),
            &h,
        )
        .await;
    assert_eq!(s, 200, "{page}");
    let mut model = Model::new();
    apply(&mut model, page["entries"].as_array().unwrap());
    assert!(!model.contains_key("/tf"), "Ann is not in TF yet");
    let (s, _) = admin_try(
        &emu,
        Method::POST,
        "groups/members",
        json!({"group": "G", "add": ["ann@x.com"]}),
    )
    .await;
    assert_eq!(s, 200);
    let (_, next) = emu
        .rpc_with(
            "files/list_folder/continue",
            json!({"cursor": page["cursor"]}),
            &h,
        )
        .await;
    apply(&mut model, next["entries"].as_array().unwrap());
    for p in ["/tf", "/tf/t.txt", "/tf/open", "/tf/open/o.txt"] {
        assert!(model.contains_key(p), "{p} missing after joining: {next}");
    }
}
