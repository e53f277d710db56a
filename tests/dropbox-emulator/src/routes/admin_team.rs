//! `/_admin/...` calls for the team model: members, groups, team folders, sharing changes,
//! and the ground truth of who can open what.

use super::admin::{err, ok, parse};
use crate::acl::{AclEntry, Principal};
use crate::app::App;
use crate::clock;
use crate::content::Body;
use crate::directory::{GroupManagement, MemberStatus};
use crate::oauth::parse_form;
use crate::server::json_response;
use crate::state::{Kind, World};
use crate::team_changes::{GrantSpec, ShareTarget};
use http::{Method, Response};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMember {
    email: String,
    display_name: String,
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusChange {
    member: String,
    status: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewGroup {
    name: String,
    #[serde(default)]
    members: Vec<String>,
    #[serde(default)]
    management: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupMembers {
    group: String,
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
    #[serde(default)]
    owner: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTeamFolder {
    name: String,
    #[serde(default)]
    members: Vec<GrantSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Share {
    target: String,
    #[serde(default)]
    members: Vec<GrantSpec>,
    #[serde(default)]
    owner: Option<String>,
}

fn members_of(world: &World, refs: &[String]) -> Result<Vec<usize>, String> {
    refs.iter()
        .map(|r| {
            world
                .find_member(r)
                .ok_or_else(|| format!("unknown team member {r:?} (give an email or dbmid:)"))
        })
        .collect()
}

/// Handle a team admin call; `None` when `sub` is not one.
pub fn handle(
    app: &App,
    method: &Method,
    sub: &str,
    query: &str,
    body: &[u8],
) -> Option<Response<Body>> {
    let now = clock::now_secs();
    let q = parse_form(query.as_bytes());
    let r = match (method.as_str(), sub) {
        ("POST", "members") => mutate(app, body, |w, a: NewMember| {
            let status = match a.status.as_deref() {
                None => MemberStatus::Active,
                Some(s) => MemberStatus::parse(s).ok_or_else(|| {
                    format!("status {s:?}: want active, invited, suspended or removed")
                })?,
            };
            let actor = Some(w.default_account());
            let i = w.join_member(&a.display_name, &a.email, a.admin, status, actor, now)?;
            w.accounts[i].external_id = a.external_id;
            let acc = &w.accounts[i];
            Ok(
                json!({"team_member_id": acc.team_member_id, "account_id": acc.account_id,
                      "home_namespace_id": acc.home_ns, "home_path": acc.home_display}),
            )
        }),
        ("POST", "members/status") => mutate(app, body, |w, a: StatusChange| {
            let m = w
                .find_member(&a.member)
                .ok_or_else(|| format!("unknown team member {:?}", a.member))?;
            let status = MemberStatus::parse(&a.status).ok_or_else(|| {
                format!(
                    "status {:?}: want active, invited, suspended or removed",
                    a.status
                )
            })?;
            let actor = Some(w.default_account());
            w.change_status(m, status, actor, now)?;
            Ok(json!({"ok": true}))
        }),
        ("POST", "groups") => mutate(app, body, |w, a: NewGroup| {
            let management = match a.management.as_deref() {
                None => GroupManagement::CompanyManaged,
                Some(s) => GroupManagement::parse(s).ok_or_else(|| {
                    format!("management {s:?}: want company_managed or user_managed")
                })?,
            };
            let members = members_of(w, &a.members)?;
            let actor = w.default_account();
            let id = w.create_group(&a.name, management, a.external_id, &members, actor, now)?;
            Ok(json!({"group_id": id}))
        }),
        ("POST", "groups/members") => mutate(app, body, |w, a: GroupMembers| {
            let actor = w.default_account();
            let add = members_of(w, &a.add)?;
            let remove = members_of(w, &a.remove)?;
            if !add.is_empty() {
                w.group_add(&a.group, &add, actor, now, a.owner)?;
            }
            if !remove.is_empty() {
                w.group_remove(&a.group, &remove, actor, now)?;
            }
            Ok(json!({"ok": true}))
        }),
        ("DELETE", "groups") => {
            let Some(g) = q.get("group") else {
                return Some(err(400, "give ?group=<name or g: id>"));
            };
            let mut world = app.write_world();
            let actor = world.default_account();
            let res = world.delete_group(g, actor, now);
            drop(world);
            app.notify();
            match res {
                Ok(()) => ok(),
                Err(e) => err(409, e),
            }
        }
        ("POST", "team_folders") => mutate(app, body, |w, a: NewTeamFolder| {
            let grants = w.parse_grants(&a.members, None)?;
            let actor = w.default_account();
            let id = w.create_team_folder(&a.name, grants, actor, now, true)?;
            Ok(json!({"team_folder_id": id}))
        }),
        ("POST", "share") => mutate(app, body, |w, a: Share| share(w, a, now)),
        ("POST", "unshare") => mutate(app, body, |w, a: Share| unshare(w, a, now)),
        ("GET", "access") => {
            let world = app.read_world();
            let Some(m) = q.get("member") else {
                return Some(err(400, "give ?member=<dbmid: or email>"));
            };
            match world.find_member(m) {
                Some(i) => json_response(200, &access(&world, i)),
                None => err(
                    404,
                    format!("unknown member {m:?} (give a dbmid: or an email)"),
                ),
            }
        }
        ("GET", "acl") => {
            let world = app.read_world();
            if q.get("all").is_some_and(|v| v == "true" || v == "1") {
                // One tree walk per member, rather than one access check per member and item.
                let mut openers: std::collections::HashMap<&str, Vec<&str>> =
                    std::collections::HashMap::new();
                for (i, a) in world.accounts.iter().enumerate() {
                    let Some(mid) = a.team_member_id.as_deref() else {
                        continue;
                    };
                    world.each_accessible(i, &mut |n, _| {
                        if let Some(id) = world.tree.get(&n.path_lower).map(|n| n.id.as_str()) {
                            openers.entry(id).or_default().push(mid);
                        }
                    });
                }
                let items: Vec<Value> = world
                    .tree
                    .values()
                    .map(|n| {
                        let who = openers.get(n.id.as_str()).cloned().unwrap_or_default();
                        acl_json(&world, &n.path_lower, Some(who))
                    })
                    .collect();
                json_response(200, &json!({"items": items}))
            } else {
                let Some(t) = q.get("target") else {
                    return Some(err(400, "give ?target=<path or id:> or ?all=true"));
                };
                match world.find_target(t) {
                    Ok((_, g)) => json_response(200, &acl_json(&world, &g, None)),
                    Err(e) => err(404, e),
                }
            }
        }
        ("GET", "namespaces") => {
            let world = app.read_world();
            json_response(200, &namespaces(&world))
        }
        ("GET", "events") => {
            let world = app.read_world();
            let events: Vec<Value> = world.events.iter().map(|e| e.json.clone()).collect();
            json_response(200, &json!({"events": events}))
        }
        _ => return None,
    };
    Some(r)
}

/// Decode the body, apply a change under the write lock, wake longpolls.
fn mutate<T: for<'a> Deserialize<'a>>(
    app: &App,
    body: &[u8],
    f: impl FnOnce(&mut World, T) -> Result<Value, String>,
) -> Response<Body> {
    let arg: T = match parse(body) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut world = app.write_world();
    let res = f(&mut world, arg);
    drop(world);
    app.notify();
    match res {
        Ok(v) => json_response(200, &v),
        Err(e) => err(409, e),
    }
}

fn share(w: &mut World, a: Share, now: i64) -> Result<Value, String> {
    let actor = w.default_account();
    let (target, global) = w.find_target(&a.target)?;
    let target = match target {
        Some(t) => t,
        None => {
            let owner = a
                .owner
                .as_deref()
                .map(|o| {
                    w.find_member(o)
                        .ok_or_else(|| format!("unknown team member {o:?}"))
                })
                .transpose()?;
            ShareTarget::Folder(w.share_folder(&global, owner, actor, now, true)?)
        }
    };
    let owner = match &target {
        ShareTarget::Folder(ns) => w.namespaces.get(ns).and_then(|n| n.owner),
        ShareTarget::File(_) => w.owner_of(&global),
    };
    let grants = w.parse_grants(&a.members, owner)?;
    w.add_grants(&target, grants, actor, now, true)?;
    Ok(match target {
        ShareTarget::Folder(ns) => json!({"shared_folder_id": ns}),
        ShareTarget::File(id) => json!({"file_id": id}),
    })
}

fn unshare(w: &mut World, a: Share, now: i64) -> Result<Value, String> {
    let actor = w.default_account();
    let (target, global) = w.find_target(&a.target)?;
    let target = target.ok_or_else(|| format!("{}: not shared", a.target))?;
    if a.members.is_empty() {
        w.unshare(&target, actor, now)?;
    } else {
        let owner = w.owner_of(&global);
        let whos = w
            .parse_grants(&a.members, owner)?
            .into_iter()
            .map(|g| g.who)
            .collect();
        w.remove_grants(&target, whos, actor, now)?;
    }
    Ok(json!({"ok": true}))
}

fn access(world: &World, account: usize) -> Value {
    let view = world.whole_view(account);
    let entries: Vec<Value> = world
        .accessible(account)
        .into_iter()
        .filter_map(|(id, path, level)| {
            let n = world.tree.get(&path)?;
            let tag = match n.kind {
                Kind::File => "file",
                Kind::Folder => "folder",
            };
            Some(json!({"id": id, "tag": tag, "access": level.tag(),
                        "path_display": view.rel_display(&path, &n.path_display)}))
        })
        .collect();
    let ids: Vec<&Value> = entries.iter().filter_map(|e| e.get("id")).collect();
    let a = &world.accounts[account];
    json!({"member": a.team_member_id, "account_id": a.account_id, "email": a.email,
           "ids": ids, "entries": entries})
}

fn principal_json(world: &World, e: &AclEntry) -> Value {
    let mut v = match &e.who {
        Principal::User(i) => {
            let a = &world.accounts[*i];
            json!({"type": "user", "account_id": a.account_id, "email": a.email,
                   "display_name": a.display_name, "team_member_id": a.team_member_id})
        }
        Principal::Group(id) => {
            let name = world.group(id).map(|g| g.name.clone()).unwrap_or_default();
            json!({"type": "group", "group_id": id, "group_name": name})
        }
        Principal::Email(m) => json!({"type": "invitee", "email": m}),
    };
    if let Some(o) = v.as_object_mut() {
        o.insert("access".into(), json!(e.access.tag()));
        o.insert("inherited".into(), json!(e.inherited));
    }
    v
}

/// An item's access list: direct and inherited members, and every member who can open it
/// (`openers` when already known).
fn acl_json(world: &World, global_lower: &str, openers: Option<Vec<&str>>) -> Value {
    let Some(n) = world.tree.get(global_lower) else {
        return json!({});
    };
    let members: Vec<Value> = world
        .item_acl(global_lower, true)
        .iter()
        .map(|e| principal_json(world, e))
        .collect();
    let openers: Vec<&str> = openers.unwrap_or_else(|| {
        (0..world.accounts.len())
            .filter(|&i| world.item_access(i, global_lower).is_some())
            .filter_map(|i| world.accounts[i].team_member_id.as_deref())
            .collect()
    });
    let tag = match n.kind {
        Kind::File => "file",
        Kind::Folder => "folder",
    };
    json!({"id": n.id, "tag": tag, "path_display": n.path_display, "members": members,
           "team_member_ids": openers})
}

fn namespaces(world: &World) -> Value {
    let list: Vec<Value> = world
        .namespaces
        .values()
        .map(|ns| {
            let grants: Vec<Value> = ns
                .grants
                .iter()
                .map(|g| {
                    principal_json(
                        world,
                        &AclEntry {
                            who: g.who.clone(),
                            access: g.access,
                            inherited: false,
                        },
                    )
                })
                .collect();
            let owner = ns
                .owner
                .and_then(|o| world.accounts.get(o))
                .and_then(|a| a.team_member_id.clone());
            let path = world
                .tree
                .get(&ns.path_lower)
                .map_or_else(String::new, |n| n.path_display.clone());
            json!({"namespace_id": ns.id, "namespace_type": ns.kind.tag(), "path_display": path,
                   "owner": owner, "members": grants})
        })
        .collect();
    json!({"namespaces": list})
}
