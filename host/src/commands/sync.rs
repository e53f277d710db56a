//! `tributary sync`: one run, full or incremental.
use super::{
    EXIT_BUSY, EXIT_CONFIG, EXIT_CREDENTIALS, EXIT_FAILED, EXIT_OK, fail, load_tenant, open_outputs,
};
use crate::cli::SyncArgs;
use crate::report::SyncReport;
use crate::runtime::Runtime;
use crate::sync::{self, SyncError, SyncOptions};
use crate::tenant::Secrets;

pub async fn run(runtime: &Runtime, args: SyncArgs) -> u8 {
    let tenant = match load_tenant(runtime, &args.config, Secrets::Required).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let outputs = match open_outputs(&tenant, args.dry_run.as_ref()).await {
        Ok(o) => o,
        Err(code) => return code,
    };
    let options = SyncOptions::alone(&tenant, args.full, !args.quiet);
    let (report, result) =
        sync::run(runtime, &tenant, outputs, &options, args.dry_run.is_some()).await;
    eprint!("{}", report.render());
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&report).unwrap_or_default();
        if let Err(e) = std::fs::write(path, json) {
            eprintln!(
                "warning: could not write the report to {}: {e}",
                path.display()
            );
        }
    }
    exit_code(result, &report)
}

/// The exit code of a run, printing the error (once) when it failed.
pub(super) fn exit_code(result: Result<(), SyncError>, report: &SyncReport) -> u8 {
    match result {
        Ok(()) if report.outcome == "ok" => EXIT_OK,
        Ok(()) => EXIT_FAILED,
        Err(SyncError::Config(m) | SyncError::StaleCheckpoint(m)) => fail(EXIT_CONFIG, &m),
        Err(SyncError::Credentials(m)) => fail(EXIT_CREDENTIALS, &m),
        Err(SyncError::Busy(m)) => fail(EXIT_BUSY, &m),
        Err(SyncError::Failed(e)) if report.purged > 0 => fail(
            EXIT_FAILED,
            &format!("{e:#}\nThe next run resumes from the last committed checkpoint."),
        ),
        Err(SyncError::Failed(e)) => fail(
            EXIT_FAILED,
            &format!(
                "{e:#}\nNothing was purged because of this failure; the next run resumes from the last committed checkpoint."
            ),
        ),
    }
}
