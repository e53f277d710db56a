//! Shared emulator state handed to every request: the world, tokens, faults, stats.

use crate::faults::{FaultConfig, Faults};
use crate::oauth::Tokens;
use crate::state::World;
use crate::stats::Stats;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::sync::watch;

/// Settings fixed at start.
#[derive(Debug, Clone)]
pub struct Config {
    /// OAuth app key (client_id).
    pub app_key: String,
    /// OAuth app secret.
    pub app_secret: String,
    /// The account's valid refresh token.
    pub refresh_token: String,
    /// Access-token lifetime, seconds.
    pub token_lifetime_secs: u64,
    /// Initial fault rules.
    pub faults: FaultConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            app_key: "emulator-app-key".into(),
            app_secret: "emulator-app-secret".into(),
            refresh_token: "emulator-refresh-token".into(),
            token_lifetime_secs: 14_400,
            faults: FaultConfig {
                seed: 0,
                rules: Vec::new(),
            },
        }
    }
}

/// Everything a request handler can reach.
pub struct App {
    /// Start-up settings.
    pub config: Config,
    world: RwLock<World>,
    tokens: Mutex<Tokens>,
    faults: Mutex<Faults>,
    stats: Mutex<Stats>,
    changes: watch::Sender<u64>,
    requests: AtomicU64,
}

impl App {
    /// Wrap a seeded world.
    pub fn new(config: Config, world: World) -> Self {
        let tokens = Tokens::new(&config.refresh_token, config.token_lifetime_secs, 0x5EED);
        let faults = Faults::new(config.faults.clone());
        let (changes, _) = watch::channel(0);
        App {
            config,
            world: RwLock::new(world),
            tokens: Mutex::new(tokens),
            faults: Mutex::new(faults),
            stats: Mutex::new(Stats::default()),
            changes,
            requests: AtomicU64::new(0),
        }
    }

    /// Read access to the world.
    pub fn read_world(&self) -> RwLockReadGuard<'_, World> {
        self.world.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access; call [`App::notify`] after journaling.
    pub fn write_world(&self) -> RwLockWriteGuard<'_, World> {
        self.world.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Wake longpolls (after a journal append or a cursor reset).
    pub fn notify(&self) {
        self.changes.send_modify(|v| *v += 1);
    }

    /// Subscribe to change notifications.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Token store.
    pub fn tokens(&self) -> MutexGuard<'_, Tokens> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fault rules.
    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counters.
    pub fn stats(&self) -> MutexGuard<'_, Stats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh `X-Dropbox-Request-Id`.
    pub fn request_id(&self) -> String {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        format!(
            "{:032x}",
            crate::content::mix(n) as u128 | ((n as u128) << 64)
        )
    }
}
