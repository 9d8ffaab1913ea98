//! The shared conformance transcript (`embed/conformance.jsonl`) through the Rust session.
//!
//! Each line is `{"now_ms":T,"send":<message>,"expect":[<reply lines>]}`. The whole file runs
//! top to bottom on one fresh session; the replies to each `send` must equal the `expect`
//! strings, each followed by `\n`, byte for byte. The Python and Node embeddings run the same
//! file through the WebAssembly module.
//!
//! The file is written in one fixed shape, so this test reads it without a JSON library: the
//! `send` object is taken verbatim from between `"send":` and `,"expect":[`, and the `expect`
//! array is a list of JSON strings.

use breaker_wasm::{Options, Session};

const TRANSCRIPT: &str = include_str!("../embed/conformance.jsonl");

struct Step<'a> {
    now_ms: u64,
    send: &'a str,
    expect: Vec<String>,
}

fn parse_line(line: &str) -> Step<'_> {
    let rest = line
        .strip_prefix("{\"now_ms\":")
        .expect("a line starts with {\"now_ms\":");
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .expect("now_ms is followed by more");
    let now_ms = rest[..digits].parse().expect("now_ms is an integer");
    let rest = rest[digits..]
        .strip_prefix(",\"send\":")
        .expect("now_ms is followed by \"send\"");
    // Escaped quotes inside the expected strings read `\"`, so this marker only occurs once.
    let split = rest.rfind(",\"expect\":[").expect("a line has \"expect\"");
    let send = &rest[..split];
    let array = rest[split + ",\"expect\":[".len()..]
        .strip_suffix("]}")
        .expect("a line ends with ]}");
    Step {
        now_ms,
        send,
        expect: json_strings(array),
    }
}

/// The JSON strings of a comma-separated list (the inside of an array of strings).
fn json_strings(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = list.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ',' | ' ' => continue,
            '"' => {}
            other => panic!("unexpected {other:?} in an expect array"),
        }
        let mut s = String::new();
        loop {
            match chars.next().expect("an unterminated string") {
                '"' => break,
                '\\' => match chars.next().expect("an escape") {
                    'n' => s.push('\n'),
                    't' => s.push('\t'),
                    'r' => s.push('\r'),
                    'b' => s.push('\u{8}'),
                    'f' => s.push('\u{c}'),
                    'u' => {
                        let hex: String = chars.by_ref().take(4).collect();
                        let unit = u32::from_str_radix(&hex, 16).expect("a \\u escape");
                        s.push(char::from_u32(unit).expect("a non-surrogate \\u escape"));
                    }
                    other => s.push(other), // \" \\ \/
                },
                other => s.push(other),
            }
        }
        out.push(s);
    }
    out
}

#[test]
fn the_shared_transcript_replies_byte_for_byte() {
    let mut session = Session::new(Options::default());
    let mut checked = 0;
    for (n, line) in TRANSCRIPT
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let step = parse_line(line);
        let got = String::from_utf8(session.handle(step.send.as_bytes(), step.now_ms).to_vec())
            .expect("UTF-8 replies");
        let want: String = step.expect.iter().map(|l| format!("{l}\n")).collect();
        assert_eq!(got, want, "conformance.jsonl line {}: {}", n + 1, step.send);
        checked += 1;
    }
    assert!(checked >= 50, "the transcript has {checked} lines");
}

#[test]
fn the_transcript_starts_with_the_tasks_three_examples() {
    let steps: Vec<Step> = TRANSCRIPT.lines().take(3).map(parse_line).collect();
    assert_eq!(
        steps[0].expect,
        [
            r#"{"src":"service-b","dest":"service-a","body":{"type":"circuit_breaker_open","in_reply_to":1,"service":"service-b","failures":5}}"#
        ]
    );
    assert_eq!(
        steps[1].expect,
        [
            r#"{"src":"service-b","dest":"service-a","body":{"type":"error","in_reply_to":2,"error":"Circuit breaker OPEN","service":"service-b"}}"#
        ]
    );
    assert_eq!(
        steps[2].expect,
        [
            r#"{"src":"service-b","dest":"service-a","body":{"type":"circuit_breaker_closed","in_reply_to":3,"service":"service-b","state":"closed"}}"#
        ]
    );
}
