//! Every sandbox promise, pinned by a test component that tries to break it
//! (tests/components/hostile, one misbehaviour per `mode`).
//!
//! Each test runs the real `tributary sync` against osmem-server with low `[sandbox]` limits,
//! and asserts that the run ends within a bound, with the right exit code, and that stderr
//! names the reason and the setting that raises the limit; or, for traffic and secrets, that
//! nothing reached a server it should not and nothing sensitive reached the component.

use serde_json::{Value, json};
use std::time::Duration;
use tributary_e2e::fixtures::small_manifest;
use tributary_e2e::sandbox::{
    Behaviour, TestServer, allow_credential, component_report, documents_containing,
    expect_contained, hostile_tenant, planted, sync_within,
};
use tributary_e2e::{Emulator, Run, SearchServer, Tenant};

/// How long any contained run may take: limits of a few seconds, plus a debug-build runner
/// compiling the component on a machine shared with other builds.
const BOUND: Duration = Duration::from_secs(90);

/// The planted environment variable every tributary run here carries: the component must
/// never see it.
const PLANTED_VAR: &str = "TRIBUTARY_TEST_PLANTED_SECRET";

/// The ids of every document in the tenant's index (none when the index does not exist).
fn indexed_ids(es: &SearchServer, t: &Tenant) -> anyhow::Result<Vec<String>> {
    documents_containing(es, &t.index, "")
}

// ---------------------------------------------------------------------------------------------
// CPU, memory, stack, panics

#[test]
fn an_endless_loop_is_stopped_by_the_cpu_budget() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let t = hostile_tenant(
        &es,
        "loop",
        json!({}),
        json!({"cpu_secs": 2, "call_timeout_secs": 60, "memory_mb": 64}),
    )?;
    let run = sync_within(&t, BOUND, &[])?;
    expect_contained(
        &run,
        1,
        Duration::from_secs(45),
        &["cpu", "sandbox.cpu_secs"],
    )?;
    assert!(indexed_ids(&es, &t)?.is_empty());
    Ok(())
}

#[test]
fn an_endless_loop_is_stopped_by_the_call_timeout() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let t = hostile_tenant(
        &es,
        "loop",
        json!({}),
        json!({"call_timeout_secs": 3, "memory_mb": 64}),
    )?;
    let run = sync_within(&t, BOUND, &[])?;
    expect_contained(
        &run,
        1,
        Duration::from_secs(45),
        &["sandbox.call_timeout_secs"],
    )?;
    Ok(())
}

#[test]
fn a_loop_in_configure_is_stopped_before_any_sync() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let t = hostile_tenant(
        &es,
        "loop",
        json!({"at": "configure"}),
        json!({"cpu_secs": 2, "call_timeout_secs": 60, "memory_mb": 64}),
    )?;
    let run = sync_within(&t, BOUND, &[])?;
    expect_contained(&run, 1, Duration::from_secs(45), &["sandbox.cpu_secs"])?;
    Ok(())
}

#[test]
fn a_memory_bomb_is_stopped_at_the_memory_cap() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let t = hostile_tenant(
        &es,
        "memory-bomb",
        json!({}),
        json!({"cpu_secs": 20, "call_timeout_secs": 60, "memory_mb": 64}),
    )?;
    let run = sync_within(&t, BOUND, &[])?;
    expect_contained(&run, 1, BOUND, &["memory", "sandbox.memory_mb"])?;
    Ok(())
}

#[test]
fn a_panic_is_reported_with_its_message() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let marker = planted("panic-marker");
    for at in ["start", "next-page"] {
        let t = hostile_tenant(
            &es,
            "panic",
            json!({"marker": marker, "at": at}),
            json!({"cpu_secs": 5, "call_timeout_secs": 10}),
        )?;
        let run = sync_within(&t, BOUND, &[])?;
        let message = format!("hostile component panicked on purpose ({marker}) in {at}");
        expect_contained(&run, 1, BOUND, &["panicked", &message])?;
    }
    Ok(())
}

#[test]
fn a_stack_overflow_is_a_trap_that_names_the_stack() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let t = hostile_tenant(
        &es,
        "stack-overflow",
        json!({}),
        json!({"cpu_secs": 10, "call_timeout_secs": 30}),
    )?;
    let run = sync_within(&t, BOUND, &[])?;
    expect_contained(&run, 1, BOUND, &[])?;
    let stderr = run.stderr.to_lowercase();
    assert!(
        (stderr.contains("stack") && stderr.contains("overflow"))
            || stderr.contains("call stack exhausted"),
        "the trap does not say the stack overflowed\n{}",
        run.describe()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Oversized and malformed output

#[test]
fn a_page_of_a_million_changes_is_refused() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    // Just over the limit, and far over it (where the page no longer fits through the
    // boundary in one piece). Memory enough to build either page: the page size, not the
    // memory cap, must stop it.
    for count in [10_001, 1_000_000] {
        let t = hostile_tenant(
            &es,
            "million-changes",
            json!({"count": count}),
            json!({"memory_mb": 1024, "call_timeout_secs": 120, "max_page_changes": 10_000}),
        )?;
        let run = sync_within(&t, Duration::from_secs(240), &[])?;
        expect_contained(
            &run,
            1,
            Duration::from_secs(240),
            &["sandbox.max_page_changes"],
        )
        .map_err(|e| e.context(format!("a page of {count} changes")))?;
        // The page is refused as a whole: none of it is indexed.
        assert_eq!(indexed_ids(&es, &t)?.len(), 0, "{}", run.describe());
    }
    Ok(())
}

#[test]
fn huge_document_fields_are_refused() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let t = hostile_tenant(
        &es,
        "huge-fields",
        json!({"bytes": 50 << 20}),
        json!({"memory_mb": 512, "call_timeout_secs": 60, "max_field_bytes": 1 << 20}),
    )?;
    let run = sync_within(&t, BOUND, &[])?;
    expect_contained(&run, 1, BOUND, &["sandbox.max_field_bytes"])?;
    assert!(
        !indexed_ids(&es, &t)?.contains(&"huge".to_string()),
        "the 50 MB document was indexed\n{}",
        run.describe()
    );
    Ok(())
}

#[test]
fn a_huge_checkpoint_is_refused() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let t = hostile_tenant(
        &es,
        "huge-checkpoint",
        json!({"bytes": 100 << 20}),
        json!({"memory_mb": 512, "call_timeout_secs": 60, "max_checkpoint_bytes": 1 << 20}),
    )?;
    let run = sync_within(&t, BOUND, &[])?;
    expect_contained(&run, 1, BOUND, &["sandbox.max_checkpoint_bytes"])?;
    let stored = t
        .state_doc(&es)
        .ok()
        .flatten()
        .map(|d| d.to_string().len())
        .unwrap_or(0);
    assert!(
        stored < 1 << 20,
        "a {stored}-byte state document was stored\n{}",
        run.describe()
    );
    Ok(())
}

#[test]
fn malformed_fields_are_refused_naming_the_document() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    for mode in ["malformed-json", "fields-not-object"] {
        let t = hostile_tenant(&es, mode, json!({}), json!({"call_timeout_secs": 30}))?;
        let run = sync_within(&t, BOUND, &[])?;
        expect_contained(&run, 1, BOUND, &["\"bad-1\"", "not a JSON object"])?;
        assert!(
            !indexed_ids(&es, &t)?.contains(&"bad-1".to_string()),
            "{mode}: the malformed document was indexed\n{}",
            run.describe()
        );
    }
    Ok(())
}

#[test]
fn an_oversized_response_is_cut_at_the_cap() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    for chunked in [false, true] {
        let big = TestServer::start(Behaviour::Big {
            bytes: 3 << 20,
            chunked,
        })?;
        let mut t = hostile_tenant(
            &es,
            "big-response",
            json!({"url": format!("{}/big", big.url)}),
            json!({"call_timeout_secs": 30, "max_response_bytes": 1 << 20}),
        )?;
        t.set("sync", "retry_count", 0)?;
        let run = sync_within(&t, BOUND, &[])?;
        expect_contained(&run, 1, BOUND, &["sandbox.max_response_bytes"])?;
        assert!(big.count() >= 1, "the big server was never asked");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Traffic: allow-list, redirects, hangs

/// The run went to its end: every page applied and the checkpoint committed, the only
/// failures being content downloads (exit 1, outcome `completed_with_errors`) or none.
fn expect_completed(run: &Run) -> anyhow::Result<()> {
    let outcome = run
        .report
        .as_ref()
        .map(|r| r["outcome"].clone())
        .unwrap_or(Value::Null);
    let committed = run
        .report
        .as_ref()
        .is_some_and(|r| r["checkpoint_committed"] == json!(true));
    let expected = match run.code {
        Some(0) => outcome == json!("ok"),
        Some(1) => outcome == json!("completed_with_errors") && run.n("write_failures") == 0,
        _ => false,
    };
    anyhow::ensure!(
        expected && committed,
        "the run did not complete\n{}",
        run.describe()
    );
    Ok(())
}

#[test]
fn a_host_off_the_allow_list_is_never_contacted() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let marker = planted("denied-body");
    let target = TestServer::start(Behaviour::Fixed {
        body: marker.clone(),
    })?;
    let allowed = TestServer::start(Behaviour::Echo)?;
    let t = hostile_tenant(
        &es,
        "denied-host",
        json!({"url": format!("{}/data", target.url), "allowed": [allowed.url]}),
        json!({"call_timeout_secs": 30}),
    )?;
    let run = sync_within(&t, BOUND, &[])?;
    // The component got an error value, recorded it and finished; only the content download
    // it asked for failed.
    expect_completed(&run)?;
    let report = component_report(&es, &t.index, "denied-host")?;
    let error = report["outcome"]["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("denied"),
        "the component did not receive `denied`: {report}"
    );
    assert_eq!(
        target.count(),
        0,
        "the denied server received {:?}",
        target.received()
    );
    assert_eq!(
        allowed.count(),
        0,
        "nothing was addressed to the allowed one"
    );
    assert!(documents_containing(&es, &t.index, &marker)?.is_empty());
    // The content download it asked for was denied too.
    let content = es
        .get(&t.index, "denied-host-content")?
        .ok_or_else(|| anyhow::anyhow!("no denied-host-content document"))?;
    assert_ne!(content["content_status"], json!("extracted"), "{content}");
    Ok(())
}

#[test]
fn a_redirect_is_returned_to_the_component_and_never_followed() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let marker = planted("redirect-target-body");
    let target = TestServer::start(Behaviour::Fixed {
        body: marker.clone(),
    })?;
    let location = format!("{}/elsewhere", target.url);
    let redirect = TestServer::start(Behaviour::Redirect {
        location: location.clone(),
    })?;
    let t = hostile_tenant(
        &es,
        "redirect",
        json!({"url": format!("{}/start", redirect.url)}),
        json!({"call_timeout_secs": 30}),
    )?;
    let run = sync_within(&t, BOUND, &[])?;
    expect_completed(&run)?;
    let report = component_report(&es, &t.index, "redirect")?;
    assert_eq!(report["outcome"]["status"], json!(302), "{report}");
    let headers = report["outcome"]["headers"].to_string().to_lowercase();
    assert!(
        headers.contains(&format!("location: {location}").to_lowercase()),
        "{report}"
    );
    assert!(
        redirect.count() >= 2,
        "the component's request and its content download both went to the redirecting server: {:?}",
        redirect.received()
    );
    assert_eq!(
        target.count(),
        0,
        "the redirect was followed: {:?}",
        target.received()
    );
    assert!(documents_containing(&es, &t.index, &marker)?.is_empty());
    Ok(())
}

#[test]
fn a_hanging_server_ends_in_a_transport_error() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let hang = TestServer::start(Behaviour::Hang)?;
    let mut t = hostile_tenant(
        &es,
        "hang",
        json!({"url": format!("{}/never", hang.url), "timeout_ms": 500}),
        json!({"call_timeout_secs": 60}),
    )?;
    t.set("sync", "retry_count", 0)?;
    let run = sync_within(&t, BOUND, &[])?;
    expect_contained(&run, 1, Duration::from_secs(45), &["transport"])?;
    assert!(hang.count() >= 1, "the request never reached the server");
    Ok(())
}

#[test]
fn a_hanging_request_without_a_timeout_is_ended_by_the_call_timeout() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let hang = TestServer::start(Behaviour::Hang)?;
    let t = hostile_tenant(
        &es,
        "hang",
        json!({"url": format!("{}/never", hang.url)}),
        json!({"call_timeout_secs": 3}),
    )?;
    let run = sync_within(&t, BOUND, &[])?;
    expect_contained(
        &run,
        1,
        Duration::from_secs(45),
        &["sandbox.call_timeout_secs"],
    )?;
    assert!(hang.count() >= 1, "the request never reached the server");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Environment, files, clocks

#[test]
fn the_component_sees_no_environment_no_host_file_and_only_its_grant() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let planted_env = planted("planted-env");
    let outside = tempfile::tempdir()?;
    let outside_text = planted("outside-the-grant");
    std::fs::write(outside.path().join("escape-target.txt"), &outside_text)?;
    let granted = outside.path().join("granted");
    std::fs::create_dir(&granted)?;
    let visible = planted("visible");
    std::fs::write(granted.join("visible.txt"), &visible)?;
    std::os::unix::fs::symlink(
        outside.path().join("escape-target.txt"),
        granted.join("escape-link"),
    )?;
    std::os::unix::fs::symlink("..", granted.join("up-link"))?;
    let mut t = hostile_tenant(
        &es,
        "env-files-clocks",
        json!({"granted": granted.to_string_lossy()}),
        json!({"call_timeout_secs": 30}),
    )?;
    let config_path = t.config_path.to_string_lossy().into_owned();
    t.set("source", "config_file", config_path.as_str())?;
    let run = sync_within(&t, BOUND, &[(PLANTED_VAR, planted_env.as_str())])?;
    run.expect_code(0)?;
    let report = component_report(&es, &t.index, "probe")?;
    let mut problems = vec![];

    // Environment and arguments: nothing of the host's.
    let env = report["env"].as_array().cloned().unwrap_or_default();
    if !env.is_empty() {
        problems.push(format!("the component sees environment variables: {env:?}"));
    }
    let args = report["args"].to_string();
    if args.contains("tributary") || args.contains(&config_path) {
        problems.push(format!("the component sees the runner's arguments: {args}"));
    }

    // Files: the granted directory is readable (the probe works), nothing else is.
    let reads = report["reads"].as_array().cloned().unwrap_or_default();
    let read_of = |suffix: &str| {
        reads
            .iter()
            .find(|r| r["path"].as_str().is_some_and(|p| p.ends_with(suffix)))
            .cloned()
            .unwrap_or(Value::Null)
    };
    if read_of("/visible.txt")["content"] != json!(visible) {
        problems.push(format!(
            "the granted file could not be read, so the probe proves nothing: {}",
            read_of("/visible.txt")
        ));
    }
    for r in &reads {
        let path = r["path"].as_str().unwrap_or_default();
        if path.ends_with("/visible.txt") {
            continue;
        }
        if r.get("content").is_some() {
            problems.push(format!("the component read {path}: {r}"));
        }
    }
    for w in report["writes"].as_array().cloned().unwrap_or_default() {
        if w.get("error").is_none() {
            problems.push(format!("the component wrote into its read-only grant: {w}"));
        }
    }
    if granted.join("written-by-the-component.txt").exists() {
        problems.push("a file appeared in the granted directory".into());
    }

    // Directory listings: the root shows at most the mount point, the grant its own files.
    for listing in report["listings"].as_array().cloned().unwrap_or_default() {
        let dir = listing["dir"].as_str().unwrap_or_default();
        let entries: Vec<String> = listing["entries"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let allowed: &[&str] = match dir {
            "/" => &["mnt"],
            "/mnt" => &["granted"],
            d if d.ends_with("/granted") => &["visible.txt", "escape-link", "up-link"],
            _ => &[],
        };
        let extra: Vec<&String> = entries
            .iter()
            .filter(|e| !allowed.contains(&e.as_str()))
            .collect();
        if !extra.is_empty() {
            problems.push(format!("listing {dir} shows {extra:?}"));
        }
    }
    let grant_listing = report["listings"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|l| l["dir"].as_str().is_some_and(|d| d.ends_with("/granted")))
        })
        .cloned()
        .unwrap_or(Value::Null);
    if !grant_listing["entries"].to_string().contains("visible.txt") {
        problems.push(format!(
            "the granted directory could not be listed: {grant_listing}"
        ));
    }

    // Sockets: none. Clocks: readable, and harmless.
    if report["tcp"] == json!("connected") {
        problems.push("the component opened a TCP connection".into());
    }
    if report["clocks"]["wall_ms"].as_u64().unwrap_or(0) == 0 {
        problems.push(format!("no wall clock: {}", report["clocks"]));
    }

    // Whatever it found is nowhere.
    for (what, needle) in [
        ("the planted environment variable", planted_env.as_str()),
        ("the file outside the grant", outside_text.as_str()),
        ("/etc/passwd", "root:x:0:0"),
    ] {
        let docs = documents_containing(&es, &t.index, needle)?;
        if !docs.is_empty() {
            problems.push(format!("{what} is in documents {docs:?}"));
        }
        if run.stderr.contains(needle) || run.stdout.contains(needle) {
            problems.push(format!("{what} is in the runner's output"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} sandbox escapes:\n  {}\n{}",
        problems.len(),
        problems.join("\n  "),
        run.describe()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Secrets

/// The places a secret must never appear: every document of the tenant's index, the runner's
/// stdout and stderr (component log lines included), and the requests of `servers`.
fn places_holding(
    secret: &str,
    es: &SearchServer,
    t: &Tenant,
    run: &Run,
    servers: &[(&str, &TestServer)],
) -> anyhow::Result<Vec<String>> {
    let mut found = vec![];
    let docs = documents_containing(es, &t.index, secret)?;
    if !docs.is_empty() {
        found.push(format!("indexed documents {docs:?}"));
    }
    if run.stdout.contains(secret) {
        found.push("the runner's stdout".into());
    }
    if run.stderr.contains(secret) {
        found.push("the runner's stderr (logs)".into());
    }
    for (name, server) in servers {
        let seen = server.requests_containing(secret);
        if !seen.is_empty() {
            found.push(format!(
                "{} request(s) to the {name} server, e.g. {}",
                seen.len(),
                seen[0].raw()
            ));
        }
    }
    Ok(found)
}

/// The Authorization values the echo server received, and how many requests had none.
fn authorizations(echo: &TestServer) -> (Vec<String>, usize) {
    let received = echo.received();
    let with: Vec<String> = received
        .iter()
        .filter_map(|r| r.header("authorization").map(String::from))
        .collect();
    let without = received.len() - with.len();
    (with, without)
}

/// What every credential test checks about the component's own report: it asked, the host
/// answered, the forged header was refused, and its log lines reached the runner's stderr.
fn check_report(es: &SearchServer, t: &Tenant, run: &Run) -> anyhow::Result<Value> {
    let report = component_report(es, &t.index, "stolen")?;
    let forged = report["forged_authorization"]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        forged.starts_with("invalid-request"),
        "a component-set Authorization header was not refused: {report}"
    );
    assert!(
        run.stderr.contains("steal-secret found"),
        "the component's log lines are not in stderr, so the log check proves nothing\n{}",
        run.describe()
    );
    Ok(report)
}

#[test]
fn oauth2_secrets_never_reach_the_component() -> anyhow::Result<()> {
    let (app_key, app_secret, refresh) = (
        planted("app-key"),
        planted("client-secret"),
        planted("refresh-token"),
    );
    let emu = Emulator::start(&[
        "--app-key",
        &app_key,
        "--app-secret",
        &app_secret,
        "--refresh-token",
        &refresh,
    ])?;
    let es = SearchServer::start()?;
    let echo = TestServer::start(Behaviour::Echo)?;
    let planted_env = planted("planted-env");
    let mut t = hostile_tenant(
        &es,
        "steal-secret",
        json!({
            "url": format!("{}/echo", echo.url),
            "credential": "oauth2",
            "token_url": format!("{}/oauth2/token", emu.url),
            "client_id": app_key,
            "client_secret": app_secret,
            "refresh_token": refresh,
        }),
        json!({"call_timeout_secs": 60}),
    )?;
    allow_credential(
        &mut t,
        "oauth2",
        &[&echo.url],
        Some(&format!("{}/oauth2/token", emu.url)),
        &["client_secret", "refresh_token"],
    )?;
    let config_path = t.config_path.to_string_lossy().into_owned();
    t.set("source", "config_file", config_path.as_str())?;
    let run = sync_within(&t, BOUND, &[(PLANTED_VAR, planted_env.as_str())])?;
    run.expect_code(0)?;
    let report = check_report(&es, &t, &run)?;

    // The echo saw this tenant's bearer token on every authenticated request, nothing else.
    let (auths, plain) = authorizations(&echo);
    assert!(
        auths.len() >= 4,
        "authenticated, send-many x2 and the content download: {auths:?}"
    );
    assert!(plain >= 1, "the plain request carried a credential");
    let token = auths[0].strip_prefix("Bearer ").unwrap_or_default();
    assert!(!token.is_empty(), "not a bearer token: {auths:?}");
    assert!(
        auths.iter().all(|a| a == &auths[0]),
        "different credentials: {auths:?}"
    );
    // Authenticated requests to a host that is not a token host are denied.
    let elsewhere = report["authenticated_elsewhere"].to_string();
    assert!(elsewhere.contains("denied"), "{elsewhere}");

    let mut leaks = vec![];
    for (name, secret) in [
        ("client secret", app_secret.as_str()),
        ("refresh token", refresh.as_str()),
        ("planted env", planted_env.as_str()),
    ] {
        for place in places_holding(secret, &es, &t, &run, &[("echo", &echo)])? {
            leaks.push(format!("the {name} is in {place}"));
        }
    }
    assert!(leaks.is_empty(), "{}\n{}", leaks.join("\n"), run.describe());
    Ok(())
}

#[test]
fn the_sigv4_secret_key_never_reaches_the_component() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let echo = TestServer::start(Behaviour::Echo)?;
    // An access key id is not secret (it appears in every signature), but make it ours.
    let key_id: String = format!("AKIA{}", planted("k").to_uppercase())
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(20)
        .collect();
    let secret_key = planted("aws-secret-key");
    let mut t = hostile_tenant(
        &es,
        "steal-secret",
        json!({
            "url": format!("{}/bucket/key", echo.url),
            "credential": "sigv4",
            "access_key_id": key_id,
            "secret_access_key": secret_key,
        }),
        json!({"call_timeout_secs": 60}),
    )?;
    allow_credential(
        &mut t,
        "aws-sigv4",
        &[&echo.url],
        None,
        &["access_key_id", "secret_access_key"],
    )?;
    let run = sync_within(&t, BOUND, &[])?;
    run.expect_code(0)?;
    check_report(&es, &t, &run)?;
    let (auths, plain) = authorizations(&echo);
    assert!(auths.len() >= 4, "{auths:?}");
    assert!(plain >= 1);
    for a in &auths {
        let signature = a.split("Signature=").nth(1).unwrap_or_default();
        assert!(
            a.starts_with(&format!("AWS4-HMAC-SHA256 Credential={key_id}/"))
                && a.contains("/us-east-1/s3/aws4_request")
                && signature.len() == 64
                && signature.chars().all(|c| c.is_ascii_hexdigit()),
            "not a SigV4 signature by {key_id}: {a}"
        );
    }
    let leaks = places_holding(&secret_key, &es, &t, &run, &[("echo", &echo)])?;
    assert!(
        leaks.is_empty(),
        "the secret key is in {leaks:?}\n{}",
        run.describe()
    );
    Ok(())
}

#[test]
fn an_api_key_goes_only_to_its_own_host() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let echo = TestServer::start(Behaviour::Echo)?;
    let other = TestServer::start(Behaviour::Echo)?;
    let api_key = planted("api-key");
    let mut t = hostile_tenant(
        &es,
        "steal-secret",
        json!({
            "url": format!("{}/echo", echo.url),
            "allowed": [echo.url, other.url],
            "credential": "header",
            "api_key": api_key,
        }),
        json!({"call_timeout_secs": 60}),
    )?;
    allow_credential(&mut t, "header", &[&echo.url], None, &["api_key"])?;
    let run = sync_within(&t, BOUND, &[])?;
    run.expect_code(0)?;
    let report = check_report(&es, &t, &run)?;
    // By design the component's own host sees the key (that is what an API key is for).
    let (auths, plain) = authorizations(&echo);
    assert!(
        auths.len() >= 4 && auths.iter().all(|a| a == &format!("Bearer {api_key}")),
        "{auths:?}"
    );
    assert!(plain >= 1);
    // Another allowed host never receives it: the authenticated request there is denied.
    assert!(
        report["authenticated_elsewhere"]
            .to_string()
            .contains("denied"),
        "{report}"
    );
    assert_eq!(other.count(), 0, "{:?}", other.received());
    Ok(())
}

#[test]
fn the_oauth2_token_endpoint_cannot_be_pointed_at_an_echo_server() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let echo = TestServer::start(Behaviour::Echo)?;
    let (app_secret, refresh) = (planted("client-secret"), planted("refresh-token"));
    let t = hostile_tenant(
        &es,
        "steal-secret",
        json!({
            "url": format!("{}/oauth2/token", echo.url),
            "credential": "oauth2-token-to-url",
            "client_id": "some-app",
            "client_secret": app_secret,
            "refresh_token": refresh,
        }),
        json!({"call_timeout_secs": 60}),
    )?;
    // Without the tenant's say-so the component is not run at all...
    let run = sync_within(&t, BOUND, &[])?;
    run.expect_code(2)?;
    assert!(
        run.stderr.contains("[credential]") && run.stderr.contains("token_url"),
        "{}",
        run.describe()
    );
    // ...and with the tenant's [credential] naming the real endpoint, it is refused too.
    let mut pinned = t;
    allow_credential(
        &mut pinned,
        "oauth2",
        &[&echo.url],
        Some("https://token.example.com/oauth2/token"),
        &["client_secret", "refresh_token"],
    )?;
    let refused = sync_within(&pinned, BOUND, &[])?;
    refused.expect_code(2)?;
    assert!(
        refused.stderr.contains("credential.token_url"),
        "{}",
        refused.describe()
    );
    let mut leaks = vec![];
    for run in [&run, &refused] {
        for (name, secret) in [("client secret", &app_secret), ("refresh token", &refresh)] {
            for place in places_holding(secret, &es, &pinned, run, &[("echo", &echo)])? {
                leaks.push(format!("the {name} is in {place}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "a component chose where the host sends the OAuth2 secrets:\n{}\n{}",
        leaks.join("\n"),
        run.describe()
    );
    assert_eq!(echo.count(), 0, "the component's server was contacted");
    Ok(())
}

#[test]
fn a_secret_cannot_be_rewrapped_in_a_header_the_echo_reflects() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let mut leaks = vec![];
    for (credential, field) in [
        ("header-from-refresh-token", "refresh_token"),
        ("header-from-secret-key", "secret_access_key"),
        ("basic-from-client-secret", "client_secret"),
    ] {
        let echo = TestServer::start(Behaviour::Echo)?;
        let secret = planted(field);
        let t = hostile_tenant(
            &es,
            "steal-secret",
            json!({
                "url": format!("{}/echo", echo.url),
                "credential": credential,
                "client_id": "some-app",
                field: secret,
            }),
            json!({"call_timeout_secs": 60}),
        )?;
        let run = sync_within(&t, BOUND, &[])?;
        // A component loaded from a path may not pick the scheme or the fields alone.
        run.expect_code(2)?;
        for place in places_holding(&secret, &es, &t, &run, &[("echo", &echo)])? {
            leaks.push(format!(
                "{credential}: the {field} is in {place} (exit {:?})",
                run.code
            ));
        }
        // A tenant that allows an API-key header over `api_key` does not allow it over
        // another secret field.
        let mut pinned = t;
        let kind = if credential.starts_with("basic") {
            "basic"
        } else {
            "header"
        };
        allow_credential(&mut pinned, kind, &[&echo.url], None, &["api_key"])?;
        let refused = sync_within(&pinned, BOUND, &[])?;
        refused.expect_code(2)?;
        assert!(
            refused.stderr.contains("credential.secret_fields"),
            "{}",
            refused.describe()
        );
        for place in places_holding(&secret, &es, &pinned, &refused, &[("echo", &echo)])? {
            leaks.push(format!("{credential} (pinned): the {field} is in {place}"));
        }
        assert_eq!(
            echo.count(),
            0,
            "{credential}: the echo server was contacted"
        );
    }
    assert!(
        leaks.is_empty(),
        "a component declared a header/basic credential over a secret meant for another scheme:\n{}",
        leaks.join("\n")
    );
    Ok(())
}

#[test]
fn a_component_cannot_reach_hosts_its_tenant_did_not_allow() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    // Stands in for the search engine or an internal service the component should not reach.
    let marker = planted("internal-body");
    let internal = TestServer::start(Behaviour::Fixed {
        body: marker.clone(),
    })?;
    let echo = TestServer::start(Behaviour::Echo)?;
    let mut t = hostile_tenant(
        &es,
        "denied-host",
        // The component declares the internal server as one of its own hosts.
        json!({"url": format!("{}/_search", internal.url), "allowed": [internal.url, echo.url]}),
        json!({"call_timeout_secs": 30}),
    )?;
    t.set(
        "sandbox",
        "allowed_hosts",
        toml::Value::Array(vec![echo.url.clone().into()]),
    )?;
    let run = sync_within(&t, BOUND, &[])?;
    assert_eq!(
        internal.count(),
        0,
        "the internal server was reached: {:?}\n{}",
        internal.received(),
        run.describe()
    );
    assert!(documents_containing(&es, &t.index, &marker)?.is_empty());
    // Refused up front (a config error) or denied at the request: either way the tenant is
    // told which host and which setting.
    assert!(
        run.stderr.contains("sandbox.allowed_hosts") && run.stderr.contains(&internal.url),
        "stderr does not name the host and the setting\n{}",
        run.describe()
    );
    if run.code != Some(2) {
        expect_completed(&run)?;
        let report = component_report(&es, &t.index, "denied-host")?;
        assert!(
            report["outcome"]["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("denied")),
            "{report}"
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Tenants side by side

#[test]
fn tenants_never_see_each_others_documents_checkpoints_tokens_or_logs() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let (app_key, app_secret, refresh) = (
        planted("app-key"),
        planted("client-secret"),
        planted("refresh-token"),
    );
    let emu = Emulator::with_manifest(
        &small_manifest(),
        &[
            "--app-key",
            &app_key,
            "--app-secret",
            &app_secret,
            "--refresh-token",
            &refresh,
        ],
    )?;
    let (echo_a, echo_b) = (
        TestServer::start(Behaviour::Echo)?,
        TestServer::start(Behaviour::Echo)?,
    );
    let (marker_a, marker_b) = (planted("tenant-a"), planted("tenant-b"));
    let api_key_b = planted("api-key-b");
    let shared_state = format!("tributary-state-{}", tributary_e2e::unique("shared"));
    let mut a = hostile_tenant(
        &es,
        "steal-secret",
        json!({
            "url": format!("{}/echo", echo_a.url),
            "credential": "oauth2",
            "token_url": format!("{}/oauth2/token", emu.url),
            "client_id": app_key,
            "client_secret": app_secret,
            "refresh_token": refresh,
            "marker": marker_a,
        }),
        json!({"call_timeout_secs": 60}),
    )?;
    let mut b = hostile_tenant(
        &es,
        "steal-secret",
        json!({
            "url": format!("{}/echo", echo_b.url),
            "credential": "header",
            "api_key": api_key_b,
            "marker": marker_b,
        }),
        json!({"call_timeout_secs": 60}),
    )?;
    allow_credential(
        &mut a,
        "oauth2",
        &[&echo_a.url],
        Some(&format!("{}/oauth2/token", emu.url)),
        &["client_secret", "refresh_token"],
    )?;
    allow_credential(&mut b, "header", &[&echo_b.url], None, &["api_key"])?;
    // A third tenant with another component: Dropbox, on the same account as A.
    let mut c = Tenant::new(&emu, &es)?;
    c.set("source", "app_key", app_key.as_str())?;
    c.set("source", "app_secret", app_secret.as_str())?;
    c.set("source", "refresh_token", refresh.as_str())?;
    for t in [&mut a, &mut b, &mut c] {
        t.set("elasticsearch", "state_index", shared_state.as_str())?;
        t.state_index = shared_state.clone();
    }
    let run_a = sync_within(&a, BOUND, &[])?;
    run_a.expect_code(0)?;
    let run_b = sync_within(&b, BOUND, &[])?;
    run_b.expect_code(0)?;
    let run_c = sync_within(&c, BOUND, &[])?;
    run_c.expect_code(0)?;
    let dropbox_docs = es.all_docs(&c.index)?;
    let tree_entries = tributary_e2e::model::tree_paths(&emu.tree()?);
    assert!(
        !dropbox_docs.is_empty()
            && dropbox_docs
                .values()
                .all(|d| d["source"] == json!("dropbox")),
        "{dropbox_docs:?}"
    );
    let token_a = authorizations(&echo_a)
        .0
        .first()
        .cloned()
        .unwrap_or_default();
    assert!(token_a.starts_with("Bearer "), "{token_a:?}");

    let mut problems = vec![];
    let mut nowhere_in =
        |t: &Tenant, run: &Run, echo: Option<&TestServer>, what: &str, needle: &str| {
            let servers: Vec<(&str, &TestServer)> = echo.map(|e| ("echo", e)).into_iter().collect();
            match places_holding(needle, &es, t, run, &servers) {
                Ok(places) => {
                    for p in places {
                        problems.push(format!("tenant {}: {what} is in {p}", t.tenant));
                    }
                }
                Err(e) => problems.push(format!("{e:#}")),
            }
        };
    nowhere_in(&b, &run_b, Some(&echo_b), "tenant A's marker", &marker_a);
    nowhere_in(
        &b,
        &run_b,
        Some(&echo_b),
        "tenant A's bearer token",
        &token_a,
    );
    nowhere_in(
        &b,
        &run_b,
        Some(&echo_b),
        "tenant A's refresh token",
        &refresh,
    );
    nowhere_in(&a, &run_a, Some(&echo_a), "tenant B's marker", &marker_b);
    nowhere_in(&a, &run_a, Some(&echo_a), "tenant B's API key", &api_key_b);
    for (t, run, echo) in [(&a, &run_a, &echo_a), (&b, &run_b, &echo_b)] {
        for id in dropbox_docs.keys() {
            nowhere_in(
                t,
                run,
                Some(echo),
                "a document id of the Dropbox tenant",
                id,
            );
        }
    }
    for (what, needle) in [
        ("tenant A's marker", &marker_a),
        ("tenant B's marker", &marker_b),
        ("tenant B's API key", &api_key_b),
        ("tenant A's bearer token", &token_a),
    ] {
        nowhere_in(&c, &run_c, None, what, needle);
    }
    for (id, path) in &tree_entries {
        if !dropbox_docs.contains_key(id) {
            problems.push(format!("the Dropbox tenant did not index {path} ({id})"));
        }
    }
    // Each tenant's own documents, checkpoint and log lines carry its own marker.
    for (t, run, marker) in [(&a, &run_a, &marker_a), (&b, &run_b, &marker_b)] {
        let docs = es.all_docs(&t.index)?;
        if docs.is_empty() || docs.values().any(|d| d["marker"] != json!(marker)) {
            problems.push(format!("tenant {}: documents {docs:?}", t.tenant));
        }
        let state = t.state_doc(&es)?.unwrap_or(Value::Null);
        if !state.to_string().contains(marker.as_str()) {
            problems.push(format!("tenant {}: its checkpoint is {state}", t.tenant));
        }
        let own_lines = run
            .stderr
            .lines()
            .filter(|l| l.contains(&format!("[{marker}]")))
            .collect::<Vec<_>>();
        if own_lines.is_empty() || own_lines.iter().any(|l| !l.contains(&t.tenant)) {
            problems.push(format!(
                "tenant {}: its component's log lines do not all name it: {own_lines:?}",
                t.tenant
            ));
        }
    }
    let state_a = a.state_doc(&es)?.unwrap_or(Value::Null).to_string();
    let state_b = b.state_doc(&es)?.unwrap_or(Value::Null).to_string();
    let state_c = c.state_doc(&es)?.unwrap_or(Value::Null).to_string();
    if state_a.contains(&marker_b)
        || state_b.contains(&marker_a)
        || state_c.contains(&marker_a)
        || state_c.contains(&marker_b)
        || state_c.contains("steal-secret")
    {
        problems.push(format!(
            "checkpoints mixed: A {state_a} / B {state_b} / C {state_c}"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    Ok(())
}
