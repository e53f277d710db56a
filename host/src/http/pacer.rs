//! One pacer per run: a 429 with `Retry-After` holds back every request of the run, listing,
//! downloads and token refreshes alike, instead of one sleeper per request (the Elastic
//! connector's D5).
//!
//! Two rules keep a rate-limit storm from feeding itself:
//! - the hold always runs to the latest, longest `Retry-After` seen: a waiter that wakes at the
//!   end of an old hold looks again before it sends;
//! - when a hold ends the run does not resume at full width. One request probes; each request
//!   admitted after the hold that is not rate limited widens the window by one (doubling per
//!   round trip, as TCP's slow start does) until the window is wide enough to stop counting. A
//!   new 429 shuts the window back to one.
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// A window this wide no longer limits anything: requests flow freely again.
const OPEN_WINDOW: u32 = 128;
/// When a 429 carries no usable `Retry-After`.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);
/// Never hold the whole run longer than this for a single 429.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);
/// 429s are retried this many times per request at most (each waits for the hold).
pub const RATE_LIMIT_RETRIES: u32 = 20;

#[derive(Debug, Default)]
struct State {
    /// No request may start before this.
    hold_until: Option<Instant>,
    /// After a hold: how many requests may be in flight. `None`: unlimited.
    window: Option<u32>,
    /// Requests admitted under the current window (generation) and not yet finished.
    in_window: u32,
    /// Bumped by every hold, so requests admitted before it do not count against the window
    /// that follows it.
    generation: u64,
}

#[derive(Debug, Default)]
pub struct Pacer {
    state: Mutex<State>,
    changed: Notify,
    waits: AtomicU64,
}

/// Permission to send one request. Report how it went with [`Admission::passed`]; dropping it
/// without that (an error, a 429) frees its place in the window without widening it.
#[must_use]
pub struct Admission<'a> {
    pacer: &'a Pacer,
    /// The generation whose window counts this request, if one does.
    counted: Option<u64>,
    passed: bool,
}

impl Admission<'_> {
    /// The request was answered and not rate limited.
    pub fn passed(mut self) {
        self.passed = true;
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        let Some(generation) = self.counted else {
            return;
        };
        if let Ok(mut state) = self.pacer.state.lock()
            && state.generation == generation
        {
            state.in_window = state.in_window.saturating_sub(1);
            if self.passed
                && let Some(window) = state.window
            {
                state.window = (window + 1 < OPEN_WINDOW).then_some(window + 1);
            }
        }
        self.pacer.changed.notify_waiters();
    }
}

enum Wait {
    Until(Instant),
    ForSlot,
}

impl Pacer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Wait until a request may be sent: the hold (if any) has passed and the window after it
    /// has room.
    pub async fn admit(&self) -> Admission<'_> {
        let mut waited = false;
        loop {
            // Registered before the state is read, so a release in between is not missed.
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = match self.state.lock() {
                Ok(mut state) => match state.hold_until {
                    Some(until) if until > Instant::now() => Wait::Until(until),
                    _ => match state.window {
                        Some(window) if state.in_window >= window => Wait::ForSlot,
                        Some(_) => {
                            state.in_window += 1;
                            return Admission {
                                pacer: self,
                                counted: Some(state.generation),
                                passed: false,
                            };
                        }
                        None => {
                            return Admission {
                                pacer: self,
                                counted: None,
                                passed: false,
                            };
                        }
                    },
                },
                // A poisoned lock cannot be trusted to pace anything: let the request go.
                Err(_) => {
                    return Admission {
                        pacer: self,
                        counted: None,
                        passed: false,
                    };
                }
            };
            if !waited {
                waited = true;
                self.waits.fetch_add(1, Ordering::Relaxed);
            }
            match wait {
                // Look again afterwards: a longer hold may have arrived meanwhile.
                Wait::Until(until) => tokio::time::sleep_until(until).await,
                Wait::ForSlot => notified.await,
            }
        }
    }

    /// The server asked everyone to hold off for `wait`: extend the hold (never shorten it) and
    /// restart the window at a single probe.
    pub fn hold(&self, wait: Duration) {
        let until = Instant::now() + wait.min(MAX_RETRY_AFTER);
        if let Ok(mut state) = self.state.lock() {
            if state.hold_until.is_none_or(|current| current < until) {
                state.hold_until = Some(until);
            }
            state.window = Some(1);
            state.in_window = 0;
            state.generation += 1;
        }
        self.changed.notify_waiters();
    }

    /// How many requests had to wait for the pacer.
    pub fn waits(&self) -> u64 {
        self.waits.load(Ordering::Relaxed)
    }
}

/// The wait a 429 asks for: `Retry-After` in seconds (the HTTP-date form counts as absent),
/// else the default, never more than the cap.
pub fn retry_after(headers: &[(String, String)]) -> Duration {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .and_then(|(_, v)| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_RETRY_AFTER)
        .min(MAX_RETRY_AFTER)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU32;

    #[tokio::test(start_paused = true)]
    async fn a_hold_delays_every_later_request_until_it_expires() {
        let pacer = Pacer::new();
        pacer.hold(Duration::from_secs(3));
        pacer.hold(Duration::from_secs(1)); // a shorter hold never shortens the longer one
        let start = Instant::now();
        pacer.admit().await.passed();
        assert!(start.elapsed() >= Duration::from_secs(3));
        let again = Instant::now();
        pacer.admit().await.passed();
        assert!(again.elapsed() < Duration::from_millis(1));
        assert_eq!(pacer.waits(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_longer_hold_that_arrives_while_requests_wait_is_honoured() {
        let pacer = Arc::new(Pacer::new());
        pacer.hold(Duration::from_secs(1));
        let waiter = {
            let pacer = pacer.clone();
            tokio::spawn(async move {
                let start = Instant::now();
                pacer.admit().await.passed();
                start.elapsed()
            })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        pacer.hold(Duration::from_secs(5));
        let waited = waiter.await.unwrap();
        assert!(waited >= Duration::from_millis(5500), "{waited:?}");
    }

    /// 100 requests wait out a hold. When it ends, one probes; the rest follow in a window
    /// that grows only as admitted requests succeed. No burst of 100.
    #[tokio::test(start_paused = true)]
    async fn after_a_hold_one_request_probes_then_the_window_ramps() {
        let pacer = Arc::new(Pacer::new());
        pacer.hold(Duration::from_secs(2));
        let in_flight = Arc::new(AtomicU32::new(0));
        let peak = Arc::new(AtomicU32::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..100 {
            let (pacer, in_flight, peak) = (pacer.clone(), in_flight.clone(), peak.clone());
            tasks.spawn(async move {
                let admission = pacer.admit().await;
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                let admitted_at = Instant::now();
                // Each request takes 100 ms to answer.
                tokio::time::sleep(Duration::from_millis(100)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                admission.passed();
                admitted_at
            });
        }
        let mut admitted = vec![];
        while let Some(at) = tasks.join_next().await {
            admitted.push(at.unwrap());
        }
        admitted.sort();
        let start = admitted[0];
        // The probe goes alone: nobody else in its first 100 ms.
        assert_eq!(
            admitted
                .iter()
                .filter(|t| **t < start + Duration::from_millis(100))
                .count(),
            1
        );
        // Then 1 → 2 → 4 → 8 ...: the whole hundred takes several round trips.
        assert!(
            *admitted.last().unwrap() >= start + Duration::from_millis(500),
            "{:?}",
            admitted.last().unwrap().duration_since(start)
        );
        assert!(peak.load(Ordering::SeqCst) < 100);
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_429_during_the_ramp_shuts_the_window_to_one_probe() {
        let pacer = Pacer::new();
        pacer.hold(Duration::from_millis(10));
        let first = pacer.admit().await;
        first.passed(); // window 2
        let a = pacer.admit().await;
        let _b = pacer.admit().await;
        pacer.hold(Duration::from_millis(10)); // the storm returns
        drop(a);
        let start = Instant::now();
        let probe = pacer.admit().await;
        assert!(start.elapsed() >= Duration::from_millis(10));
        // The window is one again: a second request waits for the probe.
        let second = tokio::time::timeout(Duration::from_secs(1), pacer.admit()).await;
        assert!(second.is_err());
        probe.passed();
        let _second = pacer.admit().await;
    }

    #[test]
    fn retry_after_reads_seconds_and_falls_back_on_garbage() {
        let h = |v: &str| vec![("Retry-After".to_string(), v.to_string())];
        assert_eq!(retry_after(&h("3")), Duration::from_secs(3));
        assert_eq!(retry_after(&h(" 0.5 ")), Duration::from_millis(500));
        assert_eq!(
            retry_after(&h("Wed, 21 Oct 2015 07:28:00 GMT")),
            DEFAULT_RETRY_AFTER
        );
        assert_eq!(retry_after(&h("-1")), DEFAULT_RETRY_AFTER);
        assert_eq!(retry_after(&h("99999")), MAX_RETRY_AFTER);
        assert_eq!(retry_after(&[]), DEFAULT_RETRY_AFTER);
    }
}
