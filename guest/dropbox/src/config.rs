//! Configuration fields, defaults and validation (no network).

use serde_json::{Map, Value};

use crate::error::Error;
use crate::path::validate_path;
use crate::rules::{self, AdvancedRule};

/// The kind of a configuration field (mirrors WIT `field-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Integer,
    Boolean,
    Url,
}

/// One configuration field as declared in `info().config`.
#[derive(Debug, Clone)]
pub struct FieldSpec {
    pub name: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    /// JSON literal of the default.
    pub default: Option<&'static str>,
    pub secret: bool,
    pub description: &'static str,
}

/// Every field this connector understands, in display order.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "path",
        kind: FieldKind::Text,
        required: false,
        default: Some("\"/\""),
        secret: false,
        description: "Dropbox folder to index, e.g. \"/Reports\"; \"/\" (or empty) indexes the whole Dropbox.",
    },
    FieldSpec {
        name: "app_key",
        kind: FieldKind::Text,
        required: true,
        default: None,
        secret: false,
        description: "App key of your Dropbox app (the OAuth2 client id).",
    },
    FieldSpec {
        name: "app_secret",
        kind: FieldKind::Text,
        required: false,
        default: None,
        secret: true,
        description: "App secret of your Dropbox app (the OAuth2 client secret). Kept by the host. Not needed when the refresh token came from `tributary auth` (PKCE).",
    },
    FieldSpec {
        name: "refresh_token",
        kind: FieldKind::Text,
        required: true,
        default: None,
        secret: true,
        description: "OAuth2 refresh token (token_access_type=offline); `tributary auth` gets one. Kept by the host.",
    },
    FieldSpec {
        name: "api_url",
        kind: FieldKind::Url,
        required: false,
        default: Some("\"https://api.dropboxapi.com\""),
        secret: false,
        description: "Origin of the Dropbox RPC API.",
    },
    FieldSpec {
        name: "content_url",
        kind: FieldKind::Url,
        required: false,
        default: Some("\"https://content.dropboxapi.com\""),
        secret: false,
        description: "Origin of the Dropbox content (download) API.",
    },
    FieldSpec {
        name: "notify_url",
        kind: FieldKind::Url,
        required: false,
        default: Some("\"https://notify.dropboxapi.com\""),
        secret: false,
        description: "Origin of the Dropbox long-poll API (used by `watch`).",
    },
    FieldSpec {
        name: "oauth_url",
        kind: FieldKind::Url,
        required: false,
        default: Some("\"https://api.dropboxapi.com\""),
        secret: false,
        description: "Origin of the OAuth2 token endpoint ({oauth_url}/oauth2/token).",
    },
    FieldSpec {
        name: "web_url",
        kind: FieldKind::Url,
        required: false,
        default: Some("\"https://www.dropbox.com\""),
        secret: false,
        description: "Origin of the Dropbox website: OAuth2 authorize page and document links.",
    },
    FieldSpec {
        name: "include_received_files",
        kind: FieldKind::Boolean,
        required: false,
        default: Some("true"),
        secret: false,
        description: "Also index files shared with the account that are not in its Dropbox.",
    },
    FieldSpec {
        name: "export_format",
        kind: FieldKind::Text,
        required: false,
        default: Some("\"markdown\""),
        secret: false,
        description: "Format Dropbox Paper documents are exported in for indexing: markdown or html.",
    },
    FieldSpec {
        name: "use_document_level_security",
        kind: FieldKind::Boolean,
        required: false,
        default: Some("false"),
        secret: false,
        description: "Give every document `_allow_access_control` (who may open it, in Elastic's identity format) and write one access-control document per team member to .search-acl-filter-<index>, so Elastic's document-level security works.",
    },
    FieldSpec {
        name: "include_inherited_users_and_groups",
        kind: FieldKind::Boolean,
        required: false,
        default: Some("false"),
        secret: false,
        description: "With document-level security: also allow the members of the shared folders above a document's own shared folder (access inherited through nesting).",
    },
    FieldSpec {
        name: "advanced_rules",
        kind: FieldKind::Text,
        required: false,
        default: None,
        secret: false,
        description: "Advanced sync rules in Elastic's format: a JSON array of files/search_v2 queries, e.g. [{\"query\": \"budget\", \"options\": {\"path\": \"/Finance\", \"file_extensions\": [\"pdf\"]}}]. When set, only what the rules find is indexed (re-run on every sync).",
    },
    FieldSpec {
        name: "team_scope",
        kind: FieldKind::Text,
        required: false,
        default: None,
        secret: false,
        description: "For a team-linked app: \"admin\" indexes the team space as the admin sees it (the default with a team token); \"all_members\" indexes every team folder, shared folder and every member's private files, each once. Setting it also makes `tributary auth` ask for the team scopes.",
    },
];

/// The OAuth2 scopes the connector needs (read-only).
pub const SCOPES: &[&str] = &[
    "account_info.read",
    "files.metadata.read",
    "files.content.read",
    "sharing.read",
];

/// The team scopes `tributary auth` asks for when `team_scope` is set.
pub const TEAM_SCOPES: &[&str] = &[
    "team_info.read",
    "team_data.member",
    "team_data.team_space",
    "members.read",
    "groups.read",
];
/// Reading the team event log (permission changes between syncs).
pub const EVENTS_SCOPE: &str = "events.read";

/// What a team token indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamScope {
    /// The team space as the admin sees it (team folders the admin belongs to, the
    /// admin's home): what a team token indexed before `team_scope` existed.
    Admin,
    /// Every team folder, every shared folder and every member's private files, each
    /// namespace enumerated once with its own cursor.
    AllMembers,
}

impl TeamScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TeamScope::Admin => "admin",
            TeamScope::AllMembers => "all_members",
        }
    }
}

/// How Paper documents are exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Markdown,
    Html,
}

impl ExportFormat {
    /// The value Dropbox expects in `export_format`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Markdown => "markdown",
            ExportFormat::Html => "html",
        }
    }
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The configured folder as Dropbox wants it: "" for the root, else "/A/B".
    pub path: String,
    pub app_key: String,
    /// Origins (scheme://host[:port]), without a trailing slash.
    pub api_url: String,
    pub content_url: String,
    pub notify_url: String,
    pub oauth_url: String,
    pub web_url: String,
    pub include_received_files: bool,
    pub export_format: ExportFormat,
    /// `use_document_level_security`.
    pub dls: bool,
    /// `include_inherited_users_and_groups`.
    pub include_inherited: bool,
    pub advanced_rules: Vec<AdvancedRule>,
    /// None: not set (a team token behaves as [`TeamScope::Admin`]; no team scopes asked).
    pub team_scope: Option<TeamScope>,
    /// Not a config field: whether the host fetches content in this run (`run.content-wanted`,
    /// asked when a session starts). When false, documents describe no download.
    pub fetch_content: bool,
}

impl Config {
    /// Parse and validate the config JSON handed over by the host.
    pub fn parse(json: &str) -> Result<Config, Error> {
        let value: Value = serde_json::from_str(json).map_err(|e| {
            Error::InvalidConfig(format!("the configuration is not valid JSON ({e})"))
        })?;
        let Value::Object(map) = value else {
            return Err(Error::InvalidConfig(
                "the configuration must be a JSON object of field names to values".into(),
            ));
        };
        Self::from_map(&map)
    }

    fn from_map(map: &Map<String, Value>) -> Result<Config, Error> {
        let mut unknown: Vec<&str> = map
            .keys()
            .map(String::as_str)
            .filter(|k| !FIELDS.iter().any(|f| f.name == *k))
            .collect();
        if !unknown.is_empty() {
            unknown.sort_unstable();
            let known: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
            return Err(Error::InvalidConfig(format!(
                "unknown field{} {}: remove {} (known fields: {})",
                if unknown.len() > 1 { "s" } else { "" },
                unknown
                    .iter()
                    .map(|k| format!("{k:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if unknown.len() > 1 { "them" } else { "it" },
                known.join(", ")
            )));
        }
        // `app_secret` and `refresh_token` are deliberately never read: the host keeps them.

        let path = validate_path(&text(map, "path")?.unwrap_or_else(|| "/".into()))?;
        let app_key = match text(map, "app_key")? {
            Some(k) if !k.trim().is_empty() => k.trim().to_string(),
            _ => {
                return Err(Error::InvalidConfig(
                    "app_key: required; set it to the App key shown in the Dropbox App Console"
                        .into(),
                ));
            }
        };
        let api_url = origin_field(map, "api_url", "https://api.dropboxapi.com")?;
        let content_url = origin_field(map, "content_url", "https://content.dropboxapi.com")?;
        let notify_url = origin_field(map, "notify_url", "https://notify.dropboxapi.com")?;
        let oauth_url = origin_field(map, "oauth_url", "https://api.dropboxapi.com")?;
        let web_url = origin_field(map, "web_url", "https://www.dropbox.com")?;
        let include_received_files = boolean(map, "include_received_files", true)?;
        let export_format = match text(map, "export_format")?.as_deref() {
            None => ExportFormat::Markdown,
            Some(s) => match s.trim().to_ascii_lowercase().as_str() {
                "markdown" | "md" => ExportFormat::Markdown,
                "html" => ExportFormat::Html,
                _ => {
                    return Err(Error::InvalidConfig(format!(
                        "export_format: {s:?} is not supported (use \"markdown\" or \"html\")"
                    )));
                }
            },
        };
        let dls = boolean(map, "use_document_level_security", false)?;
        let include_inherited = boolean(map, "include_inherited_users_and_groups", false)?;
        if include_inherited && !dls {
            return Err(Error::InvalidConfig(
                "include_inherited_users_and_groups: only applies with document-level security; set use_document_level_security = true or remove it".into(),
            ));
        }
        let advanced_rules = rules::parse(map.get("advanced_rules").unwrap_or(&Value::Null))?;
        let team_scope = match text(map, "team_scope")?.as_deref().map(str::trim) {
            None | Some("") => None,
            Some("admin") => Some(TeamScope::Admin),
            Some("all_members") => Some(TeamScope::AllMembers),
            Some(other) => {
                return Err(Error::InvalidConfig(format!(
                    "team_scope: {other:?} is not supported (use \"admin\" or \"all_members\")"
                )));
            }
        };
        if team_scope == Some(TeamScope::AllMembers) {
            if !path.is_empty() {
                return Err(Error::InvalidConfig(format!(
                    "team_scope: \"all_members\" indexes the whole team, but path is {path:?}; set path to \"/\" or team_scope to \"admin\""
                )));
            }
            if !advanced_rules.is_empty() {
                return Err(Error::InvalidConfig(
                    "team_scope: \"all_members\" cannot be combined with advanced_rules (a search runs as one user); remove advanced_rules or set team_scope to \"admin\"".into(),
                ));
            }
        }
        Ok(Config {
            path,
            app_key,
            api_url,
            content_url,
            notify_url,
            oauth_url,
            web_url,
            include_received_files,
            export_format,
            dls,
            include_inherited,
            advanced_rules,
            team_scope,
            fetch_content: true,
        })
    }

    /// The OAuth2 scopes to ask for: the user scopes, plus the team scopes when the config
    /// says the app is team-linked (`team_scope`), plus the event log with DLS on a team.
    pub fn scopes(&self) -> Vec<String> {
        let mut out: Vec<String> = SCOPES.iter().map(|s| s.to_string()).collect();
        if self.team_scope.is_some() {
            out.extend(TEAM_SCOPES.iter().map(|s| s.to_string()));
            if self.dls {
                out.push(EVENTS_SCOPE.to_string());
            }
        }
        out
    }

    /// Whether the team scope is "every member" (only meaningful with a team token).
    pub fn all_members(&self) -> bool {
        self.team_scope == Some(TeamScope::AllMembers)
    }

    /// The settings that shape documents: a checkpoint taken under other settings cannot
    /// be continued incrementally (the documents already indexed would not match).
    pub fn fingerprint(&self) -> String {
        let rules: Vec<Value> = self
            .advanced_rules
            .iter()
            .map(|r| r.search_arg(&self.path))
            .collect();
        serde_json::json!({
            "dls": self.dls,
            "inherited": self.include_inherited,
            "rules": rules,
            "team_scope": self.team_scope.unwrap_or(TeamScope::Admin).as_str(),
        })
        .to_string()
    }

    /// The configured path lower-cased, as stored in checkpoints ("" for the root).
    pub fn path_lower(&self) -> String {
        self.path.to_lowercase()
    }

    /// The configured path for messages ("/" for the root).
    pub fn path_for_display(&self) -> &str {
        if self.path.is_empty() {
            "/"
        } else {
            &self.path
        }
    }

    /// Origins the component calls (api, content, notify, oauth), deduplicated in order.
    pub fn hosts(&self) -> Vec<String> {
        dedup([
            &self.api_url,
            &self.content_url,
            &self.notify_url,
            &self.oauth_url,
        ])
    }

    /// Origins that may receive the bearer token (api and content).
    pub fn token_hosts(&self) -> Vec<String> {
        dedup([&self.api_url, &self.content_url])
    }

    /// The OAuth2 token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.oauth_url)
    }

    /// The OAuth2 authorize page.
    pub fn authorize_url(&self) -> String {
        format!("{}/oauth2/authorize", self.web_url)
    }
}

fn dedup<'a>(items: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    out
}

fn text(map: &Map<String, Value>, name: &str) -> Result<Option<String>, Error> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(Error::InvalidConfig(format!(
            "{name}: expected text, got {other}; quote the value"
        ))),
    }
}

fn boolean(map: &Map<String, Value>, name: &str, default: bool) -> Result<bool, Error> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(Error::InvalidConfig(format!(
            "{name}: {other} is not a boolean; use true or false"
        ))),
    }
}

fn origin_field(map: &Map<String, Value>, name: &str, default: &str) -> Result<String, Error> {
    match text(map, name)? {
        None => Ok(default.to_string()),
        Some(s) => parse_origin(&s).map_err(|why| {
            Error::InvalidConfig(format!(
                "{name}: {s:?} {why} (use an origin like {default:?})"
            ))
        }),
    }
}

/// Validate an http(s) URL without a path, query or fragment and return its origin.
pub fn parse_origin(raw: &str) -> Result<String, &'static str> {
    let s = raw.trim();
    let (scheme, rest) = s
        .split_once("://")
        .ok_or("is not a URL: it must start with https:// or http://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return Err("must use https:// or http://");
    }
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() {
        return Err("has no host");
    }
    if authority.contains('/') {
        return Err("must not have a path");
    }
    if authority.contains('?') || authority.contains('#') {
        return Err("must not have a query or fragment");
    }
    if authority.contains('@') {
        return Err("must not contain user info");
    }
    if authority
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("contains spaces or control characters");
    }
    // Split host and port, keeping IPv6 literals intact.
    let (host, port) = if let Some(end) = authority.strip_prefix('[').and_then(|r| r.find(']')) {
        let host = &authority[..end + 2];
        let after = &authority[end + 2..];
        match after.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None if after.is_empty() => (host, None),
            None => return Err("has a malformed host"),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err("has no host");
    }
    if !host.starts_with('[')
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
    {
        return Err("has a malformed host");
    }
    if let Some(p) = port
        && (p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) || p.parse::<u16>().is_err())
    {
        return Err("has a malformed port");
    }
    let host = host.to_ascii_lowercase();
    Ok(match port {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &str) -> Result<Config, Error> {
        let base = r#""app_key":"k""#;
        let json = if extra.is_empty() {
            format!("{{{base}}}")
        } else {
            format!("{{{base},{extra}}}")
        };
        Config::parse(&json)
    }

    fn invalid(extra: &str) -> String {
        match cfg(extra) {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("expected invalid-config, got {other:?}"),
        }
    }

    #[test]
    fn defaults_apply_when_fields_are_missing() {
        let c = cfg("").unwrap();
        assert_eq!(c.path, "");
        assert_eq!(c.api_url, "https://api.dropboxapi.com");
        assert_eq!(c.web_url, "https://www.dropbox.com");
        assert!(c.include_received_files);
        assert_eq!(c.export_format, ExportFormat::Markdown);
        assert_eq!(c.token_url(), "https://api.dropboxapi.com/oauth2/token");
        assert_eq!(
            c.authorize_url(),
            "https://www.dropbox.com/oauth2/authorize"
        );
    }

    #[test]
    fn hosts_are_deduplicated_origins() {
        let c = cfg("").unwrap();
        assert_eq!(
            c.hosts(),
            vec![
                "https://api.dropboxapi.com",
                "https://content.dropboxapi.com",
                "https://notify.dropboxapi.com"
            ]
        );
        assert_eq!(
            c.token_hosts(),
            vec![
                "https://api.dropboxapi.com",
                "https://content.dropboxapi.com"
            ]
        );
        let c = cfg(r#""api_url":"http://127.0.0.1:8765/","content_url":"http://127.0.0.1:8765","notify_url":"http://127.0.0.1:8765","oauth_url":"http://127.0.0.1:8765""#).unwrap();
        assert_eq!(c.hosts(), vec!["http://127.0.0.1:8765"]);
        assert_eq!(c.token_hosts(), vec!["http://127.0.0.1:8765"]);
    }

    #[test]
    fn root_path_forms_normalise_to_empty() {
        assert_eq!(cfg(r#""path":"/""#).unwrap().path, "");
        assert_eq!(cfg(r#""path":"""#).unwrap().path, "");
        assert_eq!(cfg(r#""path":"/Docs/Q1""#).unwrap().path, "/Docs/Q1");
        assert_eq!(
            cfg(r#""path":"/Docs/Ünï""#).unwrap().path_lower(),
            "/docs/ünï"
        );
    }

    #[test]
    fn path_without_leading_slash_names_the_fix() {
        assert_eq!(
            invalid(r#""path":"Docs""#),
            r#"path: "Docs" must start with "/" (use "/Docs", or "/" for the whole Dropbox)"#
        );
    }

    #[test]
    fn path_with_trailing_slash_names_the_fix() {
        assert_eq!(
            invalid(r#""path":"/Docs/""#),
            r#"path: "/Docs/" must not end with "/" (use "/Docs")"#
        );
        assert!(invalid(r#""path":"/a//b""#).starts_with("path: "));
    }

    #[test]
    fn missing_app_key_is_reported() {
        match Config::parse("{}") {
            Err(Error::InvalidConfig(m)) => assert!(m.starts_with("app_key: required")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn urls_must_be_http_origins() {
        assert!(invalid(r#""api_url":"ftp://x""#).starts_with("api_url: "));
        assert!(invalid(r#""content_url":"https://x/2""#).contains("must not have a path"));
        assert!(invalid(r#""notify_url":"notify.dropboxapi.com""#).contains("https://"));
        assert!(invalid(r#""web_url":"https://u:p@x""#).contains("user info"));
        assert!(invalid(r#""oauth_url":"https://x:99999""#).contains("port"));
        assert_eq!(
            cfg(r#""api_url":"HTTPS://API.Example.com:8443""#)
                .unwrap()
                .api_url,
            "https://api.example.com:8443"
        );
        assert_eq!(
            parse_origin("http://[::1]:80/"),
            Ok("http://[::1]:80".into())
        );
    }

    #[test]
    fn unknown_fields_are_rejected_by_name() {
        let m = invalid(r#""pathh":"/x""#);
        assert!(m.starts_with("unknown field \"pathh\": remove it"), "{m}");
    }

    #[test]
    fn secret_fields_are_tolerated_but_never_kept() {
        let c = cfg(r#""app_secret":"s","refresh_token":"r""#).unwrap();
        assert!(!format!("{c:?}").contains("\"s\""));
    }

    #[test]
    fn export_format_is_markdown_or_html() {
        assert_eq!(
            cfg(r#""export_format":"html""#).unwrap().export_format,
            ExportFormat::Html
        );
        assert_eq!(
            invalid(r#""export_format":"pdf""#),
            "export_format: \"pdf\" is not supported (use \"markdown\" or \"html\")"
        );
    }

    #[test]
    fn enterprise_fields_default_off_and_validate() {
        let c = cfg("").unwrap();
        assert!(!c.dls && !c.include_inherited && c.advanced_rules.is_empty());
        assert_eq!(c.team_scope, None);
        assert_eq!(c.scopes(), SCOPES);
        let c = cfg(r#""use_document_level_security":true,"include_inherited_users_and_groups":true,"team_scope":"all_members""#).unwrap();
        assert!(c.dls && c.include_inherited && c.all_members());
        assert!(c.scopes().contains(&"members.read".to_string()));
        assert!(c.scopes().contains(&"events.read".to_string()));
        assert!(
            invalid(r#""include_inherited_users_and_groups":true"#)
                .starts_with("include_inherited_users_and_groups: only applies")
        );
        assert_eq!(
            invalid(r#""team_scope":"everyone""#),
            "team_scope: \"everyone\" is not supported (use \"admin\" or \"all_members\")"
        );
        assert!(
            invalid(r#""team_scope":"all_members","path":"/Docs""#).contains("set path to \"/\"")
        );
        assert!(
            invalid(r#""team_scope":"all_members","advanced_rules":"[{\"query\":\"x\"}]""#)
                .contains("cannot be combined with advanced_rules")
        );
        let c = cfg(r#""advanced_rules":"[{\"query\":\"x\"}]""#).unwrap();
        assert_eq!(c.advanced_rules.len(), 1);
        assert!(invalid(r#""advanced_rules":"[{}]""#).starts_with("advanced_rules: rule 1: "));
    }

    #[test]
    fn fingerprint_changes_with_document_shaping_settings_only() {
        let base = cfg("").unwrap().fingerprint();
        assert_eq!(
            cfg(r#""api_url":"http://127.0.0.1:1""#)
                .unwrap()
                .fingerprint(),
            base
        );
        assert_ne!(
            cfg(r#""use_document_level_security":true"#)
                .unwrap()
                .fingerprint(),
            base
        );
        assert_ne!(
            cfg(r#""team_scope":"all_members""#).unwrap().fingerprint(),
            base
        );
        assert_eq!(cfg(r#""team_scope":"admin""#).unwrap().fingerprint(), base);
        assert_ne!(
            cfg(r#""advanced_rules":"[{\"query\":\"x\"}]""#)
                .unwrap()
                .fingerprint(),
            base
        );
    }

    #[test]
    fn booleans_accept_json_and_text() {
        assert!(
            !cfg(r#""include_received_files":false"#)
                .unwrap()
                .include_received_files
        );
        assert!(
            !cfg(r#""include_received_files":"false""#)
                .unwrap()
                .include_received_files
        );
        assert!(invalid(r#""include_received_files":1"#).starts_with("include_received_files: "));
    }
}
