//! The one wasmtime configuration, shared by the build script (which precompiles the module)
//! and the host (which loads it): a precompiled module only loads into an identical engine.

pub fn config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    config
}
