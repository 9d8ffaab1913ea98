//! Reads a recording (`breaker-host --record`): its files in order, each checked line by line.
//! A line that is not what the recorder writes stops the replay with an error naming the file
//! and the line, rather than replaying something else than what the node was given.

use std::fs;
use std::path::{Path, PathBuf};

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use crate::record::{FORMAT, Header, rotated};

/// The documents of a recording, in order, in chunks (as they were read).
pub struct Recording {
    /// The header of the first file read.
    pub header: Header,
    pub chunks: Vec<Chunk>,
    /// Parts missing before the first one read (rotated away): a replay from a fresh node does
    /// not start where the node did.
    pub missing_parts: u64,
}

/// Documents one after another, each followed by a newline (so that a run of them is one
/// input for the guest), and where each ends.
pub struct Chunk {
    pub bytes: Vec<u8>,
    /// Per document: its node time and the end of its bytes (newline included).
    pub docs: Vec<(u64, usize)>,
}

impl Recording {
    /// How many documents it holds.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.docs.len()).sum()
    }
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
        if (&b.clock, b.fixtures, b.fleet, b.memory_mib, &b.config)
            != (&a.clock, a.fixtures, a.fleet, a.memory_mib, &a.config)
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
        chunks: Vec::new(),
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

/// Appends the documents of one file (after its header) to `recording`. The lines are read in
/// as many pieces as the machine has threads, each piece split at a line's end, each a chunk.
fn entries(recording: &mut Recording, path: &Path, text: &[u8]) -> Result<(), String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let body = text
        .iter()
        .position(|&b| b == b'\n')
        .map_or(text.len(), |n| n + 1);
    let mut cuts = vec![body];
    for k in 1..threads {
        let at = (body + (text.len() - body) * k / threads).max(*cuts.last().unwrap_or(&body));
        if let Some(n) = text[at..].iter().position(|&b| b == b'\n') {
            cuts.push(at + n + 1);
        }
    }
    cuts.push(text.len());
    cuts.dedup();
    let pieces = std::thread::scope(|scope| {
        let handles: Vec<_> = cuts
            .windows(2)
            .map(|w| scope.spawn(move || piece(&text[w[0]..w[1]], w[1] == text.len())))
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        results
    });
    for (k, piece) in pieces.into_iter().enumerate() {
        let chunk = piece
            .map_err(|_| "a thread reading the recording failed".to_string())?
            .map_err(|(line, why)| {
                // Line numbers are counted only on the way out of an error.
                let before = 1 + text[body..cuts[k]].iter().filter(|&&b| b == b'\n').count();
                format!("{} line {}: {why}", path.display(), before + line + 1)
            })?;
        recording.chunks.push(chunk);
    }
    Ok(())
}

/// The documents of whole lines of a record file (`last`: the file's end, where the final
/// line must end with a newline too); an error is the line's index in `text` and why.
fn piece(text: &[u8], last: bool) -> Result<Chunk, (usize, String)> {
    let mut chunk = Chunk {
        bytes: Vec::with_capacity(text.len()),
        docs: Vec::new(),
    };
    let mut lines = text.split(|&b| b == b'\n').enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let end = lines.peek().is_none();
        match (line.is_empty(), end) {
            // A newline ends every line, so the split's last part is empty.
            (true, true) => break,
            (true, false) => return Err((i, "an empty line".into())),
            (false, true) if last => {
                let why = "cut short (no newline at its end): the file is truncated";
                return Err((i, why.into()));
            }
            _ => {}
        }
        let mut de = serde_json::Deserializer::from_slice(line);
        let at_ms = EntrySeed(&mut chunk.bytes)
            .deserialize(&mut de)
            .and_then(|at| de.end().map(|()| at))
            .map_err(|e| (i, format!("not a recorded document ({e})")))?;
        chunk.bytes.push(b'\n');
        chunk.docs.push((at_ms, chunk.bytes.len()));
    }
    Ok(chunk)
}

/// Reads one line of a record file (`record::Entry`), appending the document's bytes to the
/// buffer as they are read (no string is allocated for them); its value is `at_ms`. Written by
/// hand because the document goes straight into the buffer the module is given.
struct EntrySeed<'b>(&'b mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = u64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_> {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"{"at_ms":T,"doc":"..."} or {"at_ms":T,"doc_base64":"..."}"#)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
        let (mut at_ms, mut doc) = (None, false);
        while let Some(key) = map.next_key::<Cow<str>>()? {
            match &*key {
                "at_ms" if at_ms.is_none() => at_ms = Some(map.next_value::<u64>()?),
                "doc" if !doc => {
                    map.next_value_seed(AppendStr(&mut *self.0))?;
                    doc = true;
                }
                "doc_base64" if !doc => {
                    let text: Cow<str> = map.next_value()?;
                    base64::engine::general_purpose::STANDARD
                        .decode_vec(&*text, self.0)
                        .map_err(|e| de::Error::custom(format!("doc_base64: {e}")))?;
                    doc = true;
                }
                other => return Err(de::Error::custom(format!("unexpected field `{other}`"))),
            }
        }
        match (at_ms, doc) {
            (Some(at), true) => Ok(at),
            (None, _) => Err(de::Error::missing_field("at_ms")),
            (_, false) => Err(de::Error::custom("expected one of doc and doc_base64")),
        }
    }
}

/// Appends a JSON string's text to a buffer.
struct AppendStr<'b>(&'b mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for AppendStr<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for AppendStr<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
