//! A faithful, stateful emulator of the Dropbox HTTP API v2 for tests and benchmarks.
//!
//! One port serves RPC (`/2/...`), content and notify routes, OAuth (`/oauth2/...`) and the
//! test-control API (`/_admin/...`). See `docs/emulator.md` for the contract.

pub mod acl;
pub mod app;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod content;
pub mod content_hash;
pub mod directory;
pub mod errors;
pub mod faults;
pub mod ids;
pub mod journal;
pub mod metadata;
pub mod oauth;
pub mod routes;
pub mod seed;
pub mod server;
pub mod state;
pub mod stats;
pub mod team_changes;
pub mod team_gen;
pub mod views;

pub use app::{App, Config};
pub use server::{Server, start};
