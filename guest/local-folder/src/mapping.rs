//! The Elasticsearch mapping `properties` for the fields this connector emits.

use serde_json::{Value, json};

/// Mapping properties (the host defines the `path_tree` analyzer: a path_hierarchy tokenizer,
/// so `path_lower.tree: "/docs"` finds everything below `/docs`).
pub fn index_properties() -> Value {
    let keyword = json!({"type": "keyword"});
    let text_with_keyword = |above: u32| json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": above}}});
    json!({
        "id": keyword,
        "path": text_with_keyword(4096),
        "path_lower": {
            "type": "keyword",
            "fields": {"tree": {"type": "text", "analyzer": "path_tree", "search_analyzer": "keyword"}}
        },
        "name": text_with_keyword(1024),
        "extension": keyword,
        "type": keyword,
        "mime_type": keyword,
        "size": {"type": "long"},
        "modified": {"type": "date"},
        "read_error": {"type": "text"},
        "link_target": {"type": "keyword", "index": false}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_emitted_field_is_mapped() {
        let p = index_properties();
        for f in [
            "id",
            "path",
            "path_lower",
            "name",
            "extension",
            "type",
            "mime_type",
            "size",
            "modified",
            "read_error",
            "link_target",
        ] {
            assert!(p.get(f).is_some(), "{f} is not mapped");
        }
        assert_eq!(p["modified"]["type"], "date");
        assert_eq!(p["path_lower"]["fields"]["tree"]["analyzer"], "path_tree");
    }
}
