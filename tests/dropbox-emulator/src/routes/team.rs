//! `team/*` routes: the authenticated admin, members, team folders.

use super::{Call, CursorArg, OffsetCursor, Reply};
use crate::app::App;
use crate::errors::{ApiError, tag};
use crate::routes::users::team_member_profile;
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
struct TeamFolderListArg {
    #[serde(default = "thousand")]
    limit: usize,
}

fn thousand() -> usize {
    1000
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
    let (kind, cur) = match call.route {
        "team/token/get_authenticated_admin" => {
            let admin = world.default_account();
            return Ok(Reply::Json(
                json!({"admin_profile": team_member_profile(&world, admin)}),
            ));
        }
        "team/members/list_v2" => {
            let a: MembersListArg = call.arg()?;
            let _ = a.include_removed;
            if !(1..=1000).contains(&a.limit) {
                return Err(call.bad_field(
                    "limit",
                    format!("{} is not within range [1, 1000]", a.limit),
                ));
            }
            (
                "members",
                OffsetCursor {
                    k: "members".into(),
                    o: 0,
                    l: a.limit,
                    x: String::new(),
                },
            )
        }
        "team/members/list/continue_v2" => {
            let a: CursorArg = call.arg()?;
            let c = OffsetCursor::decode(&a.cursor, "members")
                .ok_or_else(|| ApiError::route("invalid_cursor"))?;
            ("members", c)
        }
        "team/team_folder/list" => {
            let a: TeamFolderListArg = call.arg()?;
            if !(1..=1000).contains(&a.limit) {
                return Err(call.bad_field(
                    "limit",
                    format!("{} is not within range [1, 1000]", a.limit),
                ));
            }
            (
                "team_folders",
                OffsetCursor {
                    k: "team_folders".into(),
                    o: 0,
                    l: a.limit,
                    x: String::new(),
                },
            )
        }
        "team/team_folder/list/continue" => {
            let a: CursorArg = call.arg()?;
            let c = OffsetCursor::decode(&a.cursor, "team_folders")
                .ok_or_else(|| ApiError::route("invalid_cursor"))?;
            ("team_folders", c)
        }
        _ => return Err(ApiError::Status(404, "Unknown API function".into())),
    };
    let items: Vec<Value> = if kind == "members" {
        (0..world.accounts.len())
            .map(|i| json!({"profile": team_member_profile(&world, i)}))
            .collect()
    } else {
        world
            .team
            .as_ref()
            .map(|t| {
                t.folders
                    .iter()
                    .map(|f| {
                        json!({"team_folder_id": f.ns, "name": f.name, "status": tag("active"),
                               "is_team_shared_dropbox": false, "sync_setting": tag("default"),
                               "content_sync_settings": []})
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let end = (cur.o + cur.l).min(items.len());
    let page = items.get(cur.o.min(end)..end).unwrap_or(&[]).to_vec();
    let next = OffsetCursor {
        k: cur.k.clone(),
        o: end,
        l: cur.l,
        x: String::new(),
    };
    Ok(Reply::Json(json!({
        kind: page,
        "cursor": next.encode(),
        "has_more": end < items.len(),
    })))
}
