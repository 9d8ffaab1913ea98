//! Load: a million messages answered exactly once each, and a million distinct services under
//! the default bound (100,000 breakers) in bounded memory.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;

use common::{host, msg, without_transitions};

/// Streams `docs` to a host on the manual clock and hands every stdout line to `each`; before
/// closing stdin, reads the host's peak resident memory (VmHWM, in KiB).
fn stream(
    docs: impl Iterator<Item = String> + Send + 'static,
    mut each: impl FnMut(usize, &str),
) -> u64 {
    let mut child = host(&["--clock", "manual"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read all along: every transition is a line there, and a full pipe would stop the node.
    let mut err = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        err.read_to_end(&mut bytes).unwrap();
        bytes
    });
    let mut stdin = std::io::BufWriter::new(child.stdin.take().unwrap());
    let writer = std::thread::spawn(move || {
        for doc in docs {
            stdin.write_all(doc.as_bytes()).unwrap();
            stdin.write_all(b"\n").unwrap();
        }
        // The last message: its reply says everything before it was handled.
        stdin
            .write_all(msg(r#"{"type":"status","msg_id":9007199254740991}"#).as_bytes())
            .unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
        stdin
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut n = 0;
    loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "stdout ended early, after {n} lines"
        );
        if line.contains(r#""in_reply_to":9007199254740991,"#) {
            each(usize::MAX, &line);
            break;
        }
        each(n, line.trim_end());
        n += 1;
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap();
    let kib: u64 = hwm.trim().trim_end_matches("kB").trim().parse().unwrap();
    drop(writer.join().unwrap());
    assert!(child.wait().unwrap().success());
    assert_eq!(without_transitions(&stderr.join().unwrap()), "");
    kib
}

#[test]
fn a_million_messages_are_answered_exactly_once_in_order() {
    let docs = (0..1_000_000u64).map(|i| {
        let s = i % 5000;
        msg(&match i % 5 {
            0 => format!(r#"{{"type":"call","msg_id":{i},"service":"s{s}"}}"#),
            1 => format!(r#"{{"type":"call","msg_id":{i},"service":"s{s}","force_failures":1}}"#),
            2 => format!(r#"{{"type":"acquire","msg_id":{i},"service":"s{s}"}}"#),
            3 => format!(r#"{{"type":"record","msg_id":{i},"service":"s{s}","permit":{},"outcome":"success"}}"#, i / 5),
            _ => format!(r#"{{"type":"status","msg_id":{i},"service":"s{s}"}}"#),
        })
    });
    let mut count = 0;
    let kib = stream(docs, |i, line| {
        if i == usize::MAX {
            return;
        }
        let tag = format!(r#""in_reply_to":{i},"#);
        assert!(line.contains(&tag), "reply {i}: {line}");
        count += 1;
    });
    assert_eq!(count, 1_000_000);
    eprintln!("a million messages: peak RSS {} MiB", kib / 1024);
}

#[test]
fn a_million_distinct_services_keep_memory_bounded() {
    let docs = (0..1_000_000u64).map(|i| {
        msg(&format!(
            r#"{{"type":"call","msg_id":{i},"service":"service-{i}","force_failures":{}}}"#,
            i % 7
        ))
    });
    let mut last = String::new();
    let kib = stream(docs, |i, line| {
        if i == usize::MAX {
            last = line.to_string();
        }
    });
    assert!(
        last.ends_with(r#""evicted":900000}}"#)
            || last.trim_end().ends_with(r#""evicted":900000}}"#),
        "{}",
        &last[last.len() - 100..]
    );
    assert_eq!(last.matches(r#"{"service":"#).count(), 100_000);
    eprintln!("a million distinct services: peak RSS {} MiB", kib / 1024);
    assert!(kib < 512 * 1024, "peak RSS {kib} KiB");
}
