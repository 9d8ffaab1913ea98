//! Replies on the wire: the core's [`Reply`] as a serde type whose fields are declared in the
//! protocol's key order, written compact by serde_json.

use std::borrow::Cow;

use serde::Serialize;

use super::figures::PolicyObject;
use super::parts::{
    CheckpointsObject, CountsObject, Events, MemoryObject, Services, TransitionObject,
};
use super::snapshot::SnapshotObject;
use super::traffic::FailureObject;
use super::values::{ConfigObject, Held, Mode, Moved, State, forced_name};
use crate::node::{MemoryUse, Reply, ServiceState};

/// `{"src":..,"dest":..,"body":{..}}`: one reply document.
#[derive(Serialize)]
pub struct Envelope<'a> {
    pub src: &'a str,
    pub dest: &'a str,
    pub body: Body<'a>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A reply body: `type` first, then `in_reply_to`, then the fields of that reply.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Body<'a> {
    InitOk {
        in_reply_to: u64,
    },
    /// A `call` rejected by the breaker: the task's own shape, without a code.
    #[serde(rename = "error")]
    CallRejected {
        in_reply_to: u64,
        error: &'static str,
        service: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        last_failure: Option<FailureObject<'a>>,
    },
    CircuitBreakerOpen {
        in_reply_to: u64,
        service: &'a str,
        failures: u64,
        #[serde(skip_serializing_if = "is_zero")]
        rejected: u64,
    },
    CircuitBreakerClosed {
        in_reply_to: u64,
        service: &'a str,
        state: State,
    },
    CallOk {
        in_reply_to: u64,
        service: &'a str,
        state: State,
    },
    CallFailed {
        in_reply_to: u64,
        service: &'a str,
        state: State,
        failures: u64,
    },
    AcquireOk {
        in_reply_to: u64,
        service: &'a str,
        state: State,
        permit: u64,
    },
    #[serde(rename = "error")]
    AcquireRejected {
        in_reply_to: u64,
        code: u64,
        text: &'static str,
        service: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        last_failure: Option<FailureObject<'a>>,
    },
    RecordOk {
        in_reply_to: u64,
        service: &'a str,
        state: State,
        #[serde(skip_serializing_if = "is_false")]
        stale: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        transition: Option<TransitionObject<'a>>,
    },
    #[serde(rename = "status_ok")]
    Status {
        in_reply_to: u64,
        service: &'a str,
        state: State,
        #[serde(skip_serializing_if = "Option::is_none")]
        forced: Option<&'static str>,
        failures: u64,
        counts: CountsObject,
        config: ConfigObject<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        last_failure: Option<FailureObject<'a>>,
        policy: PolicyObject,
    },
    #[serde(rename = "status_ok")]
    StatusAll {
        in_reply_to: u64,
        services: Services<'a>,
        evicted: u64,
        /// With `"memory":true`: the budget, and the host's checkpoints when it reported any.
        #[serde(skip_serializing_if = "Option::is_none")]
        memory: Option<MemoryObject>,
        #[serde(skip_serializing_if = "Option::is_none")]
        checkpoints: Option<CheckpointsObject>,
    },
    ResetOk {
        in_reply_to: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        service: Option<&'a str>,
    },
    ConfigureOk {
        in_reply_to: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        service: Option<&'a str>,
        config: ConfigObject<'a>,
    },
    ForceOk {
        in_reply_to: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        service: Option<&'a str>,
        mode: Mode,
        #[serde(skip_serializing_if = "Option::is_none")]
        state: Option<State>,
    },
    TransitionOk(Moved<'a>),
    PeerTransitionOk(Moved<'a>),
    FleetLeaseOk(super::fleet::LeaseObject<'a>),
    FleetOutboxOk(super::fleet::OutboxObject<'a>),
    IsolateOk(Held<'a>),
    ReleaseOk(Held<'a>),
    EventsOk {
        in_reply_to: u64,
        events: Events<'a>,
    },
    MetricsOk {
        in_reply_to: u64,
        text: &'a str,
    },
    SnapshotOk {
        in_reply_to: u64,
        snapshot: SnapshotObject<'a>,
    },
    RestoreOk {
        in_reply_to: u64,
        services: usize,
    },
    AdvanceClockOk {
        in_reply_to: u64,
        now_ms: u64,
    },
    Error {
        in_reply_to: u64,
        code: u64,
        text: Cow<'a, str>,
    },
}

impl<'a> Body<'a> {
    /// The body of the reply `reply` to the message `in_reply_to`.
    pub fn of(in_reply_to: u64, reply: &'a Reply<'a>) -> Body<'a> {
        let id = in_reply_to;
        match reply {
            Reply::InitOk => Body::InitOk { in_reply_to: id },
            Reply::Call { .. }
            | Reply::Acquired { .. }
            | Reply::AcquireRejected { .. }
            | Reply::Recorded { .. } => super::traffic::body(id, reply),
            Reply::Status {
                service,
                view,
                config,
            } => status_one(id, service, view, config),
            Reply::StatusAll { services, evicted } => status_all(id, services, *evicted, None),
            Reply::StatusAllWithMemory {
                services,
                evicted,
                memory,
            } => status_all(id, services, *evicted, Some(memory)),
            Reply::ResetOk { service } => Body::ResetOk {
                in_reply_to: id,
                service: *service,
            },
            Reply::ConfigureOk { service, config } => Body::ConfigureOk {
                in_reply_to: id,
                service: *service,
                config: ConfigObject(config),
            },
            Reply::ForceOk { service, mode } => Body::ForceOk {
                in_reply_to: id,
                service: service.map(|(s, _)| s),
                mode: Mode(*mode),
                state: service.map(|(_, state)| State(state)),
            },
            Reply::IsolateOk(s, r, h) => super::values::held(id, s, *r, *h),
            Reply::TransitionOk { service, state } => super::values::moved(id, service, *state),
            Reply::Events(events) => Body::EventsOk {
                in_reply_to: id,
                events: Events(events),
            },
            Reply::Metrics(text) => Body::MetricsOk {
                in_reply_to: id,
                text,
            },
            Reply::SnapshotOk(image) => Body::SnapshotOk {
                in_reply_to: id,
                snapshot: SnapshotObject(image),
            },
            Reply::RestoreOk { services } => Body::RestoreOk {
                in_reply_to: id,
                services: *services,
            },
            Reply::AdvanceClockOk { now_ms } => Body::AdvanceClockOk {
                in_reply_to: id,
                now_ms: *now_ms,
            },
            Reply::Error { code, text } => Body::Error {
                in_reply_to: id,
                code: *code as u64,
                text: Cow::Borrowed(text),
            },
            Reply::Fleet(fleet) => super::fleet::body(id, fleet),
            Reply::Refused(refused) => {
                let (code, text) = super::values::refusal(refused);
                Body::Error {
                    in_reply_to: id,
                    code: code as u64,
                    text: Cow::Owned(text),
                }
            }
        }
    }
}

/// `status_ok` of one breaker.
fn status_one<'a>(
    id: u64,
    service: &'a str,
    view: &'a crate::breaker::View,
    config: &'a crate::breaker::Config,
) -> Body<'a> {
    Body::Status {
        in_reply_to: id,
        service,
        state: State(view.state),
        forced: view.forced.map(forced_name),
        failures: view.failures,
        counts: view.counts.into(),
        config: ConfigObject(config),
        retry_after_ms: view.retry_after_ms,
        last_failure: view.last_failure.as_ref().map(FailureObject::of),
        policy: PolicyObject(view.figures),
    }
}

/// `status_ok` of every breaker; with `"memory":true`, the budget and checkpoints too.
fn status_all<'a>(
    id: u64,
    services: &'a [ServiceState],
    evicted: u64,
    memory: Option<&MemoryUse>,
) -> Body<'a> {
    Body::StatusAll {
        in_reply_to: id,
        services: Services(services),
        evicted,
        memory: memory.map(|m| MemoryObject {
            used: m.used,
            left: m.left,
        }),
        checkpoints: memory
            .and_then(|m| m.checkpoints)
            .map(|c| CheckpointsObject {
                last_good_ms: c.last_good_ms,
                failures_since: c.failures_since,
            }),
    }
}

/// Writes the reply document and a newline to `out`.
pub fn write(out: &mut Vec<u8>, src: &str, dest: &str, in_reply_to: u64, reply: &Reply) {
    let envelope = Envelope {
        src,
        dest,
        body: Body::of(in_reply_to, reply),
    };
    // Writing into a Vec fails only on a serializer error, and every value here serializes;
    // should one not, the reply is dropped whole rather than cut.
    let start = out.len();
    if serde_json::to_writer(&mut *out, &envelope).is_err() {
        out.truncate(start);
        return;
    }
    out.push(b'\n');
}
