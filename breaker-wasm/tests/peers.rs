//! Behaviours of other breakers (resilience4j, gobreaker, Polly, cockatiel) expressed by this
//! one's options, each scenario following the peer's documented behaviour step by step: the
//! state after each call, admitted or rejected, and the counts.

use breaker_wasm::{Options, Session};

/// Runs `steps` — (time in ms, request body, expected reply body or "" for none) — against one
/// node, all traffic to the service `svc`, and compares every reply body exactly (or, for an
/// expected body starting with `~`, checks that the reply contains the rest, and for one starting
/// with `!`, that it does not).
fn check(steps: &[(u64, &str, &str)]) {
    check_with(Options::default(), steps);
}

/// [`check`] on a node with `options`.
fn check_with(options: Options, steps: &[(u64, &str, &str)]) {
    let mut session = Session::new(options);
    for (i, (now, body, expected)) in steps.iter().enumerate() {
        let doc = format!(r#"{{"src":"c","dest":"svc","body":{body}}}"#);
        let out = String::from_utf8(session.handle(doc.as_bytes(), *now).to_vec()).unwrap();
        let got = out
            .strip_prefix(r#"{"src":"svc","dest":"c","body":"#)
            .and_then(|s| s.strip_suffix("}\n"))
            .unwrap_or(&out);
        match (expected.strip_prefix('~'), expected.strip_prefix('!')) {
            (Some(part), _) => assert!(got.contains(part), "step {i} at {now} ms: {body}: {got}"),
            (_, Some(part)) => assert!(!got.contains(part), "step {i} at {now} ms: {body}: {got}"),
            _ => assert_eq!(got, *expected, "step {i} at {now} ms: {body}"),
        }
        assert_eq!(session.diagnostics(), b"", "step {i}");
    }
}

const DEFAULT_CONFIG: &str = r#""failure_threshold":5,"open_timeout_ms":5000,"half_open_max_calls":1,"success_threshold":1,"window":{"kind":"consecutive"},"slow_call_ms":null,"slow_call_rate":100.0,"probe_timeout_ms":10000,"backoff":{"multiplier":1.0,"max_open_ms":300000,"jitter":0.0},"max_services":100000"#;

fn configured(extra: &str) -> String {
    format!(r#"{{"type":"configure_ok","in_reply_to":1,"config":{{{DEFAULT_CONFIG}{extra}}}}}"#)
}

fn events(n: u32, list: &str) -> String {
    format!(r#"{{"type":"events_ok","in_reply_to":{n},"events":[{list}]}}"#)
}

#[test]
fn resilience4j_metrics_only_counts_and_transitions_but_never_rejects() {
    // resilience4j METRICS_ONLY: every call is permitted and measured. Here the state machine
    // keeps running, so the transitions a rollout would cause are logged with their reasons,
    // and the calls it would have rejected are admitted and counted as rejections.
    let configure = r#"{"type":"configure","msg_id":1,"config":{"metrics_only":true}}"#;
    check(&[
        (0, configure, &configured(r#","metrics_only":true"#)),
        // Five failures trip it, as they would in enforcing mode.
        (
            0,
            r#"{"type":"call","msg_id":2,"force_failures":5}"#,
            r#"{"type":"circuit_breaker_open","in_reply_to":2,"service":"svc","failures":5}"#,
        ),
        // Open: a call that would be rejected reaches the downstream and is not judged.
        (
            10,
            r#"{"type":"call","msg_id":3}"#,
            r#"{"type":"call_ok","in_reply_to":3,"service":"svc","state":"open"}"#,
        ),
        (
            20,
            r#"{"type":"call","msg_id":3,"force_failures":1}"#,
            r#"{"type":"call_failed","in_reply_to":3,"service":"svc","state":"open","failures":5}"#,
        ),
        // acquire: a permit, but not an outstanding one — its record changes nothing.
        (
            30,
            r#"{"type":"acquire","msg_id":4}"#,
            r#"{"type":"acquire_ok","in_reply_to":4,"service":"svc","state":"open","permit":1}"#,
        ),
        (
            40,
            r#"{"type":"record","msg_id":5,"permit":1,"outcome":"failure"}"#,
            r#"{"type":"record_ok","in_reply_to":5,"service":"svc","state":"open","stale":true}"#,
        ),
        (
            50,
            r#"{"type":"status","msg_id":6}"#,
            r#"{"type":"status_ok","in_reply_to":6,"services":[{"service":"svc","state":"open","policy":{"open_until_ms":5000}}],"evicted":0}"#,
        ),
        // Three calls would have been rejected; the failure while open was not judged.
        (
            50,
            r#"{"type":"status","msg_id":6,"service":"svc"}"#,
            r#"~"state":"open","failures":5,"counts":{"successes":0,"failures":5,"rejections":3,"opened":1}"#,
        ),
        // The open period ends as usual; the probe is a real one and closes it.
        (
            5000,
            r#"{"type":"acquire","msg_id":4}"#,
            r#"{"type":"acquire_ok","in_reply_to":4,"service":"svc","state":"half_open","permit":2}"#,
        ),
        // A second caller while the probe slot is taken: admitted, not a probe.
        (
            5001,
            r#"{"type":"acquire","msg_id":4}"#,
            r#"{"type":"acquire_ok","in_reply_to":4,"service":"svc","state":"half_open","permit":3}"#,
        ),
        (
            5002,
            r#"{"type":"record","msg_id":5,"permit":3,"outcome":"failure"}"#,
            r#"{"type":"record_ok","in_reply_to":5,"service":"svc","state":"half_open","stale":true}"#,
        ),
        (
            5003,
            r#"{"type":"record","msg_id":5,"permit":2,"outcome":"success"}"#,
            r#"{"type":"record_ok","in_reply_to":5,"service":"svc","state":"closed","transition":{"from":"half_open","to":"closed","reason":"1 successful probe (threshold 1)"}}"#,
        ),
        (
            5004,
            r#"{"type":"events","msg_id":7}"#,
            &events(
                7,
                r#"{"seq":1,"at_ms":0,"service":"svc","from":"closed","to":"open","reason":"5 consecutive failures (threshold 5)"},{"seq":2,"at_ms":5000,"service":"svc","from":"open","to":"half_open","reason":"open timeout of 5000 ms elapsed"},{"seq":3,"at_ms":5003,"service":"svc","from":"half_open","to":"closed","reason":"1 successful probe (threshold 1)"}"#,
            ),
        ),
        // An operator's force open still rejects.
        (
            6000,
            r#"{"type":"force","msg_id":8,"mode":"open"}"#,
            r#"{"type":"force_ok","in_reply_to":8,"mode":"open"}"#,
        ),
        (
            6001,
            r#"{"type":"call","msg_id":9}"#,
            r#"{"type":"error","in_reply_to":9,"error":"Circuit breaker OPEN","service":"svc"}"#,
        ),
    ]);
}

#[test]
fn metrics_only_is_validated_and_off_by_default() {
    check(&[
        (
            0,
            r#"{"type":"configure","msg_id":1,"config":{"metrics_only":1}}"#,
            r#"{"type":"error","in_reply_to":1,"code":12,"text":"config.metrics_only: expected true or false, found 1"}"#,
        ),
        (
            0,
            r#"{"type":"configure","msg_id":1,"config":{"metrics_only":false}}"#,
            &configured(""),
        ),
        (
            0,
            r#"{"type":"call","msg_id":2,"force_failures":5}"#,
            r#"{"type":"circuit_breaker_open","in_reply_to":2,"service":"svc","failures":5}"#,
        ),
        (
            1,
            r#"{"type":"call","msg_id":3}"#,
            r#"{"type":"error","in_reply_to":3,"error":"Circuit breaker OPEN","service":"svc"}"#,
        ),
    ]);
}

#[test]
fn resilience4j_max_wait_duration_in_half_open_state() {
    // maxWaitDurationInHalfOpenState 1 s: the breaker leaves half_open after 1 s even with a
    // probe verdict still missing (permittedNumberOfCallsInHalfOpenState 2, one recorded), and
    // goes to OPEN, its transitionToStateAfterWaitDuration default.
    let configure = r#"{"type":"configure","msg_id":1,"config":{"half_open_max_calls":2,"success_threshold":2,"half_open_max_ms":1000}}"#;
    let expected = r#"{"type":"configure_ok","in_reply_to":1,"config":{"failure_threshold":5,"open_timeout_ms":5000,"half_open_max_calls":2,"success_threshold":2,"window":{"kind":"consecutive"},"slow_call_ms":null,"slow_call_rate":100.0,"probe_timeout_ms":10000,"backoff":{"multiplier":1.0,"max_open_ms":300000,"jitter":0.0},"max_services":100000,"half_open_max_ms":1000}}"#;
    let acquired = |p: u32| {
        format!(
            r#"{{"type":"acquire_ok","in_reply_to":4,"service":"svc","state":"half_open","permit":{p}}}"#
        )
    };
    check(&[
        (0, configure, expected),
        (
            0,
            r#"{"type":"call","msg_id":2,"force_failures":5}"#,
            r#"{"type":"circuit_breaker_open","in_reply_to":2,"service":"svc","failures":5}"#,
        ),
        (5000, r#"{"type":"acquire","msg_id":4}"#, &acquired(1)),
        (5001, r#"{"type":"acquire","msg_id":4}"#, &acquired(2)),
        (
            5100,
            r#"{"type":"record","msg_id":5,"permit":1,"outcome":"success"}"#,
            r#"{"type":"record_ok","in_reply_to":5,"service":"svc","state":"half_open"}"#,
        ),
        // Both slots were taken: the retry time is the limit's, before the lease's.
        (5200, r#"{"type":"acquire","msg_id":4}"#, &acquired(3)),
        (
            5300,
            r#"{"type":"acquire","msg_id":4}"#,
            r#"{"type":"error","in_reply_to":4,"code":11,"text":"Circuit breaker HALF_OPEN","service":"svc","retry_after_ms":700}"#,
        ),
        (
            5999,
            r#"{"type":"status","msg_id":6}"#,
            r#"{"type":"status_ok","in_reply_to":6,"services":[{"service":"svc","state":"half_open","policy":{"probes_in_flight":2,"half_open_max_calls":2,"successes":1,"success_threshold":2}}],"evicted":0}"#,
        ),
        (
            6000,
            r#"{"type":"status","msg_id":6}"#,
            r#"{"type":"status_ok","in_reply_to":6,"services":[{"service":"svc","state":"open","policy":{"open_until_ms":11000}}],"evicted":0}"#,
        ),
        // The outstanding probe's late verdict is stale.
        (
            6100,
            r#"{"type":"record","msg_id":5,"permit":2,"outcome":"success"}"#,
            r#"{"type":"record_ok","in_reply_to":5,"service":"svc","state":"open","stale":true}"#,
        ),
        (
            6100,
            r#"{"type":"events","msg_id":7,"after":2}"#,
            &events(
                7,
                r#"{"seq":3,"at_ms":6000,"service":"svc","from":"half_open","to":"open","reason":"half_open for 1000 ms (half_open_max_ms)"}"#,
            ),
        ),
        // The new open period starts at the limit.
        (
            10_999,
            r#"{"type":"call","msg_id":8}"#,
            r#"{"type":"error","in_reply_to":8,"error":"Circuit breaker OPEN","service":"svc"}"#,
        ),
        (11_000, r#"{"type":"acquire","msg_id":4}"#, &acquired(4)),
    ]);
}

#[test]
fn resilience4j_half_open_wait_can_end_in_closed() {
    // transitionToStateAfterWaitDuration CLOSED: with no probe at all, the breaker closes when
    // the wait is over.
    let configure = r#"{"type":"configure","msg_id":1,"config":{"half_open_max_ms":250,"half_open_expiry":"closed"}}"#;
    check(&[
        (
            0,
            configure,
            &configured(r#","half_open_max_ms":250,"half_open_expiry":"closed""#),
        ),
        (
            0,
            r#"{"type":"call","msg_id":2,"force_failures":5}"#,
            r#"{"type":"circuit_breaker_open","in_reply_to":2,"service":"svc","failures":5}"#,
        ),
        (
            5249,
            r#"{"type":"status","msg_id":6}"#,
            r#"{"type":"status_ok","in_reply_to":6,"services":[{"service":"svc","state":"half_open","policy":{"probes_in_flight":0,"half_open_max_calls":1,"successes":0,"success_threshold":1}}],"evicted":0}"#,
        ),
        (
            5250,
            r#"{"type":"events","msg_id":7,"after":1}"#,
            &events(
                7,
                r#"{"seq":2,"at_ms":5000,"service":"svc","from":"open","to":"half_open","reason":"open timeout of 5000 ms elapsed"},{"seq":3,"at_ms":5250,"service":"svc","from":"half_open","to":"closed","reason":"half_open for 250 ms (half_open_max_ms)"}"#,
            ),
        ),
        (
            5300,
            r#"{"type":"call","msg_id":8}"#,
            r#"{"type":"call_ok","in_reply_to":8,"service":"svc","state":"closed"}"#,
        ),
    ]);
}

#[test]
fn the_half_open_limit_is_validated() {
    check(&[
        (
            0,
            r#"{"type":"configure","msg_id":1,"config":{"half_open_max_ms":0}}"#,
            r#"{"type":"error","in_reply_to":1,"code":12,"text":"config.half_open_max_ms: expected an integer from 1 to 9007199254740991, found 0"}"#,
        ),
        (
            0,
            r#"{"type":"configure","msg_id":1,"config":{"half_open_max_ms":5,"half_open_expiry":"half_open"}}"#,
            r#"{"type":"error","in_reply_to":1,"code":12,"text":"config.half_open_expiry: expected \"open\" or \"closed\", found \"half_open\""}"#,
        ),
        // Nothing changed: the defaults are still in force.
        (
            0,
            r#"{"type":"configure","msg_id":1,"config":{}}"#,
            &configured(""),
        ),
        (
            0,
            r#"{"type":"configure","msg_id":1,"config":{"half_open_max_ms":5}}"#,
            &configured(r#","half_open_max_ms":5"#),
        ),
        (
            0,
            r#"{"type":"configure","msg_id":1,"config":{"half_open_max_ms":null}}"#,
            &configured(""),
        ),
    ]);
}

const NO_FIXTURES: Options = Options {
    manual_clock: false,
    fixtures: false,
    fleet: false,
};

fn moved(state: &str) -> String {
    format!(r#"{{"type":"transition_ok","in_reply_to":3,"service":"svc","state":"{state}"}}"#)
}

const ACQUIRE: &str = r#"{"type":"acquire","msg_id":4}"#;

fn acquired(state: &str, permit: u32) -> String {
    format!(
        r#"{{"type":"acquire_ok","in_reply_to":4,"service":"svc","state":"{state}","permit":{permit}}}"#
    )
}

fn refused(retry_after_ms: u64) -> String {
    format!(
        r#"{{"type":"error","in_reply_to":4,"code":11,"text":"Circuit breaker OPEN","service":"svc","retry_after_ms":{retry_after_ms}}}"#
    )
}

#[test]
fn resilience4j_transition_to_open_state_for_and_until_without_fixtures() {
    // transitionToOpenStateFor(Duration.ofSeconds(60)): open now, for 60 s, then half_open as
    // after any open period; transitionToOpenStateUntil(instant): the same up to a time. Both
    // on a production node (no fixtures), and logged like any transition.
    check_with(
        NO_FIXTURES,
        &[
            (
                1000,
                r#"{"type":"transition","msg_id":3,"service":"svc","to":"open","for_ms":60000}"#,
                &moved("open"),
            ),
            (1000, ACQUIRE, &refused(60_000)),
            (60_999, ACQUIRE, &refused(1)),
            (61_000, ACQUIRE, &acquired("half_open", 1)),
            (
                61_001,
                r#"{"type":"transition","msg_id":3,"service":"svc","to":"open","until_ms":100000}"#,
                &moved("open"),
            ),
            (99_999, ACQUIRE, &refused(1)),
            (100_000, ACQUIRE, &acquired("half_open", 2)),
            (
                100_000,
                r#"{"type":"events","msg_id":5}"#,
                &events(
                    5,
                    r#"{"seq":1,"at_ms":1000,"service":"svc","from":"closed","to":"open","reason":"moved by an operator (transition)"},{"seq":2,"at_ms":61000,"service":"svc","from":"open","to":"half_open","reason":"open timeout of 60000 ms elapsed"},{"seq":3,"at_ms":61001,"service":"svc","from":"half_open","to":"open","reason":"moved by an operator (transition)"},{"seq":4,"at_ms":100000,"service":"svc","from":"open","to":"half_open","reason":"open timeout of 38999 ms elapsed"}"#,
                ),
            ),
        ],
    );
}

#[test]
fn resilience4j_transition_to_half_open_and_closed_state() {
    // transitionToHalfOpenState(): probes are admitted at once, and a successful one closes it;
    // transitionToClosedState() from open: calls flow again with no forced mode left behind.
    check_with(
        NO_FIXTURES,
        &[
            (
                0,
                r#"{"type":"transition","msg_id":3,"service":"svc","to":"half_open"}"#,
                &moved("half_open"),
            ),
            (5, ACQUIRE, &acquired("half_open", 1)),
            (
                6,
                ACQUIRE,
                r#"{"type":"error","in_reply_to":4,"code":11,"text":"Circuit breaker HALF_OPEN","service":"svc","retry_after_ms":9999}"#,
            ),
            (
                7,
                r#"{"type":"record","msg_id":6,"permit":1,"outcome":"success"}"#,
                r#"{"type":"record_ok","in_reply_to":6,"service":"svc","state":"closed","transition":{"from":"half_open","to":"closed","reason":"1 successful probe (threshold 1)"}}"#,
            ),
            (
                8,
                r#"{"type":"transition","msg_id":3,"service":"svc","to":"open"}"#,
                &moved("open"),
            ),
            // Without a duration the open period is the configured one.
            (8, ACQUIRE, &refused(5000)),
            (
                9,
                r#"{"type":"transition","msg_id":3,"service":"svc","to":"closed"}"#,
                &moved("closed"),
            ),
            (9, ACQUIRE, &acquired("closed", 2)),
        ],
    );
}

#[test]
fn a_transition_is_validated_and_changes_nothing_when_refused() {
    let error =
        |text: &str| format!(r#"{{"type":"error","in_reply_to":3,"code":12,"text":"{text}"}}"#);
    check_with(
        NO_FIXTURES,
        &[
            (
                500,
                r#"{"type":"transition","msg_id":3,"to":"open"}"#,
                &error("service: missing"),
            ),
            (
                500,
                r#"{"type":"transition","msg_id":3,"service":"svc","to":"ajar"}"#,
                &error(r#"to: expected one of \"closed\", \"open\", \"half_open\""#),
            ),
            (
                500,
                r#"{"type":"transition","msg_id":3,"service":"svc","to":"open","for_ms":0}"#,
                &error("for_ms: expected at least 1"),
            ),
            (
                500,
                r#"{"type":"transition","msg_id":3,"service":"svc","to":"open","for_ms":5,"until_ms":900}"#,
                &error("for_ms, until_ms: conflicting fields (give one)"),
            ),
            (
                500,
                r#"{"type":"transition","msg_id":3,"service":"svc","to":"half_open","for_ms":5}"#,
                &error(r#"for_ms, until_ms: only with \"to\":\"open\""#),
            ),
            (
                500,
                r#"{"type":"transition","msg_id":3,"service":"svc","to":"open","until_ms":500}"#,
                &error("until_ms: expected a time after now_ms (500)"),
            ),
            (
                500,
                r#"{"type":"status","msg_id":7}"#,
                r#"{"type":"status_ok","in_reply_to":7,"services":[],"evicted":0}"#,
            ),
        ],
    );
}

#[test]
fn gobreaker_max_requests_is_a_budget_per_half_open_period() {
    // gobreaker: in half-open, once counts.Requests reaches MaxRequests (3) further requests
    // get ErrTooManyRequests until the state changes, however many have completed; MaxRequests
    // consecutive successes close it.
    let configure = r#"{"type":"configure","msg_id":1,"config":{"half_open_max_calls":3,"success_threshold":3,"half_open_budget":"period"}}"#;
    let configured = r#"{"type":"configure_ok","in_reply_to":1,"config":{"failure_threshold":5,"open_timeout_ms":5000,"half_open_max_calls":3,"success_threshold":3,"window":{"kind":"consecutive"},"slow_call_ms":null,"slow_call_rate":100.0,"probe_timeout_ms":10000,"backoff":{"multiplier":1.0,"max_open_ms":300000,"jitter":0.0},"max_services":100000,"half_open_budget":"period"}}"#;
    let recorded = |permit: u32| {
        format!(r#"{{"type":"record","msg_id":6,"permit":{permit},"outcome":"success"}}"#)
    };
    let still = r#"{"type":"record_ok","in_reply_to":6,"service":"svc","state":"half_open"}"#;
    let too_many = |retry: u64| {
        format!(
            r#"{{"type":"error","in_reply_to":4,"code":11,"text":"Circuit breaker HALF_OPEN","service":"svc","retry_after_ms":{retry}}}"#
        )
    };
    check(&[
        (0, configure, configured),
        (
            0,
            r#"{"type":"call","msg_id":2,"force_failures":5}"#,
            r#"{"type":"circuit_breaker_open","in_reply_to":2,"service":"svc","failures":5}"#,
        ),
        (5000, ACQUIRE, &acquired("half_open", 1)),
        (5001, &recorded(1), still),
        (5002, ACQUIRE, &acquired("half_open", 2)),
        (5003, ACQUIRE, &acquired("half_open", 3)),
        // Three admitted in this period: the fourth is refused though only two are in flight.
        (5004, ACQUIRE, &too_many(9998)),
        (5005, &recorded(2), still),
        (5006, ACQUIRE, &too_many(9997)),
        (
            5007,
            &recorded(3),
            r#"{"type":"record_ok","in_reply_to":6,"service":"svc","state":"closed","transition":{"from":"half_open","to":"closed","reason":"3 successful probes (threshold 3)"}}"#,
        ),
    ]);
    // The default budget counts probes in flight: a completed probe frees its slot.
    check(&[
        (
            0,
            r#"{"type":"configure","msg_id":1,"config":{"half_open_max_calls":3,"success_threshold":3}}"#,
            &configured.replace(r#","half_open_budget":"period""#, ""),
        ),
        (
            0,
            r#"{"type":"call","msg_id":2,"force_failures":5}"#,
            r#"{"type":"circuit_breaker_open","in_reply_to":2,"service":"svc","failures":5}"#,
        ),
        (5000, ACQUIRE, &acquired("half_open", 1)),
        (5001, &recorded(1), still),
        (5002, ACQUIRE, &acquired("half_open", 2)),
        (5003, ACQUIRE, &acquired("half_open", 3)),
        (5004, ACQUIRE, &acquired("half_open", 4)),
    ]);
}

#[test]
fn under_a_period_budget_an_ignored_probe_gives_its_slot_back() {
    let configure = r#"{"type":"configure","msg_id":1,"config":{"half_open_budget":"period"}}"#;
    check(&[
        (0, configure, &configured(r#","half_open_budget":"period""#)),
        (
            0,
            r#"{"type":"configure","msg_id":1,"config":{"half_open_budget":"all"}}"#,
            r#"{"type":"error","in_reply_to":1,"code":12,"text":"config.half_open_budget: expected \"in_flight\" or \"period\", found \"all\""}"#,
        ),
        (
            0,
            r#"{"type":"call","msg_id":2,"force_failures":5}"#,
            r#"{"type":"circuit_breaker_open","in_reply_to":2,"service":"svc","failures":5}"#,
        ),
        (5000, ACQUIRE, &acquired("half_open", 1)),
        (
            5001,
            r#"{"type":"record","msg_id":6,"permit":1,"outcome":"ignored"}"#,
            r#"{"type":"record_ok","in_reply_to":6,"service":"svc","state":"half_open"}"#,
        ),
        (5002, ACQUIRE, &acquired("half_open", 2)),
    ]);
}

#[test]
fn resilience4j_half_open_is_judged_by_the_rate_of_its_permitted_calls() {
    // permittedNumberOfCallsInHalfOpenState 4, failureRateThreshold 50: a failed call in
    // HALF_OPEN does not re-open the breaker by itself; once the 4 permitted calls are
    // recorded, a failure rate of 50 % or more re-opens it, anything less closes it.
    let configure = r#"{"type":"configure","msg_id":1,"config":{"half_open_max_calls":4,"half_open_failure_rate":50}}"#;
    let record = |permit: u32, outcome: &str| {
        format!(r#"{{"type":"record","msg_id":6,"permit":{permit},"outcome":"{outcome}"}}"#)
    };
    let still = r#"{"type":"record_ok","in_reply_to":6,"service":"svc","state":"half_open"}"#;
    let trip = r#"{"type":"call","msg_id":2,"force_failures":5}"#;
    let tripped = r#"{"type":"circuit_breaker_open","in_reply_to":2,"service":"svc","failures":5}"#;
    let configured = r#"{"type":"configure_ok","in_reply_to":1,"config":{"failure_threshold":5,"open_timeout_ms":5000,"half_open_max_calls":4,"success_threshold":1,"window":{"kind":"consecutive"},"slow_call_ms":null,"slow_call_rate":100.0,"probe_timeout_ms":10000,"backoff":{"multiplier":1.0,"max_open_ms":300000,"jitter":0.0},"max_services":100000,"half_open_failure_rate":50.0}}"#;
    // One failure in four: 25 %, below 50 %: closed.
    check(&[
        (0, configure, configured),
        (0, trip, tripped),
        (5000, ACQUIRE, &acquired("half_open", 1)),
        (5000, ACQUIRE, &acquired("half_open", 2)),
        (5000, ACQUIRE, &acquired("half_open", 3)),
        (5000, ACQUIRE, &acquired("half_open", 4)),
        (
            5000,
            ACQUIRE,
            r#"{"type":"error","in_reply_to":4,"code":11,"text":"Circuit breaker HALF_OPEN","service":"svc","retry_after_ms":10000}"#,
        ),
        (5010, &record(1, "failure"), still),
        (5020, &record(2, "success"), still),
        // A permitted call that has been recorded does not free a slot.
        (
            5025,
            ACQUIRE,
            r#"{"type":"error","in_reply_to":4,"code":11,"text":"Circuit breaker HALF_OPEN","service":"svc","retry_after_ms":9975}"#,
        ),
        (5030, &record(3, "success"), still),
        (
            5040,
            &record(4, "success"),
            r#"{"type":"record_ok","in_reply_to":6,"service":"svc","state":"closed","transition":{"from":"half_open","to":"closed","reason":"1 of 4 trial calls in half_open failed and 0 were slow, below the thresholds"}}"#,
        ),
    ]);
    // Two failures in four: 50 %, at the threshold: open again.
    check(&[
        (0, configure, configured),
        (0, trip, tripped),
        (5000, ACQUIRE, &acquired("half_open", 1)),
        (5000, ACQUIRE, &acquired("half_open", 2)),
        (5000, ACQUIRE, &acquired("half_open", 3)),
        (5000, ACQUIRE, &acquired("half_open", 4)),
        (5010, &record(1, "success"), still),
        (5020, &record(2, "failure"), still),
        (5030, &record(3, "failure"), still),
        (
            5040,
            &record(4, "success"),
            r#"{"type":"record_ok","in_reply_to":6,"service":"svc","state":"open","transition":{"from":"half_open","to":"open","reason":"50.0% of 4 trial calls in half_open failed (threshold 50%)"}}"#,
        ),
        (5041, ACQUIRE, &refused(4999)),
    ]);
}

#[test]
fn cockatiel_style_half_open_sampling_counts_slow_calls_and_is_validated() {
    // Slow trial calls have their own rate, as in the closed window: 2 of 2 slow at
    // slow_call_rate 100 re-open it though none failed.
    let configure = r#"{"type":"configure","msg_id":1,"config":{"half_open_max_calls":2,"half_open_failure_rate":50,"slow_call_ms":100}}"#;
    let record = |permit: u32| {
        format!(
            r#"{{"type":"record","msg_id":6,"permit":{permit},"outcome":"success","duration_ms":150}}"#
        )
    };
    let still = r#"{"type":"record_ok","in_reply_to":6,"service":"svc","state":"half_open"}"#;
    let error =
        |text: &str| format!(r#"{{"type":"error","in_reply_to":1,"code":12,"text":"{text}"}}"#);
    check(&[
        (
            0,
            r#"{"type":"configure","msg_id":1,"config":{"half_open_failure_rate":0}}"#,
            &error(
                "config.half_open_failure_rate: expected a number above 0 and at most 100 (three decimals at most), found 0",
            ),
        ),
        (
            0,
            r#"{"type":"configure","msg_id":1,"config":{"half_open_failure_rate":12.3456}}"#,
            &error(
                "config.half_open_failure_rate: expected a number above 0 and at most 100 (three decimals at most), found 12.3456",
            ),
        ),
        (0, configure, "~\"half_open_failure_rate\":50.0}"),
        (
            0,
            r#"{"type":"call","msg_id":2,"force_failures":5}"#,
            r#"{"type":"circuit_breaker_open","in_reply_to":2,"service":"svc","failures":5}"#,
        ),
        (5000, ACQUIRE, &acquired("half_open", 1)),
        (5000, ACQUIRE, &acquired("half_open", 2)),
        (5010, &record(1), still),
        (
            5020,
            &record(2),
            r#"{"type":"record_ok","in_reply_to":6,"service":"svc","state":"open","transition":{"from":"half_open","to":"open","reason":"100.0% of 2 trial calls in half_open were slow (threshold 100%)"}}"#,
        ),
        (
            5030,
            r#"{"type":"configure","msg_id":1,"config":{"half_open_failure_rate":null}}"#,
            "~\"slow_call_ms\":100,",
        ),
    ]);
}

#[test]
fn gobreaker_interval_clears_the_closed_counts_each_cycle() {
    // gobreaker Interval: the cyclic period of the closed state after which the counts are
    // cleared, each clear a new generation, so a result of a request let through before it is
    // dropped. Here cycles are aligned to multiples of interval_ms on the clock.
    let configure = r#"{"type":"configure","msg_id":1,"config":{"interval_ms":10000}}"#;
    let fail = |f: u32| {
        format!(
            r#"{{"type":"call_failed","in_reply_to":2,"service":"svc","state":"closed","failures":{f}}}"#
        )
    };
    let failure = r#"{"type":"call","msg_id":2,"force_failures":1}"#;
    check(&[
        (0, configure, &configured(r#","interval_ms":10000"#)),
        (1000, failure, &fail(1)),
        (2000, failure, &fail(2)),
        (3000, failure, &fail(3)),
        (4000, failure, &fail(4)),
        (9999, ACQUIRE, &acquired("closed", 1)),
        // A new cycle at 10000: the counts start over, and the permit of the last one is stale.
        (
            10_001,
            r#"{"type":"record","msg_id":6,"permit":1,"outcome":"failure"}"#,
            r#"{"type":"record_ok","in_reply_to":6,"service":"svc","state":"closed","stale":true}"#,
        ),
        (10_002, failure, &fail(1)),
        (10_003, failure, &fail(2)),
        (10_004, failure, &fail(3)),
        (10_005, failure, &fail(4)),
        (
            10_006,
            failure,
            r#"{"type":"circuit_breaker_open","in_reply_to":2,"service":"svc","failures":5}"#,
        ),
        // No transition is logged for a clear.
        (
            10_007,
            r#"{"type":"events","msg_id":7}"#,
            &events(
                7,
                r#"{"seq":1,"at_ms":10006,"service":"svc","from":"closed","to":"open","reason":"5 consecutive failures (threshold 5)"}"#,
            ),
        ),
    ]);
    check(&[(
        0,
        r#"{"type":"configure","msg_id":1,"config":{"interval_ms":0}}"#,
        r#"{"type":"error","in_reply_to":1,"code":12,"text":"config.interval_ms: expected an integer from 1 to 9007199254740991, found 0"}"#,
    )]);
}

#[test]
fn cockatiel_initial_state_for_new_breakers() {
    // cockatiel's initialState: a breaker can start other than closed. Here new breakers start
    // in `initial_state` when they are created, with the transition logged; one already
    // tracked is not touched.
    let configure = r#"{"type":"configure","msg_id":1,"config":{"initial_state":"open"}}"#;
    check(&[
        (
            0,
            r#"{"type":"call","msg_id":2}"#,
            r#"{"type":"call_ok","in_reply_to":2,"service":"svc","state":"closed"}"#,
        ),
        (100, configure, &configured(r#","initial_state":"open""#)),
        (
            200,
            r#"{"type":"call","msg_id":2}"#,
            r#"{"type":"call_ok","in_reply_to":2,"service":"svc","state":"closed"}"#,
        ),
        (
            300,
            r#"{"type":"acquire","msg_id":4,"service":"new"}"#,
            r#"{"type":"error","in_reply_to":4,"code":11,"text":"Circuit breaker OPEN","service":"new","retry_after_ms":5000}"#,
        ),
        (
            5300,
            r#"{"type":"acquire","msg_id":4,"service":"new"}"#,
            r#"{"type":"acquire_ok","in_reply_to":4,"service":"new","state":"half_open","permit":1}"#,
        ),
        (
            5300,
            r#"{"type":"events","msg_id":5,"service":"new"}"#,
            &events(
                5,
                r#"{"seq":1,"at_ms":300,"service":"new","from":"closed","to":"open","reason":"initial state of a new breaker"},{"seq":2,"at_ms":5300,"service":"new","from":"open","to":"half_open","reason":"open timeout of 5000 ms elapsed"}"#,
            ),
        ),
        (
            5400,
            r#"{"type":"configure","msg_id":1,"config":{"initial_state":"half_open"}}"#,
            &configured(r#","initial_state":"half_open""#),
        ),
        (
            5400,
            r#"{"type":"acquire","msg_id":4,"service":"other"}"#,
            r#"{"type":"acquire_ok","in_reply_to":4,"service":"other","state":"half_open","permit":2}"#,
        ),
        (
            5400,
            r#"{"type":"configure","msg_id":1,"config":{"initial_state":"ajar"}}"#,
            r#"{"type":"error","in_reply_to":1,"code":12,"text":"config.initial_state: expected \"closed\", \"open\" or \"half_open\", found \"ajar\""}"#,
        ),
    ]);
}

#[test]
fn cockatiel_isolation_holds_until_every_holder_releases() {
    // cockatiel's isolate(): each call returns a handle; the circuit stays isolated (rejecting
    // everything) until every handle has been disposed, then it closes. Here each `isolate` is
    // a holder and each `release` disposes of one; both work on a node without fixtures.
    let isolate = r#"{"type":"isolate","msg_id":3,"service":"svc"}"#;
    let release = r#"{"type":"release","msg_id":3,"service":"svc"}"#;
    let held = |kind: &str, holders: u32| {
        format!(r#"{{"type":"{kind}_ok","in_reply_to":3,"service":"svc","holders":{holders}}}"#)
    };
    let rejected = r#"{"type":"error","in_reply_to":4,"code":11,"text":"Circuit breaker OPEN","service":"svc"}"#;
    check_with(
        NO_FIXTURES,
        &[
            (0, ACQUIRE, &acquired("closed", 1)),
            (10, isolate, &held("isolate", 1)),
            (20, isolate, &held("isolate", 2)),
            (30, ACQUIRE, rejected),
            (40, release, &held("release", 1)),
            // One holder left: still isolated.
            (50, ACQUIRE, rejected),
            (60_000, ACQUIRE, rejected),
            (60_010, release, &held("release", 0)),
            (60_020, ACQUIRE, &acquired("closed", 2)),
            (
                60_030,
                release,
                r#"{"type":"error","in_reply_to":3,"code":12,"text":"service: not isolated (release needs a holder)"}"#,
            ),
            (
                60_040,
                r#"{"type":"events","msg_id":5}"#,
                &events(
                    5,
                    r#"{"seq":1,"at_ms":10,"service":"svc","from":"closed","to":"open","reason":"isolated"},{"seq":2,"at_ms":60010,"service":"svc","from":"open","to":"closed","reason":"released by the last holder of its isolation"}"#,
                ),
            ),
            (
                60_050,
                r#"{"type":"release","msg_id":3}"#,
                r#"{"type":"error","in_reply_to":3,"code":12,"text":"service: missing"}"#,
            ),
        ],
    );
}

fn record(permit: u32, outcome: &str, error: &str) -> String {
    let error = match error {
        "" => String::new(),
        text => format!(r#","error":"{text}""#),
    };
    format!(r#"{{"type":"record","msg_id":5,"permit":{permit},"outcome":"{outcome}"{error}}}"#)
}

fn recorded(state: &str, extra: &str) -> String {
    format!(r#"{{"type":"record_ok","in_reply_to":5,"service":"svc","state":"{state}"{extra}}}"#)
}

#[test]
fn polly_last_exception_rides_on_rejections_until_the_breaker_closes() {
    // Polly's classic `CircuitBreaker(2, TimeSpan.FromMinutes(1))`: `LastException` is set on
    // every handled exception, breaking or not; while the circuit is open a call fails with a
    // `BrokenCircuitException` whose inner exception is that last exception; `Reset()` (and any
    // close) sets `LastException` back to null. Here the exception is the `error` text of a
    // failed `record`, and it rides on rejections and `status` as `last_failure`.
    let configure = r#"{"type":"configure","msg_id":1,"config":{"failure_threshold":2,"open_timeout_ms":60000}}"#;
    let configured = r#"{"type":"configure_ok","in_reply_to":1,"config":{"failure_threshold":2,"open_timeout_ms":60000,"#;
    let status = r#"{"type":"status","msg_id":6,"service":"svc"}"#;
    let divide = "DivideByZeroException: Attempted to divide by zero.";
    let last =
        |at: u64, error: &str| format!(r#""last_failure":{{"at_ms":{at},"error":"{error}"}}"#);
    check(&[
        (0, configure, &format!("~{configured}")),
        // Closed, no failure yet: nothing to report (Polly: `LastException` is null).
        (1, status, "!last_failure"),
        (5, ACQUIRE, &acquired("closed", 1)),
        // Should_set_LastException_on_handling_exception_even_when_not_breaking.
        (10, &record(1, "failure", divide), &recorded("closed", "")),
        (11, status, &format!(r#"~{},"policy""#, last(10, divide))),
        (12, ACQUIRE, &acquired("closed", 2)),
        // Should_set_LastException_to_last_raised_exception_when_breaking.
        (
            20,
            &record(2, "failure", "TimeoutException"),
            &recorded(
                "open",
                r#","transition":{"from":"closed","to":"open","reason":"2 consecutive failures (threshold 2)"}"#,
            ),
        ),
        // Open: the rejection carries the exception that broke the circuit, as
        // `BrokenCircuitException.InnerException` does.
        (
            30,
            r#"{"type":"call","msg_id":7}"#,
            &format!(
                r#"{{"type":"error","in_reply_to":7,"error":"Circuit breaker OPEN","service":"svc",{}}}"#,
                last(20, "TimeoutException")
            ),
        ),
        (
            40,
            ACQUIRE,
            &format!(
                r#"{{"type":"error","in_reply_to":4,"code":11,"text":"Circuit breaker OPEN","service":"svc","retry_after_ms":59980,{}}}"#,
                last(20, "TimeoutException")
            ),
        ),
        (
            50,
            status,
            &format!(
                r#"~"retry_after_ms":59970,{},"policy""#,
                last(20, "TimeoutException")
            ),
        ),
        // Should_set_LastException_to_null_on_circuit_reset.
        (
            60,
            r#"{"type":"reset","msg_id":8,"service":"svc"}"#,
            r#"{"type":"reset_ok","in_reply_to":8,"service":"svc"}"#,
        ),
        (70, ACQUIRE, &acquired("closed", 3)),
        (
            80,
            &record(3, "failure", "SocketException"),
            &recorded("closed", ""),
        ),
        // A failure without a text keeps the last text (Polly v8 keeps the breaking exception
        // across handled results that are not exceptions).
        (90, ACQUIRE, &acquired("closed", 4)),
        (
            100,
            &record(4, "failure", ""),
            &recorded(
                "open",
                r#","transition":{"from":"closed","to":"open","reason":"2 consecutive failures (threshold 2)"}"#,
            ),
        ),
        (
            110,
            r#"{"type":"call","msg_id":7}"#,
            &format!(
                r#"{{"type":"error","in_reply_to":7,"error":"Circuit breaker OPEN","service":"svc",{}}}"#,
                last(80, "SocketException")
            ),
        ),
        // A successful probe closes the circuit, and closing forgets the exception (Polly's
        // half-open success resets the circuit the way `Reset()` does).
        (
            60_100,
            r#"{"type":"call","msg_id":7}"#,
            r#"{"type":"circuit_breaker_closed","in_reply_to":7,"service":"svc","state":"closed"}"#,
        ),
        (60_101, status, "!last_failure"),
        // The `call` fixture's failures carry a text too.
        (
            60_110,
            r#"{"type":"call","msg_id":7,"force_failures":1,"error":"HttpRequestException"}"#,
            r#"{"type":"call_failed","in_reply_to":7,"service":"svc","state":"closed","failures":1}"#,
        ),
        (
            60_120,
            status,
            &format!(r#"~{},"policy""#, last(60_110, "HttpRequestException")),
        ),
    ]);
}

#[test]
fn a_timed_close_starts_the_current_interval_cycle() {
    // gobreaker starts a new generation whenever the breaker enters closed, and a result that
    // comes after that generation's interval is dropped. A close that comes from the half_open
    // limit is applied on the next input: its cycle starts there, so a call admitted by that
    // input and recorded in a later cycle is stale, as any permit that outlives its cycle.
    let configure = r#"{"type":"configure","msg_id":1,"config":{"interval_ms":10000,"failure_threshold":2,"half_open_max_ms":250,"half_open_expiry":"closed"}}"#;
    check(&[
        (0, configure, "~configure_ok"),
        (
            9000,
            r#"{"type":"call","msg_id":2,"force_failures":2}"#,
            r#"{"type":"circuit_breaker_open","in_reply_to":2,"service":"svc","failures":2}"#,
        ),
        // Open until 14000, half_open until 14250, then closed (in the cycle from 10000).
        (14_300, ACQUIRE, &acquired("closed", 1)),
        (
            20_001,
            r#"{"type":"record","msg_id":6,"permit":1,"outcome":"failure"}"#,
            r#"{"type":"record_ok","in_reply_to":6,"service":"svc","state":"closed","stale":true}"#,
        ),
    ]);
}
