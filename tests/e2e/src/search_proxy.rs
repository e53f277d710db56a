//! `search-fault-proxy` in front of the [`SearchServer`]: tenants write through it (their
//! `[elasticsearch] url`), the test's own reads go straight to the search server.
//!
//! The binary comes from `SEARCH_PROXY_BIN` (default `<target>/debug/search-fault-proxy`).

use crate::{SearchServer, http, json_of, kill_child, target_dir};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The `search-fault-proxy` binary.
pub fn proxy_bin() -> PathBuf {
    std::env::var_os("SEARCH_PROXY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("debug").join("search-fault-proxy"))
}

/// A running proxy; killed on drop.
pub struct SearchProxy {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    stderr_log: PathBuf,
    _dir: tempfile::TempDir,
}

impl SearchProxy {
    /// Start a proxy in front of `upstream`.
    pub fn start(upstream: &SearchServer) -> Result<SearchProxy> {
        let bin = proxy_bin();
        if !bin.exists() {
            bail!(
                "{} does not exist: build it (cargo build -p search-proxy) or set SEARCH_PROXY_BIN",
                bin.display()
            );
        }
        let dir = tempfile::tempdir()?;
        let stderr_log = dir.path().join("proxy.stderr");
        let mut child = Command::new(&bin)
            .args(["--listen", "127.0.0.1:0", "--upstream", &upstream.url])
            .args(["--parent-pid", &std::process::id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_log)?)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("proxy stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = match lines.next() {
            Some(Ok(l)) => l,
            _ => {
                kill_child(&mut child);
                let err = std::fs::read_to_string(&stderr_log).unwrap_or_default();
                bail!("search-fault-proxy printed no URL line; stderr: {err}");
            }
        };
        let Some(url) = first.split_whitespace().find(|w| w.starts_with("http://")) else {
            kill_child(&mut child);
            bail!("unexpected first search-fault-proxy line: {first:?}");
        };
        let url = url.trim_end_matches('/').to_string();
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Ok(SearchProxy {
            child,
            url,
            stderr_log,
            _dir: dir,
        })
    }

    /// The proxy's stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}/_proxy/{path}", self.url);
        let mut req = http().request(method.clone(), &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().with_context(|| format!("{method} {url}"))?;
        json_of(resp, &format!("{method} /_proxy/{path}"))
    }

    /// `POST /_proxy/faults` with `{"seed": seed, "rules": rules}` (see tests/search-proxy).
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

    /// `GET /_proxy/stats`.
    pub fn stats(&self) -> Result<Value> {
        self.admin(reqwest::Method::GET, "stats", None)
    }

    pub fn reset_stats(&self) -> Result<()> {
        self.admin(reqwest::Method::POST, "stats/reset", None)
            .map(drop)
    }

    /// Requests of `kind` answered with `status` (`"503"`, `"dropped"`, ...) since the last reset.
    pub fn count(&self, kind: &str, status: &str) -> Result<u64> {
        Ok(self.stats()?["kinds"][kind]["statuses"][status]
            .as_u64()
            .unwrap_or(0))
    }

    /// Requests of `kind` since the last reset, whatever their outcome.
    pub fn requests(&self, kind: &str) -> Result<u64> {
        Ok(self.stats()?["kinds"][kind]["count"].as_u64().unwrap_or(0))
    }

    /// Answer every request 503 until [`SearchProxy::up`].
    pub fn down(&self) -> Result<()> {
        self.admin(reqwest::Method::POST, "down", Some(json!({"mode": "503"})))
            .map(drop)
    }

    /// Close every connection without an answer until [`SearchProxy::up`].
    pub fn down_refusing(&self) -> Result<()> {
        self.admin(
            reqwest::Method::POST,
            "down",
            Some(json!({"mode": "refuse"})),
        )
        .map(drop)
    }

    pub fn up(&self) -> Result<()> {
        self.admin(reqwest::Method::POST, "up", None).map(drop)
    }
}

impl Drop for SearchProxy {
    fn drop(&mut self) {
        kill_child(&mut self.child);
    }
}
