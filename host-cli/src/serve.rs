//! The serving loop: stdin goes to the guest as it comes (the guest finds the documents), replies
//! go to stdout, and the node is checkpointed on a timer.
//!
//! A reader thread and a signal thread feed one channel. The loop takes everything already
//! there, hands it to the guest, and writes and flushes the replies before it waits again: an
//! interactive client that waits for each reply never stalls, a streaming one gets batched writes.
//! While it waits it wakes up for the next checkpoint (`recv_timeout`), and at the end (end of
//! input, SIGTERM, SIGINT, SIGHUP, SIGQUIT, a closed stdout) it flushes every reply, then writes
//! the state file.

use std::io::{self, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use breaker_wasm::wire::framing::{Frame, Splitter};

use crate::batch;
use crate::clock::Clock;
use crate::error::StartError;
use crate::guest::{GuestOptions, Limits, Program};
use crate::inputs::{Input, spawn_inputs};
use crate::state_file::{StateFile, open_state_file};
use crate::supervisor::{Setup, Supervisor};
use crate::watch::{Watch, lines};
use crate::{Args, read_config};

/// Hand the guest at most this much at once, and write replies at least this often.
const BATCH_BYTES: usize = 1 << 20;

/// Take a checkpoint early once this much input has been handled since the last one, which
/// bounds both the memory kept for a rebuild and the time a rebuild takes.
const REPLAY_BYTES: usize = 16 << 20;

/// Checkpoints take at most about this share of the time (1/10): after one that took `t`, the
/// next waits at least `9t`. A checkpoint costs time in proportion to the whole node (about
/// 0.9 s at a million breakers), so a large node is checkpointed less often than every
/// `--checkpoint-ms` rather than spend most of its time checkpointing.
const CHECKPOINT_GAP_FACTOR: u32 = 9;

mod recover;

/// How the node ended after serving.
pub enum Ending {
    /// Every reply flushed and the final state saved (or no state file).
    Saved,
    /// The latest state could not be saved: what was lost, in one line.
    Lost(String),
}

pub fn run(args: &Args) -> Result<Ending, StartError> {
    let program = match &args.module {
        Some(path) => Program::from_file(path)?,
        None => Program::embedded()?,
    };
    let setup = Setup {
        program,
        options: GuestOptions::of(args),
        limits: Limits {
            memory_bytes: (args.max_guest_memory_mib as usize) << 20,
            fuel_per_call: args.max_call_fuel,
            fuel_per_byte: crate::FUEL_PER_BYTE,
            max_document: args.max_message_bytes as usize,
        },
        config: match &args.config {
            Some(path) => Some((path.display().to_string(), read_config(path)?)),
            None => None,
        },
    };
    let mut clock = Clock::new(args.clock);
    let (state_file, saved) = match &args.state_file {
        Some(path) => open_state_file(path, setup.limits.memory_bytes as u64)?,
        None => (None, None),
    };
    let name = args.state_file.as_ref().map(|p| p.display().to_string());
    let saved = saved
        .as_deref()
        .map(|bytes| (name.as_deref().unwrap_or(""), bytes));
    let recorder = crate::record::from_args(args, saved.is_some(), &setup)?;
    // A recording needs every document: the host frames the input itself.
    let native = recorder
        .as_ref()
        .map(|_| Splitter::new(args.max_message_bytes as usize));
    let mut node = Supervisor::start(setup, saved, clock.now_ms())?;
    let (inputs, poke, spent) = spawn_inputs();
    let watch = Watch::start(args, poke, &mut node, clock.now_ms())?;
    let interval = Duration::from_millis(args.checkpoint_ms);
    let mut server = Server {
        node,
        clock,
        input: Vec::new(),
        spent,
        native,
        replies: Vec::new(),
        diagnostics: Vec::new(),
        state_file,
        unsaved: None,
        failures_since: 0,
        interval,
        next_checkpoint: Instant::now() + interval,
        earliest_checkpoint: Instant::now(),
        closed: false,
        watch,
        recorder,
    };
    while !server.closed {
        let wait = server
            .next_checkpoint
            .saturating_duration_since(Instant::now());
        match inputs.recv_timeout(wait) {
            Ok(first) => server.round(first, &inputs),
            Err(RecvTimeoutError::Timeout) => server.checkpoint_if_due(),
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    Ok(server.finish())
}

struct Server {
    node: Supervisor,
    clock: Clock,
    /// Input read but not yet handed to the guest.
    input: Vec<u8>,
    /// Where read buffers go back to the stdin thread once their bytes are handled.
    spent: std::sync::mpsc::Sender<Vec<u8>>,
    /// After the guest failed on the input: the stream, framed here until it is between
    /// documents again (see `batch`).
    native: Option<Splitter>,
    replies: Vec<u8>,
    diagnostics: Vec<u8>,
    state_file: Option<StateFile>,
    /// While the state file does not hold the node's latest checkpoint: the node time of the
    /// one it holds, and why the newer ones failed.
    unsaved: Option<(u64, String)>,
    /// Checkpoints that failed since the last good one.
    failures_since: u64,
    interval: Duration,
    next_checkpoint: Instant,
    /// No checkpoint for replay's sake before this (see [`CHECKPOINT_GAP_FACTOR`]).
    earliest_checkpoint: Instant,
    /// The input ended, a signal came, stdout is gone, or the node could not be kept whole:
    /// nothing more will be served.
    closed: bool,
    watch: Watch,
    /// `--record`: every document the guest is given, with its time.
    recorder: Option<crate::record::Recorder>,
}

impl Server {
    /// Takes `first` and everything already waiting behind it, then flushes the replies.
    fn round(&mut self, first: Input, inputs: &Receiver<Input>) {
        let mut next = Some(first);
        while let Some(input) = next {
            match input {
                Input::Data(bytes) => self.take(bytes),
                Input::Peer(doc) => self.peer(&doc),
                Input::End => {
                    self.end_of_input();
                    self.closed = true;
                }
                Input::Stop => self.closed = true,
            }
            if self.closed {
                return;
            }
            next = inputs.try_recv().ok();
        }
        self.flush();
        self.watch.refresh(&mut self.node, self.clock.now_ms());
        self.checkpoint_if_due();
    }

    /// Takes new input, handing it to the guest once there is enough of it.
    fn take(&mut self, bytes: Vec<u8>) {
        if self.input.is_empty() {
            let handled = std::mem::replace(&mut self.input, bytes);
            let _ = self.spent.send(handled);
        } else {
            self.input.extend_from_slice(&bytes);
            let _ = self.spent.send(bytes);
        }
        if self.input.len() >= BATCH_BYTES {
            self.run_batch();
            if self.replies.len() >= BATCH_BYTES {
                self.write_replies();
            }
            self.checkpoint_if_due();
        }
    }

    fn end_of_input(&mut self) {
        self.run_batch();
        if self.node.lost().is_some() {
            return;
        }
        if let Some(mut splitter) = self.native.take() {
            if let Some(Frame::Error {
                line,
                column,
                message,
            }) = splitter.finish()
            {
                self.watch.refused(line, column, &message);
            }
            return;
        }
        self.diagnostics.clear();
        match self.node.stream_end(&mut self.diagnostics) {
            Ok(()) => batch::report(&self.diagnostics, &self.watch, |n| n),
            Err(trap) => diag!("the module failed at the end of input ({trap})"),
        }
    }

    /// Hands the waiting input to the guest. If it fails, the node is rebuilt from its last
    /// checkpoint and the input is framed here and handled again one document at a time, so
    /// that only the one the guest fails on answers code 13. A stop signal ends that re-run at
    /// the next document: the documents not yet handled are dropped, unanswered.
    fn run_batch(&mut self) {
        if self.input.is_empty() || self.node.lost().is_some() {
            self.input.clear();
            return;
        }
        let now = self.clock.now_ms();
        let before = self.replies.len();
        self.diagnostics.clear();
        let chunk = std::mem::take(&mut self.input);
        let documents = match self.native.take() {
            Some(splitter) => self.natively(splitter, &chunk, None, now),
            None => self.streamed(&chunk, before, now),
        };
        self.input = chunk;
        self.input.clear();
        self.watch.batch(&mut self.node, now, documents);
        let replay = self.node.replay_bytes();
        if replay >= 2 * REPLAY_BYTES
            || (replay >= REPLAY_BYTES && Instant::now() >= self.earliest_checkpoint)
        {
            self.checkpoint();
        }
        if self.node.lost().is_some() {
            self.closed = true;
        }
    }

    /// A document from the fleet: after the input that came before it, on its own.
    fn peer(&mut self, doc: &[u8]) {
        self.run_batch();
        if self.node.lost().is_none() {
            let now = self.clock.now_ms();
            self.run_one(doc, 0, now);
            self.watch.batch(&mut self.node, now, 0);
        }
    }

    /// Runs what is waiting and writes every reply out.
    fn flush(&mut self) {
        self.run_batch();
        self.write_replies();
        crate::record::flush(&mut self.recorder);
    }

    fn write_replies(&mut self) {
        if self.replies.is_empty() {
            return;
        }
        self.watch.replies(lines(&self.replies));
        let mut out = io::stdout().lock();
        let written = out.write_all(&self.replies).and_then(|()| out.flush());
        self.replies.clear();
        match written {
            Ok(()) => {}
            // The reader went away: nothing more can be delivered.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => self.closed = true,
            Err(e) => {
                diag!("writing stdout: {e}");
                self.closed = true;
            }
        }
    }

    fn checkpoint_if_due(&mut self) {
        if Instant::now() < self.next_checkpoint {
            return;
        }
        if self.node.changed() || self.unsaved.is_some() {
            self.checkpoint();
        }
        self.next_checkpoint = self.earliest_checkpoint.max(Instant::now() + self.interval);
    }

    /// Takes a checkpoint and writes it to the state file, if there is one. A failure is said on
    /// stderr at once, with the time of the last checkpoint the file does hold.
    fn checkpoint(&mut self) {
        let started = Instant::now();
        let now = self.clock.now_ms();
        let saved_at = self.node.checkpoint_ms();
        let failed = match self.node.checkpoint(now) {
            Ok(snapshot) => match &self.state_file {
                Some(file) => file
                    .write(snapshot)
                    .err()
                    .map(|e| format!("cannot write the state file {}: {e}", file.path().display())),
                None => None,
            },
            Err(trap) => Some(format!("the module failed on a checkpoint ({trap})")),
        };
        self.earliest_checkpoint = Instant::now() + started.elapsed() * CHECKPOINT_GAP_FACTOR;
        let last_good = match failed {
            None => {
                self.unsaved = None;
                self.failures_since = 0;
                self.node.checkpoint_ms()
            }
            Some(why) => {
                let since = self.unsaved.as_ref().map_or(saved_at, |(at, _)| *at);
                diag!("{why}; the state file holds the state at {since} ms");
                self.unsaved = Some((since, why));
                self.failures_since += 1;
                since
            }
        };
        if self.state_file.is_some() {
            self.node.report_checkpoints(last_good, self.failures_since);
        }
        if self.node.lost().is_some() {
            self.closed = true;
        }
    }

    /// At exit: every reply out, then the final checkpoint into the state file.
    fn finish(mut self) -> Ending {
        if self.node.lost().is_none() {
            self.flush();
        } else {
            self.write_replies();
        }
        if let Some(lost) = self.node.lost() {
            return Ending::Lost(self.lost_line(lost));
        }
        if self.state_file.is_none() {
            return Ending::Saved;
        }
        self.checkpoint();
        match (self.node.lost(), &self.unsaved) {
            (Some(lost), _) => Ending::Lost(self.lost_line(lost)),
            (None, Some((at, why))) => Ending::Lost(format!(
                "the final state was not saved ({why}); the state file holds the state at {at} ms"
            )),
            (None, None) => Ending::Saved,
        }
    }

    /// What an exit after the node stopped lost, in one line.
    fn lost_line(&self, lost: &str) -> String {
        match (&self.state_file, &self.unsaved) {
            (Some(file), None) => format!(
                "{lost}; {} was left as it was, with the state at {} ms",
                file.path().display(),
                self.node.checkpoint_ms()
            ),
            (Some(file), Some((at, _))) => format!(
                "{lost}; {} was left as it was, with the state at {at} ms",
                file.path().display()
            ),
            (None, _) => format!("{lost}; no state file was given, so nothing was saved"),
        }
    }
}
