//! Content for one document: decide whether to download (size, type, unchanged key), fetch
//! it under the run's HTTP policy, extract text, and share the result between documents
//! with the same content key in this run.
use crate::extract::{self, Extraction};
use crate::http::{HttpError, HttpService};
use crate::runtime::bindings::guest::ContentRequest;
use crate::runtime::host_state::outbound;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{Mutex, OnceCell};

/// What happened to a document's content.
#[derive(Debug, Clone)]
pub enum ContentOutcome {
    Extracted {
        text: Arc<str>,
        bytes: u64,
    },
    /// Permanently not indexed (too large, unsupported type): the key is recorded so the
    /// next run does not try again until the content changes.
    Skipped(String),
    /// Could not be fetched this time; the key is not recorded so the next run retries.
    Failed(String),
    /// The source refused the download with a client error (e.g. the file was deleted or
    /// moved after it was listed: the delta that follows says so). Not a failure of the run;
    /// no key is recorded, so a later run that still sees the file fetches it.
    Unavailable(String),
}

impl ContentOutcome {
    pub fn status(&self) -> &'static str {
        match self {
            ContentOutcome::Extracted { .. } => "extracted",
            ContentOutcome::Skipped(_) => "skipped",
            ContentOutcome::Failed(_) => "failed",
            ContentOutcome::Unavailable(_) => "unavailable",
        }
    }
}

/// Bounds on remembered extractions per run (identical-content sharing): by count and by
/// the text they hold, so memory stays flat however large the files are.
const SHARED_EXTRACTIONS: usize = 4096;
const SHARED_TEXT_BYTES: usize = 32 << 20;

pub struct ContentFetcher {
    http: Arc<HttpService>,
    max_bytes: u64,
    extract: bool,
    shared: Mutex<HashMap<String, Arc<OnceCell<ContentOutcome>>>>,
    /// Text bytes held by `shared` (approximate: counted when an extraction lands).
    shared_bytes: std::sync::atomic::AtomicUsize,
    pub shared_hits: std::sync::atomic::AtomicU64,
    pub downloads: std::sync::atomic::AtomicU64,
}

impl ContentFetcher {
    pub fn new(http: Arc<HttpService>, max_bytes: u64, extract: bool) -> Self {
        ContentFetcher {
            http,
            max_bytes,
            extract,
            shared: Mutex::new(HashMap::new()),
            shared_bytes: Default::default(),
            shared_hits: Default::default(),
            downloads: Default::default(),
        }
    }

    /// Decide without the network whether this content would be skipped.
    pub fn precheck(&self, request: &ContentRequest) -> Option<ContentOutcome> {
        if !self.extract {
            return Some(ContentOutcome::Skipped("extraction disabled".into()));
        }
        if let Some(size) = request.size
            && size > self.max_bytes
        {
            return Some(ContentOutcome::Skipped(format!(
                "too large ({size} bytes > content.max_bytes {})",
                self.max_bytes
            )));
        }
        if !extract::is_supported(&request.file_name) {
            return Some(ContentOutcome::Skipped(unsupported_reason(
                &request.file_name,
            )));
        }
        None
    }

    /// Fetch and extract, sharing the work with any other document of identical content.
    pub async fn fetch(&self, request: ContentRequest) -> ContentOutcome {
        if let Some(outcome) = self.precheck(&request) {
            return outcome;
        }
        let Some(key) = request.content_key.clone() else {
            return self.download(request).await;
        };
        let cell = {
            let mut shared = self.shared.lock().await;
            let full = shared.len() >= SHARED_EXTRACTIONS
                || self.shared_bytes.load(std::sync::atomic::Ordering::Relaxed)
                    >= SHARED_TEXT_BYTES;
            if full && !shared.contains_key(&key) {
                shared.clear();
                self.shared_bytes
                    .store(0, std::sync::atomic::Ordering::Relaxed);
            }
            shared.entry(key).or_default().clone()
        };
        let mut ran = false;
        let outcome = cell
            .get_or_init(|| {
                ran = true;
                self.download(request)
            })
            .await
            .clone();
        if !ran {
            self.shared_hits
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        } else if let ContentOutcome::Extracted { text, .. } = &outcome {
            self.shared_bytes
                .fetch_add(text.len(), std::sync::atomic::Ordering::Relaxed);
        }
        outcome
    }

    async fn download(&self, request: ContentRequest) -> ContentOutcome {
        self.downloads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let file_name = request.file_name.clone();
        let outbound = outbound(request.request);
        match self.http.send(&outbound, self.max_bytes).await {
            Ok(response) if (200..300).contains(&response.status) => {
                let bytes = response.body.len() as u64;
                let body = response.body;
                let extracted =
                    tokio::task::spawn_blocking(move || extract::extract(&file_name, &body)).await;
                match extracted {
                    Ok(Extraction::Text(text)) => ContentOutcome::Extracted {
                        text: Arc::from(text),
                        bytes,
                    },
                    Ok(Extraction::Unsupported(reason)) => ContentOutcome::Skipped(reason),
                    Err(e) => ContentOutcome::Failed(format!("extractor crashed: {e}")),
                }
            }
            Ok(response) => {
                let snippet =
                    String::from_utf8_lossy(&response.body[..response.body.len().min(300)])
                        .into_owned();
                let reason = format!("HTTP {}: {snippet}", response.status);
                if (400..500).contains(&response.status) {
                    ContentOutcome::Unavailable(reason)
                } else {
                    ContentOutcome::Failed(reason)
                }
            }
            Err(HttpError::TooLarge(n)) => ContentOutcome::Skipped(format!(
                "too large (over {n} bytes > content.max_bytes {})",
                self.max_bytes
            )),
            Err(e) => ContentOutcome::Failed(e.to_string()),
        }
    }
}

/// The content key as stored: the source's key plus the extractor that applies to the file
/// name. A rename that changes the type (`.html` → `.txt`) keeps the source's key (same
/// bytes) but needs a new extraction.
pub fn effective_key(file_name: &str, source_key: &str) -> String {
    let kind = match file_name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => ext.to_lowercase(),
        _ => String::new(),
    };
    format!("{kind}:{source_key}")
}

fn unsupported_reason(file_name: &str) -> String {
    match file_name.rsplit_once('.') {
        Some((_, ext)) if !ext.is_empty() => format!("unsupported type .{}", ext.to_lowercase()),
        _ => "unsupported type (no extension)".to_string(),
    }
}

/// The short reason key used in the report ("too large", "unsupported type .pdf").
pub fn reason_key(reason: &str) -> String {
    match reason.split_once(" (") {
        Some((head, _)) => head.to_string(),
        None => reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_key_changes_when_the_extractor_would() {
        assert_eq!(effective_key("a.TXT", "h1"), effective_key("b.txt", "h1"));
        assert_ne!(effective_key("a.html", "h1"), effective_key("a.txt", "h1"));
        assert_ne!(effective_key("a.txt", "h1"), effective_key("a.txt", "h2"));
        assert_eq!(effective_key("README", "h1"), ":h1");
        assert_eq!(effective_key(".bashrc", "h1"), ":h1");
    }
}
