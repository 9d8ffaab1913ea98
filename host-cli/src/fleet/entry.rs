//! The fleet's stream entries: what a node publishes of a transition (XADD fields), and the
//! `peer_transition` document another node's guest gets for it.

use redis::streams::StreamId;
use serde::{Deserialize, Serialize};

/// One transition of this node, as the module's `fleet_outbox` reports it.
#[derive(Clone, Debug, Deserialize)]
pub struct Outgoing {
    pub service: String,
    pub from: String,
    pub to: String,
    pub reason: String,
    pub share: bool,
    pub remaining_ms: Option<u64>,
    pub mode: Option<String>,
    pub lease_ms: u64,
}

/// The XADD fields of a transition `me` shares; `elapsed_ms` since the module reported it is
/// taken off what is left of an open period.
pub fn fields(me: &str, t: &Outgoing, elapsed_ms: u64) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("instance", me.to_string()),
        ("service", t.service.clone()),
        ("from", t.from.clone()),
        ("to", t.to.clone()),
        ("reason", t.reason.clone()),
    ];
    if let Some(ms) = t.remaining_ms {
        f.push(("remaining_ms", ms.saturating_sub(elapsed_ms).to_string()));
    }
    if let Some(mode) = &t.mode {
        f.push(("mode", mode.clone()));
    }
    f
}

#[derive(Serialize)]
struct Doc<'a> {
    src: &'a str,
    dest: &'a str,
    body: Body<'a>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Body<'a> {
    PeerTransition {
        service: &'a str,
        to: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        remaining_ms: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        mode: Option<&'a str>,
        peer: &'a str,
        reason: &'a str,
        entry: &'a str,
    },
    FleetLease {
        service: &'a str,
        granted: bool,
    },
}

/// The source of the documents the fleet hands the guest.
const SRC: &str = "fleet";

fn document(me: &str, body: Body) -> Vec<u8> {
    let doc = Doc {
        src: SRC,
        dest: me,
        body,
    };
    serde_json::to_vec(&doc).expect("strings and numbers")
}

/// The `peer_transition` document of a stream entry, or `None` for this node's own entries and
/// entries that are not transitions. `redis_now_ms` is Redis's clock when the entry was read:
/// what is left of an open period is less the entry's age on that same clock, so clocks that
/// differ between machines neither shorten nor stretch it.
pub fn peer_document(me: &str, e: &StreamId, redis_now_ms: u64) -> Option<Vec<u8>> {
    let text = |k: &str| e.get::<String>(k);
    let peer = text("instance")?;
    if peer == me {
        return None;
    }
    let (service, to) = (text("service")?, text("to")?);
    let reason = text("reason").unwrap_or_default();
    let mode = text("mode");
    let written_ms: u64 = e.id.split('-').next()?.parse().ok()?;
    let age = redis_now_ms.saturating_sub(written_ms);
    let remaining_ms = text("remaining_ms")
        .and_then(|r| r.parse::<u64>().ok())
        .map(|r| r.saturating_sub(age));
    Some(document(
        me,
        Body::PeerTransition {
            service: &service,
            to: &to,
            remaining_ms,
            mode: mode.as_deref(),
            peer: &peer,
            reason: &reason,
            entry: &e.id,
        },
    ))
}

/// The `fleet_lease` document of the lease of `service`.
pub fn lease_document(me: &str, service: &str, granted: bool) -> Vec<u8> {
    document(me, Body::FleetLease { service, granted })
}
