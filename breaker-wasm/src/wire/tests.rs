//! Transcripts through the whole wire layer: documents in, exact bytes out.

use super::Session;
use crate::node::Options;

/// Feeds `(now_ms, input)` pairs to a fresh session and returns every reply and diagnostic.
fn run(options: Options, script: &[(u64, &str)]) -> (String, String) {
    let mut s = Session::new(options);
    let (mut out, mut diags) = (String::new(), String::new());
    for (now, input) in script {
        out.push_str(std::str::from_utf8(s.handle(input.as_bytes(), *now)).unwrap());
        diags.push_str(std::str::from_utf8(s.diagnostics()).unwrap());
    }
    (out, diags)
}

/// Checks that the replies to `script` are exactly `expected` (one per line) with no diagnostics.
fn check(script: &[(u64, &str)], expected: &str) {
    let (out, diags) = run(Options::default(), script);
    assert_eq!(diags, "", "unexpected diagnostics");
    let want: String = expected
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(out, want);
}

#[test]
fn the_tasks_three_examples() {
    check(
        &[
            (
                0,
                r#"{"src":"service-a","dest":"service-b","body":{"type":"call","msg_id":1,"force_failures":5}}"#,
            ),
            (
                0,
                r#"{"src":"service-a","dest":"service-b","body":{"type":"call","msg_id":2,"state":"open"}}"#,
            ),
            (
                0,
                r#"{"src":"service-a","dest":"service-b","body":{"type":"call","msg_id":3,"state":"half_open","force_success":true}}"#,
            ),
        ],
        r#"
        {"src":"service-b","dest":"service-a","body":{"type":"circuit_breaker_open","in_reply_to":1,"service":"service-b","failures":5}}
        {"src":"service-b","dest":"service-a","body":{"type":"error","in_reply_to":2,"error":"Circuit breaker OPEN","service":"service-b"}}
        {"src":"service-b","dest":"service-a","body":{"type":"circuit_breaker_closed","in_reply_to":3,"service":"service-b","state":"closed"}}
        "#,
    );
}

fn doc(body: &str) -> String {
    format!(r#"{{"src":"c","dest":"db","body":{body}}}"#)
}

#[test]
fn a_failure_text_is_validated_cut_and_kept_in_snapshots() {
    let long = "é".repeat(300);
    let script = [
        doc(r#"{"type":"record","msg_id":1,"permit":1,"outcome":"failure","error":42}"#),
        // An escaped text goes through the general reader; the breaker keeps it unescaped.
        doc(r#"{"type":"call","msg_id":2,"force_failures":4,"error":"bad \"gateway\""}"#),
        doc(r#"{"type":"status","msg_id":3,"service":"db"}"#),
        doc(&format!(
            r#"{{"type":"call","msg_id":4,"force_failures":1,"error":"{long}"}}"#
        )),
        doc(r#"{"type":"call","msg_id":5}"#),
        doc(r#"{"type":"snapshot","msg_id":6}"#),
    ];
    let script: Vec<(u64, &str)> = script.iter().map(|d| (7, d.as_str())).collect();
    let (out, diags) = run(Options::default(), &script);
    assert_eq!(diags, "");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains(r#""code":12,"text":"error: expected a string, found a number"#),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains(r#""type":"call_failed""#));
    // Below the threshold the text is kept, and `status` shows it.
    let kept = r#""last_failure":{"at_ms":7,"error":"bad \"gateway\""},"policy""#;
    assert!(lines[2].contains(kept), "{}", lines[2]);
    assert!(lines[3].contains(r#""type":"circuit_breaker_open""#));
    // 300 two-byte characters are cut to the 128 that fit in 256 bytes.
    let cut = "é".repeat(128);
    let rejection = format!(
        r#"{{"type":"error","in_reply_to":5,"error":"Circuit breaker OPEN","service":"db","last_failure":{{"at_ms":7,"error":"{cut}"}}}}"#
    );
    assert!(
        lines[4].ends_with(&format!("{rejection}}}")),
        "{}",
        lines[4]
    );
    let snapshot = lines[5]
        .split_once(r#""snapshot":"#)
        .map(|(_, s)| s.trim_end_matches("}}"))
        .unwrap();
    assert!(snapshot.contains(&format!(r#""last_failure":{{"at_ms":7,"error":"{cut}"}}"#)));
    // A restored node rejects with the same text.
    let restore = doc(&format!(
        r#"{{"type":"restore","msg_id":1,"snapshot":{snapshot}}}"#
    ));
    let call = doc(r#"{"type":"call","msg_id":5}"#);
    let (out, _) = run(Options::default(), &[(7, &restore), (8, &call)]);
    assert!(out.ends_with(&format!("{rejection}}}\n")), "{out}");
    // A snapshot's text longer than the bound is refused, naming it.
    let forged = snapshot.replace(&cut, &long);
    let restore = doc(&format!(
        r#"{{"type":"restore","msg_id":1,"snapshot":{forged}}}"#
    ));
    let (out, _) = run(Options::default(), &[(7, &restore)]);
    assert!(
        out.contains(r#"last_failure.error: longer than 256 bytes"#),
        "{out}"
    );
}

#[test]
fn an_escaped_failure_text_is_kept_unescaped() {
    let (out, _) = run(
        Options::default(),
        &[
            (
                0,
                &doc(
                    r#"{"type":"call","msg_id":1,"force_failures":5,"error":"bad \"gateway\" \u00e9"}"#,
                ),
            ),
            (1, &doc(r#"{"type":"acquire","msg_id":2}"#)),
        ],
    );
    assert!(
        out.ends_with(
            r#""retry_after_ms":4999,"last_failure":{"at_ms":0,"error":"bad \"gateway\" é"}}}
"#
        ),
        "{out}"
    );
}
