//! One pacer per run: a 429 with `Retry-After` holds back every request of the run, listing
//! and downloads alike, instead of one sleeper per request (the Elastic connector's D5).
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

#[derive(Debug, Default)]
pub struct Pacer {
    not_before: Mutex<Option<Instant>>,
    waits: std::sync::atomic::AtomicU64,
}

impl Pacer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Wait until the shared hold (if any) has passed.
    pub async fn ready(&self) {
        let until = *self.not_before.lock().await;
        if let Some(until) = until {
            let now = Instant::now();
            if until > now {
                self.waits
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep_until(until).await;
            }
        }
    }

    /// The server asked everyone to hold off for `wait`.
    pub async fn hold(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut guard = self.not_before.lock().await;
        if guard.is_none_or(|current| current < until) {
            *guard = Some(until);
        }
    }

    /// How many times a request had to wait for the pacer.
    pub fn waits(&self) -> u64 {
        self.waits.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_hold_delays_every_later_request_until_it_expires() {
        let pacer = Pacer::new();
        pacer.hold(Duration::from_secs(3)).await;
        pacer.hold(Duration::from_secs(1)).await; // a shorter hold never shortens the longer one
        let start = tokio::time::Instant::now();
        pacer.ready().await;
        assert!(start.elapsed() >= Duration::from_secs(3));
        let again = tokio::time::Instant::now();
        pacer.ready().await;
        assert!(again.elapsed() < Duration::from_millis(1));
        assert_eq!(pacer.waits(), 1);
    }
}
