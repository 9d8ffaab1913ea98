//! Whatever the node writes, it can restore with the same options: a node of 200,000 breakers,
//! and one of 1,000,000 (`max_services` 1,000,000), restart from the state files they wrote.
//! Restoring reads the snapshot level by level, never as a tree of the whole document, so it
//! needs no more guest memory than writing it did.

mod common;

use common::{lines, msg, run, scratch, stderr};

/// Runs `services` breakers (every tenth opened) with `options`, stops, restarts from the state
/// file with the same options, and checks the first and last breakers came back as they were.
fn written_state_restores(services: usize, options: &[&str]) {
    let dir = scratch(&format!("restore-{services}"));
    let state = dir.join("state.json");
    let mut args = vec!["--clock", "manual", "--state-file", state.to_str().unwrap()];
    args.extend_from_slice(options);

    let mut input = msg(r#"{"type":"configure","config":{"max_services":1000000}}"#);
    input.push('\n');
    for i in 0..services {
        let failures = if i % 10 == 0 {
            r#","force_failures":5"#
        } else {
            ""
        };
        input.push_str(&format!(
            "{{\"src\":\"c\",\"dest\":\"svc-{i}\",\"body\":{{\"type\":\"call\"{failures}}}}}\n"
        ));
    }
    let out = run(&args, input.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "writing {services} breakers");

    let last = services - 1;
    let status = format!(
        "{}\n{}\n",
        msg(r#"{"type":"status","msg_id":1,"service":"svc-0"}"#),
        msg(&format!(
            r#"{{"type":"status","msg_id":2,"service":"svc-{last}"}}"#
        )),
    );
    let out = run(&args, status.as_bytes());
    assert!(
        out.status.success(),
        "restoring {services} breakers: {}",
        stderr(&out)
    );
    let replies = lines(&out);
    assert_eq!(replies.len(), 2, "{}", stderr(&out));
    assert!(
        replies[0].contains(r#""service":"svc-0","state":"open","failures":5"#),
        "{}",
        replies[0]
    );
    let closed = format!(r#""service":"svc-{last}","state":"closed","failures":0"#);
    assert!(replies[1].contains(&closed), "{}", replies[1]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `max_services` 1,000,000 needs a memory budget (half the guest's memory) that holds a
/// million breakers, so both nodes run with 1 GiB; the same limit must then be enough to
/// restore what they wrote.
const OPTIONS: &[&str] = &["--max-guest-memory-mib", "1024"];

#[test]
fn a_node_of_200_000_breakers_restarts_from_its_state_file() {
    written_state_restores(200_000, OPTIONS);
}

#[test]
fn a_node_of_1_000_000_breakers_restarts_from_its_state_file() {
    written_state_restores(1_000_000, OPTIONS);
}
