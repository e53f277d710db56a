//! Where documents go: Elasticsearch (`elasticsearch`) or NDJSON (`dry_run`).
