//! One sync run: pull pages from the component, send documents to the sink (downloading and
//! extracting content under the concurrency limit), apply deletes in order, and commit each
//! page's checkpoint only once every write before it is acknowledged.
//!
//! Safety rules this module enforces:
//! - documents are removed only by explicit changes (delete, delete-tree) or after an
//!   enumeration the component declared complete (`end-enumeration`); a failing run stops
//!   pulling pages, so an incomplete listing never deletes anything;
//! - deletes are barriers: every earlier write is acknowledged before a delete runs;
//! - a checkpoint is committed only after the sink acknowledged every earlier write.
pub mod content;
pub mod fault;
pub mod ledger;

use crate::http::CredentialError;
use crate::progress::Progress;
use crate::report::SyncReport;
use crate::runtime::bindings::guest::{Change, Document};
use crate::runtime::{Connector, GuestError, Runtime, Session};
use crate::sink::{Sink, Write, WriteAck};
use crate::state::{StateStore, TenantState};
use crate::tenant::Tenant;
use anyhow::{Context, anyhow};
use content::{ContentFetcher, ContentOutcome, reason_key};
use ledger::{Ledger, OpenEnumerations};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::JoinSet;

/// How a run failed; the CLI turns each kind into its own exit code.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Credentials(String),
    #[error("{0}")]
    Busy(String),
    #[error("{0:#}")]
    Failed(anyhow::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Full,
    Incremental,
}

pub struct SyncOptions {
    /// Ignore the stored checkpoint and enumerate everything.
    pub full: bool,
    pub runner_id: String,
    pub progress: bool,
    /// Set to stop cleanly after the current page (Ctrl-C in watch mode).
    pub stop: Arc<AtomicBool>,
}

/// Counters updated by download tasks.
#[derive(Default)]
struct Counters {
    indexed: AtomicU64,
    unchanged: AtomicU64,
    content_failures: AtomicU64,
    content_unavailable: AtomicU64,
    bytes: AtomicU64,
    skipped: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    fn skip(&self, reason: &str) {
        if let Ok(mut map) = self.skipped.lock() {
            *map.entry(reason_key(reason)).or_default() += 1;
        }
    }
}

/// Lease on a tenant is considered abandoned after this long without a commit.
const LEASE_TTL: Duration = Duration::from_secs(600);

/// Run one sync of `tenant` into `sink`, with checkpoints in `store`.
pub async fn run(
    runtime: &Runtime,
    tenant: &Tenant,
    sink: Sink,
    acks: mpsc::UnboundedReceiver<WriteAck>,
    store: Arc<StateStore>,
    options: &SyncOptions,
    dry_run: bool,
) -> (SyncReport, Result<(), SyncError>) {
    let started = Instant::now();
    let mut report = SyncReport {
        tenant: tenant.config.tenant.clone(),
        connector: format!("{} {}", tenant.info.id, tenant.info.version),
        dry_run,
        ..SyncReport::default()
    };
    let properties: Value = match serde_json::from_str(&tenant.info.index_properties) {
        Ok(v) => v,
        Err(e) => {
            report.outcome = "failed".into();
            return (
                report,
                Err(SyncError::Failed(anyhow!(
                    "the component's index properties are not JSON: {e}"
                ))),
            );
        }
    };
    if let Err(e) = sink.prepare(&properties).await {
        report.outcome = "failed".into();
        return (
            report,
            Err(SyncError::Failed(e.context("preparing the index"))),
        );
    }
    let state = match store
        .acquire(
            &tenant.config.tenant,
            &tenant.info.id,
            &options.runner_id,
            LEASE_TTL,
        )
        .await
    {
        Ok(state) => state,
        Err(e) => {
            report.outcome = "failed".into();
            let busy = matches!(e, crate::state::StateError::Busy { .. });
            let message = format!("tenant {}: {e}", tenant.config.tenant);
            return (
                report,
                Err(if busy {
                    SyncError::Busy(message)
                } else {
                    SyncError::Failed(anyhow!(message))
                }),
            );
        }
    };
    let mut run = Run::new(tenant, sink, store.clone(), options, &mut report);
    let result = run.execute(runtime, state, acks).await;
    let sink_stats = run.finish().await;
    if let Err(e) = store.release(&tenant.config.tenant).await {
        tracing::warn!(
            "could not release the lease on tenant {}: {e}",
            tenant.config.tenant
        );
    }
    if let Ok(stats) = &sink_stats {
        report.write_failures = stats.failed;
    }
    report.api_calls = tenant.http.stats.requests.load(Ordering::Relaxed);
    report.retries = tenant.http.stats.retries.load(Ordering::Relaxed);
    report.rate_limited = tenant.http.stats.rate_limited.load(Ordering::Relaxed);
    report.token_refreshes = tenant.http.tokens().map(|t| t.refreshes()).unwrap_or(0);
    report.duration_secs = started.elapsed().as_secs_f64();
    report.docs_per_sec = report.seen as f64 / report.duration_secs.max(1e-9);
    let result = match (result, sink_stats) {
        (Err(e), _) => Err(e),
        (Ok(()), Err(e)) => Err(SyncError::Failed(e.context("closing the sink"))),
        (Ok(()), Ok(_)) => Ok(()),
    };
    report.outcome = match &result {
        Ok(()) if report.write_failures > 0 || report.content_failures > 0 => {
            "completed_with_errors".into()
        }
        Ok(()) => "ok".into(),
        Err(e) => format!("failed: {e}"),
    };
    (report, result)
}

struct Run<'a> {
    tenant: &'a Tenant,
    sink: Arc<Sink>,
    store: Arc<StateStore>,
    options: &'a SyncOptions,
    report: &'a mut SyncReport,
    ledger: Arc<Mutex<Ledger>>,
    notify: Arc<Notify>,
    counters: Arc<Counters>,
    fetcher: Arc<ContentFetcher>,
    downloads: JoinSet<anyhow::Result<()>>,
    download_slots: Arc<Semaphore>,
    committer: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    committed: Option<watch::Receiver<Progressed>>,
    open: OpenEnumerations,
    run_marker: String,
    progress: Progress,
}

impl<'a> Run<'a> {
    fn new(
        tenant: &'a Tenant,
        sink: Sink,
        store: Arc<StateStore>,
        options: &'a SyncOptions,
        report: &'a mut SyncReport,
    ) -> Self {
        let fetcher = ContentFetcher::new(
            tenant.http.clone(),
            tenant.config.content.max_bytes,
            tenant.config.content.extract,
        );
        let run_marker = format!(
            "{}-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or_default(),
            &options.runner_id
        );
        Run {
            tenant,
            sink: Arc::new(sink),
            store,
            options,
            report,
            ledger: Arc::new(Mutex::new(Ledger::default())),
            notify: Arc::new(Notify::new()),
            counters: Arc::new(Counters::default()),
            fetcher: Arc::new(fetcher),
            downloads: JoinSet::new(),
            download_slots: Arc::new(Semaphore::new(tenant.concurrent_downloads)),
            committer: None,
            committed: None,
            open: OpenEnumerations::new(),
            run_marker,
            progress: Progress::new(options.progress),
        }
    }

    async fn execute(
        &mut self,
        runtime: &Runtime,
        state: TenantState,
        acks: mpsc::UnboundedReceiver<WriteAck>,
    ) -> Result<(), SyncError> {
        let (committed_tx, committed_rx) = watch::channel(Progressed::default());
        self.committed = Some(committed_rx);
        self.committer = Some(tokio::spawn(commit_loop(
            self.ledger.clone(),
            acks,
            self.notify.clone(),
            self.store.clone(),
            self.tenant.config.tenant.clone(),
            self.tenant.info.id.clone(),
            committed_tx,
        )));
        let mut connector = self
            .tenant
            .instantiate(runtime)
            .await
            .map_err(SyncError::Failed)?;
        let config = self.tenant.source.public_json();
        let (mode, reason, checkpoint) = match (&state.checkpoint, self.options.full) {
            (_, true) => (Mode::Full, "--full was given".to_string(), None),
            (None, false) => (
                Mode::Full,
                "no checkpoint stored for this tenant yet".to_string(),
                None,
            ),
            (Some(cp), false) => (
                Mode::Incremental,
                "resuming from the stored checkpoint".to_string(),
                Some(cp.clone()),
            ),
        };
        if mode == Mode::Incremental {
            // Enumerations a crashed run left open continue with the same marker.
            self.open = state.open_enumerations.clone();
        }
        self.report.mode = match mode {
            Mode::Full => "full".into(),
            Mode::Incremental => "incremental".into(),
        };
        self.report.mode_reason = reason;
        let session = match connector
            .start(&config, checkpoint.as_deref())
            .await
            .map_err(SyncError::Failed)?
        {
            Ok(session) => session,
            Err(GuestError::CheckpointExpired(why)) => {
                tracing::warn!(
                    "checkpoint expired ({why}): running a full enumeration; nothing is deleted until it completes"
                );
                self.report.mode = "full".into();
                self.report.mode_reason = format!("the stored checkpoint expired ({why})");
                self.open.clear();
                match connector
                    .start(&config, None)
                    .await
                    .map_err(SyncError::Failed)?
                {
                    Ok(session) => session,
                    Err(e) => return Err(guest_failure(e)),
                }
            }
            Err(e) => return Err(guest_failure(e)),
        };
        let result = self.pull(&mut connector, &session, &config).await;
        if let Err(e) = connector.finish(session).await {
            tracing::debug!("{e:#}");
        }
        result
    }

    /// Pull pages until the session ends; a `checkpoint-expired` mid-session restarts it as
    /// a full enumeration (the completed parts stay; nothing is purged until it completes).
    async fn pull(
        &mut self,
        connector: &mut Connector,
        session: &Session,
        config: &str,
    ) -> Result<(), SyncError> {
        let mut seq = 0u64;
        let mut restarted: Option<Session> = None;
        loop {
            if self.options.stop.load(Ordering::Relaxed) {
                tracing::info!("stopping after page {seq} as requested");
                break;
            }
            let current = restarted.as_ref().unwrap_or(session);
            let page = match connector
                .next_page(current)
                .await
                .map_err(SyncError::Failed)?
            {
                Ok(page) => page,
                Err(GuestError::CheckpointExpired(why)) if restarted.is_none() => {
                    tracing::warn!(
                        "checkpoint expired mid-run ({why}): restarting as a full enumeration"
                    );
                    self.drain().await.map_err(SyncError::Failed)?;
                    self.report.mode = "full".into();
                    self.report.mode_reason = format!("the stored checkpoint expired ({why})");
                    self.open.clear();
                    restarted = Some(
                        match connector
                            .start(config, None)
                            .await
                            .map_err(SyncError::Failed)?
                        {
                            Ok(s) => s,
                            Err(e) => return Err(guest_failure(e)),
                        },
                    );
                    continue;
                }
                Err(e) => return Err(guest_failure(e)),
            };
            seq += 1;
            self.report.pages += 1;
            self.apply_page(seq, page.changes)
                .await
                .map_err(SyncError::Failed)?;
            fault::crash_point("page", seq);
            if page.checkpoint.is_some() {
                self.report.last_checkpoint = page.checkpoint.clone();
            }
            self.close_page(seq, page.checkpoint);
            self.progress.update(
                self.report.pages,
                self.report.seen,
                self.fetcher.downloads.load(Ordering::Relaxed),
                self.report.deleted,
            );
            if !page.has_more {
                break;
            }
        }
        if let Some(extra) = restarted
            && let Err(e) = connector.finish(extra).await
        {
            tracing::debug!("{e:#}");
        }
        self.drain().await.map_err(SyncError::Failed)?;
        self.wait_committed(seq).await.map_err(SyncError::Failed)?;
        self.report.checkpoint_committed = seq > 0;
        Ok(())
    }

    async fn apply_page(&mut self, seq: u64, changes: Vec<Change>) -> anyhow::Result<()> {
        // One `_mget` per page tells which documents already carry the same content.
        let keyed: Vec<String> = changes
            .iter()
            .filter_map(|c| match c {
                Change::Upsert(d) => d
                    .content
                    .as_ref()
                    .and_then(|c| c.content_key.as_ref())
                    .map(|_| d.id.clone()),
                _ => None,
            })
            .collect();
        let stored_keys = if keyed.is_empty() {
            Default::default()
        } else {
            self.sink
                .content_keys(&keyed)
                .await
                .context("reading stored content keys")?
        };
        // Where each id is upserted last in this page: a delete-tree keeps documents that are
        // rewritten after it (a move arrives as delete(old path) + upsert(same id)).
        let mut last_upsert: std::collections::HashMap<String, usize> = Default::default();
        for (i, change) in changes.iter().enumerate() {
            if let Change::Upsert(d) = change {
                last_upsert.insert(d.id.clone(), i);
            }
        }
        let mut in_flight: HashSet<String> = HashSet::new();
        for (position, change) in changes.into_iter().enumerate() {
            self.reap()?;
            match change {
                Change::Upsert(doc) => {
                    if !in_flight.insert(doc.id.clone()) {
                        // The same id twice in one page: keep the order of the two writes.
                        self.drain().await?;
                        in_flight.clear();
                        in_flight.insert(doc.id.clone());
                    }
                    self.upsert(seq, doc, &stored_keys).await?;
                }
                Change::Delete(id) => {
                    self.drain().await?;
                    in_flight.clear();
                    self.add(seq);
                    self.sink.submit(Write::Delete { id }, seq).await?;
                    self.report.deleted += 1;
                    self.drain().await?;
                }
                Change::DeleteTree(tree) => {
                    self.drain().await?;
                    in_flight.clear();
                    let keep: Vec<String> = last_upsert
                        .iter()
                        .filter(|(_, last)| **last > position)
                        .map(|(id, _)| id.clone())
                        .collect();
                    let n = self
                        .sink
                        .delete_tree(&tree.field, &tree.value, &keep)
                        .await
                        .with_context(|| {
                            format!("deleting {} = {:?} and below", tree.field, tree.value)
                        })?;
                    self.report.deleted += n;
                }
                Change::BeginEnumeration(scope) => {
                    tracing::debug!(%scope, marker = %self.run_marker, "enumeration begins");
                    self.open.insert(scope, self.run_marker.clone());
                }
                Change::EndEnumeration(scope) => {
                    let Some(marker) = self.open.remove(&scope) else {
                        tracing::warn!(%scope, "end of an enumeration that never began: nothing purged");
                        continue;
                    };
                    self.drain().await?;
                    in_flight.clear();
                    let n = self.sink.purge_unseen(&scope, &marker).await.with_context(|| {
                        format!("removing documents of scope {scope:?} that the completed enumeration did not see")
                    })?;
                    tracing::info!(%scope, purged = n, "enumeration complete");
                    self.report.purged += n;
                }
            }
        }
        Ok(())
    }

    async fn upsert(
        &mut self,
        seq: u64,
        doc: Document,
        stored_keys: &std::collections::HashMap<String, String>,
    ) -> anyhow::Result<()> {
        self.report.seen += 1;
        let fields = match serde_json::from_str::<Value>(&doc.fields) {
            Ok(Value::Object(map)) => map,
            _ => anyhow::bail!(
                "the component sent document {:?} whose fields are not a JSON object",
                doc.id
            ),
        };
        let marker = self
            .open
            .get(&doc.scope)
            .cloned()
            .unwrap_or_else(|| self.run_marker.clone());
        let Some(mut request) = doc.content else {
            let source = assemble(fields, &doc.scope, &marker, None, None);
            self.counters.indexed.fetch_add(1, Ordering::Relaxed);
            self.add(seq);
            return self
                .sink
                .submit(Write::Index { id: doc.id, source }, seq)
                .await;
        };
        request.content_key = request
            .content_key
            .take()
            .map(|k| content::effective_key(&request.file_name, &k));
        let key = request.content_key.clone();
        if let Some(key) = &key
            && stored_keys.get(&doc.id) == Some(key)
        {
            let fields = assemble(fields, &doc.scope, &marker, None, Some(key));
            self.counters.unchanged.fetch_add(1, Ordering::Relaxed);
            self.add(seq);
            return self
                .sink
                .submit(Write::Update { id: doc.id, fields }, seq)
                .await;
        }
        if let Some(outcome) = self.fetcher.precheck(&request) {
            if let ContentOutcome::Skipped(reason) = &outcome {
                self.counters.skip(reason);
            }
            let source = assemble(fields, &doc.scope, &marker, Some(&outcome), key.as_deref());
            self.counters.indexed.fetch_add(1, Ordering::Relaxed);
            self.add(seq);
            return self
                .sink
                .submit(Write::Index { id: doc.id, source }, seq)
                .await;
        }
        // Take a download slot here, not in the task: this bounds the work in flight.
        let permit = self.download_slots.clone().acquire_owned().await?;
        self.add(seq);
        let (sink, fetcher, counters, ledger) = (
            self.sink.clone(),
            self.fetcher.clone(),
            self.counters.clone(),
            self.ledger.clone(),
        );
        let scope = doc.scope;
        let id = doc.id;
        self.downloads.spawn(async move {
            let outcome = fetcher.fetch(request).await;
            drop(permit);
            match &outcome {
                ContentOutcome::Extracted { bytes, .. } => {
                    counters.bytes.fetch_add(*bytes, Ordering::Relaxed);
                }
                ContentOutcome::Skipped(reason) => counters.skip(reason),
                ContentOutcome::Failed(reason) => {
                    tracing::warn!(document = %id, "content not indexed this time: {reason}");
                    counters.content_failures.fetch_add(1, Ordering::Relaxed);
                }
                ContentOutcome::Unavailable(reason) => {
                    tracing::info!(document = %id, "content no longer available (changed since listed?): {reason}");
                    counters.content_unavailable.fetch_add(1, Ordering::Relaxed);
                }
            }
            counters.indexed.fetch_add(1, Ordering::Relaxed);
            let source = assemble(fields, &scope, &marker, Some(&outcome), key.as_deref());
            if let Err(e) = sink.submit(Write::Index { id, source }, seq).await {
                if let Ok(mut l) = ledger.lock() {
                    l.cancel(seq);
                }
                return Err(e);
            }
            Ok(())
        });
        Ok(())
    }

    fn add(&self, seq: u64) {
        if let Ok(mut ledger) = self.ledger.lock() {
            ledger.add(seq);
        }
    }

    fn close_page(&self, seq: u64, checkpoint: Option<String>) {
        if let Ok(mut ledger) = self.ledger.lock() {
            ledger.close(seq, checkpoint, self.open.clone());
        }
        self.notify.notify_one();
    }

    /// Surface errors of finished download tasks without waiting.
    fn reap(&mut self) -> anyhow::Result<()> {
        while let Some(done) = self.downloads.try_join_next() {
            done.context("a download task panicked")??;
        }
        Ok(())
    }

    /// Wait until every download finished and every write is acknowledged.
    async fn drain(&mut self) -> anyhow::Result<()> {
        while let Some(done) = self.downloads.join_next().await {
            done.context("a download task panicked")??;
        }
        self.sink.drain().await?;
        self.notify.notify_one();
        Ok(())
    }

    async fn wait_committed(&mut self, seq: u64) -> anyhow::Result<()> {
        let Some(committed) = self.committed.as_mut() else {
            return Ok(());
        };
        tokio::select! {
            r = committed.wait_for(|c| c.seq >= seq || c.blocked) => {
                let progressed = *r.map_err(|_| anyhow!("the checkpoint committer stopped"))?;
                if progressed.blocked {
                    let failures = self.ledger.lock().map(|l| l.failures.len()).unwrap_or(0);
                    anyhow::bail!(
                        "{failures} document write(s) were rejected by the search engine (see the report); the checkpoint stays at page {} so the next run replays the rest",
                        progressed.seq
                    );
                }
                Ok(())
            }
            r = async { match self.committer.as_mut() { Some(h) => h.await, None => std::future::pending().await } } => {
                self.committer = None;
                match r {
                    Ok(Ok(())) => Err(anyhow!("the checkpoint committer stopped early")),
                    Ok(Err(e)) => Err(e),
                    Err(e) => Err(anyhow!("the checkpoint committer panicked: {e}")),
                }
            }
        }
    }

    /// Stop background work; fold counters into the report.
    async fn finish(mut self) -> anyhow::Result<crate::sink::SinkStats> {
        self.downloads.abort_all();
        while self.downloads.join_next().await.is_some() {}
        self.progress.finish();
        let drained = self.sink.drain().await;
        self.notify.notify_one();
        let stats = match Arc::try_unwrap(self.sink) {
            Ok(sink) => sink.close().await,
            Err(_) => Err(anyhow!("the sink is still in use")),
        };
        if let Some(committer) = self.committer.take() {
            // The ack channel closed with the sink: the committer commits what it can and ends.
            match committer.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!("checkpoint committer: {e:#}"),
                Err(e) => tracing::error!("checkpoint committer panicked: {e}"),
            }
        }
        let c = &self.counters;
        self.report.indexed = c.indexed.load(Ordering::Relaxed);
        self.report.unchanged_content = c.unchanged.load(Ordering::Relaxed);
        self.report.content_failures = c.content_failures.load(Ordering::Relaxed);
        self.report.content_unavailable = c.content_unavailable.load(Ordering::Relaxed);
        self.report.bytes_downloaded = c.bytes.load(Ordering::Relaxed);
        self.report.downloads = self.fetcher.downloads.load(Ordering::Relaxed);
        self.report.shared_extractions = self.fetcher.shared_hits.load(Ordering::Relaxed);
        if let Ok(skipped) = c.skipped.lock() {
            self.report.skipped = skipped.clone();
        }
        if let Ok(ledger) = self.ledger.lock() {
            self.report.write_failure_examples = ledger.failures.iter().take(20).cloned().collect();
        }
        drained?;
        stats
    }
}

/// How far the committer got.
#[derive(Debug, Clone, Copy, Default)]
struct Progressed {
    /// The newest page whose checkpoint is durable.
    seq: u64,
    /// A rejected write stops all further commits for this run.
    blocked: bool,
}

/// Receive acknowledgements and commit checkpoints in page order.
async fn commit_loop(
    ledger: Arc<Mutex<Ledger>>,
    mut acks: mpsc::UnboundedReceiver<WriteAck>,
    notify: Arc<Notify>,
    store: Arc<StateStore>,
    tenant: String,
    connector: String,
    committed: watch::Sender<Progressed>,
) -> anyhow::Result<()> {
    let mut open = true;
    loop {
        tokio::select! {
            ack = acks.recv() => match ack {
                Some(ack) => apply_ack(&ledger, ack),
                // The sink closed: no acknowledgement will come; commit what is ready and stop.
                None => open = false,
            },
            _ = notify.notified() => {}
        }
        while let Ok(ack) = acks.try_recv() {
            apply_ack(&ledger, ack);
        }
        let ready = ledger.lock().ok().and_then(|mut l| l.take_committable());
        if let Some(ready) = ready {
            if let Some(checkpoint) = ready.checkpoint {
                fault::crash_point("commit", ready.seq);
                let state = TenantState {
                    checkpoint: Some(checkpoint),
                    open_enumerations: ready.open_enumerations,
                    connector: connector.clone(),
                    updated_at: now_rfc3339(),
                };
                store
                    .commit(&tenant, &state)
                    .await
                    .map_err(|e| anyhow!("committing the checkpoint of tenant {tenant}: {e}"))?;
                fault::crash_point("committed", ready.seq);
            }
            committed.send_modify(|p| p.seq = ready.seq);
        }
        if ledger.lock().map(|l| l.is_blocked()).unwrap_or(false) {
            committed.send_modify(|p| p.blocked = true);
        }
        if !open {
            return Ok(());
        }
    }
}

fn apply_ack(ledger: &Mutex<Ledger>, ack: WriteAck) {
    if let Ok(mut l) = ledger.lock() {
        l.ack(ack.token, ack.outcome);
    }
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// The document the sink stores: the component's fields plus the host's own.
fn assemble(
    mut fields: Map<String, Value>,
    scope: &str,
    marker: &str,
    content: Option<&ContentOutcome>,
    content_key: Option<&str>,
) -> Map<String, Value> {
    let mut tributary = json!({ "scope": scope, "run": marker });
    // Only extracted text is worth keeping across runs. A skip (too large, unsupported type,
    // extraction off) is decided again each run without downloading, so raising
    // `content.max_bytes` or turning extraction on takes effect; a failure is retried.
    let record_key = match content {
        Some(ContentOutcome::Extracted { .. }) => true,
        Some(_) => false,
        // Metadata-only update: the stored content (and its key) stays valid.
        None => content_key.is_some(),
    };
    if let (Some(key), true, Some(obj)) = (content_key, record_key, tributary.as_object_mut()) {
        obj.insert("content_key".into(), Value::String(key.to_string()));
    }
    fields.insert("tributary".into(), tributary);
    match content {
        None if content_key.is_some() => {}
        None => {
            fields.insert("content_status".into(), json!("none"));
        }
        Some(outcome) => {
            fields.insert("content_status".into(), json!(outcome.status()));
            match outcome {
                ContentOutcome::Extracted { text, .. } => {
                    fields.insert("body".into(), Value::String(text.to_string()));
                }
                ContentOutcome::Skipped(reason)
                | ContentOutcome::Failed(reason)
                | ContentOutcome::Unavailable(reason) => {
                    fields.insert(
                        "content_skipped_reason".into(),
                        Value::String(reason.clone()),
                    );
                }
            }
        }
    }
    fields
}

fn guest_failure(e: GuestError) -> SyncError {
    match e {
        GuestError::InvalidConfig(m) => SyncError::Config(format!("source.{m}")),
        GuestError::Unauthorized(m) => SyncError::Credentials(m),
        GuestError::CheckpointMismatch(m) => SyncError::Config(format!(
            "the stored checkpoint does not belong to this configuration: {m}. Run `tributary sync --full` to start over"
        )),
        other => SyncError::Failed(anyhow!("{other}")),
    }
}

impl From<CredentialError> for SyncError {
    fn from(e: CredentialError) -> Self {
        SyncError::Credentials(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembled_documents_carry_scope_marker_and_content_state() {
        let mut fields = Map::new();
        fields.insert("name".into(), json!("a.txt"));
        let doc = assemble(
            fields.clone(),
            "files",
            "run-1",
            Some(&ContentOutcome::Extracted {
                text: Arc::from("hello"),
                bytes: 5,
            }),
            Some("hash1"),
        );
        assert_eq!(doc["body"], json!("hello"));
        assert_eq!(doc["content_status"], json!("extracted"));
        assert_eq!(
            doc["tributary"],
            json!({"scope": "files", "run": "run-1", "content_key": "hash1"})
        );
        // A failed download records no key, so the next run tries again.
        let failed = assemble(
            fields.clone(),
            "files",
            "r",
            Some(&ContentOutcome::Failed("HTTP 500".into())),
            Some("hash1"),
        );
        assert!(failed["tributary"].get("content_key").is_none());
        assert_eq!(failed["content_skipped_reason"], json!("HTTP 500"));
        // A metadata-only update keeps the stored body: no content fields at all.
        let update = assemble(fields.clone(), "files", "r", None, Some("hash1"));
        assert!(update.get("content_status").is_none() && update.get("body").is_none());
        let folder = assemble(fields, "files", "r", None, None);
        assert_eq!(folder["content_status"], json!("none"));
    }
}
