//! Counters for `GET /_proxy/stats`.

use crate::kind::Kind;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// How a request ended, as counted.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    /// Answered with this status (forwarded or injected).
    Status(u16),
    /// Connection closed before forwarding (or while down in refuse mode).
    DroppedBefore,
    /// Connection closed after the upstream answered.
    DroppedAfter,
}

#[derive(Default)]
struct KindStats {
    count: u64,
    statuses: BTreeMap<String, u64>,
}

/// Counters since start or the last reset.
#[derive(Default)]
pub struct Stats {
    total: u64,
    kinds: BTreeMap<&'static str, KindStats>,
    forwarded: u64,
    injected: u64,
    items_rejected: u64,
    items_forwarded: u64,
    connections_dropped: u64,
    dropped_after_forward: u64,
}

impl Stats {
    /// Count one request.
    pub fn record(&mut self, kind: Kind, outcome: Outcome, forwarded: bool) {
        self.total += 1;
        if forwarded {
            self.forwarded += 1;
        }
        let k = self.kinds.entry(kind.name()).or_default();
        k.count += 1;
        let key = match outcome {
            Outcome::Status(s) => s.to_string(),
            Outcome::DroppedBefore => {
                self.connections_dropped += 1;
                "dropped".into()
            }
            Outcome::DroppedAfter => {
                self.connections_dropped += 1;
                self.dropped_after_forward += 1;
                "dropped_after_forward".into()
            }
        };
        *k.statuses.entry(key).or_default() += 1;
    }

    /// Count an injected fault (status, drop, rejected items, latency).
    pub fn injected(&mut self) {
        self.injected += 1;
    }

    /// Count `_bulk` items forwarded and rejected.
    pub fn items(&mut self, forwarded: u64, rejected: u64) {
        self.items_forwarded += forwarded;
        self.items_rejected += rejected;
    }

    /// JSON snapshot.
    pub fn to_json(&self) -> Value {
        let kinds: serde_json::Map<String, Value> = self
            .kinds
            .iter()
            .map(|(k, s)| {
                (
                    k.to_string(),
                    json!({"count": s.count, "statuses": s.statuses}),
                )
            })
            .collect();
        json!({
            "total_requests": self.total,
            "forwarded": self.forwarded,
            "faults_injected": self.injected,
            "items_rejected": self.items_rejected,
            "items_forwarded": self.items_forwarded,
            "connections_dropped": self.connections_dropped,
            "dropped_after_forward": self.dropped_after_forward,
            "kinds": kinds,
        })
    }

    /// Zero everything.
    pub fn reset(&mut self) {
        *self = Stats::default();
    }
}
