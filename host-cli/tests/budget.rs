//! The memory budget end to end: legal but huge configurations get a clear refusal or
//! eviction, never code 13, and a breaker opened before the load is still open after a restart.

mod common;

use common::{Live, lines, msg, reply, run, scratch, stderr};

const WINDOW: &str = r#"{"kind":"count","size":100000,"minimum_calls":100,"failure_rate":50}"#;

#[test]
fn huge_windows_on_many_services_are_refused_or_evicted_and_a_restart_keeps_the_open_breaker() {
    let dir = scratch("budget-wedge");
    let state = dir.join("state.json");
    let state = state.to_str().unwrap();
    let mut live = Live::start(&["--state-file", state, "--checkpoint-ms", "200"]);
    let got = live.send(
        &[
            msg(r#"{"type":"configure","msg_id":1,"config":{"open_timeout_ms":3600000}}"#),
            msg(r#"{"type":"call","msg_id":2,"force_failures":5}"#),
            msg(&format!(
                r#"{{"type":"configure","msg_id":3,"config":{{"window":{WINDOW}}}}}"#
            )),
        ],
        3,
    );
    assert_eq!(
        got[2],
        reply(
            r#"{"type":"error","in_reply_to":3,"code":12,"text":"config.window: with a count window of 100000 calls, a breaker takes 25352 bytes, so the memory budget of 134217728 bytes holds 5294 breakers, fewer than max_services (100000); lower max_services to at most 5294, or give the node more memory"}"#
        )
    );
    let got = live.send(
        &[msg(&format!(
            r#"{{"type":"configure","msg_id":4,"config":{{"max_services":5294,"window":{WINDOW}}}}}"#
        ))],
        1,
    );
    assert!(got[0].contains("configure_ok"), "{}", got[0]);
    // Growing numbers of services, each building its window: never code 13.
    for round in 0..4 {
        let calls: Vec<String> = (0..1500)
            .map(|i| {
                let n = round * 1500 + i;
                msg(&format!(
                    r#"{{"type":"call","msg_id":{},"service":"s{n}","duration_ms":1}}"#,
                    1000 + n
                ))
            })
            .collect();
        for line in live.send(&calls, calls.len()) {
            assert!(line.contains(r#""type":"call_ok""#), "{line}");
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let got = live.send(&[msg(r#"{"type":"status","msg_id":5,"memory":true}"#)], 1);
    let used = number_after(&got[0], r#""used":"#);
    let left = number_after(&got[0], r#""left":"#);
    assert_eq!(
        used + left,
        134_217_728,
        "{}",
        &got[0][got[0].len() - 120..]
    );
    assert!(
        number_after(&got[0], r#""evicted":"#) > 0,
        "the budget forgot breakers"
    );
    assert!(
        got[0].contains(r#"{"service":"db","state":"open","#),
        "db was kept"
    );
    let (status, err) = live.finish();
    assert!(status.success(), "{err}");
    assert_eq!(err, "", "no checkpoint failed");
    // A restart finds db still open.
    let out = run(
        &["--state-file", state],
        msg(r#"{"type":"call","msg_id":6}"#).as_bytes(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        lines(&out),
        [reply(
            r#"{"type":"error","in_reply_to":6,"error":"Circuit breaker OPEN","service":"db"}"#
        )]
    );
}

#[test]
fn per_service_overrides_stop_at_their_bound() {
    let mut docs = vec![msg(
        r#"{"type":"configure","msg_id":1,"config":{"max_services":100}}"#,
    )];
    for i in 0..101 {
        docs.push(msg(&format!(
            r#"{{"type":"configure","msg_id":{},"service":"o{i}","config":{{"failure_threshold":2}}}}"#,
            10 + i
        )));
    }
    // Clearing one makes room for another.
    docs.push(msg(
        r#"{"type":"configure","msg_id":200,"service":"o0","config":{"failure_threshold":null}}"#,
    ));
    docs.push(msg(
        r#"{"type":"configure","msg_id":201,"service":"o100","config":{"failure_threshold":2}}"#,
    ));
    let out = run(&[], docs.join("\n").as_bytes());
    let got = lines(&out);
    assert_eq!(got.len(), 104);
    assert!(got[1..101].iter().all(|l| l.contains("configure_ok")));
    assert_eq!(
        got[101],
        reply(
            r#"{"type":"error","in_reply_to":110,"code":12,"text":"service: 100 services have an override already, as many as max_services allows; clear one (its fields set to null) first"}"#
        )
    );
    assert!(got[102].contains("configure_ok") && got[103].contains("configure_ok"));
}

/// The integer after `key` in `line`.
fn number_after(line: &str, key: &str) -> u64 {
    let at = line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len();
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

#[test]
fn an_override_flood_is_refused_past_its_bound_and_never_empties_the_node() {
    let dir = scratch("budget-overrides");
    let state = dir.join("state.json");
    let state = state.to_str().unwrap();
    let mut docs = vec![
        msg(r#"{"type":"configure","msg_id":1,"config":{"open_timeout_ms":3600000}}"#),
        msg(r#"{"type":"call","msg_id":2,"force_failures":5}"#),
    ];
    for i in 0..400_000 {
        docs.push(msg(&format!(
            r#"{{"type":"configure","msg_id":{},"service":"flood-{i}","config":{{"failure_threshold":3}}}}"#,
            10 + i
        )));
    }
    let out = run(
        &["--state-file", state, "--checkpoint-ms", "100"],
        docs.join("\n").as_bytes(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "no failure, no rebuild");
    let got = lines(&out);
    assert_eq!(got.len(), 400_002);
    let refused = got.iter().filter(|l| l.contains(r#""code":12"#)).count();
    assert_eq!(refused, 300_000);
    assert!(got.iter().all(|l| !l.contains(r#""code":13"#)));
    let out = run(
        &["--state-file", state],
        msg(r#"{"type":"call","msg_id":3}"#).as_bytes(),
    );
    assert_eq!(
        lines(&out),
        [reply(
            r#"{"type":"error","in_reply_to":3,"error":"Circuit breaker OPEN","service":"db"}"#
        )],
        "{}",
        stderr(&out)
    );
}
