//! Where a run's documents and checkpoints go: the tenant's Elasticsearch index (or NDJSON
//! for a dry run) and its checkpoint store. Shared by the one-run commands and `serve`.
use crate::budget::Share;
use crate::config::{ElasticsearchSection, TenantConfig};
use crate::es::EsSettings;
use crate::sink::bulk::BulkSettings;
use crate::sink::dry_run::DryRunSink;
use crate::sink::elasticsearch::EsSink;
use crate::sink::{Sink, WriteAck};
use crate::state::{EsStateStore, MemoryStateStore, StateStore};
use crate::tenant::Tenant;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Why the outputs could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The configuration is wrong (exit 2).
    #[error("{0}")]
    Config(String),
    /// The cluster or a file could not be used (exit 1).
    #[error("{0}")]
    Failed(String),
}

/// A run's sinks, the channel their acknowledgements come back on, and its checkpoint store.
pub struct Outputs {
    /// The content index.
    pub sink: Sink,
    /// `.search-acl-filter-<index>`, when the connector writes access-control documents.
    pub access_control: Option<Sink>,
    pub acks: mpsc::UnboundedReceiver<WriteAck>,
    pub store: Arc<StateStore>,
}

/// The access-control index beside a content index, as Elastic's document-level security
/// expects it.
pub fn access_control_index(index: &str) -> String {
    format!(".search-acl-filter-{index}")
}

/// How to reach the cluster of an `[elasticsearch]` section.
pub fn es_settings(section: &ElasticsearchSection) -> EsSettings {
    EsSettings {
        url: section.url.clone(),
        api_key: section.api_key.as_ref().map(|s| s.expose().to_string()),
        username: section.username.clone(),
        password: section.password.as_ref().map(|s| s.expose().to_string()),
        ca_cert: section.ca_cert.clone(),
        insecure: section.insecure,
        retry_budget_secs: section.retry_budget_secs,
    }
}

/// `_bulk` sizing for a byte budget of `budget_kib`: requests no larger than lets the sink's
/// `concurrency` requests be in flight while the next one fills, so a small budget keeps the
/// pipeline going instead of stalling every writer until a whole large request is answered.
fn bulk_settings(retry_budget: std::time::Duration, budget_kib: usize) -> BulkSettings {
    let defaults = BulkSettings::default();
    let fits = budget_kib.saturating_mul(1024) / (defaults.concurrency + 1);
    BulkSettings {
        retry_budget,
        max_bytes: defaults.max_bytes.min(fits).max(64 << 10),
        ..defaults
    }
}

/// The checkpoint store of a tenant's `[elasticsearch]` section.
pub fn state_store(config: &TenantConfig) -> Result<StateStore, OutputError> {
    let Some(section) = &config.elasticsearch else {
        return Err(OutputError::Config(format!(
            "{}: [elasticsearch] is missing (url and index)",
            config.file.display()
        )));
    };
    EsStateStore::new(&es_settings(section), &section.state_index)
        .map(StateStore::Elasticsearch)
        .map_err(|e| {
            OutputError::Failed(format!("checkpoint store {}: {e:#}", section.state_index))
        })
}

/// Open the outputs of one run. `dry_run`: NDJSON to that file (`-`: stdout) and checkpoints
/// in memory. `bulk`: the share of a process-wide byte budget to draw on (its own otherwise).
/// `store`: the checkpoint store to use (a new one otherwise); leases are held per store, so
/// whoever renews the run's lease must share it.
pub async fn open(
    tenant: &Tenant,
    dry_run: Option<&PathBuf>,
    bulk: Option<Share>,
    store: Option<Arc<StateStore>>,
) -> Result<Outputs, OutputError> {
    let (acks_tx, acks) = mpsc::unbounded_channel();
    if let Some(target) = dry_run {
        let out: Box<dyn std::io::Write + Send> = if target.as_os_str() == "-" {
            Box::new(std::io::BufWriter::new(std::io::stdout()))
        } else {
            match std::fs::File::create(target) {
                Ok(f) => Box::new(std::io::BufWriter::new(f)),
                Err(e) => {
                    return Err(OutputError::Failed(format!(
                        "cannot write {}: {e}",
                        target.display()
                    )));
                }
            }
        };
        // A dry run prints access-control documents with the others.
        return Ok(Outputs {
            sink: Sink::DryRun(DryRunSink::new(out, acks_tx)),
            access_control: None,
            acks,
            store: Arc::new(StateStore::Memory(MemoryStateStore::default())),
        });
    }
    let Some(section) = &tenant.config.elasticsearch else {
        return Err(OutputError::Config(format!(
            "{}: [elasticsearch] is missing (url and index); or use --dry-run to write NDJSON instead",
            tenant.config.file.display()
        )));
    };
    let settings = es_settings(section);
    let bulk = bulk.unwrap_or_else(|| {
        crate::budget::Budgets::for_one_run(1)
            .bulk_kib
            .join(&tenant.config.tenant)
    });
    let bulk_settings = bulk_settings(settings.retry_budget(), bulk.capacity());
    let writes_acl = tenant
        .info
        .scopes
        .iter()
        .any(|s| s.target == crate::source::IndexTarget::AccessControl);
    let access_control = if writes_acl {
        let index = access_control_index(&section.index);
        let sink = EsSink::connect_with_budget(
            &settings,
            &index,
            bulk_settings,
            bulk.pool_share(),
            acks_tx.clone(),
        )
        .await
        .map_err(|e| OutputError::Failed(format!("Elasticsearch at {}: {e:#}", section.url)))?;
        Some(Sink::Elasticsearch(sink))
    } else {
        None
    };
    let sink = EsSink::connect_with_budget(&settings, &section.index, bulk_settings, bulk, acks_tx)
        .await
        .map(Sink::Elasticsearch)
        .map_err(|e| OutputError::Failed(format!("Elasticsearch at {}: {e:#}", section.url)))?;
    let store = match store {
        Some(store) => store,
        None => Arc::new(state_store(&tenant.config)?),
    };
    Ok(Outputs {
        sink,
        access_control,
        acks,
        store,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bulk_requests_fit_the_budget_with_one_filling() {
        let budget = crate::budget::ONE_RUN_BULK_KIB;
        let s = bulk_settings(Duration::from_secs(5), budget);
        assert!(s.max_bytes * (s.concurrency + 1) <= budget * 1024);
        assert_eq!(s.retry_budget, Duration::from_secs(5));
        // A large (serve) budget keeps the default request size.
        let big = bulk_settings(Duration::from_secs(5), 256 << 10);
        assert_eq!(big.max_bytes, BulkSettings::default().max_bytes);
        // A tiny one still sends requests of some size.
        assert_eq!(bulk_settings(Duration::from_secs(5), 1).max_bytes, 64 << 10);
    }
}
