//! Which reader a file gets: by its extension, corrected by what its bytes say (a `.doc` that
//! is really RTF or a `.xls` that is really HTML is common).

/// A reader the component has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Text as it is (plain text, source code, data, lightweight markup).
    Text,
    /// Tags stripped (HTML, XML, SVG, ASP.NET pages).
    Markup,
    Rtf,
    Pdf,
    /// Office Open XML word processing (docx, docm, dotx, dotm).
    Docx,
    /// Office Open XML presentation (pptx, pptm, potx, ppsx, ...).
    Pptx,
    /// Spreadsheets read by calamine (xlsx, xlsm, xlsb, xls, ods).
    Spreadsheet(Sheet),
    /// Office Open XML drawing (vsdx, vsdm, vstx, ...).
    Vsdx,
    Odt,
    Odp,
    Epub,
    Eml,
    Msg,
    /// Word 97-2003 binary.
    Doc,
    /// PowerPoint 97-2003 binary.
    Ppt,
    /// Visio 2003-2010 binary.
    Vsd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sheet {
    Xlsx,
    Xlsb,
    Xls,
    Ods,
}

impl Format {
    /// The name reported as the document's detected format.
    pub fn name(self, ext: Option<&str>) -> String {
        let fixed = match self {
            Format::Text => "text",
            Format::Markup => return ext.unwrap_or("markup").to_string(),
            Format::Rtf => "rtf",
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            Format::Pptx => "pptx",
            Format::Spreadsheet(Sheet::Xlsx) => "xlsx",
            Format::Spreadsheet(Sheet::Xlsb) => "xlsb",
            Format::Spreadsheet(Sheet::Xls) => "xls",
            Format::Spreadsheet(Sheet::Ods) => "ods",
            Format::Vsdx => "vsdx",
            Format::Odt => "odt",
            Format::Odp => "odp",
            Format::Epub => "epub",
            Format::Eml => "eml",
            Format::Msg => "msg",
            Format::Doc => "doc",
            Format::Ppt => "ppt",
            Format::Vsd => "vsd",
        };
        fixed.to_string()
    }
}

/// Extensions read as text as they are.
pub const PLAIN: &[&str] = &[
    "txt", "text", "md", "markdown", "rst", "csv", "tsv", "json", "jsonl", "ndjson", "yaml", "yml",
    "toml", "ini", "cfg", "conf", "log", "tex", // source code
    "rs", "py", "js", "ts", "tsx", "jsx", "java", "c", "h", "cpp", "hpp", "cc", "cs", "go", "rb",
    "php", "sh", "bash", "zsh", "sql", "css", "scss", "kt", "swift", "scala", "pl", "lua", "r",
    "m", "ps1", "bat",
];

/// Extensions whose tags are stripped.
pub const MARKUP: &[&str] = &["html", "htm", "xhtml", "xml", "svg", "aspx", "asp"];

/// Extension-less file names that are text.
pub const PLAIN_NAMES: &[&str] = &[
    "readme",
    "license",
    "makefile",
    "dockerfile",
    "changelog",
    "authors",
];

/// Rich formats and the reader each extension gets.
const RICH: &[(&str, Format)] = &[
    ("rtf", Format::Rtf),
    ("pdf", Format::Pdf),
    ("docx", Format::Docx),
    ("docm", Format::Docx),
    ("dotx", Format::Docx),
    ("dotm", Format::Docx),
    ("pptx", Format::Pptx),
    ("pptm", Format::Pptx),
    ("potx", Format::Pptx),
    ("potm", Format::Pptx),
    ("ppsx", Format::Pptx),
    ("ppsm", Format::Pptx),
    ("xlsx", Format::Spreadsheet(Sheet::Xlsx)),
    ("xlsm", Format::Spreadsheet(Sheet::Xlsx)),
    ("xltx", Format::Spreadsheet(Sheet::Xlsx)),
    ("xltm", Format::Spreadsheet(Sheet::Xlsx)),
    ("xlsb", Format::Spreadsheet(Sheet::Xlsb)),
    ("xls", Format::Spreadsheet(Sheet::Xls)),
    ("ods", Format::Spreadsheet(Sheet::Ods)),
    ("vsdx", Format::Vsdx),
    ("vsdm", Format::Vsdx),
    ("vstx", Format::Vsdx),
    ("vstm", Format::Vsdx),
    ("odt", Format::Odt),
    ("ott", Format::Odt),
    ("odp", Format::Odp),
    ("otp", Format::Odp),
    ("epub", Format::Epub),
    ("eml", Format::Eml),
    ("msg", Format::Msg),
    ("doc", Format::Doc),
    ("dot", Format::Doc),
    ("ppt", Format::Ppt),
    ("pps", Format::Ppt),
    ("pot", Format::Ppt),
];

/// The lowercased extension of the last path component, if any.
pub fn extension(file_name: &str) -> Option<String> {
    let base = base_name(file_name);
    let (stem, ext) = base.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

fn base_name(file_name: &str) -> &str {
    file_name.rsplit(['/', '\\']).next().unwrap_or(file_name)
}

/// The reader the file name asks for, or `None` when the component cannot read that type.
pub fn by_name(file_name: &str) -> Option<Format> {
    match extension(file_name) {
        Some(ext) if PLAIN.contains(&ext.as_str()) => Some(Format::Text),
        Some(ext) if MARKUP.contains(&ext.as_str()) => Some(Format::Markup),
        Some(ext) => RICH.iter().find(|(e, _)| *e == ext).map(|(_, f)| *f),
        None => {
            let base = base_name(file_name).to_ascii_lowercase();
            PLAIN_NAMES
                .contains(&base.trim_start_matches('.'))
                .then_some(Format::Text)
        }
    }
}

/// Every extension `by_name` accepts, for the `info` export.
pub fn extensions() -> Vec<String> {
    PLAIN
        .iter()
        .chain(MARKUP)
        .copied()
        .chain(RICH.iter().map(|(e, _)| *e))
        .map(str::to_string)
        .collect()
}

/// Container signatures.
pub const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
pub const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

/// What the bytes say, when they say something the name's reader cannot read.
///
/// `claimed` comes from the name; the result is the reader to use. Containers are only
/// sniffed at the top level here (`Zip`/`Ole`); the container readers tell the kind apart.
pub fn refine(claimed: Format, bytes: &[u8]) -> Format {
    let head = &bytes[..bytes.len().min(1024)];
    if head.starts_with(b"{\\rtf") {
        return Format::Rtf;
    }
    if claimed != Format::Pdf && head.starts_with(b"%PDF-") {
        return Format::Pdf;
    }
    let binary_claim = matches!(
        claimed,
        Format::Doc | Format::Ppt | Format::Vsd | Format::Msg | Format::Spreadsheet(Sheet::Xls)
    );
    if binary_claim && !bytes.starts_with(OLE_MAGIC) {
        if bytes.starts_with(ZIP_MAGIC) {
            // An Office Open XML file under a legacy name (Office does this on "Save as").
            return match claimed {
                Format::Doc => Format::Docx,
                Format::Ppt => Format::Pptx,
                Format::Vsd => Format::Vsdx,
                Format::Spreadsheet(_) => Format::Spreadsheet(Sheet::Xlsx),
                other => other,
            };
        }
        let trimmed = head.trim_ascii_start();
        if trimmed.starts_with(b"<") {
            // Web pages saved as .doc/.xls by Word, Excel and many web applications.
            return Format::Markup;
        }
    }
    claimed
}
