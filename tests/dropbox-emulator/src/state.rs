//! The emulated Dropbox: accounts, team, namespaces, the file tree and its change journal.
//!
//! One global tree holds every namespace: a personal account's root is `""`; in team mode the
//! team root is `""`, team folders and member home folders are mounted one level below it, and
//! shared folders are mounted wherever their owner created them. A caller's [`View`] maps its
//! own path space onto that tree (see `views.rs`); who may see what is decided in `acl.rs`.

use crate::acl::{Grant, Mount, Namespace, NsKind};
use crate::audit::AuditEvent;
use crate::content::FileData;
use crate::directory::{Group, MemberStatus};
use crate::errors::{ApiError, nest, tag};
use crate::ids;
pub use crate::views::View;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

/// File or folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A file (including Paper docs).
    File,
    /// A folder.
    Folder,
}

/// One item of the tree: an immutable snapshot (the journal shares it).
#[derive(Debug, Clone)]
pub struct Node {
    /// File or folder.
    pub kind: Kind,
    /// `id:…`, stable across moves.
    pub id: String,
    /// Last path component with its case.
    pub name: String,
    /// Global lower-cased path.
    pub path_lower: String,
    /// Global display path.
    pub path_display: String,
    /// Files: the revision.
    pub rev: String,
    /// Files: client-claimed modification time (Unix seconds).
    pub client_modified: i64,
    /// Files: server modification time (Unix seconds).
    pub server_modified: i64,
    /// Files: the content.
    pub data: Option<Arc<FileData>>,
    /// Paper docs: edit counter.
    pub paper_revision: u64,
    /// Set on namespace mount points (team folders and member homes).
    pub mount_ns: Option<String>,
    /// True on shared-folder mount points (team folders).
    pub shared: bool,
}

impl Node {
    /// True for Paper docs (not downloadable, exportable).
    pub fn is_paper(&self) -> bool {
        self.data.as_ref().is_some_and(|d| d.is_paper())
    }
}

/// A journal record.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A file or folder as it was written.
    Upsert(Arc<Node>),
    /// A removal (of a file, or of a folder and everything inside it).
    Deleted {
        /// Display path at deletion.
        path_display: String,
        /// Name at deletion.
        name: String,
    },
    /// A namespace became visible to one account (a shared folder mounted in its home, or a
    /// team folder it joined). `Change::path_lower` is the account's virtual mount path.
    Mount {
        /// The account that gained the mount.
        account: usize,
        /// The namespace mounted.
        ns: String,
    },
    /// A namespace stopped being visible to one account; reads as a `deleted` entry at the
    /// account's virtual mount path (`Change::path_lower`).
    Unmount {
        /// The account that lost the mount.
        account: usize,
        /// Virtual display path of the mount point.
        path_display: String,
        /// Name of the mount point.
        name: String,
    },
}

/// One change in the ordered journal.
#[derive(Debug, Clone)]
pub struct Change {
    /// Global lower path the change applies to.
    pub path_lower: String,
    /// What happened.
    pub entry: Entry,
}

/// A Dropbox account (personal, or a team member).
#[derive(Debug, Clone)]
pub struct Account {
    /// `dbid:…`, 40 characters.
    pub account_id: String,
    /// Legacy numeric uid.
    pub uid: String,
    /// Given name.
    pub given_name: String,
    /// Surname.
    pub surname: String,
    /// Display name.
    pub display_name: String,
    /// Email.
    pub email: String,
    /// Team mode: `dbmid:…`.
    pub team_member_id: Option<String>,
    /// Team admin.
    pub admin: bool,
    /// Team membership status (personal accounts are `Active`).
    pub status: MemberStatus,
    /// When the member joined (or was invited), Unix seconds.
    pub joined_on: i64,
    /// Optional external id (directory sync).
    pub external_id: Option<String>,
    /// Home namespace id.
    pub home_ns: String,
    /// Global lower path of the home (personal: `""`).
    pub home_lower: String,
    /// Global display path of the home.
    pub home_display: String,
}

/// The team, in team mode.
#[derive(Debug, Clone)]
pub struct Team {
    /// `dbtid:…`.
    pub id: String,
    /// Team name.
    pub name: String,
    /// Root namespace id.
    pub root_ns: String,
    /// The system group every active member belongs to ("Everyone at <team>").
    pub everyone_group: String,
}

/// A file someone else shared with the account.
#[derive(Debug, Clone)]
pub struct Received {
    /// `id:…`.
    pub id: String,
    /// File name.
    pub name: String,
    /// Owner display name.
    pub owner: String,
    /// Owner account id.
    pub owner_account_id: String,
    /// Shared link URL (also the preview URL).
    pub url: String,
    /// Content.
    pub data: Arc<FileData>,
    /// Rev.
    pub rev: String,
    /// Modification / invitation time.
    pub time: i64,
}

/// What a request path names.
pub enum Target {
    /// A global lower path (may or may not exist).
    Path(String),
    /// A specific revision of a file.
    Rev(Arc<Node>),
}

/// Everything the emulator knows.
pub struct World {
    /// Accounts; index 0 is the personal account or the first team member.
    pub accounts: Vec<Account>,
    /// Team mode.
    pub team: Option<Team>,
    /// The tree, keyed by global lower path.
    pub tree: BTreeMap<String, Arc<Node>>,
    /// id → global lower path.
    pub ids: HashMap<String, String>,
    /// rev → file snapshot (every revision ever written).
    pub revs: HashMap<String, Arc<Node>>,
    /// Ordered change journal.
    pub journal: Vec<Change>,
    /// Deleted paths (global lower → (display, name)) for `include_deleted`.
    pub tombstones: BTreeMap<String, (String, String)>,
    /// Cursor epoch; bumping it invalidates every cursor.
    pub epoch: u64,
    /// Files shared with the account.
    pub received: Vec<Received>,
    /// Namespaces by id: the team root, member homes, team folders, shared folders.
    pub namespaces: BTreeMap<String, Namespace>,
    /// Global lower path of every namespace mount point → namespace id.
    pub ns_at: HashMap<String, String>,
    /// Explicit members of individually shared files, by file id.
    pub file_grants: HashMap<String, Vec<Grant>>,
    /// Team groups.
    pub groups: Vec<Group>,
    /// Per account: the namespaces it currently sees mounted (see `acl::sync_mounts`).
    pub mounts: HashMap<usize, BTreeMap<String, Mount>>,
    /// The team audit log (`team_log/get_events`).
    pub events: Vec<AuditEvent>,
    /// While seeding: skip mount updates until `seed::finish_seeding` does them once.
    pub defer_mounts: bool,
    counter: u64,
    ns_counter: u64,
    salt: u64,
}

/// Parent of a lower or display path (`""` for top-level items).
pub fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

/// Last component of a path.
pub fn basename(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, n)| n)
}

/// Lower-case a path the way Dropbox compares paths.
pub fn lower(path: &str) -> String {
    path.to_lowercase()
}

fn conflict(kind: &str) -> ApiError {
    ApiError::Route(nest("path", nest("conflict", tag(kind))))
}

impl World {
    /// An empty world with a single personal account.
    pub fn new(display_name: &str, email: &str, salt: u64) -> Self {
        let mut w = World {
            accounts: Vec::new(),
            team: None,
            tree: BTreeMap::new(),
            ids: HashMap::new(),
            revs: HashMap::new(),
            journal: Vec::new(),
            tombstones: BTreeMap::new(),
            epoch: 1,
            received: Vec::new(),
            namespaces: BTreeMap::new(),
            ns_at: HashMap::new(),
            file_grants: HashMap::new(),
            groups: Vec::new(),
            mounts: HashMap::new(),
            events: Vec::new(),
            defer_mounts: false,
            counter: 0,
            ns_counter: 0,
            salt,
        };
        let acc = w.make_account(display_name, email, None, false, "3235641".into(), "", "");
        w.accounts.push(acc);
        w
    }

    /// Build an account record.
    #[allow(clippy::too_many_arguments)]
    pub fn make_account(
        &mut self,
        display_name: &str,
        email: &str,
        team_member_id: Option<String>,
        admin: bool,
        home_ns: String,
        home_lower: &str,
        home_display: &str,
    ) -> Account {
        let n = self.next() ^ self.salt;
        let mut parts = display_name.splitn(2, ' ');
        let given = parts.next().unwrap_or("").to_string();
        let surname = parts.next().unwrap_or("").to_string();
        Account {
            account_id: ids::account_id(n ^ crate::content::mix(email.len() as u64)),
            uid: format!("{}", 100_000 + (crate::content::mix(n) % 900_000)),
            given_name: given,
            surname,
            display_name: display_name.to_string(),
            email: email.to_string(),
            team_member_id,
            admin,
            status: MemberStatus::Active,
            joined_on: crate::seed::BASE_TIME,
            external_id: None,
            home_ns,
            home_lower: home_lower.to_string(),
            home_display: home_display.to_string(),
        }
    }

    /// Switch to team mode: a team root with member homes (created by the caller) and the
    /// "Everyone at <team>" system group.
    pub fn set_team(&mut self, name: &str) {
        let id = ids::team_id(self.salt ^ 0x7EA);
        let root_ns = "3235640".to_string();
        let everyone = self.new_group_id();
        self.groups.push(Group::everyone(&everyone, name));
        self.team = Some(Team {
            id,
            name: name.to_string(),
            root_ns: root_ns.clone(),
            everyone_group: everyone,
        });
        self.namespaces.insert(
            root_ns.clone(),
            Namespace::new(root_ns, NsKind::Root, String::new(), None),
        );
        self.accounts.clear();
    }

    /// Add a team member with a home folder `/Display Name` (its own namespace); returns its index.
    pub fn add_member(&mut self, display_name: &str, email: &str, admin: bool, now: i64) -> usize {
        let idx = self.accounts.len();
        let ns = format!("{}", 3_300_000 + idx as u64);
        let display = format!("/{display_name}");
        let lower_p = lower(&display);
        let mid = ids::team_member_id(
            self.salt ^ (idx as u64 + 1) ^ crate::content::mix(idx as u64 + 77),
        );
        let mut acc = self.make_account(
            display_name,
            email,
            Some(mid),
            admin,
            ns.clone(),
            &lower_p,
            &display,
        );
        acc.joined_on = now;
        self.accounts.push(acc);
        if let Ok(Some(node)) = self.mkdirs(&display, now, false) {
            let mut n = (*node).clone();
            n.mount_ns = Some(ns.clone());
            self.tree.insert(n.path_lower.clone(), Arc::new(n));
        }
        self.ns_at.insert(lower_p.clone(), ns.clone());
        self.namespaces.insert(
            ns.clone(),
            Namespace::new(ns, NsKind::Home(idx), lower_p, Some(idx)),
        );
        idx
    }

    /// Add a team folder `/Name` (a shared namespace) shared with `grants` (none: the
    /// everyone group, as editors); returns its namespace id.
    pub fn add_team_folder(&mut self, name: &str, grants: Vec<Grant>, now: i64) -> Option<String> {
        let team = self.team.as_ref()?;
        let everyone = team.everyone_group.clone();
        let ns = self.new_ns_id(3_400_000);
        let display = format!("/{name}");
        let lower_p = lower(&display);
        let node = self.mkdirs(&display, now, false).ok()??;
        let mut n = (*node).clone();
        n.mount_ns = Some(ns.clone());
        n.shared = true;
        self.tree.insert(n.path_lower.clone(), Arc::new(n));
        self.ns_at.insert(lower_p.clone(), ns.clone());
        let grants = if grants.is_empty() {
            vec![Grant {
                who: crate::acl::Principal::Group(everyone),
                access: crate::acl::Access::Editor,
            }]
        } else {
            grants
        };
        let mut rec = Namespace::new(ns.clone(), NsKind::TeamFolder, lower_p, None);
        rec.grants = grants;
        rec.created = now;
        self.namespaces.insert(ns.clone(), rec);
        Some(ns)
    }

    /// A fresh namespace id in the `base` block (team folders 34xxxxx, shared folders 35xxxxx).
    pub fn new_ns_id(&mut self, base: u64) -> String {
        self.ns_counter += 1;
        format!("{}", base + self.ns_counter)
    }

    /// A fresh `g:` group id (32 hex characters).
    pub fn new_group_id(&mut self) -> String {
        let n = self.next();
        let a = crate::content::mix(n ^ self.salt ^ 0x6E0);
        let b = crate::content::mix(a ^ 0x9);
        format!("g:{a:016x}{b:016x}")
    }

    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// A fresh `id:…`.
    pub fn new_id(&mut self) -> String {
        let n = self.next();
        ids::file_id(n, self.salt)
    }

    /// A fresh rev.
    pub fn new_rev(&mut self) -> String {
        let n = self.next();
        ids::rev(n)
    }

    /// The admin (team mode) or the personal account.
    pub fn default_account(&self) -> usize {
        self.accounts.iter().position(|a| a.admin).unwrap_or(0)
    }

    /// Account by team member id.
    pub fn member(&self, team_member_id: &str) -> Option<usize> {
        self.accounts
            .iter()
            .position(|a| a.team_member_id.as_deref() == Some(team_member_id))
    }

    /// Resolve a request path (`""`, `/a/b`, `id:…[/rel]`, `rev:…`, `ns:N[/rel]`) in a view.
    pub fn resolve(&self, view: &View, path: &str) -> Result<Target, ApiError> {
        if path.is_empty() {
            return Ok(Target::Path(view.root_global.clone()));
        }
        if let Some(r) = path.strip_prefix("rev:") {
            let node = self
                .revs
                .get(r)
                .ok_or_else(|| ApiError::path("not_found"))?;
            if !view.contains(&node.path_lower) && !self.ids.contains_key(&node.id) {
                return Err(ApiError::path("not_found"));
            }
            return Ok(Target::Rev(node.clone()));
        }
        if let Some(rest) = path.strip_prefix("id:") {
            let (id, rel) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, ""),
            };
            let global = self
                .ids
                .get(&format!("id:{id}"))
                .filter(|g| view.contains(g) || **g == view.root_global)
                .ok_or_else(|| ApiError::path("not_found"))?;
            return Ok(Target::Path(format!("{global}{}", lower(rel))));
        }
        if let Some(rest) = path.strip_prefix("ns:") {
            let (ns, rel) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, ""),
            };
            let v = self
                .namespace_view(view.account, ns, view.admin)
                .ok_or_else(|| ApiError::path("not_found"))?;
            return v
                .to_global(&format!("{}{}", v.prefix_lower, lower(rel)))
                .map(Target::Path)
                .ok_or_else(|| ApiError::path("not_found"));
        }
        view.to_global(&format!("{}{}", view.prefix_lower, lower(path)))
            .map(Target::Path)
            .ok_or_else(|| ApiError::path("not_found"))
    }

    /// Look up a visible node by global lower path.
    pub fn get(&self, view: &View, global_lower: &str) -> Option<&Arc<Node>> {
        if !view.contains(global_lower) {
            return None;
        }
        self.tree.get(global_lower)
    }

    /// Whether a global path is an existing folder (or the view root).
    pub fn is_folder(&self, view: &View, global_lower: &str) -> bool {
        global_lower == view.root_global
            || self
                .get(view, global_lower)
                .is_some_and(|n| n.kind == Kind::Folder)
    }

    fn push(&mut self, path_lower: String, entry: Entry) {
        self.journal.push(Change { path_lower, entry });
    }

    fn insert(&mut self, node: Node, journal: bool) -> Arc<Node> {
        let node = Arc::new(node);
        self.tombstones.remove(&node.path_lower);
        self.ids.insert(node.id.clone(), node.path_lower.clone());
        if node.kind == Kind::File {
            self.revs.insert(node.rev.clone(), node.clone());
        }
        self.tree.insert(node.path_lower.clone(), node.clone());
        if journal {
            self.push(node.path_lower.clone(), Entry::Upsert(node.clone()));
        }
        node
    }

    /// Create every missing folder of a global display path; returns the last folder.
    pub fn mkdirs(
        &mut self,
        global_display: &str,
        now: i64,
        journal: bool,
    ) -> Result<Option<Arc<Node>>, ApiError> {
        let mut cur: Option<Arc<Node>> = None;
        let mut lower_acc = String::new();
        let mut display_acc = String::new();
        for comp in global_display.split('/').filter(|c| !c.is_empty()) {
            lower_acc.push('/');
            lower_acc.push_str(&lower(comp));
            match self.tree.get(&lower_acc) {
                Some(n) if n.kind == Kind::Folder => {
                    display_acc = n.path_display.clone();
                    cur = Some(n.clone());
                }
                Some(_) => return Err(conflict("file")),
                None => {
                    display_acc.push('/');
                    display_acc.push_str(comp);
                    let id = self.new_id();
                    let node = Node {
                        kind: Kind::Folder,
                        id,
                        name: comp.to_string(),
                        path_lower: lower_acc.clone(),
                        path_display: display_acc.clone(),
                        rev: String::new(),
                        client_modified: now,
                        server_modified: now,
                        data: None,
                        paper_revision: 0,
                        mount_ns: None,
                        shared: false,
                    };
                    cur = Some(self.insert(node, journal));
                }
            }
        }
        Ok(cur)
    }

    /// Display path of the parent folder of a global display path, creating it if needed.
    fn parent_display(
        &mut self,
        global_display: &str,
        now: i64,
        journal: bool,
    ) -> Result<String, ApiError> {
        let p = parent(global_display);
        if p.is_empty() {
            return Ok(String::new());
        }
        Ok(self
            .mkdirs(p, now, journal)?
            .map(|n| n.path_display.clone())
            .unwrap_or_default())
    }

    /// Create a folder; 409 conflict when something is there.
    pub fn create_folder(&mut self, global_display: &str, now: i64) -> Result<Arc<Node>, ApiError> {
        if self.tree.contains_key(&lower(global_display)) {
            return Err(conflict("folder"));
        }
        self.mkdirs(global_display, now, true)?
            .ok_or_else(|| ApiError::path("not_found"))
    }

    /// Write a file (new or replacing one); a new rev every time.
    pub fn put_file(
        &mut self,
        global_display: &str,
        data: Arc<FileData>,
        client_modified: i64,
        server_modified: i64,
        journal: bool,
    ) -> Result<Arc<Node>, ApiError> {
        let path_lower = lower(global_display);
        let existing = self.tree.get(&path_lower).cloned();
        if existing.as_ref().is_some_and(|n| n.kind == Kind::Folder) {
            return Err(conflict("folder"));
        }
        let parent_display = self.parent_display(global_display, server_modified, journal)?;
        let name = basename(global_display).to_string();
        let id = match &existing {
            Some(n) => n.id.clone(),
            None => self.new_id(),
        };
        let paper_revision =
            existing.as_ref().map_or(0, |n| n.paper_revision) + u64::from(data.is_paper());
        let rev = self.new_rev();
        let node = Node {
            kind: Kind::File,
            id,
            path_display: format!("{parent_display}/{name}"),
            name,
            path_lower,
            rev,
            client_modified,
            server_modified,
            data: Some(data),
            paper_revision,
            mount_ns: None,
            shared: false,
        };
        Ok(self.insert(node, journal))
    }

    /// Delete a file or a folder (one journal entry for the whole subtree).
    pub fn delete(&mut self, global_lower: &str) -> Result<Arc<Node>, ApiError> {
        let node = self
            .tree
            .get(global_lower)
            .cloned()
            .ok_or_else(|| ApiError::Route(nest("path_lookup", tag("not_found"))))?;
        if node.mount_ns.is_some() {
            return Err(ApiError::Route(nest(
                "path_write",
                tag("no_write_permission"),
            )));
        }
        let mut unshared = false;
        for n in self.take_subtree(global_lower) {
            self.ids.remove(&n.id);
            self.file_grants.remove(&n.id);
            // Deleting a folder that holds shared folders unshares them (their members lose
            // the mounts through `sync_mounts` below).
            if let Some(ns) = &n.mount_ns {
                self.ns_at.remove(&n.path_lower);
                self.namespaces.remove(ns);
                unshared = true;
            }
            self.tombstones.insert(
                n.path_lower.clone(),
                (n.path_display.clone(), n.name.clone()),
            );
        }
        self.push(
            global_lower.to_string(),
            Entry::Deleted {
                path_display: node.path_display.clone(),
                name: node.name.clone(),
            },
        );
        if unshared {
            self.sync_mounts(true);
        }
        Ok(node)
    }

    /// Remove a node and its descendants from the tree, parents first.
    fn take_subtree(&mut self, global_lower: &str) -> Vec<Arc<Node>> {
        let mut out = Vec::new();
        if let Some(n) = self.tree.remove(global_lower) {
            out.push(n);
        }
        let start = format!("{global_lower}/");
        let keys: Vec<String> = self
            .tree
            .range::<String, _>((Bound::Included(&start), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(&start))
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            if let Some(n) = self.tree.remove(&k) {
                out.push(n);
            }
        }
        out
    }

    /// Move or rename; ids survive, files get new revs. Case-only renames are not journaled.
    pub fn move_node(
        &mut self,
        from_lower: &str,
        to_display: &str,
        now: i64,
    ) -> Result<Arc<Node>, ApiError> {
        let node = self
            .tree
            .get(from_lower)
            .cloned()
            .ok_or_else(|| ApiError::Route(nest("from_lookup", tag("not_found"))))?;
        if node.mount_ns.is_some() {
            return Err(ApiError::Route(nest(
                "from_write",
                tag("no_write_permission"),
            )));
        }
        let to_lower = lower(to_display);
        let case_only = to_lower == from_lower;
        if !case_only && self.tree.contains_key(&to_lower) {
            return Err(ApiError::Route(nest(
                "to",
                nest(
                    "conflict",
                    tag(match node.kind {
                        Kind::File => "file",
                        Kind::Folder => "folder",
                    }),
                ),
            )));
        }
        if to_lower.starts_with(&format!("{from_lower}/")) {
            return Err(ApiError::route("cant_move_folder_into_itself"));
        }
        let parent_display = self.parent_display(to_display, now, true)?;
        let new_display = format!("{parent_display}/{}", basename(to_display));
        let moved = self.take_subtree(from_lower);
        if !case_only {
            for n in &moved {
                self.tombstones.insert(
                    n.path_lower.clone(),
                    (n.path_display.clone(), n.name.clone()),
                );
            }
            self.push(
                from_lower.to_string(),
                Entry::Deleted {
                    path_display: node.path_display.clone(),
                    name: node.name.clone(),
                },
            );
        }
        let mut first = None;
        let mut moved_mounts = false;
        for n in moved {
            let mut m = (*n).clone();
            let suffix_l = &n.path_lower[from_lower.len()..];
            let suffix_d = n.path_display.get(node.path_display.len()..).unwrap_or("");
            m.path_lower = format!("{to_lower}{suffix_l}");
            m.path_display = format!("{new_display}{suffix_d}");
            m.name = basename(&m.path_display).to_string();
            // A case-only rename is not reported, so it must not change what clients compare.
            if m.kind == Kind::File && !case_only {
                m.rev = self.new_rev();
                m.server_modified = now;
            }
            if let Some(ns) = &m.mount_ns {
                self.ns_at.remove(&n.path_lower);
                self.ns_at.insert(m.path_lower.clone(), ns.clone());
                if let Some(rec) = self.namespaces.get_mut(ns) {
                    rec.path_lower = m.path_lower.clone();
                }
                moved_mounts = true;
            }
            let inserted = self.insert(m, !case_only);
            first.get_or_insert(inserted);
        }
        if moved_mounts {
            // A shared folder moved into another namespace changes who inherits it.
            self.sync_mounts(true);
        }
        first.ok_or_else(|| ApiError::Route(nest("from_lookup", tag("not_found"))))
    }

    /// Bump the epoch: every existing cursor now answers `reset`.
    pub fn reset_cursors(&mut self) {
        self.epoch += 1;
    }
}
