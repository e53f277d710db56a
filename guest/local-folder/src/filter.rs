//! `include` / `exclude` glob patterns, matched on the path relative to the root.
//!
//! The rules follow what people already know from `.gitignore`, so a config reads as expected:
//! - a pattern without `/` matches an entry's *name* at any depth (`*.tmp`, `node_modules`);
//! - a pattern with `/` matches the path relative to the root (`docs/**/*.md`); a leading `/`
//!   is accepted and means the same (every pattern is anchored at the root anyway);
//! - `*` and `?` never cross a `/`, `**` does;
//! - a trailing `/` restricts a pattern to folders (`build/`).
//!
//! `exclude` applies to files and folders (an excluded folder is not walked at all, which is
//! what makes excluding `node_modules` cheap). `include` applies to files only: folders are
//! always walked and indexed unless excluded, otherwise `*.pdf` would hide every folder and so
//! every PDF below the root.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::error::Error;

/// One list of patterns, split by what they match against.
#[derive(Debug, Clone)]
struct PatternSet {
    /// Patterns without `/`, matched against the entry name.
    by_name: GlobSet,
    /// Patterns with `/`, matched against the relative path.
    by_path: GlobSet,
    /// The same two sets for patterns with a trailing `/` (folders only).
    folders_by_name: GlobSet,
    folders_by_path: GlobSet,
    empty: bool,
}

impl PatternSet {
    fn new(field: &str, patterns: &[String]) -> Result<PatternSet, Error> {
        let mut by_name = GlobSetBuilder::new();
        let mut by_path = GlobSetBuilder::new();
        let mut folders_by_name = GlobSetBuilder::new();
        let mut folders_by_path = GlobSetBuilder::new();
        for raw in patterns {
            let (pattern, folders_only) = match raw.strip_suffix('/') {
                Some(p) => (p, true),
                None => (raw.as_str(), false),
            };
            let pattern = pattern.strip_prefix('/').unwrap_or(pattern);
            if pattern.is_empty() {
                return Err(Error::InvalidConfig(format!(
                    "{field}: the pattern {raw:?} matches nothing; remove it, or write `**` to match everything"
                )));
            }
            let glob = GlobBuilder::new(pattern)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| {
                    Error::InvalidConfig(format!(
                        "{field}: {raw:?} is not a valid glob pattern ({}); see the `globset` syntax: `*`, `?`, `**`, `[abc]`, `{{a,b}}`",
                        e.kind()
                    ))
                })?;
            let anchored = pattern.contains('/');
            match (folders_only, anchored) {
                (false, false) => by_name.add(glob),
                (false, true) => by_path.add(glob),
                (true, false) => folders_by_name.add(glob),
                (true, true) => folders_by_path.add(glob),
            };
        }
        let build = |b: GlobSetBuilder| {
            b.build().map_err(|e| {
                Error::InvalidConfig(format!("{field}: the patterns cannot be compiled ({e})"))
            })
        };
        Ok(PatternSet {
            by_name: build(by_name)?,
            by_path: build(by_path)?,
            folders_by_name: build(folders_by_name)?,
            folders_by_path: build(folders_by_path)?,
            empty: patterns.is_empty(),
        })
    }

    /// `rel` is the path relative to the root without a leading `/`; `name` its last part.
    fn matches(&self, rel: &str, name: &str, is_folder: bool) -> bool {
        self.by_name.is_match(name)
            || self.by_path.is_match(rel)
            || (is_folder
                && (self.folders_by_name.is_match(name) || self.folders_by_path.is_match(rel)))
    }
}

/// The compiled `include` and `exclude` lists.
#[derive(Debug, Clone)]
pub struct Filter {
    include: PatternSet,
    exclude: PatternSet,
}

impl Filter {
    /// Compile both lists; a bad pattern is an `invalid-config` naming the field.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Filter, Error> {
        Ok(Filter {
            include: PatternSet::new("include", include)?,
            exclude: PatternSet::new("exclude", exclude)?,
        })
    }

    /// Whether an entry is excluded (checked before its metadata is read, so it costs nothing
    /// on the file system). Folders that are excluded are not walked.
    pub fn excludes(&self, rel: &str, name: &str, is_folder: bool) -> bool {
        self.exclude.matches(rel, name, is_folder)
    }

    /// Whether a file passes `include` (an empty list includes every file).
    pub fn includes_file(&self, rel: &str, name: &str) -> bool {
        self.include.empty || self.include.matches(rel, name, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(include: &[&str], exclude: &[&str]) -> Filter {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Filter::new(&v(include), &v(exclude)).unwrap()
    }

    fn name(rel: &str) -> &str {
        rel.rsplit('/').next().unwrap()
    }

    fn included(f: &Filter, rel: &str) -> bool {
        !f.excludes(rel, name(rel), false) && f.includes_file(rel, name(rel))
    }

    #[test]
    fn empty_lists_keep_everything() {
        let f = filter(&[], &[]);
        for rel in ["a.txt", "deep/er/b", ".hidden"] {
            assert!(included(&f, rel), "{rel}");
        }
        assert!(!f.excludes("deep", "deep", true));
    }

    #[test]
    fn a_pattern_without_slash_matches_names_at_any_depth() {
        let f = filter(&["*.md"], &["*.tmp", "node_modules"]);
        assert!(included(&f, "README.md"));
        assert!(included(&f, "docs/guide/intro.md"));
        assert!(!included(&f, "docs/guide/intro.txt"));
        assert!(!included(&f, "docs/x.tmp.md.tmp"));
        assert!(f.excludes("web/node_modules", "node_modules", true));
        assert!(f.excludes("node_modules", "node_modules", true));
        assert!(!f.excludes("web/node_modules_old", "node_modules_old", true));
    }

    #[test]
    fn a_pattern_with_slash_is_anchored_at_the_root_and_star_stays_in_one_folder() {
        let f = filter(&["docs/*.md", "/notes/**"], &[]);
        assert!(included(&f, "docs/a.md"));
        assert!(!included(&f, "docs/sub/a.md"), "* must not cross /");
        assert!(!included(&f, "other/docs/a.md"), "anchored at the root");
        assert!(included(&f, "notes/2024/jan/x.pdf"));
        let f = filter(&["docs/**/*.md"], &[]);
        assert!(included(&f, "docs/a.md"));
        assert!(included(&f, "docs/sub/deeper/a.md"));
    }

    #[test]
    fn a_trailing_slash_restricts_a_pattern_to_folders() {
        let f = filter(&[], &["build/", "out/cache/"]);
        assert!(f.excludes("build", "build", true));
        assert!(f.excludes("x/build", "build", true));
        assert!(
            !f.excludes("build", "build", false),
            "a file named build stays"
        );
        assert!(f.excludes("out/cache", "cache", true));
        assert!(!f.excludes("x/out/cache", "cache", true));
    }

    #[test]
    fn braces_classes_and_unicode_work() {
        let f = filter(&["*.{pdf,docx}", "résumé-[0-9].txt"], &[]);
        assert!(included(&f, "a/b.pdf"));
        assert!(included(&f, "b.docx"));
        assert!(included(&f, "cv/résumé-3.txt"));
        assert!(!included(&f, "cv/résumé-x.txt"));
    }

    #[test]
    fn bad_patterns_name_the_field() {
        let err = Filter::new(&[], &["a[".to_string()]).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidConfig(m) if m.starts_with("exclude:") && m.contains("\"a[\"")),
            "{err}"
        );
        let err = Filter::new(&["/".to_string()], &[]).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidConfig(m) if m.starts_with("include:")),
            "{err}"
        );
    }
}
