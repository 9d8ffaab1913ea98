//! The node's log of recent transitions, for `events`.

use std::collections::VecDeque;

use crate::breaker::{Reason, StateName, Transition};

/// How many transitions the log keeps.
pub const MAX_EVENTS: usize = 1000;

/// One logged transition.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Counts from 1 over the node's life.
    pub seq: u64,
    pub at: u64,
    pub service: Box<str>,
    pub from: StateName,
    pub to: StateName,
    pub reason: Reason,
    /// Set when a peer's transition caused it: which peer, and why it moved.
    pub peer: Option<Box<PeerNote>>,
}

/// The peer behind a transition a `peer_transition` caused, and the reason it gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerNote {
    pub peer: Box<str>,
    pub reason: Box<str>,
}

/// The last [`MAX_EVENTS`] transitions, oldest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventLog {
    items: VecDeque<Event>,
    /// The `seq` of the last event ever logged.
    last_seq: u64,
}

impl EventLog {
    /// A log rebuilt from saved events (oldest first) and the last sequence number.
    pub fn from_parts(items: Vec<Event>, last_seq: u64) -> EventLog {
        EventLog {
            items: items.into(),
            last_seq,
        }
    }

    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Event> {
        self.items.iter()
    }

    pub fn push(&mut self, service: &str, t: Transition) {
        if self.items.len() == MAX_EVENTS {
            self.items.pop_front();
        }
        self.last_seq += 1;
        let event = Event {
            seq: self.last_seq,
            at: t.at,
            service: service.into(),
            from: t.from,
            to: t.to,
            reason: t.reason,
            peer: None,
        };
        self.items.push_back(event);
    }

    /// Marks the events after `after` as caused by a peer's transition.
    pub fn mark_peer(&mut self, after: u64, note: &PeerNote) {
        let start = self.items.partition_point(|e| e.seq <= after);
        for e in self.items.range_mut(start..) {
            e.peer = Some(Box::new(note.clone()));
        }
    }

    /// The events after `after`, of `service` only when given.
    pub fn since<'a>(
        &'a self,
        after: u64,
        service: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Event> + 'a {
        let start = self.items.partition_point(|e| e.seq <= after);
        self.items
            .range(start..)
            .filter(move |e| service.is_none_or(|s| *e.service == *s))
    }

    /// Moves every time back by `delta` (saturating), as a restore under a clock behind does.
    pub fn shift_back(&mut self, delta: u64) {
        for e in &mut self.items {
            e.at = e.at.saturating_sub(delta);
        }
    }
}
