//! One extractor instance in its own `Store`: an empty WASI context, a memory cap that
//! remembers whether it was hit, and a CPU budget counted in epoch ticks.
use super::bindings::Extractor as ExtractorWorld;
use super::bindings::ExtractorPre;
use crate::runtime::engine::EPOCH_TICK;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// How much of the guest's stderr (panic messages) is kept.
const STDERR_CAPTURE_BYTES: usize = 16 << 10;

/// A memory cap that records the largest size granted and whether a growth was refused.
pub struct MemoryCap {
    pub cap: usize,
    pub peak: usize,
    pub hit: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.hit = true;
            // Trap rather than let the guest see a failed `memory.grow` (Rust aborts anyway).
            return Err(wasmtime::Error::msg("memory limit reached"));
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

pub struct SandboxState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub memory: MemoryCap,
    pub stderr: MemoryOutputPipe,
    /// Epoch ticks of guest execution left for the current document.
    pub cpu_ticks_left: u64,
}

impl WasiView for SandboxState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// An instantiated extractor, reused for several documents of one pool.
pub struct Instance {
    pub store: Store<SandboxState>,
    pub bindings: ExtractorWorld,
    pub uses: u32,
}

impl Instance {
    pub async fn new(
        engine: &wasmtime::Engine,
        pre: &ExtractorPre<SandboxState>,
        memory_bytes: usize,
    ) -> anyhow::Result<Instance> {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
        // Nothing but stderr: no preopened directories, no environment, no arguments, no
        // sockets. Bytes come in as an argument and text goes out as the result.
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(256);
        let state = SandboxState {
            wasi,
            table,
            memory: MemoryCap {
                cap: memory_bytes,
                peak: 0,
                hit: false,
            },
            stderr,
            cpu_ticks_left: u64::MAX,
        };
        let mut store = Store::new(engine, state);
        store.limiter(|state| &mut state.memory);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut cx| {
            let state = cx.data_mut();
            if state.cpu_ticks_left == 0 {
                return Ok(UpdateDeadline::Interrupt);
            }
            state.cpu_ticks_left -= 1;
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(tokio::task::yield_now()),
            ))
        });
        let bindings = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| anyhow::Error::from(e).context("instantiating the extractor"))?;
        Ok(Instance {
            store,
            bindings,
            uses: 0,
        })
    }

    /// Set the per-document budgets before a call.
    pub fn arm(&mut self, memory_bytes: usize, cpu_time: std::time::Duration) {
        // Count from now: a deadline left over from the previous document has passed while
        // the instance sat idle, and would make this call yield at its first instruction.
        self.store.set_epoch_deadline(1);
        let state = self.store.data_mut();
        state.memory.cap = memory_bytes;
        state.memory.hit = false;
        state.cpu_ticks_left = (cpu_time.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
    }

    pub fn stderr_text(&self) -> String {
        let text = String::from_utf8_lossy(&self.store.data().stderr.contents())
            .trim()
            .to_string();
        text.chars().take(500).collect()
    }
}
