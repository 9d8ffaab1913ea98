//! A node as one of a fleet (`--fleet`): transitions shared through a Redis stream, probes of
//! half_open shared through a lease in Redis, every decision still the guest's own.
//!
//! The serving loop's side is [`Fleet`], held by the watch: after a batch that moved a breaker
//! it reads the guest's new transitions (`fleet_outbox`, read-only) and hands them to the writer
//! thread (`writer.rs`: publishes, asks for probe leases); the reader thread (`reader.rs`) turns
//! the other nodes' entries into `peer_transition` documents. Those documents, and the lease's
//! answers (`fleet_lease`), come back through the loop's inputs (`Input::Peer`) as complete
//! documents and reach the guest with the next batch, like any document: the guest's input
//! alone decides, so a recorded input replays to the same replies (`--record`).

mod entry;
mod link;
mod reader;
mod writer;

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel};
use std::time::Duration;

use serde::Deserialize;

use crate::Args;
use crate::error::StartError;
use crate::inputs::Input;
use crate::messages::Ask;
use crate::supervisor::Supervisor;
use entry::Outgoing;

/// How many entries the fleet's stream keeps (`XADD ... MAXLEN ~`): what a node that was away
/// can catch up on.
const STREAM_MAXLEN: u64 = 10_000;

/// The serving loop's side of the fleet; inert without `--fleet`.
pub struct Fleet {
    /// The writer thread's queue, with `--fleet`, and word of its end.
    tx: Option<Sender<Vec<Outgoing>>>,
    writer_done: Option<Receiver<()>>,
    /// The seq of the last transition read from the guest.
    last_seq: u64,
    share_force: bool,
    complained: bool,
}

#[derive(Deserialize)]
struct Envelope {
    body: OutboxBody,
}

#[derive(Deserialize)]
struct OutboxBody {
    last_seq: u64,
    transitions: Vec<Outgoing>,
}

/// How long a node that is ending gives the writer to publish its last transitions.
const LAST_PUBLISH: Duration = Duration::from_secs(1);

/// This node's name in the fleet when `--instance` is not given: the host's name and the pid.
fn default_instance() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    let host = if host.is_empty() { "node" } else { host };
    format!("{host}-{}", std::process::id())
}

impl Fleet {
    /// Joins the fleet of `--fleet`, if given: starts the reader and writer threads (which
    /// connect in the background: a Redis that is away does not hold up the start).
    pub fn start(args: &Args, inputs: &SyncSender<Input>) -> Result<Fleet, StartError> {
        let mut fleet = Fleet {
            tx: None,
            writer_done: None,
            last_seq: 0,
            share_force: args.fleet_share_force,
            complained: false,
        };
        let Some(url) = &args.fleet else {
            return Ok(fleet);
        };
        let client = redis::Client::open(url.as_str())
            .map_err(|e| StartError::Fleet(format!("--fleet {url}: {e}")))?;
        let me = args.instance.clone().unwrap_or_else(default_instance);
        // One hash tag per fleet: in a Redis Cluster, all of a fleet's keys share one slot.
        let name = &args.fleet_name;
        let health = Arc::new(link::Health::default());
        let link = || link::Link::new(client.clone(), url, Arc::clone(&health));
        let names = writer::Names {
            me: me.clone(),
            stream: format!("breaker:{{{name}}}:transitions"),
            lease_prefix: format!("breaker:{{{name}}}:lease:"),
            maxlen: STREAM_MAXLEN,
        };
        reader::spawn(link(), names.stream.clone(), me, inputs.clone());
        let (tx, rx) = channel();
        fleet.writer_done = Some(writer::spawn(link(), names, rx, inputs.clone()));
        fleet.tx = Some(tx);
        Ok(fleet)
    }

    /// After a call into the guest: its new transitions go to the writer thread.
    pub fn after(&mut self, node: &mut Supervisor, now_ms: u64) {
        self.read_outbox(node, now_ms, true);
    }

    /// At start: the transitions a restored node already holds are old news, not published;
    /// the writer only learns from them which breakers are half_open (and want the lease).
    pub fn catch_up(&mut self, node: &mut Supervisor, now_ms: u64) {
        self.read_outbox(node, now_ms, false);
    }

    fn read_outbox(&mut self, node: &mut Supervisor, now_ms: u64, publish: bool) {
        let Some(tx) = &self.tx else {
            return;
        };
        let ask = Ask::FleetOutbox {
            msg_id: 0,
            after: self.last_seq,
            forced: self.share_force,
        };
        let read = node.read(&ask, now_ms).map_err(|t| t.to_string());
        let body = read
            .and_then(|line| serde_json::from_slice::<Envelope>(&line).map_err(|e| e.to_string()));
        match body {
            Ok(Envelope { mut body }) => {
                self.last_seq = body.last_seq;
                for t in body.transitions.iter_mut().filter(|_| !publish) {
                    t.share = false;
                }
                if !body.transitions.is_empty() {
                    let _ = tx.send(body.transitions);
                }
            }
            Err(e) if !self.complained => {
                diag!("fleet: cannot read the node's transitions ({e})");
                self.complained = true;
            }
            Err(_) => {}
        }
    }
}

impl Drop for Fleet {
    /// The node is ending: its last transitions are published (for at most [`LAST_PUBLISH`]).
    fn drop(&mut self) {
        self.tx = None;
        if let Some(done) = &self.writer_done {
            let _ = done.recv_timeout(LAST_PUBLISH);
        }
    }
}
