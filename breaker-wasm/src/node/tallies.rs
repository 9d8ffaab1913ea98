//! Counts kept for metrics only: slow and ignored calls, and transitions by from/to, per service
//! since the node started. They are not part of a snapshot (a restored node starts them at
//! zero, as any Prometheus counter may restart), and they are bounded like the breakers: a
//! service's tallies go when its breaker has been forgotten.

use hashbrown::HashMap;

use crate::breaker::StateName;

/// One service's tallies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceTallies {
    /// Admitted calls at least `slow_call_ms` long (they also count as successes or failures).
    pub slow: u64,
    /// Permits recorded with the outcome `ignored`.
    pub ignored: u64,
    /// Transitions, indexed by [`pair_index`].
    pub transitions: [u64; 6],
}

/// The six transitions between three states, in the order [`PAIRS`] lists them.
pub const PAIRS: [(StateName, StateName); 6] = [
    (StateName::Closed, StateName::Open),
    (StateName::Closed, StateName::HalfOpen),
    (StateName::Open, StateName::Closed),
    (StateName::Open, StateName::HalfOpen),
    (StateName::HalfOpen, StateName::Closed),
    (StateName::HalfOpen, StateName::Open),
];

/// The index of `from → to` in [`PAIRS`]; `None` when the state does not change.
pub fn pair_index(from: StateName, to: StateName) -> Option<usize> {
    PAIRS.iter().position(|&p| p == (from, to))
}

/// Every service's tallies.
#[derive(Debug, Default)]
pub struct Tallies {
    map: HashMap<Box<str>, ServiceTallies>,
}

impl Tallies {
    pub fn get(&self, service: &str) -> ServiceTallies {
        self.map.get(service).copied().unwrap_or_default()
    }

    /// `service`'s tallies to change. When a new one would make twice `bound`, the tallies of
    /// the services `tracked` no longer holds are dropped first, which leaves at most `bound`
    /// (the breakers tracked): a sweep at most every `bound` new services.
    pub fn entry(
        &mut self,
        service: &str,
        bound: u64,
        tracked: impl Fn(&str) -> bool,
    ) -> &mut ServiceTallies {
        if !self.map.contains_key(service) {
            if self.map.len() as u64 >= bound.saturating_mul(2) {
                self.map.retain(|name, _| tracked(name));
            }
            self.map.insert(service.into(), ServiceTallies::default());
        }
        self.map.get_mut(service).expect("present: inserted above")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_of_state_has_a_pair_and_the_bound_drops_forgotten_services() {
        for (i, &(from, to)) in PAIRS.iter().enumerate() {
            assert_eq!(pair_index(from, to), Some(i));
        }
        assert_eq!(pair_index(StateName::Open, StateName::Open), None);
        let mut t = Tallies::default();
        t.entry("a", 1, |_| true).slow += 1;
        t.entry("b", 1, |_| true).ignored += 1;
        t.entry("c", 1, |name| name == "b").slow += 1;
        assert_eq!(t.get("a"), ServiceTallies::default());
        assert_eq!(t.get("b").ignored, 1);
        assert_eq!(t.get("c").slow, 1);
    }
}
