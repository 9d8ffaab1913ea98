//! Grants: how many outcomes a wrapper may report late without changing a decision.
//!
//! A wrapper that guards calls in-process (Python, Node) crosses into the module as rarely as it
//! can: while a breaker is closed, admission never depends on anything but the outcomes recorded
//! since, so the wrapper admits locally and reports the acquires and outcomes later, in order,
//! with their times (see `crate::batch`). The grant bounds how far it may go: it is the number
//! of outcomes, and of bad ones (failures, or calls that might be slow), that certainly cannot
//! open the breaker, whatever they turn out to be. Past it, the wrapper must report before the
//! call that would exceed it returns, so that any transition it causes happens in time.

use crate::breaker::{Breaker, Config, State, StateName, Tally, Window};

use super::{Event, Node};

/// The largest number a grant hands out: the wrapper flushes long before it anyway.
pub const MAX_GRANT: u64 = (1 << 21) - 1;

/// What a wrapper may do locally for one service (both zero: nothing; every call crosses).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Grant {
    /// Outcomes of any kind that may be reported late.
    pub outcomes: u64,
    /// Of those, failures (or, when slow calls count, any outcome at all) that may.
    pub failures: u64,
    /// What `failures` becomes after a success that counts (a permit of this grant still
    /// outstanding): under the consecutive policy a success sets the count back to 0. 0 when
    /// a success restores nothing.
    pub rearm: u64,
}

impl Grant {
    const NONE: Grant = Grant {
        outcomes: 0,
        failures: 0,
        rearm: 0,
    };

    fn of(outcomes: u64, failures: u64) -> Grant {
        Grant {
            outcomes: outcomes.min(MAX_GRANT),
            failures: failures.min(outcomes).min(MAX_GRANT),
            rearm: 0,
        }
    }

    /// Packed for the ABI: `outcomes | failures << 21 | rearm << 42`.
    pub fn packed(self) -> i64 {
        (self.outcomes | self.failures << 21 | self.rearm.min(MAX_GRANT) << 42) as i64
    }
}

impl Node {
    /// The grant for `service` as things stand (no grant unless it is closed and not forced).
    pub fn grant(&self, service: &str) -> Grant {
        let config = self.config_for(service);
        match self.breakers.find(service) {
            Some(id) => grant_for(&self.breakers.get(id).breaker, &config),
            // A breaker not created yet starts in `initial_state`: no grant unless closed.
            None if config.initial_state != StateName::Closed => Grant::NONE,
            None => grant_for(&Breaker::new(service), &config),
        }
    }

    /// The registry id of the breaker found last (`u32::MAX` before the first): a hint a
    /// caller may give back to [`Node::expect_breaker`].
    pub fn recent_breaker(&self) -> u32 {
        self.breakers.recent()
    }

    /// Tells the registry which breaker the next request is likely for (checked by name, so a
    /// wrong or outdated hint only costs the usual lookup).
    pub fn expect_breaker(&self, id: u32) {
        self.breakers.expect(id);
    }

    /// The last permit handed out (0 before the first).
    pub fn last_permit(&self) -> u64 {
        self.last_permit
    }

    /// The `seq` of the last transition logged.
    pub fn last_event_seq(&self) -> u64 {
        self.events.last_seq()
    }

    /// The logged transitions after `seq`, without settling anything (unlike `events`).
    pub fn events_after(&self, seq: u64) -> Vec<Event> {
        self.events.since(seq, None).cloned().collect()
    }
}

/// The grant of one breaker under `config`.
///
/// Forced modes get none (an evicted forced-closed breaker comes back unforced), nor does any
/// state but closed. Closed has no timed transition, so a grant never expires with time.
pub fn grant_for(b: &Breaker, config: &Config) -> Grant {
    if b.forced().is_some() || b.state() != State::Closed {
        return Grant::NONE;
    }
    // A slow success is a failure under the consecutive policy, and the wrapper does not judge
    // durations: with slow calls on, every outcome counts as a possible failure.
    let slow = config.slow_call_ms.is_some();
    match config.window {
        Window::Consecutive => {
            // Each bad outcome adds one to `failures`; a success only lowers it.
            let room = config.failure_threshold.saturating_sub(b.failures() + 1);
            if slow {
                Grant::of(room, room)
            } else {
                Grant {
                    rearm: config.failure_threshold - 1,
                    ..Grant::of(MAX_GRANT, room)
                }
            }
        }
        Window::Count {
            size,
            minimum_calls,
            failure_rate,
        } => {
            let tally = live_tally(b, config);
            let minimum = minimum_calls.min(size);
            let rate_ok = |j: u64| {
                let calls = (tally.calls + j).min(size);
                let under = |bad: u64, rate: u64| {
                    u128::from(bad + j) * 100_000 < u128::from(rate) * u128::from(calls)
                };
                under(tally.failures, failure_rate.0)
                    && (!slow || under(tally.slow, config.slow_call_rate.0))
            };
            // After j more outcomes the window holds at most `calls + j` calls, at most
            // `failures + j` of them failed (an old success may leave), and the worst case
            // only gets worse with j: the first j that could trip ends the grant.
            let k = (1..=MAX_GRANT.min(4096))
                .take_while(|&j| tally.calls + j < minimum || rate_ok(j))
                .count() as u64;
            // The bound on tracked breakers may forget this one between two replayed calls;
            // it comes back with an empty window, where `minimum` failures in a row open it.
            Grant::of(k.min(minimum - 1), k.min(minimum - 1))
        }
        Window::Time { minimum_calls, .. } => {
            // Buckets leave with time, which can raise a rate: only the minimum is safe.
            let k = minimum_calls.saturating_sub(live_tally(b, config).calls + 1);
            Grant::of(k, k)
        }
    }
}

/// The window's tally as the next outcome will see it (empty when the window will be rebuilt).
fn live_tally(b: &Breaker, config: &Config) -> Tally {
    b.window()
        .filter(|w| w.built_for == config.window)
        .map_or(Tally::default(), |w| w.tally)
}
