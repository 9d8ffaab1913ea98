//! Builds the raw breaker module for wasm32 and precompiles it for this machine, so
//! `breaker-host` embeds both and starts without compiling anything.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

#[path = "src/engine_config.rs"]
mod engine_config;

fn main() {
    let manifest =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.parent().expect("host-cli sits in the workspace");
    for path in [
        "breaker-wasm/src",
        "breaker-wasm/Cargo.toml",
        "Cargo.toml",
        "Cargo.lock",
        "host-cli/src/engine_config.rs",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    let target_dir = root.join("target").join("guest");
    let wasm = build_guest(root, &target_dir);
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let bytes = fs::read(&wasm).unwrap_or_else(|e| panic!("reading {}: {e}", wasm.display()));
    fs::write(out.join("breaker.wasm"), &bytes).expect("writing OUT_DIR/breaker.wasm");

    // Precompiled for the build machine; at run time a mismatch (another CPU, another
    // wasmtime) is detected and the host compiles the raw module instead.
    let engine = wasmtime::Engine::new(&engine_config::config()).expect("a wasmtime engine");
    let compiled = engine
        .precompile_module(&bytes)
        .expect("precompiling the breaker module");
    fs::write(out.join("breaker.cwasm"), compiled).expect("writing OUT_DIR/breaker.cwasm");
}

/// Runs the same command as `.ci/setup`, in a target directory of its own (a nested cargo must
/// not wait on the outer one's lock).
fn build_guest(root: &Path, target_dir: &Path) -> PathBuf {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--quiet",
            "-p",
            "breaker-wasm",
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            "wasm",
        ])
        .arg("--target-dir")
        .arg(target_dir)
        // Flags meant for the host build must not leak into the guest's.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .status()
        .expect("running cargo for the wasm32 guest");
    assert!(
        status.success(),
        "building breaker-wasm for wasm32-unknown-unknown failed (is the target installed? `rustup target add wasm32-unknown-unknown`)"
    );
    target_dir.join("wasm32-unknown-unknown/wasm/breaker_wasm.wasm")
}
