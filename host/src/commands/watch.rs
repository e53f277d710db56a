//! `tributary watch`: sync, then long-poll the source for changes and apply each delta as it
//! arrives, with the same checkpoint guarantees as `sync`. Ctrl-C stops after the current page.
use super::{EXIT_FAILED, EXIT_OK, load_tenant, open_outputs};
use crate::cli::WatchArgs;
use crate::runtime::Runtime;
use crate::sync::changes::Waited;
use crate::sync::{self, SyncOptions};
use crate::tenant::Secrets;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
        stop: stop.clone(),
        ..SyncOptions::alone(&tenant, false, false)
    };
    let mut rounds = 0u64;
    loop {
        let outputs = match open_outputs(&tenant, None).await {
            Ok(o) => o,
            Err(code) => return code,
        };
        let (report, result) = sync::run(runtime, &tenant, outputs, &options, false).await;
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
        match sync::changes::wait_for_changes(
            runtime,
            &tenant,
            &checkpoint,
            args.poll_secs,
            &stopped,
        )
        .await
        {
            Ok(Waited::Changes) => {}
            Ok(Waited::Stopped) => return EXIT_OK,
            Err(e) => {
                eprintln!("error: {e:#}");
                return EXIT_FAILED;
            }
        }
    }
}
