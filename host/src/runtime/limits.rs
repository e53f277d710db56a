//! The memory a component may take: a cap per store (`sandbox.memory_mb`) and a process-wide
//! budget shared by every store of every tenant, so one tenant's guest cannot take the memory
//! the others need. A refusal traps the guest with a message that names the setting to raise,
//! and is remembered so the run's failure can say which limit it hit.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use wasmtime::ResourceLimiter;

/// Guest memory of all stores of this process together.
#[derive(Debug)]
pub struct MemoryBudget {
    capacity: usize,
    used: AtomicUsize,
    /// The setting that sets `capacity`, for messages.
    setting: &'static str,
}

impl MemoryBudget {
    pub fn new(capacity: usize, setting: &'static str) -> Self {
        MemoryBudget {
            capacity,
            used: AtomicUsize::new(0),
            setting,
        }
    }

    /// No process-wide cap (each store still has its own).
    pub fn unlimited() -> Self {
        MemoryBudget::new(usize::MAX, "")
    }

    fn take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(bytes).filter(|n| *n <= self.capacity)
            })
            .is_ok()
    }

    fn give(&self, bytes: usize) {
        let _ = self
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                Some(used.saturating_sub(bytes))
            });
    }

    /// Guest memory in use by every store now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }
}

/// The limiter of one store.
pub struct GuestLimiter {
    memory_cap: usize,
    table_elements: usize,
    budget: Arc<MemoryBudget>,
    /// Bytes this store holds of the process budget.
    taken: usize,
    /// The limit that refused a growth, for the run's error message.
    pub(crate) hit: Option<String>,
}

impl GuestLimiter {
    pub fn new(memory_cap: usize, budget: Arc<MemoryBudget>) -> Self {
        GuestLimiter {
            memory_cap,
            table_elements: 1 << 20,
            budget,
            taken: 0,
            hit: None,
        }
    }
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            let why = format!(
                "the component ran out of memory: it asked for {} MiB, over sandbox.memory_mb = {}",
                desired.div_ceil(1 << 20),
                self.memory_cap >> 20
            );
            self.hit = Some(why.clone());
            return Err(wasmtime::Error::msg(why));
        }
        let more = desired.saturating_sub(current);
        if !self.budget.take(more) {
            let why = format!(
                "the runner's guest memory is used up by all tenants together ({} MiB, {}); this run stops and retries later",
                self.budget.capacity >> 20,
                self.budget.setting
            );
            self.hit = Some(why.clone());
            return Err(wasmtime::Error::msg(why));
        }
        self.taken += more;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= self.table_elements)
    }
}

impl Drop for GuestLimiter {
    fn drop(&mut self) {
        self.budget.give(self.taken);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_store_over_its_cap_is_refused_and_says_which_setting() {
        let budget = Arc::new(MemoryBudget::unlimited());
        let mut limiter = GuestLimiter::new(64 << 20, budget);
        assert!(limiter.memory_growing(0, 32 << 20, None).unwrap());
        let err = limiter
            .memory_growing(32 << 20, 65 << 20, None)
            .unwrap_err();
        assert!(err.to_string().contains("sandbox.memory_mb = 64"), "{err}");
        assert!(limiter.hit.is_some());
    }

    #[test]
    fn stores_share_the_process_budget_and_give_it_back() {
        let budget = Arc::new(MemoryBudget::new(100 << 20, "serve.guest_memory_mb"));
        let mut a = GuestLimiter::new(256 << 20, budget.clone());
        let mut b = GuestLimiter::new(256 << 20, budget.clone());
        assert!(a.memory_growing(0, 80 << 20, None).unwrap());
        let err = b.memory_growing(0, 40 << 20, None).unwrap_err();
        assert!(err.to_string().contains("serve.guest_memory_mb"), "{err}");
        drop(a);
        assert_eq!(budget.used(), 0);
        assert!(b.memory_growing(0, 40 << 20, None).unwrap());
    }
}
