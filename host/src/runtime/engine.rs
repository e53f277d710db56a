//! The process-wide engine, the epoch ticker and the compiled-component cache.
use super::WasmContext;
use super::bindings::SourceConnectorPre;
use super::host_state::HostState;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::Duration;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

/// The epoch ticks this often; guests yield to the executor at every tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Per-run sandbox limits.
#[derive(Debug, Clone)]
pub struct SandboxLimits {
    /// Cap on each linear memory of the component.
    pub memory_bytes: usize,
    /// Wall-clock cap on a single guest call (one page, one check).
    pub call_timeout: Duration,
    /// Cap on a response body handed to the component.
    pub max_response_bytes: u64,
    /// Total guest CPU time per run (None: unlimited; the wall-clock cap still applies).
    pub cpu_time: Option<Duration>,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            memory_bytes: 256 << 20,
            call_timeout: Duration::from_secs(600),
            max_response_bytes: 64 << 20,
            cpu_time: None,
        }
    }
}

/// One per process: shared by every tenant and connector.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linker: std::sync::Arc<Linker<HostState>>,
}

impl Runtime {
    /// Build the engine (with the on-disk compile cache in `cache_dir`) and start the ticker.
    pub fn new(cache_dir: Option<&Path>) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.max_wasm_stack(1 << 20);
        if let Some(dir) = cache_dir {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the compile cache {}", dir.display()))?;
            let mut cache_config = wasmtime::CacheConfig::new();
            cache_config.with_directory(dir);
            config.cache(Some(
                wasmtime::Cache::new(cache_config).wasm_context("opening the compile cache")?,
            ));
        }
        let engine = Engine::new(&config).wasm_context("creating the wasmtime engine")?;
        let weak = engine.weak();
        // A dedicated OS thread, not a tokio task: a spinning guest must not starve the ticker.
        std::thread::Builder::new()
            .name("tributary-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .context("starting the epoch ticker")?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).wasm_context("linking WASI")?;
        super::bindings::SourceConnector::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut linker,
            |state| state,
        )
        .wasm_context("linking the tributary:source imports")?;
        Ok(Runtime {
            engine,
            linker: std::sync::Arc::new(linker),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compile (or load from the cache) a component and type-check it against our world.
    pub async fn load(&self, path: &Path) -> anyhow::Result<LoadedComponent> {
        let bytes = tokio::fs::read(path)
            .await
            .with_context(|| format!("reading component {}", path.display()))?;
        let engine = self.engine.clone();
        let component = tokio::task::spawn_blocking(move || Component::new(&engine, &bytes))
            .await
            .context("compiling the component")?
            .with_wasm_context(|| format!("{} is not a valid component", path.display()))?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .with_wasm_context(|| format!("{} does not fit this host's imports", path.display()))?;
        let pre = SourceConnectorPre::new(pre).with_wasm_context(|| {
            format!(
                "{} does not export tributary:source/source@0.1.x",
                path.display()
            )
        })?;
        Ok(LoadedComponent {
            pre,
            path: path.to_path_buf(),
        })
    }
}

/// A compiled, linked component, ready to instantiate once per run.
#[derive(Clone)]
pub struct LoadedComponent {
    pub(crate) pre: SourceConnectorPre<HostState>,
    pub path: PathBuf,
}
