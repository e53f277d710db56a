//! Checkpoint store: one document per tenant holding its checkpoint, its open enumerations and
//! a lease, so two runners never sync the same tenant at once.
//!
//! Every write is conditional on the version (`_seq_no`/`_primary_term`) this store last read
//! or wrote for the tenant, so a runner that lost its lease cannot overwrite the new holder's
//! checkpoint: its commit fails with [`StateError::Lost`].
use crate::es::{self, EsSettings, error_reason};
use crate::sink::rfc3339;
use crate::source::ContentRequest;
use elasticsearch::http::StatusCode;
use elasticsearch::indices::IndicesCreateParts;
use elasticsearch::params::OpType;
use elasticsearch::{Elasticsearch, GetParts, IndexParts};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Default name of the state index.
pub const DEFAULT_STATE_INDEX: &str = "tributary-state";

/// How often a racing read-modify-write is retried before giving up.
const MAX_RACE_RETRIES: usize = 5;

/// One document whose content is still missing after its fetch failed (see `sync::retries`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingContent {
    pub id: String,
    pub scope: String,
    /// The fetch to repeat.
    pub request: ContentRequest,
    /// Runs whose fetch failed so far.
    pub attempts: u32,
}

/// What the store keeps for a tenant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantState {
    /// The component's opaque resume point; `None` means "start with a full enumeration".
    pub checkpoint: Option<String>,
    /// Enumerations begun but not completed: scope → run marker.
    pub open_enumerations: BTreeMap<String, String>,
    /// Content to fetch again in the next run.
    pub content_retries: Vec<PendingContent>,
    /// The sync rules the checkpoint was taken under (their digest): other rules need a full
    /// enumeration to add what they now include and purge what they now exclude.
    pub rules_digest: Option<String>,
    /// The connector (component id) that wrote this state.
    pub connector: String,
    /// When this state was last written (RFC 3339).
    pub updated_at: String,
}

/// Why the store refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "another runner ({holder}) is syncing tenant {tenant} (its lease runs until {expires_at}); \
         wait for it to finish, or if it died, for the lease to expire"
    )]
    Busy {
        tenant: String,
        holder: String,
        expires_at: String,
    },
    #[error(
        "another runner took over tenant {tenant}; this run stops without committing its checkpoint"
    )]
    Lost { tenant: String },
    #[error("tenant {tenant}: this runner holds no lease on it; acquire it first")]
    NotHeld { tenant: String },
    #[error(
        "the stored state of tenant {tenant} is unreadable ({reason}); start over with \
         `tributary sync --full` (which replaces it), or clear it with `tributary reset`"
    )]
    Corrupt { tenant: String, reason: String },
    #[error("state store: {0}")]
    Backend(String),
}

/// The tenant's lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Lease {
    holder: String,
    /// RFC 3339, for people.
    expires_at: String,
    /// Milliseconds since the epoch, for comparisons.
    expires_at_ms: u64,
}

/// The stored document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StateDoc {
    tenant: String,
    connector: String,
    #[serde(default)]
    checkpoint: Option<String>,
    #[serde(default)]
    open_enumerations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    content_retries: Vec<PendingContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rules_digest: Option<String>,
    #[serde(default)]
    lease: Option<Lease>,
    #[serde(default)]
    updated_at: String,
}

impl StateDoc {
    fn state(&self) -> TenantState {
        TenantState {
            checkpoint: self.checkpoint.clone(),
            open_enumerations: self.open_enumerations.clone(),
            content_retries: self.content_retries.clone(),
            rules_digest: self.rules_digest.clone(),
            connector: self.connector.clone(),
            updated_at: self.updated_at.clone(),
        }
    }
}

/// Optimistic-concurrency token of a stored document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Version {
    seq_no: i64,
    primary_term: i64,
}

/// What this store instance holds for a tenant after acquiring it.
#[derive(Debug, Clone)]
struct Held {
    version: Version,
    doc: StateDoc,
    ttl: Duration,
}

/// A state document as read: its version, and its content unless that is unreadable (a
/// document of the wrong shape must not lock a tenant out: `--full` and `reset` replace it).
#[derive(Debug, Clone)]
struct Stored {
    version: Version,
    doc: Result<StateDoc, String>,
}

impl Stored {
    fn doc(self, tenant: &str) -> Result<(StateDoc, Version), StateError> {
        let version = self.version;
        self.doc
            .map(|doc| (doc, version))
            .map_err(|reason| StateError::Corrupt {
                tenant: tenant.to_string(),
                reason,
            })
    }
}

/// Storage primitives; the lease logic on top is shared.
trait Backend {
    async fn read(&self, tenant: &str) -> Result<Option<Stored>, StateError>;
    /// Write `doc`; `expected: None` creates it (fails if it exists). `Ok(None)` = conflict.
    async fn write(
        &self,
        tenant: &str,
        doc: &StateDoc,
        expected: Option<Version>,
    ) -> Result<Option<Version>, StateError>;
    fn held(&self) -> &Mutex<HashMap<String, Held>>;
    /// Serializes this store's writes of held documents (a commit and a lease renewal must
    /// not both write from the same version).
    fn writes(&self) -> &tokio::sync::Mutex<()>;
}

/// Where checkpoints live.
pub enum StateStore {
    Elasticsearch(EsStateStore),
    /// In process only: dry runs and tests.
    Memory(MemoryStateStore),
}

impl StateStore {
    /// Take the tenant's lease and return its current state. A lease younger than its TTL
    /// held by another runner → [`StateError::Busy`]. State written by a different connector
    /// is not resumable: its checkpoint and open enumerations are dropped.
    ///
    /// With `start_over` (a `--full` run) the stored checkpoint is forgotten in the same write
    /// that takes the lease, and an unreadable document is replaced: should the run fail
    /// before it commits a checkpoint of its own, the next run enumerates everything again
    /// instead of resuming from a point before this run that would skip what it lost.
    pub async fn acquire(
        &self,
        tenant: &str,
        connector: &str,
        runner_id: &str,
        lease_ttl: Duration,
        start_over: bool,
    ) -> Result<TenantState, StateError> {
        match self {
            StateStore::Elasticsearch(b) => {
                acquire(b, tenant, connector, runner_id, lease_ttl, start_over).await
            }
            StateStore::Memory(b) => {
                acquire(b, tenant, connector, runner_id, lease_ttl, start_over).await
            }
        }
    }

    /// Persist a new state, conditional on our last version (renews the lease). A conflict
    /// means another runner took over → [`StateError::Lost`].
    pub async fn commit(&self, tenant: &str, state: &TenantState) -> Result<(), StateError> {
        match self {
            StateStore::Elasticsearch(b) => commit(b, tenant, state).await,
            StateStore::Memory(b) => commit(b, tenant, state).await,
        }
    }

    /// Extend the lease without changing the state (a heartbeat while a long page runs).
    pub async fn renew(&self, tenant: &str) -> Result<(), StateError> {
        match self {
            StateStore::Elasticsearch(b) => renew(b, tenant).await,
            StateStore::Memory(b) => renew(b, tenant).await,
        }
    }

    /// Drop the lease (keep the checkpoint). Releasing a tenant not held is a no-op.
    pub async fn release(&self, tenant: &str) -> Result<(), StateError> {
        match self {
            StateStore::Elasticsearch(b) => release(b, tenant).await,
            StateStore::Memory(b) => release(b, tenant).await,
        }
    }

    /// Forget the checkpoint and open enumerations (an unreadable document is replaced). Works
    /// with or without the lease, but not while another runner holds it ([`StateError::Busy`]).
    pub async fn reset(&self, tenant: &str) -> Result<(), StateError> {
        match self {
            StateStore::Elasticsearch(b) => reset(b, tenant).await,
            StateStore::Memory(b) => reset(b, tenant).await,
        }
    }

    /// Read the tenant's state without taking the lease (for status displays).
    pub async fn peek(&self, tenant: &str) -> Result<Option<TenantState>, StateError> {
        let found = match self {
            StateStore::Elasticsearch(b) => b.read(tenant).await?,
            StateStore::Memory(b) => b.read(tenant).await?,
        };
        match found {
            Some(stored) => Ok(Some(stored.doc(tenant)?.0.state())),
            None => Ok(None),
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn lease(holder: &str, ttl: Duration) -> Lease {
    let expires = SystemTime::now() + ttl;
    Lease {
        holder: holder.to_string(),
        expires_at: rfc3339(expires),
        expires_at_ms: now_ms().saturating_add(ttl.as_millis() as u64),
    }
}

fn remember(b: &impl Backend, tenant: &str, held: Held) {
    if let Ok(mut map) = b.held().lock() {
        map.insert(tenant.to_string(), held);
    }
}

fn held(b: &impl Backend, tenant: &str) -> Option<Held> {
    b.held()
        .lock()
        .ok()
        .and_then(|map| map.get(tenant).cloned())
}

fn forget(b: &impl Backend, tenant: &str) -> Option<Held> {
    b.held().lock().ok().and_then(|mut map| map.remove(tenant))
}

/// This process's runner id: `<hostname>-<pid>`.
pub fn local_runner_id() -> String {
    format!("{}-{}", local_host_name(), std::process::id())
}

fn local_host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "host".into())
}

/// A lease held by a runner on this host whose process is gone (killed, crashed) can be taken
/// over at once instead of waiting for it to expire.
fn holder_is_dead_here(holder: &str) -> bool {
    let Some((host, pid)) = holder.rsplit_once('-') else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    host == local_host_name()
        && pid != std::process::id()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn busy(tenant: &str, doc: &StateDoc, runner_id: Option<&str>) -> Option<StateError> {
    let lease = doc.lease.as_ref()?;
    let foreign = runner_id != Some(lease.holder.as_str());
    if foreign && runner_id.is_some() && holder_is_dead_here(&lease.holder) {
        tracing::warn!(
            %tenant,
            holder = %lease.holder,
            "taking over the lease of a runner on this host that is no longer running"
        );
        return None;
    }
    (foreign && lease.expires_at_ms > now_ms()).then(|| StateError::Busy {
        tenant: tenant.to_string(),
        holder: lease.holder.clone(),
        expires_at: lease.expires_at.clone(),
    })
}

fn fresh_doc(tenant: &str, connector: &str) -> StateDoc {
    StateDoc {
        tenant: tenant.to_string(),
        connector: connector.to_string(),
        checkpoint: None,
        open_enumerations: BTreeMap::new(),
        content_retries: vec![],
        rules_digest: None,
        lease: None,
        updated_at: rfc3339(SystemTime::now()),
    }
}

async fn acquire(
    b: &impl Backend,
    tenant: &str,
    connector: &str,
    runner_id: &str,
    ttl: Duration,
    start_over: bool,
) -> Result<TenantState, StateError> {
    for _ in 0..MAX_RACE_RETRIES {
        let (mut doc, expected) = match b.read(tenant).await? {
            None => (fresh_doc(tenant, connector), None),
            Some(Stored {
                version,
                doc: Err(reason),
            }) if start_over => {
                tracing::warn!(
                    %tenant,
                    "the stored state is unreadable ({reason}); replacing it as --full asked"
                );
                (fresh_doc(tenant, connector), Some(version))
            }
            Some(stored) => {
                let (doc, version) = stored.doc(tenant)?;
                if let Some(e) = busy(tenant, &doc, Some(runner_id)) {
                    return Err(e);
                }
                (doc, Some(version))
            }
        };
        if doc.connector != connector {
            tracing::warn!(
                %tenant,
                stored = %doc.connector,
                %connector,
                "the stored checkpoint belongs to another connector; starting with a full enumeration"
            );
            doc.connector = connector.to_string();
            doc.checkpoint = None;
            doc.open_enumerations.clear();
            doc.content_retries.clear();
        }
        if start_over {
            doc.checkpoint = None;
            doc.open_enumerations.clear();
        }
        doc.lease = Some(lease(runner_id, ttl));
        if let Some(version) = b.write(tenant, &doc, expected).await? {
            let state = doc.state();
            remember(b, tenant, Held { version, doc, ttl });
            return Ok(state);
        }
        // Someone wrote between our read and our write: look again.
    }
    Err(StateError::Backend(format!(
        "tenant {tenant}: the state document kept changing while taking the lease; another runner is racing for it"
    )))
}

async fn commit(b: &impl Backend, tenant: &str, state: &TenantState) -> Result<(), StateError> {
    let _writing = b.writes().lock().await;
    let Some(mut held_state) = held(b, tenant) else {
        return Err(StateError::NotHeld {
            tenant: tenant.to_string(),
        });
    };
    let holder = held_state
        .doc
        .lease
        .as_ref()
        .map(|l| l.holder.clone())
        .unwrap_or_default();
    let doc = &mut held_state.doc;
    doc.checkpoint = state.checkpoint.clone();
    doc.open_enumerations = state.open_enumerations.clone();
    doc.content_retries = state.content_retries.clone();
    doc.rules_digest = state.rules_digest.clone();
    if !state.connector.is_empty() {
        doc.connector = state.connector.clone();
    }
    doc.updated_at = if state.updated_at.is_empty() {
        rfc3339(SystemTime::now())
    } else {
        state.updated_at.clone()
    };
    doc.lease = Some(lease(&holder, held_state.ttl));
    match b
        .write(tenant, &held_state.doc, Some(held_state.version))
        .await?
    {
        Some(version) => {
            held_state.version = version;
            remember(b, tenant, held_state);
            Ok(())
        }
        None => {
            forget(b, tenant);
            Err(StateError::Lost {
                tenant: tenant.to_string(),
            })
        }
    }
}

/// Write the held document back with a fresh lease.
async fn renew(b: &impl Backend, tenant: &str) -> Result<(), StateError> {
    let _writing = b.writes().lock().await;
    let Some(mut held_state) = held(b, tenant) else {
        return Err(StateError::NotHeld {
            tenant: tenant.to_string(),
        });
    };
    let holder = held_state
        .doc
        .lease
        .as_ref()
        .map(|l| l.holder.clone())
        .unwrap_or_default();
    held_state.doc.lease = Some(lease(&holder, held_state.ttl));
    match b
        .write(tenant, &held_state.doc, Some(held_state.version))
        .await?
    {
        Some(version) => {
            held_state.version = version;
            remember(b, tenant, held_state);
            Ok(())
        }
        None => {
            forget(b, tenant);
            Err(StateError::Lost {
                tenant: tenant.to_string(),
            })
        }
    }
}

async fn release(b: &impl Backend, tenant: &str) -> Result<(), StateError> {
    let _writing = b.writes().lock().await;
    let Some(mut held_state) = forget(b, tenant) else {
        return Ok(());
    };
    held_state.doc.lease = None;
    match b
        .write(tenant, &held_state.doc, Some(held_state.version))
        .await?
    {
        Some(_) => Ok(()),
        None => Err(StateError::Lost {
            tenant: tenant.to_string(),
        }),
    }
}

async fn reset(b: &impl Backend, tenant: &str) -> Result<(), StateError> {
    if let Some(mut held_state) = held(b, tenant) {
        held_state.doc.checkpoint = None;
        held_state.doc.open_enumerations.clear();
        held_state.doc.content_retries.clear();
        held_state.doc.updated_at = rfc3339(SystemTime::now());
        return match b
            .write(tenant, &held_state.doc, Some(held_state.version))
            .await?
        {
            Some(version) => {
                held_state.version = version;
                remember(b, tenant, held_state);
                Ok(())
            }
            None => {
                forget(b, tenant);
                Err(StateError::Lost {
                    tenant: tenant.to_string(),
                })
            }
        };
    }
    for _ in 0..MAX_RACE_RETRIES {
        let Some(stored) = b.read(tenant).await? else {
            return Ok(());
        };
        let (mut doc, version) = match stored.doc {
            Ok(doc) => {
                if let Some(e) = busy(tenant, &doc, None) {
                    return Err(e);
                }
                (doc, stored.version)
            }
            // Nobody can run on an unreadable document, so nobody holds it: replace it.
            Err(_) => (fresh_doc(tenant, ""), stored.version),
        };
        doc.checkpoint = None;
        doc.open_enumerations.clear();
        doc.content_retries.clear();
        doc.updated_at = rfc3339(SystemTime::now());
        if b.write(tenant, &doc, Some(version)).await?.is_some() {
            return Ok(());
        }
    }
    Err(StateError::Backend(format!(
        "tenant {tenant}: the state document kept changing while resetting it"
    )))
}

/// State in an Elasticsearch index (one document per tenant, id = tenant id).
pub struct EsStateStore {
    client: Elasticsearch,
    index: String,
    url: String,
    budget: Duration,
    index_ready: tokio::sync::OnceCell<()>,
    held: Mutex<HashMap<String, Held>>,
    writes: tokio::sync::Mutex<()>,
}

impl EsStateStore {
    /// A store in `index` (usually [`DEFAULT_STATE_INDEX`]); nothing is sent until first use.
    pub fn new(client_settings: &EsSettings, index: &str) -> anyhow::Result<EsStateStore> {
        if index.is_empty() {
            anyhow::bail!(
                "the state index name is empty; leave it unset for {DEFAULT_STATE_INDEX}"
            );
        }
        Ok(EsStateStore {
            client: es::client(client_settings)?,
            index: index.to_string(),
            url: client_settings.url.clone(),
            budget: client_settings.retry_budget(),
            index_ready: tokio::sync::OnceCell::new(),
            held: Mutex::new(HashMap::new()),
            writes: tokio::sync::Mutex::new(()),
        })
    }

    fn fail(&self, what: &str, detail: impl std::fmt::Display) -> StateError {
        StateError::Backend(format!(
            "{what} in index {} at {}: {detail}",
            self.index, self.url
        ))
    }

    /// Create the state index if missing. Unmapped fields (checkpoint, open enumerations) are
    /// kept in `_source` only, so checkpoints of any size and any scope names are fine.
    async fn ensure_index(&self) -> Result<(), StateError> {
        self.index_ready
            .get_or_try_init(|| async {
                let body = json!({
                    "mappings": {
                        "dynamic": false,
                        "properties": {
                            "tenant": { "type": "keyword" },
                            "connector": { "type": "keyword" },
                            "updated_at": { "type": "keyword" },
                            "lease": { "properties": {
                                "holder": { "type": "keyword" },
                                "expires_at": { "type": "keyword" },
                                "expires_at_ms": { "type": "long" }
                            } }
                        }
                    }
                });
                let what = "creating the state index";
                let api = self.client.indices();
                let answer = es::call(self.budget, what, || {
                    api.create(IndicesCreateParts::Index(&self.index))
                        .body(body.clone())
                        .send()
                })
                .await
                .map_err(|e| self.fail(what, format!("{e:#}")))?;
                let exists = answer.body["error"]["type"].as_str()
                    == Some("resource_already_exists_exception");
                if answer.status.is_success() || exists {
                    Ok(())
                } else {
                    Err(self.fail(
                        what,
                        format!("{}: {}", answer.status, error_reason(&answer.body)),
                    ))
                }
            })
            .await
            .map(|_| ())
    }
}

fn version_of(body: &Value) -> Option<Version> {
    Some(Version {
        seq_no: body["_seq_no"].as_i64()?,
        primary_term: body["_primary_term"].as_i64()?,
    })
}

impl Backend for EsStateStore {
    async fn read(&self, tenant: &str) -> Result<Option<Stored>, StateError> {
        self.ensure_index().await?;
        let what = format!("reading the state of tenant {tenant}");
        let answer = es::call(self.budget, &what, || {
            self.client
                .get(GetParts::IndexId(&self.index, tenant))
                .send()
        })
        .await
        .map_err(|e| self.fail(&what, format!("{e:#}")))?;
        let (status, body) = (answer.status, answer.body);
        if status == StatusCode::NOT_FOUND && body.get("error").is_none() {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(self.fail(&what, format!("{status}: {}", error_reason(&body))));
        }
        if body["found"] != Value::Bool(true) {
            return Ok(None);
        }
        let version = version_of(&body)
            .ok_or_else(|| self.fail(&what, "the answer carries no _seq_no/_primary_term"))?;
        let doc =
            serde_json::from_value::<StateDoc>(body["_source"].clone()).map_err(|e| e.to_string());
        Ok(Some(Stored { version, doc }))
    }

    async fn write(
        &self,
        tenant: &str,
        doc: &StateDoc,
        expected: Option<Version>,
    ) -> Result<Option<Version>, StateError> {
        self.ensure_index().await?;
        let what = format!("writing the state of tenant {tenant}");
        let answer = es::call(self.budget, &what, || {
            let request = self
                .client
                .index(IndexParts::IndexId(&self.index, tenant))
                .body(doc);
            match expected {
                None => request.op_type(OpType::Create),
                Some(v) => request.if_seq_no(v.seq_no).if_primary_term(v.primary_term),
            }
            .send()
        })
        .await
        .map_err(|e| self.fail(&what, format!("{e:#}")))?;
        if answer.status == StatusCode::CONFLICT {
            // An earlier attempt whose answer was lost may have written this very document:
            // then the conflict is with ourselves, and the write succeeded.
            if answer.uncertain
                && let Some(Stored {
                    version,
                    doc: Ok(stored),
                }) = self.read(tenant).await?
                && &stored == doc
            {
                return Ok(Some(version));
            }
            return Ok(None);
        }
        if !answer.status.is_success() {
            return Err(self.fail(
                &what,
                format!("{}: {}", answer.status, error_reason(&answer.body)),
            ));
        }
        version_of(&answer.body)
            .map(Some)
            .ok_or_else(|| self.fail(&what, "the answer carries no _seq_no/_primary_term"))
    }

    fn held(&self) -> &Mutex<HashMap<String, Held>> {
        &self.held
    }

    fn writes(&self) -> &tokio::sync::Mutex<()> {
        &self.writes
    }
}

#[derive(Default)]
struct MemoryData {
    docs: HashMap<String, (StateDoc, Version)>,
    next_seq: i64,
}

/// State in process memory. [`MemoryStateStore::sibling`] gives a second store over the same
/// data, acting like another runner.
#[derive(Default)]
pub struct MemoryStateStore {
    data: Arc<Mutex<MemoryData>>,
    held: Mutex<HashMap<String, Held>>,
    writes: tokio::sync::Mutex<()>,
}

impl MemoryStateStore {
    /// An empty store.
    pub fn new() -> MemoryStateStore {
        MemoryStateStore::default()
    }

    /// Another store over the same data with its own leases (a second runner).
    pub fn sibling(&self) -> MemoryStateStore {
        MemoryStateStore {
            data: self.data.clone(),
            held: Mutex::new(HashMap::new()),
            writes: tokio::sync::Mutex::new(()),
        }
    }

    fn data(&self) -> Result<std::sync::MutexGuard<'_, MemoryData>, StateError> {
        self.data
            .lock()
            .map_err(|_| StateError::Backend("the in-memory state lock is poisoned".into()))
    }
}

impl Backend for MemoryStateStore {
    async fn read(&self, tenant: &str) -> Result<Option<Stored>, StateError> {
        Ok(self
            .data()?
            .docs
            .get(tenant)
            .cloned()
            .map(|(doc, version)| Stored {
                version,
                doc: Ok(doc),
            }))
    }

    async fn write(
        &self,
        tenant: &str,
        doc: &StateDoc,
        expected: Option<Version>,
    ) -> Result<Option<Version>, StateError> {
        let mut data = self.data()?;
        let current = data.docs.get(tenant).map(|(_, v)| *v);
        if current != expected {
            return Ok(None);
        }
        let version = Version {
            seq_no: data.next_seq,
            primary_term: 1,
        };
        data.next_seq += 1;
        data.docs.insert(tenant.to_string(), (doc.clone(), version));
        Ok(Some(version))
    }

    fn held(&self) -> &Mutex<HashMap<String, Held>> {
        &self.held
    }

    fn writes(&self) -> &tokio::sync::Mutex<()> {
        &self.writes
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn memory_store_lease_lifecycle() {
        let a = StateStore::Memory(MemoryStateStore::new());
        let StateStore::Memory(inner) = &a else {
            unreachable!()
        };
        let b = StateStore::Memory(inner.sibling());

        let state = a
            .acquire("t", "some-source", "runner-a", TTL, false)
            .await
            .unwrap();
        assert_eq!(state.checkpoint, None);
        let err = b
            .acquire("t", "some-source", "runner-b", TTL, false)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StateError::Busy { holder, .. } if holder == "runner-a"),
            "{err}"
        );

        let mut next = state.clone();
        next.checkpoint = Some("cursor-1".into());
        next.open_enumerations
            .insert("files".into(), "run-1".into());
        a.commit("t", &next).await.unwrap();
        a.release("t").await.unwrap();

        let seen = b
            .acquire("t", "some-source", "runner-b", TTL, false)
            .await
            .unwrap();
        assert_eq!(seen.checkpoint.as_deref(), Some("cursor-1"));
        assert_eq!(
            seen.open_enumerations.get("files").map(String::as_str),
            Some("run-1")
        );
        // a no longer holds the tenant.
        assert!(matches!(
            a.commit("t", &next).await,
            Err(StateError::NotHeld { .. })
        ));
    }

    #[tokio::test]
    async fn expired_lease_is_taken_over_and_the_old_holder_loses() {
        let a = MemoryStateStore::new();
        let b = StateStore::Memory(a.sibling());
        let a = StateStore::Memory(a);
        a.acquire("t", "some-source", "runner-a", Duration::ZERO, false)
            .await
            .unwrap();
        b.acquire("t", "some-source", "runner-b", TTL, false)
            .await
            .unwrap();
        let err = a.commit("t", &TenantState::default()).await.unwrap_err();
        assert!(
            matches!(&err, StateError::Lost { tenant } if tenant == "t"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn another_connectors_checkpoint_is_dropped() {
        let a = StateStore::Memory(MemoryStateStore::new());
        a.acquire("t", "one", "r", TTL, false).await.unwrap();
        let state = TenantState {
            checkpoint: Some("c".into()),
            ..TenantState::default()
        };
        a.commit("t", &state).await.unwrap();
        a.release("t").await.unwrap();
        let state = a.acquire("t", "two", "r", TTL, false).await.unwrap();
        assert_eq!((state.checkpoint, state.connector.as_str()), (None, "two"));
    }
}

#[cfg(test)]
mod dead_holder_tests {
    use super::*;

    #[test]
    fn only_a_local_holder_whose_process_is_gone_counts_as_dead() {
        let host = local_host_name();
        assert!(holder_is_dead_here(&format!("{host}-4000000000")));
        assert!(!holder_is_dead_here(&format!(
            "{host}-{}",
            std::process::id()
        )));
        assert!(!holder_is_dead_here("some-other-host-4000000000"));
        assert!(!holder_is_dead_here("no-pid-here"));
    }
}
