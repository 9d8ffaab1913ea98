//! Documents waiting for the guest, with where each came from in the input stream, so that the
//! guest's diagnostics (which count lines within the call) can name the input's own lines.

use crate::record::Recorder;
use crate::watch::Watch;

/// Complete documents, one after another, each followed by a newline.
#[derive(Default)]
pub struct Batch {
    pub bytes: Vec<u8>,
    pub docs: Vec<Placed>,
    /// The line of `bytes` the next document starts on.
    next_line: u64,
}

/// Where one document sits in the batch and in the input stream.
pub struct Placed {
    pub start: usize,
    pub end: usize,
    pub batch_line: u64,
    pub stream_line: u64,
}

impl Batch {
    pub fn add(&mut self, doc: &[u8], stream_line: u64) {
        let batch_line = self.next_line.max(1);
        let start = self.bytes.len();
        self.bytes.extend_from_slice(doc);
        self.bytes.push(b'\n');
        self.docs.push(Placed {
            start,
            end: start + doc.len(),
            batch_line,
            stream_line,
        });
        self.next_line = batch_line + 1 + doc.iter().filter(|&&b| b == b'\n').count() as u64;
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
        self.docs.clear();
        self.next_line = 1;
    }

    /// The document `i` alone, as the guest takes it (with its newline).
    pub fn doc(&self, i: usize) -> &[u8] {
        let d = &self.docs[i];
        &self.bytes[d.start..=d.end]
    }

    /// Hands every document, without its newline, to `recorder` at `now_ms`.
    pub fn record(&self, recorder: Option<&mut Recorder>, now_ms: u64) {
        if let Some(recorder) = recorder {
            for d in &self.docs {
                recorder.record(&self.bytes[d.start..d.end], now_ms);
            }
        }
    }

    /// The input line of a line of the batch.
    pub fn stream_line(&self, batch_line: u64) -> u64 {
        let i = self.docs.partition_point(|d| d.batch_line <= batch_line);
        match i.checked_sub(1).map(|i| &self.docs[i]) {
            Some(d) => d.stream_line + (batch_line - d.batch_line),
            None => batch_line,
        }
    }
}

/// Rewrites the guest's `line N...` diagnostics with input lines, one `breaker-host: ` line each,
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
