use super::*;
use crate::Options;

/// What the host did before the stream was one pass: the splitter over the whole input, each
/// document handed to the node on its own, its diagnostics moved to the stream's lines.
fn framed_then_handled(input: &[u8], max: usize) -> (String, Vec<String>, u64) {
    let mut session = Session::new(Options::default());
    let mut splitter = Splitter::new(max);
    let (mut out, mut diagnostics, mut documents) = (String::new(), Vec::new(), 0);
    splitter.push(input);
    loop {
        let frame = match splitter.next_frame() {
            Some(frame) => frame,
            None => match splitter.finish() {
                Some(frame) => frame,
                None => break,
            },
        };
        match frame {
            Frame::Doc { bytes, line } => {
                documents += 1;
                out.push_str(std::str::from_utf8(session.handle(bytes, 7)).unwrap());
                for d in String::from_utf8_lossy(session.diagnostics()).lines() {
                    let rest = d.strip_prefix("line ").unwrap();
                    let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap();
                    let n: u64 = rest[..digits].parse().unwrap();
                    diagnostics.push(format!("line {}{}", line + n - 1, &rest[digits..]));
                }
            }
            Frame::Error {
                line,
                column,
                message,
            } => diagnostics.push(format!("line {line}, column {column}: {message}")),
        }
    }
    (out, diagnostics, documents)
}

/// The same input fed to the stream in chunks of `chunk` bytes.
fn streamed(input: &[u8], chunk: usize, max: usize) -> (String, Vec<String>, u64) {
    let mut session = Session::new(Options::default());
    session.set_max_document(max);
    let (mut out, mut diagnostics, mut documents) = (String::new(), Vec::new(), 0);
    let mut take = |session: &Session, replies: &[u8]| {
        out.push_str(std::str::from_utf8(replies).unwrap());
        let text = String::from_utf8_lossy(session.diagnostics()).into_owned();
        diagnostics.extend(text.lines().map(str::to_string));
        documents += session.documents();
    };
    for piece in input.chunks(chunk) {
        let replies = session.feed(piece, 7).to_vec();
        take(&session, &replies);
    }
    let replies = session.end_stream().to_vec();
    take(&session, &replies);
    (out, diagnostics, documents)
}

fn call(id: u64, service: &str) -> String {
    format!(
        r#"{{"src":"c","dest":"{service}","body":{{"type":"call","msg_id":{id},"force_failures":1}}}}"#
    )
}

/// Good documents, pretty-printed ones, and every kind of broken input, in one stream.
fn mixed() -> Vec<u8> {
    let mut s = String::new();
    for i in 0..20 {
        s.push_str(&call(i, &format!("s{}", i % 3)));
        s.push('\n');
    }
    s.push_str("{\n  \"src\": \"c\",\n  \"dest\": \"p\",\n  \"body\": {\"type\": \"status\", \"msg_id\": 100}\n}\n");
    s.push_str("not json\n");
    s.push_str(&call(101, "a"));
    s.push_str(" {\"src\":\"c\",\"dest\":\"d\",\"body\":{\"type\":\"call\",\"msg_id\":1.5}}\n");
    s.push_str("{\"a\": [1, 2\n");
    s.push_str(&call(102, "a"));
    s.push_str("\n{\"src\":\"c\",\"src\":\"d\",\"dest\":\"e\",\"body\":{}}\n");
    s.push_str("{\n  \"a\": 1\n  \"b\": 2\n}\n");
    s.push_str(&format!(
        "{{\"src\":\"c\",\"dest\":\"big\",\"body\":{{\"type\":\"call\",\"pad\":\"{}\"}}}}\n",
        "x".repeat(700)
    ));
    s.push_str("{\"a\":\n{\"b\": 1 \"c\": 2}}\n");
    s.push_str(&call(103, "é-service"));
    s.push_str("\n{\"src\":\"c\",\"dest\":\"d\",\"body\":{\"type\":\"nope\",\"msg_id\":5}}");
    s.push_str(&call(104, "b"));
    let mut bytes = s.into_bytes();
    bytes.extend_from_slice(b"\n{\"src\":\"\xff\",\"dest\":\"d\",\"body\":{}}\n");
    bytes.extend_from_slice(call(105, "z").as_bytes());
    bytes.extend_from_slice(b"\n{\"src\":\"c\",\"dest\":\"d\",");
    bytes
}

#[test]
fn any_chunking_gives_what_framing_then_handling_gave() {
    let input = mixed();
    let expected = framed_then_handled(&input, 512);
    assert_eq!(expected.2, 30, "{:#?}", expected.1);
    eprintln!("{:#?}", expected.1);
    assert!(expected.1.len() >= 9, "{:#?}", expected.1);
    for chunk in [1, 2, 3, 5, 7, 64, 100, 4096, input.len()] {
        assert_eq!(streamed(&input, chunk, 512), expected, "chunks of {chunk}");
    }
}

#[test]
fn an_oversized_document_is_never_held_whole() {
    let big = format!("{}\n{}\n", call(1, &"x".repeat(100_000)), call(2, "a"));
    let mut session = Session::new(Options::default());
    session.set_max_document(1000);
    let mut replies = String::new();
    for piece in big.as_bytes().chunks(4096) {
        replies.push_str(std::str::from_utf8(session.feed(piece, 0)).unwrap());
        assert!(session.stream_state().len() < 4 * 4096 + 1000);
    }
    assert_eq!(replies.lines().count(), 1, "{replies}");
    assert!(replies.contains(r#""in_reply_to":2"#), "{replies}");
}

#[test]
fn a_saved_stream_state_carries_on_in_another_session() {
    let input = mixed();
    let whole = streamed(&input, 37, 512);
    for cut in [1, 100, 1000, input.len() / 2, input.len() - 3] {
        let mut first = Session::new(Options::default());
        first.set_max_document(512);
        let mut out = String::from_utf8(first.feed(&input[..cut], 7).to_vec()).unwrap();
        let mut diagnostics: Vec<String> = String::from_utf8_lossy(first.diagnostics())
            .lines()
            .map(str::to_string)
            .collect();
        // A fresh session with the stream's saved state (and the node, which a host carries
        // over by snapshot) carries on as if nothing had happened.
        let saved = first.stream_state();
        let mut second = Session::new(Options::default());
        std::mem::swap(&mut second.node, &mut first.node);
        second.set_stream_state(&saved).unwrap();
        out.push_str(std::str::from_utf8(second.feed(&input[cut..], 7)).unwrap());
        diagnostics.extend(
            String::from_utf8_lossy(second.diagnostics())
                .lines()
                .map(str::to_string),
        );
        second.end_stream();
        diagnostics.extend(
            String::from_utf8_lossy(second.diagnostics())
                .lines()
                .map(str::to_string),
        );
        assert_eq!(
            (out, diagnostics),
            (whole.0.clone(), whole.1.clone()),
            "cut at {cut}"
        );
    }
}
