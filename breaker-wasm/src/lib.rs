//! A deterministic circuit breaker that runs anywhere.
//!
//! - [`breaker`]: one service's CLOSED/OPEN/HALF_OPEN state machine; time is an argument.
//! - [`node`]: many breakers by name, the config layers, the event log, typed requests.
//! - [`wire`]: the JSON protocol, and the [`wire::Session`] every host drives.
//! - [`typed_abi`]: the typed ABI, `acquire` and `record` without JSON, for embedders guarding
//!   one call at a time.
//! - `abi`: the raw WebAssembly exports (no imports), on `wasm32` builds.
//! - `web`: wasm-bindgen exports for the browser, behind the `web` feature.
//!
//! The crate never reads a clock and does no I/O.

pub mod batch;
pub mod breaker;
pub mod node;
mod sort;
pub mod typed_abi;
pub mod wire;

#[cfg(all(target_arch = "wasm32", not(feature = "web")))]
mod abi;
#[cfg(feature = "web")]
mod web;

pub use node::{Node, Options};
pub use wire::Session;

/// The version of the raw ABI this build exports (`breaker_abi_version`). Every Rust host
/// (breaker-host, the browser build) checks against this one constant.
pub const ABI_VERSION: i32 = 1;

/// The one rule for a host's time given as an f64 (JavaScript numbers, the typed ABI): whole
/// milliseconds, the fraction dropped; negative numbers and NaN are 0, and anything past
/// `u64::MAX` is `u64::MAX`.
pub fn millis_from_f64(ms: f64) -> u64 {
    // `as` saturates at both ends and maps NaN to 0, and truncates toward zero.
    ms as u64
}
