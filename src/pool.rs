//! The bookkeeping of a pool of workers that share one segmentation's sliding windows: which
//! window each worker runs, which come back, and in which order they are blended. The worker
//! (`src/bin/worker/pool.rs`) drives it from the helpers' messages; nothing here touches the
//! browser, so it is tested natively.
//!
//! Windows are handed out one at a time (a fast worker takes more), blended in plan order —
//! so a pool gives bit-for-bit the one-worker result — and a worker that dies has its window
//! handed to another, up to [`MAX_ATTEMPTS`] times per window.

use std::collections::{BTreeMap, VecDeque};

/// How many times a window is started before the segmentation gives up on it (its workers
/// died each time).
pub const MAX_ATTEMPTS: u32 = 3;

/// The memory a pool may take in all (the coordinating worker and its helpers), bytes.
pub const POOL_MEMORY_BUDGET: u64 = 2 << 30;

/// Peak memory of one helper worker (its wasm heap after segmenting the sample: the model,
/// the case's network input and one 64³ window's activations), bytes: 105 MB measured in the
/// e2e run (the `memory:` line of its report), rounded up.
pub const HELPER_PEAK_BYTES: u64 = 128 << 20;

/// Peak memory of the coordinating worker (the scans, their alignment, the brain extraction,
/// the blended probabilities), bytes: 355 MB measured as [`HELPER_PEAK_BYTES`] after the e2e
/// session's cases (a whole head, the four-scan sample), rounded up with room for larger scans.
pub const COORDINATOR_PEAK_BYTES: u64 = 512 << 20;

/// Helpers to start for `cores` logical cores (`navigator.hardwareConcurrency`) and `windows`
/// windows: one per core, no more than the windows, and no more than fit in
/// [`POOL_MEMORY_BUDGET`] beside the coordinator. 0 or 1 means: run the windows in the
/// coordinator itself.
pub fn helpers_for(cores: u32, windows: usize) -> usize {
    let by_memory = POOL_MEMORY_BUDGET.saturating_sub(COORDINATOR_PEAK_BYTES) / HELPER_PEAK_BYTES;
    (cores as usize).min(windows).min(by_memory as usize)
}

/// Why the pool gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// A window's workers died [`MAX_ATTEMPTS`] times.
    #[error("window {index} failed {attempts} times: its workers stopped (out of memory?)")]
    GaveUp {
        /// The window.
        index: usize,
        /// Starts.
        attempts: u32,
    },
    /// A helper returned a window it was not given.
    #[error("helper {helper} returned window {index}, which it was not running")]
    Unexpected {
        /// The helper.
        helper: usize,
        /// The window.
        index: usize,
    },
}

/// The windows of one segmentation across `helpers` workers; `T` is a window's output.
#[derive(Debug)]
pub struct WindowQueue<T> {
    total: usize,
    /// Windows not handed out, in plan order (a lost window goes back to the front).
    pending: VecDeque<usize>,
    /// The window each helper runs.
    running: Vec<Option<usize>>,
    /// Outputs back but not blended yet (a window before them is still out).
    back: BTreeMap<usize, T>,
    /// The next window to blend.
    next: usize,
    attempts: Vec<u32>,
}

impl<T> WindowQueue<T> {
    /// `total` windows for `helpers` workers, none handed out.
    pub fn new(total: usize, helpers: usize) -> WindowQueue<T> {
        WindowQueue {
            total,
            pending: (0..total).collect(),
            running: vec![None; helpers],
            back: BTreeMap::new(),
            next: 0,
            attempts: vec![0; total],
        }
    }

    /// The window for idle helper `helper` to run next, if any is left (`None` too while it
    /// still runs one).
    pub fn next_for(&mut self, helper: usize) -> Option<usize> {
        if self.running.get(helper)?.is_some() {
            return None;
        }
        let index = self.pending.pop_front()?;
        self.attempts[index] += 1;
        self.running[helper] = Some(index);
        Some(index)
    }

    /// Helper `helper` is back with window `index`'s `output`: the outputs now ready to blend,
    /// in plan order (none while an earlier window is still out).
    pub fn returned(
        &mut self,
        helper: usize,
        index: usize,
        output: T,
    ) -> Result<Vec<(usize, T)>, PoolError> {
        match self.running.get_mut(helper) {
            Some(slot) if *slot == Some(index) => *slot = None,
            _ => return Err(PoolError::Unexpected { helper, index }),
        }
        self.back.insert(index, output);
        let mut ready = Vec::new();
        while let Some(output) = self.back.remove(&self.next) {
            ready.push((self.next, output));
            self.next += 1;
        }
        Ok(ready)
    }

    /// Helper `helper` died: its window goes back to the front of the queue (an error once
    /// that window has been started [`MAX_ATTEMPTS`] times). The helper's slot is idle again
    /// (for its replacement).
    pub fn lost(&mut self, helper: usize) -> Result<(), PoolError> {
        let Some(index) = self.running.get_mut(helper).and_then(Option::take) else {
            return Ok(());
        };
        if self.attempts[index] >= MAX_ATTEMPTS {
            return Err(PoolError::GaveUp {
                index,
                attempts: self.attempts[index],
            });
        }
        self.pending.push_front(index);
        Ok(())
    }

    /// Windows blended so far.
    pub fn blended(&self) -> usize {
        self.next
    }

    /// Whether every window has been blended.
    pub fn is_done(&self) -> bool {
        self.next == self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_blend_in_plan_order_whatever_order_they_come_back() {
        let mut q = WindowQueue::<&str>::new(4, 2);
        assert_eq!(q.next_for(0), Some(0));
        assert_eq!(q.next_for(1), Some(1));
        assert_eq!(q.next_for(1), None, "helper 1 is busy");
        // Window 1 comes back first: it waits for window 0.
        assert_eq!(q.returned(1, 1, "one").unwrap(), vec![]);
        assert_eq!(q.next_for(1), Some(2));
        assert_eq!(
            q.returned(0, 0, "zero").unwrap(),
            vec![(0, "zero"), (1, "one")]
        );
        assert_eq!(q.blended(), 2);
        assert_eq!(q.next_for(0), Some(3));
        assert_eq!(q.returned(0, 3, "three").unwrap(), vec![]);
        assert!(!q.is_done());
        assert_eq!(
            q.returned(1, 2, "two").unwrap(),
            vec![(2, "two"), (3, "three")]
        );
        assert!(q.is_done());
        assert_eq!(q.next_for(0), None, "nothing left");
    }

    #[test]
    fn a_lost_window_is_run_again_and_given_up_after_the_last_attempt() {
        let mut q = WindowQueue::<u8>::new(2, 2);
        assert_eq!(q.next_for(0), Some(0));
        assert_eq!(q.next_for(1), Some(1));
        q.lost(0).unwrap();
        assert_eq!(q.next_for(0), Some(0), "the replacement takes it again");
        // Its late answer from the dead helper would not match anything now running there.
        assert_eq!(
            q.returned(1, 0, 9),
            Err(PoolError::Unexpected {
                helper: 1,
                index: 0
            })
        );
        q.lost(0).unwrap();
        assert_eq!(q.next_for(1), None, "helper 1 still runs window 1");
        assert_eq!(q.next_for(0), Some(0));
        let err = q.lost(0).unwrap_err();
        assert_eq!(
            err,
            PoolError::GaveUp {
                index: 0,
                attempts: MAX_ATTEMPTS
            }
        );
        assert!(err.to_string().contains("3 times"), "{err}");
        // An idle helper that dies loses nothing.
        let mut idle = WindowQueue::<u8>::new(1, 2);
        idle.lost(1).unwrap();
        assert_eq!(idle.next_for(1), Some(0));
    }

    #[test]
    fn the_pool_fits_its_memory_budget_and_the_work() {
        assert_eq!(helpers_for(2, 18), 2);
        assert_eq!(helpers_for(16, 3), 3, "no more helpers than windows");
        assert_eq!(helpers_for(1, 18), 1);
        let eight = helpers_for(8, 18);
        let peak = COORDINATOR_PEAK_BYTES + eight as u64 * HELPER_PEAK_BYTES;
        assert!(peak <= POOL_MEMORY_BUDGET, "{eight} helpers: {peak} bytes");
        assert_eq!(
            eight, 8,
            "an 8-core machine gets a helper per core within 2 GB"
        );
        let many = helpers_for(64, 1000);
        assert!(COORDINATOR_PEAK_BYTES + many as u64 * HELPER_PEAK_BYTES <= POOL_MEMORY_BUDGET);
    }
}
