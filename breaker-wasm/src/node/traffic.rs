//! Traffic: `call`, `acquire` and `record` on one service's breaker, created on first use.

use crate::breaker::{Attempts, Breaker, CallResult, Config, Outcome, Transitions};

use super::{CallFixture, Node, Reply};

impl Node {
    /// A whole call through `service`'s breaker, the downstream behaving as `fixture` says.
    pub(super) fn call<'a>(&mut self, service: &'a str, fixture: CallFixture) -> Reply<'a> {
        let now = self.now;
        let mut slow = false;
        let gate = self.gate(service);
        let result = self.traffic(service, |b, config, log| {
            // A fixture's state is as if just entered, lease and all.
            let gated;
            let config = match fixture.state {
                Some(state) => {
                    b.set_state(config, state, now, log);
                    config
                }
                None => {
                    gated = gate.config(b, config);
                    &gated
                }
            };
            slow = config.is_slow(fixture.duration_ms);
            b.call(config, now, fixture.attempts, fixture.duration_ms, log)
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
        Reply::Call { service, result }
    }

    /// A permit for a real call, or the rejection with when to retry.
    pub(super) fn acquire<'a>(&mut self, service: &'a str) -> Reply<'a> {
        let now = self.now;
        let permit = self.last_permit + 1;
        let gate = self.gate(service);
        match self.traffic(service, |b, config, log| {
            b.acquire(&gate.config(b, config), now, permit, log)
        }) {
            Ok(state) => {
                self.last_permit = permit;
                Reply::Acquired {
                    service,
                    state,
                    permit,
                }
            }
            Err(r) => Reply::AcquireRejected {
                service,
                state: r.state,
                retry_after_ms: r.retry_after_ms,
            },
        }
    }

    /// The outcome of a permit; stale when the permit is not outstanding, or the service has
    /// no breaker (which is not created for it).
    pub(super) fn record<'a>(
        &mut self,
        service: &'a str,
        permit: u64,
        outcome: Outcome,
        duration_ms: Option<u64>,
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
            b.record(config, now, permit, outcome, duration_ms, log)
        });
        if !r.stale {
            match outcome {
                Outcome::Ignored => self.tallies_of(service).ignored += 1,
                _ if slow => self.tallies_of(service).slow += 1,
                _ => {}
            }
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
    pub fn whole_call(
        &mut self,
        at: u64,
        now: u64,
        service: &str,
        expected: u64,
        outcome: Outcome,
        duration_ms: Option<u64>,
    ) -> Option<bool> {
        self.advance(at);
        let permit = self.last_permit + 1;
        let (config, id) = self.lookup(service);
        let acquired =
            self.breakers
                .breaker_mut(id)
                .acquire(&config, self.now, permit, &mut self.scratch);
        self.breakers.touch(id);
        self.log_transitions(service);
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
        if self.breakers.find(service) != Some(id) {
            return Some(true);
        }
        let b = self.breakers.breaker_mut(id);
        let r = b.record(
            &config,
            self.now,
            permit,
            outcome,
            duration_ms,
            &mut self.scratch,
        );
        self.breakers.touch(id);
        self.log_transitions(service);
        self.enforce_budget();
        Some(r.stale)
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
        let (config, id) = self.lookup(service);
        let out = decide(self.breakers.breaker_mut(id), &config, &mut self.scratch);
        // Filing it again brings its charge up to date (a new window, permits).
        self.breakers.touch(id);
        self.log_transitions(service);
        self.enforce_budget();
        out
    }
}
