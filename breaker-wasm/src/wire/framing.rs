//! Splits a byte stream into JSON documents as it arrives: NDJSON or pretty-printed, checked
//! against the JSON grammar byte by byte so that a broken document is noticed where it breaks.
//!
//! After a broken document the splitter carries on at the next line, after the one the broken
//! document began on, that begins in column 1 with something other than the continuation of a
//! pretty-printed document (indentation, `}`, `]`, `"`, `,`). So one bad line never swallows the
//! good ones after it, and every bad line of an NDJSON stream is reported.
//! A document larger than the limit is reported and skipped without being kept in memory.

mod grammar;
mod saved;

use grammar::{Grammar, Step, plain};

/// What the splitter found next.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete document (an object), starting on `line` (1-based).
    Doc { bytes: &'a [u8], line: u64 },
    /// Input that is not a document, with where it went wrong (1-based line and byte column).
    Error {
        line: u64,
        column: u64,
        message: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Between documents: whitespace, then `{`.
    Between,
    /// Inside a document that is being kept.
    InDoc,
    /// Inside a document that is too large: checked but not kept.
    Skipping,
    /// After an error: waiting for a line that begins a new document.
    Resync { at_line_start: bool },
}

/// What one step of the scan found.
enum Found {
    Nothing,
    /// A whole document, at `doc_start..pos`.
    Doc,
    Error(Frame<'static>),
}

/// An incremental document splitter over a byte stream. Its whole state is a serde type, so a
/// host can save it with a checkpoint and carry on with it elsewhere (see `wire::stream`; the
/// format is in `saved`).
#[derive(Debug)]
pub struct Splitter {
    buf: Vec<u8>,
    /// Where the scan has reached in `buf`.
    pos: usize,
    /// Where the current document began in `buf` (in [`Mode::InDoc`]).
    doc_start: usize,
    doc_line: u64,
    /// The line and the stream offset where it began, at `pos`; and the stream offset of
    /// `buf[0]`.
    line: u64,
    line_start: u64,
    base: u64,
    mode: Mode,
    grammar: Grammar,
    stack: Vec<u8>,
    max: usize,
    /// Where the last broken document broke (line, column), so it is reported once.
    last_error: Option<(u64, u64)>,
}

impl Splitter {
    /// A splitter that refuses documents larger than `max` bytes.
    pub fn new(max: usize) -> Splitter {
        Splitter {
            buf: Vec::new(),
            pos: 0,
            doc_start: 0,
            doc_line: 1,
            line: 1,
            line_start: 0,
            base: 0,
            mode: Mode::Between,
            grammar: Grammar::Value,
            stack: Vec::new(),
            max,
            last_error: None,
        }
    }

    /// Drops the bytes already dealt with.
    pub fn compact(&mut self) {
        self.push(&[]);
    }

    /// Adds input. Bytes already dealt with are dropped first.
    pub fn push(&mut self, bytes: &[u8]) {
        let keep_from = if self.mode == Mode::InDoc {
            self.doc_start
        } else {
            self.pos
        };
        if keep_from > 0 {
            self.buf.drain(..keep_from);
            self.base += keep_from as u64;
            self.pos -= keep_from;
            self.doc_start = self.doc_start.saturating_sub(keep_from);
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Whether unfinished input is held (a document begun but not ended).
    pub fn in_document(&self) -> bool {
        matches!(self.mode, Mode::InDoc | Mode::Skipping)
    }

    /// The next document or error in the input pushed so far; `None` when more input is needed.
    pub fn next_frame(&mut self) -> Option<Frame<'_>> {
        while self.pos < self.buf.len() {
            let b = self.buf[self.pos];
            let found = match self.mode {
                Mode::Between => self.between(b),
                Mode::Resync { at_line_start } => {
                    self.resync(b, at_line_start);
                    Found::Nothing
                }
                // Inside a string, plain bytes need no look one by one.
                Mode::InDoc | Mode::Skipping
                    if matches!(self.grammar, Grammar::Str { escape: 0, .. }) && plain(b) =>
                {
                    self.string_run()
                }
                Mode::InDoc | Mode::Skipping => self.in_document_byte(b),
            };
            match found {
                Found::Nothing => {}
                Found::Doc => {
                    let bytes = &self.buf[self.doc_start..self.pos];
                    let line = self.doc_line;
                    return Some(Frame::Doc { bytes, line });
                }
                Found::Error(error) => return Some(error),
            }
        }
        None
    }

    /// A byte between documents: whitespace, or the `{` that starts one.
    fn between(&mut self, b: u8) -> Found {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => self.advance(b),
            b'{' => {
                self.doc_start = self.pos;
                self.doc_line = self.line;
                self.stack.clear();
                self.stack.push(b'{');
                self.grammar = Grammar::ObjectFirst;
                self.mode = Mode::InDoc;
                self.advance(b);
            }
            _ => {
                let error = self.error("expected '{' to start a document");
                self.mode = Mode::Resync {
                    at_line_start: false,
                };
                return Found::Error(error);
            }
        }
        Found::Nothing
    }

    /// A byte while waiting for a line that begins a new document.
    fn resync(&mut self, b: u8, at_line_start: bool) {
        let continuation = matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'}' | b']' | b'"' | b',');
        if at_line_start && !continuation {
            self.mode = Mode::Between;
        } else {
            self.mode = Mode::Resync {
                at_line_start: b == b'\n',
            };
            self.advance(b);
        }
    }

    /// A run of plain bytes inside a string, taken at once.
    fn string_run(&mut self) -> Found {
        let run = self.buf[self.pos..]
            .iter()
            .position(|&c| !plain(c))
            .unwrap_or(self.buf.len() - self.pos);
        self.pos += run;
        self.oversized()
    }

    /// Once a kept document grows past the limit: the error, and the rest is skipped.
    fn oversized(&mut self) -> Found {
        if self.mode == Mode::InDoc && self.pos - self.doc_start > self.max {
            self.mode = Mode::Skipping;
            return Found::Error(self.too_large());
        }
        Found::Nothing
    }

    fn too_large(&self) -> Frame<'static> {
        Frame::Error {
            line: self.doc_line,
            column: 1,
            message: format!("document larger than {} bytes, skipped", self.max),
        }
    }

    /// A byte of a document, kept or skipped, checked against the grammar.
    fn in_document_byte(&mut self, b: u8) -> Found {
        match self.step(b) {
            Step::Again => Found::Nothing,
            Step::Taken => {
                self.advance(b);
                self.oversized()
            }
            Step::Done => {
                self.advance(b);
                let kept = self.mode == Mode::InDoc;
                self.mode = Mode::Between;
                match (kept, self.pos - self.doc_start <= self.max) {
                    (true, true) => Found::Doc,
                    // Ended on the byte that crossed the limit.
                    (true, false) => Found::Error(self.too_large()),
                    (false, _) => Found::Nothing,
                }
            }
            Step::Error(message) => match self.broken(message) {
                Some(error) => Found::Error(error),
                None => Found::Nothing,
            },
        }
    }

    /// A broken document: the error to report, unless it was reported already. Resuming
    /// inside a broken pretty-printed document can start a "document" at an inner line that
    /// breaks at the very same byte.
    fn broken(&mut self, message: &'static str) -> Option<Frame<'static>> {
        let error = self.error(message);
        self.resync_after_broken_document();
        let at = match &error {
            Frame::Error { line, column, .. } => Some((*line, *column)),
            Frame::Doc { .. } => None,
        };
        if at.is_some() && at == self.last_error {
            return None;
        }
        self.last_error = at;
        Some(error)
    }

    /// Changes the size limit for documents from now on.
    pub fn set_max(&mut self, max: usize) {
        self.max = max;
    }

    /// The size limit for documents.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Whether the splitter is between documents (not inside one, not resynchronising).
    pub fn is_between(&self) -> bool {
        self.mode == Mode::Between
    }

    /// Where the next byte will be: its line and column (1-based).
    pub fn position(&self) -> (u64, u64) {
        (self.line, self.base + self.pos as u64 - self.line_start + 1)
    }

    /// Moves the bytes pushed but not yet scanned into `into` (which is cleared first); the
    /// splitter then holds none.
    pub fn take_unscanned(&mut self, into: &mut Vec<u8>) {
        into.clear();
        into.extend_from_slice(&self.buf[self.pos..]);
        self.buf.truncate(self.pos);
    }

    /// Between documents, carries on as if the stream had reached `line` and `column`: like
    /// [`Splitter::reset_at`], but a broken document already reported is remembered (resuming
    /// inside it must not report it twice).
    pub fn resume_at(&mut self, line: u64, column: u64) {
        let last_error = self.last_error;
        self.reset_at(line, column);
        self.last_error = last_error;
    }

    /// Forgets everything: the next input starts a new stream at `line` and `column` (1-based).
    pub fn reset_at(&mut self, line: u64, column: u64) {
        let max = self.max;
        let mut buf = std::mem::take(&mut self.buf);
        let mut stack = std::mem::take(&mut self.stack);
        buf.clear();
        stack.clear();
        // Columns count from `line_start`; starting the stream offsets at column − 1 puts the
        // first byte in `column`.
        *self = Splitter {
            buf,
            stack,
            line,
            base: column.saturating_sub(1),
            ..Splitter::new(max)
        };
    }

    /// At the end of input: an unfinished document is an error.
    pub fn finish(&mut self) -> Option<Frame<'_>> {
        let unfinished = self.mode == Mode::InDoc;
        self.mode = Mode::Between;
        unfinished.then(|| Frame::Error {
            line: self.doc_line,
            column: 1,
            message: "input ended inside a document".into(),
        })
    }

    fn error(&self, message: &str) -> Frame<'static> {
        let column = self.base + self.pos as u64 - self.line_start + 1;
        Frame::Error {
            line: self.line,
            column,
            message: message.to_string(),
        }
    }

    /// Goes back to the line after the one the broken document began on (when it is still
    /// held) and waits there for a line that begins a new document.
    fn resync_after_broken_document(&mut self) {
        if self.mode == Mode::InDoc
            && let Some(nl) = self.buf[self.doc_start..self.pos]
                .iter()
                .position(|&c| c == b'\n')
        {
            self.pos = self.doc_start + nl + 1;
            self.line = self.doc_line + 1;
            self.line_start = self.base + self.pos as u64;
            self.mode = Mode::Resync {
                at_line_start: true,
            };
            return;
        }
        self.mode = Mode::Resync {
            at_line_start: false,
        };
    }

    fn advance(&mut self, b: u8) {
        self.pos += 1;
        if b == b'\n' {
            self.line += 1;
            self.line_start = self.base + self.pos as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything the splitter finds in `input`, fed in chunks of `chunk` bytes.
    fn split(input: &str, chunk: usize, max: usize) -> Vec<String> {
        let mut s = Splitter::new(max);
        let mut found = Vec::new();
        let mut take = |f: Frame| match f {
            Frame::Doc { bytes, line } => {
                found.push(format!("{line}: {}", String::from_utf8_lossy(bytes)))
            }
            Frame::Error {
                line,
                column,
                message,
            } => found.push(format!("{line}:{column} error: {message}")),
        };
        for piece in input.as_bytes().chunks(chunk.max(1)) {
            s.push(piece);
            while let Some(f) = s.next_frame() {
                take(f);
            }
        }
        if let Some(f) = s.finish() {
            take(f);
        }
        found
    }

    #[test]
    fn splits_ndjson_and_pretty_documents_in_any_chunking() {
        let input = "{\"a\":1}\n{\n  \"b\": [1, 2.5e-3, {\"c\": \"}\\\"\"}],\n  \"d\": null\n}\n  {}{\"e\":true}";
        let expected = vec![
            "1: {\"a\":1}".to_string(),
            "2: {\n  \"b\": [1, 2.5e-3, {\"c\": \"}\\\"\"}],\n  \"d\": null\n}".to_string(),
            "6: {}".to_string(),
            "6: {\"e\":true}".to_string(),
        ];
        for chunk in [1, 2, 3, 7, 1000] {
            assert_eq!(split(input, chunk, 1 << 20), expected, "chunk {chunk}");
        }
    }

    #[test]
    fn a_broken_line_does_not_swallow_the_next() {
        let input = "{\"a\": [1, 2\n{\"ok\":1}\nnot json\n[1]\n{\"ok\":2}\n";
        assert_eq!(
            split(input, 5, 1 << 20),
            vec![
                "2:1 error: expected ',' or ']' in an array",
                "2: {\"ok\":1}",
                "3:1 error: expected '{' to start a document",
                "4:1 error: expected '{' to start a document",
                "5: {\"ok\":2}",
            ]
        );
    }

    #[test]
    fn the_rest_of_a_broken_pretty_document_is_skipped_quietly() {
        let input = "{\n  \"a\": 1\n  \"b\": 2\n}\n{\"ok\":1}\n";
        assert_eq!(
            split(input, 4, 1 << 20),
            vec![
                "3:3 error: expected ',' or '}' in an object",
                "5: {\"ok\":1}"
            ]
        );
    }

    #[test]
    fn a_broken_document_is_reported_once_even_when_an_inner_line_starts_with_a_brace() {
        let input = "{\"a\":\n{\"b\": 1 \"c\": 2}}\n{\"ok\":1}\n";
        for chunk in [1, 5, 1000] {
            assert_eq!(
                split(input, chunk, 1 << 20),
                vec![
                    "2:9 error: expected ',' or '}' in an object",
                    "3: {\"ok\":1}"
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn an_oversized_document_is_skipped_without_being_kept() {
        let big = format!("{{\"s\":\"{}\"}}\n{{\"ok\":1}}\n", "x".repeat(10_000));
        let mut s = Splitter::new(100);
        let mut found = Vec::new();
        for piece in big.as_bytes().chunks(64) {
            s.push(piece);
            assert!(
                s.buf.len() < 300,
                "the splitter holds {} bytes",
                s.buf.len()
            );
            while let Some(f) = s.next_frame() {
                found.push(format!("{f:?}"));
            }
        }
        assert_eq!(found.len(), 2);
        assert!(found[0].contains("larger than 100 bytes"), "{}", found[0]);
        assert!(found[1].contains("Doc"), "{}", found[1]);
    }

    #[test]
    fn refuses_deep_nesting_and_bad_tokens() {
        let deep = format!("{{\"a\":{}\n{{\"ok\":1}}", "[".repeat(100_000));
        let found = split(&deep, 4096, usize::MAX);
        assert_eq!(
            found,
            vec!["1:133 error: nesting too deep", "2: {\"ok\":1}"]
        );
        for (bad, expected) in [
            ("{\"a\":01}", "1:7 error: expected ',' or '}' in an object"),
            ("{\"a\":tru}", "1:9 error: expected a value"),
            ("{\"a\":\"\\x\"}", "1:8 error: invalid escape in a string"),
            ("{\"a\" 1}", "1:6 error: expected ':' after an object key"),
            ("{a:1}", "1:2 error: expected a string key"),
            ("{\"a\":1,}", "1:8 error: expected a string key"),
            ("{\"a\":\"\n\"}", "1:7 error: control character in a string"),
        ] {
            assert_eq!(split(bad, 3, 1000), vec![expected], "{bad:?}");
        }
        assert_eq!(
            split("{\"a\":", 1, 1000),
            vec!["1:1 error: input ended inside a document"]
        );
    }
}
