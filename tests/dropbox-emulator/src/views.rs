//! A caller's window onto the global tree.
//!
//! Every account has a *virtual* path space: the global tree (team root `""`) with other
//! members' homes and the team folders it cannot open hidden, plus the shared folders it
//! cannot reach through their parent mounted at `/<its home>/<name>`. A [`View`] is a prefix
//! of that space (the home, the team root, or a namespace). Paths in requests and responses
//! are virtual; the tree and the journal are global, so a view maps both ways.

use crate::acl::NsKind;
use crate::state::{Node, World, lower, parent};
use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;

/// Which window a view is (recorded in cursors, rebuilt on every call).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ViewKind {
    /// The account's home namespace.
    Home,
    /// The team root (personal accounts: the home).
    Root,
    /// One namespace (Path-Root `namespace_id`, `ns:` paths).
    Ns(String),
    /// Every namespace (admin ground truth).
    Whole,
}

/// A namespace mounted at a virtual path other than its global one.
#[derive(Clone, Debug)]
pub struct ViewMount {
    /// Namespace id.
    pub ns: String,
    /// Virtual lower path of the mount point.
    pub virt_lower: String,
    /// Virtual display path.
    pub virt_display: String,
    /// Global lower path of the namespace's mount point.
    pub target_lower: String,
    /// Global display path.
    pub target_display: String,
}

/// The caller's window onto the tree.
#[derive(Clone, Debug)]
pub struct View {
    /// Index into [`World::accounts`].
    pub account: usize,
    /// Which window.
    pub kind: ViewKind,
    /// An admin acting team-wide (Select-Admin): reaches every namespace.
    pub admin: bool,
    /// Namespaces as they are (admin namespace views, the whole tree): no per-member mounts.
    pub physical: bool,
    /// Virtual lower path that is `""` for this caller.
    pub prefix_lower: String,
    /// Virtual display path of the prefix.
    pub prefix_display: String,
    /// Global lower path of the view's root folder.
    pub root_global: String,
    hidden: HashSet<String>,
    mounts: Vec<ViewMount>,
    by_target: HashMap<String, usize>,
    by_virt: HashMap<String, usize>,
}

/// `/a` of `/a/b/c`.
pub fn top_component(global_lower: &str) -> &str {
    match global_lower.get(1..).and_then(|r| r.find('/')) {
        Some(i) => &global_lower[..=i],
        None => global_lower,
    }
}

/// Whether `path` is `base` or below it.
pub fn at_or_below(path: &str, base: &str) -> bool {
    path == base || (path.starts_with(base) && path.as_bytes().get(base.len()) == Some(&b'/'))
}

/// Whether `path` is strictly below `base` (`""` is the root).
pub fn strictly_below(path: &str, base: &str) -> bool {
    path.len() > base.len() && path.starts_with(base) && path.as_bytes()[base.len()] == b'/'
}

/// The byte offset in `display` after its first `n` components.
fn after_components(display: &str, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    display
        .match_indices('/')
        .nth(n)
        .map_or(display.len(), |(i, _)| i)
}

impl View {
    fn build(
        account: usize,
        kind: ViewKind,
        hidden: HashSet<String>,
        mounts: Vec<ViewMount>,
    ) -> Self {
        let by_target = mounts
            .iter()
            .enumerate()
            .map(|(i, m)| (m.target_lower.clone(), i))
            .collect();
        let by_virt = mounts
            .iter()
            .enumerate()
            .map(|(i, m)| (m.virt_lower.clone(), i))
            .collect();
        View {
            account,
            kind,
            admin: false,
            physical: false,
            prefix_lower: String::new(),
            prefix_display: String::new(),
            root_global: String::new(),
            hidden,
            mounts,
            by_target,
            by_virt,
        }
    }

    /// Re-root at a virtual folder (must be visible).
    fn rooted(mut self, kind: ViewKind, virt_lower: &str, virt_display: &str) -> Option<Self> {
        self.root_global = self.to_global(virt_lower)?;
        self.kind = kind;
        self.prefix_lower = virt_lower.to_string();
        self.prefix_display = virt_display.to_string();
        Some(self)
    }

    /// `Some(Some(i))`: mapped through mount `i`; `Some(None)`: visible as is; `None`: hidden.
    fn map_out(&self, global_lower: &str) -> Option<Option<usize>> {
        if !self.by_target.is_empty() {
            let mut p = global_lower;
            while !p.is_empty() {
                if let Some(&i) = self.by_target.get(p) {
                    return Some(Some(i));
                }
                p = parent(p);
            }
        }
        if global_lower.is_empty() || !self.hidden.contains(top_component(global_lower)) {
            Some(None)
        } else {
            None
        }
    }

    /// The virtual lower path of a global path, if visible in this account's space.
    pub fn virt_lower(&self, global_lower: &str) -> Option<String> {
        match self.map_out(global_lower)? {
            Some(i) => {
                let m = &self.mounts[i];
                Some(format!(
                    "{}{}",
                    m.virt_lower,
                    &global_lower[m.target_lower.len()..]
                ))
            }
            None => Some(global_lower.to_string()),
        }
    }

    /// The virtual display path of a global path.
    pub fn virt_display(&self, global_lower: &str, global_display: &str) -> Option<String> {
        match self.map_out(global_lower)? {
            Some(i) => {
                let m = &self.mounts[i];
                let rest = global_display.get(m.target_display.len()..).unwrap_or("");
                Some(format!("{}{rest}", m.virt_display))
            }
            None => Some(global_display.to_string()),
        }
    }

    fn map_in(&self, virt_lower: &str) -> Option<Option<usize>> {
        if !self.by_virt.is_empty() {
            let mut p = virt_lower;
            while !p.is_empty() {
                if let Some(&i) = self.by_virt.get(p) {
                    return Some(Some(i));
                }
                p = parent(p);
            }
        }
        if virt_lower.is_empty() || !self.hidden.contains(top_component(virt_lower)) {
            Some(None)
        } else {
            None
        }
    }

    /// The global lower path of a virtual one (`None` inside a hidden area).
    pub fn to_global(&self, virt_lower: &str) -> Option<String> {
        match self.map_in(virt_lower)? {
            Some(i) => {
                let m = &self.mounts[i];
                Some(format!(
                    "{}{}",
                    m.target_lower,
                    &virt_lower[m.virt_lower.len()..]
                ))
            }
            None => Some(virt_lower.to_string()),
        }
    }

    /// The global display path of a virtual display path (for writes).
    pub fn to_global_display(&self, virt_display: &str) -> Option<String> {
        match self.map_in(&lower(virt_display))? {
            Some(i) => {
                let m = &self.mounts[i];
                let n = m.virt_lower.matches('/').count();
                let cut = after_components(virt_display, n);
                Some(format!("{}{}", m.target_display, &virt_display[cut..]))
            }
            None => Some(virt_display.to_string()),
        }
    }

    /// Whether a global path is visible in this account's space (ignores the prefix).
    pub fn visible(&self, global_lower: &str) -> bool {
        self.map_out(global_lower).is_some()
    }

    /// Whether a global path lies strictly inside this view and is visible.
    pub fn contains(&self, global_lower: &str) -> bool {
        self.virt_lower(global_lower)
            .is_some_and(|v| strictly_below(&v, &self.prefix_lower))
    }

    /// Path relative to the view (lower).
    pub fn rel_lower(&self, global_lower: &str) -> String {
        let v = self
            .virt_lower(global_lower)
            .unwrap_or_else(|| global_lower.to_string());
        self.strip(&v, &self.prefix_lower)
    }

    /// Path relative to the view (display).
    pub fn rel_display(&self, global_lower: &str, global_display: &str) -> String {
        let v = self
            .virt_display(global_lower, global_display)
            .unwrap_or_else(|| global_display.to_string());
        self.strip(&v, &self.prefix_display)
    }

    /// Strip the view prefix from a virtual path.
    pub fn strip(&self, virt: &str, prefix: &str) -> String {
        virt.get(prefix.len()..).unwrap_or("").to_string()
    }

    /// Whether a top-level global path is hidden.
    pub fn hidden_top(&self, global_lower: &str) -> bool {
        self.hidden.contains(top_component(global_lower))
    }

    /// The view's own mounts (shared folders mounted in the home).
    pub fn mounts(&self) -> &[ViewMount] {
        &self.mounts
    }

    /// Whether a virtual path is one of this view's mount points.
    pub fn mount_of_virt(&self, virt_lower: &str) -> bool {
        self.by_virt.contains_key(virt_lower)
    }

    /// The mount with this namespace id.
    pub fn mount_of(&self, ns: &str) -> Option<&ViewMount> {
        self.mounts.iter().find(|m| m.ns == ns)
    }

    /// The pieces a listing of virtual folder `listed` walks: the folder itself (global
    /// subtree), then each mount below it in virtual-path order.
    pub fn segments(&self, listed_virt: &str, recursive: bool) -> Vec<Segment> {
        let mut out = Vec::new();
        if let Some(g) = self.to_global(listed_virt) {
            out.push(Segment {
                root_global: g,
                virt: listed_virt.to_string(),
                is_mount: false,
            });
        }
        let mut ms: Vec<&ViewMount> = self
            .mounts
            .iter()
            .filter(|m| {
                strictly_below(&m.virt_lower, listed_virt)
                    && (recursive || parent(&m.virt_lower) == listed_virt)
            })
            .collect();
        ms.sort_by(|a, b| a.virt_lower.cmp(&b.virt_lower));
        out.extend(ms.into_iter().map(|m| Segment {
            root_global: m.target_lower.clone(),
            virt: m.virt_lower.clone(),
            is_mount: true,
        }));
        out
    }
}

/// One piece of a listing: a global subtree shown at a virtual path.
#[derive(Clone, Debug)]
pub struct Segment {
    /// Global lower path of the subtree root.
    pub root_global: String,
    /// Virtual lower path of the subtree root.
    pub virt: String,
    /// A mount: its root node is itself an entry of the listing.
    pub is_mount: bool,
}

/// Whether a namespace mount point lies strictly between `listed` and `virt` (both virtual).
pub fn inside_mount(world: &World, view: &View, listed: &str, virt: &str) -> bool {
    let mut p = parent(virt);
    while p.len() > listed.len() {
        if view.mount_of_virt(p)
            || view
                .to_global(p)
                .is_some_and(|g| world.ns_at.contains_key(&g))
        {
            return true;
        }
        p = parent(p);
    }
    false
}

/// Where a resumable scan stopped.
#[derive(Clone, Debug, Default)]
pub struct ScanPos {
    /// Virtual path of the mount segment being scanned (`None`: the listed folder itself).
    pub seg: Option<String>,
    /// Last emitted global key.
    pub key: Option<String>,
}

/// Listing options that shape a scan.
#[derive(Clone, Copy, Debug)]
pub struct ScanOpts {
    /// Descend into sub-folders.
    pub recursive: bool,
    /// Descend into mounted namespaces (`include_mounted_folders`).
    pub mounted: bool,
}

/// Walk a virtual folder in listing order (parents first), resumable from `pos`. `emit`
/// returns `false` to stop (the page is full); the result is `true` when the walk finished.
pub fn scan(
    world: &World,
    view: &View,
    listed_virt: &str,
    opts: ScanOpts,
    pos: &mut ScanPos,
    emit: &mut dyn FnMut(&Arc<Node>) -> bool,
) -> bool {
    let mut segs = view.segments(listed_virt, opts.recursive);
    if !opts.mounted {
        // Without mounted folders, a mount inside another namespace (a share mounted in a home
        // listed from the team root) is content of that namespace, not of the listing.
        segs.retain(|s| !s.is_mount || !inside_mount(world, view, listed_virt, &s.virt));
    }
    let (start, resume) = match &pos.seg {
        None => (0, true),
        Some(v) => match segs.iter().position(|s| s.is_mount && &s.virt == v) {
            Some(i) => (i, true),
            // The mount went away meanwhile: carry on with the next one.
            None => (
                segs.iter()
                    .position(|s| s.is_mount && s.virt > *v)
                    .unwrap_or(segs.len()),
                false,
            ),
        },
    };
    for (i, seg) in segs.iter().enumerate().skip(start) {
        let resume_key = if i == start && resume {
            pos.key.take()
        } else {
            None
        };
        pos.seg = seg.is_mount.then(|| seg.virt.clone());
        pos.key = None;
        if !scan_segment(world, view, seg, opts, resume_key, pos, emit) {
            return false;
        }
    }
    pos.seg = None;
    pos.key = None;
    true
}

fn scan_segment(
    world: &World,
    view: &View,
    seg: &Segment,
    opts: ScanOpts,
    resume: Option<String>,
    pos: &mut ScanPos,
    emit: &mut dyn FnMut(&Arc<Node>) -> bool,
) -> bool {
    let root = &seg.root_global;
    let base = format!("{root}/");
    // A mount's content is part of the listing only when recursing into mounted folders.
    let subtree = !seg.is_mount || (opts.recursive && opts.mounted);
    let mut start: Bound<String> = match resume {
        Some(k) if &k == root => {
            if !subtree {
                return true;
            }
            Bound::Included(base.clone())
        }
        Some(k) => {
            let skip_sub = !opts.mounted
                && world
                    .tree
                    .get(&k)
                    .is_some_and(|n| n.mount_ns.is_some() && n.kind == crate::state::Kind::Folder);
            if skip_sub {
                Bound::Included(format!("{k}0"))
            } else {
                Bound::Excluded(k)
            }
        }
        None => {
            if seg.is_mount {
                if let Some(n) = world.tree.get(root) {
                    pos.key = Some(root.clone());
                    if !emit(n) {
                        return false;
                    }
                }
                if !subtree {
                    return true;
                }
            }
            Bound::Included(base.clone())
        }
    };
    let check_hidden = root.is_empty();
    loop {
        let mut jump = None;
        for (k, node) in world
            .tree
            .range::<String, _>((start.clone(), Bound::Unbounded))
        {
            if !k.starts_with(&base) {
                return true;
            }
            if !opts.recursive
                && let Some(i) = k[base.len()..].find('/')
            {
                jump = Some(format!("{}0", &k[..base.len() + i]));
                break;
            }
            if check_hidden {
                let top = top_component(k);
                // Mounted parts of hidden areas come through their own segments.
                if view.hidden_top(top) {
                    if k.len() > top.len() {
                        jump = Some(format!("{top}0"));
                        break;
                    }
                    continue;
                }
            }
            pos.key = Some(k.clone());
            if !emit(node) {
                return false;
            }
            if !opts.mounted && node.mount_ns.is_some() {
                jump = Some(format!("{k}0"));
                break;
            }
        }
        match jump {
            Some(j) => start = Bound::Included(j),
            None => return true,
        }
    }
}

/// Collect a whole virtual folder (admin tree, search, tests).
pub fn collect(world: &World, view: &View, listed_virt: &str, opts: ScanOpts) -> Vec<Arc<Node>> {
    let mut out = Vec::new();
    let mut pos = ScanPos::default();
    scan(world, view, listed_virt, opts, &mut pos, &mut |n| {
        out.push(n.clone());
        true
    });
    out
}

impl World {
    /// An account's team-root space: other homes and unreachable team folders hidden, its
    /// home mounts mapped in.
    fn space(&self, account: usize) -> View {
        let mut hidden = HashSet::new();
        let mut mounts = Vec::new();
        if self.team.is_some() {
            for (i, a) in self.accounts.iter().enumerate() {
                if i != account {
                    hidden.insert(a.home_lower.clone());
                }
            }
            let mine = self.mounts.get(&account);
            for ns in self.namespaces.values() {
                if ns.kind == NsKind::TeamFolder && !mine.is_some_and(|m| m.contains_key(&ns.id)) {
                    hidden.insert(ns.path_lower.clone());
                }
            }
            for (ns_id, m) in mine.into_iter().flatten() {
                let Some(ns) = self.namespaces.get(ns_id) else {
                    continue;
                };
                if ns.kind != NsKind::Shared {
                    continue;
                }
                let target_display = self
                    .tree
                    .get(&ns.path_lower)
                    .map_or_else(|| ns.path_lower.clone(), |n| n.path_display.clone());
                mounts.push(ViewMount {
                    ns: ns_id.clone(),
                    virt_lower: m.virt_lower.clone(),
                    virt_display: m.virt_display.clone(),
                    target_lower: ns.path_lower.clone(),
                    target_display,
                });
            }
        }
        View::build(account, ViewKind::Root, hidden, mounts)
    }

    /// The default view of an account: its home namespace.
    pub fn home_view(&self, account: usize) -> View {
        let account = account.min(self.accounts.len().saturating_sub(1));
        let (l, d) = {
            let a = &self.accounts[account];
            (a.home_lower.clone(), a.home_display.clone())
        };
        let base = self.space(account);
        let fallback = base.clone();
        base.rooted(ViewKind::Home, &l, &d).unwrap_or(fallback)
    }

    /// The team-root view of a member (personal accounts: the home).
    pub fn root_view(&self, account: usize) -> View {
        if self.team.is_none() {
            return self.home_view(account);
        }
        self.space(account)
    }

    /// Every namespace (admin ground truth): removed and invited members' homes hidden, shared
    /// folders inside them still shown where they are.
    pub fn whole_view(&self, account: usize) -> View {
        let mut hidden = HashSet::new();
        let mut mounts = Vec::new();
        for a in &self.accounts {
            // Invited members have no Dropbox yet; removed ones have left.
            let gone = matches!(
                a.status,
                crate::directory::MemberStatus::Removed | crate::directory::MemberStatus::Invited
            );
            if gone && self.team.is_some() {
                hidden.insert(a.home_lower.clone());
                for ns in self.namespaces.values() {
                    if ns.kind == NsKind::Shared && strictly_below(&ns.path_lower, &a.home_lower) {
                        let d = self
                            .tree
                            .get(&ns.path_lower)
                            .map_or_else(|| ns.path_lower.clone(), |n| n.path_display.clone());
                        mounts.push(ViewMount {
                            ns: ns.id.clone(),
                            virt_lower: ns.path_lower.clone(),
                            virt_display: d.clone(),
                            target_lower: ns.path_lower.clone(),
                            target_display: d,
                        });
                    }
                }
            }
        }
        let mut v = View::build(account, ViewKind::Whole, hidden, mounts);
        v.admin = true;
        v.physical = true;
        v
    }

    /// A namespace as it is (admin access): its own subtree, nothing hidden or remapped.
    fn physical_view(&self, account: usize, ns: &crate::acl::Namespace) -> View {
        let display = self
            .tree
            .get(&ns.path_lower)
            .map_or_else(String::new, |n| n.path_display.clone());
        let mut v = View::build(
            account,
            ViewKind::Ns(ns.id.clone()),
            HashSet::new(),
            Vec::new(),
        );
        v.admin = true;
        v.physical = true;
        v.prefix_lower = ns.path_lower.clone();
        v.prefix_display = display;
        v.root_global = ns.path_lower.clone();
        v
    }

    /// The view rooted at namespace `ns`, if `account` may see it. An admin acting team-wide
    /// (`admin`) reaches every namespace as it is.
    pub fn namespace_view(&self, account: usize, ns: &str, admin: bool) -> Option<View> {
        let acc = self.accounts.get(account)?;
        if self.team.is_none() {
            return (acc.home_ns == ns).then(|| self.home_view(account));
        }
        let rec = self.namespaces.get(ns)?;
        match rec.kind {
            // An admin acting team-wide sees the team root as it is: every namespace in it.
            NsKind::Root if admin => Some(self.whole_view(account)),
            NsKind::Root => Some(self.root_view(account)),
            NsKind::Home(o) if o == account => {
                let mut v = self.home_view(account);
                v.admin = admin;
                Some(v)
            }
            _ if admin => Some(self.physical_view(account, rec)),
            NsKind::Home(_) => None,
            NsKind::TeamFolder | NsKind::Shared => {
                let space = self.space(account);
                let node = self.tree.get(&rec.path_lower)?;
                let vl = space.virt_lower(&rec.path_lower)?;
                let vd = space.virt_display(&rec.path_lower, &node.path_display)?;
                space.rooted(ViewKind::Ns(ns.to_string()), &vl, &vd)
            }
        }
    }

    /// Rebuild a view recorded in a cursor.
    pub fn view_of_kind(&self, account: usize, kind: &ViewKind, admin: bool) -> Option<View> {
        self.accounts.get(account)?;
        let mut v = match kind {
            ViewKind::Home => self.home_view(account),
            ViewKind::Root => self.root_view(account),
            ViewKind::Whole => self.whole_view(account),
            ViewKind::Ns(ns) => return self.namespace_view(account, ns, admin),
        };
        v.admin = admin || v.admin;
        Some(v)
    }
}
