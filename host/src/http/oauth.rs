//! The OAuth2 refresh-token grant, run by the host so the component never holds the client
//! secret or the refresh token. Tokens are refreshed before expiry and after a 401.
use super::pacer::{self, Pacer, RATE_LIMIT_RETRIES};
use super::secret::Secret;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Refresh this long before the recorded expiry (the Python SDK uses 300 s).
const EXPIRY_SKEW: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error, Clone)]
pub enum CredentialError {
    #[error(
        "the refresh token was rejected ({0}); get a new one with `tributary auth --config <file>`"
    )]
    InvalidGrant(String),
    #[error("the app key / app secret were rejected ({0}); check them against the app console")]
    InvalidClient(String),
    #[error("the token endpoint {url} failed: {reason}")]
    Endpoint { url: String, reason: String },
}

#[derive(Debug)]
struct AccessToken {
    value: Secret,
    refresh_after: Instant,
}

/// Runs the refresh-token grant against a token endpoint and caches the access token.
#[derive(Debug)]
pub struct TokenSource {
    client: reqwest::Client,
    token_url: String,
    client_id: String,
    client_secret: Option<Secret>,
    refresh_token: Secret,
    retry_count: u32,
    /// The run's pacer: a 429 from the token endpoint holds every request, as any 429 does.
    pacer: Arc<Pacer>,
    current: Mutex<Option<AccessToken>>,
    refreshes: std::sync::atomic::AtomicU64,
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(serde::Deserialize)]
struct TokenErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl TokenSource {
    pub fn new(
        client: reqwest::Client,
        token_url: String,
        client_id: String,
        client_secret: Option<Secret>,
        refresh_token: Secret,
        retry_count: u32,
        pacer: Arc<Pacer>,
    ) -> Self {
        TokenSource {
            client,
            token_url,
            client_id,
            client_secret,
            refresh_token,
            retry_count,
            pacer,
            current: Mutex::new(None),
            refreshes: Default::default(),
        }
    }

    /// A valid access token, refreshing first when there is none or it is about to expire.
    pub async fn token(&self) -> Result<Secret, CredentialError> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref()
            && Instant::now() < token.refresh_after
        {
            return Ok(token.value.clone());
        }
        let fresh = self.grant().await?;
        let value = fresh.value.clone();
        *current = Some(fresh);
        Ok(value)
    }

    /// The server said `stale` is no longer valid: refresh unless another task already did.
    pub async fn refresh_after_rejection(&self, stale: &Secret) -> Result<Secret, CredentialError> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref()
            && &token.value != stale
        {
            return Ok(token.value.clone());
        }
        let fresh = self.grant().await?;
        let value = fresh.value.clone();
        *current = Some(fresh);
        Ok(value)
    }

    /// How many grants were run.
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn grant(&self) -> Result<AccessToken, CredentialError> {
        self.refreshes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut form = vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", self.refresh_token.expose().to_string()),
            ("client_id", self.client_id.clone()),
        ];
        if let Some(secret) = &self.client_secret {
            form.push(("client_secret", secret.expose().to_string()));
        }
        let mut delays = crate::retry::counted(self.retry_count);
        let mut rate_limited = 0;
        loop {
            let admission = self.pacer.admit().await;
            let result = self.client.post(&self.token_url).form(&form).send().await;
            let retry_reason = match result {
                Ok(response) => {
                    let status = response.status();
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
                    let body = response.bytes().await.unwrap_or_default();
                    if status.as_u16() == 429 {
                        self.pacer.hold(pacer::retry_after(&headers));
                        drop(admission);
                        rate_limited += 1;
                        if rate_limited > RATE_LIMIT_RETRIES {
                            return Err(CredentialError::Endpoint {
                                url: self.token_url.clone(),
                                reason: format!(
                                    "still rate limited (429) after {RATE_LIMIT_RETRIES} waits"
                                ),
                            });
                        }
                        // The hold is the wait: no backoff on top, no retry spent.
                        continue;
                    }
                    admission.passed();
                    if status.is_success() {
                        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
                            CredentialError::Endpoint {
                                url: self.token_url.clone(),
                                reason: format!("unreadable token response: {e}"),
                            }
                        })?;
                        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(14_400));
                        let refresh_after =
                            Instant::now() + lifetime.saturating_sub(EXPIRY_SKEW.min(lifetime / 2));
                        return Ok(AccessToken {
                            value: Secret::new(parsed.access_token),
                            refresh_after,
                        });
                    }
                    if status.is_client_error() {
                        return Err(classify_rejection(&self.token_url, status.as_u16(), &body));
                    }
                    format!("HTTP {status}")
                }
                Err(e) => {
                    drop(admission);
                    format!("transport error: {}", without_url(&e))
                }
            };
            match delays.next() {
                Some(delay) => tokio::time::sleep(delay).await,
                None => {
                    return Err(CredentialError::Endpoint {
                        url: self.token_url.clone(),
                        reason: format!(
                            "{retry_reason} (gave up after {} retries)",
                            self.retry_count
                        ),
                    });
                }
            }
        }
    }
}

fn classify_rejection(url: &str, status: u16, body: &[u8]) -> CredentialError {
    match serde_json::from_slice::<TokenErrorBody>(body) {
        Ok(err) if err.error == "invalid_grant" => CredentialError::InvalidGrant(format!(
            "invalid_grant: {}",
            err.error_description.unwrap_or_default()
        )),
        Ok(err) if err.error.starts_with("invalid_client") => {
            CredentialError::InvalidClient(err.error)
        }
        Ok(err) => CredentialError::Endpoint {
            url: url.to_string(),
            reason: format!("HTTP {status}: {}", err.error),
        },
        Err(_) => CredentialError::Endpoint {
            url: url.to_string(),
            reason: format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ),
        },
    }
}

/// reqwest errors print the URL; ours carry no secrets in URLs, but keep messages short.
pub(crate) fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.without_url_ref_string();
    if text.is_empty() {
        text = "request failed".into();
    }
    text
}

trait WithoutUrl {
    fn without_url_ref_string(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref_string(&self) -> String {
        use std::error::Error as _;
        let mut parts = vec![];
        if self.is_timeout() {
            parts.push("timed out".to_string());
        } else if self.is_connect() {
            parts.push("could not connect".to_string());
        }
        let mut source = self.source();
        while let Some(s) = source {
            parts.push(s.to_string());
            source = s.source();
        }
        parts.join(": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_endpoint_rejections_are_named_for_what_the_user_must_fix() {
        let grant = classify_rejection(
            "u",
            400,
            br#"{"error":"invalid_grant","error_description":"refresh token is invalid or revoked"}"#,
        );
        assert!(matches!(grant, CredentialError::InvalidGrant(_)));
        assert!(grant.to_string().contains("tributary auth"));
        let client = classify_rejection(
            "u",
            400,
            br#"{"error":"invalid_client: Invalid client_id or client_secret"}"#,
        );
        assert!(matches!(client, CredentialError::InvalidClient(_)));
        assert!(client.to_string().contains("app key / app secret"));
        let other = classify_rejection("u", 400, b"not json");
        assert!(matches!(other, CredentialError::Endpoint { .. }));
    }
}
