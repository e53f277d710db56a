//! Office Open XML: word processing, presentations and Visio drawings (zip + quick-xml).
use crate::archive::{Archive, numbered};
use crate::failure::Failure;
use crate::meta::{Meta, clean};
use crate::sink::{Limits, TextSink};
use crate::xmltext::{Rules, collect, first_texts};

const WORD: Rules = Rules {
    within: &["t"],
    breaks: &["p", "br", "cr", "tr"],
    spaces: &["tab", "tc", "noBreakHyphen"],
    // Deleted revisions, field instructions, and the VML copy of every DrawingML text box.
    skip: &["delText", "instrText", "Fallback"],
    count: None,
};

const SLIDE: Rules = Rules {
    within: &["t"],
    breaks: &["p", "br", "tr"],
    spaces: &["tc"],
    skip: &["Fallback"],
    count: None,
};

const VISIO: Rules = Rules {
    within: &["Text"],
    breaks: &["Shape", "pp"],
    spaces: &["cp", "tp", "fld"],
    skip: &[],
    count: None,
};

pub fn docx(bytes: &[u8], limits: &Limits, sink: &mut TextSink) -> Result<Meta, Failure> {
    let mut zip = Archive::open(bytes, "Word (OOXML)", limits.max_inflated_bytes)?;
    let names = zip.names();
    let main = ["word/document.xml", "word/document2.xml"]
        .into_iter()
        .find(|n| zip.contains(n))
        .ok_or_else(|| Failure::corrupt("Word (OOXML)", "no word/document.xml part"))?;
    let mut parts = numbered(&names, "word/header", ".xml");
    parts.push(main.to_string());
    parts.extend(
        [
            "word/footnotes.xml",
            "word/endnotes.xml",
            "word/comments.xml",
        ]
        .map(String::from),
    );
    parts.extend(numbered(&names, "word/footer", ".xml"));
    for part in parts {
        if sink.is_full() {
            break;
        }
        let required = part == main;
        let Some(xml) = (if required {
            zip.read(&part)?
        } else {
            zip.read_optional(&part)?
        }) else {
            continue;
        };
        if let Err(e) = collect(&xml, &WORD, sink)
            && required
        {
            return Err(Failure::corrupt("Word (OOXML)", format!("{part}: {e}")));
        }
        sink.line_break();
    }
    core_properties(&mut zip)
}

pub fn pptx(bytes: &[u8], limits: &Limits, sink: &mut TextSink) -> Result<Meta, Failure> {
    let mut zip = Archive::open(bytes, "PowerPoint (OOXML)", limits.max_inflated_bytes)?;
    let names = zip.names();
    if !zip.contains("ppt/presentation.xml") {
        return Err(Failure::corrupt(
            "PowerPoint (OOXML)",
            "no ppt/presentation.xml part",
        ));
    }
    let slides = numbered(&names, "ppt/slides/slide", ".xml");
    let notes = numbered(&names, "ppt/notesSlides/notesSlide", ".xml");
    for part in slides.iter().chain(&notes) {
        if sink.is_full() {
            break;
        }
        if let Some(xml) = zip.read(part)? {
            collect(&xml, &SLIDE, sink)
                .map_err(|e| Failure::corrupt("PowerPoint (OOXML)", format!("{part}: {e}")))?;
            sink.line_break();
        }
    }
    let mut meta = core_properties(&mut zip)?;
    meta.slides = Some(slides.len() as u32);
    Ok(meta)
}

pub fn vsdx(bytes: &[u8], limits: &Limits, sink: &mut TextSink) -> Result<Meta, Failure> {
    let mut zip = Archive::open(bytes, "Visio (OOXML)", limits.max_inflated_bytes)?;
    let names = zip.names();
    if !zip.contains("visio/document.xml") {
        return Err(Failure::corrupt(
            "Visio (OOXML)",
            "no visio/document.xml part",
        ));
    }
    let pages = numbered(&names, "visio/pages/page", ".xml");
    for part in &pages {
        if sink.is_full() {
            break;
        }
        if let Some(xml) = zip.read(part)? {
            collect(&xml, &VISIO, sink)
                .map_err(|e| Failure::corrupt("Visio (OOXML)", format!("{part}: {e}")))?;
            sink.line_break();
        }
    }
    let mut meta = core_properties(&mut zip)?;
    meta.pages = Some(pages.len() as u32);
    Ok(meta)
}

/// Title and author from `docProps/core.xml`, pages from `docProps/app.xml`.
pub fn core_properties(zip: &mut Archive<'_>) -> Result<Meta, Failure> {
    let mut meta = Meta::default();
    if let Some(core) = zip.read_optional("docProps/core.xml")? {
        let [title, creator] =
            <[Option<String>; 2]>::try_from(first_texts(&core, &["title", "creator"]))
                .unwrap_or_default();
        meta.title = clean(title);
        meta.author = clean(creator);
    }
    if let Some(app) = zip.read_optional("docProps/app.xml")? {
        let [pages] =
            <[Option<String>; 1]>::try_from(first_texts(&app, &["Pages"])).unwrap_or_default();
        meta.pages = pages.and_then(|p| p.trim().parse().ok());
    }
    Ok(meta)
}
