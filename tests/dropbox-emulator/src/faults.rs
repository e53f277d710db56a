//! Reproducible fault injection: latency, 429s, 5xx and dropped connections per route prefix.

use crate::content::mix;
use crate::errors::ApiError;
use serde::Deserialize;

/// What a rule does.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// 429 with `Retry-After`.
    RateLimit,
    /// A 5xx status.
    ServerError,
    /// Close the connection without answering.
    Drop,
    /// Delay the answer.
    Latency,
}

/// One fault rule (the `/_admin/faults` body's `rules[]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// What to inject.
    pub kind: FaultKind,
    /// Only routes whose key starts with this (e.g. `files/`).
    #[serde(default)]
    pub route_prefix: Option<String>,
    /// Probability per matching request.
    #[serde(default = "one")]
    pub fraction: f64,
    /// Apply to at most this many requests.
    #[serde(default)]
    pub count: Option<u64>,
    /// 429: seconds in `Retry-After` and `error.retry_after`.
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
    /// 429: answer text/plain instead of JSON.
    #[serde(default)]
    pub text_body: bool,
    /// server_error: the status (default 500).
    #[serde(default)]
    pub status: Option<u16>,
    /// latency: milliseconds.
    #[serde(default)]
    pub latency_ms: Option<u64>,
}

fn one() -> f64 {
    1.0
}

/// Body of `POST /_admin/faults`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultConfig {
    /// RNG seed.
    #[serde(default)]
    pub seed: u64,
    /// Rules, evaluated in order.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// What to do with one request.
pub enum Decision {
    /// Answer with this error.
    Respond(ApiError),
    /// Close the connection.
    Drop,
}

/// Active rules plus the deterministic random stream.
pub struct Faults {
    rules: Vec<(Rule, u64)>,
    state: u64,
}

impl Faults {
    /// Rules with a seed.
    pub fn new(cfg: FaultConfig) -> Self {
        Faults {
            rules: cfg.rules.into_iter().map(|r| (r, 0)).collect(),
            state: mix(cfg.seed ^ 0xFA17),
        }
    }

    fn draw(&mut self) -> f64 {
        self.state = mix(self.state);
        (self.state >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Decide for a request on route key `route`: total latency and an optional terminal fault.
    pub fn decide(&mut self, route: &str) -> (u64, Option<Decision>) {
        let mut latency = 0;
        for i in 0..self.rules.len() {
            let (rule, used) = &self.rules[i];
            if rule
                .route_prefix
                .as_deref()
                .is_some_and(|p| !route.starts_with(p))
            {
                continue;
            }
            if rule.count.is_some_and(|c| *used >= c) {
                continue;
            }
            let fraction = rule.fraction;
            if self.draw() >= fraction {
                continue;
            }
            let (rule, used) = &mut self.rules[i];
            *used += 1;
            match rule.kind {
                FaultKind::Latency => latency += rule.latency_ms.unwrap_or(0),
                FaultKind::Drop => return (latency, Some(Decision::Drop)),
                FaultKind::RateLimit => {
                    return (
                        latency,
                        Some(Decision::Respond(ApiError::RateLimited {
                            retry_after: rule.retry_after_secs.unwrap_or(1),
                            text: rule.text_body,
                            reason: "too_many_requests",
                        })),
                    );
                }
                FaultKind::ServerError => {
                    let status = rule
                        .status
                        .filter(|s| (500..600).contains(s))
                        .unwrap_or(500);
                    return (
                        latency,
                        Some(Decision::Respond(ApiError::Status(
                            status,
                            "Internal Server Error (injected)".into(),
                        ))),
                    );
                }
            }
        }
        (latency, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_limits_a_burst_and_prefix_filters() {
        let mut f = Faults::new(FaultConfig {
            seed: 7,
            rules: vec![Rule {
                kind: FaultKind::RateLimit,
                route_prefix: Some("files/".into()),
                fraction: 1.0,
                count: Some(2),
                retry_after_secs: Some(3),
                text_body: false,
                status: None,
                latency_ms: None,
            }],
        });
        assert!(f.decide("users/get_current_account").1.is_none());
        assert!(f.decide("files/list_folder").1.is_some());
        assert!(f.decide("files/list_folder").1.is_some());
        assert!(f.decide("files/list_folder").1.is_none());
    }
}
