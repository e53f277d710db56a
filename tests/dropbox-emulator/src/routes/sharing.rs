//! `sharing/*` routes: received files, shared links, file and folder members.

use super::{Call, CursorArg, OffsetCursor, Reply, check_path};
use crate::app::App;
use crate::clock;
use crate::content::mix;
use crate::errors::{ApiError, nest, tag};
use crate::ids;
use crate::routes::files::send_bytes;
use crate::routes::users::user_info;
use crate::state::{Kind, Received, Target, World};
use serde::Deserialize;
use serde_json::{Value, json};

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
#[allow(dead_code)]
struct FileMembersArg {
    file: String,
    #[serde(default)]
    actions: Option<Value>,
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
#[allow(dead_code)]
struct FolderMembersArg {
    shared_folder_id: String,
    #[serde(default)]
    actions: Option<Value>,
    #[serde(default = "thousand")]
    limit: usize,
    #[serde(default)]
    path: Option<String>,
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

/// Route entry for `sharing/*`.
pub fn dispatch(app: &App, call: &Call) -> Result<Reply, ApiError> {
    match call.route {
        "sharing/list_received_files" => {
            let a: ListReceivedArg = call.arg()?;
            if !(1..=300).contains(&a.limit) {
                return Err(
                    call.bad_field("limit", format!("{} is not within range [1, 300]", a.limit))
                );
            }
            received_page(
                app,
                OffsetCursor {
                    k: "received".into(),
                    o: 0,
                    l: a.limit,
                    x: String::new(),
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
            let r = find_link(&world, &a.url)?;
            Ok(Reply::Json(link_metadata(r)))
        }
        "sharing/get_shared_link_file" => {
            let a: SharedLinkArg = call.arg()?;
            let world = app.read_world();
            let r = find_link(&world, &a.url)?;
            let (data, meta) = (r.data.clone(), link_metadata(r));
            drop(world);
            send_bytes(call, &data, meta)
        }
        "sharing/list_file_members" => {
            let a: FileMembersArg = call.arg()?;
            if !(1..=300).contains(&a.limit) {
                return Err(
                    call.bad_field("limit", format!("{} is not within range [1, 300]", a.limit))
                );
            }
            let world = app.read_world();
            let users = file_members(&world, call, &a.file, a.include_inherited)
                .map_err(|e| ApiError::Route(nest("access_error", tag(e))))?;
            Ok(Reply::Json(members_page(
                users,
                0,
                a.limit,
                "file_members",
                &a.file,
            )))
        }
        "sharing/list_file_members/continue" => {
            let a: CursorArg = call.arg()?;
            let c = OffsetCursor::decode(&a.cursor, "file_members")
                .ok_or_else(|| ApiError::route("invalid_cursor"))?;
            let world = app.read_world();
            let users = file_members(&world, call, &c.x, true)
                .map_err(|e| ApiError::Route(nest("access_error", tag(e))))?;
            Ok(Reply::Json(members_page(
                users,
                c.o,
                c.l,
                "file_members",
                &c.x,
            )))
        }
        "sharing/list_file_members/batch" => {
            let a: FileMembersBatchArg = call.arg()?;
            if a.files.len() > 100 {
                return Err(call.bad_field("files", "has more than 100 items"));
            }
            if !(1..=3000).contains(&a.limit) {
                return Err(call.bad_field(
                    "limit",
                    format!("{} is not within range [1, 3000]", a.limit),
                ));
            }
            let world = app.read_world();
            let out: Vec<Value> = a
                .files
                .iter()
                .map(|f| match file_members(&world, call, f, false) {
                    Ok(users) => {
                        let count = users.len();
                        let users: Vec<Value> = users
                            .into_iter()
                            .take(a.limit)
                            .map(|mut u| {
                                if let Some(o) = u.as_object_mut() {
                                    o.insert("permissions".into(), json!([]));
                                }
                                u
                            })
                            .collect();
                        json!({"file": f, "result": {".tag": "result",
                            "members": {"users": users, "groups": [], "invitees": []},
                            "member_count": count}})
                    }
                    Err(e) => json!({"file": f, "result": nest("access_error", tag(e))}),
                })
                .collect();
            Ok(Reply::Json(Value::Array(out)))
        }
        "sharing/list_folder_members" => {
            let a: FolderMembersArg = call.arg()?;
            if !(1..=1000).contains(&a.limit) {
                return Err(call.bad_field(
                    "limit",
                    format!("{} is not within range [1, 1000]", a.limit),
                ));
            }
            let world = app.read_world();
            let users = folder_members(&world, &a.shared_folder_id)?;
            Ok(Reply::Json(members_page(
                users,
                0,
                a.limit,
                "folder_members",
                &a.shared_folder_id,
            )))
        }
        "sharing/list_folder_members/continue" => {
            let a: CursorArg = call.arg()?;
            let c = OffsetCursor::decode(&a.cursor, "folder_members")
                .ok_or_else(|| ApiError::route("invalid_cursor"))?;
            let world = app.read_world();
            let users = folder_members(&world, &c.x)?;
            Ok(Reply::Json(members_page(
                users,
                c.o,
                c.l,
                "folder_members",
                &c.x,
            )))
        }
        _ => Err(ApiError::Status(404, "Unknown API function".into())),
    }
}

fn received_page(app: &App, c: OffsetCursor) -> Result<Reply, ApiError> {
    let world = app.read_world();
    let me = world.default_account();
    let items = &world.received;
    let end = (c.o + c.l).min(items.len());
    let entries: Vec<Value> = items
        .get(c.o.min(end)..end)
        .unwrap_or(&[])
        .iter()
        .map(|r| shared_file_metadata(&world, me, r))
        .collect();
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

/// `SharedFileMetadata` of a received file.
pub fn shared_file_metadata(_world: &World, _me: usize, r: &Received) -> Value {
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
pub fn link_metadata(r: &Received) -> Value {
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

/// The received file a shared-link URL points at (query and fragment ignored).
pub fn find_link<'a>(world: &'a World, url: &str) -> Result<&'a Received, ApiError> {
    let want = strip_query(url);
    world
        .received
        .iter()
        .find(|r| strip_query(&r.url) == want)
        .ok_or_else(|| ApiError::route("shared_link_not_found"))
}

/// A synthetic account id for an outside owner name.
pub fn outside_account_id(owner: &str) -> String {
    let h = owner
        .bytes()
        .fold(0xC0FFEEu64, |h, b| mix(h ^ u64::from(b)));
    ids::account_id(h)
}

fn owner_entry(world: &World, account: usize) -> Value {
    json!({"access_type": tag("owner"), "permissions": [], "is_inherited": false,
           "user": user_info(world, account), "platform_type": tag("unknown")})
}

/// Members of a file; `Err(tag)` is a SharingFileAccessError tag.
fn file_members(
    world: &World,
    call: &Call,
    file: &str,
    inherited: bool,
) -> Result<Vec<Value>, &'static str> {
    let caller = call.caller().map_err(|_| "no_permission")?;
    if let Some(r) = world.received.iter().find(|r| r.id == file) {
        let owner = json!({"access_type": tag("owner"), "permissions": [], "is_inherited": false,
            "user": {"account_id": r.owner_account_id, "email": format!("{}@example.com",
                r.owner.to_lowercase().replace(' ', ".")), "display_name": r.owner, "same_team": false},
            "platform_type": tag("unknown")});
        let mut me = owner_entry(world, caller.account);
        if let Some(o) = me.as_object_mut() {
            o.insert("access_type".into(), tag("viewer"));
        }
        return Ok(vec![owner, me]);
    }
    if check_path(call, "file", file, false).is_err() {
        return Err("invalid_file");
    }
    let node = match world.resolve(&caller.view, file) {
        Ok(Target::Path(g)) => world.get(&caller.view, &g).cloned(),
        Ok(Target::Rev(n)) => Some(n),
        Err(_) => None,
    }
    .ok_or("invalid_file")?;
    if node.kind == Kind::Folder {
        return Err("is_folder");
    }
    let shared = node
        .path_lower
        .get(1..)
        .and_then(|r| r.find('/'))
        .and_then(|i| world.shared_mounts.get(&node.path_lower[..=i]));
    match shared {
        Some(_) if inherited => Ok((0..world.accounts.len())
            .map(|i| {
                let mut e = owner_entry(world, i);
                if let Some(o) = e.as_object_mut() {
                    o.insert("access_type".into(), tag("editor"));
                    o.insert("is_inherited".into(), json!(true));
                }
                e
            })
            .collect()),
        Some(_) => Ok(Vec::new()),
        None => {
            let owner = world
                .accounts
                .iter()
                .position(|a| {
                    !a.home_lower.is_empty()
                        && node.path_lower.starts_with(&format!("{}/", a.home_lower))
                })
                .unwrap_or(caller.account);
            Ok(vec![owner_entry(world, owner)])
        }
    }
}

fn folder_members(world: &World, shared_folder_id: &str) -> Result<Vec<Value>, ApiError> {
    if !world
        .shared_mounts
        .values()
        .any(|ns| ns == shared_folder_id)
    {
        return Err(ApiError::Route(nest("access_error", tag("invalid_id"))));
    }
    let admin = world.default_account();
    Ok((0..world.accounts.len())
        .map(|i| {
            let access = if i == admin { "owner" } else { "editor" };
            json!({"access_type": tag(access), "permissions": [], "is_inherited": false,
                   "user": user_info(world, i)})
        })
        .collect())
}

fn members_page(
    users: Vec<Value>,
    offset: usize,
    limit: usize,
    kind: &str,
    subject: &str,
) -> Value {
    let end = (offset + limit).min(users.len());
    let page = users.get(offset.min(end)..end).unwrap_or(&[]).to_vec();
    let mut out = json!({"users": page, "groups": [], "invitees": []});
    if end < users.len()
        && let Some(o) = out.as_object_mut()
    {
        o.insert(
            "cursor".into(),
            json!(
                OffsetCursor {
                    k: kind.into(),
                    o: end,
                    l: limit,
                    x: subject.into()
                }
                .encode()
            ),
        );
    }
    out
}
