//! tributary: a host that runs sandboxed source components and indexes their documents.
//!
//! Data flows one way: `cli`/`commands` → `tenant` (component + config + plan) → `sync`
//! (pages from the component) → `sync::content` (downloads under `http`, `extract`) →
//! `sink` (Elasticsearch bulk) → `state` (checkpoints, committed after acknowledgement).
pub mod auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod extract;
pub mod http;
pub mod progress;
pub mod report;
pub mod runtime;
pub mod sink;
pub mod source_config;
pub mod state;
pub mod sync;
pub mod tenant;
pub mod watch;
