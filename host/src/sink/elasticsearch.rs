//! The Elasticsearch sink: index preparation, the bulk writer, and the query-based deletes.
//!
//! Works against Elasticsearch 8/9 and OpenSearch 2/3: only standard APIs, and plain
//! `application/json` / `application/x-ndjson` media types (some servers refuse the
//! `compatible-with` ones).
use super::bulk::{BulkSettings, BulkWriter};
use super::{SinkStats, Write, WriteAck, mapping};
use anyhow::{Context, anyhow, bail};
use elasticsearch::auth::Credentials;
use elasticsearch::cert::{Certificate, CertificateValidation};
use elasticsearch::http::response::Response;
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::http::{StatusCode, Url};
use elasticsearch::indices::{
    IndicesCreateParts, IndicesExistsParts, IndicesPutMappingParts, IndicesRefreshParts,
};
use elasticsearch::params::Conflicts;
use elasticsearch::{DeleteByQueryParts, Elasticsearch, MgetParts};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

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
        }
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

/// Documents go to Elasticsearch through `_bulk`.
pub struct EsSink {
    client: Elasticsearch,
    index: String,
    url: String,
    writer: BulkWriter,
}

impl EsSink {
    /// Check that the cluster answers and start the bulk writer for `index`.
    pub async fn connect(
        settings: &EsSettings,
        index: &str,
        bulk: BulkSettings,
        acks: UnboundedSender<WriteAck>,
    ) -> anyhow::Result<EsSink> {
        if index.is_empty() {
            bail!(
                "the Elasticsearch index name is empty; set `index` in the tenant's configuration"
            );
        }
        let client = client(settings)?;
        let response = client.info().send().await.with_context(|| {
            format!("cannot reach Elasticsearch at {}; check elasticsearch.url and that the cluster is up", settings.url)
        })?;
        let (status, body) = read_json(response).await?;
        match status.as_u16() {
            200..=299 => {}
            401 => bail!(
                "Elasticsearch at {} rejected the credentials (401): {}; check elasticsearch.api_key or username/password",
                settings.url,
                error_reason(&body)
            ),
            // An API key limited to index privileges may not read cluster info: not fatal.
            403 => tracing::debug!("GET / on {} is forbidden; continuing", settings.url),
            other => bail!(
                "Elasticsearch at {} answered GET / with {other}: {}",
                settings.url,
                error_reason(&body)
            ),
        }
        let writer = BulkWriter::spawn(client.clone(), index.to_string(), bulk, acks);
        Ok(EsSink {
            client,
            index: index.to_string(),
            url: settings.url.clone(),
            writer,
        })
    }

    /// Create the index with our settings and mappings if it does not exist; otherwise add the
    /// mappings of any new fields (an incompatible change is an error).
    pub async fn prepare(&self, connector_properties: &Value) -> anyhow::Result<()> {
        let body = mapping::create_index_body(connector_properties)?;
        let index = self.index.as_str();
        let exists = self
            .client
            .indices()
            .exists(IndicesExistsParts::Index(&[index]))
            .send()
            .await
            .with_context(|| format!("checking whether index {index} exists at {}", self.url))?;
        if exists.status_code() == StatusCode::NOT_FOUND {
            let response = self
                .client
                .indices()
                .create(IndicesCreateParts::Index(index))
                .body(body)
                .send()
                .await
                .with_context(|| format!("creating index {index} at {}", self.url))?;
            let (status, body) = read_json(response).await?;
            if status.is_success() {
                tracing::info!(%index, "created the index");
                return Ok(());
            }
            // Another runner created it between our check and our create: fall through.
            if body["error"]["type"].as_str() != Some("resource_already_exists_exception") {
                bail!(
                    "creating index {index} failed ({status}): {}",
                    error_reason(&body)
                );
            }
        } else if !exists.status_code().is_success() {
            let (status, body) = read_json(exists).await?;
            bail!(
                "checking index {index} failed ({status}): {}",
                error_reason(&body)
            );
        }
        let properties = mapping::merged_properties(connector_properties)?;
        let response = self
            .client
            .indices()
            .put_mapping(IndicesPutMappingParts::Index(&[index]))
            .body(json!({ "properties": properties }))
            .send()
            .await
            .with_context(|| format!("updating the mappings of index {index} at {}", self.url))?;
        let (status, body) = read_json(response).await?;
        if !status.is_success() {
            bail!(
                "index {index} exists with mappings that do not fit this connector ({status}: {}); \
                 use a new index name or reindex",
                error_reason(&body)
            );
        }
        Ok(())
    }

    /// Queue a write (waits while the queue is full).
    pub async fn submit(&self, write: Write, token: u64) -> anyhow::Result<()> {
        self.writer.submit(write, token).await
    }

    /// Send what is queued and wait for every acknowledgement.
    pub async fn drain(&self) -> anyhow::Result<()> {
        self.writer.drain().await
    }

    /// Delete `field == value` and everything below `value + "/"`.
    pub async fn delete_tree(
        &self,
        field: &str,
        value: &str,
        keep: &[String],
    ) -> anyhow::Result<u64> {
        if field.is_empty() || value.is_empty() {
            bail!(
                "delete_tree needs a field and a value, got field {field:?} value {value:?}; refusing to delete everything"
            );
        }
        let prefix = if value.ends_with('/') {
            value.to_string()
        } else {
            format!("{value}/")
        };
        let query = json!({
            "bool": {
                "should": [
                    { "term": { field: value } },
                    { "prefix": { field: prefix } }
                ],
                "minimum_should_match": 1,
                "must_not": [ { "ids": { "values": keep } } ]
            }
        });
        self.delete_by_query(query, &format!("{field} = {value:?} and below"))
            .await
    }

    /// Delete the documents of `scope` not written by run `run`.
    pub async fn purge_unseen(&self, scope: &str, run: &str) -> anyhow::Result<u64> {
        if scope.is_empty() || run.is_empty() {
            bail!("purge_unseen needs a scope and a run marker, got scope {scope:?} run {run:?}");
        }
        let query = json!({
            "bool": {
                "filter": [ { "term": { "tributary.scope": scope } } ],
                "must_not": [ { "term": { "tributary.run": run } } ]
            }
        });
        self.delete_by_query(query, &format!("scope {scope:?} not seen by run {run:?}"))
            .await
    }

    async fn delete_by_query(&self, query: Value, what: &str) -> anyhow::Result<u64> {
        let index = self.index.as_str();
        self.drain().await?;
        let response = self
            .client
            .indices()
            .refresh(IndicesRefreshParts::Index(&[index]))
            .send()
            .await
            .with_context(|| format!("refreshing index {index} before deleting {what}"))?;
        let (status, body) = read_json(response).await?;
        if !status.is_success() {
            bail!(
                "refreshing index {index} before deleting {what} failed ({status}): {}",
                error_reason(&body)
            );
        }
        let response = self
            .client
            .delete_by_query(DeleteByQueryParts::Index(&[index]))
            .conflicts(Conflicts::Proceed)
            .refresh(true)
            .body(json!({ "query": query }))
            .send()
            .await
            .with_context(|| format!("deleting {what} from index {index}"))?;
        let (status, body) = read_json(response).await?;
        if !status.is_success() {
            bail!(
                "deleting {what} from index {index} failed ({status}): {}",
                error_reason(&body)
            );
        }
        if let Some(failures) = body["failures"].as_array().filter(|f| !f.is_empty()) {
            bail!(
                "deleting {what} from index {index}: {} documents could not be deleted (first: {}); rerun the sync",
                failures.len(),
                failures[0]
            );
        }
        Ok(body["deleted"].as_u64().unwrap_or(0))
    }

    /// Stored content keys of documents whose content was extracted or permanently skipped.
    pub async fn content_keys(&self, ids: &[String]) -> anyhow::Result<HashMap<String, String>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let index = self.index.as_str();
        let response = self
            .client
            .mget(MgetParts::Index(index))
            ._source_includes(&["tributary.content_key", "content_status"])
            .body(json!({ "ids": ids }))
            .send()
            .await
            .with_context(|| {
                format!(
                    "reading content keys of {} documents from index {index}",
                    ids.len()
                )
            })?;
        let (status, body) = read_json(response).await?;
        if !status.is_success() {
            bail!(
                "reading content keys from index {index} failed ({status}): {}",
                error_reason(&body)
            );
        }
        let mut keys = HashMap::new();
        for doc in body["docs"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if let Some(error) = doc.get("error") {
                bail!(
                    "reading content keys from index {index}: {}",
                    error_reason(&json!({ "error": error }))
                );
            }
            let source = &doc["_source"];
            let settled = matches!(
                source["content_status"].as_str(),
                Some("extracted" | "skipped")
            );
            if let (true, Some(id), Some(key)) = (
                settled,
                doc["_id"].as_str(),
                source["tributary"]["content_key"].as_str(),
            ) {
                keys.insert(id.to_string(), key.to_string());
            }
        }
        Ok(keys)
    }

    /// Counters so far.
    pub fn stats(&self) -> SinkStats {
        self.writer.stats()
    }

    /// Drain, stop the writer, return the counters.
    pub async fn close(self) -> anyhow::Result<SinkStats> {
        self.writer.close().await
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
