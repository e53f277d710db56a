//! JSON string literals, written the way `serde_json` writes them, faster on long text.
//!
//! `serde_json` looks every byte up in its escape table. On a content sync nearly every byte
//! the runner writes is extracted text going into `body`, and that loop was 6–7 % of the
//! runner's CPU (issue 12's content profile). Here eight bytes are tested at a time for the
//! bytes JSON escapes (control characters, `"` and `\`); a clean stretch is copied whole, and
//! only the bytes that need it are escaped, exactly as `serde_json` escapes them (pinned by a
//! randomised comparison below).

/// Append `s` to `out` as a JSON string, quotes included.
pub fn push(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // `bytes[copied..at]` needs no escaping and is not written yet.
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        if let Some(word) = bytes.get(at..at + 8)
            && !any_escaped(word)
        {
            at += 8;
            continue;
        }
        // A word with something to escape, or the tail: byte by byte to the word's end.
        let end = (at + 8).min(bytes.len());
        for (i, &b) in bytes.iter().enumerate().take(end).skip(at) {
            if let Some(escaped) = escape(b) {
                out.extend_from_slice(&bytes[copied..i]);
                escaped.write(out);
                copied = i + 1;
            }
        }
        at = end;
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

/// Whether any of the eight bytes is below 0x20, `"` or `\`. Bytes of multi-byte UTF-8
/// characters are all 0x80 or above and never match.
fn any_escaped(word: &[u8]) -> bool {
    const LOW: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut buf = [0u8; 8];
    buf.copy_from_slice(word);
    let w = u64::from_ne_bytes(buf);
    // A zero byte in `x` sets its high bit here (exact as to whether one exists).
    let zero_in = |x: u64| x.wrapping_sub(LOW) & !x & HIGH != 0;
    let below_space = w.wrapping_sub(LOW * 0x20) & !w & HIGH != 0;
    below_space || zero_in(w ^ (LOW * u64::from(b'"'))) || zero_in(w ^ (LOW * u64::from(b'\\')))
}

/// How `serde_json` writes a byte that JSON does not allow as it is.
#[derive(Clone, Copy)]
enum Escaped {
    /// `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`.
    Short(u8),
    /// `\u00XX`, lowercase hex.
    Unicode(u8),
}

impl Escaped {
    fn write(self, out: &mut Vec<u8>) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        match self {
            Escaped::Short(c) => out.extend_from_slice(&[b'\\', c]),
            Escaped::Unicode(b) => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xF)],
            ]),
        }
    }
}

fn escape(b: u8) -> Option<Escaped> {
    Some(match b {
        b'"' => Escaped::Short(b'"'),
        b'\\' => Escaped::Short(b'\\'),
        0x08 => Escaped::Short(b'b'),
        0x0C => Escaped::Short(b'f'),
        b'\n' => Escaped::Short(b'n'),
        b'\r' => Escaped::Short(b'r'),
        b'\t' => Escaped::Short(b't'),
        0x00..=0x1F => Escaped::Unicode(b),
        _ => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn ours(s: &str) -> String {
        let mut out = Vec::new();
        push(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_ascii_character_is_written_as_serde_json_writes_it() {
        for b in 0u8..=0x7F {
            let c = char::from(b);
            for s in [
                c.to_string(),
                format!("abcdefg{c}xyz"),
                format!("{c}{c}{c}{c}{c}{c}{c}{c}{c}"),
            ] {
                assert_eq!(ours(&s), serde_json::to_string(&s).unwrap(), "{b:#04x}");
            }
        }
    }

    #[test]
    fn the_word_test_agrees_with_a_byte_by_byte_test_at_every_position() {
        for b in 0u8..=0xFF {
            for pos in 0..8 {
                let mut word = [b'a'; 8];
                word[pos] = b;
                assert_eq!(any_escaped(&word), escape(b).is_some(), "{b:#04x} at {pos}");
            }
        }
    }

    /// Random strings of quotes, backslashes, control characters, plain ASCII and multi-byte
    /// characters, at every length up to 64: identical to `serde_json`. `JSON_STRING_SEED`
    /// replays a failure.
    #[test]
    fn random_strings_are_written_as_serde_json_writes_them() {
        let seed: u64 = std::env::var("JSON_STRING_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| rand::rng().random());
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let pieces = [
            "\"", "\\", "\n", "\t", "\u{1}", "\u{1f}", "\u{7f}", "a", "Z", " ", "é", "€", "𝄞",
        ];
        for _ in 0..5_000 {
            let len = rng.random_range(0..64);
            let s: String = (0..len)
                .map(|_| {
                    if rng.random_bool(0.7) {
                        "plain"
                    } else {
                        pieces[rng.random_range(0..pieces.len())]
                    }
                })
                .collect();
            assert_eq!(
                ours(&s),
                serde_json::to_string(&s).unwrap(),
                "JSON_STRING_SEED={seed}: {s:?}"
            );
        }
    }
}
