//! Why a transition happened, on the wire: a sentence in replies and `events`, a structured
//! object in snapshots (so a restored node keeps the numbers, not just the words).

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::raw::Raw;
use super::restore::Obj;
use super::values::{Decimal, milli_text, mode_name};
use crate::breaker::{ForceMode, Milli, Reason, Span};

/// A reason as its sentence.
pub struct ReasonText<'a>(pub &'a Reason);

impl Serialize for ReasonText<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&reason_text(self.0))
    }
}

/// The human-readable reason of a transition, as `events` and `transition` objects show it.
pub fn reason_text(r: &Reason) -> String {
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    match *r {
        Reason::ConsecutiveFailures {
            failures,
            threshold,
        } => {
            format!(
                "{} (threshold {threshold})",
                plural(failures, "consecutive failure", "consecutive failures")
            )
        }
        Reason::OpenTimeoutElapsed { ms } => format!("open timeout of {ms} ms elapsed"),
        Reason::Rate {
            slow,
            span,
            bad,
            calls,
            threshold,
        } => {
            // The percentage to one decimal, rounded half up, in integers.
            let percent = tenths(bad, calls);
            let what = if slow { "were slow" } else { "failed" };
            let threshold = short(threshold);
            match span {
                Span::Calls => {
                    format!("{percent}% of the last {calls} calls {what} (threshold {threshold}%)")
                }
                Span::Millis(ms) => {
                    format!(
                        "{percent}% of {calls} calls in the last {ms} ms {what} (threshold {threshold}%)"
                    )
                }
            }
        }
        Reason::ProbeFailed => "probe failed".into(),
        Reason::SlowProbe => "probe was slow".into(),
        Reason::ProbeLeaseExpired { ms } => format!("probe lease expired after {ms} ms"),
        Reason::HalfOpenLimit { ms } => format!("half_open for {ms} ms (half_open_max_ms)"),
        Reason::ProbesSucceeded {
            successes,
            threshold,
        } => {
            format!(
                "{} (threshold {threshold})",
                plural(successes, "successful probe", "successful probes")
            )
        }
        Reason::Fixture => "set by the call's state fixture".into(),
        Reason::Forced(ForceMode::Auto) => "forced mode released (auto)".into(),
        Reason::Forced(mode) => format!("forced {}", mode_name(mode)),
        Reason::Reset => "reset".into(),
        Reason::Operator => "moved by an operator (transition)".into(),
        Reason::Peer => "a peer's transition".into(),
        Reason::Initial => "initial state of a new breaker".into(),
        Reason::Isolated => "isolated".into(),
        Reason::Released => "released by the last holder of its isolation".into(),
        Reason::TrialFailed {
            slow,
            bad,
            calls,
            threshold,
        } => {
            let what = if slow { "were slow" } else { "failed" };
            let percent = tenths(bad, calls);
            let threshold = short(threshold);
            format!(
                "{percent}% of {calls} trial calls in half_open {what} (threshold {threshold}%)"
            )
        }
        Reason::TrialPassed {
            failures,
            slow,
            calls,
        } => format!(
            "{failures} of {calls} trial calls in half_open failed and {slow} were slow, below the thresholds"
        ),
    }
}

/// `bad` of `calls` as a percentage to one decimal, rounded half up, in integers.
fn tenths(bad: u64, calls: u64) -> String {
    let tenths = (u128::from(bad) * 2000 + u128::from(calls)) / (2 * u128::from(calls.max(1)));
    let (whole, tenth) = (tenths / 10, (tenths % 10) as u64);
    // Written in u64 pieces: formatting a u128 would link a formatter of its own into the
    // module. `whole` is below 10^22 (at most about 1000 × 2^64), so the high part is small.
    const E19: u128 = 10_000_000_000_000_000_000;
    match u64::try_from(whole) {
        Ok(whole) => format!("{whole}.{tenth}"),
        Err(_) => format!(
            "{}{:019}.{tenth}",
            (whole / E19) as u64,
            (whole % E19) as u64
        ),
    }
}

/// A number in thousandths as people write it: `50`, `12.5`.
fn short(x: Milli) -> String {
    let text = milli_text(x.0);
    text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
}

/// A reason as a snapshot keeps it: `kind` first, then its numbers.
pub struct StructuredReason<'a>(pub &'a Reason);

impl Serialize for StructuredReason<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_struct("Reason", 6)?;
        match *self.0 {
            Reason::ConsecutiveFailures {
                failures,
                threshold,
            } => {
                o.serialize_field("kind", "consecutive_failures")?;
                o.serialize_field("failures", &failures)?;
                o.serialize_field("threshold", &threshold)?;
            }
            Reason::OpenTimeoutElapsed { ms } => {
                o.serialize_field("kind", "open_timeout_elapsed")?;
                o.serialize_field("ms", &ms)?;
            }
            Reason::Rate {
                slow,
                span,
                bad,
                calls,
                threshold,
            } => {
                o.serialize_field("kind", "rate")?;
                o.serialize_field("slow", &slow)?;
                let span_ms = match span {
                    Span::Calls => None,
                    Span::Millis(ms) => Some(ms),
                };
                o.serialize_field("span_ms", &span_ms)?;
                o.serialize_field("bad", &bad)?;
                o.serialize_field("calls", &calls)?;
                o.serialize_field("threshold", &Decimal(threshold))?;
            }
            Reason::ProbeFailed => o.serialize_field("kind", "probe_failed")?,
            Reason::SlowProbe => o.serialize_field("kind", "slow_probe")?,
            Reason::ProbeLeaseExpired { ms } => {
                o.serialize_field("kind", "probe_lease_expired")?;
                o.serialize_field("ms", &ms)?;
            }
            Reason::HalfOpenLimit { ms } => {
                o.serialize_field("kind", "half_open_limit")?;
                o.serialize_field("ms", &ms)?;
            }
            Reason::ProbesSucceeded {
                successes,
                threshold,
            } => {
                o.serialize_field("kind", "probes_succeeded")?;
                o.serialize_field("successes", &successes)?;
                o.serialize_field("threshold", &threshold)?;
            }
            Reason::Fixture => o.serialize_field("kind", "fixture")?,
            Reason::Forced(mode) => {
                o.serialize_field("kind", "forced")?;
                o.serialize_field("mode", mode_name(mode))?;
            }
            Reason::Reset => o.serialize_field("kind", "reset")?,
            Reason::Operator => o.serialize_field("kind", "transition")?,
            Reason::Peer => o.serialize_field("kind", "peer")?,
            Reason::Initial => o.serialize_field("kind", "initial")?,
            Reason::Isolated => o.serialize_field("kind", "isolated")?,
            Reason::Released => o.serialize_field("kind", "released")?,
            Reason::TrialFailed { .. } | Reason::TrialPassed { .. } => {
                trial_fields(&mut o, self.0)?
            }
        }
        o.end()
    }
}

/// A reason as a snapshot keeps it (the inverse of [`StructuredReason`]); errors name
/// `reason_path`.
pub(super) fn decode(r: Raw, reason_path: String) -> Result<Reason, String> {
    let kind = r.members().and_then(|m| m.get("kind")?.as_str());
    let kind = kind.as_deref().unwrap_or("");
    let ro = |allowed: &[&str]| Obj::new(r, reason_path.clone(), allowed);
    Ok(match kind {
        "consecutive_failures" => {
            let r = ro(&["kind", "failures", "threshold"])?;
            Reason::ConsecutiveFailures {
                failures: r.u64("failures")?,
                threshold: r.u64("threshold")?,
            }
        }
        "open_timeout_elapsed" => Reason::OpenTimeoutElapsed {
            ms: ro(&["kind", "ms"])?.u64("ms")?,
        },
        "probe_failed" => ro(&["kind"]).map(|_| Reason::ProbeFailed)?,
        "slow_probe" => ro(&["kind"]).map(|_| Reason::SlowProbe)?,
        "rate" => {
            let r = ro(&["kind", "slow", "span_ms", "bad", "calls", "threshold"])?;
            let slow = r
                .get("slow")?
                .as_bool()
                .ok_or_else(|| format!("{reason_path}.slow: expected a boolean"))?;
            let span = match r.get("span_ms")? {
                v if v.is_null() => Span::Calls,
                v => Span::Millis(v.as_u64().ok_or_else(|| {
                    format!("{reason_path}.span_ms: expected an integer or null")
                })?),
            };
            let threshold = r
                .get("threshold")?
                .as_milli()
                .ok_or_else(|| format!("{reason_path}.threshold: expected a number"))?;
            let threshold = Milli(threshold);
            Reason::Rate {
                slow,
                span,
                bad: r.u64("bad")?,
                calls: r.u64("calls")?,
                threshold,
            }
        }
        "probe_lease_expired" => Reason::ProbeLeaseExpired {
            ms: ro(&["kind", "ms"])?.u64("ms")?,
        },
        "half_open_limit" => Reason::HalfOpenLimit {
            ms: ro(&["kind", "ms"])?.u64("ms")?,
        },
        "probes_succeeded" => {
            let r = ro(&["kind", "successes", "threshold"])?;
            Reason::ProbesSucceeded {
                successes: r.u64("successes")?,
                threshold: r.u64("threshold")?,
            }
        }
        "fixture" => ro(&["kind"]).map(|_| Reason::Fixture)?,
        "reset" => ro(&["kind"]).map(|_| Reason::Reset)?,
        "transition" => ro(&["kind"]).map(|_| Reason::Operator)?,
        "peer" => ro(&["kind", "peer", "reason"]).map(|_| Reason::Peer)?,
        "initial" => ro(&["kind"]).map(|_| Reason::Initial)?,
        "isolated" => ro(&["kind"]).map(|_| Reason::Isolated)?,
        "released" => ro(&["kind"]).map(|_| Reason::Released)?,
        "trial_failed" | "trial_passed" => trial_reason(kind, r, &reason_path)?,
        "forced" => Reason::Forced(match &*ro(&["kind", "mode"])?.str("mode")? {
            "open" => ForceMode::Open,
            "closed" => ForceMode::Closed,
            "auto" => ForceMode::Auto,
            _ => return Err(format!("{reason_path}.mode: expected a force mode")),
        }),
        _ => return Err(format!("{reason_path}.kind: unknown reason")),
    })
}

/// The reasons of a half_open judged by rate, as a snapshot keeps them.
fn trial_reason(kind: &str, r: Raw, path: &str) -> Result<Reason, String> {
    if kind == "trial_passed" {
        let r = Obj::new(r, path.into(), &["kind", "failures", "slow", "calls"])?;
        return Ok(Reason::TrialPassed {
            failures: r.u64("failures")?,
            slow: r.u64("slow")?,
            calls: r.u64("calls")?,
        });
    }
    let r = Obj::new(
        r,
        path.into(),
        &["kind", "slow", "bad", "calls", "threshold"],
    )?;
    let slow = r.get("slow")?.as_bool();
    let threshold = r.get("threshold")?.as_milli();
    Ok(Reason::TrialFailed {
        slow: slow.ok_or_else(|| format!("{path}.slow: expected a boolean"))?,
        bad: r.u64("bad")?,
        calls: r.u64("calls")?,
        threshold: Milli(threshold.ok_or_else(|| format!("{path}.threshold: expected a number"))?),
    })
}

/// The fields of a half_open trial's reason, `kind` first.
fn trial_fields<S: SerializeStruct>(o: &mut S, reason: &Reason) -> Result<(), S::Error> {
    match *reason {
        Reason::TrialFailed {
            slow,
            bad,
            calls,
            threshold,
        } => {
            o.serialize_field("kind", "trial_failed")?;
            o.serialize_field("slow", &slow)?;
            o.serialize_field("bad", &bad)?;
            o.serialize_field("calls", &calls)?;
            o.serialize_field("threshold", &Decimal(threshold))
        }
        Reason::TrialPassed {
            failures,
            slow,
            calls,
        } => {
            o.serialize_field("kind", "trial_passed")?;
            o.serialize_field("failures", &failures)?;
            o.serialize_field("slow", &slow)?;
            o.serialize_field("calls", &calls)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_percentage_reads_as_the_exact_quotient_to_one_decimal() {
        let exact = |bad: u64, calls: u64| {
            let t = (u128::from(bad) * 2000 + u128::from(calls)) / (2 * u128::from(calls.max(1)));
            format!("{}.{}", t / 10, t % 10)
        };
        let cases = [
            (0, 0),
            (1, 3),
            (2, 3),
            (1, 8),
            (5, 10),
            (u64::MAX, u64::MAX),
            (u64::MAX, 1),
            (u64::MAX / 7, 3),
            (1 << 60, 1),
            (18_446_744_073_709_551, 1),
            (18_446_744_073_709_552, 1),
        ];
        for (bad, calls) in cases {
            assert_eq!(
                super::tenths(bad, calls),
                exact(bad, calls),
                "{bad} of {calls}"
            );
        }
        assert_eq!(super::tenths(u64::MAX, 1), "1844674407370955161500.0");
    }
}
