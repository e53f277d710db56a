//! list_folder cursors and paging: an initial ordered scan of the tree, then the change journal.
//!
//! A cursor is opaque to clients (base64 of JSON) and records the view, the listed folder, the
//! flags, the phase (scan / tombstones / journal), the scan position, the journal position and
//! the epoch that `/_admin/cursors/reset` bumps.

use crate::errors::ApiError;
use crate::metadata;
use crate::state::{Entry, Node, View, World, parent};
use crate::views::{self, ScanOpts, ScanPos, ViewKind, strictly_below};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::ops::Bound;
use std::sync::Arc;

const SCAN: u8 = 0;
const TOMBSTONES: u8 = 1;
const JOURNAL: u8 = 2;

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Decoded list_folder cursor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cursor {
    /// Epoch at issue.
    pub e: u64,
    /// Account index.
    pub a: usize,
    /// View kind: `h` home, `r` root, `w` whole, `n:<ns>` namespace.
    pub w: String,
    /// Admin acting team-wide.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ad: bool,
    /// Listed folder (virtual lower path in the account's space).
    pub l: String,
    /// Recursive.
    pub r: bool,
    /// include_deleted.
    pub d: bool,
    /// include_non_downloadable_files.
    pub n: bool,
    /// include_mounted_folders.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub x: bool,
    /// include_has_explicit_shared_members.
    #[serde(default, skip_serializing_if = "is_false")]
    pub h: bool,
    /// Journal position.
    pub j: usize,
    /// Phase.
    pub s: u8,
    /// Last emitted scan key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<String>,
    /// Mount segment being scanned (virtual path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub g: Option<String>,
    /// Page size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m: Option<u32>,
}

/// One page of results.
pub struct Page {
    /// Metadata entries.
    pub entries: Vec<Value>,
    /// Cursor for the next call.
    pub cursor: String,
    /// More entries are ready now.
    pub has_more: bool,
}

/// The listing flags of a cursor.
#[derive(Debug, Clone, Copy)]
pub struct Flags {
    /// Recursive.
    pub recursive: bool,
    /// include_deleted.
    pub include_deleted: bool,
    /// include_non_downloadable_files.
    pub include_non_downloadable: bool,
    /// include_mounted_folders.
    pub include_mounted: bool,
    /// include_has_explicit_shared_members.
    pub explicit_members: bool,
}

fn kind_code(k: &ViewKind) -> String {
    match k {
        ViewKind::Home => "h".into(),
        ViewKind::Root => "r".into(),
        ViewKind::Whole => "w".into(),
        ViewKind::Ns(ns) => format!("n:{ns}"),
    }
}

fn parse_kind(s: &str) -> Option<ViewKind> {
    Some(match s {
        "h" => ViewKind::Home,
        "r" => ViewKind::Root,
        "w" => ViewKind::Whole,
        _ => ViewKind::Ns(s.strip_prefix("n:")?.to_string()),
    })
}

impl Cursor {
    /// A cursor for a fresh listing of virtual folder `listed` in `view`.
    pub fn start(
        world: &World,
        view: &View,
        listed: String,
        flags: Flags,
        limit: Option<u32>,
    ) -> Self {
        Cursor {
            e: world.epoch,
            a: view.account,
            w: kind_code(&view.kind),
            ad: view.admin,
            l: listed,
            r: flags.recursive,
            d: flags.include_deleted,
            n: flags.include_non_downloadable,
            x: flags.include_mounted,
            h: flags.explicit_members,
            j: world.journal.len(),
            s: SCAN,
            k: None,
            g: None,
            m: limit,
        }
    }

    /// Skip the initial scan: only future changes.
    pub fn latest(mut self, world: &World) -> Self {
        self.s = JOURNAL;
        self.j = world.journal.len();
        self
    }

    /// Opaque string form.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("AAE{}", URL_SAFE_NO_PAD.encode(json))
    }

    /// Parse; a garbage cursor is a 400.
    pub fn decode(route: &str, s: &str) -> Result<Self, ApiError> {
        let bad = || ApiError::bad(route, "request body: cursor: invalid cursor");
        let raw = s.strip_prefix("AAE").ok_or_else(bad)?;
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        serde_json::from_slice(&bytes).map_err(|_| bad())
    }

    fn opts(&self) -> ScanOpts {
        ScanOpts {
            recursive: self.r,
            mounted: self.x,
        }
    }

    /// Whether a virtual path belongs to this listing.
    fn covers(&self, world: &World, view: &View, virt: &str) -> bool {
        if !strictly_below(virt, &self.l) {
            return false;
        }
        if !self.r && parent(virt) != self.l {
            return false;
        }
        self.x || !views::inside_mount(world, view, &self.l, virt)
    }
}

/// Rebuild the caller's view recorded in a cursor.
pub fn view_of(world: &World, cur: &Cursor) -> Option<View> {
    let kind = parse_kind(&cur.w)?;
    world.view_of_kind(cur.a, &kind, cur.ad)
}

/// Validate a cursor against the world: reset on a stale epoch or a view that is gone,
/// not_found when the folder is gone.
pub fn check(world: &World, cur: &Cursor) -> Result<View, ApiError> {
    if cur.e != world.epoch {
        return Err(ApiError::route("reset"));
    }
    let view = view_of(world, cur).ok_or_else(|| ApiError::route("reset"))?;
    let listed = view
        .to_global(&cur.l)
        .ok_or_else(|| ApiError::path("not_found"))?;
    if !world.is_folder(&view, &listed) {
        return Err(ApiError::path("not_found"));
    }
    Ok(view)
}

fn skip_paper(cur: &Cursor, node: &Node) -> bool {
    !cur.n && node.is_paper()
}

/// What a journal change means for this cursor, if anything.
enum Relevant<'a> {
    Upsert(&'a Arc<Node>),
    Deleted(String, String, &'a str),
    Mounted(&'a Arc<Node>),
}

fn relevant<'a>(
    world: &'a World,
    view: &View,
    cur: &Cursor,
    c: &'a crate::state::Change,
) -> Option<Relevant<'a>> {
    match &c.entry {
        Entry::Upsert(node) => {
            let v = view.virt_lower(&c.path_lower)?;
            (cur.covers(world, view, &v) && !skip_paper(cur, node))
                .then_some(Relevant::Upsert(node))
        }
        Entry::Deleted { path_display, name } => {
            let v = view.virt_lower(&c.path_lower)?;
            if !cur.covers(world, view, &v) {
                return None;
            }
            let d = view.virt_display(&c.path_lower, path_display)?;
            Some(Relevant::Deleted(v, d, name))
        }
        Entry::Mount { account, ns } => {
            if *account != cur.a || view.physical {
                return None;
            }
            let rec = world.namespaces.get(ns)?;
            let v = view.virt_lower(&rec.path_lower)?;
            if !cur.covers(world, view, &v) {
                return None;
            }
            world.tree.get(&rec.path_lower).map(Relevant::Mounted)
        }
        Entry::Unmount {
            account,
            path_display,
            name,
        } => {
            if *account != cur.a || view.physical || !cur.covers(world, view, &c.path_lower) {
                return None;
            }
            Some(Relevant::Deleted(
                c.path_lower.clone(),
                path_display.clone(),
                name,
            ))
        }
    }
}

/// Whether anything is waiting for this cursor (longpoll).
pub fn has_changes(world: &World, view: &View, cur: &Cursor) -> bool {
    if cur.s != JOURNAL {
        return true;
    }
    world.journal[cur.j.min(world.journal.len())..]
        .iter()
        .any(|c| relevant(world, view, cur, c).is_some())
}

fn render(world: &World, view: &View, cur: &Cursor, node: &Node) -> Value {
    metadata::render_with(world, view, node, true, cur.h)
}

/// Produce the next page and advance the cursor.
pub fn page(world: &World, view: &View, mut cur: Cursor) -> Page {
    let limit = cur.m.unwrap_or(2000).clamp(1, 2000) as usize;
    let mut entries = Vec::new();
    if cur.s == SCAN {
        let mut pos = ScanPos {
            seg: cur.g.take(),
            key: cur.k.take(),
        };
        let finished = {
            let c = &cur;
            views::scan(world, view, &c.l.clone(), c.opts(), &mut pos, &mut |n| {
                if skip_paper(c, n) {
                    return true;
                }
                entries.push(render(world, view, c, n));
                entries.len() < limit
            })
        };
        if !finished {
            cur.g = pos.seg;
            cur.k = pos.key;
            return Page {
                entries,
                cursor: cur.encode(),
                has_more: true,
            };
        }
        cur.s = if cur.d { TOMBSTONES } else { JOURNAL };
        cur.k = None;
        cur.g = None;
        if entries.len() >= limit {
            return Page {
                entries,
                cursor: cur.encode(),
                has_more: true,
            };
        }
    }
    if cur.s == TOMBSTONES {
        let start: Bound<String> = match cur.k.take() {
            Some(k) => Bound::Excluded(k),
            None => Bound::Unbounded,
        };
        for (k, (display, name)) in world
            .tombstones
            .range::<String, _>((start, Bound::Unbounded))
        {
            let Some(v) = view.virt_lower(k) else {
                continue;
            };
            if !cur.covers(world, view, &v) {
                continue;
            }
            let d = view.virt_display(k, display).unwrap_or_default();
            entries.push(metadata::render_deleted_virtual(view, &v, &d, name));
            if entries.len() >= limit {
                cur.k = Some(k.clone());
                return Page {
                    entries,
                    cursor: cur.encode(),
                    has_more: true,
                };
            }
        }
        cur.s = JOURNAL;
        cur.k = None;
    }
    let len = world.journal.len();
    let mut i = cur.j.min(len);
    while i < len && entries.len() < limit {
        let c = &world.journal[i];
        i += 1;
        match relevant(world, view, &cur, c) {
            None => {}
            Some(Relevant::Upsert(node)) => entries.push(render(world, view, &cur, node)),
            Some(Relevant::Deleted(v, d, name)) => {
                entries.push(metadata::render_deleted_virtual(view, &v, &d, name))
            }
            Some(Relevant::Mounted(node)) => {
                // A newly mounted folder arrives whole, like a fresh listing of it (the
                // approximate `limit` allows a page to run over).
                entries.push(render(world, view, &cur, node));
                if cur.r && cur.x {
                    let base = format!("{}/", node.path_lower);
                    for (k, n) in world.tree.range::<String, _>(base.clone()..) {
                        if !k.starts_with(&base) {
                            break;
                        }
                        if !skip_paper(&cur, n) {
                            entries.push(render(world, view, &cur, n));
                        }
                    }
                }
            }
        }
    }
    cur.j = i;
    Page {
        entries,
        has_more: i < len,
        cursor: cur.encode(),
    }
}
