//! Operator actions: `force` and `reset`.

use super::{Breaker, Config, Counts, ForceMode, Forced, Reason, State, Transitions};

impl Breaker {
    /// An operator's override: forced open, forced closed, or back to normal (closed, zeroed).
    /// Timed transitions due before it are applied first.
    pub fn force(&mut self, config: &Config, mode: ForceMode, now: u64, log: &mut Transitions) {
        self.settle(config, now, log);
        let reason = Reason::Forced(mode);
        match mode {
            ForceMode::Open => {
                self.forced = Some(Forced::Open);
                // No deadline: the forced mode alone keeps it open (`settle` leaves it be).
                self.enter(
                    State::Open {
                        since: now,
                        period: 0,
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
}
