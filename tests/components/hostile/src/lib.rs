//! A source component that misbehaves on purpose, one way per `mode`, so that the end-to-end
//! tests can prove every sandbox promise: it is stopped (CPU, memory, stack, wall clock), its
//! oversized or malformed output is refused, its traffic stays on its allow-list, and it
//! finds no environment, no host file and no secret. See tests/e2e/tests/sandbox.rs.
//!
//! It is never shipped: `make test-components` builds it into `<components>/test/hostile.wasm`.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::panic))]

mod config;
mod crash;
mod egress;
mod probe;

#[allow(unsafe_code, clippy::all, missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "source-connector",
    });

    // Exported names like `tributary:source/source@0.2.0#info` only link in the wasm build.
    #[cfg(target_arch = "wasm32")]
    use super::Component;
    #[cfg(target_arch = "wasm32")]
    export!(Component);
}

use bindings::exports::tributary::source::source as wit;
use bindings::tributary::source::{http as wit_http, logging as wit_log, types as wit_types};
use config::{Config, FIELDS, Kind, origin};
use serde_json::{Value, json};
use std::cell::Cell;

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Component;

/// Documents go to one scope, enumerated in full by `well-behaved`.
const SCOPE: &str = "items";

fn invalid(message: String) -> wit::Error {
    wit::Error::InvalidConfig(message)
}

fn parse(json: &str) -> Result<Config, wit::Error> {
    Config::parse(json).map_err(invalid)
}

fn log(level: wit_log::Level, c: &Config, message: &str) {
    wit_log::log(level, &format!("[{}] {message}", c.marker()));
}

/// Every document carries its id as a field too, as the real sources do.
fn document(id: impl Into<String>, mut fields: Value) -> wit::Change {
    let id = id.into();
    if let Some(map) = fields.as_object_mut() {
        map.insert("id".into(), Value::String(id.clone()));
    }
    wit::Change::Upsert(wit::Document {
        id,
        scope: SCOPE.into(),
        fields: fields.to_string(),
        content: None,
    })
}

/// A document whose content the host downloads from `url`.
fn downloaded(id: &str, c: &Config, url: &str, authenticate: bool, file_name: &str) -> wit::Change {
    wit::Change::Upsert(wit::Document {
        id: id.into(),
        scope: SCOPE.into(),
        fields: json!({"id": id, "mode": c.mode, "marker": c.marker()}).to_string(),
        content: Some(wit::ContentRequest {
            source: wit::ContentSource::Http(egress::get(url, authenticate, None)),
            file_name: file_name.into(),
            size: None,
            content_key: None,
        }),
    })
}

/// One document carrying a JSON report of what the component saw.
fn report(id: &str, c: &Config, report: &Value) -> wit::Change {
    document(
        id,
        json!({"mode": c.mode, "marker": c.marker(), "report": report.to_string()}),
    )
}

fn last_page(changes: Vec<wit::Change>, checkpoint: &str) -> wit::Page {
    wit::Page {
        changes,
        checkpoint: Some(checkpoint.into()),
        has_more: false,
    }
}

fn plan(c: &Config) -> Result<wit::Plan, wit::Error> {
    let mut hosts = c.allowed.clone();
    if hosts.is_empty()
        && c.mode != "denied-host"
        && let Some(url) = &c.url
    {
        hosts.push(origin(url).map_err(|e| invalid(format!("url: {e}")))?);
    }
    let target = || -> Result<Vec<String>, wit::Error> {
        Ok(vec![origin(c.url().map_err(invalid)?).map_err(invalid)?])
    };
    let oauth2 = |token_url: String,
                  hosts: &mut Vec<String>|
     -> Result<wit::Credential, wit::Error> {
        let token_origin = origin(&token_url).map_err(|e| invalid(format!("token_url: {e}")))?;
        if !hosts.contains(&token_origin) {
            hosts.push(token_origin);
        }
        Ok(wit::Credential::Oauth2(wit::Oauth2 {
            authorize_url: token_url.clone(),
            token_url,
            authorize_params: vec![],
            client_id_field: "client_id".into(),
            client_secret_field: "client_secret".into(),
            refresh_token_field: "refresh_token".into(),
            scopes: vec![],
            token_hosts: target()?,
        }))
    };
    let header = |name: &str, prefix: &str, field: &str| -> Result<wit::Credential, wit::Error> {
        Ok(wit::Credential::Header(wit::HeaderCredential {
            header: name.into(),
            prefix: prefix.into(),
            value_field: field.into(),
            hosts: target()?,
        }))
    };
    let credential = match c.credential.as_str() {
        "oauth2" => {
            let token_url = c
                .token_url
                .clone()
                .ok_or_else(|| invalid("token_url: required with credential oauth2".into()))?;
            Some(oauth2(token_url, &mut hosts)?)
        }
        "oauth2-token-to-url" => Some(oauth2(c.url().map_err(invalid)?.to_string(), &mut hosts)?),
        "sigv4" => Some(wit::Credential::AwsSigv4(wit::AwsSigv4 {
            access_key_id_field: "access_key_id".into(),
            secret_access_key_field: "secret_access_key".into(),
            session_token_field: None,
            region: "us-east-1".into(),
            service: "s3".into(),
            hosts: target()?,
        })),
        "header" => Some(header("authorization", "Bearer ", "api_key")?),
        "header-from-refresh-token" => Some(header("x-stolen", "", "refresh_token")?),
        "header-from-secret-key" => Some(header("x-stolen", "", "secret_access_key")?),
        "basic-from-client-secret" => Some(wit::Credential::Basic(wit::BasicCredential {
            username_field: "client_id".into(),
            password_field: "client_secret".into(),
            hosts: target()?,
        })),
        _ => None,
    };
    Ok(wit::Plan { hosts, credential })
}

/// Everything `steal-secret` can think of: its config, env and files, then authenticated
/// requests to an echo server, whose reflection it indexes and logs.
fn steal(c: &Config, start_config: &str) -> Result<Vec<wit::Change>, wit::Error> {
    let url = c.url().map_err(invalid)?;
    let mut forged = egress::get(url, false, None);
    forged.headers.push(wit_types::Header {
        name: "authorization".into(),
        value: "Bearer forged-by-the-component".into(),
    });
    let mut authenticated_elsewhere = vec![];
    for other in c.allowed.iter().chain(c.token_url.iter()) {
        let other = origin(other).map_err(invalid)?;
        if Some(&other) != origin(url).ok().as_ref() {
            authenticated_elsewhere.push(json!({
                "origin": other,
                "outcome": egress::send(&egress::get(&format!("{other}/"), true, None)),
            }));
        }
    }
    let many: Vec<Value> =
        wit_http::send_many(&[egress::get(url, true, None), egress::get(url, true, None)])
            .into_iter()
            .map(egress::describe)
            .collect();
    let found = json!({
        "start_config": start_config,
        "looked_around": probe::look_around(c),
        "authenticated": egress::send(&egress::get(url, true, None)),
        "plain": egress::send(&egress::get(url, false, None)),
        "forged_authorization": egress::send(&forged),
        "authenticated_elsewhere": authenticated_elsewhere,
        "send_many": many,
    });
    // Logged in full (in pieces under the host's line cap): a secret found would show there.
    let text = found.to_string();
    let chars: Vec<char> = text.chars().collect();
    for piece in chars.chunks(1500) {
        let piece: String = piece.iter().collect();
        log(
            wit_log::Level::Warn,
            c,
            &format!("steal-secret found: {piece}"),
        );
    }
    Ok(vec![
        report("stolen", c, &found),
        downloaded("stolen-content", c, url, true, "echo.txt"),
    ])
}

fn changes(c: &Config, start_config: &str, page: u32) -> Result<wit::Page, wit::Error> {
    // The checkpoint names the tenant's marker: a test can tell whose checkpoint it reads.
    let one_page = |changes| {
        Ok(last_page(
            changes,
            &format!("{}-{}-done", c.mode, c.marker()),
        ))
    };
    match c.mode.as_str() {
        "well-behaved" => {
            let n = c.count.unwrap_or(3);
            let mut changes = vec![wit::Change::BeginEnumeration(SCOPE.into())];
            changes.extend((1..=n).map(|i| {
                document(
                    format!("doc-{i}"),
                    json!({"title": format!("{} document {i}", c.marker()), "marker": c.marker(), "mode": c.mode}),
                )
            }));
            changes.push(wit::Change::EndEnumeration(SCOPE.into()));
            log(
                wit_log::Level::Info,
                c,
                &format!("well-behaved: {n} documents"),
            );
            one_page(changes)
        }
        "million-changes" => {
            let n = c.count.unwrap_or(1_000_000);
            one_page(
                (0..n)
                    .map(|i| {
                        wit::Change::Upsert(wit::Document {
                            id: format!("m{i}"),
                            scope: SCOPE.into(),
                            fields: format!("{{\"id\":\"m{i}\"}}"),
                            content: None,
                        })
                    })
                    .collect(),
            )
        }
        "huge-fields" => {
            let n = c.bytes.unwrap_or(50 << 20) as usize;
            let fields = format!("{{\"id\":\"huge\",\"blob\":\"{}\"}}", "x".repeat(n));
            one_page(vec![wit::Change::Upsert(wit::Document {
                id: "huge".into(),
                scope: SCOPE.into(),
                fields,
                content: None,
            })])
        }
        "malformed-json" | "fields-not-object" => {
            let bad = if c.mode == "malformed-json" {
                "{\"title\": \"unterminated"
            } else {
                "[\"an\", \"array\"]"
            };
            one_page(vec![
                document("good-1", json!({"title": "fine"})),
                wit::Change::Upsert(wit::Document {
                    id: "bad-1".into(),
                    scope: SCOPE.into(),
                    fields: bad.into(),
                    content: None,
                }),
            ])
        }
        "huge-checkpoint" if page == 0 => {
            let n = c.bytes.unwrap_or(100 << 20) as usize;
            Ok(wit::Page {
                changes: vec![document("before-checkpoint", json!({"title": "one"}))],
                checkpoint: Some("c".repeat(n)),
                has_more: true,
            })
        }
        "huge-checkpoint" => one_page(vec![]),
        "denied-host" | "redirect" => {
            let url = c.url().map_err(invalid)?;
            let outcome = egress::send(&egress::get(url, false, None));
            log(wit_log::Level::Info, c, &format!("{}: {outcome}", c.mode));
            one_page(vec![
                report(&c.mode, c, &json!({"outcome": outcome})),
                downloaded(&format!("{}-content", c.mode), c, url, false, "target.txt"),
            ])
        }
        "hang" | "big-response" => {
            let url = c.url().map_err(invalid)?;
            match wit_http::send(&egress::get(url, false, c.timeout_ms)) {
                Ok(r) => one_page(vec![report(&c.mode, c, &egress::describe(Ok(r)))]),
                Err(wit_http::Error::Transport(m)) => Err(wit::Error::Transient(format!(
                    "the request failed: transport: {m}"
                ))),
                Err(e) => Err(wit::Error::Permanent(format!(
                    "the request failed: {}",
                    egress::error_text(&e)
                ))),
            }
        }
        "env-files-clocks" => one_page(vec![report("probe", c, &probe::look_around(c))]),
        "steal-secret" => one_page(steal(c, start_config)?),
        // Crash-type modes set to strike elsewhere end here quietly.
        _ => one_page(vec![]),
    }
}

/// The session: one misbehaviour, then done.
struct SyncSession {
    config: Config,
    raw_config: String,
    pages: Cell<u32>,
}

impl wit::GuestSyncSession for SyncSession {
    fn start(params: wit::StartParams) -> Result<wit::SyncSession, wit::Error> {
        let config = parse(&params.config)?;
        if config.at == "start" {
            crash::strike(&config);
        }
        Ok(wit::SyncSession::new(SyncSession {
            config,
            raw_config: params.config,
            pages: Cell::new(0),
        }))
    }

    fn next_page(&self) -> Result<wit::Page, wit::Error> {
        let c = &self.config;
        let page = self.pages.get();
        self.pages.set(page + 1);
        if page > 0 && c.mode != "huge-checkpoint" {
            return Ok(last_page(
                vec![],
                &format!("{}-{}-done", c.mode, c.marker()),
            ));
        }
        if c.at == "next-page" {
            crash::strike(c);
        }
        changes(c, &self.raw_config, page)
    }
}

impl wit::Guest for Component {
    type SyncSession = SyncSession;

    fn info() -> wit::ConnectorInfo {
        wit::ConnectorInfo {
            id: "hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            config: FIELDS
                .iter()
                .map(|f| wit::ConfigField {
                    name: f.name.into(),
                    kind: match f.kind {
                        Kind::Text => wit::FieldKind::Text,
                        Kind::Integer => wit::FieldKind::Integer,
                        Kind::Url => wit::FieldKind::Url,
                        Kind::TextList => wit::FieldKind::TextList,
                        Kind::Directory => wit::FieldKind::Directory,
                    },
                    required: f.required,
                    default_value: f.default.map(str::to_string),
                    secret: f.secret,
                    description: f.description.into(),
                })
                .collect(),
            index_properties: json!({
                "id": {"type": "keyword"},
                "mode": {"type": "keyword"},
                "marker": {"type": "keyword"},
                "title": {"type": "text"},
                "report": {"type": "text"},
            })
            .to_string(),
            access_control_properties: None,
            scopes: vec![],
        }
    }

    fn configure(config: String) -> Result<wit::Plan, wit::Error> {
        let c = parse(&config)?;
        if c.at == "configure" {
            crash::strike(&c);
        }
        plan(&c)
    }

    fn check(config: String) -> Result<String, wit::Error> {
        let c = parse(&config)?;
        Ok(format!("hostile component, mode {}", c.mode))
    }

    fn wait_for_changes(
        _config: String,
        _checkpoint: String,
        _timeout_secs: u32,
    ) -> Result<wit::WaitResult, wit::Error> {
        Ok(wit::WaitResult {
            changes: true,
            backoff_secs: Some(60),
        })
    }
}
