//! The batch path of the typed ABI: grants spent in the wrapper, acquires and outcomes reported
//! later in one call, replayed in order at their own times.
//!
//! A wrapper names each service once ([`Batch::slot`]), asks for the service's grant
//! ([`Batch::grant`], computed by `node::grant`), admits calls locally while the breaker is
//! closed, numbering each permit as the node would (the node's permits only grow by one per
//! admission), and appends every acquire and outcome to a log. [`Batch::sync`] replays the log
//! through the very same `acquire` and `record` requests, each at its own `now_ms`, so the node
//! sees exactly the calls, outcomes and times it would have seen had each crossed on its own.
//! A local decision the node would not have made is reported, never hidden.

use std::collections::HashMap;

use crate::breaker::Outcome;
use crate::node::{Reply, Request};
use crate::typed_abi::{acquire_result, outcome_of, service};
use crate::wire::{Session, reply};

/// `f64`s per log entry: `[op, slot, permit, duration_ms, now_ms]`.
pub const OP_WORDS: usize = 5;
/// `op` of an acquire; 0, 1, 2 are the outcomes of a record (success, failure, ignored).
pub const OP_ACQUIRE: f64 = 3.0;
/// `op` of a whole call, plus its outcome (4, 5, 6): the acquire of `permit` at
/// `now_ms − duration_ms`, then its record at `now_ms`. Saves an entry in the common case.
pub const OP_CALL: u64 = 4;
/// What [`Batch::sync`] returns when an entry was malformed or the node disagreed with a local
/// admission: this plus the index of the first such entry.
pub const SYNC_MISMATCH: i64 = i64::MIN;

/// The wrapper-facing state of the batch path: service names by slot, and an output buffer.
#[derive(Debug, Default)]
pub struct Batch {
    names: Vec<Box<str>>,
    slots: HashMap<Box<str>, u32>,
    out: Vec<u8>,
}

impl Batch {
    /// The slot of the service named by `name` (the same for the same name, for the instance's
    /// life); −1 when `name` is not a service name (1 to 256 bytes of UTF-8).
    pub fn slot(&mut self, name: &[u8]) -> i32 {
        let Some(name) = service(name) else {
            return -1;
        };
        if let Some(&slot) = self.slots.get(name) {
            return slot as i32;
        }
        let Ok(slot) = i32::try_from(self.names.len()) else {
            return -1;
        };
        self.names.push(name.into());
        self.slots.insert(name.into(), slot as u32);
        slot
    }

    /// The grant of the service in `slot`, packed as `outcomes | failures << 21 | rearm << 42`
    /// (see `node::grant::Grant`); −1 for an unknown slot.
    pub fn grant(&self, session: &Session, slot: i32) -> i64 {
        match self.name(slot) {
            Some(name) => session.node().grant(name).packed(),
            None => -1,
        }
    }

    /// Replays the log `ops` ([`OP_WORDS`] numbers per entry) in order. Returns the result of
    /// the last entry, encoded as `typed_abi::acquire` or `typed_abi::record` return it, or
    /// [`SYNC_MISMATCH`] plus the index of the first entry that was malformed or whose expected
    /// permit (when not 0) the node did not hand out. Every valid entry is replayed either way.
    pub fn sync(&self, session: &mut Session, ops: &[f64]) -> i64 {
        let mut first_bad = None;
        let mut last = 0;
        for (i, op) in ops.chunks_exact(OP_WORDS).enumerate() {
            match self.replay(session, op) {
                Some(result) => last = result,
                None => {
                    first_bad.get_or_insert(i as i64);
                }
            }
        }
        match first_bad {
            Some(i) => SYNC_MISMATCH + i,
            None => last,
        }
    }

    /// One entry; `None` when it is malformed or the node disagrees with it.
    fn replay(&self, session: &mut Session, op: &[f64]) -> Option<i64> {
        let service = self.name(op[1] as i32).filter(|_| op[1].fract() == 0.0)?;
        let permit = whole(op[2])?;
        let now = crate::millis_from_f64(op[4]);
        let node = session.node_mut();
        let duration_ms = (op[3] >= 0.0).then(|| crate::millis_from_f64(op[3]));
        let code = whole(op[0])?;
        if (OP_CALL..OP_CALL + 3).contains(&code) && permit > 0 {
            // The common entry: both requests at once, the service looked up once.
            let at = now.checked_sub(duration_ms?)?;
            let outcome: Outcome = outcome_of((code % OP_CALL).try_into().ok()?)?;
            let stale = node.whole_call(at, now, service, permit, outcome, duration_ms)?;
            return Some(i64::from(stale));
        }
        if code == OP_ACQUIRE as u64 || code >= OP_CALL {
            // A call's acquire is dated `duration_ms` before its record.
            let at = match code {
                OP_CALL.. if permit > 0 => now.checked_sub(duration_ms?)?,
                OP_CALL.. => return None,
                _ => now,
            };
            let result = acquire_result(node.handle(at, &Request::Acquire { service }));
            if permit != 0 && result != permit as i64 {
                return None;
            }
            if code < OP_CALL {
                return Some(result);
            }
        }
        let outcome: Outcome = outcome_of((code % OP_CALL).try_into().ok()?)?;
        let request = Request::Record {
            service,
            permit,
            outcome,
            duration_ms,
            error: None,
        };
        match node.handle(now, &request) {
            Reply::Recorded { stale, .. } => Some(i64::from(stale)),
            _ => None,
        }
    }

    /// The `events_ok` reply document (with `in_reply_to` 0) holding the transitions after
    /// `seq`, read without settling anything. Valid until the next call.
    pub fn events_after(&mut self, session: &Session, seq: f64) -> &[u8] {
        let events = session.node().events_after(crate::millis_from_f64(seq));
        self.out.clear();
        reply::write(&mut self.out, "breaker", "embed", 0, &Reply::Events(events));
        &self.out
    }

    fn name(&self, slot: i32) -> Option<&str> {
        usize::try_from(slot)
            .ok()
            .and_then(|i| self.names.get(i))
            .map(|n| &**n)
    }
}

/// A non-negative whole number carried as f64.
fn whole(x: f64) -> Option<u64> {
    (x >= 0.0 && x.fract() == 0.0 && x <= crate::breaker::MAX_SAFE as f64).then_some(x as u64)
}
