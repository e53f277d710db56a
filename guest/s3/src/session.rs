//! The sync state machine: one `ListObjectsV2` page per `next_page` call, a checkpoint on
//! every page.
//!
//! Every run is a complete enumeration (S3 has no change feed): begin("objects") → pages of
//! upserts → end("objects"), after which the host deletes the documents of objects that were
//! not listed. The host skips the download of objects whose ETag (content key) it already has.

use crate::checkpoint::Checkpoint;
use crate::client::{Client, Head};
use crate::config::Config;
use crate::document::{Change, NoContent, SCOPE_OBJECTS, is_folder, no_content, object_document};
use crate::error::Error;
use crate::metadata::ObjectMetadata;
use crate::transport::{Level, Transport};
use crate::uri;

/// Log progress at info level every this many pages.
const INFO_EVERY: u64 = 10;

/// A page of changes (mirrors WIT `page`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub changes: Vec<Change>,
    pub checkpoint: Option<String>,
    pub has_more: bool,
}

/// What the next `next_page` call does.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// List the first page (emits begin("objects")).
    Start,
    /// List the page after `token`.
    Continue { token: String },
    /// The listing is complete; repeat the final checkpoint.
    Done { checkpoint: String },
}

/// One sync run.
pub struct Session<T: Transport> {
    transport: T,
    config: Config,
    step: Step,
    pages: u64,
    objects: u64,
}

impl<T: Transport> Session<T> {
    /// Check the checkpoint against the configuration and decide where to start (no network).
    pub fn start(transport: T, config: Config, checkpoint: Option<&str>) -> Result<Self, Error> {
        let step = match checkpoint.map(Checkpoint::decode).transpose()? {
            None => Step::Start,
            Some(cp) => {
                cp.verify(&config)?;
                match cp.token {
                    Some(token) => Step::Continue { token },
                    // The last run completed: this one is a new complete enumeration.
                    None => Step::Start,
                }
            }
        };
        transport.log(
            Level::Info,
            &format!(
                "S3 bucket {:?}, prefix {:?} at {}: {}",
                config.bucket,
                config.prefix,
                config.origin(),
                match step {
                    Step::Start => "full listing",
                    Step::Continue { .. } => "resuming the listing",
                    Step::Done { .. } => "done",
                }
            ),
        );
        Ok(Session {
            transport,
            config,
            step,
            pages: 0,
            objects: 0,
        })
    }

    /// Produce the next page. On error the state is unchanged, so a retry repeats the call.
    pub fn next_page(&mut self) -> Result<Page, Error> {
        let (token, mut changes) = match &self.step {
            Step::Done { checkpoint } => {
                return Ok(Page {
                    changes: Vec::new(),
                    checkpoint: Some(checkpoint.clone()),
                    has_more: false,
                });
            }
            Step::Start => (None, vec![Change::BeginEnumeration(SCOPE_OBJECTS.into())]),
            Step::Continue { token } => (Some(token.clone()), Vec::new()),
        };
        let client = Client::new(&self.transport, &self.config);
        let listing = client.list(token.as_deref(), self.config.page_size)?;
        if listing.next_token.is_some() && listing.next_token == token {
            return Err(Error::Permanent(format!(
                "{} returned the same continuation token twice; the listing would never end (a bug in the S3-compatible server)",
                self.config.origin()
            )));
        }
        let n = listing.objects.len();
        let metadata = self.fetch_metadata(&client, &listing.objects)?;
        changes.reserve(n + 1);
        let mut skipped_content = 0u64;
        for (o, meta) in listing.objects.iter().zip(metadata) {
            let meta = match meta {
                MetadataOutcome::NotFetched => None,
                MetadataOutcome::Fetched(m) => Some(m),
                MetadataOutcome::Gone => continue,
            };
            if matches!(
                no_content(o),
                Some(NoContent::DotSegment | NoContent::Archived)
            ) {
                skipped_content += 1;
            }
            changes.push(Change::Upsert(object_document(
                &self.config,
                o,
                meta.as_ref(),
            )));
        }
        if skipped_content > 0 {
            self.transport.log(
                Level::Info,
                &format!(
                    "{skipped_content} object(s) on this page are indexed without content: archived (GLACIER, DEEP_ARCHIVE) or keys with \".\"/\"..\" segments that URLs cannot address"
                ),
            );
        }
        self.progress(n);
        let (page, next) = match listing.next_token {
            Some(next) => (
                Page {
                    changes,
                    checkpoint: Some(Checkpoint::new(&self.config, Some(next.clone())).encode()),
                    has_more: true,
                },
                Step::Continue { token: next },
            ),
            None => {
                changes.push(Change::EndEnumeration(SCOPE_OBJECTS.into()));
                self.transport.log(
                    Level::Info,
                    &format!("listing complete: {} objects", self.objects),
                );
                let checkpoint = Checkpoint::new(&self.config, None).encode();
                (
                    Page {
                        changes,
                        checkpoint: Some(checkpoint.clone()),
                        has_more: false,
                    },
                    Step::Done { checkpoint },
                )
            }
        };
        self.step = next;
        self.pages += 1;
        Ok(page)
    }

    /// `HeadObject` for the page's files when `fetch_metadata` is on. Folders are skipped (no
    /// useful metadata), and so are keys with `.`/`..` segments: their URL would be normalised
    /// into another key's, whose 404 would read as "deleted".
    fn fetch_metadata(
        &self,
        client: &Client<'_, T>,
        objects: &[crate::api::Object],
    ) -> Result<Vec<MetadataOutcome>, Error> {
        if !self.config.fetch_metadata {
            return Ok(objects
                .iter()
                .map(|_| MetadataOutcome::NotFetched)
                .collect());
        }
        let headed = |o: &crate::api::Object| !is_folder(&o.key) && !uri::has_dot_segment(&o.key);
        let keys: Vec<&str> = objects
            .iter()
            .filter(|o| headed(o))
            .map(|o| o.key.as_str())
            .collect();
        let mut heads = client.head_many(&keys).into_iter();
        let mut out = Vec::with_capacity(objects.len());
        for o in objects {
            if !headed(o) {
                out.push(MetadataOutcome::NotFetched);
                continue;
            }
            match heads.next() {
                Some(Ok(Head::Found(m))) => out.push(MetadataOutcome::Fetched(m)),
                Some(Ok(Head::Gone)) => {
                    self.transport.log(
                        Level::Debug,
                        &format!("{:?} was deleted while the page was read; skipped", o.key),
                    );
                    out.push(MetadataOutcome::Gone);
                }
                Some(Err(e)) => return Err(e),
                None => {
                    return Err(Error::Permanent(
                        "the host answered fewer HeadObject requests than were sent".into(),
                    ));
                }
            }
        }
        Ok(out)
    }

    fn progress(&mut self, n: usize) {
        self.objects += n as u64;
        let page = self.pages + 1;
        self.transport.log(
            Level::Debug,
            &format!(
                "page {page}: {n} objects listed ({} in total)",
                self.objects
            ),
        );
        if page.is_multiple_of(INFO_EVERY) {
            self.transport.log(
                Level::Info,
                &format!("{} objects listed after {page} pages", self.objects),
            );
        }
    }
}

/// The `HeadObject` outcome for one listed object.
enum MetadataOutcome {
    NotFetched,
    Fetched(ObjectMetadata),
    /// Deleted between the listing and the `HeadObject`: not indexed.
    Gone,
}
