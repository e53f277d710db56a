//! The local-folder component through the real runner and a real search server: the index
//! must equal the directory, after a full sync and after every kind of change.

use serde_json::json;
use std::fs;
use std::path::Path;
use tributary_e2e::local_folder::{assert_index_matches_folder, folder_tenant};
use tributary_e2e::{SearchServer, tributary};

fn write(root: &Path, rel: &str, body: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
    fs::write(p, body).expect("write");
}

/// A tree with nesting, awkward names, text, binary, an empty file and an empty folder.
fn seed(root: &Path) {
    write(root, "README.md", "# Project\n\nSee   the docs.");
    write(root, "docs/guide.txt", "the guide mentions a capybara");
    write(root, "docs/deep/deeper/notes.md", "deep notes");
    write(root, "docs/deep/data.json", "{\"k\": [1, 2, 3]}");
    write(root, "Отчёт за квартал.txt", "Выручка выросла на 12%");
    write(root, "emoji 🚀 launch.md", "lift-off at dawn");
    write(root, "it's \"quoted\" + plus.txt", "quotes ' \" inside");
    write(root, "empty.txt", "");
    fs::write(root.join("photo.jpg"), [0xFFu8, 0xD8, 0xFF, 0xE0, 0, 16]).expect("jpg");
    fs::create_dir_all(root.join("Empty folder")).expect("mkdir");
}

#[test]
fn a_full_sync_equals_the_directory() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let dir = tempfile::tempdir()?;
    seed(dir.path());
    let tenant = folder_tenant(&es, dir.path(), json!({}))?;
    let report = tenant.sync_ok()?;
    assert_eq!(report["mode"], "full", "{report}");
    assert_eq!(report["checkpoint_committed"], true, "{report}");
    assert_index_matches_folder(&es, &tenant.index, dir.path())?;
    Ok(())
}

#[test]
fn an_incremental_run_after_adds_edits_moves_and_deletes_converges() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    seed(root);
    let tenant = folder_tenant(&es, root, json!({}))?;
    tenant.sync_ok()?;
    let before = es.all_docs(&tenant.index)?;

    write(root, "added/new file.txt", "a new file about a wombat");
    write(
        root,
        "docs/guide.txt",
        "the guide now mentions an okapi instead",
    );
    fs::rename(root.join("docs/deep"), root.join("moved deep"))?;
    fs::rename(root.join("README.md"), root.join("docs/README.md"))?;
    fs::remove_file(root.join("empty.txt"))?;
    fs::remove_dir_all(root.join("Empty folder"))?;

    let report = tenant.sync_ok()?;
    assert_eq!(report["mode"], "incremental", "{report}");
    assert_index_matches_folder(&es, &tenant.index, root)?;
    // Gone: the deleted file and folder, and every old path of what moved.
    assert_eq!(report["purged"], 7, "{report}");
    // What did not change keeps its id and was not read again.
    let after = es.all_docs(&tenant.index)?;
    let id_of = |docs: &std::collections::BTreeMap<String, serde_json::Value>, path: &str| {
        docs.iter()
            .find(|(_, d)| d["path"] == path)
            .map(|(id, _)| id.clone())
    };
    assert_eq!(
        id_of(&before, "/photo.jpg"),
        id_of(&after, "/photo.jpg"),
        "ids are stable"
    );
    assert!(report["unchanged_content"].as_u64() >= Some(3), "{report}");
    assert!(
        es.find_text(&tenant.index, "capybara")?.is_empty(),
        "the old text of an edited file must be gone"
    );
    assert_eq!(es.find_text(&tenant.index, "okapi")?.len(), 1);
    Ok(())
}

#[test]
fn text_content_is_searchable() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let dir = tempfile::tempdir()?;
    seed(dir.path());
    let tenant = folder_tenant(&es, dir.path(), json!({}))?;
    tenant.sync_ok()?;
    let hits = es.find_text(&tenant.index, "capybara")?;
    assert_eq!(hits.len(), 1, "{hits:?}");
    let doc = es.get(&tenant.index, &hits[0])?.expect("the hit exists");
    assert_eq!(doc["path"], "/docs/guide.txt");
    assert_eq!(es.find_text(&tenant.index, "Выручка")?.len(), 1);
    Ok(())
}

#[test]
fn include_and_exclude_leave_out_what_they_say() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let dir = tempfile::tempdir()?;
    seed(dir.path());
    let tenant = folder_tenant(
        &es,
        dir.path(),
        json!({"include": ["*.md", "*.txt"], "exclude": ["deeper/", "it's*"]}),
    )?;
    tenant.sync_ok()?;
    let paths: std::collections::BTreeSet<String> = es
        .all_docs(&tenant.index)?
        .values()
        .filter_map(|d| d["path"].as_str().map(String::from))
        .collect();
    let expected: std::collections::BTreeSet<String> = [
        "/README.md",
        "/docs",
        "/docs/deep",
        "/docs/guide.txt",
        "/Empty folder",
        "/emoji 🚀 launch.md",
        "/empty.txt",
        "/Отчёт за квартал.txt",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(paths, expected);
    Ok(())
}

#[cfg(unix)]
#[test]
fn a_link_out_of_the_folder_is_reported_and_its_target_never_indexed() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let outer = tempfile::tempdir()?;
    let root = outer.path().join("granted");
    write(&root, "inside.txt", "inside text");
    write(
        outer.path(),
        "private/secret.txt",
        "a narwhal secret outside the grant",
    );
    std::os::unix::fs::symlink("../private", root.join("escape"))?;
    std::os::unix::fs::symlink("inside.txt", root.join("alias.txt"))?;
    let tenant = folder_tenant(&es, &root, json!({"follow_symlinks": true}))?;
    tenant.sync_ok()?;
    assert!(es.find_text(&tenant.index, "narwhal")?.is_empty());
    let docs = es.all_docs(&tenant.index)?;
    let escape = docs
        .values()
        .find(|d| d["path"] == "/escape")
        .expect("the link is indexed");
    assert_eq!(escape["type"], "symlink");
    assert!(
        escape["read_error"]
            .as_str()
            .is_some_and(|e| e.contains("out of the indexed directory")),
        "{escape}"
    );
    // A link inside the grant is followed; its content is read from the real file.
    assert_eq!(es.find_text(&tenant.index, "inside")?.len(), 2);
    Ok(())
}

#[test]
fn fields_and_check_work_for_the_component() -> anyhow::Result<()> {
    let fields = tributary(&["fields", "local-folder"], &[])?;
    fields.expect_code(0)?;
    for f in [
        "root",
        "include",
        "exclude",
        "content_key",
        "follow_symlinks",
    ] {
        assert!(
            fields.stdout.contains(f),
            "{f} missing:\n{}",
            fields.describe()
        );
    }
    let es = SearchServer::start()?;
    let dir = tempfile::tempdir()?;
    seed(dir.path());
    let tenant = folder_tenant(&es, dir.path(), json!({}))?;
    tenant.check()?.expect_code(0)?;
    let missing = folder_tenant(&es, &dir.path().join("nope"), json!({}))?;
    let run = missing.check()?;
    run.expect_code(2)?;
    assert!(run.stderr.contains("root"), "{}", run.describe());
    Ok(())
}
