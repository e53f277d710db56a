//! The host side of the component's `http` import, also used for content downloads.
//!
//! Policy, in order: allow-list (fail-closed, redirects refused), shared pacer, the tenant's
//! credential for its own hosts only, then the response: 429 → hold the pacer for
//! `Retry-After` and retry; 5xx or transport error → exponential backoff with jitter,
//! `retry_count` times; 401 on an OAuth2-authenticated request → refresh the token and retry
//! (up to `UNAUTHORIZED_REFRESHES` times: a token refreshed by another request can expire
//! too). Whatever survives is returned.
use super::allowlist::AllowList;
use super::credential::Authenticator;
use super::oauth::{CredentialError, TokenSource, without_url};
use super::pacer::{self, Pacer, RATE_LIMIT_RETRIES};
use super::secret::Secret;
use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use url::Url;

/// How many times one request may be answered 401 and retried with a refreshed token.
const UNAUTHORIZED_REFRESHES: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    fn reqwest(self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Head => reqwest::Method::HEAD,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        }
    }
}

/// A request a component described (its own call, or a content download it asked for).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundRequest {
    pub method: Method,
    pub url: String,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Vec<u8>>,
    /// Apply the tenant's credential (only for the credential's own hosts).
    #[serde(default)]
    pub authenticate: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u32>,
}

impl OutboundRequest {
    /// A plain unauthenticated GET (tests, tools).
    pub fn get(url: impl Into<String>) -> Self {
        OutboundRequest {
            method: Method::Get,
            url: url.into(),
            headers: vec![],
            body: None,
            authenticate: false,
            timeout_ms: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct InboundResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    #[error("request to {0} denied: not on this tenant's allow-list")]
    Denied(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("transport error: {0}")]
    Transport(String),
    #[error("response larger than the {0}-byte cap")]
    TooLarge(u64),
    #[error("credentials: {0}")]
    Credential(String),
}

/// Counters for the report.
#[derive(Debug, Default)]
pub struct HttpStats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
    pub bytes_received: AtomicU64,
}

#[derive(Debug)]
pub struct HttpService {
    client: reqwest::Client,
    allow: AllowList,
    /// Where the credential may go.
    credential_hosts: AllowList,
    credential: Option<Authenticator>,
    pacer: Arc<Pacer>,
    retry_count: u32,
    default_timeout: Duration,
    pub stats: HttpStats,
}

/// A reqwest client that never follows redirects (each hop would escape the allow-list).
pub fn build_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(256)
        .user_agent(concat!("tributary/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

enum Attempt {
    Done(InboundResponse),
    RateLimited(Duration),
    Retryable(String),
    Unauthorized(InboundResponse, Secret),
}

impl HttpService {
    pub fn new(
        client: reqwest::Client,
        allow: AllowList,
        credential_hosts: AllowList,
        credential: Option<Authenticator>,
        pacer: Arc<Pacer>,
        retry_count: u32,
    ) -> Self {
        HttpService {
            client,
            allow,
            credential_hosts,
            credential,
            pacer,
            retry_count,
            default_timeout: Duration::from_secs(120),
            stats: HttpStats::default(),
        }
    }

    pub fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    /// A service that denies every request (before the component's plan is known).
    pub fn deny_all(client: reqwest::Client) -> Self {
        HttpService::new(
            client,
            AllowList::default(),
            AllowList::default(),
            None,
            Arc::new(Pacer::new()),
            0,
        )
    }

    /// The OAuth2 token source, when the credential is OAuth2.
    pub fn tokens(&self) -> Option<&TokenSource> {
        match &self.credential {
            Some(Authenticator::OAuth2(tokens)) => Some(tokens),
            _ => None,
        }
    }

    /// Send `req` under the run's policy; the body is read up to `max_bytes`.
    pub async fn send(
        &self,
        req: &OutboundRequest,
        max_bytes: u64,
    ) -> Result<InboundResponse, HttpError> {
        let url = Url::parse(&req.url)
            .map_err(|e| HttpError::InvalidRequest(format!("bad URL {:?}: {e}", req.url)))?;
        if !self.allow.allows(&url) {
            return Err(HttpError::Denied(origin_text(&url)));
        }
        if req.authenticate {
            if self.credential.is_none() {
                return Err(HttpError::Credential(
                    "the component asked for an authenticated request but this tenant has no credential configured"
                        .into(),
                ));
            }
            if !self.credential_hosts.allows(&url) {
                return Err(HttpError::Denied(format!(
                    "{} (the credential may only be sent to its own hosts)",
                    origin_text(&url)
                )));
            }
        }
        for (name, _) in &req.headers {
            let owned = match &self.credential {
                Some(credential) => credential.owns_header(name),
                None => name.eq_ignore_ascii_case("authorization"),
            };
            if owned {
                return Err(HttpError::InvalidRequest(format!(
                    "components may not set the {name} header; set `authenticate` and the host adds the credential"
                )));
            }
        }
        let bearer_allowed = req.authenticate && self.tokens().is_some();
        let mut delays = crate::retry::counted(self.retry_count);
        let mut rate_limit_retries = 0;
        // A token another request refreshed a moment ago can itself expire before a slow
        // answer comes back (short-lived tokens, a slow listing): each rejection of a
        // different token earns a fresh one, a few times, never forever.
        let mut refreshes_left = UNAUTHORIZED_REFRESHES;
        let mut token = None;
        loop {
            // The token first: its grant goes through the pacer too, and must not wait for a
            // place in the window this request would already hold.
            if bearer_allowed && token.is_none() {
                token = Some(self.bearer().await?);
            }
            let admission = self.pacer.admit().await;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            match self.attempt(req, &url, token.as_ref(), max_bytes).await? {
                Attempt::Done(response) => {
                    admission.passed();
                    return Ok(response);
                }
                Attempt::RateLimited(wait) => {
                    self.pacer.hold(wait);
                    drop(admission);
                    self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    rate_limit_retries += 1;
                    if rate_limit_retries > RATE_LIMIT_RETRIES {
                        return Err(HttpError::Transport(format!(
                            "still rate limited (429) after {RATE_LIMIT_RETRIES} waits"
                        )));
                    }
                    tracing::debug!(
                        wait_ms = wait.as_millis() as u64,
                        "429: holding every request of this run"
                    );
                }
                Attempt::Unauthorized(response, used) => {
                    admission.passed();
                    let Some(tokens) = self
                        .tokens()
                        .filter(|_| refreshes_left > 0 && bearer_allowed)
                    else {
                        return Ok(response);
                    };
                    refreshes_left -= 1;
                    token = Some(
                        tokens
                            .refresh_after_rejection(&used)
                            .await
                            .map_err(credential_failure)?,
                    );
                }
                Attempt::Retryable(reason) => {
                    drop(admission);
                    let Some(delay) = delays.next() else {
                        return Err(HttpError::Transport(format!(
                            "{reason} (gave up after {} retries)",
                            self.retry_count
                        )));
                    };
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%reason, delay_ms = delay.as_millis() as u64, "retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn bearer(&self) -> Result<Secret, HttpError> {
        match self.tokens() {
            Some(tokens) => tokens.token().await.map_err(credential_failure),
            None => Err(HttpError::Credential(
                "the component asked for an OAuth2 request but no OAuth2 credentials are configured"
                    .into(),
            )),
        }
    }

    async fn attempt(
        &self,
        req: &OutboundRequest,
        url: &Url,
        token: Option<&Secret>,
        max_bytes: u64,
    ) -> Result<Attempt, HttpError> {
        let timeout = req
            .timeout_ms
            .map(|ms| Duration::from_millis(ms.into()))
            .unwrap_or(self.default_timeout);
        let mut builder = self
            .client
            .request(req.method.reqwest(), url.clone())
            .timeout(timeout);
        for (name, value) in &req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(token) = token {
            builder = builder.bearer_auth(token.expose());
        }
        if req.authenticate {
            match &self.credential {
                Some(Authenticator::SigV4(keys)) => {
                    let mut signed_headers = req.headers.clone();
                    signed_headers.push(("host".into(), host_header(url)));
                    let signature = keys
                        .sign(
                            req.method.as_str(),
                            url.as_str(),
                            &signed_headers,
                            req.body.as_deref().unwrap_or_default(),
                        )
                        .map_err(HttpError::InvalidRequest)?;
                    for (name, value) in signature {
                        builder = builder.header(name, value);
                    }
                }
                Some(Authenticator::Header {
                    header,
                    prefix,
                    value,
                }) => {
                    builder =
                        builder.header(header.as_str(), format!("{prefix}{}", value.expose()));
                }
                Some(Authenticator::Basic { username, password }) => {
                    builder = builder.basic_auth(username, Some(password.expose()));
                }
                Some(Authenticator::OAuth2(_)) | None => {}
            }
        }
        if let Some(body) = &req.body {
            builder = builder.body(body.clone());
        }
        let mut response = match builder.send().await {
            Ok(r) => r,
            Err(e) if e.is_builder() => {
                return Err(HttpError::InvalidRequest(without_url(&e)));
            }
            Err(e) => return Ok(Attempt::Retryable(without_url(&e))),
        };
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        if status == 429 {
            return Ok(Attempt::RateLimited(pacer::retry_after(&headers)));
        }
        if status >= 500 {
            return Ok(Attempt::Retryable(format!("HTTP {status}")));
        }
        if let Some(length) = response.content_length()
            && length > max_bytes
        {
            return Err(HttpError::TooLarge(length));
        }
        let mut body = BytesMut::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() as u64 + chunk.len() as u64 > max_bytes {
                        return Err(HttpError::TooLarge(body.len() as u64 + chunk.len() as u64));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Ok(Attempt::Retryable(without_url(&e))),
            }
        }
        self.stats
            .bytes_received
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        let response = InboundResponse {
            status,
            headers,
            body: body.freeze(),
        };
        if status == 401
            && let Some(token) = token
        {
            return Ok(Attempt::Unauthorized(response, token.clone()));
        }
        Ok(Attempt::Done(response))
    }
}

/// The `Host` header reqwest will send: the port only when it is not the scheme's default.
fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

fn origin_text(url: &Url) -> String {
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    )
}

/// A failed grant as the component sees it: rejected credentials are a credential error; a
/// token endpoint that is down or busy is a transport failure (worth a later retry).
fn credential_failure(e: CredentialError) -> HttpError {
    match e {
        CredentialError::Endpoint { .. } => HttpError::Transport(e.to_string()),
        rejected => HttpError::Credential(rejected.to_string()),
    }
}
