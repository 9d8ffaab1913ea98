//! The trip policies of PROTOCOL §7, as transcripts through the wire layer with a fake clock,
//! including scenarios that reproduce the documented behaviour of resilience4j, Polly, gobreaker
//! and Envoy.

use breaker_wasm::{Options, Session};

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

/// `n` copies of a step.
fn repeat(
    n: usize,
    step: (u64, &'static str, &'static str),
) -> Vec<(u64, &'static str, &'static str)> {
    vec![step; n]
}

const OK: (u64, &str, &str) = (
    0,
    r#"{"type":"call","msg_id":1}"#,
    r#"{"type":"call_ok","in_reply_to":1,"service":"svc","state":"closed"}"#,
);

#[test]
fn resilience4j_count_window_nine_calls_never_trip_the_tenth_decides() {
    // slidingWindowSize 10, minimumNumberOfCalls 10, failureRateThreshold 50.
    let configure = r#"{"type":"configure","config":{"window":{"kind":"count","size":10,"minimum_calls":10,"failure_rate":50}}}"#;
    let fail = |f: u64| {
        format!(
            r#"{{"type":"call_failed","in_reply_to":2,"service":"svc","state":"closed","failures":{f}}}"#
        )
    };
    let mut steps: Vec<(u64, &str, String)> = vec![(0, configure, String::new())];
    for f in 1..=9 {
        steps.push((
            0,
            r#"{"type":"call","msg_id":2,"force_failures":1}"#,
            fail(f),
        ));
    }
    steps.push((
        0,
        r#"{"type":"call","msg_id":3}"#,
        r#"{"type":"circuit_breaker_open","in_reply_to":3,"service":"svc","failures":9}"#.into(),
    ));
    let borrowed: Vec<(u64, &str, &str)> =
        steps.iter().map(|(t, b, e)| (*t, *b, e.as_str())).collect();
    check(&borrowed);

    // Five failures and four successes: the tenth call, a success, leaves 50 % — it trips.
    let mut steps = vec![(0, configure, "")];
    steps.extend(repeat(4, OK));
    steps.push((
        0,
        r#"{"type":"call","msg_id":2,"force_failures":5}"#,
        r#"{"type":"call_failed","in_reply_to":2,"service":"svc","state":"closed","failures":5}"#,
    ));
    steps.push((
        0,
        r#"{"type":"call","msg_id":3}"#,
        r#"{"type":"circuit_breaker_open","in_reply_to":3,"service":"svc","failures":5}"#,
    ));
    steps.push((0, r#"{"type":"events","msg_id":4}"#, r#"{"type":"events_ok","in_reply_to":4,"events":[{"seq":1,"at_ms":0,"service":"svc","from":"closed","to":"open","reason":"50.0% of the last 10 calls failed (threshold 50%)"}]}"#));
    check(&steps);

    // Four failures in ten: 40 % stays closed, and the window keeps sliding.
    let mut steps = vec![(0, configure, "")];
    steps.extend(repeat(6, OK));
    steps.push((
        0,
        r#"{"type":"call","msg_id":2,"force_failures":4}"#,
        r#"{"type":"call_failed","in_reply_to":2,"service":"svc","state":"closed","failures":4}"#,
    ));
    steps.extend(repeat(20, OK));
    check(&steps);
}

#[test]
fn a_count_window_trips_mid_burst_and_rejects_the_rest() {
    check(&[
        (
            0,
            r#"{"type":"configure","config":{"window":{"kind":"count","size":10,"minimum_calls":4,"failure_rate":50}}}"#,
            "",
        ),
        (
            0,
            r#"{"type":"call","msg_id":1}"#,
            r#"{"type":"call_ok","in_reply_to":1,"service":"svc","state":"closed"}"#,
        ),
        (
            0,
            r#"{"type":"call","msg_id":1}"#,
            r#"{"type":"call_ok","in_reply_to":1,"service":"svc","state":"closed"}"#,
        ),
        // Two failures make 2 of 4: 50 %.
        (
            0,
            r#"{"type":"call","msg_id":2,"force_failures":4000000000}"#,
            r#"{"type":"circuit_breaker_open","in_reply_to":2,"service":"svc","failures":2,"rejected":3999999998}"#,
        ),
    ]);
}

#[test]
fn polly_sampling_duration_old_failures_leave_the_window() {
    // SamplingDuration 10 s, MinimumThroughput 4, FailureRatio 0.5: buckets of 1 s.
    let configure = r#"{"type":"configure","config":{"window":{"kind":"time","size_ms":10000,"minimum_calls":4,"failure_rate":50}}}"#;
    check(&[
        (0, configure, ""),
        (
            0,
            r#"{"type":"call","msg_id":1,"force_failures":3}"#,
            r#"{"type":"call_failed","in_reply_to":1,"service":"svc","state":"closed","failures":3}"#,
        ),
        // 11 s later the three failures have left the window: three successes and one failure
        // make 25 %.
        (
            11_000,
            r#"{"type":"call","msg_id":2}"#,
            r#"{"type":"call_ok","in_reply_to":2,"service":"svc","state":"closed"}"#,
        ),
        (
            11_000,
            r#"{"type":"call","msg_id":3}"#,
            r#"{"type":"call_ok","in_reply_to":3,"service":"svc","state":"closed"}"#,
        ),
        (
            11_000,
            r#"{"type":"call","msg_id":4}"#,
            r#"{"type":"call_ok","in_reply_to":4,"service":"svc","state":"closed"}"#,
        ),
        (
            11_000,
            r#"{"type":"call","msg_id":5,"force_failures":1}"#,
            r#"{"type":"call_failed","in_reply_to":5,"service":"svc","state":"closed","failures":1}"#,
        ),
        // Within the window they count: a burst trips it once 50 % is reached.
        (
            12_000,
            r#"{"type":"call","msg_id":6,"force_failures":10}"#,
            r#"{"type":"circuit_breaker_open","in_reply_to":6,"service":"svc","failures":3,"rejected":8}"#,
        ),
        (
            12_000,
            r#"{"type":"events","msg_id":7}"#,
            r#"{"type":"events_ok","in_reply_to":7,"events":[{"seq":1,"at_ms":12000,"service":"svc","from":"closed","to":"open","reason":"50.0% of 6 calls in the last 10000 ms failed (threshold 50%)"}]}"#,
        ),
    ]);
}

#[test]
fn a_time_window_leaves_a_call_between_size_and_size_plus_one_bucket() {
    let configure = r#"{"type":"configure","config":{"window":{"kind":"time","size_ms":1000,"minimum_calls":2,"failure_rate":100}}}"#;
    let failed =
        r#"{"type":"call_failed","in_reply_to":1,"service":"svc","state":"closed","failures":1}"#;
    check(&[
        (0, configure, ""),
        (
            150,
            r#"{"type":"call","msg_id":1,"force_failures":1}"#,
            failed,
        ),
        // At 1199 the first failure is still in the window (bucket [100, 200) + 1000): 2 of 2.
        (
            1199,
            r#"{"type":"call","msg_id":2,"force_failures":1}"#,
            r#"{"type":"circuit_breaker_open","in_reply_to":2,"service":"svc","failures":2}"#,
        ),
    ]);
    check(&[
        (0, configure, ""),
        (
            150,
            r#"{"type":"call","msg_id":1,"force_failures":1}"#,
            failed,
        ),
        (
            1200,
            r#"{"type":"call","msg_id":1,"force_failures":1}"#,
            r#"{"type":"call_failed","in_reply_to":1,"service":"svc","state":"closed","failures":2}"#,
        ),
    ]);
}

#[test]
fn slow_calls_count_as_failures_under_the_consecutive_policy() {
    check(&[
        (
            0,
            r#"{"type":"configure","config":{"failure_threshold":2,"slow_call_ms":100}}"#,
            "",
        ),
        (
            0,
            r#"{"type":"call","msg_id":1,"duration_ms":99}"#,
            r#"{"type":"call_ok","in_reply_to":1,"service":"svc","state":"closed"}"#,
        ),
        (
            0,
            r#"{"type":"call","msg_id":2,"duration_ms":100}"#,
            r#"{"type":"call_failed","in_reply_to":2,"service":"svc","state":"closed","failures":1}"#,
        ),
        (
            0,
            r#"{"type":"call","msg_id":3,"force_success":true,"duration_ms":5000}"#,
            r#"{"type":"circuit_breaker_open","in_reply_to":3,"service":"svc","failures":2}"#,
        ),
    ]);
}

#[test]
fn slow_calls_have_their_own_rate_under_a_window() {
    check(&[
        (
            0,
            r#"{"type":"configure","config":{"window":{"kind":"count","size":4,"minimum_calls":4,"failure_rate":100},"slow_call_ms":100,"slow_call_rate":50}}"#,
            "",
        ),
        (
            0,
            r#"{"type":"call","msg_id":1}"#,
            r#"{"type":"call_ok","in_reply_to":1,"service":"svc","state":"closed"}"#,
        ),
        (
            0,
            r#"{"type":"call","msg_id":2}"#,
            r#"{"type":"call_ok","in_reply_to":2,"service":"svc","state":"closed"}"#,
        ),
        (
            0,
            r#"{"type":"call","msg_id":3,"duration_ms":150}"#,
            r#"{"type":"call_ok","in_reply_to":3,"service":"svc","state":"closed"}"#,
        ),
        (
            0,
            r#"{"type":"acquire","msg_id":4}"#,
            r#"{"type":"acquire_ok","in_reply_to":4,"service":"svc","state":"closed","permit":1}"#,
        ),
        (
            0,
            r#"{"type":"record","msg_id":5,"permit":1,"outcome":"success","duration_ms":100}"#,
            r#"{"type":"record_ok","in_reply_to":5,"service":"svc","state":"open","transition":{"from":"closed","to":"open","reason":"50.0% of the last 4 calls were slow (threshold 50%)"}}"#,
        ),
    ]);
}

#[test]
fn a_lost_probe_cannot_leave_a_breaker_stuck_in_half_open() {
    check(&[
        (
            0,
            r#"{"type":"configure","config":{"probe_timeout_ms":1000}}"#,
            "",
        ),
        (
            0,
            r#"{"type":"call","msg_id":1,"state":"half_open"}"#,
            r#"{"type":"circuit_breaker_closed","in_reply_to":1,"service":"svc","state":"closed"}"#,
        ),
        (
            0,
            r#"{"type":"call","msg_id":2,"state":"half_open","force_failures":0}"#,
            r#"{"type":"circuit_breaker_closed","in_reply_to":2,"service":"svc","state":"closed"}"#,
        ),
        (
            10,
            r#"{"type":"reset","msg_id":3,"service":"svc"}"#,
            r#"{"type":"reset_ok","in_reply_to":3,"service":"svc"}"#,
        ),
        (
            10,
            r#"{"type":"call","msg_id":4,"force_failures":5}"#,
            r#"{"type":"circuit_breaker_open","in_reply_to":4,"service":"svc","failures":5}"#,
        ),
        (
            5010,
            r#"{"type":"acquire","msg_id":5}"#,
            r#"{"type":"acquire_ok","in_reply_to":5,"service":"svc","state":"half_open","permit":1}"#,
        ),
        (
            5500,
            r#"{"type":"acquire","msg_id":6}"#,
            r#"{"type":"error","in_reply_to":6,"code":11,"text":"Circuit breaker HALF_OPEN","service":"svc","retry_after_ms":510}"#,
        ),
        // The lease expires at 6010: the breaker re-opened then, for 5000 ms.
        (
            6010,
            r#"{"type":"status","msg_id":7,"service":"svc"}"#,
            r#"{"type":"status_ok","in_reply_to":7,"service":"svc","state":"open","failures":6,"counts":{"successes":0,"failures":6,"rejections":1,"opened":2},"config":{"failure_threshold":5,"open_timeout_ms":5000,"half_open_max_calls":1,"success_threshold":1,"window":{"kind":"consecutive"},"slow_call_ms":null,"slow_call_rate":100.0,"probe_timeout_ms":1000,"backoff":{"multiplier":1.0,"max_open_ms":300000,"jitter":0.0},"max_services":100000},"retry_after_ms":5000,"policy":{"open_until_ms":11010}}"#,
        ),
        (
            6020,
            r#"{"type":"record","msg_id":8,"permit":1,"outcome":"success"}"#,
            r#"{"type":"record_ok","in_reply_to":8,"service":"svc","state":"open","stale":true}"#,
        ),
        (
            6020,
            r#"{"type":"events","msg_id":9,"after":5}"#,
            r#"{"type":"events_ok","in_reply_to":9,"events":[{"seq":6,"at_ms":5010,"service":"svc","from":"open","to":"half_open","reason":"open timeout of 5000 ms elapsed"},{"seq":7,"at_ms":6010,"service":"svc","from":"half_open","to":"open","reason":"probe lease expired after 1000 ms"}]}"#,
        ),
    ]);
}

#[test]
fn gobreaker_max_requests_in_half_open() {
    // MaxRequests 3: three probes at once, the fourth is refused; three successes close it.
    let ok = |id: u64| {
        format!(r#"{{"type":"record_ok","in_reply_to":{id},"service":"svc","state":"half_open"}}"#)
    };
    let (r1, r2) = (ok(5), ok(6));
    check(&[
        (
            0,
            r#"{"type":"configure","config":{"half_open_max_calls":3,"success_threshold":3}}"#,
            "",
        ),
        (
            0,
            r#"{"type":"call","msg_id":0,"state":"half_open"}"#,
            r#"{"type":"call_ok","in_reply_to":0,"service":"svc","state":"half_open"}"#,
        ),
        (
            0,
            r#"{"type":"acquire","msg_id":1}"#,
            r#"{"type":"acquire_ok","in_reply_to":1,"service":"svc","state":"half_open","permit":1}"#,
        ),
        (
            0,
            r#"{"type":"acquire","msg_id":2}"#,
            r#"{"type":"acquire_ok","in_reply_to":2,"service":"svc","state":"half_open","permit":2}"#,
        ),
        (
            0,
            r#"{"type":"acquire","msg_id":3}"#,
            r#"{"type":"acquire_ok","in_reply_to":3,"service":"svc","state":"half_open","permit":3}"#,
        ),
        (
            1,
            r#"{"type":"acquire","msg_id":4}"#,
            r#"{"type":"error","in_reply_to":4,"code":11,"text":"Circuit breaker HALF_OPEN","service":"svc","retry_after_ms":9999}"#,
        ),
        (
            2,
            r#"{"type":"record","msg_id":5,"permit":1,"outcome":"success"}"#,
            &r1,
        ),
        (
            2,
            r#"{"type":"record","msg_id":6,"permit":2,"outcome":"ignored"}"#,
            &r2,
        ),
        (
            3,
            r#"{"type":"record","msg_id":7,"permit":3,"outcome":"success"}"#,
            r#"{"type":"record_ok","in_reply_to":7,"service":"svc","state":"closed","transition":{"from":"half_open","to":"closed","reason":"3 successful probes (threshold 3)"}}"#,
        ),
    ]);
}

#[test]
fn envoy_style_ejection_time_grows_and_is_capped() {
    // base ejection 1 s, ×2 per consecutive ejection, at most 5 s; closing resets it.
    let configure = r#"{"type":"configure","config":{"failure_threshold":1,"open_timeout_ms":1000,"backoff":{"multiplier":2,"max_open_ms":5000}}}"#;
    let retry = |id: u64, ms: u64| {
        format!(
            r#"{{"type":"error","in_reply_to":{id},"code":11,"text":"Circuit breaker OPEN","service":"svc","retry_after_ms":{ms}}}"#
        )
    };
    let reopened = |id: u64| {
        format!(
            r#"{{"type":"circuit_breaker_open","in_reply_to":{id},"service":"svc","failures":1}}"#
        )
    };
    let (a, b, c, d, e, f, g, h) = (
        retry(2, 1000),
        reopened(3),
        retry(4, 2000),
        reopened(5),
        retry(6, 4000),
        reopened(7),
        retry(8, 5000),
        retry(11, 1000),
    );
    check(&[
        (0, configure, ""),
        (
            0,
            r#"{"type":"call","msg_id":1,"force_failures":1}"#,
            r#"{"type":"circuit_breaker_open","in_reply_to":1,"service":"svc","failures":1}"#,
        ),
        (0, r#"{"type":"acquire","msg_id":2}"#, &a),
        (1000, r#"{"type":"call","msg_id":3,"force_failures":1}"#, &b),
        (1000, r#"{"type":"acquire","msg_id":4}"#, &c),
        (3000, r#"{"type":"call","msg_id":5,"force_failures":1}"#, &d),
        (3000, r#"{"type":"acquire","msg_id":6}"#, &e),
        (7000, r#"{"type":"call","msg_id":7,"force_failures":1}"#, &f),
        (7000, r#"{"type":"acquire","msg_id":8}"#, &g),
        (
            12_000,
            r#"{"type":"call","msg_id":9}"#,
            r#"{"type":"circuit_breaker_closed","in_reply_to":9,"service":"svc","state":"closed"}"#,
        ),
        (
            12_000,
            r#"{"type":"call","msg_id":10,"force_failures":1}"#,
            r#"{"type":"circuit_breaker_open","in_reply_to":10,"service":"svc","failures":1}"#,
        ),
        (12_000, r#"{"type":"acquire","msg_id":11}"#, &h),
    ]);
}

#[test]
fn jitter_is_a_pure_function_of_the_service_and_the_trip() {
    let run = |service: &str| -> Vec<u64> {
        let mut s = Session::new(Options::default());
        let configure = r#"{"src":"c","dest":"x","body":{"type":"configure","config":{"failure_threshold":1,"open_timeout_ms":10000,"backoff":{"jitter":0.5,"max_open_ms":12000}}}}"#;
        s.handle(configure.as_bytes(), 0);
        let mut periods = Vec::new();
        let mut now = 0;
        for _ in 0..20 {
            let call = format!(
                r#"{{"src":"c","dest":"{service}","body":{{"type":"call","msg_id":1,"force_failures":1}}}}"#
            );
            s.handle(call.as_bytes(), now);
            let status = format!(
                r#"{{"src":"c","dest":"x","body":{{"type":"status","msg_id":2,"service":"{service}"}}}}"#
            );
            let out = String::from_utf8(s.handle(status.as_bytes(), now).to_vec()).unwrap();
            let ms: u64 = out
                .split("\"retry_after_ms\":")
                .nth(1)
                .and_then(|rest| rest.split(',').next())
                .unwrap()
                .parse()
                .unwrap();
            periods.push(ms);
            now += ms; // at the deadline: half_open, and the next failure re-opens it
        }
        periods
    };
    let a = run("payments");
    assert_eq!(a, run("payments"), "the same service gets the same periods");
    assert_ne!(a, run("inventory"), "another service is spread differently");
    assert!(a.iter().all(|&p| (5000..=12000).contains(&p)), "{a:?}");
    assert!(
        a.windows(2).any(|w| w[0] != w[1]),
        "jitter varies with the trip: {a:?}"
    );
}

#[test]
fn validation_names_the_field_and_changes_nothing() {
    let refused = |field: &str, text: &str| {
        format!(r#"{{"type":"error","in_reply_to":1,"code":12,"text":"config.{field}: {text}"}}"#)
    };
    for (config, field, text) in [
        (
            r#"{"failure_threshold":0}"#,
            "failure_threshold",
            "expected an integer from 1 to 9007199254740991, found 0",
        ),
        (
            r#"{"failure_threshold":2.5}"#,
            "failure_threshold",
            "expected an integer from 1 to 9007199254740991, found 2.5",
        ),
        (
            r#"{"slow_call_rate":0}"#,
            "slow_call_rate",
            "expected a number above 0 and at most 100 (three decimals at most), found 0",
        ),
        (
            r#"{"slow_call_rate":100.5}"#,
            "slow_call_rate",
            "expected a number above 0 and at most 100 (three decimals at most), found 100.5",
        ),
        (
            r#"{"window":{"kind":"count","size":100001}}"#,
            "window.size",
            "expected an integer from 1 to 100000, found 100001",
        ),
        (
            r#"{"window":{"kind":"count","failure_rate":"high"}}"#,
            "window.failure_rate",
            r#"expected a number above 0 and at most 100 (three decimals at most), found \"high\""#,
        ),
        (
            r#"{"window":{"kind":"sliding"}}"#,
            "window.kind",
            r#"expected one of \"consecutive\", \"count\", \"time\""#,
        ),
        (
            r#"{"window":{"kind":"time","size":10}}"#,
            "window.size",
            "unknown field",
        ),
        (
            r#"{"backoff":{"multiplier":0.5}}"#,
            "backoff.multiplier",
            "expected a number from 1 to 1000000 (three decimals at most), found 0.5",
        ),
        (
            r#"{"slow_call_rate":33.3333}"#,
            "slow_call_rate",
            "expected a number above 0 and at most 100 (three decimals at most), found 33.3333",
        ),
        (
            r#"{"backoff":{"jitter":1.5}}"#,
            "backoff.jitter",
            "expected a number from 0 to 1 (three decimals at most), found 1.5",
        ),
        (
            r#"{"open_timeout_ms":100,"probe_timeout_ms":-1}"#,
            "probe_timeout_ms",
            "expected an integer from 1 to 9007199254740991, found -1",
        ),
    ] {
        let body = format!(r#"{{"type":"configure","msg_id":1,"config":{config}}}"#);
        let expected = refused(field, text);
        check(&[
            (0, &body, &expected),
            // Nothing changed: the defaults still open after five failures.
            (
                0,
                r#"{"type":"call","msg_id":2,"force_failures":5}"#,
                r#"{"type":"circuit_breaker_open","in_reply_to":2,"service":"svc","failures":5}"#,
            ),
        ]);
    }
}

#[test]
fn a_window_or_backoff_object_replaces_the_whole_object() {
    check(&[
        (
            0,
            r#"{"type":"configure","msg_id":1,"config":{"window":{"kind":"time","size_ms":5000}}}"#,
            r#"{"type":"configure_ok","in_reply_to":1,"config":{"failure_threshold":5,"open_timeout_ms":5000,"half_open_max_calls":1,"success_threshold":1,"window":{"kind":"time","size_ms":5000,"minimum_calls":100,"failure_rate":50.0},"slow_call_ms":null,"slow_call_rate":100.0,"probe_timeout_ms":10000,"backoff":{"multiplier":1.0,"max_open_ms":300000,"jitter":0.0},"max_services":100000}}"#,
        ),
        (
            0,
            r#"{"type":"configure","msg_id":2,"service":"svc","config":{"backoff":{"jitter":0.25},"slow_call_ms":250,"window":{"kind":"count","failure_rate":12.5}}}"#,
            r#"{"type":"configure_ok","in_reply_to":2,"service":"svc","config":{"failure_threshold":5,"open_timeout_ms":5000,"half_open_max_calls":1,"success_threshold":1,"window":{"kind":"count","size":100,"minimum_calls":100,"failure_rate":12.5},"slow_call_ms":250,"slow_call_rate":100.0,"probe_timeout_ms":10000,"backoff":{"multiplier":1.0,"max_open_ms":300000,"jitter":0.25},"max_services":100000}}"#,
        ),
    ]);
}

#[test]
fn ten_million_calls_through_a_time_window_take_constant_memory() {
    use breaker_wasm::breaker::{Attempts, Breaker, Config, Window};
    let config = Config {
        window: Window::Time {
            size_ms: 60_000,
            minimum_calls: 1_000_000_000,
            failure_rate: breaker_wasm::breaker::Milli(50_000),
        },
        ..Config::default()
    };
    let mut b = Breaker::new("svc");
    let mut log = Vec::new();
    let mut measured = Vec::new();
    for i in 0..10_000_000u64 {
        let attempts = if i % 20 == 0 {
            Attempts::Failures(1)
        } else {
            Attempts::Success
        };
        b.call(&config, i / 10, attempts, None, &mut log);
        if i % 1_000_000 == 999_999 {
            // The size of its state: the breaker and the window it owns.
            let window = b.window().expect("a time window");
            measured.push(std::mem::size_of_val(&b) + window.heap_bytes());
        }
    }
    assert!(log.is_empty(), "5 % failures never trip a 50 % window");
    assert_eq!(measured.len(), 10);
    assert!(
        measured.windows(2).all(|w| w[0] == w[1]),
        "state size changed with traffic: {measured:?}"
    );
    assert!(measured[0] < 2048, "{measured:?}");
    // 10 calls a millisecond over 60 s, plus at most one bucket (6 s).
    let calls = b.window().unwrap().tally.calls;
    assert!((600_000..=660_000).contains(&calls), "{calls}");
}

#[test]
fn a_million_services_under_a_bound_of_a_hundred_thousand() {
    use breaker_wasm::breaker::{Attempts, Field, Setting, StateName};
    use breaker_wasm::node::{CallFixture, ConfigChange, Node, Request};
    let mut node = Node::new(Options::default());
    let mut change = ConfigChange::default();
    change
        .set
        .set(Field::MaxServices, Some(Setting::Int(100_000)));
    node.handle(
        0,
        &Request::Configure {
            service: None,
            change,
        },
    );
    let call = |failures: u64| CallFixture {
        state: None,
        attempts: if failures == 0 {
            Attempts::Success
        } else {
            Attempts::Failures(failures)
        },
        duration_ms: None,
        uses_fixtures: true,
    };
    let mut open = Vec::new();
    for i in 0..1_000_000u64 {
        let name = format!("svc-{i}");
        // One in a hundred services fails hard and opens.
        let failures = if i % 100 == 0 { 5 } else { 0 };
        node.handle(
            1,
            &Request::Call {
                service: &name,
                fixture: call(failures),
                error: None,
            },
        );
        if failures > 0 {
            open.push(name);
        }
        assert!(node.len() <= 100_000);
    }
    assert_eq!(node.len(), 100_000);
    // 10,000 open breakers, all still there: only closed ones were forgotten.
    assert_eq!(open.len(), 10_000);
    for name in &open {
        assert_eq!(
            node.view(name).state,
            StateName::Open,
            "{name} was forgotten"
        );
    }
}
