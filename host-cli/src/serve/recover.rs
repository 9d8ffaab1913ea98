//! The input on its way into the guest, and what happens when the guest fails on it: the input
//! is framed here, natively, with the guest's own framing code from the stream's state before
//! the failure, and its documents are handed to a rebuilt guest one at a time, so that only the
//! one the guest fails on answers code 13. Once the stream is between documents again, its
//! state goes back to the guest.

use std::sync::atomic::Ordering;

use breaker_wasm::wire::framing::Splitter;
use breaker_wasm::wire::stream;

use super::Server;
use crate::batch::{self, Joined, Piece};
use crate::inputs::STOPPING;

/// The text of a code-13 reply.
const INTERNAL_ERROR: &str = "internal error: the module failed while handling this message";

impl Server {
    /// Hands `chunk` to the guest's stream; returns how many documents it completed.
    pub(super) fn streamed(&mut self, chunk: &[u8], before: usize, now: u64) -> usize {
        match self
            .node
            .stream(chunk, now, &mut self.replies, &mut self.diagnostics)
        {
            Ok(documents) => {
                batch::report(&self.diagnostics, &self.watch, |n| n);
                documents as usize
            }
            Err(trap) => {
                self.watch.trapped();
                self.replies.truncate(before);
                match self
                    .node
                    .stream_state_before()
                    .and_then(|s| stream::load(&s))
                {
                    Ok(splitter) => self.natively(splitter, chunk, Some(&trap.0), now),
                    Err(e) => {
                        diag!(
                            "the module failed on {} bytes of input ({trap}) and they cannot be framed again ({e}); dropped unanswered",
                            chunk.len()
                        );
                        self.node.rebuild();
                        0
                    }
                }
            }
        }
    }

    /// Frames `chunk` here with `splitter` and hands its documents to the guest one at a time;
    /// returns how many there were. `failed` when the guest just failed on the chunk: the node
    /// is rebuilt first, except when the chunk holds exactly one document and ends between
    /// documents, for that document is the one the guest failed on. Once the stream is between
    /// documents, its state goes back to the guest.
    pub(super) fn natively(
        &mut self,
        mut splitter: Splitter,
        chunk: &[u8],
        failed: Option<&str>,
        now: u64,
    ) -> usize {
        let pieces = batch::frame(&mut splitter, chunk);
        let n = batch::documents(&pieces);
        let culprit = failed.filter(|_| n == 1 && splitter.is_between());
        if let Some(why) = failed
            && culprit.is_none()
        {
            if n == 0 {
                diag!(
                    "the module failed on input that completes no document ({why}); rebuilding it and framing the input here until it is between documents"
                );
            } else {
                diag!(
                    "the module failed on a batch of {n} documents ({why}); rebuilding it and handling them one at a time"
                );
            }
            self.node.rebuild();
        }
        // Outside a failure (under `--record`), documents go to the guest together, as many as
        // come before the next refusal, so stderr keeps the input's order.
        let mut joined = Joined::default();
        for piece in &pieces {
            match piece {
                Piece::Refused {
                    line,
                    column,
                    message,
                } => {
                    self.run_joined(&mut joined, now);
                    self.watch.refused(*line, *column, message);
                }
                Piece::Doc { .. } if STOPPING.load(Ordering::SeqCst) => self.closed = true,
                Piece::Doc { .. } if self.node.lost().is_some() => self.closed = true,
                Piece::Doc { bytes, line } => match (culprit, failed) {
                    (Some(why), _) => self.failed(bytes, *line, why),
                    (None, Some(_)) => self.run_one(bytes, *line, now),
                    (None, None) => joined.add(bytes, *line),
                },
            }
        }
        self.run_joined(&mut joined, now);
        if self.node.lost().is_some() || !splitter.is_between() || self.recorder.is_some() {
            self.native = Some(splitter);
        } else if let Err(trap) = self.node.set_stream_state(&stream::save(&mut splitter)) {
            diag!("the module failed taking the input's state back ({trap})");
            self.native = Some(splitter);
            self.node.rebuild();
        }
        n
    }

    /// Hands `joined`'s documents to the guest in one call, and empties it. If the guest fails,
    /// it is rebuilt and they are handed over one at a time.
    fn run_joined(&mut self, joined: &mut Joined, now: u64) {
        let n = joined.len();
        if n == 0 || self.node.lost().is_some() {
            *joined = Joined::default();
            return;
        }
        if let Some(recorder) = &mut self.recorder {
            joined.each().for_each(|(doc, _)| recorder.record(doc, now));
        }
        let before = self.replies.len();
        self.diagnostics.clear();
        let handled =
            self.node
                .handle(&joined.bytes, now, &mut self.replies, &mut self.diagnostics);
        match handled {
            Ok(()) => batch::report(&self.diagnostics, &self.watch, |n| joined.stdin_line(n)),
            Err(trap) => {
                self.replies.truncate(before);
                self.watch.trapped();
                if n > 1 {
                    diag!(
                        "the module failed on a batch of {n} documents ({trap}); rebuilding it and handling them one at a time"
                    );
                    self.node.rebuild();
                }
                for (doc, line) in joined.each() {
                    if STOPPING.load(Ordering::SeqCst) || self.node.lost().is_some() {
                        self.closed = true;
                        break;
                    }
                    match n {
                        1 => self.failed(doc, line, &trap.0),
                        _ => self.handle_one(doc, line, now),
                    }
                }
            }
        }
        *joined = Joined::default();
    }

    /// Hands one document, from stdin `line` (0 for one of the host's own), to the guest on its
    /// own.
    pub(super) fn run_one(&mut self, doc: &[u8], line: u64, now: u64) {
        if let Some(recorder) = &mut self.recorder {
            recorder.record(doc, now);
        }
        self.handle_one(doc, line, now);
    }

    /// [`Server::run_one`] without recording (the document is recorded already).
    fn handle_one(&mut self, doc: &[u8], line: u64, now: u64) {
        let before = self.replies.len();
        self.diagnostics.clear();
        match self
            .node
            .handle(doc, now, &mut self.replies, &mut self.diagnostics)
        {
            Ok(()) => {
                let at = |n: u64| line + n.saturating_sub(1);
                batch::report(&self.diagnostics, &self.watch, at);
            }
            Err(trap) => {
                self.replies.truncate(before);
                self.watch.trapped();
                self.failed(doc, line, &trap.0);
            }
        }
    }

    /// `doc` (from stdin `line`) made the guest fail: code 13 when it asked for a reply, and a
    /// rebuilt node.
    fn failed(&mut self, doc: &[u8], line: u64, why: &str) {
        diag!(
            "stdin line {line}: the module failed on this document ({why}); answering code 13 and rebuilding it"
        );
        if let Some(reply) = breaker_wasm::wire::internal_error_reply(doc, INTERNAL_ERROR) {
            self.replies.extend_from_slice(&reply);
        }
        self.node.rebuild();
    }
}
