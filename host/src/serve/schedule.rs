//! Scheduled slots: the times a tenant's schedule fires, the same on every runner process, so
//! that a slot can be claimed once across all of them (see `coordination`).
use crate::config::{Schedule, ScheduleSection};
use chrono::{DateTime, TimeZone, Utc};

/// What a slot runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    Full,
    Incremental,
    /// A long-running sync that keeps applying changes as they happen.
    Watch,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Full => "full",
            RunKind::Incremental => "incremental",
            RunKind::Watch => "watch",
        }
    }
}

/// One firing of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub kind: RunKind,
    /// When it fired (Unix seconds); 0 for the one perpetual watch slot.
    pub at: i64,
}

impl Slot {
    /// The slot's name in claims: `incremental-1764500400`, `full-1764460800`, `watch`.
    pub fn key(&self) -> String {
        match self.kind {
            RunKind::Watch => "watch".to_string(),
            kind => format!("{}-{}", kind.as_str(), self.at),
        }
    }
}

/// The latest time at or before `now` the schedule fired.
pub fn latest(schedule: &Schedule, now: DateTime<Utc>) -> Option<i64> {
    match schedule {
        Schedule::Every(every) => {
            let step = i64::try_from(every.as_secs()).ok()?.max(1);
            Some(now.timestamp().div_euclid(step) * step)
        }
        Schedule::Cron(expr) => expr
            .parse::<croner::Cron>()
            .ok()?
            .find_previous_occurrence(&now, true)
            .ok()
            .map(|t| t.timestamp()),
    }
}

/// The next time after `now` the schedule fires.
pub fn next(schedule: &Schedule, now: DateTime<Utc>) -> Option<i64> {
    match schedule {
        Schedule::Every(every) => {
            let step = i64::try_from(every.as_secs()).ok()?.max(1);
            Some((now.timestamp().div_euclid(step) + 1) * step)
        }
        Schedule::Cron(expr) => expr
            .parse::<croner::Cron>()
            .ok()?
            .find_next_occurrence(&now, false)
            .ok()
            .map(|t| t.timestamp()),
    }
}

/// The slots due now, most important first: the latest full slot (if the tenant has a full
/// schedule), then the latest incremental one; or the watch slot.
pub fn due(schedule: &ScheduleSection, now: DateTime<Utc>) -> Vec<Slot> {
    if schedule.watch {
        return vec![Slot {
            kind: RunKind::Watch,
            at: 0,
        }];
    }
    let mut slots = vec![];
    if let Some(at) = schedule.full.as_ref().and_then(|s| latest(s, now)) {
        slots.push(Slot {
            kind: RunKind::Full,
            at,
        });
    }
    if let Some(at) = latest(&schedule.incremental, now) {
        slots.push(Slot {
            kind: RunKind::Incremental,
            at,
        });
    }
    slots
}

/// When the schedule next fires after `now` (the earlier of its schedules).
pub fn next_fire(schedule: &ScheduleSection, now: DateTime<Utc>) -> Option<i64> {
    if schedule.watch {
        return None;
    }
    let incremental = next(&schedule.incremental, now);
    let full = schedule.full.as_ref().and_then(|s| next(s, now));
    match (incremental, full) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Unix seconds as a UTC time.
pub fn utc(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn interval_slots_are_the_same_for_every_runner() {
        let every = Schedule::Every(Duration::from_secs(900));
        let now = utc(1_764_500_123);
        assert_eq!(latest(&every, now), Some(1_764_499_500));
        assert_eq!(next(&every, now), Some(1_764_500_400));
        // A minute later it is still the same slot.
        assert_eq!(latest(&every, utc(1_764_500_183)), Some(1_764_499_500));
    }

    #[test]
    fn cron_slots_fire_at_the_expressions_times() {
        let nightly = Schedule::Cron("0 3 * * *".into());
        let now = utc(1_764_500_123); // 2025-11-30T10:55:23Z
        let last = latest(&nightly, now).map(utc);
        assert_eq!(
            last.map(|t| t.to_rfc3339()).as_deref(),
            Some("2025-11-30T03:00:00+00:00")
        );
        let next = next(&nightly, now).map(utc);
        assert_eq!(
            next.map(|t| t.to_rfc3339()).as_deref(),
            Some("2025-12-01T03:00:00+00:00")
        );
    }

    #[test]
    fn full_slots_come_before_incremental_ones_and_watch_is_one_slot() {
        let schedule = ScheduleSection {
            incremental: Schedule::Every(Duration::from_secs(60)),
            full: Some(Schedule::Every(Duration::from_secs(86_400))),
            watch: false,
        };
        let slots = due(&schedule, utc(1_764_500_123));
        assert_eq!(slots[0].kind, RunKind::Full);
        assert_eq!(slots[0].key(), "full-1764460800");
        assert_eq!(slots[1].key(), "incremental-1764500100");
        let watch = ScheduleSection {
            watch: true,
            ..schedule
        };
        assert_eq!(due(&watch, utc(0))[0].key(), "watch");
    }
}
