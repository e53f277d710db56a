//! Dropbox error envelopes: 400 text/plain, 401/403/409/422 JSON unions, 429, 5xx.

use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};

/// Every way a request can fail, rendered by [`ApiError::render`].
#[derive(Debug, Clone)]
pub enum ApiError {
    /// 400 text/plain with the complete message.
    BadRequest(String),
    /// 401 with an `AuthError` union.
    Auth(Value),
    /// 403 with an `AccessError` union.
    Access(Value),
    /// 409 with the route's error union.
    Route(Value),
    /// 422 with a `PathRootError` union.
    PathRoot(Value),
    /// 429.
    RateLimited {
        /// Seconds the client should wait.
        retry_after: u64,
        /// Send text/plain instead of JSON.
        text: bool,
        /// `too_many_requests` or `too_many_write_operations`.
        reason: &'static str,
    },
    /// Any other status with a text body (5xx faults, 404 unknown route, 405).
    Status(u16, String),
}

/// A rendered error: status, content type, body, extra headers.
pub struct Rendered {
    /// HTTP status.
    pub status: u16,
    /// Content-Type header.
    pub content_type: &'static str,
    /// Body.
    pub body: Vec<u8>,
    /// Retry-After value, when rate limited.
    pub retry_after: Option<u64>,
}

static DOTS: AtomicU64 = AtomicU64::new(0);

/// `error_summary`: the chain of union tags joined by `/`, then `/` and 1..3 dots.
///
/// The chain follows a union value nested under its tag (`{".tag":"path","path":{…}}`) and,
/// for a plain-struct member whose fields are inlined next to `.tag` (§0.4), the first of
/// those fields that is itself a union (`{".tag":"path","reason":{…},"upload_session_id":""}`
/// gives `path/conflict/file/…`).
pub fn summary(err: &Value) -> String {
    let mut parts = Vec::new();
    let mut cur = err;
    while let Some(tag) = cur.get(".tag").and_then(Value::as_str) {
        parts.push(tag.to_string());
        let next = match cur.get(tag) {
            Some(inner) => Some(inner),
            None => cur.as_object().and_then(|o| {
                o.iter()
                    .find(|(k, v)| k.as_str() != ".tag" && v.get(".tag").is_some())
                    .map(|(_, v)| v)
            }),
        };
        match next {
            Some(inner) if inner.get(".tag").is_some() => cur = inner,
            _ => break,
        }
    }
    let dots = ".".repeat(1 + (DOTS.fetch_add(1, Ordering::Relaxed) % 3) as usize);
    format!("{}/{}", parts.join("/"), dots)
}

/// Build a tag union `{".tag": tag}`.
pub fn tag(t: &str) -> Value {
    json!({ ".tag": t })
}

/// Build a nested union `{".tag": outer, outer: inner}`.
pub fn nest(outer: &str, inner: Value) -> Value {
    let mut m = serde_json::Map::new();
    m.insert(".tag".into(), Value::String(outer.into()));
    m.insert(outer.into(), inner);
    Value::Object(m)
}

impl ApiError {
    /// 400 `Error in call to API function "<route>": <reason>`.
    pub fn bad(route: &str, reason: impl AsRef<str>) -> Self {
        ApiError::BadRequest(format!(
            "Error in call to API function \"{route}\": {}",
            reason.as_ref()
        ))
    }

    /// 409 `{".tag":"path","path":{".tag": lookup}}`.
    pub fn path(lookup: &str) -> Self {
        ApiError::Route(nest("path", tag(lookup)))
    }

    /// 409 with a nested union `outer/inner`.
    pub fn route2(outer: &str, inner: &str) -> Self {
        ApiError::Route(nest(outer, tag(inner)))
    }

    /// 409 with a void tag.
    pub fn route(t: &str) -> Self {
        ApiError::Route(tag(t))
    }

    /// 401 with a void AuthError tag.
    pub fn auth(t: &str) -> Self {
        ApiError::Auth(tag(t))
    }

    /// Render into status, content type and body.
    pub fn render(&self) -> Rendered {
        let envelope = |status: u16, err: &Value| Rendered {
            status,
            content_type: "application/json",
            body: serde_json::to_vec(&json!({"error_summary": summary(err), "error": err}))
                .unwrap_or_default(),
            retry_after: None,
        };
        match self {
            ApiError::BadRequest(msg) => Rendered {
                status: 400,
                content_type: "text/plain; charset=utf-8",
                body: msg.clone().into_bytes(),
                retry_after: None,
            },
            ApiError::Auth(e) => envelope(401, e),
            ApiError::Access(e) => envelope(403, e),
            ApiError::Route(e) => envelope(409, e),
            ApiError::PathRoot(e) => envelope(422, e),
            ApiError::RateLimited {
                retry_after,
                text,
                reason,
            } => {
                if *text {
                    Rendered {
                        status: 429,
                        content_type: "text/plain; charset=utf-8",
                        body: b"Too many requests".to_vec(),
                        retry_after: Some(*retry_after),
                    }
                } else {
                    let body = json!({
                        "error_summary": format!("{reason}/.."),
                        "error": {"reason": {".tag": reason}, "retry_after": retry_after},
                    });
                    Rendered {
                        status: 429,
                        content_type: "application/json",
                        body: serde_json::to_vec(&body).unwrap_or_default(),
                        retry_after: Some(*retry_after),
                    }
                }
            }
            ApiError::Status(status, msg) => Rendered {
                status: *status,
                content_type: "text/plain; charset=utf-8",
                body: msg.clone().into_bytes(),
                retry_after: None,
            },
        }
    }
}

/// Map a serde decoding error to Dropbox's 400 wording.
pub fn decode_error(route: &str, what: &str, e: &serde_json::Error) -> ApiError {
    let msg = e.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
    let reason = if let Some(rest) = msg.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or("");
        format!("unknown field '{name}'")
    } else if let Some(rest) = msg.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or("");
        format!("missing required field '{name}'")
    } else if e.is_syntax() || e.is_eof() {
        "could not decode input as JSON".to_string()
    } else {
        msg.replace('`', "'")
    };
    ApiError::bad(route, format!("{what}: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_follows_nested_tags() {
        let s = summary(&nest("path", tag("not_found")));
        assert!(s.starts_with("path/not_found/."), "{s}");
    }

    #[test]
    fn summary_follows_inlined_struct_fields() {
        let err = json!({".tag": "path", "reason": nest("conflict", tag("file")),
                         "upload_session_id": ""});
        let s = summary(&err);
        assert!(s.starts_with("path/conflict/file/."), "{s}");
        let s = summary(&json!({".tag": "missing_scope", "required_scope": "sharing.read"}));
        assert!(s.starts_with("missing_scope/."), "{s}");
    }
}
