//! Team members and namespaces, and the plan of what a team sync enumerates.
//!
//! With `team_scope = "all_members"` every namespace of the team is enumerated once, with
//! its own cursor: team folders (everything nested in them included), shared folders
//! outside team folders, and each active member's private files. A namespace that two
//! members reach is still listed once: member folders are listed without their mounted
//! folders, and whatever a member listing reports inside a shared folder is left to that
//! folder's own enumeration.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::json;

use crate::acl::{Identities, person};
use crate::api::{
    GroupsListResult, MemberProfile, MembersListResult, NamespaceMetadata, NamespacesListResult,
    SharedFolderMetadata,
};
use crate::checkpoint::{Unit, UnitKind};
use crate::client::{CallError, Client, RouteKind, Transport, decode};
use crate::error::Error;

/// Members per `team/members/list_v2` page (Dropbox's maximum).
const MEMBERS_LIMIT: u32 = 1000;
/// Namespaces per `team/namespaces/list` page (Dropbox's maximum).
const NAMESPACES_LIMIT: u32 = 1000;
/// Groups per `team/groups/list` page (Dropbox's maximum).
const GROUPS_LIMIT: u32 = 1000;

/// One team member, as the connector needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub team_member_id: String,
    pub account_id: Option<String>,
    pub email: String,
    pub display_name: String,
    /// `active`, `invited`, `suspended` or `removed`.
    pub status: String,
    pub groups: Vec<String>,
    pub home_namespace: Option<String>,
    pub joined_on: Option<String>,
    pub invited_on: Option<String>,
}

impl Member {
    fn from_profile(p: MemberProfile) -> Member {
        Member {
            team_member_id: p.team_member_id,
            account_id: p.account_id.filter(|a| !a.is_empty()),
            email: p.email,
            display_name: p.name.map(|n| n.display_name).unwrap_or_default(),
            status: p.status.tag,
            groups: p.groups,
            home_namespace: p.member_folder_id.filter(|n| !n.is_empty()),
            joined_on: p.joined_on,
            invited_on: p.invited_on,
        }
    }

    /// Whether the member has files of their own to index: active and suspended members
    /// (a suspension blocks sign-in; the files stay). Invited members have no Dropbox yet.
    pub fn has_files(&self) -> bool {
        self.status == "active" || self.status == "suspended"
    }

    /// Whether the member gets an access-control document, i.e. may search: active members
    /// only (invited members get theirs when they join; a suspension takes it away).
    pub fn searches(&self) -> bool {
        self.status == "active"
    }

    /// The identities a document owned by this member carries.
    pub fn identities(&self) -> Identities {
        person(self.account_id.as_deref(), Some(&self.email))
    }
}

/// Every member of the team (all pages).
pub fn list_members<T: Transport>(client: &Client<'_, T>) -> Result<Vec<Member>, Error> {
    let mut out = Vec::new();
    let mut r: MembersListResult = client
        .rpc(
            "team/members/list_v2",
            Some(&json!({"limit": MEMBERS_LIMIT, "include_removed": false})),
            RouteKind::Team,
        )
        .map_err(CallError::into_error)?;
    loop {
        let cursor = std::mem::take(&mut r.cursor);
        out.extend(
            r.members
                .into_iter()
                .map(|m| Member::from_profile(m.profile)),
        );
        if !r.has_more || cursor.is_empty() {
            return Ok(out);
        }
        r = client
            .rpc(
                "team/members/list/continue_v2",
                Some(&json!({ "cursor": cursor })),
                RouteKind::Team,
            )
            .map_err(CallError::into_error)?;
    }
}

/// Every namespace of the team (all pages).
pub fn list_namespaces<T: Transport>(
    client: &Client<'_, T>,
) -> Result<Vec<NamespaceMetadata>, Error> {
    let mut out = Vec::new();
    let mut r: NamespacesListResult = client
        .rpc(
            "team/namespaces/list",
            Some(&json!({ "limit": NAMESPACES_LIMIT })),
            RouteKind::Team,
        )
        .map_err(CallError::into_error)?;
    loop {
        let cursor = std::mem::take(&mut r.cursor);
        out.append(&mut r.namespaces);
        if !r.has_more || cursor.is_empty() {
            return Ok(out);
        }
        r = client
            .rpc(
                "team/namespaces/list/continue",
                Some(&json!({ "cursor": cursor })),
                RouteKind::Team,
            )
            .map_err(CallError::into_error)?;
    }
}

/// The id of the team's "Everyone at …" group (system managed), if there is one and the
/// token may list groups; without it, items at the team root fall back to their owner.
pub fn everyone_group<T: Transport>(client: &Client<'_, T>) -> Result<Option<String>, Error> {
    let mut r: GroupsListResult = match client.rpc(
        "team/groups/list",
        Some(&json!({ "limit": GROUPS_LIMIT })),
        RouteKind::Team,
    ) {
        Ok(r) => r,
        Err(CallError::Status(e)) if matches!(e.status, 400 | 401 | 403 | 409) => {
            client.transport.log(
                crate::client::Level::Warn,
                &format!(
                    "cannot list the team's groups ({}): items at the team root are shown to the admin only; enable groups.read to show them to everyone",
                    e.label()
                ),
            );
            return Ok(None);
        }
        Err(e) => return Err(e.into_error()),
    };
    loop {
        if let Some(g) = r
            .groups
            .iter()
            .find(|g| g.group_management_type.tag == "system_managed")
        {
            return Ok(Some(g.group_id.clone()));
        }
        if !r.has_more || r.cursor.is_empty() {
            return Ok(None);
        }
        r = client
            .rpc(
                "team/groups/list/continue",
                Some(&json!({ "cursor": r.cursor })),
                RouteKind::Team,
            )
            .map_err(CallError::into_error)?;
    }
}

/// What the plan decided.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// The units to enumerate this run, in order: kept ones with their cursors, new or
    /// renamed ones without.
    pub units: Vec<Unit>,
    /// Scopes of units that are gone (a member left, a folder was deleted): their
    /// documents are purged.
    pub removed: Vec<String>,
}

/// Decide the units of an all-members sync: team folders first (they cover the shared
/// folders nested in them), then the other shared folders, then every active member's
/// private files. `known` are the units of the previous run; `nested` the shared folders
/// already seen inside team folders. New shared folders are looked up
/// (`sharing/get_folder_metadata`, through `admin`) to tell those inside a team folder.
pub fn plan<T: Transport>(
    admin: &Client<'_, T>,
    members: &[Member],
    namespaces: &[NamespaceMetadata],
    known: &[Unit],
    nested: &BTreeMap<String, String>,
) -> Result<Plan, Error> {
    let by_ns: HashMap<&str, &Unit> = known
        .iter()
        .filter_map(|u| u.ns.as_deref().map(|ns| (ns, u)))
        .collect();
    let active: HashMap<&str, &Member> = members
        .iter()
        .filter(|m| m.has_files())
        .map(|m| (m.team_member_id.as_str(), m))
        .collect();
    let mut team_folders = Vec::new();
    let mut shared = Vec::new();
    let mut homes = Vec::new();
    let mut homes_seen: HashSet<String> = HashSet::new();
    for ns in namespaces {
        match ns.namespace_type.tag.as_str() {
            "team_folder" => team_folders.push((UnitKind::TeamFolder, ns, None)),
            "shared_folder" => shared.push(ns),
            "team_member_folder" => {
                let Some(member) = ns.team_member_id.as_deref().and_then(|id| active.get(id))
                else {
                    continue;
                };
                homes_seen.insert(ns.namespace_id.clone());
                homes.push((
                    UnitKind::MemberFolder,
                    ns,
                    Some(member.team_member_id.clone()),
                ));
            }
            _ => {}
        }
    }
    // Members whose home namespace the namespace list did not show (e.g. a listing that
    // lags a join): their profile names it.
    let synthetic: Vec<NamespaceMetadata> = members
        .iter()
        .filter(|m| m.has_files())
        .filter_map(|m| {
            let ns = m.home_namespace.as_ref()?;
            (!homes_seen.contains(ns)).then(|| NamespaceMetadata {
                name: m.display_name.clone(),
                namespace_id: ns.clone(),
                namespace_type: crate::api::Tagged {
                    tag: "team_member_folder".into(),
                },
                team_member_id: Some(m.team_member_id.clone()),
            })
        })
        .collect();
    for ns in &synthetic {
        homes.push((UnitKind::MemberFolder, ns, ns.team_member_id.clone()));
    }
    // Shared folders inside a team folder are enumerated with it.
    let unknown: Vec<&str> = shared
        .iter()
        .map(|ns| ns.namespace_id.as_str())
        .filter(|id| !by_ns.contains_key(id) && !nested.contains_key(*id))
        .collect();
    let mut inside_team_folder: HashSet<String> = nested.keys().cloned().collect();
    if !unknown.is_empty() {
        let calls: Vec<(&str, serde_json::Value, RouteKind)> = unknown
            .iter()
            .map(|id| {
                (
                    "sharing/get_folder_metadata",
                    json!({ "shared_folder_id": id }),
                    RouteKind::Files,
                )
            })
            .collect();
        for (id, answer) in unknown.iter().zip(admin.send_rpcs(&calls)) {
            match answer
                .and_then(|r| decode::<SharedFolderMetadata>("sharing/get_folder_metadata", r))
            {
                Ok(meta) if meta.is_inside_team_folder || meta.is_team_folder => {
                    inside_team_folder.insert(id.to_string());
                }
                Ok(_) => {}
                // A folder the admin cannot look up is enumerated on its own; if it turns
                // out unreadable, its enumeration says so.
                Err(CallError::Status(e)) if e.status == 409 => {}
                Err(e) => return Err(e.into_error()),
            }
        }
    }
    for ns in shared {
        if !inside_team_folder.contains(&ns.namespace_id) {
            team_folders.push((UnitKind::SharedFolder, ns, None));
        }
    }
    let mut units = Vec::new();
    for (kind, ns, member) in team_folders.into_iter().chain(homes) {
        let name = ns.name.trim_matches('/').to_string();
        let unit = match by_ns.get(ns.namespace_id.as_str()) {
            // Same namespace, same name: its cursor continues.
            Some(u) if u.kind == kind && u.name == name && u.member == member => (*u).clone(),
            // New, or renamed (every path changes): enumerate it again.
            _ => Unit {
                kind,
                ns: Some(ns.namespace_id.clone()),
                name,
                member,
                cursor: None,
                listed: false,
            },
        };
        units.push(unit);
    }
    let kept: HashSet<String> = units.iter().map(Unit::scope).collect();
    let removed = known
        .iter()
        .map(Unit::scope)
        .filter(|s| !kept.contains(s))
        .collect();
    Ok(Plan { units, removed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Tagged;
    use crate::client::{Level, Request, Response, TransportError};

    fn ns(id: &str, kind: &str, name: &str, member: Option<&str>) -> NamespaceMetadata {
        NamespaceMetadata {
            name: name.into(),
            namespace_id: id.into(),
            namespace_type: Tagged { tag: kind.into() },
            team_member_id: member.map(str::to_string),
        }
    }

    pub fn member(id: &str, status: &str, home: &str) -> Member {
        Member {
            team_member_id: id.into(),
            account_id: Some(format!("dbid:{id}")),
            email: format!("{id}@acme.example"),
            display_name: id.to_uppercase(),
            status: status.into(),
            groups: vec![],
            home_namespace: Some(home.into()),
            joined_on: None,
            invited_on: None,
        }
    }

    /// Answers `get_folder_metadata`: folder "55" is inside a team folder.
    struct Folders(std::cell::RefCell<Vec<String>>);
    impl Transport for Folders {
        fn send(&self, req: Request) -> Result<Response, TransportError> {
            let arg: serde_json::Value =
                serde_json::from_slice(req.body.as_deref().unwrap_or_default()).unwrap();
            let id = arg["shared_folder_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            self.0.borrow_mut().push(id.clone());
            let body = json!({"shared_folder_id": id, "name": "x",
                              "is_inside_team_folder": id == "55", "is_team_folder": false});
            Ok(Response {
                status: 200,
                headers: vec![],
                body: body.to_string().into_bytes(),
            })
        }
        fn log(&self, _: Level, _: &str) {}
    }

    #[test]
    fn plan_lists_each_namespace_once_and_purges_leavers() {
        let cfg = crate::config::Config::parse(r#"{"app_key":"k"}"#).unwrap();
        let t = Folders(Default::default());
        let admin = Client::new(&t, &cfg);
        let members = vec![
            member("ann", "active", "1"),
            member("bob", "active", "2"),
            member("cy", "invited", "3"),
            member("dee", "active", "4"),
        ];
        let namespaces = vec![
            ns("1", "team_member_folder", "Ann", Some("ann")),
            ns("2", "team_member_folder", "Bob", Some("bob")),
            ns("3", "team_member_folder", "Cy", Some("cy")),
            ns("10", "team_folder", "Engineering", None),
            ns("55", "shared_folder", "Secret", None),
            ns("66", "shared_folder", "Project X", None),
            ns("9", "app_folder", "App", None),
        ];
        let mut old_ann = Unit {
            kind: UnitKind::MemberFolder,
            ns: Some("1".into()),
            name: "Ann".into(),
            member: Some("ann".into()),
            cursor: Some("ca".into()),
            listed: true,
        };
        let old_cy = Unit {
            ns: Some("3".into()),
            name: "Cy".into(),
            member: Some("cy".into()),
            ..old_ann.clone()
        };
        let old_eng = Unit {
            kind: UnitKind::TeamFolder,
            ns: Some("10".into()),
            name: "Eng".into(),
            member: None,
            cursor: Some("ce".into()),
            listed: true,
        };
        let p = plan(
            &admin,
            &members,
            &namespaces,
            &[old_ann.clone(), old_cy, old_eng],
            &BTreeMap::new(),
        )
        .unwrap();
        let shown: Vec<(String, Option<&str>)> = p
            .units
            .iter()
            .map(|u| (u.scope(), u.cursor.as_deref()))
            .collect();
        assert_eq!(
            shown,
            [
                // Renamed: listed again under its new name.
                ("ns:10".to_string(), None),
                ("ns:66".to_string(), None),
                ("ns:1".to_string(), Some("ca")),
                ("ns:2".to_string(), None),
                // Dee's home was not in the namespace list: her profile names it.
                ("ns:4".to_string(), None),
            ]
        );
        assert_eq!(p.units[0].name, "Engineering");
        assert_eq!(p.units[1].kind, UnitKind::SharedFolder);
        assert_eq!(p.removed, ["ns:3"]);
        // Only the shared folders not seen before were looked up.
        assert_eq!(*t.0.borrow(), ["55", "66"]);
        // A folder known to be nested is not looked up again.
        old_ann.cursor = None;
        t.0.borrow_mut().clear();
        let nested = BTreeMap::from([("55".to_string(), "10".to_string())]);
        let p = plan(&admin, &members, &namespaces, &p.units, &nested).unwrap();
        assert!(t.0.borrow().is_empty());
        assert_eq!(p.units.len(), 5);
        assert!(p.removed.is_empty());
    }

    #[test]
    fn member_identities_are_prefixed() {
        let m = member("ann", "active", "1");
        assert_eq!(
            m.identities().into_iter().collect::<Vec<_>>(),
            ["email:ann@acme.example", "user_id:dbid:ann"]
        );
        assert!(m.has_files() && m.searches());
        let suspended = member("x", "suspended", "2");
        assert!(suspended.has_files() && !suspended.searches());
        let invited = member("x", "invited", "2");
        assert!(!invited.has_files() && !invited.searches());
    }
}
