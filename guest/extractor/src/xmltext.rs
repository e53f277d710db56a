//! Text out of an XML part (OOXML, ODF, Visio, OPF), streamed with quick-xml.
//!
//! quick-xml reads iteratively (no recursion, so deep nesting cannot overflow the stack) and
//! never expands entities declared in a DTD (no billion laughs): an unknown `&name;` is
//! dropped.
use crate::sink::TextSink;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// Which elements carry text and how they are spaced; names are local (prefix dropped).
pub struct Rules {
    /// Text counts only inside one of these elements (empty: everywhere).
    pub within: &'static [&'static str],
    /// Elements whose end (or empty form) ends a line.
    pub breaks: &'static [&'static str],
    /// Elements that separate words (tabs, cells, inline markers).
    pub spaces: &'static [&'static str],
    /// Subtrees whose text is never kept (deleted revisions, field codes, fallbacks).
    pub skip: &'static [&'static str],
    /// Elements to count (slides, pages); their number is returned.
    pub count: Option<&'static str>,
}

/// Collect the text of `xml` into `sink`; returns how many `rules.count` elements were seen.
pub fn collect(xml: &[u8], rules: &Rules, sink: &mut TextSink) -> Result<u32, String> {
    let mut reader = Reader::from_reader(xml);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    let mut buf = Vec::new();
    let mut within = 0usize;
    let mut skipping = 0usize;
    let mut counted = 0u32;
    let all = rules.within.is_empty();
    loop {
        if sink.is_full() {
            return Ok(counted);
        }
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("XML error at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(e) => {
                let name = local(&e);
                if skipping > 0 || rules.skip.contains(&name) {
                    skipping += 1;
                } else {
                    if rules.within.contains(&name) {
                        within += 1;
                    }
                    if rules.count == Some(name) {
                        counted += 1;
                    }
                    if rules.spaces.contains(&name) {
                        sink.space();
                    }
                }
            }
            Event::Empty(e) => {
                let name = local(&e);
                if skipping == 0 {
                    if rules.count == Some(name) {
                        counted += 1;
                    }
                    if rules.breaks.contains(&name) {
                        sink.line_break();
                    } else if rules.spaces.contains(&name) {
                        sink.space();
                    }
                }
            }
            Event::End(e) => {
                let qname = e.name();
                let full: &str = qname.as_ref();
                let name = full.rsplit(':').next().unwrap_or(full);
                if skipping > 0 {
                    skipping -= 1;
                } else {
                    if rules.within.contains(&name) {
                        within = within.saturating_sub(1);
                    }
                    if rules.breaks.contains(&name) {
                        sink.line_break();
                    } else if rules.spaces.contains(&name) {
                        sink.space();
                    }
                }
            }
            Event::Text(t) if skipping == 0 && (all || within > 0) => {
                sink.push_str(&t.xml10_content());
            }
            Event::CData(t) if skipping == 0 && (all || within > 0) => {
                sink.push_str(&t.xml10_content());
            }
            Event::GeneralRef(r) if skipping == 0 && (all || within > 0) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    sink.push_char(c);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r) {
                    sink.push_str(s);
                }
            }
            Event::Eof => return Ok(counted),
            _ => {}
        }
        buf.clear();
    }
}

fn local<'a>(e: &'a BytesStart<'_>) -> &'a str {
    let full: &str = e.name().into_inner();
    full.rsplit(':').next().unwrap_or(full)
}

/// The text of the first element with each of these local names (metadata parts).
pub fn first_texts(xml: &[u8], names: &[&str]) -> Vec<Option<String>> {
    let mut found: Vec<Option<String>> = vec![None; names.len()];
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().check_end_names = false;
    let mut buf = Vec::new();
    let mut current: Option<usize> = None;
    let mut text = String::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => {
                let name = local(&e);
                current = names
                    .iter()
                    .position(|n| *n == name)
                    .filter(|&i| found[i].is_none());
                text.clear();
            }
            Ok(Event::Text(t)) if current.is_some() => text.push_str(&t.xml10_content()),
            Ok(Event::GeneralRef(r)) if current.is_some() => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r) {
                    text.push_str(s);
                }
            }
            Ok(Event::End(_)) => {
                if let Some(i) = current.take() {
                    let value = text.split_whitespace().collect::<Vec<_>>().join(" ");
                    if !value.is_empty() {
                        found[i] = Some(value);
                    }
                }
            }
            Ok(Event::Eof) | Err(_) => return found,
            _ => {}
        }
        buf.clear();
    }
}

/// The value of `attr` on the first element named `element` (local names).
pub fn first_attribute(xml: &[u8], element: &str, attr: &str) -> Option<String> {
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) if local(&e) == element => {
                for a in e.attributes().flatten() {
                    let key: &str = a.key.as_ref();
                    if key.rsplit(':').next() == Some(attr) {
                        return a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .ok()
                            .map(|v| v.into_owned());
                    }
                }
                return None;
            }
            Ok(Event::Eof) | Err(_) => return None,
            _ => {}
        }
        buf.clear();
    }
}

/// Every value of `attr` on elements named `element`, in document order.
pub fn all_attributes(xml: &[u8], element: &str, attr: &str) -> Vec<String> {
    let mut out = vec![];
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) if local(&e) == element => {
                for a in e.attributes().flatten() {
                    let key: &str = a.key.as_ref();
                    if key.rsplit(':').next() == Some(attr)
                        && let Ok(v) = a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    {
                        out.push(v.into_owned());
                    }
                }
            }
            Ok(Event::Eof) | Err(_) => return out,
            _ => {}
        }
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Limits;

    const RULES: Rules = Rules {
        within: &["t"],
        breaks: &["p"],
        spaces: &["tab"],
        skip: &["Fallback"],
        count: Some("p"),
    };

    #[test]
    fn only_text_within_is_kept_and_paragraphs_break() {
        let xml = br#"<?xml version="1.0"?><w:d xmlns:w="x"><w:p><w:r><w:t>Caf&#233;</w:t><w:tab/><w:t>a&amp;b</w:t></w:r></w:p><w:p><w:instr>PAGE</w:instr><w:t>two</w:t></w:p><mc:Fallback><w:t>dup</w:t></mc:Fallback></w:d>"#;
        let mut sink = TextSink::new(&Limits {
            normalize_whitespace: false,
            ..Limits::default()
        });
        let n = collect(xml, &RULES, &mut sink).unwrap();
        assert_eq!(sink.finish().0, "Café a&b\ntwo");
        assert_eq!(n, 2);
    }

    #[test]
    fn dtd_entities_are_not_expanded() {
        let xml = br#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><r><t>&b; x</t></r>"#;
        let mut sink = TextSink::new(&Limits::default());
        collect(xml, &RULES, &mut sink).unwrap();
        assert_eq!(sink.finish().0, "x");
    }

    #[test]
    fn metadata_helpers_find_first_values() {
        let xml = br#"<cp:core xmlns:dc="d"><dc:title>The  title</dc:title><dc:creator>Zo&#235;</dc:creator><s page-count="3"/></cp:core>"#;
        assert_eq!(
            first_texts(xml, &["title", "creator", "missing"]),
            vec![Some("The title".into()), Some("Zoë".into()), None]
        );
        assert_eq!(
            first_attribute(xml, "s", "page-count").as_deref(),
            Some("3")
        );
    }
}
