//! A document as the sink sends it: one JSON object, serialized once, where it is assembled.
//!
//! Building the object as text (instead of a `serde_json::Map` that is serialized again by the
//! sink) saves a tree, its allocations and a second pass over every string; the component's
//! own fields can be copied in as they came (see `sync::document`).
use serde_json::{Map, Value};

/// A serialized JSON object: the `_source` of an index, or the fields of a merge.
#[derive(Clone, PartialEq, Eq)]
pub struct Doc {
    json: Vec<u8>,
    /// The object has a top-level `_timestamp`.
    timestamp: bool,
}

impl Doc {
    /// The object's JSON text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.json
    }

    /// Bytes of JSON text.
    pub fn len(&self) -> usize {
        self.json.len()
    }

    /// Whether the object is `{}`.
    pub fn is_empty(&self) -> bool {
        self.json.len() <= 2
    }

    /// Whether the object has a top-level `_timestamp`.
    pub fn has_timestamp(&self) -> bool {
        self.timestamp
    }

    /// Serialize a map (tests, and writes that are rare enough not to matter).
    pub fn from_map(map: &Map<String, Value>) -> Doc {
        let mut w = DocWriter::with_capacity(256);
        for (key, value) in map {
            w.value(key, value);
        }
        w.finish()
    }

    /// The object as a map: for the rare write that has to be rearranged (an upsert).
    pub fn to_map(&self) -> anyhow::Result<Map<String, Value>> {
        serde_json::from_slice(&self.json)
            .map_err(|e| anyhow::anyhow!("a document the host assembled is not a JSON object: {e}"))
    }

    /// A copy with `key` set to `value` (added at the end; the caller knows it is absent).
    pub fn with_str(&self, key: &str, value: &str) -> Doc {
        let mut json = Vec::with_capacity(self.json.len() + key.len() + value.len() + 8);
        json.extend_from_slice(&self.json[..self.json.len().saturating_sub(1)]);
        if !self.is_empty() {
            json.push(b',');
        }
        push_str(&mut json, key);
        json.push(b':');
        push_str(&mut json, value);
        json.push(b'}');
        Doc {
            json,
            timestamp: self.timestamp || key == "_timestamp",
        }
    }
}

impl std::fmt::Debug for Doc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.json))
    }
}

/// Writes one JSON object, member by member. Keys are written once each: the caller makes
/// sure no key repeats (a JSON object with a repeated key is rejected by Elasticsearch).
pub struct DocWriter {
    json: Vec<u8>,
    /// Members written at the current nesting level so far (0 = no comma needed yet).
    members: Vec<u32>,
    timestamp: bool,
}

impl DocWriter {
    pub fn with_capacity(capacity: usize) -> DocWriter {
        let mut json = Vec::with_capacity(capacity);
        json.push(b'{');
        DocWriter {
            json,
            members: vec![0],
            timestamp: false,
        }
    }

    fn key(&mut self, key: &str) {
        let depth = self.members.len();
        if let Some(n) = self.members.last_mut() {
            if *n > 0 {
                self.json.push(b',');
            }
            *n += 1;
        }
        if depth == 1 && key == "_timestamp" {
            self.timestamp = true;
        }
        push_str(&mut self.json, key);
        self.json.push(b':');
    }

    /// A member whose key is known to need no escaping (it came out of a JSON string that
    /// had no escapes in it) and whose value is already JSON text.
    pub fn raw_plain_key(&mut self, key: &str, raw: &str) {
        let depth = self.members.len();
        if let Some(n) = self.members.last_mut() {
            if *n > 0 {
                self.json.push(b',');
            }
            *n += 1;
        }
        if depth == 1 && key == "_timestamp" {
            self.timestamp = true;
        }
        self.json.push(b'"');
        self.json.extend_from_slice(key.as_bytes());
        self.json.extend_from_slice(b"\":");
        self.json.extend_from_slice(raw.as_bytes());
    }

    /// A member whose value is already JSON text.
    pub fn raw(&mut self, key: &str, raw: &str) {
        self.key(key);
        self.json.extend_from_slice(raw.as_bytes());
    }

    pub fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        push_str(&mut self.json, value);
    }

    pub fn bool(&mut self, key: &str, value: bool) {
        self.raw(key, if value { "true" } else { "false" });
    }

    pub fn null(&mut self, key: &str) {
        self.raw(key, "null");
    }

    pub fn value(&mut self, key: &str, value: &Value) {
        self.key(key);
        // Serializing a `Value` into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.json, value);
    }

    /// Open a nested object under `key`; close it with [`DocWriter::end_object`].
    pub fn begin_object(&mut self, key: &str) {
        self.key(key);
        self.json.push(b'{');
        self.members.push(0);
    }

    pub fn end_object(&mut self) {
        if self.members.len() > 1 {
            self.members.pop();
            self.json.push(b'}');
        }
    }

    pub fn finish(mut self) -> Doc {
        while self.members.len() > 1 {
            self.end_object();
        }
        self.json.push(b'}');
        Doc {
            json: self.json,
            timestamp: self.timestamp,
        }
    }
}

/// Append `s` as a JSON string.
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    super::json_string::push(out, s);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(d: &Doc) -> Value {
        serde_json::from_slice(d.as_bytes()).unwrap()
    }

    #[test]
    fn writes_nested_objects_and_escapes() {
        let mut w = DocWriter::with_capacity(8);
        w.str("name", "a \"quoted\"\n\u{1}name");
        w.begin_object("tributary");
        w.str("scope", "files");
        w.null("content_key");
        w.end_object();
        w.bool("flag", true);
        w.raw("n", "12");
        w.raw_plain_key("_timestamp", "\"2024-01-01T00:00:00Z\"");
        let d = w.finish();
        assert!(d.has_timestamp());
        assert_eq!(
            parsed(&d),
            json!({"name": "a \"quoted\"\n\u{1}name", "tributary": {"scope": "files", "content_key": null},
                   "flag": true, "n": 12, "_timestamp": "2024-01-01T00:00:00Z"})
        );
    }

    #[test]
    fn only_a_top_level_timestamp_counts() {
        let mut w = DocWriter::with_capacity(8);
        w.begin_object("meta");
        w.str("_timestamp", "x");
        w.end_object();
        let d = w.finish();
        assert!(!d.has_timestamp());
        let e = d.with_str("_timestamp", "t");
        assert!(e.has_timestamp());
        assert_eq!(
            parsed(&e),
            json!({"meta": {"_timestamp": "x"}, "_timestamp": "t"})
        );
        let empty = DocWriter::with_capacity(2).finish();
        assert!(empty.is_empty());
        assert_eq!(parsed(&empty.with_str("a", "b")), json!({"a": "b"}));
    }

    #[test]
    fn maps_round_trip() {
        let map = json!({"a": [1, {"b": null}], "_timestamp": "t", "c": "d"});
        let d = Doc::from_map(map.as_object().unwrap());
        assert!(d.has_timestamp());
        assert_eq!(Value::Object(d.to_map().unwrap()), map);
    }
}
