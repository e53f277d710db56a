//! Issue #7: Dropbox-side faults the suite missed: a vanished file's failure given to its
//! identical twin, 429s from the token endpoint, failed downloads never retried, and the
//! report's download counters when content is shared.

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use tributary_e2e::*;

fn doc_at(w: &World, path: &str) -> Result<Value> {
    w.docs()?
        .into_values()
        .find(|d| d["file_path"] == path)
        .with_context(|| format!("{path} is not indexed"))
}

#[test]
fn a_file_gone_before_its_download_does_not_take_the_body_of_its_identical_twin() -> Result<()> {
    let w = World::new(&fixtures::small_manifest(), &[])?;
    w.tenant.sync_ok()?;
    let content = "twin content: the very same   bytes in two files";
    // One delta: the doomed copy first (its download is the one the twin would share), then
    // its live twin, then the doomed copy's folder goes (the download answers 409).
    w.emu.upload("/A/B/doomed twin.txt", content.as_bytes())?;
    w.emu.upload("/live/twin.txt", content.as_bytes())?;
    w.emu.delete("/A")?;
    let run = w.tenant.sync(&[])?;
    let twin = doc_at(&w, "/live/twin.txt")?;
    println!("twin: {twin}\n{}", run.describe());
    ensure!(
        twin["content_status"] == "extracted" && twin["body"] == collapse_ws(content),
        "the live twin was indexed without its body: {twin}\n{}",
        run.describe()
    );
    run.expect_ok()?;
    w.assert_matches()?;
    Ok(())
}

#[test]
fn rate_limited_token_endpoint_is_retried_and_the_run_succeeds() -> Result<()> {
    let w = World::new(&fixtures::small_manifest(), &[])?;
    w.emu.set_faults(
        4,
        json!([{"kind": "rate_limit", "route_prefix": "oauth2/token", "fraction": 1.0,
        "count": 3, "retry_after_secs": 1}]),
    )?;
    let run = w.tenant.sync(&[])?;
    let stats = w.emu.stats()?;
    let limited = stats["routes"]["oauth2/token"]["statuses"]["429"]
        .as_u64()
        .unwrap_or(0);
    ensure!(limited >= 1, "no 429 was served on oauth2/token: {stats}");
    run.expect_ok()
        .context("a 429 from the token endpoint is not a rejected credential")?;
    w.assert_matches()?;
    Ok(())
}

#[test]
fn failing_token_endpoint_exits_1_and_only_a_rejected_grant_exits_3() -> Result<()> {
    let mut w = World::new(&fixtures::small_manifest(), &[])?;
    w.tenant.set("source", "retry_count", 1)?;
    w.emu.set_faults(
        5,
        json!([{"kind": "server_error", "route_prefix": "oauth2/token", "fraction": 1.0,
        "count": 100000, "status": 503}]),
    )?;
    let down = w.tenant.sync(&[])?;
    ensure!(
        w.emu.route_count("oauth2/token")? >= 1,
        "the token endpoint was never called"
    );
    down.expect_code(1)
        .context("a token endpoint that keeps failing is an outage, not rejected credentials")?;
    w.emu.clear_faults()?;
    w.tenant
        .set("source", "refresh_token", "revoked-or-wrong")?;
    w.tenant
        .sync(&[])?
        .expect_code(3)
        .context("invalid_grant must still exit 3")?;
    Ok(())
}

#[test]
fn a_download_that_failed_is_retried_by_the_next_incremental_run() -> Result<()> {
    let mut w = World::new(&fixtures::small_manifest(), &[])?;
    w.tenant.set("source", "retry_count", 0)?;
    w.tenant.sync_ok()?;
    let path = "/A/flaky download.txt";
    let content = "content the first attempt could not fetch";
    w.emu.upload(path, content.as_bytes())?;
    w.emu.set_faults(
        6,
        json!([{"kind": "server_error", "route_prefix": "files/download", "fraction": 1.0,
        "count": 100000, "status": 500}]),
    )?;
    let failed = w.tenant.sync(&[])?;
    w.emu.clear_faults()?;
    failed.expect_code(1)?;
    let doc = doc_at(&w, path)?;
    ensure!(
        doc["content_status"] == "failed",
        "want content_status failed after the download failed: {doc}"
    );
    // Nothing changed in Dropbox since: only the runner can remember to fetch it again.
    let next = w.tenant.sync(&[])?;
    let doc = doc_at(&w, path)?;
    ensure!(
        doc["content_status"] == "extracted" && doc["body"] == collapse_ws(content),
        "the failed download was not retried: {doc}\n{}",
        next.describe()
    );
    next.expect_ok()?;
    w.assert_matches()?;
    Ok(())
}

#[test]
fn identical_content_is_downloaded_once_and_counted_once() -> Result<()> {
    let w = World::new(&json!({}), &[])?;
    let line = "the same megabyte of text in two files, downloaded once\n";
    let mut content = line.repeat(1_000_000 / line.len() + 1).into_bytes();
    content.truncate(1_000_000);
    w.emu.upload("/twins/one.txt", &content)?;
    w.emu.upload("/twins/two.txt", &content)?;
    let report = w.tenant.sync_ok()?;
    println!("{report}");
    ensure!(
        report["downloads"] == 1,
        "two files with one content_hash: want 1 download: {report}"
    );
    let bytes = report["bytes_downloaded"].as_u64().unwrap_or(0);
    ensure!(
        (1_000_000..1_100_000).contains(&bytes),
        "bytes_downloaded {bytes} should be what was downloaded (1 MB): {report}"
    );
    ensure!(w.emu.route_count("files/download")? == 1);
    w.assert_matches()?;
    Ok(())
}

/// A request that reached the emulator this soon after a 429 was answered was already on its
/// way when the runner learnt of the hold.
const IN_FLIGHT_MS: f64 = 200.0;
/// Slack at the end of a hold: the runner measures it from when it received the 429.
const HOLD_END_SLACK_MS: f64 = 50.0;

#[test]
fn after_a_429_storm_downloads_wait_for_the_longest_hold_then_resume_with_one_probe() -> Result<()>
{
    let w = World::new(
        &json!({}),
        &[
            "--generate",
            "files=150,depth=1,fanout=4,seed=21,max_size=200,paper=0.0,text=1.0",
        ],
    )?;
    // The first 3 downloads are told to wait 1 s, the next one 3 s (a longer hold arriving
    // while the others wait); then the storm is over. With 100 downloads in flight at once,
    // a runner without a shared hold sends most of them inside these holds.
    w.emu.set_faults(
        9,
        json!([
            {"kind": "rate_limit", "route_prefix": "files/download", "fraction": 1.0, "count": 3, "retry_after_secs": 1},
            {"kind": "rate_limit", "route_prefix": "files/download", "fraction": 1.0, "count": 1, "retry_after_secs": 3}
        ]),
    )?;
    w.emu.reset_stats()?;
    let run = w.tenant.sync(&[])?;
    let events = w.emu.timeline("files/download")?;
    run.expect_ok()?;
    let f = |e: &Value, k: &str| e[k].as_f64().unwrap_or(0.0);
    let holds: Vec<(f64, f64)> = events
        .iter()
        .filter(|e| e["status"] == 429)
        .map(|e| {
            let start = f(e, "answered_ms");
            (start, start + f(e, "retry_after") * 1000.0)
        })
        .collect();
    ensure!(
        holds.len() == 4,
        "expected 4 answers 429, saw {}",
        holds.len()
    );
    let inside: Vec<f64> = events
        .iter()
        .map(|e| f(e, "arrived_ms"))
        .filter(|t| {
            holds
                .iter()
                .any(|(start, end)| *t > start + IN_FLIGHT_MS && *t < end - HOLD_END_SLACK_MS)
        })
        .collect();
    let end = holds.iter().map(|(_, e)| *e).fold(0.0, f64::max);
    // Released when the longest hold ended, before any request sent after it came back.
    let first_back = events
        .iter()
        .filter(|e| f(e, "arrived_ms") >= end - HOLD_END_SLACK_MS)
        .map(|e| f(e, "answered_ms"))
        .fold(f64::INFINITY, f64::min);
    let herd = events
        .iter()
        .map(|e| f(e, "arrived_ms"))
        .filter(|t| *t >= end - HOLD_END_SLACK_MS && *t < first_back)
        .count();
    println!(
        "{} downloads, {} answered 429, last hold ends at {end:.0} ms; {} sent inside a hold; {herd} sent at its end before the first came back",
        events.len(),
        holds.len(),
        inside.len()
    );
    ensure!(
        inside.is_empty(),
        "{} downloads were sent while a Retry-After hold was active (at ms {:?})",
        inside.len(),
        &inside[..inside.len().min(20)]
    );
    let waited = events
        .iter()
        .filter(|e| f(e, "arrived_ms") >= end - HOLD_END_SLACK_MS)
        .count();
    ensure!(
        waited >= 20,
        "only {waited} downloads were sent after the longest hold: nothing waited for it"
    );
    ensure!(
        herd <= 2,
        "{herd} downloads were released at once when the hold ended; one should probe first"
    );
    w.assert_matches()?;
    Ok(())
}
