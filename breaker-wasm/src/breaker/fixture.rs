//! The `call` fixture: a whole call whose downstream behaviour the request describes, with any
//! number of forced failures at a cost that does not grow with the number, and the `state`
//! fixture that puts a breaker in a state as if it had just entered it.

use super::decisions::verdict;
use super::{
    Attempts, Breaker, CallResult, Config, Forced, Mark, Reason, State, StateName, Tally,
    Transitions, Window,
};

impl Breaker {
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
        self.put(config, state, None, now, Reason::Fixture, log);
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
                self.refused(config, StateName::Open, attempts)
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
                self.refused(config, StateName::HalfOpen, attempts)
            }
            (None, State::HalfOpen { .. }) if config.half_open_failure_rate.is_some() => {
                if config.budget_per_period() {
                    self.ext().admitted += 1;
                }
                self.trial_call(config, now, mark, tries, log)
            }
            (None, State::HalfOpen { since, successes }) => {
                if config.budget_per_period() {
                    self.ext().admitted += 1;
                }
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
            (None, State::Closed) => self.closed_call(config, now, mark, tries, log),
        }
    }

    /// `call` as a trial call of a half_open judged by rate: its first attempt is the trial,
    /// any further attempts are rejected.
    fn trial_call(
        &mut self,
        config: &Config,
        now: u64,
        mark: Mark,
        tries: u64,
        log: &mut Transitions,
    ) -> CallResult {
        self.counts.rejections += tries - 1;
        let failures = self.ext_ref().trial.failures + u64::from(mark.failed);
        match self.trial_outcome(config, now, mark, log) {
            Some(t) if t.to == StateName::Closed => CallResult::Closed,
            Some(_) => CallResult::Opened {
                failures,
                rejected: tries - 1,
            },
            None if mark.failed => CallResult::Failed {
                state: StateName::HalfOpen,
                failures: self.failures,
            },
            None => CallResult::Ok {
                state: StateName::HalfOpen,
            },
        }
    }

    /// A `call` the breaker refuses in `state`: rejected, or under metrics only admitted to
    /// the downstream without being judged (the consecutive count is left as it is).
    fn refused(&self, config: &Config, state: StateName, attempts: Attempts) -> CallResult {
        if !self.shadows_rejections(config) {
            return CallResult::Rejected { state };
        }
        match attempts {
            Attempts::Success => CallResult::Ok { state },
            Attempts::Failures(_) => CallResult::Failed {
                state,
                failures: self.failures,
            },
        }
    }

    /// `call` on a closed breaker: the attempts until it opens reach the downstream, the rest
    /// are rejected.
    fn closed_call(
        &mut self,
        config: &Config,
        now: u64,
        mark: Mark,
        tries: u64,
        log: &mut Transitions,
    ) -> CallResult {
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

    /// How many of `tries` attempts marked `mark` reach the downstream before the breaker opens
    /// (all of them when it stays closed).
    pub(super) fn attempts_until_open(
        &mut self,
        config: &Config,
        now: u64,
        mark: Mark,
        tries: u64,
    ) -> u64 {
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

    /// Whether `config`'s window would open on its tally after `k` more calls marked `mark`.
    pub(super) fn would_open_after(
        &mut self,
        config: &Config,
        now: u64,
        mark: Mark,
        k: u64,
    ) -> bool {
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
}
