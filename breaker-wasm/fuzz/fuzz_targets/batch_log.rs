//! Arbitrary logs into the batch path (`breaker_failure_texts`, `breaker_sync`,
//! `breaker_sync_ticks`, `breaker_grant`): a wrapper's bytes are never trusted, so no log, text
//! or slot may panic, and the node must still answer afterwards.
#![no_main]

use breaker_wasm::batch::{Batch, OP_WORDS};
use breaker_wasm::{Options, Session};
use libfuzzer_sys::fuzz_target;

const PROBE: &[u8] =
    br#"{"src":"fuzz","dest":"probe","body":{"type":"status","msg_id":1,"service":"probe"}}"#;

fuzz_target!(|data: &[u8]| {
    // The first byte says where the texts end; the rest is read as the log, as f64 and as i64.
    let (&cut, rest) = data.split_first().unwrap_or((&0, &[]));
    let (texts, log) = rest.split_at((cut as usize).min(rest.len()));
    let words = || log.chunks_exact(8).map(|w| <[u8; 8]>::try_from(w).unwrap());
    let floats: Vec<f64> = words().map(f64::from_le_bytes).collect();
    let ticks: Vec<i64> = words().map(i64::from_le_bytes).collect();
    let mut session = Session::new(Options::default());
    let mut batch = Batch::default();
    for name in ["a", "b", "c"] {
        batch.slot(name.as_bytes());
    }
    for slot in -1..4 {
        batch.grant(&session, slot);
    }
    batch.set_failure_texts(texts);
    batch.sync(&mut session, &floats[..floats.len() / OP_WORDS * OP_WORDS]);
    batch.set_failure_texts(texts);
    let unit = ticks.first().copied().unwrap_or(1);
    batch.sync_ticks(
        &mut session,
        &ticks[..ticks.len() / OP_WORDS * OP_WORDS],
        unit,
    );
    let replies = session.handle(PROBE, u64::MAX).to_vec();
    assert!(
        replies.starts_with(
            br#"{"src":"probe","dest":"fuzz","body":{"type":"status_ok","in_reply_to":1,"#
        ),
        "{}",
        String::from_utf8_lossy(&replies)
    );
});
