//! What the serving loop shares with the HTTP side: the recent transitions, the latest status and
//! metrics, and the host's counters. The loop only ever holds the lock to copy data in; the HTTP
//! side copies data out and writes to its clients without it, so no client can slow the loop.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How many transitions are kept for clients that resume: as many as the module's own log.
pub const KEPT_EVENTS: usize = 1000;

/// One transition, as the `data:` of a Server-Sent Event.
#[derive(Clone, Debug)]
pub struct Event {
    pub seq: u64,
    /// `{"seq":..,"at_ms":..,"service":..,"from":..,"to":..,"reason":..}`
    pub json: String,
}

/// The host's own counts, for its metrics.
#[derive(Debug, Default)]
pub struct HostCounts {
    pub messages_in: AtomicU64,
    pub replies_out: AtomicU64,
    pub bad_documents: AtomicU64,
    pub guest_traps: AtomicU64,
    /// How old the node's last checkpoint was at the last refresh, in milliseconds.
    pub checkpoint_age_ms: AtomicU64,
}

impl HostCounts {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
struct Inner {
    events: VecDeque<Event>,
    /// The body of the latest `status` reply (all services) and the latest metrics text.
    status: Option<String>,
    metrics: Option<String>,
    /// Counts the times the module's log started over: a stream then starts over too.
    epoch: u64,
    /// Counts refreshes of `status` and `metrics`.
    generation: u64,
    /// An HTTP client is waiting for a refresh.
    wanted: bool,
}

#[derive(Debug)]
pub struct Shared {
    inner: Mutex<Inner>,
    changed: Condvar,
    pub counts: HostCounts,
}

impl Shared {
    pub fn new() -> Shared {
        Shared {
            inner: Mutex::default(),
            changed: Condvar::new(),
            counts: HostCounts::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds transitions (in seq order), keeping the last [`KEPT_EVENTS`].
    pub fn push_events(&self, events: impl IntoIterator<Item = Event>) {
        let mut inner = self.lock();
        for e in events {
            if inner.events.len() == KEPT_EVENTS {
                inner.events.pop_front();
            }
            inner.events.push_back(e);
        }
        drop(inner);
        self.changed.notify_all();
    }

    /// The module's log started over: the transitions kept are dropped, and every stream
    /// starts over with the new ones.
    pub fn start_over(&self) {
        let mut inner = self.lock();
        inner.events.clear();
        inner.epoch += 1;
        drop(inner);
        self.changed.notify_all();
    }

    /// The transitions after `seq` in `epoch`, waiting up to `wait` for one when there is none
    /// yet, and the epoch they belong to (after a change of epoch, all of them).
    pub fn events_after(&self, seq: u64, epoch: u64, wait: Duration) -> (Vec<Event>, u64) {
        let newer = |inner: &Inner| -> (Vec<Event>, u64) {
            let seq = if inner.epoch == epoch { seq } else { 0 };
            let start = inner.events.partition_point(|e| e.seq <= seq);
            (inner.events.range(start..).cloned().collect(), inner.epoch)
        };
        let inner = self.lock();
        let found = newer(&inner);
        if !found.0.is_empty() || found.1 != epoch {
            return found;
        }
        let (inner, _) = self
            .changed
            .wait_timeout_while(inner, wait, |inner| {
                inner.epoch == epoch && inner.events.back().is_none_or(|e| e.seq <= seq)
            })
            .unwrap_or_else(|e| e.into_inner());
        newer(&inner)
    }

    /// The current epoch (see [`Shared::events_after`]).
    pub fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// Whether a client waits for fresh status and metrics (and clears the wish).
    pub fn take_wanted(&self) -> bool {
        std::mem::take(&mut self.lock().wanted)
    }

    /// Publishes fresh status and metrics.
    pub fn publish(&self, status: String, metrics: String) {
        let mut inner = self.lock();
        inner.status = Some(status);
        inner.metrics = Some(metrics);
        inner.generation += 1;
        drop(inner);
        self.changed.notify_all();
    }

    /// Asks for fresh status and metrics (`poke` wakes the loop) and waits up to `wait` for
    /// them; gives the latest ones there are, fresh or not.
    pub fn fresh(&self, poke: impl FnOnce(), wait: Duration) -> (Option<String>, Option<String>) {
        let mut inner = self.lock();
        let seen = inner.generation;
        inner.wanted = true;
        drop(inner);
        poke();
        let inner = self.lock();
        let (inner, _) = self
            .changed
            .wait_timeout_while(inner, wait, |inner| inner.generation == seen)
            .unwrap_or_else(|e| e.into_inner());
        (inner.status.clone(), inner.metrics.clone())
    }
}
