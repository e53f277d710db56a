//! The sync state machine: one Dropbox page per `next_page` call, a checkpoint on every page.
//!
//! Full sync: begin("files") → list_folder/continue pages → end("files") → begin("received")
//! → list_received_files pages → end("received") → final "delta" checkpoint.
//! Incremental sync (a "delta" checkpoint): list_folder/continue from the cursor, applied in
//! order (upserts and subtree deletes), then the received files again (no delta API exists
//! for them), then the final checkpoint.

use serde_json::json;

use crate::account::{self, Account};
use crate::api::{
    ListFilesResult, ListFolderResult, Metadata, SharedFileMetadata, SharedLinkMetadata,
};
use crate::checkpoint::{Checkpoint, Identity, Phase, VERSION};
use crate::client::{CallError, Client, Level, RouteKind, Transport};
use crate::config::Config;
use crate::document::{
    Change, SCOPE_FILES, SCOPE_RECEIVED, delete_tree, file_document_owned, folder_document_owned,
    received_document,
};
use crate::error::Error;

/// Entries per `list_folder` page (Dropbox's maximum).
const LIST_LIMIT: u32 = 2000;
/// Entries per `list_received_files` page (Dropbox's maximum).
const RECEIVED_LIMIT: u32 = 300;
/// Log progress at info level every this many pages.
const INFO_EVERY: u64 = 10;

/// A page of changes (mirrors WIT `page`).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub changes: Vec<Change>,
    pub checkpoint: Option<String>,
    pub has_more: bool,
}

/// What the next `next_page` call does.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Start the full listing (emits begin("files")).
    ListStart,
    /// Continue the full listing.
    ListContinue { cursor: String },
    /// Apply changes after `cursor`.
    Delta { cursor: String },
    /// Start the received-files walk (emits begin("received")).
    ReceivedStart { list_cursor: String },
    /// Continue the received-files walk.
    ReceivedContinue { list_cursor: String, cursor: String },
    /// Nothing left; repeat the final checkpoint.
    Done { checkpoint: String },
}

/// One sync run.
pub struct Session<T: Transport> {
    transport: T,
    config: Config,
    account: Account,
    identity: Identity,
    step: Step,
    pages: u64,
    entries: u64,
}

impl<T: Transport> Session<T> {
    /// Detect the account, check the checkpoint against it and decide where to start.
    pub fn start(transport: T, config: Config, checkpoint: Option<&str>) -> Result<Self, Error> {
        let checkpoint = checkpoint.map(Checkpoint::decode).transpose()?;
        let account = account::detect(&transport, &config)?;
        let identity = account.identity(&config);
        let step = match checkpoint {
            None => Step::ListStart,
            Some(cp) => {
                cp.verify(&identity)?;
                match cp.phase {
                    Phase::Listing => Step::ListContinue { cursor: cp.cursor },
                    Phase::Delta => Step::Delta { cursor: cp.cursor },
                    Phase::Received => match cp.received_cursor {
                        Some(cursor) => Step::ReceivedContinue {
                            list_cursor: cp.cursor,
                            cursor,
                        },
                        None => Step::ReceivedStart {
                            list_cursor: cp.cursor,
                        },
                    },
                }
            }
        };
        transport.log(
            Level::Info,
            &format!(
                "Dropbox account {} ({}), path {:?}: {}",
                if account.email.is_empty() {
                    &account.account_id
                } else {
                    &account.email
                },
                account.describe(),
                config.path_for_display(),
                match &step {
                    Step::ListStart => "full sync",
                    Step::ListContinue { .. } => "resuming the full listing",
                    Step::Delta { .. } => "incremental sync",
                    Step::ReceivedStart { .. } | Step::ReceivedContinue { .. } =>
                        "resuming the received-files walk",
                    Step::Done { .. } => "done",
                }
            ),
        );
        Ok(Session {
            transport,
            config,
            account,
            identity,
            step,
            pages: 0,
            entries: 0,
        })
    }

    /// Produce the next page. On error the state is unchanged, so a retry repeats the call.
    pub fn next_page(&mut self) -> Result<Page, Error> {
        let (page, next) = match self.step.clone() {
            // Resumed in the received walk after include_received_files was switched off:
            // close the scope empty so the files indexed earlier are removed.
            Step::ReceivedStart { list_cursor } if !self.config.include_received_files => self
                .finish(
                    vec![
                        Change::BeginEnumeration(SCOPE_RECEIVED.into()),
                        Change::EndEnumeration(SCOPE_RECEIVED.into()),
                    ],
                    &list_cursor,
                ),
            Step::ReceivedContinue { list_cursor, .. } if !self.config.include_received_files => {
                self.finish(
                    vec![Change::EndEnumeration(SCOPE_RECEIVED.into())],
                    &list_cursor,
                )
            }
            Step::ListStart => {
                let arg = json!({
                    "path": self.config.path,
                    "recursive": true,
                    "limit": LIST_LIMIT,
                    "include_non_downloadable_files": true,
                });
                let r = self.list("files/list_folder", &arg)?;
                let begin = vec![Change::BeginEnumeration(SCOPE_FILES.into())];
                self.listing_page(r, begin, true)?
            }
            Step::ListContinue { cursor } => {
                let r = self.list_continue(&cursor)?;
                self.listing_page(r, Vec::new(), true)?
            }
            Step::Delta { cursor } => {
                let r = self.list_continue(&cursor)?;
                self.listing_page(r, Vec::new(), false)?
            }
            Step::ReceivedStart { list_cursor } => {
                let r: ListFilesResult = self
                    .client()
                    .rpc(
                        "sharing/list_received_files",
                        Some(&json!({ "limit": RECEIVED_LIMIT })),
                        RouteKind::Files,
                    )
                    .map_err(CallError::into_error)?;
                let begin = vec![Change::BeginEnumeration(SCOPE_RECEIVED.into())];
                self.received_page(r, None, list_cursor, begin)?
            }
            Step::ReceivedContinue {
                list_cursor,
                cursor,
            } => {
                let r = match self.client().rpc::<ListFilesResult>(
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
                        self.client()
                            .rpc(
                                "sharing/list_received_files",
                                Some(&json!({ "limit": RECEIVED_LIMIT })),
                                RouteKind::Files,
                            )
                            .map_err(CallError::into_error)?
                    }
                    Err(e) => return Err(e.into_error()),
                };
                self.received_page(r, Some(cursor), list_cursor, Vec::new())?
            }
            Step::Done { checkpoint } => (
                Page {
                    changes: Vec::new(),
                    checkpoint: Some(checkpoint.clone()),
                    has_more: false,
                },
                Step::Done { checkpoint },
            ),
        };
        self.step = next;
        self.pages += 1;
        Ok(page)
    }

    fn client(&self) -> Client<'_, T> {
        Client {
            transport: &self.transport,
            config: &self.config,
            context: self.account.context(),
        }
    }

    fn list(&self, route: &str, arg: &serde_json::Value) -> Result<ListFolderResult, Error> {
        self.client()
            .rpc(route, Some(arg), RouteKind::Files)
            .map_err(|e| account::path_error(&self.config, e))
    }

    /// `list_folder/continue` from a stored cursor. Dropbox answers 400 to a cursor it cannot
    /// read (corrupted or from another app): the checkpoint is unusable, start over.
    fn list_continue(&self, cursor: &str) -> Result<ListFolderResult, Error> {
        self.client()
            .rpc(
                "files/list_folder/continue",
                Some(&json!({ "cursor": cursor })),
                RouteKind::Files,
            )
            .map_err(|e| match e.api() {
                Some(api) if api.status == 400 => Error::CheckpointMismatch(format!(
                    "Dropbox refused the stored list_folder cursor (400: {}); run `tributary sync --full` to start over",
                    api.text.chars().take(200).collect::<String>()
                )),
                _ => account::path_error(&self.config, e),
            })
    }

    fn checkpoint(&self, phase: Phase, cursor: &str, received_cursor: Option<&str>) -> String {
        Checkpoint {
            v: VERSION,
            account: self.identity.account.clone(),
            root: self.identity.root.clone(),
            path: self.identity.path.clone(),
            phase,
            cursor: cursor.to_string(),
            received_cursor: received_cursor.map(str::to_string),
        }
        .encode()
    }

    /// Turn a list_folder page into changes and decide the next step.
    /// `full`: part of a full enumeration (ends with end("files")); otherwise a delta.
    fn listing_page(
        &mut self,
        mut r: ListFolderResult,
        mut changes: Vec<Change>,
        full: bool,
    ) -> Result<(Page, Step), Error> {
        let client = self.client();
        let n = r.entries.len();
        changes.reserve(n);
        for entry in std::mem::take(&mut r.entries) {
            match entry {
                Metadata::File(f) => changes.push(Change::Upsert(file_document_owned(f, &client))),
                Metadata::Folder(f) => changes.push(Change::Upsert(folder_document_owned(
                    f,
                    &self.config.web_url,
                ))),
                Metadata::Deleted(d) => match &d.path_lower {
                    Some(p) => changes.push(delete_tree(p)),
                    None => self.transport.log(
                        Level::Warn,
                        &format!("skipping a deleted entry without a path ({:?})", d.name),
                    ),
                },
                Metadata::Unknown => self.transport.log(
                    Level::Warn,
                    "skipping a list_folder entry of an unknown kind",
                ),
            }
        }
        drop(client);
        self.progress(n, if full { "listed" } else { "changes read" });
        if r.has_more {
            let phase = if full { Phase::Listing } else { Phase::Delta };
            let step = if full {
                Step::ListContinue {
                    cursor: r.cursor.clone(),
                }
            } else {
                Step::Delta {
                    cursor: r.cursor.clone(),
                }
            };
            return Ok((
                Page {
                    changes,
                    checkpoint: Some(self.checkpoint(phase, &r.cursor, None)),
                    has_more: true,
                },
                step,
            ));
        }
        if full {
            changes.push(Change::EndEnumeration(SCOPE_FILES.into()));
            self.transport.log(
                Level::Info,
                &format!("listing complete: {} entries", self.entries),
            );
        }
        Ok(self.files_done(changes, r.cursor))
    }

    /// The folder is up to date at `list_cursor`: go on to received files or finish.
    fn files_done(&self, mut changes: Vec<Change>, list_cursor: String) -> (Page, Step) {
        if self.config.include_received_files {
            let cp = self.checkpoint(Phase::Received, &list_cursor, None);
            return (
                Page {
                    changes,
                    checkpoint: Some(cp),
                    has_more: true,
                },
                Step::ReceivedStart { list_cursor },
            );
        }
        // Received files are switched off: an empty enumeration removes any indexed earlier.
        changes.push(Change::BeginEnumeration(SCOPE_RECEIVED.into()));
        changes.push(Change::EndEnumeration(SCOPE_RECEIVED.into()));
        self.finish(changes, &list_cursor)
    }

    fn finish(&self, changes: Vec<Change>, list_cursor: &str) -> (Page, Step) {
        let cp = self.checkpoint(Phase::Delta, list_cursor, None);
        (
            Page {
                changes,
                checkpoint: Some(cp.clone()),
                has_more: false,
            },
            Step::Done { checkpoint: cp },
        )
    }

    /// Turn a list_received_files page into changes and decide the next step.
    fn received_page(
        &mut self,
        r: ListFilesResult,
        previous_cursor: Option<String>,
        list_cursor: String,
        mut changes: Vec<Change>,
    ) -> Result<(Page, Step), Error> {
        let n = r.entries.len();
        for f in &r.entries {
            if let Some(change) = self.received_change(f)? {
                changes.push(change);
            }
        }
        self.progress(n, "received files read");
        // The walk ends when the cursor is absent; a cursor that does not move also ends it,
        // so a misbehaving server cannot keep the session spinning.
        match r
            .cursor
            .filter(|c| !c.is_empty() && Some(c) != previous_cursor.as_ref())
        {
            Some(cursor) => {
                let cp = self.checkpoint(Phase::Received, &list_cursor, Some(&cursor));
                Ok((
                    Page {
                        changes,
                        checkpoint: Some(cp),
                        has_more: true,
                    },
                    Step::ReceivedContinue {
                        list_cursor,
                        cursor,
                    },
                ))
            }
            None => {
                changes.push(Change::EndEnumeration(SCOPE_RECEIVED.into()));
                Ok(self.finish(changes, &list_cursor))
            }
        }
    }

    /// Resolve one received file through its shared link. Files mounted in the Dropbox are
    /// skipped (the listing has them); files whose link cannot be read are logged and skipped.
    fn received_change(&self, f: &SharedFileMetadata) -> Result<Option<Change>, Error> {
        if f.path_lower.is_some() {
            return Ok(None);
        }
        let client = self.client();
        let link: SharedLinkMetadata = match client.rpc(
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
        Ok(Some(Change::Upsert(received_document(f, &link, &client))))
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
