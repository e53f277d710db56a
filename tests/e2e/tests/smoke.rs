//! The smallest end-to-end run: one full sync of a small tree.

use tributary_e2e::{World, fixtures, tributary_bin};

#[test]
fn full_sync_of_small_tree_matches_ground_truth() -> anyhow::Result<()> {
    let w = World::new(&fixtures::small_manifest(), &[])?;
    let report = w.tenant.sync_ok()?;
    assert_eq!(report["mode"], "full", "first sync must be full: {report}");
    assert!(
        report["checkpoint_committed"] == true,
        "checkpoint not committed: {report}"
    );
    w.assert_matches()?;
    Ok(())
}

/// The comparison itself must be able to fail: tamper with the index three ways.
#[test]
fn ground_truth_comparison_catches_a_changed_a_missing_and_an_extra_document() -> anyhow::Result<()>
{
    let w = World::new(&fixtures::small_manifest(), &[])?;
    w.tenant.sync_ok()?;
    w.assert_matches()?;
    let docs = w.docs()?;
    let (id, doc) = docs
        .iter()
        .find(|(_, d)| d["content_status"] == "extracted")
        .expect("a text doc");
    let mut changed = doc.clone();
    changed["body"] = serde_json::json!("something else");
    w.es.put_doc(&w.tenant.index, id, &changed)?;
    let err = w.assert_matches().expect_err("changed body not detected");
    assert!(err.to_string().contains("body"), "{err}");
    w.es.delete_doc(&w.tenant.index, id)?;
    let err = w.assert_matches().expect_err("missing doc not detected");
    assert!(err.to_string().contains("missing"), "{err}");
    w.es.put_doc(&w.tenant.index, id, doc)?;
    w.assert_matches()?;

    w.es.put_doc(
        &w.tenant.index,
        "id:leftover",
        &serde_json::json!({"id": "id:leftover", "name": "x"}),
    )?;
    let err = w.assert_matches().expect_err("extra doc not detected");
    assert!(err.to_string().contains("leftover"), "{err}");
    Ok(())
}

/// The runner allocates from one glibc malloc arena unless the operator set the count
/// (host/src/allocator.rs); `-v` says which policy it took.
#[test]
fn the_runner_takes_one_malloc_arena_unless_the_operator_chose() -> anyhow::Result<()> {
    let policy = |env: &[(&str, &str)]| -> anyhow::Result<String> {
        let mut cmd = std::process::Command::new(tributary_bin());
        cmd.args(["-v", "status", "--config", "/nonexistent/serve.toml"])
            .env_remove("RUST_LOG")
            .env_remove("MALLOC_ARENA_MAX")
            .env_remove("GLIBC_TUNABLES")
            .envs(env.iter().copied());
        let out = cmd.output()?;
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let line = stderr
            .lines()
            .find(|l| l.contains("malloc arenas"))
            .ok_or_else(|| anyhow::anyhow!("no `malloc arenas` line in -v output:\n{stderr}"))?;
        Ok(line.to_string())
    };
    let own = policy(&[])?;
    assert!(own.contains("Single"), "{own}");
    let operator = policy(&[("MALLOC_ARENA_MAX", "4")])?;
    assert!(operator.contains("Operator"), "{operator}");
    let tunables = policy(&[("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")])?;
    assert!(tunables.contains("Operator"), "{tunables}");
    Ok(())
}
