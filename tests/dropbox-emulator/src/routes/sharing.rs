//! `sharing/*` routes: received files, shared links, file and folder members, shared folder
//! metadata.

use super::{Call, Caller, CursorArg, OffsetCursor, Reply, check_path};
use crate::acl::{Access, AclEntry, Namespace, NsKind, Principal};
use crate::app::App;
use crate::clock;
use crate::content::{FileData, mix};
use crate::errors::{ApiError, nest, tag};
use crate::ids;
use crate::routes::files::send_bytes;
use crate::routes::users::user_info;
use crate::state::{Kind, Node, Target, World};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ListReceivedArg {
    #[serde(default = "hundred")]
    limit: usize,
    #[serde(default)]
    actions: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct SharedLinkArg {
    url: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    link_password: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMembersArg {
    file: String,
    #[serde(default)]
    actions: Option<Vec<Value>>,
    #[serde(default = "yes")]
    include_inherited: bool,
    #[serde(default = "hundred")]
    limit: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMembersBatchArg {
    files: Vec<String>,
    #[serde(default = "thousand")]
    limit: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FolderMembersArg {
    shared_folder_id: String,
    #[serde(default)]
    actions: Option<Vec<Value>>,
    #[serde(default = "thousand")]
    limit: usize,
    #[serde(default)]
    path: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FolderMetadataArg {
    shared_folder_id: String,
    #[serde(default)]
    actions: Option<Vec<Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListFoldersArg {
    #[serde(default = "thousand")]
    limit: usize,
    #[serde(default)]
    actions: Option<Vec<Value>>,
}

fn hundred() -> usize {
    100
}
fn thousand() -> usize {
    1000
}
fn yes() -> bool {
    true
}

const MEMBER_ACTIONS: [&str; 6] = [
    "leave_a_copy",
    "make_editor",
    "make_owner",
    "make_viewer",
    "make_viewer_no_comment",
    "remove",
];

const FOLDER_ACTIONS: [&str; 16] = [
    "change_options",
    "disable_viewer_info",
    "edit_contents",
    "enable_viewer_info",
    "invite_editor",
    "invite_viewer",
    "invite_viewer_no_comment",
    "relinquish_membership",
    "unmount",
    "unshare",
    "leave_a_copy",
    "share_link",
    "create_link",
    "create_view_link",
    "create_edit_link",
    "set_access_inheritance",
];

/// Parse an `actions` list against the known tags (an unknown tag is a 400).
fn parse_actions(
    call: &Call,
    actions: Option<Vec<Value>>,
    known: &[&str],
) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::new();
    for a in actions.unwrap_or_default() {
        let t = a
            .get(".tag")
            .and_then(Value::as_str)
            .or(a.as_str())
            .unwrap_or("")
            .to_string();
        if !known.contains(&t.as_str()) {
            return Err(call.bad_field("actions", format!("unknown tag '{t}'")));
        }
        out.push(t);
    }
    Ok(out)
}

fn check_limit(call: &Call, limit: usize, lo: usize, hi: usize) -> Result<(), ApiError> {
    if (lo..=hi).contains(&limit) {
        Ok(())
    } else {
        Err(call.bad_field("limit", format!("{limit} is not within range [{lo}, {hi}]")))
    }
}

/// Route entry for `sharing/*`.
pub fn dispatch(app: &App, call: &Call) -> Result<Reply, ApiError> {
    match call.route {
        "sharing/list_received_files" => {
            let a: ListReceivedArg = call.arg()?;
            check_limit(call, a.limit, 1, 300)?;
            let caller = call.caller.as_ref().map(|c| c.account);
            received_page(
                app,
                OffsetCursor {
                    k: "received".into(),
                    l: a.limit,
                    u: caller,
                    ..Default::default()
                },
            )
        }
        "sharing/list_received_files/continue" => {
            let a: CursorArg = call.arg()?;
            let c = OffsetCursor::decode(&a.cursor, "received")
                .ok_or_else(|| ApiError::route("invalid_cursor"))?;
            received_page(app, c)
        }
        "sharing/get_shared_link_metadata" => {
            let a: SharedLinkArg = call.arg()?;
            let world = app.read_world();
            let link = find_link(&world, &a.url)?;
            Ok(Reply::Json(link.metadata()))
        }
        "sharing/get_shared_link_file" => {
            let a: SharedLinkArg = call.arg()?;
            let world = app.read_world();
            let link = find_link(&world, &a.url)?;
            let (data, meta) = (link.data(), link.metadata());
            drop(world);
            send_bytes(call, &data, meta)
        }
        "sharing/list_file_members" => {
            let a: FileMembersArg = call.arg()?;
            check_limit(call, a.limit, 1, 300)?;
            let actions = parse_actions(call, a.actions, &MEMBER_ACTIONS)?;
            let caller = call.caller()?;
            let world = app.read_world();
            let subject = file_subject(&world, call, caller, &a.file)
                .map_err(|e| ApiError::Route(nest("access_error", tag(e))))?;
            let cur = OffsetCursor {
                k: "file_members".into(),
                l: a.limit,
                x: subject.key(),
                i: a.include_inherited,
                a: actions,
                u: Some(caller.account),
                ..Default::default()
            };
            Ok(Reply::Json(file_members_page(
                &world, caller, &subject, &cur,
            )))
        }
        "sharing/list_file_members/continue" => {
            let a: CursorArg = call.arg()?;
            let caller = call.caller()?;
            let c = OffsetCursor::decode(&a.cursor, "file_members")
                .filter(|c| c.u.is_none_or(|u| u == caller.account))
                .ok_or_else(|| ApiError::route("invalid_cursor"))?;
            let world = app.read_world();
            let subject = file_subject(&world, call, caller, &c.x)
                .map_err(|e| ApiError::Route(nest("access_error", tag(e))))?;
            Ok(Reply::Json(file_members_page(&world, caller, &subject, &c)))
        }
        "sharing/list_file_members/batch" => {
            let a: FileMembersBatchArg = call.arg()?;
            if a.files.len() > 100 {
                return Err(call.bad_field("files", "has more than 100 items"));
            }
            check_limit(call, a.limit, 0, 3000)?;
            for f in &a.files {
                if check_path(call, "files", f, false).is_err() && !f.starts_with("nspath:") {
                    return Err(call.bad_field(
                        "files",
                        format!("'{f}' did not match pattern '((/|id:).*|nspath:[0-9]+:.*)|ns:[0-9]+(/.*)?'"),
                    ));
                }
            }
            let caller = call.caller()?;
            let world = app.read_world();
            let out: Vec<Value> = a
                .files
                .iter()
                .map(|f| match file_subject(&world, call, caller, f) {
                    Ok(subject) => {
                        let entries = subject.entries(&world, false);
                        let count = entries.len();
                        let cur = OffsetCursor {
                            k: "file_members".into(),
                            l: if a.limit == 0 { 100 } else { a.limit },
                            x: subject.key(),
                            u: Some(caller.account),
                            ..Default::default()
                        };
                        let members = members_json(
                            &world,
                            caller,
                            &entries,
                            0,
                            a.limit,
                            &cur,
                            Some(&subject),
                            false,
                        );
                        json!({"file": f, "result": {".tag": "result",
                            "members": members, "member_count": count}})
                    }
                    Err(e) => json!({"file": f, "result": nest("access_error", tag(e))}),
                })
                .collect();
            Ok(Reply::Json(Value::Array(out)))
        }
        "sharing/list_folder_members" => {
            let a: FolderMembersArg = call.arg()?;
            check_limit(call, a.limit, 1, 1000)?;
            let actions = parse_actions(call, a.actions, &MEMBER_ACTIONS)?;
            let caller = call.caller()?;
            let world = app.read_world();
            let (ns, inherited) =
                folder_subject(&world, call, caller, &a.shared_folder_id, a.path.as_deref())
                    .map_err(|e| ApiError::Route(tag(e)))?;
            let cur = OffsetCursor {
                k: "folder_members".into(),
                l: a.limit,
                x: ns.id.clone(),
                i: inherited,
                a: actions,
                u: Some(caller.account),
                ..Default::default()
            };
            Ok(Reply::Json(folder_members_page(&world, caller, ns, &cur)))
        }
        "sharing/list_folder_members/continue" => {
            let a: CursorArg = call.arg()?;
            let caller = call.caller()?;
            let c = OffsetCursor::decode(&a.cursor, "folder_members")
                .filter(|c| c.u.is_none_or(|u| u == caller.account))
                .ok_or_else(|| ApiError::route("invalid_cursor"))?;
            let world = app.read_world();
            let (ns, _) = folder_subject(&world, call, caller, &c.x, None)
                .map_err(|e| ApiError::Route(nest("access_error", tag(e))))?;
            Ok(Reply::Json(folder_members_page(&world, caller, ns, &c)))
        }
        "sharing/get_folder_metadata" => {
            let a: FolderMetadataArg = call.arg()?;
            let actions = parse_actions(call, a.actions, &FOLDER_ACTIONS)?;
            let caller = call.caller()?;
            let world = app.read_world();
            let (ns, _) = folder_subject(&world, call, caller, &a.shared_folder_id, None)
                .map_err(|e| ApiError::Route(tag(e)))?;
            Ok(Reply::Json(shared_folder_metadata(
                &world, caller, ns, &actions,
            )))
        }
        "sharing/list_folders" => {
            let a: ListFoldersArg = call.arg()?;
            check_limit(call, a.limit, 1, 1000)?;
            let actions = parse_actions(call, a.actions, &FOLDER_ACTIONS)?;
            let caller = call.caller()?;
            let world = app.read_world();
            let cur = OffsetCursor {
                k: "folders".into(),
                l: a.limit,
                a: actions,
                u: Some(caller.account),
                ..Default::default()
            };
            Ok(Reply::Json(folders_page(&world, caller, &cur)))
        }
        "sharing/list_folders/continue" => {
            let a: CursorArg = call.arg()?;
            let caller = call.caller()?;
            let c = OffsetCursor::decode(&a.cursor, "folders")
                .filter(|c| c.u.is_none_or(|u| u == caller.account))
                .ok_or_else(|| ApiError::route("invalid_cursor"))?;
            let world = app.read_world();
            Ok(Reply::Json(folders_page(&world, caller, &c)))
        }
        _ => Err(ApiError::Status(404, "Unknown API function".into())),
    }
}

// ------------------------------------------------------------------------------------------
// Received files and shared links
// ------------------------------------------------------------------------------------------

/// A file reachable through a shared link: an outside file shared with the account, or a team
/// file shared with a member.
pub enum Link<'a> {
    /// From `/_admin/received` / the manifest.
    External(&'a crate::state::Received),
    /// A team file with explicit members.
    Team(&'a World, Arc<Node>),
}

impl Link<'_> {
    fn data(&self) -> Arc<FileData> {
        match self {
            Link::External(r) => r.data.clone(),
            Link::Team(_, n) => n.data.clone().unwrap_or_else(|| {
                FileData::new(crate::content::Content::Stored(bytes::Bytes::new()))
            }),
        }
    }

    fn metadata(&self) -> Value {
        match self {
            Link::External(r) => link_metadata(r),
            Link::Team(w, n) => team_link_metadata(w, n),
        }
    }
}

/// The shared-link URL of a team file shared with members.
pub fn team_file_url(node: &Node) -> String {
    format!(
        "https://www.dropbox.com/scl/fi/{}/{}?rlkey=team&dl=0",
        node.id.trim_start_matches("id:").to_lowercase(),
        node.name.replace(' ', "%20")
    )
}

fn team_link_metadata(world: &World, n: &Node) -> Value {
    let mut v = json!({
        ".tag": "file",
        "url": team_file_url(n),
        "id": n.id,
        "name": n.name,
        "link_permissions": {
            "can_revoke": false, "visibility_policies": [], "can_set_expiry": false,
            "can_remove_expiry": false, "allow_download": true, "can_allow_download": false,
            "can_disallow_download": false, "allow_comments": true,
            "team_restricts_comments": false, "resolved_visibility": {".tag": "team_only"},
        },
        "client_modified": clock::format(n.client_modified),
        "server_modified": clock::format(n.server_modified),
        "rev": n.rev,
        "size": n.data.as_ref().map_or(0, |d| d.size()),
    });
    if let (Some(t), Some(o)) = (&world.team, v.as_object_mut()) {
        o.insert(
            "content_owner_team_info".into(),
            json!({"id": t.id, "name": t.name}),
        );
    }
    v
}

/// Team files shared with an account through explicit file members (user or group grants).
fn team_received(world: &World, account: usize) -> Vec<(Arc<Node>, Access)> {
    let mut out: Vec<(Arc<Node>, Access)> = world
        .file_grants
        .iter()
        .filter_map(|(id, grants)| {
            let level = world.grant_access(account, grants)?;
            let node = world.ids.get(id).and_then(|p| world.tree.get(p))?.clone();
            // The owner's own files are not "received".
            (world.owner_of(&node.path_lower) != Some(account)).then_some((node, level))
        })
        .collect();
    out.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    out
}

fn received_page(app: &App, c: OffsetCursor) -> Result<Reply, ApiError> {
    let world = app.read_world();
    let me = c.u.unwrap_or_else(|| world.default_account());
    let mut items: Vec<Value> = Vec::new();
    if me == world.default_account() {
        items.extend(
            world
                .received
                .iter()
                .map(|r| shared_file_metadata(&world, me, r)),
        );
    }
    for (node, level) in team_received(&world, me) {
        items.push(team_shared_file_metadata(&world, &node, level));
    }
    let end = (c.o + c.l).min(items.len());
    let entries = items.get(c.o.min(end)..end).unwrap_or(&[]).to_vec();
    let mut out = json!({"entries": entries});
    if end < items.len()
        && let Some(o) = out.as_object_mut()
    {
        o.insert(
            "cursor".into(),
            json!(OffsetCursor { o: end, ..c }.encode()),
        );
    }
    Ok(Reply::Json(out))
}

fn team_shared_file_metadata(world: &World, n: &Node, level: Access) -> Value {
    let owner = world
        .owner_of(&n.path_lower)
        .and_then(|o| world.accounts.get(o))
        .map(|a| a.display_name.clone());
    let mut v = json!({
        "id": n.id,
        "name": n.name,
        "policy": {"acl_update_policy": {".tag": "editors"}, "shared_link_policy": {".tag": "anyone"},
                   "member_policy": {".tag": "anyone"}, "resolved_member_policy": {".tag": "anyone"}},
        "preview_url": team_file_url(n),
        "access_type": tag(level.tag()),
        "owner_display_names": owner.into_iter().collect::<Vec<_>>(),
        "time_invited": clock::format(n.server_modified),
    });
    if let Some(o) = v.as_object_mut() {
        if let Some(t) = &world.team {
            o.insert("owner_team".into(), json!({"id": t.id, "name": t.name}));
        }
        if let Some(p) = world.shared_parent(&n.path_lower) {
            o.insert("parent_shared_folder_id".into(), json!(p.id));
        }
    }
    v
}

/// `SharedFileMetadata` of a received file.
pub fn shared_file_metadata(_world: &World, _me: usize, r: &crate::state::Received) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "policy": {"acl_update_policy": {".tag": "owner"}, "shared_link_policy": {".tag": "anyone"},
                   "member_policy": {".tag": "anyone"}, "resolved_member_policy": {".tag": "anyone"}},
        "preview_url": r.url,
        "access_type": {".tag": "viewer"},
        "owner_display_names": [r.owner],
        "time_invited": clock::format(r.time),
    })
}

/// `SharedLinkMetadata` (file) of a received file.
pub fn link_metadata(r: &crate::state::Received) -> Value {
    json!({
        ".tag": "file",
        "url": r.url,
        "id": r.id,
        "name": r.name,
        "link_permissions": {
            "can_revoke": false,
            "visibility_policies": [],
            "can_set_expiry": false,
            "can_remove_expiry": false,
            "allow_download": true,
            "can_allow_download": false,
            "can_disallow_download": false,
            "allow_comments": true,
            "team_restricts_comments": false,
            "resolved_visibility": {".tag": "public"},
        },
        "client_modified": clock::format(r.time),
        "server_modified": clock::format(r.time),
        "rev": r.rev,
        "size": r.data.size(),
    })
}

fn strip_query(u: &str) -> &str {
    u.split(['?', '#']).next().unwrap_or(u)
}

/// The file a shared-link URL points at (query and fragment ignored).
pub fn find_link<'a>(world: &'a World, url: &str) -> Result<Link<'a>, ApiError> {
    let want = strip_query(url);
    if let Some(r) = world.received.iter().find(|r| strip_query(&r.url) == want) {
        return Ok(Link::External(r));
    }
    world
        .file_grants
        .iter()
        .filter(|(_, g)| !g.is_empty())
        .filter_map(|(id, _)| world.ids.get(id).and_then(|p| world.tree.get(p)))
        .find(|n| strip_query(&team_file_url(n)) == want)
        .map(|n| Link::Team(world, n.clone()))
        .ok_or_else(|| ApiError::route("shared_link_not_found"))
}

/// A synthetic account id for an outside owner name.
pub fn outside_account_id(owner: &str) -> String {
    let h = owner
        .bytes()
        .fold(0xC0FFEEu64, |h, b| mix(h ^ u64::from(b)));
    ids::account_id(h)
}

// ------------------------------------------------------------------------------------------
// Members
// ------------------------------------------------------------------------------------------

/// The file a members call is about.
enum FileSubject {
    /// A file in the tree (global lower path).
    Tree(Arc<Node>),
    /// A received outside file.
    External(String),
}

impl FileSubject {
    fn key(&self) -> String {
        match self {
            FileSubject::Tree(n) => n.id.clone(),
            FileSubject::External(id) => id.clone(),
        }
    }

    fn entries(&self, world: &World, inherited: bool) -> Vec<MemberRow> {
        match self {
            FileSubject::Tree(n) => world
                .item_acl(&n.path_lower, inherited)
                .into_iter()
                .map(MemberRow::Acl)
                .collect(),
            FileSubject::External(id) => world
                .received
                .iter()
                .find(|r| &r.id == id)
                .map(|r| {
                    vec![
                        MemberRow::Outside(r.owner.clone(), r.owner_account_id.clone()),
                        MemberRow::Acl(AclEntry {
                            who: Principal::User(world.default_account()),
                            access: Access::Viewer,
                            inherited: false,
                        }),
                    ]
                })
                .unwrap_or_default(),
        }
    }
}

/// One row of a member listing.
enum MemberRow {
    Acl(AclEntry),
    /// The outside owner of a received file (display name, account id).
    Outside(String, String),
}

/// Resolve the `file` argument; `Err(tag)` is a SharingFileAccessError tag.
fn file_subject(
    world: &World,
    call: &Call,
    caller: &Caller,
    file: &str,
) -> Result<FileSubject, &'static str> {
    if world.received.iter().any(|r| r.id == file) && caller.account == world.default_account() {
        return Ok(FileSubject::External(file.to_string()));
    }
    if check_path(call, "file", file, false).is_err() {
        return Err("invalid_file");
    }
    let view = super::view_for_path(world, caller, file).map_err(|_| "invalid_file")?;
    let in_view = match world.resolve(&view, file) {
        Ok(Target::Path(g)) => world.get(&view, &g).cloned(),
        Ok(Target::Rev(n)) => Some(n),
        Err(_) => None,
    };
    // A file shared with the caller directly is reachable by id even though it is not in
    // the caller's Dropbox; an admin acting team-wide reaches every file.
    let node = match in_view {
        Some(n) => n,
        None => {
            let n = world
                .ids
                .get(file)
                .and_then(|p| world.tree.get(p))
                .ok_or("invalid_file")?;
            if !(caller.view.admin || world.item_access(caller.account, &n.path_lower).is_some()) {
                return Err(if n.kind == Kind::Folder {
                    "is_folder"
                } else {
                    "no_permission"
                });
            }
            n.clone()
        }
    };
    if node.kind == Kind::Folder {
        return Err("is_folder");
    }
    Ok(FileSubject::Tree(node))
}

/// Resolve a shared folder (by id, or by `path` with inherited members); `Err(tag)` is a
/// SharedFolderAccessError tag.
fn folder_subject<'w>(
    world: &'w World,
    call: &Call,
    caller: &Caller,
    shared_folder_id: &str,
    path: Option<&str>,
) -> Result<(&'w Namespace, bool), &'static str> {
    let ns = match path {
        Some(p) => {
            if check_path(call, "path", p, false).is_err() {
                return Err("invalid_id");
            }
            let view = super::view_for_path(world, caller, p).map_err(|_| "invalid_id")?;
            let g = match world.resolve(&view, p) {
                Ok(Target::Path(g)) if world.get(&view, &g).is_some() => g,
                _ => return Err("invalid_id"),
            };
            world
                .ns_containing(&g)
                .filter(|n| n.kind.is_shared())
                .ok_or("invalid_id")?
        }
        None => world
            .namespaces
            .get(shared_folder_id)
            .filter(|n| n.kind.is_shared())
            .ok_or("invalid_id")?,
    };
    if !caller.view.admin && world.ns_access(caller.account, ns).is_none() {
        return Err("not_a_member");
    }
    Ok((ns, path.is_some()))
}

/// The level the caller has on what is being listed (admins acting team-wide: owner-like).
fn caller_level(
    world: &World,
    caller: &Caller,
    ns: Option<&Namespace>,
    file: Option<&Node>,
) -> Option<Access> {
    if caller.view.admin {
        return Some(Access::Owner);
    }
    match (ns, file) {
        (Some(ns), _) => world.ns_access(caller.account, ns),
        (None, Some(n)) => world.item_access(caller.account, &n.path_lower),
        _ => None,
    }
}

/// `MemberPermission`s of one row for the requested actions.
fn permissions(
    caller: &Caller,
    level: Option<Access>,
    row: &AclEntry,
    actions: &[String],
) -> Vec<Value> {
    actions
        .iter()
        .map(|action| {
            let reason = if row.inherited {
                Some("target_is_indirect_member")
            } else if row.access == Access::Owner {
                Some("target_is_owner")
            } else if row.who == Principal::User(caller.account) && action != "leave_a_copy" {
                Some("target_is_self")
            } else if (action == "make_owner" && level != Some(Access::Owner))
                || level.is_none_or(|l| l < Access::Editor)
            {
                Some("permission_denied")
            } else {
                None
            };
            let mut v = json!({"action": tag(action), "allow": reason.is_none()});
            if let (Some(r), Some(o)) = (reason, v.as_object_mut()) {
                o.insert("reason".into(), tag(r));
            }
            v
        })
        .collect()
}

/// `GroupInfo`.
fn group_info(world: &World, caller: &Caller, id: &str) -> Value {
    match world.group(id) {
        Some(g) => {
            let mut v = json!({"group_name": g.name, "group_id": g.id,
                "member_count": world.group_members(g).len(),
                "group_management_type": tag(g.management.tag()),
                "group_type": tag(g.group_type()),
                "is_member": world.in_group(caller.account, &g.id),
                "is_owner": g.owners.contains(&caller.account),
                "same_team": true});
            if let (Some(x), Some(o)) = (&g.external_id, v.as_object_mut()) {
                o.insert("group_external_id".into(), json!(x));
            }
            v
        }
        None => json!({"group_name": "", "group_id": id, "member_count": 0,
            "group_management_type": tag("company_managed"), "group_type": tag("user_managed"),
            "is_member": false, "is_owner": false, "same_team": true}),
    }
}

/// A `SharedFileMembers` / `SharedFolderMembers` page of `rows[offset..offset+limit]`.
#[allow(clippy::too_many_arguments)]
fn members_json(
    world: &World,
    caller: &Caller,
    rows: &[MemberRow],
    offset: usize,
    limit: usize,
    cur: &OffsetCursor,
    file: Option<&FileSubject>,
    with_permissions: bool,
) -> Value {
    let end = (offset + limit).min(rows.len());
    let level = match file {
        Some(FileSubject::Tree(n)) => caller_level(world, caller, None, Some(n)),
        Some(FileSubject::External(_)) => Some(Access::Viewer),
        None => world
            .namespaces
            .get(&cur.x)
            .and_then(|ns| caller_level(world, caller, Some(ns), None)),
    };
    let is_file = file.is_some();
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut invitees = Vec::new();
    for row in rows.get(offset.min(end)..end).unwrap_or(&[]) {
        match row {
            MemberRow::Outside(name, account_id) => {
                users.push(json!({"access_type": tag("owner"), "permissions": [],
                    "is_inherited": false,
                    "user": {"account_id": account_id, "email": format!("{}@example.com",
                        name.to_lowercase().replace(' ', ".")), "display_name": name,
                        "same_team": false},
                    "platform_type": tag("unknown")}));
            }
            MemberRow::Acl(e) => {
                let mut v =
                    json!({"access_type": tag(e.access.tag()), "is_inherited": e.inherited});
                let o = v.as_object_mut();
                if let Some(o) = o {
                    if with_permissions {
                        o.insert(
                            "permissions".into(),
                            Value::Array(permissions(caller, level, e, &cur.a)),
                        );
                    }
                    match &e.who {
                        Principal::User(a) => {
                            o.insert("user".into(), user_info(world, *a));
                            if is_file {
                                o.insert("platform_type".into(), tag("unknown"));
                            }
                            users.push(v);
                        }
                        Principal::Group(id) => {
                            o.insert("group".into(), group_info(world, caller, id));
                            groups.push(v);
                        }
                        Principal::Email(email) => {
                            o.insert("invitee".into(), json!({".tag": "email", "email": email}));
                            invitees.push(v);
                        }
                    }
                }
            }
        }
    }
    let mut out = json!({"users": users, "groups": groups, "invitees": invitees});
    if end < rows.len()
        && let Some(o) = out.as_object_mut()
    {
        let next = OffsetCursor {
            o: end,
            ..cur.clone()
        };
        o.insert("cursor".into(), json!(next.encode()));
    }
    out
}

fn file_members_page(
    world: &World,
    caller: &Caller,
    subject: &FileSubject,
    cur: &OffsetCursor,
) -> Value {
    let rows = subject.entries(world, cur.i);
    members_json(world, caller, &rows, cur.o, cur.l, cur, Some(subject), true)
}

fn folder_members_page(
    world: &World,
    caller: &Caller,
    ns: &Namespace,
    cur: &OffsetCursor,
) -> Value {
    let rows: Vec<MemberRow> = world
        .ns_acl(ns, cur.i)
        .into_iter()
        .map(MemberRow::Acl)
        .collect();
    members_json(world, caller, &rows, cur.o, cur.l, cur, None, true)
}

// ------------------------------------------------------------------------------------------
// Shared folder metadata
// ------------------------------------------------------------------------------------------

fn inside_team_folder(world: &World, ns: &Namespace) -> bool {
    let mut cur = world.parent_ns(ns);
    while let Some(p) = cur {
        if p.kind == NsKind::TeamFolder {
            return true;
        }
        cur = if p.kind == NsKind::Shared {
            world.parent_ns(p)
        } else {
            None
        };
    }
    false
}

/// `SharedFolderMetadata` of a shared or team folder as the caller sees it.
fn shared_folder_metadata(
    world: &World,
    caller: &Caller,
    ns: &Namespace,
    actions: &[String],
) -> Value {
    let node = world.tree.get(&ns.path_lower);
    let level = world.ns_access(caller.account, ns);
    let access = level.map_or("no_access", Access::tag);
    let name = node.map_or_else(String::new, |n| n.name.clone());
    let team_folder = ns.kind == NsKind::TeamFolder;
    let mut v = json!({
        "access_type": tag(access),
        "is_inside_team_folder": inside_team_folder(world, ns),
        "is_team_folder": team_folder,
        "name": name,
        "policy": {"acl_update_policy": tag("editors"), "shared_link_policy": tag("anyone"),
                   "member_policy": tag(if team_folder { "team" } else { "anyone" }),
                   "resolved_member_policy": tag(if team_folder { "team" } else { "anyone" }),
                   "viewer_info_policy": tag("enabled")},
        "preview_url": format!("https://www.dropbox.com/scl/fo/{}/emulator?dl=0", ns.id),
        "shared_folder_id": ns.id,
        "time_invited": clock::format(ns.created),
        "access_inheritance": tag("inherit"),
    });
    let Some(o) = v.as_object_mut() else {
        return v;
    };
    if let Some(n) = node {
        o.insert("folder_id".into(), json!(n.id));
        if caller.view.contains(&n.path_lower) {
            o.insert(
                "path_lower".into(),
                json!(caller.view.rel_lower(&n.path_lower)),
            );
            o.insert(
                "path_display".into(),
                json!(caller.view.rel_display(&n.path_lower, &n.path_display)),
            );
        }
        if let Some(p) = world.shared_parent(&n.path_lower) {
            o.insert("parent_shared_folder_id".into(), json!(p.id));
        }
    }
    if let Some(owner) = ns.owner.and_then(|i| world.accounts.get(i)) {
        o.insert("owner_display_names".into(), json!([owner.display_name]));
    }
    if let Some(t) = &world.team {
        o.insert("owner_team".into(), json!({"id": t.id, "name": t.name}));
    }
    if !actions.is_empty() {
        let writer = caller.view.admin || level.is_some_and(|l| l >= Access::Editor);
        let owner = caller.view.admin || level == Some(Access::Owner);
        let perms: Vec<Value> = actions
            .iter()
            .map(|a| {
                let allow = match a.as_str() {
                    "unshare" | "change_options" | "set_access_inheritance" => {
                        owner && !team_folder
                    }
                    "relinquish_membership" | "unmount" | "leave_a_copy" => {
                        level.is_some() && level != Some(Access::Owner)
                    }
                    _ => writer,
                };
                let mut p = json!({"action": tag(a), "allow": allow});
                if !allow && let Some(po) = p.as_object_mut() {
                    po.insert("reason".into(), tag("permission_denied"));
                }
                p
            })
            .collect();
        o.insert("permissions".into(), Value::Array(perms));
    }
    v
}

fn folders_page(world: &World, caller: &Caller, cur: &OffsetCursor) -> Value {
    let items: Vec<&Namespace> = world
        .namespaces
        .values()
        .filter(|n| n.kind.is_shared() && world.ns_access(caller.account, n).is_some())
        .collect();
    let end = (cur.o + cur.l).min(items.len());
    let entries: Vec<Value> = items
        .get(cur.o.min(end)..end)
        .unwrap_or(&[])
        .iter()
        .map(|ns| shared_folder_metadata(world, caller, ns, &cur.a))
        .collect();
    let mut out = json!({"entries": entries});
    if end < items.len()
        && let Some(o) = out.as_object_mut()
    {
        o.insert(
            "cursor".into(),
            json!(
                OffsetCursor {
                    o: end,
                    ..cur.clone()
                }
                .encode()
            ),
        );
    }
    out
}
