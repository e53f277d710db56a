//! Applying one page of changes: upserts (straight to the sink, or through a content fetch),
//! deletes and subtree deletes (barriers: every earlier write is acknowledged first), and the
//! enumeration markers whose end purges what the enumeration did not see, but only when the
//! search engine acknowledged every write of it.
use super::content::{self, ContentOutcome};
use super::document::{Fields, assemble, assemble_identity, content_patch};
use super::run::Run;
use crate::rules::Policy;
use crate::sink::{Stored, Write};
use crate::source::{Change, Document, IndexTarget};
use anyhow::{Context, anyhow, bail};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use tracing::Instrument;

impl Run<'_> {
    pub(super) async fn apply_page(
        &mut self,
        seq: u64,
        changes: Vec<Change>,
    ) -> anyhow::Result<()> {
        // Each upsert's fields, checked and split into members once.
        let mut fields: Vec<Option<Fields<'_>>> = Vec::with_capacity(changes.len());
        for change in &changes {
            fields.push(match change {
                Change::Upsert(d) => Some(Fields::parse(&d.fields).map_err(|e| {
                    anyhow!(
                        "the component sent document {:?} whose fields are {e}",
                        d.id
                    )
                })?),
                _ => None,
            });
        }
        // One `_mget` per page tells which documents already carry the same content, and the
        // `_timestamp` of those the component gives none (their first-indexed time).
        let wanted: Vec<String> = changes
            .iter()
            .zip(&fields)
            .filter_map(|(c, f)| match (c, f) {
                (Change::Upsert(d), Some(f))
                    if self.tenant.info.target_of(&d.scope) == IndexTarget::Documents
                        && (d.content.as_ref().is_some_and(|c| c.content_key.is_some())
                            || !f.has_timestamp()) =>
                {
                    Some(d.id.clone())
                }
                _ => None,
            })
            .collect();
        let stored = if fields.iter().any(Option::is_some) {
            self.sinks
                .documents
                .stored(&wanted)
                .await
                .context("reading stored content keys")?
        } else {
            Stored::default()
        };
        // Content that recurs among the fetches to come keeps its extraction for its twins;
        // any other is let go once written.
        self.fetcher
            .announce(changes.iter().filter_map(|c| match c {
                Change::Upsert(d) => {
                    let request = d.content.as_ref()?;
                    let key =
                        content::effective_key(&request.file_name, request.content_key.as_ref()?);
                    (stored.content_key(&d.id) != Some(key.as_str())).then_some(key)
                }
                _ => None,
            }));
        let first_indexed = self.sinks.documents.first_indexed().to_string();
        // Where each id is upserted last in this page: a delete-tree keeps documents that are
        // rewritten after it (a move arrives as delete(old path) + upsert(same id)).
        let mut last_upsert: HashMap<&str, usize> = Default::default();
        for (i, change) in changes.iter().enumerate() {
            if let Change::Upsert(d) = change {
                last_upsert.insert(&d.id, i);
            }
        }
        let mut in_flight: HashSet<&str> = HashSet::new();
        for (position, (change, fields)) in changes.iter().zip(&fields).enumerate() {
            self.reap()?;
            match (change, fields) {
                (Change::Upsert(doc), Some(fields)) => {
                    if !in_flight.insert(&doc.id) {
                        // The same id twice in one page: keep the order of the two writes.
                        self.drain().await?;
                        in_flight.clear();
                        in_flight.insert(&doc.id);
                    }
                    let timestamp = stored.timestamp(&doc.id).unwrap_or(&first_indexed);
                    self.upsert(seq, doc, fields, &stored, timestamp).await?;
                }
                (Change::Upsert(_), None) => {}
                (Change::Delete { scope, id }, _) => {
                    self.drain().await?;
                    in_flight.clear();
                    if let Ok(mut book) = self.retries.lock() {
                        book.settled(id);
                    }
                    let sink = self.sinks.of(self.tenant.info.target_of(scope))?.clone();
                    self.add(seq);
                    sink.submit(Write::Delete { id: id.clone() }, seq).await?;
                    self.report.deleted += 1;
                    self.drain().await?;
                }
                (
                    Change::DeleteTree {
                        scope,
                        field,
                        value,
                    },
                    _,
                ) => {
                    self.drain().await?;
                    in_flight.clear();
                    let sink = self.sinks.of(self.tenant.info.target_of(scope))?.clone();
                    let keep: Vec<String> = last_upsert
                        .iter()
                        .filter(|(_, last)| **last > position)
                        .map(|(id, _)| id.to_string())
                        .collect();
                    let n = sink
                        .delete_tree(field, value, &keep)
                        .await
                        .with_context(|| format!("deleting {field} = {value:?} and below"))?;
                    self.report.deleted += n;
                }
                (Change::BeginEnumeration(scope), _) => {
                    tracing::debug!(%scope, marker = %self.run_marker, "enumeration begins");
                    self.open.insert(scope.clone(), self.run_marker.clone());
                }
                (Change::EndEnumeration(scope), _) => {
                    let Some(marker) = self.open.get(scope).cloned() else {
                        tracing::warn!(%scope, "end of an enumeration that never began: nothing purged");
                        continue;
                    };
                    self.drain().await?;
                    in_flight.clear();
                    // Every write of the enumeration is acknowledged now; a rejected one
                    // still carries an older marker and would be purged as if it were gone.
                    let rejected = self.sinks.failed();
                    if rejected > 0 {
                        self.report.purges_skipped.push(scope.clone());
                        bail!(
                            "the search engine rejected {rejected} write(s) during the enumeration of {scope:?}, so nothing was purged; \
                             the next run enumerates again from the last committed checkpoint"
                        );
                    }
                    self.open.remove(scope);
                    let sink = self.sinks.of(self.tenant.info.target_of(scope))?.clone();
                    let n = sink.purge_unseen(scope, &marker).await.with_context(|| {
                        format!("removing documents of scope {scope:?} that the completed enumeration did not see")
                    })?;
                    tracing::info!(%scope, purged = n, "enumeration complete");
                    self.report.purged += n;
                }
            }
        }
        Ok(())
    }

    /// Write one document (or start fetching its content). `timestamp` is its stored
    /// `_timestamp`, or this run's first-indexed time if the index does not have it.
    async fn upsert(
        &mut self,
        seq: u64,
        doc: &Document,
        fields: &Fields<'_>,
        stored: &Stored,
        timestamp: &str,
    ) -> anyhow::Result<()> {
        self.report.seen += 1;
        let marker = self
            .open
            .get(&doc.scope)
            .cloned()
            .unwrap_or_else(|| self.run_marker.clone());
        let target = self.tenant.info.target_of(&doc.scope);
        if target == IndexTarget::AccessControl {
            // Identities: stored as the component wrote them, with the run marker only.
            let source = assemble_identity(fields, &doc.scope, &marker);
            self.counters.indexed.fetch_add(1, Ordering::Relaxed);
            let sink = self.sinks.of(target)?.clone();
            self.add(seq);
            let id = doc.id.clone();
            return sink.submit(Write::Index { id, source }, seq).await;
        }
        let rules = &self.tenant.config.rules;
        if !rules.is_empty() {
            let decision = rules.decide(&fields.to_map());
            self.rule_counts.count(decision);
            if decision.policy == Policy::Exclude {
                self.report.excluded += 1;
                if let Ok(mut book) = self.retries.lock() {
                    book.settled(&doc.id);
                }
                // Inside an enumeration the purge at its end removes it; a delta removes it
                // now, in case it was indexed before the rule existed.
                if !self.open.contains_key(&doc.scope) {
                    self.add(seq);
                    self.sinks
                        .documents
                        .submit(Write::Delete { id: doc.id.clone() }, seq)
                        .await?;
                }
                return Ok(());
            }
        }
        let Some(request) = &doc.content else {
            let source = assemble(fields, &doc.scope, &marker, None, None, Some(timestamp));
            self.counters.indexed.fetch_add(1, Ordering::Relaxed);
            self.add(seq);
            let id = doc.id.clone();
            return self
                .sinks
                .documents
                .submit(Write::Index { id, source }, seq)
                .await;
        };
        let key = request
            .content_key
            .as_ref()
            .map(|k| content::effective_key(&request.file_name, k));
        if let Some(key) = &key
            && stored.content_key(&doc.id) == Some(key.as_str())
        {
            let fields = assemble(fields, &doc.scope, &marker, None, Some(key), None);
            self.counters.unchanged.fetch_add(1, Ordering::Relaxed);
            self.add(seq);
            let id = doc.id.clone();
            return self
                .sinks
                .documents
                .submit(Write::Update { id, fields }, seq)
                .await;
        }
        if let Some(outcome) = self.fetcher.precheck(request) {
            if let ContentOutcome::Skipped(reason) = &outcome {
                self.counters.skip(reason);
            }
            if let Ok(mut book) = self.retries.lock() {
                book.settled(&doc.id);
            }
            // Extraction turned off for the whole tenant is no fact about this document: it
            // is written like one without content (a replacing write, no content fields).
            let (written, written_key) = if outcome.is_disabled() {
                (None, None)
            } else {
                (Some(&outcome), key.as_deref())
            };
            let source = assemble(
                fields,
                &doc.scope,
                &marker,
                written,
                written_key,
                Some(timestamp),
            );
            self.counters.indexed.fetch_add(1, Ordering::Relaxed);
            self.add(seq);
            let id = doc.id.clone();
            return self
                .sinks
                .documents
                .submit(Write::Index { id, source }, seq)
                .await;
        }
        let mut request = request.clone();
        request.content_key = key.clone();
        // Take a fetch slot here, not in the task: this bounds the work in flight. The task
        // holds it until its write is queued in the sink, so a sink slower than the downloads
        // holds the downloads back instead of gathering fetched documents (body, text and
        // serialized write) in tasks waiting for the bulk budget.
        let permit = self.download_slots.clone().acquire_owned().await?;
        let share = self.download_share.acquire(1).await;
        self.add(seq);
        let (sink, fetcher, counters, ledger, retries) = (
            self.sinks.documents.clone(),
            self.fetcher.clone(),
            self.counters.clone(),
            self.ledger.clone(),
            self.retries.clone(),
        );
        let scope = doc.scope.clone();
        let id = doc.id.clone();
        let fields = doc.fields.clone();
        let timestamp = timestamp.to_string();
        let pipeline = self.tenant.config.content.ingest_pipeline.clone();
        self.downloads.spawn(
            async move {
                let outcome = fetcher.fetch(&request).await;
                record_outcome(&counters, &id, &outcome);
                if let Ok(mut book) = retries.lock() {
                    match &outcome {
                        // Written down before the document's write, so the checkpoint that
                        // follows that write carries it.
                        ContentOutcome::Failed(_) => book.failed(&id, &scope, request),
                        _ => book.settled(&id),
                    }
                }
                counters.indexed.fetch_add(1, Ordering::Relaxed);
                let written = async {
                    // Checked when the page arrived; cannot fail now.
                    let fields = Fields::parse(&fields).map_err(|e| {
                        anyhow!("the component sent document {id:?} whose fields are {e}")
                    })?;
                    let source = assemble(
                        &fields,
                        &scope,
                        &marker,
                        Some(&outcome),
                        key.as_deref(),
                        Some(&timestamp),
                    );
                    let write = match (&outcome, pipeline) {
                        (ContentOutcome::Attachment(_), Some(pipeline)) => Write::IndexVia {
                            id: id.clone(),
                            source,
                            pipeline,
                        },
                        _ => Write::Index {
                            id: id.clone(),
                            source,
                        },
                    };
                    sink.submit(write, seq).await
                }
                .await;
                drop((permit, share));
                if let Err(e) = written {
                    if let Ok(mut l) = ledger.lock() {
                        l.cancel(seq);
                    }
                    return Err(e);
                }
                Ok(())
            }
            .in_current_span(),
        );
        Ok(())
    }

    /// Fetch again the content earlier runs could not fetch, and merge it into the stored
    /// documents (counted as writes of page `seq`). Entries leave the book once their merge is
    /// acknowledged; a fetch that fails again stays for the next run.
    pub(super) async fn retry_content(&mut self, seq: u64) -> anyhow::Result<()> {
        let pending = match self.retries.lock() {
            Ok(book) if !book.is_empty() => book.snapshot(),
            _ => return Ok(()),
        };
        tracing::info!(
            documents = pending.len(),
            "fetching content that earlier runs could not fetch"
        );
        let mut tasks = tokio::task::JoinSet::new();
        for entry in pending {
            let permit = self.download_slots.clone().acquire_owned().await?;
            let share = self.download_share.acquire(1).await;
            let fetcher = self.fetcher.clone();
            tasks.spawn(async move {
                let outcome = fetcher.fetch(&entry.request).await;
                drop((permit, share));
                (entry, outcome)
            });
        }
        let mut settled = vec![];
        while let Some(done) = tasks.join_next().await {
            let (entry, outcome) = done.context("a content retry task panicked")?;
            self.counters
                .content_retried
                .fetch_add(1, Ordering::Relaxed);
            record_outcome(&self.counters, &entry.id, &outcome);
            if let ContentOutcome::Failed(_) = outcome {
                if let Ok(mut book) = self.retries.lock() {
                    book.failed(&entry.id, &entry.scope, entry.request);
                }
                continue;
            }
            if let ContentOutcome::Attachment(_) = outcome {
                // An ingest pipeline runs on whole-document writes only, not on a merge.
                tracing::info!(
                    document = %entry.id,
                    "content for the ingest pipeline is not retried by a merge; the file is sent again when it changes or on --full"
                );
                if let Ok(mut book) = self.retries.lock() {
                    book.settled(&entry.id);
                }
                continue;
            }
            let fields = content_patch(&outcome, entry.request.content_key.as_deref());
            self.add(seq);
            self.sinks
                .documents
                .submit(
                    Write::Patch {
                        id: entry.id.clone(),
                        fields,
                    },
                    seq,
                )
                .await?;
            settled.push(entry.id);
        }
        let before = self.sinks.failed();
        self.drain().await?;
        if self.sinks.failed() == before
            && let Ok(mut book) = self.retries.lock()
        {
            for id in &settled {
                book.settled(id);
            }
        }
        Ok(())
    }
}

fn record_outcome(counters: &super::run::Counters, id: &str, outcome: &ContentOutcome) {
    match outcome {
        ContentOutcome::Extracted { .. } | ContentOutcome::Attachment(_) => {}
        ContentOutcome::Skipped(reason) => counters.skip(reason),
        ContentOutcome::Failed(reason) => {
            tracing::warn!(document = %id, "content not indexed this time (the next run tries again): {reason}");
            counters.content_failures.fetch_add(1, Ordering::Relaxed);
        }
        ContentOutcome::Unavailable(reason) => {
            tracing::info!(document = %id, "content no longer available (changed since listed?): {reason}");
            counters.content_unavailable.fetch_add(1, Ordering::Relaxed);
        }
    }
}
