//! Where a symbolic link leads, decided without leaving the root.
//!
//! `std::fs::canonicalize` is not available inside a WASI component, and it would answer in
//! host terms anyway. So links are resolved by hand: one path component at a time, reading
//! every link met on the way, with `..` applied lexically to the path *already resolved*
//! (which is what the kernel does too, since the resolved prefix has no links left in it).
//! The answer is a path relative to the root, or the reason the link cannot be followed.
//! The WASI preopen would refuse an escape anyway; resolving here turns that refusal into a
//! per-document reason instead of an I/O error in the middle of the walk.

use std::collections::VecDeque;
use std::fs;
use std::io::ErrorKind;
use std::path::{Component, Path};

/// Links followed while resolving one path before it is called a loop (Linux's limit).
const MAX_HOPS: u32 = 40;

/// Resolve the link `name` inside the folder `parent_real` (a link-free path relative to
/// the root, "" for the root itself) to a link-free path relative to the root.
pub fn resolve(root: &Path, parent_real: &str, name: &str) -> Result<String, String> {
    let mut resolved: Vec<String> = parent_real
        .split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let mut pending: VecDeque<String> = VecDeque::from([name.to_string()]);
    let mut hops = 0;
    while let Some(part) = pending.pop_front() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                if resolved.pop().is_none() {
                    return Err("the link leads out of the indexed directory".into());
                }
                continue;
            }
            _ => {}
        }
        resolved.push(part);
        let here = root.join(resolved.join("/"));
        let meta = match fs::symlink_metadata(&here) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(format!(
                    "the link is broken: /{} does not exist",
                    resolved.join("/")
                ));
            }
            Err(e) => return Err(format!("the link cannot be followed ({e})")),
        };
        if !meta.file_type().is_symlink() {
            continue;
        }
        hops += 1;
        if hops > MAX_HOPS {
            return Err(format!(
                "the link cannot be followed: more than {MAX_HOPS} links in a row (a loop)"
            ));
        }
        let target =
            fs::read_link(&here).map_err(|e| format!("the link target cannot be read ({e})"))?;
        let Some(target_text) = target.to_str() else {
            return Err("the link target is not valid UTF-8".into());
        };
        if target.is_absolute() || target.has_root() {
            // An absolute target names a host path: it cannot be followed inside the grant,
            // even when it happens to point into the same directory.
            return Err(format!(
                "the link points to the absolute path {target_text:?}; only links relative to their folder can be followed inside the indexed directory"
            ));
        }
        resolved.pop();
        for c in target.components().rev() {
            match c {
                Component::Normal(s) => match s.to_str() {
                    Some(s) => pending.push_front(s.to_string()),
                    None => return Err("the link target is not valid UTF-8".into()),
                },
                Component::ParentDir => pending.push_front("..".into()),
                Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            }
        }
    }
    Ok(resolved.join("/"))
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn relative_links_inside_the_root_resolve_to_their_real_place() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::create_dir_all(root.join("c")).unwrap();
        fs::write(root.join("a/b/f.txt"), "x").unwrap();
        symlink("../a/b/f.txt", root.join("c/to-file")).unwrap();
        symlink("../a", root.join("c/to-a")).unwrap();
        symlink("to-a/b", root.join("c/chained")).unwrap();
        symlink(".", root.join("c/self")).unwrap();
        assert_eq!(resolve(root, "c", "to-file").unwrap(), "a/b/f.txt");
        assert_eq!(resolve(root, "c", "to-a").unwrap(), "a");
        assert_eq!(resolve(root, "c", "chained").unwrap(), "a/b");
        assert_eq!(resolve(root, "c", "self").unwrap(), "c");
        symlink("..", root.join("up")).unwrap();
        assert!(
            resolve(root, "", "up")
                .unwrap_err()
                .contains("out of the indexed directory")
        );
        symlink("c/..", root.join("root-again")).unwrap();
        assert_eq!(resolve(root, "", "root-again").unwrap(), "");
    }

    #[test]
    fn links_out_of_the_root_absolute_broken_or_looping_are_refused_with_a_reason() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("root");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::write(outer.path().join("secret.txt"), "no").unwrap();
        symlink("../../secret.txt", root.join("sub/escape")).unwrap();
        symlink(outer.path().join("secret.txt"), root.join("absolute")).unwrap();
        symlink(root.join("sub"), root.join("absolute-inside")).unwrap();
        symlink("missing", root.join("broken")).unwrap();
        symlink("loop-b", root.join("loop-a")).unwrap();
        symlink("loop-a", root.join("loop-b")).unwrap();
        assert!(
            resolve(&root, "sub", "escape")
                .unwrap_err()
                .contains("out of the indexed")
        );
        assert!(
            resolve(&root, "", "absolute")
                .unwrap_err()
                .contains("absolute path")
        );
        assert!(
            resolve(&root, "", "absolute-inside")
                .unwrap_err()
                .contains("absolute path")
        );
        assert!(resolve(&root, "", "broken").unwrap_err().contains("broken"));
        assert!(resolve(&root, "", "loop-a").unwrap_err().contains("loop"));
    }
}
