//! `tributary cancel TENANT`: ask whichever `serve` process runs the tenant to stop, and wait
//! until it has. The run stops within seconds; its checkpoint holds everything that was
//! acknowledged, so the next run resumes from there.
use super::{EXIT_CONFIG, EXIT_FAILED, EXIT_OK, fail};
use crate::cli::CancelArgs;
use crate::serve::coordination::{ClaimState, Coordination, now_ms};
use crate::serve::settings::ServeSettings;
use std::time::{Duration, Instant};

pub async fn run(args: CancelArgs) -> u8 {
    let settings = match ServeSettings::resolve(&args.target, None) {
        Ok(s) => s,
        Err(e) => return fail(EXIT_CONFIG, &e),
    };
    let coordination = match Coordination::new(
        &settings.coordination,
        &settings.coordination_index,
        settings.lease,
    ) {
        Ok(c) => c,
        Err(e) => return fail(EXIT_FAILED, &format!("{e:#}")),
    };
    let running = |claims: &[crate::serve::coordination::ClaimDoc]| {
        claims
            .iter()
            .find(|c| c.state == ClaimState::Running && c.expires_at_ms > now_ms())
            .cloned()
    };
    let claims = match coordination.recent_claims(&args.tenant, 5).await {
        Ok(c) => c,
        Err(e) => return fail(EXIT_FAILED, &format!("{e:#}")),
    };
    let Some(run) = running(&claims) else {
        println!("tenant {} is not running", args.tenant);
        return EXIT_OK;
    };
    let by = crate::state::local_runner_id();
    if let Err(e) = coordination.request_cancel(&args.tenant, &by).await {
        return fail(EXIT_FAILED, &format!("{e:#}"));
    }
    let started = Instant::now();
    let deadline = Duration::from_secs(args.wait_secs);
    loop {
        let claims = coordination
            .recent_claims(&args.tenant, 5)
            .await
            .unwrap_or_default();
        if !claims.iter().any(|c| {
            c.slot == run.slot && c.state == ClaimState::Running && c.expires_at_ms > now_ms()
        }) {
            println!(
                "tenant {}: the {} run held by {} stopped after {:.1}s",
                args.tenant,
                run.run_kind.as_str(),
                run.holder,
                started.elapsed().as_secs_f64()
            );
            return EXIT_OK;
        }
        if started.elapsed() > deadline {
            return fail(
                EXIT_FAILED,
                &format!(
                    "tenant {}: the run held by {} has not stopped within {}s (the request stays; it stops at its next check)",
                    args.tenant, run.holder, args.wait_secs
                ),
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
