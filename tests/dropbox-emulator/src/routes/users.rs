//! `users/*` routes and the account/profile JSON shapes other modules reuse.

use super::{Call, Reply};
use crate::app::App;
use crate::directory::MemberStatus;
use crate::errors::ApiError;
use crate::state::World;
use serde::Deserialize;
use serde_json::{Value, json};

/// `RootInfo` of an account (`team` with a separate team root, or `user`).
pub fn root_info(world: &World, account: usize) -> Value {
    let a = &world.accounts[account];
    match &world.team {
        Some(t) => json!({".tag": "team", "root_namespace_id": t.root_ns,
                          "home_namespace_id": a.home_ns, "home_path": a.home_display}),
        None => {
            json!({".tag": "user", "root_namespace_id": a.home_ns, "home_namespace_id": a.home_ns})
        }
    }
}

fn name(world: &World, account: usize) -> Value {
    let a = &world.accounts[account];
    let abbreviated: String = [&a.given_name, &a.surname]
        .iter()
        .filter_map(|s| s.chars().next())
        .collect::<String>()
        .to_uppercase();
    json!({"given_name": a.given_name, "surname": a.surname, "familiar_name": a.given_name,
           "display_name": a.display_name, "abbreviated_name": abbreviated})
}

/// `FullAccount`.
pub fn full_account(world: &World, account: usize) -> Value {
    let a = &world.accounts[account];
    let mut v = json!({
        "account_id": a.account_id,
        "name": name(world, account),
        "email": a.email,
        "email_verified": true,
        "disabled": false,
        "locale": "en",
        "referral_link": "https://www.dropbox.com/referrals/emulator",
        "is_paired": false,
        "account_type": {".tag": if world.team.is_some() { "business" } else { "basic" }},
        "root_info": root_info(world, account),
        "country": "US",
    });
    if let (Some(t), Some(o)) = (&world.team, v.as_object_mut()) {
        o.insert(
            "team".into(),
            json!({"id": t.id, "name": t.name,
                "sharing_policies": {
                    "shared_folder_member_policy": {".tag": "anyone"},
                    "shared_folder_join_policy": {".tag": "from_anyone"},
                    "shared_link_create_policy": {".tag": "default_public"},
                    "group_creation_policy": {".tag": "admins_and_members"},
                    "shared_folder_link_restriction_policy": {".tag": "anyone"},
                    "enforce_link_password_policy": {".tag": "optional"},
                    "default_link_expiration_days_policy": {".tag": "none"},
                    "shared_link_default_permissions_policy": {".tag": "default"}},
                "office_addin_policy": {".tag": "enabled"},
                "top_level_content_policy": {".tag": "everyone"}}),
        );
        if let Some(m) = &a.team_member_id {
            o.insert("team_member_id".into(), json!(m));
        }
    }
    v
}

/// `TeamMemberStatus` JSON.
fn status_json(s: MemberStatus) -> Value {
    match s {
        MemberStatus::Removed => {
            json!({".tag": "removed", "is_recoverable": true, "is_disconnected": false})
        }
        other => json!({".tag": other.tag()}),
    }
}

/// `TeamMemberProfile`.
pub fn team_member_profile(world: &World, account: usize) -> Value {
    let a = &world.accounts[account];
    let root = world.team.as_ref().map_or("", |t| t.root_ns.as_str());
    let mut v = json!({
        "team_member_id": a.team_member_id.clone().unwrap_or_default(),
        "email": a.email,
        "email_verified": a.status != MemberStatus::Invited,
        "secondary_emails": [],
        "status": status_json(a.status),
        "name": name(world, account),
        "membership_type": {".tag": "full"},
        "groups": world.groups_of(account),
        "member_folder_id": a.home_ns,
        "root_folder_id": root,
    });
    if let Some(o) = v.as_object_mut() {
        // Invited members have no account yet.
        if a.status == MemberStatus::Invited {
            o.insert(
                "invited_on".into(),
                json!(crate::clock::format(a.joined_on)),
            );
        } else {
            o.insert("account_id".into(), json!(a.account_id));
            o.insert("joined_on".into(), json!(crate::clock::format(a.joined_on)));
        }
        if let Some(x) = &a.external_id {
            o.insert("external_id".into(), json!(x));
        }
    }
    v
}

/// `BasicAccount` of an account as `viewer` sees it.
pub fn basic_account(world: &World, account: usize, viewer: usize) -> Value {
    let a = &world.accounts[account];
    let teammate = world.team.is_some() && account != viewer;
    let mut v = json!({
        "account_id": a.account_id,
        "name": name(world, account),
        "email": a.email,
        "email_verified": true,
        "disabled": a.status == MemberStatus::Removed,
        "is_teammate": teammate,
    });
    if let (true, Some(m), Some(o)) = (teammate, &a.team_member_id, v.as_object_mut()) {
        o.insert("team_member_id".into(), json!(m));
    }
    v
}

/// Sharing `UserInfo` of an account.
pub fn user_info(world: &World, account: usize) -> Value {
    let a = &world.accounts[account];
    let mut v = json!({"account_id": a.account_id, "email": a.email,
                       "display_name": a.display_name, "same_team": world.team.is_some()});
    if let (Some(m), Some(o)) = (&a.team_member_id, v.as_object_mut()) {
        o.insert("team_member_id".into(), json!(m));
    }
    v
}

/// `users/get_current_account`.
pub fn get_current_account(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let caller = call.caller()?;
    let world = app.read_world();
    Ok(Reply::Json(full_account(&world, caller.account)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetAccountArg {
    account_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetAccountBatchArg {
    account_ids: Vec<String>,
}

fn check_account_id(call: &Call, field: &str, id: &str) -> Result<(), ApiError> {
    if id.chars().count() > 40 {
        return Err(call.bad_field(field, format!("'{id}' is longer than 40")));
    }
    if id.chars().count() < 40 {
        return Err(call.bad_field(field, format!("'{id}' is shorter than 40")));
    }
    Ok(())
}

/// `users/get_account`.
pub fn get_account(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let a: GetAccountArg = call.arg()?;
    check_account_id(call, "account_id", &a.account_id)?;
    let caller = call.caller()?;
    let world = app.read_world();
    let i = world
        .account_by_id(&a.account_id)
        .filter(|&i| world.accounts[i].status != MemberStatus::Invited)
        .ok_or_else(|| ApiError::route("no_account"))?;
    Ok(Reply::Json(basic_account(&world, i, caller.account)))
}

/// `users/get_account_batch`: every id must exist, else `no_account` names the first missing one.
pub fn get_account_batch(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let a: GetAccountBatchArg = call.arg()?;
    for id in &a.account_ids {
        check_account_id(call, "account_ids", id)?;
    }
    let caller = call.caller()?;
    let world = app.read_world();
    let mut out = Vec::new();
    for id in &a.account_ids {
        let i = world
            .account_by_id(id)
            .filter(|&i| world.accounts[i].status != MemberStatus::Invited)
            .ok_or_else(|| ApiError::Route(json!({".tag": "no_account", "no_account": id})))?;
        out.push(basic_account(&world, i, caller.account));
    }
    Ok(Reply::Json(Value::Array(out)))
}
