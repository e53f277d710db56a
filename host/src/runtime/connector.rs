//! One instantiated component in its own `Store`: typed, time-limited calls into it.
use super::WasmContext;
use super::bindings::{SourceConnector, guest};
use super::engine::{EPOCH_TICK, LoadedComponent, Runtime, SandboxLimits};
use super::host_state::HostState;
use crate::http::HttpService;
use anyhow::anyhow;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::ResourceAny;
use wasmtime::{Store, StoreLimitsBuilder, UpdateDeadline};

pub use guest::{Change, ConfigField, ConnectorInfo, Document, FieldKind, Page, Plan, WaitResult};

/// A recoverable error reported by the component (a WIT `error` value, not a trap).
#[derive(Debug, Clone, thiserror::Error)]
pub enum GuestError {
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("checkpoint expired: {0}")]
    CheckpointExpired(String),
    #[error("checkpoint does not belong to this configuration: {0}")]
    CheckpointMismatch(String),
    #[error("transient failure: {0}")]
    Transient(String),
    #[error("permanent failure: {0}")]
    Permanent(String),
}

impl From<guest::Error> for GuestError {
    fn from(e: guest::Error) -> Self {
        match e {
            guest::Error::InvalidConfig(m) => GuestError::InvalidConfig(m),
            guest::Error::Unauthorized(m) => GuestError::Unauthorized(m),
            guest::Error::CheckpointExpired(m) => GuestError::CheckpointExpired(m),
            guest::Error::CheckpointMismatch(m) => GuestError::CheckpointMismatch(m),
            guest::Error::Transient(m) => GuestError::Transient(m),
            guest::Error::Permanent(m) => GuestError::Permanent(m),
        }
    }
}

/// An instance of a source component, owned by one run.
pub struct Connector {
    store: Store<HostState>,
    bindings: SourceConnector,
    limits: SandboxLimits,
    name: String,
}

/// A `sync-session` resource inside a `Connector`.
pub struct Session {
    handle: ResourceAny,
}

impl Connector {
    pub async fn instantiate(
        runtime: &Runtime,
        component: &LoadedComponent,
        http: Arc<HttpService>,
        limits: SandboxLimits,
        tenant: &str,
    ) -> anyhow::Result<Connector> {
        let store_limits = StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes)
            .table_elements(1 << 20)
            .trap_on_grow_failure(true)
            .build();
        let mut state = HostState::new(
            http,
            store_limits,
            limits.max_response_bytes,
            tenant.to_string(),
        );
        state.cpu_ticks_left = limits
            .cpu_time
            .map(|cpu| (cpu.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64);
        let mut store = Store::new(runtime.engine(), state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut cx| {
            let state = cx.data_mut();
            if let Some(left) = state.cpu_ticks_left.as_mut() {
                if *left == 0 {
                    return Ok(UpdateDeadline::Interrupt);
                }
                *left -= 1;
            }
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(tokio::task::yield_now()),
            ))
        });
        let bindings = component
            .pre
            .instantiate_async(&mut store)
            .await
            .with_wasm_context(|| format!("instantiating {}", component.path.display()))?;
        Ok(Connector {
            store,
            bindings,
            limits,
            name: component
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        })
    }

    /// Swap the HTTP policy once the plan is known.
    pub fn set_http(&mut self, http: Arc<HttpService>) {
        self.store.data_mut().set_http(http);
    }

    pub async fn info(&mut self) -> anyhow::Result<ConnectorInfo> {
        let timeout = self.limits.call_timeout;
        let Connector {
            store, bindings, ..
        } = self;
        let api = bindings.tributary_source_source();
        let result = guarded(store, timeout, "info", |s| Box::pin(api.call_info(s))).await;
        self.explain(result)
    }

    pub async fn configure(&mut self, config: &str) -> anyhow::Result<Result<Plan, GuestError>> {
        let timeout = self.limits.call_timeout;
        let Connector {
            store, bindings, ..
        } = self;
        let api = bindings.tributary_source_source();
        let config = config.to_string();
        let result = guarded(store, timeout, "configure", |s| {
            Box::pin(async move { api.call_configure(s, &config).await })
        })
        .await;
        Ok(self.explain(result)?.map_err(GuestError::from))
    }

    pub async fn check(&mut self, config: &str) -> anyhow::Result<Result<String, GuestError>> {
        let timeout = self.limits.call_timeout;
        let Connector {
            store, bindings, ..
        } = self;
        let api = bindings.tributary_source_source();
        let config = config.to_string();
        let result = guarded(store, timeout, "check", |s| {
            Box::pin(async move { api.call_check(s, &config).await })
        })
        .await;
        Ok(self.explain(result)?.map_err(GuestError::from))
    }

    pub async fn wait_for_changes(
        &mut self,
        config: &str,
        checkpoint: &str,
        timeout_secs: u32,
    ) -> anyhow::Result<Result<WaitResult, GuestError>> {
        let timeout = Duration::from_secs(u64::from(timeout_secs) + 180);
        let Connector {
            store, bindings, ..
        } = self;
        let api = bindings.tributary_source_source();
        let (config, checkpoint) = (config.to_string(), checkpoint.to_string());
        let result = guarded(store, timeout, "wait-for-changes", |s| {
            Box::pin(async move {
                api.call_wait_for_changes(s, &config, &checkpoint, timeout_secs)
                    .await
            })
        })
        .await;
        Ok(self.explain(result)?.map_err(GuestError::from))
    }

    pub async fn start(
        &mut self,
        config: &str,
        checkpoint: Option<&str>,
    ) -> anyhow::Result<Result<Session, GuestError>> {
        let timeout = self.limits.call_timeout;
        let Connector {
            store, bindings, ..
        } = self;
        let api = bindings.tributary_source_source();
        let params = guest::StartParams {
            config: config.to_string(),
            checkpoint: checkpoint.map(str::to_string),
        };
        let result = guarded(store, timeout, "sync-session.start", |s| {
            Box::pin(async move { api.sync_session().call_start(s, &params).await })
        })
        .await;
        Ok(self
            .explain(result)?
            .map(|handle| Session { handle })
            .map_err(GuestError::from))
    }

    pub async fn next_page(
        &mut self,
        session: &Session,
    ) -> anyhow::Result<Result<Page, GuestError>> {
        let timeout = self.limits.call_timeout;
        let Connector {
            store, bindings, ..
        } = self;
        let api = bindings.tributary_source_source();
        let handle = session.handle;
        let result = guarded(store, timeout, "sync-session.next-page", |s| {
            Box::pin(async move { api.sync_session().call_next_page(s, handle).await })
        })
        .await;
        Ok(self.explain(result)?.map_err(GuestError::from))
    }

    /// Release a session's resource in the store.
    pub async fn finish(&mut self, session: Session) -> anyhow::Result<()> {
        session
            .handle
            .resource_drop_async(&mut self.store)
            .await
            .wasm_context("dropping the sync session")
    }

    /// Turn a trap into an error that says which component and what it printed.
    fn explain<T>(&self, result: anyhow::Result<T>) -> anyhow::Result<T> {
        result.map_err(|e| {
            let stderr = self.store.data().stderr_text();
            if stderr.is_empty() {
                e.context(format!("component {} failed", self.name))
            } else {
                e.context(format!(
                    "component {} failed; it printed: {stderr}",
                    self.name
                ))
            }
        })
    }
}

type BoxedCall<'a, T> = std::pin::Pin<Box<dyn Future<Output = wasmtime::Result<T>> + Send + 'a>>;

/// Run one guest call under the wall-clock limit and translate traps and timeouts.
async fn guarded<'a, T>(
    store: &'a mut Store<HostState>,
    timeout: Duration,
    what: &str,
    call: impl FnOnce(&'a mut Store<HostState>) -> BoxedCall<'a, T>,
) -> anyhow::Result<T> {
    match tokio::time::timeout(timeout, call(store)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(trap)) => {
            let reason = match trap.downcast_ref::<wasmtime::Trap>() {
                Some(wasmtime::Trap::Interrupt) => "ran out of its CPU-time budget".to_string(),
                Some(wasmtime::Trap::UnreachableCodeReached) => "panicked (trap)".to_string(),
                Some(other) => format!("trapped: {other}"),
                None => format!("trapped: {trap:#}"),
            };
            Err(anyhow!("{what} {reason}"))
        }
        Err(_) => Err(anyhow!(
            "{what} did not return within {}s; the run was stopped",
            timeout.as_secs()
        )),
    }
}
