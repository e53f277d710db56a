//! Where documents go: Elasticsearch (`elasticsearch`) or NDJSON (`dry_run`).
//!
//! Every write is submitted with a caller-chosen token; its outcome comes back on the ack
//! channel given at construction, so the caller can tell when everything before a checkpoint
//! is durable. `drain` returns only once every earlier write has been acknowledged.
pub mod bulk;
pub mod doc;
pub mod dry_run;
pub mod elasticsearch;
mod json_string;
pub mod mapping;

pub use doc::{Doc, DocWriter};
use serde_json::Value;
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// One write to the index.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Replace the whole document. `source` is the complete JSON object.
    ///
    /// `source` should carry `_timestamp`: the stored one, or [`Sink::first_indexed`] for a
    /// document [`Sink::stored`] does not know. Without one the write becomes an upsert that
    /// keeps the stored `_timestamp` (sent twice, see [`bulk`]): correct, but twice the bytes.
    Index { id: String, source: Doc },
    /// Merge `fields` into the existing document (metadata changed, content unchanged).
    Update { id: String, fields: Doc },
    /// Replace the whole document through an ingest pipeline (which does not run on the
    /// update+upsert a plain `Index` may become): `source` carries its own `_timestamp`.
    IndexVia {
        id: String,
        source: Doc,
        pipeline: String,
    },
    /// Merge `fields` into the document if it still exists; a missing document counts as
    /// success (a later run's content retry for a document deleted meanwhile).
    Patch { id: String, fields: Doc },
    /// Remove the document; one that is already gone counts as success.
    Delete { id: String },
}

impl Write {
    /// The document id this write targets.
    pub fn id(&self) -> &str {
        match self {
            Write::Index { id, .. }
            | Write::IndexVia { id, .. }
            | Write::Update { id, .. }
            | Write::Patch { id, .. }
            | Write::Delete { id } => id,
        }
    }
}

/// The outcome of one submitted write, delivered on the ack channel given at construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteAck {
    pub token: u64,
    pub outcome: Result<(), String>,
}

/// What the index holds of some documents (see [`Sink::stored`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    docs: HashMap<String, StoredDoc>,
}

/// One stored document, as far as a page needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredDoc {
    /// `tributary.content_key`, if its content was extracted or permanently skipped.
    pub content_key: Option<String>,
    pub timestamp: Option<String>,
}

impl Stored {
    pub fn insert(&mut self, id: String, doc: StoredDoc) {
        self.docs.insert(id, doc);
    }

    pub fn content_key(&self, id: &str) -> Option<&str> {
        self.docs.get(id)?.content_key.as_deref()
    }

    pub fn timestamp(&self, id: &str) -> Option<&str> {
        self.docs.get(id)?.timestamp.as_deref()
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }
}

/// What a sink did, for the run report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// `Index` writes that succeeded.
    pub indexed: u64,
    /// `Update` writes that succeeded.
    pub updated: u64,
    /// `Delete` writes that succeeded (including documents that were already gone).
    pub deleted: u64,
    /// Writes acknowledged with an error.
    pub failed: u64,
    /// `_bulk` HTTP requests sent, retries included.
    pub bulk_requests: u64,
    /// Bytes of `_bulk` bodies sent, retries included.
    pub bytes_sent: u64,
}

/// A destination for documents.
pub enum Sink {
    Elasticsearch(elasticsearch::EsSink),
    DryRun(dry_run::DryRunSink),
}

impl Sink {
    /// A sink that discards everything and whose acks go nowhere; a stand-in after the real
    /// sink has been taken out for `close`.
    pub fn placeholder() -> Sink {
        let (acks, _) = tokio::sync::mpsc::unbounded_channel();
        Sink::DryRun(dry_run::DryRunSink::new(Box::new(std::io::sink()), acks))
    }

    /// Create the index if missing with our mappings merged with the connector's `properties`.
    pub async fn prepare(&self, connector_properties: &Value) -> anyhow::Result<()> {
        match self {
            Sink::Elasticsearch(s) => s.prepare(connector_properties).await,
            Sink::DryRun(s) => s.prepare(connector_properties),
        }
    }

    /// Queue a write; waits when the queue is full (back-pressure). `token` comes back in the ack.
    pub async fn submit(&self, write: Write, token: u64) -> anyhow::Result<()> {
        match self {
            Sink::Elasticsearch(s) => s.submit(write, token).await,
            Sink::DryRun(s) => s.submit(write, token),
        }
    }

    /// Send the writes queued so far without waiting for their answers (the end of a page).
    pub async fn send_queued(&self) -> anyhow::Result<()> {
        match self {
            Sink::Elasticsearch(s) => s.send_queued().await,
            Sink::DryRun(_) => Ok(()),
        }
    }

    /// Send everything queued and wait until every submitted write has been acknowledged
    /// (all acks are on the channel before this returns).
    pub async fn drain(&self) -> anyhow::Result<()> {
        match self {
            Sink::Elasticsearch(s) => s.drain().await,
            Sink::DryRun(s) => s.drain(),
        }
    }

    /// Delete documents whose `field` equals `value` or starts with `value + "/"`. Drains and
    /// refreshes first so earlier writes are visible; conflicts=proceed. Returns how many.
    ///
    /// Documents whose id is in `keep` survive: they are rewritten later in the same page
    /// (a move or rename reported as delete + add with the same id keeps its content).
    pub async fn delete_tree(
        &self,
        field: &str,
        value: &str,
        keep: &[String],
    ) -> anyhow::Result<u64> {
        match self {
            Sink::Elasticsearch(s) => s.delete_tree(field, value, keep).await,
            Sink::DryRun(s) => s.delete_tree(field, value, keep),
        }
    }

    /// Delete documents with `tributary.scope == scope` and `tributary.run != run` (after a
    /// completed enumeration). Drains and refreshes first. Returns how many.
    pub async fn purge_unseen(&self, scope: &str, run: &str) -> anyhow::Result<u64> {
        match self {
            Sink::Elasticsearch(s) => s.purge_unseen(scope, run).await,
            Sink::DryRun(s) => s.purge_unseen(scope, run),
        }
    }

    /// What the index holds for these ids: the content key of documents whose content was
    /// extracted or permanently skipped, and the `_timestamp` of each. Asks nothing when the
    /// index held none of this tenant's documents when the run began (see
    /// [`elasticsearch::EsSink::stored`]).
    pub async fn stored(&self, ids: &[String]) -> anyhow::Result<Stored> {
        match self {
            Sink::Elasticsearch(s) => s.stored(ids).await,
            Sink::DryRun(_) => Ok(Stored::default()),
        }
    }

    /// The `_timestamp` of documents this run indexes first (documents [`Sink::stored`] does
    /// not know): fixed for the run, so a document written twice in a run keeps it.
    pub fn first_indexed(&self) -> &str {
        match self {
            Sink::Elasticsearch(s) => s.first_indexed(),
            Sink::DryRun(s) => s.first_indexed(),
        }
    }

    /// Counters so far (for progress); `close` returns the final ones.
    pub fn stats(&self) -> SinkStats {
        match self {
            Sink::Elasticsearch(s) => s.stats(),
            Sink::DryRun(s) => s.stats(),
        }
    }

    /// Drain, stop the writer task(s), return stats. The ack sender is dropped on return.
    pub async fn close(self) -> anyhow::Result<SinkStats> {
        match self {
            Sink::Elasticsearch(s) => s.close().await,
            Sink::DryRun(s) => s.close(),
        }
    }
}

/// `time` as an RFC 3339 UTC timestamp with millisecond precision (`2024-05-01T12:00:00.000Z`).
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
        assert_eq!(rfc3339(t), "2024-02-29T12:34:56.789Z");
        let t = UNIX_EPOCH + Duration::from_secs(4_102_444_799);
        assert_eq!(rfc3339(t), "2099-12-31T23:59:59.000Z");
    }
}
