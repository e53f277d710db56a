//! Waiting for the source to change after a checkpoint (its long poll), for `tributary watch`
//! and the watch schedule of `tributary serve`.
use crate::runtime::{GuestError, Runtime};
use crate::tenant::Tenant;
use anyhow::anyhow;
use std::time::Duration;
use tokio::sync::Notify;

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// There are changes (or the checkpoint expired: the next sync resynchronizes).
    Changes,
    /// `stop` was notified.
    Stopped,
}

/// Block until the source has changes after `checkpoint`, `stop` is notified, or the source
/// fails for good. Transient failures are retried after a pause; the source's backoff is
/// honoured.
pub async fn wait_for_changes(
    runtime: &Runtime,
    tenant: &Tenant,
    checkpoint: &str,
    poll_secs: u32,
    stop: &Notify,
) -> anyhow::Result<Waited> {
    loop {
        let mut connector = tenant.instantiate(runtime).await?;
        let config = tenant.source.public_json();
        let waited = tokio::select! {
            r = connector.wait_for_changes(&config, checkpoint, poll_secs) => r?,
            _ = stop.notified() => return Ok(Waited::Stopped),
        };
        match waited {
            Ok(result) => {
                if let Some(backoff) = result.backoff_secs {
                    tracing::debug!(backoff, "source asked to back off");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(backoff.into())) => {}
                        _ = stop.notified() => return Ok(Waited::Stopped),
                    }
                }
                if result.changes {
                    return Ok(Waited::Changes);
                }
            }
            // The next sync turns an expired checkpoint into a controlled full resync.
            Err(GuestError::CheckpointExpired(_)) => return Ok(Waited::Changes),
            Err(GuestError::Transient(m)) => {
                tracing::warn!("waiting for changes failed ({m}); retrying in 5 s");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = stop.notified() => return Ok(Waited::Stopped),
                }
            }
            Err(e) => return Err(anyhow!("{e}")),
        }
    }
}
