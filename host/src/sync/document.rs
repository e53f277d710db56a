//! The document the sink stores: the component's fields plus the host's own (run marker,
//! scope, content key, content status, body), written straight into the JSON text the sink
//! sends.
//!
//! The component's fields arrive as one JSON object. They are checked and split into their
//! top-level members without building a tree ([`Fields`]); each member's value is copied as
//! it came. A document that replaces the stored one leaves out members whose value is `null`
//! or `""` (absent says the same, in fewer bytes); a merge keeps `null` and sends `""` as
//! `null`, so a value that became empty clears the stored one.
use super::content::ContentOutcome;
use crate::sink::{Doc, DocWriter};
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// Content fields the host sets only for some outcomes (cleared by a merge that does not set
/// them, so a stale body or reason does not survive).
pub const HOST_CONTENT_FIELDS: &[&str] = &[
    "body",
    "content_skipped_reason",
    "content_truncated",
    "content_meta",
];

/// A component's fields: one JSON object, split into its top-level members.
pub struct Fields<'a> {
    members: Vec<(Key<'a>, &'a RawValue)>,
}

/// Why the fields could not be used.
#[derive(Debug, thiserror::Error)]
#[error("not a JSON object: {0}")]
pub struct FieldsError(serde_json::Error);

impl<'a> Fields<'a> {
    /// Check that `json` is one JSON object and split it into members. A key that repeats
    /// keeps its last value (as a map would).
    pub fn parse(json: &'a str) -> Result<Fields<'a>, FieldsError> {
        let mut fields: Fields<'a> = serde_json::from_str(json).map_err(FieldsError)?;
        if fields.has_repeated_keys() {
            let members = std::mem::take(&mut fields.members);
            let mut kept: Vec<(Key<'a>, &'a RawValue)> = Vec::with_capacity(members.len());
            for (key, value) in members {
                match kept.iter_mut().find(|(k, _)| k.0 == key.0) {
                    Some(slot) => slot.1 = value,
                    None => kept.push((key, value)),
                }
            }
            fields.members = kept;
        }
        Ok(fields)
    }

    fn has_repeated_keys(&self) -> bool {
        if self.members.len() < 2 {
            return false;
        }
        let mut keys: Vec<&str> = self.members.iter().map(|(k, _)| k.0.as_ref()).collect();
        keys.sort_unstable();
        keys.windows(2).any(|w| w[0] == w[1])
    }

    /// Whether a top-level member `key` exists (whatever its value).
    pub fn has(&self, key: &str) -> bool {
        self.members.iter().any(|(k, _)| k.0 == key)
    }

    /// Whether a top-level `_timestamp` with a value exists.
    pub fn has_timestamp(&self) -> bool {
        self.members
            .iter()
            .any(|(k, v)| k.0 == "_timestamp" && !is_empty(v))
    }

    /// The fields as a map (for sync rules, which look at values).
    pub fn to_map(&self) -> Map<String, Value> {
        self.members
            .iter()
            .map(|(k, v)| {
                let value = serde_json::from_str(v.get()).unwrap_or(Value::Null);
                (k.0.to_string(), value)
            })
            .collect()
    }

    /// Copy the members into `w`, except the keys in `skip`.
    fn write_into(&self, w: &mut DocWriter, shape: Shape, skip: &[&str]) {
        for (key, value) in &self.members {
            let key = key.0.as_ref();
            if skip.contains(&key) {
                continue;
            }
            let raw = match shape {
                Shape::Replace if is_empty(value) => continue,
                Shape::Merge if value.get() == "\"\"" => "null",
                Shape::AsGiven | Shape::Replace | Shape::Merge => value.get(),
            };
            match key_needs_escaping(key) {
                false => w.raw_plain_key(key, raw),
                true => w.raw(key, raw),
            }
        }
    }
}

fn is_empty(value: &RawValue) -> bool {
    matches!(value.get(), "null" | "\"\"")
}

/// A key read from the JSON text: borrowed when it had no escapes, so it can be copied back
/// as it was.
struct Key<'a>(Cow<'a, str>);

fn key_needs_escaping(key: &str) -> bool {
    key.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\')
}

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldsVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for FieldsVisitor<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'a>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(24));
                while let Some(member) = map.next_entry::<Key<'a>, &'a RawValue>()? {
                    members.push(member);
                }
                Ok(Fields { members })
            }
        }
        d.deserialize_map(FieldsVisitor(std::marker::PhantomData))
    }
}

/// What a write does with the stored document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Replaces it: empty members are left out.
    Replace,
    /// Merges into it: `null` clears, `""` is sent as `null`.
    Merge,
    /// Members exactly as the component wrote them.
    AsGiven,
}

/// The stored form of one upsert.
///
/// `content` is what happened to the content this time; `None` with a `content_key` is a
/// metadata-only update of a document whose stored content is still valid (a merge), `None`
/// without one a document that has no content. `timestamp` is written as `_timestamp` when
/// the component gave none (the stored one, or the run's first-indexed time).
pub fn assemble(
    fields: &Fields<'_>,
    scope: &str,
    marker: &str,
    content: Option<&ContentOutcome>,
    content_key: Option<&str>,
    timestamp: Option<&str>,
) -> Doc {
    // Only extracted text is worth keeping across runs. A skip (too large, unsupported type,
    // extraction off) is decided again each run without downloading, so raising
    // `content.max_bytes` or turning extraction on takes effect; a failure is retried.
    let record_key = match content {
        Some(ContentOutcome::Extracted { .. } | ContentOutcome::Attachment(_)) => true,
        Some(_) => false,
        // Metadata-only update: the stored content (and its key) stays valid.
        None => content_key.is_some(),
    };
    let merge = content.is_none() && content_key.is_some();
    let body_len = match content {
        Some(ContentOutcome::Extracted { text, .. }) => text.len() + text.len() / 16,
        Some(ContentOutcome::Attachment(bytes)) => bytes.len() * 4 / 3 + 4,
        _ => 0,
    };
    let mut w = DocWriter::with_capacity(768 + body_len);
    let add_timestamp = !merge && timestamp.is_some() && !fields.has_timestamp();
    // The host's members win over the component's of the same name.
    let mut skip: [&str; 8] = ["tributary", "", "", "", "", "", "", ""];
    let mut n = 1;
    let mut host = |key: &'static str| {
        if n < skip.len() {
            skip[n] = key;
            n += 1;
        }
    };
    // A merge that carried an empty `_timestamp` would clear the stored first-indexed time:
    // leave it out (a replacing write gets the stored or first-indexed one added instead).
    if add_timestamp || (merge && !fields.has_timestamp()) {
        host("_timestamp");
    }
    if let Some(outcome) = content {
        host("content_status");
        for key in content_keys_of(outcome) {
            host(key);
        }
    }
    fields.write_into(
        &mut w,
        if merge { Shape::Merge } else { Shape::Replace },
        &skip[..n],
    );
    if let (true, Some(t)) = (add_timestamp, timestamp) {
        w.str("_timestamp", t);
    }
    if let Some(outcome) = content {
        content_fields(&mut w, outcome);
    }
    w.begin_object("tributary");
    w.str("scope", scope);
    w.str("run", marker);
    if let (Some(key), true) = (content_key, record_key) {
        w.str("content_key", key);
    }
    w.end_object();
    w.finish()
}

/// The stored form of an access-control document (an identity): the component's fields as
/// it wrote them and the run marker the purge of departed members needs, nothing about content.
pub fn assemble_identity(fields: &Fields<'_>, scope: &str, marker: &str) -> Doc {
    let mut w = DocWriter::with_capacity(256);
    fields.write_into(&mut w, Shape::AsGiven, &["tributary"]);
    w.begin_object("tributary");
    w.str("scope", scope);
    w.str("run", marker);
    w.end_object();
    w.finish()
}

/// The content part of a document alone: what a later run's retry of a failed fetch merges
/// into the stored document.
pub fn content_patch(outcome: &ContentOutcome, content_key: Option<&str>) -> Doc {
    let mut w = DocWriter::with_capacity(256);
    content_fields(&mut w, outcome);
    // A merge keeps what it is not told: clear what the new outcome does not set.
    let set = content_keys_of(outcome);
    for field in HOST_CONTENT_FIELDS {
        if !set.contains(field) {
            w.null(field);
        }
    }
    let key = match outcome {
        ContentOutcome::Extracted { .. } | ContentOutcome::Attachment(_) => content_key,
        _ => None,
    };
    w.begin_object("tributary");
    match key {
        Some(key) => w.str("content_key", key),
        None => w.null("content_key"),
    }
    w.end_object();
    w.finish()
}

/// The members [`content_fields`] writes besides `content_status`.
fn content_keys_of(outcome: &ContentOutcome) -> &'static [&'static str] {
    match outcome {
        ContentOutcome::Extracted {
            truncated,
            metadata,
            ..
        } => {
            let meta = metadata.title.is_some()
                || metadata.author.is_some()
                || metadata.pages.is_some()
                || metadata.sheets.is_some()
                || metadata.slides.is_some();
            match (truncated, meta) {
                (true, true) => &["body", "content_truncated", "content_meta"],
                (true, false) => &["body", "content_truncated"],
                (false, true) => &["body", "content_meta"],
                (false, false) => &["body"],
            }
        }
        ContentOutcome::Skipped(_) | ContentOutcome::Failed(_) | ContentOutcome::Unavailable(_) => {
            &["content_skipped_reason"]
        }
        ContentOutcome::Attachment(_) => &["_attachment"],
    }
}

fn content_fields(w: &mut DocWriter, outcome: &ContentOutcome) {
    w.str("content_status", outcome.status());
    match outcome {
        ContentOutcome::Extracted {
            text,
            truncated,
            metadata,
            ..
        } => {
            w.str("body", text);
            if *truncated {
                w.bool("content_truncated", true);
            }
            // Only when the file said something about itself: a plain text file's format
            // alone is not worth the bytes (the extension says as much).
            if content_keys_of(outcome).contains(&"content_meta") {
                w.begin_object("content_meta");
                if let Some(title) = &metadata.title {
                    w.str("title", title);
                }
                if let Some(author) = &metadata.author {
                    w.str("author", author);
                }
                for (key, value) in [
                    ("pages", metadata.pages),
                    ("sheets", metadata.sheets),
                    ("slides", metadata.slides),
                ] {
                    if let Some(v) = value {
                        w.raw(key, &v.to_string());
                    }
                }
                if !metadata.format.is_empty() {
                    w.str("format", &metadata.format);
                }
                w.end_object();
            }
        }
        ContentOutcome::Skipped(reason)
        | ContentOutcome::Failed(reason)
        | ContentOutcome::Unavailable(reason) => {
            w.str("content_skipped_reason", reason);
        }
        ContentOutcome::Attachment(bytes) => {
            use base64::Engine as _;
            w.str(
                "_attachment",
                &base64::engine::general_purpose::STANDARD.encode(bytes),
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn doc(d: &Doc) -> Value {
        serde_json::from_slice(d.as_bytes()).unwrap()
    }

    fn extracted(
        text: &str,
        truncated: bool,
        metadata: crate::extract::Metadata,
    ) -> ContentOutcome {
        ContentOutcome::Extracted {
            text: Arc::from(text),
            bytes: text.len() as u64,
            truncated,
            metadata: Arc::new(metadata),
        }
    }

    #[test]
    fn assembled_documents_carry_scope_marker_and_content_state() {
        let json = r#"{"name":"a.txt"}"#;
        let fields = Fields::parse(json).unwrap();
        let pdf = crate::extract::Metadata {
            format: "pdf".into(),
            pages: Some(3),
            ..Default::default()
        };
        let d = doc(&assemble(
            &fields,
            "files",
            "run-1",
            Some(&extracted("hello", true, pdf)),
            Some("hash1"),
            None,
        ));
        assert_eq!(d["content_truncated"], json!(true));
        assert_eq!(d["content_meta"], json!({"format": "pdf", "pages": 3}));
        assert_eq!(d["body"], json!("hello"));
        assert_eq!(d["content_status"], json!("extracted"));
        assert_eq!(
            d["tributary"],
            json!({"scope": "files", "run": "run-1", "content_key": "hash1"})
        );
        let text = crate::extract::Metadata {
            format: "text".into(),
            ..Default::default()
        };
        let plain = doc(&assemble(
            &Fields::parse("{}").unwrap(),
            "files",
            "r",
            Some(&extracted("x", false, text)),
            None,
            None,
        ));
        assert!(plain.get("content_meta").is_none() && plain.get("content_truncated").is_none());
        // A failed download records no key, so the next run tries again.
        let failed = doc(&assemble(
            &fields,
            "files",
            "r",
            Some(&ContentOutcome::Failed("HTTP 500".into())),
            Some("hash1"),
            None,
        ));
        assert!(failed["tributary"].get("content_key").is_none());
        assert_eq!(failed["content_skipped_reason"], json!("HTTP 500"));
        // A metadata-only update keeps the stored body: no content fields at all.
        let update = doc(&assemble(&fields, "files", "r", None, Some("hash1"), None));
        assert!(update.get("content_status").is_none() && update.get("body").is_none());
        // A document without content says nothing about content.
        let folder = doc(&assemble(&fields, "files", "r", None, None, None));
        assert!(folder.get("content_status").is_none());
        assert_eq!(
            folder,
            json!({"name": "a.txt", "tributary": {"scope": "files", "run": "r"}})
        );
    }

    #[test]
    fn a_replacing_document_leaves_out_empty_members_and_a_merge_clears_them() {
        let fields = Fields::parse(
            r#"{"name":"x","extension":"","gone":null,"n":0,"f":false,"list":[],"obj":{"a":null}}"#,
        )
        .unwrap();
        let replace = doc(&assemble(&fields, "files", "r", None, None, None));
        assert_eq!(
            replace,
            json!({"name": "x", "n": 0, "f": false, "list": [], "obj": {"a": null},
                   "tributary": {"scope": "files", "run": "r"}})
        );
        let merge = doc(&assemble(&fields, "files", "r", None, Some("k"), None));
        assert_eq!(merge["extension"], Value::Null);
        assert!(merge.as_object().unwrap().contains_key("extension"));
        assert!(merge.as_object().unwrap().contains_key("gone"));
        assert_eq!(merge["tributary"]["content_key"], json!("k"));
    }

    #[test]
    fn the_timestamp_is_added_only_where_the_component_gave_none() {
        let folder = Fields::parse(r#"{"name":"d","_timestamp":null}"#).unwrap();
        assert!(!folder.has_timestamp());
        let d = assemble(
            &folder,
            "files",
            "r",
            None,
            None,
            Some("2024-01-01T00:00:00.000Z"),
        );
        assert!(d.has_timestamp());
        assert_eq!(doc(&d)["_timestamp"], json!("2024-01-01T00:00:00.000Z"));
        let file = Fields::parse(r#"{"_timestamp":"2023-05-05T00:00:00Z","name":"f"}"#).unwrap();
        let d = assemble(
            &file,
            "files",
            "r",
            None,
            None,
            Some("2024-01-01T00:00:00.000Z"),
        );
        assert_eq!(doc(&d)["_timestamp"], json!("2023-05-05T00:00:00Z"));
        // A merge never sets it: the stored one stays.
        let d = assemble(&folder, "files", "r", None, Some("k"), Some("2024"));
        assert!(!d.has_timestamp());
        // Not even the component's empty one, which would clear the stored time.
        assert!(doc(&d).get("_timestamp").is_none(), "{d:?}");
    }

    #[test]
    fn the_hosts_members_win_and_keys_are_copied_exactly() {
        let fields = Fields::parse(
            r#"{"tributary":{"x":1},"content_status":"mine","body":"component body","k\"ey":"v","name":"n","name":"last"}"#,
        )
        .unwrap();
        let d = doc(&assemble(
            &fields,
            "files",
            "r",
            Some(&ContentOutcome::Skipped("extraction disabled".into())),
            None,
            None,
        ));
        assert_eq!(d["tributary"], json!({"scope": "files", "run": "r"}));
        assert_eq!(d["content_status"], json!("skipped"));
        // The host does not set a body for a skip: the component's stays, as before.
        assert_eq!(d["body"], json!("component body"));
        assert_eq!(d["k\"ey"], json!("v"));
        assert_eq!(d["name"], json!("last"));
        let text = String::from_utf8(
            assemble(&fields, "files", "r", None, None, None)
                .as_bytes()
                .to_vec(),
        )
        .unwrap();
        assert_eq!(text.matches("\"name\"").count(), 1, "{text}");
    }

    #[test]
    fn fields_must_be_one_object() {
        for bad in ["[1]", "\"s\"", "{\"a\":}", "{} {}", "{\"a\":1", "null"] {
            assert!(Fields::parse(bad).is_err(), "{bad}");
        }
        let f = Fields::parse(" {\"a\" : [1, 2] , \"b\":{\"c\":\"d\"}} ").unwrap();
        assert_eq!(
            Value::Object(f.to_map()),
            json!({"a": [1, 2], "b": {"c": "d"}})
        );
        assert!(f.has("b") && !f.has("c"));
    }

    #[test]
    fn identities_are_written_as_given() {
        let f = Fields::parse(r#"{"identity":{"email":""},"groups":null}"#).unwrap();
        let d = doc(&assemble_identity(&f, "acl", "r"));
        assert_eq!(
            d,
            json!({"identity": {"email": ""}, "groups": null, "tributary": {"scope": "acl", "run": "r"}})
        );
    }

    #[test]
    fn a_retry_patch_replaces_the_content_part_only() {
        let ok = doc(&content_patch(
            &extracted("hello", false, Default::default()),
            Some("k"),
        ));
        assert_eq!(ok["content_truncated"], Value::Null);
        assert!(ok.as_object().unwrap().contains_key("content_truncated"));
        assert_eq!(ok["body"], json!("hello"));
        assert_eq!(ok["content_skipped_reason"], Value::Null);
        assert_eq!(ok["tributary"], json!({"content_key": "k"}));
        assert!(ok.get("name").is_none() && ok["tributary"].get("run").is_none());
        let failed = doc(&content_patch(
            &ContentOutcome::Failed("HTTP 500".into()),
            Some("k"),
        ));
        assert_eq!(failed["body"], Value::Null);
        assert!(failed.as_object().unwrap().contains_key("body"));
        assert_eq!(failed["content_skipped_reason"], json!("HTTP 500"));
        assert_eq!(failed["tributary"]["content_key"], Value::Null);
    }
}
