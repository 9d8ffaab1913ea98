//! `--state-file`: the node's state survives end of input, SIGTERM, SIGINT, SIGHUP, SIGQUIT and
//! `kill -9`, and a file that cannot be restored stops start-up without being touched.

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Live, host, lines, msg, reply, run, scratch, stderr};

/// An hour-long open period, so a restart on the system clock still finds the breaker open.
fn setup() -> Vec<String> {
    vec![
        msg(r#"{"type":"configure","msg_id":1,"config":{"open_timeout_ms":3600000}}"#),
        msg(r#"{"type":"call","msg_id":2,"force_failures":5}"#),
    ]
}

const OPENED: &str =
    r#"{"type":"circuit_breaker_open","in_reply_to":2,"service":"db","failures":5}"#;

/// A fresh host on `state`: the breaker must still reject, with its counters and config kept.
fn assert_restored(state: &str) {
    let input = [
        msg(r#"{"type":"call","msg_id":3}"#),
        msg(r#"{"type":"status","msg_id":4,"service":"db"}"#),
    ]
    .join("\n");
    let out = run(&["--state-file", state], input.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    let got = lines(&out);
    assert_eq!(
        got[0],
        reply(r#"{"type":"error","in_reply_to":3,"error":"Circuit breaker OPEN","service":"db"}"#)
    );
    assert!(got[1].contains(r#""state":"open","failures":5,"counts":{"successes":0,"failures":5,"rejections":1,"opened":1}"#), "{}", got[1]);
    assert!(
        got[1].contains(r#""open_timeout_ms":3600000"#),
        "{}",
        got[1]
    );
    assert_eq!(stderr(&out), "");
}

#[test]
fn every_way_of_ending_saves_the_state_and_a_restart_still_rejects() {
    let dir = scratch("persist-end");
    for ending in ["end of input", "SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT"] {
        let state = dir.join(format!("{}.json", ending.replace(' ', "-")));
        let state = state.to_str().unwrap();
        // No checkpoint while it runs: the file can only come from the exit.
        let mut live = Live::start(&["--state-file", state, "--checkpoint-ms", "3600000"]);
        let got = live.send(&setup(), 2);
        assert_eq!(got[1], reply(OPENED), "{ending}");
        let (status, err) = match ending {
            "end of input" => live.finish(),
            signal => {
                live.signal(&signal[3..]);
                live.wait_exit()
            }
        };
        assert!(status.success(), "{ending}: {status:?}");
        assert_eq!(err, "", "{ending}");
        assert_restored(state);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_state_file_that_cannot_be_restored_stops_start_up_and_is_left_as_it_is() {
    let dir = scratch("persist-bad");
    let state = dir.join("state.json");
    // A real snapshot, to cut and bend.
    let mut live = Live::start(&["--state-file", state.to_str().unwrap()]);
    live.send(&setup(), 2);
    assert!(live.finish().0.success());
    let good = std::fs::read_to_string(&state).unwrap();
    let truncated = &good[..good.len() / 2];
    let bent = good.replacen(r#""version":1"#, r#""version":7"#, 1);
    let no_defaults = good.replacen(r#""defaults":"#, r#""defaultz":"#, 1);
    for (name, contents, expect) in [
        ("empty", "", "not JSON: "),
        ("truncated", truncated, "not JSON: "),
        (
            "not an object",
            "[1,2]",
            "expected a snapshot object, found an array",
        ),
        (
            "two documents",
            "{} {}",
            "not JSON: trailing characters at line 1 column 4",
        ),
        (
            "unknown version",
            &bent,
            "snapshot.version: unsupported version 7 (this node reads version 1)",
        ),
        ("a missing field", &no_defaults, "snapshot.defaultz"),
        (
            "only a version",
            r#"{"version":1}"#,
            "snapshot.defaults: missing",
        ),
    ] {
        std::fs::write(&state, contents).unwrap();
        let out = run(
            &["--state-file", state.to_str().unwrap()],
            msg(r#"{"type":"call","msg_id":1}"#).as_bytes(),
        );
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(out.stdout.is_empty(), "{name}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        let head = format!(
            "breaker-host: cannot restore the state file {}: ",
            state.display()
        );
        assert!(
            err.starts_with(&head) && err.contains(expect),
            "{name}: {err}"
        );
        assert_eq!(
            std::fs::read_to_string(&state).unwrap(),
            contents,
            "{name}: the file must be left as it is"
        );
    }
    std::fs::write(&state, b"\xff\xfe{}").unwrap();
    let out = run(&["--state-file", state.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not UTF-8 (byte 0)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&state).unwrap(), b"\xff\xfe{}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Polls (the checkpoint timer is real time) until `path` holds `needle`.
fn wait_for_file(path: &std::path::Path, needle: &str) {
    let started = Instant::now();
    while !std::fs::read_to_string(path).is_ok_and(|s| s.contains(needle)) {
        assert!(
            // Generous: a checkpoint of tens of thousands of breakers on a starved machine.
            started.elapsed() < Duration::from_secs(60),
            "{} never held {needle}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn checkpoints_are_written_while_it_runs() {
    let dir = scratch("persist-checkpoint");
    let state = dir.join("state.json");
    let mut live = Live::start(&[
        "--state-file",
        state.to_str().unwrap(),
        "--checkpoint-ms",
        "10",
    ]);
    live.send(&setup(), 2);
    wait_for_file(&state, r#""service":"db","state":"open""#);
    // No exit handler runs: what is there came from a checkpoint.
    live.child.kill().unwrap();
    live.child.wait().unwrap();
    assert_restored(state.to_str().unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn kill_9_mid_stream_leaves_a_whole_state_file_that_loads() {
    let dir = scratch("persist-kill");
    let state = dir.join("state.json");
    let state_arg = state.to_str().unwrap().to_string();
    for kill_after in [2_000usize, 30_000, 90_000] {
        let _ = std::fs::remove_file(&state);
        let mut child = host(&[
            "--state-file",
            &state_arg,
            "--checkpoint-ms",
            "1",
            "--clock",
            "manual",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // Many distinct services: every checkpoint is megabytes, so a write is often under way.
        let writer = std::thread::spawn(move || {
            for i in 0..150_000u64 {
                let doc = format!(
                    r#"{{"src":"c","dest":"db","body":{{"type":"call","msg_id":{i},"service":"s{i}","force_failures":5}}}}"#
                );
                if writeln!(stdin, "{doc}").is_err() {
                    return;
                }
            }
        });
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        for _ in 0..kill_after {
            line.clear();
            std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
        }
        wait_for_file(&state, r#""version":1"#);
        child.kill().unwrap();
        child.wait().unwrap();
        drop(stdout);
        writer.join().unwrap();
        let status = msg(r#"{"type":"status","msg_id":1}"#);
        let out = run(
            &["--state-file", &state_arg, "--clock", "manual"],
            status.as_bytes(),
        );
        assert!(out.status.success(), "after {kill_after}: {}", stderr(&out));
        let got = lines(&out);
        assert_eq!(got.len(), 1);
        assert!(
            got[0].contains(r#""type":"status_ok","in_reply_to":1,"services":[{"service":"s"#),
            "{}",
            &got[0][..200]
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
