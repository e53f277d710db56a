//! `users/*` routes and the account/profile JSON shapes other modules reuse.

use super::{Call, Reply};
use crate::app::App;
use crate::errors::ApiError;
use crate::state::World;
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

/// `TeamMemberProfile`.
pub fn team_member_profile(world: &World, account: usize) -> Value {
    let a = &world.accounts[account];
    let root = world.team.as_ref().map_or("", |t| t.root_ns.as_str());
    json!({
        "team_member_id": a.team_member_id.clone().unwrap_or_default(),
        "account_id": a.account_id,
        "email": a.email,
        "email_verified": true,
        "secondary_emails": [],
        "status": {".tag": "active"},
        "name": name(world, account),
        "membership_type": {".tag": "full"},
        "joined_on": "2024-01-01T00:00:00Z",
        "groups": [],
        "member_folder_id": a.home_ns,
        "root_folder_id": root,
    })
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
