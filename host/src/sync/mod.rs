//! One sync run: pull pages from the component, send documents to the sink (fetching and
//! extracting content under the concurrency limit), apply deletes in order, and commit each
//! page's checkpoint only once every write before it is acknowledged.
//!
//! Safety rules this module enforces:
//! - documents are removed only by explicit changes (delete, delete-tree) or after an
//!   enumeration the component declared complete (`end-enumeration`) and whose every write
//!   the search engine acknowledged; a failing run stops pulling pages, so an incomplete
//!   listing never deletes anything;
//! - deletes are barriers: every earlier write is acknowledged before a delete runs;
//! - a checkpoint is committed only after the sink acknowledged every earlier write;
//! - a `--full` run forgets the stored checkpoint as it takes the lease, so a run that fails
//!   before its first commit is followed by another full enumeration, never by a resume past
//!   writes it lost.
//!
//! The pieces: `run` (the run's lifecycle), `apply` (one page's changes), `commit` (the
//! checkpoint committer), `ledger` (unacknowledged writes per page), `content` (fetch and
//! extract), `document` (what is stored), `retries` (failed content, retried by later runs).
pub mod apply;
pub mod changes;
pub mod commit;
pub mod content;
pub mod document;
pub mod fault;
pub mod ledger;
pub mod retries;
mod run;

use crate::budget::Budgets;
use crate::http::CredentialError;
use crate::outputs::Outputs;
use crate::report::SyncReport;
use crate::runtime::{GuestError, Runtime};
use crate::tenant::Tenant;
use anyhow::anyhow;
use run::Run;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How a run failed; the CLI turns each kind into its own exit code.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Credentials(String),
    #[error("{0}")]
    Busy(String),
    /// The stored checkpoint was written for other settings (another path, account...); a
    /// full sync starts over.
    #[error("{0}")]
    StaleCheckpoint(String),
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
    /// Set to stop cleanly after the current page (Ctrl-C in watch mode, `tributary cancel`).
    pub stop: Arc<AtomicBool>,
    /// The budgets this run shares with others (its own when it runs alone).
    pub budgets: Budgets,
    /// How long the tenant's lease lasts without renewal; a dead runner's tenant is taken
    /// over after this.
    pub lease_ttl: Duration,
}

impl SyncOptions {
    /// Options for one run alone in its process.
    pub fn alone(tenant: &Tenant, full: bool, progress: bool) -> SyncOptions {
        SyncOptions {
            full,
            runner_id: crate::state::local_runner_id(),
            progress,
            stop: Arc::new(AtomicBool::new(false)),
            budgets: Budgets::for_one_run(tenant.concurrent_downloads),
            lease_ttl: LEASE_TTL,
        }
    }
}

/// A lone run's lease on its tenant is considered abandoned after this long without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(600);

/// Run one sync of `tenant` into its outputs (sinks and checkpoint store).
pub async fn run(
    runtime: &Runtime,
    tenant: &Tenant,
    outputs: Outputs,
    options: &SyncOptions,
    dry_run: bool,
) -> (SyncReport, Result<(), SyncError>) {
    let Outputs {
        sink,
        access_control,
        acks,
        store,
    } = outputs;
    let started = Instant::now();
    let mut report = SyncReport {
        tenant: tenant.config.tenant.clone(),
        connector: format!("{} {}", tenant.info.id, tenant.info.version),
        dry_run,
        ..SyncReport::default()
    };
    let failed = |mut report: SyncReport, e: SyncError| {
        report.outcome = format!("failed: {e}");
        (report, Err(e))
    };
    let properties: Value = match serde_json::from_str(&tenant.info.index_properties) {
        Ok(v) => v,
        Err(e) => {
            return failed(
                report,
                SyncError::Failed(anyhow!(
                    "the component's index properties are not JSON: {e}"
                )),
            );
        }
    };
    if let Err(e) = sink.prepare(&properties).await {
        return failed(report, SyncError::Failed(e.context("preparing the index")));
    }
    // The access-control index needs its mapping too: with dynamic mapping `tributary.run`
    // becomes text, the purge's term query never matches, and every identity is purged.
    if let Some(acl) = &access_control {
        let acl_properties: Value = match tenant.info.access_control_properties.as_deref() {
            None => Value::Null,
            Some(text) => match serde_json::from_str(text) {
                Ok(v) => v,
                Err(e) => {
                    return failed(
                        report,
                        SyncError::Failed(anyhow!(
                            "the component's access-control properties are not JSON: {e}"
                        )),
                    );
                }
            },
        };
        if let Err(e) = acl.prepare(&acl_properties).await {
            return failed(
                report,
                SyncError::Failed(e.context("preparing the access-control index")),
            );
        }
    }
    let state = match store
        .acquire(
            &tenant.config.tenant,
            &tenant.info.id,
            &options.runner_id,
            options.lease_ttl,
            options.full,
        )
        .await
    {
        Ok(state) => state,
        Err(e) => {
            let busy = matches!(e, crate::state::StateError::Busy { .. });
            let message = format!("tenant {}: {e}", tenant.config.tenant);
            return failed(
                report,
                if busy {
                    SyncError::Busy(message)
                } else {
                    SyncError::Failed(anyhow!(message))
                },
            );
        }
    };
    // The tenant's HTTP counters live as long as the tenant (many runs under `serve`): count
    // this run's share.
    let stats = &tenant.http.stats;
    let (requests, retries, rate_limited) = (
        stats.requests.load(Ordering::Relaxed),
        stats.retries.load(Ordering::Relaxed),
        stats.rate_limited.load(Ordering::Relaxed),
    );
    let refreshes = tenant.http.tokens().map(|t| t.refreshes()).unwrap_or(0);
    let content = &tenant.config.content;
    let extractor = if content.extract && content.ingest_pipeline.is_none() {
        match tenant.extractor(runtime).await {
            Ok(extractor) => Some(extractor),
            Err(e) => {
                if let Err(e) = store.release(&tenant.config.tenant).await {
                    tracing::debug!("releasing the lease: {e}");
                }
                return failed(report, SyncError::Failed(e));
            }
        }
    } else {
        None
    };
    let sinks = run::Sinks {
        documents: Arc::new(sink),
        access_control: access_control.map(Arc::new),
    };
    let mut run = Run::new(
        tenant,
        sinks,
        store.clone(),
        options,
        &mut report,
        extractor,
    );
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
    report.api_calls = stats.requests.load(Ordering::Relaxed) - requests;
    report.retries = stats.retries.load(Ordering::Relaxed) - retries;
    report.rate_limited = stats.rate_limited.load(Ordering::Relaxed) - rate_limited;
    report.token_refreshes = tenant.http.tokens().map(|t| t.refreshes()).unwrap_or(0) - refreshes;
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

/// The error a component's refusal becomes. Advice to start over is added once, if the
/// component did not give it already.
fn guest_failure(e: GuestError) -> SyncError {
    match e {
        GuestError::InvalidConfig(m) => SyncError::Config(format!("source.{m}")),
        GuestError::Unauthorized(m) => SyncError::Credentials(m),
        GuestError::CheckpointMismatch(m) if m.contains("--full") => SyncError::StaleCheckpoint(
            format!("the stored checkpoint does not belong to this configuration: {m}"),
        ),
        GuestError::CheckpointMismatch(m) => SyncError::StaleCheckpoint(format!(
            "the stored checkpoint does not belong to this configuration: {m}. Run `tributary sync --full` to start over"
        )),
        other => SyncError::Failed(anyhow!("{other}")),
    }
}

impl From<CredentialError> for SyncError {
    fn from(e: CredentialError) -> Self {
        match e {
            // A token endpoint that is down or busy is not a verdict on the credentials.
            CredentialError::Endpoint { .. } => SyncError::Failed(anyhow!("{e}")),
            rejected => SyncError::Credentials(rejected.to_string()),
        }
    }
}
