//! E-mail messages (RFC 5322 / MIME) through mail-parser: headers people search by, the text
//! body (or the HTML body tag-stripped), attachment names and text attachments.
use crate::failure::Failure;
use crate::markup;
use crate::meta::{Meta, clean};
use crate::sink::TextSink;
use mail_parser::{Address, MessageParser, MimeHeaders};

pub fn eml(bytes: &[u8], sink: &mut TextSink) -> Result<Meta, Failure> {
    let message = MessageParser::default()
        .parse(bytes)
        .ok_or_else(|| Failure::corrupt("e-mail", "no message headers found"))?;
    if message.headers().is_empty() {
        return Err(Failure::corrupt("e-mail", "no message headers found"));
    }
    let subject = message.subject().map(str::to_string);
    let from = message.from().map(addresses);
    for (label, value) in [
        ("From", from.clone()),
        ("To", message.to().map(addresses)),
        ("Cc", message.cc().map(addresses)),
        ("Subject", subject.clone()),
    ] {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            sink.push_str(label);
            sink.push_str(": ");
            sink.push_str(&value);
            sink.line_break();
        }
    }
    sink.line_break();
    if message.text_body_count() > 0 {
        for i in 0..message.text_body_count() {
            if let Some(text) = message.body_text(i) {
                sink.push_str(&text);
                sink.line_break();
            }
        }
    } else if let Some(html) = message.body_html(0) {
        markup::strip(&html, sink);
    }
    for attachment in message.attachments() {
        if sink.is_full() {
            break;
        }
        if let Some(name) = attachment.attachment_name() {
            sink.line_break();
            sink.push_str(name);
            sink.line_break();
        }
        if attachment.is_text()
            && !attachment.is_text_html()
            && let Some(text) = attachment.text_contents()
        {
            sink.push_str(text);
            sink.line_break();
        }
    }
    Ok(Meta {
        title: clean(subject),
        author: clean(from),
        ..Meta::default()
    })
}

/// "Name <address>, ..." without empty parts.
fn addresses(address: &Address<'_>) -> String {
    address
        .iter()
        .map(|a| match (a.name(), a.address()) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            (Some(n), None) => n.to_string(),
            (None, Some(e)) => e.to_string(),
            (None, None) => String::new(),
        })
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Limits;

    #[test]
    fn headers_body_and_attachment_names() {
        let raw = b"From: =?UTF-8?Q?Zo=C3=AB?= <zoe@example.org>\r\nTo: bob@example.org\r\nSubject: Caf\xc3\xa9 plans\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMeet at noon.\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=menu.bin\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--b--\r\n";
        let mut sink = TextSink::new(&Limits::default());
        let meta = eml(raw, &mut sink).unwrap();
        let text = sink.finish().0;
        assert_eq!(
            text,
            "From: Zoë <zoe@example.org> To: bob@example.org Subject: Café plans Meet at noon. menu.bin"
        );
        assert_eq!(meta.title.as_deref(), Some("Café plans"));
        assert_eq!(meta.author.as_deref(), Some("Zoë <zoe@example.org>"));
    }
}
