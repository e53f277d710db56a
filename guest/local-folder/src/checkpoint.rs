//! The opaque resume point handed to the host after every page.
//!
//! `{"v":1,"root":"/mnt/root","settings":"3f2a…","after":"docs/b.txt"}` while a walk is under
//! way (`after` = the last path visited), `"after":null,"complete":true` once it finished.
//! The root is named twice: by the path the component sees it at (the `root` config value,
//! which the host chooses and may be the same for every tenant) and, where the platform
//! tells it, by its device + inode ([`crate::identity`]), which is what really tells one
//! directory from another.

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::Error;

/// Checkpoint format version.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub v: u32,
    /// The `root` the walk ran over.
    pub root: String,
    /// The root directory's identity (device + inode hash), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_id: Option<String>,
    /// Fingerprint of the settings that decide what the walk visits ([`settings`]).
    pub settings: String,
    /// The last path visited (relative to the root), while a walk is under way.
    pub after: Option<String>,
    /// The walk finished: the next session starts a new one.
    #[serde(default)]
    pub complete: bool,
}

/// Fingerprint of everything that changes which paths a walk visits or what their
/// documents hold. A resumed walk must visit exactly the paths the interrupted one would
/// have, or the end-of-walk purge would be wrong.
pub fn settings(config: &Config) -> String {
    use sha2::{Digest, Sha256};
    let canonical = serde_json::json!([
        config.include,
        config.exclude,
        config.follow_symlinks,
        config.max_depth,
        config.content_key.as_str(),
    ]);
    hex::encode(&Sha256::digest(canonical.to_string().as_bytes())[..8])
}

impl Checkpoint {
    pub fn walking(config: &Config, root_id: Option<String>, after: &str) -> Checkpoint {
        Checkpoint {
            v: VERSION,
            root: config.root.clone(),
            root_id,
            settings: settings(config),
            after: Some(after.to_string()),
            complete: false,
        }
    }

    pub fn complete(config: &Config, root_id: Option<String>) -> Checkpoint {
        Checkpoint {
            v: VERSION,
            root: config.root.clone(),
            root_id,
            settings: settings(config),
            after: None,
            complete: true,
        }
    }

    pub fn encode(&self) -> String {
        // Plain strings and numbers always serialize; an empty object would be a mismatch.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }

    /// Parse a stored checkpoint; anything unreadable is a mismatch.
    pub fn decode(s: &str) -> Result<Checkpoint, Error> {
        let not_ours = |e: serde_json::Error| {
            Error::CheckpointMismatch(format!(
                "the stored checkpoint is not a local-folder checkpoint ({e}); run `tributary sync --full`"
            ))
        };
        let raw: serde_json::Value = serde_json::from_str(s).map_err(not_ours)?;
        if let Some(v) = raw.get("v").and_then(serde_json::Value::as_u64)
            && v != u64::from(VERSION)
        {
            return Err(Error::CheckpointMismatch(format!(
                "the stored checkpoint has format version {v}, this connector reads version {VERSION}; run `tributary sync --full`"
            )));
        }
        serde_json::from_value(raw).map_err(not_ours)
    }

    /// Refuse a checkpoint of another root path. An interrupted walk is not resumed over
    /// another directory (same path, other identity) or under other settings: a new walk
    /// starts, which purges nothing until it completes, so that is always safe.
    pub fn verify(&self, config: &Config, root_id: Option<&str>) -> Result<(), Error> {
        if self.root != config.root {
            return Err(Error::CheckpointMismatch(format!(
                "the checkpoint was taken for root {:?} but root is now {:?}; run `tributary sync --full`",
                self.root, config.root
            )));
        }
        if self.complete {
            return Ok(());
        }
        if let (Some(was), Some(now)) = (self.root_id.as_deref(), root_id)
            && was != now
        {
            return Err(Error::CheckpointExpired(
                "the directory granted as root is not the one the interrupted walk ran over (it was replaced, or root now names another directory); a new walk starts".into(),
            ));
        }
        if self.settings != settings(config) {
            return Err(Error::CheckpointExpired(
                "include, exclude, follow_symlinks, max_depth or content_key changed during an interrupted walk; it cannot be resumed, a new walk starts".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: serde_json::Value) -> Config {
        let mut v = serde_json::json!({"root": "/mnt/root"});
        if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            m.extend(e.clone());
        }
        Config::parse(&v.to_string()).unwrap()
    }

    #[test]
    fn checkpoints_round_trip() {
        let c = config(serde_json::json!({}));
        for cp in [
            Checkpoint::walking(&c, Some("abc".into()), "a/é b.txt"),
            Checkpoint::walking(&c, None, "a"),
            Checkpoint::complete(&c, Some("abc".into())),
        ] {
            assert_eq!(Checkpoint::decode(&cp.encode()).unwrap(), cp);
            cp.verify(&c, Some("abc")).unwrap();
        }
    }

    #[test]
    fn another_root_is_a_mismatch() {
        let cp = Checkpoint::complete(&config(serde_json::json!({})), None);
        let other = Config::parse(r#"{"root":"/mnt/other"}"#).unwrap();
        assert!(
            matches!(cp.verify(&other, None), Err(Error::CheckpointMismatch(m)) if m.contains("/mnt/other"))
        );
    }

    #[test]
    fn another_directory_at_the_same_path_expires_an_interrupted_walk_only() {
        let c = config(serde_json::json!({}));
        let walking = Checkpoint::walking(&c, Some("dir-1".into()), "a");
        assert!(matches!(
            walking.verify(&c, Some("dir-2")),
            Err(Error::CheckpointExpired(_))
        ));
        walking.verify(&c, Some("dir-1")).unwrap();
        // Unknown on either side: only the path can be compared.
        walking.verify(&c, None).unwrap();
        Checkpoint::walking(&c, None, "a")
            .verify(&c, Some("dir-2"))
            .unwrap();
        Checkpoint::complete(&c, Some("dir-1".into()))
            .verify(&c, Some("dir-2"))
            .unwrap();
    }

    #[test]
    fn changed_settings_expire_an_interrupted_walk_only() {
        let before = config(serde_json::json!({}));
        let after = config(serde_json::json!({"exclude": ["*.tmp"]}));
        assert!(matches!(
            Checkpoint::walking(&before, None, "a").verify(&after, None),
            Err(Error::CheckpointExpired(_))
        ));
        Checkpoint::complete(&before, None)
            .verify(&after, None)
            .unwrap();
        // The watch interval does not change what a walk visits.
        let slower = config(serde_json::json!({"watch_interval_secs": 600}));
        Checkpoint::walking(&before, None, "a")
            .verify(&slower, None)
            .unwrap();
    }

    #[test]
    fn malformed_or_future_checkpoints_are_mismatches() {
        for s in [
            "nope",
            "{}",
            r#"{"v":2,"root":"/mnt/root"}"#,
            r#"{"cursor":"dropbox"}"#,
        ] {
            assert!(
                matches!(Checkpoint::decode(s), Err(Error::CheckpointMismatch(_))),
                "{s}"
            );
        }
    }
}
