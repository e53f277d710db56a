//! Ground truth: what the index must hold for the emulator's current tree, field by field.

use crate::{Emulator, SearchServer, Tenant};
use anyhow::{Result, bail};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Extensions whose content is indexed as text exactly (after whitespace collapsing).
pub const PLAIN_EXTS: &[&str] = &[
    "txt", "md", "markdown", "csv", "tsv", "json", "yaml", "yml", "toml", "log", "paper", "rs",
    "py", "js", "ts", "go", "sh", "sql", "css", "c", "h", "java", "rb",
];
/// Extensions whose tags are stripped.
pub const MARKUP_EXTS: &[&str] = &["html", "htm", "xml"];

/// How to compare.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// `[content] max_bytes` of the tenant.
    pub max_bytes: u64,
    /// `[source] web_url` of the tenant.
    pub web_url: String,
    /// Dry-run documents: folders carry no `_timestamp` (the sink adds the first-indexed time).
    pub dry_run: bool,
}

impl CompareOptions {
    pub fn from_tenant(t: &Tenant) -> CompareOptions {
        let max_bytes = t
            .config
            .get("content")
            .and_then(|c| c.get("max_bytes"))
            .and_then(|v| v.as_integer())
            .map(|v| v as u64)
            .unwrap_or(10_485_760);
        let web_url = t
            .config
            .get("source")
            .and_then(|c| c.get("web_url"))
            .and_then(|v| v.as_str())
            .unwrap_or("https://www.dropbox.com")
            .to_string();
        CompareOptions {
            max_bytes,
            web_url,
            dry_run: false,
        }
    }
}

/// Collapse whitespace runs to one space and trim.
pub fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text as the extractor reads it (guest/extractor/src/plain.rs): UTF-16 with a byte-order
/// mark, else UTF-8 with any BOM stripped; `None` (binary) when the first 8 KiB hold a NUL
/// byte; bytes that are not valid UTF-8 are read as Windows-1252.
pub fn decode_text(bytes: &[u8]) -> Option<String> {
    let utf16 = |rest: &[u8], word: fn([u8; 2]) -> u16| -> String {
        char::decode_utf16(rest.chunks_exact(2).map(|p| word([p[0], p[1]])))
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    };
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return Some(utf16(rest, u16::from_le_bytes));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return Some(utf16(rest, u16::from_be_bytes));
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    if bytes[..bytes.len().min(8192)].contains(&0) {
        return None;
    }
    Some(match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
    })
}

/// Lower-case extension without the dot ("" when none or a dotfile).
pub fn extension(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => ext.to_lowercase(),
        _ => String::new(),
    }
}

/// Percent-decode (for comparing links whatever characters were escaped).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn naive_strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match (c, in_tag) {
            ('<', _) => {
                in_tag = true;
                out.push(' ');
            }
            ('>', true) => in_tag = false,
            (_, false) => out.push(c),
            _ => {}
        }
    }
    out
}

/// A few MIME types the connector must get right.
fn known_mime(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "txt" => "text/plain",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "json" => "application/json",
        "html" => "text/html",
        "pdf" => "application/pdf",
        "paper" => "application/vnd.dropbox.paper",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        _ => return None,
    })
}

/// Fields a document may carry; anything else is a mapping bug.
const ALLOWED: &[&str] = &[
    // What the extractor found out about the file (title, author, pages...), and whether its
    // text was cut at content.max_chars: optional (null after a merge that cleared them).
    "content_meta",
    "content_truncated",
    "id",
    "type",
    "name",
    "file_path",
    "path_lower",
    "extension",
    "mime_type",
    "size",
    "_timestamp",
    "rev",
    "content_hash",
    "client_modified",
    "is_downloadable",
    "parent_shared_folder_id",
    "shared_folder_id",
    "read_only",
    "web_url",
    "source",
    "paper",
    "url",
    "owner",
    "body",
    "content_status",
    "content_skipped_reason",
    "tributary",
];

struct Check<'a> {
    id: &'a str,
    doc: &'a Value,
    errors: &'a mut Vec<String>,
}

impl Check<'_> {
    fn eq(&mut self, field: &str, want: &Value) {
        let got = self.doc.get(field).unwrap_or(&Value::Null);
        if got != want {
            self.errors.push(format!(
                "{}: {field}: index has {got}, tree says {want}",
                self.id
            ));
        }
    }
    fn absent(&mut self, field: &str) {
        if let Some(v) = self.doc.get(field).filter(|v| !v.is_null()) {
            self.errors.push(format!(
                "{}: {field} should be absent, index has {v}",
                self.id
            ));
        }
    }
    fn fail(&mut self, msg: String) {
        self.errors.push(format!("{}: {msg}", self.id));
    }
}

fn opt(v: &Value, key: &str) -> Value {
    v.get(key).cloned().unwrap_or(Value::Null)
}

/// Check the body/content fields for content `bytes` fetched from a file named `name`.
fn check_content(
    c: &mut Check<'_>,
    name: &str,
    size: u64,
    bytes: &[u8],
    key: Option<String>,
    opts: &CompareOptions,
    exported: bool,
) {
    let ext = extension(name);
    let status = c.doc["content_status"].as_str().unwrap_or("");
    let reason = c.doc["content_skipped_reason"].as_str().unwrap_or("");
    let too_large = if exported {
        bytes.len() as u64 > opts.max_bytes
    } else {
        size > opts.max_bytes
    };
    if too_large {
        if status != "skipped" {
            c.fail(format!(
                "{size} bytes > max_bytes {}: content_status should be skipped, is {status:?}",
                opts.max_bytes
            ));
        }
        if !reason.contains("too large") {
            c.fail(format!(
                "content_skipped_reason should say too large, is {reason:?}"
            ));
        }
        c.absent("body");
    } else if (PLAIN_EXTS.contains(&ext.as_str()) || MARKUP_EXTS.contains(&ext.as_str()))
        && decode_text(bytes).is_none()
    {
        // NUL bytes in a "text" file: binary content, not indexed.
        if status != "skipped" || !reason.contains("binary") {
            c.fail(format!(
                "NUL bytes in .{ext}: want skipped/binary content, have {status:?}/{reason:?}"
            ));
        }
        c.absent("body");
    } else if PLAIN_EXTS.contains(&ext.as_str()) || MARKUP_EXTS.contains(&ext.as_str()) {
        let text = decode_text(bytes).unwrap_or_default();
        let want = if MARKUP_EXTS.contains(&ext.as_str()) {
            collapse_ws(&naive_strip_tags(&text))
        } else {
            collapse_ws(&text)
        };
        if status != "extracted" {
            c.fail(format!(
                "content_status should be extracted, is {status:?} (reason {reason:?})"
            ));
        }
        let got = c.doc.get("body").and_then(Value::as_str);
        // An empty file may be indexed with an empty body or none.
        if !(got == Some(want.as_str()) || (want.is_empty() && got.is_none())) {
            let shown: String = want.chars().take(120).collect();
            c.fail(format!(
                "body {:?} != collapsed content {:?}",
                got.map(|g| g.chars().take(120).collect::<String>()),
                shown
            ));
        }
        c.absent("content_skipped_reason");
    } else {
        if status != "skipped" {
            c.fail(format!(
                "content_status for .{ext} should be skipped, is {status:?}"
            ));
        }
        if reason.is_empty() {
            c.fail("content_skipped_reason missing for skipped content".into());
        }
        c.absent("body");
    }
    // The key is recorded only for extracted text: a skip is re-decided every run (so raising
    // max_bytes takes effect) and a failure is retried. It is the source's key qualified by
    // the extension (the extractor), so a rename to another type re-extracts.
    let got = c.doc["tributary"]["content_key"].clone();
    let key = key.map(|k| format!("{ext}:{k}"));
    match (status, key) {
        ("extracted", Some(k)) if got != json!(k) => {
            c.fail(format!("tributary.content_key is {got}, want {k:?}"))
        }
        ("extracted", _) => {}
        _ if !got.is_null() => c.fail(format!(
            "tributary.content_key {got} recorded for {status:?} content"
        )),
        _ => {}
    }
}

/// Compare `docs` (`_id` → `_source`) with the emulator's tree. Lists every mismatch.
pub fn assert_docs_match_tree(
    emu: &Emulator,
    docs: &BTreeMap<String, Value>,
    opts: &CompareOptions,
) -> Result<()> {
    let tree = emu.tree()?;
    let mut errors = Vec::new();
    let mut expected_ids = BTreeSet::new();
    let web = opts.web_url.trim_end_matches('/');

    for e in tree["entries"].as_array().cloned().unwrap_or_default() {
        let tag = e[".tag"].as_str().unwrap_or("");
        if tag == "deleted" {
            continue;
        }
        let id = e["id"].as_str().unwrap_or("").to_string();
        expected_ids.insert(id.clone());
        let Some(doc) = docs.get(&id) else {
            errors.push(format!(
                "{id} ({tag} {}) is missing from the index",
                e["path_display"]
            ));
            continue;
        };
        let mut c = Check {
            id: &id,
            doc,
            errors: &mut errors,
        };
        let name = e["name"].as_str().unwrap_or("").to_string();
        let path_display = e["path_display"].as_str().unwrap_or("").to_string();
        c.eq("id", &json!(id));
        c.eq("name", &json!(name));
        c.eq("file_path", &opt(&e, "path_display"));
        c.eq("path_lower", &opt(&e, "path_lower"));
        // Retired: `file_path` carries it (a replacing write leaves the null out).
        c.absent("path_display");
        c.eq("source", &json!("dropbox"));
        if doc["tributary"]["scope"] != json!("files") {
            c.fail(format!(
                "tributary.scope is {}, want \"files\"",
                doc["tributary"]["scope"]
            ));
        }
        if !opts.dry_run && doc["tributary"]["run"].as_str().is_none_or(str::is_empty) {
            c.fail("tributary.run missing".into());
        }
        let parent_shared = e
            .get("parent_shared_folder_id")
            .cloned()
            .filter(|v| !v.is_null())
            .or_else(|| e["sharing_info"].get("parent_shared_folder_id").cloned())
            .unwrap_or(Value::Null);
        c.eq("parent_shared_folder_id", &parent_shared);
        let link = percent_decode(doc["web_url"].as_str().unwrap_or(""));
        match tag {
            "folder" => {
                c.eq("type", &json!("Folder"));
                // Empty and content-less fields are left out of the document (fewer bulk
                // bytes; absent says the same to a search): no extension, no content_status.
                c.absent("extension");
                c.eq("size", &json!(0));
                c.absent("content_status");
                c.absent("body");
                let shared = e
                    .get("shared_folder_id")
                    .cloned()
                    .filter(|v| !v.is_null())
                    .or_else(|| e["sharing_info"].get("shared_folder_id").cloned())
                    .unwrap_or(Value::Null);
                c.eq("shared_folder_id", &shared);
                let want = format!("{web}/home{path_display}");
                if link != want {
                    c.fail(format!("web_url decodes to {link:?}, want {want:?}"));
                }
                if !opts.dry_run && doc["_timestamp"].as_str().is_none_or(|s| s.len() < 10) {
                    c.fail(format!(
                        "folder _timestamp missing or malformed: {}",
                        doc["_timestamp"]
                    ));
                }
            }
            "file" => {
                let ext = extension(&name);
                c.eq("type", &json!("File"));
                if ext.is_empty() {
                    c.absent("extension");
                } else {
                    c.eq("extension", &json!(ext));
                }
                match known_mime(&ext) {
                    Some(m) => c.eq("mime_type", &json!(m)),
                    None if doc["mime_type"].as_str().is_none_or(str::is_empty) => {
                        c.fail("mime_type missing".into())
                    }
                    None => {}
                }
                c.eq("size", &opt(&e, "size"));
                c.eq("_timestamp", &opt(&e, "server_modified"));
                for f in ["rev", "content_hash", "client_modified"] {
                    c.eq(f, &opt(&e, f));
                }
                // Retired: `_timestamp` carries it.
                c.absent("server_modified");
                c.eq(
                    "is_downloadable",
                    &json!(e["is_downloadable"].as_bool().unwrap_or(true)),
                );
                let parent = path_display.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
                let want = format!("{web}/home{parent}?preview={name}");
                if link != want {
                    c.fail(format!("web_url decodes to {link:?}, want {want:?}"));
                }
                let paper = ext == "paper";
                if paper {
                    c.eq("paper", &json!(true));
                } else {
                    c.absent("paper");
                }
                let downloadable = e["is_downloadable"].as_bool().unwrap_or(true);
                let bytes = emu.content(&id).unwrap_or_default();
                let size = e["size"].as_u64().unwrap_or(0);
                let key = if downloadable {
                    e["content_hash"].as_str().map(String::from)
                } else {
                    e["rev"].as_str().map(|r| format!("rev:{r}"))
                };
                // Paper docs are exported as markdown: the extractor sees `<name>.md`.
                let extracted_as = if paper {
                    format!("{name}.md")
                } else {
                    name.clone()
                };
                check_content(
                    &mut c,
                    &extracted_as,
                    size,
                    &bytes,
                    key,
                    opts,
                    !downloadable,
                );
            }
            other => c.fail(format!("unexpected tree entry tag {other:?}")),
        }
        check_allowed(&mut c);
    }

    for r in tree["received_files"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let shared = &r["shared"];
        let link = &r["link"];
        let id = shared["id"].as_str().unwrap_or("").to_string();
        expected_ids.insert(id.clone());
        let Some(doc) = docs.get(&id) else {
            errors.push(format!(
                "{id} (received file {}) is missing from the index",
                shared["name"]
            ));
            continue;
        };
        let mut c = Check {
            id: &id,
            doc,
            errors: &mut errors,
        };
        let name = shared["name"].as_str().unwrap_or("").to_string();
        c.eq("id", &json!(id));
        c.eq("type", &json!("File"));
        c.eq("name", &json!(name));
        c.eq("url", &opt(shared, "preview_url"));
        c.eq("web_url", &opt(shared, "preview_url"));
        c.eq("size", &json!(link["size"].as_u64().unwrap_or(0)));
        c.eq("_timestamp", &opt(link, "server_modified"));
        c.eq("rev", &opt(link, "rev"));
        let owners: Vec<String> = shared["owner_display_names"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        if owners.is_empty() {
            c.absent("owner");
        } else {
            c.eq("owner", &json!(owners.join(", ")));
        }
        c.absent("file_path");
        c.absent("path_lower");
        c.eq("source", &json!("dropbox"));
        if doc["tributary"]["scope"] != json!("received") {
            c.fail(format!(
                "tributary.scope is {}, want \"received\"",
                doc["tributary"]["scope"]
            ));
        }
        let bytes = emu.content(&id).unwrap_or_default();
        let key = link["rev"].as_str().map(|r| format!("rev:{r}"));
        check_content(
            &mut c,
            &name,
            link["size"].as_u64().unwrap_or(0),
            &bytes,
            key,
            opts,
            false,
        );
        check_allowed(&mut c);
    }

    for (id, doc) in docs {
        if !expected_ids.contains(id) {
            errors.push(format!(
                "{id} is in the index but not in the tree (leftover): name={} path={}",
                doc["name"], doc["file_path"]
            ));
        }
    }
    if !errors.is_empty() {
        let total = errors.len();
        errors.truncate(40);
        bail!(
            "index != tree ({} docs in index, {} expected): {total} mismatches:\n  {}",
            docs.len(),
            expected_ids.len(),
            errors.join("\n  ")
        );
    }
    Ok(())
}

fn check_allowed(c: &mut Check<'_>) {
    if let Some(obj) = c.doc.as_object() {
        // A `null` is a cleared field (a merge writes retired fields as null): absent to a search.
        for (k, v) in obj {
            if !v.is_null() && !ALLOWED.contains(&k.as_str()) {
                c.fail(format!("unexpected field {k:?} = {}", obj[k]));
            }
        }
    }
}

/// Read the tenant's whole index and compare it with the emulator's tree.
pub fn assert_index_matches_tree(
    emu: &Emulator,
    es: &SearchServer,
    tenant: &Tenant,
    opts: &CompareOptions,
) -> Result<()> {
    let docs = es.all_docs(&tenant.index)?;
    assert_docs_match_tree(emu, &docs, opts)
}

/// A readable summary of how two `_id → _source` maps differ (ids and fields), or `None`.
pub fn diff_docs(
    before: &BTreeMap<String, Value>,
    after: &BTreeMap<String, Value>,
) -> Option<String> {
    let mut out = Vec::new();
    for id in before.keys().filter(|k| !after.contains_key(*k)) {
        out.push(format!("removed {id} ({})", before[id]["file_path"]));
    }
    for id in after.keys().filter(|k| !before.contains_key(*k)) {
        out.push(format!("added {id} ({})", after[id]["file_path"]));
    }
    for (id, b) in before {
        let Some(a) = after.get(id) else { continue };
        if a == b {
            continue;
        }
        let keys: BTreeSet<&String> = b
            .as_object()
            .into_iter()
            .flat_map(|o| o.keys())
            .chain(a.as_object().into_iter().flat_map(|o| o.keys()))
            .collect();
        for k in keys {
            if b.get(k) != a.get(k) {
                let show = |v: Option<&Value>| {
                    v.map(|v| v.to_string().chars().take(100).collect::<String>())
                        .unwrap_or("(absent)".into())
                };
                out.push(format!(
                    "{id}.{k}: {} -> {}",
                    show(b.get(k)),
                    show(a.get(k))
                ));
            }
        }
    }
    if out.is_empty() {
        return None;
    }
    let total = out.len();
    out.truncate(30);
    Some(format!("{total} differences:\n  {}", out.join("\n  ")))
}

fn strip_nulls(v: &mut Value) {
    if let Value::Object(m) = v {
        m.retain(|_, x| !x.is_null());
        for x in m.values_mut() {
            strip_nulls(x);
        }
    }
}

/// Documents without the host's per-run marker (`tributary.run`) and with `null` fields
/// dropped (an update that clears a field stores `null`; to a search that is "absent").
pub fn comparable(docs: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    docs.iter()
        .map(|(id, d)| {
            let mut d = d.clone();
            if let Some(t) = d.get_mut("tributary").and_then(Value::as_object_mut) {
                t.remove("run");
            }
            strip_nulls(&mut d);
            (id.clone(), d)
        })
        .collect()
}

/// The ids of everything `tree` (a `/_admin/tree` answer) says exists: entries that are not
/// deleted, and received files.
pub fn live_ids(tree: &Value) -> BTreeSet<String> {
    let entries = tree["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e[".tag"] != "deleted")
        .filter_map(|e| e["id"].as_str());
    let received = tree["received_files"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["shared"]["id"].as_str());
    entries.chain(received).map(String::from).collect()
}

/// Documents a run must never remove: indexed `before` it and still existing in `tree` (taken
/// when the run started, nothing changing during it). Returns those missing from `after`,
/// with their path, for the failure message.
pub fn lost_live_docs(
    before: &BTreeMap<String, Value>,
    tree: &Value,
    after: &BTreeMap<String, Value>,
) -> Vec<String> {
    let live = live_ids(tree);
    before
        .iter()
        .filter(|(id, _)| live.contains(*id) && !after.contains_key(*id))
        .map(|(id, d)| format!("{id} ({})", d["file_path"].as_str().unwrap_or("?")))
        .collect()
}
