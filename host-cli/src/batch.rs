//! The input on its way to the guest: stdin bytes, handed over as they come, and what the host
//! does when the guest fails on them. Then the input is framed here, natively, with the guest's
//! own framing code from the stream's state before the failure, so that its documents can be
//! handled one at a time and only the one the guest fails on answers code 13; once the stream
//! is between documents again, its state goes back to the guest.

use breaker_wasm::wire::framing::{Frame, Splitter};

use crate::watch::Watch;

/// What a chunk held, in order.
pub enum Piece {
    /// A whole document, starting on `line` of stdin.
    Doc { bytes: Vec<u8>, line: u64 },
    /// Input refused before it made a document, with where (the guest's diagnostic, as text).
    Refused {
        line: u64,
        column: u64,
        message: String,
    },
}

/// Frames `chunk` natively, as the guest would have, with `splitter` (loaded from a stream
/// state with `breaker_wasm::wire::stream::load`).
pub fn frame(splitter: &mut Splitter, chunk: &[u8]) -> Vec<Piece> {
    splitter.push(chunk);
    let mut pieces = Vec::new();
    while let Some(frame) = splitter.next_frame() {
        pieces.push(match frame {
            Frame::Doc { bytes, line } => Piece::Doc {
                bytes: bytes.to_vec(),
                line,
            },
            Frame::Error {
                line,
                column,
                message,
            } => Piece::Refused {
                line,
                column,
                message,
            },
        });
    }
    pieces
}

/// How many whole documents `pieces` hold.
pub fn documents(pieces: &[Piece]) -> usize {
    pieces
        .iter()
        .filter(|p| matches!(p, Piece::Doc { .. }))
        .count()
}

/// Writes the guest's `line N...` diagnostics as stdin lines, one `breaker-host: ` line each,
/// and counts them in `watch` (each is a document the guest could not answer).
pub fn report(diagnostics: &[u8], watch: &Watch, stream_line: impl Fn(u64) -> u64) {
    watch.bad_documents(crate::watch::lines(diagnostics));
    for line in diagnostics.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let line = String::from_utf8_lossy(line);
        let mapped = line
            .strip_prefix("line ")
            .and_then(|rest| {
                let digits = rest.find(|c: char| !c.is_ascii_digit())?;
                let n: u64 = rest[..digits].parse().ok()?;
                Some(format!("stdin line {}{}", stream_line(n), &rest[digits..]))
            })
            .unwrap_or_else(|| line.to_string());
        diag!("{mapped}");
    }
}

/// Whole documents joined for one call into the guest, each followed by a newline, with the
/// stdin line each starts on: the guest's diagnostics count lines within the call.
#[derive(Default)]
pub struct Joined {
    pub bytes: Vec<u8>,
    docs: Vec<Placed>,
    /// The line of `bytes` the next document starts on.
    next_line: u64,
}

/// Where one document sits in the call and in stdin.
struct Placed {
    start: usize,
    end: usize,
    call_line: u64,
    stdin_line: u64,
}

impl Joined {
    pub fn add(&mut self, doc: &[u8], stdin_line: u64) {
        let call_line = self.next_line.max(1);
        let start = self.bytes.len();
        self.bytes.extend_from_slice(doc);
        self.bytes.push(b'\n');
        self.docs.push(Placed {
            start,
            end: start + doc.len(),
            call_line,
            stdin_line,
        });
        self.next_line = call_line + 1 + doc.iter().filter(|&&b| b == b'\n').count() as u64;
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Each document (without its newline) and the stdin line it starts on.
    pub fn each(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.docs
            .iter()
            .map(|d| (&self.bytes[d.start..d.end], d.stdin_line))
    }

    /// The stdin line of a line of the call.
    pub fn stdin_line(&self, call_line: u64) -> u64 {
        let i = self.docs.partition_point(|d| d.call_line <= call_line);
        match i.checked_sub(1).map(|i| &self.docs[i]) {
            Some(d) => d.stdin_line + (call_line - d.call_line),
            None => call_line,
        }
    }
}
