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
    Check(CheckArgs),
    /// Sync, then keep applying changes as they happen (long poll) until Ctrl-C.
    Watch(WatchArgs),
    /// Get a refresh token through the browser (OAuth2 code flow with PKCE) and store it.
    Auth(AuthArgs),
    /// List the configuration fields a connector understands.
    Fields(FieldsArgs),
    /// Forget the tenant's checkpoint (also replaces one that cannot be read): the next sync
    /// enumerates everything again.
    Reset(ConfigArg),
    /// Run many tenants on their schedules, sandboxed, sharing them with other `serve`
    /// processes through Elasticsearch.
    Serve(ServeArgs),
    /// Per tenant: the last run, its result and counts, the next run, and who runs it now.
    Status(TargetArgs),
    /// Stop a tenant's running sync (within seconds; its checkpoint stays).
    Cancel(CancelArgs),
}

/// Which tenants, and where their runners coordinate.
#[derive(Debug, Args, Clone, Default)]
pub struct TargetArgs {
    /// A directory of tenant files, or one file of [[tenant]] tables.
    #[arg(long)]
    pub tenants: Option<PathBuf>,
    /// serve.toml: tenants, listen address, coordination index, limits.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// The cluster that holds the coordination index (default: the one all tenants index into).
    #[arg(long, env = "TRIBUTARY_COORDINATION_URL")]
    pub coordination_url: Option<String>,
    /// The coordination index (default tributary-coordination).
    #[arg(long)]
    pub coordination_index: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Serve /metrics (Prometheus) and /healthz here, e.g. 127.0.0.1:9464.
    #[arg(long)]
    pub listen: Option<String>,
    /// A runner that stops renewing its leases loses its tenants after this many seconds.
    #[arg(long)]
    pub lease_secs: Option<u64>,
    /// Syncs running at once in this process.
    #[arg(long)]
    pub concurrent_runs: Option<usize>,
    /// This process's name in claims and status (default: host name and pid).
    #[arg(long)]
    pub runner_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The tenant whose run to stop.
    pub tenant: String,
    #[command(flatten)]
    pub target: TargetArgs,
    /// How long to wait for the run to stop, in seconds.
    #[arg(long, default_value_t = 10)]
    pub wait_secs: u64,
}

#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The tenant's TOML config file.
    #[arg(long, short)]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Also list the source (metadata only, nothing indexed) and say how many documents each
    /// sync rule selects.
    #[arg(long)]
    pub count: bool,
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
    /// Long-poll timeout in seconds (the source clamps it to its own bounds).
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
    #[arg(long, allow_hyphen_values = true)]
    pub code: Option<String>,
}

#[derive(Debug, Args)]
pub struct FieldsArgs {
    /// A bundled connector name or a path to a component (.wasm).
    #[arg(value_name = "CONNECTOR", required_unless_present = "connector_flag")]
    pub connector: Option<String>,
    /// The same, as a flag: `--connector PATH`.
    #[arg(
        long = "connector",
        value_name = "CONNECTOR",
        conflicts_with = "connector"
    )]
    pub connector_flag: Option<String>,
}

impl FieldsArgs {
    /// The connector, given either way.
    pub fn connector(&self) -> &str {
        self.connector
            .as_deref()
            .or(self.connector_flag.as_deref())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_authorization_code_may_start_with_a_hyphen() {
        // Codes are URL-safe base64: `-` is as likely a first character as any other.
        let cli = Cli::try_parse_from([
            "tributary",
            "auth",
            "--config",
            "t.toml",
            "--code",
            "-m_dGVj",
        ]);
        match cli.map(|c| c.command) {
            Ok(Command::Auth(args)) => assert_eq!(args.code.as_deref(), Some("-m_dGVj")),
            other => panic!("not parsed as auth with its code: {other:?}"),
        }
    }
}
