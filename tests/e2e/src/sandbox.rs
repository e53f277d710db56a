//! What the sandbox tests need besides the usual harness: small HTTP servers that misbehave in
//! one way each (echo what they received, redirect elsewhere, never answer, answer too much),
//! all on 127.0.0.1 port 0 and counting every request; tenants of the hostile test component;
//! runs that must end within a bound; and planted secrets with searches for them.
//!
//! The test components are built by `make test-components` into `<components>/test/`.

use crate::local_folder::component_tenant;
use crate::{Run, SearchServer, Tenant, spawn_tributary, unique};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A test component by file name (`hostile.wasm`, `future-version.wasm`).
pub fn test_component(name: &str) -> PathBuf {
    let path = crate::component_dir().join("test").join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the test components with `make test-components`",
        path.display()
    );
    path
}

/// The hostile component's path as a string (for `connector = ...`).
pub fn hostile_wasm() -> String {
    test_component("hostile.wasm")
        .to_string_lossy()
        .into_owned()
}

/// A value nobody could guess or find by accident: `<label>-<random hex>`.
pub fn planted(label: &str) -> String {
    let random = |salt: &str| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write(salt.as_bytes());
        h.finish()
    };
    format!(
        "{label}-{:016x}{:016x}",
        random(label),
        random(&unique(label))
    )
}

/// A tenant of the hostile component in `mode`, with extra `[source]` fields and `[sandbox]`
/// limits.
pub fn hostile_tenant(
    es: &SearchServer,
    mode: &str,
    source: Value,
    sandbox: Value,
) -> Result<Tenant> {
    let mut fields = json!({"mode": mode});
    merge(&mut fields, &source);
    let mut tenant = component_tenant(es, &hostile_wasm(), fields)?;
    if let Some(limits) = sandbox.as_object() {
        for (key, value) in limits {
            let value: toml::Value = serde_json::from_value(value.clone())
                .with_context(|| format!("sandbox.{key} is not a TOML value"))?;
            tenant.set("sandbox", key, value)?;
        }
    }
    Ok(tenant)
}

/// Write the tenant's `[credential]` section: the scheme, hosts, token endpoint and secret
/// fields the tenant allows its (path-loaded) component to use.
pub fn allow_credential(
    tenant: &mut Tenant,
    kind: &str,
    hosts: &[&str],
    token_url: Option<&str>,
    secret_fields: &[&str],
) -> Result<()> {
    let list =
        |items: &[&str]| toml::Value::Array(items.iter().map(|s| toml::Value::from(*s)).collect());
    tenant.set("credential", "kind", kind)?;
    tenant.set("credential", "hosts", list(hosts))?;
    if let Some(url) = token_url {
        tenant.set("credential", "token_url", url)?;
    }
    tenant.set("credential", "secret_fields", list(secret_fields))?;
    Ok(())
}

fn merge(into: &mut Value, from: &Value) {
    if let (Some(a), Some(b)) = (into.as_object_mut(), from.as_object()) {
        a.extend(b.clone());
    }
}

/// `tributary sync` of `tenant` that must end within `limit` (the test fails, and the process
/// is killed, if it does not). Extra environment for the tributary process in `env`.
pub fn sync_within(tenant: &Tenant, limit: Duration, env: &[(&str, &str)]) -> Result<Run> {
    let report = tenant
        .dir
        .path()
        .join(format!("report-{}.json", unique("r")));
    let cfg = tenant.config_path.to_string_lossy().to_string();
    let rep = report.to_string_lossy().to_string();
    let child = spawn_tributary(
        &["sync", "--config", &cfg, "--report", &rep, "--quiet"],
        env,
    )?;
    let mut run = child.wait(limit)?;
    run.report = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    Ok(run)
}

/// Where `needle` occurs in the documents of `index`: `"<id>"` for each document whose
/// source contains it anywhere (any field, any depth).
pub fn documents_containing(es: &SearchServer, index: &str, needle: &str) -> Result<Vec<String>> {
    let docs = match es.all_docs(index) {
        Ok(d) => d,
        // No index: nothing was ever written, so nothing leaked there.
        Err(e) if e.to_string().contains("404") => BTreeMap::new(),
        Err(e) => return Err(e),
    };
    Ok(docs
        .into_iter()
        .filter(|(_, d)| d.to_string().contains(needle))
        .map(|(id, _)| id)
        .collect())
}

/// The JSON report a hostile component indexed in document `id` (its `report` field).
pub fn component_report(es: &SearchServer, index: &str, id: &str) -> Result<Value> {
    let _ = es.refresh(index);
    let doc = es
        .get(index, id)?
        .with_context(|| format!("the component indexed no document {id:?} in {index}"))?;
    let text = doc["report"]
        .as_str()
        .with_context(|| format!("document {id} has no report field: {doc}"))?;
    serde_json::from_str(text).with_context(|| format!("document {id}: report is not JSON"))
}

/// Fail unless `run` exited with `code`, ended within `bound`, and its stderr names every one
/// of `words` (case-insensitive).
pub fn expect_contained(run: &Run, code: i32, bound: Duration, words: &[&str]) -> Result<()> {
    if run.code != Some(code) {
        bail!(
            "expected exit code {code}, got {:?}\n{}",
            run.code,
            run.describe()
        );
    }
    if run.elapsed > bound {
        bail!(
            "the run took {:.1}s, more than the {:.0}s its limits allow\n{}",
            run.elapsed.as_secs_f64(),
            bound.as_secs_f64(),
            run.describe()
        );
    }
    let stderr = run.stderr.to_lowercase();
    let missing: Vec<&&str> = words
        .iter()
        .filter(|w| !stderr.contains(&w.to_lowercase()))
        .collect();
    if !missing.is_empty() {
        bail!(
            "stderr does not name {missing:?} (the reason and the setting that raises the limit)\n{}",
            run.describe()
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Misbehaving HTTP servers

/// What a test server does with each request.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// 200 with the request as JSON: `{"request_line", "method", "path", "headers": [[name,
    /// value]...], "body"}`.
    Echo,
    /// 302 to `location`.
    Redirect { location: String },
    /// Read the request, then never answer (the connection stays open until the server drops).
    Hang,
    /// 200 with `bytes` bytes of body, announced with Content-Length or sent chunked.
    Big { bytes: usize, chunked: bool },
    /// 200 with this body.
    Fixed { body: String },
}

/// One request as a test server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub request_line: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    /// The request, every byte of it, as text (to search for a secret).
    pub fn raw(&self) -> String {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}"))
            .collect();
        format!(
            "{}\n{}\n\n{}",
            self.request_line,
            headers.join("\n"),
            self.body
        )
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP/1.1 server on 127.0.0.1:0 with one behaviour; stops (and drops held connections)
/// on drop.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    held: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
}

impl TestServer {
    pub fn start(behaviour: Behaviour) -> Result<TestServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (r, h, s) = (received.clone(), held.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (r, h, b) = (r.clone(), h.clone(), behaviour.clone());
                // A thread per connection: a held (hanging) one must not block the others.
                std::thread::spawn(move || {
                    let _ = handle(conn, &b, &r, &h);
                });
            }
        });
        Ok(TestServer {
            url,
            received,
            held,
            stop,
        })
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    pub fn count(&self) -> usize {
        self.received.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// Requests whose raw text contains `needle`.
    pub fn requests_containing(&self, needle: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.raw().contains(needle))
            .collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(mut held) = self.held.lock() {
            for conn in held.drain(..) {
                let _ = conn.shutdown(Shutdown::Both);
            }
        }
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

fn read_request(conn: &TcpStream) -> std::io::Result<Option<Received>> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(None);
    }
    let mut headers = vec![];
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    Ok(Some(Received {
        request_line: request_line.trim_end().to_string(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }))
}

fn handle(
    mut conn: TcpStream,
    behaviour: &Behaviour,
    received: &Mutex<Vec<Received>>,
    held: &Mutex<Vec<TcpStream>>,
) -> std::io::Result<()> {
    let Some(request) = read_request(&conn)? else {
        return Ok(());
    };
    if let Ok(mut r) = received.lock() {
        r.push(request.clone());
    }
    let respond = |conn: &mut TcpStream, status: &str, extra: &str, body: &[u8]| {
        write!(
            conn,
            "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        conn.write_all(body)?;
        conn.flush()
    };
    match behaviour {
        Behaviour::Echo => {
            let mut parts = request.request_line.split_whitespace();
            let body = json!({
                "request_line": request.request_line,
                "method": parts.next(),
                "path": parts.next(),
                "headers": request.headers,
                "body": request.body,
            })
            .to_string();
            respond(
                &mut conn,
                "200 OK",
                "Content-Type: application/json\r\n",
                body.as_bytes(),
            )
        }
        Behaviour::Redirect { location } => respond(
            &mut conn,
            "302 Found",
            &format!("Location: {location}\r\n"),
            b"moved",
        ),
        Behaviour::Hang => {
            if let Ok(mut h) = held.lock() {
                h.push(conn);
            }
            Ok(())
        }
        Behaviour::Big { bytes, chunked } => {
            let chunk = vec![b'z'; 64 << 10];
            if *chunked {
                write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                )?;
            } else {
                write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Length: {bytes}\r\nConnection: close\r\n\r\n"
                )?;
            }
            let mut left = *bytes;
            while left > 0 {
                let n = left.min(chunk.len());
                if *chunked {
                    write!(conn, "{n:x}\r\n")?;
                    conn.write_all(&chunk[..n])?;
                    write!(conn, "\r\n")?;
                } else {
                    conn.write_all(&chunk[..n])?;
                }
                left -= n;
            }
            if *chunked {
                write!(conn, "0\r\n\r\n")?;
            }
            conn.flush()
        }
        Behaviour::Fixed { body } => respond(
            &mut conn,
            "200 OK",
            "Content-Type: text/plain\r\n",
            body.as_bytes(),
        ),
    }
}
