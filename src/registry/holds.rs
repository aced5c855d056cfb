//! Notification holds: while a reload runs, surface changes are gathered and announced once.

use std::sync::{Mutex, PoisonError};

/// Counts active holds and every hold ever taken.
///
/// The surface task rebuilds and then announces; a hold taken or released while it rebuilds
/// would let it announce a half-applied reload and then the rest, two list_changed for one
/// reload. So the task takes a [`Holds::mark`] before the rebuild and announces only if the
/// mark after it is the same and free.
#[derive(Debug, Default)]
pub(crate) struct Holds {
    state: Mutex<State>,
}

#[derive(Debug, Default, Clone, Copy)]
struct State {
    active: usize,
    taken: u64,
}

impl Holds {
    /// Starts a hold.
    pub(crate) fn take(&self) {
        let mut s = self.lock();
        s.active += 1;
        s.taken += 1;
    }

    /// Ends a hold started by [`Self::take`].
    pub(crate) fn release(&self) {
        let mut s = self.lock();
        s.active = s.active.saturating_sub(1);
    }

    /// `None` while a hold is active; otherwise the number of holds taken so far, which two
    /// marks compare to learn whether a hold came and went between them.
    pub(crate) fn mark(&self) -> Option<u64> {
        let s = *self.lock();
        (s.active == 0).then_some(s.taken)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is two counters, valid after any panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether a change seen between marks `before` and `after` may be announced.
pub(crate) fn may_announce(before: Option<u64>, after: Option<u64>) -> bool {
    before.is_some() && before == after
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_and_unchanged_marks_announce() {
        let h = Holds::default();
        let before = h.mark();
        assert_eq!(before, Some(0));
        assert!(may_announce(before, h.mark()));
    }

    #[test]
    fn an_active_hold_blocks_until_every_hold_is_released() {
        let h = Holds::default();
        h.take();
        h.take();
        assert_eq!(h.mark(), None);
        h.release();
        assert_eq!(h.mark(), None);
        h.release();
        assert_eq!(h.mark(), Some(2));
    }

    #[test]
    fn a_hold_taken_or_released_during_a_rebuild_blocks_that_announcement() {
        let h = Holds::default();
        // Taken during the rebuild: the change seen may be half a reload.
        let before = h.mark();
        h.take();
        assert!(!may_announce(before, h.mark()));
        // Released during the rebuild: the release marks the surface dirty again, and the
        // next round announces the whole change.
        let before = h.mark();
        h.release();
        assert!(!may_announce(before, h.mark()));
        // Taken and released within the rebuild.
        let before = h.mark();
        h.take();
        h.release();
        assert!(!may_announce(before, h.mark()));
        let before = h.mark();
        assert!(may_announce(before, h.mark()));
    }
}
