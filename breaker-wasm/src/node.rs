//! A node: many breakers by name, the defaults and per-service overrides, the event log, and the
//! typed requests and replies of the protocol (no JSON here: see `wire`).

mod admin;
pub mod budget;
mod events;
pub mod fleet;
pub mod grant;
pub mod image;
mod metrics;
mod registry;
mod request;
mod tallies;
mod traffic;

use hashbrown::HashMap;

use crate::breaker::{Breaker, Config, Patch, Transitions, View};
pub use events::{Event, EventLog, MAX_EVENTS, PeerNote};
pub use fleet::{EntryId, FleetReply, FleetRequest, Outgoing, PeerTransition};
pub use image::{Image, ImageError, SavedBreaker};
use registry::Registry;
pub use request::{
    CallFixture, Checkpoints, ConfigChange, ErrorCode, MemoryUse, OpenFor, Refused, Reply, Request,
    ServiceState,
};
use tallies::Tallies;

/// The longest service name, in bytes.
pub const MAX_SERVICE_BYTES: usize = 256;

/// How a node is run; fixed for its life by the host that embeds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Time comes from `advance_clock` messages (starting at 0) instead of the host.
    pub manual_clock: bool,
    /// The test fixtures of `call` (`state`, `force_failures`, `force_success`) and `force` are
    /// accepted. Off in production.
    pub fixtures: bool,
    /// One of a fleet: a half_open breaker admits probes only while the node holds the fleet's
    /// probe lease (`fleet_lease`).
    pub fleet: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            manual_clock: false,
            fixtures: true,
            fleet: false,
        }
    }
}

/// Many breakers, one per service, and everything they share.
#[derive(Debug)]
pub struct Node {
    options: Options,
    /// The latest time seen; inputs never move it back.
    now: u64,
    defaults: Config,
    /// Per-service overrides (a snapshot lists them in name order).
    overrides: HashMap<Box<str>, Patch>,
    breakers: Registry,
    events: EventLog,
    /// The last permit handed out: permits are unique for the node's life.
    last_permit: u64,
    /// The guest memory limit the budget is half of (see `budget`).
    memory_limit: u64,
    /// The overrides' charges against the budget.
    overrides_charged: u64,
    /// What the host reported of its checkpoints, if it keeps any.
    checkpoints: Option<Checkpoints>,
    scratch: Transitions,
    /// Slow and ignored calls and transitions by from/to, for metrics.
    tallies: Tallies,
    /// The last peer entry applied and the probe leases held (see `fleet`).
    fleet: fleet::FleetState,
}

impl Node {
    pub fn new(options: Options) -> Node {
        Node {
            options,
            now: 0,
            defaults: Config::default(),
            overrides: HashMap::new(),
            breakers: Registry::default(),
            events: EventLog::default(),
            last_permit: 0,
            memory_limit: budget::DEFAULT_MEMORY_LIMIT,
            overrides_charged: 0,
            checkpoints: None,
            scratch: Vec::new(),
            tallies: Tallies::default(),
            fleet: fleet::FleetState::default(),
        }
    }

    /// Tells the node how much memory its host lets it grow to (default
    /// [`budget::DEFAULT_MEMORY_LIMIT`]); half of it is the budget of breakers and overrides.
    /// Breakers past a smaller budget are forgotten at once, least recently used first.
    pub fn set_memory_limit(&mut self, bytes: u64) {
        self.memory_limit = bytes;
        self.enforce_budget();
    }

    /// Records what the host says of its checkpoints (the node keeps none itself), for
    /// `status` with `"memory":true`.
    pub fn report_checkpoints(&mut self, report: Checkpoints) {
        self.checkpoints = Some(report);
    }

    /// The budget and what is charged against it.
    pub fn memory(&self) -> MemoryUse {
        let budget = budget::budget(self.memory_limit);
        let used = self.breakers.charged() + self.overrides_charged;
        MemoryUse {
            used,
            left: budget.saturating_sub(used),
            checkpoints: self.checkpoints,
        }
    }

    /// What the breakers may be charged: the budget less the overrides.
    fn breaker_budget(&self) -> u64 {
        budget::budget(self.memory_limit).saturating_sub(self.overrides_charged)
    }

    /// Forgets breakers (least recently used closed ones first) until the bounds hold.
    fn enforce_budget(&mut self) {
        let bytes = self.breaker_budget();
        self.breakers.shrink_to(self.defaults.max_services, bytes);
    }

    pub fn options(&self) -> Options {
        self.options
    }

    /// The node's time: the latest `now_ms` seen, or the manual clock.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// How many breakers are tracked.
    pub fn len(&self) -> usize {
        self.breakers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.breakers.is_empty()
    }

    /// The effective config of `service`: its override over the defaults.
    pub fn config_for(&self, service: &str) -> Config {
        match self.overrides.get(service) {
            Some(patch) => patch.apply(&self.defaults),
            None => self.defaults,
        }
    }

    /// The state of `service` at the node's time, without changing anything.
    pub fn view(&self, service: &str) -> View {
        let config = self.config_for(service);
        match self.breakers.find(service) {
            Some(id) => self.breakers.get(id).breaker.view(&config, self.now),
            None => Breaker::new(service).view(&config, self.now),
        }
    }

    /// Handles one request at `now_ms` (ignored under the manual clock).
    pub fn handle<'a>(&mut self, now_ms: u64, request: &Request<'a>) -> Reply<'a> {
        if !self.options.manual_clock {
            self.now = self.now.max(now_ms);
        }
        if !self.options.fixtures {
            let fixture = match request {
                Request::Call { fixture, .. } if fixture.uses_fixtures => Some("state"),
                Request::Force { .. } => Some("force"),
                _ => None,
            };
            if let Some(what) = fixture {
                return Reply::Refused(Refused::FixturesDisabled(what));
            }
        }
        let now = self.now;
        match *request {
            Request::Init => Reply::InitOk,
            Request::Call { .. } | Request::Acquire { .. } | Request::Record { .. } => {
                self.traffic_request(request)
            }
            Request::Status {
                service: Some(service),
            } => Reply::Status {
                service,
                view: self.view(service),
                config: self.config_for(service),
            },
            Request::Status { service: None } => self.status_all(),
            Request::Metrics => Reply::Metrics(self.metrics()),
            Request::StatusWithMemory => self.status_with_memory(),
            Request::Reset { service } => {
                // Resetting a breaker that does not exist has nothing to do: don't create it.
                if service.is_none_or(|s| self.breakers.find(s).is_some()) {
                    self.each_breaker(service, |b, config, log| b.reset(config, now, log));
                }
                Reply::ResetOk { service }
            }
            Request::Configure {
                service,
                ref change,
            } => self.configure(service, change),
            Request::Force { service, mode } => {
                self.each_breaker(service, |b, config, log| b.force(config, mode, now, log));
                let service = service.map(|s| (s, self.view(s).state));
                Reply::ForceOk { service, mode }
            }
            Request::Transition { service, to, open } => self.transition(service, to, open),
            Request::Isolate { service, release } => self.isolate(service, release),
            Request::Fleet(ref fleet) => self.fleet(fleet),
            Request::Events {
                service,
                after,
                settle,
            } => {
                if settle {
                    self.settle_all();
                }
                Reply::Events(self.events.since(after, service).cloned().collect())
            }
            // A snapshot only reads: taking one changes nothing a later message sees.
            Request::Snapshot => Reply::SnapshotOk(Box::new(self.snapshot())),
            Request::Restore(ref image) => match self.restore(image) {
                Ok(services) => Reply::RestoreOk { services },
                Err(e) => Reply::error(ErrorCode::Malformed, e.to_string()),
            },
            Request::AdvanceClock { ms } => {
                if !self.options.manual_clock {
                    return Reply::Refused(Refused::SystemClock);
                }
                self.now = self.now.saturating_add(ms);
                Reply::AdvanceClockOk { now_ms: self.now }
            }
        }
    }
}

#[cfg(test)]
mod tests;
