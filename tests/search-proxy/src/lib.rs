//! `search-fault-proxy`: an HTTP proxy in front of a search server (osmem-server or
//! Elasticsearch) that injects the faults a busy or flaky cluster produces, for end-to-end tests.
//!
//! Every request is forwarded unchanged unless a rule says otherwise. Admin API (never faulted):
//! - `POST /_proxy/faults` `{"seed": N, "rules": [...]}` (see [`rules::Rule`]); `DELETE /_proxy/faults`
//! - `GET /_proxy/stats` (requests per kind and status, `_bulk` items rejected, connections
//!   dropped); `POST /_proxy/stats/reset`
//! - `POST /_proxy/down` (every request answered 503; `{"mode": "refuse"}`: connections are closed
//!   without an answer); `POST /_proxy/up`
//!
//! Request kinds ([`kind::Kind`]): `bulk`, `mget`, `refresh`, `delete_by_query`, `mapping`,
//! `state`, `search`, `info`, `other`.

pub mod bulk;
pub mod kind;
pub mod rng;
pub mod rules;
pub mod server;
pub mod stats;

pub use server::{ProxyConfig, Server, start};
