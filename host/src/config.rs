//! The tenant config file (TOML): which component, its settings (secrets may come from the
//! environment or a file), where to index, and the limits of the run.
//!
//! ```toml
//! tenant = "acme"                 # names the checkpoint; default: the file's stem
//! connector = "my-source"        # a bundled component name, or a path to a .wasm file
//! [source]                        # the component's own fields (see `tributary fields`)
//! path = "/"
//! client_id = "abc123"
//! client_secret = { env = "MY_SOURCE_SECRET" }
//! refresh_token = { file = "my-source.refresh_token" }
//! [sync]                          # runner settings every source has
//! retry_count = 3
//! concurrent_downloads = 100
//! [elasticsearch]
//! url = "http://localhost:9200"
//! index = "documents"
//! api_key = { env = "ES_API_KEY" }
//! [content]
//! max_bytes = 10485760
//! max_chars = 1000000             # text kept per document; beyond it truncated (and said so)
//! normalize_whitespace = true
//! ```
use crate::http::Secret;
use anyhow::{Context, anyhow, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A value as written in the file: inline, or a pointer to where a secret lives.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueSource {
    Inline(toml::Value),
    Env(String),
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ElasticsearchSection {
    pub url: String,
    pub index: String,
    pub state_index: String,
    pub api_key: Option<Secret>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub ca_cert: Option<PathBuf>,
    pub insecure: bool,
    /// How long a failing search call is retried before the run gives up.
    pub retry_budget_secs: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContentSection {
    /// Files larger than this are indexed without content.
    pub max_bytes: u64,
    /// Set false to index metadata only.
    pub extract: bool,
    /// Characters of text kept per document; past it the text is cut and marked truncated.
    pub max_chars: u64,
    /// Collapse whitespace runs to one space; false keeps paragraphs on their own lines.
    pub normalize_whitespace: bool,
    /// Send the bytes as `_attachment` through this ingest pipeline (a cluster that runs the
    /// attachment processor) instead of extracting in the runner.
    pub ingest_pipeline: Option<String>,
}

/// Runner settings every source has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSection {
    /// Retries of a request after a 5xx or a network error (with backoff).
    pub retry_count: u32,
    /// Content downloads in flight at once.
    pub concurrent_downloads: usize,
}

impl Default for SyncSection {
    fn default() -> Self {
        SyncSection {
            retry_count: 3,
            concurrent_downloads: 100,
        }
    }
}

/// `[sync]` settings that the spec's users write in `[source]`; accepted there too.
const SYNC_ALIASES_IN_SOURCE: &[&str] = &["retry_count", "concurrent_downloads"];

/// The limits of one run's sandbox; every one names itself when it is hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSection {
    /// Cap on the component's linear memory.
    pub memory_mb: u64,
    /// Wall-clock cap on one call into the component (one page, one check).
    pub call_timeout_secs: u64,
    /// Guest CPU time per run (unlimited when absent).
    pub cpu_secs: Option<u64>,
    /// Cap on one HTTP response body handed to the component.
    pub max_response_bytes: u64,
    /// Changes in one page.
    pub max_page_changes: u64,
    /// Bytes of one document's fields JSON.
    pub max_field_bytes: u64,
    /// Bytes of one checkpoint.
    pub max_checkpoint_bytes: u64,
    /// Origins the component may call, whatever it declares (all it declares when absent).
    pub allowed_hosts: Option<Vec<String>>,
}

impl Default for SandboxSection {
    fn default() -> Self {
        SandboxSection {
            memory_mb: 256,
            call_timeout_secs: 600,
            cpu_secs: None,
            max_response_bytes: 64 << 20,
            max_page_changes: 10_000,
            max_field_bytes: 1 << 20,
            max_checkpoint_bytes: 1 << 20,
            allowed_hosts: None,
        }
    }
}

const SANDBOX_FIELDS: &str = "memory_mb, call_timeout_secs, cpu_secs, max_response_bytes, max_page_changes, max_field_bytes, max_checkpoint_bytes, allowed_hosts";

/// A parsed config file. Source fields are resolved later against the component's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantConfig {
    pub file: PathBuf,
    pub tenant: String,
    pub connector: String,
    pub source: BTreeMap<String, ValueSource>,
    pub elasticsearch: Option<ElasticsearchSection>,
    pub content: ContentSection,
    pub sync: SyncSection,
    /// When `tributary serve` runs this tenant.
    pub schedule: ScheduleSection,
    pub sandbox: SandboxSection,
    /// What the tenant allows the component to do with its secrets (required for a
    /// component given by path that declares a credential).
    pub credential: Option<CredentialPin>,
    /// Basic sync rules, applied by the host to every document before content is fetched.
    pub rules: crate::rules::Rules,
}

/// `[credential]`: the credential scheme the tenant agreed to, where its secrets may go and
/// which secret fields it may use. A component may not choose these for itself: a component
/// that pointed the token endpoint at its own server, or wrapped a refresh token into an
/// API-key header, would otherwise walk away with the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialPin {
    /// `oauth2`, `aws-sigv4`, `header` or `basic`.
    pub kind: String,
    /// Origins the credential may be sent to (bearer token, signature, header).
    pub hosts: Vec<String>,
    /// OAuth2: the token endpoint that receives the refresh token and client secret.
    pub token_url: Option<String>,
    /// The secret fields the credential may use (any of the component's when empty).
    pub secret_fields: Vec<String>,
}

impl CredentialPin {
    fn parse(file: &str, t: toml::Table) -> anyhow::Result<CredentialPin> {
        let mut kind = None;
        let mut pin = CredentialPin {
            kind: String::new(),
            hosts: vec![],
            token_url: None,
            secret_fields: vec![],
        };
        let strings = |key: &str, value: &toml::Value| -> anyhow::Result<Vec<String>> {
            value
                .as_array()
                .ok_or_else(|| anyhow!("{file}: {key}: expected a list of strings"))?
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| anyhow!("{file}: {key}: {v} is not a string"))
                })
                .collect()
        };
        for (field, value) in t {
            let key = format!("credential.{field}");
            match field.as_str() {
                "kind" => {
                    let k = string(file, &key, &value)?;
                    if !matches!(k.as_str(), "oauth2" | "aws-sigv4" | "header" | "basic") {
                        bail!(
                            "{file}: {key}: {k:?} is not one of oauth2, aws-sigv4, header, basic"
                        );
                    }
                    kind = Some(k);
                }
                "hosts" => {
                    pin.hosts = strings(&key, &value)?;
                    for host in &pin.hosts {
                        crate::http::Origin::parse(host)
                            .map_err(|e| anyhow!("{file}: {key}: {e}"))?;
                    }
                }
                "token_url" => pin.token_url = Some(string(file, &key, &value)?),
                "secret_fields" => pin.secret_fields = strings(&key, &value)?,
                other => bail!(
                    "{file}: credential.{other}: unknown field (known: kind, hosts, token_url, secret_fields)"
                ),
            }
        }
        pin.kind = kind.ok_or_else(|| {
            anyhow!("{file}: credential.kind: required (oauth2, aws-sigv4, header or basic)")
        })?;
        Ok(pin)
    }
}

/// When a schedule fires: every interval, or at the times of a cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Every(std::time::Duration),
    /// A five-field cron expression (minute hour day-of-month month day-of-week), UTC.
    Cron(String),
}

impl Schedule {
    fn parse(file: &str, key: &str, text: &str) -> anyhow::Result<Schedule> {
        let text = text.trim();
        if let Ok(every) = humantime::parse_duration(text) {
            if every < std::time::Duration::from_secs(1) {
                bail!("{file}: {key}: {text:?} is shorter than a second");
            }
            return Ok(Schedule::Every(every));
        }
        text.parse::<croner::Cron>().map_err(|e| {
            anyhow!(
                "{file}: {key}: {text:?} is neither an interval (\"15m\", \"1h\") nor a cron expression (\"*/15 * * * *\"): {e}"
            )
        })?;
        Ok(Schedule::Cron(text.to_string()))
    }
}

/// `[schedule]`: when `tributary serve` syncs the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSection {
    /// Incremental runs (resume from the checkpoint).
    pub incremental: Schedule,
    /// Full enumerations (optional).
    pub full: Option<Schedule>,
    /// Keep a long poll open and apply changes as they happen, instead of `incremental`.
    pub watch: bool,
}

impl Default for ScheduleSection {
    fn default() -> Self {
        ScheduleSection {
            incremental: Schedule::Every(std::time::Duration::from_secs(3600)),
            full: None,
            watch: false,
        }
    }
}

impl ScheduleSection {
    fn parse(file: &str, t: toml::Table) -> anyhow::Result<ScheduleSection> {
        let mut section = ScheduleSection::default();
        for (field, value) in t {
            let key = format!("schedule.{field}");
            match field.as_str() {
                "incremental" => {
                    section.incremental = Schedule::parse(file, &key, &string(file, &key, &value)?)?
                }
                "full" => {
                    section.full = Some(Schedule::parse(file, &key, &string(file, &key, &value)?)?)
                }
                "watch" => section.watch = boolean(file, &key, &value)?,
                other => bail!(
                    "{file}: schedule.{other}: unknown field (known: incremental, full, watch)"
                ),
            }
        }
        Ok(section)
    }
}

impl TenantConfig {
    pub fn load(file: &Path) -> anyhow::Result<TenantConfig> {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading config file {}", file.display()))?;
        Self::parse(&text, file)
    }

    pub fn parse(text: &str, file: &Path) -> anyhow::Result<TenantConfig> {
        let name = file.display().to_string();
        let root: toml::Table =
            toml::from_str(text).map_err(|e| anyhow!("{name}: not valid TOML: {e}"))?;
        Self::from_table(root, file, &name, true)
    }

    /// A tenant from its TOML table: a whole file, or one `[[tenant]]` table of a file with
    /// many (`label` names it in messages; only a whole file may leave `tenant` out).
    pub fn from_table(
        root: toml::Table,
        file: &Path,
        label: &str,
        tenant_from_file_name: bool,
    ) -> anyhow::Result<TenantConfig> {
        let name = label.to_string();
        let base = file.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut tenant = None;
        let mut connector = None;
        let mut source = BTreeMap::new();
        let mut elasticsearch = None;
        let mut content = ContentSection {
            max_bytes: 10 * 1024 * 1024,
            extract: true,
            max_chars: 1_000_000,
            normalize_whitespace: true,
            ingest_pipeline: None,
        };
        let mut sandbox = SandboxSection::default();
        let mut sync = SyncSection::default();
        let mut schedule = ScheduleSection::default();
        let mut credential = None;
        let mut rules = crate::rules::Rules::default();
        let mut sync_given: Vec<String> = vec![];
        let set_sync = |sync: &mut SyncSection,
                        given: &mut Vec<String>,
                        key: &str,
                        field: &str,
                        value: &toml::Value|
         -> anyhow::Result<()> {
            if given.iter().any(|g| g == field) {
                bail!("{name}: {key}: {field} is set twice (in [sync] and in [source]); keep one");
            }
            given.push(field.to_string());
            let n = unsigned(&name, key, value)?;
            match field {
                "retry_count" => sync.retry_count = n.min(20) as u32,
                _ => {
                    if n == 0 {
                        bail!("{name}: {key}: at least 1 download must be allowed");
                    }
                    sync.concurrent_downloads = n.min(1000) as usize
                }
            }
            Ok(())
        };
        for (key, value) in root {
            match key.as_str() {
                "tenant" => tenant = Some(string(&name, "tenant", &value)?),
                "connector" => connector = Some(string(&name, "connector", &value)?),
                "source" => {
                    let table = table(&name, "source", value)?;
                    for (field, value) in table {
                        let where_ = format!("source.{field}");
                        if SYNC_ALIASES_IN_SOURCE.contains(&field.as_str()) {
                            set_sync(&mut sync, &mut sync_given, &where_, &field, &value)?;
                            continue;
                        }
                        source.insert(field, value_source(&name, &where_, value, &base)?);
                    }
                }
                "schedule" => {
                    schedule = ScheduleSection::parse(&name, table(&name, "schedule", value)?)?;
                }
                "rules" => rules = crate::rules::Rules::parse(&name, &value)?,
                "credential" => {
                    credential = Some(CredentialPin::parse(
                        &name,
                        table(&name, "credential", value)?,
                    )?);
                }
                "sync" => {
                    for (field, value) in table(&name, "sync", value)? {
                        let where_ = format!("sync.{field}");
                        match field.as_str() {
                            "retry_count" | "concurrent_downloads" => {
                                set_sync(&mut sync, &mut sync_given, &where_, &field, &value)?
                            }
                            other => bail!(
                                "{name}: sync.{other}: unknown field (known: retry_count, concurrent_downloads)"
                            ),
                        }
                    }
                }
                "elasticsearch" => {
                    elasticsearch = Some(elasticsearch_section(
                        &name,
                        table(&name, "elasticsearch", value)?,
                        &base,
                    )?)
                }
                "content" => {
                    for (field, value) in table(&name, "content", value)? {
                        match field.as_str() {
                            "max_bytes" => {
                                content.max_bytes = unsigned(&name, "content.max_bytes", &value)?
                            }
                            "extract" => {
                                content.extract = boolean(&name, "content.extract", &value)?
                            }
                            "max_chars" => {
                                content.max_chars = unsigned(&name, "content.max_chars", &value)?
                            }
                            "normalize_whitespace" => {
                                content.normalize_whitespace =
                                    boolean(&name, "content.normalize_whitespace", &value)?
                            }
                            "ingest_pipeline" => {
                                let pipeline = string(&name, "content.ingest_pipeline", &value)?;
                                if pipeline.is_empty()
                                    || pipeline.contains(['/', ' ', '?', '#', '&'])
                                {
                                    bail!(
                                        "{name}: content.ingest_pipeline: {pipeline:?} is not a pipeline name"
                                    );
                                }
                                content.ingest_pipeline = Some(pipeline);
                            }
                            other => bail!(
                                "{name}: content.{other}: unknown field (known: max_bytes, extract, max_chars, normalize_whitespace, ingest_pipeline)"
                            ),
                        }
                    }
                }
                "sandbox" => {
                    for (field, value) in table(&name, "sandbox", value)? {
                        let key = format!("sandbox.{field}");
                        let n = || unsigned(&name, &key, &value);
                        match field.as_str() {
                            "memory_mb" => sandbox.memory_mb = n()?,
                            "call_timeout_secs" => sandbox.call_timeout_secs = n()?.max(1),
                            "cpu_secs" => sandbox.cpu_secs = Some(n()?.max(1)),
                            "max_response_bytes" => sandbox.max_response_bytes = n()?,
                            "max_page_changes" => sandbox.max_page_changes = n()?.max(1),
                            "max_field_bytes" => sandbox.max_field_bytes = n()?,
                            "max_checkpoint_bytes" => sandbox.max_checkpoint_bytes = n()?,
                            "allowed_hosts" => {
                                let hosts = value.as_array().ok_or_else(|| {
                                    anyhow!("{name}: sandbox.allowed_hosts: expected a list of origins like [\"https://api.example.com\"]")
                                })?;
                                let mut origins = vec![];
                                for host in hosts {
                                    let text = host.as_str().ok_or_else(|| {
                                        anyhow!(
                                            "{name}: sandbox.allowed_hosts: {host} is not a string"
                                        )
                                    })?;
                                    crate::http::Origin::parse(text).map_err(|e| {
                                        anyhow!("{name}: sandbox.allowed_hosts: {e}")
                                    })?;
                                    origins.push(text.to_string());
                                }
                                sandbox.allowed_hosts = Some(origins);
                            }
                            other => bail!(
                                "{name}: sandbox.{other}: unknown field (known: {SANDBOX_FIELDS})"
                            ),
                        }
                    }
                }
                other => bail!(
                    "{name}: `{other}`: unknown key (known: tenant, connector, [source], [credential], [[rules]], [sync], [schedule], [elasticsearch], [content], [sandbox])"
                ),
            }
        }
        let tenant = match tenant {
            Some(t) => t,
            None if tenant_from_file_name => file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .ok_or_else(|| anyhow!("{name}: set `tenant = \"...\"`"))?,
            None => bail!("{name}: tenant: required in a [[tenant]] table, e.g. tenant = \"acme\""),
        };
        if tenant.is_empty()
            || !tenant
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            bail!(
                "{name}: tenant: {tenant:?} must be non-empty and use only letters, digits, '-', '_' or '.'"
            );
        }
        if sandbox.memory_mb < 16 {
            bail!("{name}: sandbox.memory_mb: at least 16 (MiB) is needed to run a component");
        }
        let Some(connector) = connector else {
            bail!(
                "{name}: connector: required; write the name of a bundled component ({}) or a path to a .wasm file",
                bundled_component_names().join(", ")
            );
        };
        Ok(TenantConfig {
            file: file.to_path_buf(),
            tenant,
            connector,
            source,
            elasticsearch,
            content,
            sync,
            schedule,
            sandbox,
            credential,
            rules,
        })
    }

    /// Whether the connector is one of the components shipped with the runner (by name),
    /// rather than a file the tenant points at.
    pub fn is_bundled(&self) -> bool {
        !(self.connector.ends_with(".wasm") || self.connector.contains('/'))
    }

    /// Where the component file is: a path (relative to the config file) or a bundled name.
    pub fn component_path(&self) -> anyhow::Result<PathBuf> {
        if !self.is_bundled() {
            let path = self
                .file
                .parent()
                .unwrap_or(Path::new("."))
                .join(&self.connector);
            if path.is_file() {
                return Ok(path);
            }
            bail!(
                "{}: connector: component file {} does not exist",
                self.file.display(),
                path.display()
            );
        }
        let candidates = bundled_component_dirs()
            .into_iter()
            .map(|dir| dir.join(format!("{}.wasm", self.connector)))
            .collect::<Vec<_>>();
        candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
            anyhow!(
                "{}: connector: no bundled component named {:?} (looked in {}); build it with `make components` or give a path to a .wasm file",
                self.file.display(),
                self.connector,
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }
}

/// `serve.toml`: how `tributary serve` runs many tenants (every value may also be given as a
/// command-line flag, which wins).
///
/// ```toml
/// tenants = "tenants"              # a directory of tenant files, or one file of [[tenant]] tables
/// listen = "127.0.0.1:9464"        # optional: /metrics and /healthz
/// lease_secs = 30                  # a dead runner's tenants are taken over after this
/// [coordination]                   # where claims, leases and run records live (an index we own)
/// url = "http://localhost:9200"
/// index = "tributary-coordination"
/// [limits]                         # for the whole process, shared fairly by running tenants
/// concurrent_runs = 16
/// downloads = 256
/// bulk_mb = 256
/// text_mb = 256
/// guest_memory_mb = 4096
/// ```
#[derive(Debug, Clone, Default)]
pub struct ServeConfig {
    pub file: Option<PathBuf>,
    pub tenants: Option<PathBuf>,
    pub listen: Option<String>,
    pub lease_secs: Option<u64>,
    /// The cluster and index of the coordination index (`index` defaults to
    /// `tributary-coordination`).
    pub coordination: Option<ElasticsearchSection>,
    pub limits: ServeLimits,
}

/// Process-wide budgets of `tributary serve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeLimits {
    pub concurrent_runs: usize,
    pub downloads: usize,
    pub bulk_mb: usize,
    pub text_mb: usize,
    pub guest_memory_mb: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            concurrent_runs: 16,
            downloads: 256,
            bulk_mb: 256,
            text_mb: 256,
            guest_memory_mb: 4096,
        }
    }
}

impl ServeConfig {
    pub fn load(file: &Path) -> anyhow::Result<ServeConfig> {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let name = file.display().to_string();
        let root: toml::Table =
            toml::from_str(&text).map_err(|e| anyhow!("{name}: not valid TOML: {e}"))?;
        let base = file.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut config = ServeConfig {
            file: Some(file.to_path_buf()),
            ..ServeConfig::default()
        };
        for (key, value) in root {
            match key.as_str() {
                "tenants" => config.tenants = Some(base.join(string(&name, "tenants", &value)?)),
                "listen" => config.listen = Some(string(&name, "listen", &value)?),
                "lease_secs" => config.lease_secs = Some(unsigned(&name, "lease_secs", &value)?),
                "coordination" => {
                    let mut t = table(&name, "coordination", value)?;
                    t.entry("index")
                        .or_insert_with(|| toml::Value::String("tributary-coordination".into()));
                    config.coordination = Some(elasticsearch_section(&name, t, &base)?);
                }
                "limits" => {
                    for (field, value) in table(&name, "limits", value)? {
                        let key = format!("limits.{field}");
                        let n = unsigned(&name, &key, &value)?.max(1) as usize;
                        match field.as_str() {
                            "concurrent_runs" => config.limits.concurrent_runs = n,
                            "downloads" => config.limits.downloads = n,
                            "bulk_mb" => config.limits.bulk_mb = n,
                            "text_mb" => config.limits.text_mb = n,
                            "guest_memory_mb" => config.limits.guest_memory_mb = n,
                            other => bail!(
                                "{name}: limits.{other}: unknown field (known: concurrent_runs, downloads, bulk_mb, text_mb, guest_memory_mb)"
                            ),
                        }
                    }
                }
                other => bail!(
                    "{name}: `{other}`: unknown key (known: tenants, listen, lease_secs, [coordination], [limits])"
                ),
            }
        }
        Ok(config)
    }
}

/// `$TRIBUTARY_COMPONENT_DIR`, then `components/` next to the binary and one level up
/// (`target/debug/tributary` → `target/components/`).
pub fn bundled_component_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![];
    if let Ok(dir) = std::env::var("TRIBUTARY_COMPONENT_DIR") {
        dirs.push(PathBuf::from(dir));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(bin_dir) = exe.parent()
    {
        dirs.push(bin_dir.join("components"));
        if let Some(up) = bin_dir.parent() {
            dirs.push(up.join("components"));
        }
    }
    dirs
}

/// The names of the bundled components (`<name>.wasm` in the component directories).
pub fn bundled_component_names() -> Vec<String> {
    let mut names: Vec<String> = bundled_component_dirs()
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "wasm")
                .then(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))?
        })
        // The text extractor is bundled beside the sources but is not one.
        .filter(|name| name != "extractor")
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        names.push("none found; build them with `make components`".into());
    }
    names
}

fn table(file: &str, key: &str, value: toml::Value) -> anyhow::Result<toml::Table> {
    match value {
        toml::Value::Table(t) => Ok(t),
        other => bail!(
            "{file}: {key}: expected a table ([{key}]), got {}",
            other.type_str()
        ),
    }
}

fn string(file: &str, key: &str, value: &toml::Value) -> anyhow::Result<String> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("{file}: {key}: expected a string, got {}", value.type_str()))
}

fn unsigned(file: &str, key: &str, value: &toml::Value) -> anyhow::Result<u64> {
    value
        .as_integer()
        .and_then(|i| u64::try_from(i).ok())
        .ok_or_else(|| anyhow!("{file}: {key}: expected a non-negative integer, got {value}"))
}

fn boolean(file: &str, key: &str, value: &toml::Value) -> anyhow::Result<bool> {
    value
        .as_bool()
        .ok_or_else(|| anyhow!("{file}: {key}: expected true or false, got {value}"))
}

fn value_source(
    file: &str,
    key: &str,
    value: toml::Value,
    base: &Path,
) -> anyhow::Result<ValueSource> {
    if let toml::Value::Table(t) = &value {
        let env = t.get("env").and_then(|v| v.as_str());
        let path = t.get("file").and_then(|v| v.as_str());
        return match (env, path, t.len()) {
            (Some(var), None, 1) => Ok(ValueSource::Env(var.to_string())),
            (None, Some(path), 1) => Ok(ValueSource::File(base.join(path))),
            _ => bail!(
                "{file}: {key}: a table value must be {{ env = \"VAR\" }} or {{ file = \"path\" }}"
            ),
        };
    }
    Ok(ValueSource::Inline(value))
}

impl ValueSource {
    /// The value, reading the environment or the file it points to.
    pub fn resolve(&self, file: &str, key: &str) -> anyhow::Result<toml::Value> {
        match self {
            ValueSource::Inline(v) => Ok(v.clone()),
            ValueSource::Env(var) => std::env::var(var).map(toml::Value::String).map_err(|_| {
                anyhow!("{file}: {key}: environment variable {var} is not set (export it, or put the value in the file)")
            }),
            ValueSource::File(path) => std::fs::read_to_string(path)
                .map(|s| toml::Value::String(s.trim_end_matches(['\n', '\r']).to_string()))
                .map_err(|e| anyhow!("{file}: {key}: cannot read {}: {e}", path.display())),
        }
    }
}

fn secret(file: &str, key: &str, value: toml::Value, base: &Path) -> anyhow::Result<Secret> {
    let resolved = value_source(file, key, value, base)?.resolve(file, key)?;
    resolved
        .as_str()
        .map(Secret::new)
        .ok_or_else(|| anyhow!("{file}: {key}: expected a string"))
}

fn elasticsearch_section(
    file: &str,
    t: toml::Table,
    base: &Path,
) -> anyhow::Result<ElasticsearchSection> {
    let mut section = ElasticsearchSection {
        url: String::new(),
        index: String::new(),
        state_index: "tributary-state".into(),
        api_key: None,
        username: None,
        password: None,
        ca_cert: None,
        insecure: false,
        retry_budget_secs: crate::retry::SEARCH_BUDGET.as_secs(),
    };
    for (field, value) in t {
        let key = format!("elasticsearch.{field}");
        match field.as_str() {
            "url" => {
                section.url = string(
                    file,
                    &key,
                    &value_source(file, &key, value, base)?.resolve(file, &key)?,
                )?
            }
            "index" => section.index = string(file, &key, &value)?,
            "state_index" => section.state_index = string(file, &key, &value)?,
            "api_key" => section.api_key = Some(secret(file, &key, value, base)?),
            "username" => {
                section.username = Some(string(
                    file,
                    &key,
                    &value_source(file, &key, value, base)?.resolve(file, &key)?,
                )?)
            }
            "password" => section.password = Some(secret(file, &key, value, base)?),
            "ca_cert" => section.ca_cert = Some(base.join(string(file, &key, &value)?)),
            "insecure" => section.insecure = boolean(file, &key, &value)?,
            "retry_budget_secs" => section.retry_budget_secs = unsigned(file, &key, &value)?,
            other => bail!(
                "{file}: elasticsearch.{other}: unknown field (known: url, index, state_index, api_key, username, password, ca_cert, insecure, retry_budget_secs)"
            ),
        }
    }
    if section.url.is_empty() {
        bail!("{file}: elasticsearch.url: required, e.g. url = \"http://localhost:9200\"");
    }
    let url = url::Url::parse(&section.url).map_err(|e| {
        anyhow!(
            "{file}: elasticsearch.url: {:?} is not a URL: {e}",
            section.url
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!(
            "{file}: elasticsearch.url: {:?} uses the scheme {:?}; write http://host:port or https://host:port",
            section.url,
            url.scheme()
        );
    }
    if section.index.is_empty() {
        bail!("{file}: elasticsearch.index: required, e.g. index = \"documents\"");
    }
    if section.index != section.index.to_lowercase() || section.index.starts_with(['_', '-', '+']) {
        bail!(
            "{file}: elasticsearch.index: {:?} must be lowercase and not start with _, - or +",
            section.index
        );
    }
    if section.password.is_some() != section.username.is_some() {
        bail!("{file}: elasticsearch: username and password go together");
    }
    Ok(section)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<TenantConfig> {
        TenantConfig::parse(text, Path::new("/etc/tributary/acme.toml"))
    }

    #[test]
    fn tenant_defaults_to_the_file_stem_and_the_connector_is_required() {
        let c = parse("connector = \"some-source\"\n[source]\npath = \"/\"\n").unwrap();
        assert_eq!(c.tenant, "acme");
        assert_eq!(c.connector, "some-source");
        assert_eq!(c.content.max_bytes, 10 * 1024 * 1024);
        assert_eq!(c.sync, SyncSection::default());
        let e = parse("[source]\npath = \"/\"\n").unwrap_err().to_string();
        assert!(e.contains("connector: required"), "{e}");
    }

    #[test]
    fn runner_settings_come_from_sync_or_from_the_spec_names_in_source() {
        let c = parse("connector = \"x\"\n[sync]\nretry_count = 5\nconcurrent_downloads = 7\n")
            .unwrap();
        assert_eq!((c.sync.retry_count, c.sync.concurrent_downloads), (5, 7));
        let c = parse("connector = \"x\"\n[source]\nretry_count = 1\nconcurrent_downloads = 2\npath = \"/\"\n")
            .unwrap();
        assert_eq!((c.sync.retry_count, c.sync.concurrent_downloads), (1, 2));
        assert!(!c.source.contains_key("retry_count") && c.source.contains_key("path"));
        let e = parse("connector = \"x\"\n[sync]\nretry_count = 5\n[source]\nretry_count = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("set twice"), "{e}");
    }

    #[test]
    fn unknown_keys_are_named_with_the_known_ones() {
        let e = parse("tennant = \"x\"").unwrap_err().to_string();
        assert!(e.contains("tennant") && e.contains("known: tenant"), "{e}");
        let e = parse("[content]\nmax = 3").unwrap_err().to_string();
        assert!(e.contains("content.max") && e.contains("max_bytes"), "{e}");
    }

    #[test]
    fn secrets_can_come_from_env_or_file_and_are_checked() {
        let c = parse(
            "connector = \"x\"\n[source]\napp_secret = { env = \"TRIBUTARY_TEST_UNSET_VAR\" }\n",
        )
        .unwrap();
        let e = c.source["app_secret"]
            .resolve("f", "source.app_secret")
            .unwrap_err()
            .to_string();
        assert!(e.contains("TRIBUTARY_TEST_UNSET_VAR is not set"), "{e}");
        let e = parse("connector = \"x\"\n[source]\napp_secret = { vault = \"x\" }\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("source.app_secret") && e.contains("env ="),
            "{e}"
        );
    }

    #[test]
    fn elasticsearch_section_requires_url_and_a_valid_index() {
        let e = parse("[elasticsearch]\nindex = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("elasticsearch.url: required"), "{e}");
        let e = parse("[elasticsearch]\nurl = \"http://h:9200\"\nindex = \"Docs\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("lowercase"), "{e}");
        let e = parse("[elasticsearch]\nurl = \"ftp://h:9200\"\nindex = \"docs\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("elasticsearch.url") && e.contains("https://"),
            "{e}"
        );
        let c =
            parse("connector = \"x\"\n[elasticsearch]\nurl = \"http://h:9200\"\nindex = \"docs\"\napi_key = \"k\"")
                .unwrap();
        let es = c.elasticsearch.unwrap();
        assert_eq!(es.state_index, "tributary-state");
        assert!(!format!("{es:?}").contains("\"k\""));
    }

    #[test]
    fn schedules_are_intervals_or_cron_expressions() {
        let c =
            parse("connector = \"x\"\n[schedule]\nincremental = \"15m\"\nfull = \"0 3 * * 0\"\n")
                .unwrap();
        assert_eq!(
            c.schedule.incremental,
            Schedule::Every(std::time::Duration::from_secs(900))
        );
        assert_eq!(c.schedule.full, Some(Schedule::Cron("0 3 * * 0".into())));
        let e = parse("connector = \"x\"\n[schedule]\nincremental = \"sometimes\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("schedule.incremental") && e.contains("cron"),
            "{e}"
        );
        let e = parse("connector = \"x\"\n[sandbox]\nallowed_hosts = [\"https://a.com/x\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sandbox.allowed_hosts"), "{e}");
    }

    #[test]
    fn content_text_limits_default_and_parse() {
        let c = parse("connector = \"x\"\n").unwrap();
        assert_eq!(c.content.max_chars, 1_000_000);
        assert!(c.content.normalize_whitespace);
        let c =
            parse("connector = \"x\"\n[content]\nmax_chars = 5000\nnormalize_whitespace = false\n")
                .unwrap();
        assert_eq!(c.content.max_chars, 5000);
        assert!(!c.content.normalize_whitespace);
        let e = parse("connector = \"x\"\n[content]\nmax_chars = -1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("content.max_chars"), "{e}");
        let e = parse("connector = \"x\"\n[content]\nnormalize_whitespace = \"yes\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("content.normalize_whitespace"), "{e}");
    }

    #[test]
    fn bad_tenant_names_are_refused() {
        let e = parse("tenant = \"a b\"").unwrap_err().to_string();
        assert!(e.contains("tenant"), "{e}");
    }
}
