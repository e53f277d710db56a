//! Per-route request counters for `/_admin/stats`, and a timeline of requests for
//! `/_admin/stats/timeline` (when each arrived and was answered), so tests can check pacing.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Instant;

/// The timeline keeps at most this many requests (then counts the rest as not kept).
const TIMELINE_CAP: usize = 200_000;

#[derive(Default)]
struct RouteStats {
    count: u64,
    bytes: u64,
    statuses: BTreeMap<String, u64>,
}

/// One request of the timeline.
struct Event {
    /// Milliseconds since the stats were last reset.
    arrived_ms: f64,
    answered_ms: f64,
    route: String,
    /// `None`: the connection was dropped.
    status: Option<u16>,
    /// The `Retry-After` the answer carried, seconds.
    retry_after: Option<u64>,
}

/// Counters since start or the last reset.
pub struct Stats {
    total: u64,
    routes: BTreeMap<String, RouteStats>,
    since: Instant,
    timeline: Vec<Event>,
    not_kept: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            total: 0,
            routes: BTreeMap::new(),
            since: Instant::now(),
            timeline: Vec::new(),
            not_kept: 0,
        }
    }
}

/// How one answered request is counted.
pub struct Answered<'a> {
    pub route: &'a str,
    /// `None` for a dropped connection.
    pub status: Option<u16>,
    pub bytes: u64,
    pub arrived: Instant,
    pub retry_after: Option<u64>,
}

impl Stats {
    /// Count one request.
    pub fn record(&mut self, a: Answered<'_>) {
        self.total += 1;
        let r = self.routes.entry(a.route.to_string()).or_default();
        r.count += 1;
        r.bytes += a.bytes;
        let key = a
            .status
            .map_or_else(|| "dropped".to_string(), |s| s.to_string());
        *r.statuses.entry(key).or_default() += 1;
        if self.timeline.len() >= TIMELINE_CAP {
            self.not_kept += 1;
            return;
        }
        let ms = |t: Instant| t.saturating_duration_since(self.since).as_secs_f64() * 1000.0;
        self.timeline.push(Event {
            arrived_ms: ms(a.arrived),
            answered_ms: ms(Instant::now()),
            route: a.route.to_string(),
            status: a.status,
            retry_after: a.retry_after,
        });
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

    /// The requests whose route starts with `prefix`, in the order they were answered.
    pub fn timeline_json(&self, prefix: &str) -> Value {
        let events: Vec<Value> = self
            .timeline
            .iter()
            .filter(|e| e.route.starts_with(prefix))
            .map(|e| {
                json!({
                    "arrived_ms": e.arrived_ms,
                    "answered_ms": e.answered_ms,
                    "route": e.route,
                    "status": e.status,
                    "retry_after": e.retry_after,
                })
            })
            .collect();
        json!({"events": events, "not_kept": self.not_kept})
    }

    /// Zero everything; the timeline's clock starts again.
    pub fn reset(&mut self) {
        *self = Stats::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_filters_by_route_prefix_and_keeps_order() {
        let mut s = Stats::default();
        let arrived = Instant::now();
        for (route, status) in [
            ("files/download", Some(429)),
            ("users/x", Some(200)),
            ("files/download", None),
        ] {
            s.record(Answered {
                route,
                status,
                bytes: 1,
                arrived,
                retry_after: status.filter(|s| *s == 429).map(|_| 2),
            });
        }
        let t = s.timeline_json("files/");
        let events = t["events"].as_array().unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["status"], 429);
        assert_eq!(events[0]["retry_after"], 2);
        assert!(events[1]["status"].is_null());
        assert!(
            events[1]["answered_ms"].as_f64().unwrap() >= events[1]["arrived_ms"].as_f64().unwrap()
        );
        assert_eq!(
            s.to_json()["routes"]["files/download"]["statuses"]["dropped"],
            1
        );
    }
}
