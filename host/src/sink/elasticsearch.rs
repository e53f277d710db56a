//! The Elasticsearch sink: index preparation, the bulk writer, and the query-based deletes.
//! Every call goes through [`crate::es::call`], so a transient failure (a restart, a 503, a
//! dropped connection) is retried under the runner's one policy instead of failing the run.
use super::bulk::{BulkSettings, BulkWriter};
use super::{SinkStats, Stored, StoredDoc, Write, WriteAck, mapping};
use crate::es::{self, EsSettings, error_reason};
use anyhow::{Context, bail};
use elasticsearch::Elasticsearch;
use elasticsearch::http::StatusCode;
use elasticsearch::indices::{
    IndicesCreateParts, IndicesExistsParts, IndicesGetMappingParts, IndicesPutMappingParts,
    IndicesRefreshParts,
};
use elasticsearch::params::Conflicts;
use elasticsearch::{CountParts, DeleteByQueryParts, MgetParts};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::OnceCell;
use tokio::sync::mpsc::UnboundedSender;

/// Documents go to Elasticsearch through `_bulk`.
pub struct EsSink {
    client: Elasticsearch,
    index: String,
    url: String,
    budget: Duration,
    writer: BulkWriter,
    /// Whether the index held no document when this run first asked (see `stored`).
    started_empty: OnceCell<bool>,
}

impl EsSink {
    /// Check that the cluster answers and start the bulk writer for `index`, with a byte
    /// budget of its own.
    pub async fn connect(
        settings: &EsSettings,
        index: &str,
        bulk: BulkSettings,
        acks: UnboundedSender<WriteAck>,
    ) -> anyhow::Result<EsSink> {
        let bytes = crate::budget::Budgets::for_one_run(1).bulk_kib.join(index);
        Self::connect_with_budget(settings, index, bulk, bytes, acks).await
    }

    /// As `connect`, drawing the bytes in flight from a budget shared with other tenants.
    pub async fn connect_with_budget(
        settings: &EsSettings,
        index: &str,
        bulk: BulkSettings,
        bytes: crate::budget::Share,
        acks: UnboundedSender<WriteAck>,
    ) -> anyhow::Result<EsSink> {
        if index.is_empty() {
            bail!(
                "the Elasticsearch index name is empty; set `index` in the tenant's configuration"
            );
        }
        let client = es::client(settings)?;
        let budget = settings.retry_budget();
        let answer = es::call(budget, &format!("GET / on {}", settings.url), || {
            client.info().send()
        })
        .await
        .with_context(|| {
            format!(
                "cannot reach Elasticsearch at {}; check elasticsearch.url and that the cluster is up",
                settings.url
            )
        })?;
        match answer.status.as_u16() {
            200..=299 => {}
            401 => bail!(
                "Elasticsearch at {} rejected the credentials (401): {}; check elasticsearch.api_key or username/password",
                settings.url,
                error_reason(&answer.body)
            ),
            // An API key limited to index privileges may not read cluster info: not fatal.
            403 => tracing::debug!("GET / on {} is forbidden; continuing", settings.url),
            other => bail!(
                "Elasticsearch at {} answered GET / with {other}: {}",
                settings.url,
                error_reason(&answer.body)
            ),
        }
        let writer = BulkWriter::spawn(client.clone(), index.to_string(), bulk, bytes, acks);
        Ok(EsSink {
            client,
            index: index.to_string(),
            url: settings.url.clone(),
            budget,
            writer,
            started_empty: OnceCell::new(),
        })
    }

    /// Create the index with our settings and mappings if it does not exist; otherwise add the
    /// mappings of any new fields (an incompatible change is an error).
    pub async fn prepare(&self, connector_properties: &Value) -> anyhow::Result<()> {
        let body = mapping::create_index_body(connector_properties)?;
        let index = self.index.as_str();
        let indices = [index];
        let api = self.client.indices();
        let exists = es::call(
            self.budget,
            &format!("checking whether index {index} exists at {}", self.url),
            || api.exists(IndicesExistsParts::Index(&indices)).send(),
        )
        .await?;
        if exists.status == StatusCode::NOT_FOUND {
            let created = es::call(
                self.budget,
                &format!("creating index {index} at {}", self.url),
                || {
                    api.create(IndicesCreateParts::Index(index))
                        .body(body.clone())
                        .send()
                },
            )
            .await?;
            if created.status.is_success() {
                tracing::info!(%index, "created the index");
                return Ok(());
            }
            // Another runner (or our own earlier, unanswered attempt) created it between the
            // check and the create: fall through to the mapping update.
            if created.body["error"]["type"].as_str() != Some("resource_already_exists_exception") {
                bail!(
                    "creating index {index} failed ({}): {}",
                    created.status,
                    error_reason(&created.body)
                );
            }
        } else if !exists.status.is_success() {
            bail!(
                "checking index {index} failed ({}): {}",
                exists.status,
                error_reason(&exists.body)
            );
        }
        let mut wanted = mapping::merged_properties(connector_properties)?;
        let existing = es::call(
            self.budget,
            &format!("reading the mappings of index {index} at {}", self.url),
            || {
                api.get_mapping(IndicesGetMappingParts::Index(&indices))
                    .send()
            },
        )
        .await?;
        if !existing.status.is_success() {
            bail!(
                "reading the mappings of index {index} failed ({}): {}",
                existing.status,
                error_reason(&existing.body)
            );
        }
        // Keyed by the concrete index (`index` may be an alias of one).
        if let Some(stored) = existing
            .body
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(|m| m["mappings"]["properties"].as_object())
        {
            mapping::fit_to_existing(&mut wanted, stored);
        }
        let properties = json!({ "properties": wanted });
        let answer = es::call(
            self.budget,
            &format!("updating the mappings of index {index} at {}", self.url),
            || {
                api.put_mapping(IndicesPutMappingParts::Index(&indices))
                    .body(properties.clone())
                    .send()
            },
        )
        .await?;
        if answer.status == StatusCode::BAD_REQUEST {
            bail!(
                "index {index} exists with mappings that do not fit this connector ({}: {}); \
                 use a new index name or reindex",
                answer.status,
                error_reason(&answer.body)
            );
        }
        if !answer.status.is_success() {
            bail!(
                "updating the mappings of index {index} failed ({}): {}",
                answer.status,
                error_reason(&answer.body)
            );
        }
        Ok(())
    }

    /// Queue a write (waits while the queue is full).
    pub async fn submit(&self, write: Write, token: u64) -> anyhow::Result<()> {
        self.writer.submit(write, token).await
    }

    /// Send what is queued without waiting for the answers.
    pub async fn send_queued(&self) -> anyhow::Result<()> {
        self.writer.send_queued().await
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
        let indices = [index];
        let api = self.client.indices();
        self.drain().await?;
        let refreshed = es::call(
            self.budget,
            &format!("refreshing index {index} before deleting {what}"),
            || api.refresh(IndicesRefreshParts::Index(&indices)).send(),
        )
        .await?;
        if !refreshed.status.is_success() {
            bail!(
                "refreshing index {index} before deleting {what} failed ({}): {}",
                refreshed.status,
                error_reason(&refreshed.body)
            );
        }
        let body = json!({ "query": query });
        // Deleting by a query again after a lost answer deletes nothing new: safe to retry.
        let answer = es::call(
            self.budget,
            &format!("deleting {what} from index {index}"),
            || {
                self.client
                    .delete_by_query(DeleteByQueryParts::Index(&indices))
                    .conflicts(Conflicts::Proceed)
                    .refresh(true)
                    .body(body.clone())
                    .send()
            },
        )
        .await?;
        if !answer.status.is_success() {
            bail!(
                "deleting {what} from index {index} failed ({}): {}",
                answer.status,
                error_reason(&answer.body)
            );
        }
        if let Some(failures) = answer.body["failures"].as_array().filter(|f| !f.is_empty()) {
            bail!(
                "deleting {what} from index {index}: {} documents could not be deleted (first: {}); rerun the sync",
                failures.len(),
                failures[0]
            );
        }
        Ok(answer.body["deleted"].as_u64().unwrap_or(0))
    }

    /// What the index holds of these documents: content keys (of documents whose content was
    /// extracted or permanently skipped) and `_timestamp`s, by one `_mget`.
    ///
    /// When the index held no document at all once this run owned the tenant (checked once,
    /// at the first call: a refresh, then a count), every document in it was written by this
    /// run (the tenant's lease keeps other runners of the tenant out), so nothing stored can
    /// be older than this run: no `_mget` is needed and none is sent. A document this run
    /// wrote earlier is then re-fetched instead of skipped, and re-stamped with the same
    /// `first_indexed` time, so the answer is the same either way.
    pub async fn stored(&self, ids: &[String]) -> anyhow::Result<Stored> {
        // Asked first, whatever `ids` holds: the answer is only worth something before this
        // run's first write lands.
        if self.started_empty().await? || ids.is_empty() {
            return Ok(Stored::default());
        }
        let index = self.index.as_str();
        let body = json!({ "ids": ids });
        let answer = es::call(
            self.budget,
            &format!(
                "reading content keys of {} documents from index {index}",
                ids.len()
            ),
            || {
                self.client
                    .mget(MgetParts::Index(index))
                    ._source_includes(&["tributary.content_key", "content_status", "_timestamp"])
                    .body(body.clone())
                    .send()
            },
        )
        .await?;
        if !answer.status.is_success() {
            bail!(
                "reading content keys from index {index} failed ({}): {}",
                answer.status,
                error_reason(&answer.body)
            );
        }
        let mut stored = Stored::default();
        for doc in answer.body["docs"]
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
            let (Some(id), Some(source)) = (doc["_id"].as_str(), doc.get("_source")) else {
                continue;
            };
            let settled = matches!(
                source["content_status"].as_str(),
                Some("extracted" | "skipped")
            );
            let content_key = source["tributary"]["content_key"]
                .as_str()
                .filter(|_| settled)
                .map(str::to_string);
            let timestamp = source["_timestamp"].as_str().map(str::to_string);
            if content_key.is_some() || timestamp.is_some() {
                stored.insert(
                    id.to_string(),
                    StoredDoc {
                        content_key,
                        timestamp,
                    },
                );
            }
        }
        Ok(stored)
    }

    /// Whether the index held no document when first asked (see [`EsSink::stored`]).
    async fn started_empty(&self) -> anyhow::Result<bool> {
        self.started_empty
            .get_or_try_init(|| async {
                let index = self.index.as_str();
                let indices = [index];
                let api = self.client.indices();
                // `_count` sees what a refresh made searchable: refresh first, so a document
                // an earlier (crashed) run wrote just before is counted too.
                let refreshed = es::call(
                    self.budget,
                    &format!("refreshing index {index} before counting its documents"),
                    || api.refresh(IndicesRefreshParts::Index(&indices)).send(),
                )
                .await?;
                if !refreshed.status.is_success() {
                    bail!(
                        "refreshing index {index} failed ({}): {}",
                        refreshed.status,
                        error_reason(&refreshed.body)
                    );
                }
                let counted = es::call(
                    self.budget,
                    &format!("counting the documents of index {index}"),
                    || self.client.count(CountParts::Index(&indices)).send(),
                )
                .await?;
                if !counted.status.is_success() {
                    bail!(
                        "counting the documents of index {index} failed ({}): {}",
                        counted.status,
                        error_reason(&counted.body)
                    );
                }
                let empty = counted.body["count"].as_u64() == Some(0);
                if empty {
                    tracing::debug!(%index, "the index holds no documents: nothing stored to look up this run");
                }
                Ok(empty)
            })
            .await
            .copied()
    }

    /// The `_timestamp` of documents this run indexes first.
    pub fn first_indexed(&self) -> &str {
        self.writer.first_indexed()
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
