//! `tributary serve` with many tenants in one process (the issue 9 tests): isolation of two
//! tenants with different components, hot reload of tenant files, bad tenant files, `cancel`,
//! containment of hostile components beside a well-behaved tenant, and fair shares of the
//! process budgets. Scale-out across processes is in `scale_out.rs`.
//!
//! Every test runs real processes: `tributary serve` (debug build), the Dropbox emulator and
//! osmem-server; it waits on the coordination index (claims) and the logs with bounded polls.

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::time::Duration;
use tributary_e2e::fixtures::small_manifest;
use tributary_e2e::local_folder::{assert_index_matches_folder, folder_tenant};
use tributary_e2e::sandbox::{Behaviour, TestServer, hostile_tenant, planted};
use tributary_e2e::search_proxy::SearchProxy;
use tributary_e2e::serve::{
    Claim, LogLine, Serve, ServeOptions, TenantsDir, assert_index_matches_folder_where,
    assert_index_matches_subtree, cancel, done_since, finished_since, get_text, is_process_line,
    metric, now_ms, schedule, status, tail, wait_claims,
};
use tributary_e2e::{
    CompareOptions, Emulator, SearchServer, Tenant, assert_index_matches_tree, wait_for,
};

/// How long a first run may take: a debug-build runner compiling components into a cold
/// cache on a machine shared with other builds.
const FIRST_RUN: Duration = Duration::from_secs(120);
/// How long a later run may take to show up.
const NEXT_RUN: Duration = Duration::from_secs(60);

fn write(root: &Path, rel: &str, body: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
    fs::write(p, body).expect("write");
}

/// A small directory tree: nesting, text of several kinds, binary, an empty folder.
fn seed_folder(root: &Path) {
    write(root, "README.md", "# Project\n\nSee   the docs.");
    write(root, "docs/guide.txt", "the guide mentions a capybara");
    write(root, "docs/deep/notes.md", "deep notes");
    write(root, "docs/deep/data.json", "{\"k\": [1, 2, 3]}");
    write(root, "Отчёт.txt", "Выручка выросла на 12%");
    fs::write(root.join("photo.jpg"), [0xFFu8, 0xD8, 0xFF, 0xE0, 0, 16]).expect("jpg");
    fs::create_dir_all(root.join("Empty folder")).expect("mkdir");
}

/// The serve log, for failure messages.
fn logs(serve: &Serve) -> String {
    format!(
        "--- serve {} log ---\n{}",
        serve.runner_id,
        tail(&serve.stderr(), 8000)
    )
}

/// Wait until `serve` logs a line for which `pick` holds; returns it.
fn wait_log(
    serve: &Serve,
    within: Duration,
    what: &str,
    pick: impl Fn(&LogLine) -> bool,
) -> Result<LogLine> {
    wait_for(within, Duration::from_millis(100), || {
        serve.lines().into_iter().find(|l| pick(l))
    })
    .with_context(|| {
        format!(
            "serve never logged {what} within {within:?}\n{}",
            logs(serve)
        )
    })
}

/// Wait for a `done` claim of `tenant` that started at or after `since_ms`.
fn wait_done(
    es: &SearchServer,
    options: &ServeOptions,
    serve: &Serve,
    tenant: &str,
    since_ms: u64,
    within: Duration,
) -> Result<Claim> {
    wait_claims(
        es,
        &options.coordination_index,
        within,
        &format!("a finished run of {tenant}"),
        |c| done_since(c, tenant, since_ms).cloned(),
        || logs(serve),
    )
}

// ---------------------------------------------------------------------------------------------
// 1. Two tenants, two components, one process

#[test]
fn two_tenants_with_different_components_sync_side_by_side_and_never_mix() -> Result<()> {
    let es = SearchServer::start()?;
    let emu = Emulator::with_manifest(&small_manifest(), &[])?;
    let folder = tempfile::tempdir()?;
    seed_folder(folder.path());
    let dir = TenantsDir::new()?;
    let mut dropbox = Tenant::new(&emu, &es)?;
    schedule(&mut dropbox, "2s")?;
    let mut local = folder_tenant(&es, folder.path(), json!({}))?;
    schedule(&mut local, "2s")?;
    dir.put(&dropbox)?;
    dir.put(&local)?;
    let mut options = ServeOptions::new(&dir, &es);
    options.listen = true;
    let mut serve = Serve::start(&options, "runner-a")?;
    let start = now_ms();
    wait_done(&es, &options, &serve, &dropbox.tenant, start, FIRST_RUN)?;
    wait_done(&es, &options, &serve, &local.tenant, start, FIRST_RUN)?;
    assert_index_matches_tree(&emu, &es, &dropbox, &CompareOptions::from_tenant(&dropbox))?;
    assert_index_matches_folder(&es, &local.index, folder.path())?;

    // Both sources change; the next runs of each pick their own changes up.
    emu.upload("/A/added in serve.txt", b"an ocelot in the dropbox")?;
    emu.delete("/C/three.csv")?;
    write(folder.path(), "docs/new.txt", "a pangolin in the folder");
    fs::remove_file(folder.path().join("docs/deep/data.json"))?;
    let changed = now_ms();
    wait_done(&es, &options, &serve, &dropbox.tenant, changed, NEXT_RUN)?;
    wait_done(&es, &options, &serve, &local.tenant, changed, NEXT_RUN)?;
    assert_index_matches_tree(&emu, &es, &dropbox, &CompareOptions::from_tenant(&dropbox))?;
    assert_index_matches_folder(&es, &local.index, folder.path())?;
    assert!(es.find_text(&dropbox.index, "pangolin")?.is_empty());
    assert!(es.find_text(&local.index, "ocelot")?.is_empty());

    // Metrics and health, per tenant.
    let url = serve.listen_url(Duration::from_secs(10))?;
    let (code, health) = get_text(&format!("{url}/healthz"))?;
    ensure!(code == 200, "/healthz answered {code}: {health}");
    let (_, text) = get_text(&format!("{url}/metrics"))?;
    for t in [&dropbox, &local] {
        let runs = metric(
            &text,
            "tributary_runs_total",
            &[
                ("tenant", &t.tenant),
                ("kind", "incremental"),
                ("result", "ok"),
            ],
        );
        ensure!(
            runs.is_some_and(|n| n >= 2.0),
            "tributary_runs_total of {} is {runs:?}, want >= 2\n{text}",
            t.tenant
        );
        let docs = metric(&text, "tributary_documents_total", &[("tenant", &t.tenant)]);
        ensure!(
            docs.is_some_and(|n| n >= 5.0),
            "tributary_documents_total of {} is {docs:?}\n{text}",
            t.tenant
        );
    }

    // Ctrl-C: a clean exit.
    let code = serve.interrupt(Duration::from_secs(30))?;
    ensure!(
        code == Some(0),
        "serve exited {code:?} on SIGINT\n{}",
        logs(&serve)
    );

    // Every line of the log is the process's own or carries exactly one tenant, and a
    // tenant's lines never mention the other's index, files or root.
    let names = [dropbox.tenant.clone(), local.tenant.clone()];
    let mut problems = vec![];
    let stderr = serve.stderr();
    for raw in stderr.lines().filter(|l| !l.trim().is_empty()) {
        let Some(line) = LogLine::parse(raw) else {
            // The Ctrl-C notice is printed as is, for the terminal.
            if raw.starts_with("stopping:") {
                continue;
            }
            problems.push(format!("not a log line (no time, level or tenant): {raw}"));
            continue;
        };
        if is_process_line(&line) {
            continue;
        }
        let Some(tenant) = line.tenant() else {
            problems.push(format!("no tenant: {raw}"));
            continue;
        };
        if !names.contains(&tenant) {
            problems.push(format!("unknown tenant {tenant}: {raw}"));
        }
        if line.spans.len() > 1 {
            problems.push(format!(
                "in the spans of {} runs at once: {raw}",
                line.spans.len()
            ));
        }
        if let (Some((span, _)), Some(field)) = (&line.span, line.field("tenant"))
            && *span != field
        {
            problems.push(format!("span of {span} but tenant={field}: {raw}"));
        }
        let other = if tenant == dropbox.tenant {
            &local
        } else {
            &dropbox
        };
        let foreign = [
            other.index.as_str(),
            other.state_index.as_str(),
            other.tenant.as_str(),
        ];
        if let Some(word) = foreign.iter().find(|w| line.message.contains(**w)) {
            problems.push(format!("a line of {tenant} mentions {word}: {raw}"));
        }
        if tenant == dropbox.tenant && raw.contains(&*folder.path().to_string_lossy()) {
            problems.push(format!("a Dropbox line names the local folder: {raw}"));
        }
    }
    let runs: BTreeSet<String> = serve.finished_runs().into_iter().map(|(t, _)| t).collect();
    ensure!(
        runs.len() == 2,
        "run-finished lines name {runs:?}, want both tenants\n{}",
        logs(&serve)
    );
    if !problems.is_empty() {
        bail!("{} log problems:\n{}", problems.len(), problems.join("\n"));
    }
    Ok(())
}

/// Many tenants run at once on the process's few threads: a line of one run must never be
/// logged inside another run's span (a span entered across an `.await` leaks into whatever
/// task the thread polls next).
#[test]
fn concurrent_runs_never_log_in_each_others_spans() -> Result<()> {
    let es = SearchServer::start()?;
    let folder = tempfile::tempdir()?;
    seed_folder(folder.path());
    let dir = TenantsDir::new()?;
    let mut names = vec![];
    for _ in 0..10 {
        let mut t = folder_tenant(&es, folder.path(), json!({}))?;
        schedule(&mut t, "1s")?;
        dir.put(&t)?;
        names.push(t.tenant.clone());
    }
    let options = ServeOptions::new(&dir, &es);
    let serve = Serve::start(&options, "runner-a")?;
    wait_claims(
        &es,
        &options.coordination_index,
        Duration::from_secs(180),
        "100 runs",
        |c| (c.iter().filter(|c| c.done()).count() >= 100).then_some(()),
        || logs(&serve),
    )?;
    let mixed: Vec<String> = serve
        .lines()
        .into_iter()
        .filter(|l| {
            l.spans.len() > 1
                || l.field("tenant")
                    .is_some_and(|t| l.span.as_ref().is_some_and(|(s, _)| *s != t))
        })
        .map(|l| l.raw)
        .collect();
    ensure!(
        mixed.is_empty(),
        "{} lines carry another run's span:\n{}",
        mixed.len(),
        mixed
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 2. Hot reload

#[test]
fn tenant_files_added_changed_and_removed_take_effect_without_a_restart() -> Result<()> {
    let es = SearchServer::start()?;
    let emu = Emulator::with_manifest(&small_manifest(), &[])?;
    let dir = TenantsDir::new()?;
    let mut dropbox = Tenant::new(&emu, &es)?;
    schedule(&mut dropbox, "2s")?;
    dir.put(&dropbox)?;
    let options = ServeOptions::new(&dir, &es);
    let serve = Serve::start(&options, "runner-a")?;
    wait_done(&es, &options, &serve, &dropbox.tenant, 0, FIRST_RUN)?;

    // Added: a local-folder tenant appears and syncs.
    let folder = tempfile::tempdir()?;
    seed_folder(folder.path());
    let mut local = folder_tenant(&es, folder.path(), json!({}))?;
    schedule(&mut local, "2s")?;
    let added = now_ms();
    dir.put(&local)?;
    wait_done(&es, &options, &serve, &local.tenant, added, FIRST_RUN)?;
    assert_index_matches_folder(&es, &local.index, folder.path())?;

    // Changed: only Markdown from now on. A run that started before the change may finish on
    // the old settings; the first one that starts after the reload uses the new ones.
    local.set(
        "source",
        "include",
        toml::Value::Array(vec![toml::Value::String("*.md".into())]),
    )?;
    dir.put(&local)?;
    let reloaded = wait_log(
        &serve,
        Duration::from_secs(20),
        "the settings change",
        |l| {
            l.message.starts_with("tenant settings changed")
                && l.tenant() == Some(local.tenant.clone())
        },
    )?;
    wait_done(
        &es,
        &options,
        &serve,
        &local.tenant,
        reloaded.at_ms,
        NEXT_RUN,
    )?;
    assert_index_matches_folder_where(&es, &local.index, folder.path(), |_, e| {
        e.folder || e.name.ends_with(".md")
    })?;

    // Removed: its worker stops; no run of it starts afterwards, while the other tenant goes
    // on with its schedule.
    dir.remove(&local)?;
    let gone = wait_log(&serve, Duration::from_secs(20), "the removal", |l| {
        l.message.starts_with("tenant file gone") && l.tenant() == Some(local.tenant.clone())
    })?;
    let others = wait_claims(
        &es,
        &options.coordination_index,
        NEXT_RUN,
        "three more runs of the remaining tenant",
        |c| {
            let n = c
                .iter()
                .filter(|c| c.tenant == dropbox.tenant && c.started_at_ms > gone.at_ms && c.done())
                .count();
            (n >= 3).then_some(c.to_vec())
        },
        || logs(&serve),
    )?;
    let late: Vec<&Claim> = others
        .iter()
        .filter(|c| c.tenant == local.tenant && c.started_at_ms > gone.at_ms)
        .collect();
    ensure!(
        late.is_empty(),
        "the removed tenant was claimed after its file was gone: {late:?}\n{}",
        logs(&serve)
    );
    Ok(())
}

#[test]
fn a_dropbox_tenant_moved_to_another_path_converges_to_the_new_path() -> Result<()> {
    let es = SearchServer::start()?;
    let emu = Emulator::with_manifest(&small_manifest(), &[])?;
    let dir = TenantsDir::new()?;
    let mut dropbox = Tenant::new(&emu, &es)?;
    schedule(&mut dropbox, "2s")?;
    dropbox.set("source", "path", "/A")?;
    dropbox.set("source", "include_received_files", false)?;
    dir.put(&dropbox)?;
    let options = ServeOptions::new(&dir, &es);
    let serve = Serve::start(&options, "runner-a")?;
    wait_done(&es, &options, &serve, &dropbox.tenant, 0, FIRST_RUN)?;
    assert_index_matches_subtree(&emu, &es, &dropbox.index, "/A")?;

    dropbox.set("source", "path", "/C")?;
    dir.put(&dropbox)?;
    let reloaded = wait_log(
        &serve,
        Duration::from_secs(20),
        "the settings change",
        |l| l.message.starts_with("tenant settings changed"),
    )?;
    // The checkpoint covers /A: the runner must start over on /C by itself (nobody runs
    // `tributary sync --full` for a served tenant), not fail every slot from now on.
    wait_done(
        &es,
        &options,
        &serve,
        &dropbox.tenant,
        reloaded.at_ms,
        Duration::from_secs(30),
    )?;
    assert_index_matches_subtree(&emu, &es, &dropbox.index, "/C")?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 3. Bad tenant files

/// A copy of `t`'s config as another tenant (`id`), with its own index.
fn variant(t: &Tenant, id: &str) -> toml::Table {
    let mut c = t.config.clone();
    c.insert("tenant".into(), id.into());
    if let Some(es) = c.get_mut("elasticsearch").and_then(|v| v.as_table_mut()) {
        es.insert("index".into(), format!("{id}-index").into());
        es.insert("state_index".into(), format!("{id}-state").into());
    }
    c
}

#[test]
fn bad_tenant_files_are_reported_with_file_and_field_and_the_others_sync() -> Result<()> {
    let es = SearchServer::start()?;
    let emu = Emulator::with_manifest(&small_manifest(), &[])?;
    let dir = TenantsDir::new()?;
    let mut good = Tenant::new(&emu, &es)?;
    schedule(&mut good, "2s")?;
    dir.put(&good)?;
    dir.write_raw(
        "broken-syntax.toml",
        "connector = \"dropbox\"\n[source\npath = \"/\"\n",
    )?;
    let mut unknown_field = variant(&good, "unknown-field");
    let mut sandbox = toml::Table::new();
    sandbox.insert("memroy_mb".into(), 64.into());
    unknown_field.insert("sandbox".into(), toml::Value::Table(sandbox));
    dir.write_raw("unknown-field.toml", &toml::to_string(&unknown_field)?)?;
    // Sorted after the good file, so the good one is the first definition.
    let duplicate = variant(&good, &good.tenant);
    dir.write_raw("zz-duplicate.toml", &toml::to_string(&duplicate)?)?;
    let mut unknown_component = variant(&good, "unknown-component");
    unknown_component.insert("connector".into(), "no-such-component".into());
    dir.write_raw(
        "unknown-component.toml",
        &toml::to_string(&unknown_component)?,
    )?;

    let options = ServeOptions::new(&dir, &es);
    let serve = Serve::start(&options, "runner-a")?;
    wait_done(&es, &options, &serve, &good.tenant, 0, FIRST_RUN)?;
    assert_index_matches_tree(&emu, &es, &good, &CompareOptions::from_tenant(&good))?;
    // The duplicate's index was never written: the first definition is the one that runs.
    let duplicate_docs = es.count(&format!("{}-index", good.tenant)).unwrap_or(0);
    ensure!(
        duplicate_docs == 0,
        "the duplicate definition ran: {duplicate_docs} documents"
    );

    let dir_text = dir.path().to_string_lossy().into_owned();
    let expectations: [(&str, &[&str]); 4] = [
        ("broken-syntax.toml", &["TOML"]),
        (
            "unknown-field.toml",
            &["sandbox.memroy_mb", "unknown field"],
        ),
        ("zz-duplicate.toml", &["already defined", &good.tenant]),
        (
            "unknown-component.toml",
            &["connector", "no-such-component"],
        ),
    ];
    for (file, words) in expectations {
        let path = format!("{dir_text}/{file}");
        wait_log(
            &serve,
            Duration::from_secs(20),
            &format!("a problem with {file}"),
            |l| {
                l.level == "ERROR"
                    && l.message.contains(&path)
                    && words.iter().all(|w| l.message.contains(w))
            },
        )?;
    }
    let run = status(&options)?;
    run.expect_code(0)?;
    for (file, words) in &expectations[..3] {
        let path = format!("{dir_text}/{file}");
        ensure!(
            run.stdout.lines().any(|l| l.starts_with("problem:")
                && l.contains(&path)
                && words.iter().all(|w| l.contains(w))),
            "status has no problem line for {file} naming {words:?}\n{}",
            run.describe()
        );
    }
    ensure!(
        run.stdout
            .lines()
            .any(|l| l.starts_with(&good.tenant) && l.contains("ok")),
        "status does not show the good tenant's last run\n{}",
        run.describe()
    );
    // Nothing of the bad ones was ever claimed.
    let strangers: Vec<Claim> = options
        .claims(&es)?
        .into_iter()
        .filter(|c| c.tenant != good.tenant)
        .collect();
    ensure!(
        strangers.is_empty(),
        "bad tenants were claimed: {strangers:?}"
    );
    Ok(())
}

#[test]
fn status_names_a_tenant_whose_component_does_not_exist() -> Result<()> {
    let es = SearchServer::start()?;
    let emu = Emulator::with_manifest(&small_manifest(), &[])?;
    let dir = TenantsDir::new()?;
    let good = Tenant::new(&emu, &es)?;
    dir.put(&good)?;
    let mut unknown_component = variant(&good, "unknown-component");
    unknown_component.insert("connector".into(), "no-such-component".into());
    let file = dir.write_raw(
        "unknown-component.toml",
        &toml::to_string(&unknown_component)?,
    )?;
    let options = ServeOptions::new(&dir, &es);
    let run = status(&options)?;
    run.expect_code(0)?;
    let path = file.to_string_lossy();
    ensure!(
        run.stdout.lines().any(|l| l.starts_with("problem:")
            && l.contains(&*path)
            && l.contains("connector")
            && l.contains("no-such-component")),
        "status shows no problem for a tenant whose component does not exist\n{}",
        run.describe()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 4. Cancel

#[test]
fn cancel_stops_a_long_run_within_five_seconds_and_the_next_run_resumes() -> Result<()> {
    let es = SearchServer::start()?;
    // Three pages of listing (2,000 entries each) and a slow download for every file.
    let emu = Emulator::start(&[
        "--generate",
        "files=4500,depth=3,fanout=10,seed=11,max_size=2048,paper=0,text=1.0",
    ])?;
    emu.set_faults(
        1,
        json!([{"kind": "latency", "route_prefix": "files/download", "latency_ms": 60}]),
    )?;
    let dir = TenantsDir::new()?;
    let mut t = Tenant::new(&emu, &es)?;
    schedule(&mut t, "15s")?;
    t.unset("source", "concurrent_downloads")?;
    t.set("sync", "concurrent_downloads", 8)?;
    dir.put(&t)?;
    let options = ServeOptions::new(&dir, &es);
    let serve = Serve::start(&options, "runner-a")?;
    // Cancel once the first page is checkpointed, in the middle of the second.
    let committed = wait_for(FIRST_RUN, Duration::from_millis(200), || {
        t.state_doc(&es)
            .ok()
            .flatten()
            .filter(|d| !d["checkpoint"].is_null())
    });
    ensure!(
        committed.is_some(),
        "no checkpoint was committed\n{}",
        logs(&serve)
    );
    let running = options
        .claims(&es)?
        .into_iter()
        .find(|c| c.tenant == t.tenant && c.state == "running")
        .with_context(|| format!("no running claim\n{}", logs(&serve)))?;
    let run = cancel(&options, &t.tenant, 10)?;
    println!(
        "cancel: {:.2}s: {}",
        run.elapsed.as_secs_f64(),
        run.stdout.trim()
    );
    run.expect_code(0)?;
    ensure!(
        run.elapsed < Duration::from_secs(5),
        "cancel took {:.1}s\n{}\n{}",
        run.elapsed.as_secs_f64(),
        run.describe(),
        logs(&serve)
    );
    emu.clear_faults()?;
    let closed = options
        .claims(&es)?
        .into_iter()
        .find(|c| c.tenant == t.tenant && c.slot == running.slot)
        .context("the cancelled claim is gone")?;
    ensure!(
        closed.done() && closed.outcome() == "cancelled",
        "the cancelled claim is {} with outcome {:?}\n{}",
        closed.state,
        closed.outcome,
        logs(&serve)
    );
    let state = t.state_doc(&es)?.context("the state document is gone")?;
    ensure!(
        !state["checkpoint"].is_null(),
        "the checkpoint was lost by the cancel: {state}"
    );
    // The next slot resumes from the checkpoint: it sees fewer entries than the tree holds.
    let next = wait_done(
        &es,
        &options,
        &serve,
        &t.tenant,
        closed.finished_at_ms.unwrap_or(0),
        NEXT_RUN,
    )?;
    let total = emu.tree()?["entries"].as_array().map(Vec::len).unwrap_or(0) as u64;
    println!(
        "next run: {} seen of {total} entries, outcome {}",
        next.count("seen"),
        next.outcome()
    );
    ensure!(
        next.outcome() == "ok" && next.count("seen") > 0 && next.count("seen") < total,
        "the run after the cancel did not resume (seen {} of {total}): {next:?}\n{}",
        next.count("seen"),
        logs(&serve)
    );
    assert_index_matches_tree(&emu, &es, &t, &CompareOptions::from_tenant(&t))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 5. Containment

/// A hostile tenant, what its claim must end as, and the words its outcome must hold.
struct Hostile {
    tenant: Tenant,
    state: &'static str,
    words: Vec<String>,
}

#[test]
fn hostile_tenants_are_contained_while_a_dropbox_tenant_in_the_same_process_syncs() -> Result<()> {
    let es = SearchServer::start()?;
    let emu = Emulator::start(&[
        "--generate",
        "files=1500,depth=3,fanout=10,seed=5,max_size=4096,paper=0.01,text=0.8",
    ])?;
    // The Dropbox tenant alone first: how long its first run takes in a quiet process.
    let alone = {
        let dir = TenantsDir::new()?;
        let mut t = Tenant::new(&emu, &es)?;
        schedule(&mut t, "1h")?;
        dir.put(&t)?;
        let options = ServeOptions::new(&dir, &es);
        let serve = Serve::start(&options, "runner-alone")?;
        let claim = wait_done(&es, &options, &serve, &t.tenant, 0, FIRST_RUN)?;
        claim.finished_at_ms.unwrap_or(0) - claim.started_at_ms
    };

    let dir = TenantsDir::new()?;
    let marker = planted("panic-marker");
    let denied_target = TestServer::start(Behaviour::Fixed {
        body: "never".into(),
    })?;
    let allowed = TestServer::start(Behaviour::Echo)?;
    let hang = TestServer::start(Behaviour::Hang)?;
    let millions = tributary_e2e::serve::env_number("SERVE_MILLION_CHANGES", 1_000_000);
    let cases: Vec<(&str, Value, Value, &str, Vec<String>)> = vec![
        // Two spinning guests: were they not made to yield, they would hold both worker
        // threads of a 2-core machine and stall everyone for their whole CPU budget.
        (
            "loop",
            json!({}),
            json!({"cpu_secs": 25, "call_timeout_secs": 120, "memory_mb": 64}),
            "failed",
            vec!["sandbox.cpu_secs".into()],
        ),
        (
            "loop",
            json!({}),
            json!({"call_timeout_secs": 25, "memory_mb": 64}),
            "failed",
            vec!["sandbox.call_timeout_secs".into()],
        ),
        (
            "memory-bomb",
            json!({}),
            json!({"cpu_secs": 20, "call_timeout_secs": 60, "memory_mb": 64}),
            "failed",
            vec!["memory".into(), "sandbox.memory_mb".into()],
        ),
        (
            "panic",
            json!({"marker": marker}),
            json!({"cpu_secs": 5, "call_timeout_secs": 10}),
            "failed",
            vec!["panicked".into(), marker.clone()],
        ),
        (
            "stack-overflow",
            json!({}),
            json!({"cpu_secs": 10, "call_timeout_secs": 30}),
            "failed",
            vec!["stack".into()],
        ),
        (
            "million-changes",
            json!({"count": millions}),
            json!({"memory_mb": 1024, "call_timeout_secs": 120, "max_page_changes": 10_000}),
            "failed",
            vec!["sandbox.max_page_changes".into()],
        ),
        (
            "huge-fields",
            json!({"bytes": 50 << 20}),
            json!({"memory_mb": 512, "call_timeout_secs": 60, "max_field_bytes": 1 << 20}),
            "failed",
            vec!["sandbox.max_field_bytes".into()],
        ),
        (
            "malformed-json",
            json!({}),
            json!({"call_timeout_secs": 30}),
            "failed",
            vec!["bad-1".into(), "not a JSON object".into()],
        ),
        (
            "huge-checkpoint",
            json!({"bytes": 100 << 20}),
            json!({"memory_mb": 512, "call_timeout_secs": 60, "max_checkpoint_bytes": 1 << 20}),
            "failed",
            vec!["sandbox.max_checkpoint_bytes".into()],
        ),
        (
            "hang",
            json!({"url": format!("{}/never", hang.url)}),
            json!({"call_timeout_secs": 3}),
            "failed",
            vec!["sandbox.call_timeout_secs".into()],
        ),
        // Denied traffic is an error value the component handles: its run completes, with the
        // denied download as a content failure.
        (
            "denied-host",
            json!({"url": format!("{}/data", denied_target.url), "allowed": [allowed.url]}),
            json!({"call_timeout_secs": 30}),
            "done",
            vec!["completed_with_errors".into()],
        ),
    ];
    let mut hostiles = vec![];
    for (mode, source, sandbox, state, words) in cases {
        let mut t = hostile_tenant(&es, mode, source, sandbox)?;
        t.set("sync", "retry_count", 0)?;
        schedule(&mut t, "1h")?;
        dir.put(&t)?;
        hostiles.push(Hostile {
            tenant: t,
            state,
            words,
        });
    }
    let mut dropbox = Tenant::new(&emu, &es)?;
    schedule(&mut dropbox, "1h")?;
    dir.put(&dropbox)?;
    let mut options = ServeOptions::new(&dir, &es);
    options.listen = true;
    let serve = Serve::start(&options, "runner-a")?;

    let good = wait_done(&es, &options, &serve, &dropbox.tenant, 0, FIRST_RUN)?;
    let with_hostiles = good.finished_at_ms.unwrap_or(0) - good.started_at_ms;
    assert_index_matches_tree(&emu, &es, &dropbox, &CompareOptions::from_tenant(&dropbox))?;
    let loops: Vec<&str> = hostiles
        .iter()
        .filter(|h| h.tenant.config["source"]["mode"].as_str() == Some("loop"))
        .map(|h| h.tenant.tenant.as_str())
        .collect();
    let ended = wait_claims(
        &es,
        &options.coordination_index,
        Duration::from_secs(300),
        "every hostile tenant's first run to end",
        |c| {
            hostiles
                .iter()
                .map(|h| finished_since(c, &h.tenant.tenant, 0).cloned())
                .collect::<Option<Vec<Claim>>>()
        },
        || logs(&serve),
    )?;
    println!(
        "Dropbox tenant: {alone} ms alone, {with_hostiles} ms beside {} hostile tenants",
        hostiles.len()
    );
    let mut problems = vec![];
    for (h, claim) in hostiles.iter().zip(&ended) {
        let mode = h.tenant.config["source"]["mode"].as_str().unwrap_or("?");
        println!(
            "{mode:>16}: {} after {} ms: {}",
            claim.state,
            claim.finished_at_ms.unwrap_or(0) - claim.started_at_ms,
            claim.outcome()
        );
        if claim.state != h.state || !h.words.iter().all(|w| claim.outcome().contains(w.as_str())) {
            problems.push(format!(
                "{mode} ({}): claim {} with outcome {:?}; want {} naming {:?}",
                h.tenant.tenant, claim.state, claim.outcome, h.state, h.words
            ));
        }
        if loops.contains(&h.tenant.tenant.as_str())
            && claim.finished_at_ms.unwrap_or(0) < good.finished_at_ms.unwrap_or(0)
        {
            problems.push(format!(
                "the loop {} ended before the Dropbox run did: the test proves nothing about stalls",
                h.tenant.tenant
            ));
        }
    }
    ensure!(
        denied_target.count() == 0,
        "the denied host was contacted: {:?}",
        denied_target.received()
    );
    // Beside two spinning guests on a shared 2-core machine the Dropbox run gets less CPU, but
    // it must not wait for them.
    if with_hostiles > alone * 4 + 10_000 {
        problems.push(format!(
            "the Dropbox run took {with_hostiles} ms beside the hostile tenants, {alone} ms alone"
        ));
    }
    let url = serve.listen_url(Duration::from_secs(5))?;
    let (_, text) = get_text(&format!("{url}/metrics"))?;
    for (h, limit) in hostiles.iter().zip([
        Some("sandbox.cpu_secs"),
        Some("sandbox.call_timeout_secs"),
        Some("sandbox.memory_mb"),
    ]) {
        let Some(limit) = limit else { continue };
        let hits = metric(
            &text,
            "tributary_limit_hits_total",
            &[("tenant", &h.tenant.tenant), ("limit", limit)],
        );
        // A failed slot is tried again after a backoff, and each attempt hits the limit again.
        if !hits.is_some_and(|n| n >= 1.0) {
            problems.push(format!(
                "tributary_limit_hits_total{{tenant={}, limit={limit}}} is {hits:?}",
                h.tenant.tenant
            ));
        }
    }
    if !problems.is_empty() {
        bail!("{}\n{}", problems.join("\n"), logs(&serve));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 6. Fair shares

/// Files of the small tenant, and the emulator's latency on every download.
const SMALL_FILES: u64 = 20;
const LATENCY_MS: u64 = 100;
/// `[limits] downloads` of the process.
const DOWNLOADS: u64 = 4;

#[test]
fn a_small_tenant_is_not_starved_by_a_big_one_sharing_the_download_budget() -> Result<()> {
    let es = SearchServer::start()?;
    let big_files = tributary_e2e::serve::env_number("SERVE_FAIR_BIG_FILES", 800);
    let mut files = vec![];
    for i in 0..big_files {
        files.push(json!({"path": format!("/big/d{}/f{i:05}.txt", i % 20), "content": format!("big file {i}")}));
    }
    for i in 0..SMALL_FILES {
        files.push(
            json!({"path": format!("/small/f{i:02}.txt"), "content": format!("small file {i}")}),
        );
    }
    let emu = Emulator::with_manifest(&json!({"files": files}), &[])?;
    emu.set_faults(
        3,
        json!([{"kind": "latency", "route_prefix": "files/download", "latency_ms": LATENCY_MS}]),
    )?;
    let dir = TenantsDir::new()?;
    let limits_dir = tempfile::tempdir()?;
    let serve_toml = limits_dir.path().join("serve.toml");
    fs::write(
        &serve_toml,
        format!("[limits]\ndownloads = {DOWNLOADS}\nconcurrent_runs = 2\n"),
    )?;
    // Each asks for 100 downloads at once (the harness's concurrent_downloads).
    let mut big = Tenant::new(&emu, &es)?;
    let mut small = Tenant::new(&emu, &es)?;
    for (t, path) in [(&mut big, "/big"), (&mut small, "/small")] {
        schedule(t, "1h")?;
        t.set("source", "path", path)?;
        t.set("source", "include_received_files", false)?;
    }
    dir.put(&big)?;
    let mut options = ServeOptions::new(&dir, &es);
    options.config = Some(serve_toml);
    let serve = Serve::start(&options, "runner-a")?;
    // The small tenant arrives while the big one is downloading with the whole budget.
    let busy = wait_for(FIRST_RUN, Duration::from_millis(200), || {
        es.count(&big.index).ok().filter(|n| *n >= 50)
    });
    ensure!(
        busy.is_some(),
        "the big tenant never got going\n{}",
        logs(&serve)
    );
    let small_added = now_ms();
    dir.put(&small)?;
    let small_claim = wait_done(&es, &options, &serve, &small.tenant, small_added, FIRST_RUN)?;
    let big_claim = wait_done(
        &es,
        &options,
        &serve,
        &big.tenant,
        0,
        Duration::from_secs(300),
    )?;
    let took = |c: &Claim| c.finished_at_ms.unwrap_or(0) - c.started_at_ms;
    // With its fair half of the budget the small tenant needs SMALL_FILES x LATENCY_MS /
    // (DOWNLOADS / 2) of downloading. Were the budget first come, first served, it would get a
    // unit only as often as it beat the big tenant's ~100 waiting downloads to one: about ten
    // times longer.
    let fair_ms = SMALL_FILES * LATENCY_MS / (DOWNLOADS / 2);
    println!(
        "big: {big_files} files in {} ms; small: {SMALL_FILES} files in {} ms (fair share: {fair_ms} ms of downloads), claimed {} ms after it was added, while the big one ran",
        took(&big_claim),
        took(&small_claim),
        small_claim.started_at_ms - small_added,
    );
    ensure!(
        small_claim.started_at_ms < big_claim.finished_at_ms.unwrap_or(0),
        "the tenants never ran at once: small {small_claim:?}, big {big_claim:?}"
    );
    ensure!(
        small_claim.finished_at_ms < big_claim.finished_at_ms,
        "the small tenant finished after the big one: small {small_claim:?}, big {big_claim:?}"
    );
    ensure!(
        took(&small_claim) <= fair_ms * 3 + 1500,
        "the small tenant took {} ms for {SMALL_FILES} files, its fair share allows about {fair_ms} ms: it waited behind the big one",
        took(&small_claim),
    );
    assert_index_matches_subtree(&emu, &es, &small.index, "/small")?;
    assert_index_matches_subtree(&emu, &es, &big.index, "/big")?;
    Ok(())
}

/// A slot claimed while every run slot of the process is busy waits its turn; its claim must
/// stay held meanwhile (heartbeats), or another process takes it over and runs it while this
/// one still means to.
#[test]
fn a_claim_waiting_for_a_run_slot_keeps_its_lease() -> Result<()> {
    let es = SearchServer::start()?;
    let mut files = vec![];
    for i in 0..400 {
        files
            .push(json!({"path": format!("/big/f{i:04}.txt"), "content": format!("big file {i}")}));
    }
    files.push(json!({"path": "/small/only.txt", "content": "small"}));
    let emu = Emulator::with_manifest(&json!({"files": files}), &[])?;
    emu.set_faults(
        5,
        json!([{"kind": "latency", "route_prefix": "files/download", "latency_ms": LATENCY_MS}]),
    )?;
    let dir = TenantsDir::new()?;
    let mut big = Tenant::new(&emu, &es)?;
    let mut small = Tenant::new(&emu, &es)?;
    for (t, path) in [(&mut big, "/big"), (&mut small, "/small")] {
        schedule(t, "1h")?;
        t.set("source", "path", path)?;
        t.set("source", "include_received_files", false)?;
        t.unset("source", "concurrent_downloads")?;
        t.set("sync", "concurrent_downloads", 4)?;
    }
    dir.put(&big)?;
    let mut options = ServeOptions::new(&dir, &es);
    options.lease_secs = 3;
    options.concurrent_runs = Some(1);
    let serve = Serve::start(&options, "runner-a")?;
    let busy = wait_for(FIRST_RUN, Duration::from_millis(200), || {
        es.count(&big.index).ok().filter(|n| *n >= 20)
    });
    ensure!(
        busy.is_some(),
        "the big tenant never got going\n{}",
        logs(&serve)
    );
    dir.put(&small)?;
    // Watch the small tenant's claim until it is done: while it waits it must never look
    // abandoned (running, its lease over) to the other processes.
    let mut lapses = vec![];
    let done = wait_claims(
        &es,
        &options.coordination_index,
        Duration::from_secs(120),
        "the small tenant's run",
        |c| {
            let claim = c.iter().find(|c| c.tenant == small.tenant)?;
            let now = now_ms();
            if claim.state == "running" && claim.expires_at_ms + 500 < now {
                lapses.push(now - claim.expires_at_ms);
            }
            claim.done().then(|| claim.clone())
        },
        || logs(&serve),
    )?;
    ensure!(
        lapses.is_empty(),
        "the small tenant's claim (held by a live process waiting for a run slot) lay expired for up to {} ms: any other process would have taken it over; claim {done:?}",
        lapses.iter().max().copied().unwrap_or(0)
    );
    Ok(())
}

/// A page that takes longer than the lease: the run's heartbeat must keep the tenant's
/// checkpoint lease alive too, or another process may take the tenant (for its next slot)
/// while this run still writes.
#[test]
fn a_long_page_keeps_the_checkpoint_lease_alive() -> Result<()> {
    let es = SearchServer::start()?;
    let mut files = vec![];
    for i in 0..400 {
        files.push(
            json!({"path": format!("/slow/f{i:04}.txt"), "content": format!("slow file {i}")}),
        );
    }
    let emu = Emulator::with_manifest(&json!({"files": files}), &[])?;
    emu.set_faults(
        7,
        json!([{"kind": "latency", "route_prefix": "files/download", "latency_ms": LATENCY_MS}]),
    )?;
    let dir = TenantsDir::new()?;
    let mut t = Tenant::new(&emu, &es)?;
    schedule(&mut t, "1h")?;
    t.unset("source", "concurrent_downloads")?;
    t.set("sync", "concurrent_downloads", 4)?;
    dir.put(&t)?;
    let mut options = ServeOptions::new(&dir, &es);
    options.lease_secs = 3;
    let serve = Serve::start(&options, "runner-a")?;
    // 400 downloads of 100 ms, 4 at a time: one page of about 10 s.
    let mut lapses = vec![];
    let done = wait_claims(
        &es,
        &options.coordination_index,
        Duration::from_secs(120),
        "the run",
        |c| {
            let claim = c.iter().find(|c| c.tenant == t.tenant)?;
            if claim.state == "running" {
                let state = t.state_doc(&es).ok().flatten();
                let expires = state
                    .as_ref()
                    .and_then(|d| d["lease"]["expires_at_ms"].as_u64());
                let now = now_ms();
                if let Some(at) = expires
                    && at + 500 < now
                {
                    lapses.push(now - at);
                }
            }
            claim.done().then(|| claim.clone())
        },
        || logs(&serve),
    )?;
    ensure!(
        done.counts["duration_secs"].as_f64().unwrap_or(0.0) > 4.0,
        "the run was too short to outlast the lease: {done:?}"
    );
    ensure!(
        lapses.is_empty(),
        "while the run went on, the checkpoint lease lay expired for up to {} ms (lease 3 s): another process could have taken the tenant",
        lapses.iter().max().copied().unwrap_or(0)
    );
    Ok(())
}

/// The end of a run races its last heartbeat: were the heartbeat's write cut off after it
/// reached the index (but before the runner noted the new version), the run could not record
/// its result, its claim would stay `running` and the slot would be run again when the lease
/// ran out, by the same process. A slow link to the coordination index keeps a heartbeat in
/// flight much of the time, so runs end during one.
#[test]
fn a_run_that_ends_during_a_heartbeat_records_its_result_and_runs_once() -> Result<()> {
    let es = SearchServer::start()?;
    let proxy = SearchProxy::start(&es)?;
    proxy.set_faults(1, json!([{"latency_ms": 700}]))?;
    // Every API call 250 ms: a run of a few calls outlasts a heartbeat period (1 s).
    let emu = Emulator::with_manifest(&small_manifest(), &[])?;
    emu.set_faults(9, json!([{"kind": "latency", "latency_ms": 250}]))?;
    let dir = TenantsDir::new()?;
    for _ in 0..4 {
        let mut t = Tenant::new(&emu, &es)?;
        schedule(&mut t, "3s")?;
        dir.put(&t)?;
    }
    let mut options = ServeOptions::new(&dir, &es);
    options.coordination_url = proxy.url.clone();
    options.lease_secs = 3;
    let serve = Serve::start(&options, "runner-a")?;
    wait_claims(
        &es,
        &options.coordination_index,
        Duration::from_secs(240),
        "40 runs",
        |c| (c.iter().filter(|c| c.done()).count() >= 40).then_some(()),
        || logs(&serve),
    )?;
    let lines = serve.lines();
    let unrecorded: Vec<&str> = lines
        .iter()
        .filter(|l| l.message.starts_with("recording the run"))
        .map(|l| l.raw.as_str())
        .collect();
    let mut finished = std::collections::BTreeMap::new();
    for key in serve.finished_runs() {
        *finished.entry(key).or_insert(0) += 1;
    }
    let twice: Vec<_> = finished.iter().filter(|(_, n)| **n > 1).collect();
    ensure!(
        unrecorded.is_empty() && twice.is_empty(),
        "runs that could not record their result:\n{}\nslots finished more than once: {twice:?}\n{}",
        unrecorded.join("\n"),
        logs(&serve)
    );
    Ok(())
}
