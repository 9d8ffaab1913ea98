//! The core without WebAssembly: reads NDJSON on stdin in large chunks, runs each chunk's
//! complete lines through one `Session::handle` (manual clock, like `breaker-host --clock
//! manual`), and writes the replies to stdout, diagnostics to stderr. The native baseline of
//! the end-to-end benchmark; its output must be byte-identical to breaker-host's.
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
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = stdin.read(&mut buf[filled..]).expect("stdin");
        filled += n;
        // Hand over every complete line; keep the tail for the next read (all of it at the end).
        let end = if n == 0 {
            filled
        } else {
            buf[..filled]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
        };
        if end > 0 {
            stdout
                .write_all(session.handle(&buf[..end], 0))
                .expect("stdout");
            stderr.write_all(session.diagnostics()).expect("stderr");
            buf.copy_within(end..filled, 0);
            filled -= end;
        }
        if n == 0 {
            break;
        }
    }
    stdout.flush().expect("stdout");
}
