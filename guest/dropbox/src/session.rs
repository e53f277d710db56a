//! The sync state machine: a run goes through stages, and every `next_page` call returns the
//! changes of a bounded amount of Dropbox work with the checkpoint to resume after them.
//!
//! - **Plan**: decide what to enumerate. Personal accounts and the admin's view have one
//!   unit (the configured path, scope `files`). With `team_scope = "all_members"` every
//!   team folder, shared folder and member's private files is a unit with its own cursor
//!   and scope (`ns:<namespace id>`); units of members who left are purged. On a team with
//!   document-level security the event log cursors start here.
//! - **Units**: per unit, the full listing (`begin` … `end` of its scope) the first time,
//!   the `list_folder/continue` delta afterwards. One unit at a time, one page at a time:
//!   memory does not grow with the number of members.
//! - **Rules** (instead of units when advanced rules are set): every rule's `search_v2`
//!   results, all runs a full enumeration of `files`.
//! - **Received**: files shared with the account (no delta API exists for them).
//! - **Events**: permission changes from the team event log re-read just the items named.
//! - **Access**: the access-control documents, when the members or groups changed.
//!
//! With document-level security on, each page's items get their identities from batched,
//! concurrent lookups ([`crate::acl`]) before the page is returned.

use std::collections::{BTreeMap, HashSet, VecDeque};

use serde_json::{Value, json};

use crate::access::{self, Person, SCOPE_ACCESS};
use crate::account::{self, Account};
use crate::acl::{AclCache, AclRequest, Identities, Resolver, person};
use crate::api::{
    FileMetadata, FolderMetadata, ListFilesResult, ListFolderResult, Metadata, SearchResult,
    SharedFileMetadata, SharedLinkMetadata, listing_tail,
};
use crate::checkpoint::{Checkpoint, Identity, Stage, Unit, UnitKind};
use crate::client::{CallError, Client, Context, Level, RouteKind, Transport, decode};
use crate::config::Config;
use crate::document::{
    Access, Change, SCOPE_FILES, SCOPE_RECEIVED, file_document_with, folder_document_with,
    received_document,
};
use crate::error::Error;
use crate::events::{self, Affected, CATEGORIES};
use crate::team::{self, Member};

/// Entries per `list_folder` page (Dropbox's maximum).
const LIST_LIMIT: u32 = 2000;
/// Entries per `list_received_files` page (Dropbox's maximum).
const RECEIVED_LIMIT: u32 = 300;
/// Log progress at info level every this many pages.
const INFO_EVERY: u64 = 10;
/// Steps (Dropbox calls that changed nothing) one page may take before it is returned.
const MAX_STEPS_PER_PAGE: usize = 64;
/// Access-control documents per page.
const ACCESS_DOCS_PER_PAGE: usize = 1000;
/// Items re-read at once after permission events.
const EVENT_ITEMS_PER_STEP: usize = 100;

/// A page of changes (mirrors WIT `page`).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub changes: Vec<Change>,
    pub checkpoint: Option<String>,
    pub has_more: bool,
}

/// What a step tells the page loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// A Dropbox round trip happened: return the page if it has changes.
    Page,
    /// Nothing worth a page boundary happened: go on.
    Next,
}

/// The re-reading of items named by one page of events.
struct EventWork {
    /// The category's cursor after that page (stored once the work is done).
    cursor: String,
    has_more: bool,
    items: VecDeque<Affected>,
    /// A folder whose content is being re-read: (unit index, list_folder cursor).
    walk: Option<(usize, String)>,
}

/// One sync run.
pub struct Session<T: Transport> {
    transport: T,
    config: Config,
    account: Account,
    /// The state after the last returned page (what its checkpoint says).
    state: Checkpoint,
    /// This run started from nothing (a full sync).
    full: bool,
    /// Identities of the authenticated account (owner of what the root unit lists).
    owner: Identities,
    /// The team's everyone group (`group:…`), for what lies at the root of a team space
    /// outside any home (document-level security in the admin's view only).
    everyone: Option<Identities>,
    /// Team members, read when needed.
    members: Option<Vec<Member>>,
    acl: AclCache,
    /// Ids already upserted by the advanced rules in this run.
    seen: HashSet<String>,
    events: Option<EventWork>,
    /// The event stage started (the permission cache was cleared for it).
    events_started: bool,
    /// Access-control documents written so far in this run.
    access_sent: usize,
    pages: u64,
    entries: u64,
}

fn client<'a, T: Transport>(transport: &'a T, config: &'a Config, ctx: Context) -> Client<'a, T> {
    Client {
        transport,
        config,
        context: ctx,
    }
}

/// The shared folder a file or folder lives in, from either place Dropbox reports it.
fn parent_shared(
    parent: &Option<String>,
    sharing: &Option<crate::api::SharingInfo>,
) -> Option<String> {
    parent
        .clone()
        .or_else(|| {
            sharing
                .as_ref()
                .and_then(|s| s.parent_shared_folder_id.clone())
        })
        .filter(|s| !s.is_empty())
}

fn folder_shared_id(f: &FolderMetadata) -> Option<String> {
    f.shared_folder_id
        .clone()
        .or_else(|| {
            f.sharing_info
                .as_ref()
                .and_then(|s| s.shared_folder_id.clone())
        })
        .filter(|s| !s.is_empty())
}

/// Put a unit's display prefix in front of a namespace-relative path.
fn prefixed(prefix: &str, path: &mut Option<String>, lower: bool) {
    if prefix.is_empty() {
        return;
    }
    if let Some(p) = path.as_mut() {
        let head = if lower {
            prefix.to_lowercase()
        } else {
            prefix.to_string()
        };
        *p = if p.is_empty() || p == "/" {
            head
        } else {
            format!("{head}{p}")
        };
    }
}

/// Who has an item no shared folder covers: in the admin's view of a team space, the
/// admin's home is the admin's, and what lies at the team root outside any home is
/// everyone's; elsewhere the unit's owner.
fn owner_at<'o>(
    unit: &Unit,
    owner: Option<&'o Identities>,
    everyone: Option<&'o Identities>,
    home_lower: Option<&str>,
    path_lower: Option<&str>,
) -> Option<&'o Identities> {
    match (everyone, unit.kind, path_lower) {
        (Some(everyone), UnitKind::Root, Some(p)) => {
            if home_lower.is_some_and(|h| within(p, h)) {
                owner
            } else {
                Some(everyone)
            }
        }
        _ => owner,
    }
}

/// Whether `path_lower` is the configured folder or inside it.
fn within(path_lower: &str, root_lower: &str) -> bool {
    root_lower.is_empty()
        || path_lower == root_lower
        || path_lower
            .strip_prefix(root_lower)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Whether the checkpoint was taken with document-level security and the config now has
/// it off.
fn dls_switched_off(cp: &Checkpoint, config: &Config) -> bool {
    !config.dls
        && serde_json::from_str::<Value>(&cp.settings)
            .is_ok_and(|s| s.get("dls") == Some(&Value::Bool(true)))
}

/// An upsert or a subtree delete, after a unit's filtering and path rewriting.
enum Item {
    File {
        meta: FileMetadata,
        /// The path as Dropbox listed it (before the unit's prefix).
        raw_path: Option<String>,
        shared: Option<String>,
    },
    Folder {
        meta: FolderMetadata,
        raw_path: Option<String>,
        /// The shared folder it is in.
        parent: Option<String>,
        /// The shared folder it is the root of.
        mount: Option<String>,
    },
    Gone(String),
}

impl Item {
    fn path_lower(&self) -> Option<&str> {
        match self {
            Item::File { meta, .. } => meta.path_lower.as_deref(),
            Item::Folder { meta, .. } => meta.path_lower.as_deref(),
            Item::Gone(p) => Some(p),
        }
    }
}

impl<T: Transport> Session<T> {
    /// Detect the account, check the checkpoint against it and decide where to start.
    pub fn start(
        transport: T,
        mut config: Config,
        checkpoint: Option<&str>,
    ) -> Result<Self, Error> {
        config.fetch_content = transport.content_wanted();
        let checkpoint = checkpoint.map(Checkpoint::decode).transpose()?;
        let account = account::detect(&transport, &config)?;
        let identity = account.identity(&config);
        let mut full = checkpoint.is_none();
        let state = match checkpoint {
            None => Checkpoint::fresh(&identity),
            Some(cp) if dls_switched_off(&cp, &config) && cp.verify(&identity).is_err() => {
                cp.verify(&Identity {
                    settings: cp.settings.clone(),
                    ..identity.clone()
                })?;
                transport.log(
                    Level::Info,
                    "document-level security was switched off: a full sync removes the permissions from every document",
                );
                full = true;
                Checkpoint {
                    clear_access: true,
                    ..Checkpoint::fresh(&identity)
                }
            }
            Some(mut cp) => {
                cp.verify(&identity)?;
                if cp.stage == Stage::Done {
                    // The previous run completed: this one starts over with its cursors.
                    cp.stage = Stage::Plan;
                    cp.unit = 0;
                    cp.rule = 0;
                    cp.rule_cursor = None;
                    cp.received_cursor = None;
                    cp.event_category = 0;
                    cp.refresh_access = false;
                    cp.clear_access = false;
                }
                cp
            }
        };
        if config.all_members() && account.team_member_id.is_none() {
            return Err(Error::InvalidConfig(
                "team_scope: \"all_members\" needs a team-linked app (the token reaches one personal account); remove team_scope or authorize a team app".into(),
            ));
        }
        let how = if full {
            "full sync"
        } else if state.stage == Stage::Plan {
            "incremental sync"
        } else {
            "resuming an interrupted run"
        };
        transport.log(
            Level::Info,
            &format!(
                "Dropbox account {} ({}), path {:?}{}{}: {how}",
                if account.email.is_empty() {
                    &account.account_id
                } else {
                    &account.email
                },
                account.describe(),
                config.path_for_display(),
                if config.all_members() {
                    ", every team member"
                } else {
                    ""
                },
                if config.dls {
                    ", with document-level security"
                } else {
                    ""
                },
            ),
        );
        let owner = person(Some(&account.account_id), Some(&account.email));
        Ok(Session {
            transport,
            config,
            account,
            state,
            full,
            owner,
            everyone: None,
            members: None,
            acl: AclCache::default(),
            seen: HashSet::new(),
            events: None,
            events_started: false,
            access_sent: 0,
            pages: 0,
            entries: 0,
        })
    }

    /// Produce the next page. On error the stored state is unchanged, so a retry repeats
    /// the work from the last returned checkpoint.
    pub fn next_page(&mut self) -> Result<Page, Error> {
        let mut next = self.state.clone();
        let mut changes = Vec::new();
        if next.stage != Stage::Done {
            for _ in 0..MAX_STEPS_PER_PAGE {
                self.skip_trivial(&mut next, &mut changes);
                let flow = match next.stage {
                    Stage::Plan => self.plan(&mut next, &mut changes)?,
                    Stage::Units => self.unit_step(&mut next, &mut changes)?,
                    Stage::Rules => self.rule_step(&mut next, &mut changes)?,
                    Stage::Received => self.received_step(&mut next, &mut changes)?,
                    Stage::Events => self.event_step(&mut next, &mut changes)?,
                    Stage::Access => self.access_step(&mut next, &mut changes)?,
                    Stage::Done => break,
                };
                if flow == Flow::Page && !changes.is_empty() {
                    break;
                }
            }
            self.skip_trivial(&mut next, &mut changes);
        }
        self.pages += 1;
        let checkpoint = next.encode();
        let has_more = next.stage != Stage::Done;
        if !has_more && self.state.stage != Stage::Done {
            self.transport.log(
                Level::Info,
                &format!(
                    "sync complete: {} entries read in {} pages",
                    self.entries, self.pages
                ),
            );
        }
        self.state = next;
        Ok(Page {
            changes,
            checkpoint: Some(checkpoint),
            has_more,
        })
    }

    /// Move past stages that have nothing to ask Dropbox, so the last page says so.
    fn skip_trivial(&self, next: &mut Checkpoint, changes: &mut Vec<Change>) {
        loop {
            match next.stage {
                Stage::Units if next.unit >= next.units.len() => {
                    if self.config.all_members() && self.full {
                        // A switch from the admin's view: what it indexed goes.
                        changes.push(Change::BeginEnumeration(SCOPE_FILES.into()));
                        changes.push(Change::EndEnumeration(SCOPE_FILES.into()));
                    }
                    next.stage = Stage::Received;
                }
                Stage::Received if !self.config.include_received_files => {
                    // Received files are switched off: an empty enumeration removes any
                    // indexed earlier (one already begun is simply ended).
                    if next.received_cursor.take().is_none() {
                        changes.push(Change::BeginEnumeration(SCOPE_RECEIVED.into()));
                    }
                    changes.push(Change::EndEnumeration(SCOPE_RECEIVED.into()));
                    next.stage = Stage::Events;
                }
                Stage::Events if !self.events_apply(next) => next.stage = Stage::Access,
                Stage::Access if next.clear_access => {
                    // Without document-level security the access-control documents go.
                    changes.push(Change::BeginEnumeration(SCOPE_ACCESS.into()));
                    changes.push(Change::EndEnumeration(SCOPE_ACCESS.into()));
                    next.clear_access = false;
                    next.refresh_access = false;
                    next.stage = Stage::Done;
                }
                Stage::Access if !(self.config.dls && next.refresh_access) => {
                    next.refresh_access = false;
                    next.stage = Stage::Done;
                }
                _ => return,
            }
        }
    }

    fn is_team(&self) -> bool {
        self.account.team_member_id.is_some()
    }

    /// Whether permission changes come from the team event log in this run.
    fn events_apply(&self, next: &Checkpoint) -> bool {
        self.config.dls
            && self.is_team()
            && self.config.advanced_rules.is_empty()
            && !next.events.is_empty()
            && next.event_category < CATEGORIES.len()
    }

    /// Team routes: no context headers.
    fn team_client(&self) -> Client<'_, T> {
        Client::new(&self.transport, &self.config)
    }

    fn admin(&self) -> Result<&str, Error> {
        self.account.team_member_id.as_deref().ok_or_else(|| {
            Error::Permanent("a team operation was attempted with a personal token".into())
        })
    }

    /// Namespaces are read by the admin in whole-team mode (`Dropbox-API-Select-Admin` and
    /// the namespace as path root): that reaches every namespace as it is, a suspended
    /// member's home included, without anyone's mounts.
    fn context_of(&self, unit: &Unit) -> Context {
        match (unit.kind, &unit.ns) {
            (UnitKind::Root, _) | (_, None) => self.account.context(),
            (_, Some(ns)) => {
                Context::admin_namespace(self.account.team_member_id.as_deref().unwrap_or(""), ns)
            }
        }
    }

    /// The folder a namespace unit is rooted at, as a document of its own (its listing does
    /// not include it): a team or shared folder through `get_folder_metadata`, a member's
    /// home through the member's view of the team space. None when it cannot be read.
    fn unit_root(&self, unit: &Unit) -> Result<Option<FolderMetadata>, Error> {
        let (Some(ns), Some(admin)) = (&unit.ns, &self.account.team_member_id) else {
            return Ok(None);
        };
        let answer = match unit.kind {
            UnitKind::Root => return Ok(None),
            UnitKind::TeamFolder | UnitKind::SharedFolder => {
                let c = client(
                    &self.transport,
                    &self.config,
                    Context {
                        select_admin: Some(admin.clone()),
                        ..Context::default()
                    },
                );
                c.rpc::<crate::api::SharedFolderMetadata>(
                    "sharing/get_folder_metadata",
                    Some(&json!({ "shared_folder_id": ns })),
                    RouteKind::Files,
                )
                .map(|m| {
                    m.folder_id.map(|id| FolderMetadata {
                        name: if m.name.is_empty() {
                            unit.name.clone()
                        } else {
                            m.name
                        },
                        id,
                        shared_folder_id: Some(ns.clone()),
                        ..FolderMetadata::default()
                    })
                })
            }
            UnitKind::MemberFolder => {
                let Some(member) = &unit.member else {
                    return Ok(None);
                };
                let c = client(
                    &self.transport,
                    &self.config,
                    Context::new(
                        Some(member.clone()),
                        Some(self.account.root_namespace_id.as_str()),
                    ),
                );
                c.rpc::<Metadata>(
                    "files/get_metadata",
                    Some(&json!({ "path": unit.prefix() })),
                    RouteKind::Files,
                )
                .map(|m| match m {
                    Metadata::Folder(f) => Some(FolderMetadata {
                        path_lower: None,
                        path_display: None,
                        ..f
                    }),
                    _ => None,
                })
            }
        };
        match answer {
            Ok(root) => Ok(root),
            Err(e @ CallError::Status(_))
                if e.api().is_some_and(|a| a.status < 500 && a.status != 429) =>
            {
                self.transport.log(
                    Level::Debug,
                    &format!(
                        "the root folder of {} ({}) is not indexed: {}",
                        unit.scope(),
                        unit.name,
                        e.api().map(|a| a.label()).unwrap_or_default()
                    ),
                );
                Ok(None)
            }
            Err(e) => Err(e.into_error()),
        }
    }

    fn load_members(&mut self) -> Result<(), Error> {
        if self.members.is_none() {
            self.members = Some(team::list_members(&self.team_client())?);
        }
        Ok(())
    }

    /// Who owns what a unit lists outside any shared folder.
    fn owner_of(&self, unit: &Unit) -> Option<Identities> {
        match unit.kind {
            UnitKind::Root => Some(self.owner.clone()),
            UnitKind::MemberFolder => {
                let member = unit.member.as_deref()?;
                self.members
                    .as_ref()?
                    .iter()
                    .find(|m| m.team_member_id == member)
                    .map(Member::identities)
            }
            UnitKind::TeamFolder | UnitKind::SharedFolder => None,
        }
    }

    // ---------------------------------------------------------------- plan

    fn plan(&mut self, next: &mut Checkpoint, changes: &mut Vec<Change>) -> Result<Flow, Error> {
        let mut flow = Flow::Next;
        if self.config.all_members() {
            self.load_members()?;
            let namespaces = team::list_namespaces(&self.team_client())?;
            let admin = self.admin()?.to_string();
            let admin_client = client(
                &self.transport,
                &self.config,
                Context {
                    select_admin: Some(admin),
                    ..Context::default()
                },
            );
            let plan = team::plan(
                &admin_client,
                self.members.as_deref().unwrap_or_default(),
                &namespaces,
                &next.units,
                &next.nested,
            )?;
            for scope in &plan.removed {
                self.transport.log(
                    Level::Info,
                    &format!("{scope} is no longer part of the team: removing its documents"),
                );
                changes.push(Change::BeginEnumeration(scope.clone()));
                changes.push(Change::EndEnumeration(scope.clone()));
            }
            let joined = plan.units.iter().filter(|u| u.cursor.is_none()).count();
            if !plan.removed.is_empty() || joined > 0 {
                next.refresh_access = true;
                self.transport.log(
                    Level::Info,
                    &format!(
                        "{} namespaces to enumerate ({joined} new or renamed, {} gone)",
                        plan.units.len(),
                        plan.removed.len()
                    ),
                );
            }
            let kept: HashSet<&str> = plan.units.iter().filter_map(|u| u.ns.as_deref()).collect();
            next.nested
                .retain(|_, parent| kept.contains(parent.as_str()));
            next.units = plan.units;
            flow = Flow::Page;
        } else if !self.config.advanced_rules.is_empty() {
            next.units.clear();
        } else if next.units.is_empty() {
            next.units.push(Unit::root());
        }
        if self.config.dls
            && self.is_team()
            && self.account.team_space
            && self.everyone.is_none()
            && next.units.iter().any(|u| u.kind == UnitKind::Root)
        {
            self.everyone = team::everyone_group(&self.team_client())?
                .map(|g| Identities::from([format!("group:{g}")]));
        }
        if self.config.dls && self.is_team() && next.events.is_empty() {
            next.events =
                events::start_cursors(&self.team_client(), self.account.server_time.as_deref())?;
            flow = Flow::Page;
        }
        if self.config.dls && self.full {
            next.refresh_access = true;
        }
        next.unit = 0;
        next.rule = 0;
        next.rule_cursor = None;
        next.event_category = 0;
        next.stage = if self.config.advanced_rules.is_empty() {
            Stage::Units
        } else {
            Stage::Rules
        };
        Ok(flow)
    }

    // ---------------------------------------------------------------- units

    fn list_arg(&self, unit: &Unit) -> Value {
        let path = match unit.kind {
            UnitKind::Root => self.config.path.clone(),
            _ => String::new(),
        };
        let mut arg = json!({
            "path": path,
            "recursive": true,
            "limit": LIST_LIMIT,
            "include_non_downloadable_files": true,
        });
        if self.config.dls {
            arg["include_has_explicit_shared_members"] = json!(true);
        }
        if matches!(unit.kind, UnitKind::MemberFolder | UnitKind::SharedFolder) {
            // Shared folders mounted in a member's home or nested in a shared folder are
            // enumerated on their own (in a team folder, they are part of it).
            arg["include_mounted_folders"] = json!(false);
        }
        arg
    }

    fn unit_step(
        &mut self,
        next: &mut Checkpoint,
        changes: &mut Vec<Change>,
    ) -> Result<Flow, Error> {
        let i = next.unit;
        let Some(unit) = next.units.get(i).cloned() else {
            return Ok(Flow::Next);
        };
        if unit.kind == UnitKind::MemberFolder {
            self.load_members()?;
        }
        let listing = !unit.listed;
        let ctx = self.context_of(&unit);
        let c = client(&self.transport, &self.config, ctx);
        // The next call of this unit asks for the page after this one: it starts as soon as
        // this page's cursor is known (read from the raw body, before the entries are
        // decoded), and travels while this page is decoded, mapped and handed over.
        let prefetch_next = |cursor: &str| {
            c.prefetch_rpc(
                "files/list_folder/continue",
                Some(&json!({ "cursor": cursor })),
                RouteKind::Files,
            );
        };
        let mut guessed = None;
        let early = |body: &[u8]| {
            if let Some((cursor, true)) = listing_tail(body) {
                prefetch_next(&cursor);
                guessed = Some(cursor);
            }
        };
        let result = match &unit.cursor {
            None => c
                .rpc_then::<ListFolderResult>(
                    "files/list_folder",
                    Some(&self.list_arg(&unit)),
                    RouteKind::Files,
                    early,
                )
                .map_err(|e| (e, false)),
            Some(cursor) => c
                .rpc_then::<ListFolderResult>(
                    "files/list_folder/continue",
                    Some(&json!({ "cursor": cursor })),
                    RouteKind::Files,
                    early,
                )
                .map_err(|e| (e, true)),
        };
        let mut r = match result {
            Ok(r) => r,
            Err((e, continuing)) => return self.unit_error(next, changes, &unit, e, continuing),
        };
        if r.has_more && guessed.as_deref() != Some(r.cursor.as_str()) {
            prefetch_next(&r.cursor);
        }
        let root = if unit.cursor.is_none() {
            changes.push(Change::BeginEnumeration(unit.scope()));
            self.unit_root(&unit)?
        } else {
            None
        };
        let entries = std::mem::take(&mut r.entries);
        let n = entries.len();
        let owner = self.owner_of(&unit);
        let access = if listing && next.clear_access {
            Access::Clear
        } else {
            Access::Omit
        };
        self.build(
            &unit,
            owner.as_ref(),
            root,
            entries,
            &access,
            None,
            &mut next.nested,
            changes,
        )?;
        self.progress(n, if listing { "listed" } else { "changes read" });
        let u = &mut next.units[i];
        u.cursor = Some(r.cursor);
        if !r.has_more {
            if listing {
                changes.push(Change::EndEnumeration(unit.scope()));
                u.listed = true;
                self.transport.log(
                    Level::Debug,
                    &format!(
                        "{} listed",
                        if unit.name.is_empty() {
                            "the folder"
                        } else {
                            &unit.name
                        }
                    ),
                );
            }
            next.unit += 1;
        }
        Ok(Flow::Page)
    }

    /// A unit's listing failed: a stale cursor of one namespace re-lists that namespace; a
    /// namespace that no longer exists is purged; the root unit keeps its old meaning.
    fn unit_error(
        &self,
        next: &mut Checkpoint,
        changes: &mut Vec<Change>,
        unit: &Unit,
        e: CallError,
        continuing: bool,
    ) -> Result<Flow, Error> {
        let api = e.api().cloned();
        if unit.kind == UnitKind::Root {
            return Err(match api {
                Some(a) if continuing && a.status == 400 => Error::CheckpointMismatch(format!(
                    "Dropbox refused the stored list_folder cursor (400: {}); run `tributary sync --full` to start over",
                    a.text.chars().take(200).collect::<String>()
                )),
                _ => account::path_error(&self.config, e),
            });
        }
        let scope = unit.scope();
        let i = next.unit;
        match api {
            Some(a) if continuing && (a.is_409(&["reset"]) || a.status == 400) => {
                self.transport.log(
                    Level::Warn,
                    &format!(
                        "the cursor of {scope} ({}) is no longer valid ({}): listing that namespace again",
                        unit.name,
                        a.label()
                    ),
                );
                // A new listing: its end purges what it no longer sees. Begun again in
                // the same run, the enumeration keeps its marker.
                let u = &mut next.units[i];
                u.cursor = None;
                u.listed = false;
                Ok(Flow::Next)
            }
            Some(a) if a.status == 422 || a.is_409(&["path", "not_found"]) => {
                self.transport.log(
                    Level::Warn,
                    &format!(
                        "{scope} ({}) cannot be read any more ({}): removing its documents",
                        unit.name,
                        a.label()
                    ),
                );
                if unit.cursor.is_none() {
                    changes.push(Change::BeginEnumeration(scope.clone()));
                }
                changes.push(Change::EndEnumeration(scope));
                next.units.remove(i);
                next.nested
                    .retain(|_, p| Some(p.as_str()) != unit.ns.as_deref());
                Ok(Flow::Page)
            }
            _ => Err(e.into_error()),
        }
    }

    /// Turn listed entries into changes for `unit`: skip what belongs to another unit, put
    /// the unit's prefix on paths, resolve permissions (document-level security) for the
    /// whole batch at once.
    #[allow(clippy::too_many_arguments)]
    fn build(
        &mut self,
        unit: &Unit,
        owner: Option<&Identities>,
        root: Option<FolderMetadata>,
        entries: Vec<Metadata>,
        access: &Access,
        only_within: Option<&str>,
        nested: &mut BTreeMap<String, String>,
        changes: &mut Vec<Change>,
    ) -> Result<(), Error> {
        let prefix = unit.prefix();
        let own_ns = match unit.kind {
            UnitKind::TeamFolder | UnitKind::SharedFolder => unit.ns.clone(),
            UnitKind::Root | UnitKind::MemberFolder => None,
        };
        let mut items = Vec::with_capacity(entries.len());
        for entry in entries {
            let item = match entry {
                Metadata::File(f) => {
                    let shared = parent_shared(&f.parent_shared_folder_id, &f.sharing_info);
                    Item::File {
                        raw_path: f.path_lower.clone(),
                        shared,
                        meta: f,
                    }
                }
                Metadata::Folder(f) => {
                    let parent = parent_shared(&f.parent_shared_folder_id, &f.sharing_info);
                    let mount = folder_shared_id(&f);
                    if unit.kind == UnitKind::TeamFolder
                        && let (Some(m), Some(ns)) = (&mount, &unit.ns)
                        && m != ns
                    {
                        nested.insert(m.clone(), ns.clone());
                    }
                    Item::Folder {
                        raw_path: f.path_lower.clone(),
                        parent,
                        mount,
                        meta: f,
                    }
                }
                Metadata::Deleted(mut d) => {
                    prefixed(&prefix, &mut d.path_lower, true);
                    match d.path_lower {
                        Some(p) if !p.is_empty() => Item::Gone(p),
                        _ => {
                            self.transport.log(
                                Level::Warn,
                                &format!("skipping a deleted entry without a path ({:?})", d.name),
                            );
                            continue;
                        }
                    }
                }
                Metadata::Unknown => {
                    self.transport.log(
                        Level::Warn,
                        "skipping a list_folder entry of an unknown kind",
                    );
                    continue;
                }
            };
            if !self.belongs(unit, own_ns.as_deref(), &item) {
                continue;
            }
            items.push(item);
        }
        if let Some(meta) = root {
            // Paths become the unit's prefix itself.
            let mount = meta.shared_folder_id.clone();
            items.insert(
                0,
                Item::Folder {
                    meta: FolderMetadata {
                        path_lower: Some(String::new()),
                        path_display: Some(String::new()),
                        ..meta
                    },
                    raw_path: None,
                    parent: None,
                    mount,
                },
            );
        }
        for item in &mut items {
            if let Item::File { meta, .. } = item {
                prefixed(&prefix, &mut meta.path_display, false);
                prefixed(&prefix, &mut meta.path_lower, true);
            } else if let Item::Folder { meta, .. } = item {
                prefixed(&prefix, &mut meta.path_display, false);
                prefixed(&prefix, &mut meta.path_lower, true);
            }
        }
        if let Some(root) = only_within {
            items.retain(|item| item.path_lower().is_none_or(|p| within(p, root)));
        }
        let ctx = self.context_of(unit);
        let c = client(&self.transport, &self.config, ctx);
        let acls = if self.config.dls {
            let home = self.account.home_path.as_deref().map(str::to_lowercase);
            let everyone = self.everyone.clone();
            let owner_at = |path: Option<&str>| -> Option<&Identities> {
                owner_at(unit, owner, everyone.as_ref(), home.as_deref(), path)
            };
            let requests: Vec<AclRequest<'_>> = items
                .iter()
                .filter_map(|item| {
                    let (file, shared, raw) = match item {
                        Item::File {
                            meta,
                            shared,
                            raw_path,
                        } => (
                            (meta.has_explicit_shared_members != Some(false))
                                .then_some(meta.id.as_str()),
                            shared.as_deref().or(own_ns.as_deref()),
                            raw_path.as_deref(),
                        ),
                        Item::Folder {
                            parent,
                            mount,
                            raw_path,
                            ..
                        } => (
                            None,
                            mount.as_deref().or(parent.as_deref()).or(own_ns.as_deref()),
                            raw_path.as_deref(),
                        ),
                        Item::Gone(_) => return None,
                    };
                    Some(AclRequest {
                        file,
                        shared_folder: shared,
                        path: raw.filter(|p| !p.is_empty()),
                        owner: match shared {
                            Some(_) => None,
                            None => owner_at(item.path_lower()),
                        },
                    })
                })
                .collect();
            let mut resolver = Resolver {
                client: &c,
                cache: &mut self.acl,
                include_inherited: self.config.include_inherited,
            };
            Some(resolver.resolve(&requests)?)
        } else {
            None
        };
        let mut acls = acls.map(Vec::into_iter);
        let scope = unit.scope();
        changes.reserve(items.len());
        for item in items {
            let access = match (&mut acls, &item) {
                (_, Item::Gone(_)) | (None, _) => access.clone(),
                (Some(it), _) => Access::Allow(it.next().unwrap_or_default()),
            };
            match item {
                Item::File { meta, .. } => {
                    let mut d = file_document_with(meta, &c, &access);
                    d.scope.clone_from(&scope);
                    changes.push(Change::Upsert(d));
                }
                Item::Folder { meta, .. } => {
                    let mut d = folder_document_with(meta, &self.config.web_url, &access);
                    d.scope.clone_from(&scope);
                    changes.push(Change::Upsert(d));
                }
                Item::Gone(path) => changes.push(Change::DeleteTree {
                    scope: scope.clone(),
                    field: "path_lower".into(),
                    value: path,
                }),
            }
        }
        Ok(())
    }

    /// Whether a listed entry is this unit's to index. A member's folder keeps only what is
    /// private to the member (shared folders, mounted or not, are enumerated on their own);
    /// a shared folder keeps its own items and the mount points of folders nested in it;
    /// the namespace root itself is not an entry.
    fn belongs(&self, unit: &Unit, own_ns: Option<&str>, item: &Item) -> bool {
        if item.path_lower().is_some_and(|p| p.is_empty() || p == "/") {
            return false;
        }
        match (unit.kind, item) {
            (UnitKind::MemberFolder, Item::File { shared, .. }) => shared.is_none(),
            (UnitKind::MemberFolder, Item::Folder { parent, mount, .. }) => {
                parent.is_none() && mount.is_none()
            }
            (UnitKind::SharedFolder, Item::File { shared, .. }) => {
                shared.is_none() || shared.as_deref() == own_ns
            }
            (UnitKind::SharedFolder, Item::Folder { parent, .. }) => {
                parent.is_none() || parent.as_deref() == own_ns
            }
            _ => true,
        }
    }

    // ---------------------------------------------------------------- rules

    fn rule_step(
        &mut self,
        next: &mut Checkpoint,
        changes: &mut Vec<Change>,
    ) -> Result<Flow, Error> {
        let rules = &self.config.advanced_rules;
        let Some(rule) = rules.get(next.rule) else {
            changes.push(Change::EndEnumeration(SCOPE_FILES.into()));
            self.seen.clear();
            next.stage = Stage::Received;
            return Ok(Flow::Next);
        };
        let n = next.rule + 1;
        let c = client(&self.transport, &self.config, self.account.context());
        let result: Result<SearchResult, CallError> = match &next.rule_cursor {
            None => c.rpc(
                "files/search_v2",
                Some(&rule.search_arg(&self.config.path)),
                RouteKind::Files,
            ),
            Some(cursor) => match c.rpc(
                "files/search/continue_v2",
                Some(&json!({ "cursor": cursor })),
                RouteKind::Files,
            ) {
                Err(CallError::Status(e)) if e.status == 409 || e.status == 400 => {
                    // The search cursor did not survive: run the rule again (what it
                    // already upserted is upserted again; nothing is lost).
                    self.transport.log(
                        Level::Warn,
                        &format!(
                            "Dropbox refused the search cursor of {} ({}); running it again",
                            rule.describe(n),
                            e.label()
                        ),
                    );
                    c.rpc(
                        "files/search_v2",
                        Some(&rule.search_arg(&self.config.path)),
                        RouteKind::Files,
                    )
                }
                other => other,
            },
        };
        let r = result.map_err(|e| crate::rule_search::search_error(&rule.describe(n), e))?;
        if next.rule == 0 && next.rule_cursor.is_none() {
            changes.push(Change::BeginEnumeration(SCOPE_FILES.into()));
        }
        let found = r.matches.len();
        let entries: Vec<Metadata> = r
            .matches
            .into_iter()
            .filter_map(|m| m.metadata.metadata)
            .filter(|m| match m {
                Metadata::File(f) => self.seen.insert(f.id.clone()),
                Metadata::Folder(f) => self.seen.insert(f.id.clone()),
                // Search results name deleted files without an id: nothing to index.
                _ => false,
            })
            .collect();
        let root = Unit::root();
        let owner = self.owner.clone();
        let mut nested = BTreeMap::new();
        let access = if next.clear_access {
            Access::Clear
        } else {
            Access::Omit
        };
        self.build(
            &root,
            Some(&owner),
            None,
            entries,
            &access,
            None,
            &mut nested,
            changes,
        )?;
        self.progress(found, "found by the advanced rules");
        match r
            .cursor
            .filter(|c| r.has_more && !c.is_empty() && Some(c) != next.rule_cursor.as_ref())
        {
            Some(cursor) => next.rule_cursor = Some(cursor),
            None => {
                next.rule += 1;
                next.rule_cursor = None;
            }
        }
        Ok(Flow::Page)
    }

    // ---------------------------------------------------------------- received files

    fn received_step(
        &mut self,
        next: &mut Checkpoint,
        changes: &mut Vec<Change>,
    ) -> Result<Flow, Error> {
        let c = client(&self.transport, &self.config, self.account.context());
        let first = || {
            c.rpc::<ListFilesResult>(
                "sharing/list_received_files",
                Some(&json!({ "limit": RECEIVED_LIMIT })),
                RouteKind::Files,
            )
            .map_err(CallError::into_error)
        };
        let previous = next.received_cursor.clone();
        let r = match &previous {
            None => {
                let r = first()?;
                changes.push(Change::BeginEnumeration(SCOPE_RECEIVED.into()));
                r
            }
            Some(cursor) => match c.rpc::<ListFilesResult>(
                "sharing/list_received_files/continue",
                Some(&json!({ "cursor": cursor })),
                RouteKind::Files,
            ) {
                Ok(r) => r,
                Err(e) if e.api().is_some_and(|a| a.is_409(&["invalid_cursor"])) => {
                    // begin("received") is already open on the host: restarting the walk
                    // only re-upserts what it saw, so no begin is emitted again.
                    self.transport.log(
                        Level::Warn,
                        "Dropbox refused the received-files cursor (409 invalid_cursor); restarting that walk",
                    );
                    first()?
                }
                Err(e) => return Err(e.into_error()),
            },
        };
        let n = r.entries.len();
        let access = if self.config.dls {
            Access::Allow(self.owner.iter().cloned().collect())
        } else if next.clear_access {
            Access::Clear
        } else {
            Access::Omit
        };
        for f in &r.entries {
            if let Some(change) = self.received_change(&c, f, &access)? {
                changes.push(change);
            }
        }
        self.progress(n, "received files read");
        // The walk ends when the cursor is absent; a cursor that does not move also ends it,
        // so a misbehaving server cannot keep the session spinning.
        match r
            .cursor
            .filter(|c| !c.is_empty() && Some(c) != previous.as_ref())
        {
            Some(cursor) => next.received_cursor = Some(cursor),
            None => {
                changes.push(Change::EndEnumeration(SCOPE_RECEIVED.into()));
                next.received_cursor = None;
                next.stage = Stage::Events;
            }
        }
        Ok(Flow::Page)
    }

    /// Resolve one received file through its shared link. Files mounted in the Dropbox are
    /// skipped (the listing has them); files whose link cannot be read are logged and skipped.
    fn received_change(
        &self,
        c: &Client<'_, T>,
        f: &SharedFileMetadata,
        access: &Access,
    ) -> Result<Option<Change>, Error> {
        if f.path_lower.is_some() {
            return Ok(None);
        }
        let link: SharedLinkMetadata = match c.rpc(
            "sharing/get_shared_link_metadata",
            Some(&json!({ "url": f.preview_url })),
            RouteKind::Files,
        ) {
            Ok(l) => l,
            Err(CallError::Status(e)) if matches!(e.status, 403 | 404 | 409) => {
                self.transport.log(
                    Level::Warn,
                    &format!(
                        "skipping received file {:?} ({}): its shared link cannot be read ({})",
                        f.name,
                        f.id,
                        e.label()
                    ),
                );
                return Ok(None);
            }
            Err(e) => return Err(e.into_error()),
        };
        if link.tag == "folder" {
            self.transport.log(
                Level::Debug,
                &format!("skipping received entry {:?}: the link is a folder", f.name),
            );
            return Ok(None);
        }
        let access = if self.config.dls {
            access
        } else {
            &Access::Omit
        };
        Ok(Some(Change::Upsert(received_document(f, &link, c, access))))
    }

    // ---------------------------------------------------------------- events

    fn event_step(
        &mut self,
        next: &mut Checkpoint,
        changes: &mut Vec<Change>,
    ) -> Result<Flow, Error> {
        if !self.events_apply(next) {
            next.stage = Stage::Access;
            return Ok(Flow::Next);
        }
        if !self.events_started {
            // Members may have changed since the listing read them.
            self.acl.clear();
            self.events_started = true;
        }
        let category = CATEGORIES[next.event_category];
        let Some(work) = self.events.as_mut() else {
            let cursor = next.events.get(category).cloned().unwrap_or_default();
            let page = events::read(&self.team_client(), category, &cursor)?;
            if page.membership_changed {
                next.refresh_access = true;
            }
            if !page.affected.is_empty() {
                self.transport.log(
                    Level::Info,
                    &format!(
                        "{} item(s) whose members changed: re-reading them",
                        page.affected.len()
                    ),
                );
            }
            self.events = Some(EventWork {
                cursor: page.cursor,
                has_more: page.has_more,
                items: page.affected.into(),
                walk: None,
            });
            return Ok(Flow::Page);
        };
        if let Some((i, cursor)) = work.walk.clone() {
            let unit = next.units[i].clone();
            let c = client(&self.transport, &self.config, self.context_of(&unit));
            let r: ListFolderResult = c
                .rpc(
                    "files/list_folder/continue",
                    Some(&json!({ "cursor": cursor })),
                    RouteKind::Files,
                )
                .map_err(CallError::into_error)?;
            self.rebuild(next, i, None, r.entries, changes)?;
            if let Some(w) = self.events.as_mut() {
                w.walk = r.has_more.then_some((i, r.cursor));
            }
            return Ok(Flow::Page);
        }
        if work.items.is_empty() {
            let done = self.events.take();
            if let Some(w) = done {
                next.events.insert(category.to_string(), w.cursor);
                if !w.has_more {
                    next.event_category += 1;
                }
            }
            return Ok(Flow::Next);
        }
        // A folder: re-read it and everything below it.
        if let Some(folder) = work.items.front().filter(|a| a.folder).cloned() {
            let Some((i, path)) = self.locate(next, &folder) else {
                self.events.as_mut().map(|w| w.items.pop_front());
                return Ok(Flow::Next);
            };
            let unit = next.units[i].clone();
            let c = client(&self.transport, &self.config, self.context_of(&unit));
            let mut arg = self.list_arg(&unit);
            arg["path"] = json!(path);
            // The namespace's own folder: its listing does not include it, so read it too.
            let is_root = unit.kind != UnitKind::Root
                && folder.ns == unit.ns
                && folder.path.as_deref().is_none_or(|p| p == "/");
            let root = if is_root {
                self.unit_root(&unit)?
            } else {
                None
            };
            let r = match c.rpc::<ListFolderResult>(
                "files/list_folder",
                Some(&arg),
                RouteKind::Files,
            ) {
                Ok(r) => r,
                Err(e) if e.api().is_some_and(|a| a.status == 409) => {
                    // Gone or out of reach since: the listing deltas say what became of it.
                    self.events.as_mut().map(|w| w.items.pop_front());
                    return Ok(Flow::Next);
                }
                Err(e) => return Err(e.into_error()),
            };
            self.rebuild(next, i, root, r.entries, changes)?;
            if let Some(w) = self.events.as_mut() {
                w.items.pop_front();
                w.walk = r.has_more.then_some((i, r.cursor));
            }
            return Ok(Flow::Page);
        }
        // Files: fetch their metadata together, then rebuild them per unit.
        let batch: Vec<Affected> = work
            .items
            .iter()
            .take_while(|a| !a.folder)
            .take(EVENT_ITEMS_PER_STEP)
            .cloned()
            .collect();
        let located: Vec<Option<(usize, String)>> =
            batch.iter().map(|a| self.locate(next, a)).collect();
        let mut by_unit: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for (i, path) in located.into_iter().flatten() {
            by_unit.entry(i).or_default().push(path);
        }
        for (i, paths) in by_unit {
            let unit = next.units[i].clone();
            let c = client(&self.transport, &self.config, self.context_of(&unit));
            let calls: Vec<(&str, Value, RouteKind)> = paths
                .iter()
                .map(|p| ("files/get_metadata", json!({ "path": p }), RouteKind::Files))
                .collect();
            let mut entries = Vec::new();
            for answer in c.send_rpcs(&calls) {
                match answer.and_then(|r| decode::<Metadata>("files/get_metadata", r)) {
                    Ok(m) => entries.push(m),
                    Err(CallError::Status(e)) if e.status == 409 => {}
                    Err(e) => return Err(e.into_error()),
                }
            }
            self.rebuild(next, i, None, entries, changes)?;
        }
        if let Some(w) = self.events.as_mut() {
            w.items.drain(..batch.len());
        }
        Ok(Flow::Page)
    }

    /// Upserts for items re-read after a permission change (deleted entries are left to
    /// the listing deltas).
    fn rebuild(
        &mut self,
        next: &mut Checkpoint,
        i: usize,
        unit_root: Option<FolderMetadata>,
        entries: Vec<Metadata>,
        changes: &mut Vec<Change>,
    ) -> Result<(), Error> {
        let unit = next.units[i].clone();
        if unit.kind == UnitKind::MemberFolder {
            self.load_members()?;
        }
        let entries: Vec<Metadata> = entries
            .into_iter()
            .filter(|m| !matches!(m, Metadata::Deleted(_)))
            .collect();
        self.progress(entries.len(), "re-read after permission changes");
        let owner = self.owner_of(&unit);
        let root = (unit.kind == UnitKind::Root).then(|| self.config.path_lower());
        self.build(
            &unit,
            owner.as_ref(),
            unit_root,
            entries,
            &Access::Omit,
            root.as_deref(),
            &mut next.nested,
            changes,
        )
    }

    /// Which unit an item named by the event log belongs to, and how to name it there.
    fn locate(&self, next: &Checkpoint, a: &Affected) -> Option<(usize, String)> {
        if let [unit] = next.units.as_slice()
            && unit.kind == UnitKind::Root
        {
            return a.id.clone().map(|id| (0, id));
        }
        let ns = a.ns.as_deref()?;
        if let Some(i) = next.units.iter().position(|u| u.ns.as_deref() == Some(ns)) {
            let path = a.id.clone().or_else(|| a.path.clone())?;
            return Some((i, path));
        }
        let parent = next.nested.get(ns)?;
        let i = next
            .units
            .iter()
            .position(|u| u.ns.as_ref() == Some(parent))?;
        a.id.clone().map(|id| (i, id))
    }

    // ---------------------------------------------------------------- access control

    fn access_step(
        &mut self,
        next: &mut Checkpoint,
        changes: &mut Vec<Change>,
    ) -> Result<Flow, Error> {
        if !(self.config.dls && next.refresh_access) {
            next.stage = Stage::Done;
            return Ok(Flow::Next);
        }
        if self.is_team() {
            self.load_members()?;
        }
        if self.access_sent == 0 {
            changes.push(Change::BeginEnumeration(SCOPE_ACCESS.into()));
        }
        let docs: Vec<Change> = match &self.members {
            Some(members) if self.is_team() => members
                .iter()
                .filter(|m| m.searches() && !m.email.is_empty())
                .skip(self.access_sent)
                .take(ACCESS_DOCS_PER_PAGE)
                .map(|m| Change::Upsert(access::document(&Person::from(m))))
                .collect(),
            _ if self.access_sent == 0 => vec![Change::Upsert(access::document(&Person {
                account_id: Some(&self.account.account_id),
                email: &self.account.email,
                display_name: &self.account.display_name,
                groups: &[],
                status: "active",
                created_at: None,
            }))],
            _ => Vec::new(),
        };
        self.access_sent += docs.len();
        let last = docs.len() < ACCESS_DOCS_PER_PAGE;
        changes.extend(docs);
        if last {
            changes.push(Change::EndEnumeration(SCOPE_ACCESS.into()));
            self.transport.log(
                Level::Info,
                &format!("{} access-control document(s) written", self.access_sent),
            );
            self.access_sent = 0;
            next.refresh_access = false;
            next.stage = Stage::Done;
        }
        Ok(Flow::Page)
    }

    fn progress(&mut self, n: usize, what: &str) {
        self.entries += n as u64;
        let page = self.pages + 1;
        self.transport.log(
            Level::Debug,
            &format!("page {page}: {n} {what} ({} in total)", self.entries),
        );
        if page.is_multiple_of(INFO_EVERY) {
            self.transport.log(
                Level::Info,
                &format!("{} entries processed after {page} pages", self.entries),
            );
        }
    }
}
