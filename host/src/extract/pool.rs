//! The pooled extractor: one compiled component per process, a bounded set of instances per
//! pool (one pool per tenant), each reused for several documents and thrown away after a
//! trap, a timeout, too many uses or too much memory growth.
use super::bindings::{ExtractorPre, guest};
use super::limits::{ExtractLimits, Extraction, Metadata};
use super::sandbox::{Instance, SandboxState};
use crate::runtime::Runtime;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use wasmtime::component::Linker;

/// How instances are kept.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Instances alive at once (and so extractions running at once) per pool.
    pub max_instances: usize,
    /// Documents one instance extracts before it is replaced (bounds slow leaks).
    pub max_uses: u32,
    /// An instance whose memory grew past this is replaced after its document (linear
    /// memory never shrinks, and a pool of bloated instances would hold it all).
    pub recycle_memory_bytes: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_instances: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_uses: 200,
            recycle_memory_bytes: 64 << 20,
        }
    }
}

/// What a pool did (for tests, benchmarks and the run report).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub instantiations: u64,
    pub reuses: u64,
    pub discarded: u64,
}

/// The compiled component and what it reads: shared by every pool of the process.
struct Compiled {
    engine: wasmtime::Engine,
    pre: ExtractorPre<SandboxState>,
    extensions: HashSet<String>,
    file_names: HashSet<String>,
    path: PathBuf,
}

/// A pool of sandboxed extractor instances. `load` once per process; `for_tenant` gives each
/// tenant its own pool over the same compiled component, so instances (and whatever a
/// document left in their memory) are never shared across tenants.
#[derive(Clone)]
pub struct Extractor {
    compiled: Arc<Compiled>,
    pool: Arc<Pool>,
}

struct Pool {
    config: PoolConfig,
    idle: Mutex<Vec<Instance>>,
    slots: tokio::sync::Semaphore,
    instantiations: AtomicU64,
    reuses: AtomicU64,
    discarded: AtomicU64,
}

impl Pool {
    fn new(config: PoolConfig) -> Arc<Pool> {
        Arc::new(Pool {
            slots: tokio::sync::Semaphore::new(config.max_instances.max(1)),
            config,
            idle: Mutex::new(vec![]),
            instantiations: AtomicU64::new(0),
            reuses: AtomicU64::new(0),
            discarded: AtomicU64::new(0),
        })
    }
}

impl Extractor {
    /// Compile (or load from the engine's cache) the extractor component and ask it what it
    /// reads.
    pub async fn load(
        runtime: &Runtime,
        path: &Path,
        config: PoolConfig,
    ) -> anyhow::Result<Extractor> {
        let engine = runtime.engine().clone();
        let (component, _digest) = runtime
            .compile(path)
            .await
            .map_err(|e| anyhow::anyhow!("the extractor component: {e}"))?;
        let mut linker = Linker::<SandboxState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| anyhow::Error::from(e).context("linking WASI for the extractor"))?;
        let pre = linker.instantiate_pre(&component).map_err(|e| {
            anyhow::Error::from(e).context(format!(
                "{} needs imports the extractor sandbox does not give",
                path.display()
            ))
        })?;
        let pre = ExtractorPre::new(pre).map_err(|e| {
            anyhow::Error::from(e).context(format!(
                "{} does not export tributary:extractor/extract@0.1.x",
                path.display()
            ))
        })?;
        let mut probe = Instance::new(&engine, &pre, ExtractLimits::default().memory_bytes).await?;
        probe.arm(
            ExtractLimits::default().memory_bytes,
            std::time::Duration::from_secs(10),
        );
        let info = probe
            .bindings
            .tributary_extractor_extract()
            .call_info(&mut probe.store)
            .await
            .map_err(|e| anyhow::Error::from(e).context("asking the extractor what it reads"))?;
        let compiled = Arc::new(Compiled {
            engine,
            pre,
            extensions: info
                .extensions
                .into_iter()
                .map(|e| e.to_ascii_lowercase())
                .collect(),
            file_names: info
                .file_names
                .into_iter()
                .map(|e| e.to_ascii_lowercase())
                .collect(),
            path: path.to_path_buf(),
        });
        let pool = Pool::new(config);
        pool.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(probe);
        pool.instantiations.fetch_add(1, Ordering::Relaxed);
        Ok(Extractor { compiled, pool })
    }

    /// The bundled `extractor.wasm` (built by `make components`).
    pub fn bundled_path() -> anyhow::Result<PathBuf> {
        let candidates: Vec<PathBuf> = crate::config::bundled_component_dirs()
            .into_iter()
            .map(|dir| dir.join("extractor.wasm"))
            .collect();
        candidates
            .iter()
            .find(|p| p.is_file())
            .cloned()
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "no extractor component (looked in {}); build it with `make components`",
                    candidates
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }

    /// A new, empty pool over the same compiled component, for another tenant.
    pub fn for_tenant(&self) -> Extractor {
        Extractor {
            compiled: self.compiled.clone(),
            pool: Pool::new(self.pool.config.clone()),
        }
    }

    /// Whether the component reads this file name (so the download can be skipped).
    pub fn supports(&self, file_name: &str) -> bool {
        let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
        match base.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => {
                self.compiled.extensions.contains(&ext.to_ascii_lowercase())
            }
            _ => self
                .compiled
                .file_names
                .contains(base.trim_start_matches('.').to_ascii_lowercase().as_str()),
        }
    }

    pub fn stats(&self) -> PoolStats {
        PoolStats {
            instantiations: self.pool.instantiations.load(Ordering::Relaxed),
            reuses: self.pool.reuses.load(Ordering::Relaxed),
            discarded: self.pool.discarded.load(Ordering::Relaxed),
        }
    }

    /// Extract one document in a pooled sandbox. Never fails the caller: a bomb, a hang or a
    /// panic becomes `Skipped` with the reason, and that instance is thrown away.
    pub async fn extract(
        &self,
        file_name: &str,
        bytes: bytes::Bytes,
        limits: &ExtractLimits,
    ) -> Extraction {
        if !self.supports(file_name) {
            return Extraction::Skipped(unsupported_reason(file_name));
        }
        let Ok(_slot) = self.pool.slots.acquire().await else {
            return Extraction::Failed("the extractor pool was closed".into());
        };
        let idle = self
            .pool
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        let mut instance = match idle {
            Some(instance) => {
                self.pool.reuses.fetch_add(1, Ordering::Relaxed);
                instance
            }
            None => match Instance::new(
                &self.compiled.engine,
                &self.compiled.pre,
                limits.memory_bytes,
            )
            .await
            {
                Ok(instance) => {
                    self.pool.instantiations.fetch_add(1, Ordering::Relaxed);
                    instance
                }
                Err(e) => {
                    return Extraction::Failed(format!(
                        "the extractor {} could not start: {e:#}",
                        self.compiled.path.display()
                    ));
                }
            },
        };
        instance.arm(limits.memory_bytes, limits.cpu_time);
        let wit_limits = guest::Limits {
            max_chars: limits.max_chars,
            normalize_whitespace: limits.normalize_whitespace,
            max_inflated_bytes: limits.max_inflated_bytes,
        };
        let api = instance.bindings.tributary_extractor_extract();
        let call = api.call_extract(&mut instance.store, file_name, &bytes, wit_limits);
        let outcome = tokio::time::timeout(limits.timeout, call).await;
        let extraction = match outcome {
            Ok(Ok(Ok(document))) => Extraction::Text {
                text: document.text,
                truncated: document.truncated,
                metadata: Metadata {
                    format: document.metadata.format,
                    title: document.metadata.title,
                    author: document.metadata.author,
                    pages: document.metadata.pages,
                    sheets: document.metadata.sheets,
                    slides: document.metadata.slides,
                },
            },
            Ok(Ok(Err(failure))) => Extraction::Skipped(failure_reason(failure)),
            Ok(Err(trap)) => {
                let reason = self.trap_reason(&instance, &trap, limits);
                self.discard();
                return Extraction::Skipped(reason);
            }
            Err(_) => {
                // The call was dropped mid-flight: the instance's state is unknown.
                self.discard();
                return Extraction::Skipped(format!(
                    "timed out after {} s (wall-clock limit per extraction)",
                    limits.timeout.as_secs_f64()
                ));
            }
        };
        instance.uses += 1;
        let state = instance.store.data();
        if instance.uses >= self.pool.config.max_uses
            || state.memory.peak > self.pool.config.recycle_memory_bytes
        {
            self.discard();
        } else {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(instance);
        }
        extraction
    }

    fn discard(&self) {
        self.pool.discarded.fetch_add(1, Ordering::Relaxed);
    }

    fn trap_reason(
        &self,
        instance: &Instance,
        trap: &wasmtime::Error,
        limits: &ExtractLimits,
    ) -> String {
        if instance.store.data().memory.hit {
            return format!(
                "memory limit ({} MiB per extraction)",
                limits.memory_bytes >> 20
            );
        }
        match trap.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => format!(
                "CPU budget exhausted ({} s per extraction)",
                limits.cpu_time.as_secs_f64()
            ),
            Some(wasmtime::Trap::StackOverflow) => {
                "extractor stack overflow (deeply nested content)".to_string()
            }
            Some(wasmtime::Trap::UnreachableCodeReached) => {
                match panic_message(&instance.stderr_text()) {
                    Some(message) => format!("extractor panicked: {message}"),
                    None => "extractor panicked".to_string(),
                }
            }
            Some(other) => format!("extractor trapped: {other}"),
            None => format!("extractor trapped: {trap:#}"),
        }
    }
}

/// "MESSAGE (at crate-1.0/src/lib.rs:12:5)" from Rust's panic output on stderr.
fn panic_message(stderr: &str) -> Option<String> {
    let mut lines = stderr.lines();
    let header = lines.find(|l| l.contains("panicked at "))?;
    let location = header
        .rsplit("panicked at ")
        .next()
        .unwrap_or("")
        .trim_end_matches(':');
    // Registry paths are long and say nothing about the document: keep crate/src/file:line.
    let location = location
        .rfind("/src/")
        .and_then(|i| location[..i].rfind('/').map(|j| &location[j + 1..]))
        .unwrap_or(location);
    let message = lines.find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    Some(format!("{message} (at {location})"))
}

fn failure_reason(failure: guest::Failure) -> String {
    match failure {
        guest::Failure::Unsupported(m) => m,
        guest::Failure::Corrupt(m) => format!("corrupt ({m})"),
        guest::Failure::Encrypted(m) => format!("encrypted ({m})"),
        guest::Failure::Limit(m) => format!("limit ({m})"),
    }
}

fn unsupported_reason(file_name: &str) -> String {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => {
            format!("unsupported type .{}", ext.to_ascii_lowercase())
        }
        _ => "unsupported type (no extension)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_output_becomes_a_short_reason() {
        let stderr = "thread '<unnamed>' (1) panicked at /root/.cargo/registry/src/index/pdf-extract-0.12.1/src/lib.rs:2413:74:\nMediaBox\nnote: run with `RUST_BACKTRACE=1`";
        assert_eq!(
            panic_message(stderr).as_deref(),
            Some("MediaBox (at pdf-extract-0.12.1/src/lib.rs:2413:74)")
        );
        assert_eq!(panic_message("no panic here"), None);
        assert_eq!(
            unsupported_reason("dir.v2/Setup.EXE"),
            "unsupported type .exe"
        );
        assert_eq!(
            unsupported_reason(".bashrc"),
            "unsupported type (no extension)"
        );
    }
}
