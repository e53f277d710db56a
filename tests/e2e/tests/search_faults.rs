//! Issue #7: faults on the search side, injected by `search-fault-proxy` between the runner and
//! osmem-server: item-level 429s, 503s on every kind of call, an outage, lost answers.
//! Whatever fails, no live document may be deleted and the next clean run must converge.

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tributary_e2e::*;

/// One listing page (the connector asks for 2 000 entries a page).
const SMALL_TREE: &str = "files=300,depth=2,fanout=4,seed=5,max_size=400,paper=0.0,text=0.9";
/// Three listing pages.
const PAGED_TREE: &str = "files=4500,depth=2,fanout=8,seed=11,max_size=600,paper=0.0,text=0.5";

fn file_paths(tree: &Value) -> Vec<String> {
    tree["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e[".tag"] == "file")
        .filter_map(|e| e["path_display"].as_str().map(String::from))
        .collect()
}

/// A busy cluster: ~60 % of the documents are rejected with 429 on every attempt.
fn busy_cluster() -> Value {
    json!([{"kind": "bulk", "item_429_fraction": 0.6, "item_429_sticky": true}])
}

/// The run ended non-zero, purged nothing, and counted its rejected writes.
fn expect_failed_without_purge(run: &Run) -> Result<()> {
    run.expect_code(1)?;
    let r = run
        .report
        .as_ref()
        .with_context(|| format!("no report\n{}", run.describe()))?;
    ensure!(
        r["purged"] == 0,
        "a run with rejected writes purged documents: {}",
        run.describe()
    );
    ensure!(
        r["write_failures"].as_u64().unwrap_or(0) > 0,
        "rejected writes not counted in write_failures: {}",
        run.describe()
    );
    Ok(())
}

#[test]
fn proxy_in_front_of_osmem_withholds_rejected_items_and_applies_writes_whose_answer_it_drops()
-> Result<()> {
    let es = SearchServer::start()?;
    let proxy = SearchProxy::start(&es)?;
    let index = unique("proxy-check");
    proxy.set_faults(1, json!([{"kind": "bulk", "item_429_fraction": 0.5}]))?;
    let mut body = String::new();
    for i in 0..40 {
        body.push_str(&format!(
            "{{\"index\":{{\"_id\":\"d{i}\"}}}}\n{{\"n\":{i}}}\n"
        ));
    }
    let answer: Value = http()
        .post(format!("{}/{index}/_bulk?refresh=true", proxy.url))
        .header("Content-Type", "application/x-ndjson")
        .body(body)
        .send()?
        .json()?;
    let mut accepted = BTreeSet::new();
    let mut rejected = BTreeSet::new();
    for (i, item) in answer["items"]
        .as_array()
        .context("items")?
        .iter()
        .enumerate()
    {
        let inner = &item["index"];
        ensure!(
            inner["_id"] == format!("d{i}"),
            "item {i} out of place: {item}"
        );
        match inner["status"].as_u64() {
            Some(429) => rejected.insert(format!("d{i}")),
            Some(200 | 201) => accepted.insert(format!("d{i}")),
            other => anyhow::bail!("item {i}: status {other:?}: {item}"),
        };
    }
    ensure!(answer["errors"] == true);
    ensure!(!accepted.is_empty() && !rejected.is_empty(), "{answer}");
    let mut stored = BTreeSet::new();
    for i in 0..40 {
        if es.get(&index, &format!("d{i}"))?.is_some() {
            stored.insert(format!("d{i}"));
        }
    }
    ensure!(
        stored == accepted,
        "osmem holds {stored:?}, the proxy accepted {accepted:?}"
    );

    proxy.set_faults(
        2,
        json!([{"kind": "other", "method": "PUT|POST", "drop": "after"}]),
    )?;
    let lost = http()
        .put(format!("{}/{index}/_doc/late?refresh=true", proxy.url))
        .json(&json!({"n": 99}))
        .send();
    ensure!(lost.is_err(), "the client got an answer: {lost:?}");
    ensure!(
        es.get(&index, "late")?.is_some(),
        "a write whose answer was dropped must still be applied"
    );
    let stats = proxy.stats()?;
    ensure!(stats["dropped_after_forward"] == 1, "{stats}");
    Ok(())
}

#[test]
fn full_sync_with_item_429s_from_the_first_page_purges_nothing_and_the_next_sync_converges()
-> Result<()> {
    let mut w = World::with_proxy(&json!({}), &["--generate", SMALL_TREE])?;
    // Rejections are persistent: give up on them after 5 s, not after the default 2 minutes.
    w.tenant.set("elasticsearch", "retry_budget_secs", 5)?;
    w.tenant.sync_ok()?;
    // Changes before the busy run: deleted files must go by the next *completed* enumeration,
    // edited files must end up with their new content.
    let paths = file_paths(&w.emu.tree()?);
    for p in paths.iter().take(10) {
        w.emu.delete(p)?;
    }
    for (i, p) in paths.iter().skip(10).take(10).enumerate() {
        w.emu
            .upload(p, format!("edited before the busy run {i}").as_bytes())?;
    }
    let tree = w.emu.tree()?;
    let before = w.docs()?;

    w.proxy()?.set_faults(61, busy_cluster())?;
    let run = w.tenant.sync(&["--full"])?;
    let stats = w.proxy()?.stats()?;
    w.proxy()?.clear_faults()?;
    println!(
        "busy --full run: exit {:?}, report {:?}",
        run.code, run.report
    );
    ensure!(
        stats["items_rejected"].as_u64().unwrap_or(0) > 0,
        "the proxy rejected nothing: {stats}"
    );
    expect_failed_without_purge(&run)?;
    let lost = lost_live_docs(&before, &tree, &w.docs()?);
    ensure!(
        lost.is_empty(),
        "{} live documents deleted by a run whose writes were rejected: {:?}",
        lost.len(),
        &lost[..lost.len().min(20)]
    );

    let next = w.tenant.sync(&[])?;
    println!("clean run: {:?}", next.report);
    next.expect_ok()?;
    w.assert_matches()
        .context("after a clean run following the busy --full run")?;
    Ok(())
}

#[test]
fn full_sync_whose_item_429s_start_after_a_committed_page_purges_nothing_and_the_next_sync_converges()
-> Result<()> {
    let mut w = World::with_proxy(&json!({}), &["--generate", PAGED_TREE])?;
    // Rejections are persistent: give up on them after 5 s, not after the default 2 minutes.
    w.tenant.set("elasticsearch", "retry_budget_secs", 5)?;
    let first = w.tenant.sync_ok()?;
    ensure!(
        first["pages"].as_u64().unwrap_or(0) >= 3,
        "need a multi-page listing: {first}"
    );
    for p in file_paths(&w.emu.tree()?).iter().step_by(150).take(20) {
        w.emu.delete(p)?;
    }
    let tree = w.emu.tree()?;
    let before = w.docs()?;
    let checkpoint_before = w
        .tenant
        .state_doc(&w.es)?
        .map(|d| d["checkpoint"].clone())
        .unwrap_or_default();

    // Each further listing page takes 4 s: time to make the cluster busy once the run has
    // committed the checkpoint of its first page.
    w.emu.set_faults(
        7,
        json!([{"kind": "latency", "route_prefix": "files/list_folder/continue",
        "fraction": 1.0, "latency_ms": 4000}]),
    )?;
    let mut spawned = w.tenant.spawn_sync(&["--full"], &[])?;
    let committed = wait_for(Duration::from_secs(120), Duration::from_millis(20), || {
        let cp = w.tenant.state_doc(&w.es).ok().flatten()?["checkpoint"].clone();
        (!cp.is_null() && cp != checkpoint_before).then_some(())
    });
    if committed.is_none() {
        let still = spawned.running();
        let run = spawned.wait(Duration::from_secs(10))?;
        anyhow::bail!(
            "the --full run never committed a page checkpoint (running: {still})\n{}",
            run.describe()
        );
    }
    w.proxy()?.set_faults(62, busy_cluster())?;
    let run = spawned.wait(Duration::from_secs(300))?;
    let stats = w.proxy()?.stats()?;
    w.proxy()?.clear_faults()?;
    w.emu.clear_faults()?;
    println!(
        "busy --full run: exit {:?}, report {:?}",
        run.code, run.report
    );
    ensure!(
        stats["items_rejected"].as_u64().unwrap_or(0) > 0,
        "the run wrote everything before the cluster turned busy; the scenario did not happen: {stats}"
    );
    expect_failed_without_purge(&run)?;
    ensure!(
        run.report
            .as_ref()
            .map(|r| r["checkpoint_committed"].clone())
            == Some(json!(true)),
        "a page checkpoint was committed (the state document changed) but the report says otherwise\n{}",
        run.describe()
    );
    let lost = lost_live_docs(&before, &tree, &w.docs()?);
    ensure!(
        lost.is_empty(),
        "{} live documents deleted by a run whose writes were rejected: {:?}",
        lost.len(),
        &lost[..lost.len().min(20)]
    );

    let next = w.tenant.sync(&[])?;
    println!("clean run: {:?}", next.report);
    next.expect_ok()?;
    w.assert_matches()
        .context("after a clean run following the busy --full run")?;
    Ok(())
}

/// A few 503s on every kind of call the runner makes to the search server.
fn flaky_cluster() -> Value {
    json!([
        {"kind": "mapping", "status": 503, "count": 2},
        {"kind": "state", "method": "POST|PUT", "status": 503, "count": 2},
        {"kind": "mget", "status": 503, "count": 2},
        {"kind": "refresh", "status": 503, "count": 2},
        {"kind": "delete_by_query", "status": 503, "count": 2},
        {"kind": "bulk", "status": 503, "count": 2}
    ])
}

#[test]
fn transient_503s_on_every_kind_of_search_call_do_not_fail_the_run() -> Result<()> {
    let w = World::with_proxy(&fixtures::small_manifest(), &[])?;
    let proxy = w.proxy()?;
    let mut hit = BTreeSet::new();
    for round in 0..2 {
        if round == 1 {
            // Work for every call: an edit (_mget finds the stored key), a deleted folder
            // (_delete_by_query), a new file (_bulk).
            w.emu.upload("/A/one.txt", b"one edited under 503s")?;
            w.emu.delete("/C")?;
            w.emu.upload("/new under 503s.md", b"# new\n\nfile")?;
        }
        proxy.reset_stats()?;
        proxy.set_faults(round, flaky_cluster())?;
        let run = w.tenant.sync(&[])?;
        let stats = proxy.stats()?;
        proxy.clear_faults()?;
        for (kind, s) in stats["kinds"].as_object().into_iter().flatten() {
            if s["statuses"]["503"].as_u64().unwrap_or(0) > 0 {
                hit.insert(kind.clone());
            }
        }
        run.expect_ok()
            .with_context(|| format!("round {round}; proxy stats {stats}"))?;
        w.assert_matches()
            .with_context(|| format!("round {round}"))?;
    }
    for kind in ["mapping", "state", "mget", "bulk", "delete_by_query"] {
        ensure!(
            hit.contains(kind),
            "no 503 was served on {kind} calls, so the test did not test it (hit: {hit:?})"
        );
    }
    Ok(())
}

#[test]
fn a_503_on_the_mapping_update_is_retried_and_never_advises_a_new_index() -> Result<()> {
    let w = World::with_proxy(&fixtures::small_manifest(), &[])?;
    w.tenant.sync_ok()?;
    w.emu.upload("/after mapping 503.txt", b"written later")?;
    // The index exists now: the run adds its mappings with PUT /<index>/_mapping.
    w.proxy()?.set_faults(
        5,
        json!([{"kind": "mapping", "path_contains": "_mapping", "status": 503, "count": 2}]),
    )?;
    let run = w.tenant.sync(&[])?;
    let served = w.proxy()?.count("mapping", "503")?;
    let text = format!("{}\n{}", run.stdout, run.stderr).to_lowercase();
    ensure!(
        !text.contains("reindex") && !text.contains("new index name"),
        "a transient 503 produced destructive advice\n{}",
        run.describe()
    );
    run.expect_ok()?;
    ensure!(served >= 1, "no 503 was served on the mapping call");
    w.assert_matches()?;
    Ok(())
}

#[test]
fn search_server_down_for_30_seconds_mid_sync_does_not_fail_the_run() -> Result<()> {
    let w = World::with_proxy(&json!({}), &["--generate", PAGED_TREE])?;
    let proxy = w.proxy()?;
    // Slow listing pages, so the run is surely half-way when the search server goes away.
    w.emu.set_faults(
        3,
        json!([{"kind": "latency", "route_prefix": "files/list_folder/continue",
        "fraction": 1.0, "latency_ms": 1500}]),
    )?;
    let mut spawned = w.tenant.spawn_sync(&[], &[])?;
    let writing = wait_for(Duration::from_secs(120), Duration::from_millis(10), || {
        proxy
            .count("bulk", "200")
            .ok()
            .filter(|n| *n >= 1)
            .map(drop)
    });
    ensure!(writing.is_some(), "the run never wrote a document");
    let start = Instant::now();
    // 15 s of 503s, then 15 s of connections closed without an answer.
    proxy.down()?;
    let ended_503 = wait_for(Duration::from_secs(15), Duration::from_millis(100), || {
        (!spawned.running()).then_some(())
    });
    proxy.down_refusing()?;
    let ended_refused = wait_for(Duration::from_secs(15), Duration::from_millis(100), || {
        (!spawned.running()).then_some(())
    });
    proxy.up()?;
    let outage = start.elapsed();
    let stats = proxy.stats()?;
    let run = spawned.wait(Duration::from_secs(300))?;
    w.emu.clear_faults()?;
    println!(
        "outage of {outage:?}; run: exit {:?} after {:?}; proxy: {stats}",
        run.code, run.elapsed
    );
    ensure!(
        ended_503.is_none() && ended_refused.is_none(),
        "the run ended during the outage ({:?} into it)\n{}",
        run.elapsed,
        run.describe()
    );
    let refused = stats["connections_dropped"].as_u64().unwrap_or(0);
    let unavailable: u64 = stats["kinds"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, s)| s["statuses"]["503"].as_u64())
        .sum();
    ensure!(
        refused > 0 && unavailable > 0,
        "the run sent nothing during the outage: {stats}"
    );
    run.expect_ok()?;
    w.assert_matches()?;
    Ok(())
}

#[test]
fn a_state_write_whose_answer_is_lost_does_not_lose_the_lease() -> Result<()> {
    let w = World::with_proxy(&fixtures::small_manifest(), &[])?;
    let proxy = w.proxy()?;
    w.tenant.sync_ok()?;
    // An incremental run writes the state document at least three times: taking the lease,
    // committing its page, releasing the lease. Lose the answer to each in turn.
    for skip in 0..3u64 {
        w.emu.upload(
            &format!("/answer lost {skip}.txt"),
            b"state write answer lost",
        )?;
        proxy.reset_stats()?;
        proxy.set_faults(
            skip,
            json!([{"kind": "state", "method": "POST|PUT", "path_contains": "/_doc/",
            "drop": "after", "skip": skip, "count": 1}]),
        )?;
        let run = w.tenant.sync(&[])?;
        let stats = proxy.stats()?;
        proxy.clear_faults()?;
        ensure!(
            stats["dropped_after_forward"] == 1,
            "state write #{} was not dropped (the run wrote fewer state documents?): {stats}",
            skip + 1
        );
        run.expect_ok()
            .with_context(|| format!("answer of state write #{} lost", skip + 1))?;
        w.assert_matches()?;
        // The tenant is not left locked.
        w.tenant
            .sync(&[])?
            .expect_ok()
            .with_context(|| format!("the run after losing the answer of write #{}", skip + 1))?;
    }
    Ok(())
}
