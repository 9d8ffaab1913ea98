//! A guest that traps, runs out of fuel or out of memory: code 13 for the document at fault only,
//! and the node carries on from its last good state (breakers, clock, counters).

mod common;

use std::io::Write;

use common::{Live, msg, reply, trap_module};

const INTERNAL: &str =
    r#""code":13,"text":"internal error: the module failed while handling this message""#;

fn internal(id: u64) -> String {
    reply(&format!(
        r#"{{"type":"error","in_reply_to":{id},{INTERNAL}}}"#
    ))
}

fn rejected(id: u64, service: &str) -> String {
    reply(&format!(
        r#"{{"type":"error","in_reply_to":{id},"error":"Circuit breaker OPEN","service":"{service}"}}"#
    ))
}

#[test]
fn a_trap_keeps_the_state_and_only_the_failing_document_answers_code_13() {
    let module = trap_module();
    let mut live = Live::start(&["--module", module.to_str().unwrap(), "--clock", "manual"]);
    // Before the failing batch (and before any checkpoint): a breaker opens, the clock moves.
    let got = live.send(
        &[
            msg(r#"{"type":"call","msg_id":1,"force_failures":5}"#),
            msg(r#"{"type":"advance_clock","msg_id":2,"ms":1000}"#),
        ],
        2,
    );
    assert_eq!(
        got[0],
        reply(r#"{"type":"circuit_breaker_open","in_reply_to":1,"service":"db","failures":5}"#)
    );
    // One batch: documents before and after the trap, one of them opening a second breaker.
    let batch = [
        msg(r#"{"type":"call","msg_id":3}"#),
        msg(r#"{"type":"call","msg_id":4,"service":"other","force_failures":5}"#),
        msg(r#"{"type":"advance_clock","msg_id":5,"ms":500}"#),
        msg(r#"{"type":"test_trap","msg_id":6}"#),
        msg(r#"{"type":"call","msg_id":7}"#),
        msg(r#"{"type":"call","msg_id":8,"service":"other"}"#),
        msg(r#"{"type":"advance_clock","msg_id":9,"ms":1}"#),
        msg(r#"{"type":"status","msg_id":10,"service":"db"}"#),
    ];
    let got = live.send(&batch, 8);
    let expected = [
        rejected(3, "db"),
        reply(r#"{"type":"circuit_breaker_open","in_reply_to":4,"service":"other","failures":5}"#),
        reply(r#"{"type":"advance_clock_ok","in_reply_to":5,"now_ms":1500}"#),
        internal(6),
        rejected(7, "db"),
        rejected(8, "other"),
        reply(r#"{"type":"advance_clock_ok","in_reply_to":9,"now_ms":1501}"#),
    ];
    assert_eq!(got[..7], expected);
    // Each rejection counted once: nothing of the failed attempt leaked into the state.
    assert!(
        got[7].contains(r#""state":"open","failures":5,"counts":{"successes":0,"failures":5,"rejections":2,"opened":1}"#),
        "{}",
        got[7]
    );
    assert!(
        got[7].ends_with(r#""retry_after_ms":3499,"policy":{"open_until_ms":5000}}}"#),
        "{}",
        got[7]
    );
    // A trap alone in its batch, then more traffic.
    let got = live.send(&[msg(r#"{"type":"test_trap","msg_id":11}"#)], 1);
    assert_eq!(got, [internal(11)]);
    let got = live.send(&[msg(r#"{"type":"call","msg_id":12}"#)], 1);
    assert_eq!(got, [rejected(12, "db")]);
    let (status, err) = live.finish();
    assert!(status.success());
    assert!(
        err.contains("the module failed on a batch of 8 documents"),
        "{err}"
    );
    assert!(
        err.contains("stdin line 6: the module failed on this document"),
        "{err}"
    );
    assert!(
        err.contains("stdin line 11: the module failed on this document"),
        "{err}"
    );
}

#[test]
fn a_runaway_call_runs_out_of_fuel_and_the_node_carries_on() {
    // 3,000 breakers: listing them all costs more than this budget; a single call does not.
    let mut live = Live::start(&["--max-call-fuel", "3000000", "--clock", "manual"]);
    let many: Vec<String> = (0..3000)
        .map(|i| {
            msg(&format!(
                r#"{{"type":"call","msg_id":{i},"service":"s{i}"}}"#
            ))
        })
        .collect();
    live.send(&many, 3000);
    let got = live.send(
        &[msg(r#"{"type":"call","msg_id":3000,"force_failures":5}"#)],
        1,
    );
    assert_eq!(
        got[0],
        reply(r#"{"type":"circuit_breaker_open","in_reply_to":3000,"service":"db","failures":5}"#)
    );
    let got = live.send(&[msg(r#"{"type":"status","msg_id":3001}"#)], 1);
    assert_eq!(got, [internal(3001)]);
    let got = live.send(
        &[
            msg(r#"{"type":"call","msg_id":3002}"#),
            msg(r#"{"type":"status","msg_id":3003,"service":"s2999"}"#),
        ],
        2,
    );
    assert_eq!(got[0], rejected(3002, "db"));
    assert!(
        got[1].contains(
            r#""service":"s2999","state":"closed","failures":0,"counts":{"successes":1,"#
        ),
        "{}",
        got[1]
    );
    let (status, err) = live.finish();
    assert!(status.success());
    assert!(err.contains("stdin line 3002: the module failed on this document (wasm trap: all fuel consumed by WebAssembly)"), "{err}");
}

#[test]
fn a_document_that_needs_too_much_memory_answers_code_13_and_the_node_carries_on() {
    let mut live = Live::start(&[
        "--max-guest-memory-mib",
        "4",
        "--max-message-bytes",
        "40000000",
        "--clock",
        "manual",
    ]);
    let got = live.send(
        &[msg(r#"{"type":"call","msg_id":1,"force_failures":5}"#)],
        1,
    );
    assert!(got[0].contains("circuit_breaker_open"));
    // A 30 MB document (an ignored field): holding it is past the cap, whether the guest's
    // stream holds it or, after a first failure, it is handed whole to a rebuilt instance
    // (which has room for restoring a checkpoint besides the cap: 16 MiB and three times the
    // snapshot).
    let big = msg(&format!(
        r#"{{"type":"call","msg_id":2,"pad":"{}"}}"#,
        "x".repeat(30_000_000)
    ));
    let got = live.send(
        &[
            msg(r#"{"type":"call","msg_id":3}"#),
            big,
            msg(r#"{"type":"call","msg_id":4}"#),
        ],
        3,
    );
    assert_eq!(got, [rejected(3, "db"), internal(2), rejected(4, "db")]);
    let (status, err) = live.finish();
    assert!(status.success());
    assert!(
        err.contains(
            "stdin line 3: the module failed on this document (forcing trap when growing memory"
        ),
        "{err}"
    );
}

#[test]
fn no_fixtures_cannot_be_turned_back_on_not_even_by_a_rebuilt_instance() {
    const REFUSED: &str = r#""code":12,"text":"#;
    let module = trap_module();
    let mut live = Live::start(&["--no-fixtures", "--module", module.to_str().unwrap()]);
    let snapshot = live.send(&[msg(r#"{"type":"snapshot","msg_id":1}"#)], 1)[0].clone();
    let snapshot = &snapshot[snapshot.find(r#""snapshot":"#).unwrap() + 11..snapshot.len() - 2];
    let attempts = [
        (
            r#"{"type":"call","msg_id":2,"state":"open"}"#,
            "state: test fixtures are disabled on this node (--no-fixtures)",
        ),
        (
            r#"{"type":"call","msg_id":3,"force_failures":5}"#,
            "test fixtures are disabled",
        ),
        (
            r#"{"type":"call","msg_id":4,"force_success":true}"#,
            "test fixtures are disabled",
        ),
        (
            r#"{"type":"force","msg_id":5,"mode":"open"}"#,
            "force: test fixtures are disabled on this node (--no-fixtures)",
        ),
        (
            r#"{"type":"force","msg_id":6,"service":"db","mode":"closed"}"#,
            "force: test fixtures are disabled",
        ),
        (
            r#"{"type":"configure","msg_id":7,"config":{"fixtures":true}}"#,
            "config.fixtures: unknown config field",
        ),
        (
            r#"{"type":"configure","msg_id":8,"service":"db","config":{"no_fixtures":false}}"#,
            "config.no_fixtures: unknown config field",
        ),
    ];
    // Each attempt before and after what might reset a node: init, restore, a trap and rebuild.
    for resetter in [
        msg(r#"{"type":"init","msg_id":100,"node_id":"n1","node_ids":["n1"]}"#),
        msg(&format!(
            r#"{{"type":"restore","msg_id":101,"snapshot":{snapshot}}}"#
        )),
        msg(r#"{"type":"test_trap","msg_id":102}"#),
    ] {
        let got = live.send(std::slice::from_ref(&resetter), 1);
        assert!(
            !got[0].contains(r#""type":"error""#) || got[0].contains(r#""code":13"#),
            "{}",
            got[0]
        );
        for (request, text) in attempts {
            let got = live.send(&[msg(request)], 1);
            assert!(
                got[0].contains(REFUSED) && got[0].contains(text),
                "after {resetter}: {request} → {}",
                got[0]
            );
        }
    }
    // Real traffic still works, and the refused fixtures changed nothing.
    let got = live.send(
        &[
            msg(r#"{"type":"call","msg_id":9}"#),
            msg(r#"{"type":"status","msg_id":10,"service":"db"}"#),
        ],
        2,
    );
    assert_eq!(
        got[0],
        reply(r#"{"type":"call_ok","in_reply_to":9,"service":"db","state":"closed"}"#)
    );
    assert!(
        got[1].contains(r#""counts":{"successes":1,"failures":0,"rejections":0,"opened":0}"#),
        "{}",
        got[1]
    );
    assert!(live.finish().0.success());
}

#[test]
fn documents_cut_anywhere_and_a_trap_in_a_chunk_that_ends_inside_a_document() {
    let module = trap_module();
    let mut live = Live::start(&["--module", module.to_str().unwrap(), "--clock", "manual"]);
    let mut stdin = live.take_stdin();
    let mut write = |bytes: &[u8]| {
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
        // Long enough for the host to hand the bytes over on their own.
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let read = |live: &mut Live| {
        let mut line = String::new();
        live.read_line(&mut line);
        line.trim_end().to_string()
    };
    // One document in three pieces, cut inside a key and inside a character.
    let first = msg(r#"{"type":"call","msg_id":1,"service":"é","force_failures":5}"#) + "\n";
    let first = first.as_bytes();
    let cut = first.iter().position(|&b| b >= 0x80).unwrap() + 1;
    write(&first[..10]);
    write(&first[10..cut]);
    write(&first[cut..]);
    assert!(read(&mut live).contains(r#""in_reply_to":1,"service":"é","failures":5"#));
    // A chunk with two whole documents, the second one fatal, and the start of a third.
    let third = msg(r#"{"type":"call","msg_id":4,"service":"é"}"#);
    write(
        format!(
            "{}\n{}\n{}",
            msg(r#"{"type":"call","msg_id":2,"force_failures":5}"#),
            msg(r#"{"type":"test_trap","msg_id":3}"#),
            &third[..20]
        )
        .as_bytes(),
    );
    assert!(read(&mut live).contains(r#""in_reply_to":2,"service":"db","failures":5"#));
    assert_eq!(read(&mut live), internal(3));
    // The rest of the third, a broken line, and one more.
    write(
        format!(
            "{}\n{{\"a\" 1}}\n{}\n",
            &third[20..],
            msg(r#"{"type":"call","msg_id":5}"#)
        )
        .as_bytes(),
    );
    assert_eq!(read(&mut live), rejected(4, "é"));
    assert_eq!(read(&mut live), rejected(5, "db"));
    drop(stdin);
    let (status, err) = live.finish();
    assert!(status.success());
    assert!(
        err.contains("the module failed on a batch of 2 documents"),
        "{err}"
    );
    assert!(
        err.contains("stdin line 3: the module failed on this document"),
        "{err}"
    );
    assert!(
        err.contains("stdin line 5, column 6: expected ':' after an object key"),
        "{err}"
    );
}
