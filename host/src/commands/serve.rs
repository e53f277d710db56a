//! `tributary serve`: many tenants on their schedules (see `crate::serve`). Ctrl-C stops
//! cleanly: running syncs stop after their current page and record their result.
use super::{EXIT_CONFIG, EXIT_FAILED, EXIT_OK, fail};
use crate::cli::ServeArgs;
use crate::runtime::Runtime;
use crate::serve::settings::ServeSettings;
use std::sync::Arc;
use tokio::sync::Notify;

pub async fn run(runtime: &Runtime, args: ServeArgs) -> u8 {
    let settings = match ServeSettings::resolve(&args.target, Some(&args)) {
        Ok(s) => s,
        Err(e) => return fail(EXIT_CONFIG, &e),
    };
    let shutdown = Arc::new(Notify::new());
    {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "stopping: running syncs stop after their current page (Ctrl-C again to abort)"
                );
                shutdown.notify_one();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
    }
    match crate::serve::serve(runtime.clone(), settings, shutdown).await {
        Ok(()) => EXIT_OK,
        Err(e) => fail(EXIT_FAILED, &format!("{e:#}")),
    }
}
