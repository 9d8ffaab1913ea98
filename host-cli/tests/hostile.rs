//! Hostile input through `breaker-host`: each case is bytes in, the replies and stderr lines
//! expected, and every later valid message still answered correctly (the node's state intact).

mod common;

use common::{msg, reply, run, stderr};

/// Before every case: a breaker opens.
fn prelude() -> String {
    msg(r#"{"type":"call","msg_id":1,"force_failures":5}"#)
}

const OPENED: &str =
    r#"{"type":"circuit_breaker_open","in_reply_to":1,"service":"db","failures":5}"#;

/// After every case: the breaker still rejects, and a second service works.
fn epilogue() -> String {
    [
        msg(r#"{"type":"call","msg_id":98}"#),
        msg(r#"{"type":"call","msg_id":99,"service":"other"}"#),
    ]
    .join("\n")
}

fn epilogue_replies() -> [String; 2] {
    [
        reply(r#"{"type":"error","in_reply_to":98,"error":"Circuit breaker OPEN","service":"db"}"#),
        reply(r#"{"type":"call_ok","in_reply_to":99,"service":"other","state":"closed"}"#),
    ]
}

struct Case {
    name: &'static str,
    input: Vec<u8>,
    /// Reply bodies (from `db` to `c`), in order.
    replies: Vec<String>,
    /// One stderr line each, in order: a part each line must contain.
    stderr: Vec<&'static str>,
}

fn case(
    name: &'static str,
    input: impl Into<Vec<u8>>,
    replies: &[&str],
    stderr: &[&'static str],
) -> Case {
    Case {
        name,
        input: input.into(),
        replies: replies.iter().map(|b| reply(b)).collect(),
        stderr: stderr.to_vec(),
    }
}

fn check(cases: Vec<Case>) {
    for c in cases {
        let mut input = prelude().into_bytes();
        input.push(b'\n');
        input.extend_from_slice(&c.input);
        input.push(b'\n');
        input.extend_from_slice(epilogue().as_bytes());
        let out = run(&["--clock", "manual"], &input);
        assert!(out.status.success(), "{}: {:?}", c.name, out.status);
        let stdout = String::from_utf8(out.stdout.clone()).unwrap();
        let got: Vec<&str> = stdout.lines().collect();
        let mut expected = vec![reply(OPENED)];
        expected.extend(c.replies);
        expected.extend(epilogue_replies());
        assert_eq!(
            got.len(),
            expected.len(),
            "{}: {}",
            c.name,
            &stdout[..stdout.len().min(2000)]
        );
        for (g, e) in got.iter().zip(&expected) {
            assert!(
                g == e,
                "{}:\n got {}\nwant {e}",
                c.name,
                &g[..g.len().min(600)]
            );
        }
        let stderr = stderr(&out);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), c.stderr.len(), "{}: {stderr}", c.name);
        for (line, part) in lines.iter().zip(&c.stderr) {
            assert!(
                line.starts_with("breaker-host: ") && line.contains(part),
                "{}: {line:?} lacks {part:?}",
                c.name
            );
        }
    }
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn malformed_documents() {
    check(vec![
        case("truncated, then a newline", r#"{"src":"c","dest":"db","body":{"type":"call","msg_id":2"#, &[], &["stdin line 3, column 1: expected ',' or '}' in an object"]),
        case("invalid JSON", r#"{"src":"c",,"dest":"db"}"#, &[], &["stdin line 2, column 12: expected a string key"]),
        case("not an object", "[1,2,3]", &[], &["stdin line 2, column 1: expected '{' to start a document"]),
        case("invalid UTF-8 between documents", &b"\xff\xfe"[..], &[], &["stdin line 2, column 1: expected '{' to start a document"]),
        case(
            "invalid UTF-8 in a string",
            &b"{\"src\":\"c\",\"dest\":\"db\",\"body\":{\"type\":\"call\",\"msg_id\":2,\"service\":\"\xc3\x28\"}}"[..],
            &[],
            &["stdin line 2, column 68: invalid UTF-8 at byte 67"],
        ),
        case("a NUL byte between documents", &b"\0"[..], &[], &["stdin line 2, column 1: expected '{' to start a document"]),
        case(
            "a raw NUL in a string",
            &b"{\"src\":\"c\",\"dest\":\"db\",\"body\":{\"type\":\"call\",\"msg_id\":2,\"service\":\"a\0b\"}}"[..],
            &[],
            &["stdin line 2, column 69: control character in a string"],
        ),
        case(
            "an escaped NUL is a valid name",
            msg(r#"{"type":"call","msg_id":2,"service":"a\u0000b"}"#),
            &[r#"{"type":"call_ok","in_reply_to":2,"service":"a\u0000b","state":"closed"}"#],
            &[],
        ),
        case("duplicate keys in the envelope", r#"{"src":"c","dest":"db","dest":"x","body":{}}"#, &[], &["duplicate key \"dest\""]),
        case("duplicate keys in the body", msg(r#"{"type":"call","msg_id":2,"msg_id":3}"#), &[], &["stdin line 2, column 57: duplicate key \"msg_id\""]),
        case(
            "duplicate keys in a config",
            msg(r#"{"type":"configure","msg_id":2,"config":{"failure_threshold":2,"failure_threshold":3}}"#),
            &[],
            &["duplicate key \"failure_threshold\""],
        ),
    ]);
}

#[test]
fn deep_nesting_is_refused_without_exhausting_the_stack() {
    check(vec![
        case(
            "100,000 arrays in a body field",
            msg(&format!(
                r#"{{"type":"call","msg_id":2,"x":{}}}"#,
                nested(100_000)
            )),
            &[],
            &["nesting too deep"],
        ),
        case(
            "100,000 arrays as a document",
            nested(100_000),
            &[],
            &["stdin line 2, column 1: expected '{' to start a document"],
        ),
        case(
            "100,000 objects as a document",
            format!("{}1{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000)),
            &[],
            &["nesting too deep"],
        ),
    ]);
}

#[test]
fn numbers_out_of_range_and_of_the_wrong_kind() {
    let not_applied = "msg_id: expected an integer from 0 to 9007199254740991";
    check(vec![
        case(
            "msg_id beyond u64",
            msg(r#"{"type":"call","msg_id":18446744073709551616}"#),
            &[],
            &[not_applied],
        ),
        case(
            "msg_id 2^53",
            msg(r#"{"type":"call","msg_id":9007199254740992}"#),
            &[],
            &[not_applied],
        ),
        case(
            "msg_id negative",
            msg(r#"{"type":"call","msg_id":-1}"#),
            &[],
            &[not_applied],
        ),
        case(
            "msg_id a float",
            msg(r#"{"type":"call","msg_id":1.0}"#),
            &[],
            &[not_applied],
        ),
        case(
            "msg_id in exponent form",
            msg(r#"{"type":"call","msg_id":1e2}"#),
            &[],
            &[not_applied],
        ),
        case(
            "force_failures beyond u64",
            msg(
                r#"{"type":"call","msg_id":2,"service":"x","force_failures":18446744073709551616}"#,
            ),
            &[
                r#"{"type":"error","in_reply_to":2,"code":12,"text":"force_failures: expected an integer from 0 to 9007199254740991, found 18446744073709551616"}"#,
            ],
            &[],
        ),
        case(
            "force_failures a float",
            msg(r#"{"type":"call","msg_id":2,"service":"x","force_failures":2.5}"#),
            &[
                r#"{"type":"error","in_reply_to":2,"code":12,"text":"force_failures: expected an integer from 0 to 9007199254740991, found 2.5"}"#,
            ],
            &[],
        ),
        case(
            "force_failures 1e400",
            msg(r#"{"type":"call","msg_id":2,"service":"x","force_failures":1e400}"#),
            &[
                r#"{"type":"error","in_reply_to":2,"code":12,"text":"force_failures: expected an integer from 0 to 9007199254740991, found 1e400"}"#,
            ],
            &[],
        ),
        case(
            "a negative time",
            msg(r#"{"type":"advance_clock","msg_id":2,"ms":-1}"#),
            &[
                r#"{"type":"error","in_reply_to":2,"code":12,"text":"ms: expected an integer from 0 to 18446744073709551615, found -1"}"#,
            ],
            &[],
        ),
        case(
            "a config value beyond u64",
            msg(
                r#"{"type":"configure","msg_id":2,"config":{"open_timeout_ms":18446744073709551616}}"#,
            ),
            &[
                r#"{"type":"error","in_reply_to":2,"code":12,"text":"config.open_timeout_ms: expected an integer from 1 to 9007199254740991, found 18446744073709551616"}"#,
            ],
            &[],
        ),
    ]);
}

#[test]
fn huge_names() {
    let big = "n".repeat(1_000_000);
    let name_refused = "a service name is 1 to 256 bytes of UTF-8";
    check(vec![
        case(
            "a 1 MB service",
            msg(&format!(
                r#"{{"type":"call","msg_id":2,"service":"{big}"}}"#
            )),
            &[&format!(
                r#"{{"type":"error","in_reply_to":2,"code":12,"text":"service: {name_refused}"}}"#
            )],
            &[],
        ),
        case(
            "a 1 MB status query",
            msg(&format!(
                r#"{{"type":"status","msg_id":2,"service":"{big}"}}"#
            )),
            &[&format!(
                r#"{{"type":"error","in_reply_to":2,"code":12,"text":"service: {name_refused}"}}"#
            )],
            &[],
        ),
        case(
            "a 1 MB service without msg_id",
            msg(&format!(r#"{{"type":"call","service":"{big}"}}"#)),
            &[],
            &[name_refused],
        ),
        case(
            "a document over 1 MiB",
            msg(&format!(
                r#"{{"type":"call","msg_id":2,"service":"{big}{big}"}}"#
            )),
            &[],
            &["document larger than 1048576 bytes"],
        ),
    ]);
}

#[test]
fn the_end_of_time() {
    // The manual clock saturates at u64::MAX; traffic keeps being answered, in order.
    let max = u64::MAX;
    let input = [
        msg(r#"{"type":"advance_clock","msg_id":2,"ms":18446744073709551615}"#),
        msg(r#"{"type":"call","msg_id":3,"service":"late","force_failures":5}"#),
        msg(r#"{"type":"advance_clock","msg_id":4,"ms":18446744073709551615}"#),
        msg(r#"{"type":"status","msg_id":5}"#),
    ]
    .join("\n");
    let mut all = prelude().into_bytes();
    all.push(b'\n');
    all.extend_from_slice(input.as_bytes());
    all.extend_from_slice(b"\n");
    all.extend_from_slice(msg(r#"{"type":"call","msg_id":99,"service":"other"}"#).as_bytes());
    let out = run(&["--clock", "manual"], &all);
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let got: Vec<&str> = stdout.lines().collect();
    assert_eq!(got.len(), 6, "{stdout}");
    assert_eq!(
        got[1],
        reply(&format!(
            r#"{{"type":"advance_clock_ok","in_reply_to":2,"now_ms":{max}}}"#
        ))
    );
    assert_eq!(
        got[2],
        reply(r#"{"type":"circuit_breaker_open","in_reply_to":3,"service":"late","failures":5}"#)
    );
    assert_eq!(
        got[3],
        reply(&format!(
            r#"{{"type":"advance_clock_ok","in_reply_to":4,"now_ms":{max}}}"#
        ))
    );
    assert!(
        got[4].contains(r#""type":"status_ok","in_reply_to":5,"services":["#),
        "{}",
        got[4]
    );
    assert_eq!(
        got[5],
        reply(r#"{"type":"call_ok","in_reply_to":99,"service":"other","state":"closed"}"#)
    );
    assert_eq!(stderr(&out), "");
}

/// A real snapshot of a node with one open breaker (the prelude), to bend, and its one breaker.
fn snapshot() -> (String, String) {
    let input = format!(
        "{}\n{}\n",
        prelude(),
        msg(r#"{"type":"snapshot","msg_id":2}"#)
    );
    let out = run(&["--clock", "manual"], input.as_bytes());
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let line = stdout.lines().nth(1).unwrap();
    let snapshot = &line[line.find(r#""snapshot":"#).unwrap() + 11..line.len() - 2];
    let breakers = &snapshot
        [snapshot.find(r#""breakers":["#).unwrap() + 12..snapshot.find(r#"],"evicted""#).unwrap()];
    assert!(
        breakers.starts_with(
            r#"{"service":"db","state":"open","since":0,"until":5000,"failures":5,"trips""#
        ),
        "{breakers}"
    );
    (snapshot.to_string(), breakers.to_string())
}

fn restore(snapshot: &str) -> String {
    msg(&format!(
        r#"{{"type":"restore","msg_id":2,"snapshot":{snapshot}}}"#
    ))
}

fn refused(text: &str) -> String {
    format!(r#"{{"type":"error","in_reply_to":2,"code":12,"text":"{text}"}}"#)
}

#[test]
fn hostile_snapshots_are_refused_and_change_nothing() {
    let (snap, brk) = snapshot();
    let (snap, brk) = (snap.as_str(), brk.as_str());
    let breakers_of =
        |list: &[String]| snap.replacen(&format!("[{brk}]"), &format!("[{}]", list.join(",")), 1);
    let renamed = |i: usize| brk.replacen(r#""service":"db""#, &format!(r#""service":"x{i}""#), 1);
    let many_events: Vec<String> = (1..=2000)
        .map(|i| format!(r#"{{"seq":{i},"at_ms":0,"service":"db","from":"closed","to":"open","reason":{{"kind":"consecutive_failures","failures":5,"threshold":5}}}}"#))
        .collect();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong version",
            snap.replacen(r#""version":1"#, r#""version":2"#, 1),
            "snapshot.version: unsupported version 2 (this node reads version 1)",
        ),
        (
            "no version",
            snap.replacen(r#""version":1,"#, "", 1),
            "snapshot.version: missing",
        ),
        (
            "no breakers",
            snap.replacen(r#""breakers":"#, r#""breakerz":"#, 1),
            "snapshot.breakerz: unknown field",
        ),
        (
            "a missing breaker field",
            breakers_of(&[brk.replacen(r#""failures":5,"trips""#, r#""trips""#, 1)]),
            "snapshot.breakers[0].failures: missing",
        ),
        (
            "duplicate names",
            breakers_of(&[brk.to_string(), brk.to_string()]),
            r#"snapshot.breakers: duplicate service \"db\""#,
        ),
        (
            "beyond max_services",
            breakers_of(&(0..4).map(renamed).collect::<Vec<_>>()).replacen(
                r#""max_services":100000"#,
                r#""max_services":2"#,
                1,
            ),
            "snapshot.breakers: 4 breakers exceed max_services 2",
        ),
        (
            "a made-up state",
            breakers_of(&[brk.replacen(r#""state":"open""#, r#""state":"ajar""#, 1)]),
            "snapshot.breakers[0].state: expected a state",
        ),
        (
            "a negative count",
            breakers_of(&[brk.replacen(r#""failures":5,"trips""#, r#""failures":-5,"trips""#, 1)]),
            "snapshot.breakers[0].failures: expected an unsigned integer",
        ),
        (
            "a 300-byte name",
            breakers_of(&[brk.replacen(r#""db""#, &format!("\"{}\"", "n".repeat(300)), 1)]),
            "snapshot.breakers[0].service: expected 1 to 256 bytes",
        ),
        (
            "an open period that ends before it starts",
            breakers_of(&[brk.replacen(
                r#""since":0,"until":5000"#,
                r#""since":100,"until":0"#,
                1,
            )]),
            "snapshot.breakers[0].state: inconsistent open period",
        ),
        (
            "an unknown field",
            snap.replacen(r#""version":1"#, r#""version":1,"extra":1"#, 1),
            "snapshot.extra: unknown field",
        ),
        (
            "2,000 events",
            snap.replacen(r#""last_seq":1"#, r#""last_seq":2000"#, 1)
                .replacen(
                    &snap[snap.find(r#""events":"#).unwrap()..snap.len() - 1],
                    &format!(r#""events":[{}]"#, many_events.join(",")),
                    1,
                ),
            "snapshot.events: at most 1000",
        ),
        (
            "max_services 0",
            snap.replacen(r#""max_services":100000"#, r#""max_services":0"#, 1),
            "snapshot.defaults.max_services: expected an integer from 1 to 9007199254740991, found 0",
        ),
    ];
    let replies: Vec<String> = cases.iter().map(|(_, _, text)| refused(text)).collect();
    check(
        cases
            .iter()
            .zip(&replies)
            .map(|((name, snapshot, _), reply)| case(name, restore(snapshot), &[reply], &[]))
            .collect(),
    );
    // Not an object at all: refused (the exact wording of the path is the core's business).
    let out = run(
        &[],
        format!(
            "{}\n{}\n",
            restore("[]"),
            msg(r#"{"type":"status","msg_id":3}"#)
        )
        .as_bytes(),
    );
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let got: Vec<&str> = stdout.lines().collect();
    assert!(
        got[0].contains(r#""in_reply_to":2,"code":12,"text":"snapshot"#)
            && got[0].contains("expected an object"),
        "{}",
        got[0]
    );
    assert!(
        got[1].contains(r#""type":"status_ok","in_reply_to":3"#),
        "{}",
        got[1]
    );
}
