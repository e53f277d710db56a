//! Everything one tenant's run needs, prepared before any document moves: the component
//! loaded and asked for its fields, the config resolved, the directories it is granted, the
//! plan checked, and the HTTP policy (allow-list, credential, pacer) built from it.
use crate::config::TenantConfig;
use crate::extract::{ExtractLimits, Extractor, PoolConfig};
use crate::http::{self, AllowList, Authenticator, HttpService, Pacer, SigV4Keys, TokenSource};
use crate::runtime::{Connector, Grant, LoadError, LoadedComponent, Runtime, SandboxLimits};
use crate::source::{ConnectorInfo, Credential, FieldKind, GuestError, Plan};
use crate::source_config::{self, ResolvedSource};
use anyhow::{Context, anyhow};
use std::path::Path;
use std::sync::Arc;

/// Why a tenant could not be prepared; the CLI maps these to exit codes.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Where a granted directory appears inside the sandbox: `/mnt/<field name>`.
fn guest_path_of(field: &str) -> String {
    format!("/mnt/{field}")
}

pub struct Tenant {
    pub config: TenantConfig,
    pub info: ConnectorInfo,
    pub plan: Plan,
    pub source: ResolvedSource,
    pub http: Arc<HttpService>,
    pub component: LoadedComponent,
    pub limits: SandboxLimits,
    /// Directories granted to the component, read-only.
    pub grants: Vec<Grant>,
    pub retry_count: u32,
    pub concurrent_downloads: usize,
    /// This tenant's pool of sandboxed text extractors, started on first use (never shared
    /// with another tenant; the compiled component is shared by the whole process).
    extractor: tokio::sync::OnceCell<Extractor>,
}

/// What a command needs of the tenant's secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// Every secret must be present and readable (sync, check, watch).
    Required,
    /// Secrets may be missing (`tributary auth` writes the refresh token).
    Optional,
}

impl Tenant {
    /// Load, validate and plan. No network call happens here.
    pub async fn prepare(runtime: &Runtime, config: TenantConfig) -> Result<Tenant, PrepareError> {
        Self::prepare_with(runtime, config, Secrets::Required).await
    }

    /// As `prepare`, saying how strict to be about secrets.
    pub async fn prepare_with(
        runtime: &Runtime,
        config: TenantConfig,
        secrets: Secrets,
    ) -> Result<Tenant, PrepareError> {
        let file = config.file.display().to_string();
        let component_path = config
            .component_path()
            .map_err(|e| PrepareError::Config(e.to_string()))?;
        let component = runtime.load(&component_path).await.map_err(|e| match e {
            LoadError::Other(e) => PrepareError::Other(e),
            config_error => PrepareError::Config(format!("{file}: connector: {config_error}")),
        })?;
        let limits = SandboxLimits::from(&config.sandbox);
        let client = http::client::build_client()?;
        let deny_all = Arc::new(HttpService::deny_all(client.clone()));
        // `info` runs with nothing granted: the grants depend on what it declares.
        let mut connector = Connector::instantiate(
            runtime,
            &component,
            deny_all,
            limits.clone(),
            &config.tenant,
            &[],
        )
        .await?;
        let info = connector.info().await?;
        // `tributary auth` runs before the secrets exist: they may be missing then.
        let optional: Vec<&str> = match secrets {
            Secrets::Required => vec![],
            Secrets::Optional => info
                .config
                .iter()
                .filter(|f| f.secret)
                .map(|f| f.name.as_str())
                .collect(),
        };
        let mut source = source_config::resolve_with(&config, &info.config, &info.id, &optional)
            .map_err(|e| PrepareError::Config(e.to_string()))?;
        let grants = grant_directories(&config, &info, &mut source)?;
        let plan = match connector.configure(&source.public_json()).await? {
            Ok(plan) => plan,
            Err(GuestError::InvalidConfig(message)) => {
                return Err(PrepareError::Config(format!("{file}: source.{message}")));
            }
            Err(other) => return Err(PrepareError::Other(anyhow!("{other}"))),
        };
        if secrets == Secrets::Required
            && let Some((field, reason)) = source.unreadable_secrets.iter().next()
        {
            let hint = match &plan.credential {
                Some(Credential::OAuth2(o)) if &o.refresh_token_field == field => format!(
                    "; `tributary auth --config {file}` gets a refresh token and writes it there"
                ),
                _ => String::new(),
            };
            return Err(PrepareError::Config(format!("{reason}{hint}")));
        }
        let retry_count = config.sync.retry_count;
        let concurrent_downloads = config.sync.concurrent_downloads;
        let declared = AllowList::parse_all(plan.hosts.iter().map(String::as_str))
            .map_err(|e| anyhow!("the {} component declared a bad host: {e}", info.id))?;
        // The tenant may narrow what the component asks for, never widen it.
        let allow = match &config.sandbox.allowed_hosts {
            None => declared,
            Some(allowed) => {
                let allowed =
                    AllowList::parse_all(allowed.iter().map(String::as_str)).map_err(|e| {
                        PrepareError::Config(format!("{file}: sandbox.allowed_hosts: {e}"))
                    })?;
                let (kept, dropped): (Vec<_>, Vec<_>) = declared
                    .origins()
                    .iter()
                    .cloned()
                    .partition(|o| allowed.origins().contains(o));
                for origin in &dropped {
                    tracing::warn!(
                        tenant = %config.tenant,
                        %origin,
                        "the component declares this host but sandbox.allowed_hosts does not allow it: its requests there will be denied"
                    );
                }
                AllowList::new(kept)
            }
        };
        let pacer = Arc::new(Pacer::new());
        let (credential_hosts, credential) = match &plan.credential {
            None => (AllowList::default(), None),
            Some(credential) => {
                confirm_credential(&config, &info, credential)?;
                let hosts = AllowList::parse_all(credential.hosts().iter().map(String::as_str))
                    .map_err(|e| {
                        anyhow!(
                            "the {} component declared a bad credential host: {e}",
                            info.id
                        )
                    })?;
                for origin in hosts.origins() {
                    if !allow.origins().contains(origin) {
                        return Err(PrepareError::Other(anyhow!(
                            "the {} component wants its credential sent to {origin}, which it did not declare as a host",
                            info.id
                        )));
                    }
                }
                let authenticator = authenticator(
                    &config,
                    &info,
                    &source,
                    credential,
                    &allow,
                    secrets,
                    client.clone(),
                    retry_count,
                    pacer.clone(),
                )?;
                (hosts, Some(authenticator))
            }
        };
        let http = Arc::new(HttpService::new(
            client,
            allow,
            credential_hosts,
            credential,
            pacer,
            retry_count,
        ));
        Ok(Tenant {
            config,
            info,
            plan,
            source,
            http,
            component,
            limits,
            grants,
            retry_count,
            concurrent_downloads,
            extractor: tokio::sync::OnceCell::new(),
        })
    }

    /// The tenant's extractor pool (the bundled extractor component, loaded once).
    pub async fn extractor(&self, runtime: &Runtime) -> anyhow::Result<Extractor> {
        self.extractor
            .get_or_try_init(|| async {
                let path = Extractor::bundled_path()?;
                Extractor::load(runtime, &path, PoolConfig::default()).await
            })
            .await
            .cloned()
            .context("the text extractor cannot run; build it with `make components`, or set [content] extract = false")
    }

    /// What one extraction may use: the tenant's text settings, the sandbox's defaults.
    pub fn extract_limits(&self) -> ExtractLimits {
        ExtractLimits {
            max_chars: self.config.content.max_chars,
            normalize_whitespace: self.config.content.normalize_whitespace,
            ..ExtractLimits::default()
        }
    }

    /// A fresh sandbox for one run, wired to this tenant's HTTP policy and grants.
    pub async fn instantiate(&self, runtime: &Runtime) -> anyhow::Result<Connector> {
        Connector::instantiate(
            runtime,
            &self.component,
            self.http.clone(),
            self.limits.clone(),
            &self.config.tenant,
            &self.grants,
        )
        .await
        .context("starting the component")
    }
}

/// Turn every `directory` field into a read-only grant: the host path must be a directory;
/// the component is told the path it sees the directory at.
fn grant_directories(
    config: &TenantConfig,
    info: &ConnectorInfo,
    source: &mut ResolvedSource,
) -> Result<Vec<Grant>, PrepareError> {
    let file = config.file.display().to_string();
    let base = config.file.parent().unwrap_or(Path::new("."));
    let mut grants = vec![];
    for field in info
        .config
        .iter()
        .filter(|f| f.kind == FieldKind::Directory)
    {
        let Some(given) = source.text(&field.name) else {
            continue;
        };
        let host_path = base.join(&given);
        let host_path = host_path.canonicalize().map_err(|e| {
            PrepareError::Config(format!(
                "{file}: source.{}: {} cannot be opened ({e}); give an existing directory",
                field.name,
                host_path.display()
            ))
        })?;
        if !host_path.is_dir() {
            return Err(PrepareError::Config(format!(
                "{file}: source.{}: {} is not a directory",
                field.name,
                host_path.display()
            )));
        }
        let guest_path = guest_path_of(&field.name);
        source.public.insert(
            field.name.clone(),
            serde_json::Value::String(guest_path.clone()),
        );
        grants.push(Grant {
            host_path,
            guest_path,
        });
    }
    Ok(grants)
}

/// The secret fields a credential would use (send, or sign with).
fn secret_fields_of(info: &ConnectorInfo, credential: &Credential) -> Vec<String> {
    let fields: Vec<&str> = match credential {
        Credential::OAuth2(o) => vec![&o.client_secret_field, &o.refresh_token_field],
        Credential::AwsSigV4(a) => {
            let mut f = vec![a.access_key_id_field.as_str(), &a.secret_access_key_field];
            f.extend(a.session_token_field.as_deref());
            f
        }
        Credential::Header(h) => vec![&h.value_field],
        Credential::Basic(b) => vec![&b.username_field, &b.password_field],
    };
    fields
        .into_iter()
        .filter(|name| info.config.iter().any(|f| f.secret && f.name == *name))
        .map(str::to_string)
        .collect()
}

fn kind_of(credential: &Credential) -> &'static str {
    match credential {
        Credential::OAuth2(_) => "oauth2",
        Credential::AwsSigV4(_) => "aws-sigv4",
        Credential::Header(_) => "header",
        Credential::Basic(_) => "basic",
    }
}

/// The `[credential]` section that allows exactly what `credential` asks for.
pub fn suggested_pin(info: &ConnectorInfo, credential: &Credential) -> String {
    let quote = |items: &[String]| {
        items
            .iter()
            .map(|i| format!("{i:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = format!(
        "[credential]\nkind = {:?}\nhosts = [{}]\n",
        kind_of(credential),
        quote(credential.hosts())
    );
    if let Credential::OAuth2(o) = credential {
        text.push_str(&format!("token_url = {:?}\n", o.token_url));
    }
    text.push_str(&format!(
        "secret_fields = [{}]\n",
        quote(&secret_fields_of(info, credential))
    ));
    text
}

/// A component may not decide alone where the tenant's secrets go: a bundled component (ours)
/// is trusted with it, any other needs the tenant's `[credential]` section, and whatever
/// the section says is enforced for bundled ones too.
fn confirm_credential(
    config: &TenantConfig,
    info: &ConnectorInfo,
    credential: &Credential,
) -> Result<(), PrepareError> {
    let file = config.file.display().to_string();
    let Some(pin) = &config.credential else {
        if config.is_bundled() {
            return Ok(());
        }
        return Err(PrepareError::Config(format!(
            "{file}: credential: the component {} wants to use this tenant's secrets ({} credential, sent to {}); \
             a component loaded from a path may not choose that alone. If that is what you expect, add:\n\n{}",
            config.connector,
            kind_of(credential),
            credential.hosts().join(", "),
            suggested_pin(info, credential)
        )));
    };
    let refuse = |what: String| {
        PrepareError::Config(format!(
            "{file}: credential: {what}; the component is not run. It asks for:\n\n{}",
            suggested_pin(info, credential)
        ))
    };
    if pin.kind != kind_of(credential) {
        return Err(refuse(format!(
            "the tenant allows a {} credential but the component declares {}",
            pin.kind,
            kind_of(credential)
        )));
    }
    let allowed = AllowList::parse_all(pin.hosts.iter().map(String::as_str))
        .map_err(|e| PrepareError::Config(format!("{file}: credential.hosts: {e}")))?;
    let wanted =
        AllowList::parse_all(credential.hosts().iter().map(String::as_str)).map_err(|e| {
            anyhow!(
                "the {} component declared a bad credential host: {e}",
                info.id
            )
        })?;
    if let Some(extra) = wanted
        .origins()
        .iter()
        .find(|o| !allowed.origins().contains(o))
    {
        return Err(refuse(format!(
            "the component would send the credential to {extra}, which credential.hosts does not list"
        )));
    }
    if let Credential::OAuth2(o) = credential
        && pin.token_url.as_deref() != Some(o.token_url.as_str())
    {
        return Err(refuse(format!(
            "the component's token endpoint {} is not credential.token_url ({})",
            o.token_url,
            pin.token_url.as_deref().unwrap_or("not set")
        )));
    }
    if !pin.secret_fields.is_empty()
        && let Some(field) = secret_fields_of(info, credential)
            .into_iter()
            .find(|f| !pin.secret_fields.contains(f))
    {
        return Err(refuse(format!(
            "the credential would use the secret field {field}, which credential.secret_fields does not list"
        )));
    }
    Ok(())
}

/// Build the credential the plan asks for from the tenant's (host-kept) secrets.
#[allow(clippy::too_many_arguments)]
fn authenticator(
    config: &TenantConfig,
    info: &ConnectorInfo,
    source: &ResolvedSource,
    credential: &Credential,
    allow: &AllowList,
    secrets: Secrets,
    client: reqwest::Client,
    retry_count: u32,
    pacer: Arc<Pacer>,
) -> Result<Authenticator, PrepareError> {
    let file = config.file.display().to_string();
    let missing = |field: &str, what: &str| {
        PrepareError::Config(format!(
            "{file}: source.{field}: required ({what}); secrets may be written as {{ env = \"VAR\" }} or {{ file = \"path\" }}"
        ))
    };
    Ok(match credential {
        Credential::OAuth2(oauth) => {
            let token_url = url::Url::parse(&oauth.token_url)
                .map_err(|e| anyhow!("the {} component declared a bad token URL: {e}", info.id))?;
            if !allow.allows(&token_url) {
                return Err(PrepareError::Other(anyhow!(
                    "the {} component's token endpoint {} is not among its declared hosts",
                    info.id,
                    oauth.token_url
                )));
            }
            let client_id = source
                .text_or_secret(&oauth.client_id_field)
                .ok_or_else(|| missing(&oauth.client_id_field, "to obtain an access token"))?
                .expose()
                .to_string();
            let refresh_token = match source.secrets.get(&oauth.refresh_token_field) {
                Some(token) => token.clone(),
                None if secrets == Secrets::Optional => crate::http::Secret::new(""),
                None => {
                    return Err(PrepareError::Config(format!(
                        "{file}: source.{}: required; get one with `tributary auth --config {file}`",
                        oauth.refresh_token_field
                    )));
                }
            };
            let client_secret = source.secrets.get(&oauth.client_secret_field).cloned();
            Authenticator::OAuth2(Arc::new(TokenSource::new(
                client,
                oauth.token_url.clone(),
                client_id,
                client_secret,
                refresh_token,
                retry_count,
                pacer,
            )))
        }
        Credential::AwsSigV4(aws) => {
            let key = |field: &str, what: &str| {
                source
                    .text_or_secret(field)
                    .ok_or_else(|| missing(field, what))
            };
            Authenticator::SigV4(SigV4Keys {
                access_key_id: key(&aws.access_key_id_field, "the access key id")?,
                secret_access_key: key(&aws.secret_access_key_field, "the secret access key")?,
                session_token: aws
                    .session_token_field
                    .as_ref()
                    .and_then(|field| source.text_or_secret(field)),
                region: aws.region.clone(),
                service: aws.service.clone(),
            })
        }
        Credential::Header(header) => Authenticator::Header {
            header: header.header.clone(),
            prefix: header.prefix.clone(),
            value: source
                .text_or_secret(&header.value_field)
                .ok_or_else(|| missing(&header.value_field, "the API key"))?,
        },
        Credential::Basic(basic) => Authenticator::Basic {
            username: source
                .text_or_secret(&basic.username_field)
                .ok_or_else(|| missing(&basic.username_field, "the user name"))?
                .expose()
                .to_string(),
            password: source
                .text_or_secret(&basic.password_field)
                .ok_or_else(|| missing(&basic.password_field, "the password"))?,
        },
    })
}
