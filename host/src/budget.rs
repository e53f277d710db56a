//! Budgets shared by the tenants that run at once (downloads in flight, bulk bytes in flight,
//! extracted text kept in memory), each split fairly: while `n` tenants hold a share, none
//! may hold more than `capacity / n` units at a time, so a tenant with a million files cannot
//! starve a tenant with ten. A run alone (`tributary sync`) gets a pool of its own.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[derive(Debug, Default)]
struct PoolState {
    used: usize,
    by_tenant: HashMap<Arc<str>, usize>,
    /// Shares handed out per tenant (a tenant may run more than one thing at once).
    members: HashMap<Arc<str>, usize>,
}

/// A budget of `capacity` units.
#[derive(Debug)]
pub struct FairPool {
    name: &'static str,
    capacity: usize,
    state: Mutex<PoolState>,
    changed: Notify,
}

impl FairPool {
    pub fn new(name: &'static str, capacity: usize) -> Arc<FairPool> {
        Arc::new(FairPool {
            name,
            capacity: capacity.max(1),
            state: Mutex::new(PoolState::default()),
            changed: Notify::new(),
        })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Units in use by everyone.
    pub fn used(&self) -> usize {
        self.state.lock().map(|s| s.used).unwrap_or(0)
    }

    /// Units in use by one tenant.
    pub fn used_by(&self, tenant: &str) -> usize {
        self.state
            .lock()
            .ok()
            .and_then(|s| s.by_tenant.get(tenant).copied())
            .unwrap_or(0)
    }

    /// Join the pool for `tenant`: while the share lives, the tenant counts among those the
    /// capacity is divided between.
    pub fn join(self: &Arc<Self>, tenant: &str) -> Share {
        let tenant: Arc<str> = Arc::from(tenant);
        if let Ok(mut state) = self.state.lock() {
            *state.members.entry(tenant.clone()).or_default() += 1;
        }
        self.changed.notify_waiters();
        Share {
            pool: self.clone(),
            tenant,
        }
    }
}

/// One tenant's membership in a pool.
#[derive(Debug)]
pub struct Share {
    pool: Arc<FairPool>,
    tenant: Arc<str>,
}

impl Share {
    /// Wait for `units` (at most the whole capacity): the pool has room and this tenant is
    /// within its fair share. A tenant holding nothing is always let in when there is room.
    pub async fn acquire(&self, units: usize) -> Grant {
        let units = units.clamp(1, self.pool.capacity);
        loop {
            let notified = self.pool.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(grant) = self.try_acquire(units) {
                return grant;
            }
            notified.await;
        }
    }

    /// `acquire` without waiting.
    pub fn try_acquire(&self, units: usize) -> Option<Grant> {
        let units = units.clamp(1, self.pool.capacity);
        let mut state = self.pool.state.lock().ok()?;
        let members = state.members.len().max(1);
        let fair = (self.pool.capacity / members).max(1);
        let mine = state.by_tenant.get(&self.tenant).copied().unwrap_or(0);
        let room = state.used + units <= self.pool.capacity;
        let within_share = mine == 0 || mine + units <= fair;
        if !(room && within_share) {
            return None;
        }
        state.used += units;
        *state.by_tenant.entry(self.tenant.clone()).or_default() += units;
        Some(Grant {
            pool: self.pool.clone(),
            tenant: self.tenant.clone(),
            units,
        })
    }

    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The whole pool's capacity, in units (what this tenant may hold while alone).
    pub fn capacity(&self) -> usize {
        self.pool.capacity
    }

    /// Another share of the same pool for the same tenant (a second sink of one run).
    pub fn pool_share(&self) -> Share {
        self.pool.join(&self.tenant)
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        if let Ok(mut state) = self.pool.state.lock()
            && let Some(n) = state.members.get_mut(&self.tenant)
        {
            *n -= 1;
            if *n == 0 {
                state.members.remove(&self.tenant);
            }
        }
        self.pool.changed.notify_waiters();
    }
}

/// Units held; given back when dropped.
#[derive(Debug)]
pub struct Grant {
    pool: Arc<FairPool>,
    tenant: Arc<str>,
    units: usize,
}

impl Drop for Grant {
    fn drop(&mut self) {
        if let Ok(mut state) = self.pool.state.lock() {
            state.used = state.used.saturating_sub(self.units);
            if let Some(n) = state.by_tenant.get_mut(&self.tenant) {
                *n = n.saturating_sub(self.units);
                if *n == 0 {
                    state.by_tenant.remove(&self.tenant);
                }
            }
        }
        self.pool.changed.notify_waiters();
    }
}

/// The bulk byte budget of a run alone: 8 MiB, i.e. `_bulk` requests of 2 MiB, three in
/// flight and one filling (`outputs::bulk_settings`). Documents with text fill any budget,
/// and what is in flight is held twice (the queued writes and the request body built from
/// them): 48 MiB (the earlier figure) was about 60 MB of the runner's peak RSS, for no
/// measurable gain in throughput (docs/notes/content-speed.md).
pub const ONE_RUN_BULK_KIB: usize = 8 * 1024;

/// The process-wide budgets a run draws on.
#[derive(Debug, Clone)]
pub struct Budgets {
    /// Content fetches in flight.
    pub downloads: Arc<FairPool>,
    /// KiB of serialized writes queued or in flight to the search engine.
    pub bulk_kib: Arc<FairPool>,
    /// Bytes of extracted text kept for sharing between identical files.
    pub text_bytes: Arc<FairPool>,
}

impl Budgets {
    /// What one run alone may use (`tributary sync`).
    pub fn for_one_run(downloads: usize) -> Budgets {
        Budgets {
            downloads: FairPool::new("downloads", downloads),
            // Enough for the sink's requests in flight plus one filling (see
            // `outputs::bulk_settings`); every KiB of it is resident when documents are large.
            bulk_kib: FairPool::new("bulk KiB", ONE_RUN_BULK_KIB),
            text_bytes: FairPool::new("text bytes", 32 << 20),
        }
    }
}

/// One run's shares of the budgets.
#[derive(Debug)]
pub struct RunShares {
    pub downloads: Share,
    pub bulk_kib: Share,
    pub text_bytes: Share,
}

impl Budgets {
    pub fn join(&self, tenant: &str) -> RunShares {
        RunShares {
            downloads: self.downloads.join(tenant),
            bulk_kib: self.bulk_kib.join(tenant),
            text_bytes: self.text_bytes.join(tenant),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_busy_tenant_cannot_take_the_whole_pool_while_another_waits() {
        let pool = FairPool::new("downloads", 10);
        let big = pool.join("big");
        let mut held = vec![];
        // Alone, "big" may take everything.
        for _ in 0..10 {
            held.push(big.acquire(1).await);
        }
        let small = pool.join("small");
        // Now the fair share is 5: "small" gets in as soon as one unit comes back...
        let waiting = tokio::spawn(async move {
            let grant = small.acquire(1).await;
            (small, grant)
        });
        held.pop();
        let (small, _grant) = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap();
        // ...and "big", over its share of 5, cannot take the units that come back.
        held.pop();
        assert!(big.try_acquire(1).is_none());
        assert!(small.try_acquire(1).is_some());
        assert_eq!(pool.used_by("big"), 8);
    }

    #[test]
    fn grants_and_shares_give_everything_back() {
        let pool = FairPool::new("bulk", 100);
        let a = pool.join("a");
        let g = a.try_acquire(1000).unwrap(); // clamped to the capacity
        assert_eq!(pool.used(), 100);
        assert!(a.try_acquire(1).is_none());
        drop(g);
        drop(a);
        assert_eq!(pool.used(), 0);
        let b = pool.join("b");
        assert!(b.try_acquire(100).is_some());
    }
}
