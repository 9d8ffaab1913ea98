//! A deterministic circuit breaker that runs anywhere.
//!
//! - [`breaker`]: one service's CLOSED/OPEN/HALF_OPEN state machine; time is an argument.
//! - [`node`]: many breakers by name, the config layers, the event log, typed requests.
//! - [`wire`]: the JSON protocol, and the [`wire::Session`] every host drives.
//! - [`fast`]: `acquire` and `record` without JSON, for embedders guarding one call at a time.
//! - `abi`: the raw WebAssembly exports (no imports), on `wasm32` builds.
//! - `web`: wasm-bindgen exports for the browser, behind the `web` feature.
//!
//! The crate never reads a clock and does no I/O.

pub mod breaker;
pub mod fast;
pub mod node;
pub mod wire;

#[cfg(all(target_arch = "wasm32", not(feature = "web")))]
mod abi;
#[cfg(feature = "web")]
mod web;

pub use node::{Node, Options};
pub use wire::Session;

/// The version of the raw ABI this build exports (`breaker_abi_version`).
pub const ABI_VERSION: i32 = 1;
