//! Where extracted text goes: whitespace handling, the character cap, and the filter that
//! keeps binary noise (control characters) out of the index.

/// How much text to keep and how to space it.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_chars: u64,
    pub normalize_whitespace: bool,
    pub max_inflated_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_chars: 1_000_000,
            normalize_whitespace: true,
            max_inflated_bytes: 256 << 20,
        }
    }
}

/// Collects text up to `max_chars` characters.
///
/// With normalisation every whitespace run becomes one space; without it, text keeps its own
/// spacing and `line_break` ends a paragraph with a newline. Either way the text never starts
/// or ends with whitespace and control characters other than tab and newline are dropped.
#[derive(Debug)]
pub struct TextSink {
    /// UTF-8 by construction (whole characters only); bytes so the hot path can copy words.
    out: Vec<u8>,
    chars: u64,
    max_chars: u64,
    normalize: bool,
    truncated: bool,
    /// Whitespace seen since the last visible character: ' ' or '\n' (newline wins).
    pending: Option<char>,
}

impl TextSink {
    pub fn new(limits: &Limits) -> TextSink {
        TextSink {
            out: Vec::new(),
            chars: 0,
            max_chars: limits.max_chars,
            normalize: limits.normalize_whitespace,
            truncated: false,
            pending: None,
        }
    }

    /// True once the cap was reached: extractors stop reading.
    pub fn is_full(&self) -> bool {
        self.truncated
    }

    /// Append text as it is (whitespace inside is handled per the mode).
    pub fn push_str(&mut self, text: &str) {
        // Most text is words of visible ASCII between single spaces, which go into the text
        // as they are. In the sandbox a loop iteration per byte is what costs (each carries
        // the interruption check), so such stretches are found eight bytes at a time and
        // copied as one eight-byte store, and a lone space is handled without `push_char`.
        // Everything else (other whitespace, controls, non-ASCII) goes through `push_char` one
        // character at a time.
        let bytes = text.as_bytes();
        let room = usize::try_from(self.max_chars.saturating_sub(self.chars)).unwrap_or(usize::MAX);
        self.out.reserve(bytes.len().min(room.saturating_add(8)));
        let mut at = 0;
        while at < bytes.len() && !self.truncated {
            if let Some(word) = bytes
                .get(at..at + 8)
                .and_then(|w| <[u8; 8]>::try_from(w).ok())
            {
                // A space before a word is what `push_char` would make of it when nothing is
                // pending and text came before.
                let space_first = self.pending.is_none() && !self.out.is_empty();
                let run = plain_prefix(u64::from_le_bytes(word), space_first);
                if run > 0 {
                    if self.pending.is_some() {
                        self.flush_pending();
                    }
                    self.push_visible_ascii(&word, run);
                    at += run;
                    continue;
                }
            }
            let b = bytes[at];
            if b.is_ascii_graphic() {
                self.flush_pending();
                self.push_visible_ascii(&[b], 1);
                at += 1;
            } else if b == b' ' {
                if self.pending.is_none() {
                    self.pending = Some(' ');
                }
                at += 1;
            } else if b.is_ascii() {
                self.push_char(char::from(b));
                at += 1;
            } else {
                // `at` is on a character boundary: everything before it was whole characters.
                let Some(c) = text[at..].chars().next() else {
                    return;
                };
                self.push_char(c);
                at += c.len_utf8();
            }
        }
    }

    /// The first `run` bytes of `bytes` (visible ASCII and single spaces between visible
    /// characters), as `push_char` would add them one by one: the pending whitespace is
    /// already flushed, and each space is flushed by the visible character after it.
    fn push_visible_ascii(&mut self, bytes: &[u8], run: usize) {
        if self.truncated {
            return;
        }
        let room = self.max_chars.saturating_sub(self.chars);
        let (keep, cut) = if run as u64 > room {
            (usize::try_from(room).unwrap_or(run), true)
        } else {
            (run, false)
        };
        if bytes.len() == 8 {
            // A fixed-size copy is a plain store; a variable-length one is a call out of the
            // sandbox. The bytes past `keep` go again at once.
            let len = self.out.len();
            self.out.extend_from_slice(bytes);
            self.out.truncate(len + keep);
        } else {
            self.out.extend_from_slice(&bytes[..keep]);
        }
        self.chars += keep as u64;
        self.truncated |= cut;
    }

    pub fn push_char(&mut self, c: char) {
        if c == '\n' || c == '\r' || c == '\u{2028}' || c == '\u{2029}' || c == '\u{0b}' {
            self.line_break();
        } else if c.is_whitespace() {
            if self.pending.is_none() {
                self.pending = Some(if c == '\t' { '\t' } else { ' ' });
            }
        } else if c.is_control() || c == '\u{fffd}' {
            // NULs, escape codes and undecodable bytes carry no words, but they must not
            // glue the words on either side together.
            self.space();
        } else if c == '\u{feff}' || c == '\u{ad}' {
            // Byte order marks and soft hyphens are invisible inside words.
        } else {
            self.flush_pending();
            self.emit(c);
        }
    }

    /// End of a paragraph, cell or line.
    pub fn line_break(&mut self) {
        self.pending = Some('\n');
    }

    /// A separator between words that must not run together (table cells, tags).
    pub fn space(&mut self) {
        if self.pending.is_none() {
            self.pending = Some(' ');
        }
    }

    fn flush_pending(&mut self) {
        if let Some(ws) = self.pending.take()
            && !self.out.is_empty()
        {
            let ws = if self.normalize { ' ' } else { ws };
            self.emit(ws);
        }
    }

    fn emit(&mut self, c: char) {
        if self.chars >= self.max_chars {
            self.truncated = true;
            return;
        }
        let mut utf8 = [0u8; 4];
        self.out
            .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
        self.chars += 1;
    }

    pub fn char_count(&self) -> u64 {
        self.chars
    }

    /// The text and whether it was cut.
    pub fn finish(self) -> (String, bool) {
        let mut text = String::from_utf8(self.out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        let trimmed = text.trim_end().len();
        text.truncate(trimmed);
        (text, self.truncated)
    }
}

/// How many leading bytes of `word` (little-endian) go into the text as they are: visible
/// ASCII (0x21..=0x7E) and single spaces between visible characters, starting with a visible
/// character (or a single space, if `space_first`) and ending with the last visible one (a
/// space there is left to `push_char`, which decides what a trailing or doubled space becomes).
fn plain_prefix(word: u64, space_first: bool) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // High bit of each byte below 0x20, and of each byte from 0x7F up. A borrow or carry can
    // only mark bytes after the first marked one, so the lowest mark is exact.
    let below = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let above = (word.wrapping_add(ONES) | word) & HIGH;
    let printable = ((below | above).trailing_zeros() / 8) as usize;
    if printable == 0 {
        return 0;
    }
    let within = if printable == 8 {
        u64::MAX
    } else {
        (1u64 << (8 * printable)) - 1
    };
    // High bit of every space byte, exactly (no carry crosses a byte).
    let v = word ^ (ONES * 0x20);
    let spaces = !((((v & LOW7).wrapping_add(LOW7)) | v) | LOW7) & within;
    if spaces & 0x80 != 0 && !space_first {
        return 0;
    }
    let doubled = spaces & (spaces >> 8);
    let mut len = if doubled == 0 {
        printable
    } else {
        (doubled.trailing_zeros() / 8) as usize
    };
    if len > 0 && spaces & (0x80u64 << (8 * (len - 1))) != 0 {
        len -= 1;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(normalize: bool, max: u64) -> TextSink {
        TextSink::new(&Limits {
            max_chars: max,
            normalize_whitespace: normalize,
            ..Limits::default()
        })
    }

    #[test]
    fn normalised_text_has_single_spaces_and_no_controls() {
        let mut s = sink(true, 100);
        s.push_str("  a\t\tb\r\n\n c\u{0}d\u{7}");
        s.line_break();
        s.push_str("e ");
        assert_eq!(s.finish(), ("a b c d e".to_string(), false));
    }

    #[test]
    fn raw_mode_keeps_line_breaks_but_collapses_runs() {
        let mut s = sink(false, 100);
        s.push_str("a  b");
        s.line_break();
        s.line_break();
        s.push_str("c\td");
        assert_eq!(s.finish(), ("a b\nc\td".to_string(), false));
    }

    /// `plain_prefix` by its definition, one byte at a time.
    fn plain_prefix_reference(word: [u8; 8], space_first: bool) -> usize {
        if !(word[0].is_ascii_graphic() || (space_first && word[0] == b' ')) {
            return 0;
        }
        let mut len = 0;
        for i in 0..8 {
            let b = word[i];
            if b.is_ascii_graphic() {
                len = i + 1;
            } else if b == b' ' && word.get(i + 1).is_some_and(u8::is_ascii_graphic) {
                continue;
            } else {
                break;
            }
        }
        len
    }

    #[test]
    fn plain_prefix_matches_its_definition() {
        let bytes = [
            b'a', b'!', b'~', b' ', b'\n', 0x00, 0x1f, 0x21, 0x7e, 0x7f, 0x80, 0xff,
        ];
        // Every word over these bytes with up to five distinct positions varied, and every
        // byte value at every position among letters, spaces and high bytes.
        let mut words = vec![];
        for fill in [b'a', b' ', 0xff, 0x00] {
            for position in 0..8 {
                for byte in 0..=255u8 {
                    let mut word = [fill; 8];
                    word[..position].fill(b'a');
                    word[position] = byte;
                    words.push(word);
                }
            }
        }
        let n = bytes.len();
        for code in 0..n.pow(5) {
            let mut word = [b'a'; 8];
            let mut c = code;
            for slot in [0, 1, 3, 6, 7] {
                word[slot] = bytes[c % n];
                c /= n;
            }
            words.push(word);
        }
        for word in words {
            for space_first in [false, true] {
                assert_eq!(
                    plain_prefix(u64::from_le_bytes(word), space_first),
                    plain_prefix_reference(word, space_first),
                    "{word:?} space_first={space_first}"
                );
            }
        }
    }

    /// The whole-run path of `push_str` gives exactly what `push_char` one character at a time
    /// gives, for any mix of text and any cap. Seed: `SINK_SEED` (printed on failure).
    #[test]
    fn push_str_matches_push_char_one_at_a_time() {
        let seed: u64 = std::env::var("SINK_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        let mut state = seed | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = [
            "a",
            "Z",
            "9",
            "~",
            "!",
            " ",
            "  ",
            "\t",
            "\n",
            "\r\n",
            "\u{0}",
            "\u{7f}",
            "é",
            "\u{2028}",
            "\u{feff}",
            "\u{ad}",
            "\u{fffd}",
            "\u{a0}",
            "日本",
            "word",
            "\u{b}",
            "sixteen-letters!",
            "a.b",
            "\u{1f}",
            "\u{80}",
            "ÿ",
        ];
        for case in 0..5000 {
            let mut text = String::new();
            for _ in 0..next() % 40 {
                text.push_str(alphabet[(next() % alphabet.len() as u64) as usize]);
            }
            let normalize = next() % 2 == 0;
            let max = next() % 60;
            let pieces = 1 + next() % 3;
            let mut whole = sink(normalize, max);
            let mut one_by_one = sink(normalize, max);
            // Several pushes into one sink, as readers do.
            let mut rest = text.as_str();
            for piece in 0..pieces {
                let cut = if piece + 1 == pieces {
                    rest.len()
                } else {
                    (0..=rest.len())
                        .filter(|i| rest.is_char_boundary(*i))
                        .nth((next() % (rest.len() as u64 + 1)) as usize)
                        .unwrap_or(rest.len())
                };
                whole.push_str(&rest[..cut]);
                rest = &rest[cut..];
            }
            for c in text.chars() {
                if one_by_one.is_full() {
                    break;
                }
                one_by_one.push_char(c);
            }
            assert_eq!(
                (whole.char_count(), whole.is_full()),
                (one_by_one.char_count(), one_by_one.is_full()),
                "seed {seed} case {case}: {text:?} normalize={normalize} max={max}"
            );
            assert_eq!(
                whole.finish(),
                one_by_one.finish(),
                "seed {seed} case {case}: {text:?} normalize={normalize} max={max}"
            );
        }
    }

    #[test]
    fn the_cap_counts_characters_not_bytes_and_says_so() {
        let mut s = sink(true, 4);
        s.push_str("éé éé");
        assert!(s.is_full());
        assert_eq!(s.finish(), ("éé é".to_string(), true));
        let mut s = sink(true, 4);
        s.push_str("abcd");
        assert!(!s.is_full());
        assert_eq!(s.finish(), ("abcd".to_string(), false));
    }
}
