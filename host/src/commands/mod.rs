//! The subcommands, one file each, and what they share: logging, loading a tenant, opening
//! the sink and the checkpoint store, and how outcomes become exit codes.
mod auth;
mod check;
mod fields;
mod reset;
mod sync;
mod watch;

pub use auth::{pkce_challenge, pkce_verifier};

use crate::cli::{Cli, Command, ConfigArg};
use crate::config::{ElasticsearchSection, TenantConfig};
use crate::es::EsSettings;
use crate::runtime::Runtime;
use crate::sink::bulk::BulkSettings;
use crate::sink::dry_run::DryRunSink;
use crate::sink::elasticsearch::EsSink;
use crate::sink::{Sink, WriteAck};
use crate::state::{EsStateStore, MemoryStateStore, StateStore};
use crate::tenant::{PrepareError, Secrets, Tenant};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;

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
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("warn,tributary={default}"))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
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

fn es_settings(section: &ElasticsearchSection) -> EsSettings {
    EsSettings {
        url: section.url.clone(),
        api_key: section.api_key.as_ref().map(|s| s.expose().to_string()),
        username: section.username.clone(),
        password: section.password.as_ref().map(|s| s.expose().to_string()),
        ca_cert: section.ca_cert.clone(),
        insecure: section.insecure,
        retry_budget_secs: section.retry_budget_secs,
    }
}

/// The checkpoint store of a tenant's `[elasticsearch]` section.
pub(crate) fn state_store(config: &TenantConfig) -> Result<StateStore, u8> {
    let Some(section) = &config.elasticsearch else {
        return Err(fail(
            EXIT_CONFIG,
            &format!(
                "{}: [elasticsearch] is missing (url and index)",
                config.file.display()
            ),
        ));
    };
    EsStateStore::new(&es_settings(section), &section.state_index)
        .map(StateStore::Elasticsearch)
        .map_err(|e| {
            fail(
                EXIT_FAILED,
                &format!("checkpoint store {}: {e:#}", section.state_index),
            )
        })
}

/// The sink, its ack channel and the checkpoint store for one run.
pub(crate) async fn open_outputs(
    tenant: &Tenant,
    dry_run: Option<&PathBuf>,
) -> Result<(Sink, mpsc::UnboundedReceiver<WriteAck>, Arc<StateStore>), u8> {
    let (acks_tx, acks_rx) = mpsc::unbounded_channel();
    if let Some(target) = dry_run {
        let out: Box<dyn std::io::Write + Send> = if target.as_os_str() == "-" {
            Box::new(std::io::BufWriter::new(std::io::stdout()))
        } else {
            match std::fs::File::create(target) {
                Ok(f) => Box::new(std::io::BufWriter::new(f)),
                Err(e) => {
                    return Err(fail(
                        EXIT_FAILED,
                        &format!("cannot write {}: {e}", target.display()),
                    ));
                }
            }
        };
        let sink = Sink::DryRun(DryRunSink::new(out, acks_tx));
        return Ok((
            sink,
            acks_rx,
            Arc::new(StateStore::Memory(MemoryStateStore::default())),
        ));
    }
    let Some(section) = &tenant.config.elasticsearch else {
        return Err(fail(
            EXIT_CONFIG,
            &format!(
                "{}: [elasticsearch] is missing (url and index); or use --dry-run to write NDJSON instead",
                tenant.config.file.display()
            ),
        ));
    };
    let settings = es_settings(section);
    let bulk = BulkSettings {
        retry_budget: settings.retry_budget(),
        ..BulkSettings::default()
    };
    let sink = match EsSink::connect(&settings, &section.index, bulk, acks_tx).await {
        Ok(s) => Sink::Elasticsearch(s),
        Err(e) => {
            return Err(fail(
                EXIT_FAILED,
                &format!("Elasticsearch at {}: {e:#}", section.url),
            ));
        }
    };
    let store = state_store(&tenant.config)?;
    Ok((sink, acks_rx, Arc::new(store)))
}
