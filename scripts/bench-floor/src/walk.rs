//! The local-folder floor: a plain recursive walk of a directory with `std::fs` (what a
//! `walkdir` loop does), reading the metadata of every entry and, with `--read`, the bytes of
//! every file. No documents are built, nothing is sent anywhere.
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// The directory to walk.
    #[arg(long)]
    root: PathBuf,
    /// Also read every regular file.
    #[arg(long)]
    read: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let (mut entries, mut files, mut bytes) = (0u64, 0u64, 0u64);
    let mut stack = vec![args.root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let meta = std::fs::symlink_metadata(entry.path())?;
            entries += 1;
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                files += 1;
                if args.read {
                    bytes += std::fs::read(entry.path())?.len() as u64;
                }
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({ "entries": entries, "files": files, "bytes_read": bytes, "secs": secs })
    );
    Ok(())
}
