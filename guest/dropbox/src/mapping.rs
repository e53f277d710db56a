//! The Elasticsearch mapping `properties` for the fields this connector emits.

use serde_json::{Value, json};

/// Mapping properties (the host defines the `path_tree` analyzer: a path_hierarchy tokenizer).
pub fn index_properties() -> Value {
    let keyword = json!({"type": "keyword"});
    let text_with_keyword = |above: u32| json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": above}}});
    json!({
        "id": keyword,
        "type": keyword,
        "name": text_with_keyword(1024),
        "file_path": text_with_keyword(4096),
        "path_lower": {
            "type": "keyword",
            "fields": {"tree": {"type": "text", "analyzer": "path_tree", "search_analyzer": "keyword"}}
        },
        "path_display": keyword,
        "extension": keyword,
        "mime_type": keyword,
        "size": {"type": "long"},
        "_timestamp": {"type": "date"},
        "client_modified": {"type": "date"},
        "server_modified": {"type": "date"},
        "rev": keyword,
        "content_hash": keyword,
        "is_downloadable": {"type": "boolean"},
        "read_only": {"type": "boolean"},
        "parent_shared_folder_id": keyword,
        "shared_folder_id": keyword,
        "web_url": {"type": "keyword", "index": false},
        "url": keyword,
        "owner": text_with_keyword(1024),
        "source": keyword,
        "paper": {"type": "boolean"},
        // Elastic's DLS query template filters on `.keyword` (older templates on `.enum`).
        "_allow_access_control": {
            "type": "keyword",
            "fields": {"keyword": {"type": "keyword"}, "enum": {"type": "keyword"}}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_covers_path_tree_and_dates() {
        let p = index_properties();
        assert_eq!(p["path_lower"]["type"], "keyword");
        assert_eq!(p["path_lower"]["fields"]["tree"]["analyzer"], "path_tree");
        for f in ["_timestamp", "client_modified", "server_modified"] {
            assert_eq!(p[f]["type"], "date");
        }
        assert_eq!(p["name"]["fields"]["keyword"]["type"], "keyword");
        assert_eq!(p["size"]["type"], "long");
        assert_eq!(
            p["_allow_access_control"],
            json!({"type": "keyword", "fields": {"keyword": {"type": "keyword"}, "enum": {"type": "keyword"}}})
        );
    }
}
