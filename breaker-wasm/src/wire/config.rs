//! Config objects on the wire: `configure`'s change, a snapshot's defaults and overrides, each
//! field checked against its range and named by its path when refused.

use super::decode::Refusal;
use super::raw::{Members, Raw};
use crate::breaker::config::MAX_WINDOW_SIZE;
use crate::breaker::{
    Backoff, Field, HalfOpenBudget, MAX_SAFE, Milli, Patch, Setting, StateName, Window,
};
use crate::node::ConfigChange;

/// `config` of a `configure`: known fields only, each in range, or `null` (back to the layer
/// below).
pub fn config_change(config: Option<Raw>) -> Result<ConfigChange, Refusal> {
    let Some(members) = config.and_then(|c| c.members()) else {
        return Err(match config {
            None => Refusal::Field("config: missing".into()),
            Some(v) => Refusal::field("config", &format!("an object, found {}", v.kind())),
        });
    };
    let mut change = ConfigChange::default();
    for (key, value) in &members.items {
        let path = format!("config.{key}");
        let Some(field) = Field::from_name(key) else {
            return Err(Refusal::Field(format!("{path}: unknown config field")));
        };
        if value.is_null() {
            change.cleared.push(field);
        } else {
            let value = setting(field, *value, &path).map_err(Refusal::Field)?;
            change.set.set(field, Some(value));
        }
    }
    Ok(change)
}

/// Decodes a config object as a snapshot holds it: every field for the defaults, some for an
/// override; `slow_call_ms` may be `null` (off).
pub fn config_patch(value: Raw, path: &str) -> Result<Patch, String> {
    let Some(members) = value.members() else {
        return Err(format!("{path}: expected an object"));
    };
    let mut patch = Patch::default();
    for (key, v) in &members.items {
        let field =
            Field::from_name(key).ok_or_else(|| format!("{path}.{key}: unknown config field"))?;
        let value = match field {
            Field::SlowCallMs | Field::HalfOpenMaxMs | Field::IntervalMs if v.is_null() => {
                Setting::OptInt(None)
            }
            Field::HalfOpenFailureRate if v.is_null() => Setting::OptRate(None),
            _ => setting(field, *v, &format!("{path}.{key}"))?,
        };
        patch.set(field, Some(value));
    }
    Ok(patch)
}

/// One config field's value, checked against its range; errors name `path`.
pub fn setting(field: Field, v: Raw, path: &str) -> Result<Setting, String> {
    match field {
        Field::Window => window(v, path).map(Setting::Window),
        Field::Backoff => backoff(v, path).map(Setting::Backoff),
        Field::SlowCallMs | Field::HalfOpenMaxMs | Field::IntervalMs => {
            int(v, path, 1, MAX_SAFE).map(|n| Setting::OptInt(Some(n)))
        }
        Field::HalfOpenBudget => match v.as_str().as_deref() {
            Some("in_flight") => Ok(Setting::Budget(HalfOpenBudget::InFlight)),
            Some("period") => Ok(Setting::Budget(HalfOpenBudget::Period)),
            _ => Err(format!(
                r#"{path}: expected "in_flight" or "period", found {}"#,
                v.show()
            )),
        },
        Field::InitialState => match v.as_str().as_deref() {
            Some("closed") => Ok(Setting::Target(StateName::Closed)),
            Some("open") => Ok(Setting::Target(StateName::Open)),
            Some("half_open") => Ok(Setting::Target(StateName::HalfOpen)),
            _ => Err(format!(
                r#"{path}: expected "closed", "open" or "half_open", found {}"#,
                v.show()
            )),
        },
        Field::HalfOpenExpiry => match v.as_str().as_deref() {
            Some("open") => Ok(Setting::Target(StateName::Open)),
            Some("closed") => Ok(Setting::Target(StateName::Closed)),
            _ => Err(format!(
                r#"{path}: expected "open" or "closed", found {}"#,
                v.show()
            )),
        },
        Field::SlowCallRate => rate(v, path).map(Setting::Rate),
        Field::HalfOpenFailureRate => rate(v, path).map(|r| Setting::OptRate(Some(r))),
        Field::MetricsOnly => v
            .as_bool()
            .map(Setting::Flag)
            .ok_or_else(|| format!("{path}: expected true or false, found {}", v.show())),
        _ => int(v, path, 1, MAX_SAFE).map(Setting::Int),
    }
}

fn int(v: Raw, path: &str, min: u64, max: u64) -> Result<u64, String> {
    v.as_u64()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            format!(
                "{path}: expected an integer from {min} to {max}, found {}",
                v.show()
            )
        })
}

/// A percentage in (0, 100], to three decimal places.
fn rate(v: Raw, path: &str) -> Result<Milli, String> {
    decimal(
        v,
        path,
        1,
        100_000,
        "a number above 0 and at most 100 (three decimals at most)",
    )
}

/// A decimal number in `min..=max` thousandths.
fn decimal(v: Raw, path: &str, min: u64, max: u64, expected: &str) -> Result<Milli, String> {
    v.as_milli()
        .filter(|m| (min..=max).contains(m))
        .map(Milli)
        .ok_or_else(|| format!("{path}: expected {expected}, found {}", v.show()))
}

/// The members of a sub-object, refusing keys outside `allowed`.
fn sub_object<'a>(v: Raw<'a>, path: &str, allowed: &[&str]) -> Result<Members<'a>, String> {
    let Some(members) = v.members() else {
        return Err(format!("{path}: expected an object, found {}", v.kind()));
    };
    match members.items.iter().find(|(k, _)| !allowed.contains(&&**k)) {
        Some((key, _)) => Err(format!("{path}.{key}: unknown field")),
        None => Ok(members),
    }
}

/// A `window` object: a whole new window, missing fields taking their defaults.
fn window(v: Raw, path: &str) -> Result<Window, String> {
    let members = v.members().unwrap_or_default();
    let kind = members.get("kind").and_then(|k| k.as_str());
    let kind = kind.as_deref();
    let v_get = |key: &str| members.get(key);
    let sub = |key: &str| format!("{path}.{key}");
    let int_or = |key: &str, default: u64, max: u64| match v_get(key) {
        Some(x) => int(x, &sub(key), 1, max),
        None => Ok(default),
    };
    let rate_or = |key: &str, default: Milli| match v_get(key) {
        Some(x) => rate(x, &sub(key)),
        None => Ok(default),
    };
    match kind {
        Some("consecutive") => {
            sub_object(v, path, &["kind"])?;
            Ok(Window::Consecutive)
        }
        Some("count") => {
            sub_object(v, path, &["kind", "size", "minimum_calls", "failure_rate"])?;
            let Window::Count {
                size,
                minimum_calls,
                failure_rate,
            } = Window::COUNT_DEFAULT
            else {
                unreachable!()
            };
            Ok(Window::Count {
                size: int_or("size", size, MAX_WINDOW_SIZE)?,
                minimum_calls: int_or("minimum_calls", minimum_calls, MAX_SAFE)?,
                failure_rate: rate_or("failure_rate", failure_rate)?,
            })
        }
        Some("time") => {
            sub_object(
                v,
                path,
                &["kind", "size_ms", "minimum_calls", "failure_rate"],
            )?;
            let Window::Time {
                size_ms,
                minimum_calls,
                failure_rate,
            } = Window::TIME_DEFAULT
            else {
                unreachable!()
            };
            Ok(Window::Time {
                size_ms: int_or("size_ms", size_ms, MAX_SAFE)?,
                minimum_calls: int_or("minimum_calls", minimum_calls, MAX_SAFE)?,
                failure_rate: rate_or("failure_rate", failure_rate)?,
            })
        }
        _ if v.members().is_none() => {
            Err(format!("{path}: expected an object, found {}", v.kind()))
        }
        _ => Err(format!(
            "{}: expected one of \"consecutive\", \"count\", \"time\"",
            sub("kind")
        )),
    }
}

/// A `backoff` object: a whole new backoff, missing fields taking their defaults.
fn backoff(v: Raw, path: &str) -> Result<Backoff, String> {
    let members = sub_object(v, path, &["multiplier", "max_open_ms", "jitter"])?;
    let v = &members;
    let defaults = Backoff::default();
    let number = |key: &str, default: Milli, min: u64, max: u64, range: &str| match v.get(key) {
        None => Ok(default),
        Some(x) => decimal(x, &format!("{path}.{key}"), min, max, range),
    };
    Ok(Backoff {
        multiplier: number(
            "multiplier",
            defaults.multiplier,
            1000,
            1_000_000_000,
            "a number from 1 to 1000000 (three decimals at most)",
        )?,
        max_open_ms: match v.get("max_open_ms") {
            Some(x) => int(x, &format!("{path}.max_open_ms"), 1, MAX_SAFE)?,
            None => defaults.max_open_ms,
        },
        jitter: number(
            "jitter",
            defaults.jitter,
            0,
            1000,
            "a number from 0 to 1 (three decimals at most)",
        )?,
    })
}
