//! Watching a running node: transitions on stderr, with `--listen` an HTTP side serving
//! `/metrics`, `/events` and `/status`, and with `--fleet` the fleet's publisher.
//!
//! The serving loop asks the guest with the host's own read-only messages (`events` after the
//! last seq seen, without settling; `status`; `metrics`), in calls of their own, so nothing a
//! client sends or gets changes. It learns of transitions after every batch and refreshes status
//! and metrics only when an HTTP client asks for them.

mod host_metrics;
mod http;
pub mod log;
mod shared;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::Args;
use crate::clock::ClockKind;
use crate::error::StartError;
use crate::fleet::Fleet;
use crate::inputs::Input;
use crate::messages::Ask;
use crate::supervisor::Supervisor;
use log::{LogFormat, Transition};
use shared::{HostCounts, Shared};

/// A transition as the `data:` of an event.
fn json(t: &Transition) -> String {
    serde_json::to_string(t).expect("strings and numbers")
}

/// How many lines `bytes` holds (each ends with a newline).
pub fn lines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

/// Wakes the serving loop so it sees a client's wish for fresh status and metrics.
pub type Poke = Box<dyn Fn() + Send + Sync>;

/// The serving loop's side of the watch.
pub struct Watch {
    shared: Arc<Shared>,
    /// The seq of the last transition read from the module, and the transition.
    last_seq: u64,
    last: String,
    log: LogFormat,
    /// `--listen` is on: the event stream needs every transition even when none is logged.
    listening: bool,
    clock: ClockKind,
    /// Said once when the module's answers cannot be read, rather than on every batch.
    complained: bool,
    /// The fleet (`--fleet`) gets the transitions too.
    pub fleet: Fleet,
}

#[derive(Deserialize)]
struct Envelope<B> {
    body: B,
}

#[derive(Deserialize)]
struct EventsBody {
    events: Vec<Transition>,
}

#[derive(Deserialize)]
struct MetricsBody {
    text: String,
}

impl Watch {
    /// The watch of `node`, writing transitions as `--log-format` says and, with `--listen`,
    /// serving HTTP there (`poke` wakes the serving loop). The transitions already in the
    /// module's log (a restored node's) are kept for clients that resume, not written again.
    pub fn start(
        args: &Args,
        poke: SyncSender<Input>,
        node: &mut Supervisor,
        now_ms: u64,
    ) -> Result<Watch, StartError> {
        // Empty data wakes the loop, which then looks at `wanted`; a full channel means it is
        // busy and will look soon anyway.
        let fleet = Fleet::start(args, &poke)?;
        let poke: Poke = Box::new(move || drop(poke.try_send(Input::Data(Vec::new()))));
        let shared = Arc::new(Shared::new());
        if let Some(addr) = &args.listen {
            http::spawn(addr, Arc::clone(&shared), poke)?;
        }
        let mut watch = Watch {
            shared,
            last_seq: 0,
            last: String::new(),
            log: args.log_format,
            listening: args.listen.is_some(),
            clock: args.clock,
            complained: false,
            fleet,
        };
        watch.read_events(node, now_ms, false);
        watch.fleet.catch_up(node, now_ms);
        Ok(watch)
    }

    fn counts(&self) -> &HostCounts {
        &self.shared.counts
    }

    /// `n` reply lines go to stdout.
    pub fn replies(&self, n: usize) {
        HostCounts::add(&self.counts().replies_out, n as u64);
    }

    /// `n` documents were refused (a stderr line each).
    pub fn bad_documents(&self, n: usize) {
        HostCounts::add(&self.counts().bad_documents, n as u64);
    }

    /// A document refused before it reached the module: counted, and said on stderr.
    pub fn refused(&self, line: u64, column: u64, message: &str) {
        self.bad_documents(1);
        diag!("stdin line {line}, column {column}: {message}");
    }

    /// The module failed on a call.
    pub fn trapped(&self) {
        HostCounts::add(&self.counts().guest_traps, 1);
    }

    /// After a batch of `docs` documents: the transitions it caused, on stderr and to the event
    /// stream.
    pub fn batch(&mut self, node: &mut Supervisor, now_ms: u64, docs: usize) {
        HostCounts::add(&self.counts().messages_in, docs as u64);
        let (seen, reading) = (self.last_seq, self.log != LogFormat::Off || self.listening);
        if reading {
            self.read_events(node, now_ms, true);
        }
        // The fleet asks the module only after a batch that moved a breaker, when that is known.
        if !reading || self.last_seq != seen {
            self.fleet.after(node, now_ms);
        }
    }

    /// Reads the transitions after the last one seen. The last one seen is asked for again:
    /// when the module's log no longer has it or anything after it, the log started over (a
    /// client restored an older snapshot), and it is read again from its start.
    fn read_events(&mut self, node: &mut Supervisor, now_ms: u64, write: bool) {
        let ask = Ask::Events {
            msg_id: 0,
            after: self.last_seq.saturating_sub(1),
            settle: false,
        };
        let Some(mut body) = self.read::<EventsBody>(node, &ask, now_ms) else {
            return;
        };
        if self.last_seq > 0 {
            match body.events.first() {
                Some(first) if first.seq == self.last_seq && self.last == json(first) => {
                    drop(body.events.remove(0));
                }
                Some(first) if first.seq > self.last_seq => {}
                _ => {
                    self.last_seq = 0;
                    self.shared.start_over();
                    return self.read_events(node, now_ms, write);
                }
            }
        }
        let Some(last) = body.events.last() else {
            return;
        };
        self.last_seq = last.seq;
        self.last = json(last);
        let mut events = Vec::with_capacity(body.events.len());
        for t in body.events {
            if write {
                log::write(self.log, self.clock, &t);
            }
            events.push(shared::Event {
                seq: t.seq,
                json: json(&t),
            });
        }
        self.shared.push_events(events);
    }

    /// Fresh status and metrics, when an HTTP client waits for them.
    pub fn refresh(&mut self, node: &mut Supervisor, now_ms: u64) {
        if !self.shared.take_wanted() {
            return;
        }
        let age = node.checkpoint_age().as_millis() as u64;
        self.counts()
            .checkpoint_age_ms
            .store(age, Ordering::Relaxed);
        let status = self.read::<Box<RawValue>>(node, &Ask::Status { msg_id: 0 }, now_ms);
        let metrics = self.read::<MetricsBody>(node, &Ask::Metrics { msg_id: 0 }, now_ms);
        if let (Some(status), Some(metrics)) = (status, metrics) {
            self.shared.publish(status.get().to_string(), metrics.text);
        }
    }

    /// The body of the module's reply to `ask`, read as `B`.
    fn read<B: for<'de> Deserialize<'de>>(
        &mut self,
        node: &mut Supervisor,
        ask: &Ask,
        now_ms: u64,
    ) -> Option<B> {
        let failed = match node.read(ask, now_ms) {
            Ok(reply) => match serde_json::from_slice::<Envelope<B>>(&reply) {
                Ok(envelope) => return Some(envelope.body),
                Err(e) => format!("an answer it cannot read ({e})"),
            },
            Err(trap) => {
                self.trapped();
                format!("the module failed ({trap})")
            }
        };
        if !self.complained {
            diag!("watching the node: {failed}");
            self.complained = true;
        }
        None
    }
}
