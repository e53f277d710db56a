//! Document-level security: who may open an item, as identities in Elastic's format.
//!
//! An item's identities are the union of
//! - its explicit members (files: `sharing/list_file_members/batch`, every continuation
//!   followed, so a file shared with 500 people carries 500 people);
//! - the members of the shared folder it lives in (`sharing/list_folder_members`, all
//!   pages), and with `include_inherited_users_and_groups` those who reach it through the
//!   folders above it (the same route given a `path` inside the folder: Dropbox then walks
//!   the parents itself, the team space included);
//! - its owner when no shared folder covers it (a member's private file: that member).
//!
//! Lookups for a page of items are batched and sent through the host's `send-many`, so they
//! run concurrently under the host's limits and pacing instead of one by one on the
//! listing's critical path. Identities are always prefixed (`user_id:`, `email:`,
//! `group:`), the owner's included. Nothing is added for the admin unless the admin is a
//! member. An item nobody can be shown to gets [`NO_ONE`], never an empty list: Elastic's
//! query template treats a missing field as "visible to everyone".

use std::collections::{BTreeSet, HashMap};

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::api::{FileMembersBatchItem, Members};
use crate::client::{CallError, Client, Level, Response, RouteKind, Transport, decode};
use crate::error::Error;

/// The identity of no one: what an item carries when no member can be found, so the DLS
/// query (which shows documents *without* the field to everyone) hides it instead.
pub const NO_ONE: &str = "none:";
/// Files per `list_file_members/batch` call (Dropbox's maximum).
const FILES_PER_BATCH: usize = 100;
/// Members per file in a batch answer; the rest are read with `list_file_members/continue`.
pub const MEMBERS_PER_FILE: u32 = 100;
/// Members per `list_folder_members` page (Dropbox's maximum).
const FOLDER_MEMBERS_LIMIT: u32 = 1000;
/// Folders remembered per run before the cache starts over (bounds memory).
const MAX_CACHED_FOLDERS: usize = 20_000;

/// A sorted set of prefixed identities.
pub type Identities = BTreeSet<String>;

/// `user_id:<account id>` and `email:<address>` of one person.
pub fn person(account_id: Option<&str>, email: Option<&str>) -> Identities {
    let mut out = Identities::new();
    if let Some(a) = account_id.filter(|a| !a.is_empty()) {
        out.insert(format!("user_id:{a}"));
    }
    if let Some(e) = email.filter(|e| !e.is_empty()) {
        out.insert(format!("email:{e}"));
    }
    out
}

/// Add the identities of one page of members. Members without access are skipped;
/// inherited ones only when asked for.
fn add_members(out: &mut Identities, m: &Members, with_inherited: bool) {
    let counts =
        |access: &str, inherited: bool| access != "no_access" && (with_inherited || !inherited);
    for u in &m.users {
        if counts(&u.access_type.tag, u.is_inherited) {
            out.extend(person(Some(&u.user.account_id), u.user.email.as_deref()));
        }
    }
    for g in &m.groups {
        if counts(&g.access_type.tag, g.is_inherited) && !g.group.group_id.is_empty() {
            out.insert(format!("group:{}", g.group.group_id));
        }
    }
    for i in &m.invitees {
        if !counts(&i.access_type.tag, i.is_inherited) {
            continue;
        }
        if i.invitee.tag == "email"
            && let Some(e) = i.invitee.email.as_deref().filter(|e| !e.is_empty())
        {
            out.insert(format!("email:{e}"));
        }
        if let Some(u) = &i.user {
            out.extend(person(Some(&u.account_id), u.email.as_deref()));
        }
    }
}

/// What one shared folder contributes.
#[derive(Debug, Default)]
struct Folder {
    members: Identities,
    /// Its members could not be read: it contributes nobody.
    failed: bool,
}

/// Shared-folder members, read once per run.
#[derive(Debug, Default)]
pub struct AclCache {
    folders: HashMap<String, Folder>,
}

impl AclCache {
    /// Forget everything (permissions may have changed since it was read).
    pub fn clear(&mut self) {
        self.folders.clear();
    }

    /// The identities of shared folder `id`.
    fn folder_identities(&self, id: &str, out: &mut Identities) {
        if let Some(folder) = self.folders.get(id).filter(|f| !f.failed) {
            out.extend(folder.members.iter().cloned());
        }
    }
}

/// What decides who may open one item.
#[derive(Debug, Clone, Copy, Default)]
pub struct AclRequest<'a> {
    /// A file whose explicit members count (None for folders, and for files Dropbox says
    /// have no explicit members).
    pub file: Option<&'a str>,
    /// The shared folder the item is in (or is the root of).
    pub shared_folder: Option<&'a str>,
    /// The item's path as the lookups' context sees it: inside `shared_folder`, it lets
    /// Dropbox return the members inherited from above (with inherited access on).
    pub path: Option<&'a str>,
    /// Who has the item when no shared folder covers it.
    pub owner: Option<&'a Identities>,
}

/// One lookup in flight.
enum Lookup {
    /// `list_file_members/batch` for up to 100 files.
    Batch(Vec<String>),
    /// `list_file_members/continue` for one file.
    FileMore { file: String, cursor: String },
    /// `list_folder_members`, first page (with a path inside it for inherited members).
    Folder(String, Option<String>),
    /// `list_folder_members/continue`.
    FolderMore { folder: String, cursor: String },
}

impl Lookup {
    fn call(&self) -> (&'static str, Value) {
        match self {
            Lookup::Batch(files) => (
                "sharing/list_file_members/batch",
                json!({"files": files, "limit": MEMBERS_PER_FILE}),
            ),
            Lookup::FileMore { cursor, .. } => (
                "sharing/list_file_members/continue",
                json!({"cursor": cursor}),
            ),
            Lookup::Folder(id, path) => {
                let mut arg = json!({"shared_folder_id": id, "limit": FOLDER_MEMBERS_LIMIT});
                if let Some(p) = path {
                    arg["path"] = json!(p);
                }
                ("sharing/list_folder_members", arg)
            }
            Lookup::FolderMore { cursor, .. } => (
                "sharing/list_folder_members/continue",
                json!({"cursor": cursor}),
            ),
        }
    }
}

/// Resolves the identities of items through `client` (whose context decides whose view
/// the lookups see).
pub struct Resolver<'c, 'a, T: Transport> {
    pub client: &'c Client<'a, T>,
    pub cache: &'c mut AclCache,
    pub include_inherited: bool,
}

impl<T: Transport> Resolver<'_, '_, T> {
    /// The identities of each item, in order. Transient failures fail the whole call (the
    /// page is retried from its checkpoint); an item whose members Dropbox refuses to show
    /// keeps only what is known, never more.
    pub fn resolve(&mut self, items: &[AclRequest<'_>]) -> Result<Vec<Vec<String>>, Error> {
        if self.cache.folders.len() > MAX_CACHED_FOLDERS {
            self.cache.clear();
        }
        let mut files: HashMap<String, Identities> = HashMap::new();
        let mut work: Vec<Lookup> = Vec::new();
        let mut batch: Vec<String> = Vec::new();
        for item in items {
            if let Some(f) = item.file
                && !files.contains_key(f)
            {
                files.insert(f.to_string(), Identities::new());
                batch.push(f.to_string());
                if batch.len() == FILES_PER_BATCH {
                    work.push(Lookup::Batch(std::mem::take(&mut batch)));
                }
            }
            if let Some(folder) = item.shared_folder {
                let path = item.path.filter(|_| self.include_inherited);
                self.want_folder(folder, path, &mut work);
            }
        }
        if !batch.is_empty() {
            work.push(Lookup::Batch(batch));
        }
        // Folders first seen by this call: forgotten again if it fails, so a retry reads them.
        let fresh: Vec<String> = work
            .iter()
            .filter_map(|l| match l {
                Lookup::Folder(id, _) => Some(id.clone()),
                _ => None,
            })
            .collect();
        let result = self.run(work, &mut files);
        if result.is_err() {
            for id in &fresh {
                self.cache.folders.remove(id);
            }
        }
        result?;
        Ok(items
            .iter()
            .map(|item| {
                let mut ids = Identities::new();
                if let Some(f) = item.file.and_then(|f| files.get(f)) {
                    ids.extend(f.iter().cloned());
                }
                match item.shared_folder {
                    Some(folder) => self.cache.folder_identities(folder, &mut ids),
                    None => {
                        if let Some(owner) = item.owner {
                            ids.extend(owner.iter().cloned());
                        }
                    }
                }
                if ids.is_empty() {
                    vec![NO_ONE.to_string()]
                } else {
                    ids.into_iter().collect()
                }
            })
            .collect())
    }

    /// Run lookups in rounds until nothing is left to read.
    fn run(
        &mut self,
        mut work: Vec<Lookup>,
        files: &mut HashMap<String, Identities>,
    ) -> Result<(), Error> {
        while !work.is_empty() {
            let round = std::mem::take(&mut work);
            let calls: Vec<(&str, Value, RouteKind)> = round
                .iter()
                .map(|l| {
                    let (route, arg) = l.call();
                    (route, arg, RouteKind::Files)
                })
                .collect();
            let answers = self.client.send_rpcs(&calls);
            for (lookup, answer) in round.into_iter().zip(answers) {
                self.settle(lookup, answer, files, &mut work)?;
            }
        }
        Ok(())
    }

    fn want_folder(&mut self, id: &str, path: Option<&str>, work: &mut Vec<Lookup>) {
        if self.cache.folders.contains_key(id) {
            return;
        }
        self.cache.folders.insert(id.to_string(), Folder::default());
        work.push(Lookup::Folder(id.to_string(), path.map(str::to_string)));
    }

    fn warn(&self, message: String) {
        self.client.transport.log(Level::Warn, &message);
    }

    /// Apply one answer; queue what it says is left to read.
    fn settle(
        &mut self,
        lookup: Lookup,
        answer: Result<Response, CallError>,
        files: &mut HashMap<String, Identities>,
        work: &mut Vec<Lookup>,
    ) -> Result<(), Error> {
        let (route, _) = lookup.call();
        let with_inherited = self.include_inherited;
        match lookup {
            Lookup::Batch(ids) => {
                let Some(items) = self.answer::<Vec<FileMembersBatchItem>>(route, answer)? else {
                    self.warn(format!(
                        "Dropbox refused to list the members of {} file(s) ({} …): they keep only their folder's members",
                        ids.len(),
                        ids[0]
                    ));
                    return Ok(());
                };
                for item in items {
                    let Some(set) = files.get_mut(&item.file) else {
                        continue;
                    };
                    match (item.result.tag.as_str(), item.result.members) {
                        ("result", Some(m)) => {
                            add_members(set, &m, with_inherited);
                            if let Some(cursor) = m.cursor.filter(|c| !c.is_empty()) {
                                work.push(Lookup::FileMore {
                                    file: item.file,
                                    cursor,
                                });
                            }
                        }
                        (tag, _) => self.client.transport.log(
                            Level::Debug,
                            &format!(
                                "no explicit members for {} ({tag} {}): it keeps its folder's members",
                                item.file,
                                item.result.access_error.unwrap_or_default()
                            ),
                        ),
                    }
                }
            }
            Lookup::FileMore { file, cursor } => {
                let Some(m) = self.answer::<Members>(route, answer)? else {
                    self.warn(format!(
                        "Dropbox refused the next page of members of {file}: the members read so far are kept"
                    ));
                    return Ok(());
                };
                if let Some(set) = files.get_mut(&file) {
                    add_members(set, &m, with_inherited);
                }
                if let Some(next) = m.cursor.filter(|c| !c.is_empty() && *c != cursor) {
                    work.push(Lookup::FileMore { file, cursor: next });
                }
            }
            Lookup::Folder(id, _) | Lookup::FolderMore { folder: id, .. }
                if self.cache.folders.get(&id).is_some_and(|f| f.failed) => {}
            Lookup::Folder(folder, _) => self.folder_page(route, answer, folder, None, work)?,
            Lookup::FolderMore { folder, cursor } => {
                self.folder_page(route, answer, folder, Some(cursor), work)?
            }
        }
        Ok(())
    }

    fn folder_page(
        &mut self,
        route: &str,
        answer: Result<Response, CallError>,
        folder: String,
        cursor: Option<String>,
        work: &mut Vec<Lookup>,
    ) -> Result<(), Error> {
        let with_inherited = self.include_inherited;
        let Some(m) = self.answer::<Members>(route, answer)? else {
            self.warn(format!(
                "Dropbox refused to list the members of shared folder {folder}: its items are shown to nobody through it until a later sync can read them"
            ));
            if let Some(f) = self.cache.folders.get_mut(&folder) {
                f.failed = true;
            }
            return Ok(());
        };
        if let Some(f) = self.cache.folders.get_mut(&folder) {
            add_members(&mut f.members, &m, with_inherited);
        }
        if let Some(next) = m
            .cursor
            .filter(|c| !c.is_empty() && Some(c) != cursor.as_ref())
        {
            work.push(Lookup::FolderMore {
                folder,
                cursor: next,
            });
        }
        Ok(())
    }

    /// Decode an answer. A 409 (the item or its members are out of reach) is `None`;
    /// everything else that is not a success fails the lookup as a whole.
    fn answer<R: DeserializeOwned>(
        &self,
        route: &str,
        answer: Result<Response, CallError>,
    ) -> Result<Option<R>, Error> {
        match answer.and_then(|resp| decode::<R>(route, resp)) {
            Ok(r) => Ok(Some(r)),
            Err(CallError::Status(e)) if e.status == 409 => {
                self.client
                    .transport
                    .log(Level::Debug, &format!("{route} answered {}", e.label()));
                Ok(None)
            }
            Err(e) => Err(e.into_error()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_become_prefixed_identities() {
        let m: Members = serde_json::from_value(json!({
            "users": [
                {"access_type": {".tag": "owner"}, "user": {"account_id": "dbid:A", "email": "a@x.org", "display_name": "A"}},
                {"access_type": {".tag": "no_access"}, "user": {"account_id": "dbid:Z", "email": "z@x.org"}},
                {"access_type": {".tag": "viewer"}, "is_inherited": true, "user": {"account_id": "dbid:I"}}],
            "groups": [{"access_type": {".tag": "editor"}, "group": {"group_id": "g:1", "group_name": "Fin"}}],
            "invitees": [
                {"access_type": {".tag": "viewer"}, "invitee": {".tag": "email", "email": "guest@y.org"}},
                {"access_type": {".tag": "viewer"}, "invitee": {".tag": "email", "email": "b@x.org"},
                 "user": {"account_id": "dbid:B"}}]
        }))
        .unwrap();
        let mut out = Identities::new();
        add_members(&mut out, &m, false);
        assert_eq!(
            out.into_iter().collect::<Vec<_>>(),
            [
                "email:a@x.org",
                "email:b@x.org",
                "email:guest@y.org",
                "group:g:1",
                "user_id:dbid:A",
                "user_id:dbid:B"
            ]
        );
        let mut out = Identities::new();
        add_members(&mut out, &m, true);
        assert!(out.contains("user_id:dbid:I"));
        assert!(!out.contains("user_id:dbid:Z"));
    }

    #[test]
    fn person_skips_what_is_missing() {
        assert_eq!(person(Some(""), None), Identities::new());
        assert_eq!(person(Some("dbid:A"), None).len(), 1);
    }
}
