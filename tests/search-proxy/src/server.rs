//! The proxy: accept loop, the `/_proxy/` admin API, fault injection and forwarding.

use crate::bulk;
use crate::kind::classify;
use crate::rules::{Action, DropPoint, FaultConfig, Faults};
use crate::stats::{Outcome, Stats};
use anyhow::{Context, bail};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Returned by the service to make hyper close the connection without answering.
#[derive(Debug)]
pub struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by search-fault-proxy")
    }
}

impl std::error::Error for Dropped {}

type Reply = Result<Response<Full<Bytes>>, Dropped>;

/// How the proxy answers while it is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DownMode {
    /// Every request is answered 503.
    #[serde(rename = "503")]
    Unavailable,
    /// Every connection is closed without an answer.
    Refuse,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DownBody {
    #[serde(default)]
    mode: Option<DownMode>,
}

/// Settings of one proxy.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// `http://host:port` of the search server.
    pub upstream: String,
    /// Seed used until a `POST /_proxy/faults` brings its own.
    pub seed: u64,
    /// Indices whose name starts with this are the state index (kind `state`).
    pub state_index_prefix: String,
}

/// Shared state of a running proxy.
pub struct Proxy {
    upstream_authority: String,
    state_index_prefix: String,
    faults: Mutex<Faults>,
    down: Mutex<Option<DownMode>>,
    stats: Mutex<Stats>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock cannot leave these counters half-updated in a way that
    // matters more than stopping the proxy would.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running proxy.
pub struct Server {
    pub addr: SocketAddr,
    pub proxy: Arc<Proxy>,
    task: JoinHandle<()>,
}

impl Server {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        let ip = if self.addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            self.addr.ip().to_string()
        };
        format!("http://{ip}:{}", self.addr.port())
    }

    /// Stop accepting connections.
    pub fn abort(&self) {
        self.task.abort();
    }
}

/// `http://host:port[/]` → `host:port`.
fn authority_of(upstream: &str) -> anyhow::Result<String> {
    let uri: http::Uri = upstream
        .parse()
        .with_context(|| format!("--upstream {upstream:?} is not a URL"))?;
    if uri.scheme_str() != Some("http") {
        bail!("--upstream {upstream:?}: only http:// upstreams are supported");
    }
    if !matches!(uri.path(), "" | "/") {
        bail!("--upstream {upstream:?}: give the server's base URL, without a path");
    }
    let auth = uri
        .authority()
        .with_context(|| format!("--upstream {upstream:?} has no host"))?;
    Ok(match auth.port_u16() {
        Some(_) => auth.to_string(),
        None => format!("{}:80", auth.host()),
    })
}

/// Bind `listen` and serve in the background.
pub async fn start(cfg: ProxyConfig, listen: &str) -> anyhow::Result<Server> {
    let proxy = Arc::new(Proxy {
        upstream_authority: authority_of(&cfg.upstream)?,
        state_index_prefix: cfg.state_index_prefix,
        faults: Mutex::new(
            Faults::new(FaultConfig {
                seed: cfg.seed,
                rules: Vec::new(),
            })
            .map_err(anyhow::Error::msg)?,
        ),
        down: Mutex::new(None),
        stats: Mutex::new(Stats::default()),
    });
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    let shared = proxy.clone();
    let task = tokio::spawn(async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let proxy = shared.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(proxy.clone(), req));
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(Server { addr, proxy, task })
}

fn respond(status: u16, body: &Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(
        serde_json::to_vec(body).unwrap_or_default(),
    )));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// An Elasticsearch-shaped error answer.
pub fn es_error(status: u16, reason: &str) -> Response<Full<Bytes>> {
    let kind = match status {
        429 => "es_rejected_execution_exception",
        503 => "unavailable_shards_exception",
        500..=599 => "search_fault_proxy_injected_exception",
        _ => "illegal_argument_exception",
    };
    let error = json!({"type": kind, "reason": reason});
    respond(
        status,
        &json!({"error": {"root_cause": [error.clone()], "type": kind, "reason": reason}, "status": status}),
    )
}

async fn handle(proxy: Arc<Proxy>, req: Request<Incoming>) -> Reply {
    let path = req.uri().path().to_string();
    if let Some(rest) = path.strip_prefix("/_proxy/") {
        let method = req.method().clone();
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                return Ok(respond(
                    400,
                    &json!({"error": format!("reading the body: {e}")}),
                ));
            }
        };
        return Ok(admin(&proxy, &method, rest, &body));
    }
    let kind = classify(&path, &proxy.state_index_prefix);
    let down = *lock(&proxy.down);
    match down {
        Some(DownMode::Unavailable) => {
            lock(&proxy.stats).record(kind, Outcome::Status(503), false);
            return Ok(es_error(
                503,
                "search-fault-proxy is down (POST /_proxy/up)",
            ));
        }
        Some(DownMode::Refuse) => {
            lock(&proxy.stats).record(kind, Outcome::DroppedBefore, false);
            return Err(Dropped);
        }
        None => {}
    }
    let method = req.method().clone();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    let decision = lock(&proxy.faults).decide(kind, method.as_str(), &path_and_query);
    let faulted = decision.latency_ms > 0 || decision.action != Action::Forward;
    if faulted {
        lock(&proxy.stats).injected();
    }
    if decision.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(decision.latency_ms)).await;
    }
    match decision.action {
        Action::Status(s) => {
            lock(&proxy.stats).record(kind, Outcome::Status(s), false);
            return Ok(es_error(s, &format!("injected {s} by search-fault-proxy")));
        }
        Action::Drop(DropPoint::Before) => {
            lock(&proxy.stats).record(kind, Outcome::DroppedBefore, false);
            return Err(Dropped);
        }
        Action::Drop(DropPoint::After) | Action::Forward | Action::RejectItems { .. } => {}
    }
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(Dropped),
    };
    let out = Outgoing {
        method: &method,
        path_and_query: &path_and_query,
        headers: &parts.headers,
    };
    let result = match decision.action {
        Action::RejectItems { fraction, sticky } => {
            forward_bulk(&proxy, &out, body, fraction, sticky).await
        }
        _ => forward(&proxy, &out, body).await,
    };
    let (response, forwarded) = match result {
        Ok(r) => (r, true),
        Err(e) => (
            es_error(
                502,
                &format!("search-fault-proxy: the upstream failed: {e:#}"),
            ),
            false,
        ),
    };
    if forwarded && decision.action == Action::Drop(DropPoint::After) {
        lock(&proxy.stats).record(kind, Outcome::DroppedAfter, true);
        return Err(Dropped);
    }
    lock(&proxy.stats).record(kind, Outcome::Status(response.status().as_u16()), forwarded);
    Ok(response)
}

/// What is forwarded of a request, besides its body.
struct Outgoing<'a> {
    method: &'a Method,
    path_and_query: &'a str,
    headers: &'a HeaderMap,
}

/// Forward with the given body; the answer is read completely.
async fn forward(
    proxy: &Proxy,
    out: &Outgoing<'_>,
    body: Bytes,
) -> anyhow::Result<Response<Full<Bytes>>> {
    let Outgoing {
        method,
        path_and_query,
        headers,
    } = *out;
    let stream = TcpStream::connect(&proxy.upstream_authority)
        .await
        .with_context(|| format!("connecting to {}", proxy.upstream_authority))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake with the upstream")?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = Request::builder()
        .method(method.clone())
        .uri(path_and_query)
        .body(Full::new(body))
        .context("building the upstream request")?;
    for (name, value) in headers {
        if !is_hop_header(name) && name != header::HOST && name != header::CONTENT_LENGTH {
            req.headers_mut().append(name.clone(), value.clone());
        }
    }
    req.headers_mut().insert(
        header::HOST,
        HeaderValue::from_str(&proxy.upstream_authority).context("upstream host header")?,
    );
    let resp = sender
        .send_request(req)
        .await
        .context("sending to the upstream")?;
    let (parts, body) = resp.into_parts();
    let bytes = body
        .collect()
        .await
        .context("reading the upstream answer")?
        .to_bytes();
    let mut out = Response::new(Full::new(bytes));
    *out.status_mut() = parts.status;
    for (name, value) in &parts.headers {
        let keep_length = *method == Method::HEAD && name == header::CONTENT_LENGTH;
        if !is_hop_header(name) && (name != header::CONTENT_LENGTH || keep_length) {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(out)
}

fn is_hop_header(name: &header::HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::TRANSFER_ENCODING
        || name == header::TE
        || name == header::UPGRADE
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

/// The index a `/{index}/_bulk` path names (`""` for `/_bulk`).
fn path_index(path: &str) -> &str {
    path.trim_start_matches('/')
        .split('/')
        .next()
        .filter(|s| !s.starts_with('_'))
        .unwrap_or("")
}

/// Forward a `_bulk` without the items picked for rejection, then answer for all of them.
async fn forward_bulk(
    proxy: &Proxy,
    out: &Outgoing<'_>,
    body: Bytes,
    fraction: f64,
    sticky: bool,
) -> anyhow::Result<Response<Full<Bytes>>> {
    let items = match bulk::split(&body) {
        Ok(items) => items,
        // Not a body we understand: let the server say what is wrong with it.
        Err(_) => return forward(proxy, out, body).await,
    };
    let path = out
        .path_and_query
        .split_once('?')
        .map_or(out.path_and_query, |(p, _)| p);
    let index = path_index(path);
    let keys: Vec<String> = items
        .iter()
        .enumerate()
        .map(|(n, i)| i.key(index, n))
        .collect();
    let rejected = lock(&proxy.faults).reject_items(&keys, fraction, sticky);
    let n_rejected = rejected.iter().filter(|r| **r).count() as u64;
    lock(&proxy.stats).items(items.len() as u64 - n_rejected, n_rejected);
    if n_rejected == 0 {
        return forward(proxy, out, body).await;
    }
    let upstream = if n_rejected as usize == items.len() {
        None
    } else {
        let keep: Vec<bool> = rejected.iter().map(|r| !r).collect();
        let resp = forward(proxy, out, Bytes::from(bulk::join(&items, &keep))).await?;
        if !resp.status().is_success() {
            return Ok(resp);
        }
        let bytes = resp
            .into_body()
            .collect()
            .await
            .context("re-reading the upstream _bulk answer")?
            .to_bytes();
        Some(serde_json::from_slice::<Value>(&bytes).context("the upstream _bulk answer")?)
    };
    let merged =
        bulk::merge(&items, &rejected, upstream.as_ref(), index).map_err(anyhow::Error::msg)?;
    Ok(respond(200, &merged))
}

fn admin(proxy: &Proxy, method: &Method, rest: &str, body: &[u8]) -> Response<Full<Bytes>> {
    let ok = || respond(200, &json!({"ok": true}));
    match (method.as_str(), rest.trim_end_matches('/')) {
        ("POST", "faults") => match serde_json::from_slice::<FaultConfig>(body)
            .map_err(|e| format!("POST /_proxy/faults: {e}"))
            .and_then(|cfg| {
                let n = cfg.rules.len();
                Faults::new(cfg).map(|f| (f, n))
            }) {
            Ok((faults, n)) => {
                *lock(&proxy.faults) = faults;
                respond(200, &json!({"ok": true, "rules": n}))
            }
            Err(e) => respond(400, &json!({"error": e})),
        },
        ("DELETE", "faults") => {
            let mut f = lock(&proxy.faults);
            *f = Faults::default();
            ok()
        }
        ("GET", "stats") => respond(200, &lock(&proxy.stats).to_json()),
        ("POST", "stats/reset") => {
            lock(&proxy.stats).reset();
            ok()
        }
        ("POST", "down") => {
            let mode = if body.iter().all(u8::is_ascii_whitespace) {
                Ok(DownMode::Unavailable)
            } else {
                serde_json::from_slice::<DownBody>(body)
                    .map(|b| b.mode.unwrap_or(DownMode::Unavailable))
                    .map_err(|e| {
                        format!("POST /_proxy/down: {e} (want {{\"mode\": \"503\"|\"refuse\"}})")
                    })
            };
            match mode {
                Ok(m) => {
                    *lock(&proxy.down) = Some(m);
                    ok()
                }
                Err(e) => respond(400, &json!({"error": e})),
            }
        }
        ("POST", "up") => {
            *lock(&proxy.down) = None;
            ok()
        }
        _ => respond(
            404,
            &json!({"error": format!("unknown admin call {method} /_proxy/{rest}; see tests/search-proxy/src/lib.rs")}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls() {
        assert_eq!(
            authority_of("http://127.0.0.1:9200").unwrap(),
            "127.0.0.1:9200"
        );
        assert_eq!(
            authority_of("http://127.0.0.1:9200/").unwrap(),
            "127.0.0.1:9200"
        );
        assert_eq!(authority_of("http://localhost").unwrap(), "localhost:80");
        assert!(authority_of("https://x:1").is_err());
        assert!(authority_of("http://x:1/prefix").is_err());
        assert!(authority_of("nonsense").is_err());
    }

    #[test]
    fn bulk_path_index() {
        assert_eq!(path_index("/docs/_bulk"), "docs");
        assert_eq!(path_index("/_bulk"), "");
    }
}
