//! Which writes of which page are still unacknowledged, and so which checkpoint may be
//! committed: a page's checkpoint becomes durable only when every write of that page and of
//! every earlier page has been acknowledged by the sink.
use std::collections::{BTreeMap, VecDeque};

/// The enumeration markers that are open at the end of a page (scope → run marker).
pub type OpenEnumerations = BTreeMap<String, String>;

#[derive(Debug)]
struct PageEntry {
    seq: u64,
    pending: u64,
    /// A write of this page was rejected: its checkpoint (and every later one) must not be
    /// committed, so the next run replays these changes.
    failed: bool,
    closed: Option<(Option<String>, OpenEnumerations)>,
}

/// What became committable: the newest checkpoint among consecutive completed pages.
#[derive(Debug, Clone, PartialEq)]
pub struct Committable {
    pub seq: u64,
    pub checkpoint: Option<String>,
    pub open_enumerations: OpenEnumerations,
}

#[derive(Debug, Default)]
pub struct Ledger {
    pages: VecDeque<PageEntry>,
    /// Writes the sink rejected: (document id or token context, reason).
    pub failures: Vec<String>,
}

impl Ledger {
    fn entry(&mut self, seq: u64) -> &mut PageEntry {
        if self.pages.back().is_none_or(|p| p.seq < seq) {
            self.pages.push_back(PageEntry {
                seq,
                pending: 0,
                failed: false,
                closed: None,
            });
        }
        let index = self.pages.iter().position(|p| p.seq == seq);
        match index {
            Some(i) => &mut self.pages[i],
            None => {
                // A page older than the front was already committed: impossible by construction,
                // but never panic on it; track it as a new entry at the front.
                self.pages.push_front(PageEntry {
                    seq,
                    pending: 0,
                    failed: false,
                    closed: None,
                });
                &mut self.pages[0]
            }
        }
    }

    /// A write for page `seq` is about to be submitted (or a download started).
    pub fn add(&mut self, seq: u64) {
        self.entry(seq).pending += 1;
    }

    /// The sink acknowledged one write of page `seq`.
    pub fn ack(&mut self, seq: u64, outcome: Result<(), String>) {
        let failed = outcome.is_err();
        if let Err(reason) = outcome
            && self.failures.len() < 1000
        {
            self.failures.push(reason);
        }
        if let Some(page) = self.pages.iter_mut().find(|p| p.seq == seq) {
            page.pending = page.pending.saturating_sub(1);
            page.failed |= failed;
        }
    }

    /// True when the oldest uncommitted page had a rejected write: nothing more will commit.
    pub fn is_blocked(&self) -> bool {
        self.pages.front().is_some_and(|p| p.failed)
    }

    /// A write that was counted by `add` will never be submitted (e.g. download aborted).
    pub fn cancel(&mut self, seq: u64) {
        self.ack(seq, Ok(()));
    }

    /// Every change of page `seq` has been submitted; `checkpoint` is its resume point.
    pub fn close(&mut self, seq: u64, checkpoint: Option<String>, open: OpenEnumerations) {
        self.entry(seq).closed = Some((checkpoint, open));
    }

    /// Pop every fully acknowledged, closed page at the front; return the newest resume point.
    pub fn take_committable(&mut self) -> Option<Committable> {
        let mut newest = None;
        while let Some(front) = self.pages.front() {
            if front.pending > 0 || front.closed.is_none() || front.failed {
                break;
            }
            let Some(page) = self.pages.pop_front() else {
                break;
            };
            if let Some((checkpoint, open)) = page.closed {
                newest = Some(Committable {
                    seq: page.seq,
                    checkpoint,
                    open_enumerations: open,
                });
            }
        }
        newest
    }

    pub fn is_idle(&self) -> bool {
        self.pages.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn a_checkpoint_waits_for_every_write_of_its_page_and_earlier_pages() {
        let mut ledger = Ledger::default();
        ledger.add(1);
        ledger.add(1);
        ledger.close(1, cp("c1"), OpenEnumerations::new());
        ledger.add(2);
        ledger.close(2, cp("c2"), OpenEnumerations::new());
        ledger.ack(2, Ok(()));
        // Page 2 is done but page 1 is not: nothing may be committed.
        assert_eq!(ledger.take_committable(), None);
        ledger.ack(1, Ok(()));
        assert_eq!(ledger.take_committable(), None);
        ledger.ack(1, Ok(()));
        let c = ledger.take_committable().unwrap();
        assert_eq!((c.seq, c.checkpoint.as_deref()), (2, Some("c2")));
        assert!(ledger.is_idle());
    }

    #[test]
    fn a_rejected_write_blocks_its_checkpoint_and_every_later_one() {
        let mut ledger = Ledger::default();
        ledger.add(1);
        ledger.close(1, cp("c1"), OpenEnumerations::new());
        ledger.add(2);
        ledger.close(2, cp("c2"), OpenEnumerations::new());
        ledger.ack(2, Err("mapping error".into()));
        ledger.ack(1, Ok(()));
        let c = ledger.take_committable().unwrap();
        assert_eq!(c.checkpoint.as_deref(), Some("c1"));
        assert_eq!(ledger.take_committable(), None);
        assert!(ledger.is_blocked());
        assert_eq!(ledger.failures, vec!["mapping error".to_string()]);
    }

    #[test]
    fn an_open_page_blocks_later_closed_pages() {
        let mut ledger = Ledger::default();
        ledger.add(1);
        ledger.close(2, cp("c2"), OpenEnumerations::new());
        assert_eq!(ledger.take_committable(), None);
        ledger.ack(1, Ok(()));
        // Page 1 has no checkpoint yet (not closed): still blocked.
        assert_eq!(ledger.take_committable(), None);
        ledger.close(1, cp("c1"), OpenEnumerations::new());
        assert_eq!(ledger.take_committable().unwrap().checkpoint, cp("c2"));
    }

    #[test]
    fn empty_pages_commit_immediately_with_their_enumerations() {
        let mut ledger = Ledger::default();
        let mut open = OpenEnumerations::new();
        open.insert("files".into(), "run-1".into());
        ledger.close(1, cp("c1"), open.clone());
        let c = ledger.take_committable().unwrap();
        assert_eq!(c.open_enumerations, open);
    }
}
