//! The Elasticsearch mapping `properties` for the fields this connector emits.

use serde_json::{Value, json};

/// Mapping properties.
///
/// A field is indexed when a search filters, sorts, aggregates or matches on it; a field that
/// is only read back (shown in a result, handed to the API) is kept in `_source` with
/// `index: false, doc_values: false`, which saves the search server the work of indexing it
/// on every write (issue 12: about 40 % of osmem-server's indexing time for a metadata
/// document). Everything below a folder is a `prefix` query on `path_lower` (with a trailing
/// `/`), which is also how the host deletes a tree, so no path-hierarchy sub-field is kept.
/// docs/sources/dropbox.md lists every field.
pub fn index_properties() -> Value {
    let keyword = json!({"type": "keyword"});
    let stored = |kind: &str| json!({"type": kind, "index": false, "doc_values": false});
    let text_with_keyword = |above: u32| json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": above}}});
    json!({
        // The `_id` again (Elastic's documents carry it); doc values kept: paging through an
        // index sorted by `id` (search_after) needs them.
        "id": keyword,
        "type": keyword,
        "name": text_with_keyword(1024),
        "file_path": text_with_keyword(4096),
        "path_lower": keyword,
        "extension": keyword,
        "mime_type": keyword,
        "size": {"type": "long"},
        "_timestamp": {"type": "date"},
        "content_hash": keyword,
        "parent_shared_folder_id": keyword,
        "shared_folder_id": keyword,
        "owner": text_with_keyword(1024),
        "source": keyword,
        "client_modified": stored("date"),
        "rev": stored("keyword"),
        "is_downloadable": stored("boolean"),
        "read_only": stored("boolean"),
        "paper": stored("boolean"),
        "web_url": stored("keyword"),
        "url": stored("keyword"),
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
    fn searched_fields_are_indexed_and_read_back_fields_only_stored() {
        let p = index_properties();
        assert_eq!(p["path_lower"], json!({"type": "keyword"}));
        assert_eq!(p["_timestamp"]["type"], "date");
        assert_eq!(p["name"]["fields"]["keyword"]["type"], "keyword");
        assert_eq!(p["size"]["type"], "long");
        for f in [
            "client_modified",
            "rev",
            "is_downloadable",
            "web_url",
            "url",
        ] {
            assert_eq!(p[f]["index"], json!(false), "{f}");
            assert_eq!(p[f]["doc_values"], json!(false), "{f}");
        }
        for retired in ["path_display", "server_modified"] {
            assert!(p.get(retired).is_none(), "{retired}");
        }
        assert_eq!(
            p["_allow_access_control"],
            json!({"type": "keyword", "fields": {"keyword": {"type": "keyword"}, "enum": {"type": "keyword"}}})
        );
    }
}
