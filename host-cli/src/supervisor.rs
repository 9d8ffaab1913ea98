//! The guest's supervisor: one guest instance, its last checkpoint, and every call
//! handled since, so that a failed instance can be rebuilt exactly where it stood. Nothing
//! here decides anything for a breaker.
//!
//! A checkpoint is a `snapshot` taken through the guest, with the input stream's state (what
//! the guest holds of a document not yet complete). Rebuilding makes a fresh instance, restores
//! the checkpoint at the time it was taken (so no time shifts), and replays the calls handled
//! since (stream chunks and whole documents alike) with their own times, replies discarded.
//! Fuel makes that replay deterministic: a call that fitted its budget once fits it again.

use serde_json::value::RawValue;

use crate::error::StartError;
use crate::guest::{Guest, GuestOptions, Limits, Program, Trap};
use crate::messages::{self, Ask, Reply};

mod calls;

use calls::{Call, Kind};

/// Everything needed to make a fresh instance like the first.
pub struct Setup {
    pub program: Program,
    pub options: GuestOptions,
    pub limits: Limits,
    /// The `--config` file: its name and contents, applied to every fresh node.
    pub config: Option<(String, Vec<u8>)>,
}

/// A snapshot object, the input stream's state, and the node time they were taken at.
struct Checkpoint {
    snapshot: Box<RawValue>,
    stream: Vec<u8>,
    now_ms: u64,
    taken: std::time::Instant,
}

/// The most input kept for a replay while checkpoints fail. Past it the node stops rather than
/// keep a log (and a rebuild time) that grows without bound.
pub const MAX_REPLAY_BYTES: usize = 64 << 20;

pub struct Supervisor {
    setup: Setup,
    guest: Guest,
    checkpoint: Checkpoint,
    since: Vec<Call>,
    since_bytes: usize,
    /// Set when the node can no longer be kept whole: why, in one line. The instance is dead
    /// then, and nothing more may be handled or saved.
    lost: Option<String>,
}

impl Supervisor {
    /// A node with the `--config` defaults, then the state of `saved` (a snapshot object read
    /// from `path`) when given.
    pub fn start(
        setup: Setup,
        saved: Option<(&str, &[u8])>,
        now_ms: u64,
    ) -> Result<Supervisor, StartError> {
        let mut guest = fresh(
            &setup,
            saved.map_or(0, |(_, bytes)| restore_headroom(bytes)),
        )?;
        if let Some((path, snapshot)) = saved {
            let refused = |reason: String| StartError::State {
                path: path.to_string(),
                reason,
            };
            let snapshot = messages::object(snapshot).map_err(|e| refused(e.to_string()))?;
            restore(&mut guest, snapshot, now_ms, None).map_err(refused)?;
        }
        let checkpoint = snapshot(&mut guest, now_ms).map_err(|t| StartError::Instantiate(t.0))?;
        Ok(Supervisor {
            setup,
            guest,
            checkpoint,
            since: Vec::new(),
            since_bytes: 0,
            lost: None,
        })
    }

    /// Why the node stopped, if it could not be rebuilt without losing state.
    pub fn lost(&self) -> Option<&str> {
        self.lost.as_deref()
    }

    /// Tells the node how the checkpoints went, for `status` (a failure here only loses that).
    pub fn report_checkpoints(&mut self, last_good_ms: u64, failures: u64) {
        if self.lost.is_none() {
            let _ = self.guest.report_checkpoints(last_good_ms, failures);
        }
    }

    /// How long ago the last checkpoint was taken.
    pub fn checkpoint_age(&self) -> std::time::Duration {
        self.checkpoint.taken.elapsed()
    }

    /// The node time of the last checkpoint taken.
    pub fn checkpoint_ms(&self) -> u64 {
        self.checkpoint.now_ms
    }

    /// Hands complete documents to the guest (see [`Guest::handle`]) and remembers them for a
    /// rebuild. On a failure the instance is dead: call [`Supervisor::rebuild`].
    pub fn handle(
        &mut self,
        input: &[u8],
        now_ms: u64,
        replies: &mut Vec<u8>,
        diagnostics: &mut Vec<u8>,
    ) -> Result<(), Trap> {
        if let Some(lost) = &self.lost {
            return Err(Trap(lost.clone()));
        }
        self.guest.handle(input, now_ms, replies, diagnostics)?;
        self.remember(Kind::Documents, input, now_ms);
        Ok(())
    }

    /// Hands the next chunk of the input stream to the guest (see [`Guest::stream`]) and
    /// remembers it for a rebuild; returns how many whole documents it completed. On a failure
    /// the instance is dead: call [`Supervisor::rebuild`].
    pub fn stream(
        &mut self,
        chunk: &[u8],
        now_ms: u64,
        replies: &mut Vec<u8>,
        diagnostics: &mut Vec<u8>,
    ) -> Result<u64, Trap> {
        if let Some(lost) = &self.lost {
            return Err(Trap(lost.clone()));
        }
        let documents = self.guest.stream(chunk, now_ms, replies, diagnostics)?;
        self.remember(Kind::Stream, chunk, now_ms);
        Ok(documents)
    }

    /// The end of the input stream: the diagnostic of an unfinished document, if any.
    pub fn stream_end(&mut self, diagnostics: &mut Vec<u8>) -> Result<(), Trap> {
        if let Some(lost) = &self.lost {
            return Err(Trap(lost.clone()));
        }
        self.guest.stream_end(diagnostics)?;
        self.remember(Kind::StreamEnd, &[], 0);
        Ok(())
    }

    fn remember(&mut self, kind: Kind, input: &[u8], now_ms: u64) {
        self.since_bytes += input.len();
        self.since.push(Call {
            kind,
            input: input.to_vec(),
            now_ms,
        });
    }

    /// Sends one of the host's read-only messages (status, metrics, events), which change
    /// nothing a client sees and so are not kept for a replay; returns the reply line. If the
    /// guest fails on it, the node is rebuilt.
    pub fn read(&mut self, ask: &Ask, now_ms: u64) -> Result<Vec<u8>, Trap> {
        if let Some(lost) = &self.lost {
            return Err(Trap(lost.clone()));
        }
        let reply = send(&mut self.guest, ask, now_ms);
        if reply.is_err() {
            self.rebuild();
        }
        reply
    }

    /// Whether anything was handled since the last checkpoint.
    pub fn changed(&self) -> bool {
        !self.since.is_empty()
    }

    /// How many input bytes a rebuild would replay.
    pub fn replay_bytes(&self) -> usize {
        self.since_bytes
    }

    /// Takes a checkpoint through the guest and returns its snapshot object. If the guest fails
    /// on it, the node is rebuilt from the previous one; if that leaves more than
    /// [`MAX_REPLAY_BYTES`] to replay, the node stops (see [`Supervisor::lost`]).
    pub fn checkpoint(&mut self, now_ms: u64) -> Result<&[u8], Trap> {
        if let Some(lost) = &self.lost {
            return Err(Trap(lost.clone()));
        }
        match snapshot(&mut self.guest, now_ms) {
            Ok(checkpoint) => {
                self.checkpoint = checkpoint;
                self.since.clear();
                self.since_bytes = 0;
                Ok(self.checkpoint.snapshot.get().as_bytes())
            }
            Err(trap) => {
                self.rebuild();
                if self.lost.is_none() && self.since_bytes >= MAX_REPLAY_BYTES {
                    self.lost = Some(format!(
                        "checkpoints keep failing ({trap}) and {} MiB of input since the last one would have to be replayed; stopped",
                        self.since_bytes >> 20
                    ));
                }
                Err(trap)
            }
        }
    }

    /// Replaces the guest with a fresh instance in the state of the last checkpoint plus every
    /// call handled since. Should the replay fail, the node carries on from the checkpoint alone
    /// (the state every saved copy holds). Should even that fail, the node stops (see
    /// [`Supervisor::lost`]): it never carries on with, or saves, a node emptier than its last
    /// checkpoint.
    pub fn rebuild(&mut self) {
        if self.lost.is_some() {
            return;
        }
        let replayed = self.at_checkpoint().and_then(|mut guest| {
            for call in &self.since {
                call.replay(&mut guest)
                    .map_err(|t| format!("replaying: {t}"))?;
            }
            Ok(guest)
        });
        let guest = replayed.or_else(|e| {
            diag!(
                "cannot rebuild the node ({e}); carrying on from the last checkpoint, at {} ms",
                self.checkpoint.now_ms
            );
            self.since.clear();
            self.since_bytes = 0;
            self.at_checkpoint()
        });
        match guest {
            Ok(guest) => self.guest = guest,
            Err(e) => {
                self.lost = Some(format!(
                    "cannot restore the last checkpoint ({e}); stopped without taking more input, rather than carry on with an emptier node"
                ));
            }
        }
    }

    /// A fresh instance in the state of the last checkpoint, at the time it was taken.
    fn at_checkpoint(&self) -> Result<Guest, String> {
        let headroom = restore_headroom(self.checkpoint.snapshot.get().as_bytes());
        let mut guest = fresh(&self.setup, headroom).map_err(|e| e.to_string())?;
        let clock = self
            .setup
            .options
            .manual_clock
            .then_some(self.checkpoint.now_ms);
        restore(
            &mut guest,
            &self.checkpoint.snapshot,
            self.checkpoint.now_ms,
            clock,
        )?;
        guest
            .set_stream_state(&self.checkpoint.stream)
            .map_err(|t| t.0)?;
        Ok(guest)
    }
}

/// The guest memory a restore of `snapshot` may take beyond the limit: the document itself,
/// copied into the guest, and what reading it holds until the node is built, which the running
/// node never needed. The node's state stays within its budget (half the limit) whatever this
/// is, so whatever a node writes, a node with the same options can restore.
fn restore_headroom(snapshot: &[u8]) -> usize {
    snapshot.len().saturating_mul(3).saturating_add(16 << 20)
}

/// A fresh instance with the `--config` defaults, with `headroom` for a restore.
pub fn fresh(setup: &Setup, headroom: usize) -> Result<Guest, StartError> {
    let mut guest = setup
        .program
        .instantiate(setup.options, setup.limits, headroom)?;
    if let Some((path, config)) = &setup.config {
        let bad = |reason: String| StartError::Config {
            path: path.clone(),
            reason,
        };
        let config = messages::object(config).map_err(|e| bad(e.to_string()))?;
        let ask = Ask::Configure { msg_id: 0, config };
        let reply = send(&mut guest, &ask, 0).map_err(|t| bad(t.0))?;
        match messages::reply(&reply, "configure_ok").map_err(&bad)? {
            Reply::Refused(text) => return Err(bad(text)),
            Reply::Done | Reply::Snapshot(_) => {}
        }
    }
    Ok(guest)
}

/// Sends one of the host's own messages; returns the reply line, or the diagnostics when
/// nothing answered.
fn send(guest: &mut Guest, ask: &Ask, now_ms: u64) -> Result<Vec<u8>, Trap> {
    let (mut reply, mut diagnostics) = (Vec::new(), Vec::new());
    guest.handle_own(&ask.to_document(), now_ms, &mut reply, &mut diagnostics)?;
    if reply.is_empty() {
        return Ok(diagnostics);
    }
    Ok(reply)
}

/// Restores `snapshot` (one JSON object) at `now_ms`, first moving a manual clock to `clock`
/// when given.
fn restore(
    guest: &mut Guest,
    snapshot: &RawValue,
    now_ms: u64,
    clock: Option<u64>,
) -> Result<(), String> {
    if let Some(ms) = clock {
        let reply = send(guest, &Ask::AdvanceClock { msg_id: 0, ms }, now_ms).map_err(|t| t.0)?;
        if let Reply::Refused(text) = messages::reply(&reply, "advance_clock_ok")? {
            return Err(text);
        }
    }
    let ask = Ask::Restore {
        msg_id: 0,
        snapshot,
    };
    let reply = send(guest, &ask, now_ms).map_err(|t| t.0)?;
    match messages::reply(&reply, "restore_ok")? {
        Reply::Refused(text) => Err(text),
        _ => Ok(()),
    }
}

/// A checkpoint: the guest's `snapshot` object, read from its reply.
fn snapshot(guest: &mut Guest, now_ms: u64) -> Result<Checkpoint, Trap> {
    let reply = send(guest, &Ask::Snapshot { msg_id: 0 }, now_ms)?;
    let snapshot = match messages::reply(&reply, "snapshot_ok").map_err(Trap)? {
        Reply::Snapshot(snapshot) => snapshot,
        other => return Err(Trap(format!("unexpected answer to a snapshot: {other:?}"))),
    };
    Ok(Checkpoint {
        now_ms: messages::snapshot_time(snapshot).map_err(Trap)?,
        snapshot: snapshot.to_owned(),
        stream: guest.stream_state()?,
        taken: std::time::Instant::now(),
    })
}
