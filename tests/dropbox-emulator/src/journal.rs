//! list_folder cursors and paging: an initial ordered scan of the tree, then the change journal.
//!
//! A cursor is opaque to clients (base64 of JSON) and records the view, the listed folder, the
//! flags, the phase (scan / tombstones / journal), the scan position, the journal position and
//! the epoch that `/_admin/cursors/reset` bumps.

use crate::errors::ApiError;
use crate::metadata;
use crate::state::{Entry, View, World};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::ops::Bound;

const SCAN: u8 = 0;
const TOMBSTONES: u8 = 1;
const JOURNAL: u8 = 2;

/// Decoded list_folder cursor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cursor {
    /// Epoch at issue.
    pub e: u64,
    /// Account index.
    pub a: usize,
    /// View prefix (global lower path that is the caller's root).
    pub v: String,
    /// Listed folder (global lower path).
    pub l: String,
    /// Recursive.
    pub r: bool,
    /// include_deleted.
    pub d: bool,
    /// include_non_downloadable_files.
    pub n: bool,
    /// Journal position.
    pub j: usize,
    /// Phase.
    pub s: u8,
    /// Last emitted scan key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<String>,
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

impl Cursor {
    /// A cursor for a fresh listing of `listed` in `view`.
    pub fn start(
        world: &World,
        view: &View,
        listed: String,
        recursive: bool,
        include_deleted: bool,
        include_nd: bool,
        limit: Option<u32>,
    ) -> Self {
        Cursor {
            e: world.epoch,
            a: view.account,
            v: view.prefix_lower.clone(),
            l: listed,
            r: recursive,
            d: include_deleted,
            n: include_nd,
            j: world.journal.len(),
            s: SCAN,
            k: None,
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

    fn base(&self) -> String {
        format!("{}/", self.l)
    }

    /// Whether a journal change concerns this listing.
    fn relevant(&self, base: &str, view: &View, path_lower: &str) -> bool {
        path_lower.starts_with(base)
            && (self.r || !path_lower[base.len()..].contains('/'))
            && view.visible(path_lower)
    }
}

/// Rebuild the caller's view recorded in a cursor.
pub fn view_of(world: &World, cur: &Cursor) -> Option<View> {
    let acc = world.accounts.get(cur.a)?;
    if world.team.is_none() || cur.v == acc.home_lower {
        return Some(world.home_view(cur.a));
    }
    if cur.v.is_empty() {
        return Some(world.root_view(cur.a));
    }
    let team = world.team.as_ref()?;
    let tf = team.folders.iter().find(|f| f.path_lower == cur.v)?;
    world.namespace_view(cur.a, &tf.ns)
}

/// Validate a cursor against the world: reset on a stale epoch, not_found when the folder is gone.
pub fn check(world: &World, cur: &Cursor) -> Result<View, ApiError> {
    if cur.e != world.epoch {
        return Err(ApiError::route("reset"));
    }
    let view = view_of(world, cur).ok_or_else(|| ApiError::route("reset"))?;
    if !world.is_folder(&view, &cur.l) {
        return Err(ApiError::path("not_found"));
    }
    Ok(view)
}

/// Whether anything is waiting for this cursor (longpoll).
pub fn has_changes(world: &World, view: &View, cur: &Cursor) -> bool {
    if cur.s != JOURNAL {
        return true;
    }
    let base = cur.base();
    world.journal[cur.j.min(world.journal.len())..]
        .iter()
        .any(|c| cur.relevant(&base, view, &c.path_lower) && !skip_paper(cur, &c.entry))
}

fn skip_paper(cur: &Cursor, e: &Entry) -> bool {
    !cur.n && matches!(e, Entry::Upsert(n) if n.is_paper())
}

/// Produce the next page and advance the cursor.
pub fn page(world: &World, view: &View, mut cur: Cursor) -> Page {
    let limit = cur.m.unwrap_or(2000).clamp(1, 2000) as usize;
    let base = cur.base();
    let mut entries = Vec::new();
    if cur.s == SCAN {
        let mut start: Bound<String> = match cur.k.take() {
            Some(k) => Bound::Excluded(k),
            None => Bound::Included(base.clone()),
        };
        'scan: loop {
            let mut jump = None;
            for (k, node) in world
                .tree
                .range::<String, _>((start.clone(), Bound::Unbounded))
            {
                if !k.starts_with(&base) {
                    break 'scan;
                }
                if !cur.r
                    && let Some(i) = k[base.len()..].find('/')
                {
                    jump = Some(format!("{}0", &k[..base.len() + i]));
                    break;
                }
                if let Some(h) = view.hidden.iter().find(|h| {
                    k.starts_with(h.as_str())
                        && matches!(k.as_bytes().get(h.len()), None | Some(b'/'))
                }) {
                    if k.len() > h.len() {
                        jump = Some(format!("{h}0"));
                        break;
                    }
                    continue;
                }
                if !cur.n && node.is_paper() {
                    continue;
                }
                entries.push(metadata::render(world, view, node, true));
                if entries.len() >= limit {
                    cur.k = Some(k.clone());
                    return Page {
                        entries,
                        cursor: cur.encode(),
                        has_more: true,
                    };
                }
            }
            match jump {
                Some(j) => start = Bound::Included(j),
                None => break,
            }
        }
        cur.s = if cur.d { TOMBSTONES } else { JOURNAL };
        cur.k = None;
    }
    if cur.s == TOMBSTONES {
        let start: Bound<String> = match cur.k.take() {
            Some(k) => Bound::Excluded(k),
            None => Bound::Included(base.clone()),
        };
        for (k, (display, name)) in world
            .tombstones
            .range::<String, _>((start, Bound::Unbounded))
        {
            if !k.starts_with(&base) {
                break;
            }
            if !cur.relevant(&base, view, k) {
                continue;
            }
            entries.push(metadata::render_deleted(view, k, display, name));
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
    while i < len {
        let c = &world.journal[i];
        i += 1;
        if !cur.relevant(&base, view, &c.path_lower) || skip_paper(&cur, &c.entry) {
            continue;
        }
        entries.push(match &c.entry {
            Entry::Upsert(node) => metadata::render(world, view, node, true),
            Entry::Deleted { path_display, name } => {
                metadata::render_deleted(view, &c.path_lower, path_display, name)
            }
        });
        if entries.len() >= limit {
            break;
        }
    }
    cur.j = i;
    Page {
        entries,
        has_more: i < len,
        cursor: cur.encode(),
    }
}
