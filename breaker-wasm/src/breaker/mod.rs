//! One service's circuit breaker: a CLOSED/OPEN/HALF_OPEN state machine that takes time as an
//! argument and never reads a clock.
//!
//! Timed transitions are lazy: they happen in [`Breaker::settle`], which every decision calls
//! first, and are dated at their deadline rather than at the input that noticed them. Every state
//! change goes through [`Breaker::enter`], which starts a new generation (outstanding permits go
//! stale) and reports the [`Transition`] with its [`Reason`].

pub mod config;
mod window;

use std::collections::VecDeque;

pub use config::{Backoff, Config, Field, MAX_SAFE, Milli, Patch, Setting, Window};
pub use window::{Mark, Tally, WindowState};

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
#[derive(Clone, Copy, Debug, PartialEq)]
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
#[derive(Clone, Debug, PartialEq)]
pub struct Breaker {
    /// A hash of the service name: the deterministic source of backoff jitter.
    seed: u64,
    state: State,
    forced: Option<Forced>,
    /// Consecutive failures: a failure adds one, a success sets it back to 0.
    failures: u64,
    /// Re-opens from half_open since the breaker last closed.
    trips: u64,
    counts: Counts,
    /// Permits of the current generation, oldest first (permits grow with time).
    leases: VecDeque<Lease>,
    /// The failure window while closed under a count or time window.
    window: Option<Box<WindowState>>,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker::new("")
    }
}

/// Where transitions go: the node appends them to its event log.
pub type Transitions = Vec<Transition>;

/// The saved form of a breaker (see the node's snapshot).
#[derive(Clone, Debug, PartialEq)]
pub struct Parts {
    pub state: State,
    pub forced: Option<Forced>,
    pub failures: u64,
    pub trips: u64,
    pub counts: Counts,
    /// Outstanding permits, sorted by permit.
    pub leases: Vec<Lease>,
    pub window: Option<WindowState>,
}

impl Breaker {
    /// A fresh, closed breaker for the service `name`.
    pub fn new(name: &str) -> Breaker {
        Breaker {
            seed: fnv1a(name.as_bytes()),
            state: State::Closed,
            forced: None,
            failures: 0,
            trips: 0,
            counts: Counts::default(),
            leases: VecDeque::new(),
            window: None,
        }
    }

    /// A breaker rebuilt from saved parts.
    pub fn from_parts(name: &str, p: Parts) -> Breaker {
        Breaker {
            seed: fnv1a(name.as_bytes()),
            state: p.state,
            forced: p.forced,
            failures: p.failures,
            trips: p.trips,
            counts: p.counts,
            leases: p.leases.into(),
            window: p.window.map(Box::new),
        }
    }

    pub fn parts(&self) -> Parts {
        Parts {
            state: self.state,
            forced: self.forced,
            failures: self.failures,
            trips: self.trips,
            counts: self.counts,
            leases: self.leases.iter().copied().collect(),
            window: self.window.as_deref().cloned(),
        }
    }

    /// The live failure window, if any.
    pub fn window(&self) -> Option<&WindowState> {
        self.window.as_deref()
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
        if let Some(w) = &mut self.window {
            w.shift_back(delta);
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
                    let reason = Reason::OpenTimeoutElapsed {
                        ms: until.saturating_sub(since),
                    };
                    self.enter(
                        State::HalfOpen {
                            since: until,
                            successes: 0,
                        },
                        until,
                        reason,
                        log,
                    );
                }
                State::HalfOpen { .. } => {
                    let Some(oldest) = self.leases.front() else {
                        break;
                    };
                    let deadline = oldest.at.saturating_add(config.probe_timeout_ms);
                    if now < deadline {
                        break;
                    }
                    self.failures += 1;
                    self.counts.failures += 1;
                    let reason = Reason::ProbeLeaseExpired {
                        ms: config.probe_timeout_ms,
                    };
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
            // `status` tells when a probe will be admitted while open; half_open has no deadline.
            retry_after_ms: if settled.state.name() == StateName::Open {
                settled.retry_after(config, now)
            } else {
                None
            },
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
                Some(
                    oldest
                        .at
                        .saturating_add(config.probe_timeout_ms)
                        .saturating_sub(now),
                )
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
        self.window = None;
        match to {
            StateName::Closed => {
                self.failures = 0;
                self.trips = 0;
            }
            StateName::Open if from != StateName::Open => self.counts.opened += 1,
            _ => {}
        }
        if from != to {
            log.push(Transition {
                from,
                to,
                at,
                reason,
            });
        }
    }

    /// Opens the breaker at `at` for one open period.
    fn open(&mut self, config: &Config, at: u64, reason: Reason, log: &mut Transitions) {
        if self.state.name() == StateName::HalfOpen {
            self.trips += 1;
        }
        let until = deadline(at, self.open_period(config, self.counts.opened + 1));
        self.enter(State::Open { since: at, until }, at, reason, log);
    }

    /// The length of the open period of trip number `trip`: `open_timeout_ms` grown by the
    /// backoff multiplier once per re-open since the breaker last closed, capped, then spread by
    /// a jitter that depends only on the service and the trip. Integer arithmetic throughout,
    /// so every host computes the same number.
    fn open_period(&self, config: &Config, trip: u64) -> u64 {
        let b = config.backoff;
        if b.multiplier == Milli::ONE && b.jitter == Milli(0) {
            return config.open_timeout_ms;
        }
        let cap = u128::from(b.max_open_ms);
        let mut period = u128::from(config.open_timeout_ms).min(cap);
        if b.multiplier > Milli::ONE {
            // Each step grows it by at least 0.1 %, so the cap is reached in a bounded number of
            // steps whatever the trip count.
            for _ in 0..self.trips {
                period = (period * u128::from(b.multiplier.0) / 1000).min(cap);
                if period == cap {
                    break;
                }
            }
        }
        if b.jitter.0 > 0 {
            // A factor in [1 − jitter, 1 + jitter), in 2^-32 steps.
            let unit = u128::from(splitmix64(self.seed ^ trip) >> 32);
            let j = u128::from(b.jitter.0);
            let factor = ((1000 - j) << 32) + 2 * j * unit;
            period = (period * factor / (1000u128 << 32)).min(cap);
        }
        (period as u64).max(1)
    }

    /// A call's outcome while closed: counts it, feeds the window, and opens the breaker when
    /// the policy says so. Returns the failures that tripped it (consecutive, or in the window).
    fn closed_outcome(
        &mut self,
        config: &Config,
        now: u64,
        mark: Mark,
        count: u64,
        log: &mut Transitions,
    ) -> Option<u64> {
        if config.window == Window::Consecutive {
            // A slow call counts as a failure under the consecutive policy.
            if !(mark.failed || mark.slow) {
                self.failures = 0;
                self.counts.successes += count;
                return None;
            }
            self.failures += count;
            self.counts.failures += count;
            if self.failures < config.failure_threshold {
                return None;
            }
            let failures = self.failures;
            let reason = Reason::ConsecutiveFailures {
                failures,
                threshold: config.failure_threshold,
            };
            self.open(config, now, reason, log);
            return Some(failures);
        }
        if mark.failed {
            self.failures += count;
            self.counts.failures += count;
        } else {
            self.failures = 0;
            self.counts.successes += count;
        }
        self.ensure_window(config);
        let window = self.window.as_deref_mut().expect("a rate window");
        window.add(now, mark, count);
        let reason = verdict(config, window.tally)?;
        let failures = window.tally.failures;
        self.open(config, now, reason, log);
        Some(failures)
    }

    /// Whether `config`'s window would open on its tally after `k` more calls marked `mark`.
    fn would_open_after(&mut self, config: &Config, now: u64, mark: Mark, k: u64) -> bool {
        let Some(w) = self.window.as_deref_mut() else {
            return false;
        };
        w.expire(now);
        let t = w.tally;
        let after = Tally {
            calls: t.calls + k,
            failures: t.failures + if mark.failed { k } else { 0 },
            slow: t.slow + if mark.slow { k } else { 0 },
        };
        verdict(config, after).is_some()
    }

    fn close(&mut self, at: u64, reason: Reason, log: &mut Transitions) {
        self.enter(State::Closed, at, reason, log);
    }

    /// Puts the breaker in `state` as if it had just entered it (the `call` fixture): ends any
    /// forced mode; open starts a fresh period now, half_open has no probes, closed no counts.
    pub fn set_state(
        &mut self,
        config: &Config,
        state: StateName,
        now: u64,
        log: &mut Transitions,
    ) {
        self.settle(config, now, log);
        self.forced = None;
        let state = match state {
            StateName::Closed => State::Closed,
            StateName::Open => {
                let period = self.open_period(config, self.counts.opened + 1);
                State::Open {
                    since: now,
                    until: deadline(now, period),
                }
            }
            StateName::HalfOpen => State::HalfOpen {
                since: now,
                successes: 0,
            },
        };
        self.enter(state, now, Reason::Fixture, log);
    }

    /// An operator's override: forced open, forced closed, or back to normal (closed, zeroed).
    /// Timed transitions due before it are applied first.
    pub fn force(&mut self, config: &Config, mode: ForceMode, now: u64, log: &mut Transitions) {
        self.settle(config, now, log);
        let reason = Reason::Forced(mode);
        match mode {
            ForceMode::Open => {
                self.forced = Some(Forced::Open);
                self.enter(
                    State::Open {
                        since: now,
                        until: u64::MAX,
                    },
                    now,
                    reason,
                    log,
                );
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

    /// Back to closed with zero counters and no forced mode, after the timed transitions due.
    pub fn reset(&mut self, config: &Config, now: u64, log: &mut Transitions) {
        self.settle(config, now, log);
        self.forced = None;
        self.counts = Counts::default();
        self.enter(State::Closed, now, Reason::Reset, log);
    }

    /// A whole call through the breaker, the downstream behaving as `attempts` says and taking
    /// `duration_ms`. Attempts after the breaker opens are rejected without reaching the
    /// downstream; the cost does not grow with the number of attempts (a count window takes at
    /// most its size in steps, a time window a binary search).
    pub fn call(
        &mut self,
        config: &Config,
        now: u64,
        attempts: Attempts,
        duration_ms: Option<u64>,
        log: &mut Transitions,
    ) -> CallResult {
        self.settle(config, now, log);
        let slow = config.is_slow(duration_ms);
        let (tries, mark) = match attempts {
            Attempts::Success => (
                1,
                Mark {
                    failed: false,
                    slow,
                },
            ),
            Attempts::Failures(n) => (n.max(1), Mark { failed: true, slow }),
        };
        match (self.forced, self.state) {
            (Some(Forced::Open), _) | (None, State::Open { .. }) => {
                self.counts.rejections += tries;
                CallResult::Rejected {
                    state: StateName::Open,
                }
            }
            (Some(Forced::Closed), _) => match attempts {
                Attempts::Success => CallResult::Ok {
                    state: StateName::Closed,
                },
                Attempts::Failures(_) => CallResult::Failed {
                    state: StateName::Closed,
                    failures: 0,
                },
            },
            (None, State::HalfOpen { .. }) if self.slots_full(config) => {
                self.counts.rejections += tries;
                CallResult::Rejected {
                    state: StateName::HalfOpen,
                }
            }
            (None, State::HalfOpen { since, successes }) => {
                if !mark.failed && !mark.slow {
                    return match self.probe_succeeded(config, since, successes, now, log) {
                        Some(_) => CallResult::Closed,
                        None => CallResult::Ok {
                            state: StateName::HalfOpen,
                        },
                    };
                }
                self.probe_failed(config, now, mark, log);
                self.counts.rejections += tries - 1;
                CallResult::Opened {
                    failures: 1,
                    rejected: tries - 1,
                }
            }
            (None, State::Closed) => {
                let taken = self.attempts_until_open(config, now, mark, tries);
                match self.closed_outcome(config, now, mark, taken, log) {
                    Some(failures) => {
                        self.counts.rejections += tries - taken;
                        CallResult::Opened {
                            failures,
                            rejected: tries - taken,
                        }
                    }
                    None if mark.failed || (mark.slow && config.window == Window::Consecutive) => {
                        CallResult::Failed {
                            state: StateName::Closed,
                            failures: self.failures,
                        }
                    }
                    None => CallResult::Ok {
                        state: StateName::Closed,
                    },
                }
            }
        }
    }

    /// How many of `tries` attempts marked `mark` reach the downstream before the breaker opens
    /// (all of them when it stays closed).
    fn attempts_until_open(&mut self, config: &Config, now: u64, mark: Mark, tries: u64) -> u64 {
        match config.window {
            // The consecutive policy: up to the threshold.
            Window::Consecutive if mark.failed || mark.slow => tries.min(
                config
                    .failure_threshold
                    .saturating_sub(self.failures)
                    .max(1),
            ),
            Window::Consecutive => tries,
            // Each one may push an old call out of the window: at most `size` steps on a copy,
            // and after `size` failures the window is all failures.
            Window::Count { size, .. } => {
                self.ensure_window(config);
                let mut trial = self.window.as_deref().expect("ensured").clone();
                let limit = tries.min(size);
                for i in 1..=limit {
                    trial.add(now, mark, 1);
                    if verdict(config, trial.tally).is_some() {
                        return i;
                    }
                }
                limit
            }
            // From the first attempt that fills `minimum_calls`, adding calls of one kind only
            // raises the rates that can still open it (the slow rate of fast failures falls, so
            // if it does not open it there it never will): check that attempt, then search for
            // the first that opens it.
            Window::Time { minimum_calls, .. } => {
                self.ensure_window(config);
                let calls = self.window.as_deref_mut().map_or(0, |w| {
                    w.expire(now);
                    w.tally.calls
                });
                let first = minimum_calls.saturating_sub(calls).max(1);
                if first > tries {
                    return tries;
                }
                if self.would_open_after(config, now, mark, first) {
                    return first;
                }
                if !self.would_open_after(config, now, mark, tries) {
                    return tries;
                }
                let (mut lo, mut hi) = (first + 1, tries);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    if self.would_open_after(config, now, mark, mid) {
                        hi = mid;
                    } else {
                        lo = mid + 1;
                    }
                }
                lo
            }
        }
    }

    fn ensure_window(&mut self, config: &Config) {
        let stale = self
            .window
            .as_deref()
            .is_none_or(|w| w.built_for != config.window);
        if stale {
            self.window = WindowState::new(config.window).map(Box::new);
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
            return Err(Rejection {
                state,
                retry_after_ms: self.retry_after(config, now),
            });
        }
        if self.leases.len() >= MAX_OUTSTANDING {
            self.leases.pop_front();
        }
        self.leases.push_back(Lease { permit, at: now });
        Ok(state)
    }

    /// Reports the outcome of a permitted call that took `duration_ms`. A permit that is not
    /// outstanding in this generation changes nothing and is reported stale.
    pub fn record(
        &mut self,
        config: &Config,
        now: u64,
        permit: u64,
        outcome: Outcome,
        duration_ms: Option<u64>,
        log: &mut Transitions,
    ) -> Recorded {
        self.settle(config, now, log);
        // Most calls are recorded before the next one is acquired: the newest lease is checked
        // first.
        if self.leases.back().is_some_and(|l| l.permit == permit) {
            self.leases.pop_back();
        } else {
            let Ok(index) = self
                .leases
                .binary_search_by_key(&permit, |lease| lease.permit)
            else {
                return Recorded {
                    state: self.state.name(),
                    stale: true,
                    transition: None,
                };
            };
            self.leases.remove(index);
        }
        let before = log.len();
        let mark = Mark {
            failed: outcome == Outcome::Failure,
            slow: config.is_slow(duration_ms),
        };
        if self.forced.is_none() && outcome != Outcome::Ignored {
            match self.state {
                State::Open { .. } => {}
                State::Closed => {
                    self.closed_outcome(config, now, mark, 1, log);
                }
                State::HalfOpen { since, successes } => {
                    if mark.failed || mark.slow {
                        self.probe_failed(config, now, mark, log);
                    } else {
                        self.probe_succeeded(config, since, successes, now, log);
                    }
                }
            }
        }
        let transition = log[before..].last().copied();
        Recorded {
            state: self.state.name(),
            stale: false,
            transition,
        }
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
        self.failures = 0;
        self.counts.successes += 1;
        let successes = successes + 1;
        if successes < config.success_threshold {
            self.state = State::HalfOpen { since, successes };
            return None;
        }
        self.close(
            now,
            Reason::ProbesSucceeded {
                successes,
                threshold: config.success_threshold,
            },
            log,
        );
        log.last().copied()
    }

    /// A failed probe (a slow one counts as failed): the breaker opens again.
    fn probe_failed(&mut self, config: &Config, now: u64, mark: Mark, log: &mut Transitions) {
        if mark.failed {
            self.failures += 1;
            self.counts.failures += 1;
        } else {
            self.counts.successes += 1;
        }
        let reason = if mark.failed {
            Reason::ProbeFailed
        } else {
            Reason::SlowProbe
        };
        self.open(config, now, reason, log);
    }
}

/// Whether a window with `tally` opens the breaker under `config`, and why.
fn verdict(config: &Config, tally: Tally) -> Option<Reason> {
    let (span, minimum, failure_rate) = match config.window {
        Window::Consecutive => return None,
        // A window never holds more than `size` calls: a larger minimum would never be met.
        Window::Count {
            size,
            minimum_calls,
            failure_rate,
        } => (Span::Calls, minimum_calls.min(size), failure_rate),
        Window::Time {
            size_ms,
            minimum_calls,
            failure_rate,
        } => (Span::Millis(size_ms), minimum_calls, failure_rate),
    };
    if tally.calls == 0 || tally.calls < minimum {
        return None;
    }
    // n / calls ≥ rate / 100, with the rate in thousandths of a percent.
    let reaches = |n: u64, rate: Milli| {
        u128::from(n) * 100_000 >= u128::from(rate.0) * u128::from(tally.calls)
    };
    if reaches(tally.failures, failure_rate) {
        return Some(Reason::Rate {
            slow: false,
            span,
            bad: tally.failures,
            calls: tally.calls,
            threshold: failure_rate,
        });
    }
    if config.slow_call_ms.is_some() && reaches(tally.slow, config.slow_call_rate) {
        let threshold = config.slow_call_rate;
        return Some(Reason::Rate {
            slow: true,
            span,
            bad: tally.slow,
            calls: tally.calls,
            threshold,
        });
    }
    None
}

/// `at + period`, saturating just below `u64::MAX`, which marks a forced-open breaker.
fn deadline(at: u64, period: u64) -> u64 {
    at.saturating_add(period).min(u64::MAX - 1)
}

/// FNV-1a, 64 bits: a stable hash of a service name.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// SplitMix64's finaliser: spreads a seed evenly over 64 bits.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests;
