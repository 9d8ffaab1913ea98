//! One config's replay: a fresh module configured with it is given the recorded documents,
//! each at its recorded time, and what it decided is kept: every reply's verdict (admitted,
//! rejected, neither) and service, and every transition.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;

use super::reader::{Chunk, Recording};
use crate::guest::{Guest, Trap};
use crate::messages::Ask;
use crate::supervisor::{Setup, fresh};
use crate::watch::log::Transition;

/// Documents given to the module in one call at most: documents of the same time go together,
/// and the module's event log (the last 1,000 transitions) is read after every call. A call that
/// brings many transitions makes the next ones smaller, down to [`FEWEST_PER_CALL`], so that
/// the log does not overflow between two reads; calls grow again when transitions are few.
const DOCS_PER_CALL: usize = 2048;
const FEWEST_PER_CALL: usize = 8;

/// What a reply says of the call it answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not a decision on a call (`record_ok`, admin replies, errors other than a rejection).
    Other,
    /// The call was let through (`call_ok`, `call_failed`, `circuit_breaker_open`,
    /// `circuit_breaker_closed`, `acquire_ok`).
    Admitted,
    /// The breaker refused it (`call`'s `"Circuit breaker OPEN"`/`"HALF_OPEN"`, code 11).
    Rejected,
}

/// What one config's replay decided.
pub struct Run {
    /// Per reply, in order: its verdict and its service (an index in `services`).
    pub verdicts: Vec<(Verdict, u32)>,
    /// Per call into the module: the index of its first reply and the node's time then.
    pub times: Vec<(usize, u64)>,
    pub services: Vec<String>,
    pub transitions: Vec<Transition>,
    /// Transitions the event log no longer held when it was read (more than 1,000 in one call).
    pub unseen_transitions: u64,
    /// The replies, kept when asked for.
    pub replies: Option<Vec<u8>>,
}

/// The parts of a reply a replay reads.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    body: Body<'a>,
}

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    service: Option<Cow<'a, str>>,
    code: Option<u64>,
}

#[derive(Deserialize)]
struct EventsLine {
    body: EventsBody,
}

#[derive(Deserialize)]
struct EventsBody {
    events: Vec<Transition>,
}

/// Replays `recording` on a fresh module set up by `setup`; keeps the replies when `keep`.
pub fn run(setup: &Setup, recording: &Recording, keep: bool) -> Result<Run, String> {
    let mut replayer = Replayer {
        guest: fresh(setup, 0).map_err(|e| e.to_string())?,
        run: Run {
            verdicts: Vec::with_capacity(recording.len()),
            times: Vec::new(),
            services: Vec::new(),
            transitions: Vec::new(),
            unseen_transitions: 0,
            replies: keep.then(Vec::new),
        },
        names: HashMap::new(),
        replies: Vec::new(),
        diagnostics: Vec::new(),
        last_seq: 0,
        manual: setup.options.manual_clock,
        node_time: 0,
        done: 0,
        per_call: DOCS_PER_CALL,
    };
    replayer.last_seq = read_events(&mut replayer.guest, &mut replayer.run, 0, 0)?;
    for chunk in &recording.chunks {
        replayer.chunk(chunk)?;
    }
    Ok(replayer.run)
}

/// A replay under way.
struct Replayer {
    guest: Guest,
    run: Run,
    names: HashMap<String, u32>,
    replies: Vec<u8>,
    diagnostics: Vec<u8>,
    /// The last transition read from the module's log.
    last_seq: u64,
    manual: bool,
    /// The node's time under the manual clock.
    node_time: u64,
    /// Documents replayed.
    done: usize,
    /// Documents in the next call at most.
    per_call: usize,
}

impl Replayer {
    /// Gives the module the documents of `chunk`, those of the same time together.
    fn chunk(&mut self, chunk: &Chunk) -> Result<(), String> {
        let docs = &chunk.docs;
        let begin = |i: usize| if i == 0 { 0 } else { docs[i - 1].1 };
        // Under the manual clock only `advance_clock` moves the node's time: a call ends after
        // one, and the node is asked its time then (an `advance_clock` of 0 ms, which changes
        // nothing).
        let advance = memchr::memmem::Finder::new(b"advance_clock");
        let manual = self.manual;
        let moves = |i: usize| manual && advance.find(&chunk.bytes[begin(i)..docs[i].1]).is_some();
        let mut i = 0;
        while i < docs.len() {
            let at = docs[i].0;
            let mut j = i + 1;
            while j < docs.len() && j - i < self.per_call && docs[j].0 == at && !moves(j - 1) {
                j += 1;
            }
            let input = &chunk.bytes[begin(i)..docs[j - 1].1];
            let (first, last) = (self.done + i + 1, self.done + j);
            self.call(input, at, (first, last))?;
            if moves(j - 1) {
                self.node_time = clock(&mut self.guest)?;
            }
            i = j;
        }
        self.done += docs.len();
        Ok(())
    }

    /// One call into the module with the documents `input` (numbered `docs`) at `at`.
    fn call(&mut self, input: &[u8], at: u64, docs: (usize, usize)) -> Result<(), String> {
        self.replies.clear();
        self.diagnostics.clear();
        self.guest
            .handle(input, at, &mut self.replies, &mut self.diagnostics)
            .map_err(|Trap(why)| {
                format!(
                    "the module failed on recorded documents {}–{} ({why})",
                    docs.0, docs.1
                )
            })?;
        let run = &mut self.run;
        let time = if self.manual { self.node_time } else { at };
        run.times.push((run.verdicts.len(), time));
        for line in self
            .replies
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
        {
            run.verdicts
                .push(verdict(line, &mut self.names, &mut run.services)?);
        }
        if let Some(kept) = &mut run.replies {
            kept.extend_from_slice(&self.replies);
        }
        let before = run.transitions.len();
        self.last_seq = read_events(&mut self.guest, run, self.last_seq, at)?;
        self.per_call = match run.transitions.len() - before {
            n if n > 250 => (self.per_call / 4).max(FEWEST_PER_CALL),
            n if n < 50 => (self.per_call * 2).min(DOCS_PER_CALL),
            _ => self.per_call,
        };
        Ok(())
    }
}

/// The verdict of one reply line, and its service.
fn verdict(
    line: &[u8],
    names: &mut HashMap<String, u32>,
    services: &mut Vec<String>,
) -> Result<(Verdict, u32), String> {
    let body = serde_json::from_slice::<Line>(line)
        .map_err(|e| format!("a reply the replay cannot read ({e})"))?
        .body;
    let verdict = match (&*body.kind, body.code) {
        ("error", None | Some(11)) if body.service.is_some() => Verdict::Rejected,
        ("call_ok" | "call_failed" | "circuit_breaker_open" | "circuit_breaker_closed", _)
        | ("acquire_ok", _) => Verdict::Admitted,
        _ => Verdict::Other,
    };
    let id = match body.service {
        Some(name) => match names.get(&*name) {
            Some(&id) => id,
            None => {
                let id = services.len() as u32;
                names.insert(name.to_string(), id);
                services.push(name.into_owned());
                id
            }
        },
        None => u32::MAX,
    };
    Ok((verdict, id))
}

#[derive(Deserialize)]
struct ClockLine {
    body: ClockBody,
}

#[derive(Deserialize)]
struct ClockBody {
    now_ms: u64,
}

/// The node's time under the manual clock.
fn clock(guest: &mut Guest) -> Result<u64, String> {
    let ask = Ask::AdvanceClock { msg_id: 0, ms: 0 };
    let (mut reply, mut diagnostics) = (Vec::new(), Vec::new());
    guest
        .handle_own(&ask.to_document(), 0, &mut reply, &mut diagnostics)
        .map_err(|Trap(why)| format!("the module failed on reading its clock ({why})"))?;
    serde_json::from_slice::<ClockLine>(&reply)
        .map(|l| l.body.now_ms)
        .map_err(|e| format!("the module's clock could not be read ({e})"))
}

/// Reads the transitions after `after` from the module's log (without settling anything);
/// returns the last `seq` seen.
fn read_events(guest: &mut Guest, run: &mut Run, after: u64, now_ms: u64) -> Result<u64, String> {
    let ask = Ask::Events {
        msg_id: 0,
        after,
        settle: false,
    };
    let (mut reply, mut diagnostics) = (Vec::new(), Vec::new());
    guest
        .handle_own(&ask.to_document(), now_ms, &mut reply, &mut diagnostics)
        .map_err(|Trap(why)| format!("the module failed on reading its events ({why})"))?;
    let events = serde_json::from_slice::<EventsLine>(&reply)
        .map_err(|e| format!("the module's events could not be read ({e})"))?
        .body
        .events;
    let mut last = after;
    for t in events {
        run.unseen_transitions += t.seq.saturating_sub(last + 1);
        last = t.seq;
        run.transitions.push(t);
    }
    Ok(last)
}
