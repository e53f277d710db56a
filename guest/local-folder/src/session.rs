//! The sync session: one walk of the root, a page of documents per `next_page` call and a
//! checkpoint on every page.
//!
//! Every session is a complete walk: `begin-enumeration("files")`, pages of upserts,
//! `end-enumeration("files")`, after which the host purges whatever the walk did not see
//! (deleted and moved entries). A plain directory has no change feed, so an incremental run
//! is a walk too; what makes it cheap is the content key: the host skips reading every file
//! whose key did not change. A session started from the checkpoint of an interrupted walk
//! resumes that walk after the last path it visited, without a new `begin-enumeration`
//! (the host kept the open one with the checkpoint). Like any walk, it reflects each part of
//! the directory as it was when that part was read: an entry deleted behind the resume point
//! was already seen by this enumeration and goes at the end of the next walk.

use crate::checkpoint::Checkpoint;
use crate::config::Config;
use crate::document::{Change, SCOPE, document};
use crate::error::Error;
use crate::identity::Root;
use crate::log::{Level, Log};
use crate::walk::{Kind, Options, Step, Walker};

/// Documents per page: big enough to amortise a host round trip, small enough that a page
/// (and the bulk request the host makes of it) stays a few megabytes.
pub const PAGE_ENTRIES: usize = 1000;
/// Entries visited per page, reported or not: bounds the time of a page that mostly skips
/// (an `include` that matches little of a big tree).
pub const PAGE_VISITS: usize = 20_000;
/// Bytes hashed per page with `content_key = "hash"`: keeps one `next-page` call far below the
/// host's per-call time limit even when a page meets large files.
pub const PAGE_HASH_BYTES: u64 = 256 * 1024 * 1024;
/// Entries with a `read_error` logged one by one before the log only counts them.
const LOGGED_PROBLEMS: u64 = 100;

/// A page of changes (mirrors WIT `page`).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub changes: Vec<Change>,
    pub checkpoint: Option<String>,
    pub has_more: bool,
}

/// Counts for the log.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    files: u64,
    folders: u64,
    problems: u64,
    hashed_bytes: u64,
}

/// One sync run.
pub struct Session<L: Log> {
    log: L,
    config: Config,
    walker: Walker,
    /// The root held open for identities (checkpoint and content keys).
    identity: Root,
    root_id: Option<String>,
    begin_pending: bool,
    /// The final checkpoint once the walk is complete.
    done: Option<String>,
    tally: Tally,
}

impl<L: Log> Session<L> {
    /// Check the checkpoint and the root, and start or resume the walk.
    pub fn start(log: L, config: Config, checkpoint: Option<&str>) -> Result<Self, Error> {
        let checkpoint = checkpoint.map(Checkpoint::decode).transpose()?;
        let root = config.open_root()?;
        let identity = Root::open(&config.root);
        let root_id = identity.id();
        if let Some(cp) = &checkpoint {
            cp.verify(&config, root_id.as_deref())?;
        }
        let options = Options {
            filter: config.filter.clone(),
            follow_symlinks: config.follow_symlinks,
            max_depth: config.max_depth,
        };
        let resume_after = checkpoint.filter(|cp| !cp.complete).and_then(|cp| cp.after);
        let walker = match &resume_after {
            Some(after) => Walker::resume(&root, options, after),
            None => Walker::new(&root, options),
        }
        // `open_root` just listed it: failing now means it changed under us; try again later.
        .map_err(|e| Error::Transient(format!("root {:?} cannot be listed ({e})", config.root)))?;
        log.log(
            Level::Info,
            &match &resume_after {
                Some(after) => format!("resuming the walk of {:?} after /{after}", config.root),
                None => format!("walking {:?}", config.root),
            },
        );
        Ok(Session {
            log,
            config,
            walker,
            identity,
            root_id,
            begin_pending: resume_after.is_none(),
            done: None,
            tally: Tally::default(),
        })
    }

    /// Produce the next page.
    pub fn next_page(&mut self) -> Result<Page, Error> {
        if let Some(cp) = &self.done {
            return Ok(Page {
                changes: Vec::new(),
                checkpoint: Some(cp.clone()),
                has_more: false,
            });
        }
        let mut changes = Vec::new();
        if self.begin_pending {
            changes.push(Change::BeginEnumeration(SCOPE.into()));
            self.begin_pending = false;
        }
        let mut emitted = 0;
        let mut visits = 0;
        let mut hashed = 0u64;
        let mut finished = false;
        while emitted < PAGE_ENTRIES && visits < PAGE_VISITS && hashed < PAGE_HASH_BYTES {
            visits += 1;
            match self.walker.step() {
                Step::Done => {
                    finished = true;
                    break;
                }
                Step::Skipped => {}
                Step::Entry(entry) => {
                    match entry.kind {
                        Kind::File => self.tally.files += 1,
                        Kind::Folder => self.tally.folders += 1,
                        Kind::Symlink | Kind::Unknown => {}
                    }
                    let (doc, n) = document(
                        *entry,
                        &self.config.root,
                        &self.identity,
                        self.config.content_key,
                    );
                    hashed += n;
                    if let Some(why) = doc.fields.get("read_error").and_then(|v| v.as_str()) {
                        self.problem(doc.fields["path"].as_str().unwrap_or_default(), why);
                    }
                    changes.push(Change::Upsert(doc));
                    emitted += 1;
                }
            }
        }
        self.tally.hashed_bytes += hashed;
        for note in self.walker.take_notes() {
            self.log.log(Level::Warn, &note);
        }
        if finished {
            changes.push(Change::EndEnumeration(SCOPE.into()));
            let t = self.tally;
            self.log.log(
                Level::Info,
                &format!(
                    "walk of {:?} complete: {} files, {} folders, {} entries with a read_error{}",
                    self.config.root,
                    t.files,
                    t.folders,
                    t.problems,
                    if t.hashed_bytes > 0 {
                        format!(", {} bytes hashed", t.hashed_bytes)
                    } else {
                        String::new()
                    }
                ),
            );
            let cp = Checkpoint::complete(&self.config, self.root_id.clone()).encode();
            self.done = Some(cp.clone());
            return Ok(Page {
                changes,
                checkpoint: Some(cp),
                has_more: false,
            });
        }
        self.log.log(
            Level::Debug,
            &format!(
                "{} files and {} folders so far",
                self.tally.files, self.tally.folders
            ),
        );
        Ok(Page {
            changes,
            checkpoint: self.walker.position().map(|after| {
                Checkpoint::walking(&self.config, self.root_id.clone(), after).encode()
            }),
            has_more: true,
        })
    }

    fn problem(&mut self, path: &str, why: &str) {
        self.tally.problems += 1;
        if self.tally.problems <= LOGGED_PROBLEMS {
            self.log.log(Level::Warn, &format!("{path}: {why}"));
        } else if self.tally.problems == LOGGED_PROBLEMS + 1 {
            self.log.log(
                Level::Warn,
                "more entries have a read_error; they are counted at the end of the walk and searchable by their read_error field",
            );
        }
    }
}
