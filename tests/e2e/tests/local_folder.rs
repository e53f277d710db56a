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

/// The comparison itself must be able to fail: tamper with the index three ways.
#[test]
fn the_folder_comparison_catches_a_changed_a_missing_and_an_extra_document() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let dir = tempfile::tempdir()?;
    seed(dir.path());
    let tenant = folder_tenant(&es, dir.path(), json!({}))?;
    tenant.sync_ok()?;
    assert_index_matches_folder(&es, &tenant.index, dir.path())?;
    let docs = es.all_docs(&tenant.index)?;
    let (id, doc) = docs
        .iter()
        .find(|(_, d)| d["path"] == "/docs/guide.txt")
        .expect("the guide");
    let mut changed = doc.clone();
    changed["size"] = json!(1);
    es.put_doc(&tenant.index, id, &changed)?;
    let err = assert_index_matches_folder(&es, &tenant.index, dir.path())
        .expect_err("a wrong size is not detected");
    assert!(err.to_string().contains("size"), "{err}");
    es.delete_doc(&tenant.index, id)?;
    let err = assert_index_matches_folder(&es, &tenant.index, dir.path())
        .expect_err("a missing document is not detected");
    assert!(err.to_string().contains("missing"), "{err}");
    es.put_doc(&tenant.index, id, doc)?;
    assert_index_matches_folder(&es, &tenant.index, dir.path())?;
    es.put_doc(
        &tenant.index,
        "leftover",
        &json!({"id": "leftover", "path": "/leftover.txt"}),
    )?;
    let err = assert_index_matches_folder(&es, &tenant.index, dir.path())
        .expect_err("an extra document is not detected");
    assert!(err.to_string().contains("leftover"), "{err}");
    Ok(())
}

#[test]
fn hash_content_keys_catch_an_edit_that_keeps_size_and_time() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("same.txt");
    fs::write(&file, "the first word is aardvark")?;
    let mtime = fs::metadata(&file)?.modified()?;
    let tenant = folder_tenant(&es, dir.path(), json!({"content_key": "hash"}))?;
    tenant.sync_ok()?;
    assert_eq!(es.find_text(&tenant.index, "aardvark")?.len(), 1);

    // Same length, same modification time, same inode: only the bytes tell.
    let mut f = fs::OpenOptions::new().write(true).open(&file)?;
    std::io::Write::write_all(&mut f, b"the first word is axolotls")?;
    f.set_modified(mtime)?;
    drop(f);
    let report = tenant.sync_ok()?;
    assert_eq!(report["indexed"], 1, "{report}");
    assert!(es.find_text(&tenant.index, "aardvark")?.is_empty());
    assert_eq!(es.find_text(&tenant.index, "axolotls")?.len(), 1);

    // Nothing changed: nothing is read again by the host.
    let report = tenant.sync_ok()?;
    assert_eq!(report["indexed"], 0, "{report}");
    assert_eq!(report["downloads"], 0, "{report}");
    Ok(())
}

#[test]
fn a_walk_interrupted_by_a_crash_resumes_and_the_next_walk_converges() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    // Three pages of 1 000 documents and more.
    for i in 0..3_200 {
        write(
            root,
            &format!("d{}/f{i:05}.txt", i % 4),
            &format!("file {i}"),
        );
    }
    let tenant = folder_tenant(&es, root, json!({}))?;
    let crashed = tenant.sync_env(&[], &[("TRIBUTARY_CRASH_AT", "committed:1")])?;
    assert!(
        crashed.code != Some(0) && crashed.stderr.contains("crash point"),
        "{}",
        crashed.describe()
    );
    // Changes while nobody runs: one behind the resume point, one ahead of it.
    fs::remove_file(root.join("d0/f00000.txt"))?;
    write(root, "d3/zz-late.txt", "added after the crash");
    let run = tenant.sync(&[])?;
    run.expect_ok()?;
    let seen = run.n("seen");
    assert!(
        seen > 0 && seen < 3_204,
        "the rerun must resume the walk, not start it over: seen {seen}\n{}",
        run.describe()
    );
    // Ahead of the resume point the walk sees the directory as it is now.
    assert_eq!(es.find_text(&tenant.index, "crash")?.len(), 1);
    // Behind it, this enumeration had already seen the deleted file, so it stays until the
    // next walk: a walk reflects the directory as it was when each part was read.
    let run = tenant.sync(&[])?;
    run.expect_ok()?;
    assert_eq!(run.n("purged"), 1, "{}", run.describe());
    assert_index_matches_folder(&es, &tenant.index, root)?;
    Ok(())
}

#[test]
fn watch_walks_again_after_the_interval_and_picks_up_a_new_file() -> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let dir = tempfile::tempdir()?;
    seed(dir.path());
    let tenant = folder_tenant(&es, dir.path(), json!({"watch_interval_secs": 1}))?;
    let watch = tenant.spawn("watch", &["--rounds", "5"], &[])?;
    // The first round is done when the watcher logs it; the file arrives after that.
    let first = tributary_e2e::wait_for(
        std::time::Duration::from_secs(60),
        std::time::Duration::from_millis(20),
        || watch.stderr().contains("changes applied").then_some(()),
    );
    assert!(first.is_some(), "no first round\n{}", watch.stderr());
    write(dir.path(), "arrived later.txt", "a pangolin walks in");
    let found = tributary_e2e::wait_for(
        std::time::Duration::from_secs(60),
        std::time::Duration::from_millis(100),
        || {
            es.find_text(&tenant.index, "pangolin")
                .ok()
                .filter(|h| h.len() == 1)
        },
    );
    assert!(found.is_some(), "never indexed\n{}", watch.stderr());
    let run = watch.wait(std::time::Duration::from_secs(60))?;
    run.expect_code(0)?;
    assert_index_matches_folder(&es, &tenant.index, dir.path())?;
    Ok(())
}

#[test]
fn settings_changed_during_an_interrupted_walk_start_a_new_walk_that_converges()
-> anyhow::Result<()> {
    let es = SearchServer::start()?;
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    for i in 0..2_500 {
        write(root, &format!("d{}/f{i:05}.txt", i % 3), "x");
    }
    // At the root, whose own modification time is not indexed, so removing it later for the
    // comparison changes nothing else.
    write(root, "skip-me.log", "left out after the change");
    let mut tenant = folder_tenant(&es, root, json!({}))?;
    let crashed = tenant.sync_env(&[], &[("TRIBUTARY_CRASH_AT", "committed:1")])?;
    assert!(crashed.code != Some(0), "{}", crashed.describe());
    tenant.set(
        "source",
        "exclude",
        toml::Value::Array(vec![toml::Value::String("*.log".into())]),
    )?;
    let run = tenant.sync(&[])?;
    run.expect_ok()?;
    let report = run.report.clone().unwrap_or_default();
    assert_eq!(report["mode"], "full", "{}", run.describe());
    assert!(
        report["mode_reason"]
            .as_str()
            .is_some_and(|r| r.contains("expired")),
        "{}",
        run.describe()
    );
    // The new walk saw everything again, and its purge removed what the new settings exclude.
    assert!(run.n("seen") >= 2_503, "{}", run.describe());
    fs::remove_file(root.join("skip-me.log"))?;
    assert_index_matches_folder(&es, &tenant.index, root)?;
    Ok(())
}
