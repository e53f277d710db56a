//! What a `HeadObject` answer adds to a listed object: its Content-Type and the user
//! metadata stored as `x-amz-meta-*` headers.

use std::collections::BTreeMap;

/// Prefix of user-defined metadata headers.
const USER_META_PREFIX: &str = "x-amz-meta-";

/// The metadata of one object, from its `HeadObject` headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectMetadata {
    pub content_type: Option<String>,
    /// User metadata, by lower-case name without the `x-amz-meta-` prefix.
    pub user: BTreeMap<String, String>,
}

impl ObjectMetadata {
    /// Read the headers of a `HeadObject` answer. Header names are case-insensitive, so user
    /// metadata names are lower-cased (S3 stores them lower-case anyway); a repeated name
    /// keeps its values joined with `,` as HTTP folds repeated headers.
    pub fn from_headers(headers: &[(String, String)]) -> ObjectMetadata {
        let mut meta = ObjectMetadata::default();
        for (name, value) in headers {
            let lower = name.to_ascii_lowercase();
            if lower == "content-type" {
                let v = value.trim();
                if !v.is_empty() {
                    meta.content_type = Some(v.to_string());
                }
            } else if let Some(key) = lower.strip_prefix(USER_META_PREFIX)
                && !key.is_empty()
            {
                meta.user
                    .entry(key.to_string())
                    .and_modify(|v| {
                        v.push(',');
                        v.push_str(value.trim());
                    })
                    .or_insert_with(|| value.trim().to_string());
            }
        }
        meta
    }

    /// The Content-Type without parameters, unless it is the generic "some bytes" type
    /// stores assign when the uploader gave none (then the extension says more).
    pub fn specific_mime_type(&self) -> Option<&str> {
        let ct = self.content_type.as_deref()?;
        let essence = ct.split(';').next().unwrap_or(ct).trim();
        match essence.to_ascii_lowercase().as_str() {
            "" | "binary/octet-stream" | "application/octet-stream" => None,
            _ => Some(essence),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn user_metadata_and_content_type_are_read() {
        let m = ObjectMetadata::from_headers(&h(&[
            ("Content-Type", "text/markdown; charset=utf-8"),
            ("Content-Length", "12"),
            ("ETag", "\"abc\""),
            ("X-Amz-Meta-Author", " Ada "),
            ("x-amz-meta-project", "apollo"),
            ("x-amz-meta-project", "gemini"),
            ("x-amz-meta-", "nameless"),
            ("x-amz-server-side-encryption", "AES256"),
        ]));
        assert_eq!(
            m.content_type.as_deref(),
            Some("text/markdown; charset=utf-8")
        );
        assert_eq!(m.specific_mime_type(), Some("text/markdown"));
        assert_eq!(m.user.len(), 2);
        assert_eq!(m.user["author"], "Ada");
        assert_eq!(m.user["project"], "apollo,gemini");
    }

    #[test]
    fn generic_content_types_say_nothing() {
        for ct in ["binary/octet-stream", "application/octet-stream", " "] {
            let m = ObjectMetadata::from_headers(&h(&[("content-type", ct)]));
            assert_eq!(m.specific_mime_type(), None, "{ct}");
        }
        assert_eq!(ObjectMetadata::default().specific_mime_type(), None);
    }
}
