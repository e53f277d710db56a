//! The Elasticsearch mapping `properties` for the fields this connector emits.

use serde_json::{Value, json};

/// Mapping properties (the host defines the `path_tree` analyzer: a path_hierarchy
/// tokenizer on `/`, so `key.tree:"reports/2024"` finds everything below that prefix).
pub fn index_properties() -> Value {
    let keyword = json!({"type": "keyword"});
    let text_with_keyword = |above: u32| json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": above}}});
    json!({
        "id": keyword,
        "bucket": keyword,
        "key": {
            "type": "keyword",
            "fields": {"tree": {"type": "text", "analyzer": "path_tree", "search_analyzer": "keyword"}}
        },
        "folder": keyword,
        "name": text_with_keyword(1024),
        "extension": keyword,
        "mime_type": keyword,
        "content_type": keyword,
        "size": {"type": "long"},
        "last_modified": {"type": "date"},
        "etag": keyword,
        "storage_class": keyword,
        "metadata": {"type": "object", "dynamic": true},
        "url": {"type": "keyword", "index": false},
        "source": keyword,
        "type": keyword
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_types_the_fields_documents_carry() {
        let p = index_properties();
        assert_eq!(p["key"]["fields"]["tree"]["analyzer"], "path_tree");
        assert_eq!(p["last_modified"]["type"], "date");
        assert_eq!(p["size"]["type"], "long");
        assert_eq!(p["metadata"]["type"], "object");
        assert!(p.get("_timestamp").is_none(), "the host owns _timestamp");
    }
}
