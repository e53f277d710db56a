//! Serde types for the subset of the Dropbox API v2 the connector uses.
//!
//! Decoding is lenient: unknown fields are ignored and optional fields default, so that
//! additive changes on Dropbox's side never break a sync.

use serde::Deserialize;
use serde_json::Value;

/// `files.Metadata`, polymorphic on `.tag`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = ".tag", rename_all = "snake_case")]
pub enum Metadata {
    File(FileMetadata),
    Folder(FolderMetadata),
    Deleted(DeletedMetadata),
    /// A subtype this connector does not know yet.
    #[serde(other)]
    Unknown,
}

/// `files.FileMetadata`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct FileMetadata {
    pub name: String,
    pub id: String,
    #[serde(default)]
    pub path_lower: Option<String>,
    #[serde(default)]
    pub path_display: Option<String>,
    #[serde(default)]
    pub parent_shared_folder_id: Option<String>,
    #[serde(default)]
    pub preview_url: Option<String>,
    #[serde(default)]
    pub client_modified: Option<String>,
    #[serde(default)]
    pub server_modified: Option<String>,
    #[serde(default)]
    pub rev: Option<String>,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub sharing_info: Option<SharingInfo>,
    #[serde(default = "default_true")]
    pub is_downloadable: bool,
    #[serde(default)]
    pub export_info: Option<ExportInfo>,
    #[serde(default)]
    pub content_hash: Option<String>,
}

/// `files.FolderMetadata`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct FolderMetadata {
    pub name: String,
    pub id: String,
    #[serde(default)]
    pub path_lower: Option<String>,
    #[serde(default)]
    pub path_display: Option<String>,
    #[serde(default)]
    pub parent_shared_folder_id: Option<String>,
    #[serde(default)]
    pub shared_folder_id: Option<String>,
    #[serde(default)]
    pub sharing_info: Option<SharingInfo>,
}

/// `files.DeletedMetadata`: no id, rev or size.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct DeletedMetadata {
    pub name: String,
    #[serde(default)]
    pub path_lower: Option<String>,
    #[serde(default)]
    pub path_display: Option<String>,
}

/// The union of `FileSharingInfo` and `FolderSharingInfo`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct SharingInfo {
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub parent_shared_folder_id: Option<String>,
    #[serde(default)]
    pub shared_folder_id: Option<String>,
    #[serde(default)]
    pub modified_by: Option<String>,
}

/// `files.ExportInfo`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct ExportInfo {
    #[serde(default)]
    pub export_as: Option<String>,
    #[serde(default)]
    pub export_options: Vec<String>,
}

impl ExportInfo {
    /// Whether Dropbox can export the file in `format`.
    pub fn offers(&self, format: &str) -> bool {
        self.export_options.iter().any(|o| o == format) || self.export_as.as_deref() == Some(format)
    }
}

/// `files.ListFolderResult`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ListFolderResult {
    pub entries: Vec<Metadata>,
    pub cursor: String,
    pub has_more: bool,
}

/// `files.ListFolderLongpollResult`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct LongpollResult {
    pub changes: bool,
    #[serde(default)]
    pub backoff: Option<u64>,
}

/// `users.FullAccount` (the fields we use).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct FullAccount {
    pub account_id: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub name: Option<Name>,
    pub root_info: RootInfo,
    #[serde(default)]
    pub team: Option<Team>,
    #[serde(default)]
    pub team_member_id: Option<String>,
}

/// `users.Name` (the field we use).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct Name {
    #[serde(default)]
    pub display_name: String,
}

/// `users.FullTeam` (the fields we use).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct Team {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
}

/// `common.RootInfo` (`user` or `team`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RootInfo {
    #[serde(rename = ".tag")]
    pub tag: String,
    pub root_namespace_id: String,
    pub home_namespace_id: String,
    #[serde(default)]
    pub home_path: Option<String>,
}

impl RootInfo {
    /// Whether the account has a team space separate from its home folder.
    pub fn has_team_space(&self) -> bool {
        self.tag == "team" || self.root_namespace_id != self.home_namespace_id
    }
}

/// `team.TokenGetAuthenticatedAdminResult`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct AuthenticatedAdmin {
    pub admin_profile: AdminProfile,
}

/// `team.TeamMemberProfile` (the fields we use).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct AdminProfile {
    pub team_member_id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub account_id: Option<String>,
}

/// `sharing.ListFilesResult`: ends when `cursor` is absent.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ListFilesResult {
    #[serde(default)]
    pub entries: Vec<SharedFileMetadata>,
    #[serde(default)]
    pub cursor: Option<String>,
}

/// `sharing.SharedFileMetadata` (the fields we use).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct SharedFileMetadata {
    pub id: String,
    pub name: String,
    pub preview_url: String,
    #[serde(default)]
    pub path_lower: Option<String>,
    #[serde(default)]
    pub path_display: Option<String>,
    #[serde(default)]
    pub owner_display_names: Vec<String>,
    #[serde(default)]
    pub parent_shared_folder_id: Option<String>,
    #[serde(default)]
    pub time_invited: Option<String>,
}

/// `sharing.SharedLinkMetadata`, polymorphic on `.tag` (`file` | `folder`).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct SharedLinkMetadata {
    #[serde(rename = ".tag", default)]
    pub tag: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub client_modified: Option<String>,
    #[serde(default)]
    pub server_modified: Option<String>,
    #[serde(default)]
    pub rev: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
}

/// The JSON error envelope of 401/403/409/422/429 responses.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct ErrorEnvelope {
    #[serde(default)]
    pub error_summary: Option<String>,
    #[serde(default)]
    pub error: Option<Value>,
}

impl ErrorEnvelope {
    /// The chain of union tags, e.g. `["path", "not_found"]`, read from the typed `error`.
    pub fn tags(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = self.error.as_ref();
        while let Some(v) = cur {
            let Some(tag) = v.get(".tag").and_then(Value::as_str) else {
                break;
            };
            out.push(tag.to_string());
            cur = v.get(tag).filter(|inner| inner.is_object());
        }
        if out.is_empty() {
            // Fall back to the summary, which is the same chain plus trailing dots.
            if let Some(s) = &self.error_summary {
                out = s
                    .split('/')
                    .map(|p| p.trim_matches('.').trim())
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect();
            }
        }
        out
    }

    /// The tag chain joined by `/` (e.g. `path/not_found`), or "" when there is none.
    pub fn summary(&self) -> String {
        self.tags().join("/")
    }

    /// `required_scope` of a 401 `missing_scope`.
    pub fn required_scope(&self) -> Option<&str> {
        self.error
            .as_ref()
            .and_then(|e| e.get("required_scope"))
            .and_then(Value::as_str)
    }
}

fn default_true() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_folder_page_decodes_all_variants() {
        let page: ListFolderResult = serde_json::from_str(
            r#"{"entries":[
              {".tag":"folder","name":"Reports","id":"id:1","path_lower":"/reports","path_display":"/Reports",
               "shared_folder_id":"84","sharing_info":{"read_only":false,"shared_folder_id":"84","traverse_only":false,"no_access":false}},
              {".tag":"file","name":"Q1.pdf","id":"id:2","path_lower":"/reports/q1.pdf","path_display":"/Reports/Q1.pdf",
               "client_modified":"2024-04-01T09:00:00Z","server_modified":"2024-04-01T09:00:05Z","rev":"015f1a2b3c","size":7212,
               "is_downloadable":true,"content_hash":"e3b0"},
              {".tag":"deleted","name":"old","path_lower":"/old","path_display":"/old"},
              {".tag":"something_new","name":"x"}],
             "cursor":"c1","has_more":true}"#,
        )
        .unwrap();
        assert_eq!(page.entries.len(), 4);
        assert!(
            matches!(&page.entries[0], Metadata::Folder(f) if f.shared_folder_id.as_deref() == Some("84"))
        );
        assert!(
            matches!(&page.entries[1], Metadata::File(f) if f.size == 7212 && f.is_downloadable)
        );
        assert!(
            matches!(&page.entries[2], Metadata::Deleted(d) if d.path_lower.as_deref() == Some("/old"))
        );
        assert_eq!(page.entries[3], Metadata::Unknown);
    }

    #[test]
    fn error_envelope_tags_follow_nested_unions() {
        let e: ErrorEnvelope = serde_json::from_str(
            r#"{"error_summary":"path/not_found/..","error":{".tag":"path","path":{".tag":"not_found"}}}"#,
        )
        .unwrap();
        assert_eq!(e.summary(), "path/not_found");
        let e: ErrorEnvelope =
            serde_json::from_str(r#"{"error_summary":"reset/...","error":{".tag":"reset"}}"#)
                .unwrap();
        assert_eq!(e.tags(), vec!["reset"]);
        let e: ErrorEnvelope =
            serde_json::from_str(r#"{"error_summary":"too_many_requests/.."}"#).unwrap();
        assert_eq!(e.summary(), "too_many_requests");
        let e: ErrorEnvelope = serde_json::from_str(
            r#"{"error_summary":"missing_scope/.","error":{".tag":"missing_scope","required_scope":"sharing.read"}}"#,
        )
        .unwrap();
        assert_eq!(e.summary(), "missing_scope");
        assert_eq!(e.required_scope(), Some("sharing.read"));
    }

    #[test]
    fn root_info_detects_team_space() {
        let team: RootInfo = serde_json::from_str(
            r#"{".tag":"team","root_namespace_id":"7","home_namespace_id":"1","home_path":"/Ann"}"#,
        )
        .unwrap();
        assert!(team.has_team_space());
        let user: RootInfo = serde_json::from_str(
            r#"{".tag":"user","root_namespace_id":"7","home_namespace_id":"7"}"#,
        )
        .unwrap();
        assert!(!user.has_team_space());
    }
}
