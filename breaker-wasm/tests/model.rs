//! Model-based property tests: random sequences of call / acquire / record / configure / force /
//! reset / status / events / advance-time / snapshot-restore, run against the node and against a
//! small reference model of PROTOCOL §3 and §7 written independently of the core. Every reply
//! must be identical, and the invariants hold:
//!
//! - never more than `half_open_max_calls` probes in flight;
//! - an open breaker admits nothing before its deadline;
//! - a half_open breaker always leaves half_open within `probe_timeout_ms` of a lease;
//! - snapshot → restore changes no later reply.
//!
//! The model covers the consecutive policy, count windows, time windows (with the bucket rule of
//! the README: buckets of `size_ms`/10 aligned on multiples of the width, a call leaving the
//! window once its bucket's end plus `size_ms` has passed), slow calls, probe leases, backoff
//! without jitter, forced modes, reset, the `state` fixture, and config layers (defaults and
//! per-service overrides, merge-patch). It does not cover jitter, eviction (`max_services`), the
//! permit cap per breaker, or restores under a clock that is behind.
//!
//! `PROPTEST_CASES` raises the number of cases (default 256 per property).

use std::borrow::Cow;
use std::collections::BTreeMap;

use breaker_wasm::Options;
use breaker_wasm::breaker::{
    Attempts, Backoff, Breaker, CallResult, Config, Counts, Field, Figures, ForceMode, Forced,
    HalfOpenBudget, LastFailure, MAX_ERROR_BYTES, Milli, Outcome, Patch, Reason, Setting, Span,
    StateName, Transition, View, Window,
};
use breaker_wasm::node::{
    CallFixture, ConfigChange, Event, Image, Node, OpenFor, Refused, Reply, Request, ServiceState,
};
use breaker_wasm::wire::snapshot;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

const SERVICES: [&str; 3] = ["alpha", "beta", "gamma"];

/// A burst far too long to run attempt by attempt: the core must answer it at once.
const BIG: u64 = 4_000_000_000;

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum PermitPick {
    /// One of the permits handed out so far (to any service).
    Issued(Index),
    /// A permit never handed out.
    Unissued,
}

#[derive(Clone, Debug)]
enum Op {
    /// Time passes (no input).
    Advance(u64),
    /// `failures` 0 is a success (`force_success`), otherwise that many failed attempts.
    Call {
        svc: usize,
        state: Option<StateName>,
        failures: u64,
        duration: Option<u64>,
        /// The failures' text: an index in [`ERRORS`].
        error: Option<usize>,
    },
    Acquire {
        svc: usize,
    },
    Record {
        svc: usize,
        permit: PermitPick,
        outcome: Outcome,
        duration: Option<u64>,
        error: Option<usize>,
    },
    Configure {
        svc: Option<usize>,
        set: Vec<(Field, Setting)>,
        cleared: Vec<Field>,
    },
    Force {
        svc: Option<usize>,
        mode: ForceMode,
    },
    Reset {
        svc: Option<usize>,
    },
    /// `isolate`, or `release` when `release`.
    Isolate {
        svc: usize,
        release: bool,
    },
    /// An operator's `transition`; `open_ms` as `for_ms`.
    Transition {
        svc: usize,
        to: StateName,
        open_ms: Option<u64>,
    },
    Status {
        svc: usize,
    },
    StatusAll,
    Events,
    /// Replace the node by a fresh one restored from its snapshot, at the same time.
    SnapshotRestore(How),
}

/// How a snapshot is taken and carried to the fresh node.
#[derive(Clone, Copy, Debug)]
enum How {
    /// `Node::snapshot`.
    Typed,
    /// The `snapshot` request (README: it only reads).
    Request,
    /// The `snapshot` request's image through the wire's JSON encoding and back.
    Json,
}

const CONFIG_FIELDS: [Field; 16] = [
    Field::FailureThreshold,
    Field::OpenTimeoutMs,
    Field::HalfOpenMaxCalls,
    Field::SuccessThreshold,
    Field::Window,
    Field::SlowCallMs,
    Field::SlowCallRate,
    Field::ProbeTimeoutMs,
    Field::Backoff,
    Field::MetricsOnly,
    Field::HalfOpenMaxMs,
    Field::HalfOpenExpiry,
    Field::HalfOpenBudget,
    Field::HalfOpenFailureRate,
    Field::IntervalMs,
    Field::InitialState,
];

fn rate() -> impl Strategy<Value = Milli> {
    prop_oneof![
        Just(1),
        Just(25_000),
        Just(50_000),
        Just(66_667),
        Just(100_000)
    ]
    .prop_map(Milli)
}

fn window() -> impl Strategy<Value = Window> {
    prop_oneof![
        1 => Just(Window::Consecutive),
        2 => (1..=6u64, 1..=8u64, rate()).prop_map(|(size, minimum_calls, failure_rate)| Window::Count { size, minimum_calls, failure_rate }),
        2 => (1..=80u64, 1..=6u64, rate()).prop_map(|(size_ms, minimum_calls, failure_rate)| Window::Time { size_ms, minimum_calls, failure_rate }),
    ]
}

fn setting(field: Field) -> BoxedStrategy<Setting> {
    match field {
        Field::FailureThreshold => (1..=6u64).prop_map(Setting::Int).boxed(),
        Field::OpenTimeoutMs => (1..=60u64).prop_map(Setting::Int).boxed(),
        Field::HalfOpenMaxCalls => (1..=3u64).prop_map(Setting::Int).boxed(),
        Field::SuccessThreshold => (1..=3u64).prop_map(Setting::Int).boxed(),
        Field::Window => window().prop_map(Setting::Window).boxed(),
        Field::SlowCallMs => (1..=30u64).prop_map(|ms| Setting::OptInt(Some(ms))).boxed(),
        Field::SlowCallRate => prop_oneof![Just(10_000), Just(33_333), Just(50_000), Just(100_000)]
            .prop_map(|r| Setting::Rate(Milli(r)))
            .boxed(),
        Field::ProbeTimeoutMs => (1..=60u64).prop_map(Setting::Int).boxed(),
        Field::Backoff => (
            prop_oneof![Just(1000), Just(1500), Just(2000), Just(3000)],
            1..=200u64,
        )
            .prop_map(|(m, max_open_ms)| {
                Setting::Backoff(Backoff {
                    multiplier: Milli(m),
                    max_open_ms,
                    jitter: Milli(0),
                })
            })
            .boxed(),
        Field::MetricsOnly => any::<bool>().prop_map(Setting::Flag).boxed(),
        Field::HalfOpenMaxMs => (1..=60u64).prop_map(|ms| Setting::OptInt(Some(ms))).boxed(),
        Field::InitialState => state_name().prop_map(Setting::Target).boxed(),
        Field::IntervalMs => (1..=40u64).prop_map(|ms| Setting::OptInt(Some(ms))).boxed(),
        Field::HalfOpenFailureRate => rate().prop_map(|r| Setting::OptRate(Some(r))).boxed(),
        Field::HalfOpenBudget => {
            prop_oneof![Just(HalfOpenBudget::InFlight), Just(HalfOpenBudget::Period)]
                .prop_map(Setting::Budget)
                .boxed()
        }
        Field::HalfOpenExpiry => prop_oneof![Just(StateName::Open), Just(StateName::Closed)]
            .prop_map(Setting::Target)
            .boxed(),
        Field::MaxServices => unreachable!("not generated"),
    }
}

/// One field's change: set to a value, or cleared (`null`); neither when untouched.
type FieldChange = (Option<(Field, Setting)>, Option<Field>);

/// Per field: untouched, set, or cleared (`null`).
fn config_change() -> impl Strategy<Value = (Vec<(Field, Setting)>, Vec<Field>)> {
    let per_field: Vec<BoxedStrategy<FieldChange>> = CONFIG_FIELDS
        .iter()
        .map(|&f| {
            prop_oneof![
                6 => Just((None, None)),
                3 => setting(f).prop_map(move |s| (Some((f, s)), None)),
                1 => Just((None, Some(f))),
            ]
            .boxed()
        })
        .collect();
    per_field.prop_map(|actions| {
        let set = actions.iter().filter_map(|a| a.0).collect();
        let cleared = actions.iter().filter_map(|a| a.1).collect();
        (set, cleared)
    })
}

fn svc() -> impl Strategy<Value = usize> {
    0..SERVICES.len()
}

fn maybe_svc() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![3 => svc().prop_map(Some), 1 => Just(None)]
}

fn duration() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![Just(None), (0..=40u64).prop_map(Some)]
}

fn state_name() -> impl Strategy<Value = StateName> {
    prop_oneof![
        Just(StateName::Closed),
        Just(StateName::Open),
        Just(StateName::HalfOpen)
    ]
}

/// Failure texts: a short one, one past the bound with a two-byte character across it, and
/// one of exactly the bound.
static ERRORS: std::sync::LazyLock<[String; 3]> = std::sync::LazyLock::new(|| {
    [
        "timeout".to_string(),
        format!("{}\u{e9}{}", "a".repeat(255), "z".repeat(40)),
        "b".repeat(MAX_ERROR_BYTES),
    ]
});

fn error_text() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![2 => Just(None), 1 => (0..3usize).prop_map(Some)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => prop_oneof![4 => 0..=20u64, 1 => 21..=150u64].prop_map(Op::Advance),
        6 => (
            svc(),
            prop_oneof![8 => Just(None), 1 => state_name().prop_map(Some)],
            prop_oneof![4 => Just(0u64), 4 => 1..=8u64, 1 => Just(BIG)],
            duration(),
            error_text(),
        )
            .prop_map(|(svc, state, failures, duration, error)| Op::Call { svc, state, failures, duration, error }),
        4 => svc().prop_map(|svc| Op::Acquire { svc }),
        5 => (
            svc(),
            prop_oneof![6 => any::<Index>().prop_map(PermitPick::Issued), 1 => Just(PermitPick::Unissued)],
            prop_oneof![3 => Just(Outcome::Success), 3 => Just(Outcome::Failure), 1 => Just(Outcome::Ignored)],
            duration(),
            error_text(),
        )
            .prop_map(|(svc, permit, outcome, duration, error)| Op::Record { svc, permit, outcome, duration, error }),
        2 => (maybe_svc(), config_change()).prop_map(|(svc, (set, cleared))| Op::Configure { svc, set, cleared }),
        1 => (maybe_svc(), prop_oneof![Just(ForceMode::Open), Just(ForceMode::Closed), Just(ForceMode::Auto)])
            .prop_map(|(svc, mode)| Op::Force { svc, mode }),
        1 => maybe_svc().prop_map(|svc| Op::Reset { svc }),
        1 => (svc(), any::<bool>()).prop_map(|(svc, release)| Op::Isolate { svc, release }),
        1 => (svc(), state_name(), prop_oneof![Just(None), (1..=80u64).prop_map(Some)])
            .prop_map(|(svc, to, open_ms)| Op::Transition {
                svc,
                to,
                open_ms: open_ms.filter(|_| to == StateName::Open),
            }),
        2 => svc().prop_map(|svc| Op::Status { svc }),
        1 => Just(Op::StatusAll),
        1 => Just(Op::Events),
        1 => prop_oneof![Just(How::Typed), Just(How::Request), Just(How::Json)].prop_map(Op::SnapshotRestore),
    ]
}

/// A sequence that starts by configuring the defaults (each field set with even odds), so the
/// policies other than the default one are well exercised.
fn ops(max: usize) -> impl Strategy<Value = Vec<Op>> {
    let first = CONFIG_FIELDS
        .iter()
        .map(|&f| prop::option::of(setting(f).prop_map(move |v| (f, v))))
        .collect::<Vec<_>>()
        .prop_map(|set| Op::Configure {
            svc: None,
            set: set.into_iter().flatten().collect(),
            cleared: Vec::new(),
        });
    (first, prop::collection::vec(op(), 1..max)).prop_map(|(first, mut rest)| {
        rest.insert(0, first);
        rest
    })
}

// ---------------------------------------------------------------------------------------------
// The reference model
// ---------------------------------------------------------------------------------------------

/// One config layer: the fields it sets.
type Layer = Vec<(Field, Setting)>;

fn layer_set(layer: &mut Layer, field: Field, value: Option<Setting>) {
    layer.retain(|(f, _)| *f != field);
    if let Some(v) = value {
        layer.push((field, v));
    }
}

fn write_field(c: &mut Config, field: Field, value: Setting) {
    match (field, value) {
        (Field::FailureThreshold, Setting::Int(v)) => c.failure_threshold = v,
        (Field::OpenTimeoutMs, Setting::Int(v)) => c.open_timeout_ms = v,
        (Field::HalfOpenMaxCalls, Setting::Int(v)) => c.half_open_max_calls = v,
        (Field::SuccessThreshold, Setting::Int(v)) => c.success_threshold = v,
        (Field::Window, Setting::Window(w)) => c.window = w,
        (Field::SlowCallMs, Setting::OptInt(v)) => c.slow_call_ms = v,
        (Field::SlowCallRate, Setting::Rate(v)) => c.slow_call_rate = v,
        (Field::ProbeTimeoutMs, Setting::Int(v)) => c.probe_timeout_ms = v,
        (Field::Backoff, Setting::Backoff(b)) => c.backoff = b,
        (Field::MetricsOnly, Setting::Flag(v)) => c.metrics_only = v,
        (Field::HalfOpenMaxMs, Setting::OptInt(v)) => c.half_open_max_ms = v,
        (Field::HalfOpenExpiry, Setting::Target(v)) => c.half_open_expiry = v,
        (Field::HalfOpenBudget, Setting::Budget(v)) => c.half_open_budget = v,
        (Field::HalfOpenFailureRate, Setting::OptRate(v)) => c.half_open_failure_rate = v,
        (Field::IntervalMs, Setting::OptInt(v)) => c.interval_ms = v,
        (Field::InitialState, Setting::Target(v)) => c.initial_state = v,
        other => panic!("model: unexpected setting {other:?}"),
    }
}

/// The built-in defaults, as PROTOCOL §3 and §7 list them.
fn builtin() -> Config {
    Config {
        failure_threshold: 5,
        open_timeout_ms: 5000,
        half_open_max_calls: 1,
        success_threshold: 1,
        window: Window::Consecutive,
        slow_call_ms: None,
        slow_call_rate: Milli(100_000),
        probe_timeout_ms: 10_000,
        backoff: Backoff {
            multiplier: Milli(1000),
            max_open_ms: 300_000,
            jitter: Milli(0),
        },
        max_services: 100_000,
        metrics_only: false,
        half_open_max_ms: None,
        half_open_expiry: StateName::Open,
        half_open_budget: HalfOpenBudget::InFlight,
        half_open_failure_rate: None,
        interval_ms: None,
        initial_state: StateName::Closed,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MState {
    Closed,
    /// `until` in u128: the model's deadlines never saturate, even past the end of the clock.
    Open {
        since: u64,
        until: u128,
    },
    HalfOpen {
        since: u64,
        successes: u64,
    },
}

impl MState {
    fn name(self) -> StateName {
        match self {
            MState::Closed => StateName::Closed,
            MState::Open { .. } => StateName::Open,
            MState::HalfOpen { .. } => StateName::HalfOpen,
        }
    }
}

/// A call as a window sees it.
#[derive(Clone, Copy, Debug)]
struct Entry {
    at: u64,
    failed: bool,
    slow: bool,
    /// Identical calls at the same time (a burst), so a long burst is one entry.
    count: u64,
}

/// The calls of a closed breaker's window, for the window config it was started under.
#[derive(Clone, Debug)]
struct MWindow {
    built_for: Window,
    entries: Vec<Entry>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    calls: u64,
    failures: u64,
    slow: u64,
}

impl MWindow {
    /// Drops what has left the window at `now`: for a count window the calls beyond the last
    /// `size`; for a time window the calls whose bucket ended `size_ms` or more ago.
    fn prune(&mut self, now: u64) {
        match self.built_for {
            Window::Consecutive => unreachable!(),
            Window::Count { size, .. } => {
                let total: u64 = self.entries.iter().map(|e| e.count).sum();
                let mut excess = total.saturating_sub(size);
                while excess > 0 {
                    let first = &mut self.entries[0];
                    let k = first.count.min(excess);
                    first.count -= k;
                    excess -= k;
                    if first.count == 0 {
                        self.entries.remove(0);
                    }
                }
            }
            Window::Time { size_ms, .. } => {
                let width = u128::from((size_ms / 10).max(1));
                self.entries.retain(|e| {
                    (u128::from(e.at) / width + 1) * width + u128::from(size_ms) > u128::from(now)
                });
            }
        }
    }

    fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for e in &self.entries {
            t.calls += e.count;
            t.failures += if e.failed { e.count } else { 0 };
            t.slow += if e.slow { e.count } else { 0 };
        }
        t
    }
}

/// Whether `tally` opens a breaker configured with `c`, and why (§7: failure rate first, then
/// the slow rate when slow-call detection is on).
fn verdict(c: &Config, t: Tally) -> Option<Reason> {
    let (span, minimum, rate) = match c.window {
        Window::Consecutive => return None,
        // README: a minimum above the size counts as the size.
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
    if t.calls == 0 || t.calls < minimum {
        return None;
    }
    // bad / calls ≥ rate%, rates in thousandths of a percent.
    let reaches =
        |bad: u64, r: Milli| u128::from(bad) * 100_000 >= u128::from(r.0) * u128::from(t.calls);
    if reaches(t.failures, rate) {
        return Some(Reason::Rate {
            slow: false,
            span,
            bad: t.failures,
            calls: t.calls,
            threshold: rate,
        });
    }
    if c.slow_call_ms.is_some() && reaches(t.slow, c.slow_call_rate) {
        return Some(Reason::Rate {
            slow: true,
            span,
            bad: t.slow,
            calls: t.calls,
            threshold: c.slow_call_rate,
        });
    }
    None
}

#[derive(Clone, Debug)]
struct MBreaker {
    state: MState,
    forced: Option<Forced>,
    /// Consecutive failures.
    failures: u64,
    /// Re-opens from half_open since the breaker last closed.
    trips: u64,
    counts: Counts,
    /// (permit, acquired at), oldest first.
    leases: Vec<(u64, u64)>,
    window: Option<MWindow>,
    /// Probes admitted in this half_open period.
    admitted: u64,
    /// Trial calls recorded in this half_open period: (calls, failed, slow).
    trial: (u64, u64, u64),
    /// The start of the `interval_ms` cycle the closed counts belong to.
    cycle: Option<u64>,
    /// Holders of an isolation.
    isolations: u64,
    /// The last failure recorded with a text since it last closed (Polly's `LastException`).
    last_failure: Option<LastFailure>,
    /// This service's transitions, in order.
    log: Vec<Transition>,
}

impl MBreaker {
    fn new() -> MBreaker {
        MBreaker {
            state: MState::Closed,
            forced: None,
            failures: 0,
            trips: 0,
            counts: Counts::default(),
            leases: Vec::new(),
            window: None,
            admitted: 0,
            trial: (0, 0, 0),
            cycle: None,
            isolations: 0,
            last_failure: None,
            log: Vec::new(),
        }
    }

    /// Every state change: outstanding permits go stale and the window starts over.
    fn enter(&mut self, to: MState, at: u64, reason: Reason) {
        let from = self.state.name();
        self.state = to;
        self.leases.clear();
        self.window = None;
        self.admitted = 0;
        self.trial = (0, 0, 0);
        self.cycle = None;
        match to.name() {
            StateName::Closed => {
                self.failures = 0;
                self.trips = 0;
                self.last_failure = None;
            }
            StateName::Open if from != StateName::Open => self.counts.opened += 1,
            _ => {}
        }
        if from != to.name() {
            self.log.push(Transition {
                from,
                to: to.name(),
                at,
                reason,
            });
        }
    }

    /// The open period: `open_timeout_ms`, and with a backoff, grown by the multiplier once per
    /// re-open since the last close and capped at `max_open_ms` (the first period included).
    fn period(&self, c: &Config) -> u64 {
        let b = c.backoff;
        assert_eq!(b.jitter, Milli(0), "the model has no jitter");
        if b.multiplier == Milli(1000) {
            return c.open_timeout_ms;
        }
        let mut p = u128::from(c.open_timeout_ms.min(b.max_open_ms));
        for _ in 0..self.trips {
            p = (p * u128::from(b.multiplier.0) / 1000).min(u128::from(b.max_open_ms));
        }
        (p as u64).max(1)
    }

    fn open(&mut self, c: &Config, at: u64, reason: Reason) {
        if self.state.name() == StateName::HalfOpen {
            self.trips += 1;
        }
        let until = u128::from(at) + u128::from(self.period(c));
        self.enter(MState::Open { since: at, until }, at, reason);
    }

    /// The timed transitions due at `now`, each dated at its deadline.
    fn settle(&mut self, c: &Config, now: u64) {
        if self.forced.is_some() {
            return;
        }
        self.clear_cycles(c, now);
        self.settle_deadlines(c, now);
        // A timed close starts the cycle of `now` at once.
        self.clear_cycles(c, now);
    }

    /// Fixed intervals: cycle n is [n·interval, (n+1)·interval); a later cycle than the
    /// counts' clears them (consecutive failures, window, permits).
    fn clear_cycles(&mut self, c: &Config, now: u64) {
        if let (Some(ms), MState::Closed) = (c.interval_ms, self.state) {
            // Kept as the cycle's start time, so a changed interval compares correctly.
            // A cycle that began after the counts' own clears them; the counts' cycle is never
            // moved back (a longer interval does not make them older).
            let n = now / ms * ms;
            if self.cycle.is_some_and(|k| k < n) {
                self.failures = 0;
                self.window = None;
                self.leases.clear();
            }
            self.cycle = Some(self.cycle.map_or(n, |k| k.max(n)));
        }
    }

    /// Open periods, probe leases and the half_open limit that ran out by `now`.
    fn settle_deadlines(&mut self, c: &Config, now: u64) {
        loop {
            match self.state {
                MState::Open { since, until } if u128::from(now) >= until => self.enter(
                    MState::HalfOpen {
                        since: until as u64,
                        successes: 0,
                    },
                    until as u64,
                    Reason::OpenTimeoutElapsed {
                        ms: (until - u128::from(since)) as u64,
                    },
                ),
                MState::HalfOpen { since, .. } => {
                    // The earlier of the oldest lease's expiry and the half_open limit; on a
                    // tie the lost probe first.
                    let lease = self.leases.iter().map(|l| l.1).min();
                    let lease = lease.map(|at| u128::from(at) + u128::from(c.probe_timeout_ms));
                    let limit = c
                        .half_open_max_ms
                        .map(|ms| u128::from(since) + u128::from(ms));
                    let first = match (lease, limit) {
                        (Some(l), Some(h)) => l.min(h),
                        (l, h) => l.or(h).unwrap_or(u128::MAX),
                    };
                    if u128::from(now) < first {
                        break;
                    }
                    if lease != Some(first) {
                        let ms = c.half_open_max_ms.unwrap();
                        let reason = Reason::HalfOpenLimit { ms };
                        match c.half_open_expiry {
                            StateName::Closed => self.enter(MState::Closed, first as u64, reason),
                            _ => self.open(c, first as u64, reason),
                        }
                        continue;
                    }
                    let deadline = first as u64;
                    // A lost probe is a failed probe.
                    self.failures += 1;
                    self.counts.failures += 1;
                    self.open(
                        c,
                        deadline,
                        Reason::ProbeLeaseExpired {
                            ms: c.probe_timeout_ms,
                        },
                    );
                }
                _ => break,
            }
        }
    }

    fn retry_after(&self, c: &Config, now: u64) -> Option<u64> {
        if self.forced.is_some() {
            return None;
        }
        match self.state {
            MState::Open { until, .. } => Some((until - u128::from(now)) as u64),
            MState::HalfOpen { since, .. } if self.slots_full(c) => {
                let oldest = self.leases.iter().map(|l| l.1).min().unwrap();
                let mut next = u128::from(oldest) + u128::from(c.probe_timeout_ms);
                if let Some(ms) = c.half_open_max_ms {
                    next = next.min(u128::from(since) + u128::from(ms));
                }
                Some((next - u128::from(now)) as u64)
            }
            _ => None,
        }
    }

    fn slots_full(&self, c: &Config) -> bool {
        match c.half_open_budget {
            HalfOpenBudget::InFlight if c.half_open_failure_rate.is_none() => {
                self.leases.len() as u64 >= c.half_open_max_calls
            }
            // Never stuck: with no probe outstanding there is a slot.
            // Never more in flight than the budget either (after a config change mid-period).
            _ => {
                self.admitted.max(self.leases.len() as u64) >= c.half_open_max_calls
                    && !self.leases.is_empty()
            }
        }
    }

    /// A trial call of a half_open judged by rate; the verdict once all are in.
    fn trial(&mut self, c: &Config, now: u64, failed: bool, slow: bool) {
        if failed {
            self.failures += 1;
            self.counts.failures += 1;
        } else {
            self.failures = 0;
            self.counts.successes += 1;
        }
        let (calls, f, s) = self.trial;
        let (calls, f, s) = (calls + 1, f + u64::from(failed), s + u64::from(slow));
        self.trial = (calls, f, s);
        if calls < c.half_open_max_calls {
            return;
        }
        // As exact fractions: bad / calls ≥ rate / 100 000 (rates in thousandths of a percent).
        let reaches = |n: u64, r: Milli| n as u128 * 100_000 >= r.0 as u128 * calls as u128;
        let rate = c.half_open_failure_rate.unwrap();
        if reaches(f, rate) {
            let reason = Reason::TrialFailed {
                slow: false,
                bad: f,
                calls,
                threshold: rate,
            };
            self.open(c, now, reason);
        } else if c.slow_call_ms.is_some() && reaches(s, c.slow_call_rate) {
            let threshold = c.slow_call_rate;
            self.open(
                c,
                now,
                Reason::TrialFailed {
                    slow: true,
                    bad: s,
                    calls,
                    threshold,
                },
            );
        } else {
            let reason = Reason::TrialPassed {
                failures: f,
                slow: s,
                calls,
            };
            self.enter(MState::Closed, now, reason);
        }
    }

    /// Successful probes that close it: a per-period budget caps the threshold.
    fn threshold(c: &Config) -> u64 {
        match c.half_open_budget {
            HalfOpenBudget::InFlight => c.success_threshold,
            HalfOpenBudget::Period => c.success_threshold.min(c.half_open_max_calls),
        }
    }

    fn view(&self, c: &Config, now: u64) -> View {
        View {
            state: self.state.name(),
            forced: self.forced,
            failures: self.failures,
            counts: self.counts,
            // `status` gives retry_after_ms while open only (PROTOCOL §4).
            retry_after_ms: if self.state.name() == StateName::Open {
                self.retry_after(c, now)
            } else {
                None
            },
            figures: self.figures(c, now),
            last_failure: self.last_failure.clone(),
        }
    }

    /// What the deciding policy sees (PROTOCOL, `status`): the window's tally while closed, the
    /// probes while half_open, the deadline while open.
    fn figures(&self, c: &Config, now: u64) -> Figures {
        match self.state {
            MState::Open { until, .. } => Figures::Open {
                until: u64::try_from(until).ok().filter(|_| self.forced.is_none()),
            },
            MState::HalfOpen { successes, .. } => Figures::HalfOpen {
                in_flight: self.leases.len() as u64,
                max_calls: c.half_open_max_calls,
                successes,
                threshold: c.success_threshold,
            },
            MState::Closed if c.window == Window::Consecutive => Figures::Consecutive {
                failures: self.failures,
                threshold: c.failure_threshold,
            },
            MState::Closed => {
                let t = match &self.window {
                    Some(w) if w.built_for == c.window => {
                        let mut w = w.clone();
                        w.prune(now);
                        w.tally()
                    }
                    _ => Tally::default(),
                };
                Figures::Window {
                    window: c.window,
                    tally: breaker_wasm::breaker::Tally {
                        calls: t.calls,
                        failures: t.failures,
                        slow: t.slow,
                    },
                    slow_call_rate: c.slow_call_rate,
                }
            }
        }
    }

    /// The window for `c`, started over when the window config changed since it was started.
    fn window_for(&mut self, c: &Config) -> &mut MWindow {
        if self.window.as_ref().is_none_or(|w| w.built_for != c.window) {
            self.window = Some(MWindow {
                built_for: c.window,
                entries: Vec::new(),
            });
        }
        self.window.as_mut().unwrap()
    }

    /// `count` identical calls in closed. Returns the failures that opened it, if it opened;
    /// only the last of the calls can open it (the caller finds how many get through).
    fn closed_outcome(
        &mut self,
        c: &Config,
        now: u64,
        failed: bool,
        slow: bool,
        count: u64,
    ) -> Option<u64> {
        if c.window == Window::Consecutive {
            // Under the consecutive policy a slow call is a failure.
            if !(failed || slow) {
                self.failures = 0;
                self.counts.successes += count;
                return None;
            }
            self.failures += count;
            self.counts.failures += count;
            if self.failures < c.failure_threshold {
                return None;
            }
            let failures = self.failures;
            self.open(
                c,
                now,
                Reason::ConsecutiveFailures {
                    failures,
                    threshold: c.failure_threshold,
                },
            );
            return Some(failures);
        }
        if failed {
            self.failures += count;
            self.counts.failures += count;
        } else {
            self.failures = 0;
            self.counts.successes += count;
        }
        let w = self.window_for(c);
        w.entries.push(Entry {
            at: now,
            failed,
            slow,
            count,
        });
        w.prune(now);
        let t = w.tally();
        let reason = verdict(c, t)?;
        self.open(c, now, reason);
        Some(t.failures)
    }

    /// Of `tries` failed attempts in closed, how many reach the downstream: up to and including
    /// the one that opens the breaker (each attempt goes through the breaker like a real call).
    fn attempts_until_open(&mut self, c: &Config, now: u64, slow: bool, tries: u64) -> u64 {
        match c.window {
            Window::Consecutive => {
                // Attempt k gives failures + k consecutive failures.
                for k in 1..=tries {
                    if self.failures + k >= c.failure_threshold {
                        return k;
                    }
                }
                tries
            }
            Window::Count { .. } | Window::Time { .. } => {
                let mut trial = self.window_for(c).clone();
                trial.prune(now);
                let base = trial.tally();
                let after = |k: u64| Tally {
                    calls: base.calls + k,
                    failures: base.failures + k,
                    slow: base.slow + if slow { k } else { 0 },
                };
                if let Window::Count { size, .. } = c.window {
                    // One attempt at a time, the oldest calls leaving; after `size` failures the
                    // window is all failures, which opens it.
                    for k in 1..=tries.min(size) {
                        trial.entries.push(Entry {
                            at: now,
                            failed: true,
                            slow,
                            count: 1,
                        });
                        trial.prune(now);
                        if verdict(c, trial.tally()).is_some() {
                            return k;
                        }
                    }
                    return tries.min(size);
                }
                // A time window keeps every attempt of the burst (same time): one at a time.
                const SCAN: u64 = 200_000;
                for k in 1..=tries.min(SCAN) {
                    if verdict(c, after(k)).is_some() {
                        return k;
                    }
                }
                if tries <= SCAN {
                    return tries;
                }
                // Past SCAN the slow rate of fast failures can no longer be reached (it falls with
                // every attempt, and the generator's windows hold far fewer calls), and the rest
                // of the verdict only becomes true as attempts are added: search for the first.
                if !slow && c.slow_call_ms.is_some() {
                    assert!(
                        u128::from(base.slow) * 100_000
                            < u128::from(c.slow_call_rate.0) * u128::from(base.calls + SCAN)
                    );
                }
                if verdict(c, after(tries)).is_none() {
                    return tries;
                }
                let (mut lo, mut hi) = (SCAN + 1, tries);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    if verdict(c, after(mid)).is_some() {
                        hi = mid;
                    } else {
                        lo = mid + 1;
                    }
                }
                lo
            }
        }
    }

    fn probe_succeeded(&mut self, c: &Config, now: u64) -> bool {
        let MState::HalfOpen { since, successes } = self.state else {
            unreachable!()
        };
        self.failures = 0;
        self.counts.successes += 1;
        let successes = successes + 1;
        if successes < MBreaker::threshold(c) {
            self.state = MState::HalfOpen { since, successes };
            return false;
        }
        self.enter(
            MState::Closed,
            now,
            Reason::ProbesSucceeded {
                successes,
                threshold: MBreaker::threshold(c),
            },
        );
        true
    }

    /// A failed probe, or a slow one (README: a slow probe counts as a failed probe; in the
    /// counts it is a success that took too long).
    fn probe_failed(&mut self, c: &Config, now: u64, failed: bool) {
        if failed {
            self.failures += 1;
            self.counts.failures += 1;
        } else {
            self.counts.successes += 1;
        }
        self.open(
            c,
            now,
            if failed {
                Reason::ProbeFailed
            } else {
                Reason::SlowProbe
            },
        );
    }
}

fn is_slow(c: &Config, duration: Option<u64>) -> bool {
    matches!((c.slow_call_ms, duration), (Some(limit), Some(d)) if d >= limit)
}

/// When the model applies the timed transitions that are due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// PROTOCOL §2: "on the first input of any kind at or after the deadline", under the config
    /// in force until then.
    AnyInput,
    /// What the core does (README, "Choices"): a breaker settles when a message acts on it
    /// (`call`, `acquire`, `record`, and `force`, `reset` and `configure` naming it), every
    /// breaker on `events` and on `force`, `reset` and `configure` without a service; `status`
    /// shows a settled copy.
    Core,
}

struct Model {
    rule: Rule,
    defaults: Layer,
    overrides: BTreeMap<usize, Layer>,
    breakers: BTreeMap<usize, MBreaker>,
    last_permit: u64,
}

impl Model {
    fn new(rule: Rule) -> Model {
        Model {
            rule,
            defaults: Vec::new(),
            overrides: BTreeMap::new(),
            breakers: BTreeMap::new(),
            last_permit: 0,
        }
    }

    fn defaults(&self) -> Config {
        let mut c = builtin();
        for &(f, v) in &self.defaults {
            write_field(&mut c, f, v);
        }
        c
    }

    fn config(&self, svc: usize) -> Config {
        let mut c = self.defaults();
        for &(f, v) in self.overrides.get(&svc).into_iter().flatten() {
            write_field(&mut c, f, v);
        }
        c
    }

    /// Time transitions happen on the first input of any kind at or after their deadline, under
    /// the config in force until then.
    fn settle_all(&mut self, now: u64) {
        let configs: Vec<(usize, Config)> =
            self.breakers.keys().map(|&s| (s, self.config(s))).collect();
        for (s, c) in configs {
            self.breakers.get_mut(&s).unwrap().settle(&c, now);
        }
    }

    /// Settles `svc`'s breaker (under [`Rule::Core`], where only touched breakers settle).
    fn touch(&mut self, svc: usize, now: u64) {
        let c = self.config(svc);
        if let Some(b) = self.breakers.get_mut(&svc) {
            b.settle(&c, now);
        }
    }

    /// A breaker created by traffic or an operator starts in `initial_state`.
    fn create(&mut self, svc: usize, now: u64) {
        if self.breakers.contains_key(&svc) {
            return;
        }
        let c = self.config(svc);
        let b = self.breaker(svc);
        let to = match c.initial_state {
            StateName::Closed => return,
            StateName::Open => MState::Open {
                since: now,
                until: u128::from(now) + u128::from(b.period(&c)),
            },
            StateName::HalfOpen => MState::HalfOpen {
                since: now,
                successes: 0,
            },
        };
        b.enter(to, now, Reason::Initial);
    }

    fn breaker(&mut self, svc: usize) -> &mut MBreaker {
        self.breakers.entry(svc).or_insert_with(MBreaker::new)
    }

    fn step(&mut self, now: u64, op: &Op, permit: u64) -> Reply<'static> {
        match (self.rule, op) {
            (Rule::AnyInput, _)
            | (
                Rule::Core,
                Op::Events
                | Op::Force { svc: None, .. }
                | Op::Reset { svc: None }
                | Op::Configure { svc: None, .. },
            ) => self.settle_all(now),
            // These create the breaker, which is settled (a fresh one only starts its cycle).
            (
                Rule::Core,
                &Op::Call { svc, .. }
                | &Op::Acquire { svc }
                | &Op::Force { svc: Some(svc), .. }
                | &Op::Isolate {
                    svc,
                    release: false,
                }
                | &Op::Transition { svc, .. },
            ) => {
                self.create(svc, now);
                self.touch(svc, now)
            }
            (
                Rule::Core,
                &Op::Record { svc, .. }
                | &Op::Reset { svc: Some(svc) }
                | &Op::Configure { svc: Some(svc), .. },
            ) => self.touch(svc, now),
            (Rule::Core, _) => {}
        }
        match *op {
            Op::Advance(_) | Op::SnapshotRestore(_) => unreachable!(),
            Op::Call {
                svc,
                state,
                failures,
                duration,
                error,
            } => {
                let c = self.config(svc);
                let b = self.breaker(svc);
                if let Some(state) = state {
                    b.forced = None;
                    b.isolations = 0;
                    let to = match state {
                        StateName::Closed => MState::Closed,
                        StateName::Open => MState::Open {
                            since: now,
                            until: u128::from(now) + u128::from(b.period(&c)),
                        },
                        StateName::HalfOpen => MState::HalfOpen {
                            since: now,
                            successes: 0,
                        },
                    };
                    b.enter(to, now, Reason::Fixture);
                    // The call itself settles first (a closed breaker starts its cycle).
                    b.settle(&c, now);
                }
                let counted = b.counts.failures;
                let result = call(b, &c, now, failures, duration);
                // A text is kept when the breaker counted one of the failures.
                // A failing trial call that closes the breaker leaves none.
                let closed = result == CallResult::Closed;
                if let Some(e) =
                    error.filter(|_| failures > 0 && !closed && b.counts.failures > counted)
                {
                    b.last_failure = Some(LastFailure::new(&ERRORS[e], now));
                }
                let rejected = matches!(result, CallResult::Rejected { .. });
                Reply::Call {
                    service: SERVICES[svc],
                    result,
                    last_failure: b.last_failure.clone().filter(|_| rejected),
                }
            }
            Op::Acquire { svc } => {
                let c = self.config(svc);
                let next = self.last_permit + 1;
                let b = self.breaker(svc);
                let admitted = match (b.forced, b.state) {
                    (Some(Forced::Open), _) | (None, MState::Open { .. }) => false,
                    (None, MState::HalfOpen { .. }) => !b.slots_full(&c),
                    _ => true,
                };
                // Metrics only (unless forced open): admitted with a permit nobody can record.
                let shadow = c.metrics_only && b.forced != Some(Forced::Open);
                if !admitted && shadow {
                    b.counts.rejections += 1;
                    let state = b.state.name();
                    self.last_permit = next;
                    return Reply::Acquired {
                        service: SERVICES[svc],
                        state,
                        permit: next,
                    };
                }
                if !admitted {
                    b.counts.rejections += 1;
                    let (state, retry_after_ms) = (b.state.name(), b.retry_after(&c, now));
                    return Reply::AcquireRejected {
                        service: SERVICES[svc],
                        state,
                        retry_after_ms,
                        last_failure: b.last_failure.clone(),
                    };
                }
                b.leases.push((next, now));
                let half_open = matches!(b.state, MState::HalfOpen { .. });
                if b.forced.is_none() && half_open && per_period(&c) {
                    b.admitted += 1;
                }
                let state = b.state.name();
                self.last_permit = next;
                Reply::Acquired {
                    service: SERVICES[svc],
                    state,
                    permit: next,
                }
            }
            Op::Record {
                svc,
                outcome,
                duration,
                error,
                ..
            } => {
                let service = SERVICES[svc];
                let c = self.config(svc);
                let Some(b) = self.breakers.get_mut(&svc) else {
                    return Reply::Recorded {
                        service,
                        state: StateName::Closed,
                        stale: true,
                        transition: None,
                    };
                };
                let Some(i) = b.leases.iter().position(|l| l.0 == permit) else {
                    return Reply::Recorded {
                        service,
                        state: b.state.name(),
                        stale: true,
                        transition: None,
                    };
                };
                b.leases.remove(i);
                let logged = b.log.len();
                let (failed, slow) = (outcome == Outcome::Failure, is_slow(&c, duration));
                let half_open = matches!(b.state, MState::HalfOpen { .. });
                if b.forced.is_none() && outcome == Outcome::Ignored && half_open {
                    b.admitted = b.admitted.saturating_sub(1);
                }
                if b.forced.is_none() && outcome != Outcome::Ignored {
                    match b.state {
                        MState::Closed => {
                            b.closed_outcome(&c, now, failed, slow, 1);
                        }
                        MState::HalfOpen { .. } if c.half_open_failure_rate.is_some() => {
                            b.trial(&c, now, failed, slow);
                        }
                        MState::HalfOpen { .. } if failed || slow => {
                            b.probe_failed(&c, now, failed)
                        }
                        MState::HalfOpen { .. } => {
                            b.probe_succeeded(&c, now);
                        }
                        MState::Open { .. } => unreachable!("an open breaker has no permits"),
                    }
                }
                // A failure the breaker counted keeps its text.
                let closed = b.log[logged..].iter().any(|t| t.to == StateName::Closed);
                if let Some(e) = error.filter(|_| failed && !closed && b.forced.is_none()) {
                    b.last_failure = Some(LastFailure::new(&ERRORS[e], now));
                }
                let transition = b.log[logged..].last().copied();
                Reply::Recorded {
                    service,
                    state: b.state.name(),
                    stale: false,
                    transition,
                }
            }
            Op::Configure {
                svc,
                ref set,
                ref cleared,
            } => {
                let layer = match svc {
                    Some(s) => self.overrides.entry(s).or_default(),
                    None => &mut self.defaults,
                };
                for &(f, v) in set {
                    layer_set(layer, f, Some(v));
                }
                for &f in cleared {
                    layer_set(layer, f, None);
                }
                match svc {
                    Some(s) => {
                        if self.overrides[&s].is_empty() {
                            self.overrides.remove(&s);
                        }
                        Reply::ConfigureOk {
                            service: Some(SERVICES[s]),
                            config: self.config(s),
                        }
                    }
                    None => Reply::ConfigureOk {
                        service: None,
                        config: self.defaults(),
                    },
                }
            }
            Op::Force { svc, mode } => {
                let force = |b: &mut MBreaker| {
                    b.isolations = 0;
                    let reason = Reason::Forced(mode);
                    match mode {
                        ForceMode::Open => {
                            b.forced = Some(Forced::Open);
                            b.enter(
                                MState::Open {
                                    since: now,
                                    until: u128::MAX,
                                },
                                now,
                                reason,
                            );
                        }
                        ForceMode::Closed => {
                            b.forced = Some(Forced::Closed);
                            b.enter(MState::Closed, now, reason);
                        }
                        ForceMode::Auto => {
                            b.forced = None;
                            b.counts = Counts::default();
                            b.enter(MState::Closed, now, reason);
                        }
                    }
                };
                match svc {
                    // README: force of an unknown service creates it.
                    Some(s) => {
                        let b = self.breaker(s);
                        force(b);
                        Reply::ForceOk {
                            service: Some((SERVICES[s], b.state.name())),
                            mode,
                        }
                    }
                    None => {
                        self.breakers.values_mut().for_each(force);
                        Reply::ForceOk {
                            service: None,
                            mode,
                        }
                    }
                }
            }
            Op::Isolate { svc, release } => {
                let service = SERVICES[svc];
                let Some(b) = self.breakers.get_mut(&svc) else {
                    return Reply::Refused(Refused::NotIsolated);
                };
                if release {
                    // Not settled: the last holder closes it, counts kept.
                    if b.isolations == 0 {
                        return Reply::Refused(Refused::NotIsolated);
                    }
                    b.isolations -= 1;
                    if b.isolations == 0 {
                        b.forced = None;
                        b.enter(MState::Closed, now, Reason::Released);
                    }
                } else {
                    b.isolations += 1;
                    if b.isolations == 1 {
                        b.forced = Some(Forced::Open);
                        let state = MState::Open {
                            since: now,
                            until: u128::MAX,
                        };
                        b.enter(state, now, Reason::Isolated);
                    }
                }
                Reply::IsolateOk(service, release, b.isolations)
            }
            Op::Transition { svc, to, open_ms } => {
                let c = self.config(svc);
                let b = self.breaker(svc);
                b.forced = None;
                b.isolations = 0;
                let state = match to {
                    StateName::Closed => MState::Closed,
                    StateName::Open => MState::Open {
                        since: now,
                        until: u128::from(now) + u128::from(open_ms.unwrap_or(b.period(&c))),
                    },
                    StateName::HalfOpen => MState::HalfOpen {
                        since: now,
                        successes: 0,
                    },
                };
                b.enter(state, now, Reason::Operator);
                Reply::TransitionOk {
                    service: SERVICES[svc],
                    state: to,
                }
            }
            Op::Reset { svc } => {
                let reset = |b: &mut MBreaker| {
                    b.isolations = 0;
                    b.forced = None;
                    b.counts = Counts::default();
                    b.enter(MState::Closed, now, Reason::Reset);
                };
                match svc {
                    // README: reset of an unknown service creates nothing.
                    Some(s) => self.breakers.get_mut(&s).into_iter().for_each(reset),
                    None => self.breakers.values_mut().for_each(reset),
                }
                Reply::ResetOk {
                    service: svc.map(|s| SERVICES[s]),
                }
            }
            Op::Status { svc } => {
                let c = self.config(svc);
                // What the breaker would be if it settled now; nothing changes.
                let mut b = self
                    .breakers
                    .get(&svc)
                    .cloned()
                    .unwrap_or_else(MBreaker::new);
                b.settle(&c, now);
                let view = b.view(&c, now);
                Reply::Status {
                    service: SERVICES[svc],
                    view,
                    config: c,
                }
            }
            Op::StatusAll => {
                let mut services: Vec<ServiceState> = self
                    .breakers
                    .iter()
                    .map(|(&s, b)| {
                        let mut b = b.clone();
                        let c = self.config(s);
                        b.settle(&c, now);
                        ServiceState {
                            service: SERVICES[s].into(),
                            state: b.state.name(),
                            figures: b.figures(&c, now),
                        }
                    })
                    .collect();
                services.sort_by(|a, b| a.service.cmp(&b.service));
                Reply::StatusAll {
                    services,
                    evicted: 0,
                }
            }
            Op::Events => Reply::Events(Vec::new()), // compared per service, see `compare`
        }
    }
}

/// A `call` through a settled breaker.
fn call(
    b: &mut MBreaker,
    c: &Config,
    now: u64,
    failures: u64,
    duration: Option<u64>,
) -> CallResult {
    let slow = is_slow(c, duration);
    let failed = failures > 0;
    let tries = failures.max(1);
    // Metrics only (unless forced open): a call it would reject reaches the downstream and is
    // not judged.
    let refused =
        |b: &MBreaker, state| match (c.metrics_only && b.forced != Some(Forced::Open), failed) {
            (false, _) => CallResult::Rejected { state },
            (true, false) => CallResult::Ok { state },
            (true, true) => CallResult::Failed {
                state,
                failures: b.failures,
            },
        };
    match (b.forced, b.state) {
        (Some(Forced::Open), _) | (None, MState::Open { .. }) => {
            b.counts.rejections += tries;
            refused(b, StateName::Open)
        }
        (Some(Forced::Closed), _) => {
            if failed {
                CallResult::Failed {
                    state: StateName::Closed,
                    failures: 0,
                }
            } else {
                CallResult::Ok {
                    state: StateName::Closed,
                }
            }
        }
        (None, MState::HalfOpen { .. }) if b.slots_full(c) => {
            b.counts.rejections += tries;
            refused(b, StateName::HalfOpen)
        }
        (None, MState::HalfOpen { .. }) if c.half_open_failure_rate.is_some() => {
            // One trial per call; further attempts are rejected.
            if per_period(c) {
                b.admitted += 1;
            }
            b.counts.rejections += tries - 1;
            let failures = b.trial.1 + u64::from(failed);
            let before = b.log.len();
            b.trial(c, now, failed, slow);
            match b.log[before..].last() {
                Some(t) if t.to == StateName::Closed => CallResult::Closed,
                Some(_) => CallResult::Opened {
                    failures,
                    rejected: tries - 1,
                },
                None if failed => CallResult::Failed {
                    state: StateName::HalfOpen,
                    failures: b.failures,
                },
                None => CallResult::Ok {
                    state: StateName::HalfOpen,
                },
            }
        }
        (None, MState::HalfOpen { .. }) => {
            if per_period(c) {
                b.admitted += 1;
            }
            if !failed && !slow {
                return if b.probe_succeeded(c, now) {
                    CallResult::Closed
                } else {
                    CallResult::Ok {
                        state: StateName::HalfOpen,
                    }
                };
            }
            // The first attempt is the probe; it re-opens the breaker, the rest are rejected.
            b.probe_failed(c, now, failed);
            b.counts.rejections += tries - 1;
            CallResult::Opened {
                failures: 1,
                rejected: tries - 1,
            }
        }
        (None, MState::Closed) => {
            let taken = if failed {
                b.attempts_until_open(c, now, slow, tries)
            } else {
                1
            };
            match b.closed_outcome(c, now, failed, slow, taken) {
                Some(f) => {
                    b.counts.rejections += tries - taken;
                    CallResult::Opened {
                        failures: f,
                        rejected: tries - taken,
                    }
                }
                None if failed || (slow && c.window == Window::Consecutive) => CallResult::Failed {
                    state: StateName::Closed,
                    failures: b.failures,
                },
                None => CallResult::Ok {
                    state: StateName::Closed,
                },
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Driving the node
// ---------------------------------------------------------------------------------------------

fn change(set: &[(Field, Setting)], cleared: &[Field]) -> ConfigChange {
    let mut patch = Patch::default();
    for &(f, v) in set {
        patch.set(f, Some(v));
    }
    ConfigChange {
        set: patch,
        cleared: cleared.to_vec(),
    }
}

fn permit_of(pick: &PermitPick, issued: &[u64]) -> u64 {
    match pick {
        PermitPick::Issued(i) if !issued.is_empty() => issued[i.index(issued.len())],
        _ => 1 << 40,
    }
}

/// The request for `op` (not `Advance` or `SnapshotRestore`).
fn request(op: &Op, permit: u64) -> Request<'static> {
    let name = |s: Option<usize>| s.map(|s| SERVICES[s]);
    match *op {
        Op::Call {
            svc,
            state,
            failures,
            duration,
            error,
        } => Request::Call {
            service: SERVICES[svc],
            fixture: CallFixture {
                state,
                attempts: if failures == 0 {
                    Attempts::Success
                } else {
                    Attempts::Failures(failures)
                },
                duration_ms: duration,
                uses_fixtures: true,
            },
            error: error.map(|e| Cow::Borrowed(ERRORS[e].as_str())),
        },
        Op::Acquire { svc } => Request::Acquire {
            service: SERVICES[svc],
        },
        Op::Record {
            svc,
            outcome,
            duration,
            error,
            ..
        } => Request::Record {
            service: SERVICES[svc],
            permit,
            outcome,
            duration_ms: duration,
            error: error.map(|e| Cow::Borrowed(ERRORS[e].as_str())),
        },
        Op::Configure {
            svc,
            ref set,
            ref cleared,
        } => Request::Configure {
            service: name(svc),
            change: change(set, cleared),
        },
        Op::Force { svc, mode } => Request::Force {
            service: name(svc),
            mode,
        },
        Op::Reset { svc } => Request::Reset { service: name(svc) },
        Op::Isolate { svc, release } => Request::Isolate {
            service: SERVICES[svc],
            release,
        },
        Op::Transition { svc, to, open_ms } => Request::Transition {
            service: SERVICES[svc],
            to,
            open: open_ms.map(OpenFor::Ms),
        },
        Op::Status { svc } => Request::Status {
            service: Some(SERVICES[svc]),
        },
        Op::StatusAll => Request::Status { service: None },
        Op::Events => Request::Events {
            service: None,
            after: 0,
            settle: true,
        },
        Op::Advance(_) | Op::SnapshotRestore(_) => unreachable!(),
    }
}

/// The image of `node` taken as `how` says (the `snapshot` request settles the node first).
fn take_snapshot(node: &mut Node, now: u64, how: How) -> Result<Image, TestCaseError> {
    match how {
        How::Typed => Ok(node.snapshot()),
        How::Request | How::Json => {
            let Reply::SnapshotOk(image) = node.handle(now, &Request::Snapshot) else {
                return Err(TestCaseError::fail("snapshot did not answer snapshot_ok"));
            };
            if let How::Json = how {
                let text = to_json(&image);
                let back = snapshot::from_json(&text).map_err(TestCaseError::fail)?;
                // (A count window's ring may start elsewhere: compare what is written.)
                prop_assert_eq!(
                    to_json(&back),
                    text,
                    "the JSON snapshot reads back as it was written"
                );
                return Ok(back);
            }
            Ok(*image)
        }
    }
}

fn to_json(image: &Image) -> String {
    String::from_utf8(snapshot::to_json(image)).unwrap()
}

/// A fresh node restored from `image` at `now`.
fn restored(image: Image, now: u64) -> Result<Node, TestCaseError> {
    let mut fresh = Node::new(Options::default());
    let n = image.breakers.len();
    let reply = fresh.handle(now, &Request::Restore(Box::new(image)));
    prop_assert_eq!(reply, Reply::RestoreOk { services: n });
    Ok(fresh)
}

/// Per service, its transitions in order (the order across services depends on when each
/// breaker was touched, which the protocol leaves open).
fn per_service(events: &[Event]) -> BTreeMap<String, Vec<Transition>> {
    let mut out: BTreeMap<String, Vec<Transition>> = BTreeMap::new();
    for e in events {
        out.entry(e.service.to_string())
            .or_default()
            .push(Transition {
                from: e.from,
                to: e.to,
                at: e.at,
                reason: e.reason,
            });
    }
    out
}

/// Checks the invariants on the node itself after a traffic step.
fn check_invariants(
    node: &Node,
    now: u64,
    op: &Op,
    before: &Image,
    got: &Reply,
) -> Result<(), TestCaseError> {
    let after = node.snapshot();
    // An open breaker admits nothing before its deadline.
    let svc = match *op {
        Op::Call {
            svc, state: None, ..
        }
        | Op::Acquire { svc } => Some(svc),
        _ => None,
    };
    if let Some(svc) = svc {
        let saved = before.breakers.iter().find(|b| &*b.name == SERVICES[svc]);
        let open_until = saved.and_then(|b| match b.parts.state {
            breaker_wasm::breaker::State::Open { since, period } if b.parts.forced.is_none() => {
                Some(u128::from(since) + u128::from(period))
            }
            _ => None,
        });
        if open_until.is_some_and(|until| u128::from(now) < until) {
            // Metrics only admits it, in the open state, unjudged.
            let rejected = matches!(
                got,
                Reply::Call {
                    result: CallResult::Rejected { .. },
                    ..
                } | Reply::AcquireRejected { .. }
            ) || (node.config_for(SERVICES[svc]).metrics_only
                && matches!(
                    got,
                    Reply::Call {
                        result: CallResult::Ok {
                            state: StateName::Open
                        } | CallResult::Failed {
                            state: StateName::Open,
                            ..
                        },
                        ..
                    } | Reply::Acquired {
                        state: StateName::Open,
                        ..
                    }
                ));
            prop_assert!(
                rejected,
                "an open breaker admitted {op:?} before its deadline: {got:?}"
            );
        }
    }
    // Never more than half_open_max_calls probes in flight.
    if let Reply::Acquired {
        service,
        state: StateName::HalfOpen,
        ..
    } = got
    {
        let saved = after
            .breakers
            .iter()
            .find(|b| &*b.name == *service)
            .unwrap();
        let config = node.config_for(service);
        let max = config.half_open_max_calls;
        // Metrics only admits a call it would refuse without a lease: no probe added.
        prop_assert!(
            config.metrics_only || saved.parts.leases.len() as u64 <= max,
            "{} probes in flight, at most {max}",
            saved.parts.leases.len()
        );
    }
    // A half_open breaker leaves half_open within probe_timeout_ms of a lease: settled at `now`,
    // no breaker is half_open with a lease that old.
    for saved in &after.breakers {
        let config = node.config_for(&saved.name);
        let mut b = Breaker::from_parts(&saved.name, saved.parts.clone());
        b.settle(&config, now, &mut Vec::new());
        if matches!(b.state(), breaker_wasm::breaker::State::HalfOpen { .. })
            && b.forced().is_none()
        {
            for lease in b.leases() {
                prop_assert!(
                    u128::from(lease.at) + u128::from(config.probe_timeout_ms) > u128::from(now),
                    "{} is half_open at {now} with a lease from {} (probe_timeout_ms {})",
                    saved.name,
                    lease.at,
                    config.probe_timeout_ms
                );
            }
        }
    }
    Ok(())
}

/// Runs `ops` on a node and on the model; every reply must be the same.
/// `start` is the clock at the first op: 0, or near the end of the clock (`u64::MAX`), where
/// every deadline may lie past the end and must not be cut short.
fn run_against_model(ops: &[Op], rule: Rule, start: u64) -> Result<(), TestCaseError> {
    let mut node = Node::new(Options::default());
    let mut model = Model::new(rule);
    let mut issued: Vec<u64> = Vec::new();
    let mut now = start;
    for (i, op) in ops.iter().enumerate() {
        match *op {
            Op::Advance(ms) => {
                // The clock stops at its end: inputs keep arriving at u64::MAX.
                now = now.saturating_add(ms);
                continue;
            }
            Op::SnapshotRestore(how) => {
                let image = take_snapshot(&mut node, now, how)?;
                node = restored(image, now)?;
                continue;
            }
            _ => {}
        }
        let permit = match op {
            Op::Record { permit, .. } => permit_of(permit, &issued),
            _ => 0,
        };
        let before = node.snapshot();
        let got = node.handle(now, &request(op, permit));
        let want = model.step(now, op, permit);
        if let Op::Events = op {
            let Reply::Events(events) = &got else {
                return Err(TestCaseError::fail(format!("step {i}: {got:?}")));
            };
            let want: BTreeMap<String, Vec<Transition>> = model
                .breakers
                .iter()
                .filter(|(_, b)| !b.log.is_empty())
                .map(|(&s, b)| (SERVICES[s].to_string(), b.log.clone()))
                .collect();
            prop_assert_eq!(
                per_service(events),
                want,
                "step {} at {} ms: {:?}",
                i,
                now,
                op
            );
            prop_assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
        } else {
            prop_assert_eq!(&got, &want, "step {} at {} ms: {:?}", i, now, op);
        }
        if let Reply::Acquired { permit, .. } = got {
            issued.push(permit);
        }
        check_invariants(&node, now, op, &before, &got)?;
    }
    Ok(())
}

/// Runs `ops` on one node; at step `split` its snapshot is restored into a fresh node, and the
/// rest runs on both: every later reply must be the same.
fn run_snapshot_restore(ops: &[Op], split: Index, how: How) -> Result<(), TestCaseError> {
    let split = split.index(ops.len() + 1);
    let mut a = Node::new(Options::default());
    let mut b: Option<Node> = None;
    let mut issued: Vec<u64> = Vec::new();
    let mut now = 0u64;
    for (i, op) in ops.iter().enumerate() {
        if i == split {
            let image = take_snapshot(&mut a, now, how)?;
            b = Some(restored(image, now)?);
        }
        match *op {
            Op::Advance(ms) => {
                now += ms;
                continue;
            }
            // The one restore of this property is at `split`.
            Op::SnapshotRestore(_) => continue,
            _ => {}
        }
        let permit = match op {
            Op::Record { permit, .. } => permit_of(permit, &issued),
            _ => 0,
        };
        let request = request(op, permit);
        let got = a.handle(now, &request);
        if let Some(b) = b.as_mut() {
            let again = b.handle(now, &request);
            prop_assert_eq!(
                &again,
                &got,
                "step {} at {} ms after a restore at step {}: {:?}",
                i,
                now,
                split,
                op
            );
        }
        if let Reply::Acquired { permit, .. } = got {
            issued.push(permit);
        }
    }
    if let Some(mut b) = b {
        // Both at the final time (a status changes nothing else).
        let status = Request::Status {
            service: Some(SERVICES[0]),
        };
        prop_assert_eq!(b.handle(now, &status), a.handle(now, &status));
        prop_assert_eq!(
            to_json(&b.snapshot()),
            to_json(&a.snapshot()),
            "the restored node ends in the same state"
        );
    }
    Ok(())
}

fn config(default_cases: u32) -> ProptestConfig {
    // PROPTEST_CASES, when set, wins over the default here.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    // No regression files are written into the project: a failure prints its minimal input.
    ProptestConfig {
        cases,
        max_shrink_iters: 20_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Every reply of the node equals the model's, and the invariants hold after every step.
    #[test]
    fn node_matches_the_reference_model(ops in ops(60)) {
        run_against_model(&ops, Rule::Core, 0)?;
    }

    /// The same, starting close to the end of the clock: open periods, probe leases and window
    /// buckets that end past `u64::MAX` never end, and none is cut short.
    #[test]
    fn node_matches_the_reference_model_at_the_end_of_the_clock(
        ops in ops(60),
        left in 0u64..600,
    ) {
        run_against_model(&ops, Rule::Core, u64::MAX - left)?;
    }

    /// The model that settles every breaker on any input (PROTOCOL §2 read literally). Fails
    /// today: see the ignored regression tests below.
    #[test]
    #[ignore = "the node settles a breaker when a message acts on it, not on every input (README, Choices); this literal reading of PROTOCOL §2 orders events differently"]
    fn node_matches_the_protocol_model(ops in ops(60)) {
        run_against_model(&ops, Rule::AnyInput, 0)?;
    }

    /// Restoring a snapshot into a fresh node, at any point, changes no later reply.
    #[test]
    fn snapshot_then_restore_changes_no_later_reply(
        ops in ops(60),
        split in any::<Index>(),
        how in prop_oneof![Just(How::Typed), Just(How::Request), Just(How::Json)],
    ) {
        run_snapshot_restore(&ops, split, how)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Regression tests for the divergences the model found. Ignored until the core is fixed.
// ---------------------------------------------------------------------------------------------

fn configure_defaults(node: &mut Node, now: u64, set: &[(Field, Setting)]) {
    let reply = node.handle(
        now,
        &Request::Configure {
            service: None,
            change: change(set, &[]),
        },
    );
    assert!(matches!(reply, Reply::ConfigureOk { .. }), "{reply:?}");
}

fn call_req(failures: u64, duration: Option<u64>, state: Option<StateName>) -> Request<'static> {
    request(
        &Op::Call {
            svc: 0,
            state,
            failures,
            duration,
            error: None,
        },
        0,
    )
}

fn events_of(node: &mut Node, now: u64) -> Vec<(StateName, StateName, u64, Reason)> {
    let Reply::Events(events) = node.handle(
        now,
        &Request::Events {
            service: None,
            after: 0,
            settle: true,
        },
    ) else {
        panic!()
    };
    events
        .iter()
        .map(|e| (e.from, e.to, e.at, e.reason))
        .collect()
}

/// PROTOCOL §4: each attempt of `force_failures` goes through the breaker like a real call, and
/// the attempts after it opens are rejected. A count window does that; a time window adds the
/// burst at once and searches as if the verdict could only turn true as failures are added, but
/// the slow rate falls with every fast failure.
#[test]
fn a_time_window_burst_stops_at_the_attempt_that_opens_it() {
    for window in [
        Window::Count {
            size: 1000,
            minimum_calls: 3,
            failure_rate: Milli(100_000),
        },
        Window::Time {
            size_ms: 1000,
            minimum_calls: 3,
            failure_rate: Milli(100_000),
        },
    ] {
        let mut node = Node::new(Options::default());
        configure_defaults(
            &mut node,
            0,
            &[
                (Field::Window, Setting::Window(window)),
                (Field::SlowCallMs, Setting::OptInt(Some(10))),
                (Field::SlowCallRate, Setting::Rate(Milli(50_000))),
            ],
        );
        // Two slow successes: below the minimum of 3 calls.
        for _ in 0..2 {
            let reply = node.handle(0, &call_req(0, Some(20), None));
            assert_eq!(
                reply,
                Reply::Call {
                    service: "alpha",
                    result: CallResult::Ok {
                        state: StateName::Closed
                    },
                    last_failure: None,
                }
            );
        }
        // The first failure makes 3 calls, 2 of them slow (66.7 % ≥ 50 %): it opens the breaker,
        // and the other 7 attempts are rejected.
        let reply = node.handle(0, &call_req(8, None, None));
        assert_eq!(
            reply,
            Reply::Call {
                service: "alpha",
                result: CallResult::Opened {
                    failures: 1,
                    rejected: 7
                },
                last_failure: None,
            },
            "{window:?}"
        );
    }
}

/// PROTOCOL §2: timed transitions happen on the first input of any kind at or after the
/// deadline (README: on the next input that touches the breaker). `force` and `reset` of a
/// breaker whose open period has ended act on an open breaker instead: the open → half_open
/// transition is missing from `events`, and force open logs nothing at all.
#[test]
fn force_and_reset_first_apply_the_timed_transitions_due() {
    let mut node = Node::new(Options::default());
    configure_defaults(&mut node, 0, &[(Field::OpenTimeoutMs, Setting::Int(10))]);
    node.handle(0, &call_req(5, None, None));
    node.handle(
        10,
        &Request::Force {
            service: Some("alpha"),
            mode: ForceMode::Open,
        },
    );
    let elapsed = Reason::OpenTimeoutElapsed { ms: 10 };
    assert_eq!(
        events_of(&mut node, 10),
        vec![
            (
                StateName::Closed,
                StateName::Open,
                0,
                Reason::ConsecutiveFailures {
                    failures: 5,
                    threshold: 5
                }
            ),
            (StateName::Open, StateName::HalfOpen, 10, elapsed),
            (
                StateName::HalfOpen,
                StateName::Open,
                10,
                Reason::Forced(ForceMode::Open)
            ),
        ]
    );

    let mut node = Node::new(Options::default());
    configure_defaults(&mut node, 0, &[(Field::OpenTimeoutMs, Setting::Int(10))]);
    node.handle(0, &call_req(5, None, None));
    node.handle(
        10,
        &Request::Reset {
            service: Some("alpha"),
        },
    );
    let log = events_of(&mut node, 10);
    assert_eq!(
        log[1],
        (StateName::Open, StateName::HalfOpen, 10, elapsed),
        "{log:?}"
    );
}

/// A lease that expired (the breaker re-opened, and `status` said so) must stay expired when a
/// later `configure` lengthens `probe_timeout_ms`: the configure is an input at or after the
/// deadline (PROTOCOL §2), and its new numbers apply from the next input. The core settles
/// lazily under the config of the moment, so the breaker goes back to half_open.
#[test]
fn a_configure_does_not_undo_an_expired_probe_lease() {
    let mut node = Node::new(Options::default());
    configure_defaults(
        &mut node,
        0,
        &[
            (Field::ProbeTimeoutMs, Setting::Int(10)),
            (Field::OpenTimeoutMs, Setting::Int(100)),
        ],
    );
    node.handle(0, &call_req(0, None, Some(StateName::HalfOpen)));
    node.handle(0, &call_req(5, None, None)); // closed → open at 0
    let Reply::Acquired { .. } = node.handle(100, &Request::Acquire { service: "alpha" }) else {
        panic!()
    };
    let status = Request::Status {
        service: Some("alpha"),
    };
    let Reply::Status { view, .. } = node.handle(115, &status) else {
        panic!()
    };
    assert_eq!(
        (view.state, view.retry_after_ms),
        (StateName::Open, Some(95)),
        "the lease expired at 110"
    );
    configure_defaults(
        &mut node,
        115,
        &[(Field::ProbeTimeoutMs, Setting::Int(1000))],
    );
    let Reply::Status { view, .. } = node.handle(116, &status) else {
        panic!()
    };
    assert_eq!(
        (view.state, view.retry_after_ms),
        (StateName::Open, Some(94))
    );
}

/// Whether `half_open_max_calls` is a budget per half_open period (only then are admissions
/// counted).
fn per_period(c: &Config) -> bool {
    c.half_open_budget == HalfOpenBudget::Period || c.half_open_failure_rate.is_some()
}
