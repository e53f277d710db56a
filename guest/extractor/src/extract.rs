//! The entry point: pick a reader by name and bytes, run it into a capped sink.
use crate::failure::Failure;
use crate::format::{self, Format, Sheet};
use crate::meta::Meta;
use crate::sink::{Limits, TextSink};

/// What extraction produced for one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub text: String,
    pub truncated: bool,
    /// What the bytes turned out to be.
    pub format: String,
    pub meta: Meta,
}

/// Whether `extract` would try this file name (so the host can skip the download).
pub fn supports(file_name: &str) -> bool {
    format::by_name(file_name).is_some()
}

pub fn extract(file_name: &str, bytes: &[u8], limits: &Limits) -> Result<Extracted, Failure> {
    let ext = format::extension(file_name);
    let Some(claimed) = format::by_name(file_name) else {
        return Err(Failure::Unsupported(match &ext {
            Some(ext) => format!("unsupported type .{ext}"),
            None => "unsupported type (no extension)".into(),
        }));
    };
    let mut format = format::refine(claimed, bytes);
    let mut sink = TextSink::new(limits);
    let meta = match format {
        Format::Text => {
            let text = crate::plain::decode(bytes)?;
            sink.push_str(&text);
            Meta::default()
        }
        Format::Markup => {
            let text = crate::plain::decode(bytes)?;
            crate::markup::strip(&text, &mut sink);
            Meta::default()
        }
        Format::Rtf => crate::rtf::rtf(bytes, &mut sink)?,
        Format::Pdf => crate::pdf::pdf(bytes, limits, &mut sink)?,
        Format::Docx => crate::ooxml::docx(bytes, limits, &mut sink)?,
        Format::Pptx => crate::ooxml::pptx(bytes, limits, &mut sink)?,
        Format::Vsdx => crate::ooxml::vsdx(bytes, limits, &mut sink)?,
        Format::Odt => crate::odf::odt(bytes, limits, &mut sink)?,
        Format::Odp => crate::odf::odp(bytes, limits, &mut sink)?,
        Format::Epub => crate::epub::epub(bytes, limits, &mut sink)?,
        Format::Eml => crate::eml::eml(bytes, &mut sink)?,
        Format::Spreadsheet(Sheet::Xls) | Format::Doc | Format::Ppt | Format::Msg | Format::Vsd => {
            let mut ole = crate::ole::open(bytes, "Office 97-2003")?;
            // The streams decide: a .doc renamed .xls is still read as a document.
            format = crate::ole::kind(&ole)?;
            match format {
                Format::Doc => crate::doc::doc(&mut ole, &mut sink)?,
                Format::Ppt => crate::ppt::ppt(&mut ole, &mut sink)?,
                Format::Msg => crate::msg::msg(&mut ole, &mut sink)?,
                Format::Spreadsheet(kind) => {
                    drop(ole);
                    crate::sheets::spreadsheet(kind, bytes, limits, &mut sink)?
                }
                // No sound reader for Visio's binary drawings: only the summary metadata.
                _ => crate::ole::summary(&mut ole).unwrap_or_default(),
            }
        }
        Format::Spreadsheet(kind) => crate::sheets::spreadsheet(kind, bytes, limits, &mut sink)?,
    };
    let (text, truncated) = sink.finish();
    Ok(Extracted {
        text,
        truncated,
        format: format.name(ext.as_deref()),
        meta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(name: &str, bytes: &[u8]) -> String {
        match extract(name, bytes, &Limits::default()) {
            Ok(e) => e.text,
            Err(f) => format!("FAILED: {f}"),
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
    fn unnormalised_text_keeps_its_lines() {
        let limits = Limits {
            normalize_whitespace: false,
            ..Limits::default()
        };
        let e = extract("a.txt", b"one\r\ntwo  three\n", &limits).unwrap();
        assert_eq!(e.text, "one\ntwo three");
    }

    #[test]
    fn the_character_cap_truncates_and_says_so() {
        let limits = Limits {
            max_chars: 5,
            ..Limits::default()
        };
        let e = extract("a.md", "héllo world".as_bytes(), &limits).unwrap();
        assert_eq!((e.text.as_str(), e.truncated), ("héllo", true));
    }

    #[test]
    fn unknown_and_binary_content_fail_with_a_reason() {
        assert_eq!(
            extract("x.exe", b"", &Limits::default()),
            Err(Failure::Unsupported("unsupported type .exe".into()))
        );
        assert_eq!(
            extract("noext", b"", &Limits::default()),
            Err(Failure::Unsupported(
                "unsupported type (no extension)".into()
            ))
        );
        assert!(matches!(
            extract("x.txt", b"abc\0def", &Limits::default()),
            Err(Failure::Unsupported(_))
        ));
        assert!(matches!(
            extract("x.docx", b"not a zip", &Limits::default()),
            Err(Failure::Corrupt(_))
        ));
        assert!(matches!(
            extract("x.pdf", b"%PDF-1.4 garbage", &Limits::default()),
            Err(Failure::Corrupt(_))
        ));
        assert!(!supports(".bashrc") && !supports("a.exe"));
        assert!(supports("a.md") && supports("dir.v2/notes.yaml") && supports("x.Json"));
        assert!(supports("a.PDF") && supports("b.xlsb") && supports("c.msg"));
    }

    #[test]
    fn content_wins_over_a_misleading_extension() {
        let e = extract("letter.doc", br"{\rtf1 Hello}", &Limits::default()).unwrap();
        assert_eq!((e.text.as_str(), e.format.as_str()), ("Hello", "rtf"));
        let e = extract(
            "report.xls",
            b"<html><body><table><tr><td>42</td></tr></table></body></html>",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!((e.text.as_str(), e.format.as_str()), ("42", "xls"));
    }
}
