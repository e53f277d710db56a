//! Hostile and broken inputs end in a failure value or bounded text, natively (the sandbox
//! adds the memory, CPU and time caps for what slips through: see host/tests/extractor_sandbox.rs).
#![allow(clippy::unwrap_used, clippy::panic)]

use content_extractor::{Failure, Limits, extract};
use std::path::Path;
use std::time::{Duration, Instant};

fn hostile(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/extraction/hostile")
            .join(name),
    )
    .unwrap()
}

/// A PDF of `pages` pages sharing one font and one content stream.
pub fn pdf_with_pages(pages: usize) -> Vec<u8> {
    let mut objects: Vec<String> = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".into(),
        String::new(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into(),
    ];
    let content = "BT /F1 12 Tf 72 720 Td (Moraine survey page text) Tj ET";
    objects.push(format!(
        "<< /Length {} >>\nstream\n{content}\nendstream",
        content.len()
    ));
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 5 + i)).collect();
    objects[1] = format!(
        "<< /Type /Pages /Kids [{}] /Count {pages} >>",
        kids.join(" ")
    );
    for _ in 0..pages {
        objects.push("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>".into());
    }
    assemble(&objects)
}

/// A PDF whose only page holds an array nested `depth` levels deep.
pub fn nested_pdf(depth: usize) -> Vec<u8> {
    let nested = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    let objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Deep {nested} >>"),
    ];
    assemble(&objects)
}

fn assemble(objects: &[String]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = vec![];
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[test]
fn billion_laughs_are_not_expanded() {
    for name in [
        "billion-laughs.xml",
        "billion-laughs.svg",
        "billion-laughs.docx",
    ] {
        let e = extract(name, &hostile(name), &Limits::default()).unwrap();
        assert!(
            e.text.contains("survivors") && e.text.len() < 100,
            "{name}: {:?}",
            e.text
        );
    }
}

#[test]
fn zip_bombs_hit_the_inflate_budget() {
    let limits = Limits {
        max_inflated_bytes: 64 << 20,
        ..Limits::default()
    };
    for name in ["zip-bomb.docx", "zip-bomb.xlsx"] {
        let started = Instant::now();
        let result = extract(name, &hostile(name), &limits);
        assert!(
            matches!(result, Err(Failure::Limit(_))),
            "{name}: {result:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{name} took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn truncated_and_garbage_files_are_corrupt_not_panics() {
    for name in [
        "truncated.docx",
        "truncated.doc",
        "garbage.pdf",
        "random.xlsx",
    ] {
        let result = extract(name, &hostile(name), &Limits::default());
        assert!(
            matches!(result, Err(Failure::Corrupt(_))),
            "{name}: {result:?}"
        );
    }
    // A PDF cut short still yields the text of the pages before the cut, or says it is corrupt.
    match extract(
        "truncated.pdf",
        &hostile("truncated.pdf"),
        &Limits::default(),
    ) {
        Ok(e) => assert!(!e.text.contains("endobj"), "{:?}", e.text),
        Err(f) => assert!(matches!(f, Failure::Corrupt(_)), "{f:?}"),
    }
    let result = extract("binary.txt", &hostile("binary.txt"), &Limits::default());
    assert!(matches!(result, Err(Failure::Unsupported(_))), "{result:?}");
}

#[test]
fn ten_thousand_pages_stop_at_the_character_cap() {
    let pdf = pdf_with_pages(10_000);
    let limits = Limits {
        max_chars: 20_000,
        ..Limits::default()
    };
    let started = Instant::now();
    let e = extract("big.pdf", &pdf, &limits).unwrap();
    assert!(e.truncated);
    // The cut may land on a space, which the end trim drops.
    assert!((19_999..=20_000).contains(&e.text.chars().count()));
    assert_eq!(e.meta.pages, Some(10_000));
    assert!(e.text.starts_with("Moraine survey page text"));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    // Without a tight cap every page is read, in bounded time.
    let started = Instant::now();
    let e = extract("big.pdf", &pdf, &Limits::default()).unwrap();
    assert!(!e.truncated && e.text.matches("Moraine").count() == 10_000);
    println!(
        "10,000 pages: {} chars in {:?}",
        e.text.len(),
        started.elapsed()
    );
}

#[test]
fn deeply_nested_pdf_objects_are_refused() {
    let result = extract("deep.pdf", &nested_pdf(100_000), &Limits::default());
    assert!(
        matches!(&result, Err(Failure::Corrupt(_)))
            || matches!(&result, Ok(e) if e.text.is_empty()),
        "{result:?}"
    );
}
