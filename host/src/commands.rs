//! What each subcommand does, and how outcomes become exit codes.
use crate::cli::{Cli, Command, ConfigArg, FieldsArgs, SyncArgs, WatchArgs};
use crate::config::{ElasticsearchSection, TenantConfig};
use crate::runtime::{GuestError, Runtime};
use crate::sink::bulk::BulkSettings;
use crate::sink::dry_run::DryRunSink;
use crate::sink::elasticsearch::{EsSettings, EsSink};
use crate::sink::{Sink, WriteAck};
use crate::state::{EsStateStore, MemoryStateStore, StateStore};
use crate::sync::{self, SyncError, SyncOptions};
use crate::tenant::{PrepareError, Tenant};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
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
        Command::Sync(args) => sync_command(&runtime, args).await,
        Command::Check(args) => check_command(&runtime, args).await,
        Command::Watch(args) => watch_command(&runtime, args).await,
        Command::Auth(args) => crate::auth::run(&runtime, args).await,
        Command::Fields(args) => fields_command(&runtime, args).await,
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
    need_token: bool,
) -> Result<Tenant, u8> {
    let config =
        TenantConfig::load(&args.config).map_err(|e| fail(EXIT_CONFIG, &format!("{e:#}")))?;
    match Tenant::prepare_with(runtime, config, need_token).await {
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
    }
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
    let sink =
        match EsSink::connect(&settings, &section.index, BulkSettings::default(), acks_tx).await {
            Ok(s) => Sink::Elasticsearch(s),
            Err(e) => {
                return Err(fail(
                    EXIT_FAILED,
                    &format!("Elasticsearch at {}: {e:#}", section.url),
                ));
            }
        };
    let store = match EsStateStore::new(&settings, &section.state_index) {
        Ok(s) => StateStore::Elasticsearch(s),
        Err(e) => {
            return Err(fail(
                EXIT_FAILED,
                &format!("checkpoint store {}: {e:#}", section.state_index),
            ));
        }
    };
    Ok((sink, acks_rx, Arc::new(store)))
}

async fn sync_command(runtime: &Runtime, args: SyncArgs) -> u8 {
    let tenant = match load_tenant(runtime, &args.config, true).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let (sink, acks, store) = match open_outputs(&tenant, args.dry_run.as_ref()).await {
        Ok(o) => o,
        Err(code) => return code,
    };
    let options = SyncOptions {
        full: args.full,
        runner_id: crate::state::local_runner_id(),
        progress: !args.quiet,
        stop: Arc::new(AtomicBool::new(false)),
    };
    let (report, result) = sync::run(
        runtime,
        &tenant,
        sink,
        acks,
        store,
        &options,
        args.dry_run.is_some(),
    )
    .await;
    eprint!("{}", report.render());
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&report).unwrap_or_default();
        if let Err(e) = std::fs::write(path, json) {
            eprintln!(
                "warning: could not write the report to {}: {e}",
                path.display()
            );
        }
    }
    exit_code(result, &report)
}

fn exit_code(result: Result<(), SyncError>, report: &crate::report::SyncReport) -> u8 {
    match result {
        Ok(()) if report.outcome == "ok" => EXIT_OK,
        Ok(()) => EXIT_FAILED,
        Err(SyncError::Config(m)) => fail(EXIT_CONFIG, &m),
        Err(SyncError::Credentials(m)) => fail(EXIT_CREDENTIALS, &m),
        Err(SyncError::Busy(m)) => fail(EXIT_BUSY, &m),
        Err(SyncError::Failed(e)) => fail(
            EXIT_FAILED,
            &format!(
                "{e:#}\nNothing was deleted because of this failure; the next run resumes from the last committed checkpoint."
            ),
        ),
    }
}

async fn check_command(runtime: &Runtime, args: ConfigArg) -> u8 {
    let tenant = match load_tenant(runtime, &args, true).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    let mut connector = match tenant.instantiate(runtime).await {
        Ok(c) => c,
        Err(e) => return fail(EXIT_FAILED, &format!("{e:#}")),
    };
    if let Some(tokens) = tenant.http.tokens()
        && let Err(e) = tokens.token().await
    {
        return fail(EXIT_CREDENTIALS, &e.to_string());
    }
    match connector.check(&tenant.source.public_json()).await {
        Ok(Ok(summary)) => {
            println!("ok: {summary}");
            if let Some(es) = &tenant.config.elasticsearch {
                println!(
                    "    documents go to {} index {:?} (not contacted by check)",
                    es.url, es.index
                );
            }
            EXIT_OK
        }
        Ok(Err(GuestError::InvalidConfig(m))) => fail(
            EXIT_CONFIG,
            &format!("{}: source.{m}", tenant.config.file.display()),
        ),
        Ok(Err(GuestError::Unauthorized(m))) => fail(EXIT_CREDENTIALS, &m),
        Ok(Err(other)) => fail(EXIT_FAILED, &other.to_string()),
        Err(e) => fail(EXIT_FAILED, &format!("{e:#}")),
    }
}

async fn watch_command(runtime: &Runtime, args: WatchArgs) -> u8 {
    crate::watch::run(runtime, args).await
}

async fn fields_command(runtime: &Runtime, args: FieldsArgs) -> u8 {
    let config = TenantConfig {
        file: PathBuf::from("./fields.toml"),
        tenant: "fields".into(),
        connector: args.connector.clone(),
        source: Default::default(),
        elasticsearch: None,
        content: crate::config::ContentSection {
            max_bytes: 0,
            extract: false,
            max_chars: 0,
            normalize_whitespace: true,
        },
        sandbox: crate::config::SandboxSection {
            memory_mb: 256,
            call_timeout_secs: 60,
            cpu_secs: None,
        },
    };
    let path = match config.component_path() {
        Ok(p) => p,
        Err(e) => return fail(EXIT_CONFIG, &format!("{e:#}")),
    };
    let result = async {
        let component = runtime.load(&path).await?;
        let http = Arc::new(crate::http::HttpService::new(
            crate::http::client::build_client()?,
            Default::default(),
            Default::default(),
            None,
            Arc::new(crate::http::Pacer::new()),
            0,
        ));
        let mut connector = crate::runtime::Connector::instantiate(
            runtime,
            &component,
            http,
            Default::default(),
            "fields",
        )
        .await?;
        connector.info().await
    }
    .await;
    match result {
        Ok(info) => {
            println!("{} {} — [source] fields:", info.id, info.version);
            for f in info.config {
                let default = f
                    .default_value
                    .map(|d| format!(" (default {d})"))
                    .unwrap_or_default();
                let flags = match (f.required, f.secret) {
                    (true, true) => " required, secret",
                    (true, false) => " required",
                    (false, true) => " secret",
                    (false, false) => "",
                };
                let kind = match f.kind {
                    crate::runtime::connector::FieldKind::Text => "text",
                    crate::runtime::connector::FieldKind::Integer => "integer",
                    crate::runtime::connector::FieldKind::Boolean => "boolean",
                    crate::runtime::connector::FieldKind::Url => "url",
                };
                println!(
                    "  {:<22} {kind}{flags}{default}\n      {}",
                    f.name, f.description
                );
            }
            EXIT_OK
        }
        Err(e) => fail(EXIT_FAILED, &format!("{e:#}")),
    }
}
