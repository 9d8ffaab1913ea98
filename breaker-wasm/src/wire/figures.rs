//! The `policy` object of `status`: what the deciding policy sees, by state.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::values::Decimal;
use crate::breaker::{Figures, Milli, Window};

/// `figures` as the `policy` object of a `status` reply (one service, or a line of all).
pub struct PolicyObject(pub Figures);

/// `part` of `calls` as a percentage in thousandths, rounded down; 0 when there are no calls.
fn percent(part: u64, calls: u64) -> Milli {
    match calls {
        0 => Milli(0),
        _ => Milli((u128::from(part) * 100_000 / u128::from(calls)) as u64),
    }
}

impl Serialize for PolicyObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match self.0 {
            Figures::Consecutive {
                failures,
                threshold,
            } => {
                m.serialize_entry("window", "consecutive")?;
                m.serialize_entry("failures", &failures)?;
                m.serialize_entry("failure_threshold", &threshold)?;
            }
            Figures::Window {
                window,
                tally,
                slow_call_rate,
            } => {
                let (kind, minimum, failure_rate) = match window {
                    Window::Count {
                        size,
                        minimum_calls,
                        failure_rate,
                    } => ("count", minimum_calls.min(size), failure_rate),
                    Window::Time {
                        minimum_calls,
                        failure_rate,
                        ..
                    } => ("time", minimum_calls, failure_rate),
                    Window::Consecutive => ("consecutive", 0, Milli(0)),
                };
                m.serialize_entry("window", kind)?;
                m.serialize_entry("calls", &tally.calls)?;
                m.serialize_entry("minimum_calls", &minimum)?;
                m.serialize_entry("failures", &tally.failures)?;
                let rate = percent(tally.failures, tally.calls);
                m.serialize_entry("failure_rate", &Decimal(rate))?;
                m.serialize_entry("failure_rate_threshold", &Decimal(failure_rate))?;
                m.serialize_entry("slow", &tally.slow)?;
                let rate = percent(tally.slow, tally.calls);
                m.serialize_entry("slow_call_rate", &Decimal(rate))?;
                m.serialize_entry("slow_call_rate_threshold", &Decimal(slow_call_rate))?;
            }
            Figures::HalfOpen {
                in_flight,
                max_calls,
                successes,
                threshold,
            } => {
                m.serialize_entry("probes_in_flight", &in_flight)?;
                m.serialize_entry("half_open_max_calls", &max_calls)?;
                m.serialize_entry("successes", &successes)?;
                m.serialize_entry("success_threshold", &threshold)?;
            }
            Figures::Open { until } => m.serialize_entry("open_until_ms", &until)?,
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breaker::Tally;

    fn text(f: Figures) -> String {
        serde_json::to_string(&PolicyObject(f)).unwrap()
    }

    #[test]
    fn each_state_shows_what_decides_it() {
        let window = Window::Count {
            size: 10,
            minimum_calls: 20,
            failure_rate: Milli(50_000),
        };
        let tally = Tally {
            calls: 3,
            failures: 1,
            slow: 2,
        };
        assert_eq!(
            text(Figures::Window {
                window,
                tally,
                slow_call_rate: Milli(100_000)
            }),
            r#"{"window":"count","calls":3,"minimum_calls":10,"failures":1,"failure_rate":33.333,"failure_rate_threshold":50.0,"slow":2,"slow_call_rate":66.666,"slow_call_rate_threshold":100.0}"#
        );
        assert_eq!(
            text(Figures::Consecutive {
                failures: 2,
                threshold: 5
            }),
            r#"{"window":"consecutive","failures":2,"failure_threshold":5}"#
        );
        assert_eq!(
            text(Figures::HalfOpen {
                in_flight: 1,
                max_calls: 2,
                successes: 0,
                threshold: 3
            }),
            r#"{"probes_in_flight":1,"half_open_max_calls":2,"successes":0,"success_threshold":3}"#
        );
        assert_eq!(
            text(Figures::Open { until: Some(5000) }),
            r#"{"open_until_ms":5000}"#
        );
        assert_eq!(
            text(Figures::Open { until: None }),
            r#"{"open_until_ms":null}"#
        );
    }
}
