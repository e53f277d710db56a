//! What the `tributary serve` tests need: a directory of tenant files written atomically (a
//! serve process re-reads it every 2 s, and must never see half a file), serve processes to
//! start, kill (SIGKILL, as a crashed machine) or stop (SIGINT), their log lines parsed, the
//! coordination index read back as claims, and the truth of a Dropbox subtree or a filtered
//! local folder. Every wait is a bounded poll on a condition.

use crate::local_folder::{Expected, folder_truth};
use crate::{
    Emulator, SearchServer, Spawned, Tenant, http, spawn_tributary, tributary, unique, wait_for,
};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds (the unit of the claim documents' timestamps).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Tenant files

/// The directory `tributary serve --tenants` reads; removed on drop.
pub struct TenantsDir {
    dir: tempfile::TempDir,
}

impl TenantsDir {
    pub fn new() -> Result<TenantsDir> {
        Ok(TenantsDir {
            dir: tempfile::tempdir()?,
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The file a tenant is published as.
    pub fn file_of(&self, t: &Tenant) -> PathBuf {
        self.path().join(format!("{}.toml", t.tenant))
    }

    /// Publish (or republish) `t`'s config as `<tenant>.toml`: written beside it under a
    /// hidden name (ignored by serve) and renamed over it, so serve reads all or nothing.
    pub fn put(&self, t: &Tenant) -> Result<PathBuf> {
        let text = toml::to_string(&t.config)?;
        let file = self.file_of(t);
        self.write_raw(&format!("{}.toml", t.tenant), &text)?;
        Ok(file)
    }

    /// Write `text` as the file `name`, atomically.
    pub fn write_raw(&self, name: &str, text: &str) -> Result<PathBuf> {
        let file = self.path().join(name);
        let staging = self.path().join(format!(".{name}.{}", unique("staging")));
        std::fs::write(&staging, text)?;
        std::fs::rename(&staging, &file)?;
        Ok(file)
    }

    /// Remove the tenant's file.
    pub fn remove(&self, t: &Tenant) -> Result<()> {
        std::fs::remove_file(self.file_of(t))
            .with_context(|| format!("removing {}", self.file_of(t).display()))
    }
}

/// Give `t` a `[schedule]` (`incremental = every`); its file is not republished.
pub fn schedule(t: &mut Tenant, every: &str) -> Result<()> {
    t.set("schedule", "incremental", every)
}

/// Turn content extraction off (metadata only).
pub fn metadata_only(t: &mut Tenant) -> Result<()> {
    t.set("content", "extract", false)
}

// ---------------------------------------------------------------------------------------------
// Serve processes

/// How to start `tributary serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub tenants: PathBuf,
    /// `--config serve.toml`.
    pub config: Option<PathBuf>,
    pub coordination_url: String,
    pub coordination_index: String,
    pub lease_secs: u64,
    pub concurrent_runs: Option<usize>,
    /// Serve `/metrics` and `/healthz` on 127.0.0.1, a free port.
    pub listen: bool,
    /// Extra environment (`RUST_LOG`...).
    pub env: Vec<(String, String)>,
}

impl ServeOptions {
    /// Tenants in `dir`, coordination in a fresh index of `es`, a 6 s lease.
    pub fn new(dir: &TenantsDir, es: &SearchServer) -> ServeOptions {
        ServeOptions {
            tenants: dir.path().to_path_buf(),
            config: None,
            coordination_url: es.url.clone(),
            coordination_index: unique("coordination"),
            lease_secs: 6,
            concurrent_runs: None,
            listen: false,
            env: vec![],
        }
    }

    /// `--tenants`, `--coordination-url` and `--coordination-index` (what `status` and
    /// `cancel` take too).
    pub fn target_args(&self) -> Vec<String> {
        let mut args = vec![
            "--tenants".to_string(),
            self.tenants.to_string_lossy().into_owned(),
            "--coordination-url".to_string(),
            self.coordination_url.clone(),
            "--coordination-index".to_string(),
            self.coordination_index.clone(),
        ];
        if let Some(config) = &self.config {
            args.push("--config".into());
            args.push(config.to_string_lossy().into_owned());
        }
        args
    }

    /// The claims written so far (see [`claims`]).
    pub fn claims(&self, es: &SearchServer) -> Result<Vec<Claim>> {
        claims(es, &self.coordination_index)
    }
}

/// A running `tributary serve`; killed on drop.
pub struct Serve {
    pub runner_id: String,
    process: Spawned,
    /// When it was killed (Unix ms), if it was.
    pub killed_at_ms: Option<u64>,
    pub started_at_ms: u64,
    /// Its output once it has exited (kept for log checks).
    stderr_after_exit: Option<String>,
}

impl Serve {
    pub fn start(options: &ServeOptions, runner_id: &str) -> Result<Serve> {
        let mut args: Vec<String> = vec!["serve".into()];
        args.extend(options.target_args());
        args.extend([
            "--lease-secs".into(),
            options.lease_secs.to_string(),
            "--runner-id".into(),
            runner_id.to_string(),
        ]);
        if let Some(n) = options.concurrent_runs {
            args.extend(["--concurrent-runs".into(), n.to_string()]);
        }
        if options.listen {
            args.extend(["--listen".into(), "127.0.0.1:0".into()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = options
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let process = spawn_tributary(&args, &env)?;
        Ok(Serve {
            runner_id: runner_id.to_string(),
            process,
            killed_at_ms: None,
            started_at_ms: now_ms(),
            stderr_after_exit: None,
        })
    }

    /// Its log so far.
    pub fn stderr(&self) -> String {
        match &self.stderr_after_exit {
            Some(s) => s.clone(),
            None => self.process.stderr(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.process.child.id()
    }

    pub fn running(&mut self) -> bool {
        self.stderr_after_exit.is_none() && self.process.running()
    }

    /// SIGKILL, as a machine that dies: no cleanup, leases left to expire. Returns when.
    pub fn kill(&mut self) -> u64 {
        let at = now_ms();
        let _ = self.process.child.kill();
        let _ = self.process.child.wait();
        self.killed_at_ms = Some(at);
        self.freeze_output();
        at
    }

    /// SIGINT (Ctrl-C): running syncs stop after their current page; wait for the exit.
    pub fn interrupt(&mut self, within: Duration) -> Result<Option<i32>> {
        let status = std::process::Command::new("kill")
            .args(["-INT", &self.pid().to_string()])
            .status()
            .context("running kill -INT")?;
        if !status.success() {
            bail!("kill -INT {} failed", self.pid());
        }
        let code = wait_for(within, Duration::from_millis(50), || {
            self.process.child.try_wait().ok().flatten()
        });
        let Some(code) = code else {
            bail!(
                "serve {} did not exit within {within:?} of SIGINT\n{}",
                self.runner_id,
                tail(&self.stderr(), 4000)
            );
        };
        self.freeze_output();
        Ok(code.code())
    }

    /// After the exit: wait for the output pipes to drain and keep what they held.
    fn freeze_output(&mut self) {
        // The readers end at EOF, which follows the exit at once.
        let pumped = wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
            let a = self.process.stderr();
            std::thread::sleep(Duration::from_millis(20));
            (a == self.process.stderr()).then_some(a)
        });
        self.stderr_after_exit = Some(pumped.unwrap_or_else(|| self.process.stderr()));
    }

    /// The parsed log lines.
    pub fn lines(&self) -> Vec<LogLine> {
        self.stderr().lines().filter_map(LogLine::parse).collect()
    }

    /// `(tenant, slot)` of every run this process logged as finished (ok or not).
    pub fn finished_runs(&self) -> Vec<(String, String)> {
        self.lines()
            .into_iter()
            .filter(|l| l.message.starts_with("run finished"))
            .filter_map(|l| l.span)
            .collect()
    }

    /// `(tenant, slot)` of every run this process started (any line in its span).
    pub fn started_runs(&self) -> BTreeSet<(String, String)> {
        self.lines().into_iter().filter_map(|l| l.span).collect()
    }

    /// The address of `/metrics` and `/healthz` (`http://127.0.0.1:PORT`), once logged.
    pub fn listen_url(&self, within: Duration) -> Result<String> {
        wait_for(within, Duration::from_millis(50), || {
            self.stderr().lines().find_map(|l| {
                let rest = l.split("metrics on ").nth(1)?;
                let url = rest.split("/metrics").next()?;
                Some(url.to_string())
            })
        })
        .with_context(|| {
            format!(
                "serve {} never logged its metrics address\n{}",
                self.runner_id,
                tail(&self.stderr(), 4000)
            )
        })
    }
}

/// The last `n` bytes of `s` (for failure messages).
pub fn tail(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut cut = s.len() - n;
    while !s.is_char_boundary(cut) {
        cut += 1;
    }
    format!("…{}", &s[cut..])
}

/// One line of serve's log: `TIME LEVEL [run{tenant=X slot=Y}: ]MESSAGE [field=value...]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// When it was logged (Unix ms).
    pub at_ms: u64,
    pub level: String,
    /// `(tenant, slot)` of the innermost run span the line was logged in.
    pub span: Option<(String, String)>,
    /// Every run span in its prefix, outermost first (more than one: a span leaked into
    /// another run's context).
    pub spans: Vec<(String, String)>,
    /// Everything after the level and the spans.
    pub message: String,
    pub raw: String,
}

impl LogLine {
    pub fn parse(raw: &str) -> Option<LogLine> {
        let mut words = raw.split_whitespace();
        let time = words.next()?;
        let at_ms = humantime::parse_rfc3339(time)
            .ok()?
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_millis() as u64;
        let level = words.next()?.to_string();
        let mut rest = raw
            .split_once(level.as_str())
            .map(|(_, r)| r.trim_start())?;
        let mut spans = vec![];
        while let Some(inner) = rest.strip_prefix("run{") {
            let (fields, after) = inner.split_once('}')?;
            let field = |name: &str| {
                fields
                    .split_whitespace()
                    .find_map(|f| f.strip_prefix(&format!("{name}=")))
                    .map(str::to_string)
            };
            spans.push((field("tenant")?, field("slot")?));
            rest = after.strip_prefix(':').unwrap_or(after).trim_start();
        }
        Some(LogLine {
            at_ms,
            level,
            span: spans.last().cloned(),
            spans,
            message: rest.to_string(),
            raw: raw.to_string(),
        })
    }

    /// The value of a `name=value` field outside the span.
    pub fn field(&self, name: &str) -> Option<String> {
        self.message
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .map(|v| v.trim_matches('"').to_string())
    }

    /// The tenant the line is about: its run span's, else its `tenant=` field.
    pub fn tenant(&self) -> Option<String> {
        self.span
            .as_ref()
            .map(|(t, _)| t.clone())
            .or_else(|| self.field("tenant"))
    }
}

/// Lines of the process itself, not of any tenant: start, metrics address, tenant-file
/// problems (they name the file), shutdown.
pub fn is_process_line(line: &LogLine) -> bool {
    ["serving", "metrics on", "tenant file:", "stopping"]
        .iter()
        .any(|p| line.message.starts_with(p))
}

/// `tributary status` for the tenants and coordination index of `options`.
pub fn status(options: &ServeOptions) -> Result<crate::Run> {
    let mut args = vec!["status".to_string()];
    args.extend(options.target_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    tributary(&args, &[])
}

/// `tributary cancel TENANT --wait-secs N`.
pub fn cancel(options: &ServeOptions, tenant: &str, wait_secs: u64) -> Result<crate::Run> {
    let mut args = vec!["cancel".to_string(), tenant.to_string()];
    args.extend(options.target_args());
    args.extend(["--wait-secs".into(), wait_secs.to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    tributary(&args, &[])
}

/// `GET url` as text (metrics, health).
pub fn get_text(url: &str) -> Result<(u16, String)> {
    let resp = http()
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .with_context(|| format!("GET {url}"))?;
    let status = resp.status().as_u16();
    Ok((status, resp.text()?))
}

/// The value of one Prometheus sample: `name{labels}` with every label of `labels` (in any
/// order; other labels allowed). `None` when there is no such sample.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            let (metric_name, label_text) = match key.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (key, ""),
            };
            if metric_name != name {
                return None;
            }
            let all = labels
                .iter()
                .all(|(k, v)| label_text.contains(&format!("{k}=\"{v}\"")));
            all.then(|| value.parse::<f64>().ok()).flatten()
        })
        .next()
}

// ---------------------------------------------------------------------------------------------
// The coordination index

/// One claim document (`claim|<tenant>|<slot>`).
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub tenant: String,
    pub slot: String,
    pub state: String,
    pub holder: String,
    pub attempts: u64,
    pub takeovers: u64,
    pub started_at_ms: u64,
    pub expires_at_ms: u64,
    pub finished_at_ms: Option<u64>,
    pub outcome: Option<String>,
    pub counts: Value,
}

impl Claim {
    fn from_source(v: &Value) -> Option<Claim> {
        let s = |k: &str| v[k].as_str().map(str::to_string);
        let n = |k: &str| v[k].as_u64();
        Some(Claim {
            tenant: s("tenant")?,
            slot: s("slot")?,
            state: s("state")?,
            holder: s("holder")?,
            attempts: n("attempts").unwrap_or(0),
            takeovers: n("takeovers").unwrap_or(0),
            started_at_ms: n("started_at_ms")?,
            expires_at_ms: n("expires_at_ms").unwrap_or(0),
            finished_at_ms: n("finished_at_ms"),
            outcome: s("outcome"),
            counts: v["counts"].clone(),
        })
    }

    pub fn done(&self) -> bool {
        self.state == "done"
    }

    pub fn failed(&self) -> bool {
        self.state == "failed"
    }

    /// A `counts` number (0 when absent).
    pub fn count(&self, key: &str) -> u64 {
        self.counts[key].as_u64().unwrap_or(0)
    }

    pub fn outcome(&self) -> &str {
        self.outcome.as_deref().unwrap_or("")
    }
}

/// Every claim in the coordination index (none when it does not exist yet), oldest first.
pub fn claims(es: &SearchServer, index: &str) -> Result<Vec<Claim>> {
    let _ = es.refresh(index);
    let body = json!({
        "size": 10_000,
        "query": {"term": {"kind": "claim"}},
        "sort": [{"started_at_ms": "asc"}]
    });
    let resp = http()
        .post(format!("{}/{index}/_search", es.url))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()?;
    if resp.status().as_u16() == 404 {
        return Ok(vec![]);
    }
    let status = resp.status();
    let v: Value = serde_json::from_str(&resp.text()?)?;
    if !status.is_success() {
        bail!("searching {index}: HTTP {status}: {v}");
    }
    let hits = v["hits"]["hits"].as_array().cloned().unwrap_or_default();
    if v["hits"]["total"]["value"].as_u64() > Some(hits.len() as u64) {
        bail!("{index} holds more claims than one page of 10,000");
    }
    hits.iter()
        .map(|h| {
            Claim::from_source(&h["_source"])
                .with_context(|| format!("unreadable claim {}", h["_source"]))
        })
        .collect()
}

/// Poll the claims until `cond` says yes (or `timeout`); the error shows the last claims and
/// `context()`.
pub fn wait_claims<T>(
    es: &SearchServer,
    index: &str,
    timeout: Duration,
    what: &str,
    mut cond: impl FnMut(&[Claim]) -> Option<T>,
    context: impl Fn() -> String,
) -> Result<T> {
    let mut last = vec![];
    let found = wait_for(timeout, Duration::from_millis(250), || {
        last = claims(es, index).ok()?;
        cond(&last)
    });
    found.with_context(|| {
        let shown: Vec<String> = last
            .iter()
            .rev()
            .take(30)
            .map(|c| {
                format!(
                    "{} {} {} by {} (attempts {}, takeovers {}): {}",
                    c.tenant,
                    c.slot,
                    c.state,
                    c.holder,
                    c.attempts,
                    c.takeovers,
                    c.outcome()
                )
            })
            .collect();
        format!(
            "timed out after {timeout:?} waiting for {what}\nlatest claims:\n  {}\n{}",
            shown.join("\n  "),
            context()
        )
    })
}

/// The first claim of `tenant` that is finished (done or failed) and started at or after
/// `since_ms`.
pub fn finished_since<'a>(claims: &'a [Claim], tenant: &str, since_ms: u64) -> Option<&'a Claim> {
    claims
        .iter()
        .find(|c| c.tenant == tenant && c.started_at_ms >= since_ms && (c.done() || c.failed()))
}

/// The first claim of `tenant` that ended `done` and started at or after `since_ms`.
pub fn done_since<'a>(claims: &'a [Claim], tenant: &str, since_ms: u64) -> Option<&'a Claim> {
    claims
        .iter()
        .find(|c| c.tenant == tenant && c.started_at_ms >= since_ms && c.done())
}

// ---------------------------------------------------------------------------------------------
// Truth of a Dropbox subtree and of a filtered local folder

/// Compare the index with the emulator's tree below `prefix` (a tenant with `path = prefix`
/// and `include_received_files = false`): every entry below it indexed once under its id,
/// with its name, paths, type, size, rev and content hash; nothing else (not the folder
/// itself, nothing from outside it).
pub fn assert_index_matches_subtree(
    emu: &Emulator,
    es: &SearchServer,
    index: &str,
    prefix: &str,
) -> Result<()> {
    let docs = match es.all_docs(index) {
        Ok(d) => d,
        Err(e) if e.to_string().contains("404") => BTreeMap::new(),
        Err(e) => return Err(e),
    };
    let tree = emu.tree()?;
    let lower = prefix.to_lowercase();
    let mut expected = BTreeMap::new();
    for e in tree["entries"].as_array().cloned().unwrap_or_default() {
        let path = e["path_lower"].as_str().unwrap_or_default();
        if e[".tag"] == "deleted" || !path.starts_with(&format!("{lower}/")) {
            continue;
        }
        expected.insert(e["id"].as_str().unwrap_or_default().to_string(), e);
    }
    let mut problems = vec![];
    for (id, e) in &expected {
        let Some(doc) = docs.get(id) else {
            problems.push(format!(
                "{id} {}: missing from the index",
                e["path_display"]
            ));
            continue;
        };
        let file = e[".tag"] == "file";
        let mut check = |field: &str, want: Value| {
            let got = doc.get(field).cloned().unwrap_or(Value::Null);
            if got != want {
                problems.push(format!(
                    "{id} {}: {field} is {got}, the tree says {want}",
                    e["path_display"]
                ));
            }
        };
        check("name", e["name"].clone());
        check("file_path", e["path_display"].clone());
        check("path_lower", e["path_lower"].clone());
        check("type", json!(if file { "File" } else { "Folder" }));
        if file {
            for f in ["size", "rev", "content_hash"] {
                check(f, e[f].clone());
            }
            check("_timestamp", e["server_modified"].clone());
        }
    }
    for (id, doc) in &docs {
        if !expected.contains_key(id) {
            problems.push(format!(
                "{id} {}: in the index but not below {prefix} in the tree",
                doc["file_path"]
            ));
        }
    }
    if !problems.is_empty() {
        let n = problems.len();
        problems.truncate(30);
        bail!(
            "{index} != the tree below {prefix} ({} docs, {} expected; {n} problems):\n  {}",
            docs.len(),
            expected.len(),
            problems.join("\n  ")
        );
    }
    Ok(())
}

/// Compare the index with the directory's entries that `keep` selects (folders are always
/// walked): each indexed once with its name, type, size and modification time; nothing else.
pub fn assert_index_matches_folder_where(
    es: &SearchServer,
    index: &str,
    root: &Path,
    keep: impl Fn(&str, &Expected) -> bool,
) -> Result<()> {
    let truth: BTreeMap<String, Expected> = folder_truth(root)?
        .into_iter()
        .filter(|(p, e)| keep(p, e))
        .collect();
    let docs = es.all_docs(index)?;
    let mut indexed: BTreeMap<String, &Value> = BTreeMap::new();
    let mut problems = vec![];
    for doc in docs.values() {
        let path = doc["path"].as_str().unwrap_or_default().to_string();
        if indexed.insert(path.clone(), doc).is_some() {
            problems.push(format!("{path}: indexed twice"));
        }
    }
    for (path, want) in &truth {
        let Some(doc) = indexed.get(path) else {
            problems.push(format!("{path}: missing from the index"));
            continue;
        };
        let size = if want.folder {
            Value::Null
        } else {
            json!(want.size)
        };
        let kind = if want.folder { "folder" } else { "file" };
        for (field, expected) in [
            ("name", json!(want.name)),
            ("type", json!(kind)),
            ("size", size),
            ("modified", json!(want.modified)),
        ] {
            if doc[field] != expected {
                problems.push(format!(
                    "{path}: {field} is {}, expected {expected}",
                    doc[field]
                ));
            }
        }
    }
    for path in indexed.keys() {
        if !truth.contains_key(path) {
            problems.push(format!("{path}: indexed but not selected in the directory"));
        }
    }
    if !problems.is_empty() {
        bail!(
            "{index} != {} ({} problems):\n  {}",
            root.display(),
            problems.len(),
            problems.join("\n  ")
        );
    }
    Ok(())
}

/// A seed for a randomized test: `SERVE_SEED` if set, else the clock. Printed, so a failure
/// can be replayed.
pub fn seed(test: &str) -> u64 {
    let seed = std::env::var("SERVE_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| now_ms() % 1_000_000);
    println!("{test}: seed {seed} (replay with SERVE_SEED={seed})");
    seed
}

/// A number from the environment, or `default`.
pub fn env_number(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}

/// Seconds since `start`, for progress lines.
pub fn secs(start: Instant) -> String {
    format!("{:.1}s", start.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_split_into_spans_message_and_fields() {
        let line = LogLine::parse(
            "2026-11-30T15:34:12.937507Z ERROR run{tenant=a slot=incremental-10}:run{tenant=b slot=incremental-10}: run failed: busy tenant=b",
        )
        .expect("a log line");
        assert_eq!(line.level, "ERROR");
        assert_eq!(line.spans.len(), 2);
        assert_eq!(line.span, Some(("b".into(), "incremental-10".into())));
        assert_eq!(line.message, "run failed: busy tenant=b");
        assert_eq!(line.field("tenant").as_deref(), Some("b"));
        assert_eq!(line.at_ms % 1000, 937);
        let plain = LogLine::parse("2026-11-30T15:34:09.040565Z  INFO tenant added tenant=x")
            .expect("a log line");
        assert_eq!(plain.span, None);
        assert_eq!(plain.tenant().as_deref(), Some("x"));
        assert!(LogLine::parse("stopping: running syncs stop").is_none());
    }

    #[test]
    fn prometheus_samples_are_found_by_name_and_labels() {
        let text = "# TYPE x counter\nx{tenant=\"a\",kind=\"full\"} 3\nx{tenant=\"b\"} 1\ny 2\n";
        assert_eq!(metric(text, "x", &[("tenant", "a")]), Some(3.0));
        assert_eq!(metric(text, "x", &[("tenant", "c")]), None);
        assert_eq!(metric(text, "y", &[]), Some(2.0));
    }
}
