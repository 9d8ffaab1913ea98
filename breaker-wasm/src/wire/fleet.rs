//! The fleet's messages on the wire: `peer_transition`, `fleet_lease` and `fleet_outbox` in,
//! their replies out, and how a transition a peer caused reads in `events` and snapshots.

use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use super::decode::{Fields, Refusal};
use super::raw::Raw;
use super::reason::ReasonText;
use super::reply::Body;
use super::restore::Obj;
use super::values::{Mode, Moved, State};
use crate::breaker::{ForceMode, MAX_SAFE, PeerMove, StateName};
use crate::node::{
    EntryId, Event, FleetReply, FleetRequest, Outgoing, PeerNote, PeerTransition, Request,
};

/// The longest peer name or peer reason kept, in bytes: a note is bounded like a service name.
const MAX_NOTE_BYTES: usize = 1024;

/// Decodes a fleet message of type `kind`, or `None` when `kind` is not one.
pub(super) fn request<'v>(kind: &str, fields: &Fields<'v>) -> Option<Result<Request<'v>, Refusal>> {
    let request = match kind {
        "peer_transition" => peer(fields).map(|p| FleetRequest::Peer(Box::new(p))),
        "fleet_lease" => lease(fields),
        "fleet_outbox" => (|| {
            Ok(FleetRequest::Outbox {
                after: fields.int("after", u64::MAX)?.unwrap_or(0),
                forced: fields.flag("forced")?.unwrap_or(false),
            })
        })(),
        _ => return None,
    };
    Some(request.map(Request::Fleet))
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, Refusal> {
    value.ok_or_else(|| Refusal::Field(format!("{field}: missing")))
}

fn lease<'v>(fields: &Fields<'v>) -> Result<FleetRequest<'v>, Refusal> {
    Ok(FleetRequest::Lease {
        service: required(fields.admin_service()?, "service")?,
        granted: required(fields.flag("granted")?, "granted")?,
    })
}

fn peer<'v>(fields: &Fields<'v>) -> Result<PeerTransition<'v>, Refusal> {
    let service = required(fields.admin_service()?, "service")?;
    let mode = match fields.str("mode")?.as_deref() {
        None => None,
        Some("open") => Some(ForceMode::Open),
        Some("closed") => Some(ForceMode::Closed),
        Some("auto") => Some(ForceMode::Auto),
        Some(_) => return Err(Refusal::field("mode", r#"one of "open", "closed", "auto""#)),
    };
    let to = match (mode, fields.str("to")?.as_deref()) {
        (Some(mode), _) => PeerMove::Forced(mode),
        (None, Some("open")) => PeerMove::Open(required(
            fields.int("remaining_ms", MAX_SAFE)?,
            "remaining_ms",
        )?),
        (None, Some("closed")) => PeerMove::Closed,
        _ => return Err(Refusal::field("to", r#"one of "open", "closed""#)),
    };
    let peer = required(fields.str("peer")?, "peer")?;
    let reason = fields.str("reason")?.unwrap_or_default();
    if peer.is_empty() || peer.len() > MAX_NOTE_BYTES || reason.len() > MAX_NOTE_BYTES {
        let text = format!(
            "peer, reason: a peer name is 1 to {MAX_NOTE_BYTES} bytes, a reason at most {MAX_NOTE_BYTES}"
        );
        return Err(Refusal::Field(text));
    }
    let entry = match fields.str("entry")? {
        None => None,
        Some(text) => Some(entry_id(&text).ok_or_else(|| {
            Refusal::field("entry", "a stream entry id such as \"1700000000000-0\"")
        })?),
    };
    Ok(PeerTransition {
        service,
        to,
        peer,
        reason,
        entry,
    })
}

/// `ms-seq`, as Redis writes a stream entry's id.
fn entry_id(text: &str) -> Option<EntryId> {
    let (ms, seq) = text.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(ms) && digits(seq)).then_some(())?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// The reply body of a fleet message.
pub(super) fn body<'a>(id: u64, reply: &'a FleetReply<'a>) -> Body<'a> {
    match reply {
        FleetReply::Peer { service, state } => Body::PeerTransitionOk(Moved(id, service, *state)),
        FleetReply::Lease {
            service,
            state,
            held,
        } => Body::FleetLeaseOk(LeaseObject(id, service, *state, *held)),
        FleetReply::Outbox { last_seq, items } => {
            Body::FleetOutboxOk(OutboxObject(id, *last_seq, items))
        }
    }
}

/// The fields of `fleet_lease_ok`: `in_reply_to`, `service`, `state`, `held`.
pub struct LeaseObject<'a>(u64, &'a str, StateName, bool);

impl Serialize for LeaseObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_struct("Lease", 4)?;
        o.serialize_field("in_reply_to", &self.0)?;
        o.serialize_field("service", self.1)?;
        o.serialize_field("state", &State(self.2))?;
        o.serialize_field("held", &self.3)?;
        o.end()
    }
}

/// The fields of `fleet_outbox_ok`: `in_reply_to`, `last_seq`, `transitions`.
pub struct OutboxObject<'a>(u64, u64, &'a [Outgoing]);

impl Serialize for OutboxObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_struct("Outbox", 3)?;
        o.serialize_field("in_reply_to", &self.0)?;
        o.serialize_field("last_seq", &self.1)?;
        o.serialize_field("transitions", &Items(self.2))?;
        o.end()
    }
}

struct Items<'a>(&'a [Outgoing]);

impl Serialize for Items<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&Item(item))?;
        }
        seq.end()
    }
}

/// One transition of the outbox: the event's fields, then what the publisher needs.
struct Item<'a>(&'a Outgoing);

impl Serialize for Item<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let i = self.0;
        let e = &i.event;
        let mut o = s.serialize_struct("Item", 10)?;
        o.serialize_field("seq", &e.seq)?;
        o.serialize_field("at_ms", &e.at)?;
        o.serialize_field("service", &*e.service)?;
        o.serialize_field("from", &State(e.from))?;
        o.serialize_field("to", &State(e.to))?;
        o.serialize_field("reason", &EventReason(e))?;
        o.serialize_field("share", &i.share)?;
        if let Some(ms) = i.remaining_ms {
            o.serialize_field("remaining_ms", &ms)?;
        }
        if let Some(mode) = i.mode {
            o.serialize_field("mode", &Mode(mode))?;
        }
        o.serialize_field("lease_ms", &i.lease_ms)?;
        o.end()
    }
}

/// An event's reason as `events` shows it: for a transition a peer caused, `peer P: R`.
pub struct EventReason<'a>(pub &'a Event);

impl Serialize for EventReason<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0.peer {
            Some(note) => s.serialize_str(&peer_text(note)),
            None => ReasonText(&self.0.reason).serialize(s),
        }
    }
}

/// The sentence of a peer's transition: which peer, and its own reason.
pub fn peer_text(note: &PeerNote) -> String {
    match note.reason.is_empty() {
        true => format!("peer {}", note.peer),
        false => format!("peer {}: {}", note.peer, note.reason),
    }
}

/// An event's reason as a snapshot keeps it: a peer's as `{"kind":"peer","peer":..,"reason":..}`.
pub struct SavedReason<'a, R>(pub &'a Event, pub R);

impl<R: Serialize> Serialize for SavedReason<'_, R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(note) = &self.0.peer else {
            return self.1.serialize(s);
        };
        let mut o = s.serialize_struct("Reason", 3)?;
        o.serialize_field("kind", "peer")?;
        o.serialize_field("peer", &*note.peer)?;
        o.serialize_field("reason", &*note.reason)?;
        o.end()
    }
}

/// The peer note of a saved event's reason, when its kind is `peer`.
pub(super) fn decode_note(r: Raw, path: &str) -> Result<Option<Box<PeerNote>>, String> {
    let kind = r.members().and_then(|m| m.get("kind")?.as_str());
    if kind.as_deref() != Some("peer") {
        return Ok(None);
    }
    let o = Obj::new(r, path.to_string(), &["kind", "peer", "reason"])?;
    Ok(Some(Box::new(PeerNote {
        peer: (*o.str("peer")?).into(),
        reason: (*o.str("reason")?).into(),
    })))
}
