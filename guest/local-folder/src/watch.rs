//! `wait-for-changes`: a plain directory has no change feed (and a WASI component has no
//! inotify), so the answer is always "walk again", after `watch_interval_secs`.

use crate::checkpoint::Checkpoint;
use crate::config::Config;
use crate::error::Error;
use crate::identity::Root;

/// The outcome of a wait (mirrors WIT `wait-result`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitResult {
    pub changes: bool,
    pub backoff_secs: Option<u32>,
}

/// An interrupted walk is resumed at once; a complete one is repeated after the interval.
pub fn wait_for_changes(config: &Config, checkpoint: &str) -> Result<WaitResult, Error> {
    let cp = Checkpoint::decode(checkpoint)?;
    cp.verify(config, Root::open(&config.root).id().as_deref())?;
    Ok(WaitResult {
        changes: true,
        backoff_secs: cp.complete.then_some(config.watch_interval_secs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complete_walk_waits_the_interval_and_an_interrupted_one_does_not() {
        let c = Config::parse(r#"{"root":"/r","watch_interval_secs":7}"#).unwrap();
        let done = wait_for_changes(&c, &Checkpoint::complete(&c, None).encode()).unwrap();
        assert_eq!(
            done,
            WaitResult {
                changes: true,
                backoff_secs: Some(7)
            }
        );
        let walking = wait_for_changes(&c, &Checkpoint::walking(&c, None, "a").encode()).unwrap();
        assert_eq!(
            walking,
            WaitResult {
                changes: true,
                backoff_secs: None
            }
        );
        let other = Config::parse(r#"{"root":"/elsewhere"}"#).unwrap();
        assert!(matches!(
            wait_for_changes(&other, &Checkpoint::complete(&c, None).encode()),
            Err(Error::CheckpointMismatch(_))
        ));
    }
}
