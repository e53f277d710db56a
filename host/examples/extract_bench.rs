//! Extraction throughput through the sandbox against the same code called natively, and the
//! process's peak memory while 100 extractions run at once.
//!
//! Usage: extract_bench EXTRACTOR_WASM NATIVE_BENCH_BIN MIN_MILLIS FILE...
//! (scripts/bench-extraction.sh builds both and passes the corpus.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tributary::extract::{ExtractLimits, Extraction, Extractor, PoolConfig};
use tributary::runtime::Runtime;

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        args.len() >= 4,
        "usage: extract_bench EXTRACTOR_WASM NATIVE_BENCH_BIN MIN_MILLIS FILE..."
    );
    let (wasm, native_bin, min_ms) = (PathBuf::from(&args[0]), &args[1], args[2].parse::<u64>()?);
    let files: Vec<PathBuf> = args[3..].iter().map(PathBuf::from).collect();

    let runtime = Runtime::new(None)?;
    let started = Instant::now();
    let extractor = Extractor::load(
        &runtime,
        &wasm,
        PoolConfig {
            max_instances: 1,
            ..PoolConfig::default()
        },
    )
    .await?;
    println!(
        "compile + first instantiation: {:.2} s",
        started.elapsed().as_secs_f64()
    );

    // Sandbox, one reused instance, one document at a time.
    let limits = ExtractLimits::default();
    // The fixed cost of one call (a 1-byte document): crossing in and out of the sandbox.
    let t = Instant::now();
    let mut calls = 0u32;
    while t.elapsed() < Duration::from_millis(min_ms) {
        extractor
            .extract("x.txt", Bytes::from_static(b"x"), &limits)
            .await;
        calls += 1;
    }
    let fixed = t.elapsed().as_secs_f64() / f64::from(calls);
    println!("fixed cost per sandboxed call: {:.1} us", fixed * 1e6);
    // The cost of copying the bytes in: 1 MiB of NULs, which the guest refuses after
    // scanning 8 KiB (binary content under a text name).
    let zeros = Bytes::from(vec![0u8; 1 << 20]);
    let t = Instant::now();
    let mut calls = 0u32;
    while calls < 3 || t.elapsed() < Duration::from_millis(min_ms) {
        extractor.extract("zeros.txt", zeros.clone(), &limits).await;
        calls += 1;
    }
    let per_byte =
        ((t.elapsed().as_secs_f64() / f64::from(calls)) - fixed).max(0.0) / f64::from(1u32 << 20);
    println!("copy cost into the sandbox: {:.2} ns/byte", per_byte * 1e9);
    let mut sandbox = BTreeMap::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = Bytes::from(std::fs::read(path)?);
        let t = Instant::now();
        let mut reps = 0u32;
        while reps < 3 || t.elapsed() < Duration::from_millis(min_ms) {
            match extractor.extract(&name, bytes.clone(), &limits).await {
                Extraction::Text { .. } => {}
                // Timing a refusal (e.g. binary bytes) measures the call and the copy alone.
                other if reps == 0 => println!("{name}: {other:?}"),
                _ => {}
            }
            reps += 1;
        }
        sandbox.insert(name, (bytes.len(), reps, t.elapsed().as_secs_f64()));
    }
    let fresh = Instant::now();
    let cold = Extractor::load(&runtime, &wasm, PoolConfig::default()).await?;
    let instantiate = fresh.elapsed();
    drop(cold);

    // The same files natively, in a child process of this run.
    let out = std::process::Command::new(native_bin)
        .arg(min_ms.to_string())
        .args(&files)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "native bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut native = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        native.insert(
            f[0].to_string(),
            (
                f[1].parse::<usize>()?,
                f[2].parse::<u32>()?,
                f[3].parse::<f64>()?,
            ),
        );
    }

    println!(
        "\n| file | bytes | sandbox docs/s | sandbox MB/s | native docs/s | native MB/s | sandbox/native time | same, less the call and copy costs |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let (mut total_sandbox, mut total_native, mut total_overhead) = (0.0, 0.0, 0.0);
    for (name, (bytes, reps, secs)) in &sandbox {
        let (_, nreps, nsecs) = native[name];
        let per_doc = secs / f64::from(*reps);
        let nper_doc = nsecs / f64::from(nreps);
        total_sandbox += per_doc;
        total_native += nper_doc;
        println!(
            "| {name} | {bytes} | {:.0} | {:.2} | {:.0} | {:.2} | {:.2}x | {:.2}x |",
            1.0 / per_doc,
            *bytes as f64 / per_doc / 1e6,
            1.0 / nper_doc,
            *bytes as f64 / nper_doc / 1e6,
            per_doc / nper_doc,
            (per_doc - fixed - per_byte * *bytes as f64).max(0.0) / nper_doc
        );
        total_overhead += fixed + per_byte * *bytes as f64;
    }
    println!(
        "| all (one of each) | | | | | | {:.2}x | {:.2}x |",
        total_sandbox / total_native,
        (total_sandbox - total_overhead) / total_native
    );
    println!(
        "\nanother load (no compile cache in this run, so it recompiles): {:.2} s",
        instantiate.as_secs_f64()
    );

    // 100 extractions at once over the default pool.
    let pool = Extractor::load(&runtime, &wasm, PoolConfig::default()).await?;
    let corpus: Vec<(String, Bytes)> = files
        .iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                Bytes::from(std::fs::read(p).unwrap()),
            )
        })
        .collect();
    // Reset the peak-RSS counter so the figure is this phase's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = status_kib("VmRSS:");
    let t = Instant::now();
    let jobs = (0..100).map(|i| {
        let pool = pool.clone();
        let limits = limits.clone();
        let (name, bytes) = corpus[i % corpus.len()].clone();
        tokio::spawn(async move {
            matches!(
                pool.extract(&name, bytes, &limits).await,
                Extraction::Text { .. }
            )
        })
    });
    let ok = futures::future::join_all(jobs)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(true)))
        .count();
    println!(
        "\n100 concurrent extractions ({} instances max): {ok}/100 ok in {:.2} s; RSS before {} MiB, peak {} MiB; pool {:?}",
        PoolConfig::default().max_instances,
        t.elapsed().as_secs_f64(),
        rss_before / 1024,
        status_kib("VmHWM:") / 1024,
        pool.stats()
    );
    Ok(())
}
