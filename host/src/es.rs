//! The one Elasticsearch client module, shared by the sink and the checkpoint store: how to
//! reach the cluster (settings, credentials, TLS), and how every call is made: transient
//! failures (connection errors, 429, 502, 503, 504) are retried under the runner's one retry
//! policy with a time budget, so a cluster restart or a short outage does not fail a run.
//!
//! Works against Elasticsearch 8/9 and OpenSearch 2/3: only standard APIs, and plain
//! `application/json` / `application/x-ndjson` media types (some servers refuse the
//! `compatible-with` ones).
use anyhow::{Context, anyhow, bail};
use elasticsearch::Elasticsearch;
use elasticsearch::auth::Credentials;
use elasticsearch::cert::{Certificate, CertificateValidation};
use elasticsearch::http::response::Response;
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::http::{StatusCode, Url};
use serde::Deserialize;
use serde_json::{Value, json};
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

/// Per-request timeout: long enough for a large `_bulk` or `_delete_by_query` on a busy cluster.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(240);

/// How to reach the cluster.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EsSettings {
    /// Base URL, e.g. `https://localhost:9200`.
    pub url: String,
    /// API key: either the encoded form Kibana shows, or `id:api_key`.
    pub api_key: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// PEM file with the CA that signed the cluster's certificate.
    pub ca_cert: Option<PathBuf>,
    /// Skip TLS certificate verification (tests and throwaway clusters only).
    pub insecure: bool,
    /// How long transient failures of one call are retried (sum of the waits between tries).
    pub retry_budget_secs: u64,
}

impl Default for EsSettings {
    fn default() -> Self {
        EsSettings {
            url: "http://localhost:9200".into(),
            api_key: None,
            username: None,
            password: None,
            ca_cert: None,
            insecure: false,
            retry_budget_secs: crate::retry::SEARCH_BUDGET.as_secs(),
        }
    }
}

impl EsSettings {
    /// How long transient failures of one call are retried.
    pub fn retry_budget(&self) -> Duration {
        Duration::from_secs(self.retry_budget_secs)
    }
}

impl std::fmt::Debug for EsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsSettings")
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_cert", &self.ca_cert)
            .field("insecure", &self.insecure)
            .field("retry_budget_secs", &self.retry_budget_secs)
            .finish()
    }
}

/// Build a client for `settings` (no request is sent).
pub fn client(settings: &EsSettings) -> anyhow::Result<Elasticsearch> {
    let url = Url::parse(&settings.url).with_context(|| {
        format!(
            "elasticsearch.url {:?} is not a URL; use e.g. https://localhost:9200",
            settings.url
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!(
            "elasticsearch.url {:?} must start with http:// or https://",
            settings.url
        );
    }
    let mut builder = TransportBuilder::new(SingleNodeConnectionPool::new(url))
        .timeout(REQUEST_TIMEOUT)
        // Keep bodies readable to servers that do not expect compressed requests.
        .request_body_compression(false);
    if let Some(credentials) = credentials(settings)? {
        builder = builder.auth(credentials);
    }
    if settings.insecure {
        builder = builder.cert_validation(CertificateValidation::None);
    } else if let Some(path) = &settings.ca_cert {
        let pem = std::fs::read(path).with_context(|| {
            format!(
                "reading elasticsearch.ca_cert {}; check the path and permissions",
                path.display()
            )
        })?;
        let cert = Certificate::from_pem(&pem).map_err(|e| {
            anyhow!(
                "elasticsearch.ca_cert {} is not a PEM certificate: {e}",
                path.display()
            )
        })?;
        builder = builder.cert_validation(CertificateValidation::Full(cert));
    }
    let transport = builder.build().map_err(|e| {
        anyhow!(
            "building the Elasticsearch client for {}: {e}",
            settings.url
        )
    })?;
    Ok(Elasticsearch::new(transport))
}

fn credentials(settings: &EsSettings) -> anyhow::Result<Option<Credentials>> {
    if let Some(key) = &settings.api_key {
        let key = key.trim();
        // The client builds a header from the key; refuse what cannot be a header value.
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            bail!(
                "elasticsearch.api_key contains spaces or non-ASCII characters; paste the key exactly as issued"
            );
        }
        return Ok(Some(match key.split_once(':') {
            Some((id, secret)) => Credentials::ApiKey(id.to_string(), secret.to_string()),
            None => Credentials::EncodedApiKey(key.to_string()),
        }));
    }
    match (&settings.username, &settings.password) {
        (Some(user), Some(password)) => {
            Ok(Some(Credentials::Basic(user.clone(), password.clone())))
        }
        (Some(_), None) => bail!("elasticsearch.username is set without elasticsearch.password"),
        (None, Some(_)) => bail!("elasticsearch.password is set without elasticsearch.username"),
        (None, None) => Ok(None),
    }
}

/// The status and JSON body of a response; a non-JSON body becomes `{"raw": text}`.
pub(crate) async fn read_json(response: Response) -> anyhow::Result<(StatusCode, Value)> {
    let status = response.status_code();
    let text = response.text().await.context("reading the response body")?;
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text }))
    };
    Ok((status, body))
}

/// A one-line description of an error response (`type: reason`).
pub(crate) fn error_reason(body: &Value) -> String {
    let error = &body["error"];
    match (error["type"].as_str(), error["reason"].as_str()) {
        (Some(kind), Some(reason)) => format!("{kind}: {reason}"),
        _ => match error.as_str().or_else(|| body["raw"].as_str()) {
            Some(s) => s.chars().take(500).collect(),
            None => body.to_string().chars().take(500).collect(),
        },
    }
}

/// The answer to a call that was not transient.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: Value,
    /// An earlier attempt failed in a way that leaves open whether the cluster applied it (the
    /// connection dropped, the answer was lost). A conditional write that now conflicts may
    /// have conflicted with itself.
    pub uncertain: bool,
}

/// Statuses worth another try: the cluster is busy, restarting or behind a failing proxy.
pub(crate) fn is_transient(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// Make one call, retrying transient failures until `budget` of waiting is spent. `send`
/// builds and sends the request afresh for each attempt. `what` names the call in messages.
pub(crate) async fn call<F, Fut>(
    budget: Duration,
    what: &str,
    mut send: F,
) -> anyhow::Result<Answer>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Response, elasticsearch::Error>>,
{
    let mut delays = crate::retry::timed(budget);
    let mut uncertain = false;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let reason = match send().await {
            Ok(response) => match read_json(response).await {
                Ok((status, body)) if !is_transient(status) => {
                    if attempts > 1 {
                        tracing::info!("{what}: succeeded after {attempts} attempts");
                    }
                    return Ok(Answer {
                        status,
                        body,
                        uncertain,
                    });
                }
                Ok((status, body)) => {
                    // 502/504 come from a proxy that may have passed the request on.
                    uncertain |= matches!(status.as_u16(), 502 | 504);
                    format!("{status}: {}", error_reason(&body))
                }
                Err(e) => {
                    uncertain = true;
                    format!("{e:#}")
                }
            },
            Err(e) => {
                uncertain = true;
                format!("{e}")
            }
        };
        let Some(delay) = delays.next() else {
            bail!(
                "{what}: still failing after {attempts} attempts over about {}s: {reason}; \
                 check that the cluster is up (the runner retries for elasticsearch.retry_budget_secs)",
                budget.as_secs()
            );
        };
        if attempts == 1 {
            tracing::warn!("{what}: {reason}; retrying");
        } else {
            tracing::debug!(attempts, "{what}: {reason}; retrying");
        }
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_redacts_secrets() {
        let settings = EsSettings {
            api_key: Some("c2VjcmV0LWtleQ==".into()),
            username: Some("elastic".into()),
            password: Some("hunter2".into()),
            ..EsSettings::default()
        };
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("c2VjcmV0"),
            "{shown}"
        );
        assert!(
            shown.contains("elastic") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn settings_deserialize_with_defaults() {
        let settings: EsSettings =
            serde_json::from_value(json!({"url": "https://es:9200"})).unwrap_or_default();
        assert_eq!(settings.url, "https://es:9200");
        assert!(!settings.insecure && settings.api_key.is_none());
    }

    #[test]
    fn api_key_forms_and_bad_inputs() {
        let with = |key: &str| EsSettings {
            api_key: Some(key.into()),
            ..EsSettings::default()
        };
        assert!(matches!(
            credentials(&with("abc==")),
            Ok(Some(Credentials::EncodedApiKey(_)))
        ));
        assert!(matches!(
            credentials(&with("id:secret")),
            Ok(Some(Credentials::ApiKey(_, _)))
        ));
        assert!(credentials(&with("has space")).is_err());
        let half = EsSettings {
            username: Some("u".into()),
            ..EsSettings::default()
        };
        assert!(credentials(&half).is_err());
        assert!(
            client(&EsSettings {
                url: "ftp://x".into(),
                ..EsSettings::default()
            })
            .is_err()
        );
    }
}
