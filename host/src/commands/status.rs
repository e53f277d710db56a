//! `tributary status`: per tenant, the last run (when, result, counts), the run in progress
//! and which runner holds it, and when the schedule fires next; from the coordination index,
//! so it shows every `serve` process sharing the tenants.
use super::{EXIT_CONFIG, EXIT_FAILED, EXIT_OK, fail};
use crate::cli::TargetArgs;
use crate::serve::coordination::{ClaimDoc, ClaimState, Coordination, now_ms};
use crate::serve::schedule;
use crate::serve::settings::ServeSettings;
use crate::serve::tenants;

pub async fn run(args: TargetArgs) -> u8 {
    let settings = match ServeSettings::resolve(&args, None) {
        Ok(s) => s,
        Err(e) => return fail(EXIT_CONFIG, &e),
    };
    let set = tenants::load(&settings.tenants);
    let coordination = match Coordination::new(
        &settings.coordination,
        &settings.coordination_index,
        settings.lease,
    ) {
        Ok(c) => c,
        Err(e) => return fail(EXIT_FAILED, &format!("{e:#}")),
    };
    println!(
        "{:<24} {:<11} {:<22} {:<40} {:<22} HELD BY",
        "TENANT", "STATE", "LAST RUN", "RESULT", "NEXT RUN"
    );
    let now = chrono::Utc::now();
    for (id, config) in &set.tenants {
        let claims = match coordination.recent_claims(id, 5).await {
            Ok(c) => c,
            Err(e) => return fail(EXIT_FAILED, &format!("{e:#}")),
        };
        let running = claims
            .iter()
            .find(|c| c.state == ClaimState::Running && c.expires_at_ms > now_ms());
        let last = claims.iter().find(|c| c.state != ClaimState::Running);
        let next = if config.schedule.watch {
            "continuous (watch)".to_string()
        } else {
            schedule::next_fire(&config.schedule, now)
                .map(|s| schedule::utc(s).format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "-".into())
        };
        println!(
            "{:<24} {:<11} {:<22} {:<40} {:<22} {}",
            id,
            match running {
                Some(c) => format!("running {}", c.run_kind.as_str()),
                None => "idle".into(),
            },
            last.and_then(|c| c.finished_at_ms)
                .map(|ms| schedule::utc((ms / 1000) as i64)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string())
                .unwrap_or_else(|| "never".into()),
            last.map(summary).unwrap_or_default(),
            next,
            running.map(|c| c.holder.as_str()).unwrap_or("-"),
        );
    }
    for problem in &set.problems {
        println!("problem: {problem}");
    }
    // A tenant file that parses but names a component that is not there never runs: say so
    // here rather than only in the serve log.
    for config in set.tenants.values() {
        if let Err(e) = config.component_path() {
            println!("problem: {e:#}");
        }
    }
    EXIT_OK
}

fn summary(c: &ClaimDoc) -> String {
    let outcome = c.outcome.clone().unwrap_or_default();
    let outcome: String = outcome.chars().take(24).collect();
    match &c.counts {
        Some(n) => format!(
            "{outcome} ({} seen, {} deleted)",
            n.seen,
            n.deleted + n.purged
        ),
        None => outcome,
    }
}
