//! The boundary for components built against `tributary:source@0.2.x` (generated from 0.2.1;
//! wasmtime resolves a 0.2.0 component's imports and exports to them): its generated bindings
//! (confined to this module), the host side of its imports, and the conversions between its
//! types and the host's own (`crate::source`).
use super::host_state::HostState;
use crate::http::{HttpError, InboundResponse, Method, OutboundRequest};
use crate::source::{
    AwsSigV4, BasicCredential, Change, ConfigField, ConnectorInfo, ContentRequest, ContentSource,
    Credential, Document, FieldKind, GuestError, HeaderCredential, IndexTarget, OAuth2, Page, Plan,
    ScopeDecl, WaitResult, WitVersion,
};
use wasmtime::Store;
use wasmtime::component::ResourceAny;

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit/source@0.2.1",
        world: "source-connector",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

use generated::exports::tributary::source::source as guest;
use generated::tributary::source::{http, logging, run, types};
pub use generated::{SourceConnector, SourceConnectorPre};

/// Add the 0.2 imports (`http`, `logging`) to the linker.
pub fn add_to_linker(linker: &mut wasmtime::component::Linker<HostState>) -> wasmtime::Result<()> {
    SourceConnector::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |state| state)
}

impl types::Host for HostState {}

fn outbound(req: types::Request) -> OutboundRequest {
    OutboundRequest {
        method: match req.method {
            types::Method::Get => Method::Get,
            types::Method::Head => Method::Head,
            types::Method::Post => Method::Post,
            types::Method::Put => Method::Put,
            types::Method::Patch => Method::Patch,
            types::Method::Delete => Method::Delete,
        },
        url: req.url,
        headers: req.headers.into_iter().map(|h| (h.name, h.value)).collect(),
        body: req.body,
        authenticate: req.authenticate,
        timeout_ms: req.timeout_ms,
    }
}

fn answer(result: Result<InboundResponse, HttpError>) -> Result<http::Response, http::Error> {
    match result {
        Ok(response) => Ok(http::Response {
            status: response.status,
            headers: response
                .headers
                .into_iter()
                .map(|(name, value)| types::Header { name, value })
                .collect(),
            body: response.body.to_vec(),
        }),
        Err(HttpError::Denied(m)) => Err(http::Error::Denied(m)),
        Err(HttpError::InvalidRequest(m)) => Err(http::Error::InvalidRequest(m)),
        Err(HttpError::Transport(m)) => Err(http::Error::Transport(m)),
        Err(HttpError::TooLarge(n)) => Err(http::Error::TooLarge(n)),
        Err(HttpError::Credential(m)) => Err(http::Error::Credential(m)),
    }
}

impl http::Host for HostState {
    async fn send(
        &mut self,
        req: types::Request,
    ) -> wasmtime::Result<Result<http::Response, http::Error>> {
        Ok(answer(self.send_outbound(outbound(req)).await))
    }

    async fn send_many(
        &mut self,
        reqs: Vec<types::Request>,
    ) -> wasmtime::Result<Vec<Result<http::Response, http::Error>>> {
        let results = self
            .send_many_outbound(reqs.into_iter().map(outbound).collect())
            .await;
        Ok(results.into_iter().map(answer).collect())
    }

    async fn prefetch(&mut self, req: types::Request) -> wasmtime::Result<()> {
        self.prefetch_outbound(outbound(req));
        Ok(())
    }
}

impl run::Host for HostState {
    async fn content_wanted(&mut self) -> wasmtime::Result<bool> {
        Ok(self.content_wanted)
    }
}

impl logging::Host for HostState {
    async fn log(&mut self, level: logging::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            logging::Level::Trace => tracing::Level::TRACE,
            logging::Level::Debug => tracing::Level::DEBUG,
            logging::Level::Info => tracing::Level::INFO,
            logging::Level::Warn => tracing::Level::WARN,
            logging::Level::Error => tracing::Level::ERROR,
        };
        self.log_line(level, &message);
        Ok(())
    }
}

impl From<guest::Error> for GuestError {
    fn from(e: guest::Error) -> Self {
        match e {
            guest::Error::InvalidConfig(m) => GuestError::InvalidConfig(m),
            guest::Error::Unauthorized(m) => GuestError::Unauthorized(m),
            guest::Error::CheckpointExpired(m) => GuestError::CheckpointExpired(m),
            guest::Error::CheckpointMismatch(m) => GuestError::CheckpointMismatch(m),
            guest::Error::Transient(m) => GuestError::Transient(m),
            guest::Error::Permanent(m) => GuestError::Permanent(m),
        }
    }
}

fn info_of(info: guest::ConnectorInfo) -> ConnectorInfo {
    ConnectorInfo {
        id: info.id,
        version: info.version,
        config: info
            .config
            .into_iter()
            .map(|f| ConfigField {
                name: f.name,
                kind: match f.kind {
                    guest::FieldKind::Text => FieldKind::Text,
                    guest::FieldKind::Integer => FieldKind::Integer,
                    guest::FieldKind::Boolean => FieldKind::Boolean,
                    guest::FieldKind::Url => FieldKind::Url,
                    guest::FieldKind::TextList => FieldKind::TextList,
                    guest::FieldKind::Directory => FieldKind::Directory,
                },
                required: f.required,
                default_value: f.default_value,
                secret: f.secret,
                description: f.description,
            })
            .collect(),
        index_properties: info.index_properties,
        access_control_properties: info.access_control_properties,
        scopes: info
            .scopes
            .into_iter()
            .map(|s| ScopeDecl {
                name: s.name,
                target: match s.target {
                    guest::IndexTarget::Documents => IndexTarget::Documents,
                    guest::IndexTarget::AccessControl => IndexTarget::AccessControl,
                },
            })
            .collect(),
        api: WitVersion::V0_2,
    }
}

fn credential_of(c: guest::Credential) -> Credential {
    match c {
        guest::Credential::Oauth2(o) => Credential::OAuth2(OAuth2 {
            token_url: o.token_url,
            authorize_url: o.authorize_url,
            authorize_params: o.authorize_params,
            client_id_field: o.client_id_field,
            client_secret_field: o.client_secret_field,
            refresh_token_field: o.refresh_token_field,
            scopes: o.scopes,
            token_hosts: o.token_hosts,
        }),
        guest::Credential::AwsSigv4(a) => Credential::AwsSigV4(AwsSigV4 {
            access_key_id_field: a.access_key_id_field,
            secret_access_key_field: a.secret_access_key_field,
            session_token_field: a.session_token_field,
            region: a.region,
            service: a.service,
            hosts: a.hosts,
        }),
        guest::Credential::Header(h) => Credential::Header(HeaderCredential {
            header: h.header,
            prefix: h.prefix,
            value_field: h.value_field,
            hosts: h.hosts,
        }),
        guest::Credential::Basic(b) => Credential::Basic(BasicCredential {
            username_field: b.username_field,
            password_field: b.password_field,
            hosts: b.hosts,
        }),
    }
}

fn document_of(d: guest::Document) -> Document {
    Document {
        id: d.id,
        scope: d.scope,
        fields: d.fields,
        content: d.content.map(|c| ContentRequest {
            source: match c.source {
                guest::ContentSource::Http(r) => ContentSource::Http(outbound(r)),
                guest::ContentSource::File(path) => ContentSource::File(path),
            },
            file_name: c.file_name,
            size: c.size,
            content_key: c.content_key,
        }),
    }
}

fn page_of(page: guest::Page) -> Page {
    Page {
        changes: page
            .changes
            .into_iter()
            .map(|c| match c {
                guest::Change::Upsert(d) => Change::Upsert(document_of(d)),
                guest::Change::Delete(r) => Change::Delete {
                    scope: r.scope,
                    id: r.id,
                },
                guest::Change::DeleteTree(t) => Change::DeleteTree {
                    scope: t.scope,
                    field: t.field,
                    value: t.value,
                },
                guest::Change::BeginEnumeration(s) => Change::BeginEnumeration(s),
                guest::Change::EndEnumeration(s) => Change::EndEnumeration(s),
            })
            .collect(),
        checkpoint: page.checkpoint,
        has_more: page.has_more,
    }
}

type Guest<T> = wasmtime::Result<Result<T, GuestError>>;

pub async fn info(
    b: &SourceConnector,
    s: &mut Store<HostState>,
) -> wasmtime::Result<ConnectorInfo> {
    Ok(info_of(b.tributary_source_source().call_info(s).await?))
}

pub async fn configure(
    b: &SourceConnector,
    s: &mut Store<HostState>,
    config: String,
) -> Guest<Plan> {
    let r = b
        .tributary_source_source()
        .call_configure(s, &config)
        .await?;
    Ok(r.map(|p| Plan {
        hosts: p.hosts,
        credential: p.credential.map(credential_of),
    })
    .map_err(GuestError::from))
}

pub async fn check(b: &SourceConnector, s: &mut Store<HostState>, config: String) -> Guest<String> {
    let r = b.tributary_source_source().call_check(s, &config).await?;
    Ok(r.map_err(GuestError::from))
}

pub async fn wait_for_changes(
    b: &SourceConnector,
    s: &mut Store<HostState>,
    config: String,
    checkpoint: String,
    timeout_secs: u32,
) -> Guest<WaitResult> {
    let r = b
        .tributary_source_source()
        .call_wait_for_changes(s, &config, &checkpoint, timeout_secs)
        .await?;
    Ok(r.map(|w| WaitResult {
        changes: w.changes,
        backoff_secs: w.backoff_secs,
    })
    .map_err(GuestError::from))
}

pub async fn start(
    b: &SourceConnector,
    s: &mut Store<HostState>,
    config: String,
    checkpoint: Option<String>,
) -> Guest<ResourceAny> {
    let params = guest::StartParams { config, checkpoint };
    let r = b
        .tributary_source_source()
        .sync_session()
        .call_start(s, &params)
        .await?;
    Ok(r.map_err(GuestError::from))
}

pub async fn next_page(
    b: &SourceConnector,
    s: &mut Store<HostState>,
    session: ResourceAny,
) -> Guest<Page> {
    let r = b
        .tributary_source_source()
        .sync_session()
        .call_next_page(s, session)
        .await?;
    Ok(r.map(page_of).map_err(GuestError::from))
}
