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
