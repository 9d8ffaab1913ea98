//! The wire form of the core's small values, for serde: state and mode names, exact
//! fixed-point numbers, config objects and events. The core's types stay free of serde; these
//! borrowing wrappers give them their JSON shape.

use serde::ser::{Error as _, SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use super::reply::Body;
use crate::breaker::{
    Backoff, Config, ForceMode, Forced, HalfOpenBudget, Milli, Patch, Setting, StateName, Window,
    config::FIELDS,
};
use crate::node::{ErrorCode, Event, Refused};

pub fn state_name(s: StateName) -> &'static str {
    match s {
        StateName::Closed => "closed",
        StateName::Open => "open",
        StateName::HalfOpen => "half_open",
    }
}

pub fn mode_name(m: ForceMode) -> &'static str {
    match m {
        ForceMode::Open => "open",
        ForceMode::Closed => "closed",
        ForceMode::Auto => "auto",
    }
}

pub fn forced_name(f: Forced) -> &'static str {
    match f {
        Forced::Open => "open",
        Forced::Closed => "closed",
    }
}

/// `s` in double quotes, JSON-escaped: for names inside messages.
pub fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The code and text of a refusal. The flags named are `breaker-host`'s; the other hosts have
/// an option of the same meaning (ABI.md, `breaker_set_options`).
pub fn refusal(refused: &Refused) -> (ErrorCode, String) {
    match *refused {
        Refused::FixturesDisabled(what) => (
            ErrorCode::Malformed,
            format!("{what}: test fixtures are disabled on this node (--no-fixtures)"),
        ),
        Refused::SystemClock => (
            ErrorCode::NotSupported,
            "advance_clock: this node runs on the system clock (start it with --clock manual)"
                .to_string(),
        ),
        Refused::NotIsolated => (
            ErrorCode::Malformed,
            "service: not isolated (release needs a holder)".to_string(),
        ),
        Refused::NotAfterNow { now } => (
            ErrorCode::Malformed,
            format!("until_ms: expected a time after now_ms ({now})"),
        ),
        Refused::NodeWide(field) => (
            ErrorCode::Malformed,
            format!(
                "config.{}: a node-wide setting; configure it without a service",
                field.name()
            ),
        ),
    }
}

/// A state, as its name.
#[derive(Clone, Copy)]
pub struct State(pub StateName);

impl Serialize for State {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(state_name(self.0))
    }
}

/// A forced mode, as its name.
#[derive(Clone, Copy)]
pub struct Mode(pub ForceMode);

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(mode_name(self.0))
    }
}

/// The text of a number given in thousandths, always with a fraction so that a decimal field
/// reads as one: 50000 → `50.0`, 12500 → `12.5`, 1 → `0.001`. Written from the integers, so no
/// floating point is involved and every host gets the same digits.
pub fn milli_text(thousandths: u64) -> String {
    let frac = thousandths % 1000;
    let digits = format!("{frac:03}");
    let digits = match digits.trim_end_matches('0') {
        "" => "0",
        kept => kept,
    };
    format!("{}.{digits}", thousandths / 1000)
}

/// The value in thousandths, when it is a non-negative number with at most three decimal
/// places (`12.5` → 12500, `5e1` → 50000). Read exactly from the digits: serde_json would
/// round a decimal to the nearest `f64`, and fixed-point rates must not depend on that.
pub fn thousandths(text: &str) -> Option<u64> {
    if !matches!(text.as_bytes().first(), Some(b'0'..=b'9')) {
        return None;
    }
    let (mantissa, exp) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
    let exp: i64 = exp.strip_prefix('+').unwrap_or(exp).parse().ok()?;
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: String = [int, frac].concat();
    let digits = digits.trim_start_matches('0');
    // value = digits × 10^(exp − frac.len()); in thousandths, × 10^3 more.
    let shift = exp.checked_sub(frac.len() as i64)?.checked_add(3)?;
    if digits.is_empty() {
        return Some(0);
    }
    if shift < 0 {
        let cut = usize::try_from(-shift).ok()?;
        let (keep, dropped) = digits.split_at(digits.len().saturating_sub(cut));
        if cut > digits.len() || dropped.bytes().any(|b| b != b'0') {
            return None;
        }
        return if keep.is_empty() {
            Some(0)
        } else {
            keep.parse().ok()
        };
    }
    if digits.len() as i64 + shift > 19 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    n.checked_mul(10u64.checked_pow(shift as u32)?)
}

/// A fixed-point number, written exactly (see [`milli_text`]). serde_json writes a float with
/// the shortest digits that read back as the same `f64`; these numbers are decimals, so they
/// go out as their own digits (a raw JSON number).
#[derive(Clone, Copy)]
pub struct Decimal(pub Milli);

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = milli_text(self.0.0);
        let raw: &RawValue = serde_json::from_str(&text).map_err(S::Error::custom)?;
        raw.serialize(s)
    }
}

/// A whole config object, fields in the protocol's order.
pub struct ConfigObject<'a>(pub &'a Config);

impl Serialize for ConfigObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        let defaults = Config::default();
        for field in FIELDS {
            let value = field.get(self.0);
            if !field.optional_in_objects() || value != field.get(&defaults) {
                map.serialize_entry(field.name(), &Value(value))?;
            }
        }
        map.end()
    }
}

/// The fields a patch (a per-service override) sets, in the protocol's order.
pub struct PatchObject<'a>(pub &'a Patch);

impl Serialize for PatchObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (field, value) in self.0.fields() {
            map.serialize_entry(field.name(), &Value(value))?;
        }
        map.end()
    }
}

/// One config value.
pub struct Value(pub Setting);

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Setting::Int(n) | Setting::OptInt(Some(n)) => s.serialize_u64(n),
            Setting::OptInt(None) => s.serialize_none(),
            Setting::Rate(r) => Decimal(r).serialize(s),
            Setting::Window(w) => WindowObject(w).serialize(s),
            Setting::Backoff(b) => BackoffObject(b).serialize(s),
            Setting::Flag(b) => s.serialize_bool(b),
            Setting::Target(t) => State(t).serialize(s),
            Setting::OptRate(None) => s.serialize_none(),
            Setting::OptRate(Some(r)) => Decimal(r).serialize(s),
            Setting::Budget(HalfOpenBudget::InFlight) => s.serialize_str("in_flight"),
            Setting::Budget(HalfOpenBudget::Period) => s.serialize_str("period"),
        }
    }
}

/// A `window` object: `kind` first, then its own fields.
pub struct WindowObject(pub Window);

impl Serialize for WindowObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_struct("Window", 4)?;
        match self.0 {
            Window::Consecutive => o.serialize_field("kind", "consecutive")?,
            Window::Count {
                size,
                minimum_calls,
                failure_rate,
            } => {
                o.serialize_field("kind", "count")?;
                o.serialize_field("size", &size)?;
                o.serialize_field("minimum_calls", &minimum_calls)?;
                o.serialize_field("failure_rate", &Decimal(failure_rate))?;
            }
            Window::Time {
                size_ms,
                minimum_calls,
                failure_rate,
            } => {
                o.serialize_field("kind", "time")?;
                o.serialize_field("size_ms", &size_ms)?;
                o.serialize_field("minimum_calls", &minimum_calls)?;
                o.serialize_field("failure_rate", &Decimal(failure_rate))?;
            }
        }
        o.end()
    }
}

/// A `backoff` object.
pub struct BackoffObject(pub Backoff);

impl Serialize for BackoffObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_struct("Backoff", 3)?;
        o.serialize_field("multiplier", &Decimal(self.0.multiplier))?;
        o.serialize_field("max_open_ms", &self.0.max_open_ms)?;
        o.serialize_field("jitter", &Decimal(self.0.jitter))?;
        o.end()
    }
}

/// One event; `R` is its reason as the context shows it (text in `events`, structured in a
/// snapshot).
pub struct EventObject<'a, R> {
    pub event: &'a Event,
    pub reason: R,
}

impl<R: Serialize> Serialize for EventObject<'_, R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.event;
        let mut o = s.serialize_struct("Event", 6)?;
        o.serialize_field("seq", &e.seq)?;
        o.serialize_field("at_ms", &e.at)?;
        o.serialize_field("service", &*e.service)?;
        o.serialize_field("from", &State(e.from))?;
        o.serialize_field("to", &State(e.to))?;
        o.serialize_field("reason", &self.reason)?;
        o.end()
    }
}

/// The fields of `transition_ok`: `in_reply_to`, `service`, `state`.
pub struct Moved<'a>(pub u64, pub &'a str, pub StateName);

impl Serialize for Moved<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_struct("Moved", 3)?;
        o.serialize_field("in_reply_to", &self.0)?;
        o.serialize_field("service", self.1)?;
        o.serialize_field("state", &State(self.2))?;
        o.end()
    }
}

/// The fields of `isolate_ok` and `release_ok`: `in_reply_to`, `service`, `holders`.
pub struct Held<'a>(pub u64, pub &'a str, pub u64);

impl Serialize for Held<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_struct("Held", 3)?;
        o.serialize_field("in_reply_to", &self.0)?;
        o.serialize_field("service", self.1)?;
        o.serialize_field("holders", &self.2)?;
        o.end()
    }
}

/// `transition_ok`.
pub fn moved<'a>(id: u64, service: &'a str, state: StateName) -> Body<'a> {
    Body::TransitionOk(Moved(id, service, state))
}

/// `release_ok` when `release`, else `isolate_ok`.
pub fn held<'a>(id: u64, service: &'a str, release: bool, holders: u64) -> Body<'a> {
    match release {
        true => Body::ReleaseOk(Held(id, service, holders)),
        false => Body::IsolateOk(Held(id, service, holders)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousandths_are_written_as_decimals() {
        for (n, text) in [
            (50_000, "50.0"),
            (12_500, "12.5"),
            (1, "0.001"),
            (100_010, "100.01"),
            (0, "0.0"),
            (u64::MAX, "18446744073709551.615"),
        ] {
            assert_eq!(milli_text(n), text);
            assert_eq!(serde_json::to_string(&Decimal(Milli(n))).unwrap(), text);
        }
    }

    #[test]
    fn config_objects_keep_the_protocol_order() {
        let text = serde_json::to_string(&ConfigObject(&Config::default())).unwrap();
        assert_eq!(
            text,
            r#"{"failure_threshold":5,"open_timeout_ms":5000,"half_open_max_calls":1,"success_threshold":1,"window":{"kind":"consecutive"},"slow_call_ms":null,"slow_call_rate":100.0,"probe_timeout_ms":10000,"backoff":{"multiplier":1.0,"max_open_ms":300000,"jitter":0.0},"max_services":100000}"#
        );
    }
}
