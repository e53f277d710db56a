//! Walks of real temporary trees through the session, the walker and the documents.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use serde_json::{Value, json};

use crate::checkpoint::Checkpoint;
use crate::config::Config;
use crate::document::{Change, Document, SCOPE, id_of};
use crate::error::Error;
use crate::log::Level;
use crate::log::recorder::Recorder;
use crate::session::{PAGE_ENTRIES, Page, Session};
use crate::walk::{Options, Step, Walker};

fn config(root: &Path, extra: Value) -> Config {
    let mut v = json!({"root": root.to_str().unwrap()});
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    Config::parse(&v.to_string()).unwrap()
}

fn write(root: &Path, rel: &str, body: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, body).unwrap();
}

/// Every page of a session until `has-more` is false.
fn pages(log: &Recorder, config: Config, checkpoint: Option<&str>) -> Vec<Page> {
    let mut s = Session::start(log, config, checkpoint).unwrap();
    let mut out = Vec::new();
    loop {
        let p = s.next_page().unwrap();
        let more = p.has_more;
        out.push(p);
        if !more {
            break;
        }
        assert!(out.len() < 10_000, "the session does not end");
    }
    out
}

fn upserts(pages: &[Page]) -> Vec<Document> {
    pages
        .iter()
        .flat_map(|p| &p.changes)
        .filter_map(|c| match c {
            Change::Upsert(d) => Some(d.clone()),
            _ => None,
        })
        .collect()
}

/// Path → document, failing on a path reported twice.
fn by_path(docs: &[Document]) -> BTreeMap<String, Document> {
    let mut m = BTreeMap::new();
    for d in docs {
        let path = d.fields["path"].as_str().unwrap().to_string();
        assert!(
            m.insert(path.clone(), d.clone()).is_none(),
            "{path} reported twice"
        );
    }
    m
}

fn paths(docs: &[Document]) -> BTreeSet<String> {
    by_path(docs).into_keys().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Every path a fresh walker visits, in order, reported or not.
fn visit_order(root: &Path, options: &Options) -> Vec<String> {
    let mut w = Walker::new(root, options.clone()).unwrap();
    let mut out = Vec::new();
    loop {
        match w.step() {
            Step::Done => return out,
            Step::Entry(_) | Step::Skipped => out.push(w.position().unwrap().to_string()),
        }
    }
}

/// Whether permissions are enforced on this machine (they are not for root): a folder with
/// mode 000 must then refuse to be listed.
#[cfg(unix)]
fn permissions_enforced(scratch: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let probe = scratch.join("probe");
    fs::create_dir(&probe).unwrap();
    fs::set_permissions(&probe, fs::Permissions::from_mode(0o000)).unwrap();
    let enforced = fs::read_dir(&probe).is_err();
    fs::set_permissions(&probe, fs::Permissions::from_mode(0o755)).unwrap();
    fs::remove_dir(&probe).unwrap();
    enforced
}

#[test]
fn a_full_walk_reports_every_file_and_folder_once_between_begin_and_end() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "README.md", "# hello");
    write(root, "docs/Report.PDF", "%PDF-1.4");
    write(root, "docs/notes/2024.txt", "twenty twenty-four");
    write(root, "docs/notes/.hidden", "");
    write(root, "Ünïcödé ✓/naïve café.txt", "unicode");
    write(root, "spaces and +plus/a b+c.json", "{}");
    fs::create_dir(root.join("empty")).unwrap();
    let log = Recorder::default();
    let pages = pages(&log, config(root, json!({})), None);

    let changes: Vec<&Change> = pages.iter().flat_map(|p| &p.changes).collect();
    assert_eq!(
        changes.first(),
        Some(&&Change::BeginEnumeration(SCOPE.into()))
    );
    assert_eq!(changes.last(), Some(&&Change::EndEnumeration(SCOPE.into())));
    let docs = upserts(&pages);
    assert_eq!(
        paths(&docs),
        set(&[
            "/README.md",
            "/docs",
            "/docs/Report.PDF",
            "/docs/notes",
            "/docs/notes/.hidden",
            "/docs/notes/2024.txt",
            "/empty",
            "/spaces and +plus",
            "/spaces and +plus/a b+c.json",
            "/Ünïcödé ✓",
            "/Ünïcödé ✓/naïve café.txt",
        ])
    );
    let docs = by_path(&docs);
    let pdf = &docs["/docs/Report.PDF"];
    assert_eq!(pdf.id, id_of("/docs/Report.PDF"));
    assert_eq!(pdf.fields["id"], pdf.id);
    assert_eq!(pdf.scope, SCOPE);
    assert_eq!(pdf.fields["name"], "Report.PDF");
    assert_eq!(pdf.fields["path_lower"], "/docs/report.pdf");
    assert_eq!(pdf.fields["type"], "file");
    assert_eq!(pdf.fields["size"], 8);
    assert_eq!(pdf.fields["extension"], "pdf");
    assert_eq!(pdf.fields["mime_type"], "application/pdf");
    assert!(pdf.fields.get("read_error").is_none());
    let content = pdf.content.as_ref().unwrap();
    assert_eq!(Path::new(&content.path), root.join("docs/Report.PDF"));
    assert_eq!(content.file_name, "Report.PDF");
    assert_eq!(content.size, Some(8));
    assert!(
        content
            .content_key
            .as_deref()
            .unwrap()
            .starts_with("meta:8:")
    );
    // The modification time the file system holds, in RFC 3339.
    let mtime = fs::metadata(root.join("docs/Report.PDF"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        pdf.fields["modified"].as_str(),
        crate::document::rfc3339(mtime).as_deref()
    );

    let folder = &docs["/docs/notes"];
    assert_eq!(folder.fields["type"], "folder");
    assert!(folder.content.is_none());
    assert!(folder.fields.get("size").is_none());
    assert!(folder.fields["modified"].is_string());
    assert!(
        docs["/docs/notes/.hidden"]
            .fields
            .get("extension")
            .is_none()
    );
    assert_eq!(
        docs["/Ünïcödé ✓/naïve café.txt"].fields["mime_type"],
        "text/plain"
    );

    // The final checkpoint says the walk is complete.
    let last = pages.last().unwrap();
    assert!(!last.has_more);
    let cp = Checkpoint::decode(last.checkpoint.as_deref().unwrap()).unwrap();
    assert!(cp.complete);
    assert!(log.at(Level::Warn).is_empty(), "{:?}", log.at(Level::Warn));
}

#[test]
fn the_next_session_after_a_complete_walk_is_a_new_walk_that_sees_the_changes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "keep.txt", "same");
    write(root, "edit.txt", "before");
    write(root, "old/moved.txt", "moving");
    write(root, "gone.txt", "bye");
    let log = Recorder::default();
    let first = pages(&log, config(root, json!({})), None);
    let before = by_path(&upserts(&first));
    let cp = first.last().unwrap().checkpoint.clone().unwrap();

    fs::write(root.join("edit.txt"), "after, and longer").unwrap();
    fs::create_dir(root.join("new")).unwrap();
    fs::rename(root.join("old/moved.txt"), root.join("new/moved.txt")).unwrap();
    fs::remove_file(root.join("gone.txt")).unwrap();
    write(root, "added.txt", "hi");

    let second = pages(&log, config(root, json!({})), Some(&cp));
    let changes: Vec<&Change> = second.iter().flat_map(|p| &p.changes).collect();
    assert_eq!(
        changes.first(),
        Some(&&Change::BeginEnumeration(SCOPE.into()))
    );
    assert_eq!(changes.last(), Some(&&Change::EndEnumeration(SCOPE.into())));
    let after = by_path(&upserts(&second));
    assert_eq!(
        after.keys().cloned().collect::<BTreeSet<_>>(),
        set(&[
            "/added.txt",
            "/edit.txt",
            "/keep.txt",
            "/new",
            "/new/moved.txt",
            "/old"
        ])
    );
    let key = |d: &Document| d.content.as_ref().unwrap().content_key.clone().unwrap();
    assert_eq!(key(&after["/keep.txt"]), key(&before["/keep.txt"]));
    assert_ne!(key(&after["/edit.txt"]), key(&before["/edit.txt"]));
    assert_ne!(
        after["/new/moved.txt"].id, before["/old/moved.txt"].id,
        "a move is delete + add"
    );
}

#[test]
fn hash_content_keys_follow_the_bytes_not_the_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "a.txt", "abc");
    let log = Recorder::default();
    let key = || {
        let docs = upserts(&pages(
            &log,
            config(root, json!({"content_key": "hash"})),
            None,
        ));
        docs[0]
            .content
            .as_ref()
            .unwrap()
            .content_key
            .clone()
            .unwrap()
    };
    let k0 = key();
    assert_eq!(
        k0,
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    // Same bytes, new modification time: the hash key does not move.
    let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    fs::File::options()
        .write(true)
        .open(root.join("a.txt"))
        .unwrap()
        .set_modified(t)
        .unwrap();
    assert_eq!(key(), k0);
    fs::write(root.join("a.txt"), "abd").unwrap();
    assert_ne!(key(), k0);
}

#[test]
fn big_trees_come_in_bounded_pages_with_a_checkpoint_each() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let n = PAGE_ENTRIES * 2 + 345;
    for i in 0..n {
        write(root, &format!("d{}/f{i:05}.txt", i % 7), "x");
    }
    let log = Recorder::default();
    let pages = pages(&log, config(root, json!({})), None);
    assert!(pages.len() >= 3, "{} pages", pages.len());
    for p in &pages {
        assert!(p.changes.len() <= PAGE_ENTRIES + 2);
        assert!(p.checkpoint.is_some());
    }
    assert_eq!(upserts(&pages).len(), n + 7);
    assert_eq!(paths(&upserts(&pages)).len(), n + 7);
}

#[test]
fn an_interrupted_walk_resumes_after_its_checkpoint_without_a_new_begin() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let n = PAGE_ENTRIES + 500;
    for i in 0..n {
        write(root, &format!("s{}/t{}/f{i:05}.txt", i % 3, i % 5), "x");
    }
    let log = Recorder::default();
    let all = pages(&log, config(root, json!({})), None);

    // A run that stopped after its first page: the next session starts from that page's
    // checkpoint.
    let mut s = Session::start(&log, config(root, json!({})), None).unwrap();
    let first = s.next_page().unwrap();
    assert!(first.has_more);
    let cp = first.checkpoint.clone().unwrap();
    drop(s);
    let rest = pages(&log, config(root, json!({})), Some(&cp));
    assert!(
        !rest
            .iter()
            .flat_map(|p| &p.changes)
            .any(|c| matches!(c, Change::BeginEnumeration(_))),
        "a resumed walk must not open a second enumeration"
    );
    assert!(matches!(
        rest.last().unwrap().changes.last(),
        Some(Change::EndEnumeration(_))
    ));
    let mut resumed = upserts(std::slice::from_ref(&first));
    resumed.extend(upserts(&rest));
    assert_eq!(paths(&resumed), paths(&upserts(&all)));
    assert_eq!(resumed.len(), upserts(&all).len(), "no entry twice");
}

#[test]
fn resuming_at_every_position_continues_exactly_where_the_walk_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for rel in [
        "a/1.txt",
        "a/b/2.txt",
        "a/b/c/3.txt",
        "a/b/c/4.txt",
        "a b/5.txt",
        "a.txt",
        "z/6.txt",
        "é/7.txt",
        "skip/8.txt",
    ] {
        write(root, rel, "x");
    }
    fs::create_dir_all(root.join("a/empty/deeper")).unwrap();
    let options = Options {
        filter: crate::filter::Filter::new(&[], &["skip".to_string()]).unwrap(),
        follow_symlinks: false,
        max_depth: None,
    };
    let order = visit_order(root, &options);
    assert!(order.len() > 10);
    // Component-wise path order: a folder precedes its contents.
    assert!(order.iter().position(|p| p == "a") < order.iter().position(|p| p == "a/1.txt"));
    for k in 0..order.len() {
        let mut w = Walker::resume(root, options.clone(), &order[k]).unwrap();
        let mut rest = Vec::new();
        while !matches!(w.step(), Step::Done) {
            rest.push(w.position().unwrap().to_string());
        }
        assert_eq!(rest, order[k + 1..], "resumed after {}", order[k]);
    }
}

#[test]
fn a_resume_point_that_was_deleted_continues_with_what_sorts_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for rel in [
        "a/1.txt",
        "b/gone/2.txt",
        "b/gone/3.txt",
        "b/later.txt",
        "c/4.txt",
    ] {
        write(root, rel, "x");
    }
    fs::remove_dir_all(root.join("b/gone")).unwrap();
    let options = Options {
        filter: crate::filter::Filter::new(&[], &[]).unwrap(),
        follow_symlinks: false,
        max_depth: None,
    };
    let mut w = Walker::resume(root, options.clone(), "b/gone/2.txt").unwrap();
    let mut rest = Vec::new();
    while !matches!(w.step(), Step::Done) {
        rest.push(w.position().unwrap().to_string());
    }
    assert_eq!(rest, ["b/later.txt", "c", "c/4.txt"]);
    // The whole first folder gone too.
    fs::remove_dir_all(root.join("b")).unwrap();
    let mut w = Walker::resume(root, options, "b/later.txt").unwrap();
    let mut rest = Vec::new();
    while !matches!(w.step(), Step::Done) {
        rest.push(w.position().unwrap().to_string());
    }
    assert_eq!(rest, ["c", "c/4.txt"]);
}

#[test]
fn changed_settings_expire_an_interrupted_walk_and_another_root_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "a.txt", "x");
    let log = Recorder::default();
    let walking = Checkpoint::walking(&config(root, json!({})), None, "a.txt").encode();
    let err = Session::start(
        &log,
        config(root, json!({"exclude": ["*.log"]})),
        Some(&walking),
    )
    .err()
    .unwrap();
    assert!(matches!(err, Error::CheckpointExpired(_)), "{err}");
    let other = tempfile::tempdir().unwrap();
    let err = Session::start(&log, config(other.path(), json!({})), Some(&walking))
        .err()
        .unwrap();
    assert!(matches!(err, Error::CheckpointMismatch(_)), "{err}");
}

#[cfg(unix)]
#[test]
fn an_interrupted_walk_is_not_resumed_over_another_directory_at_the_same_path() {
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("root");
    for i in 0..PAGE_ENTRIES + 10 {
        write(&root, &format!("f{i:05}.txt"), "x");
    }
    let log = Recorder::default();
    let mut s = Session::start(&log, config(&root, json!({})), None).unwrap();
    let cp = s.next_page().unwrap().checkpoint.unwrap();
    drop(s);
    // Same path, another directory.
    fs::rename(&root, parent.path().join("old")).unwrap();
    write(&root, "new.txt", "x");
    let err = Session::start(&log, config(&root, json!({})), Some(&cp))
        .err()
        .unwrap();
    assert!(matches!(err, Error::CheckpointExpired(_)), "{err}");
}

#[test]
fn a_missing_root_is_an_invalid_config_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let log = Recorder::default();
    let err = Session::start(&log, config(&dir.path().join("nope"), json!({})), None)
        .err()
        .unwrap();
    assert!(
        matches!(&err, Error::InvalidConfig(m) if m.starts_with("root:")),
        "{err}"
    );
}

#[test]
fn include_and_exclude_filter_files_and_prune_folders() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for rel in [
        "a.md",
        "a.txt",
        "docs/b.md",
        "docs/b.tmp.md",
        "node_modules/x/y.md",
        "web/node_modules/z.md",
        "build/out.md",
        "src/build",
    ] {
        write(root, rel, "x");
    }
    let log = Recorder::default();
    let docs = upserts(&pages(
        &log,
        config(
            root,
            json!({"include": ["*.md", "src/*"], "exclude": ["node_modules", "*.tmp.md", "build/"]}),
        ),
        None,
    ));
    assert_eq!(
        paths(&docs),
        set(&["/a.md", "/docs", "/docs/b.md", "/src", "/src/build", "/web"])
    );
}

#[test]
fn max_depth_reports_the_deepest_folders_without_walking_into_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "top.txt", "x");
    write(root, "one/mid.txt", "x");
    write(root, "one/two/deep.txt", "x");
    let log = Recorder::default();
    let docs = upserts(&pages(&log, config(root, json!({"max_depth": 2})), None));
    assert_eq!(
        paths(&docs),
        set(&["/one", "/one/mid.txt", "/one/two", "/top.txt"])
    );
    let docs = upserts(&pages(&log, config(root, json!({"max_depth": 1})), None));
    assert_eq!(paths(&docs), set(&["/one", "/top.txt"]));
}

#[cfg(unix)]
#[test]
fn symlinks_are_left_out_unless_followed_and_never_followed_out_of_the_root_or_in_a_loop() {
    use std::os::unix::fs::symlink;
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("root");
    write(&root, "real/inside.txt", "inside");
    write(outer.path(), "secret/outside.txt", "must not be indexed");
    symlink("real/inside.txt", root.join("link-to-file")).unwrap();
    symlink("real", root.join("link-to-dir")).unwrap();
    symlink("../secret", root.join("escape")).unwrap();
    symlink(outer.path().join("secret"), root.join("absolute")).unwrap();
    symlink("..", root.join("real/up")).unwrap();
    symlink("nowhere", root.join("broken")).unwrap();

    let log = Recorder::default();
    let plain = upserts(&pages(&log, config(&root, json!({})), None));
    assert_eq!(paths(&plain), set(&["/real", "/real/inside.txt"]));

    let followed = by_path(&upserts(&pages(
        &log,
        config(&root, json!({"follow_symlinks": true})),
        None,
    )));
    assert_eq!(
        followed.keys().cloned().collect::<BTreeSet<_>>(),
        set(&[
            "/absolute",
            "/broken",
            "/escape",
            "/link-to-dir",
            "/link-to-dir/inside.txt",
            "/link-to-dir/up",
            "/link-to-file",
            "/real",
            "/real/inside.txt",
            "/real/up",
        ])
    );
    // A followed link reads its content from where the file really is.
    let f = &followed["/link-to-file"];
    assert_eq!(f.fields["type"], "file");
    assert_eq!(f.fields["link_target"], "real/inside.txt");
    assert_eq!(
        Path::new(&f.content.as_ref().unwrap().path),
        root.join("real/inside.txt")
    );
    assert_eq!(followed["/link-to-dir"].fields["type"], "folder");
    for (path, why) in [
        ("/escape", "out of the indexed directory"),
        ("/absolute", "absolute path"),
        ("/broken", "broken"),
        ("/real/up", "loop"),
        ("/link-to-dir/up", "loop"),
    ] {
        let d = &followed[path];
        assert_eq!(d.fields["type"], "symlink", "{path}");
        assert!(d.content.is_none(), "{path}");
        let e = d.fields["read_error"].as_str().unwrap();
        assert!(e.contains(why), "{path}: {e}");
    }
    assert!(
        !followed
            .values()
            .any(|d| d.fields.to_string().contains("must not be indexed")
                || d.fields["path"].as_str().unwrap().contains("outside")),
    );
}

#[cfg(unix)]
#[test]
fn mutually_pointing_folder_links_end() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("a")).unwrap();
    fs::create_dir_all(root.join("b")).unwrap();
    symlink("../b", root.join("a/to-b")).unwrap();
    symlink("../a", root.join("b/to-a")).unwrap();
    let log = Recorder::default();
    let docs = by_path(&upserts(&pages(
        &log,
        config(root, json!({"follow_symlinks": true})),
        None,
    )));
    assert_eq!(
        docs.keys().cloned().collect::<BTreeSet<_>>(),
        set(&[
            "/a",
            "/a/to-b",
            "/a/to-b/to-a",
            "/b",
            "/b/to-a",
            "/b/to-a/to-b"
        ])
    );
    assert!(
        docs["/a/to-b/to-a"].fields["read_error"]
            .as_str()
            .unwrap()
            .contains("loop")
    );
}

#[cfg(unix)]
#[test]
fn unreadable_folders_and_files_are_documents_with_a_read_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "locked/inside.txt", "x");
    write(root, "secret.txt", "x");
    write(root, "z-after.txt", "x");
    if !permissions_enforced(root) {
        eprintln!("skipped: permissions are not enforced for this user (root?)");
        return;
    }
    /// Gives the folder its permissions back however the test ends, so the temporary
    /// directory can be removed.
    struct Unlock<'a>(&'a Path);
    impl Drop for Unlock<'_> {
        fn drop(&mut self) {
            let _ = fs::set_permissions(self.0, fs::Permissions::from_mode(0o755));
        }
    }
    let locked_path = root.join("locked");
    let _unlock = Unlock(&locked_path);
    fs::set_permissions(&locked_path, fs::Permissions::from_mode(0o000)).unwrap();
    fs::set_permissions(root.join("secret.txt"), fs::Permissions::from_mode(0o000)).unwrap();
    let log = Recorder::default();
    let docs = by_path(&upserts(&pages(&log, config(root, json!({})), None)));
    assert_eq!(
        docs.keys().cloned().collect::<BTreeSet<_>>(),
        set(&["/locked", "/secret.txt", "/z-after.txt"])
    );
    let locked = &docs["/locked"];
    assert_eq!(locked.fields["type"], "folder");
    assert!(
        locked.fields["read_error"]
            .as_str()
            .unwrap()
            .contains("cannot be listed")
    );
    let secret = &docs["/secret.txt"];
    assert!(
        secret.fields["read_error"]
            .as_str()
            .unwrap()
            .contains("cannot be read")
    );
    assert!(secret.content.is_none());
    assert!(docs["/z-after.txt"].content.is_some());
    assert_eq!(log.at(Level::Warn).len(), 2, "{:?}", log.at(Level::Warn));
}

#[test]
fn folders_that_vanish_during_the_walk_are_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "a/1.txt", "x");
    write(root, "b/2.txt", "x");
    write(root, "c/3.txt", "x");
    let options = Options {
        filter: crate::filter::Filter::new(&[], &[]).unwrap(),
        follow_symlinks: false,
        max_depth: None,
    };
    let mut w = Walker::new(root, options).unwrap();
    let mut seen = Vec::new();
    loop {
        match w.step() {
            Step::Done => break,
            Step::Skipped => {}
            Step::Entry(e) => {
                // `a` is listed by now; remove its file and the whole of `b` before they are
                // visited.
                if e.rel == "a" {
                    fs::remove_file(root.join("a/1.txt")).unwrap();
                    fs::remove_dir_all(root.join("b")).unwrap();
                }
                seen.push(e.rel);
            }
        }
    }
    assert_eq!(seen, ["a", "c", "c/3.txt"]);
}

#[cfg(target_os = "linux")]
#[test]
fn names_that_are_not_utf8_are_skipped_with_a_warning() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "ok.txt", "x");
    if fs::write(root.join(OsStr::from_bytes(b"bad-\xff.txt")), "x").is_err() {
        eprintln!("skipped: this file system refuses non-UTF-8 names");
        return;
    }
    let log = Recorder::default();
    let docs = upserts(&pages(&log, config(root, json!({})), None));
    assert_eq!(paths(&docs), set(&["/ok.txt"]));
    let warns = log.at(Level::Warn);
    assert!(
        warns.iter().any(|w| w.contains("not valid UTF-8")),
        "{warns:?}"
    );
}
