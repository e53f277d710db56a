//! The plain-text family: decoding (UTF-8, UTF-16 with a BOM, Latin-1 fallback) and the
//! binary-content check.
use crate::failure::Failure;
use std::borrow::Cow;

/// How many leading bytes are checked for NULs.
const BINARY_SNIFF: usize = 8 * 1024;

/// Decode UTF-8 (BOM stripped) or BOM-marked UTF-16. Bytes that are not valid UTF-8 are read
/// as Windows-1252, the usual encoding of legacy text files. Valid UTF-8 is borrowed, not copied.
pub fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, Failure> {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return Ok(Cow::Owned(utf16(rest, u16::from_le_bytes)));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return Ok(Cow::Owned(utf16(rest, u16::from_be_bytes)));
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    if bytes[..bytes.len().min(BINARY_SNIFF)].contains(&0) {
        return Err(Failure::Unsupported(
            "binary content under a text file name".into(),
        ));
    }
    Ok(match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0,
    })
}

fn utf16(bytes: &[u8], word: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|pair| word([pair[0], pair[1]]));
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_and_utf16_are_handled() {
        assert_eq!(decode(b"\xEF\xBB\xBFcaf\xC3\xA9").unwrap(), "café");
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("héllo".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(decode(&le).unwrap(), "héllo");
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("hi".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(decode(&be).unwrap(), "hi");
    }

    #[test]
    fn invalid_utf8_falls_back_to_windows_1252() {
        assert_eq!(decode(b"caf\xE9 \x80").unwrap(), "café €");
    }

    #[test]
    fn binary_content_is_rejected() {
        assert!(matches!(decode(b"abc\0def"), Err(Failure::Unsupported(_))));
    }
}
