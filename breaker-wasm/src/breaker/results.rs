//! What the breaker's decisions return, and the limits on what it keeps.

use super::{Forced, LastFailure, Milli, StateName, Tally, Transition, Window};

/// Lifetime totals of one breaker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub successes: u64,
    pub failures: u64,
    pub rejections: u64,
    pub opened: u64,
}

/// A permit handed out by [`Breaker::acquire`] and not yet recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    pub permit: u64,
    pub at: u64,
}

/// How many permits one closed breaker keeps outstanding; past it the oldest is dropped (its
/// late record is stale). Bounds the memory a client that never records can take.
pub const MAX_OUTSTANDING: usize = 65_536;

/// What the downstream did, as the `call` fixture describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempts {
    /// One attempt that succeeds.
    Success,
    /// This many attempts in a row that fail (at least one).
    Failures(u64),
}

/// The result of a `call`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallResult {
    /// Not admitted: the breaker is in `state` (open or half_open with no free slot).
    Rejected { state: StateName },
    /// Admitted and succeeded; no transition.
    Ok { state: StateName },
    /// Admitted and failed; no transition. `failures` is the consecutive count now.
    Failed { state: StateName, failures: u64 },
    /// This call opened the breaker; `rejected` attempts came after it opened.
    Opened { failures: u64, rejected: u64 },
    /// This call closed the breaker.
    Closed,
}

/// Why `acquire` refused a permit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub state: StateName,
    /// When a permit could next be granted; `None` while forced open.
    pub retry_after_ms: Option<u64>,
}

/// What the policy that decides the next transition sees, by state: how close a breaker is to
/// moving, as `status` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figures {
    /// Closed under the consecutive policy: the failures in a row and the threshold.
    Consecutive { failures: u64, threshold: u64 },
    /// Closed under a count or time window (`window`, the config): the calls in it now and how
    /// many failed or were slow, and the slow-call threshold.
    Window {
        window: Window,
        tally: Tally,
        slow_call_rate: Milli,
    },
    /// Half-open: probes in flight and successful probes so far, with their limits.
    HalfOpen {
        in_flight: u64,
        max_calls: u64,
        successes: u64,
        threshold: u64,
    },
    /// Open until `until` (the first moment a probe is admitted); `None` while forced open.
    Open { until: Option<u64> },
}

/// The outcome of a permitted call, as `record` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    /// Releases the permit and counts nothing.
    Ignored,
}

/// The result of a `record`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recorded {
    pub state: StateName,
    /// The permit was not outstanding in this generation; nothing changed.
    pub stale: bool,
    /// The state change this result caused, if any.
    pub transition: Option<Transition>,
}

/// A read-only view of a breaker at some time, as `status` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    pub state: StateName,
    pub forced: Option<Forced>,
    pub failures: u64,
    pub counts: Counts,
    pub retry_after_ms: Option<u64>,
    /// What the deciding policy sees now.
    pub figures: Figures,
    /// The last failure recorded with a text since the breaker last closed.
    pub last_failure: Option<LastFailure>,
}
