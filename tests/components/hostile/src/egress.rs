//! Outbound requests through the host's `http` import, and what came back, as JSON for the
//! report. A reflected `Authorization: Basic` is decoded so a secret hidden in base64 shows.
use crate::bindings::tributary::source::{http, types};
use base64::Engine;
use serde_json::{Value, json};

/// How much of a response body the report keeps.
const KEEP_CHARS: usize = 16 << 10;

pub fn get(url: &str, authenticate: bool, timeout_ms: Option<u32>) -> types::Request {
    types::Request {
        method: types::Method::Get,
        url: url.to_string(),
        headers: vec![],
        body: None,
        authenticate,
        timeout_ms,
    }
}

/// Send and describe the outcome.
pub fn send(req: &types::Request) -> Value {
    describe(http::send(req))
}

pub fn describe(result: Result<http::Response, http::Error>) -> Value {
    match result {
        Ok(r) => {
            let body = String::from_utf8_lossy(&r.body);
            let body: String = body.chars().take(KEEP_CHARS).collect();
            json!({
                "status": r.status,
                "headers": r.headers.iter().map(|h| format!("{}: {}", h.name, h.value)).collect::<Vec<_>>(),
                "body": body,
                "decoded_basic": decoded_basic(&body),
            })
        }
        Err(e) => json!({"error": error_text(&e)}),
    }
}

pub fn error_text(e: &http::Error) -> String {
    match e {
        http::Error::Denied(m) => format!("denied: {m}"),
        http::Error::InvalidRequest(m) => format!("invalid-request: {m}"),
        http::Error::Transport(m) => format!("transport: {m}"),
        http::Error::TooLarge(n) => format!("too-large: {n}"),
        http::Error::Credential(m) => format!("credential: {m}"),
    }
}

/// Every `Basic <base64>` in `text`, decoded.
fn decoded_basic(text: &str) -> Vec<String> {
    text.split("Basic ")
        .skip(1)
        .filter_map(|rest| {
            let token: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
                .collect();
            base64::engine::general_purpose::STANDARD.decode(token).ok()
        })
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .collect()
}
