//! Who may open what: namespaces with their grants, explicit file members, inheritance, and
//! the per-member mounts that follow from them.
//!
//! The rules (one place, used by the routes, the views and `/_admin/access`):
//! - the team root is open to every member with access (editor);
//! - a member home belongs to its member (owner);
//! - a team folder is open to its grants (users and groups; by default the everyone group);
//! - a shared folder is open to its owner, its grants, and — access inheritance — everyone
//!   who can open the namespace it sits in (a nested shared folder inherits its parent's
//!   members, a shared folder at the team root is open to everyone);
//! - a file is open to whoever can open its namespace, plus its explicit members;
//! - email invitees never open anything (the invitation is pending); group grants count for
//!   the group's members with access; invited and removed members open nothing.

use crate::directory::MemberStatus;
use crate::state::{Change, Entry, Kind, World, basename, lower, parent};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// `AccessLevel` of a grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Can view, cannot comment.
    ViewerNoComment,
    /// Can view.
    Viewer,
    /// Can edit.
    Editor,
    /// Owns the item.
    Owner,
}

impl Access {
    /// Wire tag.
    pub fn tag(self) -> &'static str {
        match self {
            Access::Owner => "owner",
            Access::Editor => "editor",
            Access::Viewer => "viewer",
            Access::ViewerNoComment => "viewer_no_comment",
        }
    }

    /// Parse a wire tag (`owner` is not grantable).
    pub fn parse_grantable(s: &str) -> Option<Self> {
        Some(match s {
            "editor" => Access::Editor,
            "viewer" => Access::Viewer,
            "viewer_no_comment" => Access::ViewerNoComment,
            _ => return None,
        })
    }

    /// Whether this level cannot write.
    pub fn read_only(self) -> bool {
        self < Access::Editor
    }
}

/// Who a grant is for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Principal {
    /// A team member (account index).
    User(usize),
    /// A group (`g:` id).
    Group(String),
    /// An email invitee (not yet a member of the content).
    Email(String),
}

impl Principal {
    fn rank(&self) -> u8 {
        match self {
            Principal::User(_) => 0,
            Principal::Group(_) => 1,
            Principal::Email(_) => 2,
        }
    }
}

/// One membership of a folder or file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Who.
    pub who: Principal,
    /// At which level.
    pub access: Access,
}

/// What a namespace is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NsKind {
    /// The team root (team space).
    Root,
    /// A member's home (account index).
    Home(usize),
    /// A team folder.
    TeamFolder,
    /// A folder shared from a member's home, the team root, or inside another namespace.
    Shared,
}

impl NsKind {
    /// `NamespaceType` tag.
    pub fn tag(self) -> &'static str {
        match self {
            NsKind::Root => "team_member_root",
            NsKind::Home(_) => "team_member_folder",
            NsKind::TeamFolder => "team_folder",
            NsKind::Shared => "shared_folder",
        }
    }

    /// Team folders and shared folders carry `shared_folder_id`s and members.
    pub fn is_shared(self) -> bool {
        matches!(self, NsKind::TeamFolder | NsKind::Shared)
    }
}

/// A namespace.
#[derive(Clone, Debug)]
pub struct Namespace {
    /// Numeric id (also the `shared_folder_id` of shared and team folders).
    pub id: String,
    /// Kind.
    pub kind: NsKind,
    /// Global lower path of the mount point (`""` for the team root).
    pub path_lower: String,
    /// Owner (homes and shared folders).
    pub owner: Option<usize>,
    /// Direct members other than the owner.
    pub grants: Vec<Grant>,
    /// Creation time (`time_invited`).
    pub created: i64,
}

impl Namespace {
    /// A namespace with no grants.
    pub fn new(id: String, kind: NsKind, path_lower: String, owner: Option<usize>) -> Self {
        Namespace {
            id,
            kind,
            path_lower,
            owner,
            grants: Vec::new(),
            created: crate::seed::BASE_TIME,
        }
    }
}

/// Where one account sees a namespace: team folders at their team-root path, shared folders
/// it cannot reach through a parent at `/<home>/<name>` (virtual paths, see `views.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// Virtual lower path.
    pub virt_lower: String,
    /// Virtual display path.
    pub virt_display: String,
}

/// One member of an item's access list.
#[derive(Clone, Debug)]
pub struct AclEntry {
    /// Who.
    pub who: Principal,
    /// Effective level.
    pub access: Access,
    /// Reached through a parent namespace rather than set on the item itself.
    pub inherited: bool,
}

fn merge(out: &mut Vec<AclEntry>, who: Principal, access: Access, inherited: bool) {
    if let Some(e) = out.iter_mut().find(|e| e.who == who) {
        e.access = e.access.max(access);
        e.inherited &= inherited;
    } else {
        out.push(AclEntry {
            who,
            access,
            inherited,
        });
    }
}

/// Users first (owner first), then groups, then invitees; stable otherwise.
fn order(mut v: Vec<AclEntry>) -> Vec<AclEntry> {
    v.sort_by_key(|e| (e.who.rank(), e.access != Access::Owner));
    v
}

impl World {
    /// The namespace whose mount point is `mount_lower` exactly.
    pub fn ns_mounted_at(&self, mount_lower: &str) -> Option<&Namespace> {
        self.ns_at
            .get(mount_lower)
            .and_then(|id| self.namespaces.get(id))
    }

    /// The namespace holding a global path: the nearest mount point at or above it, else the
    /// team root (`None` for a personal account).
    pub fn ns_containing(&self, global_lower: &str) -> Option<&Namespace> {
        let mut p = global_lower;
        while !p.is_empty() {
            if let Some(ns) = self.ns_mounted_at(p) {
                return Some(ns);
            }
            p = parent(p);
        }
        self.team
            .as_ref()
            .and_then(|t| self.namespaces.get(&t.root_ns))
    }

    /// The namespace a namespace's mount point sits in.
    pub fn parent_ns(&self, ns: &Namespace) -> Option<&Namespace> {
        if ns.kind == NsKind::Root {
            return None;
        }
        self.ns_containing(parent(&ns.path_lower))
    }

    /// The nearest shared or team folder strictly above a global path (`parent_shared_folder_id`).
    pub fn shared_parent(&self, global_lower: &str) -> Option<&Namespace> {
        let mut p = parent(global_lower);
        while !p.is_empty() {
            if let Some(ns) = self.ns_mounted_at(p)
                && ns.kind.is_shared()
            {
                return Some(ns);
            }
            p = parent(p);
        }
        None
    }

    /// The best level a grant list gives an account (directly or through a group).
    pub fn grant_access(&self, account: usize, grants: &[Grant]) -> Option<Access> {
        if !self.has_access(account) {
            return None;
        }
        grants
            .iter()
            .filter(|g| match &g.who {
                Principal::User(a) => *a == account,
                Principal::Group(id) => self.in_group(account, id),
                Principal::Email(_) => false,
            })
            .map(|g| g.access)
            .max()
    }

    /// An account's effective level on a namespace.
    pub fn ns_access(&self, account: usize, ns: &Namespace) -> Option<Access> {
        if self.team.is_none() {
            return (account == 0).then_some(Access::Owner);
        }
        if !self.has_access(account) {
            return None;
        }
        match ns.kind {
            NsKind::Root => Some(Access::Editor),
            NsKind::Home(o) => (o == account).then_some(Access::Owner),
            NsKind::TeamFolder => self.grant_access(account, &ns.grants),
            NsKind::Shared => {
                let own = (ns.owner == Some(account)).then_some(Access::Owner);
                let inherited = self.parent_ns(ns).and_then(|p| self.ns_access(account, p));
                own.max(self.grant_access(account, &ns.grants))
                    .max(inherited)
            }
        }
    }

    /// An account's effective level on an item (a global path).
    pub fn item_access(&self, account: usize, global_lower: &str) -> Option<Access> {
        if self.team.is_none() {
            return (account == 0).then_some(Access::Owner);
        }
        let via_ns = self
            .ns_containing(global_lower)
            .and_then(|ns| self.ns_access(account, ns));
        let via_file = self
            .tree
            .get(global_lower)
            .filter(|n| n.kind == Kind::File)
            .and_then(|n| self.file_grants.get(&n.id))
            .and_then(|g| self.grant_access(account, g));
        via_ns.max(via_file)
    }

    /// Members of a namespace: owner and grants, plus (with `inherited`) everyone reaching it
    /// through the namespaces above it.
    pub fn ns_acl(&self, ns: &Namespace, inherited: bool) -> Vec<AclEntry> {
        let mut out = Vec::new();
        self.collect_ns(ns, false, &mut out);
        if inherited {
            let mut cur = if ns.kind == NsKind::Shared {
                self.parent_ns(ns)
            } else {
                None
            };
            while let Some(p) = cur {
                self.collect_ns(p, true, &mut out);
                cur = if p.kind == NsKind::Shared {
                    self.parent_ns(p)
                } else {
                    None
                };
            }
        }
        order(out)
    }

    fn collect_ns(&self, ns: &Namespace, inherited: bool, out: &mut Vec<AclEntry>) {
        match ns.kind {
            NsKind::Root => {
                if let Some(t) = &self.team {
                    merge(
                        out,
                        Principal::Group(t.everyone_group.clone()),
                        Access::Editor,
                        inherited,
                    );
                }
            }
            NsKind::Home(o) => merge(out, Principal::User(o), Access::Owner, inherited),
            NsKind::TeamFolder | NsKind::Shared => {
                if let Some(o) = ns.owner {
                    merge(out, Principal::User(o), Access::Owner, inherited);
                }
                for g in &ns.grants {
                    merge(out, g.who.clone(), g.access, inherited);
                }
            }
        }
    }

    /// Members of an item: its explicit members (and, for an item in a home, the home's owner)
    /// as direct entries, plus (with `inherited`) the members of the namespaces above it.
    pub fn item_acl(&self, global_lower: &str, inherited: bool) -> Vec<AclEntry> {
        let mut out = Vec::new();
        let Some(node) = self.tree.get(global_lower) else {
            return out;
        };
        if self.team.is_none() {
            merge(&mut out, Principal::User(0), Access::Owner, false);
        }
        let ns = self.ns_containing(global_lower);
        if let Some(ns) = ns
            && let NsKind::Home(o) = ns.kind
        {
            merge(&mut out, Principal::User(o), Access::Owner, false);
        }
        if node.kind == Kind::File
            && let Some(grants) = self.file_grants.get(&node.id)
        {
            for g in grants {
                merge(&mut out, g.who.clone(), g.access, false);
            }
        }
        if inherited && let Some(ns) = ns {
            let mount_itself = ns.path_lower == global_lower;
            for e in self.ns_acl(ns, true) {
                // A folder that is itself a shared folder carries its own members directly.
                let inh = !mount_itself || e.inherited;
                merge(&mut out, e.who, e.access, inh);
            }
        }
        order(out)
    }

    /// Every file and folder an account can open (id, global lower path, level), in path order.
    pub fn accessible(&self, account: usize) -> Vec<(String, String, Access)> {
        let mut out = Vec::new();
        self.each_accessible(account, &mut |node, level| {
            out.push((node.id.clone(), node.path_lower.clone(), level));
        });
        out
    }

    /// Call `f` for every node an account can open, in path order (one walk of the tree).
    pub fn each_accessible(&self, account: usize, f: &mut dyn FnMut(&crate::state::Node, Access)) {
        let root = if self.team.is_none() {
            (account == 0).then_some(Access::Owner)
        } else {
            self.has_access(account).then_some(Access::Editor)
        };
        let mut stack: Vec<(&str, Option<Access>)> = Vec::new();
        for (k, node) in &self.tree {
            while let Some((p, _)) = stack.last() {
                if k.starts_with(p) && k.as_bytes().get(p.len()) == Some(&b'/') {
                    break;
                }
                stack.pop();
            }
            let mut level = stack.last().map_or(root, |(_, a)| *a);
            if let Some(ns) = node
                .mount_ns
                .as_ref()
                .and_then(|id| self.namespaces.get(id))
            {
                level = self.ns_access(account, ns);
                stack.push((k.as_str(), level));
            }
            if node.kind == Kind::File
                && !self.file_grants.is_empty()
                && let Some(g) = self.file_grants.get(&node.id)
            {
                level = level.max(self.grant_access(account, g));
            }
            if let Some(a) = level {
                f(node, a);
            }
        }
    }

    /// The mounts an account should have now: team folders it can open, and shared folders it
    /// can open but cannot reach through the namespace they sit in (mounted in its home).
    fn desired_mounts(&self, account: usize) -> (BTreeSet<String>, Vec<String>) {
        let mut tfs = BTreeSet::new();
        let mut home_mounts: Vec<String> = Vec::new();
        if self.team.is_none() || !self.has_access(account) {
            return (tfs, home_mounts);
        }
        let home = self.accounts[account].home_lower.clone();
        for ns in self.namespaces.values() {
            if ns.kind == NsKind::TeamFolder && self.ns_access(account, ns).is_some() {
                tfs.insert(ns.id.clone());
            }
        }
        let mut shared: Vec<&crate::acl::Namespace> = self
            .namespaces
            .values()
            .filter(|n| n.kind == NsKind::Shared)
            .collect();
        // Outer folders first, so that a nested folder reachable through a mounted parent
        // is not mounted twice.
        shared.sort_by(|a, b| a.path_lower.cmp(&b.path_lower));
        let mut targets: Vec<String> = Vec::new();
        for ns in shared {
            if self.ns_access(account, ns).is_none() {
                continue;
            }
            let reachable = {
                let p = parent(&ns.path_lower);
                let under_target = targets
                    .iter()
                    .any(|t| p == t || p.starts_with(&format!("{t}/")));
                under_target || self.top_level_visible(account, &home, &tfs, p)
            };
            if !reachable {
                targets.push(ns.path_lower.clone());
                home_mounts.push(ns.id.clone());
            }
        }
        (tfs, home_mounts)
    }

    /// Whether the top-level component of a global path is visible to an account in its
    /// team-root space (its own home, a team folder it belongs to, or plain team-root content).
    fn top_level_visible(
        &self,
        account: usize,
        home: &str,
        tfs: &BTreeSet<String>,
        global_lower: &str,
    ) -> bool {
        if global_lower.is_empty() {
            return true;
        }
        let top = crate::views::top_component(global_lower);
        if top == home {
            return true;
        }
        match self.ns_mounted_at(top) {
            Some(ns) => match ns.kind {
                NsKind::TeamFolder => tfs.contains(&ns.id),
                NsKind::Home(o) => o == account,
                _ => true,
            },
            None => true,
        }
    }

    /// Bring every account's mounts up to date after a sharing, membership or tree change.
    /// With `journal`, each new mount is journaled as [`Entry::Mount`] and each lost one as
    /// [`Entry::Unmount`], so the affected member's cursors see the folder appear or go.
    pub fn sync_mounts(&mut self, journal: bool) {
        if self.team.is_none() || self.defer_mounts {
            return;
        }
        for account in 0..self.accounts.len() {
            let (tfs, homes) = self.desired_mounts(account);
            let current = self.mounts.remove(&account).unwrap_or_default();
            let mut next: BTreeMap<String, Mount> = BTreeMap::new();
            let mut taken: HashSet<String> = current
                .iter()
                .filter(|(ns, _)| homes.contains(ns))
                .map(|(_, m)| m.virt_lower.clone())
                .collect();
            for ns in tfs.iter().chain(homes.iter()) {
                if let Some(m) = current.get(ns) {
                    next.insert(ns.clone(), m.clone());
                    continue;
                }
                let Some(rec) = self.namespaces.get(ns) else {
                    continue;
                };
                let m = if rec.kind == NsKind::TeamFolder {
                    let display = self
                        .tree
                        .get(&rec.path_lower)
                        .map_or_else(|| rec.path_lower.clone(), |n| n.path_display.clone());
                    Mount {
                        virt_lower: rec.path_lower.clone(),
                        virt_display: display,
                    }
                } else {
                    self.free_mount_name(account, &rec.path_lower, &taken)
                };
                taken.insert(m.virt_lower.clone());
                if journal {
                    self.journal.push(Change {
                        path_lower: m.virt_lower.clone(),
                        entry: Entry::Mount {
                            account,
                            ns: ns.clone(),
                        },
                    });
                }
                next.insert(ns.clone(), m);
            }
            if journal {
                for (ns, m) in &current {
                    if !next.contains_key(ns) {
                        self.journal.push(Change {
                            path_lower: m.virt_lower.clone(),
                            entry: Entry::Unmount {
                                account,
                                path_display: m.virt_display.clone(),
                                name: basename(&m.virt_display).to_string(),
                            },
                        });
                    }
                }
            }
            if !next.is_empty() {
                self.mounts.insert(account, next);
            }
        }
    }

    /// `/<home>/<name>`, or `<name> (1)`… when the home already has that name.
    fn free_mount_name(
        &self,
        account: usize,
        target_lower: &str,
        taken: &HashSet<String>,
    ) -> Mount {
        let a = &self.accounts[account];
        let name = self
            .tree
            .get(target_lower)
            .map_or_else(|| basename(target_lower).to_string(), |n| n.name.clone());
        let mut n = 0;
        loop {
            let candidate = if n == 0 {
                name.clone()
            } else {
                format!("{name} ({n})")
            };
            let display = format!("{}/{candidate}", a.home_display);
            let l = lower(&display);
            if !taken.contains(&l) && !self.tree.contains_key(&l) {
                return Mount {
                    virt_lower: l,
                    virt_display: display,
                };
            }
            n += 1;
        }
    }

    /// Set a member's status; removing a member drops it from its groups. Returns the old one.
    pub fn set_status(&mut self, account: usize, status: MemberStatus) -> Option<MemberStatus> {
        let old = self.accounts.get(account)?.status;
        self.accounts[account].status = status;
        if status == MemberStatus::Removed {
            for g in &mut self.groups {
                g.members.retain(|&m| m != account);
                g.owners.retain(|&m| m != account);
            }
        }
        Some(old)
    }
}
