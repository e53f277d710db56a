//! `Dropbox-API-Arg` encoding: JSON that is safe to put in an HTTP header.
//!
//! Dropbox requires every character at or above U+007F to be written as a `\uXXXX` escape
//! (UTF-16 code units, so characters outside the BMP become surrogate pairs).

use serde::Serialize;
use serde_json::Value;

/// Serialize `value` as compact JSON with every non-ASCII (and DEL) character escaped.
pub fn header_safe_json(value: &Value) -> String {
    header_safe(value)
}

/// [`header_safe_json`] for any serializable argument (e.g. a borrowed struct), without
/// building a [`Value`] first.
pub fn header_safe<T: Serialize + ?Sized>(value: &T) -> String {
    // Serializing plain data (strings, numbers, string-keyed objects) cannot fail.
    let json = serde_json::to_string(value).unwrap_or_default();
    if json.bytes().all(|b| b < 0x7F) {
        json
    } else {
        escape_non_ascii(&json)
    }
}

/// Escape every char >= U+007F of already-serialized JSON. Such characters can only occur
/// inside JSON strings, where `\uXXXX` is always a valid replacement.
pub fn escape_non_ascii(json: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(json.len() + 16);
    let mut rest = json;
    while let Some(i) = rest.bytes().position(|b| b >= 0x7F) {
        out.push_str(&rest[..i]);
        let c = rest[i..].chars().next().unwrap_or_default();
        let mut units = [0u16; 2];
        for &unit in c.encode_utf16(&mut units).iter() {
            out.push_str("\\u");
            for shift in [12, 8, 4, 0] {
                out.push(HEX[usize::from((unit >> shift) & 0xF)] as char);
            }
        }
        rest = &rest[i + c.len_utf8()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ascii_is_unchanged_and_quotes_backslashes_escape_as_json() {
        let v = json!({"path": "id:a\"b\\c/d e"});
        assert_eq!(header_safe_json(&v), r#"{"path":"id:a\"b\\c/d e"}"#);
    }

    #[test]
    fn latin1_is_escaped_like_the_dropbox_example() {
        let v = json!({"path": "/Ünï.txt"});
        assert_eq!(header_safe_json(&v), r#"{"path":"/\u00dcn\u00ef.txt"}"#);
    }

    #[test]
    fn delete_character_is_escaped() {
        assert_eq!(escape_non_ascii("\"a\u{7f}\""), r#""a\u007f""#);
    }

    #[test]
    fn emoji_becomes_a_surrogate_pair() {
        let v = json!({"url": "https://x/😀"});
        assert_eq!(header_safe_json(&v), r#"{"url":"https://x/\ud83d\ude00"}"#);
    }

    #[test]
    fn cjk_is_escaped_and_round_trips() {
        let v = json!({"path": "/資料/報告.pdf"});
        let s = header_safe_json(&v);
        assert!(s.is_ascii());
        assert_eq!(s, r#"{"path":"/\u8cc7\u6599/\u5831\u544a.pdf"}"#);
        let back: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn control_characters_stay_json_escaped() {
        let v = json!({"path": "a\nb\u{1}"});
        assert_eq!(header_safe_json(&v), r#"{"path":"a\nb\u0001"}"#);
    }
}
