//! What one run's `Store` holds, and the host side of the component's imports.
use super::bindings::{http, logging, types};
use crate::http::{HttpError, HttpService, OutboundRequest};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// How much of the component's stderr (panic messages) we keep.
const STDERR_CAPTURE_BYTES: usize = 64 << 10;

pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: StoreLimits,
    pub(crate) stderr: MemoryOutputPipe,
    http: Arc<HttpService>,
    max_response_bytes: u64,
    tenant: String,
    /// Epoch ticks of guest execution left before the run is interrupted (None: unlimited).
    pub(crate) cpu_ticks_left: Option<u64>,
}

impl HostState {
    pub fn new(
        http: Arc<HttpService>,
        limits: StoreLimits,
        max_response_bytes: u64,
        tenant: String,
    ) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
        // No preopens, no env, no args, no sockets: the `http` import is the only way out.
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(1024);
        HostState {
            wasi,
            table,
            limits,
            stderr,
            http,
            max_response_bytes,
            tenant,
            cpu_ticks_left: None,
        }
    }

    /// Replace the HTTP policy (after `configure` told us the hosts and credentials).
    pub fn set_http(&mut self, http: Arc<HttpService>) {
        self.http = http;
    }

    /// What the component wrote to stderr (its panic message, if it panicked).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_string()
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for HostState {}

pub(crate) fn outbound(req: types::Request) -> OutboundRequest {
    let method = match req.method {
        types::Method::Get => reqwest::Method::GET,
        types::Method::Head => reqwest::Method::HEAD,
        types::Method::Post => reqwest::Method::POST,
        types::Method::Put => reqwest::Method::PUT,
        types::Method::Patch => reqwest::Method::PATCH,
        types::Method::Delete => reqwest::Method::DELETE,
    };
    OutboundRequest {
        method,
        url: req.url,
        headers: req.headers.into_iter().map(|h| (h.name, h.value)).collect(),
        body: req.body,
        authorized: req.authorized,
        timeout: req.timeout_ms.map(|ms| Duration::from_millis(ms.into())),
    }
}

impl http::Host for HostState {
    async fn send(
        &mut self,
        req: types::Request,
    ) -> wasmtime::Result<Result<http::Response, http::Error>> {
        let request = outbound(req);
        let result = self.http.send(&request, self.max_response_bytes).await;
        Ok(match result {
            Ok(response) => Ok(http::Response {
                status: response.status,
                headers: response
                    .headers
                    .into_iter()
                    .map(|(name, value)| types::Header { name, value })
                    .collect(),
                body: response.body.to_vec(),
            }),
            Err(HttpError::Denied(m)) => {
                tracing::warn!(tenant = %self.tenant, "component request denied: {m}");
                Err(http::Error::Denied(m))
            }
            Err(HttpError::InvalidRequest(m)) => Err(http::Error::InvalidRequest(m)),
            Err(HttpError::Transport(m)) => Err(http::Error::Transport(m)),
            Err(HttpError::TooLarge(n)) => Err(http::Error::TooLarge(n)),
            Err(HttpError::Credential(m)) => Err(http::Error::Credential(m)),
        })
    }
}

impl logging::Host for HostState {
    async fn log(&mut self, level: logging::Level, message: String) -> wasmtime::Result<()> {
        // Components are untrusted: cap what one line can put in our logs.
        let message: String = message.chars().take(2000).collect();
        let tenant = &self.tenant;
        match level {
            logging::Level::Trace => tracing::trace!(%tenant, "component: {message}"),
            logging::Level::Debug => tracing::debug!(%tenant, "component: {message}"),
            logging::Level::Info => tracing::info!(%tenant, "component: {message}"),
            logging::Level::Warn => tracing::warn!(%tenant, "component: {message}"),
            logging::Level::Error => tracing::error!(%tenant, "component: {message}"),
        }
        Ok(())
    }
}
