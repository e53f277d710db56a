//! A JSON object written member by member, for the documents of every listed entry.
//!
//! `serde_json` escapes every string it writes one byte at a time, keys included; inside the
//! sandbox that loop was about a quarter of the component's time on a metadata page (issue
//! 12's profile). Here keys are trusted literals written as they are, and a value is copied
//! whole when a scan of eight bytes at a time finds nothing to escape (the usual case for
//! ids, paths, hashes and dates); only a value that needs escaping goes through `serde_json`.

use serde::Serialize;

/// Builds one JSON object. Keys must be plain literals (nothing to escape).
pub struct ObjectWriter {
    out: String,
    first: bool,
}

impl ObjectWriter {
    /// An empty object, reserving about `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> ObjectWriter {
        let mut out = String::with_capacity(capacity);
        out.push('{');
        ObjectWriter { out, first: true }
    }

    fn key(&mut self, key: &str) {
        debug_assert!(!needs_escape(key.as_bytes()), "key {key:?} needs escaping");
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
    }

    /// `"key":"value"`.
    pub fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        push_string(&mut self.out, value);
    }

    /// `"key":"value"` when there is a value.
    pub fn opt_str(&mut self, key: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.str(key, v);
        }
    }

    /// `"key":null`.
    pub fn null(&mut self, key: &str) {
        self.key(key);
        self.out.push_str("null");
    }

    /// `"key":true` or `"key":false`.
    pub fn bool(&mut self, key: &str, value: bool) {
        self.key(key);
        self.out.push_str(if value { "true" } else { "false" });
    }

    /// `"key":true`/`false` when there is a value.
    pub fn opt_bool(&mut self, key: &str, value: Option<bool>) {
        if let Some(v) = value {
            self.bool(key, v);
        }
    }

    /// `"key":123`.
    pub fn u64(&mut self, key: &str, value: u64) {
        use std::fmt::Write as _;
        self.key(key);
        // Writing into a String cannot fail.
        let _ = write!(self.out, "{value}");
    }

    /// `"key":<value serialized by serde_json>` (for the rare structured member).
    pub fn value<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        self.key(key);
        match serde_json::to_string(value) {
            Ok(json) => self.out.push_str(&json),
            // Plain data with string keys always serializes; keep the object valid regardless.
            Err(_) => self.out.push_str("null"),
        }
    }

    /// The finished object.
    pub fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// Append `s` as a JSON string.
fn push_string(out: &mut String, s: &str) {
    if needs_escape(s.as_bytes()) {
        match serde_json::to_string(s) {
            Ok(json) => out.push_str(&json),
            Err(_) => out.push_str("\"\""),
        }
    } else {
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

/// Whether any byte of `bytes` is a control character, `"` or `\` (what JSON escapes; bytes
/// of multi-byte UTF-8 characters are all >= 0x80 and never need it).
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    /// A byte of `w` is below `n` (n <= 128): exact as to whether one exists.
    fn has_less(w: u64, n: u8) -> bool {
        (w.wrapping_sub(ONES * u64::from(n)) & !w & HIGHS) != 0
    }
    fn has_zero(w: u64) -> bool {
        (w.wrapping_sub(ONES) & !w & HIGHS) != 0
    }
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_ne_bytes(word);
        if has_less(w, 0x20) || has_zero(w ^ (ONES * 0x22)) || has_zero(w ^ (ONES * 0x5C)) {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn the_scan_agrees_with_a_byte_by_byte_check_on_every_byte_at_every_offset() {
        let slow = |b: &[u8]| b.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\');
        for byte in 0..=255u8 {
            for len in 1..=17 {
                for at in 0..len {
                    let mut v = vec![b'a'; len];
                    v[at] = byte;
                    assert_eq!(
                        needs_escape(&v),
                        slow(&v),
                        "byte {byte:#x} at {at} of {len}"
                    );
                    // Next to bytes >= 0x80 (UTF-8 continuation bytes), where borrows could mislead.
                    let mut w = vec![0xC3u8; len];
                    w[at] = byte;
                    assert_eq!(
                        needs_escape(&w),
                        slow(&w),
                        "byte {byte:#x} at {at} of {len} in 0xC3s"
                    );
                }
            }
        }
    }

    #[test]
    fn objects_parse_back_to_what_was_written() {
        let awkward = "Ünï \"quoted\" back\\slash\ttab\u{1}ctl 😀 /a/b";
        let mut w = ObjectWriter::with_capacity(8);
        w.str("name", awkward);
        w.opt_str("missing", None);
        w.opt_str("path", Some("/plain/path-123.txt"));
        w.null("retired");
        w.bool("yes", true);
        w.opt_bool("no", Some(false));
        w.u64("size", u64::MAX);
        w.value("ids", &["a\"b", "c"]);
        let v: Value = serde_json::from_str(&w.finish()).unwrap();
        assert_eq!(
            v,
            json!({"name": awkward, "path": "/plain/path-123.txt", "retired": null, "yes": true,
                   "no": false, "size": u64::MAX, "ids": ["a\"b", "c"]})
        );
        assert_eq!(ObjectWriter::with_capacity(0).finish(), "{}");
    }
}
