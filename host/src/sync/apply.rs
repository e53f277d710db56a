//! Applying one page of changes: upserts (straight to the sink, or through a content fetch),
//! deletes and subtree deletes (barriers: every earlier write is acknowledged first), and the
//! enumeration markers whose end purges what the enumeration did not see, but only when the
//! search engine acknowledged every write of it.
use super::content::{self, ContentOutcome};
use super::document::{assemble, assemble_identity, content_patch};
use super::run::Run;
use crate::rules::Policy;
use crate::sink::Write;
use crate::source::{Change, Document, IndexTarget};
use anyhow::{Context, bail};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use tracing::Instrument;

impl Run<'_> {
    pub(super) async fn apply_page(
        &mut self,
        seq: u64,
        changes: Vec<Change>,
    ) -> anyhow::Result<()> {
        // One `_mget` per page tells which documents already carry the same content.
        let keyed: Vec<String> = changes
            .iter()
            .filter_map(|c| match c {
                Change::Upsert(d) => d
                    .content
                    .as_ref()
                    .and_then(|c| c.content_key.as_ref())
                    .map(|_| d.id.clone()),
                _ => None,
            })
            .collect();
        let stored_keys = if keyed.is_empty() {
            Default::default()
        } else {
            self.sinks
                .documents
                .content_keys(&keyed)
                .await
                .context("reading stored content keys")?
        };
        // Where each id is upserted last in this page: a delete-tree keeps documents that are
        // rewritten after it (a move arrives as delete(old path) + upsert(same id)).
        let mut last_upsert: HashMap<String, usize> = Default::default();
        for (i, change) in changes.iter().enumerate() {
            if let Change::Upsert(d) = change {
                last_upsert.insert(d.id.clone(), i);
            }
        }
        let mut in_flight: HashSet<String> = HashSet::new();
        for (position, change) in changes.into_iter().enumerate() {
            self.reap()?;
            match change {
                Change::Upsert(doc) => {
                    if !in_flight.insert(doc.id.clone()) {
                        // The same id twice in one page: keep the order of the two writes.
                        self.drain().await?;
                        in_flight.clear();
                        in_flight.insert(doc.id.clone());
                    }
                    self.upsert(seq, doc, &stored_keys).await?;
                }
                Change::Delete { scope, id } => {
                    self.drain().await?;
                    in_flight.clear();
                    if let Ok(mut book) = self.retries.lock() {
                        book.settled(&id);
                    }
                    let sink = self.sinks.of(self.tenant.info.target_of(&scope))?.clone();
                    self.add(seq);
                    sink.submit(Write::Delete { id }, seq).await?;
                    self.report.deleted += 1;
                    self.drain().await?;
                }
                Change::DeleteTree {
                    scope,
                    field,
                    value,
                } => {
                    self.drain().await?;
                    in_flight.clear();
                    let sink = self.sinks.of(self.tenant.info.target_of(&scope))?.clone();
                    let keep: Vec<String> = last_upsert
                        .iter()
                        .filter(|(_, last)| **last > position)
                        .map(|(id, _)| id.clone())
                        .collect();
                    let n = sink
                        .delete_tree(&field, &value, &keep)
                        .await
                        .with_context(|| format!("deleting {field} = {value:?} and below"))?;
                    self.report.deleted += n;
                }
                Change::BeginEnumeration(scope) => {
                    tracing::debug!(%scope, marker = %self.run_marker, "enumeration begins");
                    self.open.insert(scope, self.run_marker.clone());
                }
                Change::EndEnumeration(scope) => {
                    let Some(marker) = self.open.get(&scope).cloned() else {
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
                    self.open.remove(&scope);
                    let sink = self.sinks.of(self.tenant.info.target_of(&scope))?.clone();
                    let n = sink.purge_unseen(&scope, &marker).await.with_context(|| {
                        format!("removing documents of scope {scope:?} that the completed enumeration did not see")
                    })?;
                    tracing::info!(%scope, purged = n, "enumeration complete");
                    self.report.purged += n;
                }
            }
        }
        Ok(())
    }

    async fn upsert(
        &mut self,
        seq: u64,
        doc: Document,
        stored_keys: &HashMap<String, String>,
    ) -> anyhow::Result<()> {
        self.report.seen += 1;
        let fields = match serde_json::from_str::<Value>(&doc.fields) {
            Ok(Value::Object(map)) => map,
            _ => bail!(
                "the component sent document {:?} whose fields are not a JSON object",
                doc.id
            ),
        };
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
            return sink.submit(Write::Index { id: doc.id, source }, seq).await;
        }
        let rules = &self.tenant.config.rules;
        if !rules.is_empty() {
            let decision = rules.decide(&fields);
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
                        .submit(Write::Delete { id: doc.id }, seq)
                        .await?;
                }
                return Ok(());
            }
        }
        let Some(mut request) = doc.content else {
            let source = assemble(fields, &doc.scope, &marker, None, None);
            self.counters.indexed.fetch_add(1, Ordering::Relaxed);
            self.add(seq);
            return self
                .sinks
                .documents
                .submit(Write::Index { id: doc.id, source }, seq)
                .await;
        };
        request.content_key = request
            .content_key
            .take()
            .map(|k| content::effective_key(&request.file_name, &k));
        let key = request.content_key.clone();
        if let Some(key) = &key
            && stored_keys.get(&doc.id) == Some(key)
        {
            let fields = assemble(fields, &doc.scope, &marker, None, Some(key));
            self.counters.unchanged.fetch_add(1, Ordering::Relaxed);
            self.add(seq);
            return self
                .sinks
                .documents
                .submit(Write::Update { id: doc.id, fields }, seq)
                .await;
        }
        if let Some(outcome) = self.fetcher.precheck(&request) {
            if let ContentOutcome::Skipped(reason) = &outcome {
                self.counters.skip(reason);
            }
            if let Ok(mut book) = self.retries.lock() {
                book.settled(&doc.id);
            }
            let source = assemble(fields, &doc.scope, &marker, Some(&outcome), key.as_deref());
            self.counters.indexed.fetch_add(1, Ordering::Relaxed);
            self.add(seq);
            return self
                .sinks
                .documents
                .submit(Write::Index { id: doc.id, source }, seq)
                .await;
        }
        // Take a fetch slot here, not in the task: this bounds the work in flight.
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
        let scope = doc.scope;
        let id = doc.id;
        let pipeline = self.tenant.config.content.ingest_pipeline.clone();
        self.downloads.spawn(
            async move {
                let outcome = fetcher.fetch(&request).await;
                drop((permit, share));
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
                let source = assemble(fields, &scope, &marker, Some(&outcome), key.as_deref());
                let write = match (&outcome, pipeline) {
                    (ContentOutcome::Attachment(_), Some(pipeline)) => Write::IndexVia {
                        id,
                        source,
                        pipeline,
                    },
                    _ => Write::Index { id, source },
                };
                if let Err(e) = sink.submit(write, seq).await {
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
