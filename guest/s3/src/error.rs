//! The component's error type: one variant per WIT `source.error` case.

use std::fmt;

/// An error as the host sees it (mirrors `tributary:source/source.error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A config field is wrong: the message names the field and the fix.
    InvalidConfig(String),
    /// The service rejected the credentials (unknown key, bad signature, access denied).
    Unauthorized(String),
    /// The stored continuation token can no longer be resumed.
    CheckpointExpired(String),
    /// The checkpoint belongs to another endpoint, bucket, prefix or format.
    CheckpointMismatch(String),
    /// Worth retrying later.
    Transient(String),
    /// Will not succeed on retry.
    Permanent(String),
}

impl Error {
    /// The message without the variant name.
    pub fn message(&self) -> &str {
        match self {
            Error::InvalidConfig(m)
            | Error::Unauthorized(m)
            | Error::CheckpointExpired(m)
            | Error::CheckpointMismatch(m)
            | Error::Transient(m)
            | Error::Permanent(m) => m,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Error::InvalidConfig(_) => "invalid-config",
            Error::Unauthorized(_) => "unauthorized",
            Error::CheckpointExpired(_) => "checkpoint-expired",
            Error::CheckpointMismatch(_) => "checkpoint-mismatch",
            Error::Transient(_) => "transient",
            Error::Permanent(_) => "permanent",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind(), self.message())
    }
}

impl std::error::Error for Error {}
