//! From a parsed document to a typed [`Request`]: every field checked, every refusal naming the
//! field it is about.

use std::borrow::Cow;

use super::json::Value;
use super::write::quote;
use crate::breaker::config::MAX_WINDOW_SIZE;
use crate::breaker::{
    Attempts, Backoff, Field, ForceMode, MAX_SAFE, Milli, Outcome, Patch, Setting, StateName,
    Window,
};
use crate::node::image::valid_service;
use crate::node::{CallFixture, ConfigChange, MAX_SERVICE_BYTES, Request};

/// The envelope of a message: who sent it, to whom, and the body.
pub struct Envelope<'v, 'a> {
    pub src: &'v str,
    pub dest: &'v str,
    pub body: &'v Value<'a>,
}

/// Why a document is not a message at all (reported on the diagnostics channel).
pub type Malformed = String;

/// Why a message's body was refused: the protocol error code and its text.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Code 10: an unknown `type`.
    Unknown(String),
    /// Code 12: a missing, wrong-typed or out-of-range field.
    Field(String),
}

impl Refusal {
    fn field(field: &str, expected: &str) -> Refusal {
        Refusal::Field(format!("{field}: expected {expected}"))
    }
}

/// Splits a document into its envelope.
pub fn envelope<'v, 'a>(doc: &'v Value<'a>) -> Result<Envelope<'v, 'a>, Malformed> {
    if !matches!(doc, Value::Object(_)) {
        return Err(format!("expected a message object, found {}", doc.kind()));
    }
    let text = |key: &str| match doc.get(key) {
        Some(Value::String(s)) => Ok(&**s),
        Some(other) => Err(format!("{key}: expected a string, found {}", other.kind())),
        None => Err(format!("missing field {}", quote(key))),
    };
    let src = text("src")?;
    let dest = text("dest")?;
    match doc.get("body") {
        Some(body @ Value::Object(_)) => Ok(Envelope { src, dest, body }),
        Some(other) => Err(format!("body: expected an object, found {}", other.kind())),
        None => Err("missing field \"body\"".to_string()),
    }
}

/// The body's `msg_id`: `Ok(None)` when absent, `Err` when present but unusable (the message
/// is then not applied).
pub fn msg_id(body: &Value) -> Result<Option<u64>, Malformed> {
    match body.get("msg_id") {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(id) if id <= MAX_SAFE => Ok(Some(id)),
            _ => Err(format!(
                "msg_id: expected an integer from 0 to {MAX_SAFE}, found {}; message not applied",
                show(v)
            )),
        },
    }
}

/// The body as a typed request. `dest` names the breaker of traffic messages without `service`.
pub fn request<'v>(body: &'v Value<'_>, dest: &'v str) -> Result<Request<'v>, Refusal> {
    let kind = match body.get("type") {
        Some(Value::String(s)) => &**s,
        Some(other) => {
            return Err(Refusal::field(
                "type",
                &format!("a string, found {}", other.kind()),
            ));
        }
        None => return Err(Refusal::Field("type: missing".into())),
    };
    #[cfg(feature = "test-trap")]
    if kind == "test_trap" {
        panic!("test_trap: a failure on request (test-trap feature)");
    }
    let fields = Fields(body);
    Ok(match kind {
        "init" => Request::Init,
        "call" => Request::Call {
            service: fields.traffic_service(dest)?,
            fixture: call_fixture(&fields)?,
        },
        "acquire" => Request::Acquire {
            service: fields.traffic_service(dest)?,
        },
        "record" => {
            let outcome = match fields.str("outcome")? {
                Some("success") => Outcome::Success,
                Some("failure") => Outcome::Failure,
                Some("ignored") => Outcome::Ignored,
                _ => {
                    return Err(Refusal::field(
                        "outcome",
                        "one of \"success\", \"failure\", \"ignored\"",
                    ));
                }
            };
            Request::Record {
                service: fields.traffic_service(dest)?,
                permit: fields
                    .int("permit", MAX_SAFE)?
                    .ok_or_else(|| Refusal::Field("permit: missing".into()))?,
                outcome,
                duration_ms: fields.duration()?,
            }
        }
        "status" => match (fields.admin_service()?, fields.0.get("memory")) {
            (None, Some(Value::Bool(true))) => Request::StatusWithMemory,
            (service, _) => Request::Status { service },
        },
        "reset" => Request::Reset {
            service: fields.admin_service()?,
        },
        "configure" => Request::Configure {
            service: fields.admin_service()?,
            change: config_change(body.get("config"))?,
        },
        "force" => {
            let mode = match fields.str("mode")? {
                Some("open") => ForceMode::Open,
                Some("closed") => ForceMode::Closed,
                Some("auto") => ForceMode::Auto,
                _ => {
                    return Err(Refusal::field(
                        "mode",
                        "one of \"open\", \"closed\", \"auto\"",
                    ));
                }
            };
            Request::Force {
                service: fields.admin_service()?,
                mode,
            }
        }
        "events" => Request::Events {
            service: fields.admin_service()?,
            after: fields.int("after", u64::MAX)?.unwrap_or(0),
        },
        "snapshot" => Request::Snapshot,
        "restore" => match body.get("snapshot") {
            Some(v) => Request::Restore(Box::new(
                super::snapshot::decode(v).map_err(Refusal::Field)?,
            )),
            None => return Err(Refusal::Field("snapshot: missing".into())),
        },
        "advance_clock" => match fields.int("ms", u64::MAX)? {
            Some(ms) => Request::AdvanceClock { ms },
            None => return Err(Refusal::Field("ms: missing".into())),
        },
        other => {
            return Err(Refusal::Unknown(format!(
                "unknown message type {}",
                quote(other)
            )));
        }
    })
}

fn call_fixture(fields: &Fields) -> Result<CallFixture, Refusal> {
    let state = match fields.str("state")? {
        None => None,
        Some("closed") => Some(StateName::Closed),
        Some("open") => Some(StateName::Open),
        Some("half_open") => Some(StateName::HalfOpen),
        Some(_) => {
            return Err(Refusal::field(
                "state",
                "one of \"closed\", \"open\", \"half_open\"",
            ));
        }
    };
    let failures = fields.int("force_failures", MAX_SAFE)?;
    let success = match fields.0.get("force_success") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(v) => {
            return Err(Refusal::field(
                "force_success",
                &format!("a boolean, found {}", v.kind()),
            ));
        }
    };
    let duration_ms = fields.duration()?;
    let attempts = match (failures, success) {
        (Some(n), Some(true)) if n > 0 => {
            return Err(Refusal::Field("force_failures, force_success: conflicting fields (a call either fails or succeeds)".into()));
        }
        (Some(n), _) if n > 0 => Attempts::Failures(n),
        _ => Attempts::Success,
    };
    let uses_fixtures = state.is_some() || failures.is_some() || success.is_some();
    Ok(CallFixture {
        state,
        attempts,
        duration_ms,
        uses_fixtures,
    })
}

/// `config` of a `configure`: known fields only, each in range, or `null` (back to the layer
/// below).
fn config_change(config: Option<&Value>) -> Result<ConfigChange, Refusal> {
    let Some(Value::Object(members)) = config else {
        return Err(match config {
            None => Refusal::Field("config: missing".into()),
            Some(v) => Refusal::field("config", &format!("an object, found {}", v.kind())),
        });
    };
    let mut change = ConfigChange::default();
    for (key, value) in members {
        let path = format!("config.{key}");
        let Some(field) = Field::from_name(key) else {
            return Err(Refusal::Field(format!("{path}: unknown config field")));
        };
        match value {
            Value::Null => change.cleared.push(field),
            v => change.set.set(
                field,
                Some(setting(field, v, &path).map_err(Refusal::Field)?),
            ),
        }
    }
    Ok(change)
}

/// Decodes a config object as a snapshot holds it: every field for the defaults, some for an
/// override; `slow_call_ms` may be `null` (off).
pub fn config_patch(value: &Value, path: &str) -> Result<Patch, String> {
    let Value::Object(members) = value else {
        return Err(format!("{path}: expected an object"));
    };
    let mut patch = Patch::default();
    for (key, v) in members {
        let field =
            Field::from_name(key).ok_or_else(|| format!("{path}.{key}: unknown config field"))?;
        let value = match (field, v) {
            (Field::SlowCallMs, Value::Null) => Setting::OptInt(None),
            _ => setting(field, v, &format!("{path}.{key}"))?,
        };
        patch.set(field, Some(value));
    }
    Ok(patch)
}

/// One config field's value, checked against its range; errors name `path`.
pub fn setting(field: Field, v: &Value, path: &str) -> Result<Setting, String> {
    match field {
        Field::Window => window(v, path).map(Setting::Window),
        Field::Backoff => backoff(v, path).map(Setting::Backoff),
        Field::SlowCallMs => int(v, path, 1, MAX_SAFE).map(|n| Setting::OptInt(Some(n))),
        Field::SlowCallRate => rate(v, path).map(Setting::Rate),
        _ => int(v, path, 1, MAX_SAFE).map(Setting::Int),
    }
}

fn int(v: &Value, path: &str, min: u64, max: u64) -> Result<u64, String> {
    v.as_u64()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            format!(
                "{path}: expected an integer from {min} to {max}, found {}",
                show(v)
            )
        })
}

/// A percentage in (0, 100], to three decimal places.
fn rate(v: &Value, path: &str) -> Result<Milli, String> {
    decimal(
        v,
        path,
        1,
        100_000,
        "a number above 0 and at most 100 (three decimals at most)",
    )
}

/// A decimal number in `min..=max` thousandths.
fn decimal(v: &Value, path: &str, min: u64, max: u64, expected: &str) -> Result<Milli, String> {
    v.as_milli()
        .filter(|m| (min..=max).contains(m))
        .map(Milli)
        .ok_or_else(|| format!("{path}: expected {expected}, found {}", show(v)))
}

/// The members of a sub-object, refusing keys outside `allowed`.
fn sub_object<'v, 'a>(
    v: &'v Value<'a>,
    path: &str,
    allowed: &[&str],
) -> Result<&'v Value<'a>, String> {
    let Value::Object(members) = v else {
        return Err(format!("{path}: expected an object, found {}", v.kind()));
    };
    match members.iter().find(|(k, _)| !allowed.contains(&&**k)) {
        Some((key, _)) => Err(format!("{path}.{key}: unknown field")),
        None => Ok(v),
    }
}

/// A `window` object: a whole new window, missing fields taking their defaults.
fn window(v: &Value, path: &str) -> Result<Window, String> {
    let kind = v.get("kind").and_then(Value::as_str);
    let sub = |key: &str| format!("{path}.{key}");
    let int_or = |key: &str, default: u64, max: u64| match v.get(key) {
        Some(x) => int(x, &sub(key), 1, max),
        None => Ok(default),
    };
    let rate_or = |key: &str, default: Milli| match v.get(key) {
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
        _ if !matches!(v, Value::Object(_)) => {
            Err(format!("{path}: expected an object, found {}", v.kind()))
        }
        _ => Err(format!(
            "{}: expected one of \"consecutive\", \"count\", \"time\"",
            sub("kind")
        )),
    }
}

/// A `backoff` object: a whole new backoff, missing fields taking their defaults.
fn backoff(v: &Value, path: &str) -> Result<Backoff, String> {
    sub_object(v, path, &["multiplier", "max_open_ms", "jitter"])?;
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

/// Typed access to a body's optional fields.
struct Fields<'v, 'a>(&'v Value<'a>);

impl<'v> Fields<'v, '_> {
    fn str(&self, key: &str) -> Result<Option<&'v str>, Refusal> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(Refusal::field(
                key,
                &format!("a string, found {}", v.kind()),
            )),
        }
    }

    /// An optional integer field in `0..=max`.
    fn int(&self, key: &str, max: u64) -> Result<Option<u64>, Refusal> {
        match self.0.get(key) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n <= max => Ok(Some(n)),
                _ => Err(Refusal::Field(format!(
                    "{key}: expected an integer from 0 to {max}, found {}",
                    show(v)
                ))),
            },
        }
    }

    fn duration(&self) -> Result<Option<u64>, Refusal> {
        self.int("duration_ms", MAX_SAFE)
    }

    fn service(&self) -> Result<Option<&'v str>, Refusal> {
        match self.str("service")? {
            Some(s) if !valid_service(s) => Err(bad_service("service")),
            other => Ok(other),
        }
    }

    /// Traffic acts on `service`, or on the envelope's `dest`.
    fn traffic_service(&self, dest: &'v str) -> Result<&'v str, Refusal> {
        match self.service()? {
            Some(s) => Ok(s),
            None if valid_service(dest) => Ok(dest),
            None => Err(bad_service("dest")),
        }
    }

    /// Admin acts on `service` when given, and never falls back to `dest`.
    fn admin_service(&self) -> Result<Option<&'v str>, Refusal> {
        self.service()
    }
}

fn bad_service(field: &str) -> Refusal {
    Refusal::Field(format!(
        "{field}: a service name is 1 to {MAX_SERVICE_BYTES} bytes of UTF-8"
    ))
}

/// A short rendering of a value for error messages.
fn show(v: &Value) -> Cow<'static, str> {
    match v {
        Value::Number(n) if n.len() <= 40 => Cow::Owned((*n).to_string()),
        Value::String(s) if s.len() <= 40 => Cow::Owned(quote(s)),
        other => Cow::Borrowed(other.kind()),
    }
}
