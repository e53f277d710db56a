//! Outlook messages (.msg, [MS-OXMSG]): MAPI properties stored as streams in an OLE file.
use crate::failure::Failure;
use crate::markup;
use crate::meta::{Meta, clean};
use crate::ole::{Ole, read_stream};
use crate::sink::TextSink;

const SUBJECT: u16 = 0x0037;
const BODY: u16 = 0x1000;
const HTML_BODY: u16 = 0x1013;
const SENDER_NAME: u16 = 0x0C1A;
const SENDER_EMAIL: u16 = 0x0C1F;
const DISPLAY_TO: u16 = 0x0E04;
const DISPLAY_CC: u16 = 0x0E03;
const ATTACH_LONG_FILENAME: u16 = 0x3707;
const ATTACH_FILENAME: u16 = 0x3704;

/// Bodies larger than this are cut (the character cap applies after).
const MAX_PROPERTY: u64 = 64 << 20;

pub fn msg(ole: &mut Ole<'_>, sink: &mut TextSink) -> Result<Meta, Failure> {
    let subject = string_property(ole, "", SUBJECT)?;
    let sender = string_property(ole, "", SENDER_NAME)?;
    let sender_email = string_property(ole, "", SENDER_EMAIL)?;
    let from = match (&sender, &sender_email) {
        (Some(n), Some(e)) if n != e => Some(format!("{n} <{e}>")),
        (Some(n), _) => Some(n.clone()),
        (None, e) => e.clone(),
    };
    for (label, value) in [
        ("From", from.clone()),
        ("To", string_property(ole, "", DISPLAY_TO)?),
        ("Cc", string_property(ole, "", DISPLAY_CC)?),
        ("Subject", subject.clone()),
    ] {
        if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
            sink.push_str(label);
            sink.push_str(": ");
            sink.push_str(&value);
            sink.line_break();
        }
    }
    sink.line_break();
    if let Some(body) = string_property(ole, "", BODY)? {
        sink.push_str(&body);
    } else if let Some(html) = binary_property(ole, "", HTML_BODY)? {
        markup::strip(&String::from_utf8_lossy(&html), sink);
    }
    let attachments: Vec<String> = ole
        .read_root_storage()
        .filter(|e| e.is_storage() && e.name().starts_with("__attach_version1.0_"))
        .map(|e| format!("{}/", e.path().display()))
        .collect();
    for dir in attachments {
        let name = match string_property(ole, &dir, ATTACH_LONG_FILENAME)? {
            Some(n) => Some(n),
            None => string_property(ole, &dir, ATTACH_FILENAME)?,
        };
        if let Some(name) = name {
            sink.line_break();
            sink.push_str(&name);
        }
    }
    Ok(Meta {
        title: clean(subject),
        author: clean(from),
        ..Meta::default()
    })
}

/// A string property: Unicode (type 001F) or 8-bit (001E, read as Windows-1252).
fn string_property(ole: &mut Ole<'_>, dir: &str, id: u16) -> Result<Option<String>, Failure> {
    let dir = if dir.is_empty() {
        "/".to_string()
    } else {
        dir.to_string()
    };
    if let Some(raw) = read_stream(ole, &format!("{dir}__substg1.0_{id:04X}001F"), MAX_PROPERTY)? {
        let units = raw
            .chunks_exact(2)
            .map(|p| u16::from_le_bytes([p[0], p[1]]));
        let text: String = char::decode_utf16(units)
            .map(|c| c.unwrap_or('\u{fffd}'))
            .collect();
        return Ok(Some(text.trim_end_matches('\0').to_string()));
    }
    if let Some(raw) = read_stream(ole, &format!("{dir}__substg1.0_{id:04X}001E"), MAX_PROPERTY)? {
        let raw = raw.split(|&b| b == 0).next().unwrap_or(&raw);
        return Ok(Some(encoding_rs::WINDOWS_1252.decode(raw).0.into_owned()));
    }
    Ok(None)
}

fn binary_property(ole: &mut Ole<'_>, dir: &str, id: u16) -> Result<Option<Vec<u8>>, Failure> {
    let dir = if dir.is_empty() { "/" } else { dir };
    read_stream(ole, &format!("{dir}__substg1.0_{id:04X}0102"), MAX_PROPERTY)
}
