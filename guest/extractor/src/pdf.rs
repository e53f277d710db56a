//! PDF through pdf-extract (on lopdf): glyphs are mapped to Unicode with the fonts' ToUnicode
//! maps and encodings; words and lines are told apart by glyph positions.
use crate::failure::Failure;
use crate::meta::{Meta, clean};
use crate::sink::{Limits, TextSink};
use lopdf::{Document, Object};
use pdf_extract::{MediaBox, OutputDev, OutputError, Transform};

const FORMAT: &str = "PDF";

pub fn pdf(bytes: &[u8], _limits: &Limits, sink: &mut TextSink) -> Result<Meta, Failure> {
    let doc = Document::load_mem(bytes).map_err(|e| match e {
        lopdf::Error::InvalidPassword => Failure::Encrypted("the PDF needs a password".into()),
        lopdf::Error::Unimplemented(m) if m.contains("encrypt") => {
            Failure::Encrypted("the PDF needs a password".into())
        }
        other => Failure::corrupt(FORMAT, other),
    })?;
    if doc.is_encrypted() && doc.encryption_state.is_none() {
        return Err(Failure::Encrypted("the PDF needs a password".into()));
    }
    let pages = doc.get_pages().len() as u32;
    let mut meta = info(&doc);
    meta.pages = Some(pages);
    let mut output = SinkOutput::new(sink);
    match pdf_extract::output_doc(&doc, &mut output) {
        Ok(()) => {}
        // Our own signal that the character cap was reached.
        Err(OutputError::FormatError(_)) if output.sink.is_full() => {}
        Err(e) if output.sink.char_count() > 0 => {
            // Text from the pages before a broken one is still good.
            let _ = e;
        }
        Err(e) => return Err(Failure::corrupt(FORMAT, e)),
    }
    Ok(meta)
}

/// Title and author from the trailer's Info dictionary.
fn info(doc: &Document) -> Meta {
    let Some(dict) = doc.trailer.get(b"Info").ok().and_then(|o| match o {
        Object::Reference(id) => doc.get_dictionary(*id).ok(),
        Object::Dictionary(d) => Some(d),
        _ => None,
    }) else {
        return Meta::default();
    };
    let text = |key: &[u8]| {
        dict.get(key)
            .ok()
            .and_then(|o| o.as_str().ok())
            .map(text_string)
    };
    Meta {
        title: clean(text(b"Title")),
        author: clean(text(b"Author")),
        ..Meta::default()
    }
}

/// A PDF text string: UTF-16BE with a BOM, UTF-8 with a BOM (PDF 2.0), or PDFDocEncoding
/// (close enough to Latin-1 for titles).
fn text_string(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        let units = rest
            .chunks_exact(2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]));
        return char::decode_utf16(units).filter_map(Result::ok).collect();
    }
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8_lossy(rest).into_owned();
    }
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// pdf-extract's plain-text layout rules, writing into the sink and stopping it at the cap.
struct SinkOutput<'s> {
    sink: &'s mut TextSink,
    page_height: f64,
    last_end: f64,
    last_y: f64,
    first_char: bool,
}

impl<'s> SinkOutput<'s> {
    fn new(sink: &'s mut TextSink) -> Self {
        SinkOutput {
            sink,
            page_height: 0.,
            last_end: 100_000.,
            last_y: 0.,
            first_char: false,
        }
    }

    fn stop_if_full(&self) -> Result<(), OutputError> {
        if self.sink.is_full() {
            Err(OutputError::FormatError(std::fmt::Error))
        } else {
            Ok(())
        }
    }
}

impl OutputDev for SinkOutput<'_> {
    fn begin_page(
        &mut self,
        _page_num: u32,
        media_box: &MediaBox,
        _art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        self.page_height = media_box.ury - media_box.lly;
        Ok(())
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        self.sink.line_break();
        self.last_end = 100_000.;
        self.stop_if_full()
    }

    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        _spacing: f64,
        font_size: f64,
        char: &str,
    ) -> Result<(), OutputError> {
        // The text matrix flipped to top-down page coordinates (y grows downwards).
        let (x, y) = (trm.m31, self.page_height - trm.m32);
        let sx = (trm.m11 + trm.m21) * font_size;
        let sy = (trm.m12 + trm.m22) * font_size;
        let size = (sx * sy).abs().sqrt();
        if self.first_char {
            if (y - self.last_y).abs() > size * 1.5
                || (x < self.last_end && (y - self.last_y).abs() > size * 0.5)
            {
                self.sink.line_break();
            } else if x > self.last_end + size * 0.1 {
                self.sink.space();
            }
        }
        self.sink.push_str(char);
        self.first_char = false;
        self.last_y = y;
        self.last_end = x + width * size;
        self.stop_if_full()
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        self.first_char = true;
        Ok(())
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}
