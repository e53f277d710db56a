//! Dropbox source component for tributary.
//!
//! All Dropbox logic lives in plain modules that compile and are tested natively; this file
//! only converts between them and the WIT bindings (`tributary:source@0.2.1`).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::panic))]

pub mod access;
pub mod account;
pub mod acl;
pub mod api;
pub mod arg;
pub mod checkpoint;
pub mod client;
pub mod config;
pub mod document;
pub mod error;
pub mod events;
pub mod json_object;
pub mod mapping;
pub mod path;
pub mod rule_search;
pub mod rules;
pub mod session;
pub mod team;
pub mod watch;

#[cfg(test)]
mod bench_tests;
#[cfg(test)]
mod dls_tests;
#[cfg(test)]
mod rules_sync_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod team_sync_tests;

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
use bindings::tributary::source::{
    http as wit_http, logging as wit_log, run as wit_run, types as wit_types,
};

use crate::client::{Level, Method, Request, Response, Transport, TransportError};
use crate::config::{Config, FIELDS, FieldKind};
use crate::document::{Change, ContentRequest, Document};
use crate::error::Error;
use crate::session::{Page, Session};

/// The exported component.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Component;

/// The host's `http` and `logging` imports.
struct Host;

impl Transport for Host {
    fn send(&self, req: Request) -> Result<Response, TransportError> {
        match wit_http::send(&to_wit_request(req)) {
            Ok(r) => Ok(Response {
                status: r.status,
                headers: r.headers.into_iter().map(|h| (h.name, h.value)).collect(),
                body: r.body,
            }),
            Err(e) => Err(transport_error(e)),
        }
    }

    fn send_many(&self, reqs: Vec<Request>) -> Vec<Result<Response, TransportError>> {
        let reqs: Vec<wit_types::Request> = reqs.into_iter().map(to_wit_request).collect();
        wit_http::send_many(&reqs)
            .into_iter()
            .map(|r| match r {
                Ok(r) => Ok(Response {
                    status: r.status,
                    headers: r.headers.into_iter().map(|h| (h.name, h.value)).collect(),
                    body: r.body,
                }),
                Err(e) => Err(transport_error(e)),
            })
            .collect()
    }

    fn prefetch(&self, req: Request) {
        wit_http::prefetch(&to_wit_request(req));
    }

    fn content_wanted(&self) -> bool {
        wit_run::content_wanted()
    }

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

fn transport_error(e: wit_http::Error) -> TransportError {
    match e {
        wit_http::Error::Denied(m) => TransportError::Denied(m),
        wit_http::Error::InvalidRequest(m) => TransportError::InvalidRequest(m),
        wit_http::Error::Transport(m) => TransportError::Transport(m),
        wit_http::Error::TooLarge(n) => TransportError::TooLarge(n),
        wit_http::Error::Credential(m) => TransportError::Credential(m),
    }
}

fn to_wit_request(req: Request) -> wit_types::Request {
    wit_types::Request {
        method: match req.method {
            Method::Get => wit_types::Method::Get,
            Method::Post => wit_types::Method::Post,
        },
        url: req.url,
        headers: req
            .headers
            .into_iter()
            .map(|(name, value)| wit_types::Header { name, value })
            .collect(),
        body: req.body,
        authenticate: req.authorized,
        timeout_ms: req.timeout_ms,
    }
}

/// Forward panics to the host log before the trap, so a failed run says why.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            wit_log::log(
                wit_log::Level::Error,
                &format!("dropbox component panicked: {info}"),
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

fn to_wit_content(c: ContentRequest) -> wit::ContentRequest {
    wit::ContentRequest {
        source: wit::ContentSource::Http(to_wit_request(c.request)),
        file_name: c.file_name,
        size: c.size,
        content_key: c.content_key,
    }
}

fn to_wit_document(d: Document) -> wit::Document {
    wit::Document {
        id: d.id,
        scope: d.scope,
        fields: d.fields.into_string(),
        content: d.content.map(to_wit_content),
    }
}

fn to_wit_change(c: Change) -> wit::Change {
    match c {
        Change::Upsert(d) => wit::Change::Upsert(to_wit_document(d)),
        Change::Delete { scope, id } => wit::Change::Delete(wit::DocumentRef { scope, id }),
        Change::DeleteTree {
            scope,
            field,
            value,
        } => wit::Change::DeleteTree(wit::TreeDelete {
            scope,
            field,
            value,
        }),
        Change::BeginEnumeration(s) => wit::Change::BeginEnumeration(s),
        Change::EndEnumeration(s) => wit::Change::EndEnumeration(s),
    }
}

fn to_wit_page(p: Page) -> wit::Page {
    wit::Page {
        changes: p.changes.into_iter().map(to_wit_change).collect(),
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
            id: "dropbox".into(),
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
                    },
                    required: f.required,
                    default_value: f.default.map(str::to_string),
                    secret: f.secret,
                    description: f.description.into(),
                })
                .collect(),
            index_properties: mapping::index_properties().to_string(),
            access_control_properties: Some(access::properties().to_string()),
            scopes: vec![wit::ScopeDecl {
                name: access::SCOPE_ACCESS.into(),
                target: wit::IndexTarget::AccessControl,
            }],
        }
    }

    fn configure(config: String) -> Result<wit::Plan, wit::Error> {
        install_panic_hook();
        let c = Config::parse(&config).map_err(to_wit_error)?;
        Ok(wit::Plan {
            hosts: c.hosts(),
            credential: Some(wit::Credential::Oauth2(wit::Oauth2 {
                token_url: c.token_url(),
                authorize_url: c.authorize_url(),
                // Without it Dropbox issues a short-lived token and no refresh token.
                authorize_params: vec![("token_access_type".into(), "offline".into())],
                client_id_field: "app_key".into(),
                client_secret_field: "app_secret".into(),
                refresh_token_field: "refresh_token".into(),
                scopes: c.scopes(),
                token_hosts: c.token_hosts(),
            })),
        })
    }

    fn check(config: String) -> Result<String, wit::Error> {
        install_panic_hook();
        let c = Config::parse(&config).map_err(to_wit_error)?;
        account::check(&Host, &c).map_err(to_wit_error)
    }

    fn wait_for_changes(
        config: String,
        checkpoint: String,
        timeout_secs: u32,
    ) -> Result<wit::WaitResult, wit::Error> {
        install_panic_hook();
        let c = Config::parse(&config).map_err(to_wit_error)?;
        watch::wait_for_changes(&Host, &c, &checkpoint, timeout_secs)
            .map(|r| wit::WaitResult {
                changes: r.changes,
                backoff_secs: r.backoff_secs,
            })
            .map_err(to_wit_error)
    }
}
