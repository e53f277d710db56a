//! The checkpoint committer: a task that receives the sink's acknowledgements, folds them
//! into the ledger, and commits each page's checkpoint, in page order, once every write of
//! that page and of every earlier page has been acknowledged.
use super::fault;
use super::ledger::Ledger;
use super::retries::RetryBook;
use crate::sink::WriteAck;
use crate::state::{StateStore, TenantState};
use anyhow::anyhow;
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, mpsc, watch};

/// How far the committer got.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progressed {
    /// The newest page whose writes are all acknowledged (and checkpoint durable, if it had one).
    pub seq: u64,
    /// A checkpoint of this run was written to the store.
    pub committed: bool,
    /// A rejected write stops all further commits for this run.
    pub blocked: bool,
}

/// What the committer shares with the run.
pub struct Committer {
    pub ledger: Arc<Mutex<Ledger>>,
    pub retries: Arc<Mutex<RetryBook>>,
    pub notify: Arc<Notify>,
    pub store: Arc<StateStore>,
    pub tenant: String,
    pub connector: String,
    /// The digest of the sync rules this run applies.
    pub rules_digest: Option<String>,
}

impl Committer {
    /// Receive acknowledgements and commit checkpoints in page order until the ack channel
    /// closes (the sink was closed).
    pub async fn run(
        self,
        mut acks: mpsc::UnboundedReceiver<WriteAck>,
        progressed: watch::Sender<Progressed>,
    ) -> anyhow::Result<()> {
        let mut open = true;
        loop {
            tokio::select! {
                ack = acks.recv() => match ack {
                    Some(ack) => self.apply(ack),
                    // The sink closed: no acknowledgement will come; commit what is ready and stop.
                    None => open = false,
                },
                _ = self.notify.notified() => {}
            }
            while let Ok(ack) = acks.try_recv() {
                self.apply(ack);
            }
            let ready = self
                .ledger
                .lock()
                .ok()
                .and_then(|mut l| l.take_committable());
            if let Some(ready) = ready {
                if let Some(checkpoint) = ready.checkpoint {
                    fault::crash_point("commit", ready.seq);
                    let content_retries = self
                        .retries
                        .lock()
                        .map(|book| book.snapshot())
                        .unwrap_or_default();
                    let state = TenantState {
                        checkpoint: Some(checkpoint),
                        open_enumerations: ready.open_enumerations,
                        content_retries,
                        rules_digest: self.rules_digest.clone(),
                        connector: self.connector.clone(),
                        updated_at: now_rfc3339(),
                    };
                    self.store.commit(&self.tenant, &state).await.map_err(|e| {
                        anyhow!("committing the checkpoint of tenant {}: {e}", self.tenant)
                    })?;
                    fault::crash_point("committed", ready.seq);
                    progressed.send_modify(|p| p.committed = true);
                }
                progressed.send_modify(|p| p.seq = ready.seq);
            }
            if self.ledger.lock().map(|l| l.is_blocked()).unwrap_or(false) {
                progressed.send_modify(|p| p.blocked = true);
            }
            if !open {
                return Ok(());
            }
        }
    }

    fn apply(&self, ack: WriteAck) {
        if let Ok(mut l) = self.ledger.lock() {
            l.ack(ack.token, ack.outcome);
        }
    }
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
