//! The lifecycle of one run: start the committer and the component's session, retry content
//! that earlier runs could not fetch, pull pages until the session ends, then wait for the
//! last checkpoint and fold the counters into the report.
use super::commit::{Committer, Progressed};
use super::content::{ContentFetcher, reason_key};
use super::ledger::{Ledger, OpenEnumerations};
use super::retries::RetryBook;
use super::{Mode, SyncError, SyncOptions, fault, guest_failure};
use crate::budget::Share;
use crate::progress::Progress;
use crate::report::SyncReport;
use crate::runtime::{Connector, GuestError, Runtime, Session};
use crate::sink::{Sink, WriteAck};
use crate::source::IndexTarget;
use crate::state::{StateStore, TenantState};
use crate::tenant::Tenant;
use anyhow::{Context, anyhow};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

/// Counters updated by fetch tasks.
#[derive(Default)]
pub(super) struct Counters {
    pub indexed: AtomicU64,
    pub unchanged: AtomicU64,
    pub content_failures: AtomicU64,
    pub content_unavailable: AtomicU64,
    pub content_retried: AtomicU64,
    skipped: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    pub fn skip(&self, reason: &str) {
        if let Ok(mut map) = self.skipped.lock() {
            *map.entry(reason_key(reason)).or_default() += 1;
        }
    }
}

/// Where a run's writes go: the content index, and the access-control index when the
/// connector writes identities.
pub(super) struct Sinks {
    pub documents: Arc<Sink>,
    pub access_control: Option<Arc<Sink>>,
}

impl Sinks {
    /// The sink of a scope's index.
    pub fn of(&self, target: IndexTarget) -> anyhow::Result<&Arc<Sink>> {
        match target {
            IndexTarget::Documents => Ok(&self.documents),
            // Only a dry run has no access-control sink (a declared access-control scope
            // always gets one otherwise): it prints those documents with the others.
            IndexTarget::AccessControl => {
                Ok(self.access_control.as_ref().unwrap_or(&self.documents))
            }
        }
    }

    /// Send the writes queued so far to either index, without waiting for their answers.
    pub async fn send_queued(&self) -> anyhow::Result<()> {
        self.documents.send_queued().await?;
        if let Some(acl) = &self.access_control {
            acl.send_queued().await?;
        }
        Ok(())
    }

    /// Wait until every write to either index is acknowledged.
    pub async fn drain(&self) -> anyhow::Result<()> {
        self.documents.drain().await?;
        if let Some(acl) = &self.access_control {
            acl.drain().await?;
        }
        Ok(())
    }

    /// Writes rejected so far, both indices.
    pub fn failed(&self) -> u64 {
        self.documents.stats().failed
            + self
                .access_control
                .as_ref()
                .map(|s| s.stats().failed)
                .unwrap_or(0)
    }
}

pub(super) struct Run<'a> {
    pub tenant: &'a Tenant,
    pub sinks: Sinks,
    store: Arc<StateStore>,
    options: &'a SyncOptions,
    pub report: &'a mut SyncReport,
    pub ledger: Arc<Mutex<Ledger>>,
    pub retries: Arc<Mutex<RetryBook>>,
    notify: Arc<Notify>,
    pub counters: Arc<Counters>,
    pub fetcher: Arc<ContentFetcher>,
    pub downloads: JoinSet<anyhow::Result<()>>,
    /// This tenant's own limit (`concurrent_downloads`)...
    pub download_slots: Arc<Semaphore>,
    /// ...and its fair share of the process's fetches.
    pub download_share: Arc<Share>,
    committer: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    committed: Option<watch::Receiver<Progressed>>,
    pub open: OpenEnumerations,
    pub run_marker: String,
    /// What each sync rule decided this run.
    pub rule_counts: crate::rules::RuleCounts,
    progress: Progress,
}

impl<'a> Run<'a> {
    pub fn new(
        tenant: &'a Tenant,
        sinks: Sinks,
        store: Arc<StateStore>,
        options: &'a SyncOptions,
        report: &'a mut SyncReport,
        extractor: Option<crate::extract::Extractor>,
    ) -> Self {
        let shares = options.budgets.join(&tenant.config.tenant);
        let fetcher = ContentFetcher::new(
            tenant.http.clone(),
            tenant.grants.clone(),
            tenant.config.content.max_bytes,
            extractor,
            tenant.extract_limits(),
            tenant.config.content.ingest_pipeline.is_some(),
            shares.text_bytes,
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
            sinks,
            store,
            options,
            report,
            ledger: Arc::new(Mutex::new(Ledger::default())),
            retries: Arc::new(Mutex::new(RetryBook::default())),
            notify: Arc::new(Notify::new()),
            counters: Arc::new(Counters::default()),
            fetcher: Arc::new(fetcher),
            downloads: JoinSet::new(),
            download_slots: Arc::new(Semaphore::new(tenant.concurrent_downloads)),
            download_share: Arc::new(shares.downloads),
            committer: None,
            committed: None,
            open: OpenEnumerations::new(),
            run_marker,
            rule_counts: Default::default(),
            progress: Progress::new(options.progress),
        }
    }

    pub async fn execute(
        &mut self,
        runtime: &Runtime,
        state: TenantState,
        acks: mpsc::UnboundedReceiver<WriteAck>,
    ) -> Result<(), SyncError> {
        if let Ok(mut book) = self.retries.lock() {
            *book = RetryBook::new(state.content_retries.clone());
        }
        let (committed_tx, committed_rx) = watch::channel(Progressed::default());
        self.committed = Some(committed_rx);
        let committer = Committer {
            ledger: self.ledger.clone(),
            retries: self.retries.clone(),
            notify: self.notify.clone(),
            store: self.store.clone(),
            tenant: self.tenant.config.tenant.clone(),
            connector: self.tenant.info.id.clone(),
            rules_digest: self.tenant.config.rules.digest().map(str::to_string),
        };
        self.committer = Some(tokio::spawn(
            committer.run(acks, committed_tx).in_current_span(),
        ));
        let mut connector = self
            .tenant
            .instantiate(runtime)
            .await
            .map_err(SyncError::Failed)?;
        connector.set_content_wanted(self.fetcher.fetches_content());
        let config = self.tenant.source.public_json();
        let rules_changed = state.rules_digest.as_deref() != self.tenant.config.rules.digest();
        let (mode, reason, checkpoint) = match (&state.checkpoint, self.options.full) {
            (_, true) => (Mode::Full, "--full was given".to_string(), None),
            (Some(_), false) if rules_changed => (
                Mode::Full,
                "the sync rules changed: everything is looked at again under the new rules"
                    .to_string(),
                None,
            ),
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
        // Content earlier runs could not fetch goes before the first page: what the pages
        // say about the same documents lands after it.
        self.retry_content(1).await.map_err(SyncError::Failed)?;
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
        // Where the enumeration's time goes: waiting for the component's first page, then
        // applying pages (assembling documents, queueing writes) while the component reads
        // the next one: the listing's round trips overlap with the host's work on the page
        // before. At most one page is read ahead, and only while the session has more.
        let (mut waiting, mut applying) = (Duration::ZERO, Duration::ZERO);
        let asked = Instant::now();
        let mut next = connector.next_page(session).await;
        waiting += asked.elapsed();
        loop {
            if self.options.stop.load(Ordering::Relaxed) {
                // A page read ahead is dropped unapplied: its checkpoint was never committed.
                tracing::info!("stopping after page {seq} as requested");
                break;
            }
            let page = match next.map_err(SyncError::Failed)? {
                Ok(page) => page,
                Err(GuestError::CheckpointExpired(why)) if restarted.is_none() => {
                    tracing::warn!(
                        "checkpoint expired mid-run ({why}): restarting as a full enumeration"
                    );
                    self.drain().await.map_err(SyncError::Failed)?;
                    self.report.mode = "full".into();
                    self.report.mode_reason = format!("the stored checkpoint expired ({why})");
                    self.open.clear();
                    let fresh = match connector
                        .start(config, None)
                        .await
                        .map_err(SyncError::Failed)?
                    {
                        Ok(s) => s,
                        Err(e) => return Err(guest_failure(e)),
                    };
                    let current = restarted.insert(fresh);
                    let asked = Instant::now();
                    next = connector.next_page(current).await;
                    waiting += asked.elapsed();
                    continue;
                }
                Err(e) => return Err(guest_failure(e)),
            };
            seq += 1;
            self.report.pages += 1;
            let current = restarted.as_ref().unwrap_or(session);
            let applied = Instant::now();
            let (result, ahead) = if page.has_more {
                let (result, ahead) = tokio::join!(
                    self.apply_page(seq, page.changes),
                    connector.next_page(current)
                );
                (result, Some(ahead))
            } else {
                (self.apply_page(seq, page.changes).await, None)
            };
            result.map_err(SyncError::Failed)?;
            applying += applied.elapsed();
            fault::crash_point("page", seq);
            if page.checkpoint.is_some() {
                self.report.last_checkpoint = page.checkpoint.clone();
            }
            self.close_page(seq, page.checkpoint);
            // The page's writes go out now rather than when a request fills up, so its
            // checkpoint is committed as soon as they are answered.
            self.sinks.send_queued().await.map_err(SyncError::Failed)?;
            self.progress.update(
                self.report.pages,
                self.report.seen,
                self.fetcher.downloads.load(Ordering::Relaxed),
                self.report.deleted,
            );
            match ahead {
                Some(ahead) => next = ahead,
                None => break,
            }
        }
        if let Some(extra) = restarted
            && let Err(e) = connector.finish(extra).await
        {
            tracing::debug!("{e:#}");
        }
        tracing::debug!(
            pages = seq,
            first_page_ms = waiting.as_millis() as u64,
            applying_and_reading_ahead_ms = applying.as_millis() as u64,
            "enumeration read"
        );
        let drained = Instant::now();
        self.drain().await.map_err(SyncError::Failed)?;
        self.wait_committed(seq).await.map_err(SyncError::Failed)?;
        tracing::debug!(
            drain_ms = drained.elapsed().as_millis() as u64,
            "last writes acknowledged"
        );
        Ok(())
    }

    /// A write for page `seq` is about to be submitted (or a fetch started).
    pub fn add(&self, seq: u64) {
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

    /// Surface errors of finished fetch tasks without waiting.
    pub fn reap(&mut self) -> anyhow::Result<()> {
        while let Some(done) = self.downloads.try_join_next() {
            done.context("a download task panicked")??;
        }
        Ok(())
    }

    /// Wait until every fetch finished and every write is acknowledged.
    pub async fn drain(&mut self) -> anyhow::Result<()> {
        while let Some(done) = self.downloads.join_next().await {
            done.context("a download task panicked")??;
        }
        self.sinks.drain().await?;
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
    pub async fn finish(mut self) -> anyhow::Result<crate::sink::SinkStats> {
        self.downloads.abort_all();
        while self.downloads.join_next().await.is_some() {}
        self.progress.finish();
        let drained = self.sinks.drain().await;
        self.notify.notify_one();
        let Sinks {
            documents,
            access_control,
        } = self.sinks;
        let mut stats = match Arc::try_unwrap(documents) {
            Ok(sink) => sink.close().await,
            Err(_) => Err(anyhow!("the sink is still in use")),
        };
        if let Some(acl) = access_control {
            let closed = match Arc::try_unwrap(acl) {
                Ok(sink) => sink.close().await,
                Err(_) => Err(anyhow!("the access-control sink is still in use")),
            };
            stats = match (stats, closed) {
                (Ok(mut a), Ok(b)) => {
                    a.failed += b.failed;
                    a.indexed += b.indexed;
                    a.updated += b.updated;
                    a.deleted += b.deleted;
                    a.bulk_requests += b.bulk_requests;
                    a.bytes_sent += b.bytes_sent;
                    Ok(a)
                }
                (Err(e), _) | (_, Err(e)) => Err(e),
            };
        }
        if let Some(committer) = self.committer.take() {
            // The ack channel closed with the sink: the committer commits what it can and ends.
            match committer.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!("checkpoint committer: {e:#}"),
                Err(e) => tracing::error!("checkpoint committer panicked: {e}"),
            }
        }
        if let Some(committed) = &self.committed {
            self.report.checkpoint_committed = committed.borrow().committed;
        }
        let c = &self.counters;
        self.report.indexed = c.indexed.load(Ordering::Relaxed);
        self.report.unchanged_content = c.unchanged.load(Ordering::Relaxed);
        self.report.content_failures = c.content_failures.load(Ordering::Relaxed);
        self.report.content_unavailable = c.content_unavailable.load(Ordering::Relaxed);
        self.report.content_retried = c.content_retried.load(Ordering::Relaxed);
        self.report.bytes_downloaded = self.fetcher.bytes_fetched.load(Ordering::Relaxed);
        self.report.downloads = self.fetcher.downloads.load(Ordering::Relaxed);
        self.report.shared_extractions = self.fetcher.shared_hits.load(Ordering::Relaxed);
        if let Ok(skipped) = c.skipped.lock() {
            self.report.skipped = skipped.clone();
        }
        if let Ok(book) = self.retries.lock() {
            self.report.content_retry_pending = book.len() as u64;
            self.report.content_retries_given_up = book.given_up();
        }
        if let Ok(ledger) = self.ledger.lock() {
            self.report.write_failure_examples = ledger.failures.iter().take(20).cloned().collect();
        }
        self.report.rules = self
            .rule_counts
            .summary(&self.tenant.config.rules)
            .into_iter()
            .map(|(rule, documents)| crate::report::RuleCount { rule, documents })
            .collect();
        drained?;
        stats
    }
}
