//! Content that could not be fetched after the HTTP policy's retries, kept in the tenant's
//! state so that later runs fetch it again even if the file never changes (an incremental
//! run sees only what changed, and a failure records no content key).
//!
//! A failed fetch is written down before its document's write is submitted, so any
//! checkpoint committed after that write carries it. A later run tries every entry first,
//! before its first page, and merges the new content into the stored document; an entry
//! leaves the book when that merge is acknowledged, when the document's content is fetched
//! anew by a page, or when the document is deleted. After `MAX_ATTEMPTS` runs it is given up
//! (the document keeps `content_status: failed` and is fetched again when it changes or on
//! `--full`).
use crate::source::ContentRequest;
pub use crate::state::PendingContent;
use std::collections::BTreeMap;

/// Runs that try an entry before it is given up.
pub const MAX_ATTEMPTS: u32 = 5;
/// Entries kept at most (the oldest beyond this are given up).
pub const MAX_ENTRIES: usize = 10_000;

/// The entries of one tenant, by document id.
#[derive(Debug, Default)]
pub struct RetryBook {
    entries: BTreeMap<String, PendingContent>,
    given_up: u64,
}

impl RetryBook {
    pub fn new(entries: Vec<PendingContent>) -> Self {
        let mut book = RetryBook::default();
        for entry in entries {
            book.entries.insert(entry.id.clone(), entry);
        }
        book
    }

    /// A fetch failed (again): remember it, counting the attempt.
    pub fn failed(&mut self, id: &str, scope: &str, request: ContentRequest) {
        let attempts = self.entries.get(id).map_or(1, |e| e.attempts + 1);
        if attempts > MAX_ATTEMPTS {
            tracing::warn!(
                document = %id,
                "content still not fetched after {MAX_ATTEMPTS} runs; giving up until the file changes or a --full run"
            );
            self.entries.remove(id);
            self.given_up += 1;
            return;
        }
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(id) {
            self.given_up += 1;
            return;
        }
        self.entries.insert(
            id.to_string(),
            PendingContent {
                id: id.to_string(),
                scope: scope.to_string(),
                request,
                attempts,
            },
        );
    }

    /// The document's content arrived, or the document is gone: nothing left to retry.
    pub fn settled(&mut self, id: &str) {
        self.entries.remove(id);
    }

    /// The entries as they stand, for the next commit.
    pub fn snapshot(&self) -> Vec<PendingContent> {
        self.entries.values().cloned().collect()
    }

    pub fn entries(&self) -> impl Iterator<Item = &PendingContent> {
        self.entries.values()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries dropped this run (too many attempts, or a full book).
    pub fn given_up(&self) -> u64 {
        self.given_up
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::OutboundRequest;
    use crate::source::ContentSource;

    fn request() -> ContentRequest {
        ContentRequest {
            source: ContentSource::Http(OutboundRequest::get("http://x/a")),
            file_name: "a.txt".into(),
            size: Some(3),
            content_key: Some("txt:h".into()),
        }
    }

    #[test]
    fn entries_count_attempts_and_are_given_up_after_the_last() {
        let mut book = RetryBook::default();
        for _ in 0..MAX_ATTEMPTS {
            book.failed("a", "files", request());
        }
        assert_eq!(book.snapshot()[0].attempts, MAX_ATTEMPTS);
        book.failed("a", "files", request());
        assert!(book.is_empty());
        assert_eq!(book.given_up(), 1);
    }

    #[test]
    fn settled_entries_leave_and_the_book_survives_a_round_trip() {
        let mut book = RetryBook::default();
        book.failed("a", "files", request());
        book.failed("b", "files", request());
        book.settled("a");
        let json = serde_json::to_string(&book.snapshot()).unwrap_or_default();
        let back: Vec<PendingContent> = serde_json::from_str(&json).unwrap_or_default();
        let again = RetryBook::new(back);
        assert_eq!(again.len(), 1);
        assert_eq!(again.snapshot()[0].id, "b");
        assert_eq!(again.snapshot()[0].request, request());
    }
}
