//! Traffic: `call`, `acquire` and `record` on one service's breaker, created on first use.

use std::borrow::Cow;

use crate::breaker::{
    Attempts, Breaker, CallResult, Config, Outcome, Recorded, StateName, Transitions,
};

use super::registry::Registry;
use super::{CallFixture, ErrorCode, Node, Reply, Request};

/// What a breaker had counted before a decision: if the decision itself counts a failure,
/// that failure's text becomes the breaker's last failure.
#[derive(Clone, Copy)]
struct Counted(u64);

impl Counted {
    fn before(b: &Breaker) -> Counted {
        Counted(b.counts().failures)
    }

    /// Whether a `call` counted one of its failures: it opened the breaker, or failed and was
    /// judged. A call admitted unjudged under `metrics_only` counts no failure of its own; one
    /// that reports `open` was admitted unjudged even when a probe lease that ran out before it
    /// (a failure counted by the timed transitions) re-opened the breaker.
    fn call_failure(self, b: &Breaker, result: CallResult) -> bool {
        match result {
            CallResult::Opened { .. } => true,
            CallResult::Failed { state, .. } => state != StateName::Open && self.more_failures(b),
            _ => false,
        }
    }

    /// Whether a `record` counted its failure (a record that is not stale acts on a permit of
    /// the current generation, so no timed transition counted a failure before it).
    /// A failed trial call that closes the breaker (judged by rate) leaves no last failure.
    fn record_failure(self, b: &Breaker, r: &Recorded) -> bool {
        let closed = r.transition.is_some_and(|t| t.to == StateName::Closed);
        !r.stale && !closed && self.more_failures(b)
    }

    /// Whether `b` has counted a failure since.
    fn more_failures(self, b: &Breaker) -> bool {
        b.counts().failures > self.0
    }
}

impl Node {
    /// `call`, `acquire` or `record`.
    pub(super) fn traffic_request<'a>(&mut self, request: &Request<'a>) -> Reply<'a> {
        match *request {
            Request::Call {
                service,
                fixture,
                ref error,
            } => self.call(service, fixture, error.as_deref()),
            Request::Acquire { service } => self.acquire(service),
            Request::Record {
                service,
                permit,
                outcome,
                duration_ms,
                ref error,
            } => self.record(service, permit, outcome, duration_ms, error.as_deref()),
            _ => Reply::error(ErrorCode::Internal, "not a traffic request"),
        }
    }

    /// A whole call through `service`'s breaker, the downstream behaving as `fixture` says;
    /// `error` is the text of its failures.
    pub(super) fn call<'a>(
        &mut self,
        service: &'a str,
        fixture: CallFixture,
        error: Option<&str>,
    ) -> Reply<'a> {
        let now = self.now;
        let mut slow = false;
        let failing = matches!(fixture.attempts, Attempts::Failures(_));
        let gate = self.gate(service);
        let (result, last_failure) = self.traffic(service, |b, config, log| {
            // A fixture's state is as if just entered, lease and all.
            let config = match fixture.state {
                Some(state) => {
                    b.set_state(config, state, now, log);
                    Cow::Borrowed(config)
                }
                None => gate.config(b, config),
            };
            let config = &*config;
            slow = config.is_slow(fixture.duration_ms);
            let counted = Counted::before(b);
            let result = b.call(config, now, fixture.attempts, fixture.duration_ms, log);
            if let Some(e) = error.filter(|_| failing && counted.call_failure(b, result)) {
                b.note_failure(e, now);
            }
            let rejected = matches!(result, CallResult::Rejected { .. });
            (result, b.last_failure().filter(|_| rejected).cloned())
        });
        if slow {
            let attempts = match fixture.attempts {
                Attempts::Success => 1,
                Attempts::Failures(n) => n,
            };
            let admitted = match result {
                CallResult::Rejected { .. } => 0,
                CallResult::Opened { rejected, .. } => attempts - rejected,
                _ => attempts,
            };
            self.tallies_of(service).slow += admitted;
        }
        Reply::Call {
            service,
            result,
            last_failure,
        }
    }

    /// A permit for a real call, or the rejection with when to retry.
    pub(super) fn acquire<'a>(&mut self, service: &'a str) -> Reply<'a> {
        let now = self.now;
        let permit = self.last_permit + 1;
        let gate = self.gate(service);
        match self.traffic(service, |b, config, log| {
            b.acquire(&gate.config(b, config), now, permit, log)
                .map_err(|r| (r, b.last_failure().cloned()))
        }) {
            Ok(state) => {
                self.last_permit = permit;
                Reply::Acquired {
                    service,
                    state,
                    permit,
                }
            }
            Err((r, last_failure)) => Reply::AcquireRejected {
                service,
                state: r.state,
                retry_after_ms: r.retry_after_ms,
                last_failure,
            },
        }
    }

    /// The outcome of a permit; stale when the permit is not outstanding, or the service has
    /// no breaker (which is not created for it). A failure's `error` text is kept when the
    /// breaker counts the failure.
    pub(super) fn record<'a>(
        &mut self,
        service: &'a str,
        permit: u64,
        outcome: Outcome,
        duration_ms: Option<u64>,
        error: Option<&str>,
    ) -> Reply<'a> {
        if self.breakers.find(service).is_none() {
            let state = self.view(service).state;
            return Reply::Recorded {
                service,
                state,
                stale: true,
                transition: None,
            };
        }
        let now = self.now;
        let mut slow = false;
        let r = self.traffic(service, |b, config, log| {
            slow = config.is_slow(duration_ms);
            let counted = Counted::before(b);
            let r = b.record(config, now, permit, outcome, duration_ms, log);
            let failed = outcome == Outcome::Failure && counted.record_failure(b, &r);
            if let Some(e) = error.filter(|_| failed) {
                b.note_failure(e, now);
            }
            r
        });
        if !r.stale {
            self.count_recorded(service, outcome, slow);
        }
        Reply::Recorded {
            service,
            state: r.state,
            stale: r.stale,
            transition: r.transition,
        }
    }

    /// A whole call of the batch path: the `acquire` of `expected` at `at`, then its `record`
    /// at `now`, with exactly the effects of the two requests through [`Node::handle`] one
    /// after the other, the service looked up once. `None` when the node does not hand out
    /// `expected` (the acquire has happened; nothing is recorded), else whether the record was
    /// stale.
    #[allow(clippy::too_many_arguments)] // the two requests' fields, as `Request` has them
    pub fn whole_call(
        &mut self,
        at: u64,
        now: u64,
        service: &str,
        expected: u64,
        outcome: Outcome,
        duration_ms: Option<u64>,
        error: Option<&str>,
    ) -> Option<bool> {
        self.advance(at);
        if self.closed_call(now, service, expected, outcome, duration_ms, error) {
            return Some(false);
        }
        let permit = self.last_permit + 1;
        let (config, id) = self.lookup(service);
        let acquired =
            self.breakers
                .breaker_mut(id)
                .acquire(&config, self.now, permit, &mut self.scratch);
        self.breakers.touch(id);
        self.log_transitions(service);
        let evicted = self.breakers.evicted;
        self.enforce_budget();
        if acquired.is_err() || permit != expected {
            if acquired.is_ok() {
                self.last_permit = permit;
            }
            return None;
        }
        self.last_permit = permit;
        self.advance(now);
        // The budget may have forgotten the breaker since: its record is stale, as a `record`
        // request of a service without a breaker is.
        if self.breakers.evicted != evicted && self.breakers.find(service) != Some(id) {
            return Some(true);
        }
        let b = self.breakers.breaker_mut(id);
        let counted = Counted::before(b);
        let r = b.record(
            &config,
            self.now,
            permit,
            outcome,
            duration_ms,
            &mut self.scratch,
        );
        let failed = outcome == Outcome::Failure && counted.record_failure(b, &r);
        if let Some(e) = error.filter(|_| failed) {
            b.note_failure(e, self.now);
        }
        self.breakers.touch(id);
        self.log_transitions(service);
        self.enforce_budget();
        if !r.stale {
            self.count_recorded(service, outcome, config.is_slow(duration_ms));
        }
        Some(r.stale)
    }

    /// The common whole call in one step: a closed breaker that admits `expected` and takes
    /// the record at once ([`Breaker::takes_whole_call`]), when filing it with the acquire's
    /// permit forgets no breaker. Then the acquire changes nothing but the use order and the
    /// permit count: it settles nothing, logs no transition, its lease is the one the record
    /// takes back at once, and its filing (to the head of the closed breakers, with one more
    /// permit's charge) leaves the registry within its bounds, so `shrink_to` forgets nothing
    /// and the breaker is still there for the record. The record's own filing puts the
    /// breaker at the head of its list again; the acquire's shows only in the use clock.
    /// `false`, having changed nothing, when the call is not such a one.
    fn closed_call(
        &mut self,
        now: u64,
        service: &str,
        expected: u64,
        outcome: Outcome,
        duration_ms: Option<u64>,
        error: Option<&str>,
    ) -> bool {
        if expected != self.last_permit + 1 {
            return false;
        }
        let Some(id) = self.breakers.find(service) else {
            return false;
        };
        let bytes = self.breaker_budget();
        let record_at = match self.options.manual_clock {
            true => self.now,
            false => self.now.max(now),
        };
        let max_services = self.defaults.max_services;
        let mut patched = None;
        let (config, breakers, scratch) = self.parts(service, &mut patched);
        let takes = breakers.get(id).breaker.takes_whole_call(config);
        if !takes || !breakers.holds_one_more_permit(id, max_services, bytes) {
            return false;
        }
        let b = breakers.breaker_mut(id);
        let counted = Counted::before(b);
        b.whole_call(config, record_at, outcome, duration_ms, scratch);
        // As `record_failure` says for a record that is not stale and cannot close a breaker.
        let failed = outcome == Outcome::Failure && counted.more_failures(b);
        if let Some(e) = error.filter(|_| failed) {
            b.note_failure(e, record_at);
        }
        let slow = config.is_slow(duration_ms);
        self.last_permit = expected;
        self.now = record_at;
        self.breakers.clock += 1;
        self.breakers.touch(id);
        if !self.scratch.is_empty() {
            self.log_transitions(service);
        }
        self.enforce_budget();
        self.count_recorded(service, outcome, slow);
        true
    }

    /// Counts a recorded (not stale) outcome in the service's metrics tallies.
    fn count_recorded(&mut self, service: &str, outcome: Outcome, slow: bool) {
        match outcome {
            Outcome::Ignored => self.tallies_of(service).ignored += 1,
            _ if slow => self.tallies_of(service).slow += 1,
            _ => {}
        }
    }

    /// What [`Node::handle`] does with `now_ms` before any request.
    fn advance(&mut self, now_ms: u64) {
        if !self.options.manual_clock {
            self.now = self.now.max(now_ms);
        }
    }

    /// `service`'s config and breaker, created if needed.
    fn lookup(&mut self, service: &str) -> (Config, u32) {
        let config = self.config_for(service);
        let (max, bytes) = (self.defaults.max_services, self.breaker_budget());
        let mut created = false;
        let id = self.breakers.find_or_insert(service, max, bytes, || {
            created = true;
            Breaker::new(service)
        });
        // A new breaker starts in `initial_state` (the caller logs the transition).
        if created {
            let now = self.now;
            self.breakers
                .breaker_mut(id)
                .start(&config, now, &mut self.scratch);
        }
        (config, id)
    }

    /// Runs a traffic decision on `service`'s breaker, creating it if needed, and logs what it
    /// changed.
    pub(super) fn traffic<T>(
        &mut self,
        service: &str,
        decide: impl FnOnce(&mut Breaker, &Config, &mut Transitions) -> T,
    ) -> T {
        let id = match self.breakers.find(service) {
            Some(id) => id,
            None => self.lookup(service).1,
        };
        let mut patched = None;
        let (config, breakers, scratch) = self.parts(service, &mut patched);
        let out = decide(breakers.breaker_mut(id), config, scratch);
        // Filing it again brings its charge up to date (a new window, permits).
        self.breakers.touch(id);
        self.log_transitions(service);
        self.enforce_budget();
        out
    }

    /// `service`'s config by reference, beside the breakers and the scratch log a decision acts
    /// on with it: `patched` holds the copy that only a service with an override needs. Every
    /// traffic request takes its config this way (a whole `Config` copied per request was a
    /// fifth of the node's time).
    fn parts<'n>(
        &'n mut self,
        service: &str,
        patched: &'n mut Option<Config>,
    ) -> (&'n Config, &'n mut Registry, &'n mut Transitions) {
        let config = match self.overrides.get(service) {
            Some(patch) => &*patched.insert(patch.apply(&self.defaults)),
            None => &self.defaults,
        };
        (config, &mut self.breakers, &mut self.scratch)
    }
}
