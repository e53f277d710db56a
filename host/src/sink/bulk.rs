//! The bulk writer: a task that batches writes into `_bulk` requests.
//!
//! - A write arrives serialized (a [`Doc`](super::Doc)); `submit` only frames it into its exact
//!   NDJSON lines. Batches close on `max_actions` or `max_bytes` (measured on those lines),
//!   500 ms after their first write, or when the caller says a page's writes are all queued
//!   (`send_queued`), so checkpoints follow pages instead of waiting for a full request.
//! - Up to `concurrency` requests are in flight. A batch never goes out while an earlier batch
//!   holding the same document id is still in flight, so writes to one id land in order.
//! - Item-level 429s and whole-request 429/502/503/504 or connection failures are retried under
//!   the runner's one retry policy (exponential backoff with jitter) until the retry budget is
//!   spent; other item errors are acknowledged as errors and counted. A rejected write holds
//!   the checkpoint and forbids the purge that ends an enumeration (see `sync`).
//! - An `Index` normally carries its `_timestamp` (the caller looked the stored one up) and goes
//!   as a plain `index`. One without becomes `update` + `upsert` so the first-indexed time stays:
//!   the upsert carries the run's start time, the merge leaves a stored one alone. Because this
//!   is a merge, host-owned optional fields missing from the source (`content_status`, `body`,
//!   `content_skipped_reason`, `tributary.content_key`, ...) are sent as `null` so stale values do not
//!   survive; connector fields that disappear from a document do survive. It sends the document
//!   twice, which is why callers avoid it.
use super::doc::push_str;
use super::{SinkStats, Write, WriteAck, rfc3339};
use crate::budget::{Grant, Share};
use crate::es::{error_reason, is_transient, read_json};
use anyhow::{Context, anyhow};
use bytes::{Bytes, BytesMut};
use elasticsearch::Elasticsearch;
use elasticsearch::http::Method;
use elasticsearch::http::headers::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc::{self, UnboundedSender};
use tokio::sync::{Mutex, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tracing::Instrument;

/// A partly filled batch goes out after this long without new writes.
const IDLE_FLUSH: Duration = Duration::from_millis(500);

/// Sizing of `_bulk` requests and the queue in front of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkSettings {
    /// Writes per `_bulk` request: a cap on the response's size. `max_bytes` is what sizes a
    /// request in practice (a search server's cost per request is fixed, so a few thousand
    /// small documents per request index faster than 500).
    pub max_actions: usize,
    /// Body bytes per `_bulk` request (a single larger document goes alone).
    pub max_bytes: usize,
    /// `_bulk` requests in flight.
    pub concurrency: usize,
    /// Writes waiting for a batch; `submit` waits when it is full.
    pub queue: usize,
    /// How long a write rejected with 429 (or a request that failed transiently) is retried:
    /// the sum of the waits between tries.
    pub retry_budget: Duration,
}

impl Default for BulkSettings {
    fn default() -> Self {
        BulkSettings {
            max_actions: 10_000,
            max_bytes: 5 * 1024 * 1024,
            concurrency: 3,
            queue: 2000,
            retry_budget: crate::retry::SEARCH_BUDGET,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Index,
    Update,
    Patch,
    Delete,
}

/// A write serialized into its `_bulk` lines.
#[derive(Debug)]
struct Prepared {
    id: String,
    /// A hash of `id`: what the ordering of writes to one id is tracked by (two ids that
    /// share a hash only wait for each other, which is safe).
    key: u64,
    op: Op,
    token: u64,
    lines: Bytes,
    /// This write's part of the byte budget; released when the write is acknowledged.
    _budget: Option<Grant>,
}

/// `/{index}/_bulk`, with the index name percent-encoded as a path segment.
fn bulk_path(index: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    format!(
        "/{}/_bulk",
        percent_encoding::utf8_percent_encode(index, SEGMENT)
    )
}

fn id_key(id: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = std::hash::DefaultHasher::new();
    h.write(id.as_bytes());
    h.finish()
}

enum Command {
    Write(Prepared),
    /// Send the batch being filled now, without waiting for it to be answered.
    Send,
    Flush(oneshot::Sender<()>),
}

#[derive(Default)]
struct Counters {
    indexed: AtomicU64,
    updated: AtomicU64,
    deleted: AtomicU64,
    failed: AtomicU64,
    bulk_requests: AtomicU64,
    bytes_sent: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> SinkStats {
        SinkStats {
            indexed: self.indexed.load(Ordering::Relaxed),
            updated: self.updated.load(Ordering::Relaxed),
            deleted: self.deleted.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            bulk_requests: self.bulk_requests.load(Ordering::Relaxed),
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
        }
    }
}

/// Everything a batch task needs.
struct Shared {
    client: Elasticsearch,
    index: String,
    /// `/{index}/_bulk`, the index name percent-encoded.
    bulk_path: String,
    settings: BulkSettings,
    acks: UnboundedSender<WriteAck>,
    counters: Counters,
    /// KiB of serialized writes queued or in flight: bounds memory when documents carry
    /// large bodies, whatever `queue` (a count) allows. Shared fairly with the other tenants
    /// of the process in `tributary serve`.
    budget: Share,
    /// `_timestamp` of documents first indexed by this writer's run (an upsert's).
    first_indexed: String,
}

impl Shared {
    fn ack(&self, item: &Prepared, outcome: Result<(), String>) {
        let counter = match (&outcome, item.op) {
            (Err(_), _) => &self.counters.failed,
            (Ok(()), Op::Index) => &self.counters.indexed,
            (Ok(()), Op::Update | Op::Patch) => &self.counters.updated,
            (Ok(()), Op::Delete) => &self.counters.deleted,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Err(reason) = &outcome {
            tracing::warn!(id = %item.id, "write failed: {reason}");
        }
        // A closed ack channel means nobody waits for acks any more; that is not our error.
        let _ = self.acks.send(WriteAck {
            token: item.token,
            outcome,
        });
    }
}

/// Handle to the writer task.
pub struct BulkWriter {
    tx: mpsc::Sender<Command>,
    task: Mutex<Option<JoinHandle<()>>>,
    shared: Arc<Shared>,
}

impl BulkWriter {
    /// Start the writer task for `index`.
    pub fn spawn(
        client: Elasticsearch,
        index: String,
        settings: BulkSettings,
        budget: Share,
        acks: UnboundedSender<WriteAck>,
    ) -> BulkWriter {
        let settings = BulkSettings {
            max_actions: settings.max_actions.max(1),
            max_bytes: settings.max_bytes.max(1),
            concurrency: settings.concurrency.max(1),
            queue: settings.queue.max(1),
            retry_budget: settings.retry_budget,
        };
        let shared = Arc::new(Shared {
            client,
            bulk_path: bulk_path(&index),
            index,
            settings,
            acks,
            counters: Counters::default(),
            budget,
            first_indexed: rfc3339(SystemTime::now()),
        });
        let (tx, rx) = mpsc::channel(settings.queue);
        let task = tokio::spawn(run_writer(shared.clone(), rx).in_current_span());
        BulkWriter {
            tx,
            task: Mutex::new(Some(task)),
            shared,
        }
    }

    /// Serialize `write` and queue it (waits while the queue is full).
    pub async fn submit(&self, write: Write, token: u64) -> anyhow::Result<()> {
        let mut prepared = prepare(write, token, &self.shared.first_indexed)?;
        let kib = prepared.lines.len() / 1024 + 1;
        prepared._budget = Some(self.shared.budget.acquire(kib).await);
        self.tx.send(Command::Write(prepared)).await.map_err(|_| {
            anyhow!(
                "the bulk writer for index {} has stopped; see the earlier error",
                self.shared.index
            )
        })
    }

    /// Send the batch being filled now instead of when it is full: the writes queued so far
    /// complete a page, whose checkpoint can be committed once they are acknowledged.
    pub async fn send_queued(&self) -> anyhow::Result<()> {
        self.tx.send(Command::Send).await.map_err(|_| {
            anyhow!(
                "the bulk writer for index {} has stopped; see the earlier error",
                self.shared.index
            )
        })
    }

    /// Send what is queued; return once every earlier write is acknowledged.
    pub async fn drain(&self) -> anyhow::Result<()> {
        let (done, wait) = oneshot::channel();
        self.tx.send(Command::Flush(done)).await.map_err(|_| {
            anyhow!(
                "the bulk writer for index {} has stopped; see the earlier error",
                self.shared.index
            )
        })?;
        wait.await.map_err(|_| {
            anyhow!(
                "the bulk writer for index {} stopped while draining",
                self.shared.index
            )
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> SinkStats {
        self.shared.counters.snapshot()
    }

    /// The `_timestamp` of documents this writer's run indexes first: the time it started.
    pub fn first_indexed(&self) -> &str {
        &self.shared.first_indexed
    }

    /// Drain, stop the task, return the final counters.
    pub async fn close(self) -> anyhow::Result<SinkStats> {
        let drained = self.drain().await;
        let BulkWriter { tx, task, shared } = self;
        drop(tx);
        if let Some(task) = task.lock().await.take() {
            task.await
                .map_err(|e| anyhow!("the bulk writer for index {} crashed: {e}", shared.index))?;
        }
        drained?;
        Ok(shared.counters.snapshot())
    }
}

/// Serialize a write into its `_bulk` lines (each ending in `\n`).
fn prepare(write: Write, token: u64, first_indexed: &str) -> anyhow::Result<Prepared> {
    let mut buf = Vec::new();
    let (id, op) = match write {
        Write::Index { id, source } if source.has_timestamp() => {
            buf.reserve(source.len() + id.len() + 24);
            action(&mut buf, "index", &id, None);
            source_line(&mut buf, source.as_bytes());
            (id, Op::Index)
        }
        Write::Index { id, source } => {
            // The stored `_timestamp` is unknown: a merge keeps it, the upsert sets it if the
            // document is new. Rare (callers look the stored one up), so the map is fine here.
            let source = source.to_map()?;
            let mut upsert = source.clone();
            upsert.insert(
                "_timestamp".into(),
                Value::String(first_indexed.to_string()),
            );
            let doc = with_cleared_host_fields(source);
            action(&mut buf, "update", &id, None);
            push_line(&mut buf, &json!({ "doc": doc, "upsert": upsert }))?;
            (id, Op::Index)
        }
        Write::IndexVia {
            id,
            source,
            pipeline,
        } => {
            let source = if source.has_timestamp() {
                source
            } else {
                source.with_str("_timestamp", first_indexed)
            };
            action(&mut buf, "index", &id, Some(&pipeline));
            source_line(&mut buf, source.as_bytes());
            (id, Op::Index)
        }
        Write::Update { id, fields } => {
            action(&mut buf, "update", &id, None);
            doc_line(&mut buf, fields.as_bytes());
            (id, Op::Update)
        }
        Write::Patch { id, fields } => {
            action(&mut buf, "update", &id, None);
            doc_line(&mut buf, fields.as_bytes());
            (id, Op::Patch)
        }
        Write::Delete { id } => {
            action(&mut buf, "delete", &id, None);
            (id, Op::Delete)
        }
    };
    Ok(Prepared {
        key: id_key(&id),
        id,
        op,
        token,
        lines: Bytes::from(buf),
        _budget: None,
    })
}

/// `{"<op>":{"_id":"<id>"[,"pipeline":"<p>"]}}` and a newline.
fn action(buf: &mut Vec<u8>, op: &str, id: &str, pipeline: Option<&str>) {
    buf.extend_from_slice(b"{\"");
    buf.extend_from_slice(op.as_bytes());
    buf.extend_from_slice(b"\":{\"_id\":");
    push_str(buf, id);
    if let Some(pipeline) = pipeline {
        buf.extend_from_slice(b",\"pipeline\":");
        push_str(buf, pipeline);
    }
    buf.extend_from_slice(b"}}\n");
}

fn source_line(buf: &mut Vec<u8>, source: &[u8]) {
    buf.extend_from_slice(source);
    buf.push(b'\n');
}

/// `{"doc":<fields>}` and a newline.
fn doc_line(buf: &mut Vec<u8>, fields: &[u8]) {
    buf.reserve(fields.len() + 9);
    buf.extend_from_slice(b"{\"doc\":");
    buf.extend_from_slice(fields);
    buf.extend_from_slice(b"}\n");
}

fn push_line(buf: &mut Vec<u8>, value: &impl serde::Serialize) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *buf, value).context("serializing a document for _bulk")?;
    buf.push(b'\n');
    Ok(())
}

/// For a merge that stands in for a replace: null out host-owned optional fields that the new
/// source does not have, so a stale body or reason does not survive.
fn with_cleared_host_fields(mut source: Map<String, Value>) -> Map<String, Value> {
    for field in [
        // A document without content leaves `content_status` out (it says nothing about
        // content), so a stale one is cleared like the rest.
        "content_status",
        "body",
        "content_skipped_reason",
        "content_truncated",
        "content_meta",
    ] {
        source.entry(field).or_insert(Value::Null);
    }
    if let Some(Value::Object(tributary)) = source.get_mut("tributary") {
        tributary.entry("content_key").or_insert(Value::Null);
    }
    source
}

/// The writer loop: fill batches, dispatch them within the concurrency limit, answer flushes.
async fn run_writer(shared: Arc<Shared>, mut rx: mpsc::Receiver<Command>) {
    let settings = shared.settings;
    let mut filling = Filling::default();
    let mut flight = Flight::default();
    // A batch goes out at most IDLE_FLUSH after its first write, however steadily more writes
    // trickle in (a timer re-armed by each write would hold a slow stream back indefinitely).
    let mut due = tokio::time::Instant::now();
    loop {
        tokio::select! {
            command = rx.recv() => match command {
                Some(Command::Write(item)) => {
                    let len = item.lines.len();
                    if !filling.is_empty() && filling.bytes + len > settings.max_bytes {
                        flight.dispatch(&shared, filling.take()).await;
                    }
                    filling.bytes += len;
                    filling.writes.push(item);
                    if filling.writes.len() == 1 {
                        due = tokio::time::Instant::now() + IDLE_FLUSH;
                    }
                    if filling.writes.len() >= settings.max_actions
                        || filling.bytes >= settings.max_bytes
                    {
                        flight.dispatch(&shared, filling.take()).await;
                    }
                }
                Some(Command::Send) => {
                    if !filling.is_empty() {
                        flight.dispatch(&shared, filling.take()).await;
                    }
                }
                Some(Command::Flush(done)) => {
                    if !filling.is_empty() {
                        flight.dispatch(&shared, filling.take()).await;
                    }
                    flight.wait_all(&shared).await;
                    let _ = done.send(());
                }
                None => break,
            },
            Some(joined) = flight.tasks.join_next_with_id(), if !flight.tasks.is_empty() => {
                flight.finish(&shared, joined);
            }
            () = tokio::time::sleep_until(due), if !filling.is_empty() => {
                flight.dispatch(&shared, filling.take()).await;
            }
        }
    }
    if !filling.is_empty() {
        flight.dispatch(&shared, filling.take()).await;
    }
    flight.wait_all(&shared).await;
}

/// The batch being filled, and the bytes of its lines.
#[derive(Default)]
struct Filling {
    writes: Vec<Prepared>,
    bytes: usize,
}

impl Filling {
    fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// The batch, leaving an empty one to fill.
    fn take(&mut self) -> Vec<Prepared> {
        self.bytes = 0;
        std::mem::take(&mut self.writes)
    }
}

/// Batches in flight and the ids they hold.
#[derive(Default)]
struct Flight {
    tasks: JoinSet<()>,
    /// In-flight writes by [`Prepared::key`].
    ids: HashMap<u64, usize>,
    batches: HashMap<tokio::task::Id, Arc<Vec<Prepared>>>,
}

type Joined = Result<(tokio::task::Id, ()), tokio::task::JoinError>;

impl Flight {
    /// Send `batch` once a slot is free and no in-flight batch holds one of its ids.
    async fn dispatch(&mut self, shared: &Arc<Shared>, batch: Vec<Prepared>) {
        while self.tasks.len() >= shared.settings.concurrency
            || batch.iter().any(|item| self.ids.contains_key(&item.key))
        {
            match self.tasks.join_next_with_id().await {
                Some(joined) => self.finish(shared, joined),
                None => break,
            }
        }
        for item in &batch {
            *self.ids.entry(item.key).or_default() += 1;
        }
        let (batch, body) = gather(batch);
        let batch = Arc::new(batch);
        let handle = self
            .tasks
            .spawn(send_batch(shared.clone(), batch.clone(), body).in_current_span());
        self.batches.insert(handle.id(), batch);
    }

    fn finish(&mut self, shared: &Shared, joined: Joined) {
        let (id, crashed) = match joined {
            Ok((id, ())) => (id, None),
            Err(e) => (e.id(), Some(e.to_string())),
        };
        let Some(batch) = self.batches.remove(&id) else {
            return;
        };
        for item in batch.iter() {
            if let Some(n) = self.ids.get_mut(&item.key) {
                *n -= 1;
                if *n == 0 {
                    self.ids.remove(&item.key);
                }
            }
        }
        if let Some(reason) = crashed {
            // The task acked nothing we can rely on; ack every write so no caller waits forever.
            for item in batch.iter() {
                shared.ack(
                    item,
                    Err(format!("the bulk request task crashed: {reason}")),
                );
            }
        }
    }

    async fn wait_all(&mut self, shared: &Shared) {
        while let Some(joined) = self.tasks.join_next_with_id().await {
            self.finish(shared, joined);
        }
    }
}

/// How one item of a `_bulk` response turned out.
#[derive(Debug, Clone, PartialEq)]
enum ItemResult {
    Ok,
    Retry(String),
    Failed(String),
}

/// Gather a batch's lines into one buffer, the `_bulk` body, and point every write at its
/// part of it: a batch in flight is held once, not as its writes and again as the request.
fn gather(mut batch: Vec<Prepared>) -> (Vec<Prepared>, Bytes) {
    let body = concat(&batch);
    let mut at = 0;
    for item in &mut batch {
        let len = item.lines.len();
        item.lines = body.slice(at..at + len);
        at += len;
    }
    (batch, body)
}

/// The writes' lines, one after the other: a `_bulk` body.
fn concat<'a>(writes: impl IntoIterator<Item = &'a Prepared> + Clone) -> Bytes {
    let len = writes
        .clone()
        .into_iter()
        .map(|item| item.lines.len())
        .sum();
    let mut body = BytesMut::with_capacity(len);
    for item in writes {
        body.extend_from_slice(&item.lines);
    }
    body.freeze()
}

/// Send one batch, retrying what may succeed later; ack every write exactly once.
async fn send_batch(shared: Arc<Shared>, batch: Arc<Vec<Prepared>>, body: Bytes) {
    let mut delays = crate::retry::timed(shared.settings.retry_budget);
    let mut pending: Vec<&Prepared> = batch.iter().collect();
    let mut body = Some(body);
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        // The first attempt sends the whole batch's body; a retry, only what is pending.
        let request = body
            .take()
            .unwrap_or_else(|| concat(pending.iter().copied()));
        let outcome = send_once(&shared, &pending, request).await;
        let results = match outcome {
            Ok(results) => results,
            Err(RequestError::Transient(reason)) => vec![ItemResult::Retry(reason); pending.len()],
            Err(RequestError::Fatal(reason)) => vec![ItemResult::Failed(reason); pending.len()],
        };
        let delay = if results.iter().any(|r| matches!(r, ItemResult::Retry(_))) {
            delays.next()
        } else {
            None
        };
        let mut retry: Vec<&Prepared> = Vec::new();
        let mut retry_keys: std::collections::HashSet<u64> = std::collections::HashSet::new();
        for (item, result) in pending.into_iter().zip(results) {
            // A later write to an id whose earlier write is retried must be retried after it,
            // whatever its own result, or the two would land out of order.
            let result = match result {
                ItemResult::Ok if retry_keys.contains(&item.key) => {
                    ItemResult::Retry("after an earlier write to the same id".into())
                }
                other => other,
            };
            match result {
                ItemResult::Ok => shared.ack(item, Ok(())),
                ItemResult::Failed(reason) => shared.ack(item, Err(reason)),
                ItemResult::Retry(reason) if delay.is_none() => {
                    shared.ack(
                        item,
                        Err(format!(
                            "{reason} (gave up after {attempt} attempts over the {}s retry budget)",
                            shared.settings.retry_budget.as_secs()
                        )),
                    );
                }
                ItemResult::Retry(_) => {
                    retry_keys.insert(item.key);
                    retry.push(item);
                }
            }
        }
        let Some(delay) = delay.filter(|_| !retry.is_empty()) else {
            return;
        };
        tracing::debug!(items = retry.len(), attempt, ?delay, "retrying bulk items");
        tokio::time::sleep(delay).await;
        pending = retry;
    }
}

#[derive(Debug)]
enum RequestError {
    /// Worth retrying: 429/502/503/504, timeouts, connection failures.
    Transient(String),
    /// Not worth retrying (e.g. 400, 401, 403, 404 on the index).
    Fatal(String),
}

/// One `_bulk` request; on success, one result per item in order.
async fn send_once(
    shared: &Shared,
    items: &[&Prepared],
    body: Bytes,
) -> Result<Vec<ItemResult>, RequestError> {
    let bytes = body.len();
    shared
        .counters
        .bulk_requests
        .fetch_add(1, Ordering::Relaxed);
    shared
        .counters
        .bytes_sent
        .fetch_add(bytes as u64, Ordering::Relaxed);
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    // `send` with a `Bytes` body hands it to the HTTP client as it is; the typed `bulk` call
    // would copy every batch into a buffer grown from 1 KiB.
    let response = shared
        .client
        .send(
            Method::Post,
            &shared.bulk_path,
            headers,
            Some(&[("refresh", "false")]),
            Some(body),
            None,
        )
        .await
        .map_err(|e| {
            RequestError::Transient(format!("_bulk to index {} failed: {e}", shared.index))
        })?;
    let status = response.status_code();
    if status.is_success() {
        let text = response.bytes().await.map_err(|e| {
            RequestError::Transient(format!(
                "_bulk to index {}: reading the response body: {e}",
                shared.index
            ))
        })?;
        // Nearly always every item succeeded: then `errors` is false and only the number of
        // items matters, which is read without building the 150-odd bytes of each item.
        if let Ok(summary) = serde_json::from_slice::<BulkSummary>(&text)
            && summary.errors == Some(false)
            && summary.items.len() == items.len()
        {
            return Ok(vec![ItemResult::Ok; items.len()]);
        }
        let body: Value = serde_json::from_slice(&text).map_err(|e| {
            RequestError::Fatal(format!(
                "_bulk to index {} answered {status} with a body that is not JSON: {e}",
                shared.index
            ))
        })?;
        return parse_items(&body, items).map_err(RequestError::Fatal);
    }
    let (status, body) = read_json(response)
        .await
        .map_err(|e| RequestError::Transient(format!("_bulk to index {}: {e:#}", shared.index)))?;
    let reason = format!(
        "_bulk to index {} answered {status}: {}",
        shared.index,
        error_reason(&body)
    );
    Err(if is_transient(status) {
        RequestError::Transient(reason)
    } else {
        RequestError::Fatal(reason)
    })
}

/// The part of a `_bulk` response that says whether anything failed.
#[derive(serde::Deserialize)]
struct BulkSummary {
    #[serde(default)]
    errors: Option<bool>,
    #[serde(default)]
    items: Vec<serde::de::IgnoredAny>,
}

/// Match a `_bulk` response's items to the writes sent.
fn parse_items(body: &Value, items: &[&Prepared]) -> Result<Vec<ItemResult>, String> {
    let answered = body["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if answered.len() != items.len() {
        return Err(format!(
            "the _bulk response has {} items for {} writes; the server misbehaved",
            answered.len(),
            items.len()
        ));
    }
    Ok(answered
        .iter()
        .zip(items)
        .map(|(answer, item)| item_result(answer, item.op))
        .collect())
}

fn item_result(answer: &Value, op: Op) -> ItemResult {
    // Each item is `{"<action>": {...}}`.
    let inner = answer
        .as_object()
        .and_then(|o| o.values().next())
        .unwrap_or(&Value::Null);
    let status = inner["status"].as_u64().unwrap_or(0);
    match status {
        200..=299 => ItemResult::Ok,
        404 if matches!(op, Op::Delete | Op::Patch) => ItemResult::Ok,
        429 => ItemResult::Retry(format!("rejected (429): {}", error_reason(inner))),
        _ => ItemResult::Failed(format!("{status}: {}", error_reason(inner))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::sink::Doc;

    fn lines(p: &Prepared) -> Vec<Value> {
        std::str::from_utf8(&p.lines)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn obj(v: Value) -> Doc {
        Doc::from_map(v.as_object().unwrap())
    }

    const EPOCH: &str = "1970-01-01T00:00:00.000Z";

    #[test]
    fn a_batch_is_sent_as_one_body_its_writes_point_into() {
        let batch: Vec<Prepared> = ["a", "b\u{e9}", "c"]
            .iter()
            .map(|id| {
                let source = obj(json!({"name": id, "_timestamp": "2024-01-01T00:00:00Z"}));
                prepare(
                    Write::Index {
                        id: (*id).into(),
                        source,
                    },
                    1,
                    EPOCH,
                )
                .unwrap()
            })
            .collect();
        let expected: Vec<Bytes> = batch.iter().map(|p| p.lines.clone()).collect();
        let (batch, body) = gather(batch);
        assert_eq!(body, expected.concat());
        for (item, lines) in batch.iter().zip(&expected) {
            assert_eq!(&item.lines, lines);
            // A view into the body, not a copy of its own.
            let offset = item.lines.as_ptr() as usize - body.as_ptr() as usize;
            assert!(offset + item.lines.len() <= body.len());
        }
    }

    #[test]
    fn the_bulk_path_encodes_the_index_name_as_one_segment() {
        assert_eq!(bulk_path("docs-2024.v1_x~"), "/docs-2024.v1_x~/_bulk");
        assert_eq!(bulk_path("a b/c?d#"), "/a%20b%2Fc%3Fd%23/_bulk");
    }

    #[test]
    fn index_with_timestamp_is_a_plain_index() {
        let source = obj(json!({"name": "a", "_timestamp": "2024-01-01T00:00:00Z"}));
        let p = prepare(
            Write::Index {
                id: "x".into(),
                source: source.clone(),
            },
            7,
            EPOCH,
        )
        .unwrap();
        assert_eq!(
            lines(&p),
            vec![
                json!({"index": {"_id": "x"}}),
                json!({"name": "a", "_timestamp": "2024-01-01T00:00:00Z"})
            ]
        );
        assert_eq!((p.op, p.token), (Op::Index, 7));
        assert!(p.lines.ends_with(b"\n"));
    }

    #[test]
    fn index_without_timestamp_upserts_with_first_indexed_time_and_clears_host_fields() {
        let source = obj(json!({"name": "a", "tributary": {"scope": "s", "run": "r"}}));
        let p = prepare(
            Write::Index {
                id: "x".into(),
                source,
            },
            1,
            EPOCH,
        )
        .unwrap();
        let l = lines(&p);
        assert_eq!(l[0], json!({"update": {"_id": "x"}}));
        assert_eq!(
            l[1]["upsert"]["_timestamp"],
            json!("1970-01-01T00:00:00.000Z")
        );
        assert!(l[1]["doc"].get("_timestamp").is_none());
        assert_eq!(l[1]["doc"]["body"], Value::Null);
        assert!(l[1]["doc"].as_object().unwrap().contains_key("body"));
        assert!(
            l[1]["doc"]
                .as_object()
                .unwrap()
                .contains_key("content_status")
        );
        assert!(
            l[1]["doc"]["tributary"]
                .as_object()
                .unwrap()
                .contains_key("content_key")
        );
        assert!(!l[1]["upsert"].as_object().unwrap().contains_key("body"));
    }

    #[test]
    fn an_index_through_a_pipeline_is_a_plain_index_with_its_timestamp() {
        let p = prepare(
            Write::IndexVia {
                id: "x".into(),
                source: obj(json!({"_attachment": "aGk="})),
                pipeline: "attachment".into(),
            },
            4,
            EPOCH,
        )
        .unwrap();
        let l = lines(&p);
        assert_eq!(
            l[0],
            json!({"index": {"_id": "x", "pipeline": "attachment"}})
        );
        assert_eq!(l[1]["_attachment"], json!("aGk="));
        assert_eq!(l[1]["_timestamp"], json!("1970-01-01T00:00:00.000Z"));
    }

    #[test]
    fn update_and_delete_lines() {
        let p = prepare(
            Write::Update {
                id: "u".into(),
                fields: obj(json!({"n": 1})),
            },
            2,
            EPOCH,
        )
        .unwrap();
        assert_eq!(
            lines(&p),
            vec![json!({"update": {"_id": "u"}}), json!({"doc": {"n": 1}})]
        );
        let p = prepare(Write::Delete { id: "d\"q".into() }, 3, EPOCH).unwrap();
        assert_eq!(lines(&p), vec![json!({"delete": {"_id": "d\"q"}})]);
        assert_eq!(p.op, Op::Delete);
    }

    #[test]
    fn item_results_classify_statuses() {
        assert_eq!(
            item_result(&json!({"index": {"status": 201}}), Op::Index),
            ItemResult::Ok
        );
        assert_eq!(
            item_result(
                &json!({"delete": {"status": 404, "result": "not_found"}}),
                Op::Delete
            ),
            ItemResult::Ok
        );
        assert!(matches!(
            item_result(&json!({"update": {"status": 404}}), Op::Update),
            ItemResult::Failed(_)
        ));
        assert!(matches!(
            item_result(&json!({"index": {"status": 429}}), Op::Index),
            ItemResult::Retry(_)
        ));
        let failed = item_result(
            &json!({"index": {"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "bad date"}}}),
            Op::Index,
        );
        assert_eq!(
            failed,
            ItemResult::Failed("400: mapper_parsing_exception: bad date".into())
        );
    }
}
