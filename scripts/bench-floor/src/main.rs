//! Benchmark helpers for `scripts/bench.sh`.
//!
//! - `list` / `download`: the I/O floor. A client that only lists (and downloads) the same tree
//!   from the same emulator the runner syncs from, with the same requests: whatever the runner
//!   takes beyond this is its own work.
//! - `bulk-sink`: a stand-in for the search engine whose `_bulk` costs next to nothing (every
//!   item answered 201 without looking at the documents); every other request is passed on to
//!   a real server (osmem-server) so checkpoints, mappings and queries behave as usual.
//! - `elastic`: the Elastic Dropbox connector's documents for the same tree, bulked by a plain
//!   client with the Elastic framework's batch sizes: the comparison for documents/s into a
//!   search server.
mod bulk_sink;
mod elastic;
mod floor;
mod walk;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bench-floor",
    about = "I/O floor, _bulk stand-in and Elastic-shaped documents for scripts/bench.sh"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the whole tree (`files/list_folder` recursive + `continue`) and print what it took.
    List(floor::ListArgs),
    /// List the whole tree and download every downloadable file, `--concurrency` at a time.
    Download(floor::DownloadArgs),
    /// Serve `_bulk` at near-zero cost; pass everything else on to `--upstream`.
    BulkSink(bulk_sink::Args),
    /// Bulk the Elastic connector's documents for the emulator's tree into a search server.
    Elastic(elastic::Args),
    /// Walk a local directory (metadata, and with `--read` every file's bytes): the
    /// local-folder source's floor.
    Walk(walk::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::List(args) => floor::list(args).await,
            Command::Download(args) => floor::download(args).await,
            Command::BulkSink(args) => bulk_sink::serve(args).await,
            Command::Elastic(args) => elastic::run(args).await,
            Command::Walk(args) => walk::run(args),
        }
    })
}
