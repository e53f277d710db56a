//! Scale-out (issue 9): several `tributary serve` processes share many tenants through the
//! coordination index in one osmem-server, with no coordinator of their own. While they run,
//! the sources change and processes are SIGKILLed (as crashed machines) and replaced. At the
//! end every tenant's index equals its source, no scheduled slot ran to its end twice, and the
//! takeover time (kill → another process holds the dead process's slot) is reported.
//!
//! Seeded: `SERVE_SEED` replays a run (the seed is printed). Scale through the environment:
//! `SCALE_PROCESSES` (3), `SCALE_DROPBOX_TENANTS` (20), `SCALE_FOLDER_TENANTS` (10),
//! `SCALE_FILES` (files per tenant, 24), `SCALE_INTERVAL_SECS` (15), `SCALE_LEASE_SECS` (6),
//! `SCALE_CHAOS_SECS` (60), `SCALE_LATENCY_MS` (emulator latency per API call, 100).

use anyhow::{Result, bail, ensure};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tributary_e2e::local_folder::{assert_index_matches_folder, folder_tenant};
use tributary_e2e::model::Rng;
use tributary_e2e::serve::{
    Claim, Serve, ServeOptions, TenantsDir, assert_index_matches_subtree, done_since, env_number,
    metadata_only, now_ms, schedule, secs, seed, tail, wait_claims,
};
use tributary_e2e::{Emulator, SearchServer, Tenant, wait_for};

/// One tenant of the test and its source.
enum Source {
    /// A Dropbox tenant on `path` of the shared emulator account.
    Dropbox { path: String },
    /// A local-folder tenant on its own directory.
    Folder { root: PathBuf },
}

struct Served {
    tenant: Tenant,
    source: Source,
    /// Names of the files the test created (to pick edits and deletes from).
    files: Vec<String>,
    /// When the test last changed its source (Unix ms).
    changed_ms: u64,
}

/// How the processes' logs say runs ended.
#[derive(Default)]
struct RunLog {
    /// (tenant, slot) → runners that logged "run finished".
    finished: BTreeMap<(String, String), Vec<String>>,
    /// (tenant, slot) of runs logged as failed or cancelled.
    stopped: BTreeSet<(String, String)>,
}

fn run_log(processes: &[Serve]) -> RunLog {
    let mut log = RunLog::default();
    for p in processes {
        for line in p.lines() {
            let Some(key) = line.span else { continue };
            if line.message.starts_with("run finished") {
                log.finished
                    .entry(key)
                    .or_default()
                    .push(p.runner_id.clone());
            } else if line.message.starts_with("run failed")
                || line.message.starts_with("run cancelled")
            {
                log.stopped.insert(key);
            }
        }
    }
    log
}

/// Whether `p` logged a line of a run of `slot` and not yet its end.
fn busy_with(p: &Serve, slot: &str) -> bool {
    let mut open = BTreeSet::new();
    for line in p.lines() {
        let Some((tenant, s)) = line.span else {
            continue;
        };
        if s != slot {
            continue;
        }
        if ["run finished", "run failed", "run cancelled"]
            .iter()
            .any(|m| line.message.starts_with(m))
        {
            open.remove(&tenant);
        } else {
            open.insert(tenant);
        }
    }
    !open.is_empty()
}

fn write_file(root: &Path, rel: &str, body: &str) -> Result<()> {
    let p = root.join(rel);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(p, body)?;
    Ok(())
}

/// One random change to `s`'s source: add, edit or delete a file.
fn mutate(emu: &Emulator, s: &mut Served, rng: &mut Rng, n: u64) -> Result<String> {
    let action = if s.files.len() < 4 { 0 } else { rng.below(3) };
    let what = match (&s.source, action) {
        (Source::Dropbox { path }, 0) => {
            let name = format!("{path}/added/n{n}.txt");
            emu.upload(&name, format!("added {n}").as_bytes())?;
            s.files.push(name.clone());
            format!("upload {name}")
        }
        (Source::Dropbox { .. }, 1) => {
            let name = s.files[rng.below(s.files.len())].clone();
            emu.upload(&name, format!("edited {n}").as_bytes())?;
            format!("edit {name}")
        }
        (Source::Dropbox { .. }, _) => {
            let name = s.files.swap_remove(rng.below(s.files.len()));
            emu.delete(&name)?;
            format!("delete {name}")
        }
        (Source::Folder { root }, 0) => {
            let name = format!("added/n{n}.txt");
            write_file(root, &name, &format!("added {n}"))?;
            s.files.push(name.clone());
            format!("write {}/{name}", root.display())
        }
        (Source::Folder { root }, 1) => {
            let name = s.files[rng.below(s.files.len())].clone();
            write_file(root, &name, &format!("edited {n} with more text"))?;
            format!("edit {}/{name}", root.display())
        }
        (Source::Folder { root }, _) => {
            let name = s.files.swap_remove(rng.below(s.files.len()));
            fs::remove_file(root.join(&name))?;
            format!("delete {}/{name}", root.display())
        }
    };
    s.changed_ms = now_ms();
    Ok(what)
}

/// Write every process's whole log under the target directory (kept after a failure);
/// returns where.
fn keep_logs(processes: &[Serve], seed: u64) -> String {
    let dir = tributary_e2e::target_dir()
        .join("tmp")
        .join(format!("scale-out-{seed}-{}", std::process::id()));
    let written = fs::create_dir_all(&dir).and_then(|()| {
        processes
            .iter()
            .try_for_each(|p| fs::write(dir.join(format!("{}.log", p.runner_id)), p.stderr()))
    });
    match written {
        Ok(()) => dir.display().to_string(),
        Err(e) => format!("(could not write them to {}: {e})", dir.display()),
    }
}

fn median(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

#[test]
fn serve_processes_share_tenants_survive_kills_and_never_run_a_slot_twice() -> Result<()> {
    let seed = seed("scale_out");
    let mut rng = Rng::new(seed);
    let n_processes = env_number("SCALE_PROCESSES", 3) as usize;
    let n_dropbox = env_number("SCALE_DROPBOX_TENANTS", 20) as usize;
    let n_folder = env_number("SCALE_FOLDER_TENANTS", 10) as usize;
    let n_files = env_number("SCALE_FILES", 24) as usize;
    let interval = env_number("SCALE_INTERVAL_SECS", 15);
    let lease = env_number("SCALE_LEASE_SECS", 6);
    let chaos = Duration::from_secs(env_number("SCALE_CHAOS_SECS", 60));
    let latency = env_number("SCALE_LATENCY_MS", 100);
    println!(
        "{n_processes} processes, {n_dropbox} Dropbox + {n_folder} local-folder tenants x {n_files} files, \
         every {interval}s, lease {lease}s, chaos {}s, emulator latency {latency} ms",
        chaos.as_secs()
    );

    // Sources: one emulator account with a folder per Dropbox tenant, a directory per
    // local-folder tenant.
    let mut files = vec![];
    for t in 0..n_dropbox {
        for f in 0..n_files {
            files.push(json!({"path": format!("/t{t:02}/d{}/f{f:03}.txt", f % 3), "content": format!("tenant {t} file {f}")}));
        }
    }
    let emu = Emulator::with_manifest(&json!({"files": files}), &[])?;
    let es = SearchServer::start()?;
    let folders = tempfile::tempdir()?;
    let dir = TenantsDir::new()?;
    let mut served = vec![];
    for t in 0..n_dropbox {
        let path = format!("/t{t:02}");
        let mut tenant = Tenant::new(&emu, &es)?;
        tenant.set("source", "path", path.as_str())?;
        tenant.set("source", "include_received_files", false)?;
        metadata_only(&mut tenant)?;
        schedule(&mut tenant, &format!("{interval}s"))?;
        let files = (0..n_files)
            .map(|f| format!("{path}/d{}/f{f:03}.txt", f % 3))
            .collect();
        served.push(Served {
            tenant,
            source: Source::Dropbox { path },
            files,
            changed_ms: 0,
        });
    }
    for t in 0..n_folder {
        let root = folders.path().join(format!("f{t:02}"));
        let mut names = vec![];
        for f in 0..n_files {
            let name = format!("d{}/f{f:03}.txt", f % 3);
            write_file(&root, &name, &format!("folder {t} file {f}"))?;
            names.push(name);
        }
        let mut tenant = folder_tenant(&es, &root, json!({}))?;
        schedule(&mut tenant, &format!("{interval}s"))?;
        served.push(Served {
            tenant,
            source: Source::Folder { root },
            files: names,
            changed_ms: 0,
        });
    }
    for s in &served {
        dir.put(&s.tenant)?;
    }
    emu.set_faults(seed, json!([{"kind": "latency", "latency_ms": latency}]))?;

    let mut options = ServeOptions::new(&dir, &es);
    options.lease_secs = lease;
    let mut processes: Vec<Serve> = vec![];
    let mut next_id = 1;
    let mut start_one = |processes: &mut Vec<Serve>| -> Result<()> {
        processes.push(Serve::start(&options, &format!("runner-{next_id}"))?);
        next_id += 1;
        Ok(())
    };
    for _ in 0..n_processes {
        start_one(&mut processes)?;
    }
    let started = Instant::now();
    let all_logs = |processes: &[Serve]| {
        processes
            .iter()
            .map(|p| format!("--- {} ---\n{}", p.runner_id, tail(&p.stderr(), 3000)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    // Every tenant synced once before the chaos starts.
    wait_claims(
        &es,
        &options.coordination_index,
        Duration::from_secs(240),
        "a first run of every tenant",
        |c| {
            served
                .iter()
                .all(|s| done_since(c, &s.tenant.tenant, 0).is_some())
                .then_some(())
        },
        || all_logs(&processes),
    )?;
    println!("{}: every tenant synced once", secs(started));

    // Chaos: right after each slot boundary (when the processes are busy with the slot's
    // runs) kill one at random and start a replacement; change sources in between.
    let chaos_end = Instant::now() + chaos;
    let mut kills: Vec<(String, u64)> = vec![];
    let mut mid_work_kills = 0u32;
    let mut changes = 0u64;
    while Instant::now() < chaos_end {
        let boundary = (now_ms() / 1000 / interval + 1) * interval * 1000;
        let kill_at = boundary + rng.below(300) as u64;
        // A few changes before the boundary, at random moments.
        let n_changes = 1 + rng.below(4);
        for _ in 0..n_changes {
            let i = rng.below(served.len());
            changes += 1;
            let what = mutate(&emu, &mut served[i], &mut rng, changes)?;
            println!("{}: {} {what}", secs(started), served[i].tenant.tenant);
            let pause = rng.below(1500) as u64;
            let until = now_ms() + pause;
            wait_for(
                Duration::from_millis(pause + 100),
                Duration::from_millis(20),
                || (now_ms() >= until).then_some(()),
            );
        }
        wait_for(
            Duration::from_secs(interval + 5),
            Duration::from_millis(10),
            || (now_ms() >= kill_at).then_some(()),
        );
        if rng.below(10) < 8 {
            // A process in the middle of the slot's runs (one of them, if none is yet).
            // Runs of a slot may take only a few hundred ms: look for a process in the middle
            // of one (bounded), so the kill leaves a claim to take over.
            let slot = format!("incremental-{}", boundary / 1000);
            let live: Vec<usize> = (0..processes.len())
                .filter(|i| processes[*i].killed_at_ms.is_none())
                .collect();
            let working: Vec<usize> =
                wait_for(Duration::from_secs(3), Duration::from_millis(5), || {
                    let w: Vec<usize> = live
                        .iter()
                        .copied()
                        .filter(|i| busy_with(&processes[*i], &slot))
                        .collect();
                    (!w.is_empty()).then_some(w)
                })
                .unwrap_or_default();
            if !working.is_empty() {
                mid_work_kills += 1;
            }
            let pool = if working.is_empty() { &live } else { &working };
            let victim = pool[rng.below(pool.len())];
            let at = processes[victim].kill();
            println!(
                "{}: SIGKILL {} ({} ms after the slot boundary, {})",
                secs(started),
                processes[victim].runner_id,
                at.saturating_sub(boundary),
                if working.is_empty() {
                    "idle"
                } else {
                    "mid-run"
                }
            );
            kills.push((processes[victim].runner_id.clone(), at));
            start_one(&mut processes)?;
        }
    }
    let last_change = served.iter().map(|s| s.changed_ms).max().unwrap_or(0);
    println!(
        "{}: chaos over: {} kills, {changes} changes; waiting for every changed tenant to sync again",
        secs(started),
        kills.len()
    );
    emu.clear_faults()?;

    // Convergence: every tenant has a finished run that started after its last change.
    wait_claims(
        &es,
        &options.coordination_index,
        Duration::from_secs(interval * 4 + 60),
        "a run of every tenant after its last change",
        |c| {
            served
                .iter()
                .all(|s| done_since(c, &s.tenant.tenant, s.changed_ms.max(1)).is_some())
                .then_some(())
        },
        || all_logs(&processes),
    )?;
    println!(
        "{}: converged ({} ms after the last change)",
        secs(started),
        now_ms().saturating_sub(last_change)
    );
    let mut problems = vec![];
    for s in &served {
        let result = match &s.source {
            Source::Dropbox { path } => {
                assert_index_matches_subtree(&emu, &es, &s.tenant.index, path)
            }
            Source::Folder { root } => assert_index_matches_folder(&es, &s.tenant.index, root),
        };
        if let Err(e) = result {
            problems.push(format!("{}: {e:#}", s.tenant.tenant));
        }
    }

    // Stop the survivors cleanly, then read every log, the dead ones' included.
    for p in processes.iter_mut().filter(|p| p.killed_at_ms.is_none()) {
        let code = p.interrupt(Duration::from_secs(60))?;
        if code != Some(0) {
            problems.push(format!("{} exited {code:?} on SIGINT", p.runner_id));
        }
    }
    let claims: Vec<Claim> = options.claims(&es)?;
    let log = run_log(&processes);
    let mixed: Vec<String> = processes
        .iter()
        .flat_map(|p| p.lines())
        .filter(|l| l.spans.len() > 1)
        .map(|l| l.raw)
        .collect();
    if !mixed.is_empty() {
        problems.push(format!(
            "{} log lines carry the spans of two runs (a tenant's line attributed to another):\n  {}",
            mixed.len(),
            mixed.iter().take(5).cloned().collect::<Vec<_>>().join("\n  ")
        ));
    }
    // No slot ran to its end twice, and the claim of every finished slot names the process
    // that finished it.
    for ((tenant, slot), runners) in &log.finished {
        if runners.len() > 1 {
            problems.push(format!(
                "{tenant} {slot} finished by {runners:?}: it ran twice"
            ));
        }
        let claim = claims
            .iter()
            .find(|c| &c.tenant == tenant && &c.slot == slot);
        match claim {
            Some(c) if (c.done() || c.failed()) && runners.contains(&c.holder) => {}
            other => problems.push(format!(
                "{tenant} {slot} finished by {runners:?} but its claim is {other:?}"
            )),
        }
    }
    for c in claims.iter().filter(|c| c.done() || c.failed()) {
        let finished_by = log
            .finished
            .get(&(c.tenant.clone(), c.slot.clone()))
            .cloned()
            .unwrap_or_default();
        let failed_in_log = log.stopped.contains(&(c.tenant.clone(), c.slot.clone()));
        if finished_by.is_empty() && !failed_in_log {
            problems.push(format!(
                "claim {} {} is {} by {} but no process logged its end",
                c.tenant, c.slot, c.state, c.holder
            ));
        }
    }

    // Takeovers: a claim some process took over from a holder whose lease ran out; the holder
    // was the process killed last before it (kills are a slot interval apart). The time from
    // the kill to the new holder's claim.
    let mut takeover_ms = vec![];
    for c in claims.iter().filter(|c| c.takeovers >= 1) {
        let killed = kills
            .iter()
            .map(|(_, at)| *at)
            .filter(|at| *at <= c.started_at_ms)
            .max();
        match killed {
            Some(at) => takeover_ms.push(c.started_at_ms - at),
            None => problems.push(format!(
                "{} {} was taken over although no process had been killed: {c:?}",
                c.tenant, c.slot
            )),
        }
    }
    // A slot taken over resumes from the dead holder's checkpoint and runs to its end.
    let failed_takeovers: Vec<String> = claims
        .iter()
        .filter(|c| c.takeovers >= 1 && !c.done())
        .map(|c| {
            format!(
                "{} {} ({} by {}): {}",
                c.tenant,
                c.slot,
                c.state,
                c.holder,
                c.outcome()
            )
        })
        .collect();
    if !failed_takeovers.is_empty() {
        problems.push(format!(
            "{} of the taken-over slots did not run to their end:\n  {}",
            failed_takeovers.len(),
            failed_takeovers.join("\n  ")
        ));
    }
    // Slots a killed process had begun that nobody took over (a newer slot came first): left,
    // not run twice.
    let abandoned = claims
        .iter()
        .filter(|c| c.state == "running" && kills.iter().any(|(r, _)| *r == c.holder))
        .count();
    let failed: Vec<String> = claims
        .iter()
        .filter(|c| c.failed())
        .map(|c| format!("{} {}: {}", c.tenant, c.slot, c.outcome()))
        .collect();
    let taken = takeover_ms.len();
    let (min, max) = (
        takeover_ms.iter().min().copied().unwrap_or(0),
        takeover_ms.iter().max().copied().unwrap_or(0),
    );
    let med = median(&mut takeover_ms);
    println!(
        "scale-out (seed {seed}): {} claims, {} kills, {taken} slots taken over (kill -> new holder: min {min} ms, median {med} ms, max {max} ms; lease {lease} s), {abandoned} left for a newer slot, {} failed runs",
        claims.len(),
        kills.len(),
        failed.len()
    );
    for f in failed.iter().take(20) {
        println!("  failed: {f}");
    }
    let total_takeovers: u64 = claims.iter().map(|c| c.takeovers).sum();
    if mid_work_kills > 0 && total_takeovers == 0 {
        problems.push(format!(
            "{mid_work_kills} processes were killed mid-work but no slot was ever taken over"
        ));
    }
    if max > (lease * 1000) * 2 + 3000 {
        problems.push(format!(
            "a takeover took {max} ms, more than twice the {lease} s lease (+3 s)"
        ));
    }
    if !problems.is_empty() {
        let kept = keep_logs(&processes, seed);
        bail!(
            "seed {seed}: {} problems:\n{}\n(every process's whole log: {kept})\n{}",
            problems.len(),
            problems.join("\n"),
            all_logs(&processes)
        );
    }
    ensure!(!claims.is_empty(), "no claims at all");
    Ok(())
}
