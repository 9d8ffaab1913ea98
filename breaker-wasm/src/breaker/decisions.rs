//! Decisions: permits for real calls (`acquire`/`record`), the verdicts of probes, and the
//! closed state's policies (consecutive failures or a rate window).

use super::{
    Breaker, Config, Forced, Lease, MAX_OUTSTANDING, Mark, Milli, Outcome, Reason, Recorded,
    Rejection, Span, State, StateName, Tally, Transition, Transitions, Window,
};

impl Breaker {
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
            // Metrics only: admitted all the same, with a permit that is not outstanding (its
            // record is stale), so the state machine judges only the calls it would admit.
            if self.shadows_rejections(config) {
                return Ok(state);
            }
            return Err(Rejection {
                state,
                retry_after_ms: self.retry_after(config, now),
            });
        }
        if self.leases.len() >= MAX_OUTSTANDING {
            self.leases.pop_front();
        }
        self.leases.push_back(Lease { permit, at: now });
        if state == StateName::HalfOpen && self.forced.is_none() && config.budget_per_period() {
            self.ext().admitted += 1;
        }
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
        // An ignored probe gives its slot back.
        let half_open = matches!(self.state, State::HalfOpen { .. });
        let gives_back = self.forced.is_none() && outcome == Outcome::Ignored && half_open;
        if let Some(e) = self.extra.as_deref_mut().filter(|_| gives_back) {
            e.admitted = e.admitted.saturating_sub(1);
        }
        if self.forced.is_none() && outcome != Outcome::Ignored {
            match self.state {
                State::Open { .. } => {}
                State::Closed => {
                    self.closed_outcome(config, now, mark, 1, log);
                }
                State::HalfOpen { .. } if config.half_open_failure_rate.is_some() => {
                    self.trial_outcome(config, now, mark, log);
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

    /// Whether [`Breaker::whole_call`] may stand for an `acquire` at one time and the
    /// `record` of its permit at a later one: closed and not forced (every permit admitted, no
    /// timed transition), no `interval_ms` (no cycle can clear the counts and the permit between
    /// the two), and room for one more permit (the acquire drops none).
    pub fn takes_whole_call(&self, config: &Config) -> bool {
        self.forced.is_none()
            && self.state == State::Closed
            && config.interval_ms.is_none()
            && self.leases.len() < MAX_OUTSTANDING
    }

    /// A whole call at `now` on a breaker that [`Breaker::takes_whole_call`]: exactly what its
    /// `acquire` and then the `record` of that permit at `now` do, when nothing else touches
    /// the breaker between them. The acquire settles nothing (closed has no timed transition,
    /// nothing is forced, no cycle to clear), admits and pushes a lease; the record settles
    /// nothing either, pops that lease from the back (the newest) and judges the outcome as
    /// closed: so the leases end as they were, and only the judgement is left to do.
    pub fn whole_call(
        &mut self,
        config: &Config,
        now: u64,
        outcome: Outcome,
        duration_ms: Option<u64>,
        log: &mut Transitions,
    ) {
        debug_assert!(self.takes_whole_call(config));
        if outcome != Outcome::Ignored {
            let mark = Mark {
                failed: outcome == Outcome::Failure,
                slow: config.is_slow(duration_ms),
            };
            self.closed_outcome(config, now, mark, 1, log);
        }
    }

    /// Whether a call this breaker refuses is admitted anyway (metrics only, not forced open).
    pub(super) fn shadows_rejections(&self, config: &Config) -> bool {
        config.metrics_only && self.forced != Some(Forced::Open)
    }

    /// A trial call's outcome in a half_open judged by rate: counted and, once
    /// `half_open_max_calls` are recorded, the verdict (returned when it moved the breaker).
    pub(super) fn trial_outcome(
        &mut self,
        config: &Config,
        now: u64,
        mark: Mark,
        log: &mut Transitions,
    ) -> Option<Transition> {
        if mark.failed {
            self.failures += 1;
            self.counts.failures += 1;
        } else {
            self.failures = 0;
            self.counts.successes += 1;
        }
        let t = &mut self.ext().trial;
        t.calls += 1;
        t.failures += u64::from(mark.failed);
        t.slow += u64::from(mark.slow);
        if t.calls < config.half_open_max_calls {
            return None;
        }
        let t = *t;
        let reaches = |n: u64, rate: Milli| {
            u128::from(n) * 100_000 >= u128::from(rate.0) * u128::from(t.calls)
        };
        let rate = config.half_open_failure_rate?;
        let failed = reaches(t.failures, rate);
        let slow =
            !failed && config.slow_call_ms.is_some() && reaches(t.slow, config.slow_call_rate);
        if failed || slow {
            let (bad, threshold) = match slow {
                true => (t.slow, config.slow_call_rate),
                false => (t.failures, rate),
            };
            let reason = Reason::TrialFailed {
                slow,
                bad,
                calls: t.calls,
                threshold,
            };
            self.open(config, now, reason, log);
        } else {
            let reason = Reason::TrialPassed {
                failures: t.failures,
                slow: t.slow,
                calls: t.calls,
            };
            self.close(now, reason, log);
        }
        log.last().copied()
    }

    /// A successful probe; closes the breaker (and returns the transition) at the threshold.
    pub(super) fn probe_succeeded(
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
        if successes < config.probes_to_close() {
            self.state = State::HalfOpen { since, successes };
            return None;
        }
        self.close(
            now,
            Reason::ProbesSucceeded {
                successes,
                threshold: config.probes_to_close(),
            },
            log,
        );
        log.last().copied()
    }

    /// A failed probe (a slow one counts as failed): the breaker opens again.
    pub(super) fn probe_failed(
        &mut self,
        config: &Config,
        now: u64,
        mark: Mark,
        log: &mut Transitions,
    ) {
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

    /// A call's outcome while closed: counts it, feeds the window, and opens the breaker when
    /// the policy says so. Returns the failures that tripped it (consecutive, or in the window).
    pub(super) fn closed_outcome(
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
}

/// Whether a window with `tally` opens the breaker under `config`, and why.
pub(super) fn verdict(config: &Config, tally: Tally) -> Option<Reason> {
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
