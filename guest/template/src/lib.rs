//! The template source: the smallest useful tributary source, kept as living documentation.
//! Copy `guest/template`, rename it, and replace `source.rs` with your source's logic.
//!
//! This file is the edge between the WIT contract and plain Rust. It holds no logic of its
//! own, only conversions, so that everything worth testing lives in `source.rs` and runs
//! under a native `cargo test`. See docs/writing-a-source.md.

// Tests may unwrap and panic; the component may not (a panic traps the whole run).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::panic))]

pub mod source;

// The generated bindings use `unsafe` and are not ours to lint.
#[allow(unsafe_code, clippy::all, missing_docs)]
mod bindings {
    // Generates Rust types and traits from the contract. `path` points at one version of
    // the WIT: the host supports that version and the one before it.
    wit_bindgen::generate!({
        path: "../../wit/source@0.2.1",
        world: "source-connector",
    });

    // `export!` defines the component's exported symbols. Their names (like
    // `tributary:source/source@0.2.1#info`) are rejected by native linkers, so the macro
    // runs only in the wasm32 build and `cargo test` still links natively.
    #[cfg(target_arch = "wasm32")]
    use super::Component;
    #[cfg(target_arch = "wasm32")]
    export!(Component);
}

use std::cell::RefCell;

use bindings::exports::tributary::source::source as wit;
use bindings::tributary::source::{http as wit_http, logging as wit_log, types as wit_types};

use crate::source::{
    Change, Document, Error, FIELDS, FieldKind, Host, HttpError, Level, Page, Request, Response,
    Session,
};

/// The exported component (a unit struct: WIT exports are free functions).
// Natively nothing refers to it (no `export!`), which is expected.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Component;

/// The real host: the WIT imports behind the `Host` trait `source.rs` is written against.
struct Runner;

impl Host for Runner {
    fn get(&self, req: Request) -> Result<Response, HttpError> {
        wit_http::send(&to_wit_request(req))
            .map(|r| Response {
                status: r.status,
                body: r.body,
            })
            .map_err(|e| match e {
                wit_http::Error::Denied(m) => HttpError::Denied(m),
                wit_http::Error::InvalidRequest(m) => HttpError::InvalidRequest(m),
                wit_http::Error::Transport(m) => HttpError::Transport(m),
                wit_http::Error::TooLarge(n) => HttpError::TooLarge(n),
                wit_http::Error::Credential(m) => HttpError::Credential(m),
            })
    }

    fn log(&self, level: Level, message: &str) {
        let level = match level {
            Level::Info => wit_log::Level::Info,
            Level::Warn => wit_log::Level::Warn,
        };
        wit_log::log(level, message);
    }
}

fn to_wit_request(req: Request) -> wit_types::Request {
    wit_types::Request {
        method: wit_types::Method::Get,
        url: req.url,
        // Never `Authorization`: the host owns it and refuses a component that sets it.
        headers: vec![wit_types::Header {
            name: "accept".into(),
            value: "application/json".into(),
        }],
        body: None,
        authenticate: req.authenticate,
        // The host default suits ordinary API calls; long polls would set more.
        timeout_ms: None,
    }
}

fn to_wit_error(e: Error) -> wit::Error {
    match e {
        Error::InvalidConfig(m) => wit::Error::InvalidConfig(m),
        Error::Unauthorized(m) => wit::Error::Unauthorized(m),
        Error::CheckpointMismatch(m) => wit::Error::CheckpointMismatch(m),
        Error::Transient(m) => wit::Error::Transient(m),
        Error::Permanent(m) => wit::Error::Permanent(m),
    }
}

fn to_wit_document(d: Document) -> wit::Document {
    wit::Document {
        id: d.id,
        scope: source::SCOPE.into(),
        // Fields cross the boundary as JSON text; the host parses it once.
        fields: d.fields.to_string(),
        content: d.content.map(|c| wit::ContentRequest {
            // An HTTP download the host performs later, under its own concurrency limit.
            source: wit::ContentSource::Http(to_wit_request(c.request)),
            file_name: c.file_name,
            size: c.size,
            content_key: c.content_key,
        }),
    }
}

fn to_wit_page(p: Page) -> wit::Page {
    wit::Page {
        changes: p
            .changes
            .into_iter()
            .map(|c| match c {
                Change::Upsert(d) => wit::Change::Upsert(to_wit_document(d)),
                Change::BeginEnumeration(s) => wit::Change::BeginEnumeration(s),
                Change::EndEnumeration(s) => wit::Change::EndEnumeration(s),
            })
            .collect(),
        checkpoint: p.checkpoint,
        has_more: p.has_more,
    }
}

/// The `sync-session` resource: the host holds a handle and calls `next-page` until
/// `has-more` is false.
// WIT resource methods take `&self`; the session changes state, hence the RefCell.
struct SyncSession(RefCell<Session>);

impl wit::GuestSyncSession for SyncSession {
    fn start(params: wit::StartParams) -> Result<wit::SyncSession, wit::Error> {
        let config = source::parse_config(&params.config).map_err(to_wit_error)?;
        let session = Session::start(config, params.checkpoint.as_deref()).map_err(to_wit_error)?;
        Ok(wit::SyncSession::new(SyncSession(RefCell::new(session))))
    }

    fn next_page(&self) -> Result<wit::Page, wit::Error> {
        // Re-entrance cannot happen with the tributary host; fail loudly rather than panic.
        let mut session = self
            .0
            .try_borrow_mut()
            .map_err(|_| wit::Error::Permanent("next-page called re-entrantly".into()))?;
        session
            .next_page(&Runner)
            .map(to_wit_page)
            .map_err(to_wit_error)
    }
}

impl wit::Guest for Component {
    type SyncSession = SyncSession;

    fn info() -> wit::ConnectorInfo {
        wit::ConnectorInfo {
            // Shown by `tributary fields`, stored with checkpoints: keep it stable.
            id: "template".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            config: FIELDS
                .iter()
                .map(|f| wit::ConfigField {
                    name: f.name.into(),
                    kind: match f.kind {
                        FieldKind::Text => wit::FieldKind::Text,
                        FieldKind::Url => wit::FieldKind::Url,
                        FieldKind::Boolean => wit::FieldKind::Boolean,
                    },
                    required: f.required,
                    default_value: f.default.map(str::to_string),
                    secret: f.secret,
                    description: f.description.into(),
                })
                .collect(),
            index_properties: source::index_properties().to_string(),
            // No document-level security: no access-control documents, no extra scopes.
            access_control_properties: None,
            scopes: Vec::new(),
        }
    }

    fn configure(config: String) -> Result<wit::Plan, wit::Error> {
        let c = source::parse_config(&config).map_err(to_wit_error)?;
        let plan = source::plan(&c).map_err(to_wit_error)?;
        Ok(wit::Plan {
            hosts: plan.hosts,
            // The host reads `api_key` from the tenant's secrets and adds the header itself,
            // only on `authenticate` requests to these hosts.
            credential: plan.api_key_for.map(|origin| {
                wit::Credential::Header(wit::HeaderCredential {
                    header: "authorization".into(),
                    prefix: "Bearer ".into(),
                    value_field: "api_key".into(),
                    hosts: vec![origin],
                })
            }),
        })
    }

    fn check(config: String) -> Result<String, wit::Error> {
        let c = source::parse_config(&config).map_err(to_wit_error)?;
        source::check(&Runner, &c).map_err(to_wit_error)
    }

    fn wait_for_changes(
        _config: String,
        checkpoint: String,
        _timeout_secs: u32,
    ) -> Result<wit::WaitResult, wit::Error> {
        // No change feed to long-poll: always "sync", after a pause unless a run is half done.
        Ok(wit::WaitResult {
            changes: true,
            backoff_secs: source::watch_backoff(&checkpoint),
        })
    }
}
