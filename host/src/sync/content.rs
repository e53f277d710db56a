//! Content for one document: decide whether to fetch (size, type, unchanged key), fetch it
//! (an HTTP download under the run's policy, or a file inside a directory the tenant
//! granted), extract text in the sandboxed extractor, and share successful results between
//! documents with the same content key in this run. A failure is never shared: it belongs to
//! the document it happened to, and the next document with the same key fetches for itself.
use crate::budget::{Grant, Share};
use crate::extract::{ExtractLimits, Extraction, Extractor, Metadata};
use crate::http::{HttpError, HttpService};
use crate::runtime::Grant as DirGrant;
use crate::source::{ContentRequest, ContentSource};
use bytes::Bytes;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Component, Path};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::{Mutex, OnceCell};

/// The skip reason of content while `content.extract = false`.
pub const EXTRACTION_DISABLED: &str = "extraction disabled";

/// What happened to a document's content.
#[derive(Debug, Clone)]
pub enum ContentOutcome {
    Extracted {
        text: Arc<str>,
        bytes: u64,
        /// The text was cut at `content.max_chars`.
        truncated: bool,
        metadata: Arc<Metadata>,
    },
    /// Permanently not indexed (too large, unsupported type): decided again each run from
    /// the metadata, without fetching.
    Skipped(String),
    /// Could not be fetched this time; the key is not recorded and the fetch is retried by
    /// the next run (see `retries`).
    Failed(String),
    /// The source refused the download with a client error (e.g. the file was deleted or
    /// moved after it was listed: the delta that follows says so). Not a failure of the run;
    /// no key is recorded, so a later run that still sees the file fetches it.
    Unavailable(String),
    /// The raw bytes, for the cluster's ingest pipeline to extract (`content.ingest_pipeline`).
    Attachment(Bytes),
}

impl ContentOutcome {
    pub fn status(&self) -> &'static str {
        match self {
            ContentOutcome::Extracted { .. } => "extracted",
            ContentOutcome::Skipped(_) => "skipped",
            ContentOutcome::Failed(_) => "failed",
            ContentOutcome::Unavailable(_) => "unavailable",
            ContentOutcome::Attachment(_) => "pipeline",
        }
    }

    /// Skipped because the tenant turned extraction off (`content.extract = false`): a
    /// setting of the whole tenant, so the document carries no content fields for it (the
    /// run's report counts it).
    pub fn is_disabled(&self) -> bool {
        matches!(self, ContentOutcome::Skipped(reason) if reason == EXTRACTION_DISABLED)
    }

    /// Whether another document with the same content may reuse this outcome: only what the
    /// bytes decided, never what happened to one fetch.
    fn shareable(&self) -> bool {
        matches!(
            self,
            ContentOutcome::Extracted { .. } | ContentOutcome::Skipped(_)
        )
    }
}

/// Bound on remembered extractions per run (identical-content sharing) by count; the text
/// they hold is bounded by the run's share of the text budget.
const SHARED_EXTRACTIONS: usize = 4096;

/// Bound on the content keys remembered as announced (8 bytes each): a key announced again
/// within this many is known to recur.
const ANNOUNCED_KEYS: usize = 1 << 17;

pub struct ContentFetcher {
    http: Arc<HttpService>,
    grants: Vec<DirGrant>,
    max_bytes: u64,
    /// The tenant's extractor pool; none when extraction is off or the cluster extracts.
    extractor: Option<Extractor>,
    limits: ExtractLimits,
    /// Hand the bytes to the cluster's ingest pipeline instead of extracting them here.
    pipeline: bool,
    /// Extractions in flight (so documents of one content fetch once) and finished ones of
    /// content known to recur.
    shared: Mutex<HashMap<String, Arc<OnceCell<ContentOutcome>>>>,
    /// Which content keys were announced, and which of them more than once: only the
    /// results of recurring content are kept once finished, so a tree of distinct files holds
    /// no text after it is written.
    announced: std::sync::Mutex<Announced>,
    /// The text budget the shared extractions draw on.
    text_share: Share,
    /// What `shared` holds of it; when no more can be had, the cache starts over.
    text_grants: std::sync::Mutex<Vec<Grant>>,
    text_full: AtomicBool,
    pub shared_hits: AtomicU64,
    /// Fetches performed (downloads and file reads).
    pub downloads: AtomicU64,
    /// Bytes actually fetched (shared content counts once).
    pub bytes_fetched: AtomicU64,
}

impl ContentFetcher {
    pub fn new(
        http: Arc<HttpService>,
        grants: Vec<DirGrant>,
        max_bytes: u64,
        extractor: Option<Extractor>,
        limits: ExtractLimits,
        pipeline: bool,
        text_share: Share,
    ) -> Self {
        ContentFetcher {
            http,
            grants,
            max_bytes,
            extractor,
            limits,
            pipeline,
            shared: Mutex::new(HashMap::new()),
            announced: Default::default(),
            text_share,
            text_grants: Default::default(),
            text_full: Default::default(),
            shared_hits: Default::default(),
            downloads: Default::default(),
            bytes_fetched: Default::default(),
        }
    }

    /// Whether this run fetches content at all: for text extraction, or for the cluster's
    /// ingest pipeline. Otherwise every content request would be skipped as
    /// `extraction disabled`, and the component is told not to describe any.
    pub fn fetches_content(&self) -> bool {
        self.pipeline || self.extractor.is_some()
    }

    /// Decide without fetching whether this content would be skipped. With extraction off
    /// nothing is said about any document's content (not even that it is too large), the same
    /// as when a component was told not to describe content.
    pub fn precheck(&self, request: &ContentRequest) -> Option<ContentOutcome> {
        if !self.fetches_content() {
            return Some(ContentOutcome::Skipped(EXTRACTION_DISABLED.into()));
        }
        if let Some(size) = request.size
            && size > self.max_bytes
        {
            return Some(ContentOutcome::Skipped(format!(
                "too large ({size} bytes > content.max_bytes {})",
                self.max_bytes
            )));
        }
        let Some(extractor) = &self.extractor else {
            // The cluster's ingest pipeline decides what it can read.
            return None;
        };
        if !extractor.supports(&request.file_name) {
            return Some(ContentOutcome::Skipped(unsupported_reason(
                &request.file_name,
            )));
        }
        None
    }

    /// Tell the fetcher the (effective) content keys of a page before fetching any of them: a
    /// key announced twice (in this page or an earlier one) is content that recurs, whose
    /// extraction is kept for the documents still to come.
    /// Nothing is noted when this fetcher fetches nothing (extraction off, no ingest
    /// pipeline): a metadata-only sync pays nothing for it.
    pub fn announce(&self, keys: impl IntoIterator<Item = impl AsRef<str>>) {
        if !self.fetches_content() {
            return;
        }
        let Ok(mut announced) = self.announced.lock() else {
            return;
        };
        for key in keys {
            announced.note(key.as_ref());
        }
    }

    fn recurs(&self, key: &str) -> bool {
        self.announced
            .lock()
            .map(|announced| announced.recurs(key))
            .unwrap_or(false)
    }

    /// Fetch and extract, sharing a success with any other document of identical content.
    pub async fn fetch(&self, request: &ContentRequest) -> ContentOutcome {
        if let Some(outcome) = self.precheck(request) {
            return outcome;
        }
        let Some(key) = request.content_key.clone() else {
            return self.fetch_and_extract(request).await;
        };
        let cell = {
            let mut shared = self.shared.lock().await;
            let full = shared.len() >= SHARED_EXTRACTIONS || self.text_full.load(Ordering::Relaxed);
            if full && !shared.contains_key(&key) {
                shared.clear();
                if let Ok(mut grants) = self.text_grants.lock() {
                    grants.clear();
                }
                self.text_full.store(false, Ordering::Relaxed);
            }
            shared.entry(key.clone()).or_default().clone()
        };
        let mut ran = false;
        // A failed init leaves the cell empty: the next waiter fetches for itself.
        let result = cell
            .get_or_try_init(|| {
                ran = true;
                async {
                    let outcome = self.fetch_and_extract(request).await;
                    if outcome.shareable() {
                        Ok(outcome)
                    } else {
                        Err(outcome)
                    }
                }
            })
            .await;
        let keep = ran && self.recurs(&key);
        if ran && !keep {
            // Nothing still to come shares this content: the documents that waited for it
            // have their clones of the cell, and the map lets go of the text.
            let mut shared = self.shared.lock().await;
            if shared.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                shared.remove(&key);
            }
        }
        match result {
            Ok(outcome) => {
                if !ran {
                    self.shared_hits.fetch_add(1, Ordering::Relaxed);
                } else if keep && let ContentOutcome::Extracted { text, .. } = outcome {
                    match self.text_share.try_acquire(text.len()) {
                        Some(grant) => {
                            if let Ok(mut grants) = self.text_grants.lock() {
                                grants.push(grant);
                            }
                        }
                        None => self.text_full.store(true, Ordering::Relaxed),
                    }
                }
                outcome.clone()
            }
            Err(own_failure) => own_failure,
        }
    }

    async fn fetch_and_extract(&self, request: &ContentRequest) -> ContentOutcome {
        self.downloads.fetch_add(1, Ordering::Relaxed);
        let body = match &request.source {
            ContentSource::Http(outbound) => match self.http.send(outbound, self.max_bytes).await {
                Ok(response) if (200..300).contains(&response.status) => response.body,
                Ok(response) => {
                    let snippet =
                        String::from_utf8_lossy(&response.body[..response.body.len().min(300)])
                            .into_owned();
                    let reason = format!("HTTP {}: {snippet}", response.status);
                    return if (400..500).contains(&response.status) {
                        ContentOutcome::Unavailable(reason)
                    } else {
                        ContentOutcome::Failed(reason)
                    };
                }
                Err(HttpError::TooLarge(n)) => {
                    return ContentOutcome::Skipped(format!(
                        "too large (over {n} bytes > content.max_bytes {})",
                        self.max_bytes
                    ));
                }
                Err(e) => return ContentOutcome::Failed(e.to_string()),
            },
            ContentSource::File(path) => {
                let grants = self.grants.clone();
                let (path, max) = (path.clone(), self.max_bytes);
                match tokio::task::spawn_blocking(move || read_granted(&grants, &path, max)).await {
                    Ok(Ok(bytes)) => bytes,
                    Ok(Err(outcome)) => return outcome,
                    Err(e) => return ContentOutcome::Failed(format!("reading the file: {e}")),
                }
            }
        };
        self.bytes_fetched
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        let bytes = body.len() as u64;
        if self.pipeline {
            return ContentOutcome::Attachment(body);
        }
        let Some(extractor) = &self.extractor else {
            return ContentOutcome::Skipped(EXTRACTION_DISABLED.into());
        };
        match extractor
            .extract(&request.file_name, body, &self.limits)
            .await
        {
            Extraction::Text {
                text,
                truncated,
                metadata,
            } => ContentOutcome::Extracted {
                text: Arc::from(text),
                bytes,
                truncated,
                metadata: Arc::new(metadata),
            },
            Extraction::Skipped(reason) => ContentOutcome::Skipped(reason),
            Extraction::Failed(reason) => ContentOutcome::Failed(reason),
        }
    }
}

/// Content keys announced so far, as 64-bit hashes (a collision only keeps one extraction
/// that would otherwise have been let go).
#[derive(Default)]
struct Announced {
    once: std::collections::HashSet<u64>,
    again: std::collections::HashSet<u64>,
}

impl Announced {
    fn hash(key: &str) -> u64 {
        use std::hash::{BuildHasher, BuildHasherDefault};
        BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(key)
    }

    fn note(&mut self, key: &str) {
        let hash = Self::hash(key);
        if self.once.len() >= ANNOUNCED_KEYS {
            self.once.clear();
        }
        if self.again.len() >= ANNOUNCED_KEYS {
            self.again.clear();
        }
        if !self.once.insert(hash) {
            self.again.insert(hash);
        }
    }

    fn recurs(&self, key: &str) -> bool {
        self.again.contains(&Self::hash(key))
    }
}

/// Read a file the component named by the path it sees, inside one of the tenant's grants,
/// never outside it (no `..`, no symlink out of the granted directory), at most `max` bytes.
fn read_granted(grants: &[DirGrant], guest_path: &str, max: u64) -> Result<Bytes, ContentOutcome> {
    let refused = |why: &str| ContentOutcome::Failed(format!("{guest_path:?}: {why}"));
    let (grant, relative) = grants
        .iter()
        .find_map(|g| {
            let rest = guest_path.strip_prefix(&g.guest_path)?;
            let rest = rest
                .strip_prefix('/')
                .or((rest.is_empty()).then_some(rest))?;
            Some((g, rest))
        })
        .ok_or_else(|| refused("not inside a directory granted to this tenant"))?;
    let relative = Path::new(relative);
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(refused("the path must stay inside the granted directory"));
    }
    let dir = cap_std::fs::Dir::open_ambient_dir(&grant.host_path, cap_std::ambient_authority())
        .map_err(|e| refused(&format!("the granted directory cannot be opened: {e}")))?;
    let file = dir.open(relative).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            ContentOutcome::Unavailable(format!("{guest_path:?} no longer exists"))
        }
        _ => refused(&e.to_string()),
    })?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if size > max {
        return Err(ContentOutcome::Skipped(format!(
            "too large ({size} bytes > content.max_bytes {max})"
        )));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.into_std()
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| refused(&e.to_string()))?;
    if bytes.len() as u64 > max {
        return Err(ContentOutcome::Skipped(format!(
            "too large (over {max} bytes > content.max_bytes {max})"
        )));
    }
    Ok(Bytes::from(bytes))
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
#[allow(clippy::unwrap_used)]
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

    #[test]
    fn only_content_announced_twice_recurs() {
        let mut announced = Announced::default();
        announced.note("txt:a");
        announced.note("txt:b");
        assert!(!announced.recurs("txt:a") && !announced.recurs("txt:b"));
        // Twice in one page, or again in a later one: the same.
        announced.note("txt:a");
        assert!(announced.recurs("txt:a"));
        assert!(!announced.recurs("txt:b") && !announced.recurs("txt:c"));
        // Bounded: past ANNOUNCED_KEYS the memory starts over.
        for i in 0..ANNOUNCED_KEYS {
            announced.note(&format!("txt:{i}"));
        }
        announced.note("txt:b");
        assert!(!announced.recurs("txt:b"));
        assert!(announced.once.len() <= ANNOUNCED_KEYS && announced.again.len() <= ANNOUNCED_KEYS);
    }

    #[test]
    fn granted_files_are_read_and_nothing_outside_the_grant() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("sub")).unwrap();
        std::fs::write(root.path().join("sub/a.txt"), b"hello").unwrap();
        std::fs::write(outside.path().join("secret.txt"), b"secret").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            root.path().join("link.txt"),
        )
        .unwrap();
        let grants = vec![DirGrant {
            host_path: root.path().to_path_buf(),
            guest_path: "/mnt/root".into(),
        }];
        let read = |p: &str| read_granted(&grants, p, 100);
        assert_eq!(read("/mnt/root/sub/a.txt").unwrap(), Bytes::from("hello"));
        assert!(matches!(
            read("/mnt/root/link.txt"),
            Err(ContentOutcome::Failed(_))
        ));
        assert!(matches!(
            read("/mnt/root/../x"),
            Err(ContentOutcome::Failed(_))
        ));
        assert!(matches!(
            read("/mnt/rootx/a"),
            Err(ContentOutcome::Failed(_))
        ));
        assert!(matches!(
            read("/etc/passwd"),
            Err(ContentOutcome::Failed(_))
        ));
        assert!(matches!(
            read("/mnt/root/gone.txt"),
            Err(ContentOutcome::Unavailable(_))
        ));
        assert!(matches!(
            read_granted(&grants, "/mnt/root/sub/a.txt", 3),
            Err(ContentOutcome::Skipped(_))
        ));
    }
}
