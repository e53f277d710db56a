//! The team audit log read by `team_log/get_events`.
//!
//! Every sharing, group, membership and team-folder change the emulator makes (manifest
//! seeding included, at its seed time) appends one event of the type Dropbox logs for it,
//! with `assets` naming the file or folder (path and id) and `participants` naming the users
//! and groups it affected, so an incremental consumer can recompute only those items.

use crate::acl::{Access, Principal};
use crate::directory::MemberStatus;
use crate::state::World;
use serde_json::{Map, Value, json};

/// One logged event.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    /// Unix seconds.
    pub time: i64,
    /// `EventCategory` tag.
    pub category: &'static str,
    /// `EventType` tag.
    pub event_type: &'static str,
    /// Account ids involved (actor, context, participants), for the `account_id` filter.
    pub accounts: Vec<String>,
    /// The `TeamEvent` JSON.
    pub json: Value,
}

/// Event types the emulator logs: (type, category, description).
pub const EVENT_TYPES: &[(&str, &str, &str)] = &[
    (
        "shared_folder_create",
        "sharing",
        "(sharing) Created shared folder",
    ),
    (
        "shared_content_add_member",
        "sharing",
        "(sharing) Added users and/or groups to shared file/folder",
    ),
    (
        "shared_content_remove_member",
        "sharing",
        "(sharing) Removed user/group from shared file/folder",
    ),
    (
        "shared_content_add_invitees",
        "sharing",
        "(sharing) Invited user to Dropbox and added them to shared file/folder",
    ),
    (
        "shared_content_remove_invitees",
        "sharing",
        "(sharing) Removed invitee from shared file/folder before invite was accepted",
    ),
    (
        "shared_content_change_member_role",
        "sharing",
        "(sharing) Changed access type of shared file/folder member",
    ),
    (
        "shared_content_change_invitee_role",
        "sharing",
        "(sharing) Changed access type of invitee to shared file/folder before invite was accepted",
    ),
    (
        "shared_content_unshare",
        "sharing",
        "(sharing) Unshared file/folder by clearing membership",
    ),
    ("group_create", "groups", "(groups) Created group"),
    ("group_delete", "groups", "(groups) Deleted group"),
    (
        "group_add_member",
        "groups",
        "(groups) Added team members to group",
    ),
    (
        "group_remove_member",
        "groups",
        "(groups) Removed team members from group",
    ),
    (
        "member_change_status",
        "members",
        "(members) Changed member status (invited, joined, suspended, etc.)",
    ),
    (
        "team_folder_create",
        "team_folders",
        "(team_folders) Created team folder in active status",
    ),
];

/// Category of a logged event type.
pub fn category_of(event_type: &str) -> Option<&'static str> {
    EVENT_TYPES
        .iter()
        .find(|(t, _, _)| *t == event_type)
        .map(|(_, c, _)| *c)
}

/// What an event is about.
pub struct EventSpec<'a> {
    /// `EventType` tag (one of [`EVENT_TYPES`]).
    pub event_type: &'static str,
    /// Details fields (besides the `.tag`).
    pub details: Value,
    /// Who did it (`None`: Dropbox itself).
    pub actor: Option<usize>,
    /// Whose content it was (`None`: the team).
    pub context: Option<usize>,
    /// Users and groups affected.
    pub participants: &'a [Principal],
    /// The item (global lower path), if any.
    pub asset: Option<&'a str>,
}

impl World {
    /// `TeamMemberLogInfo` fields of an account.
    fn member_log_fields(&self, account: usize) -> Map<String, Value> {
        let mut m = Map::new();
        if let Some(a) = self.accounts.get(account) {
            if a.status != MemberStatus::Invited {
                m.insert("account_id".into(), json!(a.account_id));
            }
            m.insert("display_name".into(), json!(a.display_name));
            m.insert("email".into(), json!(a.email));
            if let Some(id) = &a.team_member_id {
                m.insert("team_member_id".into(), json!(id));
            }
            if let Some(x) = &a.external_id {
                m.insert("member_external_id".into(), json!(x));
            }
            if let Some(t) = &self.team {
                m.insert("team".into(), json!({"display_name": t.name}));
            }
        }
        m
    }

    /// `UserLogInfo` (polymorphic, `team_member` subtype) of an account.
    fn user_log_info(&self, account: usize) -> Value {
        let mut m = self.member_log_fields(account);
        m.insert(".tag".into(), json!("team_member"));
        Value::Object(m)
    }

    fn participant(&self, p: &Principal) -> Option<Value> {
        match p {
            Principal::User(a) => Some(json!({".tag": "user", "user": self.user_log_info(*a)})),
            // GroupLogInfo is a plain struct: its fields sit next to the tag (§0.4).
            Principal::Group(id) => self.group(id).map(|g| {
                let mut info = json!({".tag": "group", "group_id": g.id, "display_name": g.name});
                if let (Some(x), Some(o)) = (&g.external_id, info.as_object_mut()) {
                    o.insert("external_id".into(), json!(x));
                }
                info
            }),
            Principal::Email(_) => None,
        }
    }

    /// `AssetLogInfo` of an item: its path in the owner's space and inside its namespace.
    pub fn asset_log_info(&self, global_lower: &str) -> Option<Value> {
        let node = self.tree.get(global_lower)?;
        let ns = self.ns_containing(global_lower);
        let (ns_id, rel, shared) = match ns {
            Some(ns) => {
                let rel = node
                    .path_display
                    .get(
                        self.tree
                            .get(&ns.path_lower)
                            .map_or(0, |n| n.path_display.len())..,
                    )
                    .unwrap_or("");
                (
                    ns.id.clone(),
                    if rel.is_empty() {
                        "/".to_string()
                    } else {
                        rel.to_string()
                    },
                    ns.kind.is_shared(),
                )
            }
            None => (String::new(), node.path_display.clone(), false),
        };
        let path = json!({"contextual": node.path_display,
                          "namespace_relative": {"ns_id": ns_id, "relative_path": rel,
                                                 "is_shared_namespace": shared}});
        let tag = match node.kind {
            crate::state::Kind::File => "file",
            crate::state::Kind::Folder => "folder",
        };
        let mut v = json!({".tag": tag, "path": path, "display_name": node.name,
                           "file_id": node.id});
        if let (Some(d), Some(o)) = (node.data.as_ref(), v.as_object_mut())
            && node.kind == crate::state::Kind::File
        {
            o.insert("file_size".into(), json!(d.size()));
        }
        Some(v)
    }

    /// Append an event at time `now`.
    pub fn log_event(&mut self, now: i64, spec: EventSpec) {
        let Some((_, category, description)) = EVENT_TYPES
            .iter()
            .find(|(t, _, _)| *t == spec.event_type)
            .copied()
        else {
            return;
        };
        if self.team.is_none() {
            return;
        }
        let mut accounts = Vec::new();
        let mut push_acc = |w: &World, a: usize| {
            if let Some(acc) = w.accounts.get(a)
                && !accounts.contains(&acc.account_id)
            {
                accounts.push(acc.account_id.clone());
            }
        };
        let mut ev = Map::new();
        ev.insert("timestamp".into(), json!(crate::clock::format(now)));
        ev.insert("event_category".into(), json!({".tag": category}));
        match spec.actor {
            Some(a) => {
                push_acc(self, a);
                let tag = if self.accounts.get(a).is_some_and(|x| x.admin) {
                    "admin"
                } else {
                    "user"
                };
                ev.insert(
                    "actor".into(),
                    json!({".tag": tag, tag: self.user_log_info(a)}),
                );
            }
            None => {
                ev.insert("actor".into(), json!({".tag": "dropbox"}));
            }
        }
        ev.insert(
            "origin".into(),
            json!({"access_method": {".tag": "api", "request_id": format!("dbarid:{:032x}", self.events.len() + 1)}}),
        );
        let external = spec
            .participants
            .iter()
            .any(|p| matches!(p, Principal::Email(_)));
        ev.insert("involve_non_team_member".into(), json!(external));
        match spec.context {
            Some(c) => {
                push_acc(self, c);
                let mut m = self.member_log_fields(c);
                m.insert(".tag".into(), json!("team_member"));
                ev.insert("context".into(), Value::Object(m));
            }
            None => {
                ev.insert("context".into(), json!({".tag": "team"}));
            }
        }
        let participants: Vec<Value> = spec
            .participants
            .iter()
            .filter_map(|p| {
                if let Principal::User(a) = p {
                    push_acc(self, *a);
                }
                self.participant(p)
            })
            .collect();
        ev.insert("participants".into(), Value::Array(participants));
        let assets: Vec<Value> = spec
            .asset
            .and_then(|p| self.asset_log_info(p))
            .into_iter()
            .collect();
        ev.insert("assets".into(), Value::Array(assets));
        ev.insert(
            "event_type".into(),
            json!({".tag": spec.event_type, "description": description}),
        );
        let mut details = match spec.details {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        details.insert(".tag".into(), json!(format!("{}_details", spec.event_type)));
        ev.insert("details".into(), Value::Object(details));
        self.events.push(AuditEvent {
            time: now,
            category,
            event_type: spec.event_type,
            accounts,
            json: Value::Object(ev),
        });
    }
}

/// `AccessLevel` JSON.
pub fn access_json(a: Access) -> Value {
    json!({".tag": a.tag()})
}
