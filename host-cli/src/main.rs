//! `breaker-host`: runs the breaker module under wasmtime as a node on stdin/stdout.
//!
//! stdout carries replies only, one compact JSON document per line; everything else is one line
//! on stderr. End of input, SIGTERM and SIGINT flush every reply and exit 0; a non-zero exit
//! means the node could not start.

mod batch;
mod clock;
mod engine_config;
mod error;
mod guest;
mod messages;
mod serve;
mod state_file;
mod supervisor;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use clock::ClockKind;
use error::StartError;

/// Runs the circuit-breaker node: JSON messages on stdin, replies on stdout.
#[derive(Debug, Parser)]
#[command(name = "breaker-host", version, about, long_about = None)]
pub struct Args {
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
    /// exit. It holds the `snapshot` object of a `snapshot` reply.
    #[arg(long, value_name = "FILE")]
    state_file: Option<PathBuf>,

    /// How often the node is checkpointed (and the state file rewritten) while it changes.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    checkpoint_ms: u64,

    /// The most memory the module may grow to, in MiB. A call that needs more fails with
    /// code 13 and the node carries on from its last good state.
    #[arg(long, value_name = "MIB", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=4096))]
    max_guest_memory_mib: u64,

    /// The fuel (about one unit per WebAssembly instruction; 10^10 is one to a few seconds) a
    /// call into the module may use, plus 10,000 per byte of input it carries (about 40 times
    /// what traffic costs). A call that runs out fails with code 13 and the node carries on from
    /// its last good state.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CALL_FUEL, value_parser = clap::value_parser!(u64).range(1..))]
    max_call_fuel: u64,
}

/// The default `--max-call-fuel`.
const DEFAULT_CALL_FUEL: u64 = 10_000_000_000;

/// The fuel a call gets for each byte of its input, on top of `--max-call-fuel`.
const FUEL_PER_BYTE: u64 = 10_000;

fn main() -> ExitCode {
    let args = Args::parse();
    match serve::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("breaker-host: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read_config(path: &std::path::Path) -> Result<Vec<u8>, StartError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| StartError::Read {
        what: name.clone(),
        source,
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
