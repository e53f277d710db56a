//! Wire-level behaviour: envelopes, auth lifecycle, faults, downloads, Paper, team mode.
#![allow(clippy::unwrap_used)]

mod common;

use common::{header_json, spawn};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn basic() -> Value {
    json!({"folders": ["/Empty"],
           "files": [{"path": "/Docs/a.txt", "content": "hello"}, {"path": "/big.bin", "size": 5_000_000}],
           "paper": [{"path": "/Plan.paper", "markdown": "# Plan\n\nShip it"}],
           "received_files": [{"name": "Budget.txt", "content": "money", "owner": "Bob Smith"}]})
}

#[tokio::test]
async fn error_envelopes_match_dropbox_wording() {
    let emu = spawn(basic()).await;
    let (s, v) = emu
        .rpc("files/list_folder", json!({"path": "", "x": 1}))
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        v,
        json!(
            "Error in call to API function \"files/list_folder\": request body: unknown field 'x'"
        )
    );
    let (s, v) = emu.rpc("files/list_folder", json!({"path": "/"})).await;
    assert_eq!(s, 400);
    assert!(
        v.as_str()
            .unwrap()
            .contains("Specify the root folder as an empty string rather than as \"/\"."),
        "{v}"
    );
    let (s, v) = emu.rpc("files/get_metadata", json!({"path": ""})).await;
    assert_eq!(s, 400);
    assert!(
        v.as_str()
            .unwrap()
            .contains("The root folder is unsupported.")
    );
    let (s, v) = emu
        .rpc("files/get_metadata", json!({"path": "/nope"}))
        .await;
    assert_eq!(s, 409);
    assert!(
        v["error_summary"]
            .as_str()
            .unwrap()
            .starts_with("path/not_found/"),
        "{v}"
    );
    assert_eq!(
        v["error"],
        json!({".tag": "path", "path": {".tag": "not_found"}})
    );
    let (s, v) = emu
        .rpc("files/list_folder", json!({"path": "/Docs/a.txt"}))
        .await;
    assert_eq!(
        (s, v["error"]["path"][".tag"].as_str()),
        (409, Some("not_folder"))
    );
    // Wrong content type, malformed JSON, missing and bad tokens.
    let r = emu
        .http
        .post(format!("{}/2/files/list_folder", emu.url))
        .bearer_auth(&emu.token)
        .header("Content-Type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Bad HTTP \"Content-Type\" header")
    );
    let r = emu
        .http
        .post(format!("{}/2/files/list_folder", emu.url))
        .bearer_auth(&emu.token)
        .header("Content-Type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = emu
        .http
        .post(format!("{}/2/users/get_current_account", emu.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Must provide HTTP header \"Authorization\"")
    );
    let r = emu
        .http
        .post(format!("{}/2/users/get_current_account", emu.url))
        .header("Authorization", "Bearer bad token!")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = emu
        .http
        .post(format!("{}/2/users/get_current_account", emu.url))
        .bearer_auth("sl.u.unknown-token-value")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"][".tag"], "invalid_access_token");
    // Raw non-ASCII in Dropbox-API-Arg is rejected.
    let r = emu
        .http
        .post(format!("{}/2/files/download", emu.url))
        .bearer_auth(&emu.token)
        .header(
            "Dropbox-API-Arg",
            reqwest::header::HeaderValue::from_bytes("{\"path\":\"/é\"}".as_bytes()).unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn oauth_refresh_expiry_and_bad_credentials() {
    let emu = spawn(basic()).await;
    let acct = emu.ok("users/get_current_account", Value::Null).await;
    assert_eq!(acct["account_id"].as_str().unwrap().len(), 40);
    assert_eq!(acct["root_info"][".tag"], "user");
    emu.admin(Method::POST, "tokens/expire", json!({})).await;
    let (s, v) = emu.rpc("users/get_current_account", Value::Null).await;
    assert_eq!(
        (s, v["error"][".tag"].as_str()),
        (401, Some("expired_access_token"))
    );
    let fresh = emu.refresh().await;
    let r = emu
        .http
        .post(format!("{}/2/users/get_current_account", emu.url))
        .bearer_auth(&fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bad = |form: Vec<(&'static str, &'static str)>| {
        let http = emu.http.clone();
        let url = format!("{}/oauth2/token", emu.url);
        async move {
            let r = http.post(url).form(&form).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (s, v) = bad(vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", "nope"),
        ("client_id", "emulator-app-key"),
        ("client_secret", "emulator-app-secret"),
    ])
    .await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(
        v["error_description"],
        "refresh token is invalid or revoked"
    );
    let (s, v) = bad(vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", "emulator-refresh-token"),
        ("client_id", "emulator-app-key"),
        ("client_secret", "wrong"),
    ])
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (
            400,
            Some("invalid_client: Invalid client_id or client_secret")
        )
    );
    // Short lifetimes expire on their own.
    emu.admin(Method::POST, "tokens/lifetime", json!({"secs": 0}))
        .await;
    let t = emu.refresh().await;
    let r = emu
        .http
        .post(format!("{}/2/users/get_current_account", emu.url))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn authorization_code_flow_with_pkce() {
    use base64::Engine;
    use sha2::Digest;
    let emu = spawn(basic()).await;
    let verifier = "a".repeat(64);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let page = emu.http.get(format!(
        "{}/oauth2/authorize?client_id=emulator-app-key&response_type=code&token_access_type=offline&code_challenge={challenge}&code_challenge_method=S256",
        emu.url)).send().await.unwrap().text().await.unwrap();
    let code = page
        .split("<code id=\"auth-code\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    let r = emu
        .http
        .post(format!("{}/oauth2/token", emu.url))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", "emulator-app-key"),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    for k in [
        "access_token",
        "refresh_token",
        "uid",
        "account_id",
        "scope",
        "expires_in",
    ] {
        assert!(v.get(k).is_some(), "missing {k}: {v}");
    }
}

#[tokio::test]
async fn cursor_reset_and_longpoll() {
    let emu = spawn(basic()).await;
    let c = emu
        .ok(
            "files/list_folder/get_latest_cursor",
            json!({"path": "", "recursive": true}),
        )
        .await;
    let cursor = c["cursor"].as_str().unwrap().to_string();
    // Longpoll wakes promptly on a write.
    let http = emu.http.clone();
    let url = format!("{}/2/files/list_folder/longpoll", emu.url);
    let cur2 = cursor.clone();
    let started = Instant::now();
    let poll = tokio::spawn(async move {
        http.post(url)
            .header("Content-Type", "application/json")
            .body(json!({"cursor": cur2, "timeout": 30}).to_string())
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    });
    // Not a race fix: the assertions hold whether the upload lands before or after the poll
    // is parked; the pause only makes the wake-up path (the interesting one) the likely one.
    tokio::time::sleep(Duration::from_millis(200)).await;
    emu.upload("/new.txt", b"new").await;
    let v = poll.await.unwrap();
    assert_eq!(v, json!({"changes": true}));
    assert!(started.elapsed() < Duration::from_secs(5));
    let page = emu
        .ok("files/list_folder/continue", json!({"cursor": cursor}))
        .await;
    assert_eq!(page["entries"][0]["path_lower"], "/new.txt");
    // Bad timeout.
    let r = emu
        .http
        .post(format!("{}/2/files/list_folder/longpoll", emu.url))
        .header("Content-Type", "application/json")
        .body(json!({"cursor": cursor, "timeout": 5}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Reset invalidates.
    emu.admin(Method::POST, "cursors/reset", json!({})).await;
    let (s, v) = emu
        .rpc("files/list_folder/continue", json!({"cursor": cursor}))
        .await;
    assert_eq!((s, v["error"][".tag"].as_str()), (409, Some("reset")));
    assert!(v["error_summary"].as_str().unwrap().starts_with("reset/"));
    // Folder gone → path/not_found.
    let c = emu.ok("files/list_folder", json!({"path": "/Docs"})).await;
    emu.ok("files/delete_v2", json!({"path": "/Docs"})).await;
    let (s, v) = emu
        .rpc("files/list_folder/continue", json!({"cursor": c["cursor"]}))
        .await;
    assert_eq!(
        (s, v["error"]["path"][".tag"].as_str()),
        (409, Some("not_found"))
    );
}

#[tokio::test]
async fn rate_limit_rule_with_count_is_a_burst() {
    let emu = spawn(basic()).await;
    emu.admin(Method::POST, "faults", json!({"seed": 7, "rules": [
        {"kind": "rate_limit", "route_prefix": "files/", "fraction": 1.0, "count": 2, "retry_after_secs": 3}]})).await;
    for _ in 0..2 {
        let r = emu
            .http
            .post(format!("{}/2/files/list_folder", emu.url))
            .bearer_auth(&emu.token)
            .header("Content-Type", "application/json")
            .body(r#"{"path": ""}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "3");
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v["error"],
            json!({"reason": {".tag": "too_many_requests"}, "retry_after": 3})
        );
    }
    emu.ok("files/list_folder", json!({"path": ""})).await;
    let stats = emu.admin(Method::GET, "stats", json!(null)).await;
    assert_eq!(stats["routes"]["files/list_folder"]["statuses"]["429"], 2);
    // Dropped connections.
    emu.admin(
        Method::POST,
        "faults",
        json!({"rules": [{"kind": "drop", "count": 1}]}),
    )
    .await;
    let r = emu
        .http
        .post(format!("{}/2/users/get_current_account", emu.url))
        .bearer_auth(&emu.token)
        .send()
        .await;
    assert!(r.is_err(), "expected a dropped connection");
    emu.admin(Method::DELETE, "faults", json!(null)).await;
    emu.ok("users/get_current_account", Value::Null).await;
}

#[tokio::test]
async fn header_escaping_round_trips_names() {
    let emu = spawn(json!({})).await;
    for name in [
        "quote \"q\".txt",
        "back\\slash.txt",
        "emoji 😀🎉.txt",
        "日本語のファイル.txt",
        "ملف عربي.txt",
        "Ünïcödé.md",
    ] {
        let path = format!("/{name}");
        emu.upload(&path, name.as_bytes()).await;
        let r = emu
            .http
            .post(format!("{}/2/files/download", emu.url))
            .bearer_auth(&emu.token)
            .header("Dropbox-API-Arg", header_json(&json!({"path": path})))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
        let raw = r.headers()["dropbox-api-result"].as_bytes().to_vec();
        assert!(raw.iter().all(|b| *b < 0x7f), "non-ASCII header for {name}");
        let meta: Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(meta["name"], name);
        assert!(meta.get(".tag").is_none());
        assert_eq!(r.bytes().await.unwrap().as_ref(), name.as_bytes());
    }
}

#[tokio::test]
async fn download_ranges_paper_and_hashes() {
    let emu = spawn(basic()).await;
    let dl = |arg: Value, range: Option<&'static str>| {
        let mut r = emu
            .http
            .post(format!("{}/2/files/download", emu.url))
            .bearer_auth(&emu.token)
            .header("Dropbox-API-Arg", header_json(&arg));
        if let Some(range) = range {
            r = r.header("Range", range);
        }
        r.send()
    };
    let r = dl(json!({"path": "/big.bin"}), Some("bytes=100-199"))
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 100-199/5000000");
    let meta: Value = serde_json::from_slice(r.headers()["dropbox-api-result"].as_bytes()).unwrap();
    assert_eq!(meta["size"], 5_000_000);
    let part = r.bytes().await.unwrap();
    let full = dl(json!({"path": meta["id"]}), None)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(full.len(), 5_000_000);
    assert_eq!(&full[100..200], part.as_ref());
    assert_eq!(
        meta["content_hash"],
        dropbox_emulator::content_hash::content_hash(&full)
    );
    let r = dl(json!({"path": "/big.bin"}), Some("bytes=-10"))
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-range"],
        "bytes 4999990-4999999/5000000"
    );
    // Paper: not downloadable, exportable.
    let r = dl(json!({"path": "/Plan.paper"}), None).await.unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"][".tag"],
        "unsupported_file"
    );
    let r = emu
        .http
        .post(format!("{}/2/files/export", emu.url))
        .bearer_auth(&emu.token)
        .header(
            "Dropbox-API-Arg",
            r#"{"path": "/Plan.paper", "export_format": "markdown"}"#,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let res: Value = serde_json::from_slice(r.headers()["dropbox-api-result"].as_bytes()).unwrap();
    assert_eq!(res["export_metadata"]["name"], "Plan.md");
    assert_eq!(r.text().await.unwrap(), "# Plan\n\nShip it");
    let r = emu
        .http
        .post(format!("{}/2/files/export", emu.url))
        .bearer_auth(&emu.token)
        .header("Dropbox-API-Arg", r#"{"path": "/Docs/a.txt"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"][".tag"],
        "non_exportable"
    );
    // Admin edit of a Paper doc shows up as a change with a new rev.
    let c = emu
        .ok("files/list_folder/get_latest_cursor", json!({"path": ""}))
        .await;
    emu.admin(
        Method::POST,
        "paper",
        json!({"path": "/Plan.paper", "markdown": "# Plan v2"}),
    )
    .await;
    let page = emu
        .ok("files/list_folder/continue", json!({"cursor": c["cursor"]}))
        .await;
    assert_eq!(page["entries"][0]["name"], "Plan.paper");
    assert_eq!(page["entries"][0]["is_downloadable"], false);
}

#[tokio::test]
async fn sharing_received_files_and_links() {
    let emu = spawn(basic()).await;
    let v = emu
        .ok("sharing/list_received_files", json!({"limit": 1}))
        .await;
    assert_eq!(v["entries"].as_array().unwrap().len(), 1);
    assert!(v.get("cursor").is_none() && v.get("has_more").is_none());
    let url = v["entries"][0]["preview_url"].as_str().unwrap().to_string();
    let meta = emu
        .ok("sharing/get_shared_link_metadata", json!({"url": url}))
        .await;
    assert_eq!(meta[".tag"], "file");
    let r = emu
        .http
        .post(format!("{}/2/sharing/get_shared_link_file", emu.url))
        .bearer_auth(&emu.token)
        .header("Dropbox-API-Arg", header_json(&json!({"url": url})))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "money");
    let (s, v) = emu
        .rpc(
            "sharing/get_shared_link_metadata",
            json!({"url": "https://www.dropbox.com/scl/fi/nope/x"}),
        )
        .await;
    assert_eq!(
        (s, v["error"][".tag"].as_str()),
        (409, Some("shared_link_not_found"))
    );
    let added = emu
        .admin(
            Method::POST,
            "received",
            json!({"name": "x.txt", "content": "x", "owner": "Eve"}),
        )
        .await;
    let v = emu
        .ok("sharing/list_received_files", json!({"limit": 1}))
        .await;
    let v2 = emu
        .ok(
            "sharing/list_received_files/continue",
            json!({"cursor": v["cursor"]}),
        )
        .await;
    assert_eq!(v2["entries"][0]["id"], added["id"]);
    let members = emu
        .ok("sharing/list_file_members", json!({"file": "/Docs/a.txt"}))
        .await;
    assert_eq!(members["users"][0]["access_type"][".tag"], "owner");
    let batch = emu
        .ok(
            "sharing/list_file_members/batch",
            json!({"files": ["/Docs/a.txt", "id:nope"]}),
        )
        .await;
    assert_eq!(batch[1]["result"][".tag"], "access_error");
}

fn team_manifest() -> Value {
    json!({"team": {"name": "Acme",
        "members": [{"email": "ann@example.com", "display_name": "Ann Lee", "admin": true},
                    {"email": "bob@example.com", "display_name": "Bob Ray"}],
        "team_folders": [{"name": "Engineering"}]},
        "files": [{"path": "/Engineering/spec.md", "content": "# Spec"},
                  {"path": "/Ann Lee/notes.txt", "content": "ann"},
                  {"path": "/Bob Ray/secret.txt", "content": "bob"}]})
}

#[tokio::test]
async fn team_mode_select_user_and_path_root() {
    let emu = spawn(team_manifest()).await;
    let (s, v) = emu.rpc("users/get_current_account", Value::Null).await;
    assert_eq!(s, 400);
    assert!(v.as_str().unwrap().contains("Dropbox-API-Select-User"));
    let admin = emu
        .ok("team/token/get_authenticated_admin", Value::Null)
        .await;
    let mid = admin["admin_profile"]["team_member_id"]
        .as_str()
        .unwrap()
        .to_string();
    let acct = emu
        .rpc_with(
            "users/get_current_account",
            Value::Null,
            &[("Dropbox-API-Select-User", &mid)],
        )
        .await
        .1;
    let root = acct["root_info"].clone();
    assert_eq!(root[".tag"], "team");
    assert_ne!(root["root_namespace_id"], root["home_namespace_id"]);
    assert_eq!(root["home_path"], "/Ann Lee");
    // Home view.
    let home = emu
        .rpc_with(
            "files/list_folder",
            json!({"path": "", "recursive": true}),
            &[("Dropbox-API-Select-User", &mid)],
        )
        .await
        .1;
    let names: Vec<&str> = home["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path_lower"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["/notes.txt"]);
    // Team root view: team folders and own home, not Bob's home.
    let pr = json!({".tag": "root", "root": root["root_namespace_id"]}).to_string();
    let v = emu
        .rpc_with(
            "files/list_folder",
            json!({"path": "", "recursive": true}),
            &[
                ("Dropbox-API-Select-User", &mid),
                ("Dropbox-API-Path-Root", &pr),
            ],
        )
        .await
        .1;
    let paths: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path_lower"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        vec![
            "/ann lee",
            "/ann lee/notes.txt",
            "/engineering",
            "/engineering/spec.md"
        ]
    );
    let spec = &v["entries"][3];
    assert!(spec["sharing_info"]["parent_shared_folder_id"].is_string());
    let bad = json!({".tag": "root", "root": "999"}).to_string();
    let (s, v) = emu
        .rpc_with(
            "files/list_folder",
            json!({"path": ""}),
            &[
                ("Dropbox-API-Select-User", &mid),
                ("Dropbox-API-Path-Root", &bad),
            ],
        )
        .await;
    assert_eq!(
        (s, v["error"][".tag"].as_str()),
        (422, Some("invalid_root"))
    );
    let bad = json!({".tag": "namespace_id", "namespace_id": "999"}).to_string();
    let (s, v) = emu
        .rpc_with(
            "files/list_folder",
            json!({"path": ""}),
            &[
                ("Dropbox-API-Select-User", &mid),
                ("Dropbox-API-Path-Root", &bad),
            ],
        )
        .await;
    assert_eq!(
        (s, v["error"][".tag"].as_str()),
        (422, Some("no_permission"))
    );
    // Team listings.
    let m = emu.ok("team/members/list_v2", json!({"limit": 1})).await;
    assert_eq!(m["has_more"], true);
    let m2 = emu
        .ok(
            "team/members/list/continue_v2",
            json!({"cursor": m["cursor"]}),
        )
        .await;
    assert_eq!(m2["members"][0]["profile"]["email"], "bob@example.com");
    let tf = emu.ok("team/team_folder/list", json!({})).await;
    let ns = tf["team_folders"][0]["team_folder_id"]
        .as_str()
        .unwrap()
        .to_string();
    let pr = json!({".tag": "namespace_id", "namespace_id": ns}).to_string();
    let v = emu
        .rpc_with(
            "files/list_folder",
            json!({"path": ""}),
            &[
                ("Dropbox-API-Select-User", &mid),
                ("Dropbox-API-Path-Root", &pr),
            ],
        )
        .await
        .1;
    assert_eq!(v["entries"][0]["path_lower"], "/spec.md");
    let fm = emu
        .rpc_with(
            "sharing/list_folder_members",
            json!({"shared_folder_id": ns}),
            &[("Dropbox-API-Select-User", &mid)],
        )
        .await
        .1;
    // A team folder is shared with groups: by default "Everyone at <team>" as editors.
    assert_eq!(fm["users"].as_array().unwrap().len(), 0, "{fm}");
    assert_eq!(fm["groups"][0]["group"]["group_name"], "Everyone at Acme");
    assert_eq!(fm["groups"][0]["group"]["member_count"], 2);
    assert_eq!(fm["groups"][0]["access_type"][".tag"], "editor");
    let (s, _) = emu
        .rpc_with(
            "users/get_current_account",
            Value::Null,
            &[("Dropbox-API-Select-User", "dbmid:nobody")],
        )
        .await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn search_finds_by_filename_and_paginates() {
    let files: Vec<Value> = (0..25)
        .map(|i| json!({"path": format!("/r/report-{i}.txt"), "content": "x"}))
        .collect();
    let emu = spawn(json!({"files": files})).await;
    let v = emu
        .ok(
            "files/search_v2",
            json!({"query": "report", "options": {"max_results": 10}}),
        )
        .await;
    assert_eq!(v["matches"].as_array().unwrap().len(), 10);
    assert_eq!(v["matches"][0]["metadata"][".tag"], "metadata");
    let mut total = 10;
    let mut cur = v;
    while cur["has_more"] == true {
        cur = emu
            .ok("files/search/continue_v2", json!({"cursor": cur["cursor"]}))
            .await;
        total += cur["matches"].as_array().unwrap().len();
    }
    assert_eq!(total, 25);
}

#[tokio::test]
async fn generated_tree_lists_completely_with_valid_shapes() {
    let mut world = dropbox_emulator::seed::world_from_manifest(None).unwrap();
    let g: dropbox_emulator::seed::GenSpec =
        "files=2000,depth=3,fanout=5,seed=7,max_size=100000,paper=0.05"
            .parse()
            .unwrap();
    dropbox_emulator::seed::generate(&mut world, &g).unwrap();
    let folders = world
        .tree
        .values()
        .filter(|n| n.kind == dropbox_emulator::state::Kind::Folder)
        .count();
    let emu = common::spawn_app(std::sync::Arc::new(dropbox_emulator::App::new(
        Default::default(),
        world,
    )))
    .await;
    let (entries, _) = emu.list_all("", Some(500)).await;
    assert_eq!(entries.len(), 2000 + folders);
    let mut seen = std::collections::HashSet::new();
    for e in &entries {
        let p = e["path_lower"].as_str().unwrap();
        let parent = p.rsplit_once('/').unwrap().0;
        assert!(
            parent.is_empty() || seen.contains(parent),
            "parent after child: {p}"
        );
        seen.insert(p.to_string());
        if e[".tag"] == "file" {
            assert_eq!(e["content_hash"].as_str().unwrap().len(), 64);
            assert!(e["rev"].as_str().unwrap().len() >= 9);
            assert!(e["server_modified"].as_str().unwrap().ends_with('Z'));
        }
    }
    let tree = emu.admin(Method::GET, "tree", json!(null)).await;
    assert_eq!(tree["entries"].as_array().unwrap().len(), entries.len());
}

/// Raw `files/upload` in `add` mode: (status, JSON body).
async fn upload_add(emu: &common::Emu, path: &str, content: &[u8]) -> (u16, Value) {
    let r = emu
        .http
        .post(format!("{}/2/files/upload", emu.url))
        .bearer_auth(&emu.token)
        .header("Content-Type", "application/octet-stream")
        .header(
            "Dropbox-API-Arg",
            header_json(&json!({"path": path, "mode": "add", "autorename": false})),
        )
        .body(content.to_vec())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn upload_errors_inline_upload_write_failed() {
    // F1: UploadError.path is the plain struct UploadWriteFailed, so its fields sit next to
    // `.tag` (§0.4), and error_summary chains through `reason`.
    let emu = spawn(basic()).await;
    let (s, v) = upload_add(&emu, "/Docs/a.txt", b"different").await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(
        v["error"],
        json!({".tag": "path", "reason": {".tag": "conflict", "conflict": {".tag": "file"}},
               "upload_session_id": ""})
    );
    let summary = v["error_summary"].as_str().unwrap();
    assert!(summary.starts_with("path/conflict/file/."), "{summary}");
    let (s, v) = upload_add(&emu, "/Empty", b"x").await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(
        v["error"],
        json!({".tag": "path", "reason": {".tag": "conflict", "conflict": {".tag": "folder"}},
               "upload_session_id": ""})
    );
    // A file in the way of a parent folder comes from the shared write helpers; same shape.
    let (s, v) = upload_add(&emu, "/Docs/a.txt/b.txt", b"x").await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["error"][".tag"], "path");
    assert_eq!(v["error"]["reason"][".tag"], "conflict");
    assert_eq!(v["error"]["upload_session_id"], "");
    assert!(v["error"].get("path").is_none(), "{v}");
    // Identical content in add mode is not a conflict.
    let (s, _) = upload_add(&emu, "/Docs/a.txt", b"hello").await;
    assert_eq!(s, 200);
    // SearchError.invalid_argument is a nullable String: nested under the tag, not a union.
    let (s, v) = emu
        .rpc("files/search/continue_v2", json!({"cursor": "garbage"}))
        .await;
    assert_eq!(s, 409);
    assert!(v["error"]["invalid_argument"].is_string(), "{v}");
    assert!(
        v["error_summary"]
            .as_str()
            .unwrap()
            .starts_with("invalid_argument/."),
        "{v}"
    );
}

#[tokio::test]
async fn token_revoke_disables_the_token_and_its_refresh_token() {
    // F2: POST /2/auth/token/revoke (Void in, Void out) answers 200 application/json `null`.
    let emu = spawn(basic()).await;
    let sibling = emu.refresh().await;
    emu.ok("users/get_current_account", Value::Null).await;
    let r = emu
        .http
        .post(format!("{}/2/auth/token/revoke", emu.url))
        .bearer_auth(&emu.token)
        .header("Content-Type", "application/json")
        .body("null")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers().get("content-type").unwrap().to_str().unwrap(),
        "application/json"
    );
    assert_eq!(r.text().await.unwrap(), "null");
    // The token is gone: 401 invalid_access_token, also for a second revoke.
    let (s, v) = emu.rpc("users/get_current_account", Value::Null).await;
    assert_eq!(
        (s, v["error"][".tag"].as_str()),
        (401, Some("invalid_access_token"))
    );
    let (s, v) = emu.rpc("auth/token/revoke", Value::Null).await;
    assert_eq!(
        (s, v["error"][".tag"].as_str()),
        (401, Some("invalid_access_token"))
    );
    // So are its refresh token and the other access tokens minted from it.
    let r = emu
        .http
        .post(format!("{}/2/users/get_current_account", emu.url))
        .bearer_auth(&sibling)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = emu
        .http
        .post(format!("{}/oauth2/token", emu.url))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "emulator-refresh-token"),
            ("client_id", "emulator-app-key"),
            ("client_secret", "emulator-app-secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_grant");
}

#[tokio::test]
async fn token_revoke_of_an_online_token_leaves_other_grants_alone() {
    // An access token without a refresh token (online code flow) revokes only itself; the
    // curl-style Void call (no body, no Content-Type) works too.
    let emu = spawn(basic()).await;
    let page = emu
        .http
        .get(format!(
            "{}/oauth2/authorize?client_id=emulator-app-key&response_type=code&token_access_type=online",
            emu.url
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let code = page
        .split("<code id=\"auth-code\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    let r = emu
        .http
        .post(format!("{}/oauth2/token", emu.url))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", "emulator-app-key"),
            ("client_secret", "emulator-app-secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(v.get("refresh_token").is_none());
    let online = v["access_token"].as_str().unwrap().to_string();
    let r = emu
        .http
        .post(format!("{}/2/auth/token/revoke", emu.url))
        .bearer_auth(&online)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "null");
    let r = emu
        .http
        .post(format!("{}/2/users/get_current_account", emu.url))
        .bearer_auth(&online)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    emu.ok("users/get_current_account", Value::Null).await;
    emu.refresh().await;
}

#[tokio::test]
async fn app_auth_is_accepted_on_app_user_routes() {
    // F3: `app, user` routes take HTTP Basic app_key:app_secret (§5.2, §5.3, §3.1).
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let app_auth = format!("Basic {}", b64("emulator-app-key:emulator-app-secret"));
    let emu = spawn(basic()).await;
    let v = emu
        .ok("sharing/list_received_files", json!({"limit": 10}))
        .await;
    let url = v["entries"][0]["preview_url"].as_str().unwrap().to_string();
    let rpc = |route: &'static str, auth: String, arg: Value| {
        let http = emu.http.clone();
        let full = format!("{}/2/{route}", emu.url);
        async move {
            let r = http
                .post(full)
                .header("Authorization", auth)
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(&arg).unwrap())
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        }
    };
    let (s, v) = rpc(
        "sharing/get_shared_link_metadata",
        app_auth.clone(),
        json!({"url": url}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v[".tag"].as_str(), v["name"].as_str()),
        (Some("file"), Some("Budget.txt"))
    );
    let r = emu
        .http
        .post(format!("{}/2/sharing/get_shared_link_file", emu.url))
        .header("Authorization", &app_auth)
        .header("Dropbox-API-Arg", header_json(&json!({"url": url})))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("dropbox-api-result"));
    assert_eq!(r.text().await.unwrap(), "money");
    // list_folder with shared_link: the emulator's links are file links.
    let (s, v) = rpc(
        "files/list_folder",
        app_auth.clone(),
        json!({"path": "", "shared_link": {"url": url}}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["path"][".tag"].as_str()),
        (409, Some("not_folder")),
        "{v}"
    );
    let (s, v) = rpc(
        "files/list_folder",
        app_auth.clone(),
        json!({"path": "", "shared_link": {"url": "https://www.dropbox.com/scl/fi/nope/x"}}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["path"][".tag"].as_str()),
        (409, Some("not_found")),
        "{v}"
    );
    // App auth cannot list a user's folder, and a wrong secret is refused.
    let (s, _) = rpc("files/list_folder", app_auth.clone(), json!({"path": ""})).await;
    assert_eq!(s, 400);
    let (s, v) = rpc(
        "sharing/get_shared_link_metadata",
        format!("Basic {}", b64("emulator-app-key:wrong")),
        json!({"url": url}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    // Routes with plain `user` auth still want a bearer token.
    let (s, v) = rpc(
        "files/get_metadata",
        app_auth.clone(),
        json!({"path": "/Docs/a.txt"}),
    )
    .await;
    assert_eq!(s, 400);
    assert!(v.as_str().unwrap().contains("Expecting \"Bearer"), "{v}");
    // A user token keeps working on the same routes.
    let (s, _) = rpc(
        "sharing/get_shared_link_metadata",
        format!("Bearer {}", emu.token),
        json!({"url": url}),
    )
    .await;
    assert_eq!(s, 200);
}
