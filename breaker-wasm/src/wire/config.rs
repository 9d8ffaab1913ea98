//! Config objects on the wire: `configure`'s change, a snapshot's defaults and overrides. Each
//! value is checked by the core's rules (`breaker::validate`); a refusal names it by its JSON
//! path and quotes what was sent.

use super::decode::Refusal;
use super::raw::{Members, Raw};
use crate::breaker::validate::{ConfigError, Key};
use crate::breaker::{Backoff, Field, HalfOpenBudget, Milli, Patch, Setting, StateName, Window};
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
            integer(v, path, Key::Field(field)).map(|n| Setting::OptInt(Some(n)))
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
        Field::SlowCallRate => decimal(v, path, Key::Field(field)).map(Setting::Rate),
        Field::HalfOpenFailureRate => {
            decimal(v, path, Key::Field(field)).map(|r| Setting::OptRate(Some(r)))
        }
        Field::MetricsOnly => v
            .as_bool()
            .map(Setting::Flag)
            .ok_or_else(|| format!("{path}: expected true or false, found {}", v.show())),
        _ => integer(v, path, Key::Field(field)).map(Setting::Int),
    }
}

/// A whole number, if the setting `key` takes it.
fn integer(v: Raw, path: &str, key: Key) -> Result<u64, String> {
    key.integer(v.as_u64()).map_err(|e| refusal(e, path, v))
}

/// A decimal number (thousandths), if the setting `key` takes it.
fn decimal(v: Raw, path: &str, key: Key) -> Result<Milli, String> {
    key.decimal(v.as_milli().map(Milli))
        .map_err(|e| refusal(e, path, v))
}

/// The text of a refusal: the path, the rule in the protocol's words, and what was sent.
fn refusal(e: ConfigError, path: &str, v: Raw) -> String {
    let expected = match e {
        ConfigError::Integer { min, max, .. } => format!("an integer from {min} to {max}"),
        ConfigError::Percentage { .. } => {
            "a number above 0 and at most 100 (three decimals at most)".into()
        }
        ConfigError::Multiplier { .. } => {
            "a number from 1 to 1000000 (three decimals at most)".into()
        }
        ConfigError::Fraction { .. } => "a number from 0 to 1 (three decimals at most)".into(),
    };
    format!("{path}: expected {expected}, found {}", v.show())
}

/// The JSON name of a setting inside `window` or `backoff`.
fn member_name(key: Key) -> &'static str {
    match key {
        Key::Field(field) => field.name(),
        Key::WindowSize => "size",
        Key::WindowSizeMs => "size_ms",
        Key::WindowMinimumCalls => "minimum_calls",
        Key::WindowFailureRate => "failure_rate",
        Key::BackoffMultiplier => "multiplier",
        Key::BackoffMaxOpenMs => "max_open_ms",
        Key::BackoffJitter => "jitter",
    }
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
    let int_or = |key: Key, default: u64| match members.get(member_name(key)) {
        Some(x) => integer(x, &format!("{path}.{}", member_name(key)), key),
        None => Ok(default),
    };
    let rate_or = |key: Key, default: Milli| match members.get(member_name(key)) {
        Some(x) => decimal(x, &format!("{path}.{}", member_name(key)), key),
        None => Ok(default),
    };
    match kind.as_deref() {
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
                size: int_or(Key::WindowSize, size)?,
                minimum_calls: int_or(Key::WindowMinimumCalls, minimum_calls)?,
                failure_rate: rate_or(Key::WindowFailureRate, failure_rate)?,
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
                size_ms: int_or(Key::WindowSizeMs, size_ms)?,
                minimum_calls: int_or(Key::WindowMinimumCalls, minimum_calls)?,
                failure_rate: rate_or(Key::WindowFailureRate, failure_rate)?,
            })
        }
        _ if v.members().is_none() => {
            Err(format!("{path}: expected an object, found {}", v.kind()))
        }
        _ => Err(format!(
            "{path}.kind: expected one of \"consecutive\", \"count\", \"time\""
        )),
    }
}

/// A `backoff` object: a whole new backoff, missing fields taking their defaults.
fn backoff(v: Raw, path: &str) -> Result<Backoff, String> {
    let members = sub_object(v, path, &["multiplier", "max_open_ms", "jitter"])?;
    let defaults = Backoff::default();
    let at = |key: Key| format!("{path}.{}", member_name(key));
    Ok(Backoff {
        multiplier: match members.get("multiplier") {
            Some(x) => decimal(x, &at(Key::BackoffMultiplier), Key::BackoffMultiplier)?,
            None => defaults.multiplier,
        },
        max_open_ms: match members.get("max_open_ms") {
            Some(x) => integer(x, &at(Key::BackoffMaxOpenMs), Key::BackoffMaxOpenMs)?,
            None => defaults.max_open_ms,
        },
        jitter: match members.get("jitter") {
            Some(x) => decimal(x, &at(Key::BackoffJitter), Key::BackoffJitter)?,
            None => defaults.jitter,
        },
    })
}
