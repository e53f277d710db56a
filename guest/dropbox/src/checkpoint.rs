//! The opaque resume point handed to the host after every page.
//!
//! Version 2 keeps one `list_folder` cursor per enumerated namespace ("unit"), where the
//! run stands (the stage), the team event log cursors and the settings the indexed
//! documents were built with. A version-1 checkpoint (one cursor, no settings) cannot say
//! whether its documents carry permissions, so it expires: the host runs a full
//! enumeration that deletes nothing until it completes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Checkpoint format version.
pub const VERSION: u32 = 2;

/// Where a run stands. A run goes Plan → Units (or Rules) → Received → Events → Access →
/// Done; the next run starts from Done again with the cursors kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Decide what to enumerate (team members and namespaces, event cursors).
    Plan,
    /// Enumerate or apply the changes of `units[unit]` and those after it.
    Units,
    /// Run the advanced rules (`rule`, `rule_cursor`).
    Rules,
    /// Walk the files shared with the account (`received_cursor` once started).
    Received,
    /// Apply the permission changes of the team event log.
    Events,
    /// Write the access-control documents.
    Access,
    /// The run is complete.
    Done,
}

/// What kind of namespace a unit enumerates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// The configured path as the account (or the team admin) sees it: scope `files`.
    Root,
    /// A team folder, with every folder nested in it.
    TeamFolder,
    /// A shared folder outside team folders.
    SharedFolder,
    /// A member's private files.
    MemberFolder,
}

/// One enumerated namespace and its cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub kind: UnitKind,
    /// Namespace id (absent for the root unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ns: Option<String>,
    /// The folder name its paths are shown under (`/<name>/…`); "" for the root unit.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Member folders: the member's team member id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// The `list_folder` cursor: absent before the first listing page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// True once the full listing completed (the cursor then yields changes).
    #[serde(default, skip_serializing_if = "is_false")]
    pub listed: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Unit {
    /// The root unit of a personal account or of the admin's view.
    pub fn root() -> Unit {
        Unit {
            kind: UnitKind::Root,
            ns: None,
            name: String::new(),
            member: None,
            cursor: None,
            listed: false,
        }
    }

    /// The enumeration scope of its documents.
    pub fn scope(&self) -> String {
        match &self.ns {
            Some(ns) if self.kind != UnitKind::Root => format!("ns:{ns}"),
            _ => crate::document::SCOPE_FILES.to_string(),
        }
    }

    /// The display prefix of its paths: "" or `/<name>`.
    pub fn prefix(&self) -> String {
        if self.name.is_empty() {
            String::new()
        } else {
            format!("/{}", self.name)
        }
    }
}

/// The checkpoint JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub v: u32,
    /// Account id (personal mode) or team member id (team mode).
    pub account: String,
    /// Root namespace id.
    pub root: String,
    /// The configured path, lower-cased ("" for the root).
    pub path: String,
    /// The document-shaping settings the index was built with (`Config::fingerprint`).
    pub settings: String,
    pub stage: Stage,
    #[serde(default)]
    pub units: Vec<Unit>,
    /// Index in `units` of the unit being enumerated (stage `units`).
    #[serde(default)]
    pub unit: usize,
    /// Nested shared folders seen inside team folders: namespace → team folder namespace.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub nested: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_cursor: Option<String>,
    /// Advanced rule being run (stage `rules`).
    #[serde(default)]
    pub rule: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_cursor: Option<String>,
    /// Team event log cursors by category (team tokens with document-level security).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub events: BTreeMap<String, String>,
    /// Index in `events::CATEGORIES` of the category being read (stage `events`).
    #[serde(default)]
    pub event_category: usize,
    /// Whether the access-control documents are rewritten at the end of this run.
    #[serde(default, skip_serializing_if = "is_false")]
    pub refresh_access: bool,
    /// Document-level security was switched off: this run's full enumeration writes
    /// `_allow_access_control: null` (updates would otherwise keep the old identities) and
    /// removes the access-control documents.
    #[serde(default, skip_serializing_if = "is_false")]
    pub clear_access: bool,
}

/// What the current configuration and account say a checkpoint must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    pub root: String,
    pub path: String,
    pub settings: String,
}

impl Checkpoint {
    /// A checkpoint before anything was enumerated.
    pub fn fresh(id: &Identity) -> Checkpoint {
        Checkpoint {
            v: VERSION,
            account: id.account.clone(),
            root: id.root.clone(),
            path: id.path.clone(),
            settings: id.settings.clone(),
            stage: Stage::Plan,
            units: Vec::new(),
            unit: 0,
            nested: BTreeMap::new(),
            received_cursor: None,
            rule: 0,
            rule_cursor: None,
            events: BTreeMap::new(),
            event_category: 0,
            refresh_access: false,
            clear_access: false,
        }
    }

    /// Serialize to the string stored by the host.
    pub fn encode(&self) -> String {
        // Serializing plain strings and enums cannot fail; fall back to an empty object anyway.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }

    /// Parse a stored checkpoint. Anything unreadable is a mismatch; the previous format
    /// version expires (a full enumeration replaces it).
    pub fn decode(s: &str) -> Result<Checkpoint, Error> {
        let raw: serde_json::Value = serde_json::from_str(s).map_err(|e| {
            Error::CheckpointMismatch(format!(
                "the stored checkpoint is not a Dropbox checkpoint ({e}); run `tributary sync --full`"
            ))
        })?;
        match raw.get("v").and_then(serde_json::Value::as_u64) {
            Some(1) => {
                return Err(Error::CheckpointExpired(format!(
                    "the stored checkpoint has format version 1, this connector keeps version {VERSION} (a cursor per namespace, the permission settings); a full sync rebuilds it"
                )));
            }
            Some(v) if v != u64::from(VERSION) => {
                return Err(Error::CheckpointMismatch(format!(
                    "the stored checkpoint has format version {v}, this connector reads version {VERSION}; run `tributary sync --full`"
                )));
            }
            _ => {}
        }
        serde_json::from_value(raw).map_err(|e| {
            Error::CheckpointMismatch(format!(
                "the stored checkpoint is not a Dropbox checkpoint ({e}); run `tributary sync --full`"
            ))
        })
    }

    /// Refuse a checkpoint taken for another account, team space or folder; expire one
    /// taken with other document settings (a full enumeration re-indexes every document).
    pub fn verify(&self, id: &Identity) -> Result<(), Error> {
        if self.account != id.account {
            return Err(Error::CheckpointMismatch(format!(
                "the checkpoint belongs to Dropbox account {} but the credentials now reach {}; the configuration points at another account, run `tributary sync --full`",
                self.account, id.account
            )));
        }
        if self.root != id.root {
            return Err(Error::CheckpointMismatch(format!(
                "the checkpoint was taken in root namespace {} but the account's root namespace is now {}; run `tributary sync --full`",
                self.root, id.root
            )));
        }
        if self.path != id.path {
            return Err(Error::CheckpointMismatch(format!(
                "the checkpoint covers path {:?} but path is now {:?}; run `tributary sync --full`",
                shown(&self.path),
                shown(&id.path)
            )));
        }
        if self.settings != id.settings {
            return Err(Error::CheckpointExpired(
                "document-level security, the advanced rules or team_scope changed since the last sync; a full sync re-indexes every document with the new settings".into(),
            ));
        }
        Ok(())
    }
}

fn shown(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> Identity {
        Identity {
            account: "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc".into(),
            root: "3235641".into(),
            path: "/docs".into(),
            settings: "{}".into(),
        }
    }

    fn cp() -> Checkpoint {
        let mut c = Checkpoint::fresh(&id());
        c.stage = Stage::Done;
        c.units = vec![Unit {
            cursor: Some("AAE-cursor".into()),
            listed: true,
            ..Unit::root()
        }];
        c
    }

    #[test]
    fn checkpoint_round_trips_compactly() {
        let mut c = cp();
        c.units.push(Unit {
            kind: UnitKind::MemberFolder,
            ns: Some("12".into()),
            name: "Ann Lee".into(),
            member: Some("dbmid:A".into()),
            cursor: None,
            listed: false,
        });
        c.events.insert("sharing".into(), "ev1".into());
        c.nested.insert("55".into(), "12".into());
        assert_eq!(Checkpoint::decode(&c.encode()).unwrap(), c);
        let s = cp().encode();
        assert!(s.contains(r#""stage":"done""#), "{s}");
        assert!(!s.contains("received_cursor") && !s.contains("events") && !s.contains("nested"));
        assert_eq!(c.units[1].scope(), "ns:12");
        assert_eq!(c.units[1].prefix(), "/Ann Lee");
        assert_eq!(c.units[0].scope(), "files");
        assert_eq!(c.units[0].prefix(), "");
    }

    #[test]
    fn matching_checkpoint_verifies() {
        cp().verify(&id()).unwrap();
    }

    #[test]
    fn other_account_root_or_path_is_a_mismatch_and_other_settings_expire() {
        let mut other = id();
        other.account = "dbmid:AAA1".into();
        assert!(
            matches!(cp().verify(&other), Err(Error::CheckpointMismatch(m)) if m.contains("another account"))
        );
        let mut other = id();
        other.root = "1".into();
        assert!(
            matches!(cp().verify(&other), Err(Error::CheckpointMismatch(m)) if m.contains("root namespace"))
        );
        let mut other = id();
        other.path = String::new();
        assert!(
            matches!(cp().verify(&other), Err(Error::CheckpointMismatch(m)) if m.contains("\"/docs\"") && m.contains("\"/\""))
        );
        let mut other = id();
        other.settings = r#"{"dls":true}"#.into();
        assert!(
            matches!(cp().verify(&other), Err(Error::CheckpointExpired(m)) if m.contains("full sync"))
        );
    }

    #[test]
    fn version_1_expires_and_malformed_or_future_checkpoints_are_mismatches() {
        let v1 = r#"{"v":1,"account":"dbid:A","root":"1","path":"","phase":"delta","cursor":"c"}"#;
        assert!(matches!(
            Checkpoint::decode(v1),
            Err(Error::CheckpointExpired(m)) if m.contains("version 1")
        ));
        assert!(matches!(
            Checkpoint::decode("not json"),
            Err(Error::CheckpointMismatch(_))
        ));
        assert!(matches!(
            Checkpoint::decode(r#"{"v":2}"#),
            Err(Error::CheckpointMismatch(_))
        ));
        let mut future = serde_json::to_value(cp()).unwrap();
        future["v"] = 3.into();
        assert!(matches!(
            Checkpoint::decode(&future.to_string()),
            Err(Error::CheckpointMismatch(m)) if m.contains("version 3")
        ));
        let mut bad = serde_json::to_value(cp()).unwrap();
        bad["stage"] = "sideways".into();
        assert!(matches!(
            Checkpoint::decode(&bad.to_string()),
            Err(Error::CheckpointMismatch(_))
        ));
    }
}
