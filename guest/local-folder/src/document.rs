//! Walk entries → search documents, content requests and changes (mirrors of the WIT types).

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::config::ContentKeyMode;
use crate::content_key;
use crate::identity::Root;
use crate::walk::{Entry, Kind};

/// The one enumeration scope: everything below the root.
pub const SCOPE: &str = "files";

/// Content the host reads from the granted directory (mirrors WIT `content-request` with a
/// `file` source).
#[derive(Debug, Clone, PartialEq)]
pub struct ContentRequest {
    /// The path as the component sees it (inside the root the host granted).
    pub path: String,
    pub file_name: String,
    pub size: Option<u64>,
    pub content_key: Option<String>,
}

/// A document (mirrors WIT `document`).
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub id: String,
    pub scope: String,
    pub fields: Value,
    pub content: Option<ContentRequest>,
}

/// One change (mirrors the WIT `change` cases this connector uses: a walk never deletes one
/// by one, the end of a complete walk purges whatever it did not see).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Upsert(Document),
    BeginEnumeration(String),
    EndEnumeration(String),
}

/// The document id of a path: the SHA-256 of the path relative to the root (with its leading
/// `/`), in hex. Stable across runs and machines, 64 characters whatever the path length
/// (Elasticsearch caps `_id` at 512 bytes, paths are not capped), and the same path always
/// gets the same id, so a moved file is a delete (the old path is purged) plus an add.
pub fn id_of(path: &str) -> String {
    hex::encode(Sha256::digest(path.as_bytes()))
}

/// The path the component reads `real` at (`root` is the guest path of the root).
pub fn guest_path(root: &str, real: &str) -> String {
    let root = root.trim_end_matches('/');
    if real.is_empty() {
        if root.is_empty() {
            "/".into()
        } else {
            root.into()
        }
    } else {
        format!("{root}/{real}")
    }
}

/// The extension of `name`: lower-case, without the dot; none for `.bashrc` or `README`.
pub fn extension(name: &str) -> Option<String> {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => Some(ext.to_lowercase()),
        _ => None,
    }
}

/// RFC 3339 in UTC with milliseconds; `None` outside the years 1970-9999, which the formatter
/// (and most people reading the index) cannot represent.
pub fn rfc3339(t: SystemTime) -> Option<String> {
    const YEAR_10000: u64 = 253_402_300_800;
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) if d.as_secs() < YEAR_10000 => Some(humantime::format_rfc3339_millis(t).to_string()),
        _ => None,
    }
}

/// Build the document of `entry`; also the bytes read to hash it (0 unless `mode` is
/// `Hash`), so the session can bound the work done per page.
/// `identity` is the root held open for file identities (used by the `metadata` key).
pub fn document(
    entry: Entry,
    root: &str,
    identity: &Root,
    mode: ContentKeyMode,
) -> (Document, u64) {
    let path = format!("/{}", entry.rel);
    let id = id_of(&path);
    let mut fields = Map::new();
    // The id as a field too: `_id` cannot be sorted or aggregated on, a keyword can.
    fields.insert("id".into(), json!(id));
    fields.insert("path".into(), json!(path));
    fields.insert("path_lower".into(), json!(path.to_lowercase()));
    fields.insert("name".into(), json!(entry.name));
    fields.insert("type".into(), json!(entry.kind.as_str()));
    if let Some(modified) = entry
        .meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(rfc3339)
    {
        fields.insert("modified".into(), json!(modified));
    }
    if let Some(target) = &entry.link_target {
        fields.insert("link_target".into(), json!(target));
    }
    let mut read_error = entry.read_error;
    let mut content = None;
    let mut hashed = 0;
    if entry.kind == Kind::File {
        let size = entry.meta.as_ref().map(|m| m.len());
        if let Some(size) = size {
            fields.insert("size".into(), json!(size));
        }
        if let Some(ext) = extension(&entry.name) {
            fields.insert("extension".into(), json!(ext));
        }
        let mime = mime_guess::from_path(&entry.name)
            .first_raw()
            .unwrap_or("application/octet-stream");
        fields.insert("mime_type".into(), json!(mime));
        if read_error.is_none() {
            let file = guest_path(root, &entry.real);
            let key = match mode {
                ContentKeyMode::Metadata => entry.meta.as_ref().map(|m| {
                    content_key::from_metadata(m, identity.file_id(&entry.real, m).as_deref())
                }),
                ContentKeyMode::Hash => match content_key::from_bytes(Path::new(&file)) {
                    Ok((key, n)) => {
                        hashed = n;
                        Some(key)
                    }
                    Err(e) => {
                        read_error = Some(format!("the file cannot be read ({e})"));
                        None
                    }
                },
            };
            if read_error.is_none() {
                content = Some(ContentRequest {
                    path: file,
                    file_name: entry.name.clone(),
                    size,
                    content_key: key,
                });
            }
        }
    }
    if let Some(why) = read_error {
        fields.insert("read_error".into(), json!(why));
    }
    let doc = Document {
        id,
        scope: SCOPE.to_string(),
        fields: Value::Object(fields),
        content,
    };
    (doc, hashed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_bounded_and_distinct() {
        let a = id_of("/docs/a.txt");
        assert_eq!(a, id_of("/docs/a.txt"));
        assert_ne!(a, id_of("/docs/A.txt"));
        assert_eq!(a.len(), 64);
        assert_eq!(id_of(&format!("/{}", "x/".repeat(2000))).len(), 64);
    }

    #[test]
    fn extensions_are_lower_case_and_skip_dotfiles() {
        assert_eq!(extension("Report.PDF").as_deref(), Some("pdf"));
        assert_eq!(extension("a.tar.gz").as_deref(), Some("gz"));
        assert_eq!(extension(".bashrc"), None);
        assert_eq!(extension("README"), None);
        assert_eq!(extension("trailing."), None);
    }

    #[test]
    fn guest_paths_join_without_doubling_slashes() {
        assert_eq!(guest_path("/mnt/root", "a/b.txt"), "/mnt/root/a/b.txt");
        assert_eq!(guest_path("/mnt/root/", "a"), "/mnt/root/a");
        assert_eq!(guest_path("/", "a"), "/a");
        assert_eq!(guest_path("/mnt/root", ""), "/mnt/root");
    }

    #[test]
    fn dates_outside_what_rfc3339_shows_are_left_out() {
        use std::time::Duration;
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(rfc3339(t).as_deref(), Some("2023-11-14T22:13:20.123Z"));
        assert_eq!(rfc3339(UNIX_EPOCH - Duration::from_secs(1)), None);
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(253_402_300_800)),
            None
        );
    }
}
