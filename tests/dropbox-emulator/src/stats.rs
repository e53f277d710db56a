//! Per-route request counters for `/_admin/stats`.

use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Default)]
struct RouteStats {
    count: u64,
    bytes: u64,
    statuses: BTreeMap<String, u64>,
}

/// Counters since start or the last reset.
#[derive(Default)]
pub struct Stats {
    total: u64,
    routes: BTreeMap<String, RouteStats>,
}

impl Stats {
    /// Count one request. `status` is `None` for a dropped connection.
    pub fn record(&mut self, route: &str, status: Option<u16>, bytes: u64) {
        self.total += 1;
        let r = self.routes.entry(route.to_string()).or_default();
        r.count += 1;
        r.bytes += bytes;
        let key = status.map_or_else(|| "dropped".to_string(), |s| s.to_string());
        *r.statuses.entry(key).or_default() += 1;
    }

    /// JSON snapshot.
    pub fn to_json(&self) -> Value {
        let routes: serde_json::Map<String, Value> = self
            .routes
            .iter()
            .map(|(k, r)| {
                (
                    k.clone(),
                    json!({"count": r.count, "bytes": r.bytes, "statuses": r.statuses}),
                )
            })
            .collect();
        json!({"total_requests": self.total, "routes": routes})
    }

    /// Zero everything.
    pub fn reset(&mut self) {
        *self = Stats::default();
    }
}
