//! Command line: `sync`, `check`, `watch`, `auth`, `fields`, `reset`.
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "tributary",
    version,
    about = "Index a source into Elasticsearch through a sandboxed WebAssembly connector",
    after_help = "Exit codes: 0 ok, 1 the run failed or completed with errors, 2 bad configuration, 3 credentials rejected, 4 another runner holds the tenant."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Where compiled components are cached (default: $XDG_CACHE_HOME/tributary or ~/.cache/tributary).
    #[arg(long, global = true, env = "TRIBUTARY_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// More log output (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sync once: incremental when a checkpoint exists, full otherwise.
    Sync(SyncArgs),
    /// Check the config, the credentials and the configured path; index nothing.
    Check(ConfigArg),
    /// Sync, then keep applying changes as they happen (long poll) until Ctrl-C.
    Watch(WatchArgs),
    /// Get a refresh token through the browser (OAuth2 code flow with PKCE) and store it.
    Auth(AuthArgs),
    /// List the configuration fields a connector understands.
    Fields(FieldsArgs),
    /// Forget the tenant's checkpoint (also replaces one that cannot be read): the next sync
    /// enumerates everything again.
    Reset(ConfigArg),
}

#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The tenant's TOML config file.
    #[arg(long, short)]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Ignore the stored checkpoint: enumerate everything, then remove what is gone.
    #[arg(long)]
    pub full: bool,
    /// Write NDJSON documents to this file ("-" for stdout) instead of Elasticsearch.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub dry_run: Option<PathBuf>,
    /// Also write the sync report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// No progress bar or progress lines.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Long-poll timeout in seconds (the source clamps it to its own bounds, 30..480 for Dropbox).
    #[arg(long, default_value_t = 30)]
    pub poll_secs: u32,
    /// Stop after this many change rounds (for tests and scripts); 0 = forever.
    #[arg(long, default_value_t = 0)]
    pub rounds: u64,
}

#[derive(Debug, Args)]
pub struct AuthArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The authorization code from the URL an earlier `tributary auth` printed (that run keeps
    /// its PKCE verifier for this). Without it, a new URL is printed and the code read from stdin.
    #[arg(long)]
    pub code: Option<String>,
}

#[derive(Debug, Args)]
pub struct FieldsArgs {
    /// A bundled connector name or a path to a component (.wasm).
    pub connector: String,
}
