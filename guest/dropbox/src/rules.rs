//! Advanced sync rules in Elastic's format: a JSON array of `files/search_v2` queries.
//!
//! ```json
//! [{"query": "budget",
//!   "options": {"path": "/Finance", "max_results": 100, "order_by": {".tag": "relevance"},
//!               "file_status": {".tag": "active"}, "account_id": "dbid:…",
//!               "file_extensions": ["pdf", "xlsx"], "file_categories": [{".tag": "paper"}]},
//!   "match_field_options": {"include_highlights": false}}]
//! ```
//! Validation (no network) checks the shape and names the rule and the fix; `rule_search`
//! runs the rules against the live account.

use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::path::validate_path;

/// Options `files/search_v2` accepts inside `options`.
const OPTION_NAMES: &[&str] = &[
    "path",
    "max_results",
    "order_by",
    "file_status",
    "filename_only",
    "account_id",
    "file_extensions",
    "file_categories",
];
const ORDER_BY: &[&str] = &["relevance", "last_modified_time"];
const FILE_STATUS: &[&str] = &["active", "deleted"];
const CATEGORIES: &[&str] = &[
    "image",
    "document",
    "pdf",
    "spreadsheet",
    "presentation",
    "audio",
    "video",
    "folder",
    "paper",
    "others",
];
/// Dropbox caps a search query at this many characters.
const MAX_QUERY_CHARS: usize = 1000;

/// One validated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvancedRule {
    pub query: String,
    /// `options` as Dropbox wants them (`max_results` as a number, `path` normalised).
    pub options: Map<String, Value>,
    pub match_field_options: Option<Value>,
}

impl AdvancedRule {
    /// The `files/search_v2` argument; `default_path` scopes a rule that names no path.
    pub fn search_arg(&self, default_path: &str) -> Value {
        let mut options = self.options.clone();
        if !options.contains_key("path") && !default_path.is_empty() {
            options.insert("path".into(), json!(default_path));
        }
        let mut arg = json!({"query": self.query});
        if !options.is_empty() {
            arg["options"] = Value::Object(options);
        }
        if let Some(m) = &self.match_field_options {
            arg["match_field_options"] = m.clone();
        }
        arg
    }

    /// The rule's own path, if it has one.
    pub fn path(&self) -> Option<&str> {
        self.options.get("path").and_then(Value::as_str)
    }

    /// A short description for messages, e.g. `rule 2 ("budget" in /Finance)`.
    pub fn describe(&self, index: usize) -> String {
        match self.path() {
            Some(p) => format!("rule {index} ({:?} in {p})", self.query),
            None => format!("rule {index} ({:?})", self.query),
        }
    }
}

/// Parse `advanced_rules` (JSON text or an already-parsed array). Rules are numbered from 1
/// in messages, as a person counts them.
pub fn parse(value: &Value) -> Result<Vec<AdvancedRule>, Error> {
    let parsed;
    let list = match value {
        Value::Null => return Ok(Vec::new()),
        Value::String(s) if s.trim().is_empty() => return Ok(Vec::new()),
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).map_err(|e| {
                invalid(format!(
                    "is not valid JSON ({e}); write a JSON array of rules such as [{{\"query\": \"budget\", \"options\": {{\"path\": \"/Finance\"}}}}]"
                ))
            })?;
            &parsed
        }
        other => other,
    };
    let Value::Array(items) = list else {
        return Err(invalid(format!(
            "must be a JSON array of rules, got {}; wrap the rule in [ ]",
            kind(list)
        )));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| rule(i + 1, item))
        .collect()
}

pub(crate) fn invalid(why: String) -> Error {
    Error::InvalidConfig(format!("advanced_rules: {why}"))
}

fn rule_error(n: usize, why: String) -> Error {
    invalid(format!("rule {n}: {why}"))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn rule(n: usize, item: &Value) -> Result<AdvancedRule, Error> {
    let Value::Object(map) = item else {
        return Err(rule_error(
            n,
            format!(
                "must be an object like {{\"query\": \"…\"}}, got {}",
                kind(item)
            ),
        ));
    };
    if let Some(extra) = map
        .keys()
        .find(|k| !["query", "options", "match_field_options"].contains(&k.as_str()))
    {
        return Err(rule_error(
            n,
            format!(
                "unknown key {extra:?}; a rule has only \"query\", \"options\" and \"match_field_options\""
            ),
        ));
    }
    let query = match map.get("query") {
        Some(Value::String(q)) if !q.trim().is_empty() => q.clone(),
        Some(Value::String(_)) => {
            return Err(rule_error(
                n,
                "\"query\" is empty; give the words to search for".into(),
            ));
        }
        Some(other) => {
            return Err(rule_error(
                n,
                format!("\"query\" must be a string, got {}", kind(other)),
            ));
        }
        None => {
            return Err(rule_error(
                n,
                "\"query\" is missing; every rule needs the words to search for".into(),
            ));
        }
    };
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(rule_error(
            n,
            format!("\"query\" is longer than Dropbox's {MAX_QUERY_CHARS} characters; shorten it"),
        ));
    }
    let options = match map.get("options") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(o)) => options(n, o)?,
        Some(other) => {
            return Err(rule_error(
                n,
                format!("\"options\" must be an object, got {}", kind(other)),
            ));
        }
    };
    let match_field_options = match map.get("match_field_options") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(other) => {
            return Err(rule_error(
                n,
                format!(
                    "\"match_field_options\" must be an object, got {}",
                    kind(other)
                ),
            ));
        }
    };
    Ok(AdvancedRule {
        query,
        options,
        match_field_options,
    })
}

fn options(n: usize, o: &Map<String, Value>) -> Result<Map<String, Value>, Error> {
    let mut out = Map::new();
    for (key, value) in o {
        let opt = |why: String| rule_error(n, format!("options.{key} {why}"));
        let checked = match key.as_str() {
            "path" => {
                let Value::String(p) = value else {
                    return Err(opt(format!("must be a string, got {}", kind(value))));
                };
                let p = validate_path(p).map_err(|e| {
                    opt(e
                        .message()
                        .strip_prefix("path: ")
                        .unwrap_or(e.message())
                        .to_string())
                })?;
                if p.is_empty() {
                    // search_v2 wants no path for the whole Dropbox.
                    continue;
                }
                json!(p)
            }
            "max_results" => {
                // Elastic's schema declares it a string; Dropbox wants a number: take both.
                let parsed = match value {
                    Value::Number(x) => x.as_u64(),
                    Value::String(s) => s.trim().parse::<u64>().ok(),
                    _ => None,
                };
                match parsed {
                    Some(m) if (1..=1000).contains(&m) => json!(m),
                    _ => {
                        return Err(opt(format!(
                            "must be a whole number from 1 to 1000, got {value}"
                        )));
                    }
                }
            }
            "order_by" => tag_option(value, ORDER_BY).map_err(opt)?,
            "file_status" => tag_option(value, FILE_STATUS).map_err(opt)?,
            "filename_only" => match value {
                Value::Bool(_) => value.clone(),
                _ => return Err(opt(format!("must be true or false, got {value}"))),
            },
            "account_id" => match value {
                Value::String(s) if !s.trim().is_empty() => value.clone(),
                _ => {
                    return Err(opt(format!(
                        "must be a Dropbox account id such as \"dbid:…\", got {value}"
                    )));
                }
            },
            "file_extensions" => {
                let list = non_empty_list(value).map_err(opt)?;
                let mut exts = Vec::with_capacity(list.len());
                for e in list {
                    match e {
                        Value::String(s) if !s.trim().trim_start_matches('.').is_empty() => {
                            exts.push(json!(s.trim().trim_start_matches('.')));
                        }
                        _ => {
                            return Err(opt(format!(
                                "must list extensions as strings such as \"pdf\", got {e}"
                            )));
                        }
                    }
                }
                Value::Array(exts)
            }
            "file_categories" => {
                let list = non_empty_list(value).map_err(opt)?;
                let mut cats = Vec::with_capacity(list.len());
                for c in list {
                    cats.push(tag_option(c, CATEGORIES).map_err(opt)?);
                }
                Value::Array(cats)
            }
            _ => {
                return Err(rule_error(
                    n,
                    format!(
                        "unknown option {key:?}; options are {}",
                        OPTION_NAMES.join(", ")
                    ),
                ));
            }
        };
        out.insert(key.clone(), checked);
    }
    if out.get("file_status").and_then(|s| s[".tag"].as_str()) == Some("deleted")
        && (out.contains_key("file_extensions") || out.contains_key("file_categories"))
    {
        return Err(rule_error(
            n,
            "file_extensions and file_categories only work with active files; remove them or file_status".into(),
        ));
    }
    Ok(out)
}

fn non_empty_list(value: &Value) -> Result<&Vec<Value>, String> {
    match value {
        Value::Array(a) if !a.is_empty() => Ok(a),
        Value::Array(_) => Err("is empty; list at least one value or remove it".into()),
        _ => Err(format!("must be a list, got {}", kind(value))),
    }
}

/// A union value such as `{".tag": "relevance"}`; a bare string is accepted too.
fn tag_option(value: &Value, allowed: &[&str]) -> Result<Value, String> {
    let tag = match value {
        Value::String(s) => Some(s.as_str()),
        Value::Object(o) if o.len() == 1 => o.get(".tag").and_then(Value::as_str),
        _ => None,
    };
    match tag {
        Some(t) if allowed.contains(&t) => Ok(json!({".tag": t})),
        _ => Err(format!(
            "must be one of {} (as {{\".tag\": \"{}\"}}), got {value}",
            allowed.join(", "),
            allowed[0]
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match parse(&Value::String(text.into())) {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("expected invalid-config for {text}, got {other:?}"),
        }
    }

    #[test]
    fn elastic_rules_parse_and_build_search_arguments() {
        let rules = parse(&json!(
            r#"[{"query": "budget", "options": {"path": "/Finance", "max_results": "50",
                 "order_by": {".tag": "last_modified_time"}, "file_status": {".tag": "active"},
                 "account_id": "dbid:A", "file_extensions": [".PDF", "xlsx"],
                 "file_categories": [{".tag": "paper"}, {".tag": "pdf"}]},
                "match_field_options": {"include_highlights": false}},
               {"query": "roadmap"}]"#
        ))
        .unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(
            rules[0].search_arg("/ignored"),
            json!({"query": "budget",
                   "options": {"path": "/Finance", "max_results": 50,
                               "order_by": {".tag": "last_modified_time"},
                               "file_status": {".tag": "active"}, "account_id": "dbid:A",
                               "file_extensions": ["PDF", "xlsx"],
                               "file_categories": [{".tag": "paper"}, {".tag": "pdf"}]},
                   "match_field_options": {"include_highlights": false}})
        );
        assert_eq!(
            rules[1].search_arg("/Docs"),
            json!({"query": "roadmap", "options": {"path": "/Docs"}})
        );
        assert_eq!(rules[1].search_arg(""), json!({"query": "roadmap"}));
        assert_eq!(rules[0].describe(1), "rule 1 (\"budget\" in /Finance)");
    }

    #[test]
    fn empty_or_absent_rules_are_none() {
        assert!(parse(&Value::Null).unwrap().is_empty());
        assert!(parse(&json!("  ")).unwrap().is_empty());
        assert!(parse(&json!("[]")).unwrap().is_empty());
        assert_eq!(parse(&json!([{"query": "x"}])).unwrap().len(), 1);
    }

    #[test]
    fn every_mistake_names_the_rule_and_the_fix() {
        assert!(err("{").contains("is not valid JSON"));
        assert!(err(r#"{"query":"x"}"#).contains("wrap the rule in [ ]"));
        assert_eq!(
            err(r#"[{"query":"a"},{"options":{}}]"#),
            "advanced_rules: rule 2: \"query\" is missing; every rule needs the words to search for"
        );
        assert!(err(r#"[{"query":""}]"#).contains("rule 1: \"query\" is empty"));
        assert!(err(r#"[{"query":3}]"#).contains("must be a string, got a number"));
        assert!(err(r#"[{"query":"a","path":"/x"}]"#).contains("unknown key \"path\""));
        assert!(
            err(r#"[{"query":"a","options":{"paths":"/x"}}]"#).contains("unknown option \"paths\"")
        );
        assert!(
            err(r#"[{"query":"a","options":{"path":"Finance"}}]"#)
                .contains("rule 1: options.path \"Finance\" must start with \"/\"")
        );
        assert!(
            err(r#"[{"query":"a","options":{"max_results":0}}]"#)
                .contains("options.max_results must be a whole number from 1 to 1000")
        );
        assert!(
            err(r#"[{"query":"a","options":{"order_by":{".tag":"size"}}}]"#)
                .contains("must be one of relevance, last_modified_time")
        );
        assert!(err(r#"[{"query":"a","options":{"file_extensions":[]}}]"#).contains("is empty"));
        assert!(
            err(r#"[{"query":"a","options":{"file_categories":[{".tag":"movies"}]}}]"#)
                .contains("options.file_categories must be one of image")
        );
        assert!(
            err(r#"[{"query":"a","options":{"file_status":"deleted","file_extensions":["pdf"]}}]"#)
                .contains("only work with active files")
        );
        assert!(
            err(&format!(r#"[{{"query":"{}"}}]"#, "q".repeat(1001))).contains("1000 characters")
        );
        assert!(err(r#"[{"query":"a","match_field_options":true}]"#).contains("must be an object"));
    }

    #[test]
    fn root_path_means_no_path() {
        let rules = parse(&json!(r#"[{"query": "a", "options": {"path": "/"}}]"#)).unwrap();
        assert_eq!(rules[0].path(), None);
        assert_eq!(rules[0].search_arg(""), json!({"query": "a"}));
    }
}
