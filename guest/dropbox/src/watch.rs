//! `wait-for-changes`: the unauthenticated long poll on the notify host.

use crate::api::LongpollResult;
use crate::checkpoint::{Checkpoint, Stage, UnitKind};
use crate::client::{CallError, Client, Transport};
use crate::config::Config;
use crate::error::Error;

/// Seconds between syncs when there is no single cursor to long-poll.
const POLL_SECS: u32 = 60;

/// The outcome of a long poll (mirrors WIT `wait-result`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitResult {
    pub changes: bool,
    pub backoff_secs: Option<u32>,
}

/// Block until Dropbox reports changes after the checkpoint's cursor or the timeout passes.
pub fn wait_for_changes<T: Transport>(
    transport: &T,
    config: &Config,
    checkpoint: &str,
    timeout_secs: u32,
) -> Result<WaitResult, Error> {
    let cp = Checkpoint::decode(checkpoint)?;
    if cp.path != config.path_lower() {
        return Err(Error::CheckpointMismatch(format!(
            "the checkpoint covers path {:?} but path is now {:?}; run `tributary sync --full`",
            if cp.path.is_empty() { "/" } else { &cp.path },
            config.path_for_display()
        )));
    }
    if cp.stage != Stage::Done {
        // An interrupted run: the next session has work to do right away.
        return Ok(WaitResult {
            changes: true,
            backoff_secs: None,
        });
    }
    let cursor = match cp.units.as_slice() {
        [unit] if unit.kind == UnitKind::Root && unit.listed => unit.cursor.as_deref(),
        _ => None,
    };
    let Some(cursor) = cursor else {
        // Many cursors (every team member) or none (advanced rules re-run searches):
        // nothing to long-poll, so sync on a timer.
        return Ok(WaitResult {
            changes: true,
            backoff_secs: Some(POLL_SECS),
        });
    };
    let client = Client::new(transport, config);
    let req = client.longpoll_request(cursor, timeout_secs);
    match client.send_json::<LongpollResult>("files/list_folder/longpoll", req) {
        // Permission changes only show in the team event log: with document-level
        // security on a team, a quiet long poll still ends in a sync that reads it.
        Ok(r) => Ok(WaitResult {
            changes: r.changes || !cp.events.is_empty(),
            backoff_secs: r.backoff.map(|b| u32::try_from(b).unwrap_or(u32::MAX)),
        }),
        Err(CallError::Status(e)) if e.is_409(&["reset"]) => Err(Error::CheckpointExpired(
            "Dropbox expired the list_folder cursor (409 reset); a full sync is needed".into(),
        )),
        Err(e) => Err(e.into_error()),
    }
}
