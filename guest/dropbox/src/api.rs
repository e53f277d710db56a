//! Serde types for the subset of the Dropbox API v2 the connector uses.
//!
//! Decoding is lenient: unknown fields are ignored and optional fields default, so that
//! additive changes on Dropbox's side never break a sync.

use std::fmt;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// `files.Metadata`, polymorphic on `.tag`.
///
/// Decoded like `#[serde(tag = ".tag")]`, but without buffering each entry when `.tag` is
/// the object's first key (as Dropbox writes it): the rest of the object then goes straight
/// into the variant's struct. Other objects take the buffered path of [`TaggedMetadata`].
#[derive(Debug, Clone, PartialEq)]
pub enum Metadata {
    File(FileMetadata),
    Folder(FolderMetadata),
    Deleted(DeletedMetadata),
    /// A subtype this connector does not know yet.
    Unknown,
}

/// The derived internally-tagged form of [`Metadata`] (the fallback decoder).
#[derive(Deserialize)]
#[serde(tag = ".tag", rename_all = "snake_case")]
enum TaggedMetadata {
    File(FileMetadata),
    Folder(FolderMetadata),
    Deleted(DeletedMetadata),
    #[serde(other)]
    Unknown,
}

impl From<TaggedMetadata> for Metadata {
    fn from(t: TaggedMetadata) -> Metadata {
        match t {
            TaggedMetadata::File(f) => Metadata::File(f),
            TaggedMetadata::Folder(f) => Metadata::Folder(f),
            TaggedMetadata::Deleted(d) => Metadata::Deleted(d),
            TaggedMetadata::Unknown => Metadata::Unknown,
        }
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Metadata, D::Error> {
        d.deserialize_any(MetadataVisitor)
    }
}

struct MetadataVisitor;

impl<'de> Visitor<'de> for MetadataVisitor {
    type Value = Metadata;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Dropbox metadata object with a .tag")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Metadata, A::Error> {
        match map.next_key::<Key>()? {
            Some(Key::Tag) => {
                let tag = map.next_value::<Tag>()?;
                let rest = MapAccessDeserializer::new(map);
                Ok(match tag {
                    Tag::File => Metadata::File(FileMetadata::deserialize(rest)?),
                    Tag::Folder => Metadata::Folder(FolderMetadata::deserialize(rest)?),
                    Tag::Deleted => Metadata::Deleted(DeletedMetadata::deserialize(rest)?),
                    Tag::Other => {
                        IgnoredAny::deserialize(rest)?;
                        Metadata::Unknown
                    }
                })
            }
            Some(Key::Other(first)) => {
                let mut buf = serde_json::Map::new();
                let v: Value = map.next_value()?;
                buf.insert(first, v);
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    buf.insert(k, v);
                }
                TaggedMetadata::deserialize(Value::Object(buf))
                    .map(Metadata::from)
                    .map_err(de::Error::custom)
            }
            None => Err(de::Error::missing_field(".tag")),
        }
    }
}

/// The first key of a metadata object.
enum Key {
    Tag,
    Other(String),
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
                Ok(if s == ".tag" {
                    Key::Tag
                } else {
                    Key::Other(s.to_string())
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// A `.tag` value.
enum Tag {
    File,
    Folder,
    Deleted,
    Other,
}

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Tag, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Tag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a metadata tag")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Tag, E> {
                Ok(match s {
                    "file" => Tag::File,
                    "folder" => Tag::Folder,
                    "deleted" => Tag::Deleted,
                    _ => Tag::Other,
                })
            }
        }
        d.deserialize_str(V)
    }
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
    /// Present when the listing asked for it (`include_has_explicit_shared_members`).
    #[serde(default)]
    pub has_explicit_shared_members: Option<bool>,
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

/// A listing page's `cursor` and `has_more`, read from the raw body without decoding its
/// entries. Dropbox writes both keys after `entries`, a writer that sorts keys writes `cursor`
/// first: each key is looked for as the body's first key, else in its last 64 KiB (no metadata
/// entry has keys of those names, and a name that spells one is escaped). A guess only used to
/// start the next request early: that request is matched against the one sent after
/// decoding, so a wrong guess costs one wasted read, never a wrong page.
pub fn listing_tail(body: &[u8]) -> Option<(String, bool)> {
    const TAIL: usize = 64 << 10;
    fn value_after<'a>(body: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
        let first = body
            .trim_ascii_start()
            .strip_prefix(b"{")
            .map(<[u8]>::trim_ascii_start);
        let rest = match first.and_then(|b| b.strip_prefix(key)) {
            Some(rest) => rest,
            None => {
                let from = body.len().saturating_sub(TAIL);
                let at = body[from..].windows(key.len()).rposition(|w| w == key)?;
                &body[from + at + key.len()..]
            }
        };
        rest.trim_ascii_start()
            .strip_prefix(b":")
            .map(<[u8]>::trim_ascii_start)
    }
    let cursor = serde_json::Deserializer::from_slice(value_after(body, b"\"cursor\"")?)
        .into_iter::<String>()
        .next()?
        .ok()?;
    let has_more = value_after(body, b"\"has_more\"")?;
    let has_more = if has_more.starts_with(b"true") {
        true
    } else if has_more.starts_with(b"false") {
        false
    } else {
        return None;
    };
    Some((cursor, has_more))
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

/// A union member named only by its `.tag` (the fields beside it are ignored).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
pub struct Tagged {
    #[serde(rename = ".tag", default)]
    pub tag: String,
}

/// `sharing.UserInfo` (the fields we use).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct UserInfo {
    #[serde(default)]
    pub account_id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub team_member_id: Option<String>,
}

/// `sharing.UserMembershipInfo` / `UserFileMembershipInfo`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct UserMembership {
    #[serde(default)]
    pub access_type: Tagged,
    pub user: UserInfo,
    #[serde(default)]
    pub is_inherited: bool,
}

/// `sharing.GroupInfo` (the fields we use).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct GroupInfo {
    pub group_id: String,
    #[serde(default)]
    pub group_name: Option<String>,
}

/// `sharing.GroupMembershipInfo`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct GroupMembership {
    #[serde(default)]
    pub access_type: Tagged,
    pub group: GroupInfo,
    #[serde(default)]
    pub is_inherited: bool,
}

/// `sharing.InviteeInfo`: `{".tag": "email", "email": …}` or another kind.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct InviteeInfo {
    #[serde(rename = ".tag", default)]
    pub tag: String,
    #[serde(default)]
    pub email: Option<String>,
}

/// `sharing.InviteeMembershipInfo`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct InviteeMembership {
    #[serde(default)]
    pub access_type: Tagged,
    pub invitee: InviteeInfo,
    /// Set once the invitation is tied to an account.
    #[serde(default)]
    pub user: Option<UserInfo>,
    #[serde(default)]
    pub is_inherited: bool,
}

/// `sharing.SharedFileMembers` / `SharedFolderMembers`: one page of members.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct Members {
    #[serde(default)]
    pub users: Vec<UserMembership>,
    #[serde(default)]
    pub groups: Vec<GroupMembership>,
    #[serde(default)]
    pub invitees: Vec<InviteeMembership>,
    /// Present only when more members remain.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// One element of the `sharing/list_file_members/batch` answer (a top-level array).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct FileMembersBatchItem {
    pub file: String,
    pub result: FileMembersBatchResult,
}

/// `sharing.ListFileMembersIndividualResult`: `result` or `access_error`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct FileMembersBatchResult {
    #[serde(rename = ".tag", default)]
    pub tag: String,
    #[serde(default)]
    pub members: Option<Members>,
    #[serde(default)]
    pub access_error: Option<Value>,
}

/// `sharing.SharedFolderMetadata` (the fields we use).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct SharedFolderMetadata {
    #[serde(default)]
    pub shared_folder_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub parent_shared_folder_id: Option<String>,
    #[serde(default)]
    pub is_team_folder: bool,
    #[serde(default)]
    pub is_inside_team_folder: bool,
    /// `inherit` (the default) or `no_inherit`.
    #[serde(default)]
    pub access_inheritance: Option<Tagged>,
    /// The id (`id:…`) of the folder the shared folder is.
    #[serde(default)]
    pub folder_id: Option<String>,
}

/// `team.TeamMemberProfile` as `team/members/list_v2` returns it (the fields we use).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct MemberProfile {
    pub team_member_id: String,
    /// Absent for invited members who have not joined yet.
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub status: Tagged,
    #[serde(default)]
    pub name: Option<Name>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub member_folder_id: Option<String>,
    #[serde(default)]
    pub joined_on: Option<String>,
    #[serde(default)]
    pub invited_on: Option<String>,
}

/// `team.TeamMemberInfoV2`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct MemberInfo {
    pub profile: MemberProfile,
}

/// `team.MembersListV2Result`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct MembersListResult {
    #[serde(default)]
    pub members: Vec<MemberInfo>,
    #[serde(default)]
    pub cursor: String,
    #[serde(default)]
    pub has_more: bool,
}

/// `team.GroupSummary` (the fields we use).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct GroupSummary {
    pub group_id: String,
    #[serde(default)]
    pub group_name: String,
    #[serde(default)]
    pub group_management_type: Tagged,
}

/// `team.GroupsListResult`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct GroupsListResult {
    #[serde(default)]
    pub groups: Vec<GroupSummary>,
    #[serde(default)]
    pub cursor: String,
    #[serde(default)]
    pub has_more: bool,
}

/// `team.NamespaceMetadata`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct NamespaceMetadata {
    #[serde(default)]
    pub name: String,
    pub namespace_id: String,
    #[serde(default)]
    pub namespace_type: Tagged,
    #[serde(default)]
    pub team_member_id: Option<String>,
}

/// `team.TeamNamespacesListResult`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct NamespacesListResult {
    #[serde(default)]
    pub namespaces: Vec<NamespaceMetadata>,
    #[serde(default)]
    pub cursor: String,
    #[serde(default)]
    pub has_more: bool,
}

/// `team_log.NamespaceRelativePathLogInfo`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct NamespaceRelativePath {
    #[serde(default)]
    pub ns_id: Option<String>,
    #[serde(default)]
    pub relative_path: Option<String>,
}

/// `team_log.PathLogInfo`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct PathLogInfo {
    #[serde(default)]
    pub contextual: Option<String>,
    #[serde(default)]
    pub namespace_relative: NamespaceRelativePath,
}

/// `team_log.AssetLogInfo` (`file`, `folder`, or a kind this connector ignores).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct AssetLogInfo {
    #[serde(rename = ".tag", default)]
    pub tag: String,
    #[serde(default)]
    pub path: Option<PathLogInfo>,
    #[serde(default)]
    pub file_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// `team_log.TeamEvent` (the fields we use).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct TeamEvent {
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub event_category: Tagged,
    #[serde(default)]
    pub event_type: Tagged,
    #[serde(default)]
    pub assets: Option<Vec<AssetLogInfo>>,
}

/// `team_log.GetTeamEventsResult`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct TeamEventsResult {
    #[serde(default)]
    pub events: Vec<TeamEvent>,
    pub cursor: String,
    #[serde(default)]
    pub has_more: bool,
}

/// `files.MetadataV2`: `{".tag": "metadata", "metadata": Metadata}`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct MetadataV2 {
    #[serde(rename = ".tag", default)]
    pub tag: String,
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

/// `files.SearchMatchV2` (the field we use).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct SearchMatch {
    pub metadata: MetadataV2,
}

/// `files.SearchV2Result`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct SearchResult {
    #[serde(default)]
    pub matches: Vec<SearchMatch>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default)]
    pub cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_tail_is_read_without_the_entries_and_agrees_with_decoding() {
        // A name that spells the keys, escaped as JSON escapes it, must not be taken for them.
        let tricky = r#"{"entries":[{".tag":"file","name":"\"cursor\":\"evil\", \"has_more\": false","id":"id:1","path_lower":"/x","path_display":"/x","client_modified":"2024-01-01T00:00:00Z","server_modified":"2024-01-01T00:00:00Z","rev":"0123456789","size":1}],"cursor":"AAG\u0041c/2+=","has_more":true}"#;
        let decoded: ListFolderResult = serde_json::from_str(tricky).unwrap();
        assert_eq!(
            listing_tail(tricky.as_bytes()),
            Some((decoded.cursor.clone(), decoded.has_more))
        );
        assert_eq!(decoded.cursor, "AAGAc/2+=");
        let last = r#"{"entries": [], "cursor" : "c9",  "has_more" :false }"#;
        assert_eq!(listing_tail(last.as_bytes()), Some(("c9".into(), false)));
        // Keys first (as serde_json writes a map) are found as well.
        let first = r#"{"cursor":"c1","entries":[],"has_more":true}"#;
        assert_eq!(listing_tail(first.as_bytes()), Some(("c1".into(), true)));
        for broken in [
            r#"{"entries":[],"cursor":"unterminated"#,
            r#"{"entries":[],"cursor":"c","has_more":"yes"}"#,
            r#"{"entries":[],"has_more":true}"#,
            "",
        ] {
            assert_eq!(listing_tail(broken.as_bytes()), None, "{broken}");
        }
    }

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

    #[test]
    fn metadata_decodes_the_same_whether_or_not_the_tag_comes_first() {
        let pairs = [
            (
                r#"{".tag":"file","name":"a.txt","id":"id:1","size":3,"sharing_info":{"read_only":true},"x":[1,{"y":null}]}"#,
                r#"{"name":"a.txt","x":[1,{"y":null}],".tag":"file","id":"id:1","size":3,"sharing_info":{"read_only":true}}"#,
            ),
            (
                r#"{".tag":"folder","name":"d","id":"id:2","shared_folder_id":"9"}"#,
                r#"{"name":"d","id":"id:2",".tag":"folder","shared_folder_id":"9"}"#,
            ),
            (
                r#"{".tag":"deleted","name":"gone","path_lower":"/gone"}"#,
                r#"{"path_lower":"/gone","name":"gone",".tag":"deleted"}"#,
            ),
            (
                r#"{".tag":"symlink","target":{"a":1},"size":"not a number"}"#,
                r#"{"target":{"a":1},".tag":"symlink","size":"not a number"}"#,
            ),
        ];
        for (first, later) in pairs {
            let a: Metadata = serde_json::from_str(first).unwrap();
            let b: Metadata = serde_json::from_str(later).unwrap();
            assert_eq!(a, b, "{first}");
        }
        let f: Metadata =
            serde_json::from_str(r#"{".tag":"file","name":"a","id":"id:1"}"#).unwrap();
        assert!(matches!(f, Metadata::File(ref m) if m.is_downloadable && m.size == 0));
        assert!(matches!(
            serde_json::from_str::<Metadata>(r#"{".tag":"other"}"#).unwrap(),
            Metadata::Unknown
        ));
        for bad in [
            r#"{}"#,
            r#"{"name":"a","id":"id:1"}"#,
            r#"{".tag":"file","id":"id:1"}"#,
            r#"{"id":"id:1",".tag":"file"}"#,
            r#"{".tag":"file","name":"a","id":"id:1","size":"big"}"#,
            r#"{".tag":7,"name":"a"}"#,
        ] {
            assert!(serde_json::from_str::<Metadata>(bad).is_err(), "{bad}");
        }
    }
}
