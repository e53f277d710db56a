//! What `serve`, `status` and `cancel` need to know: the tenants, where runners coordinate,
//! the lease, the listen address and the process-wide limits; from `serve.toml`, flags
//! (which win) and, for the coordination cluster, the tenants themselves when they all index
//! into the same one.
use super::coordination::DEFAULT_INDEX;
use super::tenants;
use crate::cli::{ServeArgs, TargetArgs};
use crate::config::{ServeConfig, ServeLimits};
use crate::es::EsSettings;
use crate::outputs::es_settings;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Default lease of a serve process on its running tenants.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub tenants: PathBuf,
    pub coordination: EsSettings,
    pub coordination_index: String,
    pub lease: Duration,
    pub listen: Option<SocketAddr>,
    pub limits: ServeLimits,
    pub runner_id: String,
}

impl ServeSettings {
    /// Resolve the settings; an error is a configuration mistake (exit 2) and says which.
    pub fn resolve(
        target: &TargetArgs,
        serve: Option<&ServeArgs>,
    ) -> Result<ServeSettings, String> {
        let file = match &target.config {
            Some(path) => ServeConfig::load(path).map_err(|e| format!("{e:#}"))?,
            None => ServeConfig::default(),
        };
        let tenants = target.tenants.clone().or(file.tenants.clone()).ok_or_else(|| {
            "--tenants: required (a directory of tenant files, or one file of [[tenant]] tables), or `tenants = ...` in serve.toml"
                .to_string()
        })?;
        let coordination = match (&target.coordination_url, &file.coordination) {
            (Some(url), section) => {
                let mut settings = section.as_ref().map(es_settings).unwrap_or_default();
                settings.url = url.clone();
                settings
            }
            (None, Some(section)) => es_settings(section),
            (None, None) => shared_cluster(&tenants)?,
        };
        let coordination_index = target
            .coordination_index
            .clone()
            .or_else(|| file.coordination.as_ref().map(|c| c.index.clone()))
            .unwrap_or_else(|| DEFAULT_INDEX.to_string());
        let listen = serve
            .and_then(|a| a.listen.clone())
            .or(file.listen.clone())
            .map(|l| {
                l.parse::<SocketAddr>().map_err(|e| {
                    format!("listen: {l:?} is not an address like 127.0.0.1:9464: {e}")
                })
            })
            .transpose()?;
        let lease = serve
            .and_then(|a| a.lease_secs)
            .or(file.lease_secs)
            .map(|s| Duration::from_secs(s.max(3)))
            .unwrap_or(DEFAULT_LEASE);
        let mut limits = file.limits.clone();
        if let Some(n) = serve.and_then(|a| a.concurrent_runs) {
            limits.concurrent_runs = n.max(1);
        }
        let runner_id = serve
            .and_then(|a| a.runner_id.clone())
            .unwrap_or_else(crate::state::local_runner_id);
        Ok(ServeSettings {
            tenants,
            coordination,
            coordination_index,
            lease,
            listen,
            limits,
            runner_id,
        })
    }
}

/// With no coordination cluster given: the one every tenant indexes into, if there is one.
fn shared_cluster(path: &std::path::Path) -> Result<EsSettings, String> {
    let set = tenants::load(path);
    let mut clusters = set
        .tenants
        .values()
        .filter_map(|t| t.elasticsearch.as_ref())
        .map(es_settings);
    let Some(first) = clusters.next() else {
        return Err(
            "coordination: no cluster given and no tenant names one; set [coordination] url in serve.toml or --coordination-url"
                .into(),
        );
    };
    if clusters.any(|c| c.url != first.url) {
        return Err(
            "coordination: the tenants index into different clusters; say which one holds the coordination index with [coordination] url in serve.toml or --coordination-url"
                .into(),
        );
    }
    Ok(first)
}
