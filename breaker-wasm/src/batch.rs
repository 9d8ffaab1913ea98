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

use std::borrow::Cow;

use hashbrown::HashMap;

use crate::breaker::Outcome;
use crate::node::{Node, Reply, Request};
use crate::typed_abi::{acquire_result, outcome_of, service};
use crate::wire::{Session, reply};

/// Numbers per log entry: `[op, slot, permit, duration_ms, now_ms]` as `f64`
/// ([`Batch::sync`]), or `[op, slot, permit, start, now]` as `i64` ([`Batch::sync_ticks`]).
pub const OP_WORDS: usize = 5;
/// `op` of an acquire; 0, 1, 2 are the outcomes of a record (success, failure, ignored).
pub const OP_ACQUIRE: f64 = 3.0;
/// `op` of a whole call, plus its outcome (4, 5, 6): the acquire of `permit` at
/// `now_ms − duration_ms`, then its record at `now_ms`. Saves an entry in the common case.
pub const OP_CALL: u64 = 4;
/// What [`Batch::sync`] returns when an entry was malformed or the node disagreed with a local
/// admission: this plus the index of the first such entry.
pub const SYNC_MISMATCH: i64 = i64::MIN;

/// One log entry, decoded: times in milliseconds.
#[derive(Clone, Copy, Debug)]
struct Entry {
    code: u64,
    slot: usize,
    permit: u64,
    duration_ms: Option<u64>,
    now: u64,
}

impl Entry {
    /// `[op, slot, permit, duration_ms, now_ms]`, `duration_ms` < 0 when unknown.
    fn of_f64(op: &[f64]) -> Option<Entry> {
        Some(Entry {
            code: whole(op[0])?,
            slot: usize::try_from(whole(op[1])?).ok()?,
            permit: whole(op[2])?,
            duration_ms: (op[3] >= 0.0).then(|| crate::millis_from_f64(op[3])),
            now: crate::millis_from_f64(op[4]),
        })
    }

    /// `[op, slot, permit, start, now]`, times in clock ticks (`ticks_per_ms` a millisecond),
    /// `start` < 0 when unknown: the duration is what the two times say in whole milliseconds
    /// (`now / ticks_per_ms − start / ticks_per_ms`, 0 if negative), as the wrapper would
    /// have computed it from two millisecond readings.
    fn of_ticks(op: &[i64], ticks_per_ms: u64) -> Option<Entry> {
        let ms = |t: i64| u64::try_from(t).ok().map(|t| t / ticks_per_ms);
        let now = ms(op[4])?;
        let duration_ms = match op[3] {
            start if start < 0 => None,
            start => Some(now.saturating_sub(ms(start)?)),
        };
        let permit = u64::try_from(op[2]).ok()?;
        Some(Entry {
            code: u64::try_from(op[0]).ok()?,
            slot: usize::try_from(op[1]).ok()?,
            permit: (permit <= crate::breaker::MAX_SAFE).then_some(permit)?,
            duration_ms,
            now,
        })
    }
}

/// The wrapper-facing state of the batch path: service names by slot, and an output buffer.
#[derive(Debug, Default)]
pub struct Batch {
    names: Vec<Box<str>>,
    slots: HashMap<Box<str>, u32>,
    /// Per slot, the registry id its breaker had at the last replay: a hint that spares the
    /// node hashing the name (checked by name, so it is never wrong, only sometimes useless).
    hints: Vec<u32>,
    out: Vec<u8>,
    /// The failure texts of the next log ([`Batch::set_failure_texts`]): per text, its entry's
    /// index and its bytes' range in `text_bytes`.
    texts: Vec<(u32, std::ops::Range<usize>)>,
    text_bytes: Vec<u8>,
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
        self.hints.push(u32::MAX);
        self.slots.insert(name.into(), slot as u32);
        slot
    }

    /// The grant of the service in `slot`, packed as `outcomes | failures << 21 | rearm << 42`
    /// (see `node::grant::Grant`); −1 for an unknown slot.
    pub fn grant(&self, session: &Session, slot: i32) -> i64 {
        match usize::try_from(slot).ok().and_then(|i| self.names.get(i)) {
            Some(name) => session.node().grant(name).packed(),
            None => -1,
        }
    }

    /// Replays the log `ops` ([`OP_WORDS`] `f64`s per entry) in order. Returns the result of
    /// the last entry, encoded as `typed_abi::acquire` or `typed_abi::record` return it, or
    /// [`SYNC_MISMATCH`] plus the index of the first entry that was malformed or whose expected
    /// permit (when not 0) the node did not hand out. Every valid entry is replayed either way.
    pub fn sync(&mut self, session: &mut Session, ops: &[f64]) -> i64 {
        self.sync_entries(session, ops.chunks_exact(OP_WORDS).map(Entry::of_f64))
    }

    /// [`Batch::sync`] of a log of `i64`s, `[op, slot, permit, start, now]`, with times in
    /// clock ticks, `ticks_per_ms` of them a millisecond (a wrapper that reads a nanosecond
    /// clock logs it as it is and gives 1,000,000); `start` < 0 when unknown. A `ticks_per_ms`
    /// below 1 makes every entry malformed.
    pub fn sync_ticks(&mut self, session: &mut Session, ops: &[i64], ticks_per_ms: i64) -> i64 {
        let unit = u64::try_from(ticks_per_ms).ok().filter(|&u| u > 0);
        let entries = ops
            .chunks_exact(OP_WORDS)
            .map(|op| unit.and_then(|u| Entry::of_ticks(op, u)));
        self.sync_entries(session, entries)
    }

    /// Keeps the texts of failures in the log that the next sync replays: records of a
    /// little-endian `u32` entry index (counted from 0 in that log, strictly increasing), a
    /// `u32` byte length and that many bytes of UTF-8. Each is the `error` of its entry's
    /// record, as a `record` request's (ABI.md). Returns how many texts it keeps, or −1, keeping
    /// none, when `bytes` is not such a sequence.
    pub fn set_failure_texts(&mut self, bytes: &[u8]) -> i32 {
        self.texts.clear();
        self.text_bytes.clear();
        let mut at = 0;
        let mut last = None;
        while at < bytes.len() {
            let word = |i: usize| {
                let b = bytes.get(at + i..at + i + 4)?;
                Some(u32::from_le_bytes(b.try_into().ok()?))
            };
            let (Some(index), Some(len)) = (word(0), word(4)) else {
                return self.refuse_texts();
            };
            let end = (at + 8).checked_add(len as usize);
            let text = end.and_then(|end| bytes.get(at + 8..end));
            let Some(text) = text.filter(|t| std::str::from_utf8(t).is_ok()) else {
                return self.refuse_texts();
            };
            if last.is_some_and(|l| index <= l) {
                return self.refuse_texts();
            }
            last = Some(index);
            let start = self.text_bytes.len();
            self.text_bytes.extend_from_slice(text);
            self.texts.push((index, start..self.text_bytes.len()));
            at += 8 + text.len();
        }
        i32::try_from(self.texts.len()).unwrap_or(i32::MAX)
    }

    fn refuse_texts(&mut self) -> i32 {
        self.texts.clear();
        self.text_bytes.clear();
        -1
    }

    fn sync_entries(
        &mut self,
        session: &mut Session,
        entries: impl Iterator<Item = Option<Entry>>,
    ) -> i64 {
        let mut first_bad = None;
        let mut last = 0;
        // The texts are the log's own: taken for this replay, then left empty.
        let mut texts = std::mem::take(&mut self.texts);
        let bytes = std::mem::take(&mut self.text_bytes);
        let mut next = texts.iter().peekable();
        for (i, entry) in entries.enumerate() {
            // Valid UTF-8 since `set_failure_texts`; read back as `str` the same way (kept as a
            // `String`, slicing it would link more code into the module than this check).
            let text = next
                .next_if(|(at, _)| *at as usize == i)
                .and_then(|(_, range)| std::str::from_utf8(&bytes[range.clone()]).ok());
            match entry.and_then(|e| self.replay(session, e, text)) {
                Some(result) => last = result,
                None => {
                    first_bad.get_or_insert(i as i64);
                }
            }
        }
        texts.clear();
        self.texts = texts;
        self.text_bytes = bytes;
        self.text_bytes.clear();
        match first_bad {
            Some(i) => SYNC_MISMATCH + i,
            None => last,
        }
    }

    /// One entry; `None` when it is malformed or the node disagrees with it.
    fn replay(&mut self, session: &mut Session, e: Entry, text: Option<&str>) -> Option<i64> {
        let service = self.names.get(e.slot)?;
        let node = session.node_mut();
        node.expect_breaker(self.hints[e.slot]);
        let result = replay(node, service, e, text);
        self.hints[e.slot] = node.recent_breaker();
        result
    }

    /// The `events_ok` reply document (with `in_reply_to` 0) holding the transitions after
    /// `seq`, read without settling anything. Valid until the next call.
    pub fn events_after(&mut self, session: &Session, seq: f64) -> &[u8] {
        let events = session.node().events_after(crate::millis_from_f64(seq));
        self.out.clear();
        reply::write(&mut self.out, "breaker", "embed", 0, &Reply::Events(events));
        &self.out
    }
}

/// One entry on `service`'s breaker: the very requests the messages would make, its record
/// with `text` as its `error`.
fn replay(node: &mut Node, service: &str, e: Entry, text: Option<&str>) -> Option<i64> {
    let Entry {
        code,
        permit,
        duration_ms,
        now,
        ..
    } = e;
    if (OP_CALL..OP_CALL + 3).contains(&code) && permit > 0 {
        // The common entry: both requests at once, the service looked up once.
        let at = now.checked_sub(duration_ms?)?;
        let outcome: Outcome = outcome_of((code % OP_CALL).try_into().ok()?)?;
        let stale = node.whole_call(at, now, service, permit, outcome, duration_ms, text)?;
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
        error: text.map(Cow::Borrowed),
    };
    match node.handle(now, &request) {
        Reply::Recorded { stale, .. } => Some(i64::from(stale)),
        _ => None,
    }
}

/// A non-negative whole number carried as f64.
fn whole(x: f64) -> Option<u64> {
    (x >= 0.0 && x.fract() == 0.0 && x <= crate::breaker::MAX_SAFE as f64).then_some(x as u64)
}
