//! HTTP plumbing: accept loop, fault injection, the Dropbox request envelope (argument
//! transport, content types, auth, Select-User, Path-Root), and response headers.

use crate::app::App;
use crate::content::Body;
use crate::errors::{ApiError, nest};
use crate::faults::Decision;
use crate::oauth::{self, Principal};
use crate::routes::{self, AuthKind, Call, Caller, Reply, Style};
use crate::stats::Answered;
use http::{HeaderMap, HeaderValue, Method, Request, Response, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Returned by the service to make hyper close the connection without answering.
#[derive(Debug)]
pub struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

/// A running server.
pub struct Server {
    /// Bound address.
    pub addr: SocketAddr,
    /// Shared state (tests poke it directly).
    pub app: Arc<App>,
    task: JoinHandle<()>,
}

impl Server {
    /// Base URL, e.g. `http://127.0.0.1:8765`.
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

/// Bind `listen` and serve `app` in the background.
pub async fn start(app: Arc<App>, listen: &str) -> anyhow::Result<Server> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let shared = app.clone();
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
            let app = shared.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(app.clone(), req));
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(Server { addr, app, task })
}

/// Route key for stats and faults: the path without `/2/` or `/`.
pub fn route_key(path: &str) -> String {
    path.strip_prefix("/2/")
        .or_else(|| path.strip_prefix('/'))
        .unwrap_or(path)
        .to_string()
}

async fn handle(app: Arc<App>, req: Request<Incoming>) -> Result<Response<Body>, Dropped> {
    let path = req.uri().path().to_string();
    let key = route_key(&path);
    let admin = path.starts_with("/_admin");
    let rid = app.request_id();
    let arrived = std::time::Instant::now();
    let mut injected = None;
    if !admin {
        let (latency, decision) = app.faults().decide(&key);
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        match decision {
            Some(Decision::Drop) => {
                app.stats().record(Answered {
                    route: &key,
                    status: None,
                    bytes: 0,
                    arrived,
                    retry_after: None,
                });
                return Err(Dropped);
            }
            Some(Decision::Respond(e)) => injected = Some(error_response(&e)),
            None => {}
        }
    }
    let mut resp = match injected {
        Some(r) => r,
        None => route(&app, req, &path).await,
    };
    if let Ok(v) = HeaderValue::from_str(&rid) {
        resp.headers_mut().insert("x-dropbox-request-id", v);
    }
    if !admin {
        let retry_after = resp
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        app.stats().record(Answered {
            route: &key,
            status: Some(resp.status().as_u16()),
            bytes: resp.body().len(),
            arrived,
            retry_after,
        });
    }
    Ok(resp)
}

/// Build a response with a body and content type.
pub fn respond(status: u16, content_type: &str, body: impl Into<bytes::Bytes>) -> Response<Body> {
    let mut r = Response::new(Body::full(body));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

/// JSON response with `Content-Type: application/json` exactly.
pub fn json_response(status: u16, v: &Value) -> Response<Body> {
    respond(
        status,
        "application/json",
        serde_json::to_vec(v).unwrap_or_default(),
    )
}

/// Render an error.
pub fn error_response(e: &ApiError) -> Response<Body> {
    let r = e.render();
    let mut resp = respond(r.status, r.content_type, r.body);
    if let Some(secs) = r.retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// JSON with every character ≥ U+007F written as `\uXXXX` (HTTP-header-safe).
pub fn header_safe_json(v: &Value) -> String {
    let s = serde_json::to_string(v).unwrap_or_default();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if (c as u32) < 0x7F {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                let _ = write!(out, "\\u{u:04x}");
            }
        }
    }
    out
}

async fn route(app: &Arc<App>, req: Request<Incoming>, path: &str) -> Response<Body> {
    let method = req.method().clone();
    let query = req.uri().query().unwrap_or("").to_string();
    match path {
        "/oauth2/token" => {
            if method != Method::POST {
                return respond(405, "text/plain; charset=utf-8", "Method Not Allowed");
            }
            let basic = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Basic "))
                .map(str::to_string);
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => return respond(400, "text/plain; charset=utf-8", "bad body"),
            };
            let (status, v) = oauth::token(app, &query, &body, basic.as_deref());
            json_response(status, &v)
        }
        "/oauth2/authorize" => match oauth::authorize(app, &query) {
            oauth::Authorize::Redirect(loc) => {
                let mut r = respond(302, "text/html; charset=utf-8", "");
                if let Ok(v) = HeaderValue::from_str(&loc) {
                    r.headers_mut().insert(header::LOCATION, v);
                }
                r
            }
            oauth::Authorize::Page(html) => respond(200, "text/html; charset=utf-8", html),
            oauth::Authorize::Error(msg) => respond(400, "text/html; charset=utf-8", msg),
        },
        p if p.starts_with("/_admin/") => {
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => return respond(400, "text/plain; charset=utf-8", "bad body"),
            };
            routes::admin::handle(app, &method, &p["/_admin/".len()..], &query, &body)
        }
        p if p.starts_with("/2/") => {
            let name = p[3..].to_string();
            match api(app, req, &name).await {
                Ok(r) => r,
                Err(e) => error_response(&e),
            }
        }
        _ => respond(404, "text/plain; charset=utf-8", "Not Found"),
    }
}

const RPC_TYPES: [&str; 3] = [
    "application/json",
    "application/json; charset=utf-8",
    "text/plain; charset=dropbox-cors-hack",
];

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The argument of a download/upload route: `Dropbox-API-Arg` or `?arg=`.
fn header_arg(
    name: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Value, ApiError> {
    let raw = match headers.get("dropbox-api-arg") {
        Some(v) => {
            if v.as_bytes().iter().any(|b| *b >= 0x7F) {
                return Err(ApiError::bad(
                    name,
                    "HTTP header \"Dropbox-API-Arg\": could not decode input as JSON (characters above U+007E must be escaped as \\uXXXX)",
                ));
            }
            String::from_utf8_lossy(v.as_bytes()).to_string()
        }
        None => match query.get("arg") {
            Some(a) => a.clone(),
            None => {
                return Err(ApiError::bad(
                    name,
                    "Must provide HTTP header \"Dropbox-API-Arg\" or URL parameter \"arg\".",
                ));
            }
        },
    };
    serde_json::from_str(&raw).map_err(|_| {
        ApiError::bad(
            name,
            "HTTP header \"Dropbox-API-Arg\": could not decode input as JSON",
        )
    })
}

async fn api(
    app: &Arc<App>,
    req: Request<Incoming>,
    name: &str,
) -> Result<Response<Body>, ApiError> {
    let spec = routes::spec(name)
        .ok_or_else(|| ApiError::Status(404, format!("Unknown API function: \"{name}\"")))?;
    let allowed = req.method() == Method::POST
        || (spec.style == Style::Download && req.method() == Method::GET);
    if !allowed {
        return Err(ApiError::Status(405, "Method Not Allowed".into()));
    }
    let (parts, body) = req.into_parts();
    let query: HashMap<String, String> =
        oauth::parse_form(parts.uri.query().unwrap_or("").as_bytes());
    let body = body
        .collect()
        .await
        .map_err(|_| ApiError::bad(name, "could not read the request body"))?
        .to_bytes();
    let headers = &parts.headers;
    let content_type = header_str(headers, "content-type").map(str::trim);
    let (arg, arg_source) = match spec.style {
        Style::Rpc => {
            let arg = if body.is_empty() && content_type.is_none() && spec.void {
                Value::Null
            } else {
                match content_type {
                    Some(ct) if RPC_TYPES.iter().any(|t| t.eq_ignore_ascii_case(ct)) => {}
                    other => {
                        return Err(ApiError::bad(
                            name,
                            format!(
                                "Bad HTTP \"Content-Type\" header: \"{}\".  Expecting one of \"application/json\", \"application/json; charset=utf-8\", \"text/plain; charset=dropbox-cors-hack\".",
                                other.unwrap_or("")
                            ),
                        ));
                    }
                }
                serde_json::from_slice(&body).map_err(|_| {
                    ApiError::bad(name, "request body: could not decode input as JSON")
                })?
            };
            if spec.void && !arg.is_null() {
                return Err(ApiError::bad(
                    name,
                    "request body: expected null, got value",
                ));
            }
            (arg, "request body")
        }
        Style::Download => (
            header_arg(name, headers, &query)?,
            "HTTP header \"Dropbox-API-Arg\"",
        ),
        Style::Upload => {
            match content_type {
                Some(ct)
                    if ct.eq_ignore_ascii_case("application/octet-stream")
                        || ct.eq_ignore_ascii_case("text/plain; charset=dropbox-cors-hack") => {}
                other => {
                    return Err(ApiError::bad(
                        name,
                        format!(
                            "Bad HTTP \"Content-Type\" header: \"{}\".  Expecting one of \"application/octet-stream\", \"text/plain; charset=dropbox-cors-hack\".",
                            other.unwrap_or("")
                        ),
                    ));
                }
            }
            (
                header_arg(name, headers, &query)?,
                "HTTP header \"Dropbox-API-Arg\"",
            )
        }
    };
    let caller = match spec.auth {
        AuthKind::None => None,
        kind => authenticate(app, name, kind, headers, &query)?,
    };
    let call = Call {
        route: name,
        arg,
        arg_source,
        caller,
        body,
        headers,
    };
    let reply = if name == "files/list_folder/longpoll" {
        routes::files::longpoll(app, &call).await?
    } else {
        routes::dispatch(app, &call)?
    };
    Ok(match reply {
        Reply::Json(v) => json_response(200, &v),
        Reply::Download {
            result,
            body,
            status,
            content_range,
        } => {
            let mut r = Response::new(body);
            *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            if let Ok(v) = HeaderValue::from_str(&header_safe_json(&result)) {
                h.insert("dropbox-api-result", v);
            }
            if let Some(cr) = content_range.and_then(|c| HeaderValue::from_str(&c).ok()) {
                h.insert(header::CONTENT_RANGE, cr);
            }
            r
        }
    })
}

/// Check the credentials of a route that needs auth. `Ok(None)` is app auth (HTTP Basic with
/// the app key and secret) on an `app, user` route: the call has no user behind it.
fn authenticate(
    app: &App,
    name: &str,
    kind: AuthKind,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Option<Caller>, ApiError> {
    let raw = match headers.get(header::AUTHORIZATION) {
        Some(v) => String::from_utf8_lossy(v.as_bytes()).to_string(),
        None => match query.get("authorization") {
            Some(a) => a.clone(),
            None => {
                return Err(ApiError::bad(
                    name,
                    "Must provide HTTP header \"Authorization\" or URL parameter \"authorization\".",
                ));
            }
        },
    };
    if kind == AuthKind::AppUser
        && let Some(basic) = raw.strip_prefix("Basic ")
    {
        return if oauth::app_auth_ok(app, basic) {
            Ok(None)
        } else {
            Err(ApiError::bad(
                name,
                format!(
                    "Invalid authorization value in HTTP header \"Authorization\": \"{raw}\".  The app key or app secret is invalid."
                ),
            ))
        };
    }
    let token = raw.strip_prefix("Bearer ").ok_or_else(|| {
        ApiError::bad(
            name,
            format!(
                "Invalid authorization value in HTTP header \"Authorization\": \"{raw}\".  Expecting \"Bearer <oauth2-access-token>\"."
            ),
        )
    })?;
    let token = token.trim();
    let principal = app.tokens().check(name, token)?;
    let world = app.read_world();
    let caller = |account: usize, view| {
        Some(Caller {
            account,
            view,
            token: token.to_string(),
        })
    };
    match (kind, principal) {
        (AuthKind::Team | AuthKind::AnyToken, Principal::Team) => {
            let admin = world.default_account();
            let mut view = world.root_view(admin);
            view.admin = true;
            Ok(caller(admin, view))
        }
        (AuthKind::AnyToken, Principal::User(account)) => {
            Ok(caller(account, world.home_view(account)))
        }
        (AuthKind::Team, Principal::User(_)) => Err(ApiError::bad(
            name,
            "This API function operates on an entire Dropbox Business team, but the OAuth 2 access token you provided is for a single Dropbox account.",
        )),
        (_, Principal::User(account)) => {
            let view = path_root(&world, name, account, headers, false)?;
            Ok(caller(account, view))
        }
        (_, Principal::Team) => {
            let (member, admin_mode) = match (
                header_str(headers, "dropbox-api-select-user")
                    .or(query.get("select_user").map(String::as_str)),
                header_str(headers, "dropbox-api-select-admin")
                    .or(query.get("select_admin").map(String::as_str)),
            ) {
                (Some(m), _) => (m.trim().to_string(), false),
                (None, Some(a)) => (a.trim().to_string(), true),
                (None, None) => {
                    return Err(ApiError::bad(
                        name,
                        "This API function operates on a single Dropbox account, but the OAuth 2 access token you provided is for an entire Dropbox Business team.  Since your API app key has team member file access permissions, you can operate on a team member's Dropbox by providing the \"Dropbox-API-Select-User\" HTTP header or \"select_user\" URL parameter.",
                    ));
                }
            };
            if !member.starts_with("dbmid:") {
                return Err(ApiError::bad(name, "Invalid select user id format"));
            }
            let account = world.member(&member).ok_or_else(|| {
                ApiError::auth(if admin_mode {
                    "invalid_select_admin"
                } else {
                    "invalid_select_user"
                })
            })?;
            if admin_mode && !world.accounts[account].admin {
                return Err(ApiError::auth("invalid_select_admin"));
            }
            // Invited members have no account yet and removed ones have left.
            if matches!(
                world.accounts[account].status,
                crate::directory::MemberStatus::Invited | crate::directory::MemberStatus::Removed
            ) {
                return Err(ApiError::auth(if admin_mode {
                    "invalid_select_admin"
                } else {
                    "invalid_select_user"
                }));
            }
            let view = path_root(&world, name, account, headers, admin_mode)?;
            Ok(caller(account, view))
        }
    }
}

/// Apply `Dropbox-API-Path-Root` to an account's default (home) view. An admin acting
/// team-wide (`admin`, Select-Admin) reaches any namespace of the team.
fn path_root(
    world: &crate::state::World,
    name: &str,
    account: usize,
    headers: &HeaderMap,
    admin: bool,
) -> Result<crate::state::View, ApiError> {
    let mut view = path_root_view(world, name, account, headers, admin)?;
    view.admin = admin;
    Ok(view)
}

fn path_root_view(
    world: &crate::state::World,
    name: &str,
    account: usize,
    headers: &HeaderMap,
    admin: bool,
) -> Result<crate::state::View, ApiError> {
    let Some(raw) = headers.get("dropbox-api-path-root") else {
        return Ok(world.home_view(account));
    };
    let bad = || {
        ApiError::bad(
            name,
            "HTTP header \"Dropbox-API-Path-Root\": could not decode input as JSON",
        )
    };
    let v: Value = serde_json::from_slice(raw.as_bytes()).map_err(|_| bad())?;
    let tag = v.get(".tag").and_then(Value::as_str).ok_or_else(bad)?;
    let acc = &world.accounts[account];
    let root_ns = world
        .team
        .as_ref()
        .map_or(acc.home_ns.clone(), |t| t.root_ns.clone());
    match tag {
        "home" => Ok(world.home_view(account)),
        "root" => {
            let ns = v.get("root").and_then(Value::as_str).ok_or_else(bad)?;
            if ns != root_ns {
                return Err(ApiError::PathRoot(nest(
                    "invalid_root",
                    crate::routes::users::root_info(world, account),
                )));
            }
            Ok(world.root_view(account))
        }
        "namespace_id" => {
            let ns = v
                .get("namespace_id")
                .and_then(Value::as_str)
                .ok_or_else(bad)?;
            world
                .namespace_view(account, ns, admin)
                .ok_or_else(|| ApiError::PathRoot(crate::errors::tag("no_permission")))
        }
        _ => Err(bad()),
    }
}
