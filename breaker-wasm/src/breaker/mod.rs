//! One service's circuit breaker: a CLOSED/OPEN/HALF_OPEN state machine that takes time as an
//! argument and never reads a clock.
//!
//! Timed transitions are lazy: they happen in [`Breaker::settle`], which every decision calls
//! first, and are dated at their deadline rather than at the input that noticed them. Every state
//! change goes through [`Breaker::enter`], which starts a new generation (outstanding permits go
//! stale) and reports the [`Transition`] with its [`Reason`].

pub mod config;
mod decisions;
mod fixture;
mod last_failure;
mod operator;
mod results;
mod state;
mod timing;
pub mod validate;
mod window;

use std::collections::VecDeque;

pub use config::{Backoff, Config, Field, HalfOpenBudget, MAX_SAFE, Milli, Patch, Setting, Window};
pub use last_failure::{LastFailure, MAX_ERROR_BYTES};
pub use results::{
    Attempts, CallResult, Counts, Figures, Lease, MAX_OUTSTANDING, Outcome, Recorded, Rejection,
    View,
};
pub use state::{ForceMode, Forced, PeerMove, Reason, Span, State, StateName, Transition};
pub use window::{Mark, Tally, WindowState};

use timing::fnv1a;

/// One service's breaker.
///
/// Its methods come in groups, each in a file of its own:
/// - **decisions** (`decisions.rs`): [`Breaker::acquire`] and [`Breaker::record`], the probes'
///   verdicts, and the closed state's policy verdict;
/// - **timed transitions** (`timing.rs`): [`Breaker::settle`], which every decision calls
///   first, open periods with backoff and jitter, and `retry_after_ms`;
/// - **operator actions** (`operator.rs`): [`Breaker::force`] and [`Breaker::reset`];
/// - **the `call` fixture** (`fixture.rs`): [`Breaker::call`] with any number of forced
///   failures at constant cost, and [`Breaker::set_state`];
/// - **state changes and snapshots** (here): [`Breaker::enter`], the one door every transition
///   goes through, and [`Breaker::parts`], [`Breaker::from_parts`], [`Breaker::view`],
///   [`Breaker::shift_back`].
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
    /// What only some options use, boxed so that a breaker that does not use them stays
    /// small; `None` while every part is at its zero.
    extra: Option<Box<Extras>>,
    /// The last failure recorded with a text since the breaker last closed.
    last_failure: Option<Box<LastFailure>>,
}

/// The parts of a breaker that only some options use.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Extras {
    /// Probes admitted in this half_open period (under a per-period budget).
    admitted: u64,
    /// The trial calls recorded in this half_open period, when it is judged by rate.
    trial: Tally,
    /// The start of the `interval_ms` cycle the closed counts belong to (set by the first
    /// decision under `interval_ms` after closing).
    cycle: Option<u64>,
    /// Holders of an isolation (`isolate`): forced open while above 0.
    isolations: u64,
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
    /// Probes admitted in this half_open period.
    pub admitted: u64,
    /// Trial calls recorded in this half_open period (judged by rate).
    pub trial: Tally,
    /// When the current closed cycle began (under `interval_ms`).
    pub cycle: Option<u64>,
    /// Holders of an isolation.
    pub isolations: u64,
    /// The last failure recorded with a text since the breaker last closed.
    pub last_failure: Option<LastFailure>,
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
            extra: None,
            last_failure: None,
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
            extra: Some(Box::new(Extras {
                admitted: p.admitted,
                trial: p.trial,
                cycle: p.cycle,
                isolations: p.isolations,
            }))
            .filter(|e| **e != Extras::default()),
            last_failure: p.last_failure.map(Box::new),
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
            admitted: self.ext_ref().admitted,
            trial: self.ext_ref().trial,
            cycle: self.ext_ref().cycle,
            isolations: self.ext_ref().isolations,
            last_failure: self.last_failure.as_deref().cloned(),
        }
    }

    /// The last failure recorded with a text since the breaker last closed.
    pub fn last_failure(&self) -> Option<&LastFailure> {
        self.last_failure.as_deref()
    }

    /// Keeps `error` as the last failure, at `at`: the caller has just had a failure counted.
    pub fn note_failure(&mut self, error: &str, at: u64) {
        self.last_failure = Some(Box::new(LastFailure::new(error, at)));
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
            // The deadline moves back by `delta` too (saturating at 0): a period that started
            // less than `delta` after 0 is shortened by what its start could not move.
            State::Open { since, period } => {
                let moved = (*since).min(delta);
                *since -= moved;
                *period = period.saturating_sub(delta - moved);
            }
            State::HalfOpen { since, .. } => *since = since.saturating_sub(delta),
        }
        if let Some(cycle) = self.extra.as_deref_mut().and_then(|e| e.cycle.as_mut()) {
            *cycle = cycle.saturating_sub(delta);
        }
        for lease in &mut self.leases {
            lease.at = lease.at.saturating_sub(delta);
        }
        if let Some(f) = &mut self.last_failure {
            f.at = f.at.saturating_sub(delta);
        }
        if let Some(w) = &mut self.window {
            w.shift_back(delta);
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
            figures: settled.figures(config, now),
            last_failure: settled.last_failure.map(|f| *f),
        }
    }

    /// What the deciding policy sees at `now` (on a settled breaker).
    fn figures(&mut self, config: &Config, now: u64) -> Figures {
        match self.state {
            State::Open { .. } => Figures::Open {
                until: self.state.open_until().filter(|_| self.forced.is_none()),
            },
            State::HalfOpen { successes, .. } => Figures::HalfOpen {
                in_flight: self.leases.len() as u64,
                max_calls: config.half_open_max_calls,
                successes,
                threshold: config.success_threshold,
            },
            State::Closed if config.window == Window::Consecutive => Figures::Consecutive {
                failures: self.failures,
                threshold: config.failure_threshold,
            },
            State::Closed => Figures::Window {
                window: config.window,
                // A window built for another config starts over at the next call.
                tally: match self.window.as_deref_mut() {
                    Some(w) if w.built_for == config.window => {
                        w.expire(now);
                        w.tally
                    }
                    _ => Tally::default(),
                },
                slow_call_rate: config.slow_call_rate,
            },
        }
    }

    fn slots_full(&self, config: &Config) -> bool {
        let taken = match config.half_open_budget {
            // With no probe outstanding there is always a slot: a breaker whose probes were all
            // recorded without a verdict (after a config change) is never stuck in half_open.
            _ if !config.budget_per_period() => self.leases.len() as u64,
            _ if self.leases.is_empty() => 0,
            // Never more in flight than the budget either (after a config change mid-period).
            _ => self.ext_ref().admitted.max(self.leases.len() as u64),
        };
        taken >= config.half_open_max_calls
    }

    /// Moves to `state` at `at`: a new generation (outstanding permits go stale). Reports the
    /// transition when the state's name changes.
    fn enter(&mut self, state: State, at: u64, reason: Reason, log: &mut Transitions) {
        let from = self.state.name();
        let to = state.name();
        self.state = state;
        self.leases.clear();
        self.window = None;
        // A new state: only the isolation carries over.
        let isolations = self.ext_ref().isolations;
        self.extra = (isolations > 0).then(|| {
            Box::new(Extras {
                isolations,
                ..Extras::default()
            })
        });
        match to {
            // Closing forgets the last failure, as Polly's reset clears `LastException`.
            StateName::Closed => {
                self.failures = 0;
                self.trips = 0;
                self.last_failure = None;
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
        let period = self.open_period(config, self.counts.opened + 1);
        self.enter(State::Open { since: at, period }, at, reason, log);
    }

    fn close(&mut self, at: u64, reason: Reason, log: &mut Transitions) {
        self.enter(State::Closed, at, reason, log);
    }

    /// The optional parts, created on first use.
    fn ext(&mut self) -> &mut Extras {
        self.extra.get_or_insert_with(Box::default)
    }

    /// The optional parts as they are (zeros when there are none).
    fn ext_ref(&self) -> Extras {
        self.extra.as_deref().copied().unwrap_or_default()
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
}

#[cfg(test)]
mod tests;
