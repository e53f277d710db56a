//! Sharing, group, membership and team-folder changes, as the admin API and manifest seeding
//! make them. Each change updates the model, appends the audit events Dropbox logs for it,
//! journals what `list_folder` shows, and brings every member's mounts up to date.
//!
//! What `list_folder` shows (documented in `docs/emulator.md`): sharing a folder for the first
//! time, or unsharing it, re-journals the folder and everything in it (they change namespace,
//! so their `shared_folder_id` / `parent_shared_folder_id` / `sharing_info` change). Adding or
//! removing members of an already shared folder changes nothing for the members who keep
//! access; a member who gains access sees the folder mounted (the folder and its content as
//! new entries), one who loses it sees a `deleted` entry for the mount point. File members
//! never show in `list_folder`: only `team_log/get_events` reports them.

use crate::acl::{Access, Grant, Namespace, NsKind, Principal};
use crate::audit::{EventSpec, access_json};
use crate::directory::{Group, GroupManagement, MemberStatus};
use crate::state::{Entry, Kind, World};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// One member to add or remove: exactly one of `user` (email or `dbmid:`, `*` = every member
/// with access but the owner), `group` (name or `g:` id), `email` (an invitee).
#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct GrantSpec {
    /// A team member by email or team member id; `*` for every member.
    #[serde(default)]
    pub user: Option<String>,
    /// A group by name or id.
    #[serde(default)]
    pub group: Option<String>,
    /// An email invitee.
    #[serde(default)]
    pub email: Option<String>,
    /// `editor` (default), `viewer` or `viewer_no_comment`.
    #[serde(default)]
    pub access: Option<String>,
}

/// What a sharing change applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShareTarget {
    /// A shared or team folder (namespace id).
    Folder(String),
    /// A file (file id).
    File(String),
}

impl World {
    /// Turn grant specs into grants; `owner` is left out of `user: "*"`.
    pub fn parse_grants(
        &self,
        specs: &[GrantSpec],
        owner: Option<usize>,
    ) -> Result<Vec<Grant>, String> {
        let mut out = Vec::new();
        for s in specs {
            let access = match s.access.as_deref() {
                None => Access::Editor,
                Some(a) => Access::parse_grantable(a).ok_or_else(|| {
                    format!("access {a:?}: want editor, viewer or viewer_no_comment")
                })?,
            };
            let whos: Vec<Principal> = match (&s.user, &s.group, &s.email) {
                (Some(u), None, None) if u == "*" => (0..self.accounts.len())
                    .filter(|&i| self.has_access(i) && Some(i) != owner)
                    .map(Principal::User)
                    .collect(),
                (Some(u), None, None) => {
                    vec![Principal::User(self.find_member(u).ok_or_else(|| {
                        format!("unknown team member {u:?} (give an email or dbmid:)")
                    })?)]
                }
                (None, Some(g), None) => vec![Principal::Group(
                    self.find_group(g)
                        .map(|i| self.groups[i].id.clone())
                        .ok_or_else(|| format!("unknown group {g:?} (give a name or g: id)"))?,
                )],
                (None, None, Some(e)) => {
                    if !e.contains('@') {
                        return Err(format!("email {e:?} is not an email address"));
                    }
                    // An invitee who is a team member is that member.
                    match self.find_member(e) {
                        Some(i) => vec![Principal::User(i)],
                        None => vec![Principal::Email(e.to_lowercase())],
                    }
                }
                _ => {
                    return Err("each member needs exactly one of user, group, email".to_string());
                }
            };
            out.extend(whos.into_iter().map(|who| Grant { who, access }));
        }
        Ok(out)
    }

    /// Resolve an admin/manifest target: a global path (`/Ann Lee/x`), an `id:`, or a
    /// shared folder id. Returns the target and the item's global lower path.
    pub fn find_target(&self, target: &str) -> Result<(Option<ShareTarget>, String), String> {
        let global = if target.starts_with("id:") {
            self.ids
                .get(target)
                .cloned()
                .ok_or_else(|| format!("no item with id {target}"))?
        } else if target.starts_with('/') {
            crate::state::lower(target)
        } else if let Some(ns) = self.namespaces.get(target) {
            ns.path_lower.clone()
        } else {
            return Err(format!(
                "target {target:?}: give a path (/Ann Lee/Plans), an id: or a shared folder id"
            ));
        };
        let node = self
            .tree
            .get(&global)
            .ok_or_else(|| format!("{target}: no such file or folder"))?;
        let t = match node.kind {
            Kind::File => Some(ShareTarget::File(node.id.clone())),
            Kind::Folder => node
                .mount_ns
                .as_ref()
                .filter(|id| self.namespaces.get(*id).is_some_and(|n| n.kind.is_shared()))
                .map(|id| ShareTarget::Folder(id.clone())),
        };
        Ok((t, global))
    }

    /// Who owns the content at a global path (the home's member; `None` in the team space).
    pub fn owner_of(&self, global_lower: &str) -> Option<usize> {
        let mut ns = self.ns_containing(global_lower);
        while let Some(n) = ns {
            match n.kind {
                NsKind::Home(o) => return Some(o),
                NsKind::Shared if n.owner.is_some() => return n.owner,
                NsKind::Shared => ns = self.parent_ns(n),
                _ => return None,
            }
        }
        None
    }

    /// Re-journal a folder and everything in it (their sharing fields changed).
    fn rejournal(&mut self, global_lower: &str) {
        let base = format!("{global_lower}/");
        let mut nodes: Vec<Arc<crate::state::Node>> =
            self.tree.get(global_lower).cloned().into_iter().collect();
        nodes.extend(
            self.tree
                .range::<String, _>(base.clone()..)
                .take_while(|(k, _)| k.starts_with(&base))
                .map(|(_, n)| n.clone()),
        );
        for n in nodes {
            self.journal.push(crate::state::Change {
                path_lower: n.path_lower.clone(),
                entry: Entry::Upsert(n),
            });
        }
    }

    /// Make a folder a shared folder owned by `owner` (default: the member whose home holds it;
    /// none in the team space). Returns the shared folder id (the existing one if shared).
    pub fn share_folder(
        &mut self,
        global_lower: &str,
        owner: Option<usize>,
        actor: usize,
        now: i64,
        journal: bool,
    ) -> Result<String, String> {
        if self.team.is_none() {
            return Err("sharing needs a team (manifest \"team\")".into());
        }
        let node = self
            .tree
            .get(global_lower)
            .cloned()
            .ok_or_else(|| format!("{global_lower}: no such folder"))?;
        if node.kind != Kind::Folder {
            return Err(format!("{}: not a folder", node.path_display));
        }
        if let Some(ns) = &node.mount_ns {
            return match self.namespaces.get(ns).map(|n| n.kind) {
                Some(NsKind::Shared | NsKind::TeamFolder) => Ok(ns.clone()),
                _ => Err(format!(
                    "{}: a member home cannot be shared; share a folder inside it",
                    node.path_display
                )),
            };
        }
        // Folders in the team space (team root, team folders) belong to the team, not a member.
        let owner = owner.or_else(|| self.owner_of(global_lower));
        let id = self.new_ns_id(3_500_000);
        let mut n = (*node).clone();
        n.mount_ns = Some(id.clone());
        n.shared = true;
        self.tree.insert(n.path_lower.clone(), Arc::new(n));
        self.ns_at.insert(global_lower.to_string(), id.clone());
        let mut rec = Namespace::new(id.clone(), NsKind::Shared, global_lower.to_string(), owner);
        rec.created = now;
        self.namespaces.insert(id.clone(), rec);
        if journal {
            self.rejournal(global_lower);
        }
        self.log_event(
            now,
            EventSpec {
                event_type: "shared_folder_create",
                details: json!({"target_ns_id": id}),
                actor: Some(owner.unwrap_or(actor)),
                context: owner,
                participants: &[],
                asset: Some(global_lower),
            },
        );
        Ok(id)
    }

    fn grants_mut(&mut self, target: &ShareTarget) -> Option<&mut Vec<Grant>> {
        match target {
            ShareTarget::Folder(ns) => self.namespaces.get_mut(ns).map(|n| &mut n.grants),
            ShareTarget::File(id) => Some(self.file_grants.entry(id.clone()).or_default()),
        }
    }

    fn target_path(&self, target: &ShareTarget) -> Option<String> {
        match target {
            ShareTarget::Folder(ns) => self.namespaces.get(ns).map(|n| n.path_lower.clone()),
            ShareTarget::File(id) => self.ids.get(id).cloned(),
        }
    }

    /// Add members (or change the level of existing ones); one audit event per member.
    pub fn add_grants(
        &mut self,
        target: &ShareTarget,
        grants: Vec<Grant>,
        actor: usize,
        now: i64,
        journal: bool,
    ) -> Result<(), String> {
        let path = self
            .target_path(target)
            .ok_or_else(|| "the shared item is gone".to_string())?;
        let owner = match target {
            ShareTarget::Folder(ns) => self.namespaces.get(ns).and_then(|n| n.owner),
            ShareTarget::File(_) => self.owner_of(&path),
        };
        for g in grants {
            if Some(&g.who) == owner.map(Principal::User).as_ref() {
                continue;
            }
            let list = self
                .grants_mut(target)
                .ok_or_else(|| "the shared item is gone".to_string())?;
            let previous = list.iter().position(|x| x.who == g.who);
            let (event_type, details) = match previous {
                Some(i) if list[i].access == g.access => continue,
                Some(i) => {
                    let old = list[i].access;
                    list[i].access = g.access;
                    match &g.who {
                        Principal::Email(_) => (
                            "shared_content_change_invitee_role",
                            json!({"previous_access_level": access_json(old),
                                   "new_access_level": access_json(g.access),
                                   "invitee": email_of(&g.who)}),
                        ),
                        _ => (
                            "shared_content_change_member_role",
                            json!({"previous_access_level": access_json(old),
                                   "new_access_level": access_json(g.access)}),
                        ),
                    }
                }
                None => {
                    list.push(g.clone());
                    match &g.who {
                        Principal::Email(e) => (
                            "shared_content_add_invitees",
                            json!({"shared_content_access_level": access_json(g.access),
                                   "invitees": [e]}),
                        ),
                        _ => (
                            "shared_content_add_member",
                            json!({"shared_content_access_level": access_json(g.access)}),
                        ),
                    }
                }
            };
            let participants = [g.who.clone()];
            self.log_event(
                now,
                EventSpec {
                    event_type,
                    details,
                    actor: Some(owner.unwrap_or(actor)),
                    context: owner,
                    participants: &participants,
                    asset: Some(&path),
                },
            );
        }
        if matches!(target, ShareTarget::Folder(_)) {
            self.sync_mounts(journal);
        }
        Ok(())
    }

    /// Remove members; one audit event per member removed. Unknown members are an error.
    pub fn remove_grants(
        &mut self,
        target: &ShareTarget,
        whos: Vec<Principal>,
        actor: usize,
        now: i64,
    ) -> Result<(), String> {
        let path = self
            .target_path(target)
            .ok_or_else(|| "the shared item is gone".to_string())?;
        let owner = match target {
            ShareTarget::Folder(ns) => self.namespaces.get(ns).and_then(|n| n.owner),
            ShareTarget::File(_) => self.owner_of(&path),
        };
        for who in whos {
            let list = self
                .grants_mut(target)
                .ok_or_else(|| "the shared item is gone".to_string())?;
            let Some(i) = list.iter().position(|x| x.who == who) else {
                let name = self.principal_name(&who);
                let shown = self
                    .tree
                    .get(&path)
                    .map_or_else(|| path.clone(), |n| n.path_display.clone());
                return Err(format!("{name} is not a member of {shown}"));
            };
            let old = list.remove(i);
            let (event_type, details) = match &who {
                Principal::Email(e) => ("shared_content_remove_invitees", json!({"invitees": [e]})),
                _ => (
                    "shared_content_remove_member",
                    json!({"shared_content_access_level": access_json(old.access)}),
                ),
            };
            let participants = [who];
            self.log_event(
                now,
                EventSpec {
                    event_type,
                    details,
                    actor: Some(owner.unwrap_or(actor)),
                    context: owner,
                    participants: &participants,
                    asset: Some(&path),
                },
            );
        }
        if let ShareTarget::File(id) = target
            && self.file_grants.get(id).is_some_and(Vec::is_empty)
        {
            self.file_grants.remove(id);
        }
        if matches!(target, ShareTarget::Folder(_)) {
            self.sync_mounts(true);
        }
        Ok(())
    }

    /// Stop sharing: a shared folder becomes a plain folder again (members lose it), a file
    /// loses its explicit members.
    pub fn unshare(&mut self, target: &ShareTarget, actor: usize, now: i64) -> Result<(), String> {
        let path = self
            .target_path(target)
            .ok_or_else(|| "the shared item is gone".to_string())?;
        let owner = self.owner_of(&path);
        match target {
            ShareTarget::Folder(ns) => {
                let kind = self.namespaces.get(ns).map(|n| n.kind);
                if kind != Some(NsKind::Shared) {
                    return Err(format!(
                        "{path}: only shared folders can be unshared (a team folder keeps its members; remove them instead)"
                    ));
                }
                self.log_event(
                    now,
                    EventSpec {
                        event_type: "shared_content_unshare",
                        details: json!({}),
                        actor: Some(owner.unwrap_or(actor)),
                        context: owner,
                        participants: &[],
                        asset: Some(&path),
                    },
                );
                self.namespaces.remove(ns);
                self.ns_at.remove(&path);
                if let Some(node) = self.tree.get(&path).cloned() {
                    let mut n = (*node).clone();
                    n.mount_ns = None;
                    n.shared = false;
                    self.tree.insert(path.clone(), Arc::new(n));
                }
                self.rejournal(&path);
                self.sync_mounts(true);
            }
            ShareTarget::File(id) => {
                self.file_grants.remove(id);
                self.log_event(
                    now,
                    EventSpec {
                        event_type: "shared_content_unshare",
                        details: json!({}),
                        actor: Some(owner.unwrap_or(actor)),
                        context: owner,
                        participants: &[],
                        asset: Some(&path),
                    },
                );
            }
        }
        Ok(())
    }

    /// Create a group; returns its id.
    pub fn create_group(
        &mut self,
        name: &str,
        management: GroupManagement,
        external_id: Option<String>,
        members: &[usize],
        actor: usize,
        now: i64,
    ) -> Result<String, String> {
        if self.team.is_none() {
            return Err("groups need a team (manifest \"team\")".into());
        }
        if self.find_group(name).is_some() {
            return Err(format!("a group named {name:?} exists"));
        }
        let id = self.new_group_id();
        self.groups.push(Group {
            id: id.clone(),
            name: name.to_string(),
            external_id,
            management,
            everyone: false,
            members: Vec::new(),
            owners: Vec::new(),
            created: now,
        });
        let participants = [Principal::Group(id.clone())];
        self.log_event(
            now,
            EventSpec {
                event_type: "group_create",
                details: json!({"is_company_managed": management == GroupManagement::CompanyManaged,
                                "join_policy": {".tag": "request_to_join"}}),
                actor: Some(actor),
                context: None,
                participants: &participants,
                asset: None,
            },
        );
        self.group_add(&id, members, actor, now, false)?;
        Ok(id)
    }

    /// Delete a group (its grants go with it).
    pub fn delete_group(&mut self, id: &str, actor: usize, now: i64) -> Result<(), String> {
        let i = self
            .find_group(id)
            .ok_or_else(|| format!("unknown group {id:?}"))?;
        if self.groups[i].everyone {
            return Err("the everyone group cannot be deleted".into());
        }
        let gid = self.groups[i].id.clone();
        let participants = [Principal::Group(gid.clone())];
        self.log_event(
            now,
            EventSpec {
                event_type: "group_delete",
                details: json!({"is_company_managed": self.groups[i].management == GroupManagement::CompanyManaged}),
                actor: Some(actor),
                context: None,
                participants: &participants,
                asset: None,
            },
        );
        self.groups.remove(i);
        let gone = Principal::Group(gid);
        for ns in self.namespaces.values_mut() {
            ns.grants.retain(|g| g.who != gone);
        }
        for grants in self.file_grants.values_mut() {
            grants.retain(|g| g.who != gone);
        }
        self.sync_mounts(true);
        Ok(())
    }

    /// Add members to a group.
    pub fn group_add(
        &mut self,
        id: &str,
        members: &[usize],
        actor: usize,
        now: i64,
        owner: bool,
    ) -> Result<(), String> {
        let i = self
            .find_group(id)
            .ok_or_else(|| format!("unknown group {id:?}"))?;
        if self.groups[i].everyone {
            return Err("the everyone group's members are the team's members".into());
        }
        let gid = self.groups[i].id.clone();
        for &m in members {
            if self.groups[i].members.contains(&m) {
                continue;
            }
            self.groups[i].members.push(m);
            if owner {
                self.groups[i].owners.push(m);
            }
            let participants = [Principal::Group(gid.clone()), Principal::User(m)];
            self.log_event(
                now,
                EventSpec {
                    event_type: "group_add_member",
                    details: json!({"is_group_owner": owner}),
                    actor: Some(actor),
                    context: None,
                    participants: &participants,
                    asset: None,
                },
            );
        }
        self.sync_mounts(true);
        Ok(())
    }

    /// Remove members from a group.
    pub fn group_remove(
        &mut self,
        id: &str,
        members: &[usize],
        actor: usize,
        now: i64,
    ) -> Result<(), String> {
        let i = self
            .find_group(id)
            .ok_or_else(|| format!("unknown group {id:?}"))?;
        let gid = self.groups[i].id.clone();
        for &m in members {
            let Some(p) = self.groups[i].members.iter().position(|x| *x == m) else {
                return Err(format!(
                    "{} is not a member of group {}",
                    self.accounts[m].email, self.groups[i].name
                ));
            };
            self.groups[i].members.remove(p);
            self.groups[i].owners.retain(|x| *x != m);
            let participants = [Principal::Group(gid.clone()), Principal::User(m)];
            self.log_event(
                now,
                EventSpec {
                    event_type: "group_remove_member",
                    details: json!({}),
                    actor: Some(actor),
                    context: None,
                    participants: &participants,
                    asset: None,
                },
            );
        }
        self.sync_mounts(true);
        Ok(())
    }

    /// Add a team member (with a home) in `status`; returns its index.
    pub fn join_member(
        &mut self,
        display_name: &str,
        email: &str,
        admin: bool,
        status: MemberStatus,
        actor: Option<usize>,
        now: i64,
    ) -> Result<usize, String> {
        if self.team.is_none() {
            return Err("members need a team (manifest \"team\")".into());
        }
        if self.find_member(email).is_some() {
            return Err(format!("a member with email {email} exists"));
        }
        let home = crate::state::lower(&format!("/{display_name}"));
        if display_name.is_empty() || display_name.contains('/') || self.tree.contains_key(&home) {
            return Err(format!(
                "display name {display_name:?} is empty, has a '/', or names an existing team-root folder"
            ));
        }
        let idx = self.add_member(display_name, email, admin, now);
        self.accounts[idx].status = status;
        self.log_event(
            now,
            EventSpec {
                event_type: "member_change_status",
                details: json!({"new_value": {".tag": status_log_tag(status)}}),
                actor,
                context: Some(idx),
                participants: &[],
                asset: None,
            },
        );
        self.sync_mounts(true);
        Ok(idx)
    }

    /// Change a member's status (join, suspend, remove, reinstate).
    pub fn change_status(
        &mut self,
        account: usize,
        status: MemberStatus,
        actor: Option<usize>,
        now: i64,
    ) -> Result<(), String> {
        let old = self
            .set_status(account, status)
            .ok_or_else(|| "unknown member".to_string())?;
        if old == status {
            return Ok(());
        }
        let mut details = json!({"previous_value": {".tag": status_log_tag(old)},
                                 "new_value": {".tag": status_log_tag(status)}});
        if status == MemberStatus::Removed
            && let Some(o) = details.as_object_mut()
        {
            o.insert(
                "action".into(),
                json!({".tag": "remove_action", "remove_action": {".tag": "delete"}}),
            );
        }
        self.log_event(
            now,
            EventSpec {
                event_type: "member_change_status",
                details,
                actor,
                context: Some(account),
                participants: &[],
                asset: None,
            },
        );
        self.sync_mounts(true);
        Ok(())
    }

    /// Create a team folder shared with `grants` (none: the everyone group).
    pub fn create_team_folder(
        &mut self,
        name: &str,
        grants: Vec<Grant>,
        actor: usize,
        now: i64,
        journal: bool,
    ) -> Result<String, String> {
        let path = crate::state::lower(&format!("/{name}"));
        if name.is_empty() || name.contains('/') || self.tree.contains_key(&path) {
            return Err(format!(
                "team folder name {name:?} is empty, has a '/', or exists at the team root"
            ));
        }
        let ns = self
            .add_team_folder(name, grants.clone(), now)
            .ok_or_else(|| "team folders need a team (manifest \"team\")".to_string())?;
        if journal && let Some(n) = self.tree.get(&path).cloned() {
            self.journal.push(crate::state::Change {
                path_lower: path.clone(),
                entry: Entry::Upsert(n),
            });
        }
        self.log_event(
            now,
            EventSpec {
                event_type: "team_folder_create",
                details: json!({}),
                actor: Some(actor),
                context: None,
                participants: &[],
                asset: Some(&path),
            },
        );
        let granted: Vec<Principal> = self
            .namespaces
            .get(&ns)
            .map(|n| n.grants.iter().map(|g| g.who.clone()).collect())
            .unwrap_or_default();
        for who in granted {
            let level = self
                .namespaces
                .get(&ns)
                .and_then(|n| n.grants.iter().find(|g| g.who == who).map(|g| g.access))
                .unwrap_or(Access::Editor);
            let participants = [who];
            self.log_event(
                now,
                EventSpec {
                    event_type: "shared_content_add_member",
                    details: json!({"shared_content_access_level": access_json(level)}),
                    actor: Some(actor),
                    context: None,
                    participants: &participants,
                    asset: Some(&path),
                },
            );
        }
        self.sync_mounts(journal);
        Ok(ns)
    }
}

impl World {
    /// How a member is named in messages: email, group name, or invitee email.
    pub fn principal_name(&self, p: &Principal) -> String {
        match p {
            Principal::User(i) => self
                .accounts
                .get(*i)
                .map_or_else(|| format!("member #{i}"), |a| a.email.clone()),
            Principal::Group(id) => self
                .group(id)
                .map_or_else(|| id.clone(), |g| format!("group {}", g.name)),
            Principal::Email(e) => format!("invitee {e}"),
        }
    }
}

fn email_of(p: &Principal) -> String {
    match p {
        Principal::Email(e) => e.clone(),
        _ => String::new(),
    }
}

/// `team_log.MemberStatus` tag.
fn status_log_tag(s: MemberStatus) -> &'static str {
    match s {
        MemberStatus::Active => "active",
        MemberStatus::Invited => "invited",
        MemberStatus::Suspended => "suspended",
        MemberStatus::Removed => "removed",
    }
}
