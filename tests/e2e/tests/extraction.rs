//! Rich formats end to end: the extraction corpus (the same texts saved by a real office
//! suite in every format, see tests/fixtures/extraction) in the emulator's Dropbox, synced,
//! and found by a full-text search on a phrase from their bodies; hostile files in the same
//! sync become per-document skip reasons while everything else is indexed.
use anyhow::Context;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tributary_e2e::{Emulator, SearchServer, Tenant, repo_root};

fn corpus() -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut files = vec![];
    for dir in ["corpus", "hostile"] {
        let path = repo_root().join("tests/fixtures/extraction").join(dir);
        for entry in std::fs::read_dir(&path).with_context(|| path.display().to_string())? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            files.push((format!("/{dir}/{name}"), std::fs::read(entry.path())?));
        }
    }
    files.sort();
    Ok(files)
}

/// A phrase each kind of document holds (from tests/fixtures/extraction/expected).
fn phrase_for(path: &str) -> Option<&'static str> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let stem = name.split('.').next().unwrap_or(name);
    match stem {
        "document" => Some("crème brûlée to naïve hikers"),
        "spreadsheet" => Some("Cabane du Glacier"),
        "presentation" => Some("Plan the winter traverse"),
        "message" | "drawing" => None,
        _ => None,
    }
}

#[test]
fn every_format_of_the_corpus_is_searchable_and_hostile_files_are_skipped() -> anyhow::Result<()> {
    let files = corpus()?;
    let manifest = json!({
        "files": files
            .iter()
            .map(|(path, bytes)| {
                use base64::Engine as _;
                json!({"path": path, "content_base64": base64::engine::general_purpose::STANDARD.encode(bytes)})
            })
            .collect::<Vec<_>>(),
    });
    let emu = Emulator::with_manifest(&manifest, &[])?;
    let es = SearchServer::start()?;
    let tenant = Tenant::new(&emu, &es)?;
    let report = tenant.sync_ok()?;
    let docs = es.all_docs(&tenant.index)?;
    let by_path: BTreeMap<String, &Value> = docs
        .values()
        .filter_map(|d| d["file_path"].as_str().map(|p| (p.to_string(), d)))
        .collect();

    // Every corpus file has text, and the text holds its phrase.
    let mut missing = vec![];
    for (path, _) in files.iter().filter(|(p, _)| p.starts_with("/corpus/")) {
        let doc = by_path
            .get(path)
            .with_context(|| format!("{path} is not indexed"))?;
        if doc["content_status"] != "extracted" {
            missing.push(format!(
                "{path}: {} ({})",
                doc["content_status"], doc["content_skipped_reason"]
            ));
            continue;
        }
        let body = doc["body"].as_str().unwrap_or("");
        if let Some(phrase) = phrase_for(path)
            && !body.contains(phrase)
        {
            missing.push(format!("{path}: the body lacks {phrase:?}"));
        }
    }
    assert!(missing.is_empty(), "{}\n{report}", missing.join("\n"));

    // A full-text search on a phrase from the body finds every format that holds it.
    es.refresh(&tenant.index)?;
    for (phrase, kind) in [
        ("naïve hikers", "document"),
        ("Cabane du Glacier", "spreadsheet"),
        ("winter traverse", "presentation"),
    ] {
        let hits = es.search(
            &tenant.index,
            &json!({"size": 100, "query": {"match_phrase": {"body": phrase}}}),
        )?;
        let found: Vec<String> = hits["hits"]["hits"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|h| h["_source"]["file_path"].as_str().map(String::from))
            .collect();
        let expected: Vec<&String> = files
            .iter()
            .map(|(p, _)| p)
            .filter(|p| {
                p.starts_with("/corpus/")
                    && p.rsplit('/').next().is_some_and(|n| n.starts_with(kind))
            })
            .collect();
        for path in &expected {
            assert!(
                found.contains(path),
                "searching {phrase:?} did not find {path}: found {found:?}"
            );
        }
    }

    // Hostile files: indexed by name, never with garbage; each says why it has no text.
    for (path, _) in files.iter().filter(|(p, _)| p.starts_with("/hostile/")) {
        let doc = by_path
            .get(path)
            .with_context(|| format!("{path} is not indexed"))?;
        match doc["content_status"].as_str() {
            Some("skipped") => assert!(
                doc["content_skipped_reason"]
                    .as_str()
                    .is_some_and(|r| !r.is_empty()),
                "{path}: skipped without a reason"
            ),
            // A hostile file may still hold real text (a truncated .docx keeps its first
            // paragraphs): then it must be text, not markup or binary noise.
            Some("extracted") => {
                let body = doc["body"].as_str().unwrap_or("");
                assert!(
                    !body.contains("<w:") && !body.contains("&lol") && !body.contains('\u{fffd}'),
                    "{path}: garbage indexed as text: {}",
                    body.chars().take(200).collect::<String>()
                );
            }
            other => panic!("{path}: unexpected content status {other:?}"),
        }
    }
    Ok(())
}
