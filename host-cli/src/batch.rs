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
