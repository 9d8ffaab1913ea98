//! Reads a recording (`breaker-host --record`): its files in order, each checked line by line.
//! A line that is not what the recorder writes stops the replay with an error naming the file
//! and the line, rather than replaying something else than what the node was given.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;

use crate::record::{Entry, FORMAT, Header, rotated};

/// The documents of a recording, in order: their bytes one after another, each followed by a
/// newline (so that a run of them is one input for the guest), and where each ends.
pub struct Recording {
    /// The header of the first file read.
    pub header: Header,
    pub bytes: Vec<u8>,
    /// Per document: its node time and the end of its bytes (newline included).
    pub docs: Vec<(u64, usize)>,
    /// Parts missing before the first one read (rotated away): a replay from a fresh node does
    /// not start where the node did.
    pub missing_parts: u64,
}

/// The files of each path given: the rotated ones left beside it (FILE.n, …, FILE.1) and the
/// path itself, oldest first. A path that is itself a rotated file stands for itself only.
pub fn files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for path in paths {
        let mut older = Vec::new();
        let mut n = 1;
        while rotated(path, n).is_file() {
            older.push(rotated(path, n));
            n += 1;
        }
        for file in older.into_iter().rev().chain([path.clone()]) {
            if !out.contains(&file) {
                out.push(file);
            }
        }
    }
    out
}

/// Reads `paths` (see [`files`]) into one recording, its files ordered by their header's part
/// number, which must follow on from one file to the next.
pub fn read(paths: &[PathBuf]) -> Result<Recording, String> {
    let mut parts = Vec::new();
    for path in files(paths) {
        let text = fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let header = header(&path, &text)?;
        parts.push((header, path, text));
    }
    parts.sort_by_key(|(h, _, _)| h.part);
    for pair in parts.windows(2) {
        let ((a, pa, _), (b, pb, _)) = (&pair[0], &pair[1]);
        if b.part != a.part + 1 {
            return Err(format!(
                "{} is part {} of a recording and {} part {}: the parts between are missing, or they are not of one recording",
                pa.display(),
                a.part,
                pb.display(),
                b.part
            ));
        }
        if (&b.clock, b.fixtures, b.memory_mib, &b.config)
            != (&a.clock, a.fixtures, a.memory_mib, &a.config)
        {
            return Err(format!(
                "{} and {} were recorded with other options: not one recording",
                pa.display(),
                pb.display()
            ));
        }
    }
    let mut parts = parts.into_iter();
    let (first, path, text) = parts.next().ok_or("no record file given")?;
    let mut recording = Recording {
        missing_parts: first.part - 1,
        header: first,
        bytes: Vec::with_capacity(text.len()),
        docs: Vec::new(),
    };
    entries(&mut recording, &path, &text)?;
    for (_, path, text) in parts {
        entries(&mut recording, &path, &text)?;
    }
    Ok(recording)
}

/// The header on the first line of `text`.
fn header(path: &Path, text: &[u8]) -> Result<Header, String> {
    let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let header: Header = serde_json::from_slice(first).map_err(|e| {
        format!(
            "{} line 1: not the header of a breaker-host recording ({e})",
            path.display()
        )
    })?;
    if header.breaker_record != FORMAT || header.part == 0 {
        return Err(format!(
            "{} line 1: a recording of format {} part {}; this breaker-host reads format {FORMAT} from part 1",
            path.display(),
            header.breaker_record,
            header.part
        ));
    }
    Ok(header)
}

/// Appends the documents of one file (after its header) to `recording`.
fn entries(recording: &mut Recording, path: &Path, text: &[u8]) -> Result<(), String> {
    let mut lines = text.split(|&b| b == b'\n').enumerate().skip(1).peekable();
    while let Some((i, line)) = lines.next() {
        let bad = |why: String| format!("{} line {}: {why}", path.display(), i + 1);
        if line.is_empty() {
            // Only the end of the file may be empty: a newline ends the last line.
            if lines.peek().is_none() {
                break;
            }
            return Err(bad("an empty line".into()));
        }
        if lines.peek().is_none() {
            return Err(bad(
                "cut short (no newline at its end): the file is truncated".into(),
            ));
        }
        let entry: Entry = serde_json::from_slice(line)
            .map_err(|e| bad(format!("not a recorded document ({e})")))?;
        match (entry.doc, entry.doc_base64) {
            (Some(doc), None) => recording.bytes.extend_from_slice(doc.as_bytes()),
            (None, Some(b64)) => {
                let doc = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| bad(format!("doc_base64: {e}")))?;
                recording.bytes.extend_from_slice(&doc);
            }
            _ => return Err(bad("expected one of doc and doc_base64".into())),
        }
        recording.bytes.push(b'\n');
        recording.docs.push((entry.at_ms, recording.bytes.len()));
    }
    Ok(())
}
