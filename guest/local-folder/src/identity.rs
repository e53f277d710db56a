//! Who a directory or a file is, beyond its path: the file system's device + inode.
//!
//! Two uses. The checkpoint of an interrupted walk carries the root's identity, so a walk is
//! never resumed over another directory granted at the same guest path (the host shows every
//! tenant's root at the same place). And the `metadata` content key carries a file's
//! identity, so a file replaced by another of the same size and modification time still
//! changes key.
//!
//! Inside the component std has no stable way to read an inode, so this asks WASI directly
//! (`descriptor.metadata-hash`, a hash of device + inode computed by the host). Natively (the
//! unit tests) it is `MetadataExt::dev/ino`. Elsewhere there is no identity and both uses
//! degrade gracefully: the checkpoint then only compares the root's path, and the content
//! key only size and time.

use std::fs::Metadata;

/// The root directory, held open for identity queries during a session.
pub struct Root {
    inner: imp::Root,
}

impl Root {
    /// Look the root up (`root` is the path the component sees it at).
    pub fn open(root: &str) -> Root {
        Root {
            inner: imp::Root::open(root),
        }
    }

    /// The root directory's identity, if the platform tells it.
    pub fn id(&self) -> Option<String> {
        self.inner.id()
    }

    /// The identity of the file at `real` (relative to the root) whose metadata is `meta`.
    pub fn file_id(&self, real: &str, meta: &Metadata) -> Option<String> {
        self.inner.file_id(real, meta)
    }
}

#[cfg(target_os = "wasi")]
mod imp {
    use std::fs::Metadata;

    use wasip2::filesystem::preopens::get_directories;
    use wasip2::filesystem::types::{Descriptor, MetadataHashValue, PathFlags};

    pub struct Root {
        /// The preopen containing the root, and the root's path inside it ("" when the root
        /// is the preopen itself, which is how the tributary host grants it).
        dir: Option<(Descriptor, String)>,
    }

    fn hex(h: MetadataHashValue) -> String {
        format!("{:016x}{:016x}", h.upper, h.lower)
    }

    impl Root {
        pub fn open(root: &str) -> Root {
            let root = root.trim_end_matches('/');
            let dir = get_directories().into_iter().find_map(|(d, path)| {
                let path = path.trim_end_matches('/');
                let inside = root.strip_prefix(path)?;
                if inside.is_empty() {
                    Some((d, String::new()))
                } else {
                    inside.strip_prefix('/').map(|rest| (d, rest.to_string()))
                }
            });
            Root { dir }
        }

        fn at(&self, real: &str) -> Option<String> {
            let (d, base) = self.dir.as_ref()?;
            let path = match (base.is_empty(), real.is_empty()) {
                (true, _) => real.to_string(),
                (false, true) => base.clone(),
                (false, false) => format!("{base}/{real}"),
            };
            let h = if path.is_empty() {
                d.metadata_hash()
            } else {
                d.metadata_hash_at(PathFlags::SYMLINK_FOLLOW, &path)
            };
            h.ok().map(hex)
        }

        pub fn id(&self) -> Option<String> {
            self.at("")
        }

        pub fn file_id(&self, real: &str, _meta: &Metadata) -> Option<String> {
            self.at(real)
        }
    }
}

#[cfg(unix)]
mod imp {
    use std::fs::{self, Metadata};
    use std::os::unix::fs::MetadataExt;

    pub struct Root {
        id: Option<String>,
    }

    impl Root {
        pub fn open(root: &str) -> Root {
            Root {
                id: fs::metadata(root)
                    .ok()
                    .map(|m| format!("{}:{}", m.dev(), m.ino())),
            }
        }

        pub fn id(&self) -> Option<String> {
            self.id.clone()
        }

        pub fn file_id(&self, _real: &str, meta: &Metadata) -> Option<String> {
            Some(format!("{}:{}", meta.dev(), meta.ino()))
        }
    }
}

#[cfg(not(any(unix, target_os = "wasi")))]
mod imp {
    use std::fs::Metadata;

    pub struct Root;

    impl Root {
        pub fn open(_root: &str) -> Root {
            Root
        }

        pub fn id(&self) -> Option<String> {
            None
        }

        pub fn file_id(&self, _real: &str, _meta: &Metadata) -> Option<String> {
            None
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn identities_tell_directories_and_replaced_files_apart() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let ra = Root::open(a.path().to_str().unwrap());
        let rb = Root::open(b.path().to_str().unwrap());
        assert!(ra.id().is_some());
        assert_ne!(ra.id(), rb.id());
        assert_eq!(ra.id(), Root::open(a.path().to_str().unwrap()).id());

        let f = a.path().join("f");
        fs::write(&f, "one").unwrap();
        let first = ra.file_id("f", &fs::metadata(&f).unwrap());
        // Replaced by another file (a new inode) under the same name.
        fs::write(a.path().join("g"), "two").unwrap();
        fs::rename(a.path().join("g"), &f).unwrap();
        assert_ne!(ra.file_id("f", &fs::metadata(&f).unwrap()), first);
    }
}
