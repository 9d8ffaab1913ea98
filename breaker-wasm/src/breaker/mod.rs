//! One service's circuit breaker: a CLOSED/OPEN/HALF_OPEN state machine that takes time as an
//! argument and never reads a clock.
//!
//! Timed transitions are lazy: they happen in [`Breaker::settle`], which every decision calls
//! first, and are dated at their deadline rather than at the input that noticed them. Every state
//! change goes through [`Breaker::enter`], which starts a new generation (outstanding permits go
//! stale) and reports the [`Transition`] with its [`Reason`].

pub mod config;

use std::collections::VecDeque;

pub use config::{Config, Field, MAX_SAFE, OutOfRange, Patch};

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
    /// Calls are rejected until `until`; the period began at `since`.
    Open { since: u64, until: u64 },
    /// Probes are admitted up to `half_open_max_calls` at once; `successes` so far.
    HalfOpen { since: u64, successes: u64 },
}

impl State {
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

/// What `force` asks for: one of the forced modes, or back to normal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForceMode {
    Open,
    Closed,
    Auto,
}

/// Why a breaker changed state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// `failures` consecutive failures reached `threshold`.
    ConsecutiveFailures { failures: u64, threshold: u64 },
    /// The open period of `ms` milliseconds ended.
    OpenTimeoutElapsed { ms: u64 },
    /// A probe failed in half_open.
    ProbeFailed,
    /// A probe lease went unrecorded for `ms` milliseconds.
    ProbeLeaseExpired { ms: u64 },
    /// `successes` probes succeeded, reaching `threshold`.
    ProbesSucceeded { successes: u64, threshold: u64 },
    /// The `state` fixture of a `call` put it there.
    Fixture,
    /// An operator's `force`.
    Forced(ForceMode),
    /// An operator's `reset`.
    Reset,
}

/// One state change, dated on the caller's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: StateName,
    pub to: StateName,
    pub at: u64,
    pub reason: Reason,
}

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

/// The outcome of a permitted call, as `record` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    /// Releases the permit and counts nothing.
    Ignored,
}

/// The result of a `record`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub state: StateName,
    /// The permit was not outstanding in this generation; nothing changed.
    pub stale: bool,
    /// The state change this result caused, if any.
    pub transition: Option<Transition>,
}

/// A read-only view of a breaker at some time, as `status` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub state: StateName,
    pub forced: Option<Forced>,
    pub failures: u64,
    pub counts: Counts,
    pub retry_after_ms: Option<u64>,
}

/// One service's breaker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breaker {
    state: State,
    forced: Option<Forced>,
    /// Consecutive failures: a failure adds one, a success sets it back to 0.
    failures: u64,
    /// Re-opens from half_open since the breaker last closed.
    trips: u64,
    counts: Counts,
    /// Permits of the current generation, oldest first (permits grow with time).
    leases: VecDeque<Lease>,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            state: State::Closed,
            forced: None,
            failures: 0,
            trips: 0,
            counts: Counts::default(),
            leases: VecDeque::new(),
        }
    }
}

/// Where transitions go: the node appends them to its event log.
pub type Transitions = Vec<Transition>;

impl Breaker {
    /// A breaker rebuilt from saved parts (see the node's snapshot). Leases must be sorted by
    /// permit.
    pub fn from_parts(
        state: State,
        forced: Option<Forced>,
        failures: u64,
        trips: u64,
        counts: Counts,
        leases: Vec<Lease>,
    ) -> Breaker {
        Breaker { state, forced, failures, trips, counts, leases: leases.into() }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn forced(&self) -> Option<Forced> {
        self.forced
    }

    pub fn failures(&self) -> u64 {
        self.failures
    }

    pub fn trips(&self) -> u64 {
        self.trips
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    pub fn leases(&self) -> impl ExactSizeIterator<Item = &Lease> {
        self.leases.iter()
    }

    /// Whether the breaker counts as closed for eviction (forced-closed included).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Moves every time in the breaker back by `delta` (saturating at 0): used when a snapshot
    /// is restored under a clock that is behind the one it was taken with.
    pub fn shift_back(&mut self, delta: u64) {
        match &mut self.state {
            State::Closed => {}
            State::Open { since, until } => {
                *since = since.saturating_sub(delta);
                if *until != u64::MAX {
                    *until = until.saturating_sub(delta);
                }
            }
            State::HalfOpen { since, .. } => *since = since.saturating_sub(delta),
        }
        for lease in &mut self.leases {
            lease.at = lease.at.saturating_sub(delta);
        }
    }

    /// Applies every timed transition due at `now`, each dated at its own deadline.
    pub fn settle(&mut self, config: &Config, now: u64, log: &mut Transitions) {
        if self.forced.is_some() {
            return;
        }
        loop {
            match self.state {
                State::Open { since, until } if now >= until => {
                    let reason = Reason::OpenTimeoutElapsed { ms: until - since };
                    self.enter(State::HalfOpen { since: until, successes: 0 }, until, reason, log);
                }
                State::HalfOpen { .. } => {
                    let Some(oldest) = self.leases.front() else { break };
                    let deadline = oldest.at.saturating_add(config.probe_timeout_ms);
                    if now < deadline {
                        break;
                    }
                    self.failures += 1;
                    self.counts.failures += 1;
                    let reason = Reason::ProbeLeaseExpired { ms: config.probe_timeout_ms };
                    self.open(config, deadline, reason, log);
                }
                _ => break,
            }
        }
    }

    /// The breaker as it is at `now`, without changing it.
    pub fn view(&self, config: &Config, now: u64) -> View {
        let mut settled = self.clone();
        settled.settle(config, now, &mut Vec::new());
        View {
            state: settled.state.name(),
            forced: settled.forced,
            failures: settled.failures,
            counts: settled.counts,
            retry_after_ms: settled.retry_after(config, now),
        }
    }

    /// When a permit could next be granted, for a breaker that is refusing them now.
    fn retry_after(&self, config: &Config, now: u64) -> Option<u64> {
        if self.forced.is_some() {
            return None;
        }
        match self.state {
            State::Open { until, .. } => Some(until.saturating_sub(now)),
            State::HalfOpen { .. } if self.slots_full(config) => {
                let oldest = self.leases.front()?;
                Some(oldest.at.saturating_add(config.probe_timeout_ms).saturating_sub(now))
            }
            _ => None,
        }
    }

    fn slots_full(&self, config: &Config) -> bool {
        self.leases.len() as u64 >= config.half_open_max_calls
    }

    /// Moves to `state` at `at`: a new generation (outstanding permits go stale). Reports the
    /// transition when the state's name changes.
    fn enter(&mut self, state: State, at: u64, reason: Reason, log: &mut Transitions) {
        let from = self.state.name();
        let to = state.name();
        self.state = state;
        self.leases.clear();
        match to {
            StateName::Closed => {
                self.failures = 0;
                self.trips = 0;
            }
            StateName::Open if from != StateName::Open => self.counts.opened += 1,
            _ => {}
        }
        if from != to {
            log.push(Transition { from, to, at, reason });
        }
    }

    /// Opens the breaker at `at` for one open period.
    fn open(&mut self, config: &Config, at: u64, reason: Reason, log: &mut Transitions) {
        if self.state.name() == StateName::HalfOpen {
            self.trips += 1;
        }
        let until = at.saturating_add(config.open_timeout_ms);
        self.enter(State::Open { since: at, until }, at, reason, log);
    }

    fn close(&mut self, at: u64, reason: Reason, log: &mut Transitions) {
        self.enter(State::Closed, at, reason, log);
    }

    /// Puts the breaker in `state` as if it had just entered it (the `call` fixture): ends any
    /// forced mode; open starts a fresh period now, half_open has no probes, closed no counts.
    pub fn set_state(&mut self, config: &Config, state: StateName, now: u64, log: &mut Transitions) {
        self.forced = None;
        let state = match state {
            StateName::Closed => State::Closed,
            StateName::Open => State::Open { since: now, until: now.saturating_add(config.open_timeout_ms) },
            StateName::HalfOpen => State::HalfOpen { since: now, successes: 0 },
        };
        self.enter(state, now, Reason::Fixture, log);
    }

    /// An operator's override: forced open, forced closed, or back to normal (closed, zeroed).
    pub fn force(&mut self, mode: ForceMode, now: u64, log: &mut Transitions) {
        let reason = Reason::Forced(mode);
        match mode {
            ForceMode::Open => {
                self.forced = Some(Forced::Open);
                self.enter(State::Open { since: now, until: u64::MAX }, now, reason, log);
            }
            ForceMode::Closed => {
                self.forced = Some(Forced::Closed);
                self.enter(State::Closed, now, reason, log);
            }
            ForceMode::Auto => {
                self.forced = None;
                self.counts = Counts::default();
                self.enter(State::Closed, now, reason, log);
            }
        }
    }

    /// Back to closed with zero counters and no forced mode.
    pub fn reset(&mut self, now: u64, log: &mut Transitions) {
        self.forced = None;
        self.counts = Counts::default();
        self.enter(State::Closed, now, Reason::Reset, log);
    }

    /// A whole call through the breaker, the downstream behaving as `attempts` says. Attempts
    /// after the breaker opens are rejected without reaching the downstream; the cost does not
    /// depend on the number of attempts.
    pub fn call(&mut self, config: &Config, now: u64, attempts: Attempts, log: &mut Transitions) -> CallResult {
        self.settle(config, now, log);
        let tries = match attempts {
            Attempts::Success => 1,
            Attempts::Failures(n) => n.max(1),
        };
        match (self.forced, self.state) {
            (Some(Forced::Open), _) | (None, State::Open { .. }) => {
                self.counts.rejections += tries;
                CallResult::Rejected { state: StateName::Open }
            }
            (Some(Forced::Closed), _) => match attempts {
                Attempts::Success => CallResult::Ok { state: StateName::Closed },
                Attempts::Failures(_) => CallResult::Failed { state: StateName::Closed, failures: 0 },
            },
            (None, State::HalfOpen { .. }) if self.slots_full(config) => {
                self.counts.rejections += tries;
                CallResult::Rejected { state: StateName::HalfOpen }
            }
            (None, State::HalfOpen { since, successes }) => match attempts {
                Attempts::Success => {
                    if self.probe_succeeded(config, since, successes, now, log).is_some() {
                        CallResult::Closed
                    } else {
                        CallResult::Ok { state: StateName::HalfOpen }
                    }
                }
                Attempts::Failures(_) => {
                    self.probe_failed(config, now, log);
                    self.counts.rejections += tries - 1;
                    CallResult::Opened { failures: 1, rejected: tries - 1 }
                }
            },
            (None, State::Closed) => match attempts {
                Attempts::Success => {
                    self.succeeded();
                    CallResult::Ok { state: StateName::Closed }
                }
                Attempts::Failures(_) => {
                    // The attempts that can still fail before the threshold is reached.
                    let room = config.failure_threshold.saturating_sub(self.failures).max(1);
                    if tries < room {
                        self.failures += tries;
                        self.counts.failures += tries;
                        return CallResult::Failed { state: StateName::Closed, failures: self.failures };
                    }
                    self.failures += room;
                    self.counts.failures += room;
                    let failures = self.failures;
                    let reason = Reason::ConsecutiveFailures { failures, threshold: config.failure_threshold };
                    self.open(config, now, reason, log);
                    self.failures = failures;
                    self.counts.rejections += tries - room;
                    CallResult::Opened { failures, rejected: tries - room }
                }
            },
        }
    }

    /// Asks for a permit to make a real call; `permit` is the id to hand out if granted.
    pub fn acquire(
        &mut self,
        config: &Config,
        now: u64,
        permit: u64,
        log: &mut Transitions,
    ) -> Result<StateName, Rejection> {
        self.settle(config, now, log);
        let state = self.state.name();
        let admitted = match (self.forced, self.state) {
            (Some(Forced::Open), _) | (None, State::Open { .. }) => false,
            (None, State::HalfOpen { .. }) => !self.slots_full(config),
            _ => true,
        };
        if !admitted {
            self.counts.rejections += 1;
            return Err(Rejection { state, retry_after_ms: self.retry_after(config, now) });
        }
        if self.leases.len() >= MAX_OUTSTANDING {
            self.leases.pop_front();
        }
        self.leases.push_back(Lease { permit, at: now });
        Ok(state)
    }

    /// Reports the outcome of a permitted call. A permit that is not outstanding in this
    /// generation changes nothing and is reported stale.
    pub fn record(
        &mut self,
        config: &Config,
        now: u64,
        permit: u64,
        outcome: Outcome,
        log: &mut Transitions,
    ) -> Recorded {
        self.settle(config, now, log);
        let Ok(index) = self.leases.binary_search_by_key(&permit, |lease| lease.permit) else {
            return Recorded { state: self.state.name(), stale: true, transition: None };
        };
        self.leases.remove(index);
        let before = log.len();
        if self.forced.is_none() {
            match (self.state, outcome) {
                (_, Outcome::Ignored) | (State::Open { .. }, _) => {}
                (State::Closed, Outcome::Success) => self.succeeded(),
                (State::Closed, Outcome::Failure) => {
                    self.failures += 1;
                    self.counts.failures += 1;
                    if self.failures >= config.failure_threshold {
                        let failures = self.failures;
                        let reason = Reason::ConsecutiveFailures { failures, threshold: config.failure_threshold };
                        self.open(config, now, reason, log);
                        self.failures = failures;
                    }
                }
                (State::HalfOpen { since, successes }, Outcome::Success) => {
                    self.probe_succeeded(config, since, successes, now, log);
                }
                (State::HalfOpen { .. }, Outcome::Failure) => self.probe_failed(config, now, log),
            }
        }
        let transition = log[before..].last().copied();
        Recorded { state: self.state.name(), stale: false, transition }
    }

    fn succeeded(&mut self) {
        self.failures = 0;
        self.counts.successes += 1;
    }

    /// A successful probe; closes the breaker (and returns the transition) at the threshold.
    fn probe_succeeded(
        &mut self,
        config: &Config,
        since: u64,
        successes: u64,
        now: u64,
        log: &mut Transitions,
    ) -> Option<Transition> {
        self.succeeded();
        let successes = successes + 1;
        if successes < config.success_threshold {
            self.state = State::HalfOpen { since, successes };
            return None;
        }
        self.close(now, Reason::ProbesSucceeded { successes, threshold: config.success_threshold }, log);
        log.last().copied()
    }

    fn probe_failed(&mut self, config: &Config, now: u64, log: &mut Transitions) {
        self.failures += 1;
        self.counts.failures += 1;
        self.open(config, now, Reason::ProbeFailed, log);
    }
}

#[cfg(test)]
mod tests;
