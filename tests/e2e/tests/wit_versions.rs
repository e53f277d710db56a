//! The host keeps N and N-1 of `tributary:source`: a component built against 0.1.0 (the
//! fixture in tests/fixtures/components, see its README) still loads and syncs with the same
//! results as today's 0.2 build; `tributary fields` says which version each was built against;
//! a component built against a version the host does not know is refused, naming it.

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use tributary_e2e::fixtures::awkward_manifest;
use tributary_e2e::local_folder::component_tenant;
use tributary_e2e::sandbox::test_component;
use tributary_e2e::{
    CompareOptions, Emulator, SearchServer, Tenant, assert_index_matches_tree, comparable,
    component_dir, repo_root, tributary,
};

fn fixture_0_1() -> String {
    let path = repo_root().join("tests/fixtures/components/dropbox-source-0.1.0.wasm");
    assert!(path.is_file(), "{} is missing", path.display());
    path.to_string_lossy().into_owned()
}

/// Fields whose values are the time of the write, not the source's.
const WRITE_TIME_FIELDS: &[&str] = &["_timestamp"];

/// The content fields of a document (what extraction decides).
const CONTENT_FIELDS: &[&str] = &["body", "content_status", "content_skipped_reason"];

/// Fields the 0.1.0 component wrote that duplicate another one, retired since (issue 12):
/// the new document must not carry them, and the field that carries the value must hold what
/// the old one did.
fn is_retired_duplicate(old: &Value, new: &Value, field: &str) -> bool {
    let carrier = match field {
        "path_display" => "file_path",
        "server_modified" => "_timestamp",
        _ => return false,
    };
    new.get(field).is_none() && !old[field].is_null() && old[field] == new[carrier]
}

/// The one known difference between the 0.1.0 and the 0.2 Dropbox components: 0.2 names a
/// Paper export `<name>.md` in its content request, 0.1.0 named it `<name>.paper`, and the
/// host no longer treats `.paper` as text (it knows no source's names). So under this host a
/// 0.1.0 Dropbox component indexes Paper docs without their text: content skipped as an
/// unsupported type. Everything else must be identical.
fn is_known_paper_difference(old: &Value, new: &Value, field: &str) -> bool {
    let paper = old["name"].as_str().is_some_and(|n| n.ends_with(".paper"));
    let content = CONTENT_FIELDS.contains(&field) || field == "tributary";
    paper
        && content
        && old["content_status"] == json!("skipped")
        && old["content_skipped_reason"] == json!("unsupported type .paper")
        && new["content_status"] == json!("extracted")
}

/// A tenant of the 0.1.0 fixture. Loaded from a path, the component needs the tenant's
/// consent to use its secrets.
fn tenant_of_0_1(emu: &Emulator, es: &SearchServer) -> anyhow::Result<Tenant> {
    let mut tenant = Tenant::new(emu, es)?;
    tenant
        .config
        .insert("connector".into(), fixture_0_1().into());
    tributary_e2e::sandbox::allow_credential(
        &mut tenant,
        "oauth2",
        &[&emu.url],
        Some(&format!("{}/oauth2/token", emu.url)),
        &["app_secret", "refresh_token"],
    )?;
    tenant.write()?;
    Ok(tenant)
}

/// Every field in which the 0.1.0 component's document differs from today's, for the same
/// ids; the write time and the retired duplicates are not differences, nor is what `known`
/// accepts (given the id, both documents and the field).
fn differences(
    old_docs: &BTreeMap<String, Value>,
    new_docs: &BTreeMap<String, Value>,
    mut known: impl FnMut(&str, &Value, &Value, &str) -> bool,
) -> Vec<String> {
    let (old_ids, new_ids): (BTreeSet<_>, BTreeSet<_>) =
        (old_docs.keys().collect(), new_docs.keys().collect());
    assert_eq!(old_ids, new_ids, "the two components indexed different ids");
    let mut found = vec![];
    for (id, new_doc) in new_docs {
        let old_doc = &old_docs[id];
        let fields: BTreeSet<&String> = old_doc
            .as_object()
            .into_iter()
            .chain(new_doc.as_object())
            .flat_map(|o| o.keys())
            .collect();
        for field in fields {
            if WRITE_TIME_FIELDS.contains(&field.as_str())
                || old_doc[field] == new_doc[field]
                || is_retired_duplicate(old_doc, new_doc, field)
                || known(id, old_doc, new_doc, field)
            {
                continue;
            }
            found.push(format!(
                "{id} ({}): {field}: 0.1.0 {} / 0.2 {}",
                new_doc["file_path"], old_doc[field], new_doc[field]
            ));
        }
    }
    found
}

#[test]
fn the_0_1_component_syncs_the_same_documents_as_the_0_2_component() -> anyhow::Result<()> {
    let emu = Emulator::with_manifest(&awkward_manifest(), &[])?;
    let es = SearchServer::start()?;
    let old = tenant_of_0_1(&emu, &es)?;
    let new = Tenant::new(&emu, &es)?;
    let old_report = old.sync_ok()?;
    let new_report = new.sync_ok()?;
    // Today's component is the reference: it matches the emulator's tree.
    assert_index_matches_tree(&emu, &es, &new, &CompareOptions::from_tenant(&new))?;
    assert_eq!(old_report["seen"], new_report["seen"]);

    let old_docs = comparable(&es.all_docs(&old.index)?);
    let new_docs = comparable(&es.all_docs(&new.index)?);
    let mut paper_docs = BTreeSet::new();
    let differences = differences(&old_docs, &new_docs, |id, old_doc, new_doc, field| {
        let known = is_known_paper_difference(old_doc, new_doc, field);
        if known {
            paper_docs.insert(id.to_string());
        }
        known
    });
    assert!(
        differences.is_empty(),
        "{} unexpected differences:\n  {}",
        differences.len(),
        differences.join("\n  ")
    );
    // The manifest has one Paper doc; it must be the only document that differs.
    assert!(paper_docs.len() <= 1, "Paper docs differ: {paper_docs:?}");
    Ok(())
}

/// Upgrading a tenant from the 0.1.0 component: documents whose content did not change are
/// merged, not replaced, and a merge keeps every member it does not name. The retired
/// duplicates (`path_display`, `server_modified`) are written as `null`, so the upgrade's
/// merges clear them instead of leaving a value nothing updates any more.
#[test]
fn upgrading_from_the_0_1_component_clears_retired_fields() -> anyhow::Result<()> {
    let emu = Emulator::with_manifest(&awkward_manifest(), &[])?;
    let es = SearchServer::start()?;
    let mut tenant = tenant_of_0_1(&emu, &es)?;
    tenant.sync_ok()?;
    let before = es.all_docs(&tenant.index)?;
    let stale = before
        .values()
        .filter(|d| d["type"] == "File" && !d["path_display"].is_null())
        .count();
    assert!(stale > 0, "the 0.1.0 component wrote no path_display");

    // Back to the bundled component, by name (as `Tenant::new` writes it).
    tenant.config.insert("connector".into(), "dropbox".into());
    tenant.write()?;
    let run = tenant.sync(&["--full"])?;
    run.expect_ok()?;
    assert!(
        run.n("unchanged_content") > 0,
        "no document was merged:\n{}",
        run.describe()
    );
    for (id, doc) in es.all_docs(&tenant.index)? {
        for retired in ["path_display", "server_modified"] {
            assert!(
                doc[retired].is_null(),
                "{id} ({}) still has {retired} = {} after the upgrade",
                doc["file_path"],
                doc[retired]
            );
        }
    }
    assert_index_matches_tree(&emu, &es, &tenant, &CompareOptions::from_tenant(&tenant))?;
    Ok(())
}

#[test]
fn fields_prints_the_wit_version_each_component_was_built_against() -> anyhow::Result<()> {
    let bundled = |name: &str| {
        component_dir()
            .join(format!("{name}.wasm"))
            .to_string_lossy()
            .into_owned()
    };
    let hostile = test_component("hostile.wasm")
        .to_string_lossy()
        .into_owned();
    for (path, id, version) in [
        (fixture_0_1(), "dropbox", "0.1"),
        (bundled("dropbox"), "dropbox", "0.2"),
        (bundled("local-folder"), "local-folder", "0.2"),
        (bundled("template"), "template", "0.2"),
        (hostile, "hostile", "0.2"),
    ] {
        let run = tributary(&["fields", &path], &[])?;
        run.expect_code(0)?;
        let first = run.stdout.lines().next().unwrap_or_default();
        assert!(
            first.starts_with(&format!("{id} "))
                && first.contains(&format!("(tributary:source@{version})")),
            "{path}: {first:?}\n{}",
            run.describe()
        );
        // The flag form says the same.
        let flag = tributary(&["fields", "--connector", &path], &[])?;
        assert_eq!(flag.stdout, run.stdout, "{}", flag.describe());
    }
    Ok(())
}

/// The refusal names the version found and every version this host supports.
fn expect_refusal(run: &tributary_e2e::Run) -> anyhow::Result<()> {
    run.expect_code(2)?;
    for needed in ["0.3", "0.1", "0.2", "future-version.wasm"] {
        anyhow::ensure!(
            run.stderr.contains(needed),
            "the refusal does not name {needed}\n{}",
            run.describe()
        );
    }
    Ok(())
}

#[test]
fn a_component_built_against_an_unknown_version_is_refused() -> anyhow::Result<()> {
    let future = test_component("future-version.wasm")
        .to_string_lossy()
        .into_owned();
    expect_refusal(&tributary(&["fields", &future], &[])?)?;
    let es = SearchServer::start()?;
    let t = component_tenant(&es, &future, json!({}))?;
    let cfg = t.config_path.to_string_lossy().into_owned();
    expect_refusal(&t.sync(&[])?)?;
    expect_refusal(&tributary(&["check", "--config", &cfg], &[])?)?;
    // Nothing was created for it.
    assert!(t.state_doc(&es).ok().flatten().is_none());
    Ok(())
}

/// With extraction off, the host tells a 0.2.1 component so (`run.content-wanted`) and it
/// describes no downloads; the 0.1.0 component cannot be told, describes them, and the host
/// skips each one. Both must index the same documents, none with content fields (not even
/// the file over `max_bytes`), and neither may download anything.
#[test]
fn with_extraction_off_a_component_told_so_and_one_not_told_index_the_same() -> anyhow::Result<()> {
    let emu = Emulator::with_manifest(&awkward_manifest(), &[])?;
    let es = SearchServer::start()?;
    let mut old = tenant_of_0_1(&emu, &es)?;
    let mut new = Tenant::new(&emu, &es)?;
    for t in [&mut old, &mut new] {
        t.set("content", "extract", false)?;
        // large.txt (20,000 bytes) is over it: still no content fields with extraction off.
        t.set("content", "max_bytes", 4096)?;
    }
    emu.reset_stats()?;
    let old_report = old.sync_ok()?;
    let new_report = new.sync_ok()?;
    assert_eq!(old_report["seen"], new_report["seen"]);
    let skipped = |r: &Value| r["skipped"]["extraction disabled"].as_u64().unwrap_or(0);
    assert!(
        skipped(&old_report) > 0,
        "the 0.1.0 component describes content, which the host skips: {old_report}"
    );
    assert_eq!(
        skipped(&new_report),
        0,
        "the component was told content is not wanted, yet described some: {new_report}"
    );
    for route in [
        "files/download",
        "files/export",
        "sharing/get_shared_link_file",
    ] {
        assert_eq!(emu.route_count(route)?, 0, "{route} was called");
    }

    let old_docs = comparable(&es.all_docs(&old.index)?);
    let new_docs = comparable(&es.all_docs(&new.index)?);
    let mut differences = differences(&old_docs, &new_docs, |_, _, _, _| false);
    for (id, new_doc) in &new_docs {
        for field in CONTENT_FIELDS {
            for (which, doc) in [("0.1.0", &old_docs[id]), ("0.2", new_doc)] {
                if doc.get(*field).is_some() {
                    differences.push(format!("{id}: the {which} document has {field}"));
                }
            }
        }
    }
    assert!(
        differences.is_empty(),
        "{} differences:\n  {}",
        differences.len(),
        differences.join("\n  ")
    );
    Ok(())
}
