//! Start-up checks: every file the node is given is a regular file read within a bound, the
//! state file's directory must exist and be writable, its lock keeps a second node off it, a
//! symbolic link is resolved once, and every refusal is exactly one line on stderr.

mod common;

use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Live, host, msg, reply, run, scratch, stderr};

/// Runs the host with an empty stdin and waits at most 5 s for it to exit (a refusal is
/// immediate; the bound only keeps a blocked host from hanging the test run).
fn start(args: &[&str]) -> Output {
    let child = host(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_at_most(child, Duration::from_secs(5))
}

fn wait_at_most(mut child: Child, limit: Duration) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!("still running after {limit:?}; stderr: {}", stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// The one stderr line of a refusal with exit code `code`.
fn refused(out: &Output, code: i32) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(out.stdout.is_empty());
    assert_eq!(err.lines().count(), 1, "exactly one line: {err:?}");
    err.trim_end().to_string()
}

#[test]
fn a_state_file_in_a_missing_or_unwritable_directory_refuses_to_start() {
    let dir = scratch("startup-dir");
    let missing = dir.join("missing/state.json");
    let out = start(&["--state-file", missing.to_str().unwrap()]);
    assert_eq!(
        refused(&out, 1),
        format!(
            "breaker-host: cannot use the state file {}: its directory {} does not exist",
            missing.display(),
            dir.join("missing").display()
        )
    );
    // /proc refuses new files even to root.
    let out = start(&["--state-file", "/proc/breaker-state.json"]);
    let line = refused(&out, 1);
    assert!(
        line.starts_with("breaker-host: cannot use the state file /proc/breaker-state.json: its directory /proc is not writable ("),
        "{line}"
    );
}

#[test]
fn a_second_node_on_the_same_state_file_refuses_to_start_naming_it() {
    let dir = scratch("startup-lock");
    let state = dir.join("state.json");
    let state = state.to_str().unwrap();
    let mut first = Live::start(&["--state-file", state]);
    let got = first.send(
        &[msg(
            r#"{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}"#,
        )],
        1,
    );
    assert_eq!(got, [reply(r#"{"type":"init_ok","in_reply_to":1}"#)]);
    let out = start(&["--state-file", state]);
    assert_eq!(
        refused(&out, 1),
        format!(
            "breaker-host: cannot use the state file {state}: another breaker-host is using it (it holds the lock {})",
            dir.join(".state.json.lock").display()
        )
    );
    let (status, err) = first.finish();
    assert!(status.success(), "{err}");
    // Once the first has gone, the file is free again.
    let out = run(&["--state-file", state], b"");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn files_that_are_not_regular_files_are_refused_at_once() {
    let dir = scratch("startup-kinds");
    let fifo = dir.join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let fifo = fifo.to_str().unwrap();
    for (option, path, what) in [
        ("--state-file", "/dev/zero", "a character device"),
        ("--state-file", fifo, "a FIFO"),
        ("--config", "/dev/zero", "a character device"),
        ("--config", fifo, "a FIFO"),
        ("--module", "/dev/zero", "a character device"),
        ("--module", fifo, "a FIFO"),
        ("--config", dir.to_str().unwrap(), "a directory"),
    ] {
        let out = start(&[option, path]);
        let line = refused(&out, 1);
        assert!(
            line.contains(&format!("{path}: "))
                && line.ends_with(&format!(": not a regular file ({what})")),
            "{option} {path}: {line}"
        );
    }
}

#[test]
fn oversized_files_are_refused_without_reading_them_whole() {
    let dir = scratch("startup-size");
    let config = dir.join("config.json");
    let mut text = String::from("{\"failure_threshold\":3");
    text.push_str(&" ".repeat(2 << 20));
    text.push('}');
    std::fs::write(&config, text).unwrap();
    let out = start(&["--config", config.to_str().unwrap()]);
    assert_eq!(
        refused(&out, 1),
        format!(
            "breaker-host: cannot read the config file {}: larger than 1048576 bytes, the most it may hold",
            config.display()
        )
    );
    // A state file larger than the guest may hold could never be restored.
    let state = dir.join("state.json");
    std::fs::write(&state, vec![b' '; 2 << 20]).unwrap();
    let out = start(&[
        "--state-file",
        state.to_str().unwrap(),
        "--max-guest-memory-mib",
        "1",
    ]);
    let line = refused(&out, 1);
    assert!(
        line.ends_with("larger than 1048576 bytes, the most it may hold"),
        "{line}"
    );
}

#[test]
fn a_symbolic_link_is_resolved_once_and_its_target_replaced() {
    let dir = scratch("startup-link");
    let target = dir.join("target.json");
    let link = dir.join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = start(&["--state-file", link.to_str().unwrap()]);
    let line = refused(&out, 1);
    assert!(
        line.contains("link.json: a symbolic link that leads to no file"),
        "{line}"
    );
    let input = msg(r#"{"type":"call","msg_id":1,"force_failures":5}"#);
    let first = run(
        &["--state-file", target.to_str().unwrap()],
        input.as_bytes(),
    );
    assert!(first.status.success(), "{}", stderr(&first));
    let before = std::fs::read_to_string(&target).unwrap();
    let out = run(&["--state-file", link.to_str().unwrap()], input.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link was replaced by a plain file"
    );
    let after = std::fs::read_to_string(&target).unwrap();
    assert_ne!(before, after, "the target was not updated through the link");
}

#[test]
fn every_start_up_error_is_one_line() {
    let dir = scratch("startup-lines");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, b"{\"failure_threshold\":0}").unwrap();
    for (args, code) in [
        (vec!["--no-such-option"], 2),
        (vec!["--clock", "sundial"], 2),
        (vec!["--max-message-bytes", "0"], 2),
        (vec!["--config", bad.to_str().unwrap()], 1),
        (vec!["--config", "/nonexistent/config.json"], 1),
        (vec!["--module", bad.to_str().unwrap()], 1),
    ] {
        let out = start(&args);
        let line = refused(&out, code);
        assert!(line.starts_with("breaker-host: "), "{args:?}: {line}");
    }
}
