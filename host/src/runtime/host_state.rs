//! What one run's `Store` holds, and the version-independent host side of the component's
//! imports (each WIT version's module adapts its generated traits to these).
use super::limits::GuestLimiter;
use crate::http::{HttpError, HttpService, InboundResponse, OutboundRequest};
use futures::StreamExt;
use std::path::PathBuf;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};

/// How much of the component's stderr (panic messages) we keep.
const STDERR_CAPTURE_BYTES: usize = 64 << 10;
/// At most this many requests in one `send-many` call.
pub const MAX_SEND_MANY: usize = 1000;
/// Requests of one `send-many` call in flight at once.
const SEND_MANY_CONCURRENCY: usize = 16;
/// One log line of a component is cut to this many characters.
const MAX_LOG_CHARS: usize = 2000;
/// Prefetched requests kept per store, in flight or answered and not yet asked for.
pub const MAX_PREFETCHED: usize = 2;

/// A directory the tenant grants to the component, read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Where it is on this machine.
    pub host_path: PathBuf,
    /// Where the component sees it.
    pub guest_path: String,
}

pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: GuestLimiter,
    pub(crate) stderr: MemoryOutputPipe,
    http: Arc<HttpService>,
    max_response_bytes: u64,
    tenant: String,
    /// Epoch ticks of guest execution left before the run is interrupted (None: unlimited).
    pub(crate) cpu_ticks_left: Option<u64>,
    /// The last response refused for its size.
    response_limit_hit: Option<String>,
    /// Requests started early (`prefetch`), each waiting for the component's identical `send`.
    prefetched: Vec<Prefetched>,
    /// Whether the run fetches content (`run.content-wanted`); false when extraction is off.
    pub(crate) content_wanted: bool,
}

/// A request started before the component asked for it; aborted if never asked for.
struct Prefetched {
    request: OutboundRequest,
    outcome: tokio::task::JoinHandle<Result<InboundResponse, HttpError>>,
}

impl Drop for Prefetched {
    fn drop(&mut self) {
        self.outcome.abort();
    }
}

impl HostState {
    pub fn new(
        http: Arc<HttpService>,
        limits: GuestLimiter,
        max_response_bytes: u64,
        tenant: String,
        grants: &[Grant],
    ) -> anyhow::Result<Self> {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
        // No env, no args, no sockets: the `http` import is the only way out. The file system
        // is the granted directories only, read-only.
        let mut builder = WasiCtx::builder();
        // File-system calls of a granted directory run on the calling thread: they are
        // local `stat`/`read_dir`/`read` calls of microseconds, and a trip through
        // `spawn_blocking` for each cost the local-folder walk several times its own work.
        builder
            .allow_blocking_current_thread(true)
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        for grant in grants {
            builder
                .preopened_dir(&grant.host_path, &grant.guest_path, FsPerms::ReadOnly)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot grant {} to the component: {e}",
                        grant.host_path.display()
                    )
                })?;
        }
        let wasi = builder.build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(1024);
        Ok(HostState {
            wasi,
            table,
            limits,
            stderr,
            http,
            max_response_bytes,
            tenant,
            cpu_ticks_left: None,
            response_limit_hit: None,
            prefetched: Vec::new(),
            content_wanted: true,
        })
    }

    /// Replace the HTTP policy (after `configure` told us the hosts and credentials).
    pub fn set_http(&mut self, http: Arc<HttpService>) {
        self.prefetched.clear();
        self.http = http;
    }

    /// What the component wrote to stderr (its panic message, if it panicked).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_string()
    }

    /// One request from the component, under the tenant's policy; answered by its prefetch
    /// when the component started the identical request early.
    pub(crate) async fn send_outbound(
        &mut self,
        request: OutboundRequest,
    ) -> Result<InboundResponse, HttpError> {
        let result = match self.take_prefetched(&request) {
            Some(mut early) => match (&mut early.outcome).await {
                Ok(result) => result,
                Err(e) => Err(HttpError::Transport(format!(
                    "the prefetched request failed: {e}"
                ))),
            },
            None => self.http.send(&request, self.max_response_bytes).await,
        };
        if let Err(HttpError::Denied(m)) = &result {
            tracing::warn!(tenant = %self.tenant, "component request denied: {m}");
        }
        self.note_response_limit(&result);
        result
    }

    /// Start a request the component will `send` next, under the same policy. Declined
    /// (silently: the `send` then goes out as usual) when `MAX_PREFETCHED` are pending or the
    /// same request already is.
    pub(crate) fn prefetch_outbound(&mut self, request: OutboundRequest) {
        if self.prefetched.len() >= MAX_PREFETCHED
            || self.prefetched.iter().any(|p| p.request == request)
        {
            return;
        }
        let (http, max) = (self.http.clone(), self.max_response_bytes);
        let early = request.clone();
        let outcome = tokio::spawn(async move { http.send(&early, max).await });
        self.prefetched.push(Prefetched { request, outcome });
    }

    fn take_prefetched(&mut self, request: &OutboundRequest) -> Option<Prefetched> {
        let at = self.prefetched.iter().position(|p| &p.request == request)?;
        Some(self.prefetched.swap_remove(at))
    }

    /// Prefetched requests not yet asked for.
    #[cfg(test)]
    fn prefetched_pending(&self) -> usize {
        self.prefetched.len()
    }

    /// Why the last request was refused for its size, if it was (names the setting).
    pub(crate) fn note_response_limit(&mut self, result: &Result<InboundResponse, HttpError>) {
        if let Err(HttpError::TooLarge(n)) = result {
            let hit = format!(
                "a response of over {n} bytes was cut: sandbox.max_response_bytes = {}",
                self.max_response_bytes
            );
            tracing::warn!(tenant = %self.tenant, "{hit}; raise it if the component needs more");
            self.response_limit_hit = Some(hit);
        }
    }

    /// The limit a refusal in this store was due to, if any.
    pub(crate) fn limit_hit(&self) -> Option<String> {
        self.limits
            .hit
            .clone()
            .or_else(|| self.response_limit_hit.clone())
    }

    /// Independent requests, run concurrently; answers in request order.
    pub(crate) async fn send_many_outbound(
        &mut self,
        requests: Vec<OutboundRequest>,
    ) -> Vec<Result<InboundResponse, HttpError>> {
        if requests.len() > MAX_SEND_MANY {
            let refusal = HttpError::InvalidRequest(format!(
                "send-many takes at most {MAX_SEND_MANY} requests, got {}",
                requests.len()
            ));
            return requests.iter().map(|_| Err(refusal.clone())).collect();
        }
        let (http, max) = (self.http.clone(), self.max_response_bytes);
        let tenant = self.tenant.clone();
        let results: Vec<_> = futures::stream::iter(requests)
            .map(|request| {
                let (http, tenant) = (http.clone(), tenant.clone());
                async move {
                    let result = http.send(&request, max).await;
                    if let Err(HttpError::Denied(m)) = &result {
                        tracing::warn!(%tenant, "component request denied: {m}");
                    }
                    result
                }
            })
            .buffered(SEND_MANY_CONCURRENCY)
            .collect()
            .await;
        for result in &results {
            self.note_response_limit(result);
        }
        results
    }

    /// A log line from the component (untrusted: its length is capped).
    pub(crate) fn log_line(&self, level: tracing::Level, message: &str) {
        let message: String = message.chars().take(MAX_LOG_CHARS).collect();
        let tenant = &self.tenant;
        match level {
            tracing::Level::TRACE => tracing::trace!(%tenant, "component: {message}"),
            tracing::Level::DEBUG => tracing::debug!(%tenant, "component: {message}"),
            tracing::Level::INFO => tracing::info!(%tenant, "component: {message}"),
            tracing::Level::WARN => tracing::warn!(%tenant, "component: {message}"),
            _ => tracing::error!(%tenant, "component: {message}"),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::client::build_client;
    use crate::http::{AllowList, Pacer};
    use crate::runtime::limits::MemoryBudget;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An HTTP server on 127.0.0.1 that answers every request with the number of requests
    /// it has received (one per connection).
    async fn counting_server() -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
                    let body = n.to_string();
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        (url, count)
    }

    fn state_for(origin: &str) -> HostState {
        let allow = AllowList::parse_all([origin]).expect("origin");
        let http = HttpService::new(
            build_client().expect("client"),
            allow,
            AllowList::default(),
            None,
            Arc::new(Pacer::new()),
            0,
        );
        let limiter = GuestLimiter::new(64 << 20, Arc::new(MemoryBudget::unlimited()));
        HostState::new(Arc::new(http), limiter, 1 << 20, "t".into(), &[]).expect("state")
    }

    fn get(url: String) -> OutboundRequest {
        OutboundRequest::get(url)
    }

    #[tokio::test]
    async fn a_prefetched_request_answers_the_identical_send_without_a_second_request() {
        let (url, count) = counting_server().await;
        let mut state = state_for(&url);
        state.prefetch_outbound(get(format!("{url}/page/2")));
        let answer = state
            .send_outbound(get(format!("{url}/page/2")))
            .await
            .expect("answer");
        assert_eq!(&answer.body[..], b"1", "answered by the prefetch");
        assert_eq!(count.load(Ordering::SeqCst), 1);
        assert_eq!(state.prefetched_pending(), 0);
        // A prefetch serves once: the same request again goes out.
        let again = state
            .send_outbound(get(format!("{url}/page/2")))
            .await
            .expect("answer");
        assert_eq!(&again.body[..], b"2");
    }

    #[tokio::test]
    async fn a_different_request_is_sent_and_prefetches_are_bounded() {
        let (url, count) = counting_server().await;
        let mut state = state_for(&url);
        for page in 0..5 {
            state.prefetch_outbound(get(format!("{url}/page/{page}")));
        }
        // The same request twice is one prefetch.
        state.prefetch_outbound(get(format!("{url}/page/0")));
        assert_eq!(state.prefetched_pending(), MAX_PREFETCHED);
        state
            .send_outbound(get(format!("{url}/other")))
            .await
            .expect("answer");
        assert_eq!(state.prefetched_pending(), MAX_PREFETCHED);
        // Pages 0 and 1 went out early, then the other request; pages 2-4 were declined.
        for page in [1, 0] {
            state
                .send_outbound(get(format!("{url}/page/{page}")))
                .await
                .expect("answer");
        }
        assert_eq!(state.prefetched_pending(), 0);
        assert_eq!(count.load(Ordering::SeqCst), MAX_PREFETCHED + 1);
    }

    #[tokio::test]
    async fn a_prefetch_cannot_reach_a_host_off_the_allow_list() {
        let (allowed, _) = counting_server().await;
        let (other, count) = counting_server().await;
        let mut state = state_for(&allowed);
        state.prefetch_outbound(get(format!("{other}/secret")));
        let answer = state.send_outbound(get(format!("{other}/secret"))).await;
        assert!(matches!(answer, Err(HttpError::Denied(_))), "{answer:?}");
        assert_eq!(
            count.load(Ordering::SeqCst),
            0,
            "the other host was contacted"
        );
    }
}
