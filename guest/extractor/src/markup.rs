//! Tag stripping for HTML, XML, SVG and ASP.NET pages: a forgiving scanner rather than a
//! parser, because web pages are rarely well-formed. It never expands DTD entities (no
//! billion laughs), drops `script`/`style` bodies, comments, processing instructions and
//! server-side blocks, and keeps CDATA text.
use crate::sink::TextSink;

/// Elements whose end is a line break (so words of adjacent blocks do not run together and
/// unnormalised text keeps its paragraphs).
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "title",
    "table",
    "ul",
    "ol",
    "section",
    "article",
    "header",
    "footer",
    "blockquote",
    "pre",
    "dd",
    "dt",
];

pub fn strip(text: &str, sink: &mut TextSink) {
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        if sink.is_full() {
            return;
        }
        push_decoded(&rest[..open], sink);
        let tail = &rest[open..];
        if let Some(body) = tail.strip_prefix("<!--") {
            rest = body.find("-->").map_or("", |end| &body[end + 3..]);
            sink.space();
        } else if let Some(body) = tail.strip_prefix("<![CDATA[") {
            let end = body.find("]]>").unwrap_or(body.len());
            sink.push_str(&body[..end]);
            rest = body.get(end + 3..).unwrap_or("");
        } else if let Some(body) = tail.strip_prefix("<%") {
            rest = body.find("%>").map_or("", |end| &body[end + 2..]);
            sink.space();
        } else if let Some(body) = tail.strip_prefix("<!") {
            // DOCTYPE, possibly with an internal subset in brackets.
            rest = skip_declaration(body);
            sink.space();
        } else if let Some(skipped) =
            skip_raw_element(tail, "script").or_else(|| skip_raw_element(tail, "style"))
        {
            rest = skipped;
            sink.space();
        } else {
            let end = tail.find('>').map_or(tail.len(), |e| e + 1);
            if is_block(&tail[..end]) {
                sink.line_break();
            } else {
                sink.space();
            }
            rest = &tail[end..];
        }
    }
    push_decoded(rest, sink);
}

fn is_block(tag: &str) -> bool {
    let name = tag
        .trim_start_matches('<')
        .trim_start_matches('/')
        .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .next()
        .unwrap_or("");
    let local = name.rsplit(':').next().unwrap_or(name);
    BLOCKS.iter().any(|b| b.eq_ignore_ascii_case(local))
}

/// After `<!`: skip to the `>` that closes the declaration, past any `[...]` subset.
fn skip_declaration(body: &str) -> &str {
    let mut depth = 0usize;
    for (i, c) in body.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '>' if depth == 0 => return &body[i + 1..],
            _ => {}
        }
    }
    ""
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
    let close = format!("</{name}");
    let Some(start) = find_ignore_ascii_case(tail, &close) else {
        return Some("");
    };
    let after_close = &tail[start..];
    Some(
        after_close
            .find('>')
            .map_or("", |end| &after_close[end + 1..]),
    )
}

fn find_ignore_ascii_case(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    (0..h.len().saturating_sub(n.len()) + 1)
        .find(|&i| h.len() >= i + n.len() && h[i..i + n.len()].eq_ignore_ascii_case(n))
}

fn push_decoded(text: &str, sink: &mut TextSink) {
    if !text.contains('&') {
        sink.push_str(text);
        return;
    }
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        sink.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        let reference = tail
            .get(1..tail.len().min(33))
            .and_then(|window| window.find(';'))
            .map(|semi| (&tail[1..1 + semi], semi + 2));
        match reference {
            Some((name, len)) => match entity(name) {
                Some(c) => {
                    sink.push_char(c);
                    rest = &tail[len..];
                }
                // A reference to an entity the document declares itself (a DTD's, as in a
                // billion-laughs bomb) or one we do not know: never expanded, never indexed
                // as if it were text.
                None if is_entity_name(name) => rest = &tail[len..],
                None => {
                    sink.push_char('&');
                    rest = &tail[1..];
                }
            },
            None => {
                sink.push_char('&');
                rest = &tail[1..];
            }
        }
    }
    sink.push_str(rest);
}

/// `name` could name an entity (`lol9`, `nbsp`): a letter, then letters, digits, `.`, `-`, `_`.
fn is_entity_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// The common named entities and numeric references.
pub fn entity(name: &str) -> Option<char> {
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
        "eacute" => 'é',
        "egrave" => 'è',
        "agrave" => 'à',
        "aacute" => 'á',
        "ccedil" => 'ç',
        "uuml" => 'ü',
        "ouml" => 'ö',
        "auml" => 'ä',
        "szlig" => 'ß',
        "ntilde" => 'ñ',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Limits;

    fn text(input: &str) -> String {
        let mut sink = TextSink::new(&Limits::default());
        strip(input, &mut sink);
        sink.finish().0
    }

    #[test]
    fn html_loses_tags_comments_scripts_and_styles() {
        let html = "<!DOCTYPE html><html><head><title>T&amp;C</title><style>p{color:red}</style>\
            <script type=\"x\">var a = '<b>';</script></head><body><!-- hidden --><p>Caf&eacute; &lt;b&gt;\
            &#233;&#x41;</p><p>two</p><scripted>kept</scripted></body></html>";
        assert_eq!(text(html), "T&C Café <b>éA two kept");
    }

    #[test]
    fn xml_and_svg_keep_text_and_cdata_but_not_dtds() {
        assert_eq!(
            text("<?xml version=\"1.0\"?><r><a>x</a><![CDATA[<raw>]]></r>"),
            "x <raw>"
        );
        assert_eq!(text("<svg><text x=\"1\">Label</text></svg>"), "Label");
        assert_eq!(text("a <b unterminated"), "a");
        let laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">\
            <!ENTITY lol2 \"&lol;&lol;&lol;\">]><lolz>&lol2; ok</lolz>";
        assert_eq!(
            text(laughs),
            "ok",
            "a DTD entity is neither expanded nor kept"
        );
    }

    #[test]
    fn server_side_blocks_are_dropped() {
        assert_eq!(
            text("<%@ Page Language=\"C#\" %><html><body><% if (x) { %>Hello<% } %></body></html>"),
            "Hello"
        );
    }

    #[test]
    fn unterminated_script_drops_the_rest() {
        assert_eq!(text("before<script>var x = 1;"), "before");
    }
}
