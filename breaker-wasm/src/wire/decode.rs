//! From a parsed document to a typed [`Request`]: every field checked, every refusal naming the
//! field it is about.

use std::borrow::Cow;

use super::config::config_change;
use super::raw::{Members, Node};
use super::values::quote;
use crate::breaker::{Attempts, ForceMode, MAX_SAFE, Outcome, StateName};
use crate::node::image::valid_service;
use crate::node::{CallFixture, MAX_SERVICE_BYTES, OpenFor, Request};

/// The envelope of a message: who sent it, to whom, and the body's members.
pub struct Envelope<'a> {
    pub src: Cow<'a, str>,
    pub dest: Cow<'a, str>,
    pub body: Members<'a>,
}

/// Why a document is not a message at all (reported on the diagnostics channel).
pub type Malformed = String;

/// Why a message's body was refused: the protocol error code and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Code 10: an unknown `type`.
    Unknown(String),
    /// Code 12: a missing, wrong-typed or out-of-range field.
    Field(String),
}

impl Refusal {
    pub fn field(field: &str, expected: &str) -> Refusal {
        Refusal::Field(format!("{field}: expected {expected}"))
    }
}

/// Splits a document into its envelope.
pub fn envelope(doc: Node<'_>) -> Result<Envelope<'_>, Malformed> {
    let doc = match doc {
        Node::Object(members) => members,
        Node::Other(kind) => return Err(format!("expected a message object, found {kind}")),
    };
    let text = |key: &str| match doc.get(key) {
        Some(v) => v
            .as_str()
            .ok_or_else(|| format!("{key}: expected a string, found {}", v.kind())),
        None => Err(format!("missing field {}", quote(key))),
    };
    let src = text("src")?;
    let dest = text("dest")?;
    match doc.body.map(|body| *body) {
        Some(Node::Object(body)) => Ok(Envelope { src, dest, body }),
        Some(Node::Other(kind)) => Err(format!("body: expected an object, found {kind}")),
        None => Err("missing field \"body\"".to_string()),
    }
}

/// The body's `msg_id`: `Ok(None)` when absent, `Err` when present but unusable (the message
/// is then not applied).
pub fn msg_id(body: &Members) -> Result<Option<u64>, Malformed> {
    match body.get("msg_id") {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(id) if id <= MAX_SAFE => Ok(Some(id)),
            _ => Err(format!(
                "msg_id: expected an integer from 0 to {MAX_SAFE}, found {}; message not applied",
                v.show()
            )),
        },
    }
}

/// The body as a typed request. `dest` names the breaker of traffic messages without `service`.
pub fn request<'v>(
    body: &'v Members<'v>,
    service: &'v Service<'v>,
    dest: &'v str,
) -> Result<Request<'v>, Refusal> {
    let fields = Fields(body, service);
    let kind = match fields.str("type")? {
        Some(kind) => kind,
        None => return Err(Refusal::Field("type: missing".into())),
    };
    #[cfg(feature = "test-trap")]
    if kind == "test_trap" {
        panic!("test_trap: a failure on request (test-trap feature)");
    }
    Ok(match &*kind {
        "call" => Request::Call {
            service: fields.traffic_service(dest)?,
            fixture: call_fixture(&fields)?,
            error: fields.str("error")?,
        },
        "acquire" => Request::Acquire {
            service: fields.traffic_service(dest)?,
        },
        "record" => {
            let outcome = match fields.str("outcome")?.as_deref() {
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
                error: fields.str("error")?,
            }
        }
        _ => return admin(&kind, &fields, body),
    })
}

/// `transition`: one breaker (`service` required) to `to`, an open period of `for_ms` or
/// `until_ms` when given.
fn transition<'v>(fields: &Fields<'v>) -> Result<Request<'v>, Refusal> {
    let Some(service) = fields.admin_service()? else {
        return Err(Refusal::Field("service: missing".into()));
    };
    let to = match fields.str("to")?.as_deref() {
        Some("closed") => StateName::Closed,
        Some("open") => StateName::Open,
        Some("half_open") => StateName::HalfOpen,
        _ => {
            return Err(Refusal::field(
                "to",
                r#"one of "closed", "open", "half_open""#,
            ));
        }
    };
    let open = match (
        fields.int("for_ms", MAX_SAFE)?,
        fields.int("until_ms", u64::MAX)?,
    ) {
        (Some(_), Some(_)) => {
            return Err(Refusal::Field(
                "for_ms, until_ms: conflicting fields (give one)".into(),
            ));
        }
        (Some(0), None) => return Err(Refusal::field("for_ms", "at least 1")),
        (Some(ms), None) => Some(OpenFor::Ms(ms)),
        (None, Some(t)) => Some(OpenFor::Until(t)),
        (None, None) => None,
    };
    if open.is_some() && to != StateName::Open {
        let text = r#"for_ms, until_ms: only with "to":"open""#;
        return Err(Refusal::Field(text.into()));
    }
    Ok(Request::Transition { service, to, open })
}

/// The admin messages (and `init`); `kind` is the body's `type`.
fn admin<'v>(
    kind: &str,
    fields: &Fields<'v>,
    body: &'v Members<'v>,
) -> Result<Request<'v>, Refusal> {
    Ok(match kind {
        "init" => Request::Init,
        "status" => match (fields.admin_service()?, fields.0.get("memory")) {
            (None, Some(memory)) if memory.as_bool() == Some(true) => Request::StatusWithMemory,
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
            let mode = match fields.str("mode")?.as_deref() {
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
        "transition" => transition(fields)?,
        "isolate" | "release" => match fields.admin_service()? {
            Some(service) => Request::Isolate {
                service,
                release: kind == "release",
            },
            None => return Err(Refusal::Field("service: missing".into())),
        },
        "events" => Request::Events {
            service: fields.admin_service()?,
            after: fields.int("after", u64::MAX)?.unwrap_or(0),
            settle: fields.flag("settle")?.unwrap_or(true),
        },
        "snapshot" => Request::Snapshot,
        "metrics" => Request::Metrics,
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
            if let Some(request) = super::fleet::request(other, fields) {
                return request;
            }
            return Err(Refusal::Unknown(format!(
                "unknown message type {}",
                quote(other)
            )));
        }
    })
}

fn call_fixture(fields: &Fields) -> Result<CallFixture, Refusal> {
    let state = match fields.str("state")?.as_deref() {
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
        Some(v) if v.as_bool().is_some() => v.as_bool(),
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

/// The body's `service`, unescaped: requests borrow it.
pub type Service<'a> = Result<Option<Cow<'a, str>>, Refusal>;

/// Reads the body's `service` field (see [`Service`]).
pub fn service<'a>(body: &Members<'a>) -> Service<'a> {
    match body.get("service") {
        None => Ok(None),
        Some(v) => match v.as_str() {
            Some(s) => Ok(Some(s)),
            None => Err(Refusal::field(
                "service",
                &format!("a string, found {}", v.kind()),
            )),
        },
    }
}

/// Typed access to a body's optional fields, with its `service` already read.
pub(super) struct Fields<'v>(&'v Members<'v>, &'v Service<'v>);

impl<'v> Fields<'v> {
    pub(super) fn str(&self, key: &str) -> Result<Option<Cow<'v, str>>, Refusal> {
        match self.0.get(key) {
            None => Ok(None),
            Some(v) => match v.as_str() {
                Some(s) => Ok(Some(s)),
                None => Err(Refusal::field(
                    key,
                    &format!("a string, found {}", v.kind()),
                )),
            },
        }
    }

    /// An optional integer field in `0..=max`.
    pub(super) fn int(&self, key: &str, max: u64) -> Result<Option<u64>, Refusal> {
        match self.0.get(key) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n <= max => Ok(Some(n)),
                _ => Err(Refusal::Field(format!(
                    "{key}: expected an integer from 0 to {max}, found {}",
                    v.show()
                ))),
            },
        }
    }

    /// An optional boolean field.
    pub(super) fn flag(&self, key: &str) -> Result<Option<bool>, Refusal> {
        match self.0.get(key) {
            None => Ok(None),
            Some(v) => match v.as_bool() {
                Some(b) => Ok(Some(b)),
                None => Err(Refusal::field(
                    key,
                    &format!("a boolean, found {}", v.kind()),
                )),
            },
        }
    }

    fn duration(&self) -> Result<Option<u64>, Refusal> {
        self.int("duration_ms", MAX_SAFE)
    }

    fn service(&self) -> Result<Option<&'v str>, Refusal> {
        match self.1 {
            Err(e) => Err(e.clone()),
            Ok(Some(s)) if !valid_service(s) => Err(bad_service("service")),
            Ok(s) => Ok(s.as_deref()),
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
    pub(super) fn admin_service(&self) -> Result<Option<&'v str>, Refusal> {
        self.service()
    }
}

fn bad_service(field: &str) -> Refusal {
    Refusal::Field(format!(
        "{field}: a service name is 1 to {MAX_SERVICE_BYTES} bytes of UTF-8"
    ))
}
