//! Shared helpers: spawn an in-process emulator and talk to it with reqwest.
#![allow(dead_code, clippy::unwrap_used)]

use dropbox_emulator::seed::{self, Manifest};
use dropbox_emulator::{App, Config, Server};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A client's mirror of a listing: path_lower → (tag, id, rev).
pub type Model = BTreeMap<String, (String, String, String)>;

fn key(e: &Value) -> (String, String, String) {
    (
        e[".tag"].as_str().unwrap().to_string(),
        e["id"].as_str().unwrap_or("").to_string(),
        e["rev"].as_str().unwrap_or("").to_string(),
    )
}

/// Dropbox's documented client rules for applying list_folder entries in order.
pub fn apply(model: &mut Model, entries: &[Value]) {
    for e in entries {
        let p = e["path_lower"].as_str().unwrap().to_string();
        let prefix = format!("{p}/");
        match e[".tag"].as_str().unwrap() {
            "file" => {
                model.retain(|k, _| !k.starts_with(&prefix));
                model.insert(p, key(e));
            }
            "folder" => {
                model.insert(p, key(e));
            }
            "deleted" => {
                assert!(e.get("id").is_none(), "deleted entries carry no id: {e}");
                model.retain(|k, _| k != &p && !k.starts_with(&prefix));
            }
            t => panic!("unexpected tag {t}"),
        }
    }
}

pub struct Emu {
    pub server: Server,
    pub url: String,
    pub http: reqwest::Client,
    pub token: String,
}

pub async fn spawn(manifest: Value) -> Emu {
    let m: Manifest = serde_json::from_value(manifest).unwrap();
    let world = seed::world_from_manifest(Some(&m)).unwrap();
    spawn_app(Arc::new(App::new(Config::default(), world))).await
}

pub async fn spawn_app(app: Arc<App>) -> Emu {
    let server = dropbox_emulator::start(app, "127.0.0.1:0").await.unwrap();
    let url = server.url();
    let http = reqwest::Client::new();
    let mut emu = Emu {
        server,
        url,
        http,
        token: String::new(),
    };
    emu.token = emu.refresh().await;
    emu
}

impl Emu {
    pub async fn refresh(&self) -> String {
        let r = self
            .http
            .post(format!("{}/oauth2/token", self.url))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "emulator-refresh-token"),
                ("client_id", "emulator-app-key"),
                ("client_secret", "emulator-app-secret"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        v["access_token"].as_str().unwrap().to_string()
    }

    /// RPC call: (status, JSON body or text as a JSON string).
    pub async fn rpc_with(
        &self,
        route: &str,
        arg: Value,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}/2/{route}", self.url))
            .bearer_auth(&self.token)
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(&arg).unwrap());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string());
        assert!(r.headers().contains_key("x-dropbox-request-id"));
        let text = r.text().await.unwrap();
        if ct.as_deref() == Some("application/json") {
            (status, serde_json::from_str(&text).unwrap())
        } else {
            (status, Value::String(text))
        }
    }

    pub async fn rpc(&self, route: &str, arg: Value) -> (u16, Value) {
        self.rpc_with(route, arg, &[]).await
    }

    pub async fn ok(&self, route: &str, arg: Value) -> Value {
        let (s, v) = self.rpc(route, arg.clone()).await;
        assert_eq!(s, 200, "{route} {arg} -> {v}");
        v
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let r = self
            .http
            .request(method, format!("{}/_admin/{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "admin {path}: {}", r.status());
        r.json().await.unwrap()
    }

    pub async fn upload(&self, path: &str, content: &[u8]) -> Value {
        let arg = header_json(&json!({"path": path, "mode": "overwrite"}));
        let r = self
            .http
            .post(format!("{}/2/files/upload", self.url))
            .bearer_auth(&self.token)
            .header("Content-Type", "application/octet-stream")
            .header("Dropbox-API-Arg", arg)
            .body(content.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "upload {path}");
        r.json().await.unwrap()
    }

    /// Full recursive listing (all pages).
    pub async fn list_all(&self, path: &str, limit: Option<u32>) -> (Vec<Value>, String) {
        let mut arg = json!({"path": path, "recursive": true});
        if let Some(l) = limit {
            arg["limit"] = json!(l);
        }
        let mut page = self.ok("files/list_folder", arg).await;
        let mut entries = page["entries"].as_array().unwrap().clone();
        while page["has_more"].as_bool().unwrap() {
            page = self
                .ok(
                    "files/list_folder/continue",
                    json!({"cursor": page["cursor"]}),
                )
                .await;
            entries.extend(page["entries"].as_array().unwrap().iter().cloned());
        }
        (entries, page["cursor"].as_str().unwrap().to_string())
    }
}

/// JSON with non-ASCII escaped as \uXXXX (what SDKs send in Dropbox-API-Arg).
pub fn header_json(v: &Value) -> String {
    let s = serde_json::to_string(v).unwrap();
    let mut out = String::new();
    for c in s.chars() {
        if (c as u32) < 0x7f {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}
