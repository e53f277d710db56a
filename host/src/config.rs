//! The tenant config file (TOML): which component, its settings (secrets may come from the
//! environment or a file), where to index, and the limits of the run.
//!
//! ```toml
//! tenant = "acme"                 # names the checkpoint; default: the file's stem
//! connector = "dropbox"           # a bundled component name, or a path to a .wasm file
//! [source]                        # the component's own fields (see `tributary fields`)
//! path = "/"
//! app_key = "abc123"
//! app_secret = { env = "DROPBOX_APP_SECRET" }
//! refresh_token = { file = "dropbox-refresh-token" }
//! [elasticsearch]
//! url = "http://localhost:9200"
//! index = "dropbox"
//! api_key = { env = "ES_API_KEY" }
//! [content]
//! max_bytes = 10485760
//! ```
use crate::http::Secret;
use anyhow::{Context, anyhow, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A value as written in the file: inline, or a pointer to where a secret lives.
#[derive(Debug, Clone)]
pub enum ValueSource {
    Inline(toml::Value),
    Env(String),
    File(PathBuf),
}

#[derive(Debug, Clone)]
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

#[derive(Debug, Clone)]
pub struct ContentSection {
    /// Files larger than this are indexed without content.
    pub max_bytes: u64,
    /// Set false to index metadata only.
    pub extract: bool,
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

#[derive(Debug, Clone)]
pub struct SandboxSection {
    pub memory_mb: u64,
    pub call_timeout_secs: u64,
    pub cpu_secs: Option<u64>,
}

/// A parsed config file. Source fields are resolved later against the component's schema.
#[derive(Debug, Clone)]
pub struct TenantConfig {
    pub file: PathBuf,
    pub tenant: String,
    pub connector: String,
    pub source: BTreeMap<String, ValueSource>,
    pub elasticsearch: Option<ElasticsearchSection>,
    pub content: ContentSection,
    pub sync: SyncSection,
    pub sandbox: SandboxSection,
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
        let base = file.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut tenant = None;
        let mut connector = None;
        let mut source = BTreeMap::new();
        let mut elasticsearch = None;
        let mut content = ContentSection {
            max_bytes: 10 * 1024 * 1024,
            extract: true,
        };
        let mut sandbox = SandboxSection {
            memory_mb: 256,
            call_timeout_secs: 600,
            cpu_secs: None,
        };
        let mut sync = SyncSection::default();
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
                            other => bail!(
                                "{name}: content.{other}: unknown field (known: max_bytes, extract)"
                            ),
                        }
                    }
                }
                "sandbox" => {
                    for (field, value) in table(&name, "sandbox", value)? {
                        match field.as_str() {
                            "memory_mb" => {
                                sandbox.memory_mb = unsigned(&name, "sandbox.memory_mb", &value)?
                            }
                            "call_timeout_secs" => {
                                sandbox.call_timeout_secs =
                                    unsigned(&name, "sandbox.call_timeout_secs", &value)?
                            }
                            "cpu_secs" => {
                                sandbox.cpu_secs =
                                    Some(unsigned(&name, "sandbox.cpu_secs", &value)?)
                            }
                            other => bail!(
                                "{name}: sandbox.{other}: unknown field (known: memory_mb, call_timeout_secs, cpu_secs)"
                            ),
                        }
                    }
                }
                other => bail!(
                    "{name}: `{other}`: unknown key (known: tenant, connector, [source], [sync], [elasticsearch], [content], [sandbox])"
                ),
            }
        }
        let tenant = match tenant {
            Some(t) => t,
            None => file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .ok_or_else(|| anyhow!("{name}: set `tenant = \"...\"`"))?,
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
            sandbox,
        })
    }

    /// Where the component file is: a path (relative to the config file) or a bundled name.
    pub fn component_path(&self) -> anyhow::Result<PathBuf> {
        let looks_like_path = self.connector.ends_with(".wasm") || self.connector.contains('/');
        if looks_like_path {
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
        bail!("{file}: elasticsearch.index: required, e.g. index = \"dropbox\"");
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
    fn bad_tenant_names_are_refused() {
        let e = parse("tenant = \"a b\"").unwrap_err().to_string();
        assert!(e.contains("tenant"), "{e}");
    }
}
