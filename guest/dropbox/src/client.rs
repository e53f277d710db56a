//! Dropbox API calls over an abstract [`Transport`] (the WIT `http` import in the component,
//! a scripted fake in unit tests), and the mapping of HTTP outcomes to [`Error`]s.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::api::ErrorEnvelope;
use crate::arg::header_safe;
use crate::config::Config;
use crate::error::Error;

/// HTTP method (mirrors WIT `method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// An outbound request (mirrors WIT `request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub authorized: bool,
    pub timeout_ms: Option<u32>,
}

impl Request {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A response (mirrors WIT `http.response`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A failure of the host's HTTP import (mirrors WIT `http.error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    Denied(String),
    InvalidRequest(String),
    Transport(String),
    TooLarge(u64),
    Credential(String),
}

/// Log levels (mirrors WIT `logging.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// What the component needs from the outside world.
pub trait Transport {
    /// Send one request through the host.
    fn send(&self, req: Request) -> Result<Response, TransportError>;
    /// Send independent requests; the host runs them concurrently under its limits and
    /// pacing. Answers come back in request order. The default sends them one by one.
    fn send_many(&self, reqs: Vec<Request>) -> Vec<Result<Response, TransportError>> {
        reqs.into_iter().map(|r| self.send(r)).collect()
    }
    /// Start a request the component will `send` next (an identical one), so it travels
    /// while the component works. Only for requests without side effects. The host may
    /// decline; the default does nothing, and the later `send` goes out as usual.
    fn prefetch(&self, _req: Request) {}
    /// Whether the host fetches content in this run; when not, documents describe none.
    fn content_wanted(&self) -> bool {
        true
    }
    /// Log a message through the host (never pass secrets).
    fn log(&self, level: Level, message: &str);
}

/// Why an API call failed, before it is mapped to an [`Error`].
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The host could not perform the request.
    Transport(TransportError),
    /// Dropbox answered with a non-2xx status.
    Status(ApiError),
    /// Dropbox answered 2xx with a body we could not decode.
    Decode(String),
}

/// A non-2xx Dropbox answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub route: String,
    pub status: u16,
    pub envelope: ErrorEnvelope,
    /// The body as text (trimmed, capped), for 400s which are text/plain.
    pub text: String,
}

impl ApiError {
    /// Whether this is a 409 whose tag chain starts with `tags`.
    pub fn is_409(&self, tags: &[&str]) -> bool {
        self.status == 409 && {
            let chain = self.envelope.tags();
            chain.len() >= tags.len() && chain.iter().zip(tags).all(|(a, b)| a == b)
        }
    }

    /// A short label like `409 path/not_found` for messages.
    pub fn label(&self) -> String {
        let summary = self.envelope.summary();
        if summary.is_empty() {
            self.status.to_string()
        } else {
            format!("{} {summary}", self.status)
        }
    }
}

impl CallError {
    /// The 409 details, when this is one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            CallError::Status(e) => Some(e),
            _ => None,
        }
    }

    /// The default mapping to a WIT error; callers handle route-specific 409s first.
    pub fn into_error(self) -> Error {
        match self {
            CallError::Transport(t) => transport_error(t),
            CallError::Decode(m) => Error::Permanent(m),
            CallError::Status(e) => status_error(&e),
        }
    }
}

/// Map a failure of the HTTP import.
pub fn transport_error(t: TransportError) -> Error {
    match t {
        TransportError::Denied(m) => Error::Permanent(format!(
            "the host refused the request ({m}); check api_url, content_url, notify_url and oauth_url"
        )),
        TransportError::InvalidRequest(m) => {
            Error::Permanent(format!("the request could not be built ({m})"))
        }
        TransportError::Transport(m) => {
            Error::Transient(format!("could not reach Dropbox ({m}); retry later"))
        }
        TransportError::TooLarge(n) => Error::Transient(format!(
            "a Dropbox response exceeded the host's size cap ({n} bytes seen)"
        )),
        TransportError::Credential(m) => Error::Unauthorized(format!(
            "could not obtain a Dropbox access token ({m}); check app_key, app_secret and refresh_token, or re-authorize"
        )),
    }
}

/// Map a non-2xx answer with no route-specific meaning.
pub fn status_error(e: &ApiError) -> Error {
    let route = &e.route;
    match e.status {
        400 => Error::Permanent(format!(
            "Dropbox rejected the request to {route} (400): {}",
            if e.text.is_empty() {
                "bad request"
            } else {
                &e.text
            }
        )),
        401 => {
            let tag = e.envelope.summary();
            let tag = if tag.is_empty() {
                "unauthorized".to_string()
            } else {
                tag
            };
            let hint = match e.envelope.required_scope() {
                Some(scope) => format!(
                    "; enable the {scope} scope in the Dropbox App Console and re-authorize"
                ),
                None => "; re-authorize the app and update refresh_token".into(),
            };
            Error::Unauthorized(format!(
                "Dropbox rejected the access token on {route} (401 {tag}){hint}"
            ))
        }
        403 => Error::Permanent(format!(
            "Dropbox denied access to {route} ({}): the account or team lacks this feature",
            e.label()
        )),
        422 => Error::Permanent(format!(
            "Dropbox rejected the path root on {route} ({}): the account's team space changed; run `tributary sync --full`",
            e.label()
        )),
        429 => Error::Transient(format!(
            "Dropbox kept rate-limiting {route} ({}); retry later",
            e.label()
        )),
        s if s >= 500 => Error::Transient(format!("Dropbox failed on {route} ({s}); retry later")),
        _ => Error::Permanent(format!("Dropbox error on {route} ({})", e.label())),
    }
}

/// Headers that put requests in the right user and namespace context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// `Dropbox-API-Select-User` (team mode: the admin's team member id).
    pub select_user: Option<String>,
    /// `Dropbox-API-Select-Admin` (team mode: the admin reaching any team namespace).
    pub select_admin: Option<String>,
    /// `Dropbox-API-Path-Root` value (team space: the root namespace).
    pub path_root: Option<String>,
}

impl Context {
    /// Build the context; `root_ns` is set only when the account has a team space.
    pub fn new(select_user: Option<String>, root_ns: Option<&str>) -> Context {
        Context {
            select_user,
            select_admin: None,
            path_root: root_ns.map(|ns| json!({".tag": "root", "root": ns}).to_string()),
        }
    }

    /// Requests rooted in namespace `ns`, made as team member `member`.
    pub fn member_namespace(member: &str, ns: &str) -> Context {
        Context {
            select_user: Some(member.to_string()),
            select_admin: None,
            path_root: Some(namespace_root(ns)),
        }
    }

    /// Requests rooted in namespace `ns`, made by team admin `admin` in whole-team mode
    /// (the way Dropbox lets an admin read any namespace of the team).
    pub fn admin_namespace(admin: &str, ns: &str) -> Context {
        Context {
            select_user: None,
            select_admin: Some(admin.to_string()),
            path_root: Some(namespace_root(ns)),
        }
    }

    fn headers(&self, user: bool, path_root: bool) -> Vec<(String, String)> {
        let mut h = Vec::new();
        self.push_headers(&mut h, user, path_root);
        h
    }

    fn push_headers(&self, h: &mut Vec<(String, String)>, user: bool, path_root: bool) {
        if user && let Some(m) = &self.select_user {
            h.push(("Dropbox-API-Select-User".to_string(), m.clone()));
        }
        if user && let Some(m) = &self.select_admin {
            h.push(("Dropbox-API-Select-Admin".to_string(), m.clone()));
        }
        if path_root && let Some(p) = &self.path_root {
            h.push(("Dropbox-API-Path-Root".to_string(), p.clone()));
        }
    }
}

/// The `Dropbox-API-Path-Root` value that roots paths in namespace `ns`.
pub fn namespace_root(ns: &str) -> String {
    json!({".tag": "namespace_id", "namespace_id": ns}).to_string()
}

/// Which context headers a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    /// Team-authenticated route: no context headers.
    Team,
    /// User route outside the file tree: Select-User only.
    User,
    /// files/* and sharing/*: Select-User and Path-Root.
    Files,
}

const MAX_TEXT: usize = 300;
/// Requests per `send-many` call: well under the host's cap, and few enough that the
/// answers of one call stay small in memory.
pub const MAX_SEND_MANY: usize = 200;

/// A Dropbox API client bound to one configuration and context.
pub struct Client<'a, T: Transport> {
    pub transport: &'a T,
    pub config: &'a Config,
    pub context: Context,
}

impl<'a, T: Transport> Client<'a, T> {
    /// A client without context headers (used before account detection).
    pub fn new(transport: &'a T, config: &'a Config) -> Self {
        Client {
            transport,
            config,
            context: Context::default(),
        }
    }

    /// Call an RPC route on the api host. `arg: None` is a Void argument (no body, no type).
    pub fn rpc<R: DeserializeOwned>(
        &self,
        route: &str,
        arg: Option<&Value>,
        kind: RouteKind,
    ) -> Result<R, CallError> {
        let req = self.rpc_request(route, arg, kind);
        let resp = self.transport.send(req).map_err(CallError::Transport)?;
        decode(route, resp)
    }

    /// `rpc`, but `early` sees a 2xx answer's raw body before it is decoded (a listing page
    /// is 1 MB of JSON whose cursor comes last: the next request can start before decoding).
    pub fn rpc_then<R: DeserializeOwned>(
        &self,
        route: &str,
        arg: Option<&Value>,
        kind: RouteKind,
        early: impl FnOnce(&[u8]),
    ) -> Result<R, CallError> {
        let req = self.rpc_request(route, arg, kind);
        let resp = self.transport.send(req).map_err(CallError::Transport)?;
        if (200..300).contains(&resp.status) {
            early(&resp.body);
        }
        decode(route, resp)
    }

    /// Start the RPC that `rpc` with the same arguments will send next, so that it travels
    /// while the component maps what it has. Only for routes without side effects.
    pub fn prefetch_rpc(&self, route: &str, arg: Option<&Value>, kind: RouteKind) {
        self.transport.prefetch(self.rpc_request(route, arg, kind));
    }

    /// Build the request for an RPC route (exposed for tests).
    pub fn rpc_request(&self, route: &str, arg: Option<&Value>, kind: RouteKind) -> Request {
        let mut headers = match kind {
            RouteKind::Team => Vec::new(),
            RouteKind::User => self.context.headers(true, false),
            RouteKind::Files => self.context.headers(true, true),
        };
        let body = arg.map(|a| {
            headers.push(("Content-Type".to_string(), "application/json".to_string()));
            a.to_string().into_bytes()
        });
        Request {
            method: Method::Post,
            url: format!("{}/2/{route}", self.config.api_url),
            headers,
            body,
            authorized: true,
            timeout_ms: None,
        }
    }

    /// Describe a content-style download (the host performs it).
    /// `arg` is any serializable value: a [`Value`] or a borrowed struct.
    pub fn download_request<A: Serialize + ?Sized>(&self, route: &str, arg: &A) -> Request {
        let mut headers = Vec::with_capacity(3);
        headers.push(("Dropbox-API-Arg".to_string(), header_safe(arg)));
        self.context.push_headers(&mut headers, true, true);
        let base = &self.config.content_url;
        let mut url = String::with_capacity(base.len() + 3 + route.len());
        url.push_str(base);
        url.push_str("/2/");
        url.push_str(route);
        Request {
            method: Method::Post,
            url,
            headers,
            body: None,
            authorized: true,
            timeout_ms: None,
        }
    }

    /// Long-poll the notify host: no Authorization and no context headers.
    pub fn longpoll_request(&self, cursor: &str, timeout_secs: u32) -> Request {
        let timeout = timeout_secs.clamp(30, 480);
        Request {
            method: Method::Post,
            url: format!("{}/2/files/list_folder/longpoll", self.config.notify_url),
            headers: vec![("Content-Type".to_string(), "application/json".to_string())],
            body: Some(
                json!({"cursor": cursor, "timeout": timeout})
                    .to_string()
                    .into_bytes(),
            ),
            authorized: false,
            timeout_ms: Some((timeout + 90) * 1000),
        }
    }

    /// Call several RPC routes at once through the host's `send-many` (concurrently, under
    /// its limits and pacing); answers in call order.
    pub fn rpc_many<R: DeserializeOwned>(
        &self,
        calls: &[(&str, Value, RouteKind)],
    ) -> Vec<Result<R, CallError>> {
        self.send_rpcs(calls)
            .into_iter()
            .zip(calls)
            .map(|(answer, (route, _, _))| answer.and_then(|resp| decode(route, resp)))
            .collect()
    }

    /// [`Client::rpc_many`] without decoding: the caller decodes each answer as its type.
    pub fn send_rpcs(
        &self,
        calls: &[(&str, Value, RouteKind)],
    ) -> Vec<Result<Response, CallError>> {
        let mut out = Vec::with_capacity(calls.len());
        for chunk in calls.chunks(MAX_SEND_MANY) {
            let reqs = chunk
                .iter()
                .map(|(route, arg, kind)| self.rpc_request(route, Some(arg), *kind))
                .collect();
            out.extend(
                self.transport
                    .send_many(reqs)
                    .into_iter()
                    .map(|a| a.map_err(CallError::Transport)),
            );
        }
        out
    }

    /// Send a prepared request and decode its JSON answer.
    pub fn send_json<R: DeserializeOwned>(
        &self,
        route: &str,
        req: Request,
    ) -> Result<R, CallError> {
        let resp = self.transport.send(req).map_err(CallError::Transport)?;
        decode(route, resp)
    }
}

/// The `Date` header of a response as RFC 3339 (`2024-04-01T09:00:00Z`), if it is a valid
/// IMF-fixdate (`Mon, 01 Apr 2024 09:00:00 GMT`), the form HTTP servers send.
pub fn response_date(resp: &Response) -> Option<String> {
    let raw = resp
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("date"))
        .map(|(_, v)| v.trim())?;
    let (_, rest) = raw.split_once(", ")?;
    let parts: Vec<&str> = rest.split(' ').collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m == month)? + 1;
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let hms: Vec<&str> = time.split(':').collect();
    if !digits(day, 2) || !digits(year, 4) || hms.len() != 3 || !hms.iter().all(|p| digits(p, 2)) {
        return None;
    }
    Some(format!("{year}-{month:02}-{day}T{time}Z"))
}

/// Decode a response: 2xx as `R`, anything else as an [`ApiError`].
pub fn decode<R: DeserializeOwned>(route: &str, resp: Response) -> Result<R, CallError> {
    if (200..300).contains(&resp.status) {
        return serde_json::from_slice(&resp.body).map_err(|e| {
            CallError::Decode(format!(
                "Dropbox answered {route} with a body this connector cannot read ({e})"
            ))
        });
    }
    let envelope: ErrorEnvelope = serde_json::from_slice(&resp.body).unwrap_or_default();
    let mut text: String = String::from_utf8_lossy(&resp.body).trim().to_string();
    if text.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    Err(CallError::Status(ApiError {
        route: route.to_string(),
        status: resp.status,
        envelope,
        text,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(status: u16, body: &str) -> ApiError {
        match decode::<Value>("files/list_folder", resp(status, body)) {
            Err(CallError::Status(e)) => e,
            other => panic!("{other:?}"),
        }
    }

    fn resp(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn unauthorized_names_the_dropbox_tag() {
        let e = api_error(
            401,
            r#"{"error_summary":"invalid_access_token/..","error":{".tag":"invalid_access_token"}}"#,
        );
        match status_error(&e) {
            Error::Unauthorized(m) => {
                assert!(m.contains("401 invalid_access_token"), "{m}");
                assert!(m.contains("files/list_folder"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_scope_names_the_scope() {
        let e = api_error(
            401,
            r#"{"error_summary":"missing_scope/.","error":{".tag":"missing_scope","required_scope":"sharing.read"}}"#,
        );
        assert!(
            status_error(&e)
                .message()
                .contains("enable the sharing.read scope")
        );
    }

    #[test]
    fn rate_limit_and_server_errors_are_transient() {
        let e = api_error(
            429,
            r#"{"error_summary":"too_many_requests/..","error":{"reason":{".tag":"too_many_requests"},"retry_after":300}}"#,
        );
        assert!(matches!(status_error(&e), Error::Transient(_)));
        let e = api_error(503, "oops");
        assert!(matches!(status_error(&e), Error::Transient(_)));
    }

    #[test]
    fn bad_request_and_other_conflicts_are_permanent() {
        let e = api_error(
            400,
            "Error in call to API function \"files/list_folder\": bad",
        );
        assert!(
            matches!(status_error(&e), Error::Permanent(m) if m.contains("(400)") && m.contains("bad"))
        );
        let e = api_error(
            409,
            r#"{"error_summary":"template_error/..","error":{".tag":"template_error"}}"#,
        );
        assert!(
            matches!(status_error(&e), Error::Permanent(m) if m.contains("409 template_error"))
        );
        assert!(e.is_409(&["template_error"]));
        assert!(!e.is_409(&["reset"]));
    }

    #[test]
    fn transport_errors_map_by_kind() {
        assert!(matches!(
            transport_error(TransportError::Denied("x".into())),
            Error::Permanent(_)
        ));
        assert!(matches!(
            transport_error(TransportError::InvalidRequest("x".into())),
            Error::Permanent(_)
        ));
        assert!(matches!(
            transport_error(TransportError::Transport("x".into())),
            Error::Transient(_)
        ));
        assert!(matches!(
            transport_error(TransportError::TooLarge(9)),
            Error::Transient(_)
        ));
        assert!(matches!(
            transport_error(TransportError::Credential("x".into())),
            Error::Unauthorized(_)
        ));
    }

    #[test]
    fn date_header_becomes_rfc3339() {
        let mut r = resp(200, "{}");
        r.headers = vec![("date".into(), "Mon, 01 Apr 2024 09:05:07 GMT".into())];
        assert_eq!(response_date(&r).as_deref(), Some("2024-04-01T09:05:07Z"));
        for bad in [
            "Monday, 01-Apr-24 09:05:07 GMT",
            "Mon, 1 Apr 2024 09:05:07 GMT",
            "Mon, 01 Foo 2024 09:05:07 GMT",
            "Mon, 01 Apr 2024 09:05 GMT",
            "garbage",
        ] {
            r.headers = vec![("Date".into(), bad.into())];
            assert_eq!(response_date(&r), None, "{bad}");
        }
        r.headers.clear();
        assert_eq!(response_date(&r), None);
    }

    #[test]
    fn admin_namespace_context_selects_the_admin_and_the_namespace() {
        let cfg = Config::parse(r#"{"app_key":"k"}"#).unwrap();
        struct NoNet;
        impl Transport for NoNet {
            fn send(&self, _: Request) -> Result<Response, TransportError> {
                Err(TransportError::Denied("no network".into()))
            }
            fn log(&self, _: Level, _: &str) {}
        }
        let client = Client {
            transport: &NoNet,
            config: &cfg,
            context: Context::admin_namespace("dbmid:A", "77"),
        };
        let req = client.rpc_request("files/list_folder", Some(&json!({})), RouteKind::Files);
        assert_eq!(req.header("Dropbox-API-Select-Admin"), Some("dbmid:A"));
        assert!(req.header("Dropbox-API-Select-User").is_none());
        assert_eq!(
            req.header("Dropbox-API-Path-Root"),
            Some(r#"{".tag":"namespace_id","namespace_id":"77"}"#)
        );
        let team = client.rpc_request("team/members/list_v2", Some(&json!({})), RouteKind::Team);
        assert!(team.header("Dropbox-API-Select-Admin").is_none());
    }

    #[test]
    fn long_text_bodies_are_capped_on_a_char_boundary() {
        let body = "é".repeat(400);
        let e = api_error(400, &body);
        assert!(e.text.len() <= MAX_TEXT + 3);
        assert!(e.text.ends_with('…'));
    }
}
