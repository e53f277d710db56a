//! The document the sink stores: the component's fields plus the host's own (run marker,
//! scope, content key, content status, body).
use super::content::ContentOutcome;
use serde_json::{Map, Value, json};

/// The stored form of one upsert.
pub fn assemble(
    mut fields: Map<String, Value>,
    scope: &str,
    marker: &str,
    content: Option<&ContentOutcome>,
    content_key: Option<&str>,
) -> Map<String, Value> {
    let mut tributary = json!({ "scope": scope, "run": marker });
    // Only extracted text is worth keeping across runs. A skip (too large, unsupported type,
    // extraction off) is decided again each run without downloading, so raising
    // `content.max_bytes` or turning extraction on takes effect; a failure is retried.
    let record_key = match content {
        Some(ContentOutcome::Extracted { .. } | ContentOutcome::Attachment(_)) => true,
        Some(_) => false,
        // Metadata-only update: the stored content (and its key) stays valid.
        None => content_key.is_some(),
    };
    if let (Some(key), true, Some(obj)) = (content_key, record_key, tributary.as_object_mut()) {
        obj.insert("content_key".into(), Value::String(key.to_string()));
    }
    fields.insert("tributary".into(), tributary);
    match content {
        None if content_key.is_some() => {}
        None => {
            fields.insert("content_status".into(), json!("none"));
        }
        Some(outcome) => content_fields(&mut fields, outcome),
    }
    fields
}

/// The stored form of an access-control document (an identity): the component's fields and
/// the run marker the purge of departed members needs, nothing about content.
pub fn assemble_identity(
    mut fields: Map<String, Value>,
    scope: &str,
    marker: &str,
) -> Map<String, Value> {
    fields.insert("tributary".into(), json!({ "scope": scope, "run": marker }));
    fields
}

/// The content part of a document alone: what a later run's retry of a failed fetch merges
/// into the stored document.
pub fn content_patch(outcome: &ContentOutcome, content_key: Option<&str>) -> Map<String, Value> {
    let mut fields = Map::new();
    content_fields(&mut fields, outcome);
    let key = match outcome {
        ContentOutcome::Extracted { .. } | ContentOutcome::Attachment(_) => content_key,
        _ => None,
    };
    fields.insert(
        "tributary".into(),
        json!({ "content_key": key.map(|k| Value::String(k.to_string())).unwrap_or(Value::Null) }),
    );
    // A merge keeps what it is not told: clear what the new outcome does not set.
    for field in HOST_CONTENT_FIELDS {
        fields.entry(*field).or_insert(Value::Null);
    }
    fields
}

/// Content fields the host sets only for some outcomes (cleared by a merge that does not set
/// them, so a stale body or reason does not survive).
pub const HOST_CONTENT_FIELDS: &[&str] = &[
    "body",
    "content_skipped_reason",
    "content_truncated",
    "content_meta",
];

fn content_fields(fields: &mut Map<String, Value>, outcome: &ContentOutcome) {
    fields.insert("content_status".into(), json!(outcome.status()));
    match outcome {
        ContentOutcome::Extracted {
            text,
            truncated,
            metadata,
            ..
        } => {
            fields.insert("body".into(), Value::String(text.to_string()));
            if *truncated {
                fields.insert("content_truncated".into(), Value::Bool(true));
            }
            let mut meta = Map::new();
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    meta.insert(k.into(), v);
                }
            };
            put("title", metadata.title.clone().map(Value::String));
            put("author", metadata.author.clone().map(Value::String));
            put("pages", metadata.pages.map(Value::from));
            put("sheets", metadata.sheets.map(Value::from));
            put("slides", metadata.slides.map(Value::from));
            // Only when the file said something about itself: a plain text file's format
            // alone is not worth the bytes (the extension says as much).
            if !meta.is_empty() {
                if !metadata.format.is_empty() {
                    meta.insert("format".into(), Value::String(metadata.format.clone()));
                }
                fields.insert("content_meta".into(), Value::Object(meta));
            }
        }
        ContentOutcome::Skipped(reason)
        | ContentOutcome::Failed(reason)
        | ContentOutcome::Unavailable(reason) => {
            fields.insert(
                "content_skipped_reason".into(),
                Value::String(reason.clone()),
            );
        }
        ContentOutcome::Attachment(bytes) => {
            use base64::Engine as _;
            fields.insert(
                "_attachment".into(),
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn assembled_documents_carry_scope_marker_and_content_state() {
        let mut fields = Map::new();
        fields.insert("name".into(), json!("a.txt"));
        let doc = assemble(
            fields.clone(),
            "files",
            "run-1",
            Some(&ContentOutcome::Extracted {
                text: Arc::from("hello"),
                bytes: 5,
                truncated: true,
                metadata: Arc::new(crate::extract::Metadata {
                    format: "pdf".into(),
                    pages: Some(3),
                    ..Default::default()
                }),
            }),
            Some("hash1"),
        );
        assert_eq!(doc["content_truncated"], json!(true));
        assert_eq!(doc["content_meta"], json!({"format": "pdf", "pages": 3}));
        let plain = assemble(
            Map::new(),
            "files",
            "r",
            Some(&ContentOutcome::Extracted {
                text: Arc::from("x"),
                bytes: 1,
                truncated: false,
                metadata: Arc::new(crate::extract::Metadata {
                    format: "text".into(),
                    ..Default::default()
                }),
            }),
            None,
        );
        assert!(plain.get("content_meta").is_none() && plain.get("content_truncated").is_none());
        assert_eq!(doc["body"], json!("hello"));
        assert_eq!(doc["content_status"], json!("extracted"));
        assert_eq!(
            doc["tributary"],
            json!({"scope": "files", "run": "run-1", "content_key": "hash1"})
        );
        // A failed download records no key, so the next run tries again.
        let failed = assemble(
            fields.clone(),
            "files",
            "r",
            Some(&ContentOutcome::Failed("HTTP 500".into())),
            Some("hash1"),
        );
        assert!(failed["tributary"].get("content_key").is_none());
        assert_eq!(failed["content_skipped_reason"], json!("HTTP 500"));
        // A metadata-only update keeps the stored body: no content fields at all.
        let update = assemble(fields.clone(), "files", "r", None, Some("hash1"));
        assert!(update.get("content_status").is_none() && update.get("body").is_none());
        let folder = assemble(fields, "files", "r", None, None);
        assert_eq!(folder["content_status"], json!("none"));
    }

    #[test]
    fn a_retry_patch_replaces_the_content_part_only() {
        let ok = content_patch(
            &ContentOutcome::Extracted {
                text: Arc::from("hello"),
                bytes: 5,
                truncated: false,
                metadata: Arc::default(),
            },
            Some("k"),
        );
        assert_eq!(ok["content_truncated"], Value::Null);
        assert_eq!(ok["body"], json!("hello"));
        assert_eq!(ok["content_skipped_reason"], Value::Null);
        assert_eq!(ok["tributary"], json!({"content_key": "k"}));
        assert!(ok.get("name").is_none() && ok["tributary"].get("run").is_none());
        let failed = content_patch(&ContentOutcome::Failed("HTTP 500".into()), Some("k"));
        assert_eq!(failed["body"], Value::Null);
        assert_eq!(failed["tributary"]["content_key"], Value::Null);
    }
}
