//! The states and what a transition carries: its names, its data, its reason.

use super::Milli;

/// The three states, without their data: what the wire shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StateName {
    Closed,
    Open,
    HalfOpen,
}

/// The state with the data it needs. Times are milliseconds on the caller's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Calls flow; consecutive failures are counted in [`Breaker::failures`].
    Closed,
    /// Calls are rejected for `period` milliseconds from `since`. The deadline is kept as a
    /// length, not a time, so a period that would end past the end of the clock (`u64::MAX`)
    /// simply never ends; a forced-open breaker is marked by its forced mode alone.
    Open { since: u64, period: u64 },
    /// Probes are admitted up to `half_open_max_calls` at once; `successes` so far.
    HalfOpen { since: u64, successes: u64 },
}

impl State {
    /// Whether the open period of this state has ended at `now`: `now − since ≥ period`, which
    /// never overflows, whatever the clock.
    pub fn open_elapsed(&self, now: u64) -> bool {
        match *self {
            State::Open { since, period } => now >= since && now - since >= period,
            _ => false,
        }
    }

    /// The open period's deadline, when it falls within the clock (`since + period ≤ u64::MAX`).
    pub fn open_until(&self) -> Option<u64> {
        match *self {
            State::Open { since, period } => since.checked_add(period),
            _ => None,
        }
    }

    /// An open state as a snapshot saves it: its deadline as a time (`until`) or, past the end
    /// of the clock only, as a length (`open_ms`); a forced-open one has neither. `None` when
    /// they do not make one consistent period.
    pub fn open_saved(
        since: u64,
        until: Option<u64>,
        open_ms: Option<u64>,
        forced_open: bool,
    ) -> Option<State> {
        let period = match (until, open_ms) {
            _ if forced_open => 0,
            (Some(until), None) => until.checked_sub(since)?,
            (None, Some(p)) if since.checked_add(p).is_none() => p,
            _ => return None,
        };
        Some(State::Open { since, period })
    }

    pub fn name(&self) -> StateName {
        match self {
            State::Closed => StateName::Closed,
            State::Open { .. } => StateName::Open,
            State::HalfOpen { .. } => StateName::HalfOpen,
        }
    }
}

/// An operator's override of the state machine (`force`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forced {
    /// Rejects everything until released.
    Open,
    /// Admits everything and records nothing.
    Closed,
}

/// What a peer's transition asks of this node's breaker (`peer_transition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerMove {
    /// Open for this many milliseconds from now (nothing when 0).
    Open(u64),
    Closed,
    /// A peer's forced mode (shared only when the fleet shares them).
    Forced(ForceMode),
}

/// What `force` asks for: one of the forced modes, or back to normal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForceMode {
    Open,
    Closed,
    Auto,
}

/// The span of a rate window, for reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Span {
    /// The last calls (a count window).
    Calls,
    /// The calls of the last this many milliseconds (a time window).
    Millis(u64),
}

/// Why a breaker changed state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// `failures` consecutive failures reached `threshold`.
    ConsecutiveFailures { failures: u64, threshold: u64 },
    /// `bad` of `calls` calls in the window failed (or were slow, when `slow`), reaching the
    /// `threshold` percentage.
    Rate {
        slow: bool,
        span: Span,
        bad: u64,
        calls: u64,
        threshold: Milli,
    },
    /// The open period of `ms` milliseconds ended.
    OpenTimeoutElapsed { ms: u64 },
    /// A probe failed in half_open.
    ProbeFailed,
    /// A probe succeeded but was slow, which a probe counts as a failure.
    SlowProbe,
    /// A probe lease went unrecorded for `ms` milliseconds.
    ProbeLeaseExpired { ms: u64 },
    /// The breaker was half_open for `half_open_max_ms` (`ms`).
    HalfOpenLimit { ms: u64 },
    /// `successes` probes succeeded, reaching `threshold`.
    ProbesSucceeded { successes: u64, threshold: u64 },
    /// The `state` fixture of a `call` put it there.
    Fixture,
    /// An operator's `force`.
    Forced(ForceMode),
    /// An operator's `reset`.
    Reset,
    /// An operator's `transition`.
    Operator,
    /// A peer of the fleet moved it (`peer_transition`); the event log keeps which peer and why.
    Peer,
    /// A new breaker starting in `initial_state`.
    Initial,
    /// The first holder isolated it (`isolate`).
    Isolated,
    /// The last holder released its isolation (`release`).
    Released,
    /// Of `calls` trial calls in half_open, `bad` failed (or were slow, when `slow`), reaching
    /// the `threshold` percentage.
    TrialFailed {
        slow: bool,
        bad: u64,
        calls: u64,
        threshold: Milli,
    },
    /// `calls` trial calls in half_open, `failures` failed and `slow` were slow, below the
    /// thresholds.
    TrialPassed {
        failures: u64,
        slow: u64,
        calls: u64,
    },
}

/// One state change, dated on the caller's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: StateName,
    pub to: StateName,
    pub at: u64,
    pub reason: Reason,
}
