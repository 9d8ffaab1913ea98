//! Arbitrary bytes into `Session::handle`, the entry point `breaker_handle` wraps: it must never
//! panic, and the node must still answer afterwards.
#![no_main]

use breaker_wasm::{Options, Session};
use libfuzzer_sys::fuzz_target;

const PROBE: &[u8] =
    br#"{"src":"fuzz","dest":"probe","body":{"type":"status","msg_id":1,"service":"probe"}}"#;

fuzz_target!(|data: &[u8]| {
    for options in [
        Options {
            manual_clock: true,
            fixtures: true,
            fleet: false,
        },
        Options {
            manual_clock: false,
            fixtures: false,
            fleet: true,
        },
    ] {
        let mut session = Session::new(options);
        // Whole, then split in two calls at a later time (a call holds complete documents only
        // in the real hosts, but the core must not care).
        session.handle(data, 1_700_000_000_000);
        let cut = data.len() / 2;
        session.handle(&data[..cut], 0);
        session.handle(&data[cut..], u64::MAX);
        let replies = session.handle(PROBE, u64::MAX).to_vec();
        assert!(
            replies.starts_with(
                br#"{"src":"probe","dest":"fuzz","body":{"type":"status_ok","in_reply_to":1,"#
            ),
            "{}",
            String::from_utf8_lossy(&replies)
        );
    }
});
