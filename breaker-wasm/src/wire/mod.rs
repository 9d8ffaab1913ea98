//! The only place that knows JSON: documents in, replies and diagnostics out.
//!
//! A [`Session`] is what every host drives: it splits its input into documents, decodes each
//! into a typed request, lets the [`Node`] decide, and encodes the reply. Documents it cannot
//! answer become one human-readable diagnostics line each, `line L: ...` (or `line L, column C:
//! ...`) counted within the input it was given.

pub mod decode;
pub mod encode;
pub mod framing;
pub mod json;
pub mod snapshot;
pub mod write;

use decode::Refusal;
use framing::{Frame, Splitter};

use crate::node::{ErrorCode, Node, Options, Reply};

/// One node with its output buffers: the state of one instance of the module.
#[derive(Debug)]
pub struct Session {
    node: Node,
    out: Vec<u8>,
    diagnostics: Vec<u8>,
    splitter: Splitter,
}

impl Session {
    pub fn new(options: Options) -> Session {
        Session { node: Node::new(options), out: Vec::new(), diagnostics: Vec::new(), splitter: Splitter::new(usize::MAX) }
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Handles the complete documents in `input` at `now_ms`; returns the replies, each a
    /// compact document and a newline. Valid until the next call.
    pub fn handle(&mut self, input: &[u8], now_ms: u64) -> &[u8] {
        self.out.clear();
        self.diagnostics.clear();
        let Session { node, out, diagnostics, splitter } = self;
        // Each call is a stream of its own: positions count from its first byte.
        splitter.reset();
        splitter.push(input);
        loop {
            let frame = match splitter.next_frame() {
                Some(frame) => frame,
                None => match splitter.finish() {
                    Some(frame) => frame,
                    None => break,
                },
            };
            match frame {
                Frame::Doc { bytes, line } => {
                    if let Err(text) = handle_document(node, out, bytes, now_ms) {
                        let (line, column) = position(bytes, line, text.1);
                        diagnose(diagnostics, line, column, &text.0);
                    }
                }
                Frame::Error { line, column, message } => diagnose(diagnostics, line, Some(column), &message),
            }
        }
        &self.out
    }

    /// What the last [`Session::handle`] could not answer: one line each.
    pub fn diagnostics(&self) -> &[u8] {
        &self.diagnostics
    }
}

/// Where a problem `offset` bytes into a document that begins on `line` is.
fn position(doc: &[u8], line: u64, offset: Option<usize>) -> (u64, Option<u64>) {
    let Some(offset) = offset else { return (line, None) };
    let before = &doc[..offset.min(doc.len())];
    let newlines = before.iter().filter(|&&b| b == b'\n').count() as u64;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    (line + newlines, Some((offset - line_start) as u64 + 1))
}

fn diagnose(out: &mut Vec<u8>, line: u64, column: Option<u64>, text: &str) {
    let mut head = format!("line {line}");
    if let Some(c) = column {
        head.push_str(&format!(", column {c}"));
    }
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(b": ");
    // One line per problem, whatever the text holds.
    out.extend(text.bytes().map(|b| if b == b'\n' || b == b'\r' { b' ' } else { b }));
    out.push(b'\n');
}

/// Handles one document; `Err((text, offset))` when it cannot be answered.
fn handle_document(node: &mut Node, out: &mut Vec<u8>, doc: &[u8], now_ms: u64) -> Result<(), (String, Option<usize>)> {
    let text = std::str::from_utf8(doc)
        .map_err(|e| (format!("invalid UTF-8 at byte {}", e.valid_up_to()), Some(e.valid_up_to())))?;
    let value = json::parse(text).map_err(|e| (e.message.into_owned(), Some(e.offset)))?;
    let envelope = decode::envelope(&value).map_err(|e| (e, None))?;
    let msg_id = decode::msg_id(envelope.body).map_err(|e| (e, None))?;
    let reply = match decode::request(envelope.body, envelope.dest) {
        Ok(request) => node.handle(now_ms, &request),
        Err(Refusal::Unknown(text)) => Reply::error(ErrorCode::NotSupported, text),
        Err(Refusal::Field(text)) => Reply::error(ErrorCode::Malformed, text),
    };
    match (msg_id, reply) {
        (Some(id), reply) => {
            encode::reply(out, envelope.dest, envelope.src, id, &reply);
            Ok(())
        }
        (None, Reply::Error { text, .. }) => Err((format!("{text} (message without msg_id)"), None)),
        (None, _) => Ok(()),
    }
}

/// The reply a host sends for a document the guest failed on (code 13), when the document has a
/// usable envelope and `msg_id`.
pub fn internal_error_reply(doc: &[u8], text: &str) -> Option<Vec<u8>> {
    let value = json::parse(std::str::from_utf8(doc).ok()?).ok()?;
    let envelope = decode::envelope(&value).ok()?;
    let id = decode::msg_id(envelope.body).ok()??;
    let mut out = Vec::new();
    encode::reply(&mut out, envelope.dest, envelope.src, id, &Reply::error(ErrorCode::Internal, text));
    Some(out)
}

#[cfg(test)]
mod tests;
