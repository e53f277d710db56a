//! The host side of the component's `http` import, also used for content downloads.
//!
//! Policy, in order: allow-list (fail-closed, redirects refused), shared pacer, bearer token
//! for token hosts, then the response: 429 → hold the pacer for `Retry-After` and retry;
//! 5xx or transport error → exponential backoff with jitter, `retry_count` times; 401 on an
//! authorized request → refresh the token and retry once. Whatever survives is returned.
use super::allowlist::AllowList;
use super::oauth::{TokenSource, without_url};
use super::pacer::Pacer;
use super::secret::Secret;
use backon::BackoffBuilder;
use bytes::{Bytes, BytesMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use url::Url;

/// 429s are retried this many times at most (each waits for the server's `Retry-After`).
const RATE_LIMIT_RETRIES: u32 = 20;
/// When a 429 carries no usable `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);
/// Never hold the whole run longer than this for a single 429.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

#[derive(Debug, Clone)]
pub struct OutboundRequest {
    pub method: reqwest::Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub authorized: bool,
    pub timeout: Option<Duration>,
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
    token_hosts: AllowList,
    tokens: Option<Arc<TokenSource>>,
    pacer: Arc<Pacer>,
    retry_count: u32,
    default_timeout: Duration,
    pub stats: HttpStats,
}

/// Exponential backoff with jitter: 250 ms, 500 ms, 1 s, ... capped at 10 s.
pub(crate) fn backoff_delays(times: u32) -> impl Iterator<Item = Duration> {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(Duration::from_secs(10))
        .with_max_times(times as usize)
        .with_jitter()
        .build()
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
        token_hosts: AllowList,
        tokens: Option<Arc<TokenSource>>,
        pacer: Arc<Pacer>,
        retry_count: u32,
    ) -> Self {
        HttpService {
            client,
            allow,
            token_hosts,
            tokens,
            pacer,
            retry_count,
            default_timeout: Duration::from_secs(120),
            stats: HttpStats::default(),
        }
    }

    pub fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    pub fn tokens(&self) -> Option<&TokenSource> {
        self.tokens.as_deref()
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
        let bearer_allowed = req.authorized && self.token_hosts.allows(&url);
        if req.authorized && !bearer_allowed {
            return Err(HttpError::Denied(format!(
                "{} (the credential may only be sent to its token hosts)",
                origin_text(&url)
            )));
        }
        let mut delays = backoff_delays(self.retry_count);
        let mut rate_limit_retries = 0;
        let mut refreshed = false;
        let mut token = None;
        loop {
            self.pacer.ready().await;
            if bearer_allowed && token.is_none() {
                token = Some(self.bearer().await?);
            }
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            match self.attempt(req, &url, token.as_ref(), max_bytes).await? {
                Attempt::Done(response) => return Ok(response),
                Attempt::RateLimited(wait) => {
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
                    self.pacer.hold(wait).await;
                }
                Attempt::Unauthorized(response, used) => {
                    if refreshed || self.tokens.is_none() || !bearer_allowed {
                        return Ok(response);
                    }
                    refreshed = true;
                    let tokens = self
                        .tokens
                        .as_ref()
                        .ok_or_else(|| HttpError::Credential("no token source".into()))?;
                    token = Some(
                        tokens
                            .refresh_after_rejection(&used)
                            .await
                            .map_err(|e| HttpError::Credential(e.to_string()))?,
                    );
                }
                Attempt::Retryable(reason) => match delays.next() {
                    Some(delay) => {
                        self.stats.retries.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(%reason, delay_ms = delay.as_millis() as u64, "retrying");
                        tokio::time::sleep(delay).await;
                    }
                    None => {
                        return Err(HttpError::Transport(format!(
                            "{reason} (gave up after {} retries)",
                            self.retry_count
                        )));
                    }
                },
            }
        }
    }

    async fn bearer(&self) -> Result<Secret, HttpError> {
        match &self.tokens {
            Some(tokens) => tokens
                .token()
                .await
                .map_err(|e| HttpError::Credential(e.to_string())),
            None => Err(HttpError::Credential(
                "the component asked for an authorized request but no OAuth2 credentials are configured"
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
        let mut builder = self
            .client
            .request(req.method.clone(), url.clone())
            .timeout(req.timeout.unwrap_or(self.default_timeout));
        for (name, value) in &req.headers {
            if name.eq_ignore_ascii_case("authorization") {
                return Err(HttpError::InvalidRequest(
                    "components may not set Authorization; set `authorized` instead".into(),
                ));
            }
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(token) = token {
            builder = builder.bearer_auth(token.expose());
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
            let wait = retry_after(&headers).unwrap_or(DEFAULT_RETRY_AFTER);
            return Ok(Attempt::RateLimited(wait.min(MAX_RETRY_AFTER)));
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

fn origin_text(url: &Url) -> String {
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    )
}

/// `Retry-After` in seconds (the HTTP-date form is treated as absent).
fn retry_after(headers: &[(String, String)]) -> Option<Duration> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .and_then(|(_, v)| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_ignores_garbage() {
        let h = |v: &str| vec![("Retry-After".to_string(), v.to_string())];
        assert_eq!(retry_after(&h("3")), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(&h(" 0.5 ")), Some(Duration::from_millis(500)));
        assert_eq!(retry_after(&h("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(retry_after(&h("-1")), None);
        assert_eq!(retry_after(&[]), None);
    }

    #[test]
    fn backoff_grows_and_stops_after_the_retry_count() {
        let delays: Vec<_> = backoff_delays(3).collect();
        assert_eq!(delays.len(), 3);
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(20)));
    }
}
