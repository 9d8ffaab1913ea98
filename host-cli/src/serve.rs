//! The serving loop: stdin is split into documents, complete documents go to the guest in
//! batches, replies go to stdout, and the node is checkpointed on a timer.
//!
//! A reader thread and a signal thread feed one channel. The loop takes everything already
//! there, hands it to the guest, and writes and flushes the replies before it waits again: an
//! interactive client that waits for each reply never stalls, a streaming one gets batched writes.
//! While it waits it wakes up for the next checkpoint (`recv_timeout`), and at the end (end of
//! input, SIGTERM, SIGINT, a closed stdout) it flushes every reply, then writes the state file.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::thread;
use std::time::{Duration, Instant};

use breaker_wasm::wire::framing::{Frame, Splitter};

use crate::batch::{self, Batch};
use crate::clock::{Clock, ClockKind};
use crate::error::StartError;
use crate::guest::{GuestOptions, Limits, Program};
use crate::supervisor::{Setup, Supervisor};
use crate::{Args, read_config, state_file};

/// Hand the guest at most this much at once, and write replies at least this often.
const BATCH_BYTES: usize = 1 << 20;

/// Take a checkpoint early once this much input has been handled since the last one, which
/// bounds both the memory kept for a rebuild and the time a rebuild takes.
const REPLAY_BYTES: usize = 16 << 20;

/// The text of a code-13 reply.
const INTERNAL_ERROR: &str = "internal error: the module failed while handling this message";

enum Input {
    Data(Vec<u8>),
    /// End of input (or an unreadable stdin).
    End,
    /// SIGTERM or SIGINT.
    Stop,
}

pub fn run(args: &Args) -> Result<(), StartError> {
    let program = match &args.module {
        Some(path) => Program::from_file(path)?,
        None => Program::embedded()?,
    };
    let setup = Setup {
        program,
        options: GuestOptions {
            manual_clock: args.clock == ClockKind::Manual,
            no_fixtures: args.no_fixtures,
        },
        limits: Limits {
            memory_bytes: (args.max_guest_memory_mib as usize) << 20,
            fuel_per_call: args.max_call_fuel,
            fuel_per_byte: crate::FUEL_PER_BYTE,
        },
        config: match &args.config {
            Some(path) => Some((path.display().to_string(), read_config(path)?)),
            None => None,
        },
    };
    let mut clock = Clock::new(args.clock);
    let saved = match &args.state_file {
        Some(path) => {
            let refused = |e: state_file::LoadError| StartError::State {
                path: path.display().to_string(),
                reason: e.to_string(),
            };
            state_file::load(path)
                .map_err(refused)?
                .map(|bytes| (path.display().to_string(), bytes))
        }
        None => None,
    };
    let saved = saved
        .as_ref()
        .map(|(path, bytes)| (path.as_str(), bytes.as_slice()));
    let node = Supervisor::start(setup, saved, clock.now_ms())?;
    let inputs = spawn_inputs();
    let interval = Duration::from_millis(args.checkpoint_ms);
    let mut server = Server {
        node,
        splitter: Splitter::new(args.max_message_bytes as usize),
        clock,
        batch: Batch::default(),
        replies: Vec::new(),
        diagnostics: Vec::new(),
        state_file: args.state_file.clone(),
        interval,
        next_checkpoint: Instant::now() + interval,
        closed: false,
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
    server.flush();
    server.save();
    Ok(())
}

fn spawn_inputs() -> Receiver<Input> {
    let (tx, rx) = sync_channel(64);
    let signals_tx = tx.clone();
    thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        loop {
            let mut buf = vec![0; 64 * 1024];
            match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.send(Input::Data(buf)).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    eprintln!("breaker-host: reading stdin: {e}");
                    break;
                }
            }
        }
        let _ = tx.send(Input::End);
    });
    match signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ]) {
        Ok(mut signals) => {
            thread::spawn(move || {
                if signals.forever().next().is_some() {
                    let _ = signals_tx.send(Input::Stop);
                }
            });
        }
        Err(e) => eprintln!("breaker-host: cannot watch SIGTERM/SIGINT: {e}"),
    }
    rx
}

struct Server {
    node: Supervisor,
    splitter: Splitter,
    clock: Clock,
    batch: Batch,
    replies: Vec<u8>,
    diagnostics: Vec<u8>,
    state_file: Option<PathBuf>,
    interval: Duration,
    next_checkpoint: Instant,
    /// The input ended, a signal came, or stdout is gone: nothing more will be served.
    closed: bool,
}

impl Server {
    /// Takes `first` and everything already waiting behind it, then flushes the replies.
    fn round(&mut self, first: Input, inputs: &Receiver<Input>) {
        let mut next = Some(first);
        while let Some(input) = next {
            match input {
                Input::Data(bytes) => self.take(&bytes),
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
        self.checkpoint_if_due();
    }

    /// Splits new input into documents, handing full batches to the guest.
    fn take(&mut self, bytes: &[u8]) {
        self.splitter.push(bytes);
        while let Some(frame) = self.splitter.next_frame() {
            match frame {
                Frame::Doc { bytes, line } => self.batch.add(bytes, line),
                Frame::Error {
                    line,
                    column,
                    message,
                } => {
                    eprintln!("breaker-host: stdin line {line}, column {column}: {message}");
                }
            }
            if self.batch.bytes.len() >= BATCH_BYTES {
                self.run_batch();
                if self.replies.len() >= BATCH_BYTES {
                    self.write_replies();
                }
                self.checkpoint_if_due();
            }
        }
    }

    fn end_of_input(&mut self) {
        if let Some(Frame::Error {
            line,
            column,
            message,
        }) = self.splitter.finish()
        {
            eprintln!("breaker-host: stdin line {line}, column {column}: {message}");
        }
    }

    /// Hands the waiting documents to the guest. If it fails, the node is rebuilt from its last
    /// checkpoint and the documents are handled again one at a time, so that only the one the
    /// guest fails on answers code 13.
    fn run_batch(&mut self) {
        if self.batch.docs.is_empty() {
            return;
        }
        let now = self.clock.now_ms();
        let before = self.replies.len();
        self.diagnostics.clear();
        match self.node.handle(
            &self.batch.bytes,
            now,
            &mut self.replies,
            &mut self.diagnostics,
        ) {
            Ok(()) => batch::report(&self.diagnostics, |n| self.batch.stream_line(n)),
            Err(trap) if self.batch.docs.len() == 1 => {
                self.replies.truncate(before);
                self.failed(0, &trap.0);
            }
            Err(trap) => {
                self.replies.truncate(before);
                let n = self.batch.docs.len();
                eprintln!(
                    "breaker-host: the module failed on a batch of {n} documents ({trap}); rebuilding it and handling them one at a time"
                );
                self.node.rebuild();
                for i in 0..n {
                    self.run_one(i, now);
                }
            }
        }
        self.batch.clear();
        if self.node.replay_bytes() >= REPLAY_BYTES {
            self.checkpoint();
        }
    }

    /// Hands document `i` of the batch to the guest on its own.
    fn run_one(&mut self, i: usize, now: u64) {
        let before = self.replies.len();
        self.diagnostics.clear();
        match self.node.handle(
            self.batch.doc(i),
            now,
            &mut self.replies,
            &mut self.diagnostics,
        ) {
            Ok(()) => {
                let first = self.batch.docs[i].stream_line;
                batch::report(&self.diagnostics, |n| first + n.saturating_sub(1));
            }
            Err(trap) => {
                self.replies.truncate(before);
                self.failed(i, &trap.0);
            }
        }
    }

    /// Document `i` made the guest fail: code 13 when it asked for a reply, and a rebuilt node.
    fn failed(&mut self, i: usize, why: &str) {
        let line = self.batch.docs[i].stream_line;
        eprintln!(
            "breaker-host: stdin line {line}: the module failed on this document ({why}); answering code 13 and rebuilding it"
        );
        let d = &self.batch.docs[i];
        if let Some(reply) = breaker_wasm::wire::internal_error_reply(
            &self.batch.bytes[d.start..d.end],
            INTERNAL_ERROR,
        ) {
            self.replies.extend_from_slice(&reply);
        }
        self.node.rebuild();
    }

    /// Runs what is waiting and writes every reply out.
    fn flush(&mut self) {
        self.run_batch();
        self.write_replies();
    }

    fn write_replies(&mut self) {
        if self.replies.is_empty() {
            return;
        }
        let mut out = io::stdout().lock();
        let written = out.write_all(&self.replies).and_then(|()| out.flush());
        self.replies.clear();
        match written {
            Ok(()) => {}
            // The reader went away: nothing more can be delivered.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => self.closed = true,
            Err(e) => {
                eprintln!("breaker-host: writing stdout: {e}");
                self.closed = true;
            }
        }
    }

    fn checkpoint_if_due(&mut self) {
        if Instant::now() < self.next_checkpoint {
            return;
        }
        if self.node.changed() {
            self.checkpoint();
        }
        self.next_checkpoint = Instant::now() + self.interval;
    }

    /// Takes a checkpoint and writes it to the state file, if there is one.
    fn checkpoint(&mut self) {
        let now = self.clock.now_ms();
        match self.node.checkpoint(now) {
            Ok(snapshot) => {
                if let Some(path) = &self.state_file
                    && let Err(e) = state_file::write(path, snapshot)
                {
                    eprintln!(
                        "breaker-host: cannot write the state file {}: {e}",
                        path.display()
                    );
                }
            }
            Err(trap) => eprintln!(
                "breaker-host: the module failed on a checkpoint ({trap}); rebuilt from the previous one"
            ),
        }
    }

    /// The last checkpoint, at exit: the state file gets the final state.
    fn save(&mut self) {
        if self.state_file.is_some() {
            self.checkpoint();
        }
    }
}
