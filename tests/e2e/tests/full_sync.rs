//! Issue #3: full sync end to end — ground truth, deletions, failures, pacing, credentials,
//! configuration errors, `check`, `--dry-run` and `auth`.

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;
use tributary_e2e::*;

fn folder_timestamps(docs: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    docs.iter()
        .filter(|(_, d)| d["type"] == "Folder")
        .map(|(id, d)| (id.clone(), d["_timestamp"].clone()))
        .collect()
}

#[test]
fn full_sync_indexes_awkward_names_empty_large_paper_and_received_files_exactly() -> Result<()> {
    let mut w = World::new(&fixtures::awkward_manifest(), &[])?;
    w.tenant.set("content", "max_bytes", 4096)?;
    let report = w.tenant.sync_ok()?;
    assert_eq!(report["mode"], "full");
    w.assert_matches()?;
    // The over-limit file is counted as skipped, not downloaded.
    let skipped: u64 = report["skipped"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    assert!(
        skipped >= 2,
        "expected the large file and the jpg to be skipped: {report}"
    );
    let docs = w.docs()?;
    let large = docs
        .values()
        .find(|d| d["name"] == "large.txt")
        .context("large.txt indexed")?;
    assert_eq!(large["content_status"], "skipped", "{large}");
    // Spot checks that a search finds text in non-Latin and emoji names and bodies.
    assert!(
        !w.es.find_text(&w.tenant.index, "Выручка")?.is_empty(),
        "Cyrillic body not searchable"
    );
    assert!(
        !w.es.find_text(&w.tenant.index, "watch")?.is_empty(),
        "Paper body not searchable"
    );

    // A second full sync keeps folders' first-indexed `_timestamp` and changes nothing else.
    let before = w.docs()?;
    let report2 = w.tenant.sync(&["--full"])?;
    report2.expect_ok()?;
    assert_eq!(
        report2.report.as_ref().map(|r| r["mode"].clone()),
        Some(json!("full"))
    );
    let after = w.docs()?;
    assert_eq!(
        folder_timestamps(&before),
        folder_timestamps(&after),
        "folder _timestamp changed across runs"
    );
    assert!(!folder_timestamps(&after).is_empty());
    assert_eq!(
        report2.n("downloads"),
        0,
        "unchanged content re-downloaded on --full: {}",
        report2.describe()
    );
    w.assert_matches()?;
    Ok(())
}

#[test]
fn full_sync_of_team_account_includes_team_folders_and_member_files() -> Result<()> {
    let w = World::new(&fixtures::team_manifest(), &[])?;
    w.tenant.sync_ok()?;
    w.assert_matches()?;
    let docs = w.docs()?;
    let paths: Vec<String> = docs
        .values()
        .filter_map(|d| d["file_path"].as_str().map(String::from))
        .collect();
    for want in [
        "/Engineering/Specs/api.md",
        "/Sales/pipeline.csv",
        "/Engineering/Design.paper",
    ] {
        assert!(
            paths.iter().any(|p| p.ends_with(want)),
            "{want} not indexed; have {paths:?}"
        );
    }
    Ok(())
}

#[test]
fn deleting_files_via_api_then_syncing_removes_exactly_those_docs() -> Result<()> {
    let w = World::new(&fixtures::awkward_manifest(), &[])?;
    w.tenant.sync_ok()?;
    let before = w.docs()?;
    let tree = w.emu.tree()?;
    let victims: Vec<(String, String)> = tree["entries"]
        .as_array()
        .context("entries")?
        .iter()
        .filter(|e| e[".tag"] == "file")
        .filter(|e| {
            let p = e["path_display"].as_str().unwrap_or("");
            p.contains("quoted") || p.contains("🚀") || p.ends_with("data.json")
        })
        .map(|e| {
            (
                e["id"].as_str().unwrap_or("").to_string(),
                e["path_display"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(victims.len(), 3, "fixture changed? {victims:?}");
    for (_, p) in &victims {
        w.emu.delete(p)?;
    }
    let run = w.tenant.sync(&[])?;
    run.expect_ok()?;
    let after = w.docs()?;
    let mut expected = comparable(&before);
    for (id, _) in &victims {
        assert!(expected.remove(id).is_some());
    }
    let after_cmp = comparable(&after);
    let removed: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    assert_eq!(removed.len(), 3, "removed {removed:?}, wanted {victims:?}");
    if let Some(d) = diff_docs(&expected, &after_cmp) {
        panic!("documents other than the deleted ones changed: {d}");
    }
    w.assert_matches()?;
    Ok(())
}

/// 5 000 files make three `list_folder` pages (the connector asks for 2 000 a page).
const MANY: &str = "files=5000,depth=2,fanout=8,seed=11,max_size=600,paper=0.0,text=0.9";

#[test]
fn listing_that_fails_half_way_deletes_nothing_and_exits_nonzero() -> Result<()> {
    let w = World::new(&json!({}), &["--generate", MANY])?;
    let first = w.tenant.sync_ok()?;
    assert!(
        first["pages"].as_u64().unwrap_or(0) >= 3,
        "need a multi-page listing: {first}"
    );
    // Remove some files so a *completed* enumeration would purge them.
    let tree = w.emu.tree()?;
    let files: Vec<String> = tree["entries"]
        .as_array()
        .context("entries")?
        .iter()
        .filter(|e| e[".tag"] == "file")
        .filter_map(|e| e["path_display"].as_str().map(String::from))
        .take(25)
        .collect();
    for p in &files {
        w.emu.delete(p)?;
    }
    let before = comparable(&w.docs()?);

    // Full enumeration: page 1 (`list_folder`) answers, every `continue` fails past the retries.
    w.emu.set_faults(
        5,
        json!([{"kind": "server_error", "route_prefix": "files/list_folder/continue",
        "fraction": 1.0, "count": 1000, "status": 503}]),
    )?;
    let failed = w.tenant.sync(&["--full"])?;
    println!(
        "failed full run: exit {:?}, report {:?}",
        failed.code, failed.report
    );
    assert!(
        failed.code != Some(0),
        "a failed listing must exit non-zero\n{}",
        failed.describe()
    );
    if let Some(r) = &failed.report {
        assert_eq!(r["purged"], 0, "purged after an incomplete listing: {r}");
        assert_eq!(r["deleted"], 0, "deleted after an incomplete listing: {r}");
        assert!(
            r["outcome"].as_str().unwrap_or("").starts_with("failed"),
            "{r}"
        );
        // Page 1 answered and was acknowledged: its (mid-enumeration) checkpoint is durable,
        // and the report says so.
        assert_eq!(r["checkpoint_committed"], true, "{r}");
    }
    if let Some(d) = diff_docs(&before, &comparable(&w.docs()?)) {
        panic!("the index changed after a failed full listing: {d}");
    }

    // Incremental: the very first `continue` fails, so the deletes are not applied either.
    let failed_inc = w.tenant.sync(&[])?;
    assert!(failed_inc.code != Some(0), "{}", failed_inc.describe());
    if let Some(d) = diff_docs(&before, &comparable(&w.docs()?)) {
        panic!("the index changed after a failed incremental listing: {d}");
    }

    // Faults gone: the next run converges and removes exactly the deleted files.
    w.emu.clear_faults()?;
    let ok = w.tenant.sync(&[])?;
    ok.expect_ok()?;
    w.assert_matches()?;
    Ok(())
}

#[test]
fn rate_limit_and_server_error_bursts_complete_with_pacing_and_nothing_lost() -> Result<()> {
    let w = World::new(&fixtures::small_manifest(), &[])?;
    w.emu.set_faults(3, json!([
        {"kind": "rate_limit", "route_prefix": "files/list_folder", "fraction": 1.0, "count": 2, "retry_after_secs": 1},
        {"kind": "server_error", "route_prefix": "files/download", "fraction": 1.0, "count": 2, "status": 503},
        {"kind": "rate_limit", "route_prefix": "files/download", "fraction": 1.0, "count": 1, "retry_after_secs": 1}
    ]))?;
    let run = w.tenant.sync(&[])?;
    run.expect_ok()?;
    println!("{}", run.describe());
    assert!(
        run.n("rate_limited") >= 1,
        "no 429 counted: {}",
        run.describe()
    );
    assert!(
        run.n("retries") >= 2,
        "no retries counted: {}",
        run.describe()
    );
    let secs = run
        .report
        .as_ref()
        .and_then(|r| r["duration_secs"].as_f64())
        .unwrap_or(0.0);
    assert!(
        secs >= 1.0,
        "Retry-After 1 s not honoured: run took {secs:.2}s"
    );
    let stats = w.emu.stats()?;
    let list = &stats["routes"]["files/list_folder"]["statuses"];
    assert!(
        list["429"].as_u64().unwrap_or(0) >= 1 && list["200"].as_u64().unwrap_or(0) >= 1,
        "stats: {stats}"
    );
    w.assert_matches()?;
    Ok(())
}

#[test]
fn access_token_expiring_mid_run_is_refreshed_and_nothing_is_lost() -> Result<()> {
    let w = World::new(&json!({}), &["--generate", MANY])?;
    // Tokens live 1 s, and every listing call takes 400 ms, so the run outlives several tokens.
    w.emu.set_token_lifetime(1)?;
    w.emu.set_faults(1, json!([{"kind": "latency", "route_prefix": "files/list_folder", "fraction": 1.0, "latency_ms": 700}]))?;
    let run = w.tenant.sync(&[])?;
    run.expect_ok()?;
    let tokens = w.emu.route_count("oauth2/token")?;
    println!(
        "oauth2/token calls: {tokens}; report token_refreshes={}",
        run.n("token_refreshes")
    );
    assert!(
        tokens >= 2,
        "expected a token refresh mid-run, saw {tokens} token calls\n{}",
        run.describe()
    );
    w.emu.clear_faults()?;
    w.assert_matches()?;

    // Between runs: every token revoked; the next run refreshes and works.
    w.emu.set_token_lifetime(14_400)?;
    w.emu.expire_tokens()?;
    w.emu
        .upload("/after-expiry.txt", b"written after the tokens expired")?;
    let before = w.emu.route_count("oauth2/token")?;
    w.tenant.sync_ok()?;
    assert!(
        w.emu.route_count("oauth2/token")? > before,
        "no new token after expiry"
    );
    w.assert_matches()?;
    Ok(())
}

fn stderr_mentions(run: &Run, needles: &[&str]) -> bool {
    let all = format!("{}\n{}", run.stderr, run.stdout).to_lowercase();
    needles.iter().any(|n| all.contains(&n.to_lowercase()))
}

#[test]
fn relative_path_is_a_config_error_naming_the_field() -> Result<()> {
    let mut w = World::new(&fixtures::small_manifest(), &[])?;
    w.tenant.set("source", "path", "Docs")?;
    let run = w.tenant.sync(&[])?;
    run.expect_code(2)?;
    assert!(
        stderr_mentions(&run, &["path"]),
        "message does not name `path`\n{}",
        run.describe()
    );
    assert_eq!(w.es.count(&w.tenant.index).unwrap_or(0), 0);
    Ok(())
}

#[test]
fn unknown_config_field_is_a_config_error_naming_the_field() -> Result<()> {
    let mut w = World::new(&fixtures::small_manifest(), &[])?;
    w.tenant.set("source", "retry_cuont", 3)?;
    let run = w.tenant.sync(&[])?;
    run.expect_code(2)?;
    assert!(
        stderr_mentions(&run, &["retry_cuont"]),
        "message does not name the field\n{}",
        run.describe()
    );
    Ok(())
}

#[test]
fn missing_app_key_is_a_config_error_naming_the_field() -> Result<()> {
    let mut w = World::new(&fixtures::small_manifest(), &[])?;
    w.tenant.unset("source", "app_key")?;
    let run = w.tenant.check()?;
    run.expect_code(2)?;
    assert!(
        stderr_mentions(&run, &["app_key"]),
        "message does not name app_key\n{}",
        run.describe()
    );
    let run = w.tenant.sync(&[])?;
    run.expect_code(2)?;
    Ok(())
}

#[test]
fn rejected_refresh_token_exits_3_and_points_to_tributary_auth() -> Result<()> {
    let mut w = World::new(&fixtures::small_manifest(), &[])?;
    w.tenant
        .set("source", "refresh_token", "revoked-or-wrong")?;
    let run = w.tenant.sync(&[])?;
    run.expect_code(3)?;
    assert!(
        stderr_mentions(&run, &["tributary auth"]),
        "no hint to run `tributary auth`\n{}",
        run.describe()
    );
    assert!(
        !stderr_mentions(&run, &["revoked-or-wrong", "emulator-app-secret"]),
        "a secret leaked into the output\n{}",
        run.describe()
    );
    Ok(())
}

#[test]
fn rejected_app_secret_exits_3_and_names_app_key_and_secret() -> Result<()> {
    let mut w = World::new(&fixtures::small_manifest(), &[])?;
    w.tenant.set("source", "app_secret", "not-the-secret")?;
    let run = w.tenant.check()?;
    run.expect_code(3)?;
    assert!(
        stderr_mentions(&run, &["app_secret", "app secret", "app_key", "app key"]),
        "message does not mention the app key/secret\n{}",
        run.describe()
    );
    assert!(
        !stderr_mentions(&run, &["not-the-secret"]),
        "the secret leaked\n{}",
        run.describe()
    );
    w.tenant.sync(&[])?.expect_code(3)?;
    Ok(())
}

#[test]
fn check_reports_ok_with_the_account_and_indexes_nothing() -> Result<()> {
    let w = World::new(&fixtures::awkward_manifest(), &[])?;
    let run = w.tenant.check()?;
    run.expect_code(0)?;
    println!("{}", run.stdout);
    assert!(run.stdout.starts_with("ok"), "{}", run.describe());
    assert!(
        run.stdout.contains("alice@example.com") || run.stdout.contains("Alice Example"),
        "account not shown\n{}",
        run.describe()
    );
    assert_eq!(w.emu.route_count("files/download")?, 0);
    Ok(())
}

#[test]
fn dry_run_to_stdout_prints_one_ndjson_line_per_tree_entry() -> Result<()> {
    let mut w = World::new(&fixtures::awkward_manifest(), &[])?;
    w.tenant.set("content", "max_bytes", 4096)?;
    let run = w.tenant.sync(&["--dry-run", "-"])?;
    run.expect_ok()?;
    let mut docs = BTreeMap::new();
    let mut ops = BTreeMap::<String, u64>::new();
    for line in run.stdout.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value =
            serde_json::from_str(line).with_context(|| format!("not NDJSON: {line:?}"))?;
        let op = v["op"].as_str().unwrap_or("?").to_string();
        *ops.entry(op.clone()).or_default() += 1;
        if op == "index" || op == "update" {
            let id = v["_id"].as_str().context("_id")?.to_string();
            ensure!(
                docs.insert(id.clone(), v["doc"].clone()).is_none(),
                "{id} printed twice"
            );
        }
    }
    println!("dry-run ops: {ops:?}");
    let mut opts = CompareOptions::from_tenant(&w.tenant);
    opts.dry_run = true;
    assert_docs_match_tree(&w.emu, &docs, &opts)?;
    // Nothing reached the search server.
    assert!(w.es.count(&w.tenant.index).is_err() || w.es.count(&w.tenant.index)? == 0);
    Ok(())
}

#[test]
fn auth_flow_with_browser_code_stores_refresh_token_and_sync_works() -> Result<()> {
    let mut w = World::new(&fixtures::small_manifest(), &[])?;
    w.tenant.unset("source", "refresh_token")?;
    let cfg = w.tenant.config_path.to_string_lossy().to_string();
    let mut auth = spawn_tributary_with(&["auth", "--config", &cfg], &[], true)?;
    let url = wait_for(Duration::from_secs(60), Duration::from_millis(50), || {
        auth.stdout()
            .lines()
            .find(|l| l.starts_with("  http"))
            .map(|l| l.trim().to_string())
    })
    .with_context(|| {
        format!(
            "no authorize URL printed; stdout: {}\nstderr: {}",
            auth.stdout(),
            auth.stderr()
        )
    })?;
    println!("authorize URL: {url}");
    assert!(
        url.starts_with(&w.emu.url),
        "authorize URL not on web_url: {url}"
    );
    let page = http().get(&url).send()?.text()?;
    let code = page
        .split("<code id=\"auth-code\">")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .with_context(|| format!("no auth code in page: {page}"))?
        .to_string();
    {
        let stdin = auth.child.stdin.as_mut().context("auth stdin")?;
        stdin.write_all(format!("{code}\n").as_bytes())?;
        stdin.flush()?;
    }
    let run = auth.wait(Duration::from_secs(60))?;
    run.expect_code(0)?;
    let stem = w
        .tenant
        .config_path
        .file_stem()
        .context("stem")?
        .to_string_lossy()
        .to_string();
    let token_file = w
        .tenant
        .config_path
        .with_file_name(format!("{stem}.refresh_token"));
    ensure!(
        token_file.exists(),
        "{} not written\n{}",
        token_file.display(),
        run.describe()
    );
    let text = w.tenant.config_text();
    let parsed: toml::Table = toml::from_str(&text)?;
    let rt = &parsed["source"]["refresh_token"];
    ensure!(
        rt.get("file").is_some(),
        "config not rewritten to refresh_token = {{ file = ... }}:\n{text}"
    );
    ensure!(
        !text.contains(std::fs::read_to_string(&token_file)?.trim()),
        "the token itself is in the config"
    );
    // Sync with the stored token (reload the tenant's view of the file first).
    w.tenant.config = parsed;
    let run = w.tenant.sync(&[])?;
    run.expect_ok()?;
    w.assert_matches()?;
    Ok(())
}
