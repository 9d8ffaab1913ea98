//! Every timed transition at the top of the clock (`now_ms` near 2^64−1): a deadline that would
//! fall past the end of the clock never comes, and none is cut short; the task's three examples
//! answer as specified at any clock value.

use breaker_wasm::{Options, Session};

const MAX: u64 = u64::MAX;

/// Runs `steps` — (time in ms, request body, expected reply body or "" for none) — against one
/// node, all traffic to the service `svc`, and compares every reply body exactly.
fn check(steps: &[(u64, &str, &str)]) {
    let mut session = Session::new(Options::default());
    for (i, (now, body, expected)) in steps.iter().enumerate() {
        let doc = format!(r#"{{"src":"c","dest":"svc","body":{body}}}"#);
        let out = String::from_utf8(session.handle(doc.as_bytes(), *now).to_vec()).unwrap();
        let got = out
            .strip_prefix(r#"{"src":"svc","dest":"c","body":"#)
            .and_then(|s| s.strip_suffix("}\n"))
            .unwrap_or(&out);
        assert_eq!(got, *expected, "step {i} at {now} ms: {body}");
        assert_eq!(session.diagnostics(), b"", "step {i}");
    }
}

const TRIP: &str = r#"{"type":"call","msg_id":1,"force_failures":5}"#;
const TRIPPED: &str =
    r#"{"type":"circuit_breaker_open","in_reply_to":1,"service":"svc","failures":5}"#;
const OPEN: &str = r#"{"type":"call","msg_id":2,"state":"open"}"#;
const REJECTED: &str =
    r#"{"type":"error","in_reply_to":2,"error":"Circuit breaker OPEN","service":"svc"}"#;
const PROBE: &str = r#"{"type":"call","msg_id":3,"state":"half_open","force_success":true}"#;
const CLOSED: &str =
    r#"{"type":"circuit_breaker_closed","in_reply_to":3,"service":"svc","state":"closed"}"#;
const ACQUIRE: &str = r#"{"type":"acquire","msg_id":4}"#;

fn rejected_acquire(state: &str, retry_after_ms: u64) -> String {
    format!(
        r#"{{"type":"error","in_reply_to":4,"code":11,"text":"Circuit breaker {state}","service":"svc","retry_after_ms":{retry_after_ms}}}"#
    )
}

#[test]
fn the_task_examples_answer_as_specified_at_any_clock_value() {
    for now in [0, 1, 1 << 53, 1 << 63, MAX - 5000, MAX - 4999, MAX - 1, MAX] {
        check(&[
            (now, TRIP, TRIPPED),
            (now, OPEN, REJECTED),
            (now, OPEN, REJECTED),
            (now, PROBE, CLOSED),
        ]);
        // The open fixture holds for the whole period even when it ends past the clock.
        check(&[(now, OPEN, REJECTED), (MAX, OPEN, REJECTED)]);
    }
}

#[test]
fn an_open_period_ending_past_the_clock_never_ends() {
    // Opened 4999 ms before the end: its 5000 ms end one past 2^64−1.
    let acquired =
        r#"{"type":"acquire_ok","in_reply_to":4,"service":"svc","state":"half_open","permit":1}"#;
    check(&[
        (MAX - 4999, TRIP, TRIPPED),
        (MAX, ACQUIRE, &rejected_acquire("OPEN", 1)),
        (
            MAX,
            r#"{"type":"events","msg_id":5}"#,
            &format!(
                r#"{{"type":"events_ok","in_reply_to":5,"events":[{{"seq":1,"at_ms":{},"service":"svc","from":"closed","to":"open","reason":"5 consecutive failures (threshold 5)"}}]}}"#,
                MAX - 4999
            ),
        ),
    ]);
    // Opened 5000 ms before the end: it ends exactly at 2^64−1, and a probe is admitted then,
    // with the transition dated at its deadline, never before the trip.
    check(&[
        (MAX - 5000, TRIP, TRIPPED),
        (MAX - 1, ACQUIRE, &rejected_acquire("OPEN", 1)),
        (MAX, ACQUIRE, acquired),
        (
            MAX,
            r#"{"type":"events","msg_id":5,"after":1}"#,
            &format!(
                r#"{{"type":"events_ok","in_reply_to":5,"events":[{{"seq":2,"at_ms":{MAX},"service":"svc","from":"open","to":"half_open","reason":"open timeout of 5000 ms elapsed"}}]}}"#
            ),
        ),
    ]);
}

#[test]
fn a_probe_lease_ending_past_the_clock_never_expires() {
    // probe_timeout_ms 10000: a lease taken 9999 ms before the end is still out at 2^64−1.
    let acquired =
        r#"{"type":"acquire_ok","in_reply_to":4,"service":"svc","state":"half_open","permit":1}"#;
    check(&[
        (MAX - 20_000, TRIP, TRIPPED),
        (MAX - 9999, ACQUIRE, acquired),
        (MAX, ACQUIRE, &rejected_acquire("HALF_OPEN", 1)),
        (
            MAX,
            r#"{"type":"status","msg_id":6}"#,
            r#"{"type":"status_ok","in_reply_to":6,"services":[{"service":"svc","state":"half_open","policy":{"probes_in_flight":1,"half_open_max_calls":1,"successes":0,"success_threshold":1}}],"evicted":0}"#,
        ),
    ]);
    // Taken 10000 ms before the end, it expires exactly at 2^64−1: a failed probe, open again.
    check(&[
        (MAX - 20_000, TRIP, TRIPPED),
        (MAX - 10_000, ACQUIRE, acquired),
        (MAX - 1, ACQUIRE, &rejected_acquire("HALF_OPEN", 1)),
        (MAX, ACQUIRE, &rejected_acquire("OPEN", 5000)),
    ]);
}

#[test]
fn a_time_window_at_the_end_of_the_clock_keeps_its_last_calls() {
    // A 2 ms window in 1 ms buckets: calls at 2^64−2 and 2^64−1 stay in it at 2^64−1, so three
    // failures of four are 75 % and trip it; nothing leaves the window early.
    let configure = r#"{"type":"configure","msg_id":7,"config":{"window":{"kind":"time","size_ms":2,"minimum_calls":4,"failure_rate":75}}}"#;
    let failed = |f: u64| {
        format!(
            r#"{{"type":"call_failed","in_reply_to":1,"service":"svc","state":"closed","failures":{f}}}"#
        )
    };
    let ok = r#"{"type":"call_ok","in_reply_to":1,"service":"svc","state":"closed"}"#;
    let configured = check_configure(configure);
    check(&[
        (MAX - 2, configure, &configured),
        (MAX - 2, r#"{"type":"call","msg_id":1}"#, ok),
        (
            MAX - 1,
            r#"{"type":"call","msg_id":1,"force_failures":1}"#,
            &failed(1),
        ),
        (
            MAX,
            r#"{"type":"call","msg_id":1,"force_failures":1}"#,
            &failed(2),
        ),
        (
            MAX,
            r#"{"type":"call","msg_id":1,"force_failures":1}"#,
            r#"{"type":"circuit_breaker_open","in_reply_to":1,"service":"svc","failures":3}"#,
        ),
    ]);
}

/// The reply to `configure`, as the node writes it (read from a node of its own).
fn check_configure(configure: &str) -> String {
    let mut session = Session::new(Options::default());
    let doc = format!(r#"{{"src":"c","dest":"svc","body":{configure}}}"#);
    let out = String::from_utf8(session.handle(doc.as_bytes(), 0).to_vec()).unwrap();
    out.strip_prefix(r#"{"src":"svc","dest":"c","body":"#)
        .and_then(|s| s.strip_suffix("}\n"))
        .unwrap()
        .to_string()
}

#[test]
fn a_snapshot_keeps_a_deadline_past_the_clock_as_a_length() {
    let mut session = Session::new(Options::default());
    let send = |s: &mut Session, now: u64, body: &str| {
        let doc = format!(r#"{{"src":"c","dest":"svc","body":{body}}}"#);
        String::from_utf8(s.handle(doc.as_bytes(), now).to_vec()).unwrap()
    };
    send(&mut session, MAX - 100, TRIP);
    let snap = send(&mut session, MAX - 100, r#"{"type":"snapshot","msg_id":8}"#);
    assert!(
        snap.contains(r#""state":"open","since":18446744073709551515,"open_ms":5000"#),
        "{snap}"
    );
    let start = snap.find(r#""snapshot":"#).unwrap() + r#""snapshot":"#.len();
    let image = &snap[start..snap.len() - 3];
    let mut restored = Session::new(Options::default());
    let reply = send(
        &mut restored,
        MAX - 100,
        &format!(r#"{{"type":"restore","msg_id":9,"snapshot":{image}}}"#),
    );
    assert!(reply.contains(r#""type":"restore_ok""#), "{reply}");
    let rejected = send(&mut restored, MAX, ACQUIRE);
    assert!(
        rejected.contains(&rejected_acquire("OPEN", 4900)),
        "{rejected}"
    );
    // A length is only for a deadline past the clock; within it, `until` is required.
    let bad = image.replace(r#""since":18446744073709551515"#, r#""since":0"#);
    let reply = send(
        &mut restored,
        MAX,
        &format!(r#"{{"type":"restore","msg_id":9,"snapshot":{bad}}}"#),
    );
    assert!(
        reply.contains("snapshot.breakers[0].state: inconsistent open period"),
        "{reply}"
    );
}

#[test]
fn a_half_open_limit_ending_past_the_clock_never_runs_out() {
    let configure = r#"{"type":"configure","msg_id":7,"config":{"half_open_max_ms":1000}}"#;
    let configured = check_configure(configure);
    let half_open = r#"{"type":"status_ok","in_reply_to":6,"services":[{"service":"svc","state":"half_open","policy":{"probes_in_flight":0,"half_open_max_calls":1,"successes":0,"success_threshold":1}}],"evicted":0}"#;
    let open = r#"{"type":"status_ok","in_reply_to":6,"services":[{"service":"svc","state":"open","policy":{"open_until_ms":null}}],"evicted":0}"#;
    let status = r#"{"type":"status","msg_id":6}"#;
    // Half_open from 2^64−1 − 5999 + 5000: its 1000 ms end one past the clock.
    check(&[
        (0, configure, &configured),
        (MAX - 5999, TRIP, TRIPPED),
        (MAX, status, half_open),
    ]);
    // One millisecond earlier, the limit runs out exactly at 2^64−1.
    check(&[
        (0, configure, &configured),
        (MAX - 6000, TRIP, TRIPPED),
        (MAX - 1, status, half_open),
        (MAX, status, open),
    ]);
}

#[test]
fn interval_clears_at_the_end_of_the_clock() {
    // interval_ms 1000: the last cycle of the clock starts at the last multiple of 1000.
    let configure = r#"{"type":"configure","msg_id":7,"config":{"interval_ms":1000}}"#;
    let configured = check_configure(configure);
    let last = MAX - MAX % 1000;
    let failure = r#"{"type":"call","msg_id":1,"force_failures":1}"#;
    let fail = |f: u32| {
        format!(
            r#"{{"type":"call_failed","in_reply_to":1,"service":"svc","state":"closed","failures":{f}}}"#
        )
    };
    check(&[
        (0, configure, &configured),
        (last - 1, failure, &fail(1)),
        (last, failure, &fail(1)),
        (MAX, failure, &fail(2)),
        (MAX, failure, &fail(3)),
    ]);
}
