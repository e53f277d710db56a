//! `tributary watch`: sync, then long-poll the source for changes and apply each delta as it
//! arrives, with the same checkpoint guarantees as `sync`. Ctrl-C stops after the current page.
use super::{EXIT_FAILED, EXIT_OK, load_tenant, open_outputs};
use crate::cli::WatchArgs;
use crate::runtime::{GuestError, Runtime};
use crate::sync::{self, SyncOptions};
use crate::tenant::Secrets;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub async fn run(runtime: &Runtime, args: WatchArgs) -> u8 {
    let tenant = match load_tenant(runtime, &args.config, Secrets::Required).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let stop = Arc::new(AtomicBool::new(false));
    // Wakes a wait for changes at once; `notify_one` keeps the wake-up if nobody waits yet.
    let stopped = Arc::new(tokio::sync::Notify::new());
    {
        let stop = stop.clone();
        let stopped = stopped.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("stopping after the current page (Ctrl-C again to abort)");
                stop.store(true, Ordering::Relaxed);
                stopped.notify_one();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
    }
    let options = SyncOptions {
        full: false,
        runner_id: crate::state::local_runner_id(),
        progress: false,
        stop: stop.clone(),
    };
    let mut rounds = 0u64;
    loop {
        let (sink, acks, store) = match open_outputs(&tenant, None).await {
            Ok(o) => o,
            Err(code) => return code,
        };
        let (report, result) =
            sync::run(runtime, &tenant, sink, acks, store, &options, false).await;
        tracing::info!(
            mode = %report.mode,
            seen = report.seen,
            deleted = report.deleted,
            purged = report.purged,
            secs = format!("{:.2}", report.duration_secs),
            "changes applied"
        );
        if let Err(e) = result {
            eprint!("{}", report.render());
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
        rounds += 1;
        if stop.load(Ordering::Relaxed) || (args.rounds > 0 && rounds >= args.rounds) {
            return EXIT_OK;
        }
        let Some(checkpoint) = report.last_checkpoint.clone() else {
            eprintln!("error: the source gave no checkpoint to watch from");
            return EXIT_FAILED;
        };
        // Wait for the next change (or Ctrl-C).
        loop {
            let mut connector = match tenant.instantiate(runtime).await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return EXIT_FAILED;
                }
            };
            let config = tenant.source.public_json();
            let waited = tokio::select! {
                r = connector.wait_for_changes(&config, &checkpoint, args.poll_secs) => r,
                _ = stopped.notified() => return EXIT_OK,
            };
            match waited {
                Ok(Ok(result)) => {
                    if let Some(backoff) = result.backoff_secs {
                        tracing::debug!(backoff, "source asked to back off");
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(backoff.into())) => {}
                            _ = stopped.notified() => return EXIT_OK,
                        }
                    }
                    if result.changes {
                        break;
                    }
                }
                // The next sync turns an expired checkpoint into a controlled full resync.
                Ok(Err(GuestError::CheckpointExpired(_))) => break,
                Ok(Err(GuestError::Transient(m))) => {
                    tracing::warn!("waiting for changes failed ({m}); retrying in 5 s");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
                Ok(Err(e)) => {
                    eprintln!("error: {e}");
                    return EXIT_FAILED;
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return EXIT_FAILED;
                }
            }
        }
    }
}
