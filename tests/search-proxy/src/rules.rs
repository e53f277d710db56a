//! Fault rules (`POST /_proxy/faults`) and the seeded decision for each request.

use crate::kind::Kind;
use crate::rng::{hash_str, mix, unit};
use serde::Deserialize;

/// Where a `drop` rule closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropPoint {
    /// Before forwarding: the search server never saw the request.
    Before,
    /// After the search server answered: it applied the request, the client saw no answer.
    After,
}

/// One rule. Matching: `kind`, `method` and `path_contains` (all optional, all must match),
/// then `skip` (let the first N matching requests through), then `fraction` (seeded), then
/// `count` (the first N hits only). Action: at most one of
/// `status`, `drop`, `item_429_fraction`; `latency_ms` adds to any of them or stands alone.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub kind: Option<Kind>,
    /// HTTP method, case-insensitive; alternatives separated by `|` (`"POST|PUT"`).
    #[serde(default)]
    pub method: Option<String>,
    /// A substring of the path (and query).
    #[serde(default)]
    pub path_contains: Option<String>,
    /// Let this many matching requests through before the rule applies (to fault the Nth).
    #[serde(default)]
    pub skip: u64,
    #[serde(default = "one")]
    pub fraction: f64,
    #[serde(default)]
    pub count: Option<u64>,
    /// Answer this status with an Elasticsearch-shaped error body, without forwarding.
    #[serde(default)]
    pub status: Option<u16>,
    /// Close the connection without answering.
    #[serde(default)]
    pub drop: Option<DropPoint>,
    /// Delay before forwarding (or before the injected answer).
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// `_bulk` only: reject this fraction of the items with 429 (they are not forwarded).
    #[serde(default)]
    pub item_429_fraction: Option<f64>,
    /// With `item_429_fraction`: decide per document id instead of per attempt, so the same
    /// documents are rejected every time (a persistently overloaded shard).
    #[serde(default)]
    pub item_429_sticky: bool,
}

fn one() -> f64 {
    1.0
}

impl Rule {
    /// A rule that cannot do what it says is refused when it is posted, not ignored later.
    pub fn validate(&self) -> Result<(), String> {
        let actions = [
            self.status.is_some(),
            self.drop.is_some(),
            self.item_429_fraction.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if actions > 1 {
            return Err("a rule takes at most one of status, drop, item_429_fraction".into());
        }
        if actions == 0 && self.latency_ms.is_none() {
            return Err(
                "a rule needs an action: status, drop, item_429_fraction or latency_ms".into(),
            );
        }
        if !(0.0..=1.0).contains(&self.fraction) {
            return Err(format!("fraction {} is not in [0, 1]", self.fraction));
        }
        if let Some(s) = self.status
            && !(400..600).contains(&s)
        {
            return Err(format!("status {s} is not an error status (400..599)"));
        }
        if let Some(f) = self.item_429_fraction {
            if !(0.0..=1.0).contains(&f) {
                return Err(format!("item_429_fraction {f} is not in [0, 1]"));
            }
            if self.kind.is_some_and(|k| k != Kind::Bulk) {
                return Err("item_429_fraction applies to kind \"bulk\" only".into());
            }
        }
        Ok(())
    }

    fn matches(&self, kind: Kind, method: &str, path: &str) -> bool {
        self.kind.is_none_or(|k| k == kind)
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.split('|').any(|m| m.trim().eq_ignore_ascii_case(method)))
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| path.contains(p))
            && (self.item_429_fraction.is_none() || kind == Kind::Bulk)
    }
}

/// Body of `POST /_proxy/faults`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultConfig {
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    Forward,
    Status(u16),
    Drop(DropPoint),
    RejectItems { fraction: f64, sticky: bool },
}

/// The decision for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub latency_ms: u64,
    pub action: Action,
}

/// How often a rule matched and how often it fired.
#[derive(Debug, Default, Clone, Copy)]
struct Uses {
    matched: u64,
    fired: u64,
}

/// The active rules with their use counts, and the random stream.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<(Rule, Uses)>,
    seed: u64,
    state: u64,
}

impl Faults {
    /// Validated rules; the first invalid one is named in the error.
    pub fn new(cfg: FaultConfig) -> Result<Faults, String> {
        for (i, r) in cfg.rules.iter().enumerate() {
            r.validate().map_err(|e| format!("rules[{i}]: {e}"))?;
        }
        Ok(Faults {
            rules: cfg
                .rules
                .into_iter()
                .map(|r| (r, Uses::default()))
                .collect(),
            seed: cfg.seed,
            state: mix(cfg.seed ^ 0x005E_A2C4),
        })
    }

    fn draw(&mut self) -> f64 {
        self.state = mix(self.state);
        unit(self.state)
    }

    /// Rules in order: latencies add up, the first other action that fires decides.
    pub fn decide(&mut self, kind: Kind, method: &str, path: &str) -> Decision {
        let mut latency_ms = 0;
        for i in 0..self.rules.len() {
            let (rule, uses) = &mut self.rules[i];
            if !rule.matches(kind, method, path) {
                continue;
            }
            uses.matched += 1;
            if uses.matched <= rule.skip || rule.count.is_some_and(|c| uses.fired >= c) {
                continue;
            }
            let fraction = rule.fraction;
            if self.draw() >= fraction {
                continue;
            }
            let (rule, uses) = &mut self.rules[i];
            uses.fired += 1;
            latency_ms += rule.latency_ms.unwrap_or(0);
            let action = if let Some(s) = rule.status {
                Action::Status(s)
            } else if let Some(d) = rule.drop {
                Action::Drop(d)
            } else if let Some(f) = rule.item_429_fraction {
                Action::RejectItems {
                    fraction: f,
                    sticky: rule.item_429_sticky,
                }
            } else {
                continue;
            };
            return Decision { latency_ms, action };
        }
        Decision {
            latency_ms,
            action: Action::Forward,
        }
    }

    /// Whether to reject each `_bulk` item (`keys` are the items' `index/id`, or their
    /// position when they have no id). Sticky: a pure function of the seed and the key.
    pub fn reject_items(&mut self, keys: &[String], fraction: f64, sticky: bool) -> Vec<bool> {
        keys.iter()
            .map(|k| {
                if sticky {
                    unit(mix(self.seed ^ hash_str(k))) < fraction
                } else {
                    self.draw() < fraction
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn faults(v: serde_json::Value) -> Faults {
        Faults::new(serde_json::from_value(v).unwrap()).unwrap()
    }

    #[test]
    fn count_limits_hits_and_kind_and_method_filter() {
        let mut f = faults(json!({"rules": [
            {"kind": "state", "method": "PUT", "status": 503, "count": 2}
        ]}));
        let put = |f: &mut Faults| f.decide(Kind::State, "PUT", "/s/_doc/t").action;
        assert_eq!(
            f.decide(Kind::State, "GET", "/s/_doc/t").action,
            Action::Forward
        );
        assert_eq!(
            f.decide(Kind::Bulk, "PUT", "/d/_bulk").action,
            Action::Forward
        );
        assert_eq!(put(&mut f), Action::Status(503));
        assert_eq!(put(&mut f), Action::Status(503));
        assert_eq!(put(&mut f), Action::Forward);
    }

    #[test]
    fn skip_lets_the_first_matches_through_and_methods_take_alternatives() {
        let mut f = faults(json!({"rules": [
            {"kind": "state", "method": "post|PUT", "drop": "after", "skip": 1, "count": 1}
        ]}));
        let write = |f: &mut Faults, m: &str| f.decide(Kind::State, m, "/s/_doc/t").action;
        assert_eq!(write(&mut f, "GET"), Action::Forward);
        assert_eq!(write(&mut f, "POST"), Action::Forward);
        assert_eq!(write(&mut f, "PUT"), Action::Drop(DropPoint::After));
        assert_eq!(write(&mut f, "POST"), Action::Forward);
    }

    #[test]
    fn latency_adds_up_and_the_first_terminal_rule_wins() {
        let mut f = faults(json!({"rules": [
            {"latency_ms": 5},
            {"kind": "mget", "drop": "after"},
            {"kind": "mget", "status": 500}
        ]}));
        assert_eq!(
            f.decide(Kind::Mget, "POST", "/d/_mget"),
            Decision {
                latency_ms: 5,
                action: Action::Drop(DropPoint::After)
            }
        );
    }

    #[test]
    fn fraction_is_seeded_and_reproducible() {
        let rules = json!({"seed": 9, "rules": [{"status": 503, "fraction": 0.5}]});
        let run = |v: serde_json::Value| {
            let mut f = faults(v);
            (0..64)
                .map(|_| f.decide(Kind::Bulk, "POST", "/_bulk").action == Action::Forward)
                .collect::<Vec<_>>()
        };
        let a = run(rules.clone());
        assert_eq!(a, run(rules));
        let hits = a.iter().filter(|x| !**x).count();
        assert!((16..=48).contains(&hits), "{hits} of 64 at fraction 0.5");
    }

    #[test]
    fn sticky_item_rejection_gives_a_document_the_same_fate_every_time() {
        let mut f = faults(json!({"seed": 3, "rules": []}));
        let keys: Vec<String> = (0..200).map(|i| format!("docs/id{i}")).collect();
        let a = f.reject_items(&keys, 0.6, true);
        let b = f.reject_items(&keys, 0.6, true);
        assert_eq!(a, b);
        let n = a.iter().filter(|x| **x).count();
        assert!((90..=150).contains(&n), "{n} of 200 at 0.6");
    }

    #[test]
    fn nonsense_rules_are_refused() {
        for bad in [
            json!({"rules": [{"kind": "bulk"}]}),
            json!({"rules": [{"status": 503, "drop": "before"}]}),
            json!({"rules": [{"status": 200}]}),
            json!({"rules": [{"kind": "mget", "item_429_fraction": 0.5}]}),
            json!({"rules": [{"status": 503, "fraction": 2.0}]}),
        ] {
            let cfg: FaultConfig = serde_json::from_value(bad.clone()).unwrap();
            assert!(Faults::new(cfg).is_err(), "accepted {bad}");
        }
        assert!(
            serde_json::from_value::<FaultConfig>(json!({"rules": [{"stauts": 503}]})).is_err()
        );
    }
}
