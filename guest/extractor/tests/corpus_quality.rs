//! Token recall and precision of every corpus sample against its known text.
//!
//! Tokens are lowercase runs of letters and digits. Recall: the share of the known text's
//! distinct tokens found in the extraction. Precision: the share of the extraction's tokens
//! (every occurrence) that belong to the known text, so markup, binary noise or base64 that
//! leak into the text pull it down, while a header repeated on every PDF page does not.
#![allow(clippy::unwrap_used, clippy::panic)]

use content_extractor::{Limits, extract};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

const BAR: f64 = 0.95;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/extraction")
}

fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn expected_for(file: &Path) -> PathBuf {
    let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
    let ext = file.extension().unwrap().to_string_lossy().into_owned();
    let name = match (stem.as_str(), ext.as_str()) {
        // CSV and TSV hold one sheet.
        ("spreadsheet", "csv" | "tsv") => "spreadsheet-first-sheet".to_string(),
        // LibreOffice's web exports have no page headers and footers.
        ("document", "html" | "epub") => "document-without-page-furniture".to_string(),
        _ => stem,
    };
    fixtures().join("expected").join(format!("{name}.txt"))
}

pub struct Score {
    pub recall: f64,
    pub precision: f64,
    pub missing: Vec<String>,
    pub extra: Vec<String>,
}

fn score(known: &str, extracted: &str) -> Score {
    let known: HashSet<String> = tokens(known).into_iter().collect();
    let got = tokens(extracted);
    let got_set: HashSet<&String> = got.iter().collect();
    let found = known.iter().filter(|t| got_set.contains(t)).count();
    let relevant = got.iter().filter(|t| known.contains(*t)).count();
    let mut missing: Vec<String> = known
        .iter()
        .filter(|t| !got_set.contains(t))
        .cloned()
        .collect();
    missing.sort();
    let mut extra: Vec<String> = got
        .iter()
        .filter(|t| !known.contains(*t))
        .cloned()
        .collect();
    extra.sort();
    extra.dedup();
    Score {
        recall: found as f64 / known.len().max(1) as f64,
        precision: if got.is_empty() {
            0.0
        } else {
            relevant as f64 / got.len() as f64
        },
        missing,
        extra,
    }
}

#[test]
fn every_corpus_format_meets_the_recall_and_precision_bar() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join("corpus"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 30,
        "the corpus is missing: run tests/fixtures/extraction/generate.py"
    );
    let mut failures = vec![];
    println!(
        "| file | format | recall | precision | chars | title | author | pages/sheets/slides |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(file).unwrap();
        let known = std::fs::read_to_string(expected_for(file)).unwrap();
        let extracted = match extract(&name, &bytes, &Limits::default()) {
            Ok(e) => e,
            Err(f) => {
                failures.push(format!("{name}: {f}"));
                continue;
            }
        };
        let s = score(&known, &extracted.text);
        let m = &extracted.meta;
        println!(
            "| {name} | {} | {:.3} | {:.3} | {} | {} | {} | {}/{}/{} |",
            extracted.format,
            s.recall,
            s.precision,
            extracted.text.chars().count(),
            m.title.as_deref().unwrap_or("-"),
            m.author.as_deref().unwrap_or("-"),
            m.pages.map_or("-".into(), |n| n.to_string()),
            m.sheets.map_or("-".into(), |n| n.to_string()),
            m.slides.map_or("-".into(), |n| n.to_string()),
        );
        if s.recall < BAR || s.precision < BAR {
            failures.push(format!(
                "{name}: recall {:.3} precision {:.3}; missing {:?}; extra {:?}",
                s.recall, s.precision, s.missing, s.extra
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "below the bar:\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_scoring_can_fail() {
    let s = score("alpha beta gamma", "alpha <w:t> beta");
    assert!((s.recall - 2.0 / 3.0).abs() < 1e-9);
    assert!((s.precision - 0.5).abs() < 1e-9);
}
