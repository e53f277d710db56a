//! The extractor's code called natively, for comparison with the sandbox
//! (`host/examples/extract_bench.rs` runs this and prints both).
//!
//! Usage: bench_native MIN_MILLIS FILE...   prints `name<TAB>bytes<TAB>reps<TAB>seconds` lines.
use content_extractor::{Limits, extract};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let min: u64 = args
        .next()
        .ok_or("usage: bench_native MIN_MILLIS FILE...")?
        .parse()?;
    let min = Duration::from_millis(min);
    for path in args {
        let bytes = std::fs::read(&path)?;
        let name = std::path::Path::new(&path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let limits = Limits::default();
        let started = Instant::now();
        let mut reps = 0u32;
        while reps < 3 || started.elapsed() < min {
            // A refusal (e.g. binary bytes) is timed too: it measures the work before it.
            if let Err(f) = extract(&name, &bytes, &limits)
                && reps == 0
            {
                eprintln!("{name}: {f}");
            }
            reps += 1;
        }
        println!(
            "{name}\t{}\t{reps}\t{}",
            bytes.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
