//! Which search-engine API a request is, from its method and path: what fault rules match on
//! and what `/_proxy/stats` counts by.

use serde::{Deserialize, Serialize};

/// The kind of search-engine call a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `_bulk` (the document writes).
    Bulk,
    /// `_mget` (reading stored documents).
    Mget,
    /// `_refresh`.
    Refresh,
    /// `_delete_by_query` (purges and deletes by tree).
    DeleteByQuery,
    /// Index creation, existence check, mapping and settings calls on a document index.
    Mapping,
    /// Anything on the state (checkpoint) index: its creation, the state document GET/PUT.
    State,
    /// `_search` and `_count`.
    Search,
    /// `GET /` (cluster info).
    Info,
    /// Anything else.
    Other,
}

impl Kind {
    /// The snake-case name used in rules and stats.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Bulk => "bulk",
            Kind::Mget => "mget",
            Kind::Refresh => "refresh",
            Kind::DeleteByQuery => "delete_by_query",
            Kind::Mapping => "mapping",
            Kind::State => "state",
            Kind::Search => "search",
            Kind::Info => "info",
            Kind::Other => "other",
        }
    }
}

/// Classify a request path (without the query). Requests on an index whose name starts with
/// `state_prefix` are [`Kind::State`] whatever the API, so one rule can fault checkpoints.
pub fn classify(path: &str, state_prefix: &str) -> Kind {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some(first) = segments.first() else {
        return Kind::Info;
    };
    if !state_prefix.is_empty() && !first.starts_with('_') && first.starts_with(state_prefix) {
        return Kind::State;
    }
    let has = |name: &str| segments.contains(&name);
    if has("_bulk") {
        Kind::Bulk
    } else if has("_mget") {
        Kind::Mget
    } else if has("_refresh") {
        Kind::Refresh
    } else if has("_delete_by_query") {
        Kind::DeleteByQuery
    } else if has("_search") || has("_count") {
        Kind::Search
    } else if first.starts_with('_') {
        Kind::Other
    } else if segments.len() == 1 || matches!(segments[1], "_mapping" | "_mappings" | "_settings") {
        Kind::Mapping
    } else {
        Kind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_kinds() {
        let p = "tributary-state";
        let cases = [
            ("/", Kind::Info),
            ("/_bulk", Kind::Bulk),
            ("/docs/_bulk", Kind::Bulk),
            ("/docs/_mget", Kind::Mget),
            ("/_mget", Kind::Mget),
            ("/docs/_refresh", Kind::Refresh),
            ("/docs/_delete_by_query", Kind::DeleteByQuery),
            ("/docs", Kind::Mapping),
            ("/docs/_mapping", Kind::Mapping),
            ("/docs/_search", Kind::Search),
            ("/docs/_count", Kind::Search),
            ("/docs/_doc/1", Kind::Other),
            ("/tributary-state-t1/_doc/t1", Kind::State),
            ("/tributary-state", Kind::State),
            ("/tributary-state/_refresh", Kind::State),
            ("/_cluster/health", Kind::Other),
        ];
        for (path, want) in cases {
            assert_eq!(classify(path, p), want, "{path}");
        }
    }
}
