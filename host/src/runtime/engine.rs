//! The process-wide engine, the epoch ticker and the compiled-component cache.
use super::WasmContext;
use super::host_state::HostState;
use super::limits::MemoryBudget;
use super::{v0_1, v0_2};
use crate::source::WitVersion;
use anyhow::Context;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

/// The epoch ticks this often; guests yield to the executor at every tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Per-run sandbox limits (see `config::SandboxSection` for the settings that set them).
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
    /// Changes in one page.
    pub max_page_changes: usize,
    /// Bytes of one document's fields JSON.
    pub max_field_bytes: usize,
    /// Bytes of one checkpoint.
    pub max_checkpoint_bytes: usize,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits::from(&crate::config::SandboxSection::default())
    }
}

impl From<&crate::config::SandboxSection> for SandboxLimits {
    fn from(s: &crate::config::SandboxSection) -> Self {
        SandboxLimits {
            memory_bytes: usize::try_from(s.memory_mb << 20).unwrap_or(usize::MAX),
            call_timeout: Duration::from_secs(s.call_timeout_secs),
            max_response_bytes: s.max_response_bytes,
            cpu_time: s.cpu_secs.map(Duration::from_secs),
            max_page_changes: usize::try_from(s.max_page_changes).unwrap_or(usize::MAX),
            max_field_bytes: usize::try_from(s.max_field_bytes).unwrap_or(usize::MAX),
            max_checkpoint_bytes: usize::try_from(s.max_checkpoint_bytes).unwrap_or(usize::MAX),
        }
    }
}

/// One per process: shared by every tenant and connector.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linker: std::sync::Arc<Linker<HostState>>,
    /// Guest memory of every store of this process together.
    memory: std::sync::Arc<MemoryBudget>,
    /// Components compiled in this process, by the SHA-256 of their bytes: every tenant
    /// using the same component shares one compiled artifact and one `InstancePre`.
    registry: std::sync::Arc<Registry>,
}

/// Compiled components by digest, source components linked and type-checked by digest, and
/// which digest a file had when last read.
#[derive(Default)]
struct Registry {
    components: std::sync::Mutex<std::collections::HashMap<String, Component>>,
    by_digest: std::sync::Mutex<std::collections::HashMap<String, LoadedComponent>>,
    by_file:
        std::sync::Mutex<std::collections::HashMap<PathBuf, (std::time::SystemTime, u64, String)>>,
}

impl Runtime {
    /// Build the engine (with the on-disk compile cache in `cache_dir`) and start the ticker.
    pub fn new(cache_dir: Option<&Path>) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.max_wasm_stack(1 << 20);
        // `perf` names the components' functions (a /tmp/perf-<pid>.map) when asked to:
        // profiling the sandboxed code is otherwise a wall of anonymous addresses.
        if std::env::var_os("TRIBUTARY_PERF_MAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
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
        v0_1::add_to_linker(&mut linker)
            .wasm_context("linking the tributary:source@0.1 imports")?;
        v0_2::add_to_linker(&mut linker)
            .wasm_context("linking the tributary:source@0.2 imports")?;
        Ok(Runtime {
            engine,
            linker: std::sync::Arc::new(linker),
            memory: std::sync::Arc::new(MemoryBudget::unlimited()),
            registry: Default::default(),
        })
    }

    /// Cap the guest memory of all stores together (`tributary serve`).
    pub fn with_memory_budget(mut self, budget: MemoryBudget) -> Self {
        self.memory = std::sync::Arc::new(budget);
        self
    }

    /// The process-wide guest memory budget.
    pub fn memory_budget(&self) -> &std::sync::Arc<MemoryBudget> {
        &self.memory
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compile a component (any world), once per process: an unchanged file is not read
    /// again, and the same bytes from anywhere are compiled once. Returns the component and
    /// the SHA-256 of its bytes.
    pub async fn compile(&self, path: &Path) -> Result<(Component, String), LoadError> {
        let unreadable = |e: std::io::Error| LoadError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let stat = tokio::fs::metadata(path).await.map_err(unreadable)?;
        let modified = stat.modified().map_err(unreadable)?;
        let known = self
            .registry
            .by_file
            .lock()
            .ok()
            .and_then(|files| files.get(path).cloned())
            .filter(|(m, len, _)| *m == modified && *len == stat.len())
            .and_then(|(_, _, digest)| self.component(&digest).map(|c| (c, digest)));
        if let Some(known) = known {
            return Ok(known);
        }
        let bytes = tokio::fs::read(path).await.map_err(unreadable)?;
        let digest = hex::encode(Sha256::digest(&bytes));
        if let Ok(mut files) = self.registry.by_file.lock() {
            files.insert(
                path.to_path_buf(),
                (modified, bytes.len() as u64, digest.clone()),
            );
        }
        if let Some(component) = self.component(&digest) {
            return Ok((component, digest));
        }
        let engine = self.engine.clone();
        let component = tokio::task::spawn_blocking(move || Component::new(&engine, &bytes))
            .await
            .map_err(|e| LoadError::Other(anyhow::anyhow!("compiling the component: {e}")))?
            .map_err(|e| LoadError::NotAComponent {
                path: path.to_path_buf(),
                reason: format!("{:#}", anyhow::Error::from(e)),
            })?;
        if let Ok(mut components) = self.registry.components.lock() {
            components.insert(digest.clone(), component.clone());
        }
        Ok((component, digest))
    }

    fn component(&self, digest: &str) -> Option<Component> {
        self.registry
            .components
            .lock()
            .ok()
            .and_then(|c| c.get(digest).cloned())
    }

    /// Compile (or take from this process's registry) a source component, find which
    /// `tributary:source` version it exports, and type-check it against that version's world.
    /// Every tenant using the same component shares one `InstancePre`.
    pub async fn load(&self, path: &Path) -> Result<LoadedComponent, LoadError> {
        let (component, digest) = self.compile(path).await?;
        if let Some(loaded) = self.compiled(&digest) {
            return Ok(loaded);
        }
        let api = exported_version(&self.engine, &component).map_err(|reason| {
            LoadError::Unsupported {
                path: path.to_path_buf(),
                reason,
            }
        })?;
        let misfit = |e: wasmtime::Error| LoadError::Unsupported {
            path: path.to_path_buf(),
            reason: format!(
                "it does not fit this host's tributary:source@{api} world: {:#}",
                anyhow::Error::from(e)
            ),
        };
        let linked = self.linker.instantiate_pre(&component).map_err(misfit)?;
        let pre = match api {
            WitVersion::V0_1 => {
                ComponentPre::V0_1(v0_1::SourceConnectorPre::new(linked).map_err(misfit)?)
            }
            WitVersion::V0_2 => {
                ComponentPre::V0_2(v0_2::SourceConnectorPre::new(linked).map_err(misfit)?)
            }
        };
        let component = LoadedComponent {
            pre,
            path: path.to_path_buf(),
            api,
            digest: digest.clone(),
        };
        if let Ok(mut compiled) = self.registry.by_digest.lock() {
            compiled.insert(digest, component.clone());
        }
        Ok(component)
    }

    fn compiled(&self, digest: &str) -> Option<LoadedComponent> {
        self.registry
            .by_digest
            .lock()
            .ok()
            .and_then(|compiled| compiled.get(digest).cloned())
    }

    /// Components compiled in this process.
    pub fn compiled_count(&self) -> usize {
        self.registry.by_digest.lock().map(|c| c.len()).unwrap_or(0)
    }
}

/// The `tributary:source` version a component exports, if this host supports it.
fn exported_version(engine: &Engine, component: &Component) -> Result<WitVersion, String> {
    const PREFIX: &str = "tributary:source/source@";
    let supported = || {
        WitVersion::SUPPORTED
            .iter()
            .map(|v| format!("{v}.x"))
            .collect::<Vec<_>>()
            .join(" and ")
    };
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let Some(version) = exports.iter().find_map(|name| name.strip_prefix(PREFIX)) else {
        return Err(format!(
            "it is not a tributary source component: it exports {} but not {PREFIX}<version>",
            if exports.is_empty() {
                "nothing".to_string()
            } else {
                exports.join(", ")
            }
        ));
    };
    let mut parts = version.split('.');
    let major_minor = (parts.next(), parts.next());
    match major_minor {
        (Some("0"), Some("1")) => Ok(WitVersion::V0_1),
        (Some("0"), Some("2")) => Ok(WitVersion::V0_2),
        _ => Err(format!(
            "it was built against tributary:source@{version}; this runner supports {}. \
             Rebuild the component against a supported version, or upgrade tributary",
            supported()
        )),
    }
}

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the component {}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("{} is not a WebAssembly component: {reason}", path.display())]
    NotAComponent { path: PathBuf, reason: String },
    #[error("{} cannot run here: {reason}", path.display())]
    Unsupported { path: PathBuf, reason: String },
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// A component's pre-instantiated form, per WIT version.
#[derive(Clone)]
pub(crate) enum ComponentPre {
    V0_1(v0_1::SourceConnectorPre<HostState>),
    V0_2(v0_2::SourceConnectorPre<HostState>),
}

/// A compiled, linked component, ready to instantiate once per run.
#[derive(Clone)]
pub struct LoadedComponent {
    pub(crate) pre: ComponentPre,
    pub path: PathBuf,
    /// The WIT version it was built against.
    pub api: WitVersion,
    /// SHA-256 of the component's bytes.
    pub digest: String,
}
