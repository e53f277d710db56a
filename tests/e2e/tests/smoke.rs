//! The smallest end-to-end run: one full sync of a small tree.

use tributary_e2e::{World, fixtures};

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
