//! The sandbox: one wasmtime `Engine` per process, a compiled component per connector, and a
//! fresh `Store` per run with a memory cap, epoch-based yielding and a wall-clock timeout
//! around every guest call. A trap ends that run only.
//!
//! The boundary: one module per supported WIT version (`v0_1`, `v0_2`) holds that version's
//! generated bindings and converts them into the host's own types (`crate::source`);
//! `connector` dispatches every call to the instance's version.
pub mod connector;
pub mod engine;
pub mod host_state;
pub mod limits;
mod v0_1;
mod v0_2;

pub use crate::source::GuestError;
pub use connector::{Connector, Session};
pub use engine::{LoadError, LoadedComponent, Runtime, SandboxLimits};
pub use host_state::Grant;
pub use limits::MemoryBudget;

/// `anyhow` context for `wasmtime::Error` results (wasmtime 42+ has its own error type).
pub(crate) trait WasmContext<T> {
    fn wasm_context<C: std::fmt::Display + Send + Sync + 'static>(
        self,
        context: C,
    ) -> anyhow::Result<T>;
    fn with_wasm_context<C: std::fmt::Display + Send + Sync + 'static>(
        self,
        context: impl FnOnce() -> C,
    ) -> anyhow::Result<T>;
}

impl<T> WasmContext<T> for wasmtime::Result<T> {
    fn wasm_context<C: std::fmt::Display + Send + Sync + 'static>(
        self,
        context: C,
    ) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::Error::from(e).context(context))
    }
    fn with_wasm_context<C: std::fmt::Display + Send + Sync + 'static>(
        self,
        context: impl FnOnce() -> C,
    ) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::Error::from(e).context(context()))
    }
}
