//! Why `breaker-host` could not start. Once it serves, nothing is fatal: bad input is reported
//! on stderr and a failing guest is replaced.

/// A start-up failure: one line on stderr and a non-zero exit.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A file named on the command line could not be read.
    #[error("cannot read {what}: {source}")]
    Read {
        what: String,
        source: std::io::Error,
    },
    /// wasmtime could not be set up on this machine.
    #[error("cannot start wasmtime: {0}")]
    Engine(String),
    /// The module is not valid WebAssembly, or does not compile.
    #[error("cannot load {what}: {reason}")]
    Module { what: String, reason: String },
    /// The module does not have the exports of PROTOCOL §8, or imports something.
    #[error("cannot instantiate the module: {0}")]
    Instantiate(String),
    /// The module speaks another version of the ABI.
    #[error("the module speaks ABI version {found}; this host speaks version 1")]
    AbiVersion { found: i32 },
    /// The `--config` file is not a valid config object.
    #[error("bad config file {path}: {reason}")]
    Config { path: String, reason: String },
    /// The `--state-file` cannot be used: its directory is missing or not writable, another
    /// node holds its lock, or it is not a regular file.
    #[error("cannot use the state file {path}: {reason}")]
    StateFile { path: String, reason: String },
    /// `--fleet` cannot be used.
    #[error("{0}")]
    Fleet(String),
    /// The `--state-file` exists but is not a snapshot this node can restore; it is left as it
    /// is.
    #[error("cannot restore the state file {path}: {reason}")]
    State { path: String, reason: String },
    /// `--record` cannot start its file.
    #[error("cannot record to {path}: {reason}")]
    Record { path: String, reason: String },
    /// `--listen` cannot bind its address.
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
}

impl StartError {
    pub fn engine(e: wasmtime::Error) -> StartError {
        StartError::Engine(e.to_string())
    }

    pub fn module(what: &str, e: wasmtime::Error) -> StartError {
        StartError::Module {
            what: what.to_string(),
            reason: format!("{e:#}").replace('\n', " "),
        }
    }
}
