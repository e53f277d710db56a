//! Everything one tenant's run needs, prepared before any document moves: the component
//! loaded and asked for its fields, the config resolved, the plan checked, and the HTTP
//! policy (allow-list, OAuth2 token source, pacer) built from it.
use crate::config::TenantConfig;
use crate::http::{self, AllowList, HttpService, Pacer, TokenSource};
use crate::runtime::connector::{ConnectorInfo, GuestError, Plan};
use crate::runtime::engine::LoadedComponent;
use crate::runtime::{Connector, Runtime, SandboxLimits};
use crate::source_config::{self, ResolvedSource};
use anyhow::{Context, anyhow};
use std::sync::Arc;
use std::time::Duration;

/// Why a tenant could not be prepared; the CLI maps these to exit codes.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub struct Tenant {
    pub config: TenantConfig,
    pub info: ConnectorInfo,
    pub plan: Plan,
    pub source: ResolvedSource,
    pub http: Arc<HttpService>,
    pub component: LoadedComponent,
    pub limits: SandboxLimits,
    pub retry_count: u32,
    pub concurrent_downloads: usize,
}

impl Tenant {
    /// Load, validate and plan. No network call happens here.
    pub async fn prepare(runtime: &Runtime, config: TenantConfig) -> Result<Tenant, PrepareError> {
        Self::prepare_with(runtime, config, true).await
    }

    /// As `prepare`; with `need_refresh_token` false a missing refresh token is accepted
    /// (for `tributary auth`, which is how one gets it).
    pub async fn prepare_with(
        runtime: &Runtime,
        config: TenantConfig,
        need_refresh_token: bool,
    ) -> Result<Tenant, PrepareError> {
        let component_path = config
            .component_path()
            .map_err(|e| PrepareError::Config(e.to_string()))?;
        let component = runtime.load(&component_path).await?;
        let limits = SandboxLimits {
            memory_bytes: (config.sandbox.memory_mb as usize) << 20,
            call_timeout: Duration::from_secs(config.sandbox.call_timeout_secs),
            cpu_time: config.sandbox.cpu_secs.map(Duration::from_secs),
            ..SandboxLimits::default()
        };
        let client = http::client::build_client()?;
        let deny_all = Arc::new(HttpService::new(
            client.clone(),
            AllowList::default(),
            AllowList::default(),
            None,
            Arc::new(Pacer::new()),
            0,
        ));
        let mut connector = Connector::instantiate(
            runtime,
            &component,
            deny_all,
            limits.clone(),
            &config.tenant,
        )
        .await?;
        let info = connector.info().await?;
        // `tributary auth` runs before the secrets exist: they may be missing then.
        let optional: Vec<&str> = if need_refresh_token {
            vec![]
        } else {
            info.config
                .iter()
                .filter(|f| f.secret)
                .map(|f| f.name.as_str())
                .collect()
        };
        let source = source_config::resolve_with(&config, &info.config, &info.id, &optional)
            .map_err(|e| PrepareError::Config(e.to_string()))?;
        let plan = match connector.configure(&source.public_json()).await? {
            Ok(plan) => plan,
            Err(GuestError::InvalidConfig(message)) => {
                return Err(PrepareError::Config(format!(
                    "{}: source.{message}",
                    config.file.display()
                )));
            }
            Err(other) => return Err(PrepareError::Other(anyhow!("{other}"))),
        };
        let retry_count = source
            .integer("retry_count")
            .map(|n| n.clamp(0, 20) as u32)
            .unwrap_or(3);
        let concurrent_downloads = source
            .integer("concurrent_downloads")
            .map(|n| n.clamp(1, 1000) as usize)
            .unwrap_or(100);
        let allow = AllowList::parse_all(plan.hosts.iter().map(String::as_str))
            .map_err(|e| anyhow!("the {} component declared a bad host: {e}", info.id))?;
        let (token_hosts, tokens) = match &plan.oauth2 {
            None => (AllowList::default(), None),
            Some(oauth) => {
                let token_hosts = AllowList::parse_all(
                    oauth.token_hosts.iter().map(String::as_str),
                )
                .map_err(|e| anyhow!("the {} component declared a bad token host: {e}", info.id))?;
                for origin in token_hosts.origins() {
                    if !allow.origins().contains(origin) {
                        return Err(PrepareError::Other(anyhow!(
                            "the {} component wants its token sent to {origin}, which it did not declare as a host",
                            info.id
                        )));
                    }
                }
                let token_url = url::Url::parse(&oauth.token_url).map_err(|e| {
                    anyhow!("the {} component declared a bad token URL: {e}", info.id)
                })?;
                if !allow.allows(&token_url) {
                    return Err(PrepareError::Other(anyhow!(
                        "the {} component's token endpoint {} is not among its declared hosts",
                        info.id,
                        oauth.token_url
                    )));
                }
                let client_id = source.text(&oauth.client_id_field).ok_or_else(|| {
                    PrepareError::Config(format!(
                        "{}: source.{}: required to obtain an access token",
                        config.file.display(),
                        oauth.client_id_field
                    ))
                })?;
                let refresh_token = source.secrets.get(&oauth.refresh_token_field).cloned();
                let refresh_token = match refresh_token {
                    Some(token) => token,
                    None if !need_refresh_token => crate::http::Secret::new(""),
                    None => {
                        return Err(PrepareError::Config(format!(
                            "{}: source.{}: required; get one with `tributary auth --config {}`",
                            config.file.display(),
                            oauth.refresh_token_field,
                            config.file.display()
                        )));
                    }
                };
                let client_secret = source.secrets.get(&oauth.client_secret_field).cloned();
                let tokens = TokenSource::new(
                    client.clone(),
                    oauth.token_url.clone(),
                    client_id,
                    client_secret,
                    refresh_token,
                    retry_count,
                );
                (token_hosts, Some(Arc::new(tokens)))
            }
        };
        let http = Arc::new(HttpService::new(
            client,
            allow,
            token_hosts,
            tokens,
            Arc::new(Pacer::new()),
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
            retry_count,
            concurrent_downloads,
        })
    }

    /// A fresh sandbox for one run, wired to this tenant's HTTP policy.
    pub async fn instantiate(&self, runtime: &Runtime) -> anyhow::Result<Connector> {
        Connector::instantiate(
            runtime,
            &self.component,
            self.http.clone(),
            self.limits.clone(),
            &self.config.tenant,
        )
        .await
        .context("starting the component")
    }
}
