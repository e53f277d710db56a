//! Issue #7: a corrupt or unusable checkpoint must have a way out (`sync --full`,
//! `tributary reset`), and the report must say whether a checkpoint was committed.

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use tributary_e2e::*;

/// Overwrite one field of the tenant's state document (and drop its lease).
fn corrupt(w: &World, field: &str, value: Value) -> Result<()> {
    let mut doc = w
        .tenant
        .state_doc(&w.es)?
        .context("no state document yet")?;
    doc[field] = value;
    if let Some(o) = doc.as_object_mut() {
        o.remove("lease");
    }
    w.es.put_doc(&w.tenant.state_index, &w.tenant.tenant, &doc)
}

#[test]
fn a_state_document_of_the_wrong_shape_names_both_ways_out_and_sync_full_starts_over() -> Result<()>
{
    let w = World::new(&fixtures::small_manifest(), &[])?;
    w.tenant.sync_ok()?;
    let shapes = [
        ("checkpoint", json!({"cursor": "an object, not a string"})),
        ("checkpoint", json!(42)),
        ("open_enumerations", json!("files")),
    ];
    for (i, (field, value)) in shapes.into_iter().enumerate() {
        let what = format!("{field} = {value}");
        w.emu.upload(
            &format!("/while corrupt {i}.txt"),
            b"written while the state was corrupt",
        )?;
        corrupt(&w, field, value)?;
        let run = w.tenant.sync(&[])?;
        println!("{what}: exit {:?}\n{}", run.code, run.stderr.trim());
        ensure!(
            run.code != Some(0),
            "{what}: sync succeeded\n{}",
            run.describe()
        );
        ensure!(
            run.stderr.contains("tributary sync --full") && run.stderr.contains("tributary reset"),
            "{what}: the message must name `tributary sync --full` and `tributary reset`\n{}",
            run.describe()
        );
        let full = w.tenant.sync(&["--full"])?;
        full.expect_ok()
            .with_context(|| format!("{what}: --full must start over"))?;
        w.assert_matches()
            .with_context(|| format!("{what}: after --full"))?;
        w.tenant
            .sync_ok()
            .with_context(|| format!("{what}: the run after --full"))?;
    }
    Ok(())
}

#[test]
fn tributary_reset_makes_the_next_sync_full() -> Result<()> {
    let w = World::new(&fixtures::small_manifest(), &[])?;
    w.tenant.sync_ok()?;
    // From a corrupt state, and from a healthy one.
    corrupt(&w, "checkpoint", json!({"not": "a checkpoint"}))?;
    for state in ["corrupt", "healthy"] {
        w.emu
            .upload(&format!("/before reset of {state} state.txt"), b"x")?;
        let reset = w.tenant.command("reset", &[])?;
        reset
            .expect_code(0)
            .with_context(|| format!("reset of a {state} state"))?;
        let next = w.tenant.sync_ok()?;
        ensure!(
            next["mode"] == "full",
            "the sync after a reset of a {state} state must be full: {next}"
        );
        w.assert_matches()?;
        let after = w.tenant.sync_ok()?;
        ensure!(after["mode"] == "incremental", "{after}");
    }
    Ok(())
}

#[test]
fn an_unreadable_checkpoint_says_to_use_full_exactly_once() -> Result<()> {
    let w = World::new(&fixtures::small_manifest(), &[])?;
    w.tenant.sync_ok()?;
    corrupt(
        &w,
        "checkpoint",
        json!("garbage-cursor-%%%-not-a-checkpoint"),
    )?;
    let run = w.tenant.sync(&[])?;
    println!("exit {:?}\n{}", run.code, run.stderr.trim());
    ensure!(run.code != Some(0), "{}", run.describe());
    // The summary line and the error line may both carry the message; each says it once.
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("--full"))
        .collect();
    ensure!(
        !lines.is_empty(),
        "the message does not say to use --full\n{}",
        run.describe()
    );
    for line in lines {
        let n = line.matches("--full").count();
        ensure!(
            n == 1,
            "the advice to use --full appears {n} times in one message (want once): {line}"
        );
    }
    w.tenant.sync(&["--full"])?.expect_ok()?;
    w.assert_matches()?;
    Ok(())
}

#[test]
fn report_says_checkpoint_committed_when_a_page_was_committed_before_the_run_failed() -> Result<()>
{
    let mut w = World::new(
        &json!({}),
        &[
            "--generate",
            "files=2500,depth=2,fanout=8,seed=12,max_size=200,paper=0.0,text=0.0",
        ],
    )?;
    w.tenant.set("source", "retry_count", 0)?;
    // The first page answers; the next one fails after 3 s, long after the first page's
    // writes were acknowledged and its checkpoint committed.
    w.emu.set_faults(
        8,
        json!([
            {"kind": "latency", "route_prefix": "files/list_folder/continue", "fraction": 1.0, "latency_ms": 3000},
            {"kind": "server_error", "route_prefix": "files/list_folder/continue", "fraction": 1.0, "count": 100000, "status": 503}
        ]),
    )?;
    let run = w.tenant.sync(&[])?;
    w.emu.clear_faults()?;
    ensure!(run.code == Some(1), "{}", run.describe());
    let stored = w
        .tenant
        .state_doc(&w.es)?
        .map(|d| d["checkpoint"].clone())
        .unwrap_or(Value::Null);
    ensure!(
        !stored.is_null(),
        "no page checkpoint was committed, so this scenario tests nothing\n{}",
        run.describe()
    );
    let r = run.report.clone().context("no report")?;
    ensure!(
        r["checkpoint_committed"] == true,
        "a page checkpoint is stored but the report says checkpoint_committed = {}\n{}",
        r["checkpoint_committed"],
        run.describe()
    );
    let text = format!("{}\n{}", run.stdout, run.stderr);
    ensure!(
        !text.contains("checkpoint not committed"),
        "the summary says the checkpoint was not committed\n{}",
        run.describe()
    );
    Ok(())
}
