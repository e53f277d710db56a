//! Why a document has no text.
use std::fmt;

/// The reasons the WIT `failure` variant carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Not a type this component reads, or binary bytes under a text extension.
    Unsupported(String),
    /// Not a valid file of the type it claims to be.
    Corrupt(String),
    /// Password-protected or encrypted.
    Encrypted(String),
    /// A limit from `Limits` was reached before useful text came out.
    Limit(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Unsupported(m) => write!(f, "unsupported: {m}"),
            Failure::Corrupt(m) => write!(f, "corrupt: {m}"),
            Failure::Encrypted(m) => write!(f, "encrypted: {m}"),
            Failure::Limit(m) => write!(f, "limit: {m}"),
        }
    }
}

impl Failure {
    pub fn corrupt(format: &str, detail: impl fmt::Display) -> Failure {
        Failure::Corrupt(format!("not a readable {format} file: {detail}"))
    }
}
