//! Listed objects → search documents, content requests and changes.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::api::Object;
use crate::config::{Config, ContentKey};
use crate::metadata::ObjectMetadata;
use crate::transport::{Method, Request};
use crate::uri;

/// The one enumeration scope: every object of the bucket under the prefix.
pub const SCOPE_OBJECTS: &str = "objects";

/// The `source` field of every document.
pub const SOURCE: &str = "s3";

/// Storage classes whose objects must be restored before `GetObject` works: their content
/// is not requested (the metadata is still indexed).
const ARCHIVED_CLASSES: &[&str] = &["GLACIER", "DEEP_ARCHIVE"];

/// Content the host downloads (mirrors WIT `content-request` with an `http` source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentRequest {
    pub request: Request,
    pub file_name: String,
    pub size: Option<u64>,
    pub content_key: Option<String>,
}

/// A document (mirrors WIT `document`); `fields` is the serialized JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: String,
    pub scope: String,
    pub fields: String,
    pub content: Option<ContentRequest>,
}

/// One change (the subset of WIT `change` a full enumeration needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Upsert(Document),
    BeginEnumeration(String),
    EndEnumeration(String),
}

/// The document id of `key` in `bucket`: the hex SHA-256 of `<bucket>/<key>`. Keys are up
/// to 1024 bytes and may hold any character, so the id is a fixed-length digest rather than
/// the key itself; bucket names cannot contain `/`, so the input is unambiguous.
pub fn document_id(bucket: &str, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(bucket.as_bytes());
    h.update(b"/");
    h.update(key.as_bytes());
    hex::encode(h.finalize())
}

/// Whether a key is a "folder" placeholder (consoles create `photos/` to show a folder).
pub fn is_folder(key: &str) -> bool {
    key.ends_with('/')
}

/// The key without trailing slashes split into (parent, name): `a/b/c.txt` → (`a/b`,
/// `c.txt`), `a/b/` → (`a`, `b`), `top.txt` → (``, `top.txt`). A key made of slashes only is
/// its own name.
pub fn split_key(key: &str) -> (&str, &str) {
    let trimmed = key.trim_end_matches('/');
    if trimmed.is_empty() {
        return ("", key);
    }
    match trimmed.rsplit_once('/') {
        Some((parent, name)) if !name.is_empty() => (parent, name),
        Some((parent, _)) => (parent, trimmed),
        None => ("", trimmed),
    }
}

/// The extension of `name`: lower-case, without the dot, "" when there is none (a leading
/// dot as in `.env` starts a name, not an extension).
pub fn extension(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => ext.to_lowercase(),
        _ => String::new(),
    }
}

/// The MIME type guessed from an extension; `application/octet-stream` when unknown.
pub fn guess_mime_type(ext: &str) -> String {
    if ext.is_empty() {
        return "application/octet-stream".into();
    }
    mime_guess::from_ext(ext)
        .first()
        .map(|m| m.essence_str().to_string())
        .unwrap_or_else(|| "application/octet-stream".into())
}

/// Fields, in key order so equal documents serialize identically.
#[derive(Serialize)]
struct Fields<'a> {
    #[serde(rename = "_timestamp", skip_serializing_if = "Option::is_none")]
    timestamp: Option<&'a str>,
    bucket: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    etag: Option<&'a str>,
    extension: &'a str,
    folder: &'a str,
    /// The document id again: sortable and searchable like any field.
    id: &'a str,
    key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_modified: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mime_type: Option<&'a str>,
    name: &'a str,
    size: u64,
    source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    storage_class: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

/// Why an object's content is not requested (`None`: it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoContent {
    Folder,
    /// The key has a `.` or `..` segment that URL normalisation would rewrite.
    DotSegment,
    /// The storage class needs a restore before the bytes can be read.
    Archived,
}

/// Whether and why an object's content is not requested.
pub fn no_content(o: &Object) -> Option<NoContent> {
    if is_folder(&o.key) {
        Some(NoContent::Folder)
    } else if uri::has_dot_segment(&o.key) {
        Some(NoContent::DotSegment)
    } else if o
        .storage_class
        .as_deref()
        .is_some_and(|c| ARCHIVED_CLASSES.contains(&c))
    {
        Some(NoContent::Archived)
    } else {
        None
    }
}

/// The document for a listed object, with the `HeadObject` metadata when it was fetched.
pub fn object_document(config: &Config, o: &Object, meta: Option<&ObjectMetadata>) -> Document {
    let folder = is_folder(&o.key);
    let (parent, name) = split_key(&o.key);
    let ext = if folder {
        String::new()
    } else {
        extension(name)
    };
    let url = config.object_url(&o.key);
    let id = document_id(&config.bucket, &o.key);
    let mime_type = if folder {
        None
    } else {
        Some(
            meta.and_then(ObjectMetadata::specific_mime_type)
                .map(str::to_string)
                .unwrap_or_else(|| guess_mime_type(&ext)),
        )
    };
    let fields = Fields {
        timestamp: o.last_modified.as_deref(),
        bucket: &config.bucket,
        content_type: meta.and_then(|m| m.content_type.as_deref()),
        etag: o.etag.as_deref(),
        extension: &ext,
        folder: parent,
        id: &id,
        key: &o.key,
        last_modified: o.last_modified.as_deref(),
        metadata: meta.map(|m| &m.user).filter(|u| !u.is_empty()),
        mime_type: mime_type.as_deref(),
        name,
        size: o.size,
        source: SOURCE,
        storage_class: o.storage_class.as_deref(),
        kind: if folder { "folder" } else { "file" },
        url: &url,
    };
    // Plain strings and numbers always serialize.
    let fields = serde_json::to_string(&fields).unwrap_or_else(|_| "{}".into());
    let content = match no_content(o) {
        Some(_) => None,
        None => Some(ContentRequest {
            request: Request::signed(Method::Get, url),
            file_name: name.to_string(),
            size: Some(o.size),
            content_key: content_key(config.content_key, o),
        }),
    };
    Document {
        id,
        scope: SCOPE_OBJECTS.to_string(),
        fields,
        content,
    }
}

/// The content key the host compares with the indexed one before downloading.
fn content_key(kind: ContentKey, o: &Object) -> Option<String> {
    match kind {
        ContentKey::Etag => o.etag.clone(),
        ContentKey::LastModified => Some(format!(
            "{}@{}",
            o.etag.as_deref().unwrap_or_default(),
            o.last_modified.as_deref().unwrap_or_default()
        )),
        ContentKey::None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn config(extra: Value) -> Config {
        let mut v =
            json!({"bucket": "docs", "endpoint": "http://127.0.0.1:9000", "path_style": true});
        if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
            m.extend(e);
        }
        Config::parse(&v.to_string()).unwrap()
    }

    fn object(key: &str) -> Object {
        Object {
            key: key.into(),
            last_modified: Some("2024-04-01T09:00:05.000Z".into()),
            etag: Some("9b2cf535f27731c974343645a3985328".into()),
            size: 42,
            storage_class: Some("STANDARD".into()),
        }
    }

    fn fields(d: &Document) -> Value {
        serde_json::from_str(&d.fields).unwrap()
    }

    #[test]
    fn a_file_document_has_every_field_and_a_signed_content_request() {
        let c = config(json!({}));
        let d = object_document(&c, &object("reports/Q1 summary+.PDF"), None);
        assert_eq!(d.id, document_id("docs", "reports/Q1 summary+.PDF"));
        assert_eq!(d.id.len(), 64);
        assert_eq!(d.scope, "objects");
        assert_eq!(
            fields(&d),
            json!({
                "_timestamp": "2024-04-01T09:00:05.000Z",
                "bucket": "docs",
                "etag": "9b2cf535f27731c974343645a3985328",
                "extension": "pdf",
                "folder": "reports",
                "id": document_id("docs", "reports/Q1 summary+.PDF"),
                "key": "reports/Q1 summary+.PDF",
                "last_modified": "2024-04-01T09:00:05.000Z",
                "mime_type": "application/pdf",
                "name": "Q1 summary+.PDF",
                "size": 42,
                "source": "s3",
                "storage_class": "STANDARD",
                "type": "file",
                "url": "http://127.0.0.1:9000/docs/reports/Q1%20summary%2B.PDF"
            })
        );
        let content = d.content.unwrap();
        assert_eq!(content.file_name, "Q1 summary+.PDF");
        assert_eq!(content.size, Some(42));
        assert_eq!(
            content.content_key.as_deref(),
            Some("9b2cf535f27731c974343645a3985328")
        );
        assert_eq!(content.request.method, Method::Get);
        assert_eq!(
            content.request.url,
            "http://127.0.0.1:9000/docs/reports/Q1%20summary%2B.PDF"
        );
        assert!(content.request.authenticate);
        assert!(content.request.headers.is_empty());
    }

    #[test]
    fn ids_depend_on_bucket_and_key_only() {
        let a = document_id("docs", "a/b.txt");
        assert_eq!(a, document_id("docs", "a/b.txt"));
        assert_ne!(a, document_id("docs", "a/b.txt "));
        assert_ne!(a, document_id("other", "a/b.txt"));
        // Known vector: sha256("docs/a/b.txt").
        assert_eq!(a, hex::encode(Sha256::digest(b"docs/a/b.txt")));
    }

    #[test]
    fn folder_placeholders_have_no_content() {
        let c = config(json!({}));
        let d = object_document(&c, &object("photos/2024/"), None);
        let f = fields(&d);
        assert_eq!(f["type"], "folder");
        assert_eq!(f["name"], "2024");
        assert_eq!(f["folder"], "photos");
        assert_eq!(f["extension"], "");
        assert!(f.get("mime_type").is_none());
        assert!(d.content.is_none());
    }

    #[test]
    fn metadata_adds_user_fields_and_content_type() {
        let c = config(json!({}));
        let meta = ObjectMetadata {
            content_type: Some("text/markdown; charset=utf-8".into()),
            user: [("author".to_string(), "Ada".to_string())].into(),
        };
        let f = fields(&object_document(&c, &object("notes.bin"), Some(&meta)));
        assert_eq!(f["metadata"], json!({"author": "Ada"}));
        assert_eq!(f["content_type"], "text/markdown; charset=utf-8");
        assert_eq!(f["mime_type"], "text/markdown");
        // A generic Content-Type does not override the extension's guess.
        let generic = ObjectMetadata {
            content_type: Some("binary/octet-stream".into()),
            user: BTreeMap::new(),
        };
        let f = fields(&object_document(&c, &object("a.txt"), Some(&generic)));
        assert_eq!(f["mime_type"], "text/plain");
        assert!(f.get("metadata").is_none());
    }

    #[test]
    fn content_key_follows_the_config() {
        let o = object("a.txt");
        let key = |v: &str| {
            object_document(&config(json!({"content_key": v})), &o, None)
                .content
                .unwrap()
                .content_key
        };
        assert_eq!(
            key("etag").as_deref(),
            Some("9b2cf535f27731c974343645a3985328")
        );
        assert_eq!(
            key("last_modified").as_deref(),
            Some("9b2cf535f27731c974343645a3985328@2024-04-01T09:00:05.000Z")
        );
        assert_eq!(key("none"), None);
    }

    #[test]
    fn unreachable_or_archived_objects_are_indexed_without_content() {
        let c = config(json!({}));
        let d = object_document(&c, &object("a/../b.txt"), None);
        assert!(d.content.is_none());
        assert_eq!(fields(&d)["key"], "a/../b.txt");
        let mut cold = object("cold.txt");
        cold.storage_class = Some("DEEP_ARCHIVE".into());
        assert_eq!(no_content(&cold), Some(NoContent::Archived));
        assert!(object_document(&c, &cold, None).content.is_none());
        cold.storage_class = Some("GLACIER_IR".into());
        assert_eq!(no_content(&cold), None);
    }

    #[test]
    fn names_parents_and_extensions() {
        assert_eq!(split_key("a/b/c.txt"), ("a/b", "c.txt"));
        assert_eq!(split_key("top.txt"), ("", "top.txt"));
        assert_eq!(split_key("a/b/"), ("a", "b"));
        assert_eq!(split_key("a//"), ("", "a"));
        assert_eq!(split_key("/"), ("", "/"));
        assert_eq!(split_key("/lead"), ("", "lead"));
        assert_eq!(extension("Report.TAR.GZ"), "gz");
        assert_eq!(extension(".env"), "");
        assert_eq!(extension("noext"), "");
        assert_eq!(extension("trailing."), "");
        assert_eq!(guess_mime_type("md"), "text/markdown");
        assert_eq!(guess_mime_type("zzz-unknown"), "application/octet-stream");
        assert_eq!(guess_mime_type(""), "application/octet-stream");
    }
}
