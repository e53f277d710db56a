//! The opaque resume point handed to the host after every page.

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Checkpoint format version.
pub const VERSION: u32 = 1;

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The full listing of the folder is under way; `cursor` continues it.
    Listing,
    /// The folder is done (`cursor` is its delta cursor); the received-files walk is next or
    /// under way (`received_cursor` continues it once it has started).
    Received,
    /// Everything is indexed; `cursor` yields the changes since.
    Delta,
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
    pub phase: Phase,
    /// The `list_folder` cursor.
    pub cursor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_cursor: Option<String>,
}

/// What the current configuration and account say a checkpoint must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    pub root: String,
    pub path: String,
}

impl Checkpoint {
    /// Serialize to the string stored by the host.
    pub fn encode(&self) -> String {
        // Serializing plain strings and enums cannot fail; fall back to an empty object anyway.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }

    /// Parse a stored checkpoint; anything unreadable is a mismatch.
    pub fn decode(s: &str) -> Result<Checkpoint, Error> {
        let raw: serde_json::Value = serde_json::from_str(s).map_err(|e| {
            Error::CheckpointMismatch(format!(
                "the stored checkpoint is not a Dropbox checkpoint ({e}); run `tributary sync --full`"
            ))
        })?;
        if let Some(v) = raw.get("v").and_then(serde_json::Value::as_u64)
            && v != u64::from(VERSION)
        {
            return Err(Error::CheckpointMismatch(format!(
                "the stored checkpoint has format version {v}, this connector reads version {VERSION}; run `tributary sync --full`"
            )));
        }
        serde_json::from_value(raw).map_err(|e| {
            Error::CheckpointMismatch(format!(
                "the stored checkpoint is not a Dropbox checkpoint ({e}); run `tributary sync --full`"
            ))
        })
    }

    /// Refuse a checkpoint taken for another account, team space or folder.
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
        Ok(())
    }
}

fn shown(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(phase: Phase) -> Checkpoint {
        Checkpoint {
            v: VERSION,
            account: "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc".into(),
            root: "3235641".into(),
            path: "/docs".into(),
            phase,
            cursor: "AAE-cursor".into(),
            received_cursor: None,
        }
    }

    fn id() -> Identity {
        Identity {
            account: "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc".into(),
            root: "3235641".into(),
            path: "/docs".into(),
        }
    }

    #[test]
    fn checkpoint_round_trips() {
        for phase in [Phase::Listing, Phase::Received, Phase::Delta] {
            let mut c = cp(phase);
            c.received_cursor = (phase == Phase::Received).then(|| "rc".to_string());
            assert_eq!(Checkpoint::decode(&c.encode()).unwrap(), c);
        }
        let s = cp(Phase::Delta).encode();
        assert!(s.contains(r#""phase":"delta""#), "{s}");
        assert!(!s.contains("received_cursor"));
    }

    #[test]
    fn matching_checkpoint_verifies() {
        cp(Phase::Delta).verify(&id()).unwrap();
    }

    #[test]
    fn other_account_root_or_path_is_a_mismatch() {
        let mut other = id();
        other.account = "dbmid:AAA1".into();
        assert!(
            matches!(cp(Phase::Delta).verify(&other), Err(Error::CheckpointMismatch(m)) if m.contains("another account"))
        );
        let mut other = id();
        other.root = "1".into();
        assert!(
            matches!(cp(Phase::Delta).verify(&other), Err(Error::CheckpointMismatch(m)) if m.contains("root namespace"))
        );
        let mut other = id();
        other.path = String::new();
        assert!(
            matches!(cp(Phase::Delta).verify(&other), Err(Error::CheckpointMismatch(m)) if m.contains("\"/docs\"") && m.contains("\"/\""))
        );
    }

    #[test]
    fn malformed_or_future_checkpoints_are_mismatches() {
        assert!(matches!(
            Checkpoint::decode("not json"),
            Err(Error::CheckpointMismatch(_))
        ));
        assert!(matches!(
            Checkpoint::decode(r#"{"v":1}"#),
            Err(Error::CheckpointMismatch(_))
        ));
        let mut future = serde_json::to_value(cp(Phase::Delta)).unwrap();
        future["v"] = 2.into();
        assert!(matches!(
            Checkpoint::decode(&future.to_string()),
            Err(Error::CheckpointMismatch(m)) if m.contains("version 2")
        ));
        let mut bad_phase = serde_json::to_value(cp(Phase::Delta)).unwrap();
        bad_phase["phase"] = "sideways".into();
        assert!(matches!(
            Checkpoint::decode(&bad_phase.to_string()),
            Err(Error::CheckpointMismatch(_))
        ));
    }
}
