//! Basic sync rules, in the Elastic connectors' format, applied by the host to every source's
//! documents before any content is fetched: an ordered list of `field rule value → policy`;
//! the first rule whose condition holds decides; a document no rule matches is included.
//! A document a rule now excludes is removed from the index.
//!
//! ```toml
//! [[rules]]
//! field = "extension"
//! rule = "equals"          # equals, starts_with, ends_with, contains, regex, >, <
//! value = "tmp"
//! policy = "exclude"       # include | exclude
//! ```
use anyhow::{anyhow, bail};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Include,
    Exclude,
}

#[derive(Debug, Clone)]
enum Condition {
    Equals(String),
    StartsWith(String),
    EndsWith(String),
    Contains(String),
    /// Anchored at the start, as Elastic's `re.match` is.
    Regex(regex::Regex),
    GreaterThan(String),
    LessThan(String),
}

/// One rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The field, with dots into nested objects (`metadata.author`).
    pub field: String,
    condition: Condition,
    pub policy: Policy,
    /// As written, for messages and counts.
    pub text: String,
}

/// The rules of a tenant, in order.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    rules: Vec<Rule>,
    digest: String,
}

/// What the rules decided for one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub policy: Policy,
    /// The rule that decided (None: no rule matched, the default include).
    pub rule: Option<usize>,
}

/// Two rule lists are the same when they say the same (compiled regexes have no equality).
impl PartialEq for Rules {
    fn eq(&self, other: &Self) -> bool {
        self.digest == other.digest
    }
}

impl Rules {
    /// Parse the `[[rules]]` array of a tenant file (`file` names it in messages).
    pub fn parse(file: &str, value: &toml::Value) -> anyhow::Result<Rules> {
        let list = value.as_array().ok_or_else(|| {
            anyhow!("{file}: rules: expected [[rules]] tables (field, rule, value, policy)")
        })?;
        let mut rules = vec![];
        for (i, item) in list.iter().enumerate() {
            let at = format!("{file}: rules[{i}]");
            let table = item
                .as_table()
                .ok_or_else(|| anyhow!("{at}: expected a table with field, rule, value, policy"))?;
            let get = |key: &str| -> anyhow::Result<String> {
                match table.get(key) {
                    Some(toml::Value::String(s)) => Ok(s.clone()),
                    Some(toml::Value::Integer(n)) => Ok(n.to_string()),
                    Some(toml::Value::Float(n)) => Ok(n.to_string()),
                    Some(toml::Value::Boolean(b)) => Ok(b.to_string()),
                    Some(other) => bail!("{at}.{key}: expected a string, got {}", other.type_str()),
                    None => bail!("{at}.{key}: required"),
                }
            };
            for key in table.keys() {
                if !matches!(
                    key.as_str(),
                    "field" | "rule" | "value" | "policy" | "id" | "order"
                ) {
                    bail!("{at}.{key}: unknown field (known: field, rule, value, policy)");
                }
            }
            let field = get("field")?;
            if field.trim().is_empty() {
                bail!("{at}.field: empty; name a document field, e.g. \"extension\"");
            }
            let value = get("value")?;
            let rule = get("rule")?;
            let condition = match rule.as_str() {
                "equals" => Condition::Equals(value.clone()),
                "starts_with" => Condition::StartsWith(value.clone()),
                "ends_with" => Condition::EndsWith(value.clone()),
                "contains" => Condition::Contains(value.clone()),
                "regex" => {
                    Condition::Regex(regex::Regex::new(&format!("^(?:{value})")).map_err(|e| {
                        anyhow!("{at}.value: {value:?} is not a regular expression: {e}")
                    })?)
                }
                ">" | "greater_than" => Condition::GreaterThan(value.clone()),
                "<" | "less_than" => Condition::LessThan(value.clone()),
                other => bail!(
                    "{at}.rule: {other:?} is not a rule (use equals, starts_with, ends_with, contains, regex, > or <)"
                ),
            };
            let policy = match get("policy")?.as_str() {
                "include" => Policy::Include,
                "exclude" => Policy::Exclude,
                other => bail!("{at}.policy: {other:?}: use include or exclude"),
            };
            rules.push(Rule {
                text: format!(
                    "{} {field} {rule} {value:?}",
                    if policy == Policy::Include {
                        "include"
                    } else {
                        "exclude"
                    }
                ),
                field,
                condition,
                policy,
            });
        }
        let digest = hex::encode(Sha256::digest(
            rules
                .iter()
                .map(|r| r.text.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        ));
        Ok(Rules { rules, digest })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Identifies the rules: when it changes, documents indexed under the old rules must be
    /// looked at again (a full enumeration).
    pub fn digest(&self) -> Option<&str> {
        (!self.rules.is_empty()).then_some(self.digest.as_str())
    }

    /// Decide a document.
    pub fn decide(&self, fields: &Map<String, Value>) -> Decision {
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.matches(fields) {
                return Decision {
                    policy: rule.policy,
                    rule: Some(i),
                };
            }
        }
        Decision {
            policy: Policy::Include,
            rule: None,
        }
    }
}

impl Rule {
    fn matches(&self, fields: &Map<String, Value>) -> bool {
        let mut parts = self.field.split('.');
        let Some(first) = parts.next() else {
            return false;
        };
        let mut value = fields.get(first);
        for part in parts {
            value = value.and_then(|v| v.get(part));
        }
        match value {
            None | Some(Value::Null) => false,
            Some(Value::Array(items)) => items.iter().any(|v| self.holds(v)),
            Some(v) => self.holds(v),
        }
    }

    fn holds(&self, value: &Value) -> bool {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match &self.condition {
            Condition::Equals(want) => match (text.parse::<f64>(), want.parse::<f64>()) {
                (Ok(a), Ok(b)) => a == b,
                _ => &text == want,
            },
            Condition::StartsWith(want) => text.starts_with(want.as_str()),
            Condition::EndsWith(want) => text.ends_with(want.as_str()),
            Condition::Contains(want) => text.contains(want.as_str()),
            Condition::Regex(re) => re.is_match(&text),
            Condition::GreaterThan(want) => {
                compare(&text, want) == Some(std::cmp::Ordering::Greater)
            }
            Condition::LessThan(want) => compare(&text, want) == Some(std::cmp::Ordering::Less),
        }
    }
}

/// How many documents each rule decided, for the report and `tributary check --count`.
#[derive(Debug, Clone, Default)]
pub struct RuleCounts {
    by_rule: Vec<u64>,
    /// Documents no rule matched (the default include).
    pub unmatched: u64,
}

impl RuleCounts {
    pub fn count(&mut self, decision: Decision) {
        match decision.rule {
            Some(i) => {
                if self.by_rule.len() <= i {
                    self.by_rule.resize(i + 1, 0);
                }
                self.by_rule[i] += 1;
            }
            None => self.unmatched += 1,
        }
    }

    /// One line per rule (in order) and the default: what it says, and how many it decided.
    pub fn summary(&self, rules: &Rules) -> Vec<(String, u64)> {
        let mut lines: Vec<(String, u64)> = rules
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.text.clone(), self.by_rule.get(i).copied().unwrap_or(0)))
            .collect();
        if !rules.is_empty() {
            lines.push(("include everything else (default)".into(), self.unmatched));
        }
        lines
    }
}

/// Numbers as numbers; anything else (RFC 3339 times included) as text.
fn compare(a: &str, b: &str) -> Option<std::cmp::Ordering> {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y),
        _ => Some(a.cmp(b)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(text: &str) -> anyhow::Result<Rules> {
        let value: toml::Table = toml::from_str(text).unwrap();
        Rules::parse("t.toml", &value["rules"])
    }

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn the_first_matching_rule_decides_and_the_default_includes() {
        let r = rules(
            r#"
            [[rules]]
            field = "path"
            rule = "starts_with"
            value = "/keep/"
            policy = "include"
            [[rules]]
            field = "extension"
            rule = "equals"
            value = "tmp"
            policy = "exclude"
            [[rules]]
            field = "size"
            rule = ">"
            value = "1000000"
            policy = "exclude"
            "#,
        )
        .unwrap();
        let d = |v| r.decide(&doc(v));
        assert_eq!(
            d(json!({"path": "/keep/a.tmp", "extension": "tmp"})).policy,
            Policy::Include
        );
        assert_eq!(
            d(json!({"path": "/x/a.tmp", "extension": "tmp"})).rule,
            Some(1)
        );
        assert_eq!(
            d(json!({"path": "/x/b", "size": 2_000_000})).policy,
            Policy::Exclude
        );
        assert_eq!(
            d(json!({"path": "/x/b", "size": 20})),
            Decision {
                policy: Policy::Include,
                rule: None
            }
        );
        // A missing field never matches.
        assert_eq!(d(json!({})).rule, None);
    }

    #[test]
    fn every_operator_and_nested_fields_and_lists() {
        let one = |rule: &str, value: &str, doc_value: Value| {
            let r = rules(&format!(
                "[[rules]]\nfield = \"a.b\"\nrule = \"{rule}\"\nvalue = {value:?}\npolicy = \"exclude\"\n"
            ))
            .unwrap();
            r.decide(&doc(json!({"a": {"b": doc_value}}))).policy == Policy::Exclude
        };
        assert!(one("equals", "10", json!(10.0)));
        assert!(one("ends_with", ".pdf", json!("x.pdf")));
        assert!(one("contains", "port", json!("report")));
        assert!(one("regex", "[0-9]{4}-", json!("2024-01")));
        assert!(
            !one("regex", "[0-9]{4}-", json!("x2024-01")),
            "anchored at the start"
        );
        assert!(one("<", "2025-01-01", json!("2024-12-31T00:00:00Z")));
        assert!(one("equals", "b", json!(["a", "b"])));
        assert!(!one("starts_with", "z", json!("abc")));
    }

    #[test]
    fn bad_rules_are_refused_naming_the_rule_and_the_fix() {
        let bad = |text: &str| rules(text).unwrap_err().to_string();
        assert!(
            bad("[[rules]]\nfield = \"x\"\nrule = \"like\"\nvalue = \"a\"\npolicy = \"include\"")
                .contains("rules[0].rule")
        );
        assert!(
            bad("[[rules]]\nfield = \"x\"\nrule = \"regex\"\nvalue = \"(\"\npolicy = \"include\"")
                .contains("rules[0].value")
        );
        assert!(
            bad("[[rules]]\nfield = \"x\"\nrule = \"equals\"\nvalue = \"a\"\npolicy = \"maybe\"")
                .contains("rules[0].policy")
        );
        assert!(
            bad("[[rules]]\nrule = \"equals\"\nvalue = \"a\"\npolicy = \"include\"")
                .contains("rules[0].field: required")
        );
    }

    #[test]
    fn the_digest_changes_with_the_rules() {
        let a = rules(
            "[[rules]]\nfield = \"x\"\nrule = \"equals\"\nvalue = \"a\"\npolicy = \"include\"",
        )
        .unwrap();
        let b = rules(
            "[[rules]]\nfield = \"x\"\nrule = \"equals\"\nvalue = \"b\"\npolicy = \"include\"",
        )
        .unwrap();
        assert_ne!(a.digest(), b.digest());
        assert_eq!(Rules::default().digest(), None);
    }
}
