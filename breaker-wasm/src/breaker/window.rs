//! The failure windows of a closed breaker: the last `size` calls (two bits each), or the calls of
//! the last `size_ms` milliseconds in at most about twenty buckets. Neither grows with traffic.

use super::config::{MAX_WINDOW_SIZE, Window};

/// Calls in a window, and how many of them failed or were slow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub calls: u64,
    pub failures: u64,
    pub slow: u64,
}

/// One call's outcome as a window sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub failed: bool,
    pub slow: bool,
}

/// The live window of a closed breaker, for the window config it was built for.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowState {
    pub built_for: Window,
    pub tally: Tally,
    kind: Kind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    /// A ring of the last `size` calls: bit i of `failed`/`slow` is call i of the ring.
    Count {
        size: u64,
        head: u64,
        failed: Vec<u64>,
        slow: Vec<u64>,
    },
    /// Buckets of `width` ms; bucket `index` covers [index·width, (index+1)·width). No bucket
    /// leaves the window before `next_expiry`, in u128 because a bucket near the end of the
    /// clock leaves after it (then it never leaves).
    Time {
        size_ms: u64,
        width: u64,
        buckets: Vec<Bucket>,
        next_expiry: u128,
    },
}

/// One bucket of a time window, saved as `[start_ms, calls, failures, slow]`. A bucket with no
/// calls is empty, whatever its index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    pub index: u64,
    pub tally: Tally,
}

impl WindowState {
    /// An empty window for `window` (`None` for the consecutive policy).
    pub fn new(window: Window) -> Option<WindowState> {
        let kind = match window {
            Window::Consecutive => return None,
            Window::Count { size, .. } => {
                let size = size.clamp(1, MAX_WINDOW_SIZE);
                let words = size.div_ceil(64) as usize;
                Kind::Count {
                    size,
                    head: 0,
                    failed: vec![0; words],
                    slow: vec![0; words],
                }
            }
            Window::Time { size_ms, .. } => {
                let width = (size_ms / 10).max(1);
                let n = size_ms.div_ceil(width) + 1;
                Kind::Time {
                    size_ms,
                    width,
                    buckets: vec![Bucket::default(); n as usize],
                    next_expiry: NEVER,
                }
            }
        };
        Some(WindowState {
            built_for: window,
            tally: Tally::default(),
            kind,
        })
    }

    /// The bytes this window holds on the heap, besides its own struct.
    pub fn heap_bytes(&self) -> usize {
        match &self.kind {
            Kind::Count { failed, slow, .. } => (failed.capacity() + slow.capacity()) * 8,
            Kind::Time { buckets, .. } => buckets.capacity() * std::mem::size_of::<Bucket>(),
        }
    }

    /// Drops the calls that have left the window at `now` (time windows only).
    pub fn expire(&mut self, now: u64) {
        if let Kind::Time {
            size_ms,
            width,
            buckets,
            next_expiry,
        } = &mut self.kind
        {
            if u128::from(now) < *next_expiry {
                return;
            }
            *next_expiry = NEVER;
            for b in buckets.iter_mut().filter(|b| b.is_live()) {
                let leaves = leaves(b.index, *width, *size_ms);
                if leaves <= u128::from(now) {
                    sub(&mut self.tally, b.tally);
                    *b = Bucket::default();
                } else {
                    *next_expiry = (*next_expiry).min(leaves);
                }
            }
        }
    }

    /// Adds `count` calls with the same outcome at `now`. A count window takes them one at a
    /// time (the oldest leave); a time window adds them to one bucket at once.
    pub fn add(&mut self, now: u64, mark: Mark, count: u64) {
        self.expire(now);
        let one = Tally {
            calls: 1,
            failures: u64::from(mark.failed),
            slow: u64::from(mark.slow),
        };
        match &mut self.kind {
            Kind::Count {
                size,
                head,
                failed,
                slow,
            } => {
                for _ in 0..count.min(*size) {
                    let (word, bit) = ((*head / 64) as usize, *head % 64);
                    if self.tally.calls == *size {
                        let old = Tally {
                            calls: 1,
                            failures: (failed[word] >> bit) & 1,
                            slow: (slow[word] >> bit) & 1,
                        };
                        sub(&mut self.tally, old);
                    }
                    set_bit(&mut failed[word], bit, mark.failed);
                    set_bit(&mut slow[word], bit, mark.slow);
                    add(&mut self.tally, one);
                    *head = (*head + 1) % *size;
                }
            }
            Kind::Time {
                size_ms,
                width,
                buckets,
                next_expiry,
            } => {
                let index = bucket_index(now, *width);
                let slot = (index % buckets.len() as u64) as usize;
                let b = &mut buckets[slot];
                if !b.is_live() || b.index != index {
                    sub(&mut self.tally, b.tally);
                    *b = Bucket {
                        index,
                        tally: Tally::default(),
                    };
                    *next_expiry = (*next_expiry).min(leaves(index, *width, *size_ms));
                }
                let many = Tally {
                    calls: count,
                    failures: one.failures * count,
                    slow: one.slow * count,
                };
                add(&mut b.tally, many);
                add(&mut self.tally, many);
            }
        }
    }

    /// The outcomes of a count window, oldest first (for snapshots).
    pub fn calls(&self) -> Vec<Mark> {
        match &self.kind {
            Kind::Count {
                size,
                head,
                failed,
                slow,
            } => {
                let len = self.tally.calls;
                (0..len)
                    .map(|i| {
                        let pos = (head + size - len + i) % size;
                        let (word, bit) = ((pos / 64) as usize, pos % 64);
                        Mark {
                            failed: (failed[word] >> bit) & 1 == 1,
                            slow: (slow[word] >> bit) & 1 == 1,
                        }
                    })
                    .collect()
            }
            Kind::Time { .. } => Vec::new(),
        }
    }

    /// The live buckets of a time window, oldest first, with their start times (for snapshots).
    pub fn buckets(&self) -> Vec<(u64, Tally)> {
        match &self.kind {
            Kind::Time { width, buckets, .. } => {
                let mut live: Vec<(u64, u32)> = (buckets.iter().zip(0..))
                    .filter(|(b, _)| b.is_live())
                    .map(|(b, i)| (b.index * width, i))
                    .collect();
                crate::sort::numbers(&mut live);
                live.into_iter()
                    .map(|(start, i)| (start, buckets[i as usize].tally))
                    .collect()
            }
            Kind::Count { .. } => Vec::new(),
        }
    }

    /// Moves every time back by `delta` (a restore under a clock that is behind).
    pub fn shift_back(&mut self, delta: u64) {
        if let Kind::Time { width, buckets, .. } = &mut self.kind {
            let saved: Vec<Bucket> = buckets.iter().copied().filter(|b| b.is_live()).collect();
            buckets.fill(Bucket::default());
            let n = buckets.len() as u64;
            for b in saved {
                let index = bucket_index((b.index * *width).saturating_sub(delta), *width);
                let slot = &mut buckets[(index % n) as usize];
                if slot.is_live() && slot.index == index {
                    add(&mut slot.tally, b.tally);
                } else {
                    *slot = Bucket {
                        index,
                        tally: b.tally,
                    };
                }
            }
            self.tally = buckets.iter().fold(Tally::default(), |mut t, b| {
                add(&mut t, b.tally);
                t
            });
        }
        self.recompute_expiry();
    }

    /// Sets `next_expiry` to when the first live bucket leaves the window.
    fn recompute_expiry(&mut self) {
        if let Kind::Time {
            size_ms,
            width,
            buckets,
            next_expiry,
        } = &mut self.kind
        {
            *next_expiry = buckets
                .iter()
                .filter(|b| b.is_live())
                .map(|b| leaves(b.index, *width, *size_ms))
                .min()
                .unwrap_or(NEVER);
        }
    }

    /// Rebuilds a window from saved calls (count) or buckets (time); `None` when they do not
    /// fit `window`.
    pub fn restore(
        window: Window,
        calls: &[Mark],
        buckets: &[(u64, Tally)],
    ) -> Option<WindowState> {
        let mut w = WindowState::new(window)?;
        match &w.kind {
            Kind::Count { size, .. } => {
                if calls.len() as u64 > *size || !buckets.is_empty() {
                    return None;
                }
                for &mark in calls {
                    w.add(0, mark, 1);
                }
            }
            Kind::Time { width, .. } => {
                let width = *width;
                if !calls.is_empty() || buckets.len() > w.bucket_count() {
                    return None;
                }
                for &(start, tally) in buckets {
                    if tally.failures > tally.calls || tally.slow > tally.calls {
                        return None;
                    }
                    let Kind::Time { buckets: slots, .. } = &mut w.kind else {
                        unreachable!()
                    };
                    let index = bucket_index(start, width);
                    let n = slots.len() as u64;
                    slots[(index % n) as usize] = Bucket { index, tally };
                    add(&mut w.tally, tally);
                }
            }
        }
        w.recompute_expiry();
        Some(w)
    }

    fn bucket_count(&self) -> usize {
        match &self.kind {
            Kind::Time { buckets, .. } => buckets.len(),
            Kind::Count { .. } => 0,
        }
    }
}

/// The bucket of time `t`.
fn bucket_index(t: u64, width: u64) -> u64 {
    t / width
}

/// When bucket `index` leaves a window of `size_ms`: the end of the bucket plus the window, in
/// u128, since it may lie past the end of the clock (then the bucket never leaves).
fn leaves(index: u64, width: u64, size_ms: u64) -> u128 {
    (u128::from(index) + 1) * u128::from(width) + u128::from(size_ms)
}

/// `next_expiry` with no live bucket: no time on the clock reaches it.
const NEVER: u128 = u128::MAX;

impl Bucket {
    fn is_live(&self) -> bool {
        self.tally.calls > 0
    }
}

fn set_bit(word: &mut u64, bit: u64, on: bool) {
    if on {
        *word |= 1 << bit;
    } else {
        *word &= !(1 << bit);
    }
}

fn add(t: &mut Tally, o: Tally) {
    t.calls += o.calls;
    t.failures += o.failures;
    t.slow += o.slow;
}

fn sub(t: &mut Tally, o: Tally) {
    t.calls -= o.calls;
    t.failures -= o.failures;
    t.slow -= o.slow;
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAIL: Mark = Mark {
        failed: true,
        slow: false,
    };
    const OK: Mark = Mark {
        failed: false,
        slow: false,
    };

    #[test]
    fn a_count_window_keeps_the_last_size_calls() {
        let mut w = WindowState::new(Window::Count {
            size: 3,
            minimum_calls: 3,
            failure_rate: crate::breaker::Milli(50_000),
        })
        .unwrap();
        w.add(0, FAIL, 2);
        w.add(0, OK, 1);
        assert_eq!(
            w.tally,
            Tally {
                calls: 3,
                failures: 2,
                slow: 0
            }
        );
        w.add(0, OK, 2);
        assert_eq!(
            w.tally,
            Tally {
                calls: 3,
                failures: 0,
                slow: 0
            }
        );
        assert_eq!(w.calls(), vec![OK, OK, OK]);
    }

    #[test]
    fn a_time_window_drops_calls_between_size_and_size_plus_a_bucket() {
        let mut w = WindowState::new(Window::Time {
            size_ms: 1000,
            minimum_calls: 1,
            failure_rate: crate::breaker::Milli(50_000),
        })
        .unwrap();
        w.add(150, FAIL, 1); // bucket [100, 200)
        w.expire(1199);
        assert_eq!(w.tally.calls, 1);
        w.expire(1200);
        assert_eq!(
            w.tally.calls, 0,
            "gone by size + one bucket after it happened"
        );
    }

    #[test]
    fn a_call_at_the_end_of_time_is_kept() {
        let mut w = WindowState::new(Window::Time {
            size_ms: 2,
            minimum_calls: 1,
            failure_rate: crate::breaker::Milli(50_000),
        })
        .unwrap();
        w.add(u64::MAX, FAIL, 1);
        assert_eq!(w.tally.calls, 1);
        let saved = w.buckets();
        assert_eq!(saved.len(), 1, "the bucket is saved in snapshots");
        let back = WindowState::restore(w.built_for, &[], &saved).unwrap();
        assert_eq!(back, w);
    }

    #[test]
    fn buckets_at_the_end_of_the_clock_stay_apart_and_never_leave() {
        let mut w = WindowState::new(Window::Time {
            size_ms: 1,
            minimum_calls: 1,
            failure_rate: crate::breaker::Milli(50_000),
        })
        .unwrap();
        // Buckets of 1 ms: the last two of the clock are two buckets, and both leave the window
        // after u64::MAX, so at u64::MAX both calls are still in it.
        w.add(u64::MAX - 1, OK, 1);
        w.add(u64::MAX, FAIL, 1);
        w.expire(u64::MAX);
        assert_eq!(w.tally.calls, 2);
        assert_eq!(w.tally.failures, 1);
        assert_eq!(w.buckets().len(), 2);
        // One millisecond earlier, the bucket before them has left.
        let mut w2 = WindowState::new(w.built_for).unwrap();
        w2.add(u64::MAX - 2, FAIL, 1);
        w2.expire(u64::MAX);
        assert_eq!(w2.tally.calls, 0);
    }

    #[test]
    fn a_time_window_does_not_grow_with_traffic() {
        let mut w = WindowState::new(Window::Time {
            size_ms: 60_000,
            minimum_calls: 1,
            failure_rate: crate::breaker::Milli(50_000),
        })
        .unwrap();
        let size = |w: &WindowState| match &w.kind {
            Kind::Time { buckets, .. } => buckets.capacity(),
            Kind::Count { .. } => 0,
        };
        let before = size(&w);
        for t in 0..1_000_000u64 {
            w.add(t / 3, if t % 7 == 0 { FAIL } else { OK }, 1);
        }
        assert_eq!(size(&w), before);
        assert!(w.tally.calls <= 66_000 * 3);
    }
}
