//! From a parsed document to a typed [`Request`]: every field checked, every refusal naming the
//! field it is about.

use std::borrow::Cow;

use super::json::Value;
use crate::breaker::{Attempts, Field, ForceMode, MAX_SAFE, Outcome, Patch, StateName};
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
        None => Err(format!("missing field {key:?}")),
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
            _ => Err(format!("msg_id: expected an integer from 0 to {MAX_SAFE}, found {}; message not applied", show(v))),
        },
    }
}

/// The body as a typed request. `dest` names the breaker of traffic messages without `service`.
pub fn request<'v>(body: &'v Value<'_>, dest: &'v str) -> Result<Request<'v>, Refusal> {
    let kind = match body.get("type") {
        Some(Value::String(s)) => &**s,
        Some(other) => return Err(Refusal::field("type", &format!("a string, found {}", other.kind()))),
        None => return Err(Refusal::Field("type: missing".into())),
    };
    #[cfg(feature = "test-trap")]
    if kind == "test_trap" {
        panic!("test_trap: a failure on request (test-trap feature)");
    }
    let fields = Fields(body);
    Ok(match kind {
        "init" => Request::Init,
        "call" => Request::Call { service: fields.traffic_service(dest)?, fixture: call_fixture(&fields)? },
        "acquire" => Request::Acquire { service: fields.traffic_service(dest)? },
        "record" => {
            let outcome = match fields.str("outcome")? {
                Some("success") => Outcome::Success,
                Some("failure") => Outcome::Failure,
                Some("ignored") => Outcome::Ignored,
                _ => return Err(Refusal::field("outcome", "one of \"success\", \"failure\", \"ignored\"")),
            };
            fields.duration()?;
            Request::Record {
                service: fields.traffic_service(dest)?,
                permit: fields.int("permit", MAX_SAFE)?.ok_or_else(|| Refusal::Field("permit: missing".into()))?,
                outcome,
            }
        }
        "status" => Request::Status { service: fields.admin_service()? },
        "reset" => Request::Reset { service: fields.admin_service()? },
        "configure" => Request::Configure { service: fields.admin_service()?, change: config_change(body.get("config"))? },
        "force" => {
            let mode = match fields.str("mode")? {
                Some("open") => ForceMode::Open,
                Some("closed") => ForceMode::Closed,
                Some("auto") => ForceMode::Auto,
                _ => return Err(Refusal::field("mode", "one of \"open\", \"closed\", \"auto\"")),
            };
            Request::Force { service: fields.admin_service()?, mode }
        }
        "events" => Request::Events { service: fields.admin_service()?, after: fields.int("after", u64::MAX)?.unwrap_or(0) },
        "snapshot" => Request::Snapshot,
        "restore" => match body.get("snapshot") {
            Some(v) => Request::Restore(Box::new(super::snapshot::decode(v).map_err(Refusal::Field)?)),
            None => return Err(Refusal::Field("snapshot: missing".into())),
        },
        "advance_clock" => match fields.int("ms", u64::MAX)? {
            Some(ms) => Request::AdvanceClock { ms },
            None => return Err(Refusal::Field("ms: missing".into())),
        },
        other => return Err(Refusal::Unknown(format!("unknown message type {other:?}"))),
    })
}

fn call_fixture(fields: &Fields) -> Result<CallFixture, Refusal> {
    let state = match fields.str("state")? {
        None => None,
        Some("closed") => Some(StateName::Closed),
        Some("open") => Some(StateName::Open),
        Some("half_open") => Some(StateName::HalfOpen),
        Some(_) => return Err(Refusal::field("state", "one of \"closed\", \"open\", \"half_open\"")),
    };
    let failures = fields.int("force_failures", MAX_SAFE)?;
    let success = match fields.0.get("force_success") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(v) => return Err(Refusal::field("force_success", &format!("a boolean, found {}", v.kind()))),
    };
    fields.duration()?;
    let attempts = match (failures, success) {
        (Some(n), Some(true)) if n > 0 => {
            return Err(Refusal::Field("force_failures, force_success: conflicting fields (a call either fails or succeeds)".into()));
        }
        (Some(n), _) if n > 0 => Attempts::Failures(n),
        _ => Attempts::Success,
    };
    let uses_fixtures = state.is_some() || failures.is_some() || success.is_some();
    Ok(CallFixture { state, attempts, uses_fixtures })
}

/// `config` of a `configure`: known fields only, each an integer in range or `null` (back to the
/// layer below).
fn config_change(config: Option<&Value>) -> Result<ConfigChange, Refusal> {
    let Some(Value::Object(members)) = config else {
        return Err(match config {
            None => Refusal::Field("config: missing".into()),
            Some(v) => Refusal::field("config", &format!("an object, found {}", v.kind())),
        });
    };
    let mut change = ConfigChange::default();
    for (key, value) in members {
        let Some(field) = Field::from_name(key) else {
            return Err(Refusal::Field(format!("config.{key}: unknown config field")));
        };
        let value = match value {
            Value::Null => None,
            v => Some(v.as_u64().filter(|n| (1..=MAX_SAFE).contains(n)).ok_or_else(|| {
                Refusal::Field(format!("config.{key}: expected an integer from 1 to {MAX_SAFE}, found {}", show(v)))
            })?),
        };
        match value {
            Some(_) => change.set.set(field, value).map_err(|e| Refusal::Field(format!("config.{e}")))?,
            None => change.cleared.push(field),
        }
    }
    Ok(change)
}

/// Decodes a config object holding every field (as in a snapshot's defaults) or some (an
/// override), for the snapshot reader.
pub fn config_patch(value: &Value, path: &str) -> Result<Patch, String> {
    let Value::Object(members) = value else {
        return Err(format!("{path}: expected an object"));
    };
    let mut patch = Patch::default();
    for (key, v) in members {
        let field = Field::from_name(key).ok_or_else(|| format!("{path}.{key}: unknown config field"))?;
        let n = v.as_u64().filter(|n| (1..=MAX_SAFE).contains(n));
        let n = n.ok_or_else(|| format!("{path}.{key}: expected an integer from 1 to {MAX_SAFE}"))?;
        patch.set(field, Some(n)).expect("checked above");
    }
    Ok(patch)
}

/// Typed access to a body's optional fields.
struct Fields<'v, 'a>(&'v Value<'a>);

impl<'v> Fields<'v, '_> {
    fn str(&self, key: &str) -> Result<Option<&'v str>, Refusal> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(Refusal::field(key, &format!("a string, found {}", v.kind()))),
        }
    }

    /// An optional integer field in `0..=max`.
    fn int(&self, key: &str, max: u64) -> Result<Option<u64>, Refusal> {
        match self.0.get(key) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n <= max => Ok(Some(n)),
                _ => Err(Refusal::Field(format!("{key}: expected an integer from 0 to {max}, found {}", show(v)))),
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
    Refusal::Field(format!("{field}: a service name is 1 to {MAX_SERVICE_BYTES} bytes of UTF-8"))
}

/// A short rendering of a value for error messages.
fn show(v: &Value) -> Cow<'static, str> {
    match v {
        Value::Number(n) if n.len() <= 40 => Cow::Owned((*n).to_string()),
        other => Cow::Borrowed(other.kind()),
    }
}
