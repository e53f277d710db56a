//! `team/*` routes: the authenticated admin, members, groups, namespaces, team folders.

use super::{Call, CursorArg, OffsetCursor, Reply};
use crate::acl::NsKind;
use crate::app::App;
use crate::directory::MemberStatus;
use crate::errors::{ApiError, tag};
use crate::routes::users::team_member_profile;
use crate::state::World;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MembersListArg {
    #[serde(default = "thousand")]
    limit: usize,
    #[serde(default)]
    include_removed: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitArg {
    #[serde(default = "thousand")]
    limit: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupMembersArg {
    group: Value,
    #[serde(default = "thousand")]
    limit: usize,
}

fn thousand() -> usize {
    1000
}

/// One listing: its cursor kind, the JSON key of its items, and its continue error.
struct Listing {
    kind: &'static str,
    key: &'static str,
}

const MEMBERS_V2: Listing = Listing {
    kind: "members",
    key: "members",
};
const MEMBERS_V1: Listing = Listing {
    kind: "members_v1",
    key: "members",
};
const GROUPS: Listing = Listing {
    kind: "groups",
    key: "groups",
};
const GROUP_MEMBERS: Listing = Listing {
    kind: "group_members",
    key: "members",
};
const NAMESPACES: Listing = Listing {
    kind: "namespaces",
    key: "namespaces",
};
const TEAM_FOLDERS: Listing = Listing {
    kind: "team_folders",
    key: "team_folders",
};

fn start(call: &Call, listing: &Listing, limit: usize) -> Result<OffsetCursor, ApiError> {
    if !(1..=1000).contains(&limit) {
        return Err(call.bad_field("limit", format!("{limit} is not within range [1, 1000]")));
    }
    Ok(OffsetCursor {
        k: listing.kind.into(),
        l: limit,
        ..Default::default()
    })
}

fn resume(call: &Call, listing: &Listing) -> Result<OffsetCursor, ApiError> {
    let a: CursorArg = call.arg()?;
    OffsetCursor::decode(&a.cursor, listing.kind).ok_or_else(|| ApiError::route("invalid_cursor"))
}

/// Route entry for `team/*`.
pub fn dispatch(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let world = app.read_world();
    if world.team.is_none() {
        return Err(ApiError::bad(
            call.route,
            "This API function operates on an entire Dropbox Business team, but the OAuth 2 access token you provided is for a single Dropbox account.",
        ));
    }
    let (listing, cur) = match call.route {
        "team/token/get_authenticated_admin" => {
            let admin = world.default_account();
            return Ok(Reply::Json(
                json!({"admin_profile": team_member_profile(&world, admin)}),
            ));
        }
        "team/members/list_v2" | "team/members/list" => {
            let a: MembersListArg = call.arg()?;
            let l = if call.route.ends_with("_v2") {
                &MEMBERS_V2
            } else {
                &MEMBERS_V1
            };
            let mut c = start(call, l, a.limit)?;
            c.i = a.include_removed;
            (l, c)
        }
        "team/members/list/continue_v2" => (&MEMBERS_V2, resume(call, &MEMBERS_V2)?),
        "team/members/list/continue" => (&MEMBERS_V1, resume(call, &MEMBERS_V1)?),
        "team/groups/list" => {
            let a: LimitArg = call.arg()?;
            (&GROUPS, start(call, &GROUPS, a.limit)?)
        }
        "team/groups/list/continue" => (&GROUPS, resume(call, &GROUPS)?),
        "team/groups/members/list" => {
            let a: GroupMembersArg = call.arg()?;
            let id = select_group(&world, call, &a.group)?;
            let mut c = start(call, &GROUP_MEMBERS, a.limit)?;
            c.x = id;
            (&GROUP_MEMBERS, c)
        }
        "team/groups/members/list/continue" => {
            let c = resume(call, &GROUP_MEMBERS)?;
            if world.group(&c.x).is_none() {
                // The group was deleted meanwhile; the cursor cannot go on.
                return Err(ApiError::route("invalid_cursor"));
            }
            (&GROUP_MEMBERS, c)
        }
        "team/namespaces/list" => {
            let a: LimitArg = call.arg()?;
            (&NAMESPACES, start(call, &NAMESPACES, a.limit)?)
        }
        "team/namespaces/list/continue" => (&NAMESPACES, resume(call, &NAMESPACES)?),
        "team/team_folder/list" => {
            let a: LimitArg = call.arg()?;
            (&TEAM_FOLDERS, start(call, &TEAM_FOLDERS, a.limit)?)
        }
        "team/team_folder/list/continue" => (&TEAM_FOLDERS, resume(call, &TEAM_FOLDERS)?),
        _ => return Err(ApiError::Status(404, "Unknown API function".into())),
    };
    let items = items(&world, listing, &cur);
    let end = (cur.o + cur.l).min(items.len());
    let page = items.get(cur.o.min(end)..end).unwrap_or(&[]).to_vec();
    let next = OffsetCursor { o: end, ..cur };
    Ok(Reply::Json(json!({
        listing.key: page,
        "cursor": next.encode(),
        "has_more": end < items.len(),
    })))
}

/// `GroupSelector` → group id; unknown groups are `group_not_found`.
fn select_group(world: &World, call: &Call, sel: &Value) -> Result<String, ApiError> {
    let t = sel.get(".tag").and_then(Value::as_str).unwrap_or("");
    let found = match t {
        "group_id" => {
            let id = sel.get("group_id").and_then(Value::as_str).unwrap_or("");
            world.group(id)
        }
        "group_external_id" => {
            let x = sel
                .get("group_external_id")
                .and_then(Value::as_str)
                .unwrap_or("");
            world
                .groups
                .iter()
                .find(|g| g.external_id.as_deref() == Some(x))
        }
        other => {
            return Err(call.bad_field(
                "group",
                format!("unknown tag '{other}' (want group_id or group_external_id)"),
            ));
        }
    };
    found
        .map(|g| g.id.clone())
        .ok_or_else(|| ApiError::route("group_not_found"))
}

/// `MemberProfile` (no groups, no folder ids).
fn member_profile(world: &World, account: usize) -> Value {
    let mut v = team_member_profile(world, account);
    if let Some(o) = v.as_object_mut() {
        o.remove("groups");
        o.remove("member_folder_id");
        o.remove("root_folder_id");
    }
    v
}

fn items(world: &World, listing: &Listing, cur: &OffsetCursor) -> Vec<Value> {
    match listing.kind {
        "members" | "members_v1" => (0..world.accounts.len())
            .filter(|&i| cur.i || world.accounts[i].status != MemberStatus::Removed)
            .map(|i| {
                let profile = team_member_profile(world, i);
                if listing.kind == "members" {
                    json!({"profile": profile})
                } else {
                    let role = if world.accounts[i].admin {
                        "team_admin"
                    } else {
                        "member_only"
                    };
                    json!({"profile": profile, "role": tag(role)})
                }
            })
            .collect(),
        "groups" => world
            .groups
            .iter()
            .map(|g| {
                let mut v = json!({"group_name": g.name, "group_id": g.id,
                                   "member_count": world.group_members(g).len(),
                                   "group_management_type": tag(g.management.tag())});
                if let (Some(x), Some(o)) = (&g.external_id, v.as_object_mut()) {
                    o.insert("group_external_id".into(), json!(x));
                }
                v
            })
            .collect(),
        "group_members" => world
            .group(&cur.x)
            .map(|g| {
                world
                    .group_members(g)
                    .into_iter()
                    .map(|i| {
                        let access = if g.owners.contains(&i) {
                            "owner"
                        } else {
                            "member"
                        };
                        json!({"profile": member_profile(world, i), "access_type": tag(access)})
                    })
                    .collect()
            })
            .unwrap_or_default(),
        "namespaces" => world
            .namespaces
            .values()
            .filter_map(|ns| {
                let node = world.tree.get(&ns.path_lower);
                let name = match ns.kind {
                    NsKind::Root => world.team.as_ref().map(|t| t.name.clone())?,
                    NsKind::Home(o) => {
                        let a = world.accounts.get(o)?;
                        // Invited members have no Dropbox yet; removed ones have left.
                        if matches!(a.status, MemberStatus::Invited | MemberStatus::Removed) {
                            return None;
                        }
                        a.display_name.clone()
                    }
                    _ => node?.name.clone(),
                };
                let mut v = json!({"name": name, "namespace_id": ns.id,
                                   "namespace_type": tag(ns.kind.tag())});
                if let (NsKind::Home(o), Some(obj)) = (ns.kind, v.as_object_mut())
                    && let Some(mid) = world.accounts.get(o).and_then(|a| a.team_member_id.clone())
                {
                    obj.insert("team_member_id".into(), json!(mid));
                }
                if ns.kind == NsKind::TeamFolder
                    && let Some(obj) = v.as_object_mut()
                {
                    obj.insert("quota_limit".into(), json!(0));
                }
                Some(v)
            })
            .collect(),
        _ => world
            .namespaces
            .values()
            .filter(|ns| ns.kind == NsKind::TeamFolder)
            .filter_map(|ns| {
                let node = world.tree.get(&ns.path_lower)?;
                Some(
                    json!({"team_folder_id": ns.id, "name": node.name, "status": tag("active"),
                            "is_team_shared_dropbox": false, "sync_setting": tag("default"),
                            "content_sync_settings": [], "quota_limit": 0}),
                )
            })
            .collect(),
    }
}
