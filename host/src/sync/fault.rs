//! Deterministic crash points for crash-recovery tests: `TRIBUTARY_CRASH_AT=page:3` aborts
//! the process right after page 3's changes were handed to the sink; `commit:3` right before
//! the first checkpoint that covers page 3 is committed; `committed:3` right after. (Pages
//! whose writes are answered together are committed together, so the checkpoint committed
//! may be a later page's.) Unset in normal use.
use std::sync::OnceLock;

fn configured() -> Option<&'static (String, u64)> {
    static POINT: OnceLock<Option<(String, u64)>> = OnceLock::new();
    POINT
        .get_or_init(|| {
            let value = std::env::var("TRIBUTARY_CRASH_AT").ok()?;
            let (name, n) = value.split_once(':')?;
            Some((name.to_string(), n.parse().ok()?))
        })
        .as_ref()
}

/// Abort the process (like SIGKILL: no cleanup, no flush) if this is the configured point.
pub fn crash_point(name: &str, n: u64) {
    if let Some((point, at)) = configured()
        && point == name
        && n >= *at
    {
        eprintln!("tributary: crash point {name}:{n} reached, aborting");
        std::process::abort();
    }
}
