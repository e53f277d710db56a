//! Spreadsheets through calamine: xlsx/xlsm (OOXML), xlsb (binary OOXML), xls (BIFF8), ods.
use crate::archive::Archive;
use crate::failure::Failure;
use crate::format::Sheet;
use crate::meta::Meta;
use crate::sink::{Limits, TextSink};
use calamine::{Data, Ods, Range, Reader, Xls, Xlsb, Xlsx};
use std::io::Cursor;

pub fn spreadsheet(
    kind: Sheet,
    bytes: &[u8],
    limits: &Limits,
    sink: &mut TextSink,
) -> Result<Meta, Failure> {
    let format = match kind {
        Sheet::Xlsx => "Excel (OOXML)",
        Sheet::Xlsb => "Excel binary (xlsb)",
        Sheet::Xls => "Excel 97-2003",
        Sheet::Ods => "OpenDocument spreadsheet",
    };
    let mut meta = match kind {
        Sheet::Xls => crate::ole::summary_of(bytes).unwrap_or_default(),
        Sheet::Ods => {
            // calamine opens the zip itself: refuse bombs and encrypted packages first.
            Archive::check_declared_sizes(bytes, format, limits.max_inflated_bytes)?;
            let mut zip = crate::odf::open(bytes, format, limits)?;
            crate::odf::meta(&mut zip)?
        }
        Sheet::Xlsx | Sheet::Xlsb => {
            Archive::check_declared_sizes(bytes, format, limits.max_inflated_bytes)?;
            let mut zip = Archive::open(bytes, format, limits.max_inflated_bytes)?;
            crate::ooxml::core_properties(&mut zip)?
        }
    };
    meta.pages = None;
    let cursor = Cursor::new(bytes);
    let sheets = match kind {
        Sheet::Xlsx => read_all(Xlsx::new(cursor), format, sink),
        Sheet::Xlsb => read_all(Xlsb::new(cursor), format, sink),
        Sheet::Xls => read_all(Xls::new(cursor), format, sink),
        Sheet::Ods => read_all(Ods::new(cursor), format, sink),
    }?;
    meta.sheets = Some(sheets);
    Ok(meta)
}

fn read_all<'b, R>(
    opened: Result<R, R::Error>,
    format: &str,
    sink: &mut TextSink,
) -> Result<u32, Failure>
where
    R: Reader<Cursor<&'b [u8]>>,
    R::Error: std::fmt::Display,
{
    let mut book = opened.map_err(|e| classify(format, &e.to_string()))?;
    let names = book.sheet_names();
    for name in &names {
        if sink.is_full() {
            break;
        }
        sink.push_str(name);
        sink.line_break();
        // One unreadable sheet (a chart sheet, an unknown record) does not spoil the others.
        if let Ok(range) = book.worksheet_range(name) {
            push_range(&range, sink);
        }
        sink.line_break();
    }
    Ok(names.len() as u32)
}

fn classify(format: &str, message: &str) -> Failure {
    if message.to_ascii_lowercase().contains("password") || message.contains("ncrypt") {
        Failure::Encrypted(format!("the {format} workbook is password-protected"))
    } else {
        Failure::corrupt(format, message)
    }
}

/// Cells separated by tabs, rows by line breaks; empty cells and error values (`#DIV/0!`)
/// carry no words.
fn push_range(range: &Range<Data>, sink: &mut TextSink) {
    for row in range.rows() {
        if sink.is_full() {
            return;
        }
        let mut any = false;
        for cell in row {
            match cell {
                Data::Empty | Data::Error(_) => continue,
                Data::String(s) => sink.push_str(s),
                other => sink.push_str(&other.to_string()),
            }
            any = true;
            sink.space();
        }
        if any {
            sink.line_break();
        }
    }
}
