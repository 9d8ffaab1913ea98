//! A node: many breakers by name, the defaults and per-service overrides, the event log, and the
//! typed requests and replies of the protocol (no JSON here: see `wire`).

mod events;
pub mod image;
mod registry;

use std::collections::BTreeMap;

use crate::breaker::{
    Attempts, Breaker, CallResult, Config, Field, ForceMode, Outcome, Patch, StateName, Transition,
    Transitions, View,
};
pub use events::{Event, EventLog, MAX_EVENTS};
pub use image::{Image, ImageError, SavedBreaker};
use registry::Registry;

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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            manual_clock: false,
            fixtures: true,
        }
    }
}

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
#[derive(Clone, Debug, PartialEq)]
pub enum Request<'a> {
    Init,
    Call {
        service: &'a str,
        fixture: CallFixture,
    },
    Acquire {
        service: &'a str,
    },
    Record {
        service: &'a str,
        permit: u64,
        outcome: Outcome,
        duration_ms: Option<u64>,
    },
    Status {
        service: Option<&'a str>,
    },
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
    Events {
        service: Option<&'a str>,
        after: u64,
    },
    Snapshot,
    Restore(Box<Image>),
    AdvanceClock {
        ms: u64,
    },
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

/// One breaker's line in `status` without a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceState {
    pub service: Box<str>,
    pub state: StateName,
}

/// One reply, before encoding.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply<'a> {
    InitOk,
    Call {
        service: &'a str,
        result: CallResult,
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
    Events(Vec<Event>),
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
}

impl Reply<'_> {
    pub fn error(code: ErrorCode, text: impl Into<String>) -> Self {
        Reply::Error {
            code,
            text: text.into(),
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
    overrides: BTreeMap<Box<str>, Patch>,
    breakers: Registry,
    events: EventLog,
    /// The last permit handed out: permits are unique for the node's life.
    last_permit: u64,
    scratch: Transitions,
}

impl Node {
    pub fn new(options: Options) -> Node {
        Node {
            options,
            now: 0,
            defaults: Config::default(),
            overrides: BTreeMap::new(),
            breakers: Registry::default(),
            events: EventLog::default(),
            last_permit: 0,
            scratch: Vec::new(),
        }
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
                let text =
                    format!("{what}: test fixtures are disabled on this node (--no-fixtures)");
                return Reply::error(ErrorCode::Malformed, text);
            }
        }
        let now = self.now;
        match *request {
            Request::Init => Reply::InitOk,
            Request::Call { service, fixture } => {
                let result = self.traffic(service, |b, config, log| {
                    if let Some(state) = fixture.state {
                        b.set_state(config, state, now, log);
                    }
                    b.call(config, now, fixture.attempts, fixture.duration_ms, log)
                });
                Reply::Call { service, result }
            }
            Request::Acquire { service } => {
                let permit = self.last_permit + 1;
                match self.traffic(service, |b, config, log| {
                    b.acquire(config, now, permit, log)
                }) {
                    Ok(state) => {
                        self.last_permit = permit;
                        Reply::Acquired {
                            service,
                            state,
                            permit,
                        }
                    }
                    Err(r) => Reply::AcquireRejected {
                        service,
                        state: r.state,
                        retry_after_ms: r.retry_after_ms,
                    },
                }
            }
            Request::Record {
                service,
                permit,
                outcome,
                duration_ms,
            } => {
                if self.breakers.find(service).is_none() {
                    let state = self.view(service).state;
                    return Reply::Recorded {
                        service,
                        state,
                        stale: true,
                        transition: None,
                    };
                }
                let r = self.traffic(service, |b, config, log| {
                    b.record(config, now, permit, outcome, duration_ms, log)
                });
                Reply::Recorded {
                    service,
                    state: r.state,
                    stale: r.stale,
                    transition: r.transition,
                }
            }
            Request::Status {
                service: Some(service),
            } => Reply::Status {
                service,
                view: self.view(service),
                config: self.config_for(service),
            },
            Request::Status { service: None } => self.status_all(),
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
            Request::Events { service, after } => {
                self.settle_all();
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
                    let text = "advance_clock: this node runs on the system clock (start it with --clock manual)";
                    return Reply::error(ErrorCode::NotSupported, text);
                }
                self.now = self.now.saturating_add(ms);
                Reply::AdvanceClockOk { now_ms: self.now }
            }
        }
    }

    /// Runs a traffic decision on `service`'s breaker, creating it if needed, and logs what it
    /// changed.
    fn traffic<T>(
        &mut self,
        service: &str,
        decide: impl FnOnce(&mut Breaker, &Config, &mut Transitions) -> T,
    ) -> T {
        let config = self.config_for(service);
        let id = self
            .breakers
            .find_or_insert(service, self.defaults.max_services, || {
                Breaker::new(service)
            });
        let out = decide(self.breakers.breaker_mut(id), &config, &mut self.scratch);
        self.breakers.touch(id);
        self.log_transitions(service);
        out
    }

    /// Runs an admin change on `service` (created if needed) or on every breaker.
    fn each_breaker(
        &mut self,
        service: Option<&str>,
        change: impl Fn(&mut Breaker, &Config, &mut Transitions),
    ) {
        match service {
            Some(service) => self.traffic(service, change),
            None => {
                // In name order: the same in every node, restored or not.
                let mut ids: Vec<u32> = self.breakers.ids().collect();
                ids.sort_unstable_by(|&a, &b| {
                    self.breakers.get(a).name.cmp(&self.breakers.get(b).name)
                });
                for id in ids {
                    let name = self.breakers.get(id).name.clone();
                    let config = self.config_for(&name);
                    change(self.breakers.breaker_mut(id), &config, &mut self.scratch);
                    self.log_transitions(&name);
                }
                self.breakers.refile_all();
            }
        }
    }

    fn log_transitions(&mut self, service: &str) {
        for t in self.scratch.drain(..) {
            self.events.push(service, t);
        }
    }

    /// Applies every due timed transition, so the event log and snapshots are complete.
    fn settle_all(&mut self) {
        let now = self.now;
        self.each_breaker(None, |b, config, log| b.settle(config, now, log));
    }

    fn status_all(&self) -> Reply<'static> {
        let mut services: Vec<ServiceState> = self
            .breakers
            .ids()
            .map(|id| {
                let slot = self.breakers.get(id);
                let state = slot
                    .breaker
                    .view(&self.config_for(&slot.name), self.now)
                    .state;
                ServiceState {
                    service: slot.name.clone(),
                    state,
                }
            })
            .collect();
        services.sort_unstable_by(|a, b| a.service.cmp(&b.service));
        Reply::StatusAll {
            services,
            evicted: self.breakers.evicted,
        }
    }

    fn configure<'a>(&mut self, service: Option<&'a str>, change: &ConfigChange) -> Reply<'a> {
        // Deadlines that passed under the old numbers (an expired probe lease) happen first.
        let now = self.now;
        // A service that has no breaker has nothing to settle (and is not created for it).
        if service.is_none_or(|s| self.breakers.find(s).is_some()) {
            self.each_breaker(service, |b, config, log| b.settle(config, now, log));
        }
        let node_wide = change
            .set
            .fields()
            .map(|(f, _)| f)
            .chain(change.cleared.iter().copied())
            .find(|f| f.node_wide());
        match service {
            Some(service) => {
                if let Some(field) = node_wide {
                    let text = format!(
                        "config.{}: a node-wide setting; configure it without a service",
                        field.name()
                    );
                    return Reply::error(ErrorCode::Malformed, text);
                }
                let patch = self
                    .overrides
                    .get(service)
                    .copied()
                    .unwrap_or_default()
                    .merged(&change.set, &change.cleared);
                if patch.is_empty() {
                    self.overrides.remove(service);
                } else {
                    self.overrides.insert(service.into(), patch);
                }
                Reply::ConfigureOk {
                    service: Some(service),
                    config: self.config_for(service),
                }
            }
            None => {
                let merged = Patch::full(&self.defaults).merged(&change.set, &change.cleared);
                self.defaults = merged.apply(&Config::default());
                self.breakers.shrink_to(self.defaults.max_services);
                Reply::ConfigureOk {
                    service: None,
                    config: self.defaults,
                }
            }
        }
    }

    /// Everything needed to resume this node elsewhere.
    pub fn snapshot(&self) -> Image {
        let mut ids: Vec<u32> = self.breakers.ids().collect();
        ids.sort_by_key(|&id| self.breakers.get(id).last_used);
        let breakers = ids
            .into_iter()
            .map(|id| {
                let slot = self.breakers.get(id);
                SavedBreaker::of(&slot.name, &slot.breaker)
            })
            .collect();
        Image {
            now_ms: self.now,
            defaults: self.defaults,
            overrides: self
                .overrides
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            breakers,
            evicted: self.breakers.evicted,
            last_permit: self.last_permit,
            events: self.events.clone(),
        }
    }

    /// Replaces this node's state with `image`, shifting its times back when the node's clock is
    /// behind the one it was taken with. Nothing changes when the image is invalid.
    pub fn restore(&mut self, image: &Image) -> Result<usize, ImageError> {
        image.validate()?;
        let delta = image.now_ms.saturating_sub(self.now);
        self.defaults = image.defaults;
        self.overrides = image.overrides.iter().cloned().collect();
        self.breakers.clear();
        for saved in &image.breakers {
            let mut breaker = Breaker::from_parts(&saved.name, saved.parts.clone());
            breaker.shift_back(delta);
            let tick = self.breakers.clock + 1;
            self.breakers
                .insert(saved.name.clone(), breaker, Some(tick));
        }
        self.breakers.evicted = image.evicted;
        self.last_permit = image.last_permit;
        self.events = image.events.clone();
        self.events.shift_back(delta);
        Ok(image.breakers.len())
    }
}

#[cfg(test)]
mod tests;
