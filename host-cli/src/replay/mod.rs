//! `breaker-host replay FILE... [--config A.json ...] [--json | --replies]`: runs a recording
//! (`--record`) through one fresh module per config, each document at its recorded time, and
//! reports when each config would have opened and closed each breaker, how many calls it would
//! have rejected, and where the configs first disagree. The module is deterministic, so a replay
//! under the config the recording was made under gives exactly the replies the node gave.

mod reader;
mod report;
mod run;

use std::io::{self, Write};
use std::path::PathBuf;

use crate::guest::{GuestOptions, Limits, Program};
use crate::supervisor::Setup;

/// The name of the config a recording was made under, in reports.
const RECORDED: &str = "recorded";

/// Runs recorded traffic under other configs.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The record file (`breaker-host --record FILE`); its rotated files (FILE.1, FILE.2, …)
    /// are read too, oldest first. Several may be given: their parts are put in order.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,

    /// A config to replay under, a JSON object of config fields (as `breaker-host --config`);
    /// repeat for more. The config of the recording is always replayed too, first, as
    /// `recorded`.
    #[arg(long = "config", value_name = "FILE")]
    configs: Vec<PathBuf>,

    /// Write the report as one JSON document instead of a table.
    #[arg(long)]
    json: bool,

    /// Write the replies instead of a report: those of the recorded config, or of the one
    /// `--config` given. Under the recorded config they are byte for byte the node's.
    #[arg(long, conflicts_with = "json")]
    replies: bool,
}

impl ReplayArgs {
    /// What is wrong with the arguments that clap cannot say, if anything: a usage error.
    pub fn misuse(&self) -> Option<&'static str> {
        (self.replies && self.configs.len() > 1)
            .then_some("--replies writes the replies of one config: give at most one --config")
    }
}

/// Runs the replay; an error is one line for stderr.
pub fn run(args: &ReplayArgs) -> Result<(), String> {
    let recording = reader::read(&args.files)?;
    let program = Program::embedded().map_err(|e| e.to_string())?;
    let header = &recording.header;
    let options = GuestOptions {
        manual_clock: header.clock == "manual",
        no_fixtures: !header.fixtures,
        fleet: header.fleet,
    };
    let limits = Limits {
        memory_bytes: (header.memory_mib as usize) << 20,
        fuel_per_call: crate::DEFAULT_CALL_FUEL,
        fuel_per_byte: crate::FUEL_PER_BYTE,
        // Recorded documents are whole and were within the node's limit; the stream's limit
        // does not apply to them.
        max_document: u32::MAX as usize,
    };
    let setup = |config| Setup {
        program: program.clone(),
        options,
        limits,
        config,
    };
    let mut setups = Vec::new();
    let mut names = Vec::new();
    if !(args.replies && args.configs.len() == 1) {
        let recorded = header.config.as_ref().map(|c| c.as_bytes().to_vec());
        setups.push(setup(recorded.map(|c| (RECORDED.to_string(), c))));
        names.push(RECORDED.to_string());
    }
    for path in &args.configs {
        let bytes = crate::read_config(path).map_err(|e| e.to_string())?;
        setups.push(setup(Some((path.display().to_string(), bytes))));
        names.push(path.display().to_string());
    }
    let runs = std::thread::scope(|scope| {
        let handles: Vec<_> = setups
            .iter()
            .map(|s| scope.spawn(|| run::run(s, &recording, args.replies)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a replay thread failed".into()))
            })
            .collect::<Result<Vec<_>, _>>()
    })?;
    let mut out = io::stdout().lock();
    let written = if args.replies {
        let replies = runs[0].replies.as_deref().unwrap_or_default();
        out.write_all(replies)
    } else {
        let report = report::build(names, recording.len(), &runs, notes(&recording, &runs));
        match args.json {
            true => report::write_json(&report, &mut out),
            false => report::write_table(&report, &mut out),
        }
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(format!("writing stdout: {e}")),
        _ => Ok(()),
    }
}

/// What keeps the replay from being what the node did.
fn notes(recording: &reader::Recording, runs: &[run::Run]) -> Vec<String> {
    let mut notes = Vec::new();
    if recording.missing_parts > 0 {
        notes.push(format!(
            "the first {} parts of the recording were rotated away: the replay starts from a fresh node, the node did not",
            recording.missing_parts
        ));
    }
    if recording.header.restored {
        notes.push("the node was recorded after restoring a state file: the replay starts from a fresh node".into());
    }
    let unseen: u64 = runs.iter().map(|r| r.unseen_transitions).sum();
    if unseen > 0 {
        notes.push(format!(
            "{unseen} transitions were not seen (more than 1,000 in one batch of documents): the open and close times are incomplete"
        ));
    }
    notes
}
