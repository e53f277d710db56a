//! Coordination between runner processes, through an Elasticsearch index we own (no
//! coordinator of our own): one claim document per scheduled slot of a tenant, created with
//! `op_type=create` so exactly one process gets it, kept alive by heartbeats written with
//! `if_seq_no`/`if_primary_term`, taken over once its lease runs out (the holder died), and
//! closed with the run's result (the run record `tributary status` shows). Cancel requests
//! and process heartbeats live in the same index. The layout uses only standard APIs, so it
//! works on Elasticsearch and OpenSearch alike.
use super::schedule::{RunKind, Slot};
use crate::es::{self, EsSettings, error_reason};
use anyhow::{Context, anyhow, bail};
use elasticsearch::http::StatusCode;
use elasticsearch::indices::IndicesCreateParts;
use elasticsearch::params::{OpType, Refresh};
use elasticsearch::{DeleteParts, Elasticsearch, GetParts, IndexParts, SearchParts};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Default name of the coordination index.
pub const DEFAULT_INDEX: &str = "tributary-coordination";

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimState {
    Running,
    Done,
    Failed,
}

/// Counts of a finished run, for the run record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunCounts {
    pub seen: u64,
    pub indexed: u64,
    pub deleted: u64,
    pub purged: u64,
    pub bytes: u64,
    pub api_calls: u64,
    pub duration_secs: f64,
}

/// One claimed slot: who runs it, until when, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimDoc {
    pub kind: String,
    pub tenant: String,
    pub slot: String,
    pub slot_at: i64,
    pub run_kind: RunKind,
    pub holder: String,
    pub state: ClaimState,
    /// Runs of this slot that started (a failed one is retried after a backoff).
    pub attempts: u32,
    /// Times another process took the slot over from a holder whose lease ran out.
    #[serde(default)]
    pub takeovers: u32,
    pub started_at_ms: u64,
    pub expires_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at_ms: Option<u64>,
    /// A failed slot may be tried again after this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<RunCounts>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Version {
    seq_no: i64,
    primary_term: i64,
}

/// A slot this process holds.
#[derive(Debug, Clone)]
pub struct Claim {
    id: String,
    version: Version,
    pub doc: ClaimDoc,
    /// This process took the slot over from a dead holder.
    pub took_over: bool,
}

/// What trying to claim a slot found.
#[derive(Debug)]
pub enum ClaimAttempt {
    Claimed(Box<Claim>),
    /// Another process runs it (its lease is live).
    HeldBy(String),
    /// The slot already ran to the end.
    Finished,
    /// The slot failed; it may be tried again at this time (Unix ms).
    RetryAt(u64),
}

/// The coordination index.
pub struct Coordination {
    client: Elasticsearch,
    index: String,
    budget: Duration,
    lease: Duration,
    ready: tokio::sync::OnceCell<()>,
}

fn version_of(body: &Value) -> Option<Version> {
    Some(Version {
        seq_no: body["_seq_no"].as_i64()?,
        primary_term: body["_primary_term"].as_i64()?,
    })
}

fn claim_id(tenant: &str, slot: &str) -> String {
    format!("claim|{tenant}|{slot}")
}

fn cancel_id(tenant: &str) -> String {
    format!("cancel|{tenant}")
}

/// How long a failed slot waits before it is tried again: 30 s, doubling, at most an hour.
fn backoff_ms(attempts: u32) -> u64 {
    (30_000u64 << attempts.saturating_sub(1).min(7)).min(3_600_000)
}

impl Coordination {
    pub fn new(settings: &EsSettings, index: &str, lease: Duration) -> anyhow::Result<Self> {
        Ok(Coordination {
            client: es::client(settings)?,
            index: index.to_string(),
            budget: settings.retry_budget(),
            lease,
            ready: tokio::sync::OnceCell::new(),
        })
    }

    pub fn lease(&self) -> Duration {
        self.lease
    }

    async fn ensure_index(&self) -> anyhow::Result<()> {
        self.ready
            .get_or_try_init(|| async {
                let body = json!({
                    "mappings": {
                        "dynamic": false,
                        "properties": {
                            "kind": { "type": "keyword" },
                            "tenant": { "type": "keyword" },
                            "slot": { "type": "keyword" },
                            "slot_at": { "type": "long" },
                            "run_kind": { "type": "keyword" },
                            "holder": { "type": "keyword" },
                            "state": { "type": "keyword" },
                            "started_at_ms": { "type": "long" },
                            "expires_at_ms": { "type": "long" },
                            "finished_at_ms": { "type": "long" },
                            "requested_at_ms": { "type": "long" },
                            "heartbeat_ms": { "type": "long" }
                        }
                    }
                });
                let api = self.client.indices();
                let answer = es::call(self.budget, "creating the coordination index", || {
                    api.create(IndicesCreateParts::Index(&self.index))
                        .body(body.clone())
                        .send()
                })
                .await?;
                let exists = answer.body["error"]["type"].as_str()
                    == Some("resource_already_exists_exception");
                if answer.status.is_success() || exists {
                    Ok(())
                } else {
                    Err(anyhow!(
                        "creating the coordination index {}: {}: {}",
                        self.index,
                        answer.status,
                        error_reason(&answer.body)
                    ))
                }
            })
            .await
            .map(|_| ())
    }

    async fn get(&self, id: &str) -> anyhow::Result<Option<(Value, Version)>> {
        self.ensure_index().await?;
        let what = format!("reading {id} from {}", self.index);
        let answer = es::call(self.budget, &what, || {
            self.client.get(GetParts::IndexId(&self.index, id)).send()
        })
        .await?;
        if answer.status == StatusCode::NOT_FOUND || answer.body["found"] != Value::Bool(true) {
            return Ok(None);
        }
        if !answer.status.is_success() {
            bail!("{what}: {}: {}", answer.status, error_reason(&answer.body));
        }
        let version =
            version_of(&answer.body).ok_or_else(|| anyhow!("{what}: no _seq_no in the answer"))?;
        Ok(Some((answer.body["_source"].clone(), version)))
    }

    /// Write `doc` under `id`: created when `expected` is `None`, else only over that version.
    /// `Ok(None)`: someone else wrote first.
    async fn put(
        &self,
        id: &str,
        doc: &Value,
        expected: Option<Version>,
    ) -> anyhow::Result<Option<Version>> {
        self.ensure_index().await?;
        let what = format!("writing {id} to {}", self.index);
        let answer = es::call(self.budget, &what, || {
            let request = self
                .client
                .index(IndexParts::IndexId(&self.index, id))
                .refresh(Refresh::True)
                .body(doc);
            match expected {
                None => request.op_type(OpType::Create),
                Some(v) => request.if_seq_no(v.seq_no).if_primary_term(v.primary_term),
            }
            .send()
        })
        .await?;
        if answer.status == StatusCode::CONFLICT {
            // Our own earlier attempt may have written it before its answer was lost.
            if answer.uncertain
                && let Some((stored, version)) = self.get(id).await?
                && &stored == doc
            {
                return Ok(Some(version));
            }
            return Ok(None);
        }
        if !answer.status.is_success() {
            bail!("{what}: {}: {}", answer.status, error_reason(&answer.body));
        }
        version_of(&answer.body)
            .map(Some)
            .ok_or_else(|| anyhow!("{what}: no _seq_no in the answer"))
    }

    /// Try to claim `slot` of `tenant` for `runner`.
    pub async fn claim(
        &self,
        tenant: &str,
        slot: &Slot,
        runner: &str,
    ) -> anyhow::Result<ClaimAttempt> {
        let id = claim_id(tenant, &slot.key());
        let now = now_ms();
        let fresh = ClaimDoc {
            kind: "claim".into(),
            tenant: tenant.to_string(),
            slot: slot.key(),
            slot_at: slot.at,
            run_kind: slot.kind,
            holder: runner.to_string(),
            state: ClaimState::Running,
            attempts: 1,
            takeovers: 0,
            started_at_ms: now,
            expires_at_ms: now + self.lease.as_millis() as u64,
            finished_at_ms: None,
            retry_after_ms: None,
            outcome: None,
            counts: None,
        };
        let value = serde_json::to_value(&fresh)?;
        if let Some(version) = self.put(&id, &value, None).await? {
            return Ok(ClaimAttempt::Claimed(Box::new(Claim {
                id,
                version,
                doc: fresh,
                took_over: false,
            })));
        }
        let Some((stored, version)) = self.get(&id).await? else {
            // Deleted between our create and our read: try again next time.
            return Ok(ClaimAttempt::HeldBy("(a racing runner)".into()));
        };
        let stored: ClaimDoc = serde_json::from_value(stored)
            .with_context(|| format!("the claim {id} in {} is unreadable", self.index))?;
        let mut next = match stored.state {
            ClaimState::Done => return Ok(ClaimAttempt::Finished),
            ClaimState::Running if stored.expires_at_ms > now => {
                return Ok(ClaimAttempt::HeldBy(stored.holder));
            }
            ClaimState::Failed if stored.retry_after_ms.is_some_and(|at| at > now) => {
                return Ok(ClaimAttempt::RetryAt(stored.retry_after_ms.unwrap_or(now)));
            }
            _ => stored.clone(),
        };
        let took_over = stored.state == ClaimState::Running;
        next.holder = runner.to_string();
        next.state = ClaimState::Running;
        next.attempts = stored.attempts + u32::from(!took_over);
        next.takeovers = stored.takeovers + u32::from(took_over);
        next.started_at_ms = now;
        next.expires_at_ms = now + self.lease.as_millis() as u64;
        next.retry_after_ms = None;
        let value = serde_json::to_value(&next)?;
        match self.put(&id, &value, Some(version)).await? {
            Some(version) => {
                if took_over {
                    tracing::warn!(
                        %tenant,
                        slot = %next.slot,
                        previous = %stored.holder,
                        "took over a slot whose holder stopped renewing its lease"
                    );
                }
                Ok(ClaimAttempt::Claimed(Box::new(Claim {
                    id,
                    version,
                    doc: next,
                    took_over,
                })))
            }
            None => Ok(ClaimAttempt::HeldBy("(a racing runner)".into())),
        }
    }

    /// Extend the claim's lease. An error means the claim was lost (another process took it
    /// over): the run must stop.
    pub async fn heartbeat(&self, claim: &mut Claim) -> anyhow::Result<()> {
        let mut next = claim.doc.clone();
        next.expires_at_ms = now_ms() + self.lease.as_millis() as u64;
        let value = serde_json::to_value(&next)?;
        match self.put(&claim.id, &value, Some(claim.version)).await? {
            Some(version) => {
                claim.version = version;
                claim.doc = next;
                Ok(())
            }
            None => bail!(
                "the claim on {} {} was taken over by another runner",
                claim.doc.tenant,
                claim.doc.slot
            ),
        }
    }

    /// Close the claim with the run's result. A failure schedules a retry after a backoff.
    pub async fn finish(
        &self,
        claim: &mut Claim,
        ok: bool,
        outcome: String,
        counts: RunCounts,
    ) -> anyhow::Result<()> {
        let now = now_ms();
        let mut next = claim.doc.clone();
        next.state = if ok {
            ClaimState::Done
        } else {
            ClaimState::Failed
        };
        next.finished_at_ms = Some(now);
        next.expires_at_ms = now;
        next.retry_after_ms = (!ok).then(|| now + backoff_ms(next.attempts));
        next.outcome = Some(outcome.chars().take(2000).collect());
        next.counts = Some(counts);
        let value = serde_json::to_value(&next)?;
        match self.put(&claim.id, &value, Some(claim.version)).await? {
            Some(version) => {
                claim.version = version;
                claim.doc = next;
                Ok(())
            }
            None => bail!(
                "the claim on {} {} was taken over before the run could record its result",
                claim.doc.tenant,
                claim.doc.slot
            ),
        }
    }

    /// Ask whoever runs `tenant` to stop.
    pub async fn request_cancel(&self, tenant: &str, by: &str) -> anyhow::Result<()> {
        self.ensure_index().await?;
        let id = cancel_id(tenant);
        let doc =
            json!({ "kind": "cancel", "tenant": tenant, "by": by, "requested_at_ms": now_ms() });
        let answer = es::call(self.budget, "writing a cancel request", || {
            self.client
                .index(IndexParts::IndexId(&self.index, &id))
                .refresh(Refresh::True)
                .body(doc.clone())
                .send()
        })
        .await?;
        if !answer.status.is_success() {
            bail!(
                "writing the cancel request for {tenant}: {}: {}",
                answer.status,
                error_reason(&answer.body)
            );
        }
        Ok(())
    }

    /// When a cancel was requested for `tenant` (Unix ms), if one was.
    pub async fn cancel_requested(&self, tenant: &str) -> anyhow::Result<Option<u64>> {
        Ok(self
            .get(&cancel_id(tenant))
            .await?
            .and_then(|(doc, _)| doc["requested_at_ms"].as_u64()))
    }

    /// The cancel request has been acted on.
    pub async fn clear_cancel(&self, tenant: &str) -> anyhow::Result<()> {
        let id = cancel_id(tenant);
        es::call(self.budget, "removing a cancel request", || {
            self.client
                .delete(DeleteParts::IndexId(&self.index, &id))
                .refresh(Refresh::True)
                .send()
        })
        .await?;
        Ok(())
    }

    /// The newest claims of `tenant` (running or finished), newest first.
    pub async fn recent_claims(&self, tenant: &str, n: usize) -> anyhow::Result<Vec<ClaimDoc>> {
        self.ensure_index().await?;
        let body = json!({
            "size": n,
            "query": { "bool": { "filter": [
                { "term": { "kind": "claim" } },
                { "term": { "tenant": tenant } }
            ] } },
            "sort": [ { "started_at_ms": "desc" } ]
        });
        let indices = [self.index.as_str()];
        let answer = es::call(self.budget, "reading run records", || {
            self.client
                .search(SearchParts::Index(&indices))
                .body(body.clone())
                .send()
        })
        .await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(vec![]);
        }
        if !answer.status.is_success() {
            bail!(
                "reading run records of {tenant}: {}: {}",
                answer.status,
                error_reason(&answer.body)
            );
        }
        Ok(answer.body["hits"]["hits"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|hit| serde_json::from_value(hit["_source"].clone()).ok())
            .collect())
    }

    /// Every claim record of a slot, to check that no slot ran twice (tests, audits).
    pub async fn claim_record(&self, tenant: &str, slot: &str) -> anyhow::Result<Option<ClaimDoc>> {
        Ok(match self.get(&claim_id(tenant, slot)).await? {
            Some((doc, _)) => serde_json::from_value(doc).ok(),
            None => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_slots_back_off_from_30_seconds_to_an_hour() {
        assert_eq!(backoff_ms(1), 30_000);
        assert_eq!(backoff_ms(2), 60_000);
        assert_eq!(backoff_ms(20), 3_600_000);
    }
}
