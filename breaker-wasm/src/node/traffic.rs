//! Traffic: `call`, `acquire` and `record` on one service's breaker, created on first use.

use crate::breaker::{Breaker, Config, Outcome, Transitions};

use super::{CallFixture, Node, Reply};

impl Node {
    /// A whole call through `service`'s breaker, the downstream behaving as `fixture` says.
    pub(super) fn call<'a>(&mut self, service: &'a str, fixture: CallFixture) -> Reply<'a> {
        let now = self.now;
        let result = self.traffic(service, |b, config, log| {
            if let Some(state) = fixture.state {
                b.set_state(config, state, now, log);
            }
            b.call(config, now, fixture.attempts, fixture.duration_ms, log)
        });
        Reply::Call { service, result }
    }

    /// A permit for a real call, or the rejection with when to retry.
    pub(super) fn acquire<'a>(&mut self, service: &'a str) -> Reply<'a> {
        let now = self.now;
        let permit = self.last_permit + 1;
        match self.traffic(service, |b, config, log| {
            b.acquire(config, now, permit, log)
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
        let r = self.traffic(service, |b, config, log| {
            b.record(config, now, permit, outcome, duration_ms, log)
        });
        Reply::Recorded {
            service,
            state: r.state,
            stale: r.stale,
            transition: r.transition,
        }
    }

    /// Runs a traffic decision on `service`'s breaker, creating it if needed, and logs what it
    /// changed.
    pub(super) fn traffic<T>(
        &mut self,
        service: &str,
        decide: impl FnOnce(&mut Breaker, &Config, &mut Transitions) -> T,
    ) -> T {
        let config = self.config_for(service);
        let (max, bytes) = (self.defaults.max_services, self.breaker_budget());
        let mut created = false;
        let id = self.breakers.find_or_insert(service, max, bytes, || {
            created = true;
            Breaker::new(service)
        });
        let breaker = self.breakers.breaker_mut(id);
        if created {
            breaker.start(&config, self.now, &mut self.scratch);
        }
        let out = decide(breaker, &config, &mut self.scratch);
        // Filing it again brings its charge up to date (a new window, permits).
        self.breakers.touch(id);
        self.log_transitions(service);
        self.enforce_budget();
        out
    }
}
