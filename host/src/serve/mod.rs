//! `tributary serve`: many tenants in one process, each sandboxed, on their schedules; and
//! several such processes sharing the tenants through Elasticsearch.
//!
//! - `tenants`: the tenant files, read again whenever they change (no restart; a running
//!   sync finishes on the settings it started with);
//! - `schedule`: the slots a schedule fires, the same on every process;
//! - `coordination`: a slot is claimed once across processes (create-only document), kept
//!   by heartbeats, taken over when its holder dies, closed with the run's result;
//! - `worker`: one task per tenant: prepare, claim the slot that is due, run it under the
//!   process-wide budgets, back off after a failure;
//! - `settings`: serve.toml and flags.
pub mod coordination;
pub mod schedule;
pub mod settings;
pub mod tenants;
mod worker;

use crate::budget::{Budgets, FairPool};
use crate::config::TenantConfig;
use crate::runtime::{MemoryBudget, Runtime};
use coordination::Coordination;
use settings::ServeSettings;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, watch};

/// How often the tenant files are looked at.
const RELOAD_EVERY: Duration = Duration::from_secs(2);

/// What every worker of the process shares.
pub(crate) struct Shared {
    pub runtime: Runtime,
    pub settings: ServeSettings,
    pub coordination: Coordination,
    pub budgets: Budgets,
    /// Syncs running at once (FIFO: a tenant waiting is served in turn).
    pub runs: Semaphore,
    /// Tenants running now, for the gauge.
    pub running: std::sync::Mutex<BTreeMap<String, String>>,
}

/// A worker's handle: its config feed and its stop switch.
struct WorkerHandle {
    config: watch::Sender<Arc<TenantConfig>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Run until `shutdown` is notified; then let running syncs stop after their current page.
pub async fn serve(
    runtime: Runtime,
    settings: ServeSettings,
    shutdown: Arc<Notify>,
) -> anyhow::Result<()> {
    let runtime = runtime.with_memory_budget(MemoryBudget::new(
        settings.limits.guest_memory_mb << 20,
        "limits.guest_memory_mb in serve.toml",
    ));
    let alive = Arc::new(AtomicU64::new(coordination::now_ms()));
    if let Some(listen) = settings.listen {
        let stale = (RELOAD_EVERY * 5).as_millis() as u64;
        let bound = crate::metrics::serve(listen, alive.clone(), stale).await?;
        tracing::info!("metrics on http://{bound}/metrics, health on http://{bound}/healthz");
    }
    let limits = &settings.limits;
    let budgets = Budgets {
        downloads: FairPool::new("downloads", limits.downloads),
        bulk_kib: FairPool::new("bulk KiB", limits.bulk_mb << 10),
        text_bytes: FairPool::new("text bytes", limits.text_mb << 20),
    };
    let coordination = Coordination::new(
        &settings.coordination,
        &settings.coordination_index,
        settings.lease,
    )?;
    let shared = Arc::new(Shared {
        runs: Semaphore::new(limits.concurrent_runs),
        runtime,
        coordination,
        budgets,
        running: Default::default(),
        settings,
    });
    tracing::info!(
        runner = %shared.settings.runner_id,
        tenants = %shared.settings.tenants.display(),
        coordination = %format!("{} index {}", shared.settings.coordination.url, shared.settings.coordination_index),
        lease_secs = shared.settings.lease.as_secs(),
        "serving"
    );
    let mut workers: BTreeMap<String, WorkerHandle> = BTreeMap::new();
    let mut seen: Option<tenants::Fingerprint> = None;
    loop {
        alive.store(coordination::now_ms(), Ordering::Relaxed);
        let now = tenants::fingerprint(&shared.settings.tenants);
        if seen.as_ref() != Some(&now) {
            let set = tenants::load(&shared.settings.tenants);
            for problem in &set.problems {
                tracing::error!("tenant file: {problem}");
            }
            apply(&shared, &mut workers, set.tenants);
            seen = Some(now);
        }
        workers.retain(|id, w| {
            let finished = w.task.is_finished();
            if finished {
                tracing::info!(tenant = %id, "tenant removed");
            }
            !finished
        });
        tokio::select! {
            _ = tokio::time::sleep(RELOAD_EVERY) => {}
            _ = shutdown.notified() => break,
        }
    }
    tracing::info!("stopping: running syncs stop after their current page");
    for worker in workers.values() {
        let _ = worker.stop.send(true);
    }
    for (_, worker) in workers {
        let _ = worker.task.await;
    }
    Ok(())
}

/// Start workers for new tenants, hand changed settings to running ones, stop removed ones.
fn apply(
    shared: &Arc<Shared>,
    workers: &mut BTreeMap<String, WorkerHandle>,
    tenants: BTreeMap<String, Arc<TenantConfig>>,
) {
    for (id, worker) in workers.iter() {
        if !tenants.contains_key(id) {
            tracing::info!(tenant = %id, "tenant file gone: its worker stops after the current run");
            let _ = worker.stop.send(true);
        }
    }
    for (id, config) in tenants {
        match workers.get(&id) {
            Some(worker) if worker.task.is_finished() => {}
            Some(worker) => {
                let changed = worker.config.borrow().as_ref() != config.as_ref();
                if changed {
                    tracing::info!(tenant = %id, "tenant settings changed: the next run uses them");
                    let _ = worker.config.send(config);
                }
                continue;
            }
            None => tracing::info!(tenant = %id, "tenant added"),
        }
        let (config_tx, config_rx) = watch::channel(config);
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(worker::run(shared.clone(), id.clone(), config_rx, stop_rx));
        workers.insert(
            id,
            WorkerHandle {
                config: config_tx,
                stop: stop_tx,
                task,
            },
        );
    }
}
