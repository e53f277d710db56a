//! The end-of-run summary: printed for people, and as JSON with `--report`.
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    pub tenant: String,
    pub connector: String,
    /// "full" or "incremental".
    pub mode: String,
    /// Why this mode was chosen.
    pub mode_reason: String,
    pub dry_run: bool,
    pub pages: u64,
    /// Documents the source reported (upserts).
    pub seen: u64,
    /// Documents written with (re)extracted content or as new.
    pub indexed: u64,
    /// Documents whose content was unchanged: metadata-only partial updates.
    pub unchanged_content: u64,
    /// Deleted by id or by tree.
    pub deleted: u64,
    /// Removed after a completed enumeration because the source no longer has them.
    pub purged: u64,
    /// Content not indexed, by reason (too large, unsupported type, ...).
    pub skipped: BTreeMap<String, u64>,
    /// Content fetches that failed (document indexed without content; the next run retries).
    pub content_failures: u64,
    /// Content the source refused with a client error (typically deleted or moved since it
    /// was listed); not a failure of the run.
    pub content_unavailable: u64,
    /// Fetches of content that earlier runs could not fetch, tried again in this run.
    pub content_retried: u64,
    /// Documents whose content the next run fetches again.
    pub content_retry_pending: u64,
    /// Documents whose content is no longer retried (too many attempts).
    pub content_retries_given_up: u64,
    /// Enumerations that completed but whose purge was refused because writes were rejected.
    pub purges_skipped: Vec<String>,
    /// Documents the sync rules excluded.
    pub excluded: u64,
    /// What each sync rule decided.
    pub rules: Vec<RuleCount>,
    /// Writes the search engine rejected.
    pub write_failures: u64,
    pub write_failure_examples: Vec<String>,
    pub bytes_downloaded: u64,
    pub downloads: u64,
    /// Extractions shared between documents with identical content in this run.
    pub shared_extractions: u64,
    pub api_calls: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub token_refreshes: u64,
    pub checkpoint_committed: bool,
    pub duration_secs: f64,
    pub docs_per_sec: f64,
    /// "ok", "completed_with_errors", or the reason the run failed.
    pub outcome: String,
    /// The resume point the run ended on (committed when the run succeeded).
    #[serde(skip)]
    pub last_checkpoint: Option<String>,
}

/// How many documents one sync rule decided.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleCount {
    pub rule: String,
    pub documents: u64,
}

impl SyncReport {
    pub fn skip(&mut self, reason: &str) {
        *self.skipped.entry(reason.to_string()).or_default() += 1;
    }

    /// A few lines for people.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "{} sync of tenant {} ({}){}: {}\n",
            self.mode,
            self.tenant,
            self.connector,
            if self.dry_run { " [dry run]" } else { "" },
            self.outcome
        ));
        out.push_str(&format!("  why:        {}\n", self.mode_reason));
        out.push_str(&format!(
            "  documents:  {} seen, {} indexed, {} metadata-only (content unchanged), {} deleted, {} purged\n",
            self.seen, self.indexed, self.unchanged_content, self.deleted, self.purged
        ));
        if !self.rules.is_empty() {
            out.push_str(&format!("  rules:      {} excluded\n", self.excluded));
            for r in &self.rules {
                out.push_str(&format!("              {:>8}  {}\n", r.documents, r.rule));
            }
        }
        if !self.skipped.is_empty() {
            let reasons: Vec<String> = self
                .skipped
                .iter()
                .map(|(reason, n)| format!("{n} {reason}"))
                .collect();
            out.push_str(&format!("  no content: {}\n", reasons.join(", ")));
        }
        if self.content_unavailable > 0 {
            out.push_str(&format!(
                "  gone:       {} files vanished between listing and download\n",
                self.content_unavailable
            ));
        }
        if self.content_retried > 0 || self.content_retry_pending > 0 {
            out.push_str(&format!(
                "  retries:    {} earlier content failures fetched again, {} left for the next run{}\n",
                self.content_retried,
                self.content_retry_pending,
                if self.content_retries_given_up > 0 {
                    format!(", {} given up", self.content_retries_given_up)
                } else {
                    String::new()
                }
            ));
        }
        if !self.purges_skipped.is_empty() {
            out.push_str(&format!(
                "  not purged: {} (writes were rejected; the next run enumerates again)\n",
                self.purges_skipped.join(", ")
            ));
        }
        if self.content_failures > 0 || self.write_failures > 0 {
            out.push_str(&format!(
                "  failures:   {} content downloads, {} writes\n",
                self.content_failures, self.write_failures
            ));
            for example in self.write_failure_examples.iter().take(5) {
                out.push_str(&format!("              {example}\n"));
            }
        }
        out.push_str(&format!(
            "  traffic:    {} API calls, {} downloads ({:.1} MB), {} retries, {} rate-limited, {} token refreshes\n",
            self.api_calls,
            self.downloads,
            self.bytes_downloaded as f64 / 1e6,
            self.retries,
            self.rate_limited,
            self.token_refreshes
        ));
        out.push_str(&format!(
            "  time:       {:.2}s ({:.0} docs/s), {} pages, checkpoint {}\n",
            self.duration_secs,
            self.docs_per_sec,
            self.pages,
            if self.checkpoint_committed {
                "committed"
            } else {
                "not committed"
            }
        ));
        out
    }
}
