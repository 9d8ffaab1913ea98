//! The core without WebAssembly: reads stdin in chunks of up to 1 MiB and hands each to one
//! `Session::feed` (the input stream, as `breaker-host` hands it to the module's
//! `breaker_stream`; manual clock, like `breaker-host --clock manual`), and writes the replies
//! to stdout, diagnostics to stderr. The native baseline of the end-to-end benchmark; its output
//! must be byte-identical to breaker-host's.
//!
//!     bench-native-session < workload.ndjson > replies.ndjson

use std::io::{Read, Write};

use breaker_wasm::{Options, Session};

const CHUNK: usize = 1 << 20;

fn main() {
    let mut session = Session::new(Options {
        manual_clock: true,
        fixtures: true,
        fleet: false,
    });
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = stdin.read(&mut buf).expect("stdin");
        if n == 0 {
            break;
        }
        stdout
            .write_all(session.feed(&buf[..n], 0))
            .expect("stdout");
        stderr.write_all(session.diagnostics()).expect("stderr");
    }
    session.end_stream();
    stderr.write_all(session.diagnostics()).expect("stderr");
    stdout.flush().expect("stdout");
}
