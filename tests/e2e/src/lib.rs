//! Shared harness for end-to-end tests: start the Dropbox emulator and a search server, write
//! tenant configs, run the `tributary` binary, read the index, and compare it with the
//! emulator's ground truth.
//!
//! Binaries come from the environment so the suite works with any target directory:
//! `TRIBUTARY_BIN`, `DROPBOX_EMULATOR_BIN` (default `<target>/debug/<name>`, target =
//! `CARGO_TARGET_DIR` or `<repo>/target`), `OSMEM_SERVER_BIN` (default: the `osmem_server`
//! Python package's bundled binary), `TRIBUTARY_COMPONENT_DIR` (default `<target>/components`),
//! `SEARCH_PROXY_BIN` (default `<target>/debug/search-fault-proxy`).
//! `ES_URL` runs the suite against an existing cluster instead of starting osmem-server.

pub mod enterprise;
pub mod fixtures;
pub mod local_folder;
pub mod model;
pub mod moto;
pub mod sandbox;
pub mod search_proxy;
pub mod serve;
pub mod truth;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use search_proxy::SearchProxy;
pub use truth::{
    CompareOptions, assert_docs_match_tree, assert_index_matches_tree, collapse_ws, comparable,
    diff_docs, live_ids, lost_live_docs,
};

/// The workspace root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `CARGO_TARGET_DIR` or `<repo>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                repo_root().join(d)
            }
        }
        None => repo_root().join("target"),
    }
}

fn bin_from_env(var: &str, name: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("debug").join(name))
}

/// The `tributary` binary.
pub fn tributary_bin() -> PathBuf {
    bin_from_env("TRIBUTARY_BIN", "tributary")
}

/// The `dropbox-emulator` binary.
pub fn emulator_bin() -> PathBuf {
    bin_from_env("DROPBOX_EMULATOR_BIN", "dropbox-emulator")
}

/// Where `tributary` finds `dropbox.wasm`.
pub fn component_dir() -> PathBuf {
    std::env::var_os("TRIBUTARY_COMPONENT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("components"))
}

/// One compile cache for the whole suite so the component is compiled once.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("TRIBUTARY_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("tributary-test-cache"))
}

/// The `osmem-server` binary.
pub fn osmem_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("OSMEM_SERVER_BIN") {
        return Ok(PathBuf::from(p));
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import osmem_server,os;print(os.path.dirname(osmem_server.__file__))",
        ])
        .output()
        .context("running python3 to locate osmem_server (set OSMEM_SERVER_BIN)")?;
    if !out.status.success() {
        bail!(
            "python3 cannot import osmem_server (pip install osmem-server==0.1.6, or set OSMEM_SERVER_BIN): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok(PathBuf::from(dir).join("bin").join("osmem-server"))
}

/// A process-unique suffix for index and tenant names (several tests may share one `ES_URL`).
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A blocking HTTP client with a generous timeout.
pub fn http() -> &'static reqwest::blocking::Client {
    static CLIENT: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap_or_else(|_| reqwest::blocking::Client::new())
    })
}

/// Poll `cond` every `step` until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(
    timeout: Duration,
    step: Duration,
    mut cond: impl FnMut() -> Option<T>,
) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = cond() {
            return Some(v);
        }
        if start.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(step);
    }
}

fn json_of(resp: reqwest::blocking::Response, what: &str) -> Result<Value> {
    let status = resp.status();
    let text = resp
        .text()
        .with_context(|| format!("{what}: reading the body"))?;
    if !status.is_success() {
        bail!("{what}: HTTP {status}: {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("{what}: not JSON: {text}"))
}

/// Kill a child and reap it.
fn kill_child(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

// ---------------------------------------------------------------------------------------------
// Emulator

/// A running `dropbox-emulator`; killed on drop.
pub struct Emulator {
    child: Child,
    token: std::sync::Mutex<Option<String>>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    stderr_log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Emulator {
    /// Start with extra args (e.g. `--manifest FILE`, `--generate files=N,...`).
    pub fn start(args: &[&str]) -> Result<Emulator> {
        let bin = emulator_bin();
        if !bin.exists() {
            bail!(
                "{} does not exist: build it (cargo build -p dropbox-emulator) or set DROPBOX_EMULATOR_BIN",
                bin.display()
            );
        }
        let dir = tempfile::tempdir()?;
        let stderr_log = dir.path().join("emulator.stderr");
        let mut child = Command::new(&bin)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_log)?)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("emulator stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = match lines.next() {
            Some(Ok(l)) => l,
            _ => {
                kill_child(&mut child);
                let err = std::fs::read_to_string(&stderr_log).unwrap_or_default();
                bail!("dropbox-emulator printed no URL line; stderr: {err}");
            }
        };
        let Some(url) = first.split_whitespace().find(|w| w.starts_with("http://")) else {
            kill_child(&mut child);
            bail!("unexpected first emulator line: {first:?}");
        };
        let url = url.trim_end_matches('/').to_string();
        // Keep draining stdout so the emulator never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Ok(Emulator {
            child,
            token: std::sync::Mutex::new(None),
            url,
            stderr_log,
            _dir: dir,
        })
    }

    /// Start seeded from a manifest value.
    pub fn with_manifest(manifest: &Value, extra: &[&str]) -> Result<Emulator> {
        let file = tempfile::Builder::new().suffix(".json").tempfile()?;
        std::fs::write(file.path(), serde_json::to_vec_pretty(manifest)?)?;
        let (_f, path) = file.keep()?;
        let p = path.to_string_lossy().to_string();
        let mut args = vec!["--manifest", p.as_str()];
        args.extend_from_slice(extra);
        let emu = Emulator::start(&args);
        let _ = std::fs::remove_file(&path);
        emu
    }

    /// The emulator's stderr so far (for failure messages).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}/_admin/{path}", self.url);
        let mut req = http().request(method.clone(), &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().with_context(|| format!("{method} {url}"))?;
        json_of(resp, &format!("{method} /_admin/{path}"))
    }

    /// `GET /_admin/tree`.
    pub fn tree(&self) -> Result<Value> {
        self.admin(reqwest::Method::GET, "tree", None)
    }

    /// `GET /_admin/content?id=`: the raw bytes (Paper: markdown).
    pub fn content(&self, id: &str) -> Result<Vec<u8>> {
        let resp = http()
            .get(format!("{}/_admin/content", self.url))
            .query(&[("id", id)])
            .send()?;
        if !resp.status().is_success() {
            bail!("GET /_admin/content?id={id}: HTTP {}", resp.status());
        }
        Ok(resp.bytes()?.to_vec())
    }

    /// `GET /_admin/stats`.
    pub fn stats(&self) -> Result<Value> {
        self.admin(reqwest::Method::GET, "stats", None)
    }

    /// Request count of one route (e.g. `files/list_folder/continue`, `oauth2/token`).
    pub fn route_count(&self, route: &str) -> Result<u64> {
        let stats = self.stats()?;
        Ok(route_count(&stats, route))
    }

    pub fn reset_stats(&self) -> Result<()> {
        self.admin(reqwest::Method::POST, "stats/reset", None)
            .map(drop)
    }

    /// `GET /_admin/stats/timeline?route=PREFIX`: every request of those routes since the last
    /// stats reset (`arrived_ms`, `answered_ms`, `status`, `retry_after`).
    pub fn timeline(&self, route_prefix: &str) -> Result<Vec<Value>> {
        let resp = http()
            .get(format!("{}/_admin/stats/timeline", self.url))
            .query(&[("route", route_prefix)])
            .send()?;
        let v = json_of(resp, "GET /_admin/stats/timeline")?;
        Ok(v["events"].as_array().cloned().unwrap_or_default())
    }

    /// `POST /_admin/faults` with `{"seed":seed,"rules":rules}`.
    pub fn set_faults(&self, seed: u64, rules: Value) -> Result<()> {
        self.admin(
            reqwest::Method::POST,
            "faults",
            Some(json!({"seed": seed, "rules": rules})),
        )
        .map(drop)
    }

    pub fn clear_faults(&self) -> Result<()> {
        self.admin(reqwest::Method::DELETE, "faults", None)
            .map(drop)
    }

    pub fn expire_tokens(&self) -> Result<()> {
        self.admin(reqwest::Method::POST, "tokens/expire", None)
            .map(drop)
    }

    pub fn set_token_lifetime(&self, secs: u64) -> Result<()> {
        self.admin(
            reqwest::Method::POST,
            "tokens/lifetime",
            Some(json!({"secs": secs})),
        )
        .map(drop)
    }

    pub fn reset_cursors(&self) -> Result<()> {
        self.admin(reqwest::Method::POST, "cursors/reset", None)
            .map(drop)
    }

    /// Create or edit a Paper doc (journaled, so incremental syncs see it).
    pub fn put_paper(&self, path: &str, markdown: &str) -> Result<Value> {
        self.admin(
            reqwest::Method::POST,
            "paper",
            Some(json!({"path": path, "markdown": markdown})),
        )
    }

    /// Add a received shared file; returns `(id, url)`.
    pub fn add_received(&self, name: &str, content: &str, owner: &str) -> Result<(String, String)> {
        let v = self.admin(
            reqwest::Method::POST,
            "received",
            Some(json!({"name": name, "content": content, "owner": owner})),
        )?;
        Ok((
            v["id"].as_str().context("received.id")?.to_string(),
            v["url"].as_str().context("received.url")?.to_string(),
        ))
    }

    pub fn remove_received(&self, id: &str) -> Result<()> {
        let resp = http()
            .delete(format!("{}/_admin/received", self.url))
            .query(&[("id", id)])
            .send()?;
        json_of(resp, "DELETE /_admin/received").map(drop)
    }

    /// An access token from the refresh-token grant with the default app credentials.
    pub fn access_token(&self) -> Result<String> {
        let resp = http()
            .post(format!("{}/oauth2/token", self.url))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "emulator-refresh-token"),
                ("client_id", "emulator-app-key"),
                ("client_secret", "emulator-app-secret"),
            ])
            .send()?;
        let v = json_of(resp, "POST /oauth2/token")?;
        Ok(v["access_token"]
            .as_str()
            .context("access_token")?
            .to_string())
    }

    fn cached_token(&self, fresh: bool) -> Result<String> {
        let mut t = self
            .token
            .lock()
            .map_err(|_| anyhow!("token lock poisoned"))?;
        if fresh || t.is_none() {
            *t = Some(self.access_token()?);
        }
        Ok(t.clone().unwrap_or_default())
    }

    /// Send a write-API request with a cached token; on 401 fetch a new token and retry once.
    fn authed(
        &self,
        what: &str,
        build: impl Fn(&str) -> reqwest::blocking::RequestBuilder,
    ) -> Result<Value> {
        let token = self.cached_token(false)?;
        let resp = build(&token).send()?;
        if resp.status().as_u16() == 401 {
            let token = self.cached_token(true)?;
            return json_of(build(&token).send()?, what);
        }
        json_of(resp, what)
    }

    fn rpc(&self, route: &str, arg: Value) -> Result<Value> {
        let url = format!("{}/2/{route}", self.url);
        self.authed(route, |token| {
            http().post(&url).bearer_auth(token).json(&arg)
        })
    }

    /// `files/upload` in overwrite mode; returns the file metadata.
    pub fn upload(&self, path: &str, bytes: &[u8]) -> Result<Value> {
        let arg = header_json(&json!({"path": path, "mode": "overwrite"}));
        let url = format!("{}/2/files/upload", self.url);
        self.authed("files/upload", |token| {
            http()
                .post(&url)
                .bearer_auth(token)
                .header("Dropbox-API-Arg", arg.clone())
                .header("Content-Type", "application/octet-stream")
                .body(bytes.to_vec())
        })
    }

    pub fn create_folder(&self, path: &str) -> Result<Value> {
        self.rpc("files/create_folder_v2", json!({"path": path}))
    }

    pub fn delete(&self, path: &str) -> Result<Value> {
        self.rpc("files/delete_v2", json!({"path": path}))
    }

    pub fn move_path(&self, from: &str, to: &str) -> Result<Value> {
        self.rpc("files/move_v2", json!({"from_path": from, "to_path": to}))
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        kill_child(&mut self.child);
    }
}

/// JSON for an HTTP header: non-ASCII escaped as `\uXXXX` (Dropbox's rule for Dropbox-API-Arg).
pub fn header_json(v: &Value) -> String {
    let s = v.to_string();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() && c != '\u{7f}' {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// Count of `route` in a `/_admin/stats` answer (0 when absent).
pub fn route_count(stats: &Value, route: &str) -> u64 {
    stats["routes"][route]["count"].as_u64().unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Search server

/// osmem-server (killed on drop) or an external cluster from `ES_URL`.
pub struct SearchServer {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl SearchServer {
    /// Start osmem-server on a free port, or use `ES_URL` when set.
    pub fn start() -> Result<SearchServer> {
        if let Ok(url) = std::env::var("ES_URL") {
            return Ok(SearchServer {
                child: None,
                url: url.trim_end_matches('/').to_string(),
                _dir: None,
            });
        }
        let bin = osmem_bin()?;
        let dir = tempfile::tempdir()?;
        let err_log = dir.path().join("osmem.err");
        // Port 0: osmem picks a free port and prints `{"url": ...}` as its first stdout line,
        // so no probe-then-bind race. It exits when its stdin closes, so we hold the pipe.
        let mut child = Command::new(&bin)
            .args([
                "-addr",
                "127.0.0.1:0",
                "-parent-pid",
                &std::process::id().to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&err_log)?)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("osmem stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = match lines.next() {
            Some(Ok(l)) => l,
            _ => {
                kill_child(&mut child);
                bail!(
                    "osmem-server printed nothing; stderr: {}",
                    std::fs::read_to_string(&err_log).unwrap_or_default()
                );
            }
        };
        std::thread::spawn(move || for _ in lines.by_ref() {});
        let url = serde_json::from_str::<Value>(&first).ok().and_then(|v| {
            v["url"]
                .as_str()
                .map(|u| u.trim_end_matches('/').to_string())
        });
        let Some(url) = url else {
            kill_child(&mut child);
            bail!("unexpected first osmem-server line: {first:?}");
        };
        let up = wait_for(Duration::from_secs(20), Duration::from_millis(20), || {
            http()
                .get(format!("{url}/"))
                .timeout(Duration::from_secs(2))
                .send()
                .ok()
                .filter(|r| r.status().is_success())
        });
        if up.is_none() {
            kill_child(&mut child);
            bail!("osmem-server at {url} does not answer GET /");
        }
        Ok(SearchServer {
            child: Some(child),
            url,
            _dir: Some(dir),
        })
    }

    fn req(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let url = format!("{}/{}", self.url, path.trim_start_matches('/'));
        let mut req = http()
            .request(method.clone(), &url)
            .header("Content-Type", "application/json");
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let resp = req.send().with_context(|| format!("{method} {url}"))?;
        json_of(resp, &format!("{method} {path}"))
    }

    pub fn refresh(&self, index: &str) -> Result<()> {
        self.req(reqwest::Method::POST, &format!("{index}/_refresh"), None)
            .map(drop)
    }

    /// Run a search (after a refresh).
    pub fn search(&self, index: &str, body: &Value) -> Result<Value> {
        self.refresh(index)?;
        self.req(
            reqwest::Method::POST,
            &format!("{index}/_search"),
            Some(body),
        )
    }

    /// Number of documents in `index`.
    pub fn count(&self, index: &str) -> Result<u64> {
        self.refresh(index)?;
        let v = self.req(reqwest::Method::GET, &format!("{index}/_count"), None)?;
        v["count"].as_u64().context("_count.count")
    }

    /// Every document of `index` as `_id → _source`, read with `search_after` pages.
    pub fn all_docs(&self, index: &str) -> Result<BTreeMap<String, Value>> {
        self.refresh(index)?;
        let mut out = BTreeMap::new();
        let mut after: Option<Value> = None;
        loop {
            let mut body =
                json!({"size": 1000, "query": {"match_all": {}}, "sort": [{"id": "asc"}]});
            if let Some(a) = &after {
                body["search_after"] = a.clone();
            }
            let v = self.req(
                reqwest::Method::POST,
                &format!("{index}/_search"),
                Some(&body),
            )?;
            let hits = v["hits"]["hits"].as_array().cloned().unwrap_or_default();
            if hits.is_empty() {
                break;
            }
            for h in &hits {
                let id = h["_id"].as_str().context("hit._id")?.to_string();
                if out.insert(id.clone(), h["_source"].clone()).is_some() {
                    bail!("document {id} returned twice by search_after paging");
                }
            }
            after = hits.last().map(|h| h["sort"].clone());
            if hits.len() < 1000 {
                break;
            }
        }
        let count = self.count(index)?;
        if count != out.len() as u64 {
            bail!(
                "_count says {count} documents but paging returned {}",
                out.len()
            );
        }
        Ok(out)
    }

    /// Write one document (refreshing at once).
    pub fn put_doc(&self, index: &str, id: &str, doc: &Value) -> Result<()> {
        self.req(
            reqwest::Method::PUT,
            &format!("{index}/_doc/{}?refresh=true", urlencode(id)),
            Some(doc),
        )
        .map(drop)
    }

    /// Delete one document (refreshing at once).
    pub fn delete_doc(&self, index: &str, id: &str) -> Result<()> {
        self.req(
            reqwest::Method::DELETE,
            &format!("{index}/_doc/{}?refresh=true", urlencode(id)),
            None,
        )
        .map(drop)
    }

    /// The `_source` of one document, if it exists.
    pub fn get(&self, index: &str, id: &str) -> Result<Option<Value>> {
        let url = format!("{}/{index}/_doc/{}", self.url, urlencode(id));
        let resp = http().get(&url).send()?;
        if resp.status().as_u16() == 404 {
            return Ok(None);
        }
        let v = json_of(resp, "GET _doc")?;
        if v["found"] == json!(false) {
            return Ok(None);
        }
        Ok(Some(v["_source"].clone()))
    }

    /// Full-text query over `name` and `body`; returns the `_id`s of the hits.
    pub fn find_text(&self, index: &str, text: &str) -> Result<Vec<String>> {
        let v = self.search(
            index,
            &json!({"size": 100, "query": {"multi_match": {"query": text, "fields": ["name", "body"]}}}),
        )?;
        Ok(v["hits"]["hits"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|h| h["_id"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default())
    }
}

impl Drop for SearchServer {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            kill_child(c);
        }
    }
}

/// Percent-encode a URL path segment.
pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Tenant config and tributary runs

/// One tenant: its config file in a temp dir, pointed at an emulator and a search server.
pub struct Tenant {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub tenant: String,
    pub index: String,
    pub state_index: String,
    /// The config as TOML (edit, then `write()`).
    pub config: toml::Table,
    pub es_url: String,
}

impl Tenant {
    /// A config for `emu` and `es` with defaults from the brief; unique tenant and index names.
    pub fn new(emu: &Emulator, es: &SearchServer) -> Result<Tenant> {
        let tenant = unique("t");
        let index = format!("dropbox-{tenant}");
        let state_index = format!("tributary-state-{tenant}");
        let source = json!({
            "path": "/",
            "app_key": "emulator-app-key",
            "app_secret": "emulator-app-secret",
            "refresh_token": "emulator-refresh-token",
            "api_url": emu.url,
            "content_url": emu.url,
            "notify_url": emu.url,
            "oauth_url": emu.url,
            "web_url": emu.url,
            "retry_count": 3,
            "concurrent_downloads": 100,
        });
        let config = json!({
            "tenant": tenant,
            "connector": "dropbox",
            "source": source,
            "elasticsearch": {"url": es.url, "index": index, "state_index": state_index},
            "content": {"max_bytes": 10_485_760},
        });
        let config: toml::Table = serde_json::from_value(config)?;
        let dir = tempfile::tempdir()?;
        let config_path = dir.path().join(format!("{tenant}.toml"));
        let t = Tenant {
            dir,
            config_path,
            tenant,
            index,
            state_index,
            config,
            es_url: es.url.clone(),
        };
        t.write()?;
        Ok(t)
    }

    /// Write `config` to `config_path`.
    pub fn write(&self) -> Result<()> {
        std::fs::write(&self.config_path, toml::to_string(&self.config)?)?;
        Ok(())
    }

    /// Set `[section] key = value` and rewrite the file.
    pub fn set(&mut self, section: &str, key: &str, value: impl Into<toml::Value>) -> Result<()> {
        let table = self
            .config
            .entry(section.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .context("section is not a table")?;
        table.insert(key.to_string(), value.into());
        self.write()
    }

    /// Remove `[section] key` and rewrite the file.
    pub fn unset(&mut self, section: &str, key: &str) -> Result<()> {
        if let Some(t) = self.config.get_mut(section).and_then(|v| v.as_table_mut()) {
            t.remove(key);
        }
        self.write()
    }

    /// Write raw TOML instead (for deliberately broken configs).
    pub fn write_raw(&self, text: &str) -> Result<()> {
        std::fs::write(&self.config_path, text)?;
        Ok(())
    }

    /// The current config file text.
    pub fn config_text(&self) -> String {
        std::fs::read_to_string(&self.config_path).unwrap_or_default()
    }

    fn report_path(&self) -> PathBuf {
        self.dir.path().join(format!("report-{}.json", unique("r")))
    }

    /// `tributary sync --config FILE --report R --quiet [extra...]`.
    pub fn sync(&self, extra: &[&str]) -> Result<Run> {
        self.sync_env(extra, &[])
    }

    /// `sync` with extra environment variables (e.g. `TRIBUTARY_CRASH_AT`).
    pub fn sync_env(&self, extra: &[&str], env: &[(&str, &str)]) -> Result<Run> {
        let report = self.report_path();
        let cfg = self.config_path.to_string_lossy().to_string();
        let rep = report.to_string_lossy().to_string();
        let mut args = vec![
            "sync",
            "--config",
            cfg.as_str(),
            "--report",
            rep.as_str(),
            "--quiet",
        ];
        args.extend_from_slice(extra);
        let mut run = tributary(&args, env)?;
        run.report = std::fs::read_to_string(&report)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        Ok(run)
    }

    /// `sync` that must exit 0 with outcome "ok"; returns the report.
    pub fn sync_ok(&self) -> Result<Value> {
        let run = self.sync(&[])?;
        run.expect_ok()?;
        run.report
            .clone()
            .context("sync exited 0 but wrote no --report JSON")
    }

    /// `tributary check --config FILE`.
    pub fn check(&self) -> Result<Run> {
        self.command("check", &[])
    }

    /// `tributary <sub> --config FILE [extra...]` to completion (e.g. `reset`, `auth --code C`).
    pub fn command(&self, sub: &str, extra: &[&str]) -> Result<Run> {
        let cfg = self.config_path.to_string_lossy().to_string();
        let mut args = vec![sub, "--config", cfg.as_str()];
        args.extend_from_slice(extra);
        tributary(&args, &[])
    }

    /// Spawn `tributary sync --config FILE --report R --quiet [extra]` without waiting; finish
    /// it with [`SpawnedSync::wait`] or [`SpawnedSync::kill`].
    pub fn spawn_sync(&self, extra: &[&str], env: &[(&str, &str)]) -> Result<SpawnedSync> {
        let report = self.report_path();
        let rep = report.to_string_lossy().to_string();
        let mut args = vec!["--report", rep.as_str(), "--quiet"];
        args.extend_from_slice(extra);
        let process = self.spawn("sync", &args, env)?;
        Ok(SpawnedSync { process, report })
    }

    /// Spawn `tributary <sub> --config FILE [extra]` without waiting (watch, racing syncs).
    pub fn spawn(&self, sub: &str, extra: &[&str], env: &[(&str, &str)]) -> Result<Spawned> {
        let cfg = self.config_path.to_string_lossy().to_string();
        let mut args = vec![sub, "--config", cfg.as_str()];
        args.extend_from_slice(extra);
        spawn_tributary(&args, env)
    }

    /// Make the tenant's lease look expired, as if its TTL had passed: what a rerun after a
    /// crash would otherwise have to wait for. Returns whether there was a lease.
    pub fn expire_lease(&self, es: &SearchServer) -> Result<bool> {
        let Some(mut doc) = self.state_doc(es)? else {
            return Ok(false);
        };
        if !doc["lease"].is_object() {
            return Ok(false);
        }
        doc["lease"]["expires_at_ms"] = json!(1);
        doc["lease"]["expires_at"] = json!("1970-01-01T00:00:00.001Z");
        es.put_doc(&self.state_index, &self.tenant, &doc)?;
        Ok(true)
    }

    /// The tenant's state document (`None` before the first run).
    pub fn state_doc(&self, es: &SearchServer) -> Result<Option<Value>> {
        let _ = es.refresh(&self.state_index);
        es.get(&self.state_index, &self.tenant)
    }
}

/// What one `tributary` invocation did.
#[derive(Debug, Clone)]
pub struct Run {
    pub args: Vec<String>,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub report: Option<Value>,
    pub elapsed: Duration,
}

impl Run {
    /// Fail with the full output unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> Result<&Run> {
        if self.code != Some(code) {
            bail!(
                "expected exit code {code}, got {:?}\n{}",
                self.code,
                self.describe()
            );
        }
        Ok(self)
    }

    /// Exit 0 and report outcome "ok" (when a report was written).
    pub fn expect_ok(&self) -> Result<&Run> {
        self.expect_code(0)?;
        if let Some(r) = &self.report
            && r["outcome"] != json!("ok")
        {
            bail!(
                "exit 0 but outcome {}
{}",
                r["outcome"],
                self.describe()
            );
        }
        Ok(self)
    }

    /// `report[key]` as u64 (0 when absent).
    pub fn n(&self, key: &str) -> u64 {
        self.report
            .as_ref()
            .and_then(|r| r[key].as_u64())
            .unwrap_or(0)
    }

    pub fn describe(&self) -> String {
        format!(
            "$ tributary {}\nexit: {:?} after {:.2}s\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- report ---\n{}",
            self.args.join(" "),
            self.code,
            self.elapsed.as_secs_f64(),
            truncate(&self.stdout, 6000),
            truncate(&self.stderr, 6000),
            self.report
                .as_ref()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "(none)".into())
        )
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut cut = n;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} more bytes)", &s[..cut], s.len() - cut)
}

fn base_command(args: &[&str], env: &[(&str, &str)]) -> Result<Command> {
    let bin = tributary_bin();
    if !bin.exists() {
        bail!(
            "{} does not exist: build it (cargo build -p tributary) or set TRIBUTARY_BIN",
            bin.display()
        );
    }
    let mut cmd = Command::new(bin);
    cmd.arg("--cache-dir")
        .arg(cache_dir())
        .args(args)
        .env("TRIBUTARY_COMPONENT_DIR", component_dir())
        .env_remove("TRIBUTARY_CRASH_AT")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    Ok(cmd)
}

/// Compile the component into the shared cache once, before tests run it in parallel.
pub fn warm_up() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        if let Ok(mut cmd) = base_command(&["fields"], &[]) {
            let _ = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
    });
}

/// Run `tributary` (with the shared `--cache-dir`) to completion.
pub fn tributary(args: &[&str], env: &[(&str, &str)]) -> Result<Run> {
    warm_up();
    let mut cmd = base_command(args, env)?;
    let start = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .context("running tributary")?;
    Ok(Run {
        args: args.iter().map(|s| s.to_string()).collect(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        report: None,
        elapsed: start.elapsed(),
    })
}

/// A `tributary` process running in the background; killed on drop if still running.
pub struct Spawned {
    pub child: Child,
    pub args: Vec<String>,
    pub started: Instant,
    stdout_buf: std::sync::Arc<std::sync::Mutex<String>>,
    stderr_buf: std::sync::Arc<std::sync::Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

fn pump(
    mut r: impl Read + Send + 'static,
    buf: std::sync::Arc<std::sync::Mutex<String>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        loop {
            match r.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let Ok(mut b) = buf.lock() {
                        b.push_str(&String::from_utf8_lossy(&chunk[..n]));
                    }
                }
            }
        }
    })
}

/// Start `tributary` without waiting; stdout/stderr are collected in the background.
pub fn spawn_tributary(args: &[&str], env: &[(&str, &str)]) -> Result<Spawned> {
    spawn_tributary_with(args, env, false)
}

/// `spawn_tributary`, optionally with a piped stdin (`Spawned::child.stdin`).
pub fn spawn_tributary_with(
    args: &[&str],
    env: &[(&str, &str)],
    piped_stdin: bool,
) -> Result<Spawned> {
    warm_up();
    let mut cmd = base_command(args, env)?;
    let mut child = cmd
        .stdin(if piped_stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("spawning tributary")?;
    let stdout_buf = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let stderr_buf = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut readers = Vec::new();
    if let Some(o) = child.stdout.take() {
        readers.push(pump(o, stdout_buf.clone()));
    }
    if let Some(e) = child.stderr.take() {
        readers.push(pump(e, stderr_buf.clone()));
    }
    Ok(Spawned {
        child,
        args: args.iter().map(|s| s.to_string()).collect(),
        started: Instant::now(),
        stdout_buf,
        stderr_buf,
        readers,
    })
}

impl Spawned {
    pub fn stdout(&self) -> String {
        self.stdout_buf
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        self.stderr_buf
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Still running?
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Wait up to `timeout` for exit; kills it on timeout.
    pub fn wait(mut self, timeout: Duration) -> Result<Run> {
        let status: Option<ExitStatus> = wait_for(timeout, Duration::from_millis(50), || {
            self.child.try_wait().ok().flatten()
        });
        let timed_out = status.is_none();
        if timed_out {
            kill_child(&mut self.child);
        }
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let run = Run {
            args: self.args.clone(),
            code: status.and_then(|s| s.code()),
            stdout: self.stdout(),
            stderr: self.stderr(),
            report: None,
            elapsed: self.started.elapsed(),
        };
        if timed_out {
            bail!(
                "tributary did not exit within {timeout:?}; killed\n{}",
                run.describe()
            );
        }
        Ok(run)
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            kill_child(&mut self.child);
        }
    }
}

/// A `sync` running in the background with its `--report` file.
pub struct SpawnedSync {
    pub process: Spawned,
    report: PathBuf,
}

impl SpawnedSync {
    /// Wait for the exit (killing it after `timeout`) and read the report.
    pub fn wait(self, timeout: Duration) -> Result<Run> {
        let mut run = self.process.wait(timeout)?;
        run.report = std::fs::read_to_string(&self.report)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        Ok(run)
    }

    /// `kill -9` it now (as an OOM killer or a power cut would) and reap it.
    pub fn kill(mut self) -> Result<Run> {
        let _ = self.process.child.kill();
        self.wait(Duration::from_secs(30))
    }

    /// Still running?
    pub fn running(&mut self) -> bool {
        self.process.running()
    }
}

/// A standard world: emulator from `manifest` + search server + tenant, and optionally a
/// fault proxy the tenant writes through.
pub struct World {
    pub es: SearchServer,
    pub emu: Emulator,
    pub tenant: Tenant,
    /// With [`World::with_proxy`]: the tenant's `[elasticsearch] url` points here.
    pub proxy: Option<SearchProxy>,
}

impl World {
    pub fn new(manifest: &Value, emulator_args: &[&str]) -> Result<World> {
        let emu = Emulator::with_manifest(manifest, emulator_args)?;
        let es = SearchServer::start()?;
        let tenant = Tenant::new(&emu, &es)?;
        Ok(World {
            es,
            emu,
            tenant,
            proxy: None,
        })
    }

    /// Like [`World::new`], with a [`SearchProxy`] between the tenant and the search server.
    /// The test's own reads (`es`, `docs()`, `assert_matches()`) bypass the proxy.
    pub fn with_proxy(manifest: &Value, emulator_args: &[&str]) -> Result<World> {
        let mut w = World::new(manifest, emulator_args)?;
        let proxy = SearchProxy::start(&w.es)?;
        w.tenant.set("elasticsearch", "url", proxy.url.clone())?;
        w.proxy = Some(proxy);
        Ok(w)
    }

    /// The proxy of a [`World::with_proxy`].
    pub fn proxy(&self) -> Result<&SearchProxy> {
        self.proxy
            .as_ref()
            .context("this world has no search proxy; build it with World::with_proxy")
    }

    /// Index contents vs. ground truth with default options.
    pub fn assert_matches(&self) -> Result<()> {
        assert_index_matches_tree(
            &self.emu,
            &self.es,
            &self.tenant,
            &CompareOptions::from_tenant(&self.tenant),
        )
    }

    /// All documents of the tenant's index.
    pub fn docs(&self) -> Result<BTreeMap<String, Value>> {
        self.es.all_docs(&self.tenant.index)
    }
}

/// The seed(s) a randomized test runs: `E2E_SEEDS` = "1..20" | "3,7,9" | "5"; else `default`.
pub fn seeds(default: std::ops::RangeInclusive<u64>) -> Vec<u64> {
    let Ok(s) = std::env::var("E2E_SEEDS") else {
        return default.collect();
    };
    let s = s.trim();
    if let Some((a, b)) = s.split_once("..") {
        let a: u64 = a.trim().parse().unwrap_or(1);
        let b = b.trim_start_matches('=');
        let b: u64 = b.trim().parse().unwrap_or(a);
        return (a..=b).collect();
    }
    s.split(',').filter_map(|x| x.trim().parse().ok()).collect()
}
