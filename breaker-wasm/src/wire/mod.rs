//! The only place that knows JSON: documents in, replies and diagnostics out.
//!
//! A [`Session`] is what every host drives: it splits its input into documents, decodes each
//! into a typed request, lets the [`Node`] decide, and encodes the reply. Documents it cannot
//! answer become one human-readable diagnostics line each, `line L: ...` (or `line L, column C:
//! ...`) counted within the input it was given.

mod common;
mod config;
pub mod decode;
mod figures;
mod fleet;
pub mod framing;
mod parts;
pub mod raw;
mod reason;
pub mod reply;
mod restore;
mod saved;
pub mod snapshot;
pub mod stream;
mod strict;
mod traffic;
pub mod values;

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
    stream: stream::Stream,
    /// Documents the last call took (whole ones, answered or refused).
    documents: u64,
}

impl Session {
    pub fn new(options: Options) -> Session {
        Session {
            node: Node::new(options),
            out: Vec::new(),
            diagnostics: Vec::new(),
            splitter: Splitter::new(usize::MAX),
            stream: stream::Stream::new(),
            documents: 0,
        }
    }

    /// How many whole documents the last call took (answered or refused), not counting input
    /// refused before it made a document (not JSON, too large).
    pub fn documents(&self) -> u64 {
        self.documents
    }

    fn begin_call(&mut self) {
        self.out.clear();
        self.diagnostics.clear();
        self.documents = 0;
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The node, for the typed fast path (`crate::fast`).
    pub fn node_mut(&mut self) -> &mut Node {
        &mut self.node
    }

    /// Handles the complete documents in `input` at `now_ms`; returns the replies, each a
    /// compact document and a newline. Valid until the next call.
    ///
    /// Well-formed objects are parsed straight from the input; from the first thing that is not
    /// one, the rest goes through the validating splitter, which reports it and resynchronises.
    pub fn handle(&mut self, input: &[u8], now_ms: u64) -> &[u8] {
        self.begin_call();
        let mut lines = Lines::starting_at(1, 1);
        let start = match std::str::from_utf8(input) {
            Ok(text) => self.fast_path(text, now_ms, &mut lines, usize::MAX),
            Err(_) => 0,
        };
        if start < input.len() {
            let (line, column) = lines.at(input, start);
            self.slow_path(&input[start..], line, column, now_ms);
        }
        &self.out
    }

    /// Handles the well-formed objects of at most `max` bytes at the start of `text`; returns
    /// where it stopped.
    fn fast_path(&mut self, text: &str, now_ms: u64, lines: &mut Lines, max: usize) -> usize {
        let bytes = text.as_bytes();
        let mut pos = 0;
        loop {
            while pos < bytes.len() && matches!(bytes[pos], b' ' | b'\t' | b'\r' | b'\n') {
                pos += 1;
            }
            if pos == bytes.len() || bytes[pos] != b'{' {
                return pos;
            }
            let rest = &text[pos..];
            let mut common =
                serde_json::Deserializer::from_str(rest).into_iter::<common::Message>();
            if let Some(Ok(message)) = common.next()
                && common.byte_offset() <= max
                && let Some((msg_id, request)) = message.request()
            {
                self.documents += 1;
                let reply = self.node.handle(now_ms, &request);
                let (src, dest) = (message.src, message.dest);
                if let Err(text) = answer(&mut self.out, src, dest, msg_id, reply) {
                    let (line, _) = lines.at(bytes, pos);
                    diagnose(&mut self.diagnostics, line, None, &text);
                }
                pos += common.byte_offset();
                continue;
            }
            let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<raw::Node>();
            let Some(Ok(doc)) = stream.next() else {
                return pos;
            };
            let used = stream.byte_offset();
            if used > max {
                return pos;
            }
            self.documents += 1;
            if let Err(text) = handle_value(&mut self.node, &mut self.out, doc, now_ms) {
                let (line, _) = lines.at(bytes, pos);
                diagnose(&mut self.diagnostics, line, None, &text);
            }
            pos += used;
        }
    }

    /// Splits `input` with the validating splitter, its first byte at `line` and `column`.
    fn slow_path(&mut self, input: &[u8], line: u64, column: u64, now_ms: u64) {
        let Session {
            node,
            out,
            diagnostics,
            splitter,
            documents,
            ..
        } = self;
        splitter.reset_at(line, column);
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
                    *documents += 1;
                    handle_framed(node, out, diagnostics, bytes, line, now_ms);
                }
                Frame::Error {
                    line,
                    column,
                    message,
                } => diagnose(diagnostics, line, Some(column), &message),
            }
        }
    }

    /// What the last [`Session::handle`] could not answer: one line each.
    pub fn diagnostics(&self) -> &[u8] {
        &self.diagnostics
    }
}

/// Line and column of byte offsets in one input, counted forward from the last one asked.
struct Lines {
    pos: usize,
    line: u64,
    line_start: usize,
    /// The column of `line_start`: 1, unless the input began inside a line.
    first_column: u64,
}

impl Lines {
    /// Counts from an input whose first byte is at `line` and `column`.
    fn starting_at(line: u64, column: u64) -> Lines {
        Lines {
            pos: 0,
            line,
            line_start: 0,
            first_column: column,
        }
    }

    fn at(&mut self, bytes: &[u8], pos: usize) -> (u64, u64) {
        let seen = &bytes[self.pos..pos];
        if let Some(last) = memchr::memrchr(b'\n', seen) {
            // Every byte of a chunk is counted once: word-at-a-time (memchr), which a byte
            // loop is several times slower than, natively and in the module. (Not bytecount:
            // in wasm32 it emits SIMD instructions whatever the target's features, and the
            // module must validate on engines without SIMD.)
            self.line += memchr::memchr_iter(b'\n', seen).count() as u64;
            self.line_start = self.pos + last + 1;
            self.first_column = 1;
        }
        self.pos = pos;
        (
            self.line,
            self.first_column + (pos - self.line_start) as u64,
        )
    }
}

fn diagnose(out: &mut Vec<u8>, line: u64, column: Option<u64>, text: &str) {
    let mut head = format!("line {line}");
    if let Some(c) = column {
        head.push_str(&format!(", column {c}"));
    }
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(b": ");
    // One line per problem, whatever the text holds.
    out.extend(
        text.bytes()
            .map(|b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
    );
    out.push(b'\n');
}

/// Handles one document the splitter found at `line`; what it cannot answer becomes a
/// diagnostics line.
fn handle_framed(
    node: &mut Node,
    out: &mut Vec<u8>,
    diagnostics: &mut Vec<u8>,
    doc: &[u8],
    line: u64,
    now_ms: u64,
) {
    if let Err((text, at)) = handle_document(node, out, doc, now_ms) {
        let (line, column) = match at {
            Some((l, c)) => (line + l.saturating_sub(1), Some(c)),
            None => (line, None),
        };
        diagnose(diagnostics, line, column, &text);
    }
}

/// Handles one document; `Err((text, (line, column)))` when it cannot be answered, with where
/// within the document when that is known (line 1 being the document's first).
fn handle_document(
    node: &mut Node,
    out: &mut Vec<u8>,
    doc: &[u8],
    now_ms: u64,
) -> Result<(), (String, Option<(u64, u64)>)> {
    let text = std::str::from_utf8(doc).map_err(|e| {
        let at = e.valid_up_to();
        let place = raw::line_and_column(&doc[..at]);
        (format!("invalid UTF-8 at byte {at}"), Some(place))
    })?;
    let value = raw::document(text).map_err(|e| (e.message, Some((e.line, e.column))))?;
    handle_value(node, out, value, now_ms).map_err(|e| (e, None))
}

/// Handles one parsed document; `Err(text)` when it cannot be answered.
fn handle_value(
    node: &mut Node,
    out: &mut Vec<u8>,
    value: raw::Node,
    now_ms: u64,
) -> Result<(), String> {
    let envelope = decode::envelope(value)?;
    let msg_id = decode::msg_id(&envelope.body)?;
    let service = decode::service(&envelope.body);
    let reply = match decode::request(&envelope.body, &service, &envelope.dest) {
        Ok(request) => node.handle(now_ms, &request),
        Err(Refusal::Unknown(text)) => Reply::error(ErrorCode::NotSupported, text),
        Err(Refusal::Field(text)) => Reply::error(ErrorCode::Malformed, text),
    };
    answer(out, &envelope.src, &envelope.dest, msg_id, reply)
}

/// Writes the reply to a message from `src` to `dest`, or, for a message without `msg_id`,
/// `Err` with the text of an error nobody will read otherwise.
fn answer(
    out: &mut Vec<u8>,
    src: &str,
    dest: &str,
    msg_id: Option<u64>,
    reply: Reply,
) -> Result<(), String> {
    match (msg_id, reply) {
        (Some(id), reply) => {
            reply::write(out, dest, src, id, &reply);
            Ok(())
        }
        (None, Reply::Error { text, .. }) => Err(format!("{text} (message without msg_id)")),
        (None, Reply::Refused(refused)) => {
            let (_, text) = values::refusal(&refused);
            Err(format!("{text} (message without msg_id)"))
        }
        (None, _) => Ok(()),
    }
}

/// The reply a host sends for a document the guest failed on (code 13), when the document has a
/// usable envelope and `msg_id`.
pub fn internal_error_reply(doc: &[u8], text: &str) -> Option<Vec<u8>> {
    let value = raw::document(std::str::from_utf8(doc).ok()?).ok()?;
    let envelope = decode::envelope(value).ok()?;
    let id = decode::msg_id(&envelope.body).ok()??;
    let mut out = Vec::new();
    reply::write(
        &mut out,
        &envelope.dest,
        &envelope.src,
        id,
        &Reply::error(ErrorCode::Internal, text),
    );
    Some(out)
}

#[cfg(test)]
mod tests;
