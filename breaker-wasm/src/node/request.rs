//! The typed requests and replies of the protocol: what `wire` decodes into and encodes from.

use std::borrow::Cow;

use crate::breaker::{
    Attempts, CallResult, Config, Field, Figures, ForceMode, LastFailure, Outcome, Patch,
    StateName, Transition, View,
};

use super::{Event, FleetReply, FleetRequest, Image};

/// The `call` fixture: how the simulated downstream behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallFixture {
    /// Put the breaker in this state first.
    pub state: Option<StateName>,
    pub attempts: Attempts,
    /// How long the downstream took.
    pub duration_ms: Option<u64>,
    /// Whether any fixture field was given (refused when fixtures are off).
    pub uses_fixtures: bool,
}

/// A change of config: fields set, and fields cleared back to the layer below (`null`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConfigChange {
    pub set: Patch,
    pub cleared: Vec<Field>,
}

/// One decoded request. Service names borrow from the input.
// A request is decoded once per message and handled by reference, never copied or stored: the
// size of `Configure` costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Request<'a> {
    Init,
    Call {
        service: &'a str,
        fixture: CallFixture,
        /// The text of the simulated downstream's failures, if any.
        error: Option<Cow<'a, str>>,
    },
    Acquire {
        service: &'a str,
    },
    Record {
        service: &'a str,
        permit: u64,
        outcome: Outcome,
        duration_ms: Option<u64>,
        /// The failure's text (kept with a counted failure only).
        error: Option<Cow<'a, str>>,
    },
    Status {
        service: Option<&'a str>,
    },
    /// `status` of every breaker with `"memory":true`: the memory budget too.
    StatusWithMemory,
    Reset {
        service: Option<&'a str>,
    },
    Configure {
        service: Option<&'a str>,
        change: ConfigChange,
    },
    Force {
        service: Option<&'a str>,
        mode: ForceMode,
    },
    /// An operator's transition of one breaker, not a forced mode: to `to` now, an open period
    /// lasting `open` when given.
    /// `isolate` (`release` false) or `release` of one breaker.
    Isolate {
        service: &'a str,
        release: bool,
    },
    Transition {
        service: &'a str,
        to: StateName,
        open: Option<OpenFor>,
    },
    Events {
        service: Option<&'a str>,
        after: u64,
        /// Settle every breaker first (the default). A watcher reads the log as it stands, so
        /// that watching changes nothing a client sees.
        settle: bool,
    },
    Snapshot,
    /// The node's metrics in the Prometheus (OpenMetrics) text format.
    Metrics,
    Restore(Box<Image>),
    AdvanceClock {
        ms: u64,
    },
    /// `peer_transition`, `fleet_lease`, `fleet_outbox`.
    Fleet(FleetRequest<'a>),
}

/// The protocol's error codes (Maelstrom's numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// Unknown type, or a message this host does not support.
    NotSupported = 10,
    /// `acquire` rejected by the breaker.
    Rejected = 11,
    /// Malformed request; the text names the field.
    Malformed = 12,
    /// The guest failed while handling the message.
    Internal = 13,
}

/// Why the node refused a well-formed request. The node says what, the wire says it in words
/// (the node knows neither JSON field paths nor the hosts' command-line flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// A test fixture on a node run without them: `state` for the fixtures of `call`, `force`.
    FixturesDisabled(&'static str),
    /// `advance_clock` on a node whose time comes from its host.
    SystemClock,
    /// A node-wide config field in a per-service `configure`.
    NodeWide(Field),
    /// `release` of a breaker that no one isolated.
    NotIsolated,
    /// A `transition`'s end of the open period that is not after the node's `now`.
    NotAfterNow { now: u64 },
}

/// One breaker's line in `status` without a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceState {
    pub service: Box<str>,
    pub state: StateName,
    /// What the deciding policy sees.
    pub figures: Figures,
}

/// One reply, before encoding.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply<'a> {
    InitOk,
    Call {
        service: &'a str,
        result: CallResult,
        /// With a rejection: the breaker's last failure, if it has one.
        last_failure: Option<LastFailure>,
    },
    Acquired {
        service: &'a str,
        state: StateName,
        permit: u64,
    },
    AcquireRejected {
        service: &'a str,
        state: StateName,
        retry_after_ms: Option<u64>,
        last_failure: Option<LastFailure>,
    },
    Recorded {
        service: &'a str,
        state: StateName,
        stale: bool,
        transition: Option<Transition>,
    },
    Status {
        service: &'a str,
        view: View,
        config: Config,
    },
    StatusAll {
        services: Vec<ServiceState>,
        evicted: u64,
    },
    StatusAllWithMemory {
        services: Vec<ServiceState>,
        evicted: u64,
        memory: MemoryUse,
    },
    ResetOk {
        service: Option<&'a str>,
    },
    ConfigureOk {
        service: Option<&'a str>,
        config: Config,
    },
    ForceOk {
        service: Option<(&'a str, StateName)>,
        mode: ForceMode,
    },
    /// `isolate_ok` (or `release_ok`, when true) of a service, with the holders now.
    IsolateOk(&'a str, bool, u64),
    TransitionOk {
        service: &'a str,
        state: StateName,
    },
    Events(Vec<Event>),
    /// OpenMetrics text, ending with `# EOF`.
    Metrics(String),
    SnapshotOk(Box<Image>),
    RestoreOk {
        services: usize,
    },
    AdvanceClockOk {
        now_ms: u64,
    },
    Error {
        code: ErrorCode,
        text: String,
    },
    Refused(Refused),
    Fleet(FleetReply<'a>),
}

impl Reply<'_> {
    pub fn error(code: ErrorCode, text: impl Into<String>) -> Self {
        Reply::Error {
            code,
            text: text.into(),
        }
    }
}

/// How long an operator's open period lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenFor {
    /// This many milliseconds from now.
    Ms(u64),
    /// Until this time on the node's clock (after now).
    Until(u64),
}

/// The memory budget in bytes (what is charged against it, and what is left), and the host's
/// checkpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryUse {
    pub used: u64,
    pub left: u64,
    /// What the host reported of its checkpoints, if it keeps any.
    pub checkpoints: Option<Checkpoints>,
}

/// What the host reported of its checkpoints (see `Node::report_checkpoints`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoints {
    /// The node time of the last state the host saved.
    pub last_good_ms: u64,
    /// Checkpoints that failed since.
    pub failures_since: u64,
}
