//! Seeded random changes to the emulator's tree through the real write API (and `/_admin/paper`),
//! for model-based incremental sync tests.

use crate::Emulator;
use anyhow::{Context, Result};
use serde_json::Value;

/// splitmix64: small, seedable, good enough for choosing operations.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            Some(&items[self.below(items.len())])
        }
    }
}

const WORDS: &[&str] = &[
    "budget", "roadmap", "minutes", "invoice", "design", "notes", "draft", "report", "plan",
    "review",
];
/// Name stems that exercise escaping: quotes, backslashes, emoji, non-Latin scripts, spaces.
const STEMS: &[&str] = &[
    "plain",
    "it's \"quoted\"",
    "back\\slash",
    "emoji 🚀",
    "отчёт",
    "計画書",
    "تقرير",
    "with  spaces",
    "naïve café",
];
const EXTS: &[&str] = &["txt", "md", "csv", "json", "html", "bin"];

/// A snapshot of the tree useful for choosing operations.
struct Snapshot {
    folders: Vec<String>,
    files: Vec<String>,
    papers: Vec<String>,
}

fn snapshot(emu: &Emulator) -> Result<Snapshot> {
    let tree = emu.tree()?;
    let mut s = Snapshot {
        folders: Vec::new(),
        files: Vec::new(),
        papers: Vec::new(),
    };
    for e in tree["entries"].as_array().context("tree.entries")? {
        let Some(p) = e["path_display"].as_str() else {
            continue;
        };
        match e[".tag"].as_str() {
            Some("folder") => s.folders.push(p.to_string()),
            Some("file") if p.to_lowercase().ends_with(".paper") => s.papers.push(p.to_string()),
            Some("file") => s.files.push(p.to_string()),
            _ => {}
        }
    }
    Ok(s)
}

/// Generates fresh, collision-free names.
pub struct Namer {
    n: u64,
}

impl Namer {
    pub fn new(seed: u64) -> Namer {
        Namer {
            n: seed.wrapping_mul(1000),
        }
    }
    fn stem(&mut self, rng: &mut Rng) -> String {
        self.n += 1;
        let stem = rng.pick(STEMS).copied().unwrap_or("plain");
        let word = rng.pick(WORDS).copied().unwrap_or("doc");
        format!("{word} {stem} {}", self.n)
    }
    pub fn file(&mut self, rng: &mut Rng) -> String {
        let ext = rng.pick(EXTS).copied().unwrap_or("txt");
        format!("{}.{ext}", self.stem(rng))
    }
    pub fn folder(&mut self, rng: &mut Rng) -> String {
        self.stem(rng)
    }
}

/// Random text content (whitespace-heavy so collapsing matters).
pub fn text_content(rng: &mut Rng, ext: &str) -> String {
    let n = 3 + rng.below(30);
    let words: Vec<&str> = (0..n).map(|_| *rng.pick(WORDS).unwrap_or(&"x")).collect();
    let body = words.join(if rng.below(2) == 0 { " " } else { "\n\t  " });
    match ext {
        "html" => format!(
            "<html><body><h1>{}</h1>\n<p>{body}</p></body></html>",
            rng.next_u64() % 1000
        ),
        "json" => format!(
            "{{\"words\": \"{body}\", \"n\": {}}}",
            rng.next_u64() % 1000
        ),
        "csv" => format!(
            "a,b\n{},{}\n",
            rng.next_u64() % 1000,
            body.replace(['\n', '\t'], " ")
        ),
        "bin" => format!("\0\x01binary{}", rng.next_u64()),
        _ => format!("{body}\n{}\n", rng.next_u64()),
    }
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
}

/// Apply one random operation; returns a description of what was done.
pub fn random_step(emu: &Emulator, rng: &mut Rng, namer: &mut Namer) -> Result<String> {
    let s = snapshot(emu)?;
    let mut dirs = vec![String::new()];
    dirs.extend(s.folders.iter().cloned());
    for _ in 0..20 {
        let choice = rng.below(100);
        let desc = match choice {
            0..=19 => {
                let dir = rng.pick(&dirs).cloned().unwrap_or_default();
                let name = namer.file(rng);
                let path = format!("{dir}/{name}");
                let content = text_content(rng, &crate::truth::extension(&name));
                emu.upload(&path, content.as_bytes())?;
                format!("create {path}")
            }
            20..=26 => {
                let dir = rng.pick(&dirs).cloned().unwrap_or_default();
                let path = format!("{dir}/{}", namer.folder(rng));
                emu.create_folder(&path)?;
                format!("mkdir {path}")
            }
            27..=41 => {
                let Some(f) = rng.pick(&s.files).cloned() else {
                    continue;
                };
                let content = text_content(rng, &crate::truth::extension(&f));
                emu.upload(&f, content.as_bytes())?;
                format!("edit {f}")
            }
            42..=51 => {
                let Some(f) = rng.pick(&s.files).cloned() else {
                    continue;
                };
                let mut new_name = namer.file(rng);
                // E2E_RENAME_KEEPS_EXT=1 avoids renames that change the file type, to look
                // past FINDINGS.md F3 while it is open.
                if std::env::var("E2E_RENAME_KEEPS_EXT").is_ok_and(|v| v == "1") {
                    let ext = crate::truth::extension(&f);
                    let stem = new_name
                        .rsplit_once('.')
                        .map(|(s, _)| s.to_string())
                        .unwrap_or(new_name.clone());
                    new_name = format!("{stem}.{ext}");
                }
                let to = format!("{}/{new_name}", parent_of(&f));
                emu.move_path(&f, &to)?;
                format!("rename {f} -> {to}")
            }
            52..=59 => {
                let Some(f) = rng.pick(&s.files).cloned() else {
                    continue;
                };
                let dir = rng.pick(&dirs).cloned().unwrap_or_default();
                if dir == parent_of(&f) {
                    continue;
                }
                let name = f.rsplit('/').next().unwrap_or("x").to_string();
                let to = format!("{dir}/{name}");
                if s.files
                    .iter()
                    .chain(&s.folders)
                    .chain(&s.papers)
                    .any(|p| p.to_lowercase() == to.to_lowercase())
                {
                    continue;
                }
                emu.move_path(&f, &to)?;
                format!("move {f} -> {to}")
            }
            60..=66 => {
                let Some(d) = rng.pick(&s.folders).cloned() else {
                    continue;
                };
                let target = rng.pick(&dirs).cloned().unwrap_or_default();
                let dl = d.to_lowercase();
                let tl = target.to_lowercase();
                if tl == dl || tl.starts_with(&format!("{dl}/")) {
                    continue;
                }
                let to = format!("{target}/{}", namer.folder(rng));
                emu.move_path(&d, &to)?;
                format!("move folder {d} -> {to}")
            }
            67..=76 => {
                let Some(f) = rng.pick(&s.files).cloned() else {
                    continue;
                };
                emu.delete(&f)?;
                format!("delete {f}")
            }
            77..=82 => {
                let Some(d) = rng.pick(&s.folders).cloned() else {
                    continue;
                };
                emu.delete(&d)?;
                format!("delete folder {d}")
            }
            _ => {
                let path = match rng.pick(&s.papers).cloned() {
                    Some(p) if rng.below(3) > 0 => p,
                    _ => {
                        let dir = rng.pick(&dirs).cloned().unwrap_or_default();
                        format!("{dir}/{}.paper", namer.folder(rng))
                    }
                };
                let md = format!(
                    "# Notes {}\n\n- {}\n",
                    rng.next_u64() % 1000,
                    text_content(rng, "md")
                );
                emu.put_paper(&path, &md)?;
                format!("paper {path}")
            }
        };
        return Ok(desc);
    }
    // Nothing applicable (empty tree): create a file at the root.
    let name = namer.file(rng);
    let path = format!("/{name}");
    emu.upload(&path, b"seed file")?;
    Ok(format!("create {path}"))
}

/// The `(id, path_display)` of every entry, for quick diffs in failure messages.
pub fn tree_paths(tree: &Value) -> Vec<(String, String)> {
    tree["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["id"].as_str().unwrap_or("").to_string(),
                        e["path_display"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Upload a new file with the exact bytes of an existing text file (same `content_hash`), so a
/// run has identical content to share. `None` when there is no text file to copy.
pub fn copy_content_step(
    emu: &Emulator,
    rng: &mut Rng,
    namer: &mut Namer,
) -> Result<Option<String>> {
    let s = snapshot(emu)?;
    let texts: Vec<&String> = s
        .files
        .iter()
        .filter(|p| crate::truth::PLAIN_EXTS.contains(&crate::truth::extension(p).as_str()))
        .collect();
    let Some(src) = rng.pick(&texts).map(|p| p.to_string()) else {
        return Ok(None);
    };
    let tree = emu.tree()?;
    let Some(id) = tree_paths(&tree)
        .into_iter()
        .find(|(_, p)| *p == src)
        .map(|(id, _)| id)
    else {
        return Ok(None);
    };
    let bytes = emu.content(&id)?;
    let ext = crate::truth::extension(&src);
    let to = format!("{}/{} copy.{ext}", parent_of(&src), namer.folder(rng));
    emu.upload(&to, &bytes)?;
    Ok(Some(format!("copy content of {src} -> {to}")))
}
