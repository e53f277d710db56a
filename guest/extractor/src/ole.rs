//! OLE compound files (the container of Office 97-2003 documents and Outlook messages): which
//! kind a file is, and the title/author/page count of its SummaryInformation property set.
use crate::failure::Failure;
use crate::format::Format;
use crate::meta::{Meta, clean};
use cfb::CompoundFile;
use std::io::{Cursor, Read};

pub type Ole<'a> = CompoundFile<Cursor<&'a [u8]>>;

pub fn open<'a>(bytes: &'a [u8], format: &str) -> Result<Ole<'a>, Failure> {
    CompoundFile::open(Cursor::new(bytes)).map_err(|e| Failure::corrupt(format, e))
}

/// What an OLE file holds, by its streams.
pub fn kind(ole: &Ole<'_>) -> Result<Format, Failure> {
    if ole.is_stream("/EncryptedPackage") {
        return Err(Failure::Encrypted(
            "the Office file is password-protected (an encrypted OOXML package)".into(),
        ));
    }
    if ole.is_stream("/WordDocument") {
        return Ok(Format::Doc);
    }
    if ole.is_stream("/Workbook") || ole.is_stream("/Book") {
        return Ok(Format::Spreadsheet(crate::format::Sheet::Xls));
    }
    if ole.is_stream("/PowerPoint Document") {
        return Ok(Format::Ppt);
    }
    if ole.is_stream("/VisioDocument") {
        return Ok(Format::Vsd);
    }
    if ole
        .read_root_storage()
        .any(|e| e.name().starts_with("__substg1.0_"))
    {
        return Ok(Format::Msg);
    }
    Err(Failure::Unsupported(
        "an OLE compound file of a kind this extractor does not read".into(),
    ))
}

/// A whole stream, capped at `max` bytes (None when absent).
pub fn read_stream(ole: &mut Ole<'_>, path: &str, max: u64) -> Result<Option<Vec<u8>>, Failure> {
    if !ole.is_stream(path) {
        return Ok(None);
    }
    let mut stream = ole
        .open_stream(path)
        .map_err(|e| Failure::corrupt("OLE", format!("{path}: {e}")))?;
    let mut out = vec![];
    (&mut stream)
        .take(max)
        .read_to_end(&mut out)
        .map_err(|e| Failure::corrupt("OLE", format!("{path}: {e}")))?;
    Ok(Some(out))
}

/// Title, author and page count from `\u{5}SummaryInformation`, for any OLE file.
pub fn summary_of(bytes: &[u8]) -> Option<Meta> {
    let mut ole = CompoundFile::open(Cursor::new(bytes)).ok()?;
    summary(&mut ole)
}

pub fn summary(ole: &mut Ole<'_>) -> Option<Meta> {
    let data = read_stream(ole, "/\u{5}SummaryInformation", 1 << 20).ok()??;
    let u32_at = |o: usize| -> Option<u32> {
        data.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let section = u32_at(44)? as usize;
    let count = u32_at(section + 4)?.min(1000) as usize;
    let mut codepage: i64 = 1252;
    let mut props = vec![];
    for i in 0..count {
        let id = u32_at(section + 8 + i * 8)?;
        let offset = section + u32_at(section + 12 + i * 8)? as usize;
        props.push((id, offset));
    }
    // The code page property says how 8-bit strings are encoded.
    if let Some((_, o)) = props.iter().find(|(id, _)| *id == 1)
        && u32_at(*o) == Some(2)
        && let Some(b) = data.get(o + 4..o + 6)
    {
        codepage = i64::from(u16::from_le_bytes([b[0], b[1]]));
    }
    let string = |offset: usize| -> Option<String> {
        let vt = u32_at(offset)?;
        let len = u32_at(offset + 4)? as usize;
        match vt {
            0x1E => {
                let raw = data.get(offset + 8..offset + 8 + len.min(4096))?;
                let raw = raw.split(|&b| b == 0).next().unwrap_or(raw);
                let enc = crate::rtf::codepage(codepage).unwrap_or(encoding_rs::WINDOWS_1252);
                Some(enc.decode(raw).0.into_owned())
            }
            0x1F => {
                let raw = data.get(offset + 8..offset + 8 + (len * 2).min(8192))?;
                let units = raw
                    .chunks_exact(2)
                    .map(|p| u16::from_le_bytes([p[0], p[1]]));
                Some(
                    char::decode_utf16(units)
                        .filter_map(Result::ok)
                        .take_while(|&c| c != '\0')
                        .collect(),
                )
            }
            _ => None,
        }
    };
    let mut meta = Meta::default();
    for (id, offset) in props {
        match id {
            2 => meta.title = clean(string(offset)),
            4 => meta.author = clean(string(offset)),
            14 if u32_at(offset) == Some(3) => meta.pages = u32_at(offset + 4),
            _ => {}
        }
    }
    Some(meta)
}
