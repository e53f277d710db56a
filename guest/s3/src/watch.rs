//! `wait-for-changes`: S3 has no change feed or long poll, so the answer is "changes" after
//! the configured interval (the host sleeps `backoff-secs`, then syncs).

use crate::checkpoint::Checkpoint;
use crate::config::Config;
use crate::error::Error;

/// The outcome of a wait (mirrors WIT `wait-result`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitResult {
    pub changes: bool,
    pub backoff_secs: Option<u32>,
}

/// An interrupted listing resumes at once; a completed one is listed again after
/// `watch_interval_secs`.
pub fn wait_for_changes(config: &Config, checkpoint: &str) -> Result<WaitResult, Error> {
    let cp = Checkpoint::decode(checkpoint)?;
    cp.verify(config)?;
    Ok(WaitResult {
        changes: true,
        backoff_secs: match cp.token {
            Some(_) => None,
            None => Some(config.watch_interval_secs),
        },
    })
}
