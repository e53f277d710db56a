//! The subcommands, one file each, and what they share: logging, loading a tenant, opening
//! the sink and the checkpoint store, and how outcomes become exit codes.
mod auth;
mod cancel;
mod check;
mod fields;
mod reset;
mod serve;
mod status;
mod sync;
mod watch;

pub use auth::{pkce_challenge, pkce_verifier};

use crate::cli::{Cli, Command, ConfigArg};
use crate::config::TenantConfig;
use crate::outputs::OutputError;
use crate::runtime::Runtime;
use crate::state::StateStore;
use crate::tenant::{PrepareError, Secrets, Tenant};
use std::path::PathBuf;

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_CONFIG: u8 = 2;
pub const EXIT_CREDENTIALS: u8 = 3;
pub const EXIT_BUSY: u8 = 4;

pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("warn,tributary={default}")))
        // The signer traces its parameters (the access key id among them): never shown.
        .add_directive("aws_sigv4=warn".parse().unwrap_or_default());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

pub async fn run(cli: Cli) -> u8 {
    let cache_dir = cli.cache_dir.clone().or_else(default_cache_dir);
    let runtime = match Runtime::new(cache_dir.as_deref()) {
        Ok(r) => r,
        Err(e) => return fail(EXIT_FAILED, &format!("{e:#}")),
    };
    match cli.command {
        Command::Sync(args) => sync::run(&runtime, args).await,
        Command::Check(args) => check::run(&runtime, args).await,
        Command::Watch(args) => watch::run(&runtime, args).await,
        Command::Auth(args) => auth::run(&runtime, args).await,
        Command::Fields(args) => fields::run(&runtime, args).await,
        Command::Reset(args) => reset::run(args).await,
        Command::Serve(args) => serve::run(&runtime, args).await,
        Command::Status(args) => status::run(args).await,
        Command::Cancel(args) => cancel::run(args).await,
    }
}

fn default_cache_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("tributary"));
    }
    std::env::var("HOME")
        .ok()
        .map(|home| PathBuf::from(home).join(".cache").join("tributary"))
}

fn fail(code: u8, message: &str) -> u8 {
    eprintln!("error: {message}");
    code
}

pub(crate) async fn load_tenant(
    runtime: &Runtime,
    args: &ConfigArg,
    secrets: Secrets,
) -> Result<Tenant, u8> {
    let config =
        TenantConfig::load(&args.config).map_err(|e| fail(EXIT_CONFIG, &format!("{e:#}")))?;
    match Tenant::prepare_with(runtime, config, secrets).await {
        Ok(t) => Ok(t),
        Err(PrepareError::Config(m)) => Err(fail(EXIT_CONFIG, &m)),
        Err(PrepareError::Other(e)) => Err(fail(EXIT_FAILED, &format!("{e:#}"))),
    }
}

/// The checkpoint store of a tenant's config, or the exit code (the error printed).
pub(crate) fn state_store(config: &TenantConfig) -> Result<StateStore, u8> {
    crate::outputs::state_store(config).map_err(output_failure)
}

/// The outputs of one run alone in its process, or the exit code (the error printed).
pub(crate) async fn open_outputs(
    tenant: &Tenant,
    dry_run: Option<&PathBuf>,
) -> Result<crate::outputs::Outputs, u8> {
    crate::outputs::open(tenant, dry_run, None, None)
        .await
        .map_err(output_failure)
}

fn output_failure(e: OutputError) -> u8 {
    match e {
        OutputError::Config(m) => fail(EXIT_CONFIG, &m),
        OutputError::Failed(m) => fail(EXIT_FAILED, &m),
    }
}
