//! The extractor component under the host's sandbox: hostile documents become skip reasons
//! within the memory, CPU and wall-clock limits, a trap costs one instance (not the pool),
//! and concurrent extractions share a bounded pool.
//!
//! Needs the component: `make components` (or `cargo build --target wasm32-wasip2 -p
//! content-extractor --release` and copy `content_extractor.wasm` to
//! `<target>/components/extractor.wasm`).
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use bytes::Bytes;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tributary::extract::{ExtractLimits, Extraction, Extractor, PoolConfig};
use tributary::runtime::Runtime;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/extraction")
}

fn component() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("TRIBUTARY_COMPONENT_DIR")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    let exe = std::env::current_exe().unwrap();
    dirs.extend(
        exe.ancestors()
            .skip(1)
            .take(3)
            .map(|d| d.join("components")),
    );
    dirs.iter()
        .map(|d| d.join("extractor.wasm"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no extractor.wasm in {dirs:?}: run `make components`"))
}

async fn extractor(config: PoolConfig) -> Extractor {
    let cache = std::env::current_exe()
        .unwrap()
        .ancestors()
        .nth(3)
        .unwrap()
        .join("tributary-test-cache");
    let runtime = Runtime::new(Some(&cache)).unwrap();
    Extractor::load(&runtime, &component(), config)
        .await
        .unwrap()
}

fn read(dir: &str, name: &str) -> Bytes {
    Bytes::from(std::fs::read(fixtures().join(dir).join(name)).unwrap())
}

fn skipped(e: Extraction) -> String {
    match e {
        Extraction::Skipped(reason) => reason,
        other => panic!("expected a skip, got {other:?}"),
    }
}

fn text(e: Extraction) -> String {
    match e {
        Extraction::Text { text, .. } => text,
        other => panic!("expected text, got {other:?}"),
    }
}

/// A PDF of `pages` pages sharing one font and one content stream; `media_box: false` leaves
/// it out, which makes pdf-extract panic (`expect("MediaBox")`).
fn pdf(pages: usize, media_box: bool) -> Bytes {
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
    let media = if media_box {
        "/MediaBox [0 0 612 792]"
    } else {
        ""
    };
    for _ in 0..pages {
        objects.push(format!("<< /Type /Page /Parent 2 0 R {media} /Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"));
    }
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
    Bytes::from(out)
}

/// A one-page PDF whose page is its own /Parent and has no /Resources: pdf-extract looks the
/// resources up the parent chain forever (its tail recursion compiles to a loop). Natively
/// this hangs the thread; in the sandbox the CPU budget ends it.
fn self_parent_pdf() -> Bytes {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 3 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        "<< /Length 0 >>\nstream\n\nendstream",
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = vec![];
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(b"xref\n0 5\n0000000000 65535 f \n");
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
    );
    Bytes::from(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parser_that_loops_forever_is_stopped_by_the_cpu_budget() {
    let ex = extractor(PoolConfig {
        max_instances: 1,
        ..PoolConfig::default()
    })
    .await;
    let limits = ExtractLimits {
        cpu_time: Duration::from_millis(500),
        ..ExtractLimits::default()
    };
    let started = Instant::now();
    let reason = skipped(ex.extract("loop.pdf", self_parent_pdf(), &limits).await);
    assert_eq!(reason, "CPU budget exhausted (0.5 s per extraction)");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        text(
            ex.extract("a.txt", Bytes::from_static(b"still here"), &limits)
                .await
        ) == "still here"
    );
    assert_eq!(ex.stats().discarded, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_sample_extracts_in_the_sandbox() {
    let ex = extractor(PoolConfig::default()).await;
    let limits = ExtractLimits::default();
    let mut names: Vec<String> = std::fs::read_dir(fixtures().join("corpus"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 30);
    for name in &names {
        assert!(ex.supports(name), "{name}");
        match ex.extract(name, read("corpus", name), &limits).await {
            Extraction::Text { text, metadata, .. } => {
                assert!(text.len() > 50, "{name}: {text:?}");
                assert!(!metadata.format.is_empty());
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    let e = ex
        .extract("document.docx", read("corpus", "document.docx"), &limits)
        .await;
    let Extraction::Text {
        text,
        metadata,
        truncated,
    } = e
    else {
        panic!("{e:?}")
    };
    assert!(text.contains("Glacier survey in Säntis") && text.contains("Dvořák"));
    assert_eq!(
        metadata.title.as_deref(),
        Some("Tributary extraction corpus")
    );
    assert!(!truncated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_on_text_apply_in_the_sandbox() {
    let ex = extractor(PoolConfig::default()).await;
    let limits = ExtractLimits {
        max_chars: 40,
        ..ExtractLimits::default()
    };
    match ex
        .extract("document.pdf", read("corpus", "document.pdf"), &limits)
        .await
    {
        Extraction::Text {
            text,
            truncated,
            metadata,
        } => {
            assert!(truncated && text.chars().count() <= 40, "{text:?}");
            assert_eq!(metadata.pages, Some(3));
        }
        other => panic!("{other:?}"),
    }
    let raw = ExtractLimits {
        normalize_whitespace: false,
        ..ExtractLimits::default()
    };
    let t = text(
        ex.extract("document.odt", read("corpus", "document.odt"), &raw)
            .await,
    );
    assert!(t.contains('\n'), "{t:?}");
    let t = text(
        ex.extract(
            "document.odt",
            read("corpus", "document.odt"),
            &ExtractLimits::default(),
        )
        .await,
    );
    assert!(!t.contains('\n'), "{t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_samples_become_skip_reasons_within_limits() {
    let ex = extractor(PoolConfig::default()).await;
    let limits = ExtractLimits::default();
    let started = Instant::now();

    // Zip bomb: stopped by the inflate budget inside the guest...
    let reason = skipped(
        ex.extract("bomb.docx", read("hostile", "zip-bomb.docx"), &limits)
            .await,
    );
    assert!(
        reason.starts_with("limit (") && reason.contains("zip bomb"),
        "{reason}"
    );
    // ...or, with that budget lifted, by the memory cap around it.
    let loose = ExtractLimits {
        max_inflated_bytes: 1 << 30,
        memory_bytes: 64 << 20,
        ..ExtractLimits::default()
    };
    let reason = skipped(
        ex.extract("bomb.docx", read("hostile", "zip-bomb.docx"), &loose)
            .await,
    );
    assert!(reason.starts_with("memory limit (64 MiB"), "{reason}");

    // Billion laughs: entities are never expanded, and the reference to
    // one does not leak into the text either.
    let t = text(
        ex.extract("laughs.xml", read("hostile", "billion-laughs.xml"), &limits)
            .await,
    );
    assert_eq!(t, "survivors");

    // A 10,000-page PDF: the CPU budget, or the wall clock, ends it.
    let big = pdf(10_000, true);
    let cpu = ExtractLimits {
        cpu_time: Duration::from_millis(100),
        ..ExtractLimits::default()
    };
    let reason = skipped(ex.extract("big.pdf", big.clone(), &cpu).await);
    assert!(reason.starts_with("CPU budget exhausted"), "{reason}");
    let wall = ExtractLimits {
        timeout: Duration::from_millis(100),
        ..ExtractLimits::default()
    };
    let reason = skipped(ex.extract("big.pdf", big.clone(), &wall).await);
    assert!(reason.starts_with("timed out after 0.1 s"), "{reason}");

    // Objects nested 100,000 deep: the PDF parser's depth limit refuses them.
    let deep = format!(
        "%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Deep {}1{} >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let reason = skipped(ex.extract("deep.pdf", Bytes::from(deep), &limits).await);
    assert!(reason.starts_with("corrupt ("), "{reason}");

    // A panic inside a parser is one document's problem.
    let reason = skipped(ex.extract("panic.pdf", pdf(1, false), &limits).await);
    assert!(
        reason.starts_with("extractor panicked") && reason.contains("MediaBox"),
        "{reason}"
    );

    // Corrupt and truncated files say so.
    for name in [
        "truncated.docx",
        "truncated.doc",
        "garbage.pdf",
        "random.xlsx",
    ] {
        let reason = skipped(ex.extract(name, read("hostile", name), &limits).await);
        assert!(reason.starts_with("corrupt ("), "{name}: {reason}");
    }
    let reason = skipped(
        ex.extract("binary.txt", read("hostile", "binary.txt"), &limits)
            .await,
    );
    assert!(reason.contains("binary content"), "{reason}");

    assert!(
        started.elapsed() < Duration::from_secs(120),
        "took {:?}",
        started.elapsed()
    );
    let stats = ex.stats();
    // Thrown away: after the memory, CPU, timeout and panic traps, and the instance that
    // inflated 64 MiB of the first bomb (its memory grew past the recycling threshold).
    assert_eq!(stats.discarded, 5, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_survives_a_trap_and_reuses_instances() {
    let ex = extractor(PoolConfig {
        max_instances: 1,
        ..PoolConfig::default()
    })
    .await;
    let limits = ExtractLimits::default();
    let doc = read("corpus", "document.rtf");
    assert!(text(ex.extract("a.rtf", doc.clone(), &limits).await).contains("Säntis"));
    assert!(text(ex.extract("a.rtf", doc.clone(), &limits).await).contains("Säntis"));
    let before = ex.stats();
    assert_eq!(
        (before.instantiations, before.discarded),
        (1, 0),
        "{before:?}"
    );
    assert!(before.reuses >= 2, "{before:?}");
    skipped(ex.extract("panic.pdf", pdf(1, false), &limits).await);
    assert!(text(ex.extract("a.rtf", doc.clone(), &limits).await).contains("Säntis"));
    let after = ex.stats();
    assert_eq!((after.instantiations, after.discarded), (2, 1), "{after:?}");
    // Instances are recycled after max_uses documents.
    let ex = extractor(PoolConfig {
        max_instances: 1,
        max_uses: 2,
        ..PoolConfig::default()
    })
    .await;
    for _ in 0..4 {
        text(ex.extract("a.rtf", doc.clone(), &limits).await);
    }
    assert_eq!(ex.stats().instantiations, 2, "{:?}", ex.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_extractions_share_a_bounded_pool() {
    let ex = extractor(PoolConfig {
        max_instances: 3,
        ..PoolConfig::default()
    })
    .await;
    let limits = ExtractLimits::default();
    let names = [
        "document.docx",
        "document.pdf",
        "spreadsheet.xlsx",
        "presentation.pptx",
        "message.eml",
    ];
    let jobs = (0..100).map(|i| {
        let ex = ex.clone();
        let limits = limits.clone();
        let name = names[i % names.len()];
        let bytes = read("corpus", name);
        tokio::spawn(async move { (name, ex.extract(name, bytes, &limits).await) })
    });
    for job in futures::future::join_all(jobs).await {
        let (name, e) = job.unwrap();
        assert!(matches!(e, Extraction::Text { .. }), "{name}: {e:?}");
    }
    let stats = ex.stats();
    assert!(stats.instantiations <= 3, "{stats:?}");
    assert_eq!(stats.reuses + stats.instantiations, 101, "{stats:?}");
    // Another tenant gets its own pool over the same compiled component.
    let other = ex.for_tenant();
    assert_eq!(other.stats(), Default::default());
    text(
        other
            .extract("a.txt", Bytes::from_static(b"hello"), &limits)
            .await,
    );
    assert_eq!(other.stats().instantiations, 1);
    assert!(ex.stats().instantiations <= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_names_are_skipped_without_a_call() {
    let ex = extractor(PoolConfig::default()).await;
    assert!(!ex.supports("setup.exe") && !ex.supports(".bashrc") && !ex.supports("noext"));
    assert!(ex.supports("README") && ex.supports("a/b.PDF") && ex.supports("x.xlsb"));
    let before = ex.stats();
    let reason = skipped(
        ex.extract(
            "setup.exe",
            Bytes::from_static(b"MZ"),
            &ExtractLimits::default(),
        )
        .await,
    );
    assert_eq!(reason, "unsupported type .exe");
    assert_eq!(ex.stats(), before);
}
