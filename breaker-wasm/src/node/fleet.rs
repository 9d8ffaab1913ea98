//! A node in a fleet: peers' transitions applied as inputs, the probe lease that gates
//! half_open, and the outbox of transitions the host shares. The node never talks to the fleet
//! itself: the host turns the fleet's stream and lease into these messages, so a recorded input
//! replays to the same decisions.

use hashbrown::HashMap;
use std::borrow::Cow;

use crate::breaker::{Breaker, Config, ForceMode, PeerMove, Reason, State, StateName};

use super::events::{Event, PeerNote};
use super::{Node, Reply};

/// An entry id of the fleet's stream (`ms-seq`): entries are applied in this order, once.
pub type EntryId = (u64, u64);

/// A fleet message, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FleetRequest<'a> {
    /// A peer's transition of `service`.
    Peer(Box<PeerTransition<'a>>),
    /// The outcome of asking the fleet for `service`'s probe lease.
    Lease { service: &'a str, granted: bool },
    /// This node's transitions after `after`, and which of them to share (forced modes only
    /// when `forced`).
    Outbox { after: u64, forced: bool },
}

/// `peer_transition`: what a peer did, as this node should apply it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerTransition<'a> {
    pub service: &'a str,
    pub to: PeerMove,
    pub peer: Cow<'a, str>,
    pub reason: Cow<'a, str>,
    /// Where it is in the fleet's stream: an entry at or before the last one applied is a
    /// duplicate and changes nothing.
    pub entry: Option<EntryId>,
}

/// A fleet reply, before encoding.
#[derive(Clone, Debug, PartialEq)]
pub enum FleetReply<'a> {
    /// `peer_transition_ok` (`applied` false for a duplicate entry).
    Peer {
        service: &'a str,
        state: StateName,
    },
    /// `fleet_lease_ok`: the state and whether this node now holds the lease.
    Lease {
        service: &'a str,
        state: StateName,
        held: bool,
    },
    Outbox {
        last_seq: u64,
        items: Vec<Outgoing>,
    },
}

/// One transition of this node, as the host's publisher sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    pub event: Event,
    /// Publish it: a transition of this node's own (not a peer's, not one a restore brought
    /// in), not to half_open (each node gets there by itself), a forced mode only when asked, an
    /// open only while it lasts.
    pub share: bool,
    /// What is left of the open period (an open that is shared, not forced).
    pub remaining_ms: Option<u64>,
    /// The forced mode it put the breaker in, if an operator's force or isolation did.
    pub mode: Option<ForceMode>,
    /// The probe lease of this service's config (`probe_timeout_ms`).
    pub lease_ms: u64,
}

/// The probe lease this node holds for a half_open period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Grant {
    /// The half_open period it is for (its start).
    since: u64,
    /// When it runs out on the node's clock.
    until: u64,
}

/// The fleet's part of a node's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FleetState {
    last_entry: Option<EntryId>,
    grants: HashMap<Box<str>, Grant>,
    /// The last event a restore brought in: those are old news, never shared.
    restored_upto: u64,
}

impl FleetState {
    /// A restore replaced the node's state and its event log, up to `last_seq`.
    pub(super) fn restored(&mut self, last_seq: u64) {
        self.restored_upto = last_seq;
        self.grants.clear();
    }
}

impl Node {
    pub(super) fn fleet<'a>(&mut self, request: &FleetRequest<'a>) -> Reply<'a> {
        match request {
            FleetRequest::Peer(p) => self.peer_transition(p),
            FleetRequest::Lease { service, granted } => self.fleet_lease(service, *granted),
            FleetRequest::Outbox { after, forced } => self.outbox(*after, *forced),
        }
    }

    fn peer_transition<'a>(&mut self, p: &PeerTransition<'a>) -> Reply<'a> {
        let service = p.service;
        let duplicate = p.entry.is_some() && p.entry <= self.fleet.last_entry;
        // A close, or an open already over, of a service without a breaker: nothing to do,
        // and no breaker is created for it.
        let idle = self.breakers.find(service).is_none()
            && matches!(p.to, PeerMove::Closed | PeerMove::Open(0));
        if !duplicate && !idle {
            let now = self.now;
            // What time did first is this node's own doing, not the peer's.
            self.traffic(service, |b, config, log| b.settle(config, now, log));
            let before = self.events.last_seq();
            self.traffic(service, |b, config, log| b.peer(config, p.to, now, log));
            let note = PeerNote {
                peer: (*p.peer).into(),
                reason: (*p.reason).into(),
            };
            self.events.mark_peer(before, &note);
        }
        if !duplicate && p.entry.is_some() {
            self.fleet.last_entry = p.entry;
        }
        let state = self.view(service).state;
        Reply::Fleet(FleetReply::Peer { service, state })
    }

    /// Takes (or drops) the probe lease of `service`'s current half_open period.
    fn fleet_lease<'a>(&mut self, service: &'a str, granted: bool) -> Reply<'a> {
        let now = self.now;
        let mut half_open = None;
        if self.breakers.find(service).is_some() {
            self.traffic(service, |b, config, log| {
                b.settle(config, now, log);
                if let State::HalfOpen { since, .. } = b.state() {
                    half_open = Some(since);
                }
            });
        }
        match half_open {
            Some(since) if granted => {
                let lease = self.config_for(service).probe_timeout_ms;
                let until = now.saturating_add(lease);
                self.fleet
                    .grants
                    .insert(service.into(), Grant { since, until });
                self.forget_old_grants();
            }
            _ => drop(self.fleet.grants.remove(service)),
        }
        let state = self.view(service).state;
        let held = self.fleet.grants.contains_key(service);
        Reply::Fleet(FleetReply::Lease {
            service,
            state,
            held,
        })
    }

    /// Keeps the grants within `max_services`: those of breakers no longer in their period go.
    fn forget_old_grants(&mut self) {
        if self.fleet.grants.len() as u64 <= self.defaults.max_services {
            return;
        }
        let breakers = &self.breakers;
        self.fleet.grants.retain(|name, g| {
            breakers.find(name).is_some_and(|id| {
                matches!(breakers.get(id).breaker.state(), State::HalfOpen { since, .. } if since == g.since)
            })
        });
    }

    /// The fleet's gate of `service`'s traffic decisions (see [`Gate`]).
    pub(super) fn gate(&self, service: &str) -> Gate {
        let fleet = self.options.fleet;
        Gate {
            fleet,
            // Outside a fleet there is no lease to look up.
            grant: fleet
                .then(|| self.fleet.grants.get(service).copied())
                .flatten(),
            now: self.now,
        }
    }

    fn outbox(&self, after: u64, forced: bool) -> Reply<'static> {
        let items = self
            .events
            .since(after, None)
            .map(|e| self.outgoing(e, forced))
            .collect();
        Reply::Fleet(FleetReply::Outbox {
            last_seq: self.events.last_seq(),
            items,
        })
    }

    fn outgoing(&self, e: &Event, forced: bool) -> Outgoing {
        let config = self.config_for(&e.service);
        let mode = match e.reason {
            Reason::Forced(mode) => Some(mode),
            Reason::Isolated => Some(ForceMode::Open),
            Reason::Released => Some(ForceMode::Auto),
            _ => None,
        };
        let current = self
            .breakers
            .find(&e.service)
            .map(|id| self.breakers.get(id).breaker.state());
        let remaining_ms = match current {
            Some(State::Open { since, period }) if mode.is_none() && since == e.at => {
                Some(period.saturating_sub(self.now.saturating_sub(since)))
            }
            _ => None,
        };
        let share = e.peer.is_none()
            && e.seq > self.fleet.restored_upto
            && e.to != StateName::HalfOpen
            && match mode {
                Some(_) => forced,
                None => e.to != StateName::Open || remaining_ms.is_some_and(|ms| ms > 0),
            };
        Outgoing {
            event: e.clone(),
            share,
            remaining_ms,
            mode,
            lease_ms: config.probe_timeout_ms,
        }
    }
}

/// What a traffic decision needs to know of the fleet's probe lease.
pub(super) struct Gate {
    fleet: bool,
    grant: Option<Grant>,
    now: u64,
}

impl Gate {
    /// The config to decide on `b` with: in a fleet, a breaker that is half_open (or whose open
    /// period has ended, so that the decision will find it half_open) admits probes only while
    /// this node holds the lease of that half_open period; otherwise its `half_open_max_calls`
    /// is 0, so every call is rejected as when the probe slots are taken. Outside a fleet, the
    /// config as it is (borrowed: the common case copies nothing). Read without settling: the
    /// decision settles, with the same config.
    pub(super) fn config<'c>(&self, b: &Breaker, config: &'c Config) -> Cow<'c, Config> {
        if !self.fleet || b.forced().is_some() {
            return Cow::Borrowed(config);
        }
        let half_open = match b.state() {
            State::HalfOpen { since, .. } => Some(since),
            open @ State::Open { .. } if open.open_elapsed(self.now) => open.open_until(),
            _ => None,
        };
        let held = |since: u64| {
            self.grant
                .is_some_and(|g| g.since == since && self.now < g.until)
        };
        match half_open {
            Some(since) if !held(since) => Cow::Owned(Config {
                half_open_max_calls: 0,
                ..*config
            }),
            _ => Cow::Borrowed(config),
        }
    }
}
