//! `--record FILE`: every document the guest is given, with the node time it was given, one
//! NDJSON line each, so that `breaker-host replay` can run the same traffic again under other
//! configs. The file is rotated by size (FILE, FILE.1, …, FILE.K, oldest last); each file opens
//! with a header line naming the options in force and its part number, so a set of rotated files
//! can be put back in order.
//!
//! The format (host-cli/README.md, "Recording and replay"):
//!
//! ```text
//! {"breaker_record":1,"part":1,"clock":"system","fixtures":true,"memory_mib":256,"restored":false,"config":"{\"failure_threshold\":3}"}
//! {"at_ms":1700000000000,"doc":"{\"src\":\"c\",\"dest\":\"db\",\"body\":{...}}"}
//! {"at_ms":1700000000001,"doc_base64":"..."}
//! ```
//!
//! A document is kept as the JSON string of its exact text (`doc`), or, when it is not UTF-8,
//! as base64 of its bytes (`doc_base64`): documents the guest refuses are recorded faithfully
//! too, so a replay gives the same replies and the same diagnostics.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::error::StartError;

/// The version of the record format, the header's `breaker_record`.
pub const FORMAT: u64 = 1;

/// The first line of every record file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub breaker_record: u64,
    /// 1 for the first file of a recording, one more for each rotation.
    pub part: u64,
    /// `"system"` or `"manual"`: under the manual clock, `at_ms` is not used by the node.
    pub clock: String,
    /// Whether the test fixtures were accepted (`--no-fixtures` off).
    pub fixtures: bool,
    /// Whether the node was one of a fleet (`--fleet`): its half_open breakers probe only
    /// under the fleet's lease, and the fleet's documents are in the recording. Absent in
    /// recordings of nodes without a fleet.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fleet: bool,
    /// `--max-guest-memory-mib`: the node's memory budget (half of it) decides which breakers
    /// are forgotten, so a replay runs under the same.
    pub memory_mib: u64,
    /// Whether the node started from a saved state (`--state-file`), which a replay from a
    /// fresh node does not have.
    pub restored: bool,
    /// The text of the `--config` file in force, or `null`.
    pub config: Option<String>,
}

/// One recorded document: its text, or its bytes in base64 when it is not UTF-8 (read back by
/// `replay::reader`).
#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    pub at_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc_base64: Option<String>,
}

/// Where and how much to record.
pub struct RecordOptions {
    pub path: PathBuf,
    /// Rotate once the current file would grow past this.
    pub max_bytes: u64,
    /// Rotated files kept besides the current one.
    pub keep: u32,
}

/// Writes the record file and rotates it.
pub struct Recorder {
    options: RecordOptions,
    header: Header,
    out: BufWriter<File>,
    written: u64,
    line: Vec<u8>,
    /// Set after a write failed: the line said so, and nothing more is recorded.
    failed: bool,
}

/// `FILE.n`: the n-th most recent rotated file.
pub fn rotated(path: &Path, n: u64) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

impl Recorder {
    /// Starts a recording at `options.path`. Refuses to start over an earlier recording (the
    /// file, or its first rotated file, exists), which it would otherwise mix into this one.
    pub fn start(options: RecordOptions, header: Header) -> Result<Recorder, StartError> {
        let name = options.path.display().to_string();
        let bad = |reason: String| StartError::Record {
            path: name.clone(),
            reason,
        };
        for existing in [options.path.clone(), rotated(&options.path, 1)] {
            if fs::symlink_metadata(&existing).is_ok() {
                return Err(bad(format!(
                    "{} exists (an earlier recording?); move it away or record to another file",
                    existing.display()
                )));
            }
        }
        let file = create(&options.path).map_err(|e| bad(e.to_string()))?;
        let mut recorder = Recorder {
            options,
            header,
            out: BufWriter::with_capacity(1 << 16, file),
            written: 0,
            line: Vec::with_capacity(256),
            failed: false,
        };
        recorder.write_header().map_err(|e| bad(e.to_string()))?;
        Ok(recorder)
    }

    /// Records `doc`, the exact bytes of one document the guest is given, at `now_ms`. A write
    /// that fails is reported once on stderr and ends the recording; the node serves on.
    pub fn record(&mut self, doc: &[u8], now_ms: u64) {
        if self.failed {
            return;
        }
        self.line.clear();
        let entry = match std::str::from_utf8(doc) {
            Ok(text) => Entry {
                at_ms: now_ms,
                doc: Some(text),
                doc_base64: None,
            },
            Err(_) => Entry {
                at_ms: now_ms,
                doc: None,
                doc_base64: Some(base64::engine::general_purpose::STANDARD.encode(doc)),
            },
        };
        // Writing into a Vec fails only on a serializer error, and an entry always serializes.
        let _ = serde_json::to_writer(&mut self.line, &entry);
        self.line.push(b'\n');
        if let Err(e) = self.write_line() {
            self.fail(&e);
        }
    }

    /// Writes out what is buffered (after every round of the serving loop, and at the end).
    pub fn flush(&mut self) {
        if !self.failed
            && let Err(e) = self.out.flush()
        {
            self.fail(&e);
        }
    }

    fn fail(&mut self, e: &io::Error) {
        self.failed = true;
        diag!(
            "cannot write the record file {}: {e}; recording stops, the node serves on",
            self.options.path.display()
        );
    }

    fn write_line(&mut self) -> io::Result<()> {
        let len = self.line.len() as u64;
        if self.written > 0 && self.written + len > self.options.max_bytes {
            self.rotate()?;
        }
        self.out.write_all(&self.line)?;
        self.written += len;
        Ok(())
    }

    fn write_header(&mut self) -> io::Result<()> {
        let mut line = serde_json::to_vec(&self.header).map_err(io::Error::other)?;
        line.push(b'\n');
        self.out.write_all(&line)?;
        self.written = line.len() as u64;
        Ok(())
    }

    /// FILE becomes FILE.1, FILE.1 becomes FILE.2, …, the oldest beyond `keep` is removed, and a
    /// new FILE starts with the next part's header.
    fn rotate(&mut self) -> io::Result<()> {
        self.out.flush()?;
        let path = &self.options.path;
        let keep = u64::from(self.options.keep);
        if keep == 0 {
            fs::remove_file(path)?;
        } else {
            match fs::remove_file(rotated(path, keep)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            for n in (1..keep).rev() {
                match fs::rename(rotated(path, n), rotated(path, n + 1)) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            fs::rename(path, rotated(path, 1))?;
        }
        self.out = BufWriter::with_capacity(1 << 16, create(path)?);
        self.header.part += 1;
        self.write_header()
    }
}

fn create(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Writes out what `recorder`, if there is one, holds.
pub fn flush(recorder: &mut Option<Recorder>) {
    if let Some(r) = recorder {
        r.flush();
    }
}

/// The recorder `breaker-host --record` asks for, if any; `restored` when the node starts from
/// a state file.
pub fn from_args(
    args: &crate::Args,
    restored: bool,
    setup: &crate::supervisor::Setup,
) -> Result<Option<Recorder>, StartError> {
    let Some(path) = &args.record else {
        return Ok(None);
    };
    // `read_config` checked that the file is UTF-8.
    let config = setup
        .config
        .as_ref()
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned());
    let header = Header {
        breaker_record: FORMAT,
        part: 1,
        clock: if setup.options.manual_clock {
            "manual"
        } else {
            "system"
        }
        .into(),
        fixtures: !setup.options.no_fixtures,
        fleet: setup.options.fleet,
        memory_mib: args.max_guest_memory_mib,
        restored,
        config,
    };
    let options = RecordOptions {
        path: path.clone(),
        max_bytes: args.record_max_bytes,
        keep: args.record_keep,
    };
    Recorder::start(options, header).map(Some)
}
