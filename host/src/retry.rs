//! The one retry policy of the runner: exponential backoff with jitter (`backon`), used for the
//! component's HTTP calls, the OAuth2 token endpoint and every Elasticsearch call. Two budgets
//! exist: a count (`retry_count`, the source's setting) and a time budget (search calls, which
//! must ride out an outage of the cluster).
use backon::{BackoffBuilder, ExponentialBuilder};
use std::time::Duration;

/// First delay; doubles per attempt.
const MIN_DELAY: Duration = Duration::from_millis(250);
/// No single wait is longer than this (plus jitter).
const MAX_DELAY: Duration = Duration::from_secs(10);

/// Default time budget for search-engine calls: long enough for a rolling restart or a 30 s
/// outage, short enough that a dead cluster fails the run within minutes.
pub const SEARCH_BUDGET: Duration = Duration::from_secs(120);

fn builder() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(MIN_DELAY)
        .with_max_delay(MAX_DELAY)
        .with_jitter()
}

/// Delays for at most `times` retries: 250 ms, 500 ms, 1 s, ... capped at 10 s, with jitter.
pub fn counted(times: u32) -> impl Iterator<Item = Duration> + Send {
    builder().with_max_times(times as usize).build()
}

/// Delays until their sum passes `budget` (however many retries that takes).
pub fn timed(budget: Duration) -> impl Iterator<Item = Duration> + Send {
    builder()
        .without_max_times()
        .with_total_delay(Some(budget))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_delays_stop_after_the_count_and_grow() {
        let delays: Vec<_> = counted(4).collect();
        assert_eq!(delays.len(), 4);
        // Jitter adds at most the delay itself: 250 ms..500 ms first, then at least 500 ms.
        assert!(delays[0] >= MIN_DELAY && delays[0] <= MIN_DELAY * 2);
        assert!(delays[3] >= MIN_DELAY * 8);
        assert_eq!(counted(0).count(), 0);
    }

    #[test]
    fn timed_delays_cover_the_budget_and_stop() {
        let delays: Vec<_> = timed(SEARCH_BUDGET).collect();
        let total: Duration = delays.iter().sum();
        assert!(total <= SEARCH_BUDGET, "{total:?}");
        // The last wait that would overrun is dropped, so at most one jittered maximum is
        // missing: a 30 s outage is ridden out with room to spare.
        assert!(total >= SEARCH_BUDGET - MAX_DELAY * 2, "{total:?}");
        assert!(delays.iter().all(|d| *d <= MAX_DELAY * 2));
    }
}
