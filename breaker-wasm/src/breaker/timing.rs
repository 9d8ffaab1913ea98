//! Timed transitions: the lazy `settle` every decision calls first, the length of an open
//! period (backoff and deterministic jitter), and when a refused caller may retry.

use super::{Breaker, Config, Milli, Reason, State, StateName, Transitions};

impl Breaker {
    /// Applies every timed transition due at `now`, each dated at its own deadline.
    #[inline]
    pub fn settle(&mut self, config: &Config, now: u64, log: &mut Transitions) {
        // The common case, inline: nothing is timed while closed outside `interval_ms` cycles.
        if self.forced.is_none() && (self.state != State::Closed || config.interval_ms.is_some()) {
            self.settle_timed(config, now, log);
        }
    }

    /// [`Breaker::settle`] of a breaker that may have something timed.
    fn settle_timed(&mut self, config: &Config, now: u64, log: &mut Transitions) {
        self.clear_cycles(config, now);
        if self.state == State::Closed {
            return;
        }
        loop {
            match self.state {
                State::Open { since, period } if self.state.open_elapsed(now) => {
                    // Elapsed, so `since + period ≤ now` fits.
                    let until = since + period;
                    let reason = Reason::OpenTimeoutElapsed { ms: period };
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
                State::HalfOpen { since, .. } => {
                    let probe_ms = config.probe_timeout_ms;
                    let lease = self.leases.front().map(|l| l.at);
                    let lease = lease.filter(|&at| elapsed(at, probe_ms, now));
                    let limit = config
                        .half_open_max_ms
                        .filter(|&ms| elapsed(since, ms, now));
                    // The earlier deadline first; on a tie the lost probe counts first.
                    match (lease, limit) {
                        (Some(at), Some(ms)) if since + ms < at + probe_ms => {
                            self.half_open_limit(config, since, ms, log);
                        }
                        (Some(at), _) => {
                            self.failures += 1;
                            self.counts.failures += 1;
                            let reason = Reason::ProbeLeaseExpired { ms: probe_ms };
                            self.open(config, at + probe_ms, reason, log);
                        }
                        (None, Some(ms)) => self.half_open_limit(config, since, ms, log),
                        (None, None) => break,
                    }
                }
                _ => break,
            }
        }
        // A timed close above starts the cycle of `now` at once, so a second settle at the same
        // instant finds nothing to do (and a failure recorded right after the close is kept).
        self.clear_cycles(config, now);
    }

    /// Under `interval_ms`, while closed: cycles are aligned to multiples of `interval_ms` on
    /// the clock; when `now` is in a later cycle than the counts, they are cleared, a new
    /// generation (outstanding permits go stale). No transition.
    fn clear_cycles(&mut self, config: &Config, now: u64) {
        let (Some(ms), State::Closed) = (config.interval_ms, self.state) else {
            return;
        };
        let current = now - now % ms;
        match self.ext_ref().cycle {
            Some(start) if start >= current => {}
            Some(_) => {
                self.failures = 0;
                self.window = None;
                self.leases.clear();
                self.ext().cycle = Some(current);
            }
            None => self.ext().cycle = Some(current),
        }
    }

    /// `half_open_max_ms` ran out at `since + ms` (on the clock: it has elapsed): the breaker
    /// goes where `half_open_expiry` says.
    fn half_open_limit(&mut self, config: &Config, since: u64, ms: u64, log: &mut Transitions) {
        let reason = Reason::HalfOpenLimit { ms };
        match config.half_open_expiry {
            StateName::Closed => self.close(since + ms, reason, log),
            _ => self.open(config, since + ms, reason, log),
        }
    }

    /// The length of the open period of trip number `trip`: `open_timeout_ms` grown by the
    /// backoff multiplier once per re-open since the breaker last closed, capped, then spread by
    /// a jitter that depends only on the service and the trip. Integer arithmetic throughout,
    /// so every host computes the same number.
    pub(super) fn open_period(&self, config: &Config, trip: u64) -> u64 {
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

    /// When a permit could next be granted, for a breaker that is refusing them now.
    pub(super) fn retry_after(&self, config: &Config, now: u64) -> Option<u64> {
        if self.forced.is_some() {
            return None;
        }
        match self.state {
            State::Open { since, period } => Some(remaining(since, period, now)),
            // The next change: the oldest lease running out, or the half_open limit.
            State::HalfOpen { since, .. } if self.slots_full(config) => {
                let oldest = self.leases.front()?;
                let lease = remaining(oldest.at, config.probe_timeout_ms, now);
                let limit = config.half_open_max_ms.map(|ms| remaining(since, ms, now));
                Some(limit.map_or(lease, |l| l.min(lease)))
            }
            _ => None,
        }
    }
}

/// Whether `period` milliseconds from `since` have passed at `now` (so `since + period` fits).
fn elapsed(since: u64, period: u64, now: u64) -> bool {
    now >= since && now - since >= period
}

/// What is left at `now` of `period` milliseconds from `since`: `period − (now − since)`, in
/// durations only, so it is exact even when the deadline lies past the end of the clock.
pub(super) fn remaining(since: u64, period: u64, now: u64) -> u64 {
    period.saturating_sub(now.saturating_sub(since))
}

/// FNV-1a, 64 bits: a stable hash of a service name.
pub(super) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// SplitMix64's finaliser: spreads a seed evenly over 64 bits.
pub(super) fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
