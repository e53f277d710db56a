//! Index settings and mappings: the host-owned fields merged with the connector's `properties`.
use serde_json::{Map, Value, json};

/// Analyzer that splits a path into its ancestors (`/a/b/c` → `/a`, `/a/b`, `/a/b/c`).
pub const PATH_TREE_ANALYZER: &str = "path_tree";
/// Keyword normalizer that lowercases (for case-insensitive exact matches).
pub const LOWERCASE_NORMALIZER: &str = "lowercase_keyword";

/// Field names the host writes itself; a connector may not redefine them.
pub const HOST_OWNED_FIELDS: &[&str] = &[
    "body",
    "content_status",
    "content_skipped_reason",
    "content_truncated",
    "content_meta",
    "_timestamp",
    "tributary",
];

/// Why the connector's properties cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error(
        "the component's index properties must be a JSON object of field name → mapping, got {0}; \
         fix the component's `index-properties`"
    )]
    NotAnObject(&'static str),
    #[error(
        "the component's index properties redefine the host-owned field `{0}`; the host owns {owned}; \
         rename the component's field",
        owned = HOST_OWNED_FIELDS.join(", ")
    )]
    HostOwned(String),
}

/// `settings.analysis` shared by every content index.
pub fn settings() -> Value {
    json!({
        "analysis": {
            "tokenizer": {
                "path_tree_tokenizer": { "type": "path_hierarchy", "delimiter": "/" }
            },
            "analyzer": {
                PATH_TREE_ANALYZER: { "type": "custom", "tokenizer": "path_tree_tokenizer" }
            },
            "normalizer": {
                LOWERCASE_NORMALIZER: { "type": "custom", "filter": ["lowercase"] }
            }
        }
    })
}

/// The properties the host owns.
pub fn host_properties() -> Map<String, Value> {
    let value = json!({
        "body": { "type": "text" },
        "content_status": { "type": "keyword" },
        "content_skipped_reason": { "type": "keyword" },
        "content_truncated": { "type": "boolean" },
        "content_meta": {
            "properties": {
                "format": { "type": "keyword" },
                "title": { "type": "text" },
                "author": { "type": "text", "fields": { "keyword": { "type": "keyword", "ignore_above": 256 } } },
                "pages": { "type": "integer" },
                "sheets": { "type": "integer" },
                "slides": { "type": "integer" }
            }
        },
        "_timestamp": { "type": "date" },
        // The run's bookkeeping: `scope` and `run` are only filtered on (the purge after an
        // enumeration), never sorted or aggregated, so no doc values; `content_key` is only
        // read back from `_source` (the page's `_mget`), so it is not indexed either.
        "tributary": {
            "properties": {
                "scope": { "type": "keyword", "doc_values": false },
                "run": { "type": "keyword", "doc_values": false },
                "content_key": { "type": "keyword", "index": false, "doc_values": false }
            }
        }
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Host properties merged with the connector's (`null` means none). A connector field that
/// repeats a host-owned name is accepted only if its mapping is identical to ours.
pub fn merged_properties(connector_properties: &Value) -> Result<Map<String, Value>, MappingError> {
    let mut merged = host_properties();
    let connector = match connector_properties {
        Value::Null => return Ok(merged),
        Value::Object(map) => map,
        Value::Array(_) => return Err(MappingError::NotAnObject("an array")),
        Value::String(_) => return Err(MappingError::NotAnObject("a string")),
        Value::Number(_) => return Err(MappingError::NotAnObject("a number")),
        Value::Bool(_) => return Err(MappingError::NotAnObject("a boolean")),
    };
    for (name, mapping) in connector {
        match merged.get(name) {
            Some(ours) if ours == mapping => {}
            Some(_) => return Err(MappingError::HostOwned(name.clone())),
            None => {
                merged.insert(name.clone(), mapping.clone());
            }
        }
    }
    Ok(merged)
}

/// Fit `properties` (what this run wants) to the mapping an existing index already has.
///
/// A field the index already maps keeps how the index indexes it: a mapping that leaves a
/// field out of the index (`index: false`, `doc_values: false`, kept only in `_source`) is
/// a saving for a new index, but an index cannot drop indexing of a field it has, and the
/// field still works there as before. So those two parameters are left out for fields the
/// index has, and the update only adds what is new. Any other difference (another type,
/// another analyzer) is still sent, and refused by the server with a clear error.
pub fn fit_to_existing(properties: &mut Map<String, Value>, existing: &Map<String, Value>) {
    for (name, wanted) in properties.iter_mut() {
        let (Some(wanted), Some(stored)) = (
            wanted.as_object_mut(),
            existing.get(name).and_then(Value::as_object),
        ) else {
            continue;
        };
        if let (Some(Value::Object(inner)), Some(Value::Object(stored_inner))) =
            (wanted.get_mut("properties"), stored.get("properties"))
        {
            fit_to_existing(inner, stored_inner);
        }
        for parameter in ["index", "doc_values"] {
            if wanted.get(parameter) == Some(&Value::Bool(false))
                && stored.get(parameter) != Some(&Value::Bool(false))
            {
                wanted.remove(parameter);
            }
        }
    }
}

/// The body of `PUT /<index>`: settings and mappings.
pub fn create_index_body(connector_properties: &Value) -> Result<Value, MappingError> {
    Ok(json!({
        "settings": settings(),
        "mappings": { "properties": merged_properties(connector_properties)? }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connector_fields_are_added_to_host_fields() {
        let props = json!({"path_lower": {"type": "keyword"}, "name": {"type": "text"}});
        let merged = merged_properties(&props).unwrap_or_default();
        assert_eq!(merged["path_lower"], json!({"type": "keyword"}));
        assert_eq!(merged["body"], json!({"type": "text"}));
        assert_eq!(
            merged["tributary"]["properties"]["run"],
            json!({"type": "keyword", "doc_values": false})
        );
        assert_eq!(
            merged["tributary"]["properties"]["content_key"],
            json!({"type": "keyword", "index": false, "doc_values": false})
        );
    }

    #[test]
    fn redefining_a_host_owned_field_is_an_error_unless_identical() {
        let clash = json!({"body": {"type": "keyword"}});
        assert!(
            matches!(merged_properties(&clash), Err(MappingError::HostOwned(f)) if f == "body")
        );
        let same = json!({"_timestamp": {"type": "date"}});
        assert!(merged_properties(&same).is_ok());
    }

    #[test]
    fn null_means_no_connector_properties_and_non_objects_are_rejected() {
        assert_eq!(
            merged_properties(&Value::Null).map(|m| m.len()).ok(),
            Some(HOST_OWNED_FIELDS.len())
        );
        assert!(matches!(
            merged_properties(&json!([1])),
            Err(MappingError::NotAnObject("an array"))
        ));
    }

    #[test]
    fn an_existing_index_keeps_indexing_what_it_indexes_and_learns_new_fields() {
        let mut wanted = json!({
            "rev": {"type": "keyword", "index": false, "doc_values": false},
            "web_url": {"type": "keyword", "index": false, "doc_values": false},
            "path_lower": {"type": "keyword"},
            "size": {"type": "long"},
            "fresh": {"type": "keyword", "index": false, "doc_values": false},
            "tributary": {"properties": {"run": {"type": "keyword", "index": false}}}
        });
        let existing = json!({
            "rev": {"type": "keyword"},
            "web_url": {"type": "keyword", "index": false, "doc_values": false},
            "path_lower": {"type": "keyword", "fields": {"tree": {"type": "text"}}},
            "size": {"type": "integer"},
            "tributary": {"properties": {"run": {"type": "keyword"}}}
        });
        let (Value::Object(w), Value::Object(e)) = (&mut wanted, &existing) else {
            panic!("objects");
        };
        fit_to_existing(w, e);
        assert_eq!(wanted["rev"], json!({"type": "keyword"}));
        // Already not indexed there: nothing to relax.
        assert_eq!(
            wanted["web_url"],
            json!({"type": "keyword", "index": false, "doc_values": false})
        );
        assert_eq!(wanted["path_lower"], json!({"type": "keyword"}));
        // A real conflict is still sent (and refused by the server, naming the field).
        assert_eq!(wanted["size"], json!({"type": "long"}));
        assert_eq!(
            wanted["fresh"],
            json!({"type": "keyword", "index": false, "doc_values": false})
        );
        assert_eq!(
            wanted["tributary"]["properties"]["run"],
            json!({"type": "keyword"})
        );
    }

    #[test]
    fn index_body_declares_the_path_tree_analyzer() {
        let body = create_index_body(&Value::Null).unwrap_or_default();
        assert_eq!(
            body["settings"]["analysis"]["analyzer"][PATH_TREE_ANALYZER]["tokenizer"],
            json!("path_tree_tokenizer")
        );
    }
}
