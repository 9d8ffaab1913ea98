//! The snapshot format (version 1): a node's [`Image`] as JSON (written here by serde; read
//! back, strictly checked, in `restore`).

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::parts::CountsObject;
use super::reason::StructuredReason;
use super::traffic::FailureObject;
use super::values::{self, ConfigObject, EventObject, PatchObject, forced_name};
use crate::breaker::{Forced, Patch, State, WindowState};
use crate::node::{EventLog, Image, SavedBreaker};

pub use super::restore::{decode, from_json};

pub const VERSION: u64 = 1;

/// A node's [`Image`] as the snapshot object.
pub struct SnapshotObject<'a>(pub &'a Image);

impl Serialize for SnapshotObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let image = self.0;
        let mut o = s.serialize_struct("Snapshot", 9)?;
        o.serialize_field("version", &VERSION)?;
        o.serialize_field("now_ms", &image.now_ms)?;
        o.serialize_field("defaults", &ConfigObject(&image.defaults))?;
        o.serialize_field("overrides", &Overrides(&image.overrides))?;
        o.serialize_field("breakers", &Breakers(&image.breakers))?;
        o.serialize_field("evicted", &image.evicted)?;
        o.serialize_field("last_permit", &image.last_permit)?;
        o.serialize_field("last_seq", &image.events.last_seq())?;
        o.serialize_field("events", &Events(&image.events))?;
        o.end()
    }
}

/// The snapshot as one compact JSON document.
pub fn to_json(image: &Image) -> Vec<u8> {
    serde_json::to_vec(&SnapshotObject(image)).unwrap_or_default()
}

struct Overrides<'a>(&'a [(Box<str>, Patch)]);

impl Serialize for Overrides<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(
            self.0
                .iter()
                .map(|(name, patch)| (&**name, PatchObject(patch))),
        )
    }
}

struct Breakers<'a>(&'a [SavedBreaker]);

impl Serialize for Breakers<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(BreakerObject))
    }
}

struct Events<'a>(&'a EventLog);

impl Serialize for Events<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|event| EventObject {
            event,
            reason: super::fleet::SavedReason(event, StructuredReason(&event.reason)),
        }))
    }
}

/// One saved breaker: only the fields its state has.
struct BreakerObject<'a>(&'a SavedBreaker);

impl Serialize for BreakerObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let b = &self.0.parts;
        let mut o = s.serialize_struct("Breaker", 11)?;
        o.serialize_field("service", &*self.0.name)?;
        o.serialize_field("state", &values::State(b.state.name()))?;
        match b.state {
            State::Closed => {}
            State::Open { since, period } => {
                o.serialize_field("since", &since)?;
                // The deadline as a time while it falls within the clock, else as a length.
                match b.state.open_until() {
                    _ if b.forced == Some(Forced::Open) => {}
                    Some(until) => o.serialize_field("until", &until)?,
                    None => o.serialize_field("open_ms", &period)?,
                }
            }
            State::HalfOpen { since, successes } => {
                o.serialize_field("since", &since)?;
                o.serialize_field("successes", &successes)?;
                if b.admitted > 0 {
                    o.serialize_field("admitted", &b.admitted)?;
                }
                if b.trial.calls > 0 {
                    let t = b.trial;
                    o.serialize_field("trial", &[t.calls, t.failures, t.slow])?;
                }
            }
        }
        if let Some(f) = b.forced {
            o.serialize_field("forced", forced_name(f))?;
        }
        if b.isolations > 0 {
            o.serialize_field("isolations", &b.isolations)?;
        }
        if let (Some(cycle), State::Closed) = (b.cycle, b.state) {
            o.serialize_field("cycle", &cycle)?;
        }
        if let Some(f) = &b.last_failure {
            o.serialize_field("last_failure", &FailureObject::of(f))?;
        }
        o.serialize_field("failures", &b.failures)?;
        o.serialize_field("trips", &b.trips)?;
        o.serialize_field("counts", &CountsObject::from(b.counts))?;
        let leases: Vec<[u64; 2]> = b.leases.iter().map(|l| [l.permit, l.at]).collect();
        o.serialize_field("leases", &leases)?;
        if let Some(window) = &b.window {
            o.serialize_field("window", &WindowObject(window))?;
        }
        o.end()
    }
}

/// A window's saved calls and buckets.
struct WindowObject<'a>(&'a WindowState);

impl Serialize for WindowObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let window = self.0;
        // A count window's calls, oldest first: o ok, f failed, s slow, b both.
        let calls: String = window
            .calls()
            .iter()
            .map(|m| match (m.failed, m.slow) {
                (false, false) => 'o',
                (true, false) => 'f',
                (false, true) => 's',
                (true, true) => 'b',
            })
            .collect();
        let buckets: Vec<[u64; 4]> = window
            .buckets()
            .iter()
            .map(|(start, t)| [*start, t.calls, t.failures, t.slow])
            .collect();
        let mut o = s.serialize_struct("Window", 3)?;
        o.serialize_field("config", &values::WindowObject(window.built_for))?;
        o.serialize_field("calls", &calls)?;
        o.serialize_field("buckets", &buckets)?;
        o.end()
    }
}
