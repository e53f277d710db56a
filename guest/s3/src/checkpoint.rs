//! The opaque resume point handed to the host after every page.
//!
//! S3 has no change feed, so every run is a complete enumeration; the checkpoint only lets an
//! interrupted listing resume where it stopped (the continuation token), and ties that token
//! to the endpoint, bucket and prefix it was issued for.

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::Error;

/// Checkpoint format version.
pub const VERSION: u32 = 1;

/// The checkpoint JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub v: u32,
    /// The endpoint origin (not the bucket subdomain: the addressing style may change).
    pub endpoint: String,
    pub bucket: String,
    pub prefix: String,
    /// The continuation token of the next page of an unfinished listing; `None` once the
    /// listing completed (the next run starts a new one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl Checkpoint {
    /// A checkpoint for `config`, in the middle of a listing (`Some(token)`) or after it.
    pub fn new(config: &Config, token: Option<String>) -> Checkpoint {
        Checkpoint {
            v: VERSION,
            endpoint: config.endpoint.clone(),
            bucket: config.bucket.clone(),
            prefix: config.prefix.clone(),
            token,
        }
    }

    /// Serialize to the string stored by the host.
    pub fn encode(&self) -> String {
        // Plain strings always serialize; fall back to an empty object anyway.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }

    /// Parse a stored checkpoint; anything unreadable is a mismatch.
    pub fn decode(s: &str) -> Result<Checkpoint, Error> {
        let raw: serde_json::Value = serde_json::from_str(s).map_err(|e| not_ours(&e))?;
        if let Some(v) = raw.get("v").and_then(serde_json::Value::as_u64)
            && v != u64::from(VERSION)
        {
            return Err(Error::CheckpointMismatch(format!(
                "the stored checkpoint has format version {v}, this connector reads version {VERSION}; run `tributary sync --full`"
            )));
        }
        serde_json::from_value(raw).map_err(|e| not_ours(&e))
    }

    /// Refuse a checkpoint taken for another endpoint, bucket or prefix.
    pub fn verify(&self, config: &Config) -> Result<(), Error> {
        let theirs = (&self.endpoint, &self.bucket, &self.prefix);
        let ours = (&config.endpoint, &config.bucket, &config.prefix);
        if theirs != ours {
            return Err(Error::CheckpointMismatch(format!(
                "the checkpoint was taken for bucket {:?} prefix {:?} at {}, but the configuration now reads bucket {:?} prefix {:?} at {}; run `tributary sync --full`",
                self.bucket,
                self.prefix,
                self.endpoint,
                config.bucket,
                config.prefix,
                config.endpoint
            )));
        }
        Ok(())
    }
}

fn not_ours(e: &serde_json::Error) -> Error {
    Error::CheckpointMismatch(format!(
        "the stored checkpoint is not an S3 checkpoint ({e}); run `tributary sync --full`"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(bucket: &str, prefix: &str) -> Config {
        Config::parse(
            &json!({"bucket": bucket, "prefix": prefix, "endpoint": "http://127.0.0.1:9000", "path_style": true})
                .to_string(),
        )
        .unwrap()
    }

    #[test]
    fn round_trips_with_and_without_a_token() {
        let c = config("docs", "a/");
        for token in [None, Some("1ueGcxLPRx1Tr/XYE=".to_string())] {
            let cp = Checkpoint::new(&c, token);
            assert_eq!(Checkpoint::decode(&cp.encode()).unwrap(), cp);
            cp.verify(&c).unwrap();
        }
        assert!(!Checkpoint::new(&c, None).encode().contains("token"));
    }

    #[test]
    fn another_bucket_prefix_or_endpoint_is_a_mismatch() {
        let cp = Checkpoint::new(&config("docs", "a/"), Some("t".into()));
        for other in [
            config("other", "a/"),
            config("docs", "b/"),
            config("docs", ""),
        ] {
            assert!(
                matches!(cp.verify(&other), Err(Error::CheckpointMismatch(m)) if m.contains("sync --full"))
            );
        }
        let mut moved = config("docs", "a/");
        moved.endpoint = "http://127.0.0.1:9001".into();
        assert!(matches!(
            cp.verify(&moved),
            Err(Error::CheckpointMismatch(_))
        ));
    }

    #[test]
    fn foreign_or_future_checkpoints_are_mismatches() {
        assert!(matches!(
            Checkpoint::decode("not json"),
            Err(Error::CheckpointMismatch(_))
        ));
        // A Dropbox checkpoint.
        let dropbox =
            r#"{"v":1,"account":"dbid:1","root":"1","path":"","phase":"delta","cursor":"c"}"#;
        assert!(
            matches!(Checkpoint::decode(dropbox), Err(Error::CheckpointMismatch(m)) if m.contains("not an S3 checkpoint"))
        );
        let future = r#"{"v":2,"endpoint":"e","bucket":"b","prefix":""}"#;
        assert!(
            matches!(Checkpoint::decode(future), Err(Error::CheckpointMismatch(m)) if m.contains("version 2"))
        );
    }
}
