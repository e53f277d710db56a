//! Configuration fields, defaults and validation.
//!
//! [`Config::parse`] checks the JSON only; [`Config::open_root`] checks the directory itself.
//! They are apart because `configure` runs before the host necessarily grants the directory,
//! while `check` and `sync-session.start` run with it granted.

use std::fs;
use std::io::ErrorKind;
use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::error::Error;
use crate::filter::Filter;

/// The kind of a configuration field (mirrors WIT `field-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Integer,
    Boolean,
    Url,
    TextList,
    Directory,
}

/// One configuration field as declared in `info().config`.
#[derive(Debug, Clone)]
pub struct FieldSpec {
    pub name: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    /// JSON literal of the default.
    pub default: Option<&'static str>,
    pub secret: bool,
    pub description: &'static str,
}

/// Every field this connector understands, in display order.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "root",
        kind: FieldKind::Directory,
        required: true,
        default: None,
        secret: false,
        description: "The directory to index. The runner grants it to the component read-only; nothing outside it is reachable.",
    },
    FieldSpec {
        name: "include",
        kind: FieldKind::TextList,
        required: false,
        default: Some("[]"),
        secret: false,
        description: "Glob patterns of files to index (empty: every file). Without `/` a pattern matches names at any depth (`*.pdf`); with `/` it matches the path from the root (`docs/**/*.md`). Folders are always walked unless excluded.",
    },
    FieldSpec {
        name: "exclude",
        kind: FieldKind::TextList,
        required: false,
        default: Some("[]"),
        secret: false,
        description: "Glob patterns of files and folders to leave out (`*.tmp`, `node_modules`, `build/` for folders only). An excluded folder is not walked.",
    },
    FieldSpec {
        name: "content_key",
        kind: FieldKind::Text,
        required: false,
        default: Some("\"metadata\""),
        secret: false,
        description: "How a file's content is known to be unchanged: \"metadata\" (size + modification time, cheap) or \"hash\" (SHA-256 of the bytes, read on every run; catches edits that keep size and time).",
    },
    FieldSpec {
        name: "follow_symlinks",
        kind: FieldKind::Boolean,
        required: false,
        default: Some("false"),
        secret: false,
        description: "Follow symbolic links that stay inside the root. Links leading out of the root, absolute links and loops are never followed; they are indexed with a `read_error`.",
    },
    FieldSpec {
        name: "watch_interval_secs",
        kind: FieldKind::Integer,
        required: false,
        default: Some("60"),
        secret: false,
        description: "`tributary watch`: seconds between two walks (a plain directory has no change feed).",
    },
    FieldSpec {
        name: "max_depth",
        kind: FieldKind::Integer,
        required: false,
        default: None,
        secret: false,
        description: "How deep to walk: 1 indexes the root's direct entries only. Unset: no limit.",
    },
];

/// Upper bound of `watch_interval_secs` (a day): longer is almost certainly a unit mistake.
const MAX_WATCH_INTERVAL_SECS: u32 = 86_400;

/// How the content key of a file is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKeyMode {
    /// Size, modification time and (where the platform exposes it) the inode.
    Metadata,
    /// SHA-256 of the bytes.
    Hash,
}

impl ContentKeyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ContentKeyMode::Metadata => "metadata",
            ContentKeyMode::Hash => "hash",
        }
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The root as the component sees it (a guest path chosen by the host).
    pub root: String,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub filter: Filter,
    pub content_key: ContentKeyMode,
    pub follow_symlinks: bool,
    pub watch_interval_secs: u32,
    pub max_depth: Option<u32>,
}

impl Config {
    /// Parse and validate the config JSON handed over by the host (no file system access).
    pub fn parse(json: &str) -> Result<Config, Error> {
        let value: Value = serde_json::from_str(json).map_err(|e| {
            Error::InvalidConfig(format!("the configuration is not valid JSON ({e})"))
        })?;
        let Value::Object(map) = value else {
            return Err(Error::InvalidConfig(
                "the configuration must be a JSON object of field names to values".into(),
            ));
        };
        Self::from_map(&map)
    }

    fn from_map(map: &Map<String, Value>) -> Result<Config, Error> {
        let root = match map.get("root") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(Error::InvalidConfig(
                    "root: missing; set `root` to the directory to index, e.g. root = \"/srv/share\""
                        .into(),
                ));
            }
            Some(other) => {
                return Err(Error::InvalidConfig(format!(
                    "root: expected a directory path as a string, got {other}"
                )));
            }
        };
        let include = string_list(map, "include")?;
        let exclude = string_list(map, "exclude")?;
        let filter = Filter::new(&include, &exclude)?;
        let content_key = match map.get("content_key") {
            None | Some(Value::Null) => ContentKeyMode::Metadata,
            Some(Value::String(s)) if s == "metadata" => ContentKeyMode::Metadata,
            Some(Value::String(s)) if s == "hash" => ContentKeyMode::Hash,
            Some(other) => {
                return Err(Error::InvalidConfig(format!(
                    "content_key: expected \"metadata\" or \"hash\", got {other}"
                )));
            }
        };
        let follow_symlinks = match map.get("follow_symlinks") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(Error::InvalidConfig(format!(
                    "follow_symlinks: expected true or false, got {other}"
                )));
            }
        };
        let watch_interval_secs =
            integer(map, "watch_interval_secs", 1, MAX_WATCH_INTERVAL_SECS)?.unwrap_or(60);
        let max_depth = integer(map, "max_depth", 1, u32::MAX)?;
        Ok(Config {
            root,
            include,
            exclude,
            filter,
            content_key,
            follow_symlinks,
            watch_interval_secs,
            max_depth,
        })
    }

    /// The root as a path, after checking that it is a directory the component can list.
    /// Every failure is an `invalid-config` that names the field and the fix: the root is
    /// the one thing the user must get right, and no retry will repair it.
    pub fn open_root(&self) -> Result<PathBuf, Error> {
        let root = PathBuf::from(&self.root);
        let meta = fs::metadata(&root).map_err(|e| {
            Error::InvalidConfig(match e.kind() {
                ErrorKind::NotFound => format!(
                    "root: the directory {:?} does not exist (or the runner did not grant it); set `root` to an existing directory",
                    self.root
                ),
                ErrorKind::PermissionDenied => format!(
                    "root: the directory {:?} cannot be read (permission denied); give the user running tributary read and execute permission on it",
                    self.root
                ),
                _ => format!(
                    "root: the directory {:?} cannot be opened ({e}); set `root` to a readable directory",
                    self.root
                ),
            })
        })?;
        if !meta.is_dir() {
            return Err(Error::InvalidConfig(format!(
                "root: {:?} is a file, not a directory; set `root` to the folder that contains it",
                self.root
            )));
        }
        fs::read_dir(&root).map_err(|e| {
            Error::InvalidConfig(format!(
                "root: the directory {:?} cannot be listed ({e}); give the user running tributary read and execute permission on it",
                self.root
            ))
        })?;
        Ok(root)
    }
}

fn string_list(map: &Map<String, Value>, field: &str) -> Result<Vec<String>, Error> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(Error::InvalidConfig(format!(
                    "{field}: every pattern must be a string, got {other}"
                ))),
            })
            .collect(),
        Some(other) => Err(Error::InvalidConfig(format!(
            "{field}: expected a list of glob patterns such as [\"*.tmp\"], got {other}"
        ))),
    }
}

fn integer(
    map: &Map<String, Value>,
    field: &str,
    min: u32,
    max: u32,
) -> Result<Option<u32>, Error> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(Error::InvalidConfig(format!(
                "{field}: expected a whole number from {min} to {max}, got {v}"
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(v: Value) -> Result<Config, Error> {
        Config::parse(&v.to_string())
    }

    fn invalid(v: Value) -> String {
        match parse(v) {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("expected invalid-config, got {other:?}"),
        }
    }

    #[test]
    fn defaults_apply_when_only_root_is_given() {
        let c = parse(json!({"root": "/mnt/root"})).unwrap();
        assert_eq!(c.root, "/mnt/root");
        assert!(c.include.is_empty() && c.exclude.is_empty());
        assert_eq!(c.content_key, ContentKeyMode::Metadata);
        assert!(!c.follow_symlinks);
        assert_eq!(c.watch_interval_secs, 60);
        assert_eq!(c.max_depth, None);
    }

    #[test]
    fn every_field_is_read() {
        let c = parse(json!({
            "root": "/data", "include": ["*.md"], "exclude": ["tmp/"], "content_key": "hash",
            "follow_symlinks": true, "watch_interval_secs": 5, "max_depth": 3
        }))
        .unwrap();
        assert_eq!(c.include, vec!["*.md"]);
        assert_eq!(c.exclude, vec!["tmp/"]);
        assert_eq!(c.content_key, ContentKeyMode::Hash);
        assert!(c.follow_symlinks);
        assert_eq!(c.watch_interval_secs, 5);
        assert_eq!(c.max_depth, Some(3));
    }

    #[test]
    fn the_declared_defaults_parse_to_the_built_in_defaults() {
        let mut map = Map::new();
        map.insert("root".into(), json!("/r"));
        for f in FIELDS {
            if let Some(d) = f.default {
                map.insert(f.name.into(), serde_json::from_str(d).unwrap());
            }
        }
        let c = parse(Value::Object(map)).unwrap();
        assert_eq!(c.content_key, ContentKeyMode::Metadata);
        assert_eq!(c.watch_interval_secs, 60);
        assert!(!c.follow_symlinks);
    }

    #[test]
    fn wrong_values_name_the_field_and_the_fix() {
        assert!(invalid(json!({})).starts_with("root: missing"));
        assert!(invalid(json!({"root": ""})).starts_with("root:"));
        assert!(invalid(json!({"root": 3})).starts_with("root:"));
        assert!(invalid(json!({"root": "/r", "include": "*.md"})).starts_with("include:"));
        assert!(invalid(json!({"root": "/r", "exclude": [1]})).starts_with("exclude:"));
        assert!(invalid(json!({"root": "/r", "content_key": "mtime"})).contains("\"hash\""));
        assert!(
            invalid(json!({"root": "/r", "follow_symlinks": "yes"}))
                .starts_with("follow_symlinks:")
        );
        assert!(
            invalid(json!({"root": "/r", "watch_interval_secs": 0}))
                .starts_with("watch_interval_secs:")
        );
        assert!(invalid(json!({"root": "/r", "max_depth": -1})).starts_with("max_depth:"));
        assert!(invalid(json!([])).contains("JSON object"));
        assert!(matches!(Config::parse("{"), Err(Error::InvalidConfig(_))));
    }

    #[test]
    fn open_root_accepts_a_directory_and_explains_everything_else() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap().to_string();
        let c = parse(json!({"root": root})).unwrap();
        assert_eq!(c.open_root().unwrap(), dir.path());

        let missing = dir.path().join("nope").to_str().unwrap().to_string();
        let m = match parse(json!({"root": missing})).unwrap().open_root() {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(
            m.starts_with("root:") && m.contains("does not exist"),
            "{m}"
        );

        let file = dir.path().join("f.txt");
        fs::write(&file, "x").unwrap();
        let m = match parse(json!({"root": file.to_str().unwrap()}))
            .unwrap()
            .open_root()
        {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(m.contains("not a directory"), "{m}");
    }
}
