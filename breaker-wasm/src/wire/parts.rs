//! The small objects and lists inside replies: counts, transitions, the memory budget, the
//! lines of `status_ok` and `events_ok`.

use serde::{Serialize, Serializer};

use super::figures::PolicyObject;
use super::reason::ReasonText;
use super::values::{EventObject, State};
use crate::breaker::{Counts, Transition};
use crate::node::{Event, ServiceState};

/// A `transition` object of `record_ok`.
pub struct TransitionObject<'a>(pub &'a Transition);

impl Serialize for TransitionObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut o = s.serialize_struct("Transition", 3)?;
        o.serialize_field("from", &State(self.0.from))?;
        o.serialize_field("to", &State(self.0.to))?;
        o.serialize_field("reason", &ReasonText(&self.0.reason))?;
        o.end()
    }
}

/// The `counts` object of `status_ok`.
#[derive(Serialize)]
pub struct CountsObject {
    successes: u64,
    failures: u64,
    rejections: u64,
    opened: u64,
}

impl From<Counts> for CountsObject {
    fn from(c: Counts) -> Self {
        CountsObject {
            successes: c.successes,
            failures: c.failures,
            rejections: c.rejections,
            opened: c.opened,
        }
    }
}

/// The `memory` object of `status_ok` with `"memory":true`.
#[derive(Serialize)]
pub struct MemoryObject {
    pub used: u64,
    pub left: u64,
}

/// The `checkpoints` object of `status_ok` with `"memory":true`.
#[derive(Serialize)]
pub struct CheckpointsObject {
    pub last_good_ms: u64,
    pub failures_since: u64,
}

/// The `services` list of `status_ok` without a service.
pub struct Services<'a>(pub &'a [ServiceState]);

impl Serialize for Services<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Line<'a> {
            service: &'a str,
            state: State,
            policy: PolicyObject,
        }
        s.collect_seq(self.0.iter().map(|l| Line {
            service: &l.service,
            state: State(l.state),
            policy: PolicyObject(l.figures),
        }))
    }
}

/// The `events` list of `events_ok`, reasons as text.
pub struct Events<'a>(pub &'a [Event]);

impl Serialize for Events<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|event| EventObject {
            event,
            reason: super::fleet::EventReason(event),
        }))
    }
}
