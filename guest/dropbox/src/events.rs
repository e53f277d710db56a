//! The team event log (`team_log/get_events`): how permission changes reach the index
//! without a full sync.
//!
//! Adding or removing a member of a file or shared folder changes nothing `list_folder`
//! reports (the item's metadata, rev and content hash stay the same), so a delta cursor
//! never sees it. The event log does: a `sharing` event names the file or folder whose
//! members changed, and the connector re-reads just that item (a folder: the folder and
//! everything below it). `members` and `groups` events change who belongs to the team and
//! to which groups, which the access-control documents say; `team_folders` events are read
//! so their cursor stays current (a created, renamed or deleted team folder reaches the
//! index through the namespace plan of the next run).
//!
//! Each category has its own cursor in the checkpoint. A full sync starts them at the
//! Dropbox clock of the run's first call, so what changes while the listing runs is
//! applied by the next run.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};

use crate::api::TeamEventsResult;
use crate::client::{CallError, Client, RouteKind, Transport, decode};
use crate::error::Error;

/// The categories read, in order.
pub const CATEGORIES: [&str; 4] = ["sharing", "members", "groups", "team_folders"];
/// Events per page (Dropbox's maximum).
const EVENTS_LIMIT: u32 = 1000;
/// Pages read while fast-forwarding a new cursor to the end of the log.
const MAX_FAST_FORWARD_PAGES: usize = 10_000;

/// Sharing events after which an item's members may differ.
const ACCESS_EVENTS: &[&str] = &[
    "shared_content_add_member",
    "shared_content_remove_member",
    "shared_content_change_member_role",
    "shared_content_add_invitees",
    "shared_content_remove_invitees",
    "shared_content_change_invitee_role",
    "shared_content_claim_invitation",
    "shared_content_relinquish_membership",
    "shared_content_restore_invitees",
    "shared_content_restore_member",
    "shared_content_unshare",
    "shared_folder_create",
    "shared_folder_change_members_inheritance_policy",
    "shared_folder_decline_invitation",
    "shared_folder_nest",
    "shared_folder_transfer_ownership",
    "sf_add_group",
    "sf_invite_group",
    "sf_team_grant_access",
    "sf_team_invite",
    "sf_team_invite_change_role",
    "sf_team_join",
    "sf_team_join_from_oob_link",
    "sf_team_uninvite",
    "sf_fb_invite",
    "sf_fb_invite_change_role",
    "sf_fb_uninvite",
];

/// A file or folder whose members changed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Affected {
    pub folder: bool,
    /// Its id (`id:…`), when the log has it.
    pub id: Option<String>,
    /// The namespace it is in and its path there.
    pub ns: Option<String>,
    pub path: Option<String>,
}

/// What one page of one category says.
#[derive(Debug, Default, PartialEq)]
pub struct EventPage {
    /// Items to re-read, without repeats, in the order the log names them.
    pub affected: Vec<Affected>,
    /// A members or groups event: the access-control documents must be rewritten.
    pub membership_changed: bool,
    pub cursor: String,
    pub has_more: bool,
}

fn events_error(category: &str, e: CallError) -> Error {
    if let Some(api) = e.api()
        && (api.is_409(&["reset"]) || api.is_409(&["bad_cursor"]))
    {
        return Error::CheckpointExpired(format!(
            "Dropbox no longer accepts the {category} event log cursor ({}); a full sync re-reads every permission",
            api.label()
        ));
    }
    e.into_error()
}

/// Start a cursor per category at `since` (RFC 3339; the whole log when unknown) and move
/// it to the end of the log: events up to now are covered by the enumeration that follows.
pub fn start_cursors<T: Transport>(
    client: &Client<'_, T>,
    since: Option<&str>,
) -> Result<BTreeMap<String, String>, Error> {
    let calls: Vec<(&str, Value, RouteKind)> = CATEGORIES
        .iter()
        .map(|c| {
            let mut arg = json!({"limit": EVENTS_LIMIT, "category": {".tag": c}});
            if let Some(t) = since {
                arg["time"] = json!({ "start_time": t });
            }
            ("team_log/get_events", arg, RouteKind::Team)
        })
        .collect();
    let mut out = BTreeMap::new();
    for (category, answer) in CATEGORIES.iter().zip(client.send_rpcs(&calls)) {
        let mut r: TeamEventsResult = answer
            .and_then(|resp| decode("team_log/get_events", resp))
            .map_err(|e| events_error(category, e))?;
        let mut pages = 0;
        while r.has_more && pages < MAX_FAST_FORWARD_PAGES {
            pages += 1;
            r = continue_events(client, category, &r.cursor)?;
        }
        out.insert(category.to_string(), r.cursor);
    }
    Ok(out)
}

fn continue_events<T: Transport>(
    client: &Client<'_, T>,
    category: &str,
    cursor: &str,
) -> Result<TeamEventsResult, Error> {
    client
        .rpc(
            "team_log/get_events/continue",
            Some(&json!({ "cursor": cursor })),
            RouteKind::Team,
        )
        .map_err(|e| events_error(category, e))
}

/// Read the next page of `category` after `cursor`.
pub fn read<T: Transport>(
    client: &Client<'_, T>,
    category: &str,
    cursor: &str,
) -> Result<EventPage, Error> {
    let r = continue_events(client, category, cursor)?;
    let mut page = EventPage {
        cursor: r.cursor,
        has_more: r.has_more,
        ..EventPage::default()
    };
    let mut seen = HashSet::new();
    for event in r.events {
        let category = if event.event_category.tag.is_empty() {
            category
        } else {
            event.event_category.tag.as_str()
        };
        match category {
            "members" | "groups" => page.membership_changed = true,
            "sharing" if ACCESS_EVENTS.contains(&event.event_type.tag.as_str()) => {
                for asset in event.assets.unwrap_or_default() {
                    let folder = match asset.tag.as_str() {
                        "file" => false,
                        "folder" => true,
                        _ => continue,
                    };
                    let rel = asset.path.map(|p| p.namespace_relative).unwrap_or_default();
                    let affected = Affected {
                        folder,
                        id: asset.file_id.filter(|i| !i.is_empty()),
                        ns: rel.ns_id.filter(|n| !n.is_empty()),
                        path: rel.relative_path.filter(|p| !p.is_empty()),
                    };
                    if (affected.id.is_some() || affected.path.is_some())
                        && seen.insert(affected.clone())
                    {
                        page.affected.push(affected);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(page)
}
