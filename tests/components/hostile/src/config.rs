//! The hostile component's settings: which misbehaviour, where, and a few knobs.
use serde::Deserialize;

/// The misbehaviours this component knows (the `mode` field).
pub const MODES: &[&str] = &[
    "loop",
    "memory-bomb",
    "panic",
    "stack-overflow",
    "million-changes",
    "huge-fields",
    "malformed-json",
    "fields-not-object",
    "huge-checkpoint",
    "denied-host",
    "redirect",
    "hang",
    "big-response",
    "env-files-clocks",
    "steal-secret",
    "well-behaved",
];

/// Where a crash-type mode (loop, memory-bomb, panic, stack-overflow) strikes.
pub const PHASES: &[&str] = &["configure", "start", "next-page"];

/// How `steal-secret` asks the host to authenticate its requests.
pub const CREDENTIALS: &[&str] = &[
    "none",
    // Honest declarations: the echo must see a bearer token / a signature / the API key.
    "oauth2",
    "sigv4",
    "header",
    // Attacks: point the OAuth2 token endpoint at `url` (the host would post the refresh token
    // and client secret there), or wrap another credential's secret field in a plain header
    // or Basic auth that an echo server reflects.
    "oauth2-token-to-url",
    "header-from-refresh-token",
    "header-from-secret-key",
    "basic-from-client-secret",
];

#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub mode: String,
    #[serde(default = "next_page")]
    pub at: String,
    /// The server the mode talks to (echo, redirect, hang, big answer, or the denied one).
    pub url: Option<String>,
    /// Origins declared in the plan; when empty, the origin of `url` (except for
    /// `denied-host`, whose point is that `url` is not declared).
    #[serde(default)]
    pub allowed: Vec<String>,
    pub count: Option<u64>,
    pub bytes: Option<u64>,
    pub timeout_ms: Option<u32>,
    #[serde(default = "none")]
    pub credential: String,
    pub token_url: Option<String>,
    pub config_file: Option<String>,
    /// Where the host mounted the granted directory (a `directory` field).
    pub granted: Option<String>,
    /// Text put in every document and log line, so tests can tell tenants apart.
    pub marker: Option<String>,
}

fn next_page() -> String {
    "next-page".into()
}

fn none() -> String {
    "none".into()
}

impl Config {
    pub fn parse(json: &str) -> Result<Config, String> {
        let c: Config =
            serde_json::from_str(json).map_err(|e| format!("config: not what I expect: {e}"))?;
        if !MODES.contains(&c.mode.as_str()) {
            return Err(format!(
                "mode: {:?} is not one of {}",
                c.mode,
                MODES.join(", ")
            ));
        }
        if !PHASES.contains(&c.at.as_str()) {
            return Err(format!(
                "at: {:?} is not one of {}",
                c.at,
                PHASES.join(", ")
            ));
        }
        if !CREDENTIALS.contains(&c.credential.as_str()) {
            return Err(format!(
                "credential: {:?} is not one of {}",
                c.credential,
                CREDENTIALS.join(", ")
            ));
        }
        Ok(c)
    }

    pub fn marker(&self) -> &str {
        self.marker.as_deref().unwrap_or("hostile")
    }

    /// `url`, required by the modes that talk to a server.
    pub fn url(&self) -> Result<&str, String> {
        self.url
            .as_deref()
            .ok_or_else(|| format!("url: required in mode {}", self.mode))
    }
}

/// `scheme://host[:port]` of a URL.
pub fn origin(url: &str) -> Result<String, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not an absolute URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    Ok(format!("{scheme}://{authority}"))
}

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Text,
    Integer,
    Url,
    TextList,
    Directory,
}

pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub default: Option<&'static str>,
    pub secret: bool,
    pub description: &'static str,
}

const fn field(name: &'static str, kind: Kind, description: &'static str) -> Field {
    Field {
        name,
        kind,
        required: false,
        default: None,
        secret: false,
        description,
    }
}

const fn secret(name: &'static str, description: &'static str) -> Field {
    Field {
        name,
        kind: Kind::Text,
        required: false,
        default: None,
        secret: true,
        description,
    }
}

pub const FIELDS: &[Field] = &[
    Field {
        required: true,
        ..field(
            "mode",
            Kind::Text,
            "The misbehaviour (see MODES in config.rs).",
        )
    },
    Field {
        default: Some("\"next-page\""),
        ..field(
            "at",
            Kind::Text,
            "Where a crash-type mode strikes: configure, start or next-page.",
        )
    },
    field("url", Kind::Url, "The server the mode talks to."),
    field(
        "allowed",
        Kind::TextList,
        "Origins declared in the plan (default: the origin of url).",
    ),
    field(
        "count",
        Kind::Integer,
        "How many (changes, documents, frames).",
    ),
    field(
        "bytes",
        Kind::Integer,
        "How large (fields, checkpoint, allocation step).",
    ),
    field(
        "timeout_ms",
        Kind::Integer,
        "timeout-ms of the request in mode hang (absent: the host default).",
    ),
    Field {
        default: Some("\"none\""),
        ..field(
            "credential",
            Kind::Text,
            "The credential steal-secret declares (see CREDENTIALS in config.rs).",
        )
    },
    field(
        "token_url",
        Kind::Url,
        "The OAuth2 token endpoint (credential oauth2).",
    ),
    field("client_id", Kind::Text, "OAuth2 client id."),
    field("access_key_id", Kind::Text, "AWS access key id."),
    field(
        "config_file",
        Kind::Text,
        "A host path the component tries to read (the tenant's config file).",
    ),
    field("granted", Kind::Directory, "A directory granted read-only."),
    field(
        "marker",
        Kind::Text,
        "Put into every document and log line.",
    ),
    secret("client_secret", "OAuth2 client secret (the host keeps it)."),
    secret("refresh_token", "OAuth2 refresh token (the host keeps it)."),
    secret(
        "secret_access_key",
        "AWS secret access key (the host keeps it).",
    ),
    secret(
        "api_key",
        "API key sent as a bearer header (the host keeps it).",
    ),
];
