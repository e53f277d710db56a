//! What a source component tells the host, in the host's own types.
//!
//! The generated WIT bindings stay inside their version's module (`runtime::v0_1`,
//! `runtime::v0_2`), which converts them into these types at the boundary; everything else in
//! the host (sync, content, tenant, commands) works on these, whatever WIT version the
//! component was built against.
use crate::http::OutboundRequest;
use serde::{Deserialize, Serialize};

/// The WIT package versions of `tributary:source` this host can load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum WitVersion {
    V0_1,
    V0_2,
}

impl WitVersion {
    pub const SUPPORTED: [WitVersion; 2] = [WitVersion::V0_1, WitVersion::V0_2];

    pub fn as_str(self) -> &'static str {
        match self {
            WitVersion::V0_1 => "0.1",
            WitVersion::V0_2 => "0.2",
        }
    }
}

impl std::fmt::Display for WitVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Integer,
    Boolean,
    Url,
    /// A list of strings (e.g. glob patterns).
    TextList,
    /// A directory on the runner's machine that the tenant grants to the component read-only.
    Directory,
}

impl FieldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Integer => "integer",
            FieldKind::Boolean => "boolean",
            FieldKind::Url => "url",
            FieldKind::TextList => "list of text",
            FieldKind::Directory => "directory",
        }
    }
}

/// One configuration field the component understands.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigField {
    pub name: String,
    pub kind: FieldKind,
    pub required: bool,
    /// JSON literal of the default, if any.
    pub default_value: Option<String>,
    /// Kept by the host: never passed to the component, never logged.
    pub secret: bool,
    pub description: String,
}

/// Which index the documents of a scope go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IndexTarget {
    /// The tenant's content index.
    #[default]
    Documents,
    /// The access-control index beside it (`.search-acl-filter-<index>`).
    AccessControl,
}

/// An enumeration scope the component declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeDecl {
    pub name: String,
    pub target: IndexTarget,
}

#[derive(Debug, Clone)]
pub struct ConnectorInfo {
    /// Stable connector id, e.g. "local-folder".
    pub id: String,
    pub version: String,
    pub config: Vec<ConfigField>,
    /// Mapping `properties` (JSON object) of the fields the connector puts in documents.
    pub index_properties: String,
    /// Mapping `properties` of the access-control documents, if the connector writes any.
    pub access_control_properties: Option<String>,
    /// Scopes with a non-default target (any other scope goes to the content index).
    pub scopes: Vec<ScopeDecl>,
    /// The WIT version the component was built against.
    pub api: WitVersion,
}

impl ConnectorInfo {
    /// The index a scope's documents go to.
    pub fn target_of(&self, scope: &str) -> IndexTarget {
        self.scopes
            .iter()
            .find(|s| s.name == scope)
            .map(|s| s.target)
            .unwrap_or_default()
    }
}

/// The OAuth2 refresh-token grant the host runs for the component.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuth2 {
    pub token_url: String,
    pub authorize_url: String,
    /// Extra query parameters of the authorize URL the component asks for.
    pub authorize_params: Vec<(String, String)>,
    pub client_id_field: String,
    pub client_secret_field: String,
    pub refresh_token_field: String,
    pub scopes: Vec<String>,
    /// Origins the bearer token may go to.
    pub token_hosts: Vec<String>,
}

/// AWS Signature Version 4, computed by the host with the tenant's keys.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsSigV4 {
    pub access_key_id_field: String,
    pub secret_access_key_field: String,
    pub session_token_field: Option<String>,
    pub region: String,
    pub service: String,
    /// Origins whose requests are signed.
    pub hosts: Vec<String>,
}

/// A fixed header carrying a secret (an API key), optionally with a prefix (`"Token "`).
#[derive(Debug, Clone, PartialEq)]
pub struct HeaderCredential {
    pub header: String,
    pub prefix: String,
    pub value_field: String,
    pub hosts: Vec<String>,
}

/// HTTP basic authentication from two fields (the password a secret).
#[derive(Debug, Clone, PartialEq)]
pub struct BasicCredential {
    pub username_field: String,
    pub password_field: String,
    pub hosts: Vec<String>,
}

/// How the host authenticates the component's requests. The component never holds a secret.
#[derive(Debug, Clone, PartialEq)]
pub enum Credential {
    OAuth2(OAuth2),
    AwsSigV4(AwsSigV4),
    Header(HeaderCredential),
    Basic(BasicCredential),
}

impl Credential {
    /// The origins the credential may be sent to.
    pub fn hosts(&self) -> &[String] {
        match self {
            Credential::OAuth2(c) => &c.token_hosts,
            Credential::AwsSigV4(c) => &c.hosts,
            Credential::Header(c) => &c.hosts,
            Credential::Basic(c) => &c.hosts,
        }
    }
}

/// What a validated configuration needs from the host.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Origins the component will call. Everything else is denied.
    pub hosts: Vec<String>,
    pub credential: Option<Credential>,
}

/// Where a document's content comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentSource {
    /// A download the host performs under the tenant's HTTP policy.
    Http(OutboundRequest),
    /// A file inside a directory the tenant granted (the path as the component sees it).
    File(String),
}

/// Content the host fetches and extracts for a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentRequest {
    pub source: ContentSource,
    /// File name used to choose the extractor (its extension).
    pub file_name: String,
    /// Size in bytes, when known before fetching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Changes whenever the bytes change: an unchanged key skips the fetch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Stable document id (Elasticsearch `_id`).
    pub id: String,
    /// Enumeration scope the document belongs to.
    pub scope: String,
    /// JSON object with the document's fields.
    pub fields: String,
    pub content: Option<ContentRequest>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Upsert(Document),
    /// Delete one document of `scope` by id.
    Delete {
        scope: String,
        id: String,
    },
    /// Delete the documents of `scope` whose `field` equals `value` or starts with `value/`.
    DeleteTree {
        scope: String,
        field: String,
        value: String,
    },
    BeginEnumeration(String),
    EndEnumeration(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub changes: Vec<Change>,
    /// Opaque resume point, valid once every change in this and earlier pages is durable.
    pub checkpoint: Option<String>,
    pub has_more: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitResult {
    pub changes: bool,
    pub backoff_secs: Option<u32>,
}

/// A recoverable error reported by the component (a WIT `error` value, not a trap).
#[derive(Debug, Clone, thiserror::Error)]
pub enum GuestError {
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("checkpoint expired: {0}")]
    CheckpointExpired(String),
    #[error("checkpoint does not belong to this configuration: {0}")]
    CheckpointMismatch(String),
    #[error("transient failure: {0}")]
    Transient(String),
    #[error("permanent failure: {0}")]
    Permanent(String),
}
