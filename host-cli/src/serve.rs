//! The serving loop: stdin is split into documents, complete documents go to the guest in
//! batches, replies go to stdout.
//!
//! A reader thread and a signal thread feed one channel. The loop takes everything already
//! there, hands it to the guest, and writes and flushes the replies before it waits again: an
//! interactive client that waits for each reply never stalls, a streaming one gets batched writes.

use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread;

use breaker_wasm::wire::framing::{Frame, Splitter};

use crate::clock::{Clock, ClockKind};
use crate::error::StartError;
use crate::guest::{Guest, GuestOptions, Program};
use crate::{Args, read_config};

/// Hand the guest at most this much at once, and write replies at least this often.
const BATCH_BYTES: usize = 1 << 20;

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
    let options = GuestOptions { manual_clock: args.clock == ClockKind::Manual, no_fixtures: args.no_fixtures };
    let config = match &args.config {
        Some(path) => Some((path.display().to_string(), read_config(path)?)),
        None => None,
    };
    let node = Node::start(program, options, config)?;
    let inputs = spawn_inputs();
    let mut server = Server {
        node,
        splitter: Splitter::new(args.max_message_bytes as usize),
        clock: Clock::new(args.clock),
        batch: Batch::default(),
        replies: Vec::new(),
        diagnostics: Vec::new(),
    };
    while let Ok(first) = inputs.recv() {
        let mut next = Some(first);
        // Everything already waiting goes into this round.
        while let Some(input) = next {
            match input {
                Input::Data(bytes) => server.take(&bytes),
                Input::End => {
                    server.end_of_input();
                    server.flush();
                    return Ok(());
                }
                Input::Stop => {
                    server.flush();
                    return Ok(());
                }
            }
            next = inputs.try_recv().ok();
        }
        server.flush();
    }
    server.flush();
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
    match signal_hook::iterator::Signals::new([signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT]) {
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

/// The guest and how to make a new one like it.
struct Node {
    program: Program,
    options: GuestOptions,
    /// The `--config` file: its name and contents, applied to every new instance.
    config: Option<(String, Vec<u8>)>,
    guest: Guest,
}

impl Node {
    fn start(program: Program, options: GuestOptions, config: Option<(String, Vec<u8>)>) -> Result<Node, StartError> {
        let guest = new_guest(&program, options, config.as_ref())?;
        Ok(Node { program, options, config, guest })
    }

    /// Replaces a failed instance with a fresh one.
    fn restart(&mut self) {
        match new_guest(&self.program, self.options, self.config.as_ref()) {
            Ok(guest) => self.guest = guest,
            Err(e) => eprintln!("breaker-host: cannot start a fresh instance: {e}"),
        }
    }
}

fn new_guest(program: &Program, options: GuestOptions, config: Option<&(String, Vec<u8>)>) -> Result<Guest, StartError> {
    let mut guest = program.instantiate(options)?;
    if let Some((path, config)) = config {
        let mut message = br#"{"src":"breaker-host","dest":"breaker-host","body":{"type":"configure","msg_id":0,"config":"#.to_vec();
        message.extend_from_slice(config);
        message.extend_from_slice(b"}}");
        let (mut reply, mut diagnostics) = (Vec::new(), Vec::new());
        let bad = |reason: String| StartError::Config { path: path.clone(), reason };
        guest.handle(&message, 0, &mut reply, &mut diagnostics).map_err(|t| bad(t.0))?;
        let text = String::from_utf8_lossy(&reply);
        if !text.contains(r#""type":"configure_ok""#) {
            let value = breaker_wasm::wire::json::parse(text.trim()).ok();
            let reason = value
                .as_ref()
                .and_then(|v| v.get("body")?.get("text")?.as_str().map(str::to_string))
                .unwrap_or_else(|| format!("{}{}", text.trim(), String::from_utf8_lossy(&diagnostics).trim()));
            return Err(bad(reason));
        }
    }
    Ok(guest)
}

/// Documents waiting for the guest, with where each came from.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    docs: Vec<Placed>,
    /// The line of `bytes` the next document starts on.
    next_line: u64,
}

/// Where one document sits in the batch and in the input stream.
struct Placed {
    start: usize,
    end: usize,
    batch_line: u64,
    stream_line: u64,
}

impl Batch {
    fn add(&mut self, doc: &[u8], stream_line: u64) {
        let batch_line = self.next_line.max(1);
        let start = self.bytes.len();
        self.bytes.extend_from_slice(doc);
        self.bytes.push(b'\n');
        self.docs.push(Placed { start, end: start + doc.len(), batch_line, stream_line });
        self.next_line = batch_line + 1 + doc.iter().filter(|&&b| b == b'\n').count() as u64;
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.docs.clear();
        self.next_line = 1;
    }

    /// The input line of a line of the batch.
    fn stream_line(&self, batch_line: u64) -> u64 {
        let i = self.docs.partition_point(|d| d.batch_line <= batch_line);
        match i.checked_sub(1).map(|i| &self.docs[i]) {
            Some(d) => d.stream_line + (batch_line - d.batch_line),
            None => batch_line,
        }
    }
}

struct Server {
    node: Node,
    splitter: Splitter,
    clock: Clock,
    batch: Batch,
    replies: Vec<u8>,
    diagnostics: Vec<u8>,
}

impl Server {
    /// Splits new input into documents, handing full batches to the guest.
    fn take(&mut self, bytes: &[u8]) {
        self.splitter.push(bytes);
        while let Some(frame) = self.splitter.next_frame() {
            match frame {
                Frame::Doc { bytes, line } => self.batch.add(bytes, line),
                Frame::Error { line, column, message } => {
                    eprintln!("breaker-host: stdin line {line}, column {column}: {message}");
                }
            }
            if self.batch.bytes.len() >= BATCH_BYTES {
                self.run_batch();
            }
        }
    }

    fn end_of_input(&mut self) {
        if let Some(Frame::Error { line, column, message }) = self.splitter.finish() {
            eprintln!("breaker-host: stdin line {line}, column {column}: {message}");
        }
    }

    /// Hands the waiting documents to the guest. If it fails, each of them that asked for a
    /// reply gets code 13, and a fresh instance takes over.
    fn run_batch(&mut self) {
        if self.batch.docs.is_empty() {
            return;
        }
        let now = self.clock.now_ms();
        let before = self.replies.len();
        self.diagnostics.clear();
        match self.node.guest.handle(&self.batch.bytes, now, &mut self.replies, &mut self.diagnostics) {
            Ok(()) => self.report_diagnostics(),
            Err(trap) => {
                eprintln!("breaker-host: the module failed ({trap}); answering code 13 and starting a fresh instance");
                self.replies.truncate(before);
                for d in &self.batch.docs {
                    let doc = &self.batch.bytes[d.start..d.end];
                    let text = "internal error: the module failed while handling this message";
                    if let Some(reply) = breaker_wasm::wire::internal_error_reply(doc, text) {
                        self.replies.extend_from_slice(&reply);
                    }
                }
                self.node.restart();
            }
        }
        self.batch.clear();
    }

    /// Prints the guest's diagnostics with the input's own line numbers.
    fn report_diagnostics(&self) {
        let mut err = io::stderr().lock();
        for line in self.diagnostics.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let line = String::from_utf8_lossy(line);
            let mapped = line
                .strip_prefix("line ")
                .and_then(|rest| {
                    let digits = rest.find(|c: char| !c.is_ascii_digit())?;
                    let n: u64 = rest[..digits].parse().ok()?;
                    Some(format!("stdin line {}{}", self.batch.stream_line(n), &rest[digits..]))
                })
                .unwrap_or_else(|| line.to_string());
            let _ = writeln!(err, "breaker-host: {mapped}");
        }
    }

    /// Runs what is waiting and writes every reply out.
    fn flush(&mut self) {
        self.run_batch();
        if self.replies.is_empty() {
            return;
        }
        let mut out = io::stdout().lock();
        let written = out.write_all(&self.replies).and_then(|()| out.flush());
        self.replies.clear();
        match written {
            Ok(()) => {}
            // The reader went away: nothing more can be delivered.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
            Err(e) => {
                eprintln!("breaker-host: writing stdout: {e}");
                std::process::exit(0);
            }
        }
    }
}
