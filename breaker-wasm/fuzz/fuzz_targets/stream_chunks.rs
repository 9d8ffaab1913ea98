//! Arbitrary bytes into the input stream (`Session::feed`, behind `breaker_stream`), cut into
//! arbitrary chunks: the replies and diagnostics must be those of the validating splitter over
//! the whole input with each document handled on its own (what a host that frames the input
//! itself gets).
#![no_main]

use breaker_wasm::wire::framing::{Frame, Splitter};
use breaker_wasm::{Options, Session};
use libfuzzer_sys::fuzz_target;

const MAX: usize = 256;

fn options() -> Options {
    Options {
        manual_clock: true,
        fixtures: true,
        fleet: false,
    }
}

/// The splitter over the whole input, each document handed to `Session::handle` alone, its
/// diagnostics moved to the input's lines.
fn framed(input: &[u8]) -> (Vec<u8>, Vec<String>) {
    let mut session = Session::new(options());
    let mut splitter = Splitter::new(MAX);
    let (mut out, mut diagnostics) = (Vec::new(), Vec::new());
    splitter.push(input);
    loop {
        let frame = match splitter.next_frame() {
            Some(frame) => frame,
            None => match splitter.finish() {
                Some(frame) => frame,
                None => break,
            },
        };
        match frame {
            Frame::Doc { bytes, line } => {
                out.extend_from_slice(session.handle(bytes, 0));
                for d in String::from_utf8_lossy(session.diagnostics()).lines() {
                    let rest = d.strip_prefix("line ").unwrap();
                    let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap();
                    let n: u64 = rest[..digits].parse().unwrap();
                    diagnostics.push(format!("line {}{}", line + n - 1, &rest[digits..]));
                }
            }
            Frame::Error {
                line,
                column,
                message,
            } => diagnostics.push(format!("line {line}, column {column}: {message}")),
        }
    }
    (out, diagnostics)
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    let expected = framed(input);
    let mut session = Session::new(options());
    session.set_max_document(MAX);
    let (mut out, mut diagnostics) = (Vec::new(), Vec::new());
    let mut take = |session: &Session, replies: &[u8]| {
        out.extend_from_slice(replies);
        let text = String::from_utf8_lossy(session.diagnostics()).into_owned();
        diagnostics.extend(text.lines().map(str::to_string));
    };
    // Chunks of 1 to 32 bytes, their lengths following the seed.
    let mut rest = input;
    let mut i = 0usize;
    while !rest.is_empty() {
        let n = (usize::from(seed).wrapping_mul(i + 7) % 32 + 1).min(rest.len());
        let (chunk, after) = rest.split_at(n);
        let replies = session.feed(chunk, 0).to_vec();
        take(&session, &replies);
        rest = after;
        i += 1;
    }
    let replies = session.end_stream().to_vec();
    take(&session, &replies);
    assert_eq!((out, diagnostics), expected);
});
