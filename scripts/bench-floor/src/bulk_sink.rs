//! A `_bulk` endpoint that costs next to nothing: it reads the body, finds the action lines
//! and answers every item as done (201 for an index, 200 for an update or a delete) without
//! parsing a document. Everything else (index creation, the checkpoint store, `_mget`,
//! `_refresh`, `_delete_by_query`) goes to a real server, so the runner behaves exactly as
//! against a cluster whose indexing is free.
use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::TcpListener;

#[derive(clap::Args)]
pub struct Args {
    /// Where everything but `_bulk` goes (a search server, e.g. osmem-server).
    #[arg(long)]
    pub upstream: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Keep the body of the first `_bulk` request in this file (to look at the documents).
    #[arg(long)]
    pub sample: Option<std::path::PathBuf>,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    bytes: AtomicU64,
    index: AtomicU64,
    update: AtomicU64,
    delete: AtomicU64,
    /// Bytes of the action and source lines of `index`/`create` items alone.
    index_bytes: AtomicU64,
    proxied: AtomicU64,
}

struct State {
    upstream: String,
    http: reqwest::Client,
    counters: Counters,
    sample: Option<std::path::PathBuf>,
}

pub async fn serve(args: Args) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let state = Arc::new(State {
        upstream: args.upstream.trim_end_matches('/').to_string(),
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()?,
        counters: Counters::default(),
        sample: args.sample,
    });
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "http://{}", listener.local_addr()?)?;
        out.flush()?;
    }
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(state.clone(), req));
            // A client that hangs up mid-request is not our concern.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = req.uri().path().to_string();
    if path == "/_bench/reset" {
        let c = &state.counters;
        for counter in [
            &c.requests,
            &c.bytes,
            &c.index,
            &c.update,
            &c.delete,
            &c.index_bytes,
            &c.proxied,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        return Ok(reply(StatusCode::OK, "{}".into()));
    }
    if path == "/_bench/stats" {
        let c = &state.counters;
        let body = json!({
            "bulk_requests": c.requests.load(Ordering::Relaxed),
            "bulk_bytes": c.bytes.load(Ordering::Relaxed),
            "index": c.index.load(Ordering::Relaxed),
            "update": c.update.load(Ordering::Relaxed),
            "delete": c.delete.load(Ordering::Relaxed),
            "index_bytes": c.index_bytes.load(Ordering::Relaxed),
            "proxied": c.proxied.load(Ordering::Relaxed),
        });
        return Ok(reply(StatusCode::OK, body.to_string()));
    }
    if path == "/_bulk" || path.ends_with("/_bulk") {
        let body = req.into_body().collect().await?.to_bytes();
        return Ok(bulk(&state, body));
    }
    Ok(proxy(&state, req)
        .await
        .unwrap_or_else(|e| reply(StatusCode::BAD_GATEWAY, format!("{{\"error\":\"{e:#}\"}}"))))
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Answer every action of an NDJSON `_bulk` body as done.
fn bulk(state: &State, body: Bytes) -> Response<Full<Bytes>> {
    let c = &state.counters;
    if c.requests.fetch_add(1, Ordering::Relaxed) == 0
        && let Some(path) = &state.sample
    {
        let _ = std::fs::write(path, &body);
    }
    c.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
    let mut items = String::with_capacity(body.len() / 8 + 64);
    items.push_str("{\"took\":0,\"errors\":false,\"items\":[");
    let mut lines = body.split(|b| *b == b'\n').filter(|l| !l.is_empty());
    let mut first = true;
    while let Some(action) = lines.next() {
        // `{"index":{...}}`: the action is the first key.
        let name = action
            .get(2..)
            .and_then(|rest| rest.iter().position(|b| *b == b'"').map(|end| &rest[..end]))
            .unwrap_or(b"index");
        let (label, status) = match name {
            b"delete" => {
                c.delete.fetch_add(1, Ordering::Relaxed);
                ("delete", 200)
            }
            b"update" => {
                c.update.fetch_add(1, Ordering::Relaxed);
                lines.next();
                ("update", 200)
            }
            b"create" => {
                c.index.fetch_add(1, Ordering::Relaxed);
                let source = lines.next().map_or(0, <[u8]>::len);
                c.index_bytes
                    .fetch_add((action.len() + source + 2) as u64, Ordering::Relaxed);
                ("create", 201)
            }
            _ => {
                c.index.fetch_add(1, Ordering::Relaxed);
                let source = lines.next().map_or(0, <[u8]>::len);
                c.index_bytes
                    .fetch_add((action.len() + source + 2) as u64, Ordering::Relaxed);
                ("index", 201)
            }
        };
        if !first {
            items.push(',');
        }
        first = false;
        items.push_str("{\"");
        items.push_str(label);
        items.push_str("\":{\"status\":");
        items.push_str(if status == 201 { "201" } else { "200" });
        items.push_str("}}");
    }
    items.push_str("]}");
    reply(StatusCode::OK, items)
}

/// Pass a request on to the upstream server and its answer back.
async fn proxy(state: &State, req: Request<Incoming>) -> anyhow::Result<Response<Full<Bytes>>> {
    state.counters.proxied.fetch_add(1, Ordering::Relaxed);
    let target = format!(
        "{}{}",
        state.upstream,
        req.uri().path_and_query().map_or("/", |p| p.as_str())
    );
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())?;
    let mut forward = state.http.request(method, &target);
    for (name, value) in req.headers() {
        if !matches!(
            name.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            forward = forward.header(name.as_str(), value.as_bytes());
        }
    }
    let body = req.into_body().collect().await?.to_bytes();
    let answer = forward
        .body(body)
        .send()
        .await
        .with_context(|| format!("passing a request on to {target}"))?;
    let status = answer.status().as_u16();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await?;
    let mut response = Response::new(Full::new(bytes));
    *response.status_mut() = StatusCode::from_u16(status)?;
    for (name, value) in &headers {
        if !matches!(
            name.as_str(),
            "content-length" | "connection" | "transfer-encoding"
        ) && let (Ok(n), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(name.as_str().as_bytes()),
            hyper::header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            response.headers_mut().append(n, v);
        }
    }
    Ok(response)
}
