//! OpenDocument text and presentations (zip + quick-xml); spreadsheets go through calamine.
use crate::archive::Archive;
use crate::failure::Failure;
use crate::meta::{Meta, clean};
use crate::sink::{Limits, TextSink};
use crate::xmltext::{Rules, collect, first_attribute, first_texts};

const BODY: Rules = Rules {
    within: &["body"],
    breaks: &["p", "h", "line-break", "table-row", "list-item", "page"],
    spaces: &["s", "tab", "table-cell", "frame"],
    // Tracked deletions, and the author/date lines of comments.
    skip: &[
        "tracked-changes",
        "creator",
        "date",
        "sequence-decls",
        "forms",
    ],
    count: Some("page"),
};

/// Headers and footers of master pages, in styles.xml.
const HEADERS: Rules = Rules {
    within: &[
        "header",
        "footer",
        "header-left",
        "footer-left",
        "header-first",
        "footer-first",
    ],
    breaks: &["p", "h", "line-break"],
    spaces: &["s", "tab", "table-cell"],
    skip: &[],
    count: None,
};

pub fn odt(bytes: &[u8], limits: &Limits, sink: &mut TextSink) -> Result<Meta, Failure> {
    let mut zip = open(bytes, "OpenDocument text", limits)?;
    if let Some(styles) = zip.read_optional("styles.xml")? {
        let _ = collect(&styles, &HEADERS, sink);
        sink.line_break();
    }
    let content = zip
        .read("content.xml")?
        .ok_or_else(|| Failure::corrupt("OpenDocument text", "no content.xml"))?;
    collect(&content, &BODY, sink)
        .map_err(|e| Failure::corrupt("OpenDocument text", format!("content.xml: {e}")))?;
    meta(&mut zip)
}

pub fn odp(bytes: &[u8], limits: &Limits, sink: &mut TextSink) -> Result<Meta, Failure> {
    let mut zip = open(bytes, "OpenDocument presentation", limits)?;
    let content = zip
        .read("content.xml")?
        .ok_or_else(|| Failure::corrupt("OpenDocument presentation", "no content.xml"))?;
    let slides = collect(&content, &BODY, sink)
        .map_err(|e| Failure::corrupt("OpenDocument presentation", format!("content.xml: {e}")))?;
    let mut meta = meta(&mut zip)?;
    meta.slides = Some(slides);
    meta.pages = None;
    Ok(meta)
}

/// Open the package and refuse encrypted ones (their parts are ciphertext).
pub fn open<'a>(
    bytes: &'a [u8],
    format: &'static str,
    limits: &Limits,
) -> Result<Archive<'a>, Failure> {
    let mut zip = Archive::open(bytes, format, limits.max_inflated_bytes)?;
    if let Some(manifest) = zip.read_optional("META-INF/manifest.xml")?
        && memchr_slice(&manifest, b"encryption-data")
    {
        return Err(Failure::Encrypted(format!(
            "the {format} file is password-protected"
        )));
    }
    Ok(zip)
}

fn memchr_slice(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Title, author and page count from meta.xml.
pub fn meta(zip: &mut Archive<'_>) -> Result<Meta, Failure> {
    let mut meta = Meta::default();
    if let Some(xml) = zip.read_optional("meta.xml")? {
        let found = first_texts(&xml, &["title", "initial-creator", "creator"]);
        let mut found = found.into_iter();
        meta.title = clean(found.next().flatten());
        let initial = found.next().flatten();
        let last = found.next().flatten();
        meta.author = clean(initial.or(last));
        meta.pages =
            first_attribute(&xml, "document-statistic", "page-count").and_then(|p| p.parse().ok());
    }
    Ok(meta)
}
