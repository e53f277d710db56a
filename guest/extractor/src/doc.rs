//! Word 97-2003 (.doc, [MS-DOC]): the text lives in the WordDocument stream as pieces listed
//! by the piece table (CLX) in the table stream; each piece is 8-bit (Windows-1252) or UTF-16.
use crate::failure::Failure;
use crate::meta::Meta;
use crate::ole::{Ole, read_stream};
use crate::sink::TextSink;

const FORMAT: &str = "Word 97-2003";
const MAX_STREAM: u64 = 512 << 20;

pub fn doc(ole: &mut Ole<'_>, sink: &mut TextSink) -> Result<Meta, Failure> {
    let word = read_stream(ole, "/WordDocument", MAX_STREAM)?
        .ok_or_else(|| Failure::corrupt(FORMAT, "no WordDocument stream"))?;
    let u16_at = |o: usize| word.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        word.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let corrupt = |what: &str| Failure::corrupt(FORMAT, what);
    if u16_at(0) != Some(0xA5EC) {
        return Err(corrupt("the WordDocument stream has no Word 97 header"));
    }
    let nfib = u16_at(2).ok_or_else(|| corrupt("short header"))?;
    if nfib < 0x00C1 {
        return Err(Failure::Unsupported(format!(
            "Word 95 and earlier documents (nFib {nfib:#x}) are not read"
        )));
    }
    let flags = u16_at(0x0A).ok_or_else(|| corrupt("short header"))?;
    if flags & 0x0100 != 0 {
        return Err(Failure::Encrypted(
            "the Word document is password-protected".into(),
        ));
    }
    let table_name = if flags & 0x0200 != 0 {
        "/1Table"
    } else {
        "/0Table"
    };
    let csw = u16_at(32).ok_or_else(|| corrupt("short header"))? as usize;
    let lw_at = 34 + csw * 2;
    let cslw = u16_at(lw_at).ok_or_else(|| corrupt("short header"))? as usize;
    let fc_at = lw_at + 2 + cslw * 4 + 2;
    // fcClx/lcbClx are the 34th pair of FibRgFcLcb97.
    let fc_clx = u32_at(fc_at + 33 * 8).ok_or_else(|| corrupt("short FIB"))? as usize;
    let lcb_clx = u32_at(fc_at + 33 * 8 + 4).ok_or_else(|| corrupt("short FIB"))? as usize;
    let table = read_stream(ole, table_name, MAX_STREAM)?
        .ok_or_else(|| corrupt("the table stream is missing"))?;
    let clx = table
        .get(fc_clx..fc_clx.saturating_add(lcb_clx))
        .ok_or_else(|| corrupt("the piece table lies outside the table stream"))?;
    let pieces = piece_table(clx).ok_or_else(|| corrupt("unreadable piece table"))?;
    let mut fields = FieldState::default();
    for piece in pieces {
        if sink.is_full() {
            break;
        }
        let chars = piece.cp_end.saturating_sub(piece.cp_start) as usize;
        if piece.compressed {
            let start = piece.fc as usize;
            let Some(bytes) = word.get(start..start.saturating_add(chars)) else {
                continue;
            };
            for &b in bytes {
                let c = cp1252(b);
                fields.push(c, sink);
            }
        } else {
            let start = piece.fc as usize;
            let Some(bytes) = word.get(start..start.saturating_add(chars * 2)) else {
                continue;
            };
            let units = bytes
                .chunks_exact(2)
                .map(|p| u16::from_le_bytes([p[0], p[1]]));
            for c in char::decode_utf16(units) {
                fields.push(c.unwrap_or('\u{fffd}'), sink);
            }
        }
    }
    Ok(crate::ole::summary(ole).unwrap_or_default())
}

struct Piece {
    cp_start: u32,
    cp_end: u32,
    fc: u32,
    compressed: bool,
}

/// The PlcPcd inside the CLX: skip Prc entries (0x01), read the Pcdt (0x02).
fn piece_table(clx: &[u8]) -> Option<Vec<Piece>> {
    let mut i = 0;
    while *clx.get(i)? == 0x01 {
        let cb = i16::from_le_bytes([*clx.get(i + 1)?, *clx.get(i + 2)?]);
        i += 3 + usize::try_from(cb).ok()?;
    }
    if *clx.get(i)? != 0x02 {
        return None;
    }
    let lcb = u32::from_le_bytes(clx.get(i + 1..i + 5)?.try_into().ok()?) as usize;
    let plc = clx.get(i + 5..i + 5 + lcb)?;
    if lcb < 4 {
        return None;
    }
    let n = (lcb - 4) / 12;
    let cp = |k: usize| -> Option<u32> {
        Some(u32::from_le_bytes(
            plc.get(k * 4..k * 4 + 4)?.try_into().ok()?,
        ))
    };
    let mut pieces = Vec::with_capacity(n);
    for k in 0..n {
        let pcd = plc.get((n + 1) * 4 + k * 8..(n + 1) * 4 + k * 8 + 8)?;
        let fc_raw = u32::from_le_bytes(pcd[2..6].try_into().ok()?);
        let compressed = fc_raw & 0x4000_0000 != 0;
        let fc = fc_raw & 0x3FFF_FFFF;
        pieces.push(Piece {
            cp_start: cp(k)?,
            cp_end: cp(k + 1)?,
            fc: if compressed { fc / 2 } else { fc },
            compressed,
        });
    }
    Some(pieces)
}

/// Word's special characters: fields (code hidden, result kept), cells, paragraph marks.
#[derive(Default)]
struct FieldState {
    /// For each open field: true while in its code part (before the separator).
    stack: Vec<bool>,
}

impl FieldState {
    fn push(&mut self, c: char, sink: &mut TextSink) {
        match c {
            '\u{13}' => {
                if self.stack.len() < 64 {
                    self.stack.push(true);
                }
            }
            '\u{14}' => {
                if let Some(top) = self.stack.last_mut() {
                    *top = false;
                }
            }
            '\u{15}' => {
                self.stack.pop();
            }
            _ if self.stack.iter().any(|&in_code| in_code) => {}
            '\r' | '\u{0b}' | '\u{0c}' => sink.line_break(),
            '\u{07}' => sink.space(),
            '\u{1e}' => sink.push_char('-'),
            '\u{1f}' => {}
            c => sink.push_char(c),
        }
    }
}

/// 8-bit pieces are Windows-1252 (0x80-0x9F are typographic characters, not C1 controls).
fn cp1252(b: u8) -> char {
    if (0x80..0xA0).contains(&b) {
        let byte = [b];
        let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&byte);
        text.chars().next().unwrap_or('\u{fffd}')
    } else {
        char::from(b)
    }
}
