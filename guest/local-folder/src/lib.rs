//! Local folder source component for tributary: indexes one directory the runner grants
//! read-only (a WASI preopen of that directory and nothing else), like FSCrawler.
//!
//! All logic lives in plain modules that compile and are tested natively against real
//! temporary directories; this file only converts between them and the WIT bindings
//! (`tributary:source@0.2.1`).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::panic))]

pub mod checkpoint;
pub mod config;
pub mod content_key;
pub mod document;
pub mod error;
pub mod filter;
pub mod identity;
pub mod log;
pub mod mapping;
pub mod session;
pub mod symlink;
pub mod walk;
pub mod watch;

#[cfg(test)]
mod session_tests;

#[allow(unsafe_code, clippy::all, missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/source@0.2.1",
        world: "source-connector",
    });

    // Exported symbols are named like `tributary:source/source@0.2.1#info`, which a native
    // linker version script rejects: export them only in the component build.
    #[cfg(target_arch = "wasm32")]
    use super::Component;
    #[cfg(target_arch = "wasm32")]
    export!(Component);
}

use std::cell::RefCell;

use bindings::exports::tributary::source::source as wit;
use bindings::tributary::source::logging as wit_log;

use crate::config::{Config, FIELDS, FieldKind};
use crate::document::{Change, Document};
use crate::error::Error;
use crate::log::{Level, Log};
use crate::session::{Page, Session};

/// The exported component.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Component;

/// The host's `logging` import (this connector makes no HTTP requests).
struct Host;

impl Log for Host {
    fn log(&self, level: Level, message: &str) {
        let level = match level {
            Level::Trace => wit_log::Level::Trace,
            Level::Debug => wit_log::Level::Debug,
            Level::Info => wit_log::Level::Info,
            Level::Warn => wit_log::Level::Warn,
            Level::Error => wit_log::Level::Error,
        };
        wit_log::log(level, message);
    }
}

/// Forward panics to the host log before the trap, so a failed run says why.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            wit_log::log(
                wit_log::Level::Error,
                &format!("local-folder component panicked: {info}"),
            );
        }));
    });
}

fn to_wit_error(e: Error) -> wit::Error {
    match e {
        Error::InvalidConfig(m) => wit::Error::InvalidConfig(m),
        Error::Unauthorized(m) => wit::Error::Unauthorized(m),
        Error::CheckpointExpired(m) => wit::Error::CheckpointExpired(m),
        Error::CheckpointMismatch(m) => wit::Error::CheckpointMismatch(m),
        Error::Transient(m) => wit::Error::Transient(m),
        Error::Permanent(m) => wit::Error::Permanent(m),
    }
}

fn to_wit_document(d: Document) -> wit::Document {
    wit::Document {
        id: d.id,
        scope: d.scope,
        fields: d.fields.to_string(),
        content: d.content.map(|c| wit::ContentRequest {
            source: wit::ContentSource::File(c.path),
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

/// The exported `sync-session` resource.
struct SyncSession(RefCell<Session<Host>>);

impl wit::GuestSyncSession for SyncSession {
    fn start(params: wit::StartParams) -> Result<wit::SyncSession, wit::Error> {
        install_panic_hook();
        let config = Config::parse(&params.config).map_err(to_wit_error)?;
        let session =
            Session::start(Host, config, params.checkpoint.as_deref()).map_err(to_wit_error)?;
        Ok(wit::SyncSession::new(SyncSession(RefCell::new(session))))
    }

    fn next_page(&self) -> Result<wit::Page, wit::Error> {
        let mut session = self.0.try_borrow_mut().map_err(|_| {
            wit::Error::Permanent("next-page was called re-entrantly on one session".into())
        })?;
        session.next_page().map(to_wit_page).map_err(to_wit_error)
    }
}

impl wit::Guest for Component {
    type SyncSession = SyncSession;

    fn info() -> wit::ConnectorInfo {
        wit::ConnectorInfo {
            id: "local-folder".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            config: FIELDS
                .iter()
                .map(|f| wit::ConfigField {
                    name: f.name.into(),
                    kind: match f.kind {
                        FieldKind::Text => wit::FieldKind::Text,
                        FieldKind::Integer => wit::FieldKind::Integer,
                        FieldKind::Boolean => wit::FieldKind::Boolean,
                        FieldKind::Url => wit::FieldKind::Url,
                        FieldKind::TextList => wit::FieldKind::TextList,
                        FieldKind::Directory => wit::FieldKind::Directory,
                    },
                    required: f.required,
                    default_value: f.default.map(str::to_string),
                    secret: f.secret,
                    description: f.description.into(),
                })
                .collect(),
            index_properties: mapping::index_properties().to_string(),
            access_control_properties: None,
            scopes: Vec::new(),
        }
    }

    fn configure(config: String) -> Result<wit::Plan, wit::Error> {
        install_panic_hook();
        // JSON only: the directory may not be granted yet when the host asks for the plan.
        Config::parse(&config).map_err(to_wit_error)?;
        Ok(wit::Plan {
            hosts: Vec::new(),
            credential: None,
        })
    }

    fn check(config: String) -> Result<String, wit::Error> {
        install_panic_hook();
        let c = Config::parse(&config).map_err(to_wit_error)?;
        c.open_root().map_err(to_wit_error)?;
        Ok(format!("the directory {:?} can be listed", c.root))
    }

    fn wait_for_changes(
        config: String,
        checkpoint: String,
        _timeout_secs: u32,
    ) -> Result<wit::WaitResult, wit::Error> {
        install_panic_hook();
        let c = Config::parse(&config).map_err(to_wit_error)?;
        watch::wait_for_changes(&c, &checkpoint)
            .map(|r| wit::WaitResult {
                changes: r.changes,
                backoff_secs: r.backoff_secs,
            })
            .map_err(to_wit_error)
    }
}
