//! A deterministic, resumable walk of the root.
//!
//! Order: depth first, a folder before its contents, the entries of a folder sorted by name
//! (byte order of the UTF-8 name). That order is the component-wise order of the relative
//! paths, so "the last path visited" is enough to resume: [`Walker::resume`] goes back down
//! that path and continues right after it. Only the folders on the current path are held in
//! memory (each as its sorted list of names), never the whole tree.
//!
//! Nothing the walk meets is fatal. An entry whose metadata cannot be read, a folder that
//! cannot be listed, a link that cannot be followed: each becomes an [`Entry`] with a
//! `read_error` (it is indexed, so the problem is visible where people search). Entries
//! that vanish between listing and reading are dropped quietly: the walk simply did not see
//! them, exactly as if it had run a moment later.

use std::fs::{self, File, Metadata};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::filter::Filter;
use crate::symlink;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Folder,
    /// A link that could not be followed (its `read_error` says why).
    Symlink,
    /// Metadata unreadable: the kind is not known.
    Unknown,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Folder => "folder",
            Kind::Symlink => "symlink",
            Kind::Unknown => "unknown",
        }
    }
}

/// One entry the walk reports.
#[derive(Debug)]
pub struct Entry {
    /// Path relative to the root, without a leading `/` ("a/b.txt").
    pub rel: String,
    /// Where the entry really is, relative to the root: `rel` unless a followed link lies on
    /// the way. Content is read from here.
    pub real: String,
    pub name: String,
    pub kind: Kind,
    /// Metadata of the entry (of the link's target for a followed link).
    pub meta: Option<Metadata>,
    /// Why the entry could not be read completely.
    pub read_error: Option<String>,
    /// The target of a link, as written in the link.
    pub link_target: Option<String>,
}

/// What one [`Walker::step`] call did.
#[derive(Debug)]
pub enum Step {
    Entry(Box<Entry>),
    /// An entry was visited and left out (excluded, not a file or folder, a link when links
    /// are not followed, vanished). It still moves the resume position.
    Skipped,
    Done,
}

/// Walk settings.
#[derive(Debug, Clone)]
pub struct Options {
    pub filter: Filter,
    pub follow_symlinks: bool,
    pub max_depth: Option<u32>,
}

/// A folder being walked.
#[derive(Debug)]
struct Frame {
    rel: String,
    real: String,
    depth: u32,
    names: Vec<String>,
    next: usize,
}

/// The walk's state: the stack of open folders.
pub struct Walker {
    root: PathBuf,
    options: Options,
    stack: Vec<Frame>,
    position: Option<String>,
    notes: Vec<String>,
}

/// What visiting one name produced: maybe an entry to report, maybe a folder to walk.
struct Visit {
    entry: Option<Entry>,
    frame: Option<Frame>,
}

impl Walker {
    /// Start a walk at the root. The root itself must be listable (checked by the caller,
    /// whose error names the config field).
    pub fn new(root: &Path, options: Options) -> std::io::Result<Walker> {
        let mut notes = Vec::new();
        let names = list(root, "", &mut notes)?;
        Ok(Walker {
            root: root.to_path_buf(),
            options,
            stack: vec![Frame {
                rel: String::new(),
                real: String::new(),
                depth: 0,
                names,
                next: 0,
            }],
            position: None,
            notes,
        })
    }

    /// Continue a walk right after `after` (a path visited by an earlier walk with the same
    /// settings). Parts of that path that no longer exist are skipped over: the walk goes on
    /// with the first name that sorts after them.
    pub fn resume(root: &Path, options: Options, after: &str) -> std::io::Result<Walker> {
        let mut w = Walker::new(root, options)?;
        for part in after.split('/').filter(|p| !p.is_empty()) {
            let Some(top) = w.stack.last_mut() else { break };
            let pos = top.names.partition_point(|n| n.as_str() <= part);
            top.next = pos;
            let exact = pos > 0 && top.names[pos - 1] == part;
            if !exact {
                break;
            }
            // The folder at this part was reported already (it precedes its contents): walk
            // into it again without reporting it. The last part too: when the checkpoint is
            // a folder, its contents come next.
            match w.visit(part).frame {
                Some(frame) => w.stack.push(frame),
                None => break,
            }
        }
        w.position = Some(after.to_string());
        Ok(w)
    }

    /// The last path visited (the resume point), if any.
    pub fn position(&self) -> Option<&str> {
        self.position.as_deref()
    }

    /// Things worth a warning that belong to no entry (e.g. a name that is not UTF-8).
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// Visit the next name.
    pub fn step(&mut self) -> Step {
        loop {
            let Some(top) = self.stack.last_mut() else {
                return Step::Done;
            };
            if top.next >= top.names.len() {
                self.stack.pop();
                continue;
            }
            let name = top.names[top.next].clone();
            top.next += 1;
            let visit = self.visit(&name);
            // The position is the path just visited, whatever came of it.
            self.position = self.stack.last().map(|f| join(&f.rel, &name));
            if let Some(frame) = visit.frame {
                self.stack.push(frame);
            }
            return match visit.entry {
                Some(e) => Step::Entry(Box::new(e)),
                None => Step::Skipped,
            };
        }
    }

    /// Look at `name` in the folder on top of the stack.
    fn visit(&mut self, name: &str) -> Visit {
        const NOTHING: Visit = Visit {
            entry: None,
            frame: None,
        };
        let Some(parent) = self.stack.last() else {
            return NOTHING;
        };
        let rel = join(&parent.rel, name);
        let mut real = join(&parent.real, name);
        let depth = parent.depth + 1;
        let entry = |real: String, kind, meta, read_error, link_target| Entry {
            rel: rel.clone(),
            real,
            name: name.to_string(),
            kind,
            meta,
            read_error,
            link_target,
        };
        // Excluding by name first costs no system call; the folder-only patterns are
        // checked again once the kind is known.
        if self.options.filter.excludes(&rel, name, false) {
            return NOTHING;
        }
        let mut meta = match fs::symlink_metadata(self.root.join(&real)) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => return NOTHING,
            Err(e) => {
                let why = format!("the metadata cannot be read ({e})");
                return Visit {
                    entry: Some(entry(real, Kind::Unknown, None, Some(why), None)),
                    frame: None,
                };
            }
        };
        let mut link_target = None;
        if meta.file_type().is_symlink() {
            if !self.options.follow_symlinks {
                return NOTHING;
            }
            link_target = fs::read_link(self.root.join(&real))
                .ok()
                .map(|t| t.to_string_lossy().into_owned());
            let resolved = symlink::resolve(&self.root, &parent.real, name).and_then(|target| {
                fs::metadata(self.root.join(&target))
                    .map(|m| (target, m))
                    .map_err(|e| format!("the link target cannot be read ({e})"))
            });
            match resolved {
                Ok((target, m)) => {
                    if m.is_dir() && self.is_ancestor_or_open(&target) {
                        let why = format!(
                            "the link points to /{target}, a folder that contains it: following it would loop"
                        );
                        return Visit {
                            entry: Some(entry(real, Kind::Symlink, None, Some(why), link_target)),
                            frame: None,
                        };
                    }
                    real = target;
                    meta = m;
                }
                Err(why) => {
                    return Visit {
                        entry: Some(entry(real, Kind::Symlink, None, Some(why), link_target)),
                        frame: None,
                    };
                }
            }
        }
        if meta.is_dir() {
            if self.options.filter.excludes(&rel, name, true) {
                return NOTHING;
            }
            if self.options.max_depth.is_some_and(|max| depth >= max) {
                return Visit {
                    entry: Some(entry(real, Kind::Folder, Some(meta), None, link_target)),
                    frame: None,
                };
            }
            return match list(&self.root.join(&real), &rel, &mut self.notes) {
                Ok(names) => Visit {
                    frame: Some(Frame {
                        rel: rel.clone(),
                        real: real.clone(),
                        depth,
                        names,
                        next: 0,
                    }),
                    entry: Some(entry(real, Kind::Folder, Some(meta), None, link_target)),
                },
                // Removed since its parent was listed: as if the walk had run a moment later.
                Err(e) if e.kind() == ErrorKind::NotFound => NOTHING,
                Err(e) => {
                    let why = format!("the folder cannot be listed ({e})");
                    Visit {
                        entry: Some(entry(
                            real,
                            Kind::Folder,
                            Some(meta),
                            Some(why),
                            link_target,
                        )),
                        frame: None,
                    }
                }
            };
        }
        if !meta.is_file() {
            // Sockets, pipes, devices: nothing to index, and opening a pipe would block.
            return NOTHING;
        }
        if !self.options.filter.includes_file(&rel, name) {
            return NOTHING;
        }
        // Opening proves the bytes are readable, so an unreadable file says so in the index
        // instead of failing later, without a reason, in the host's content fetch.
        let read_error = match File::open(self.root.join(&real)) {
            Ok(_) => None,
            Err(e) if e.kind() == ErrorKind::NotFound => return NOTHING,
            Err(e) => Some(format!("the file cannot be read ({e})")),
        };
        Visit {
            entry: Some(entry(real, Kind::File, Some(meta), read_error, link_target)),
            frame: None,
        }
    }

    /// Whether `real` is a folder that is open on the stack or contains one: walking into
    /// it again would never end.
    fn is_ancestor_or_open(&self, real: &str) -> bool {
        self.stack.iter().any(|f| {
            real.is_empty()
                || f.real == real
                || (f.real.starts_with(real) && f.real.as_bytes().get(real.len()) == Some(&b'/'))
        })
    }
}

/// The sorted names in folder `dir` (`rel` is its path for messages).
fn list(dir: &Path, rel: &str, notes: &mut Vec<String>) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for item in fs::read_dir(dir)? {
        match item {
            Ok(item) => match item.file_name().into_string() {
                Ok(name) => names.push(name),
                Err(raw) => notes.push(format!(
                    "skipping {:?} in /{rel}: its name is not valid UTF-8, so it cannot be given a path",
                    raw
                )),
            },
            Err(e) => notes.push(format!("an entry of /{rel} cannot be read ({e})")),
        }
    }
    names.sort_unstable();
    Ok(names)
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}
