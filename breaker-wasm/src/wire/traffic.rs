//! The bodies of the traffic replies (`call`, `acquire`, `record`), and the last failure that
//! rides on rejections.

use std::borrow::Cow;

use serde::Serialize;

use super::parts::TransitionObject;
use super::reply::Body;
use super::values::State;
use crate::breaker::{CallResult, LastFailure, StateName};
use crate::node::Reply;

/// `{"at_ms":T,"error":"..."}`: a breaker's last failure, on its rejections and in `status`.
#[derive(Serialize)]
pub struct FailureObject<'a> {
    at_ms: u64,
    error: &'a str,
}

impl<'a> FailureObject<'a> {
    pub fn of(f: &'a LastFailure) -> Self {
        FailureObject {
            at_ms: f.at,
            error: &f.error,
        }
    }
}

/// The rejection text of a breaker in `state`.
fn rejection(state: StateName) -> &'static str {
    if state == StateName::HalfOpen {
        "Circuit breaker HALF_OPEN"
    } else {
        "Circuit breaker OPEN"
    }
}

/// The bodies of the traffic replies (`call`, `acquire`, `record`).
pub fn body<'a>(id: u64, reply: &'a Reply<'a>) -> Body<'a> {
    match reply {
        Reply::Call {
            service,
            result,
            last_failure,
        } => call(id, service, *result, last_failure.as_ref()),
        &Reply::Acquired {
            service,
            state,
            permit,
        } => Body::AcquireOk {
            in_reply_to: id,
            service,
            state: State(state),
            permit,
        },
        Reply::AcquireRejected {
            service,
            state,
            retry_after_ms,
            last_failure,
        } => Body::AcquireRejected {
            in_reply_to: id,
            code: 11,
            text: rejection(*state),
            service,
            retry_after_ms: *retry_after_ms,
            last_failure: last_failure.as_ref().map(FailureObject::of),
        },
        Reply::Recorded {
            service,
            state,
            stale,
            transition,
        } => Body::RecordOk {
            in_reply_to: id,
            service,
            state: State(*state),
            stale: *stale,
            transition: transition.as_ref().map(TransitionObject),
        },
        _ => Body::Error {
            in_reply_to: id,
            code: 13,
            text: Cow::Borrowed("not a traffic reply"),
        },
    }
}

fn call<'a>(
    in_reply_to: u64,
    service: &'a str,
    result: CallResult,
    last_failure: Option<&'a LastFailure>,
) -> Body<'a> {
    match result {
        CallResult::Rejected { state } => Body::CallRejected {
            in_reply_to,
            error: rejection(state),
            service,
            last_failure: last_failure.map(FailureObject::of),
        },
        CallResult::Opened { failures, rejected } => Body::CircuitBreakerOpen {
            in_reply_to,
            service,
            failures,
            rejected,
        },
        CallResult::Closed => Body::CircuitBreakerClosed {
            in_reply_to,
            service,
            state: State(StateName::Closed),
        },
        CallResult::Ok { state } => Body::CallOk {
            in_reply_to,
            service,
            state: State(state),
        },
        CallResult::Failed { state, failures } => Body::CallFailed {
            in_reply_to,
            service,
            state: State(state),
            failures,
        },
    }
}
