//! What `tributary serve` reports about itself: Prometheus metrics (through the `metrics`
//! facade and its Prometheus exporter) and a health endpoint, on an optional listen address.
//! Metrics carry the tenant as a label.
use crate::report::SyncReport;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Install the Prometheus recorder (once per process) and serve `/metrics` and `/healthz` on
/// `listen`. `alive` is the Unix time (ms) the supervisor last looked around; health fails when
/// it is older than `stale_ms`.
pub async fn serve(
    listen: SocketAddr,
    alive: Arc<AtomicU64>,
    stale_ms: u64,
) -> anyhow::Result<SocketAddr> {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| anyhow::anyhow!("installing the metrics recorder: {e}"))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("listening on {listen} for /metrics: {e}"))?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (handle, alive) = (handle.clone(), alive.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let response = answer(req.uri().path(), &handle, &alive, stale_ms);
                    async move { Ok::<_, std::convert::Infallible>(response) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(bound)
}

fn answer(
    path: &str,
    handle: &PrometheusHandle,
    alive: &AtomicU64,
    stale_ms: u64,
) -> Response<Full<Bytes>> {
    let (status, body) = match path {
        "/metrics" => (StatusCode::OK, handle.render()),
        "/healthz" => {
            let age =
                crate::serve::coordination::now_ms().saturating_sub(alive.load(Ordering::Relaxed));
            if age <= stale_ms {
                (
                    StatusCode::OK,
                    format!("ok (supervisor looked {age} ms ago)\n"),
                )
            } else {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("stalled: the supervisor last looked {age} ms ago\n"),
                )
            }
        }
        _ => (StatusCode::NOT_FOUND, "try /metrics or /healthz\n".into()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

/// Count one finished run of `tenant`.
pub fn record_run(tenant: &str, kind: &str, report: &SyncReport, ok: bool) {
    let tenant = tenant.to_string();
    let result = if ok { "ok" } else { "failed" };
    metrics::counter!("tributary_runs_total", "tenant" => tenant.clone(), "kind" => kind.to_string(), "result" => result)
        .increment(1);
    metrics::counter!("tributary_documents_total", "tenant" => tenant.clone())
        .increment(report.seen);
    metrics::counter!("tributary_documents_deleted_total", "tenant" => tenant.clone())
        .increment(report.deleted + report.purged);
    metrics::counter!("tributary_bytes_downloaded_total", "tenant" => tenant.clone())
        .increment(report.bytes_downloaded);
    metrics::counter!("tributary_api_calls_total", "tenant" => tenant.clone())
        .increment(report.api_calls);
    metrics::counter!("tributary_retries_total", "tenant" => tenant.clone())
        .increment(report.retries);
    metrics::counter!("tributary_rate_limited_total", "tenant" => tenant.clone())
        .increment(report.rate_limited);
    metrics::histogram!("tributary_run_seconds", "tenant" => tenant.clone())
        .record(report.duration_secs);
    if let Some(limit) = limit_named(&report.outcome) {
        metrics::counter!("tributary_limit_hits_total", "tenant" => tenant, "limit" => limit)
            .increment(1);
    }
}

/// A lease of a dead runner was taken over.
pub fn record_takeover(tenant: &str) {
    metrics::counter!("tributary_lease_takeovers_total", "tenant" => tenant.to_string())
        .increment(1);
}

/// Runs in progress in this process.
pub fn set_running(n: usize) {
    metrics::gauge!("tributary_runs_in_progress").set(n as f64);
}

/// The sandbox setting a failure names (`sandbox.memory_mb`, ...), if any.
pub fn limit_named(outcome: &str) -> Option<String> {
    let start = outcome.find("sandbox.")?;
    let name: String = outcome[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        .collect();
    Some(name.trim_end_matches('.').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_a_failure_names_becomes_a_label() {
        assert_eq!(
            limit_named("failed: component x failed (the component ran out of memory: it asked for 65 MiB, over sandbox.memory_mb = 64)").as_deref(),
            Some("sandbox.memory_mb")
        );
        assert_eq!(limit_named("failed: HTTP 500"), None);
    }
}
