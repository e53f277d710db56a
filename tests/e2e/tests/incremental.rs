//! Issue #4: incremental sync — cursor deltas, a seeded model test, cursor reset, crash
//! recovery, tenant leases, checkpoint mismatch and `watch` latency.

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use tributary_e2e::model::{Namer, Rng, random_step};
use tributary_e2e::*;

const MANY: &str = "files=5000,depth=2,fanout=8,seed=11,max_size=600,paper=0.0,text=0.9";

/// The run completed with errors and every error is a download of a file that no longer exists.
fn vanished_downloads_only(run: &Run) -> bool {
    let failures: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("content not indexed"))
        .collect();
    run.code == Some(1)
        && run
            .report
            .as_ref()
            .is_some_and(|r| r["outcome"] == "completed_with_errors" && r["write_failures"] == 0)
        && !failures.is_empty()
        && failures.iter().all(|l| l.contains("not_found"))
}

fn text_files(tree: &Value) -> Vec<(String, String)> {
    tree["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e[".tag"] == "file" && e["is_downloadable"] != false)
                .filter_map(|e| {
                    let p = e["path_display"].as_str()?;
                    let ext = truth::extension(p);
                    truth::PLAIN_EXTS
                        .contains(&ext.as_str())
                        .then(|| (e["id"].as_str().unwrap_or("").to_string(), p.to_string()))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn second_sync_is_incremental_with_few_continue_calls_and_downloads_only_changed_content()
-> Result<()> {
    let w = World::new(&json!({}), &["--generate", MANY])?;
    let first = w.tenant.sync_ok()?;
    assert_eq!(first["mode"], "full");

    // Nothing changed: incremental, no downloads.
    w.emu.reset_stats()?;
    let idle = w.tenant.sync(&[])?;
    idle.expect_ok()?;
    let r = idle.report.clone().context("report")?;
    assert_eq!(r["mode"], "incremental", "{r}");
    assert_eq!(r["downloads"], 0, "{r}");
    assert_eq!(
        w.emu.route_count("files/list_folder")?,
        0,
        "an idle incremental sync re-listed everything"
    );

    // k changes: edits of text files (downloaded again) and renames (metadata only).
    let tree = w.emu.tree()?;
    let texts = text_files(&tree);
    let edits = 120;
    let renames = 60;
    ensure!(
        texts.len() > edits + renames,
        "not enough text files in the generated tree"
    );
    for (i, (_, p)) in texts.iter().take(edits).enumerate() {
        w.emu
            .upload(p, format!("edited content number {i}").as_bytes())?;
    }
    for (i, (_, p)) in texts.iter().skip(edits).take(renames).enumerate() {
        let (dir, name) = p.rsplit_once('/').context("path")?;
        w.emu.move_path(p, &format!("{dir}/renamed-{i}-{name}"))?;
    }
    let k = (edits + renames) as u64;
    w.emu.reset_stats()?;
    let inc = w.tenant.sync(&[])?;
    inc.expect_ok()?;
    let r = inc.report.clone().context("report")?;
    let continues = w.emu.route_count("files/list_folder/continue")?;
    println!(
        "k={k}: continue calls={continues}, downloads={}, report={r}",
        r["downloads"]
    );
    assert_eq!(r["mode"], "incremental", "{r}");
    assert!(
        continues <= k / 2000 + 2,
        "{continues} continue calls for {k} changes"
    );
    assert_eq!(
        w.emu.route_count("files/list_folder")?,
        0,
        "incremental sync re-listed from scratch"
    );
    assert_eq!(
        r["downloads"].as_u64(),
        Some(edits as u64),
        "downloads must equal the edited text files: {r}"
    );
    assert_eq!(w.emu.route_count("files/download")?, edits as u64);
    w.assert_matches()?;
    Ok(())
}

#[test]
fn random_changes_then_incremental_sync_always_match_the_tree() -> Result<()> {
    let steps: usize = std::env::var("E2E_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let mut failing = Vec::new();
    for seed in seeds(1..=3) {
        println!("model test seed {seed} ({steps} steps); rerun with E2E_SEEDS={seed}");
        let w = World::new(&fixtures::small_manifest(), &[])?;
        w.tenant
            .sync_ok()
            .with_context(|| format!("seed {seed}: initial sync"))?;
        let mut rng = Rng::new(seed);
        let mut namer = Namer::new(seed);
        let mut log = Vec::new();
        let mut tolerated = 0;
        for step in 0..steps {
            let ops = 1 + rng.below(4);
            for _ in 0..ops {
                let d = random_step(&w.emu, &mut rng, &mut namer).with_context(|| {
                    format!("seed {seed} step {step}: applying an op; so far {log:#?}")
                })?;
                log.push(format!("step {step}: {d}"));
            }
            let run = w.tenant.sync(&[])?;
            // A file created and then deleted (or moved away) before the sync downloads it
            // fails with path/not_found; FINDINGS.md F2 says why that should not be an error.
            // Here only index == tree matters, so that one case is tolerated (and counted).
            let vanished = vanished_downloads_only(&run);
            if vanished {
                tolerated += 1;
            }
            let status = if vanished {
                Ok(())
            } else {
                run.expect_ok().map(drop)
            };
            let checked = status.and_then(|_| {
                let mode = run
                    .report
                    .as_ref()
                    .map(|r| r["mode"].clone())
                    .unwrap_or_default();
                ensure!(
                    mode == "incremental",
                    "step {step} ran {mode}, expected incremental"
                );
                w.assert_matches()
            });
            if let Err(e) = checked {
                let msg = format!(
                    "FAILING SEED {seed} at step {step} (rerun: E2E_SEEDS={seed})\nops:\n  {}\n{e:#}",
                    log.join("\n  ")
                );
                println!("{msg}");
                failing.push((seed, msg));
                break;
            }
        }
        println!("seed {seed}: done ({tolerated} runs had only vanished-file download errors)");
    }
    if !failing.is_empty() {
        let seeds: Vec<String> = failing.iter().map(|(s, _)| s.to_string()).collect();
        anyhow::bail!(
            "failing seeds: {} (rerun one with E2E_SEEDS=N)\n\n{}",
            seeds.join(","),
            failing
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join("\n\n")
        );
    }
    Ok(())
}

#[test]
fn file_deleted_before_its_download_is_not_an_error() -> Result<()> {
    let w = World::new(&fixtures::small_manifest(), &[])?;
    w.tenant.sync_ok()?;
    // Both changes land in one delta: the file appears, then its folder is deleted.
    w.emu.upload("/A/B/short-lived.txt", b"here and gone")?;
    w.emu.delete("/A")?;
    let run = w.tenant.sync(&[])?;
    println!("exit {:?}\n{}", run.code, run.stderr);
    w.assert_matches()?;
    run.expect_ok()?;
    Ok(())
}

#[test]
fn cursor_reset_mid_incremental_triggers_full_resync_that_converges() -> Result<()> {
    let w = World::new(&fixtures::small_manifest(), &[])?;
    w.tenant.sync_ok()?;
    w.emu
        .upload("/A/new after sync.txt", b"created before the reset")?;
    w.emu.delete("/C/three.csv")?;
    w.emu.reset_cursors()?;
    w.emu
        .upload("/A/after reset.md", b"# created after the reset")?;
    let run = w.tenant.sync(&[])?;
    run.expect_ok()?;
    let r = run.report.clone().context("report")?;
    println!(
        "after reset: mode={} reason={}",
        r["mode"], r["mode_reason"]
    );
    assert_eq!(
        r["mode"], "full",
        "a reset cursor must lead to a full resync: {r}"
    );
    assert!(
        r["purged"].as_u64().unwrap_or(0) >= 1,
        "the deleted file was not purged: {r}"
    );
    w.assert_matches()?;
    // And the next run is incremental again.
    let next = w.tenant.sync_ok()?;
    assert_eq!(next["mode"], "incremental", "{next}");
    Ok(())
}

/// No two documents describe the same path (a crash must not leave an old and a new copy).
fn assert_no_duplicate_paths(docs: &BTreeMap<String, Value>) -> Result<()> {
    let mut seen = BTreeSet::new();
    for (id, d) in docs {
        if let Some(p) = d["path_lower"].as_str() {
            ensure!(
                seen.insert(p.to_string()),
                "two documents for {p} (one is {id})"
            );
        }
    }
    Ok(())
}

fn crash_then_converge(point: &str, incremental: bool) -> Result<()> {
    let w = World::new(&json!({}), &["--generate", MANY])?;
    if incremental {
        w.tenant.sync_ok()?;
        // More than one page of changes: 2 500 deletions by folder plus edits and creations.
        let tree = w.emu.tree()?;
        let folders: Vec<String> = tree["entries"]
            .as_array()
            .context("entries")?
            .iter()
            .filter(|e| e[".tag"] == "folder")
            .filter_map(|e| e["path_display"].as_str().map(String::from))
            .filter(|p| p.matches('/').count() == 1)
            .take(3)
            .collect();
        for f in &folders {
            w.emu.delete(f)?;
        }
        for (i, (_, p)) in text_files(&w.emu.tree()?).iter().take(30).enumerate() {
            w.emu
                .upload(p, format!("changed before crash {i}").as_bytes())?;
        }
        for i in 0..30 {
            w.emu.upload(
                &format!("/new/crash-{i}.txt"),
                format!("new file {i}").as_bytes(),
            )?;
        }
    }
    let crashed = w.tenant.sync_env(&[], &[("TRIBUTARY_CRASH_AT", point)])?;
    println!(
        "crash at {point} (incremental={incremental}): exit {:?}",
        crashed.code
    );
    assert!(
        crashed.code != Some(0),
        "TRIBUTARY_CRASH_AT={point} did not crash\n{}",
        crashed.describe()
    );
    assert!(
        crashed.stderr.contains("crash point"),
        "{}",
        crashed.describe()
    );
    // The crashed runner still holds its lease (it could not release it), but its process is
    // gone and it ran on this host: the rerun takes the lease over at once and converges.
    let run = w.tenant.sync(&[])?;
    run.expect_ok()?;
    ensure!(
        run.stderr.contains("taking over the lease"),
        "the rerun should say it took over the dead runner's lease\n{}",
        run.describe()
    );
    let docs = w.docs()?;
    assert_no_duplicate_paths(&docs)?;
    w.assert_matches()
        .with_context(|| format!("after crash at {point} and rerun"))?;
    Ok(())
}

#[test]
fn crash_after_page_hand_off_in_full_sync_then_rerun_converges() -> Result<()> {
    crash_then_converge("page:2", false)
}

#[test]
fn crash_before_checkpoint_commit_in_full_sync_then_rerun_converges() -> Result<()> {
    crash_then_converge("commit:2", false)
}

#[test]
fn crash_right_after_checkpoint_commit_in_full_sync_then_rerun_converges() -> Result<()> {
    crash_then_converge("committed:1", false)
}

#[test]
fn crash_mid_incremental_sync_then_rerun_converges() -> Result<()> {
    crash_then_converge("page:1", true)?;
    crash_then_converge("commit:1", true)
}

#[test]
fn second_runner_on_a_busy_tenant_exits_4_with_a_message() -> Result<()> {
    let w = World::new(&fixtures::small_manifest(), &[])?;
    // Slow listing so the first runner holds the lease for a while.
    w.emu.set_faults(2, json!([{"kind": "latency", "route_prefix": "files/list_folder", "fraction": 1.0, "latency_ms": 3000}]))?;
    let first = w.tenant.spawn("sync", &["--quiet"], &[])?;
    let lease = wait_for(Duration::from_secs(30), Duration::from_millis(50), || {
        w.tenant
            .state_doc(&w.es)
            .ok()
            .flatten()
            .filter(|d| d["lease"].is_object())
    });
    ensure!(
        lease.is_some(),
        "the first runner never took a lease (state doc: {:?})",
        w.tenant.state_doc(&w.es).ok()
    );
    let second = w.tenant.sync(&[])?;
    println!(
        "second runner: exit {:?}: {}",
        second.code,
        second.stderr.trim()
    );
    second.expect_code(4)?;
    assert!(
        second.stderr.contains("another runner") || second.stderr.to_lowercase().contains("busy"),
        "{}",
        second.describe()
    );
    let first = first.wait(Duration::from_secs(120))?;
    first.expect_code(0)?;
    w.emu.clear_faults()?;
    w.assert_matches()?;
    // Lease released: a later run goes ahead.
    w.tenant.sync_ok()?;
    Ok(())
}

#[test]
fn checkpoint_from_another_path_is_refused_with_exit_2() -> Result<()> {
    let mut w = World::new(&fixtures::small_manifest(), &[])?;
    w.tenant.sync_ok()?;
    let before = w.docs()?;
    w.tenant.set("source", "path", "/A")?;
    let run = w.tenant.sync(&[])?;
    println!("{}", run.stderr.trim());
    run.expect_code(2)?;
    assert!(
        run.stderr.to_lowercase().contains("checkpoint"),
        "message does not explain the checkpoint mismatch\n{}",
        run.describe()
    );
    assert_eq!(
        before.len(),
        w.docs()?.len(),
        "documents changed on a refused run"
    );
    Ok(())
}

#[test]
fn watch_makes_a_change_searchable_within_two_seconds() -> Result<()> {
    let w = World::new(&fixtures::small_manifest(), &[])?;
    w.tenant.sync_ok()?;
    let repeats = 3;
    let mut latencies = Vec::new();
    for i in 0..repeats {
        let watch = w
            .tenant
            .spawn("watch", &["--rounds", "2", "--poll-secs", "30"], &[])?;
        // Its first round (a sync) is done when it logs "changes applied"; it then long-polls.
        // (The emulator counts a long poll only when it answers, so its stats cannot tell.)
        let polling = wait_for(Duration::from_secs(60), Duration::from_millis(10), || {
            watch.stderr().contains("changes applied").then_some(())
        });
        ensure!(
            polling.is_some(),
            "watch never long-polled\nstderr: {}",
            watch.stderr()
        );
        let word = format!("zebrawatch{i}x{}", std::process::id());
        let start = Instant::now();
        w.emu.upload(
            &format!("/watched-{i}.txt"),
            format!("the {word} arrives").as_bytes(),
        )?;
        let seen = wait_for(Duration::from_secs(30), Duration::from_millis(25), || {
            w.es.find_text(&w.tenant.index, &word)
                .ok()
                .filter(|h| !h.is_empty())
        });
        let latency = start.elapsed();
        ensure!(
            seen.is_some(),
            "change never became searchable\nstderr: {}",
            watch.stderr()
        );
        println!(
            "watch latency #{i}: {:.0} ms",
            latency.as_secs_f64() * 1000.0
        );
        latencies.push(latency);
        let run = watch.wait(Duration::from_secs(30))?;
        run.expect_code(0)?;
    }
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    println!(
        "watch latency median: {:.0} ms over {repeats} runs",
        median.as_secs_f64() * 1000.0
    );
    assert!(
        median <= Duration::from_secs(2),
        "median change-to-search latency {median:?} > 2 s"
    );
    w.assert_matches()?;
    Ok(())
}

#[test]
fn renaming_a_file_to_another_type_re_extracts_its_content() -> Result<()> {
    let w = World::new(&fixtures::small_manifest(), &[])?;
    w.emu
        .upload("/typed/page.html", b"<p>hello</p>   <b>world</b>")?;
    w.emu.upload("/typed/notes.txt", b"plain   notes")?;
    w.tenant.sync_ok()?;
    w.assert_matches()?;
    // Same bytes (same content_hash), new extractor: .html -> .txt keeps the tags as text,
    // .txt -> .bin must drop the body.
    w.emu.move_path("/typed/page.html", "/typed/page.txt")?;
    w.emu.move_path("/typed/notes.txt", "/typed/notes.bin")?;
    let run = w.tenant.sync(&[])?;
    run.expect_ok()?;
    w.assert_matches()?;
    Ok(())
}
