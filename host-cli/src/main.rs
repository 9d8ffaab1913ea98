//! `breaker-host`: runs the breaker module under wasmtime as a node on stdin/stdout.
//!
//! stdout carries replies only, one compact JSON document per line; everything else is one line
//! on stderr. End of input, SIGTERM, SIGINT, SIGHUP and SIGQUIT flush every reply, save the state
//! and exit 0. Exit codes: 1, the node could not start; 2, bad command-line arguments; 3, the
//! node served but its latest state could not be saved (one line says what was lost).

/// Writes one `breaker-host: ...` line on stderr. A closed or broken stderr drops the line; it
/// never stops the node (`eprintln!` would panic).
macro_rules! diag {
    ($($arg:tt)*) => {
        $crate::say(format_args!($($arg)*))
    };
}

mod batch;
mod clock;
mod engine_config;
mod error;
mod files;
mod fleet;
mod guest;
mod inputs;
mod messages;
mod record;
mod replay;
mod serve;
mod state_file;
mod supervisor;
mod watch;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use clock::ClockKind;
use error::StartError;

/// Runs the circuit-breaker node: JSON messages on stdin, replies on stdout.
#[derive(Debug, Parser)]
#[command(name = "breaker-host", version, about, long_about = None, args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// Where time comes from: Unix epoch milliseconds, or a manual clock that starts at 0 and
    /// moves only on `advance_clock` messages.
    #[arg(long, value_enum, default_value_t = ClockKind::System)]
    clock: ClockKind,

    /// A JSON object of config fields for the defaults (as in a `configure` message).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Load this build of the module (same ABI) instead of the embedded one.
    #[arg(long, value_name = "FILE")]
    module: Option<PathBuf>,

    /// Refuse, with a line on stderr, any single document larger than this.
    #[arg(long, value_name = "N", default_value_t = 1 << 20, value_parser = clap::value_parser!(u64).range(1..=1 << 30))]
    max_message_bytes: u64,

    /// Production mode: refuse the test fixtures of `call` and `force` (code 12).
    #[arg(long)]
    no_fixtures: bool,

    /// Keep the node's state in this file: restored at start when it exists (a corrupt file
    /// stops start-up and is left as it is), rewritten atomically every `--checkpoint-ms` and at
    /// exit. It holds the `snapshot` object of a `snapshot` reply. Its directory must exist and
    /// be writable; `.FILE.lock` beside it keeps a second node off it; a symbolic link is
    /// resolved once, at start.
    #[arg(long, value_name = "FILE")]
    state_file: Option<PathBuf>,

    /// How often the node is checkpointed (and the state file rewritten) while it changes.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    checkpoint_ms: u64,

    /// The most memory the module may grow to, in MiB. The node keeps its breakers within half
    /// of it (the memory budget); a call that needs more fails with code 13 and the node carries
    /// on from its last good state.
    #[arg(long, value_name = "MIB", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=4096))]
    max_guest_memory_mib: u64,

    /// The fuel (about one unit per WebAssembly instruction; 10^10 is one to a few seconds) a
    /// call into the module may use, plus 10,000 per byte of input it carries (about 40 times
    /// what traffic costs). A call that runs out fails with code 13 and the node carries on from
    /// its last good state.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CALL_FUEL, value_parser = clap::value_parser!(u64).range(1..))]
    max_call_fuel: u64,

    /// Serve `GET /metrics` (OpenMetrics text), `GET /events` (every transition as Server-Sent
    /// Events) and `GET /status` over HTTP at this address, such as 127.0.0.1:9464. Off by
    /// default; stdout is the same with it or without.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,

    /// How each transition is written on stderr: one line of text, or one JSON object.
    #[arg(long, value_enum, default_value_t = watch::log::LogFormat::Text)]
    log_format: watch::log::LogFormat,

    /// Record every document the module is given, with the node time it was given, to this
    /// file (NDJSON), for `breaker-host replay`. It must not exist yet.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,

    /// Rotate the record file once it would grow past this many bytes: FILE becomes FILE.1, and
    /// so on.
    #[arg(long, value_name = "N", default_value_t = 64 << 20, value_parser = clap::value_parser!(u64).range(1..), requires = "record")]
    record_max_bytes: u64,

    /// How many rotated record files to keep besides FILE (the oldest go first).
    #[arg(long, value_name = "K", default_value_t = 10, requires = "record")]
    record_keep: u32,

    /// Join a fleet through Redis at this URL (redis://HOST:PORT/DB): this node's transitions
    /// are shared with the fleet's other nodes and theirs with it, and in half_open the fleet
    /// runs at most `half_open_max_calls` probes in all. Off by default.
    #[arg(long, value_name = "URL")]
    fleet: Option<String>,

    /// The fleet's name: nodes of one name share their transitions.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "default",
        requires = "fleet"
    )]
    fleet_name: String,

    /// This node's name in the fleet (default: the host's name and the process id).
    #[arg(long, value_name = "ID", requires = "fleet")]
    instance: Option<String>,

    /// Share forced modes (`force`, `isolate`) with the fleet too.
    #[arg(long, requires = "fleet")]
    fleet_share_force: bool,

    /// Run the module as one of a fleet without Redis: the fleet's documents come from stdin.
    /// For replaying what a node of a fleet handled (see --record).
    #[arg(long, conflicts_with = "fleet")]
    fleet_replay: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Run a recording (`--record`) under other configs: when each would have opened and closed
    /// each breaker, how many calls it would have rejected, and where they first disagree.
    Replay(replay::ReplayArgs),
}

/// The default `--max-call-fuel`.
const DEFAULT_CALL_FUEL: u64 = 10_000_000_000;

/// The fuel a call gets for each byte of its input, on top of `--max-call-fuel`.
const FUEL_PER_BYTE: u64 = 10_000;

/// The exit code of a node that served but could not save its latest state.
const EXIT_STATE_LOST: u8 = 3;

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            // clap's own report spans several lines (usage, a hint); the first says it all.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("bad arguments");
            diag!("{} (see --help)", first.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    if let Some(Command::Replay(replay)) = &args.command {
        if let Some(misuse) = replay.misuse() {
            diag!("replay: {misuse} (see --help)");
            return ExitCode::from(2);
        }
        return match replay::run(replay) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                diag!("replay: {}", one_line(&e));
                ExitCode::FAILURE
            }
        };
    }
    match serve::run(&args) {
        Ok(serve::Ending::Saved) => ExitCode::SUCCESS,
        Ok(serve::Ending::Lost(what)) => {
            diag!("{what}");
            ExitCode::from(EXIT_STATE_LOST)
        }
        Err(e) => {
            diag!("{}", one_line(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}

/// Writes `breaker-host: {args}` and a newline on stderr, ignoring any failure.
pub fn say(args: std::fmt::Arguments) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "breaker-host: {args}");
}

/// `text` on one line: a start-up error is always exactly one line on stderr.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn read_config(path: &std::path::Path) -> Result<Vec<u8>, StartError> {
    let name = path.display().to_string();
    let bytes =
        files::read_existing(path, files::MAX_CONFIG_BYTES).map_err(|source| StartError::Read {
            what: format!("the config file {name}"),
            source,
        })?;
    std::str::from_utf8(&bytes).map_err(|_| StartError::Config {
        path: name.clone(),
        reason: "not UTF-8".into(),
    })?;
    match messages::object(&bytes) {
        Ok(_) => Ok(bytes),
        Err(e) => Err(StartError::Config {
            path: name,
            reason: match e {
                messages::NotObject::Kind(kind) => format!("expected a JSON object, found {kind}"),
                messages::NotObject::Json(e) => e,
            },
        }),
    }
}
