//! EPUB: the OPF package says the reading order (spine); each XHTML chapter is tag-stripped.
use crate::failure::Failure;
use crate::markup;
use crate::meta::{Meta, clean};
use crate::sink::{Limits, TextSink};
use crate::xmltext::{all_attributes, first_attribute, first_texts};
use quick_xml::Reader;
use quick_xml::events::Event;

const FORMAT: &str = "EPUB";

pub fn epub(bytes: &[u8], limits: &Limits, sink: &mut TextSink) -> Result<Meta, Failure> {
    let mut zip = crate::odf::open(bytes, FORMAT, limits)?;
    let container = zip
        .read("META-INF/container.xml")?
        .ok_or_else(|| Failure::corrupt(FORMAT, "no META-INF/container.xml"))?;
    let opf_path = first_attribute(&container, "rootfile", "full-path")
        .ok_or_else(|| Failure::corrupt(FORMAT, "container.xml names no rootfile"))?;
    let opf = zip.read(&opf_path)?.ok_or_else(|| {
        Failure::corrupt(FORMAT, format!("the package file {opf_path} is missing"))
    })?;
    let base = opf_path.rsplit_once('/').map_or("", |(dir, _)| dir);
    let manifest = manifest_items(&opf);
    let spine = all_attributes(&opf, "itemref", "idref");
    let mut chapters = 0u32;
    for idref in spine {
        if sink.is_full() {
            break;
        }
        let Some((href, media)) = manifest
            .iter()
            .find(|(id, _, _)| *id == idref)
            .map(|(_, h, m)| (h, m))
        else {
            continue;
        };
        if !media.contains("html") {
            continue;
        }
        let path = join(base, href);
        let Some(xhtml) = zip.read_optional(&path)? else {
            continue;
        };
        let text = String::from_utf8_lossy(&xhtml);
        // The <head> repeats the book title in every chapter: only the body is text.
        let body = text.find("<body").map_or(&text[..], |i| &text[i..]);
        markup::strip(body, sink);
        sink.line_break();
        chapters += 1;
    }
    let found = first_texts(&opf, &["title", "creator"]);
    let mut found = found.into_iter();
    Ok(Meta {
        title: clean(found.next().flatten()),
        author: clean(found.next().flatten()),
        pages: Some(chapters),
        ..Meta::default()
    })
}

/// (id, href, media-type) of every manifest item.
fn manifest_items(opf: &[u8]) -> Vec<(String, String, String)> {
    let mut out = vec![];
    let mut reader = Reader::from_reader(opf);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                let name: &str = e.name().into_inner();
                if name.rsplit(':').next() == Some("item") {
                    let (mut id, mut href, mut media) =
                        (String::new(), String::new(), String::new());
                    for a in e.attributes().flatten() {
                        let value = a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .map(|v| v.into_owned())
                            .unwrap_or_default();
                        match a.key.as_ref() {
                            "id" => id = value,
                            "href" => href = value,
                            "media-type" => media = value,
                            _ => {}
                        }
                    }
                    out.push((id, href, media));
                }
            }
            Ok(Event::Eof) | Err(_) => return out,
            _ => {}
        }
        buf.clear();
    }
}

/// `href` relative to the OPF's directory, with `%20`-style escapes and `../` resolved.
fn join(base: &str, href: &str) -> String {
    let href = href.split('#').next().unwrap_or(href);
    let mut parts: Vec<&str> = if base.is_empty() {
        vec![]
    } else {
        base.split('/').collect()
    };
    for seg in href.split('/') {
        match seg {
            ".." => {
                parts.pop();
            }
            "." | "" => {}
            other => parts.push(other),
        }
    }
    percent_decode(&parts.join("/"))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_resolve_against_the_package_directory() {
        assert_eq!(
            join("OEBPS", "Text/ch%201.xhtml#x"),
            "OEBPS/Text/ch 1.xhtml"
        );
        assert_eq!(join("a/b", "../c.xhtml"), "a/c.xhtml");
        assert_eq!(join("", "c.xhtml"), "c.xhtml");
    }
}
