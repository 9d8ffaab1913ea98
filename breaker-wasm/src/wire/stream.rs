//! The input stream as it arrives: chunks of any size, documents cut anywhere, one pass.
//!
//! Well-formed documents are parsed straight from each chunk (the fast path of
//! [`Session::handle`]). A document cut by the end of a chunk, one over the size limit, and
//! anything that is not a well-formed document go to the validating [`Splitter`], which keeps
//! what is incomplete (never more than the limit), reports what is broken and resynchronises;
//! after the next whole document it finds, the fast path takes over again. Lines and columns
//! count from the start of the stream, so diagnostics name the stream's own lines.
//!
//! The stream's whole state is the splitter's, a serde type: a host that checkpoints the node
//! saves it beside the snapshot ([`Session::stream_state`]) and gives it to a fresh instance
//! ([`Session::set_stream_state`]); a host that must look at a chunk one document at a time (to
//! find the one the module fails on) frames it natively from the same state ([`load`]).

use super::Session;
use super::framing::{Frame, Splitter};

/// The size limit for one document when the host sets none (`breaker-host`'s default).
pub const DEFAULT_MAX_DOCUMENT: usize = 1 << 20;

/// The first piece of a chunk the splitter takes (see [`Session::feed`]).
const FIRST_PIECE: usize = 4096;

/// The stream's framing state.
#[derive(Debug)]
pub struct Stream {
    /// Between documents and holding nothing while the fast path has the stream; the position
    /// of the next byte either way.
    splitter: Splitter,
    /// Whether the splitter has the stream (a document begun, a resynchronisation).
    slow: bool,
    /// The rest of a chunk the splitter hands back to the fast path.
    rest: Vec<u8>,
}

impl Stream {
    pub fn new() -> Stream {
        Stream {
            splitter: Splitter::new(DEFAULT_MAX_DOCUMENT),
            slow: false,
            rest: Vec::new(),
        }
    }
}

impl Default for Stream {
    fn default() -> Self {
        Stream::new()
    }
}

/// The saved state of a stream, for [`Session::set_stream_state`] or for framing natively:
/// what is held of an incomplete document (never more than the size limit), and where the
/// stream is.
pub fn save(splitter: &mut Splitter) -> Vec<u8> {
    splitter.compact();
    // A serde type with no maps keyed by non-strings and no floats: writing it cannot fail.
    serde_json::to_vec(splitter).unwrap_or_default()
}

/// A splitter in the state `saved` describes.
pub fn load(saved: &[u8]) -> Result<Splitter, String> {
    // Read as text: the module already holds serde_json's reader for text, not the one for
    // bytes.
    let text = std::str::from_utf8(saved).map_err(|_| "not a saved stream state".to_string())?;
    serde_json::from_str(text).map_err(|e| format!("not a saved stream state: {e}"))
}

impl Session {
    /// Refuses documents larger than `max` bytes from now on (reported, skipped without being
    /// kept).
    pub fn set_max_document(&mut self, max: usize) {
        self.stream.splitter.set_max(max);
    }

    /// Takes the next `chunk` of the input stream at `now_ms`: handles every document it
    /// completes and keeps what is incomplete for the next call. Returns the replies, as
    /// [`Session::handle`] does; [`Session::diagnostics`] names lines of the whole stream.
    pub fn feed(&mut self, chunk: &[u8], now_ms: u64) -> &[u8] {
        self.begin_call();
        let mut rest = chunk;
        // While the splitter has the stream, it takes the chunk in growing pieces, so that what
        // follows the document it finishes goes back to the fast path uncopied, and a long
        // skip still takes few steps.
        let mut piece = FIRST_PIECE;
        while !rest.is_empty() {
            let mut more = if self.stream.slow {
                let n = piece.min(rest.len());
                piece = piece.saturating_mul(2);
                self.stream.splitter.push(&rest[..n]);
                rest = &rest[n..];
                self.drain(now_ms)
            } else {
                self.fast_segment(std::mem::take(&mut rest), now_ms)
            };
            while let Some(bytes) = more {
                more = self.fast_segment(&bytes, now_ms);
                self.stream.rest = bytes;
            }
        }
        &self.out
    }

    /// The end of the input stream: a document left unfinished is reported. The stream then
    /// starts over between documents (at the same position).
    pub fn end_stream(&mut self) -> &[u8] {
        self.begin_call();
        let splitter = &mut self.stream.splitter;
        if let Some(Frame::Error {
            line,
            column,
            message,
        }) = splitter.finish()
        {
            super::diagnose(&mut self.diagnostics, line, Some(column), &message);
        }
        let (line, column) = splitter.position();
        splitter.resume_at(line, column);
        self.stream.slow = false;
        &self.out
    }

    /// The stream's state, to save beside a snapshot: what is held of an incomplete document,
    /// and where the stream is.
    pub fn stream_state(&mut self) -> Vec<u8> {
        save(&mut self.stream.splitter)
    }

    /// Carries on from a saved stream state (of this build); `Err` leaves the stream as it was.
    pub fn set_stream_state(&mut self, saved: &[u8]) -> Result<(), String> {
        self.stream.splitter = load(saved)?;
        self.stream.slow = true;
        Ok(())
    }

    /// Runs the fast path over `bytes`, which start where the stream is; from where it stops
    /// (if it does), the splitter goes on. Returns what the splitter hands back, if anything.
    fn fast_segment(&mut self, bytes: &[u8], now_ms: u64) -> Option<Vec<u8>> {
        let (line, column) = self.stream.splitter.position();
        let mut lines = super::Lines::starting_at(line, column);
        // A chunk may end inside a character: the fast path takes the valid part.
        let valid = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
        };
        let max = self.stream.splitter.max();
        let pos = self.fast_path(valid, now_ms, &mut lines, max);
        let (line, column) = lines.at(bytes, pos);
        self.stream.splitter.resume_at(line, column);
        if pos == bytes.len() {
            self.stream.slow = false;
            return None;
        }
        self.stream.slow = true;
        self.stream.splitter.push(&bytes[pos..]);
        self.drain(now_ms)
    }

    /// Handles what the splitter finds; after a whole document, hands the rest back to the fast
    /// path. `None` when the splitter needs more input.
    fn drain(&mut self, now_ms: u64) -> Option<Vec<u8>> {
        let Session {
            node,
            out,
            diagnostics,
            stream,
            documents,
            ..
        } = self;
        while let Some(frame) = stream.splitter.next_frame() {
            match frame {
                Frame::Doc { bytes, line } => {
                    *documents += 1;
                    super::handle_framed(node, out, diagnostics, bytes, line, now_ms);
                    let mut rest = std::mem::take(&mut stream.rest);
                    stream.splitter.take_unscanned(&mut rest);
                    return Some(rest);
                }
                Frame::Error {
                    line,
                    column,
                    message,
                } => super::diagnose(diagnostics, line, Some(column), &message),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
