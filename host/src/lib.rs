//! tributary: a host that runs sandboxed source components and indexes their documents.
//!
//! Data flows one way: `cli`/`commands` → `tenant` (component + config + plan) → `sync`
//! (pages from the component, through `runtime`'s boundary into `source` types) →
//! `sync::content` (fetches under `http`, `extract`) → `sink` (Elasticsearch bulk) → `state`
//! (checkpoints, committed after acknowledgement). `es` is the one Elasticsearch client
//! module of `sink` and `state`; `retry` the one retry policy.
pub mod allocator;
pub mod budget;
pub mod cli;
pub mod commands;
pub mod config;
pub mod es;
pub mod extract;
pub mod http;
pub mod metrics;
pub mod outputs;
pub mod progress;
pub mod report;
pub mod retry;
pub mod rules;
pub mod runtime;
pub mod serve;
pub mod sink;
pub mod source;
pub mod source_config;
pub mod state;
pub mod sync;
pub mod tenant;
