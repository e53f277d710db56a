//! Command-line flags and turning them into a seeded, configured emulator.

use crate::app::{App, Config};
use crate::faults::{FaultConfig, FaultKind, Rule};
use crate::seed::{self, GenSpec};
use clap::Parser;
use std::path::PathBuf;
use std::sync::Arc;

/// Dropbox HTTP API v2 emulator: one port serves /2/... (RPC, content, notify),
/// /oauth2/token, /oauth2/authorize and the /_admin/... test-control API.
#[derive(Parser, Debug, Clone)]
#[command(name = "dropbox-emulator", version)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Also write the base URL (http://127.0.0.1:PORT) to this file.
    #[arg(long)]
    pub port_file: Option<PathBuf>,
    /// Mirror a local directory into the account root (team mode: the admin's home); `*.paper` files become Paper docs.
    #[arg(long)]
    pub seed_dir: Option<PathBuf>,
    /// JSON manifest: account, folders, files, paper, received_files, team (see docs/emulator.md).
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Deterministic generator, e.g. files=100000,depth=6,fanout=10,seed=7,max_size=1048576,paper=0.01,text=0.8
    #[arg(long)]
    pub generate: Option<GenSpec>,
    /// Deterministic team (team mode), e.g. members=200,files=500,groups=10,team_folders=2,shares=100,file_shares=200,wide=25,seed=7
    #[arg(long)]
    pub generate_team: Option<crate::team_gen::TeamGenSpec>,
    /// OAuth app key (client_id).
    #[arg(long, default_value = "emulator-app-key")]
    pub app_key: String,
    /// OAuth app secret (client_secret).
    #[arg(long, default_value = "emulator-app-secret")]
    pub app_secret: String,
    /// The account's valid refresh token.
    #[arg(long, default_value = "emulator-refresh-token")]
    pub refresh_token: String,
    /// Lifetime of issued access tokens (expires_in), seconds.
    #[arg(long, default_value_t = 14_400)]
    pub token_lifetime_secs: u64,
    /// Seed of the fault-injection random stream (faults are reproducible per seed and request order).
    #[arg(long, default_value_t = 0)]
    pub fault_seed: u64,
    /// Added latency on every API request, milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Fraction of API requests answered 429.
    #[arg(long, default_value_t = 0.0)]
    pub rate_limit_fraction: f64,
    /// Retry-After (and error.retry_after) of injected 429s, seconds.
    #[arg(long, default_value_t = 1)]
    pub retry_after_secs: u64,
    /// Send injected 429s as text/plain instead of JSON.
    #[arg(long)]
    pub rate_limit_text: bool,
    /// Fraction of API requests answered 500.
    #[arg(long, default_value_t = 0.0)]
    pub error_5xx_fraction: f64,
    /// Fraction of API requests whose connection is closed without a response.
    #[arg(long, default_value_t = 0.0)]
    pub drop_fraction: f64,
}

impl Args {
    /// Default flags (as if run with no arguments).
    pub fn defaults() -> Self {
        Args::parse_from(["dropbox-emulator"])
    }

    fn fault_rules(&self) -> Vec<Rule> {
        let rule = |kind, fraction| Rule {
            kind,
            route_prefix: None,
            fraction,
            count: None,
            retry_after_secs: Some(self.retry_after_secs),
            text_body: self.rate_limit_text,
            status: None,
            latency_ms: Some(self.latency_ms),
        };
        let mut rules = Vec::new();
        if self.latency_ms > 0 {
            rules.push(rule(FaultKind::Latency, 1.0));
        }
        if self.drop_fraction > 0.0 {
            rules.push(rule(FaultKind::Drop, self.drop_fraction));
        }
        if self.rate_limit_fraction > 0.0 {
            rules.push(rule(FaultKind::RateLimit, self.rate_limit_fraction));
        }
        if self.error_5xx_fraction > 0.0 {
            rules.push(rule(FaultKind::ServerError, self.error_5xx_fraction));
        }
        rules
    }

    /// Seed the world and build the shared state.
    pub fn build(&self) -> anyhow::Result<Arc<App>> {
        let manifest = self
            .manifest
            .as_deref()
            .map(seed::load_manifest)
            .transpose()?;
        let mut world = seed::world_from_manifest(manifest.as_ref())?;
        if let Some(dir) = &self.seed_dir {
            seed::mirror_dir(&mut world, dir)?;
        }
        if let Some(g) = &self.generate {
            seed::generate(&mut world, g)?;
        }
        if let Some(g) = &self.generate_team {
            crate::team_gen::generate_team(&mut world, g)?;
        }
        let config = Config {
            app_key: self.app_key.clone(),
            app_secret: self.app_secret.clone(),
            refresh_token: self.refresh_token.clone(),
            token_lifetime_secs: self.token_lifetime_secs,
            faults: FaultConfig {
                seed: self.fault_seed,
                rules: self.fault_rules(),
            },
        };
        Ok(Arc::new(App::new(config, world)))
    }
}
