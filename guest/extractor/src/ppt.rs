//! PowerPoint 97-2003 (.ppt, [MS-PPT]): text atoms in the "PowerPoint Document" stream's
//! record tree. Master slides (placeholder prompts like "Click to edit") are skipped.
use crate::failure::Failure;
use crate::meta::Meta;
use crate::ole::{Ole, read_stream};
use crate::sink::TextSink;

const FORMAT: &str = "PowerPoint 97-2003";
const MAX_STREAM: u64 = 512 << 20;

const TEXT_CHARS_ATOM: u16 = 0x0FA0;
const TEXT_BYTES_ATOM: u16 = 0x0FA8;
const SLIDE: u16 = 0x03EE;
const MAIN_MASTER: u16 = 0x03F8;
const SLIDE_LIST_WITH_TEXT: u16 = 0x0FF0;
const ENVIRONMENT: u16 = 0x03F2;

pub fn ppt(ole: &mut Ole<'_>, sink: &mut TextSink) -> Result<Meta, Failure> {
    if ole.is_stream("/EncryptedSummary") {
        return Err(Failure::Encrypted(
            "the presentation is password-protected".into(),
        ));
    }
    let stream = read_stream(ole, "/PowerPoint Document", MAX_STREAM)?
        .ok_or_else(|| Failure::corrupt(FORMAT, "no PowerPoint Document stream"))?;
    let mut slides = 0u32;
    // (start, end) ranges still to walk: an explicit stack, not recursion.
    let mut stack = vec![(0usize, stream.len())];
    let mut seen_text: std::collections::HashSet<Vec<u8>> = Default::default();
    while let Some((mut at, end)) = stack.pop() {
        let mut children = vec![];
        while at + 8 <= end {
            if sink.is_full() {
                break;
            }
            let ver_inst = u16::from_le_bytes([stream[at], stream[at + 1]]);
            let rec_type = u16::from_le_bytes([stream[at + 2], stream[at + 3]]);
            let len = u32::from_le_bytes([
                stream[at + 4],
                stream[at + 5],
                stream[at + 6],
                stream[at + 7],
            ]) as usize;
            let body = at + 8;
            let body_end = body.saturating_add(len).min(end);
            match rec_type {
                MAIN_MASTER | ENVIRONMENT => {}
                _ if ver_inst & 0x000F == 0x000F => {
                    if rec_type == SLIDE {
                        slides += 1;
                    }
                    children.push((body, body_end));
                }
                TEXT_CHARS_ATOM | TEXT_BYTES_ATOM => {
                    let raw = &stream[body..body_end];
                    // The same text sits both in the slide list and in the slide's drawing.
                    if seen_text.insert(raw.to_vec()) {
                        if rec_type == TEXT_CHARS_ATOM {
                            let units = raw
                                .chunks_exact(2)
                                .map(|p| u16::from_le_bytes([p[0], p[1]]));
                            for c in char::decode_utf16(units) {
                                sink.push_char(c.unwrap_or('\u{fffd}'));
                            }
                        } else {
                            for &b in raw {
                                sink.push_char(char::from(b));
                            }
                        }
                        sink.line_break();
                    }
                }
                _ => {}
            }
            let _ = SLIDE_LIST_WITH_TEXT;
            at = body.saturating_add(len);
        }
        // Keep document order: walk children in order after this level.
        stack.extend(children.into_iter().rev());
    }
    let mut meta = crate::ole::summary(ole).unwrap_or_default();
    meta.pages = None;
    meta.slides = Some(slides);
    Ok(meta)
}
