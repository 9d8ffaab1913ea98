//! The one wasmtime configuration, shared by the build script (which precompiles the module)
//! and the host (which loads it): a precompiled module only loads into an identical engine.
//!
//! Fuel is on: every call into the guest gets a budget, so a runaway call traps instead of
//! hanging the node (see `guest::Limits`). Fuel rather than epoch interruption because it is
//! deterministic: the same input on the same state always costs the same, so replaying what a
//! trapped instance had handled can never run out where the original did not.

pub fn config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    config.consume_fuel(true);
    config
}
