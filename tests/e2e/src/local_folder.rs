//! End-to-end helpers for sources other than Dropbox: a tenant config for any component, and
//! the ground truth of a local directory (computed here with `std::fs`, independently of the
//! local-folder component) compared field by field with the index.

use crate::{SearchServer, Tenant, collapse_ws, unique};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// A tenant of `connector` (a bundled name or a `.wasm` path) with this `[source]` table.
pub fn component_tenant(es: &SearchServer, connector: &str, source: Value) -> Result<Tenant> {
    let tenant = unique("t");
    let index = format!("src-{tenant}");
    let state_index = format!("tributary-state-{tenant}");
    let config = json!({
        "tenant": tenant,
        "connector": connector,
        "source": source,
        "elasticsearch": {"url": es.url, "index": index, "state_index": state_index},
        "content": {"max_bytes": 10_485_760},
    });
    let config: toml::Table = serde_json::from_value(config)?;
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join(format!("{tenant}.toml"));
    let t = Tenant {
        dir,
        config_path,
        tenant,
        index,
        state_index,
        config,
        es_url: es.url.clone(),
    };
    t.write()?;
    Ok(t)
}

/// A local-folder tenant indexing `root` (plus any extra `[source]` fields).
pub fn folder_tenant(es: &SearchServer, root: &Path, extra: Value) -> Result<Tenant> {
    let mut source = json!({"root": root.to_str().context("root is not UTF-8")?});
    if let (Some(s), Some(e)) = (source.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    component_tenant(es, "local-folder", source)
}

/// What the index must hold for one entry of the directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub name: String,
    pub folder: bool,
    pub size: u64,
    /// RFC 3339 (UTC, milliseconds) of the modification time.
    pub modified: String,
    /// The text of files whose content is extracted verbatim.
    pub text: Option<String>,
}

/// Extensions the host extracts as plain text (the body is the file, whitespace collapsed).
const TEXT_EXTS: &[&str] = &["txt", "md", "csv", "json", "log"];

/// Every file and folder below `root` by path (`/a/b.txt`), not following symbolic links.
pub fn folder_truth(root: &Path) -> Result<BTreeMap<String, Expected>> {
    let mut out = BTreeMap::new();
    let mut pending = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry
                .file_name()
                .into_string()
                .map_err(|n| anyhow::anyhow!("non-UTF-8 name {n:?} in the test tree"))?;
            let path = format!("{rel}/{name}");
            let meta = std::fs::symlink_metadata(entry.path())?;
            if meta.file_type().is_symlink() {
                continue;
            }
            let modified = humantime::format_rfc3339_millis(meta.modified()?).to_string();
            let folder = meta.is_dir();
            let ext = crate::truth::extension(&name);
            let text = (!folder && TEXT_EXTS.contains(&ext.as_str()))
                .then(|| std::fs::read_to_string(entry.path()))
                .transpose()?;
            if folder {
                pending.push((entry.path(), path.clone()));
            }
            out.insert(
                path,
                Expected {
                    name,
                    folder,
                    size: if folder { 0 } else { meta.len() },
                    modified,
                    text,
                },
            );
        }
    }
    Ok(out)
}

/// Compare the index with the directory: every entry once, with the right fields, nothing else.
pub fn assert_index_matches_folder(es: &SearchServer, index: &str, root: &Path) -> Result<()> {
    let truth = folder_truth(root)?;
    let docs = es.all_docs(index)?;
    let mut by_path: BTreeMap<String, (&String, &Value)> = BTreeMap::new();
    let mut problems = Vec::new();
    for (id, doc) in &docs {
        let Some(path) = doc["path"].as_str() else {
            problems.push(format!("{id}: no path field: {doc}"));
            continue;
        };
        if by_path.insert(path.to_string(), (id, doc)).is_some() {
            problems.push(format!("{path}: indexed twice"));
        }
    }
    for path in truth.keys() {
        if !by_path.contains_key(path) {
            problems.push(format!("{path}: missing from the index"));
        }
    }
    for path in by_path.keys() {
        if !truth.contains_key(path) {
            problems.push(format!("{path}: in the index but not in the directory"));
        }
    }
    for (path, want) in &truth {
        let Some((id, doc)) = by_path.get(path) else {
            continue;
        };
        let mut check = |field: &str, got: &Value, expected: Value| {
            if *got != expected {
                problems.push(format!("{path}: {field} is {got}, expected {expected}"));
            }
        };
        check(
            "mime_type present",
            &json!(doc["mime_type"].as_str().is_some_and(|m| !m.is_empty())),
            json!(!want.folder),
        );
        check("id", &doc["id"], json!(id));
        check("name", &doc["name"], json!(want.name));
        check("path_lower", &doc["path_lower"], json!(path.to_lowercase()));
        check(
            "type",
            &doc["type"],
            json!(if want.folder { "folder" } else { "file" }),
        );
        check("modified", &doc["modified"], json!(want.modified));
        check("read_error", &doc["read_error"], Value::Null);
        if want.folder {
            check("size", &doc["size"], Value::Null);
            continue;
        }
        check("size", &doc["size"], json!(want.size));
        let ext = crate::truth::extension(&want.name);
        check(
            "extension",
            &doc["extension"],
            if ext.is_empty() {
                Value::Null
            } else {
                json!(ext)
            },
        );
        if let Some(text) = &want.text {
            check("content_status", &doc["content_status"], json!("extracted"));
            check(
                "body",
                &json!(doc["body"].as_str().map(collapse_ws)),
                json!(collapse_ws(text)),
            );
        }
    }
    if !problems.is_empty() {
        bail!(
            "the index {index} does not match {} ({} problems):\n{}",
            root.display(),
            problems.len(),
            problems.join("\n")
        );
    }
    Ok(())
}
