//! How the node ends when something outside it fails: a broken stderr or stdout, a full disk, a
//! guest that cannot be rebuilt, a signal in the middle of a recovery. It never trades saved
//! state for less, and the exit code says when the latest state was not saved.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Live, host, lines, msg, reply, run, scratch, stderr, trap_module};

const OPENED: &str =
    r#"{"type":"circuit_breaker_open","in_reply_to":2,"service":"db","failures":5}"#;

/// An hour-long open period for `db`, so a restart on the system clock still finds it open.
fn open_db() -> Vec<String> {
    vec![
        msg(r#"{"type":"configure","msg_id":1,"config":{"open_timeout_ms":3600000}}"#),
        msg(r#"{"type":"call","msg_id":2,"force_failures":5}"#),
    ]
}

/// Whether a fresh host on `state` finds `db` open.
fn db_is_open(state: &str) -> bool {
    let out = run(
        &["--state-file", state],
        msg(r#"{"type":"status","msg_id":9,"service":"db"}"#).as_bytes(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    lines(&out)[0].contains(r#""state":"open""#)
}

#[test]
fn a_broken_stderr_drops_diagnostics_not_replies() {
    let mut child = host(&[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader of stderr goes away before the first diagnostic.
    drop(child.stderr.take());
    let mut stdin = child.stdin.take().unwrap();
    let input = ["not json".to_string(), msg(r#"{"type":"call","msg_id":1}"#)].join("\n");
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        lines(&out),
        [reply(
            r#"{"type":"call_ok","in_reply_to":1,"service":"db","state":"closed"}"#
        )]
    );
}

#[test]
fn a_broken_stdout_ends_the_node_after_its_final_checkpoint() {
    let dir = scratch("endings-stdout");
    let state = dir.join("state.json");
    let state = state.to_str().unwrap();
    let mut child = host(&["--state-file", state, "--checkpoint-ms", "3600000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdin
        .write_all((open_db().join("\n") + "\n").as_bytes())
        .unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    stdout.read_line(&mut line).unwrap();
    assert!(line.ends_with(&(reply(OPENED) + "\n")), "{line}");
    // The reader goes away; the next reply cannot be delivered.
    drop(stdout);
    let more = msg(r#"{"type":"call","msg_id":3,"service":"other","force_failures":5}"#);
    stdin.write_all((more + "\n").as_bytes()).unwrap();
    let out = wait_at_most(child, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    drop(stdin);
    assert!(db_is_open(state));
}

#[test]
fn a_full_disk_keeps_the_old_file_and_the_exit_code_says_the_state_was_not_saved() {
    let dir = scratch("endings-full");
    let state = dir.join("state.json");
    let state = state.to_str().unwrap();
    let out = run(&["--state-file", state], open_db().join("\n").as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    let good = std::fs::read(state).unwrap();
    // Files this process writes may not grow past 64 KiB (a disk that fills up); SIGXFSZ is
    // ignored, so a write past it fails with EFBIG, as on a full disk.
    let mut cmd = host(&["--state-file", state, "--checkpoint-ms", "20"]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 64 << 10,
                rlim_max: 64 << 10,
            };
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.stderr(Stdio::piped());
    let mut live = Live::spawn(cmd);
    // Enough breakers that the snapshot outgrows the limit.
    let calls: Vec<String> = (0..2000)
        .map(|i| {
            msg(&format!(
                r#"{{"type":"call","service":"a-long-service-name-{i:06}"}}"#
            ))
        })
        .collect();
    live.send(&calls, 0);
    std::thread::sleep(Duration::from_millis(200));
    let got = live.send(&[msg(r#"{"type":"call","msg_id":3}"#)], 1);
    assert_eq!(
        got,
        [reply(
            r#"{"type":"error","in_reply_to":3,"error":"Circuit breaker OPEN","service":"db"}"#
        )],
        "still serving"
    );
    // status reports the failures since the last good checkpoint.
    let got = live.send(&[msg(r#"{"type":"status","msg_id":4,"memory":true}"#)], 1);
    let at = got[0]
        .find(r#""checkpoints":{"last_good_ms":"#)
        .expect(&got[0]);
    let failures = got[0][at..].split(r#""failures_since":"#).nth(1).unwrap();
    let failures: u64 = failures.trim_end_matches('}').parse().unwrap();
    assert!(failures >= 1, "{}", &got[0][at..]);
    let (status, err) = live.finish();
    assert_eq!(status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!(
            "cannot write the state file {state}: File too large"
        )),
        "{err}"
    );
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with(
            "breaker-host: the final state was not saved (cannot write the state file"
        ),
        "{last}"
    );
    assert_eq!(
        std::fs::read(state).unwrap(),
        good,
        "the old file is intact"
    );
    assert!(db_is_open(state));
}

#[test]
fn a_node_that_cannot_be_rebuilt_stops_and_keeps_the_state_file() {
    let dir = scratch("endings-rebuild");
    let state = dir.join("state.json");
    let state = state.to_str().unwrap();
    let module = trap_module();
    let module = module.to_str().unwrap();
    let args = [
        "--module",
        module,
        "--state-file",
        state,
        "--checkpoint-ms",
        "20",
    ];
    let mut live = Live::start(&args);
    let mut setup = open_db();
    // A breaker the trap build refuses to restore: every rebuild from here on fails.
    setup.push(msg(
        r#"{"type":"call","msg_id":3,"service":"test-trap-restore"}"#,
    ));
    live.send(&setup, 3);
    // Wait for a checkpoint that holds both breakers.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(state).is_ok_and(|s| s.contains("test-trap-restore")) {
        assert!(Instant::now() < deadline, "no checkpoint");
        std::thread::sleep(Duration::from_millis(10));
    }
    let saved = std::fs::read(state).unwrap();
    // A trap: the node must be rebuilt, and cannot be.
    let got = live.send(&[msg(r#"{"type":"test_trap","msg_id":4}"#)], 1);
    assert!(got[0].contains(r#""in_reply_to":4,"code":13"#), "{got:?}");
    let (status, err) = live.wait_exit();
    assert_eq!(status.code(), Some(3), "{err}");
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("breaker-host: cannot restore the last checkpoint ("),
        "{last}"
    );
    assert!(
        last.contains(&format!("stopped without taking more input, rather than carry on with an emptier node; {state} was left as it was")),
        "{last}"
    );
    assert_eq!(
        std::fs::read(state).unwrap(),
        saved,
        "the state file was not touched"
    );
}

#[test]
fn a_signal_during_a_one_at_a_time_rerun_ends_the_node_within_a_second() {
    let module = trap_module();
    let module = module.to_str().unwrap();
    let dir = scratch("endings-rerun");
    let log = std::fs::File::create(dir.join("stderr")).unwrap();
    let mut cmd = host(&["--module", module, "--clock", "manual"]);
    cmd.stderr(log);
    let mut live = Live::spawn(cmd);
    // A node large enough that each rebuild takes a while.
    let calls: Vec<String> = (0..50_000)
        .map(|i| msg(&format!(r#"{{"type":"call","service":"s{i}"}}"#)))
        .collect();
    live.send(&calls, 0);
    let got = live.send(&[msg(r#"{"type":"snapshot","msg_id":1}"#)], 1);
    assert!(got[0].contains("snapshot_ok"));
    // One batch of many traps: each one answers code 13 and rebuilds the node.
    let traps: Vec<String> = (0..2000)
        .map(|i| msg(&format!(r#"{{"type":"test_trap","msg_id":{}}}"#, 10 + i)))
        .collect();
    live.send(&traps, 0);
    // Well into the re-run (each rebuild restores 50,000 breakers).
    let deadline = Instant::now() + Duration::from_secs(20);
    let log = dir.join("stderr");
    while std::fs::read_to_string(&log).map_or(0, |s| s.matches("answering code 13").count()) < 3 {
        assert!(Instant::now() < deadline, "the re-run did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    live.signal("TERM");
    let signalled = Instant::now();
    let mut answered = 0;
    let mut line = String::new();
    while live.read_line(&mut line) > 0 {
        assert!(line.contains(r#""code":13"#), "{line}");
        answered += 1;
        line.clear();
    }
    let (status, _) = live.wait_exit();
    // Within 1 s on a quiet machine; 3 s leaves room for a slow, busy CI machine.
    let took = signalled.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(status.success());
    // The replies decided before the signal were flushed, and not all 2000 were decided.
    assert!((3..2000).contains(&answered), "{answered} answered");
}

fn wait_at_most(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn while_checkpoints_fail_the_replay_log_stays_bounded() {
    let dir = scratch("endings-replay");
    let state = dir.join("state.json");
    let state = state.to_str().unwrap();
    let module = trap_module();
    let args = [
        "--module",
        module.to_str().unwrap(),
        "--state-file",
        state,
        "--checkpoint-ms",
        "20",
    ];
    let mut cmd = host(&args);
    cmd.stderr(Stdio::piped());
    let mut live = Live::spawn(cmd);
    live.send(&open_db(), 2);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(state).is_ok_and(|s| s.contains("\"db\"")) {
        assert!(Instant::now() < deadline, "no checkpoint");
        std::thread::sleep(Duration::from_millis(10));
    }
    let saved = std::fs::read(state).unwrap();
    // From here on every snapshot fails in the guest: the input since the last good checkpoint
    // piles up, until the node stops at 64 MiB of it.
    let mut docs = vec![msg(r#"{"type":"call","service":"test-trap-snapshot"}"#)];
    let call = msg(r#"{"type":"call","service":"busy","duration_ms":1}"#);
    docs.extend(std::iter::repeat_n(call, (80 << 20) / 80));
    let (status, err) = live.send_until_exit(&docs.join("\n"));
    assert_eq!(status.code(), Some(3), "{err}");
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("breaker-host: checkpoints keep failing (")
            && last.contains(&format!(
                "MiB of input since the last one would have to be replayed; stopped; {state} was left as it was"
            )),
        "{last}"
    );
    assert_eq!(
        std::fs::read(state).unwrap(),
        saved,
        "the state file was not touched"
    );
    assert!(db_is_open(state));
}
