//! What one extraction may use, and what it produced.
use std::time::Duration;

/// Per-document limits: the text kept, and the sandbox's memory, CPU and wall-clock caps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractLimits {
    /// Characters kept per document (`content.max_chars`); past it the text is cut and the
    /// extraction says `truncated`.
    pub max_chars: u64,
    /// Collapse whitespace runs to one space (`content.normalize_whitespace`).
    pub normalize_whitespace: bool,
    /// Cap on the extractor instance's linear memory.
    pub memory_bytes: usize,
    /// Guest CPU time per document (epoch ticks of execution).
    pub cpu_time: Duration,
    /// Wall-clock cap per document, whatever the guest is doing.
    pub timeout: Duration,
    /// Bytes that may be inflated from a compressed container (zip bombs end here first).
    pub max_inflated_bytes: u64,
}

impl Default for ExtractLimits {
    fn default() -> Self {
        ExtractLimits {
            max_chars: 1_000_000,
            normalize_whitespace: true,
            memory_bytes: 256 << 20,
            cpu_time: Duration::from_secs(30),
            timeout: Duration::from_secs(60),
            max_inflated_bytes: 64 << 20,
        }
    }
}

/// Cheap metadata the extractor found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// What the bytes turned out to be ("pdf", "docx", "text", ...).
    pub format: String,
    pub title: Option<String>,
    pub author: Option<String>,
    pub pages: Option<u32>,
    pub sheets: Option<u32>,
    pub slides: Option<u32>,
}

/// The result for one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extraction {
    Text {
        text: String,
        truncated: bool,
        metadata: Metadata,
    },
    /// This document has no text, permanently (until its content changes): unsupported or
    /// corrupt or encrypted, or it broke a limit (a bomb, a hang, a panic). The reason says
    /// which, e.g. "memory limit (256 MiB per extraction)".
    Skipped(String),
    /// The extractor itself could not run (not this document's fault): try again next run.
    Failed(String),
}
