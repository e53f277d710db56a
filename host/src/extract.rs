//! Text extraction for the plain-text family (text, markup, data and source files).
//!
//! Rich formats (PDF, Office) get their own sandboxed extractor later; until then they are
//! reported as unsupported with a reason that says so.

/// What extraction produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extraction {
    /// Text with whitespace runs collapsed to single spaces.
    Text(String),
    /// Why there is no text (e.g. "no extractor for .pdf yet", "binary content").
    Unsupported(String),
}

/// Extensions read as text as they are.
const PLAIN: &[&str] = &[
    "txt", "text", "md", "markdown", "rst", "csv", "tsv", "json", "jsonl", "ndjson", "yaml", "yml",
    "toml", "ini", "cfg", "conf", "log", "tex", // source code
    "rs", "py", "js", "ts", "tsx", "jsx", "java", "c", "h", "cpp", "hpp", "cc", "cs", "go", "rb",
    "php", "sh", "bash", "zsh", "sql", "css", "scss", "kt", "swift", "scala", "pl", "lua", "r",
    "m", "ps1", "bat",
];

/// Extensions whose tags are stripped.
const MARKUP: &[&str] = &["html", "htm", "xml", "svg"];

/// Extension-less file names that are text.
const PLAIN_NAMES: &[&str] = &[
    "readme",
    "license",
    "makefile",
    "dockerfile",
    "changelog",
    "authors",
];

/// Rich formats an extractor will handle later.
const RICH: &[&str] = &[
    "pdf", "doc", "docx", "xls", "xlsx", "xlsm", "xlsb", "ppt", "pptx", "potx", "odt", "ods",
    "odp", "rtf", "msg", "eml", "epub", "vsd", "vsdx", "vsdm", "pages", "numbers", "key", "aspx",
];

/// How many leading bytes are checked for NULs.
const BINARY_SNIFF: usize = 8 * 1024;

enum Kind {
    Plain,
    Markup,
}

/// The lowercased extension of the last path component, if any.
fn extension(file_name: &str) -> Option<String> {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let (stem, ext) = base.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

fn kind(file_name: &str) -> Result<Kind, String> {
    match extension(file_name) {
        Some(ext) if PLAIN.contains(&ext.as_str()) => Ok(Kind::Plain),
        Some(ext) if MARKUP.contains(&ext.as_str()) => Ok(Kind::Markup),
        Some(ext) if RICH.contains(&ext.as_str()) => Err(format!("no extractor for .{ext} yet")),
        Some(ext) => Err(format!("unsupported type .{ext}")),
        None => {
            let base = file_name
                .rsplit(['/', '\\'])
                .next()
                .unwrap_or(file_name)
                .to_ascii_lowercase();
            let base = base.trim_start_matches('.');
            if PLAIN_NAMES.contains(&base) {
                Ok(Kind::Plain)
            } else {
                Err("unsupported type (no extension)".into())
            }
        }
    }
}

/// Whether `extract` can produce text for this file name (so downloads of others can be skipped).
pub fn is_supported(file_name: &str) -> bool {
    kind(file_name).is_ok()
}

/// Extract the text of `bytes`, chosen by `file_name`'s extension.
pub fn extract(file_name: &str, bytes: &[u8]) -> Extraction {
    let kind = match kind(file_name) {
        Ok(kind) => kind,
        Err(reason) => return Extraction::Unsupported(reason),
    };
    let text = match decode(bytes) {
        Some(text) => text,
        None => return Extraction::Unsupported("binary content".into()),
    };
    let text = match kind {
        Kind::Plain => text,
        Kind::Markup => strip_markup(&text),
    };
    Extraction::Text(reduce_whitespace(&text))
}

/// Decode UTF-8 (BOM stripped) or BOM-marked UTF-16; `None` for binary content. Bytes that are
/// not valid UTF-8 are read as Latin-1, the usual encoding of legacy text files.
fn decode(bytes: &[u8]) -> Option<String> {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return Some(utf16(rest, u16::from_le_bytes));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return Some(utf16(rest, u16::from_be_bytes));
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    if bytes[..bytes.len().min(BINARY_SNIFF)].contains(&0) {
        return None;
    }
    Some(match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    })
}

fn utf16(bytes: &[u8], word: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|pair| word([pair[0], pair[1]]));
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Collapse every run of whitespace to one space and trim (Elastic's `reduce_whitespace`).
pub fn reduce_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Drop tags, comments, processing instructions and the contents of `script`/`style`; keep
/// CDATA text; decode entities. Tags become spaces so words on either side stay apart.
fn strip_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len() / 2);
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&decode_entities(&rest[..open]));
        let tail = &rest[open..];
        if let Some(body) = tail.strip_prefix("<!--") {
            rest = body.find("-->").map_or("", |end| &body[end + 3..]);
        } else if let Some(body) = tail.strip_prefix("<![CDATA[") {
            let end = body.find("]]>").unwrap_or(body.len());
            out.push_str(&body[..end]);
            rest = body.get(end + 3..).unwrap_or("");
        } else if let Some(skipped) =
            skip_raw_element(tail, "script").or_else(|| skip_raw_element(tail, "style"))
        {
            rest = skipped;
        } else {
            match tail.find('>') {
                Some(end) => rest = &tail[end + 1..],
                None => rest = "",
            }
        }
        out.push(' ');
    }
    out.push_str(&decode_entities(rest));
    out
}

/// If `tail` starts with `<name` (as a whole tag name), the text after its closing tag.
fn skip_raw_element<'a>(tail: &'a str, name: &str) -> Option<&'a str> {
    let after = tail.get(1..1 + name.len())?;
    if !after.eq_ignore_ascii_case(name) {
        return None;
    }
    match tail[1 + name.len()..].chars().next() {
        Some(c) if c == '>' || c == '/' || c.is_whitespace() => {}
        _ => return None,
    }
    let lower = tail.to_ascii_lowercase();
    let close = format!("</{name}");
    let Some(start) = lower.find(&close) else {
        return Some("");
    };
    let after_close = &tail[start..];
    Some(
        after_close
            .find('>')
            .map_or("", |end| &after_close[end + 1..]),
    )
}

/// Decode the common named entities and numeric references; leave unknown ones as they are.
fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        let decoded = tail
            .get(1..tail.len().min(12))
            .and_then(|window| window.find(';'))
            .and_then(|semi| entity(&tail[1..1 + semi]).map(|c| (c, semi + 2)));
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &tail[len..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "mdash" => '—',
        "ndash" => '–',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "euro" => '€',
        "middot" => '·',
        "bull" => '•',
        "deg" => '°',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(name: &str, bytes: &[u8]) -> String {
        match extract(name, bytes) {
            Extraction::Text(t) => t,
            Extraction::Unsupported(r) => format!("UNSUPPORTED: {r}"),
        }
    }

    #[test]
    fn plain_text_is_decoded_and_whitespace_reduced() {
        assert_eq!(
            text("notes.TXT", b"  hello\r\n\n  world\t!  "),
            "hello world !"
        );
        assert_eq!(text("/a/b/main.rs", b"fn main() {}\n"), "fn main() {}");
        assert_eq!(text("Doc.md", b"# Title\n\nbody"), "# Title body");
        assert_eq!(text("README", b"read me"), "read me");
    }

    #[test]
    fn bom_and_utf16_are_handled() {
        assert_eq!(text("a.txt", b"\xEF\xBB\xBFcaf\xC3\xA9"), "café");
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("héllo".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(text("a.txt", &le), "héllo");
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("hi".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(text("a.csv", &be), "hi");
    }

    #[test]
    fn invalid_utf8_falls_back_to_latin1() {
        assert_eq!(text("old.txt", b"caf\xE9"), "café");
    }

    #[test]
    fn binary_content_is_rejected() {
        assert_eq!(
            extract("x.txt", b"abc\0def"),
            Extraction::Unsupported("binary content".into())
        );
    }

    #[test]
    fn html_loses_tags_comments_scripts_and_styles() {
        let html = b"<!DOCTYPE html><html><head><title>T&amp;C</title><style>p{color:red}</style>\
            <script type=\"x\">var a = '<b>';</script></head><body><!-- hidden --><p>Caf&eacute; &lt;b&gt;\
            &#233;&#x41;</p><p>two</p><scripted>kept</scripted></body></html>";
        assert_eq!(text("page.html", html), "T&C Caf&eacute; <b>éA two kept");
    }

    #[test]
    fn xml_and_svg_keep_text_and_cdata() {
        assert_eq!(
            text(
                "a.xml",
                b"<?xml version=\"1.0\"?><r><a>x</a><![CDATA[<raw>]]></r>"
            ),
            "x <raw>"
        );
        assert_eq!(
            text("i.svg", b"<svg><text x=\"1\">Label</text></svg>"),
            "Label"
        );
        assert_eq!(text("broken.htm", b"a <b unterminated"), "a");
    }

    #[test]
    fn rich_and_unknown_types_are_unsupported_with_a_reason() {
        assert_eq!(
            extract("r.PDF", b"%PDF"),
            Extraction::Unsupported("no extractor for .pdf yet".into())
        );
        assert_eq!(
            extract("x.docx", b""),
            Extraction::Unsupported("no extractor for .docx yet".into())
        );
        assert_eq!(
            extract("x.exe", b""),
            Extraction::Unsupported("unsupported type .exe".into())
        );
        assert_eq!(
            extract("noext", b""),
            Extraction::Unsupported("unsupported type (no extension)".into())
        );
        assert!(!is_supported(".bashrc") && !is_supported("a.pdf"));
        assert!(
            is_supported("a.md") && is_supported("dir.v2/notes.yaml") && is_supported("x.Json")
        );
    }

    #[test]
    fn entity_decoding_leaves_unknown_and_bare_ampersands() {
        assert_eq!(
            decode_entities("a & b &unknown; &#x1F600; &#99999999;"),
            "a & b &unknown; 😀 &#99999999;"
        );
    }
}
