//! What the component needs from the host, as plain types: the WIT `http` and `logging`
//! imports in the component, a scripted fake S3 in unit tests.

/// HTTP method (the subset of WIT `method` this connector uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
}

/// An outbound request (mirrors WIT `request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// Ask the host to sign the request (SigV4) with the tenant's keys.
    pub authenticate: bool,
    pub timeout_ms: Option<u32>,
}

impl Request {
    /// A signed request without headers or body: every call this connector makes. The host
    /// adds `Authorization`, `x-amz-date` and `x-amz-content-sha256` itself.
    pub fn signed(method: Method, url: String) -> Request {
        Request {
            method,
            url,
            headers: Vec::new(),
            authenticate: true,
            timeout_ms: None,
        }
    }
}

/// A response (mirrors WIT `http.response`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
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

/// The host, as the connector logic sees it.
pub trait Transport {
    /// Send one request.
    fn send(&self, req: Request) -> Result<Response, TransportError>;
    /// Send independent requests; the host runs them concurrently. Results come back in
    /// the order of the requests.
    fn send_many(&self, reqs: Vec<Request>) -> Vec<Result<Response, TransportError>>;
    /// Log a message through the host (never pass secrets).
    fn log(&self, level: Level, message: &str);
}
