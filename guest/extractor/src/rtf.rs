//! RTF: a small tokenizer over groups and control words (the format is a flat grammar; no
//! maintained crate handles code pages, `\uN` skipping and ignorable destinations together).
//! Groups are tracked on a heap stack, so nesting depth cannot overflow the call stack.
use crate::failure::Failure;
use crate::meta::{Meta, clean};
use crate::sink::TextSink;
use encoding_rs::Encoding;

/// Destinations whose text is not document text.
const SKIPPED: &[&str] = &[
    "fonttbl",
    "colortbl",
    "stylesheet",
    "pict",
    "themedata",
    "colorschememapping",
    "datastore",
    "latentstyles",
    "listtable",
    "listoverridetable",
    "rsidtbl",
    "generator",
    "xmlnstbl",
    "mmathPr",
    "pgdsctbl",
    "fldinst",
    "filetbl",
    "revtbl",
    "objdata",
    "bkmkstart",
    "bkmkend",
    "shpinst",
    "nonshppict",
    "xmlopen",
    "wgrffmtfilter",
    "listtext",
    "pntext",
    "pntxta",
    "pntxtb",
    "operator",
    "company",
    "keywords",
    "comment",
    "doccomm",
    "hlinkbase",
    "creatim",
    "revtim",
    "printim",
    "buptim",
    "userprops",
    "docvar",
    "fchars",
    "lchars",
    "template",
    "blipuid",
    "passwordhash",
    "protusertbl",
];

/// Most groups nest a few levels; beyond this the file is hostile or broken.
const MAX_DEPTH: usize = 10_000;

#[derive(Clone, Copy, PartialEq)]
enum Dest {
    Text,
    Skip,
    Title,
    Author,
}

#[derive(Clone, Copy)]
struct State {
    dest: Dest,
    /// Characters to skip after a `\uN` (the ANSI fallback).
    uc: usize,
}

pub fn rtf(bytes: &[u8], sink: &mut TextSink) -> Result<Meta, Failure> {
    if !bytes.starts_with(b"{\\rtf") {
        return Err(Failure::corrupt("RTF", "it does not start with {\\rtf"));
    }
    let mut encoding: &'static Encoding = encoding_rs::WINDOWS_1252;
    let mut stack: Vec<State> = vec![];
    let mut state = State {
        dest: Dest::Text,
        uc: 1,
    };
    let mut skip_fallback = 0usize;
    let mut title = String::new();
    let mut author = String::new();
    // 8-bit characters are collected and decoded together (multi-byte code pages).
    let mut pending_bytes: Vec<u8> = vec![];
    let mut i = 0;
    let mut group_start = false;
    let (mut title_done, mut author_done) = (false, false);

    macro_rules! flush {
        () => {
            if !pending_bytes.is_empty() {
                let (text, _, _) = encoding.decode(&pending_bytes);
                emit(&text, state.dest, sink, &mut title, &mut author);
                pending_bytes.clear();
            }
        };
    }

    while i < bytes.len() {
        if sink.is_full() {
            break;
        }
        let b = bytes[i];
        match b {
            b'{' => {
                flush!();
                if stack.len() >= MAX_DEPTH {
                    return Err(Failure::Limit(format!(
                        "RTF groups nest deeper than {MAX_DEPTH} levels"
                    )));
                }
                stack.push(state);
                skip_fallback = 0;
                group_start = true;
                i += 1;
                continue;
            }
            b'}' => {
                flush!();
                // Writers repeat \author (creator, then last editor): the first one counts.
                match state.dest {
                    Dest::Title if !title.trim().is_empty() => title_done = true,
                    Dest::Author if !author.trim().is_empty() => author_done = true,
                    _ => {}
                }
                state = stack.pop().unwrap_or(state);
                skip_fallback = 0;
                i += 1;
            }
            b'\\' => {
                let Some(&next) = bytes.get(i + 1) else { break };
                if next.is_ascii_alphabetic() {
                    let start = i + 1;
                    let mut j = start;
                    while j < bytes.len() && bytes[j].is_ascii_alphabetic() && j - start < 32 {
                        j += 1;
                    }
                    let word = std::str::from_utf8(&bytes[start..j]).unwrap_or("");
                    let num_start = j;
                    if j < bytes.len() && bytes[j] == b'-' {
                        j += 1;
                    }
                    while j < bytes.len() && bytes[j].is_ascii_digit() && j - num_start < 11 {
                        j += 1;
                    }
                    let param: Option<i64> = std::str::from_utf8(&bytes[num_start..j])
                        .ok()
                        .and_then(|s| s.parse().ok());
                    if j < bytes.len() && bytes[j] == b' ' {
                        j += 1;
                    }
                    i = j;
                    if skip_fallback > 0 {
                        skip_fallback -= 1;
                        group_start = false;
                        continue;
                    }
                    if word != "u" && word != "bin" {
                        flush!();
                    }
                    match word {
                        "ansicpg" => {
                            if let Some(enc) = param.and_then(codepage) {
                                encoding = enc;
                            }
                        }
                        "uc" => state.uc = param.unwrap_or(1).clamp(0, 16) as usize,
                        "u" => {
                            flush!();
                            let mut code = param.unwrap_or(0);
                            if code < 0 {
                                code += 65536;
                            }
                            if let Some(c) = u32::try_from(code).ok().and_then(char::from_u32) {
                                emit_char(c, state.dest, sink, &mut title, &mut author);
                            }
                            skip_fallback = state.uc;
                        }
                        "bin" => {
                            // Raw binary data of the given length.
                            let len = param.unwrap_or(0).max(0) as usize;
                            i = i.saturating_add(len);
                        }
                        "par" | "line" | "row" | "page" | "sect" | "lbr" => line(state.dest, sink),
                        "tab" | "cell" | "nestcell" => {
                            emit_char(' ', state.dest, sink, &mut title, &mut author)
                        }
                        "emdash" => emit_char('—', state.dest, sink, &mut title, &mut author),
                        "endash" => emit_char('–', state.dest, sink, &mut title, &mut author),
                        "lquote" => emit_char('‘', state.dest, sink, &mut title, &mut author),
                        "rquote" => emit_char('’', state.dest, sink, &mut title, &mut author),
                        "ldblquote" => emit_char('“', state.dest, sink, &mut title, &mut author),
                        "rdblquote" => emit_char('”', state.dest, sink, &mut title, &mut author),
                        "bullet" => emit_char('•', state.dest, sink, &mut title, &mut author),
                        "title" if group_start => {
                            state.dest = if title_done { Dest::Skip } else { Dest::Title }
                        }
                        "author" if group_start => {
                            state.dest = if author_done {
                                Dest::Skip
                            } else {
                                Dest::Author
                            }
                        }
                        w if group_start && SKIPPED.contains(&w) => state.dest = Dest::Skip,
                        _ => {}
                    }
                    group_start = false;
                    continue;
                }
                i += 2;
                if !matches!(next, b'\'' | b'\\' | b'{' | b'}') {
                    flush!();
                }
                match next {
                    b'\'' => {
                        let hex = bytes
                            .get(i..i + 2)
                            .and_then(|h| std::str::from_utf8(h).ok());
                        if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                            i += 2;
                            if skip_fallback > 0 {
                                skip_fallback -= 1;
                            } else {
                                pending_bytes.push(v);
                            }
                        }
                    }
                    b'*' => {
                        // An ignorable destination: unknown ones are skipped whole.
                        if group_start {
                            state.dest = Dest::Skip;
                        }
                        continue;
                    }
                    b'~' => emit_char('\u{a0}', state.dest, sink, &mut title, &mut author),
                    b'_' => emit_char('-', state.dest, sink, &mut title, &mut author),
                    b'-' => {}
                    b'\n' | b'\r' => line(state.dest, sink),
                    b'\\' | b'{' | b'}' => {
                        if skip_fallback > 0 {
                            skip_fallback -= 1;
                        } else {
                            pending_bytes.push(next);
                        }
                    }
                    _ => {}
                }
            }
            b'\r' | b'\n' => i += 1,
            _ => {
                if skip_fallback > 0 {
                    skip_fallback -= 1;
                } else {
                    pending_bytes.push(b);
                }
                i += 1;
            }
        }
        group_start = false;
    }
    flush!();
    Ok(Meta {
        title: clean(Some(title)),
        author: clean(Some(author)),
        ..Meta::default()
    })
}

fn emit(text: &str, dest: Dest, sink: &mut TextSink, title: &mut String, author: &mut String) {
    match dest {
        Dest::Text => sink.push_str(text),
        Dest::Skip => {}
        Dest::Title if title.len() < 4096 => title.push_str(text),
        Dest::Author if author.len() < 4096 => author.push_str(text),
        Dest::Title | Dest::Author => {}
    }
}

fn emit_char(c: char, dest: Dest, sink: &mut TextSink, title: &mut String, author: &mut String) {
    let mut buf = [0u8; 4];
    emit(c.encode_utf8(&mut buf), dest, sink, title, author);
}

fn line(dest: Dest, sink: &mut TextSink) {
    if dest == Dest::Text {
        sink.line_break();
    }
}

/// The encoding of a Windows code page number.
pub fn codepage(cp: i64) -> Option<&'static Encoding> {
    let label = match cp {
        65001 => "utf-8",
        1200 => "utf-16le",
        874 => "windows-874",
        932 => "shift_jis",
        936 => "gbk",
        949 => "euc-kr",
        950 => "big5",
        1250..=1258 => return Encoding::for_label(format!("windows-{cp}").as_bytes()),
        10000 => "macintosh",
        20866 => "koi8-r",
        28591 => "iso-8859-1",
        _ => return None,
    };
    Encoding::for_label(label.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Limits;

    fn text(rtf_text: &str) -> (String, Meta) {
        let mut sink = TextSink::new(&Limits::default());
        let meta = rtf(rtf_text.as_bytes(), &mut sink).unwrap();
        (sink.finish().0, meta)
    }

    #[test]
    fn destinations_unicode_and_code_pages() {
        let (t, meta) = text(
            r"{\rtf1\ansi\ansicpg1252{\fonttbl{\f0 Times;}}{\info{\title Le caf\'e9}{\author Zo\u235?}{\author Other}}{\*\generator x;}\pard Caf\'e9 \u8364? na\u239\'efve\par {\field{\*\fldinst PAGE}{\fldrslt 3}}}",
        );
        assert_eq!(t, "Café € naïve 3");
        assert_eq!(meta.title.as_deref(), Some("Le café"));
        assert_eq!(meta.author.as_deref(), Some("Zoë"));
    }

    #[test]
    fn cyrillic_code_page_and_escapes() {
        let (t, _) = text(r"{\rtf1\ansi\ansicpg1251 \'cf\'f0\'e8\'e2\'e5\'f2 \{x\} a\~b}");
        assert_eq!(t, "Привет {x} a b");
    }

    #[test]
    fn absurd_nesting_is_a_limit_not_a_crash() {
        let deep = format!("{{\\rtf1 {}x{}}}", "{".repeat(20_000), "}".repeat(20_000));
        let mut sink = TextSink::new(&Limits::default());
        assert!(matches!(
            rtf(deep.as_bytes(), &mut sink),
            Err(Failure::Limit(_))
        ));
    }
}
