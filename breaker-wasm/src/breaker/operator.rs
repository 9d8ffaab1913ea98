//! Operator actions: `force` and `reset`.

use super::{
    Breaker, Config, Counts, ForceMode, Forced, PeerMove, Reason, State, StateName, Transitions,
};

impl Breaker {
    /// An operator's override: forced open, forced closed, or back to normal (closed, zeroed).
    /// Timed transitions due before it are applied first.
    pub fn force(&mut self, config: &Config, mode: ForceMode, now: u64, log: &mut Transitions) {
        self.settle(config, now, log);
        // An operator's force overrides every isolation.
        self.end_isolation();
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

    /// An operator's transition (`transition`): ends any forced mode and puts the breaker in
    /// `to` now, as if it had just entered it; an open period lasts `open_ms` when given, else
    /// the configured period. Timed transitions due before it are applied first.
    pub fn transition(
        &mut self,
        config: &Config,
        to: StateName,
        open_ms: Option<u64>,
        now: u64,
        log: &mut Transitions,
    ) {
        self.settle(config, now, log);
        self.put(config, to, open_ms, now, Reason::Operator, log);
    }

    /// A peer's transition (`peer_transition`), after the timed transitions due. A peer's open
    /// opens a closed or half_open breaker for `ms` from now (an open one stays as it is); a
    /// peer's close closes an open or half_open one; neither touches a breaker an operator forced
    /// or isolated here. A peer's forced mode is applied as a local `force` would be.
    pub fn peer(&mut self, config: &Config, to: PeerMove, now: u64, log: &mut Transitions) {
        self.settle(config, now, log);
        match to {
            PeerMove::Forced(mode) => self.force(config, mode, now, log),
            _ if self.forced.is_some() => {}
            PeerMove::Open(0) => {}
            PeerMove::Open(ms) => {
                if !matches!(self.state, State::Open { .. }) {
                    self.put(config, StateName::Open, Some(ms), now, Reason::Peer, log);
                }
            }
            PeerMove::Closed => {
                if self.state != State::Closed {
                    self.put(config, StateName::Closed, None, now, Reason::Peer, log);
                }
            }
        }
    }

    /// One more holder of an isolation (`isolate`): forced open until every holder releases.
    /// Returns the holders.
    pub fn isolate(&mut self, config: &Config, now: u64, log: &mut Transitions) -> u64 {
        self.settle(config, now, log);
        self.ext().isolations += 1;
        if self.ext_ref().isolations == 1 {
            self.forced = Some(Forced::Open);
            let state = State::Open {
                since: now,
                period: 0,
            };
            self.enter(state, now, Reason::Isolated, log);
        }
        self.ext_ref().isolations
    }

    /// One holder releases its isolation; the last one closes the breaker (its counts kept).
    /// Returns the holders left, or `None` when it was not isolated.
    pub fn release(&mut self, now: u64, log: &mut Transitions) -> Option<u64> {
        let left = self.ext_ref().isolations.checked_sub(1)?;
        self.ext().isolations = left;
        if left == 0 {
            self.forced = None;
            self.enter(State::Closed, now, Reason::Released, log);
        }
        Some(left)
    }

    /// Holders of an isolation.
    pub fn isolations(&self) -> u64 {
        self.ext_ref().isolations
    }

    /// No more holders (an operator's action overrides an isolation).
    fn end_isolation(&mut self) {
        if let Some(e) = self.extra.as_deref_mut() {
            e.isolations = 0;
        }
    }

    /// A breaker just created starts in `initial_state` (nothing to do when that is closed).
    pub fn start(&mut self, config: &Config, now: u64, log: &mut Transitions) {
        if config.initial_state != StateName::Closed {
            self.put(
                config,
                config.initial_state,
                None,
                now,
                Reason::Initial,
                log,
            );
        }
    }

    /// Puts the breaker in `to` at `now` with `reason`, ending any forced mode and isolation.
    pub(super) fn put(
        &mut self,
        config: &Config,
        to: StateName,
        open_ms: Option<u64>,
        now: u64,
        reason: Reason,
        log: &mut Transitions,
    ) {
        self.forced = None;
        self.end_isolation();
        let state = match to {
            StateName::Closed => State::Closed,
            StateName::Open => State::Open {
                since: now,
                period: open_ms.unwrap_or_else(|| self.open_period(config, self.counts.opened + 1)),
            },
            StateName::HalfOpen => State::HalfOpen {
                since: now,
                successes: 0,
            },
        };
        self.enter(state, now, reason, log);
    }

    /// Back to closed with zero counters and no forced mode, after the timed transitions due.
    pub fn reset(&mut self, config: &Config, now: u64, log: &mut Transitions) {
        self.settle(config, now, log);
        self.forced = None;
        self.end_isolation();
        self.counts = Counts::default();
        self.enter(State::Closed, now, Reason::Reset, log);
    }
}
