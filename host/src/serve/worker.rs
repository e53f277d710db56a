//! One tenant's worker: prepare the tenant (once per settings), claim the slot that is due,
//! run it (a sync, or a long-lived watch) under the process-wide budgets with heartbeats and
//! cancel checks, record the result, and sleep until the next slot, a retry, or a change.
use super::Shared;
use super::coordination::{Claim, ClaimAttempt, RunCounts, now_ms};
use super::schedule::{self, RunKind, Slot};
use crate::config::TenantConfig;
use crate::report::SyncReport;
use crate::state::StateStore;
use crate::sync::changes::Waited;
use crate::sync::{self, SyncError, SyncOptions};
use crate::tenant::{PrepareError, Tenant};
use chrono::Utc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, Notify, watch};
use tracing::Instrument;

/// After the last page a cancelled run gets this long to stop on its own before it is cut.
const CANCEL_GRACE: Duration = Duration::from_secs(2);
/// How often a running tenant looks for a cancel request.
const CANCEL_POLL: Duration = Duration::from_millis(500);
/// A tenant that cannot even be prepared is tried again after this (or when its file changes).
const PREPARE_RETRY: Duration = Duration::from_secs(60);
/// Long-poll timeout of a watch slot.
const WATCH_POLL_SECS: u32 = 30;

pub(super) async fn run(
    shared: Arc<Shared>,
    id: String,
    mut config_rx: watch::Receiver<Arc<TenantConfig>>,
    mut stop_rx: watch::Receiver<bool>,
) {
    let mut prepared: Option<(Arc<TenantConfig>, Arc<Tenant>)> = None;
    loop {
        if *stop_rx.borrow() {
            return;
        }
        let config = config_rx.borrow_and_update().clone();
        let stale = prepared
            .as_ref()
            .is_none_or(|(c, _)| !Arc::ptr_eq(c, &config));
        if stale {
            match Tenant::prepare(&shared.runtime, (*config).clone()).await {
                Ok(tenant) => prepared = Some((config.clone(), Arc::new(tenant))),
                Err(e) => {
                    let why = match e {
                        PrepareError::Config(m) => m,
                        PrepareError::Other(e) => format!("{e:#}"),
                    };
                    tracing::error!(tenant = %id, "cannot run this tenant: {why}");
                    prepared = None;
                    wait(&mut config_rx, &mut stop_rx, PREPARE_RETRY).await;
                    continue;
                }
            }
        }
        let Some((_, tenant)) = prepared.clone() else {
            continue;
        };
        let now = Utc::now();
        let mut next_look: Option<u64> = None;
        let mut ran = false;
        for slot in schedule::due(&config.schedule, now) {
            let attempt = shared
                .coordination
                .claim(&id, &slot, &shared.settings.runner_id)
                .await;
            match attempt {
                Ok(ClaimAttempt::Claimed(claim)) => {
                    run_slot(&shared, &tenant, &config_rx, &stop_rx, slot, *claim).await;
                    ran = true;
                    break;
                }
                Ok(ClaimAttempt::Finished) => continue,
                Ok(ClaimAttempt::HeldBy(holder)) => {
                    tracing::debug!(tenant = %id, slot = %slot.key(), %holder, "slot held by another runner");
                    // Look again within the lease, in case the holder dies.
                    next_look = Some(now_ms() + shared.settings.lease.as_millis() as u64 / 2);
                    break;
                }
                Ok(ClaimAttempt::RetryAt(at)) => {
                    next_look = Some(at);
                    break;
                }
                Err(e) => {
                    tracing::warn!(tenant = %id, "cannot claim {}: {e:#}", slot.key());
                    next_look = Some(now_ms() + 10_000);
                    break;
                }
            }
        }
        if ran {
            // Something else may be due already (a full slot done, its incremental next).
            continue;
        }
        let next_fire = schedule::next_fire(&config.schedule, now).map(|s| (s as u64) * 1000);
        let wake = match (next_look, next_fire) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(now_ms() + 60_000),
        };
        let sleep = Duration::from_millis(wake.saturating_sub(now_ms()).max(200));
        wait(&mut config_rx, &mut stop_rx, sleep).await;
    }
}

/// Sleep until `for_` passes, the settings change, or the worker is told to stop.
async fn wait(
    config_rx: &mut watch::Receiver<Arc<TenantConfig>>,
    stop_rx: &mut watch::Receiver<bool>,
    for_: Duration,
) {
    tokio::select! {
        _ = tokio::time::sleep(for_) => {}
        _ = config_rx.changed() => {}
        _ = stop_rx.changed() => {}
    }
}

/// Run a claimed slot to its end (or until cancelled, lost, or told to stop) and record it.
async fn run_slot(
    shared: &Arc<Shared>,
    tenant: &Arc<Tenant>,
    config_rx: &watch::Receiver<Arc<TenantConfig>>,
    stop_rx: &watch::Receiver<bool>,
    slot: Slot,
    claim: Claim,
) {
    let id = tenant.config.tenant.clone();
    if claim.took_over {
        crate::metrics::record_takeover(&id);
    }
    // A run span is a root: a run is never a part of whatever span was current when its
    // slot came due.
    let span = tracing::info_span!(parent: None, "run", tenant = %id, slot = %slot.key());
    let started = claim.doc.started_at_ms;
    let claim = Arc::new(Mutex::new(claim));
    if let Ok(mut running) = shared.running.lock() {
        running.insert(id.clone(), slot.key());
        crate::metrics::set_running(running.len());
    }
    // Soft stop: after the current page. Hard stop: cut the run after a grace period.
    let stop = Arc::new(AtomicBool::new(false));
    let wake = Arc::new(Notify::new());
    let hard = Arc::new(Notify::new());
    let cancelled = Arc::new(AtomicBool::new(false));
    let store = match crate::outputs::state_store(&tenant.config) {
        Ok(store) => Some(Arc::new(store)),
        Err(_) => None,
    };
    let guard = tokio::spawn(
        guard(
            shared.clone(),
            id.clone(),
            claim.clone(),
            store.clone(),
            started,
            config_rx.clone(),
            stop_rx.clone(),
            stop.clone(),
            wake.clone(),
            hard.clone(),
            cancelled.clone(),
        )
        .instrument(span.clone()),
    );
    // The guard renews the claim from here on, also while this slot waits for a run slot
    // of the process: a claim left unrenewed while its holder waits would be taken over.
    let permit = shared.runs.acquire().instrument(span.clone()).await;
    let store_ref = store.as_ref();
    let work = async {
        match slot.kind {
            RunKind::Watch => watch_slot(shared, tenant, store_ref, &stop, &wake).await,
            kind => one_run(shared, tenant, store_ref, kind == RunKind::Full, &stop).await,
        }
    }
    .instrument(span.clone());
    let (report, result) = tokio::select! {
        done = work => done,
        _ = hard.notified() => {
            let mut report = SyncReport { tenant: id.clone(), ..SyncReport::default() };
            report.outcome = "cancelled".into();
            (report, Err(SyncError::Failed(anyhow::anyhow!("cancelled"))))
        }
    };
    guard.abort();
    drop(permit);
    if let Ok(mut running) = shared.running.lock() {
        running.remove(&id);
        crate::metrics::set_running(running.len());
    }
    let was_cancelled = cancelled.load(Ordering::Relaxed);
    // A cancelled run is over (its checkpoint holds what was acknowledged); the next slot
    // runs as usual. Anything else that failed is retried after a backoff.
    let ok = result.is_ok() || was_cancelled;
    let outcome = match (&result, was_cancelled) {
        (_, true) => "cancelled".to_string(),
        (Ok(()), false) => report.outcome.clone(),
        (Err(e), false) => format!("failed: {e}"),
    };
    // The span is entered only around this task's own polls (never held across an await:
    // an entered span would leak into whatever else this thread polls meanwhile).
    async {
        match &result {
            Ok(()) => tracing::info!(
                seen = report.seen,
                indexed = report.indexed,
                deleted = report.deleted,
                purged = report.purged,
                secs = format!("{:.2}", report.duration_secs),
                "run finished: {outcome}"
            ),
            Err(e) if was_cancelled => tracing::info!("run cancelled ({e})"),
            Err(e) => tracing::error!("run failed: {e}"),
        }
        crate::metrics::record_run(&id, slot.kind.as_str(), &report, result.is_ok());
        let counts = RunCounts {
            seen: report.seen,
            indexed: report.indexed,
            deleted: report.deleted,
            purged: report.purged,
            bytes: report.bytes_downloaded,
            api_calls: report.api_calls,
            duration_secs: report.duration_secs,
        };
        let mut claim = claim.lock().await;
        if let Err(e) = shared
            .coordination
            .finish(&mut claim, ok, outcome, counts)
            .await
        {
            tracing::error!("recording the run: {e:#}");
        }
        if was_cancelled && let Err(e) = shared.coordination.clear_cancel(&id).await {
            tracing::warn!("clearing the cancel request: {e:#}");
        }
        if let Some(store) = store
            && let Err(e) = store.release(&id).await
        {
            tracing::debug!("releasing the lease: {e}");
        }
    }
    .instrument(span)
    .await;
}

/// While a slot runs: renew the claim and the checkpoint lease, and watch for a cancel
/// request, new settings (watch slots restart on them) or the worker's stop.
#[allow(clippy::too_many_arguments)]
async fn guard(
    shared: Arc<Shared>,
    id: String,
    claim: Arc<Mutex<Claim>>,
    store: Option<Arc<StateStore>>,
    started_ms: u64,
    mut config_rx: watch::Receiver<Arc<TenantConfig>>,
    mut stop_rx: watch::Receiver<bool>,
    stop: Arc<AtomicBool>,
    wake: Arc<Notify>,
    hard: Arc<Notify>,
    cancelled: Arc<AtomicBool>,
) {
    let heartbeat_every = shared.settings.lease / 3;
    let mut next_heartbeat = tokio::time::Instant::now() + heartbeat_every;
    let soft_stop = |why: &str| {
        tracing::info!("{why}: stopping after the current page");
        stop.store(true, Ordering::Relaxed);
        wake.notify_waiters();
    };
    loop {
        tokio::select! {
            _ = tokio::time::sleep(CANCEL_POLL) => {}
            _ = config_rx.changed() => soft_stop("the tenant's settings changed"),
            _ = stop_rx.changed() => soft_stop("the runner is stopping"),
        }
        if tokio::time::Instant::now() >= next_heartbeat {
            next_heartbeat += heartbeat_every;
            let mut held = claim.lock().await;
            if let Err(e) = shared.coordination.heartbeat(&mut held).await {
                tracing::error!("{e:#}; this run stops now");
                stop.store(true, Ordering::Relaxed);
                hard.notify_waiters();
                return;
            }
            drop(held);
            if let Some(store) = &store {
                match store.renew(&id).await {
                    Ok(()) | Err(crate::state::StateError::NotHeld { .. }) => {}
                    Err(e) => {
                        tracing::error!("{e}; this run stops now");
                        stop.store(true, Ordering::Relaxed);
                        hard.notify_waiters();
                        return;
                    }
                }
            }
        }
        match shared.coordination.cancel_requested(&id).await {
            Ok(Some(at))
                if at >= started_ms.saturating_sub(1000) && !cancelled.load(Ordering::Relaxed) =>
            {
                cancelled.store(true, Ordering::Relaxed);
                soft_stop("cancel requested");
                // Whatever is still running after the grace period is cut: everything
                // acknowledged so far is checkpointed, nothing else is.
                let hard = hard.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(CANCEL_GRACE).await;
                    hard.notify_waiters();
                });
            }
            Ok(_) => {}
            Err(e) => tracing::debug!("looking for a cancel request: {e:#}"),
        }
    }
}

/// One sync run of the tenant.
///
/// This process holds the slot's claim, so a checkpoint lease held by another runner is
/// nearly always a dead process's: a claim taken over from a killed holder lapses a moment
/// before that holder's checkpoint lease, which its last commit may have renewed up to a
/// heartbeat later. Waiting out one lease period (polling, the claim renewed meanwhile) lets
/// the slot run instead of failing it; a runner that is really alive (a `tributary sync` by
/// hand on the same tenant) still ends the run as busy once that period is over.
///
/// A checkpoint written for other settings (the tenant file now names another path, say)
/// means the tenant's settings changed on purpose: the run starts over with a full sync
/// instead of failing every slot until someone runs one by hand.
async fn one_run(
    shared: &Arc<Shared>,
    tenant: &Arc<Tenant>,
    store: Option<&Arc<StateStore>>,
    mut full: bool,
    stop: &Arc<AtomicBool>,
) -> (SyncReport, Result<(), SyncError>) {
    let lease = shared.settings.lease;
    let give_up = tokio::time::Instant::now() + lease + lease / 2;
    loop {
        let (report, result) = one_attempt(shared, tenant, store, full, stop).await;
        if let Err(SyncError::StaleCheckpoint(why)) = &result
            && !full
            && !stop.load(Ordering::Relaxed)
        {
            tracing::warn!("{why}; the tenant's settings changed: starting over with a full sync");
            full = true;
            continue;
        }
        let busy = matches!(result, Err(SyncError::Busy(_)));
        if !busy || stop.load(Ordering::Relaxed) || tokio::time::Instant::now() >= give_up {
            return (report, result);
        }
        tracing::info!("another runner's lease holds the checkpoint; waiting for it to lapse");
        tokio::time::sleep((lease / 6).max(Duration::from_millis(100))).await;
    }
}

/// One attempt at a sync run of the tenant. `store`: the checkpoint store the slot's guard
/// renews the lease through (leases are held per store).
async fn one_attempt(
    shared: &Arc<Shared>,
    tenant: &Arc<Tenant>,
    store: Option<&Arc<StateStore>>,
    full: bool,
    stop: &Arc<AtomicBool>,
) -> (SyncReport, Result<(), SyncError>) {
    let id = &tenant.config.tenant;
    let bulk = shared.budgets.bulk_kib.join(id);
    let outputs = match crate::outputs::open(tenant, None, Some(bulk), store.cloned()).await {
        Ok(o) => o,
        Err(e) => {
            let report = SyncReport {
                tenant: id.clone(),
                outcome: format!("failed: {e}"),
                ..SyncReport::default()
            };
            return (report, Err(SyncError::Failed(anyhow::anyhow!("{e}"))));
        }
    };
    let options = SyncOptions {
        full,
        runner_id: shared.settings.runner_id.clone(),
        progress: false,
        stop: stop.clone(),
        budgets: shared.budgets.clone(),
        lease_ttl: shared.settings.lease,
    };
    sync::run(&shared.runtime, tenant, outputs, &options, false).await
}

/// A watch slot: sync, then wait for changes and sync again, until stopped.
async fn watch_slot(
    shared: &Arc<Shared>,
    tenant: &Arc<Tenant>,
    store: Option<&Arc<StateStore>>,
    stop: &Arc<AtomicBool>,
    wake: &Arc<Notify>,
) -> (SyncReport, Result<(), SyncError>) {
    let mut total = SyncReport {
        tenant: tenant.config.tenant.clone(),
        ..SyncReport::default()
    };
    loop {
        let (report, result) = one_run(shared, tenant, store, false, stop).await;
        total.seen += report.seen;
        total.indexed += report.indexed;
        total.deleted += report.deleted;
        total.purged += report.purged;
        total.bytes_downloaded += report.bytes_downloaded;
        total.api_calls += report.api_calls;
        total.duration_secs += report.duration_secs;
        total.outcome = report.outcome.clone();
        if result.is_err() || stop.load(Ordering::Relaxed) {
            return (total, result);
        }
        let Some(checkpoint) = report.last_checkpoint else {
            return (
                total,
                Err(SyncError::Failed(anyhow::anyhow!(
                    "the source gave no checkpoint to watch from"
                ))),
            );
        };
        match sync::changes::wait_for_changes(
            &shared.runtime,
            tenant,
            &checkpoint,
            WATCH_POLL_SECS,
            wake,
        )
        .await
        {
            Ok(Waited::Changes) => {}
            Ok(Waited::Stopped) => return (total, Ok(())),
            Err(e) => return (total, Err(SyncError::Failed(e))),
        }
    }
}
