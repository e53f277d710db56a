//! URL encoding as S3 and SigV4 expect it (RFC 3986): everything but the unreserved
//! characters `A-Z a-z 0-9 - . _ ~` is percent-encoded as UTF-8 bytes, in upper-case hex.
//!
//! The host signs the URL it is given, so the URL must already be in the canonical form the
//! signature covers: a key's `/` stays literal in the path, every other reserved character
//! (space, `+`, `%`, `=`, `&`, `?`, `#`, non-ASCII...) is encoded, in query values too.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Characters encoded in a query value or a single path segment.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Characters encoded in an object key used as a URL path (the `/` separators stay).
const KEY_PATH: &AsciiSet = &QUERY_VALUE.remove(b'/');

/// Encode a query parameter value (or a bucket name used as a path segment).
pub fn encode_value(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// Encode an object key for the URL path after the bucket, keeping its `/` separators.
pub fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, KEY_PATH).to_string()
}

/// Build a query string from `(name, value)` pairs, sorted by name as SigV4's canonical query
/// string is, so the URL the host signs and the one it sends are byte-for-byte the same.
pub fn query(params: &[(&str, &str)]) -> String {
    let mut sorted: Vec<&(&str, &str)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    for (i, (name, value)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&encode_value(name));
        out.push('=');
        out.push_str(&encode_value(value));
    }
    out
}

/// Decode a value S3 returned with `encoding-type=url` (keys, prefixes).
///
/// S3 form-encodes these: a space may come back as `+`, and a literal `+` as `%2B`, so `+` is
/// read as a space before percent-decoding (as the AWS SDKs do). Returns `None` when the
/// bytes are not UTF-8.
pub fn decode_listed(value: &str) -> Option<String> {
    let spaced = value.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Whether a key has a `.` or `..` path segment. HTTP clients normalise these away (RFC
/// 3986 section 5.2.4 and the WHATWG URL standard, `%2E` included), so such an object
/// cannot be addressed by URL and its content cannot be downloaded.
pub fn has_dot_segment(key: &str) -> bool {
    key.split('/').any(|s| s == "." || s == "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_characters_stay_and_everything_else_is_encoded() {
        assert_eq!(encode_value("AZaz09-._~"), "AZaz09-._~");
        assert_eq!(
            encode_value("a b+c%d/e=f&g?h#i"),
            "a%20b%2Bc%25d%2Fe%3Df%26g%3Fh%23i"
        );
        assert_eq!(encode_value("*'()!$,;:@"), "%2A%27%28%29%21%24%2C%3B%3A%40");
    }

    #[test]
    fn keys_keep_their_slashes_and_encode_the_rest() {
        assert_eq!(
            encode_key("reports/2024 Q1/a+b.txt"),
            "reports/2024%20Q1/a%2Bb.txt"
        );
        assert_eq!(encode_key("100%/~tilde"), "100%25/~tilde");
        assert_eq!(encode_key("//double//"), "//double//");
    }

    #[test]
    fn unicode_is_encoded_as_utf8_bytes_in_upper_case_hex() {
        assert_eq!(
            encode_key("café/日本.txt"),
            "caf%C3%A9/%E6%97%A5%E6%9C%AC.txt"
        );
        assert_eq!(encode_value("🚀"), "%F0%9F%9A%80");
    }

    #[test]
    fn query_is_sorted_by_name_and_encoded() {
        let q = query(&[
            ("prefix", "a b/"),
            ("list-type", "2"),
            (
                "continuation-token",
                "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=",
            ),
            ("max-keys", "1000"),
        ]);
        assert_eq!(
            q,
            "continuation-token=1ueGcxLPRx1Tr%2FXYExHnhbYLgveDs2J%2Fwm36Hy4vbOwM%3D&list-type=2&max-keys=1000&prefix=a%20b%2F"
        );
    }

    #[test]
    fn listed_values_decode_plus_as_space_and_percent_escapes() {
        assert_eq!(decode_listed("a+b%2Bc%20d").as_deref(), Some("a b+c d"));
        assert_eq!(decode_listed("caf%C3%A9/x").as_deref(), Some("café/x"));
        assert_eq!(decode_listed("100%25").as_deref(), Some("100%"));
        assert_eq!(decode_listed("bad%FF"), None);
    }

    #[test]
    fn encode_then_decode_round_trips_awkward_keys() {
        for key in [
            "a b",
            "a+b",
            "100%",
            "~x",
            "日本/語 +%",
            "tab\there",
            "\u{1}ctl",
        ] {
            assert_eq!(decode_listed(&encode_value(key)).as_deref(), Some(key));
        }
    }

    #[test]
    fn dot_segments_are_detected() {
        assert!(has_dot_segment("a/../b"));
        assert!(has_dot_segment("./x"));
        assert!(has_dot_segment("x/."));
        assert!(!has_dot_segment("a/.hidden/..b/c..d/.../x"));
    }
}
