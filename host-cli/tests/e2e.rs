//! breaker-host as a process: stdin in, stdout and stderr out, exit codes.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{host, lines, run, stderr, trap_module, workspace};

const ONE: &str = r#"{"src":"service-a","dest":"service-b","body":{"type":"call","msg_id":1,"force_failures":5}}"#;
const TWO: &str =
    r#"{"src":"service-a","dest":"service-b","body":{"type":"call","msg_id":2,"state":"open"}}"#;
const THREE: &str = r#"{"src":"service-a","dest":"service-b","body":{"type":"call","msg_id":3,"state":"half_open","force_success":true}}"#;
const REPLIES: [&str; 3] = [
    r#"{"src":"service-b","dest":"service-a","body":{"type":"circuit_breaker_open","in_reply_to":1,"service":"service-b","failures":5}}"#,
    r#"{"src":"service-b","dest":"service-a","body":{"type":"error","in_reply_to":2,"error":"Circuit breaker OPEN","service":"service-b"}}"#,
    r#"{"src":"service-b","dest":"service-a","body":{"type":"circuit_breaker_closed","in_reply_to":3,"service":"service-b","state":"closed"}}"#,
];
const VALID: &str = r#"{"src":"c","dest":"db","body":{"type":"call","msg_id":99}}"#;
const VALID_REPLY: &str = r#"{"src":"db","dest":"c","body":{"type":"call_ok","in_reply_to":99,"service":"db","state":"closed"}}"#;

fn stdout_lines(out: &Output) -> Vec<String> {
    lines(out)
}

#[test]
fn the_tasks_examples_one_line_each() {
    let out = run(&[], format!("{ONE}\n{TWO}\n{THREE}\n").as_bytes());
    assert!(out.status.success());
    assert_eq!(stdout_lines(&out), REPLIES);
    assert_eq!(stderr(&out), "");
}

#[test]
fn the_tasks_examples_pretty_printed() {
    let pretty = |doc: &str| {
        // The task's own layout: one field per line, indented.
        doc.replace("{\"", "{\n  \"")
            .replace(",\"", ",\n  \"")
            .replace('}', "\n}")
    };
    let input = format!("{}\n{}{}", pretty(ONE), pretty(TWO), pretty(THREE));
    assert!(input.lines().count() > 20);
    let out = run(&[], input.as_bytes());
    assert_eq!(stdout_lines(&out), REPLIES);
    assert_eq!(stderr(&out), "");
}

#[test]
fn bad_documents_go_to_stderr_and_the_next_is_answered() {
    let big = format!(
        r#"{{"src":"c","dest":"db","body":{{"type":"call","msg_id":7,"pad":"{}"}}}}"#,
        "x".repeat(2 << 20)
    );
    for (name, bad, expect) in [
        (
            "invalid JSON",
            r#"{"src": "c", "dest" "db"}"#.to_string(),
            "stdin line 1, column 21: expected ':'",
        ),
        (
            "not JSON at all",
            "hello".to_string(),
            "stdin line 1, column 1: expected '{'",
        ),
        (
            "no body",
            r#"{"src":"c","dest":"db"}"#.to_string(),
            "stdin line 1: missing field \"body\"",
        ),
        (
            "a 2 MiB line",
            big,
            "stdin line 1, column 1: document larger than 1048576 bytes",
        ),
        (
            "duplicate keys",
            r#"{"src":"c","src":"d","dest":"db","body":{}}"#.to_string(),
            "duplicate key \"src\"",
        ),
        (
            "a bad msg_id",
            r#"{"src":"c","dest":"db","body":{"type":"call","msg_id":1.5}}"#.to_string(),
            "msg_id: expected an integer",
        ),
    ] {
        let out = run(&[], format!("{bad}\n{VALID}\n").as_bytes());
        assert!(out.status.success(), "{name}");
        assert_eq!(
            stdout_lines(&out),
            [VALID_REPLY],
            "{name}: nothing on stdout for the bad document"
        );
        let err = stderr(&out);
        assert_eq!(
            err.lines().count(),
            1,
            "{name}: one stderr line, got {err:?}"
        );
        assert!(
            err.starts_with("breaker-host: ") && err.contains(expect),
            "{name}: {err:?}"
        );
    }
}

#[test]
fn protocol_errors_are_replies() {
    let input = [
        r#"{"src":"c","dest":"db","body":{"type":"launch","msg_id":1}}"#,
        r#"{"src":"c","dest":"db","body":{"type":"call","msg_id":2,"force_failures":"five"}}"#,
        r#"{"src":"c","dest":"db","body":{"type":"call","msg_id":3,"force_failures":2,"force_success":true}}"#,
        r#"{"src":"c","dest":"db","body":{"type":"configure","msg_id":4,"config":{"failure_treshold":3}}}"#,
        r#"{"src":"c","dest":"db","body":{"type":"advance_clock","msg_id":5,"ms":10}}"#,
    ]
    .join("\n");
    let out = run(&[], input.as_bytes());
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 5);
    assert!(
        lines[0].contains(r#""in_reply_to":1,"code":10,"text":"unknown message type \"launch\"""#),
        "{}",
        lines[0]
    );
    assert!(
        lines[1]
            .contains(r#""in_reply_to":2,"code":12,"text":"force_failures: expected an integer"#),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains(r#""code":12,"text":"force_failures, force_success: conflicting fields"#),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].contains(r#""code":12,"text":"config.failure_treshold: unknown config field""#),
        "{}",
        lines[3]
    );
    assert!(
        lines[4].contains(r#""code":10,"text":"advance_clock: this node runs on the system clock"#),
        "{}",
        lines[4]
    );
}

#[test]
fn every_msg_id_of_a_long_stream_is_answered_once_in_order() {
    let mut input = String::new();
    for i in 0..100_000u64 {
        let body = match i % 4 {
            0 => format!(
                r#"{{"type":"call","msg_id":{i},"service":"s{}"}}"#,
                i % 1000
            ),
            1 => format!(
                r#"{{"type":"call","msg_id":{i},"service":"s{}","force_failures":1}}"#,
                i % 1000
            ),
            2 => format!(
                r#"{{"type":"acquire","msg_id":{i},"service":"s{}"}}"#,
                i % 700
            ),
            _ => format!(
                r#"{{"type":"status","msg_id":{i},"service":"s{}"}}"#,
                i % 1000
            ),
        };
        input.push_str(&format!(r#"{{"src":"c","dest":"n","body":{body}}}"#));
        input.push('\n');
    }
    let out = run(&["--clock", "manual"], input.as_bytes());
    assert!(out.status.success());
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 100_000);
    for (i, line) in lines.iter().enumerate() {
        assert!(
            line.contains(&format!(r#""in_reply_to":{i},"#)),
            "reply {i}: {line}"
        );
    }
    assert_eq!(stderr(&out), "");
}

#[test]
fn a_reply_arrives_while_stdin_stays_open() {
    let mut child = host(&[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    for (request, reply) in [(ONE, REPLIES[0]), (TWO, REPLIES[1])] {
        writeln!(stdin, "{request}").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim_end(), reply);
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

/// Bytes written to a pipe and not yet read from it, asked through its write end.
fn unread(pipe: &impl AsRawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer; the descriptor is open.
    let rc = unsafe { libc::ioctl(pipe.as_raw_fd(), libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0, "FIONREAD on the stdin pipe");
    n as usize
}

/// SIGTERM while replies are still held back: the host has read every request (stdin is empty)
/// but cannot write their replies, because nobody reads stdout yet. Every request it read must
/// still be answered, in order, before it exits 0.
#[test]
fn sigterm_flushes_and_exits_zero() {
    const MESSAGES: usize = 5_000;
    let mut child = host(&[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    // One round trip first: the host is up and watching for signals.
    writeln!(stdin, "{ONE}").unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line.trim_end(), REPLIES[0]);
    // Far more replies than the stdout pipe holds; stdin stays open (no end of input).
    let requests: String = (0..MESSAGES)
        .map(|i| {
            format!(
                "{{\"src\":\"c\",\"dest\":\"db\",\"body\":{{\"type\":\"call\",\"msg_id\":{}}}}}\n",
                10 + i
            )
        })
        .collect();
    let writer = std::thread::spawn(move || {
        stdin.write_all(requests.as_bytes()).unwrap();
        stdin
    });
    let stdin = writer.join().unwrap();
    let started = Instant::now();
    while unread(&stdin) > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the host stopped reading stdin"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
    let ids: Vec<u64> = rest
        .lines()
        .map(|l| {
            let at = l.find("\"in_reply_to\":").expect("a reply") + "\"in_reply_to\":".len();
            l[at..].split([',', '}']).next().unwrap().parse().unwrap()
        })
        .collect();
    let want: Vec<u64> = (0..MESSAGES as u64).map(|i| 10 + i).collect();
    assert_eq!(ids.len(), want.len(), "replies after SIGTERM");
    assert_eq!(ids, want);
    drop(stdin);
}

#[test]
fn the_bundled_walkthrough_gives_its_reviewed_replies() {
    let root = workspace();
    let input = std::fs::read(root.join("host-cli/examples/walkthrough.ndjson")).unwrap();
    let expected =
        std::fs::read_to_string(root.join("host-cli/examples/walkthrough.expected")).unwrap();
    let out = run(&["--clock", "manual"], &input);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
}

#[test]
fn the_policies_transcript_gives_its_reviewed_replies() {
    let root = workspace();
    let input = std::fs::read(root.join("host-cli/examples/policies.ndjson")).unwrap();
    let expected =
        std::fs::read_to_string(root.join("host-cli/examples/policies.expected")).unwrap();
    let out = run(&["--clock", "manual"], &input);
    assert_eq!(stderr(&out), "");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
}

#[test]
fn native_and_wasm_give_byte_identical_replies() {
    let root = workspace();
    let mut input = std::fs::read(root.join("host-cli/examples/walkthrough.ndjson")).unwrap();
    input.extend(std::fs::read(root.join("host-cli/examples/policies.ndjson")).unwrap());
    // More than the transcripts: snapshots, restores, configs, forced modes, errors.
    for line in [
        r#"{"src":"c","dest":"x","body":{"type":"configure","msg_id":100,"config":{"failure_threshold":2,"open_timeout_ms":300}}}"#,
        r#"{"src":"c","dest":"x","body":{"type":"call","msg_id":101,"force_failures":4000000000}}"#,
        r#"{"src":"c","dest":"x","body":{"type":"snapshot","msg_id":102}}"#,
        r#"{"src":"c","dest":"x","body":{"type":"force","msg_id":103,"service":"y","mode":"open"}}"#,
        r#"{"src":"c","dest":"x","body":{"type":"status","msg_id":104}}"#,
        r#"{"src":"c","dest":"x","body":{"type":"advance_clock","msg_id":105,"ms":18446744073709551615}}"#,
        r#"{"src":"c","dest":"x","body":{"type":"status","msg_id":106,"service":"x"}}"#,
        r#"{"src":"c","dest":"x","body":{"type":"events","msg_id":107,"after":3}}"#,
        r#"{"src":"c","dest":"x","body":{"type":"nope","msg_id":108}}"#,
    ] {
        input.extend_from_slice(line.as_bytes());
        input.push(b'\n');
    }
    let out = run(&["--clock", "manual"], &input);
    let options = breaker_wasm::Options {
        manual_clock: true,
        fixtures: true,
        fleet: false,
    };
    let mut session = breaker_wasm::Session::new(options);
    let native = session.handle(&input, 0).to_vec();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(native).unwrap()
    );
}

#[test]
fn config_file_sets_the_defaults_and_a_bad_one_stops_start_up() {
    let dir = std::env::temp_dir().join(format!("breaker-host-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.json");
    std::fs::write(&good, r#"{"failure_threshold": 2}"#).unwrap();
    let call = r#"{"src":"c","dest":"db","body":{"type":"call","msg_id":1,"force_failures":2}}"#;
    let out = run(&["--config", good.to_str().unwrap()], call.as_bytes());
    assert!(
        stdout_lines(&out)[0].contains(
            r#""type":"circuit_breaker_open","in_reply_to":1,"service":"db","failures":2"#
        )
    );

    for (contents, expect) in [
        (
            r#"{"failure_threshold": 0}"#,
            "config.failure_threshold: expected an integer from 1",
        ),
        (r#"{"nope": 1}"#, "config.nope: unknown config field"),
        ("[1]", "expected a JSON object"),
        ("{", "EOF while parsing an object"),
    ] {
        let bad = dir.join("bad.json");
        std::fs::write(&bad, contents).unwrap();
        let out = run(&["--config", bad.to_str().unwrap()], call.as_bytes());
        assert_eq!(out.status.code(), Some(1), "{contents}");
        assert!(out.stdout.is_empty());
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(expect), "{contents}: {err}");
    }
    let out = run(
        &["--config", dir.join("missing.json").to_str().unwrap()],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot read"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_module_that_is_not_a_breaker_stops_start_up() {
    let dir = std::env::temp_dir().join(format!("breaker-host-module-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let junk = dir.join("junk.wasm");
    std::fs::write(&junk, b"not wasm").unwrap();
    // The smallest valid module: no exports at all.
    let empty = dir.join("empty.wasm");
    std::fs::write(&empty, b"\0asm\x01\0\0\0").unwrap();
    for (path, expect) in [
        (&junk, "cannot load"),
        (&empty, "cannot instantiate"),
        (&dir.join("none.wasm"), "cannot read"),
    ] {
        let out = run(&["--module", path.to_str().unwrap()], VALID.as_bytes());
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(err.contains(expect) && err.lines().count() == 1, "{err}");
    }
    // The raw build loads through --module like the embedded one.
    let raw = workspace().join("target/breaker.wasm");
    if raw.exists() {
        let out = run(&["--module", raw.to_str().unwrap()], VALID.as_bytes());
        assert_eq!(stdout_lines(&out), [VALID_REPLY]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// "Runs anywhere": the module validates on an engine without SIMD (nor its relaxed form,
/// threads or GC), as the engines that lack them expect.
#[test]
fn the_raw_module_needs_no_simd() {
    let path = workspace().join("target/breaker.wasm");
    let bytes = std::fs::read(&path).expect("target/breaker.wasm: run .ci/setup first");
    let mut features = wasmparser::WasmFeatures::default();
    for proposal in [
        wasmparser::WasmFeatures::SIMD,
        wasmparser::WasmFeatures::RELAXED_SIMD,
        wasmparser::WasmFeatures::THREADS,
        wasmparser::WasmFeatures::GC,
    ] {
        features.remove(proposal);
    }
    wasmparser::Validator::new_with_features(features)
        .validate_all(&bytes)
        .expect("the module uses a feature some engines lack");
}

#[test]
fn the_raw_module_imports_nothing_and_exports_the_abi() {
    let path = workspace().join("target/breaker.wasm");
    let bytes = std::fs::read(&path).expect("target/breaker.wasm: run .ci/setup first");
    let mut imports = 0;
    let mut exports = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        match payload.unwrap() {
            wasmparser::Payload::ImportSection(reader) => imports += reader.count(),
            wasmparser::Payload::ExportSection(reader) => {
                for export in reader {
                    exports.push(export.unwrap().name.to_string());
                }
            }
            _ => {}
        }
    }
    assert_eq!(imports, 0, "the raw module must import nothing");
    for name in [
        "memory",
        "breaker_abi_version",
        "breaker_alloc",
        "breaker_free",
        "breaker_set_options",
        "breaker_handle",
        "breaker_diagnostics",
        "breaker_acquire",
        "breaker_record",
        "breaker_slot",
        "breaker_grant",
        "breaker_sync",
        "breaker_sync_ticks",
        "breaker_failure_texts",
        "breaker_last_permit",
        "breaker_event_seq",
        "breaker_events_after",
    ] {
        assert!(
            exports.iter().any(|e| e == name),
            "missing export {name}: {exports:?}"
        );
    }
}

#[test]
fn a_failing_guest_answers_code_13_and_a_fresh_instance_carries_on() {
    let module = trap_module();
    let input = [
        ONE,
        r#"{"src":"c","dest":"db","body":{"type":"test_trap","msg_id":50}}"#,
        VALID,
    ]
    .join("\n");
    // One document per write, so that each is its own batch.
    let mut child = host(&["--module", module.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut replies = Vec::new();
    for doc in input.lines() {
        writeln!(stdin, "{doc}").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        replies.push(line.trim_end().to_string());
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(replies[0], REPLIES[0]);
    assert_eq!(
        replies[1],
        r#"{"src":"db","dest":"c","body":{"type":"error","in_reply_to":50,"code":13,"text":"internal error: the module failed while handling this message"}}"#
    );
    assert_eq!(replies[2], VALID_REPLY);
    assert!(stderr(&out).contains("the module failed"));
}

#[test]
fn help_and_version() {
    let out = run(&["--help"], b"");
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for option in [
        "--clock",
        "--config",
        "--module",
        "--max-message-bytes",
        "--no-fixtures",
        "--state-file",
        "--checkpoint-ms",
        "--max-guest-memory-mib",
        "--max-call-fuel",
    ] {
        assert!(help.contains(option), "{option} missing from --help");
    }
    let out = run(&["--version"], b"");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("breaker-host {}", env!("CARGO_PKG_VERSION"))
    );
    let out = run(&["--clock", "sundial"], b"");
    assert_eq!(out.status.code(), Some(2));
}
