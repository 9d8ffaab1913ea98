//! A node in a fleet: peers' transitions, the probe lease of half_open and the outbox, as
//! transcripts through the wire layer with a fake clock.

use breaker_wasm::{Options, Session};

const FLEET: Options = Options {
    manual_clock: false,
    fixtures: true,
    fleet: true,
};

/// Runs `steps` — (time in ms, request body, expected reply body, or one starting with `~`
/// that the reply must contain, or "" for no reply) — against one node, all traffic to `svc`.
fn check_with(session: &mut Session, steps: &[(u64, &str, &str)]) {
    for (i, (now, body, expected)) in steps.iter().enumerate() {
        let doc = format!(r#"{{"src":"c","dest":"svc","body":{body}}}"#);
        let out = String::from_utf8(session.handle(doc.as_bytes(), *now).to_vec()).unwrap();
        let got = out
            .strip_prefix(r#"{"src":"svc","dest":"c","body":"#)
            .and_then(|s| s.strip_suffix("}\n"))
            .unwrap_or(&out);
        match expected.strip_prefix('~') {
            Some(part) => assert!(got.contains(part), "step {i} at {now} ms: {body}: {got}"),
            None => assert_eq!(got, *expected, "step {i} at {now} ms: {body}"),
        }
        assert_eq!(
            String::from_utf8_lossy(session.diagnostics()),
            "",
            "step {i}"
        );
    }
}

fn check(steps: &[(u64, &str, &str)]) {
    check_with(&mut Session::new(FLEET), steps);
}

const PEER_OPEN: &str = r#"{"type":"peer_transition","service":"svc","to":"open","remaining_ms":1000,"peer":"n2","reason":"5 consecutive failures (threshold 5)","entry":"100-0"}"#;

#[test]
fn a_peers_open_opens_this_node_for_the_remaining_period_then_probes_wait_for_the_lease() {
    check(&[
        (
            0,
            r#"{"type":"call","msg_id":1}"#,
            r#"{"type":"call_ok","in_reply_to":1,"service":"svc","state":"closed"}"#,
        ),
        // Without msg_id, like every message: applied, not answered.
        (10, PEER_OPEN, ""),
        (
            10,
            r#"{"type":"call","msg_id":2}"#,
            r#"{"type":"error","in_reply_to":2,"error":"Circuit breaker OPEN","service":"svc"}"#,
        ),
        (
            10,
            r#"{"type":"acquire","msg_id":3}"#,
            r#"{"type":"error","in_reply_to":3,"code":11,"text":"Circuit breaker OPEN","service":"svc","retry_after_ms":1000}"#,
        ),
        (
            1009,
            r#"{"type":"call","msg_id":4}"#,
            r#"~"error":"Circuit breaker OPEN""#,
        ),
        // The period ends: half_open, but no probe without the fleet's lease.
        (
            1010,
            r#"{"type":"acquire","msg_id":5}"#,
            r#"{"type":"error","in_reply_to":5,"code":11,"text":"Circuit breaker HALF_OPEN","service":"svc"}"#,
        ),
        (
            1011,
            r#"{"type":"call","msg_id":6}"#,
            r#"{"type":"error","in_reply_to":6,"error":"Circuit breaker HALF_OPEN","service":"svc"}"#,
        ),
        (
            1012,
            r#"{"type":"fleet_lease","msg_id":7,"service":"svc","granted":true}"#,
            r#"{"type":"fleet_lease_ok","in_reply_to":7,"service":"svc","state":"half_open","held":true}"#,
        ),
        (
            1013,
            r#"{"type":"acquire","msg_id":8}"#,
            r#"~"type":"acquire_ok","in_reply_to":8,"service":"svc","state":"half_open""#,
        ),
        // half_open_max_calls (1) probes at once, as without a fleet.
        (
            1014,
            r#"{"type":"acquire","msg_id":9}"#,
            r#"~"Circuit breaker HALF_OPEN""#,
        ),
        (
            1015,
            r#"{"type":"events","msg_id":10}"#,
            r#"{"type":"events_ok","in_reply_to":10,"events":[{"seq":1,"at_ms":10,"service":"svc","from":"closed","to":"open","reason":"peer n2: 5 consecutive failures (threshold 5)"},{"seq":2,"at_ms":1010,"service":"svc","from":"open","to":"half_open","reason":"open timeout of 1000 ms elapsed"}]}"#,
        ),
    ]);
}

#[test]
fn a_lease_denied_or_run_out_admits_no_probe() {
    check(&[
        (0, PEER_OPEN, ""),
        (
            1000,
            r#"{"type":"call","msg_id":1}"#,
            r#"~"Circuit breaker HALF_OPEN""#,
        ),
        (
            1001,
            r#"{"type":"fleet_lease","msg_id":2,"service":"svc","granted":false}"#,
            r#"{"type":"fleet_lease_ok","in_reply_to":2,"service":"svc","state":"half_open","held":false}"#,
        ),
        (
            1002,
            r#"{"type":"call","msg_id":3}"#,
            r#"~"Circuit breaker HALF_OPEN""#,
        ),
        (
            1003,
            r#"{"type":"configure","msg_id":4,"config":{"probe_timeout_ms":100}}"#,
            r#"~"configure_ok""#,
        ),
        (
            1004,
            r#"{"type":"fleet_lease","msg_id":5,"service":"svc","granted":true}"#,
            r#"~"held":true"#,
        ),
        (
            1103,
            r#"{"type":"call","msg_id":6}"#,
            r#"{"type":"circuit_breaker_closed","in_reply_to":6,"service":"svc","state":"closed"}"#,
        ),
        (
            1104,
            r#"{"type":"call","msg_id":7,"force_failures":5}"#,
            r#"~"circuit_breaker_open""#,
        ),
        (
            6104,
            r#"{"type":"fleet_lease","msg_id":8,"service":"svc","granted":true}"#,
            r#"~"state":"half_open","held":true"#,
        ),
        // The lease runs out after probe_timeout_ms (100 ms): no probe at 6204.
        (
            6204,
            r#"{"type":"call","msg_id":9}"#,
            r#"~"Circuit breaker HALF_OPEN""#,
        ),
        // A lease for a breaker that is not half_open is not held.
        (
            6205,
            r#"{"type":"fleet_lease","msg_id":10,"service":"other","granted":true}"#,
            r#"{"type":"fleet_lease_ok","in_reply_to":10,"service":"other","state":"closed","held":false}"#,
        ),
    ]);
}

#[test]
fn a_peers_close_closes_and_duplicates_change_nothing() {
    let close = r#"{"type":"peer_transition","service":"svc","to":"closed","peer":"n3","reason":"1 successful probes (threshold 1)","entry":"200-0"}"#;
    check(&[
        (0, PEER_OPEN, ""),
        (5, PEER_OPEN, ""),
        (6, close, ""),
        (7, close, ""),
        // An older entry comes late: already past it.
        (8, PEER_OPEN, ""),
        (9, r#"{"type":"call","msg_id":1}"#, r#"~"call_ok""#),
        (
            10,
            r#"{"type":"events","msg_id":2}"#,
            r#"{"type":"events_ok","in_reply_to":2,"events":[{"seq":1,"at_ms":0,"service":"svc","from":"closed","to":"open","reason":"peer n2: 5 consecutive failures (threshold 5)"},{"seq":2,"at_ms":6,"service":"svc","from":"open","to":"closed","reason":"peer n3: 1 successful probes (threshold 1)"}]}"#,
        ),
        (
            11,
            r#"{"type":"peer_transition","msg_id":3,"service":"svc","to":"open","remaining_ms":50,"peer":"n2","entry":"300-0"}"#,
            r#"{"type":"peer_transition_ok","in_reply_to":3,"service":"svc","state":"open"}"#,
        ),
        // An open breaker stays as it is: a second open does not move it.
        (
            12,
            r#"{"type":"peer_transition","msg_id":4,"service":"svc","to":"open","remaining_ms":5000,"peer":"n3","entry":"300-1"}"#,
            r#"{"type":"peer_transition_ok","in_reply_to":4,"service":"svc","state":"open"}"#,
        ),
        (
            61,
            r#"{"type":"status","msg_id":5,"service":"svc"}"#,
            r#"~"state":"half_open""#,
        ),
    ]);
}

#[test]
fn an_open_already_over_or_a_close_of_an_unknown_service_does_nothing() {
    check(&[
        (
            0,
            r#"{"type":"peer_transition","msg_id":1,"service":"svc","to":"open","remaining_ms":0,"peer":"n2","entry":"1-0"}"#,
            r#"{"type":"peer_transition_ok","in_reply_to":1,"service":"svc","state":"closed"}"#,
        ),
        (
            0,
            r#"{"type":"peer_transition","msg_id":2,"service":"svc","to":"closed","peer":"n2","entry":"2-0"}"#,
            r#"{"type":"peer_transition_ok","in_reply_to":2,"service":"svc","state":"closed"}"#,
        ),
        (
            0,
            r#"{"type":"status","msg_id":3}"#,
            r#"{"type":"status_ok","in_reply_to":3,"services":[],"evicted":0}"#,
        ),
    ]);
}

#[test]
fn a_local_force_wins_over_peers_and_a_shared_force_applies() {
    check(&[
        (
            0,
            r#"{"type":"force","msg_id":1,"service":"svc","mode":"closed"}"#,
            r#"~"force_ok""#,
        ),
        (1, PEER_OPEN, ""),
        (2, r#"{"type":"call","msg_id":2}"#, r#"~"call_ok""#),
        (
            3,
            r#"{"type":"peer_transition","service":"svc","mode":"open","peer":"n2","reason":"forced open"}"#,
            "",
        ),
        (
            4,
            r#"{"type":"call","msg_id":3}"#,
            r#"~"Circuit breaker OPEN""#,
        ),
        (
            5,
            r#"{"type":"peer_transition","service":"svc","mode":"auto","peer":"n2"}"#,
            "",
        ),
        (
            6,
            r#"{"type":"status","msg_id":4,"service":"svc"}"#,
            r#"~"state":"closed""#,
        ),
    ]);
}

#[test]
fn the_outbox_shares_this_nodes_own_transitions_only() {
    check(&[
        (
            0,
            r#"{"type":"call","msg_id":1,"service":"a","force_failures":5}"#,
            r#"~"circuit_breaker_open""#,
        ),
        (0, PEER_OPEN, ""),
        (
            0,
            r#"{"type":"force","msg_id":2,"service":"b","mode":"open"}"#,
            r#"~"force_ok""#,
        ),
        (
            300,
            r#"{"type":"fleet_outbox","msg_id":3}"#,
            r#"{"type":"fleet_outbox_ok","in_reply_to":3,"last_seq":3,"transitions":[{"seq":1,"at_ms":0,"service":"a","from":"closed","to":"open","reason":"5 consecutive failures (threshold 5)","share":true,"remaining_ms":4700,"lease_ms":10000},{"seq":2,"at_ms":0,"service":"svc","from":"closed","to":"open","reason":"peer n2: 5 consecutive failures (threshold 5)","share":false,"remaining_ms":700,"lease_ms":10000},{"seq":3,"at_ms":0,"service":"b","from":"closed","to":"open","reason":"forced open","share":false,"mode":"open","lease_ms":10000}]}"#,
        ),
        (
            300,
            r#"{"type":"fleet_outbox","msg_id":4,"after":2,"forced":true}"#,
            r#"{"type":"fleet_outbox_ok","in_reply_to":4,"last_seq":3,"transitions":[{"seq":3,"at_ms":0,"service":"b","from":"closed","to":"open","reason":"forced open","share":true,"mode":"open","lease_ms":10000}]}"#,
        ),
        // The open is over, and with it what there was to share of it; half_open is never shared.
        (
            5000,
            r#"{"type":"call","msg_id":5,"service":"a"}"#,
            r#"~"Circuit breaker HALF_OPEN""#,
        ),
        (
            5000,
            r#"{"type":"fleet_outbox","msg_id":6,"after":3}"#,
            r#"~"transitions":[{"seq":4,"at_ms":5000,"service":"a","from":"open","to":"half_open","reason":"open timeout of 5000 ms elapsed","share":false,"lease_ms":10000}"#,
        ),
        (
            5000,
            r#"{"type":"fleet_outbox","msg_id":7}"#,
            r#"~"service":"a","from":"closed","to":"open","reason":"5 consecutive failures (threshold 5)","share":false,"lease_ms""#,
        ),
    ]);
}

#[test]
fn without_the_fleet_option_half_open_needs_no_lease() {
    let mut session = Session::new(Options::default());
    check_with(
        &mut session,
        &[
            (0, PEER_OPEN, ""),
            (
                1000,
                r#"{"type":"call","msg_id":1}"#,
                r#"~"circuit_breaker_closed""#,
            ),
        ],
    );
}

#[test]
fn bad_fleet_messages_are_refused_naming_the_field() {
    check(&[
        (
            0,
            r#"{"type":"peer_transition","msg_id":1,"service":"svc","to":"open","peer":"n2"}"#,
            r#"{"type":"error","in_reply_to":1,"code":12,"text":"remaining_ms: missing"}"#,
        ),
        (
            0,
            r#"{"type":"peer_transition","msg_id":2,"service":"svc","to":"half_open","peer":"n2"}"#,
            r#"{"type":"error","in_reply_to":2,"code":12,"text":"to: expected one of \"open\", \"closed\""}"#,
        ),
        (
            0,
            r#"{"type":"peer_transition","msg_id":3,"service":"svc","to":"closed","peer":"n2","entry":"12"}"#,
            r#"~"text":"entry: expected a stream entry id"#,
        ),
        (
            0,
            r#"{"type":"peer_transition","msg_id":4,"service":"svc","to":"closed"}"#,
            r#"~"text":"peer: missing""#,
        ),
        (
            0,
            r#"{"type":"fleet_lease","msg_id":5,"service":"svc"}"#,
            r#"~"text":"granted: missing""#,
        ),
        (
            0,
            r#"{"type":"fleet_lease","msg_id":6,"granted":true}"#,
            r#"~"text":"service: missing""#,
        ),
        (
            0,
            r#"{"type":"status","msg_id":7}"#,
            r#"{"type":"status_ok","in_reply_to":7,"services":[],"evicted":0}"#,
        ),
    ]);
}

#[test]
fn a_snapshot_keeps_the_peer_behind_a_transition() {
    let mut a = Session::new(FLEET);
    check_with(&mut a, &[(0, PEER_OPEN, "")]);
    let doc = r#"{"src":"c","dest":"svc","body":{"type":"snapshot","msg_id":1}}"#;
    let out = String::from_utf8(a.handle(doc.as_bytes(), 5).to_vec()).unwrap();
    assert!(
        out.contains(r#""reason":{"kind":"peer","peer":"n2","reason":"5 consecutive failures (threshold 5)"}"#),
        "{out}"
    );
    let start = out.find(r#""snapshot":"#).unwrap() + r#""snapshot":"#.len();
    let snapshot = &out[start..out.len() - 3];
    let restore = format!(r#"{{"type":"restore","msg_id":2,"snapshot":{snapshot}}}"#);
    let mut b = Session::new(FLEET);
    check_with(
        &mut b,
        &[
            (
                5,
                &restore,
                r#"{"type":"restore_ok","in_reply_to":2,"services":1}"#,
            ),
            (
                6,
                r#"{"type":"events","msg_id":3}"#,
                r#"~"reason":"peer n2: 5 consecutive failures (threshold 5)""#,
            ),
        ],
    );
}

#[test]
fn what_time_did_before_a_peers_message_stays_this_nodes_own() {
    check(&[
        (0, PEER_OPEN, ""),
        (
            1500,
            r#"{"type":"peer_transition","service":"svc","to":"closed","peer":"n3","reason":"probe ok","entry":"200-0"}"#,
            "",
        ),
        (
            1500,
            r#"{"type":"events","msg_id":1,"after":1}"#,
            r#"{"type":"events_ok","in_reply_to":1,"events":[{"seq":2,"at_ms":1000,"service":"svc","from":"open","to":"half_open","reason":"open timeout of 1000 ms elapsed"},{"seq":3,"at_ms":1500,"service":"svc","from":"half_open","to":"closed","reason":"peer n3: probe ok"}]}"#,
        ),
    ]);
}

#[test]
fn transitions_a_restore_brings_in_are_never_shared() {
    let mut a = Session::new(FLEET);
    check_with(
        &mut a,
        &[(
            0,
            r#"{"type":"call","msg_id":1,"service":"x","force_failures":5}"#,
            r#"~"circuit_breaker_open""#,
        )],
    );
    let doc = r#"{"src":"c","dest":"svc","body":{"type":"snapshot","msg_id":1}}"#;
    let out = String::from_utf8(a.handle(doc.as_bytes(), 5).to_vec()).unwrap();
    let start = out.find(r#""snapshot":"#).unwrap() + r#""snapshot":"#.len();
    let restore = format!(
        r#"{{"type":"restore","msg_id":2,"snapshot":{}}}"#,
        &out[start..out.len() - 3]
    );
    check_with(
        &mut a,
        &[
            (6, &restore, r#"~"restore_ok""#),
            (
                7,
                r#"{"type":"call","msg_id":3,"service":"y","force_failures":5}"#,
                r#"~"circuit_breaker_open""#,
            ),
            (
                8,
                r#"{"type":"fleet_outbox","msg_id":4}"#,
                r#"~"transitions":[{"seq":1,"at_ms":0,"service":"x","from":"closed","to":"open","reason":"5 consecutive failures (threshold 5)","share":false,"remaining_ms":4992,"lease_ms":10000},{"seq":2,"at_ms":7,"service":"y","from":"closed","to":"open","reason":"5 consecutive failures (threshold 5)","share":true"#,
            ),
        ],
    );
}
