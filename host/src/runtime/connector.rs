//! One instantiated component in its own `Store`: typed, time-limited calls into it, whatever
//! WIT version it was built against (one dispatcher over the supported versions; each
//! version's module converts its generated types into the host's own).
use super::engine::{ComponentPre, EPOCH_TICK, LoadedComponent, Runtime, SandboxLimits};
use super::host_state::{Grant, HostState};
use super::limits::GuestLimiter;
use super::{WasmContext, v0_1, v0_2};
use crate::http::HttpService;
use crate::source::{ConnectorInfo, GuestError, Page, Plan, WaitResult, WitVersion};
use anyhow::anyhow;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::ResourceAny;
use wasmtime::{Store, UpdateDeadline};

/// The instance's exports, per WIT version.
enum Instance {
    V0_1(v0_1::SourceConnector),
    V0_2(v0_2::SourceConnector),
}

type Guest<T> = Result<T, GuestError>;

/// One call per export, dispatched to the instance's WIT version.
impl Instance {
    fn info<'a>(&'a self, s: &'a mut Store<HostState>) -> BoxedCall<'a, ConnectorInfo> {
        match self {
            Instance::V0_1(b) => Box::pin(v0_1::info(b, s)),
            Instance::V0_2(b) => Box::pin(v0_2::info(b, s)),
        }
    }

    fn configure<'a>(
        &'a self,
        s: &'a mut Store<HostState>,
        config: String,
    ) -> BoxedCall<'a, Guest<Plan>> {
        match self {
            Instance::V0_1(b) => Box::pin(v0_1::configure(b, s, config)),
            Instance::V0_2(b) => Box::pin(v0_2::configure(b, s, config)),
        }
    }

    fn check<'a>(
        &'a self,
        s: &'a mut Store<HostState>,
        config: String,
    ) -> BoxedCall<'a, Guest<String>> {
        match self {
            Instance::V0_1(b) => Box::pin(v0_1::check(b, s, config)),
            Instance::V0_2(b) => Box::pin(v0_2::check(b, s, config)),
        }
    }

    fn wait_for_changes<'a>(
        &'a self,
        s: &'a mut Store<HostState>,
        config: String,
        checkpoint: String,
        timeout_secs: u32,
    ) -> BoxedCall<'a, Guest<WaitResult>> {
        match self {
            Instance::V0_1(b) => Box::pin(v0_1::wait_for_changes(
                b,
                s,
                config,
                checkpoint,
                timeout_secs,
            )),
            Instance::V0_2(b) => Box::pin(v0_2::wait_for_changes(
                b,
                s,
                config,
                checkpoint,
                timeout_secs,
            )),
        }
    }

    fn start<'a>(
        &'a self,
        s: &'a mut Store<HostState>,
        config: String,
        checkpoint: Option<String>,
    ) -> BoxedCall<'a, Guest<ResourceAny>> {
        match self {
            Instance::V0_1(b) => Box::pin(v0_1::start(b, s, config, checkpoint)),
            Instance::V0_2(b) => Box::pin(v0_2::start(b, s, config, checkpoint)),
        }
    }

    fn next_page<'a>(
        &'a self,
        s: &'a mut Store<HostState>,
        session: ResourceAny,
    ) -> BoxedCall<'a, Guest<Page>> {
        match self {
            Instance::V0_1(b) => Box::pin(v0_1::next_page(b, s, session)),
            Instance::V0_2(b) => Box::pin(v0_2::next_page(b, s, session)),
        }
    }
}

/// An instance of a source component, owned by one run.
pub struct Connector {
    store: Store<HostState>,
    instance: Instance,
    limits: SandboxLimits,
    name: String,
}

/// A `sync-session` resource inside a `Connector`.
pub struct Session {
    handle: ResourceAny,
}

type BoxedCall<'a, T> = std::pin::Pin<Box<dyn Future<Output = wasmtime::Result<T>> + Send + 'a>>;

impl Connector {
    pub async fn instantiate(
        runtime: &Runtime,
        component: &LoadedComponent,
        http: Arc<HttpService>,
        limits: SandboxLimits,
        tenant: &str,
        grants: &[Grant],
    ) -> anyhow::Result<Connector> {
        let limiter = GuestLimiter::new(limits.memory_bytes, runtime.memory_budget().clone());
        let mut state = HostState::new(
            http,
            limiter,
            limits.max_response_bytes,
            tenant.to_string(),
            grants,
        )?;
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
        let context = || format!("instantiating {}", component.path.display());
        let instance = match &component.pre {
            ComponentPre::V0_1(pre) => Instance::V0_1(
                pre.instantiate_async(&mut store)
                    .await
                    .with_wasm_context(context)?,
            ),
            ComponentPre::V0_2(pre) => Instance::V0_2(
                pre.instantiate_async(&mut store)
                    .await
                    .with_wasm_context(context)?,
            ),
        };
        Ok(Connector {
            store,
            instance,
            limits,
            name: component
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        })
    }

    /// The WIT version of this instance.
    pub fn api(&self) -> WitVersion {
        match self.instance {
            Instance::V0_1(_) => WitVersion::V0_1,
            Instance::V0_2(_) => WitVersion::V0_2,
        }
    }

    /// Tell the component whether this run fetches content (asked through `run.content-wanted`;
    /// components built against 0.2.0 or 0.1 do not ask and describe content regardless).
    pub fn set_content_wanted(&mut self, wanted: bool) {
        self.store.data_mut().content_wanted = wanted;
    }

    /// Swap the HTTP policy once the plan is known.
    pub fn set_http(&mut self, http: Arc<HttpService>) {
        self.store.data_mut().set_http(http);
    }

    pub async fn info(&mut self) -> anyhow::Result<ConnectorInfo> {
        let timeout = self.limits.call_timeout;
        let Connector {
            store, instance, ..
        } = self;
        let result = guarded(store, timeout, "info", |s| instance.info(s)).await;
        self.explain(result)
    }

    pub async fn configure(&mut self, config: &str) -> anyhow::Result<Result<Plan, GuestError>> {
        let timeout = self.limits.call_timeout;
        let Connector {
            store, instance, ..
        } = self;
        let config = config.to_string();
        let result = guarded(store, timeout, "configure", |s| {
            instance.configure(s, config)
        })
        .await;
        self.explain(result)
    }

    pub async fn check(&mut self, config: &str) -> anyhow::Result<Result<String, GuestError>> {
        let timeout = self.limits.call_timeout;
        let Connector {
            store, instance, ..
        } = self;
        let config = config.to_string();
        let result = guarded(store, timeout, "check", |s| instance.check(s, config)).await;
        self.explain(result)
    }

    pub async fn wait_for_changes(
        &mut self,
        config: &str,
        checkpoint: &str,
        timeout_secs: u32,
    ) -> anyhow::Result<Result<WaitResult, GuestError>> {
        let timeout = Duration::from_secs(u64::from(timeout_secs) + 180);
        let Connector {
            store, instance, ..
        } = self;
        let (config, checkpoint) = (config.to_string(), checkpoint.to_string());
        let result = guarded(store, timeout, "wait-for-changes", |s| {
            instance.wait_for_changes(s, config, checkpoint, timeout_secs)
        })
        .await;
        self.explain(result)
    }

    pub async fn start(
        &mut self,
        config: &str,
        checkpoint: Option<&str>,
    ) -> anyhow::Result<Result<Session, GuestError>> {
        let timeout = self.limits.call_timeout;
        let Connector {
            store, instance, ..
        } = self;
        let config = config.to_string();
        let checkpoint = checkpoint.map(str::to_string);
        let result = guarded(store, timeout, "sync-session.start", |s| {
            instance.start(s, config, checkpoint)
        })
        .await;
        Ok(self.explain(result)?.map(|handle| Session { handle }))
    }

    pub async fn next_page(
        &mut self,
        session: &Session,
    ) -> anyhow::Result<Result<Page, GuestError>> {
        let timeout = self.limits.call_timeout;
        let Connector {
            store, instance, ..
        } = self;
        let handle = session.handle;
        let result = guarded(store, timeout, "sync-session.next-page", |s| {
            instance.next_page(s, handle)
        })
        .await;
        let page = self.explain(result)?;
        Ok(match page {
            Ok(page) => self.within_limits(page),
            Err(e) => Err(self.with_limit_hit(e)),
        })
    }

    /// A refusal the component reports after one of the host's limits bit it (a response
    /// cut at `sandbox.max_response_bytes`, say) says so, and names the setting.
    fn with_limit_hit(&self, e: GuestError) -> GuestError {
        let Some(hit) = self.store.data().limit_hit() else {
            return e;
        };
        let add = |m: String| format!("{m} ({hit})");
        match e {
            GuestError::InvalidConfig(m) => GuestError::InvalidConfig(add(m)),
            GuestError::Unauthorized(m) => GuestError::Unauthorized(add(m)),
            GuestError::CheckpointExpired(m) => GuestError::CheckpointExpired(add(m)),
            GuestError::CheckpointMismatch(m) => GuestError::CheckpointMismatch(add(m)),
            GuestError::Transient(m) => GuestError::Transient(add(m)),
            GuestError::Permanent(m) => GuestError::Permanent(add(m)),
        }
    }

    /// A page the host accepts: within `max_page_changes`, `max_field_bytes` and
    /// `max_checkpoint_bytes`. Anything over ends the run with the setting named.
    fn within_limits(&self, page: Page) -> Result<Page, GuestError> {
        let limits = &self.limits;
        let over = |what: String, setting: &str, limit: usize| {
            GuestError::Permanent(format!(
                "component {} exceeded sandbox.{setting} = {limit}: {what}; raise [sandbox] {setting} if the component is right to send that much",
                self.name
            ))
        };
        if page.changes.len() > limits.max_page_changes {
            return Err(over(
                format!("a page had {} changes", page.changes.len()),
                "max_page_changes",
                limits.max_page_changes,
            ));
        }
        if let Some(checkpoint) = &page.checkpoint
            && checkpoint.len() > limits.max_checkpoint_bytes
        {
            return Err(over(
                format!("a checkpoint of {} bytes", checkpoint.len()),
                "max_checkpoint_bytes",
                limits.max_checkpoint_bytes,
            ));
        }
        for change in &page.changes {
            if let crate::source::Change::Upsert(doc) = change
                && doc.fields.len() > limits.max_field_bytes
            {
                return Err(over(
                    format!(
                        "document {:?} has {} bytes of fields",
                        doc.id.chars().take(200).collect::<String>(),
                        doc.fields.len()
                    ),
                    "max_field_bytes",
                    limits.max_field_bytes,
                ));
            }
        }
        Ok(page)
    }

    /// Release a session's resource in the store.
    pub async fn finish(&mut self, session: Session) -> anyhow::Result<()> {
        session
            .handle
            .resource_drop_async(&mut self.store)
            .await
            .wasm_context("dropping the sync session")
    }

    /// Turn a trap into an error that says which component, which limit it hit (and the
    /// setting that raises it) and what it printed.
    fn explain<T>(&self, result: anyhow::Result<T>) -> anyhow::Result<T> {
        result.map_err(|e| {
            let state = self.store.data();
            let mut context = format!("component {} failed", self.name);
            if let Some(hit) = state.limit_hit() {
                context.push_str(&format!(" ({hit})"));
            }
            let stderr = state.stderr_text();
            if !stderr.is_empty() {
                context.push_str(&format!("; it printed: {stderr}"));
            }
            e.context(context)
        })
    }
}

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
                Some(wasmtime::Trap::Interrupt) => {
                    "ran out of its CPU-time budget (raise sandbox.cpu_secs)".to_string()
                }
                Some(wasmtime::Trap::UnreachableCodeReached) => "panicked (trap)".to_string(),
                Some(wasmtime::Trap::StackOverflow) => "overflowed its stack (trap)".to_string(),
                Some(other) => format!("trapped: {other}"),
                // wasmtime's own guard on what one call may copy out of the guest.
                None if format!("{trap:#}").contains("too much data is being copied") => {
                    "returned more data in one call than the host copies (128 MiB): a page far over \
                     sandbox.max_page_changes or sandbox.max_field_bytes"
                        .to_string()
                }
                None => format!("trapped: {trap:#}"),
            };
            Err(anyhow!("{what} {reason}"))
        }
        Err(_) => Err(anyhow!(
            "{what} did not return within {}s (sandbox.call_timeout_secs); the run was stopped",
            timeout.as_secs()
        )),
    }
}
