//! `breaker-host --record` and `breaker-host replay`: a generated stream is recorded, replayed
//! under its own config (the node's replies, byte for byte) and under others (the report names
//! each config's first trip and agrees with that config's own replies), the rotated files are
//! read in order, and a damaged recording is refused with the file and line named.

mod common;

use std::fs;
use std::path::Path;

use common::{host, run, scratch};
use serde_json::Value;

/// A deterministic stream under the manual clock: five services failing at different rates,
/// time moving on, fire-and-forget messages, failure texts, a pretty-printed document, and
/// documents the module refuses (a duplicate key, a bad `msg_id`, bytes that are not UTF-8).
fn generated_stream(messages: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for id in 1..=messages {
        let r = next();
        let service = r % 5;
        let body = match (r >> 8) % 20 {
            0 => format!(
                r#"{{"type":"advance_clock","msg_id":{id},"ms":{}}}"#,
                50 + (r >> 16) % 400
            ),
            1 => format!(r#"{{"type":"call","service":"s{service}","force_failures":1}}"#),
            2 => format!(r#"{{"type":"status","msg_id":{id},"service":"s{service}"}}"#),
            3 => format!(r#"{{"type":"acquire","msg_id":{id},"service":"s{service}"}}"#),
            4 => format!(
                r#"{{"type":"record","msg_id":{id},"service":"s{service}","permit":{},"outcome":"failure","error":"timeout after {} ms"}}"#,
                id.saturating_sub(1 + (r >> 20) as u32 % 3),
                r % 1000
            ),
            // Service sN fails N times in ten.
            _ if (r >> 24) % 10 < service => format!(
                r#"{{"type":"call","msg_id":{id},"service":"s{service}","force_failures":1,"error":"HTTP 503"}}"#
            ),
            _ => format!(r#"{{"type":"call","msg_id":{id},"service":"s{service}"}}"#),
        };
        out.extend_from_slice(format!(r#"{{"src":"c","dest":"db","body":{body}}}"#).as_bytes());
        out.push(b'\n');
        match id % 97 {
            10 => out.extend_from_slice(
                b"{\"src\":\"c\",\"dest\":\"db\",\"body\":{\"type\":\"call\",\"msg_id\":1,\"msg_id\":2}}\n",
            ),
            20 => out.extend_from_slice(
                b"{\"src\":\"c\",\"dest\":\"db\",\"body\":{\"type\":\"call\",\"msg_id\":-1}}\n",
            ),
            30 => out.extend_from_slice(
                b"{\"src\":\"c\",\"dest\":\"db\",\"body\":{\"type\":\"call\",\"msg_id\":7,\"service\":\"\xff\"}}\n",
            ),
            40 => out.extend_from_slice(
                b"{\n  \"src\": \"c\",\n  \"dest\": \"s1\",\n  \"body\": {\"type\": \"call\", \"msg_id\": 5}\n}\n",
            ),
            _ => {}
        }
    }
    out
}

const RECORDED_CONFIG: &str = r#"{"failure_threshold":5,"open_timeout_ms":1000}"#;

/// Records `stream` under the manual clock into `dir/record.ndjson`; returns the node's stdout.
fn record(dir: &Path, stream: &[u8], extra: &[&str]) -> Vec<u8> {
    let config = dir.join("recorded.json");
    fs::write(&config, RECORDED_CONFIG).unwrap();
    let file = dir.join("record.ndjson");
    let mut args = vec![
        "--clock",
        "manual",
        "--config",
        config.to_str().unwrap(),
        "--record",
        file.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = run(&args, stream);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn replay(args: &[&str]) -> std::process::Output {
    let mut all = vec!["replay"];
    all.extend_from_slice(args);
    host(&all).output().unwrap()
}

fn ok_stdout(out: std::process::Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The rejection replies of `service` among `replies`.
fn rejections(replies: &[u8], service: &str) -> u64 {
    String::from_utf8_lossy(replies)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| {
            let b = &v["body"];
            b["service"] == service
                && b["type"] == "error"
                && (b["code"].is_null() || b["code"] == 11)
        })
        .count() as u64
}

#[test]
fn a_recording_replays_to_the_same_replies_and_under_other_configs_to_their_own() {
    let dir = scratch("replay-configs");
    let stream = generated_stream(3000);
    let served = record(&dir, &stream, &[]);
    let file = dir.join("record.ndjson");
    let file = file.to_str().unwrap();
    let text = fs::read(file).unwrap();
    assert!(text.starts_with(br#"{"breaker_record":1,"part":1,"clock":"manual","fixtures":true"#));
    assert!(
        text.windows(11).any(|w| w == b"doc_base64\""),
        "the document that is not UTF-8 is kept as base64"
    );
    // Under its own config: the node's replies, byte for byte.
    let replayed = ok_stdout(replay(&[file, "--replies"]));
    assert!(served.len() > 50_000, "a stream with many replies");
    assert!(
        served == replayed,
        "a replay under the recorded config gives the node's replies"
    );

    // Under two other configs: each trips by its own threshold.
    let a = dir.join("a.json");
    fs::write(&a, r#"{"failure_threshold":2,"open_timeout_ms":1000}"#).unwrap();
    let b = dir.join("b.json");
    fs::write(
        &b,
        r#"{"window":{"kind":"count","size":10,"minimum_calls":10,"failure_rate":50},"open_timeout_ms":3000}"#,
    )
    .unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let report: Value = serde_json::from_slice(&ok_stdout(replay(&[
        file, "--config", a, "--config", b, "--json",
    ])))
    .unwrap();
    assert_eq!(report["configs"], serde_json::json!(["recorded", a, b]));
    let s4 = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "s4")
        .expect("s4, failing four times in ten, is in the report");
    let trips: Vec<&str> = s4["configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["first_trip"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(trips[0], "5 consecutive failures (threshold 5)");
    assert_eq!(trips[1], "2 consecutive failures (threshold 2)");
    assert!(
        trips[2].ends_with("of the last 10 calls failed (threshold 50%)"),
        "{}",
        trips[2]
    );
    // They disagree on s4 first at a call one of them refuses, after its first trip.
    let difference = &s4["first_difference"];
    let earliest_trip = (0..3)
        .map(|k| s4["configs"][k]["first_trip"]["at_ms"].as_u64().unwrap())
        .min()
        .unwrap();
    assert!(
        difference["at_ms"].as_u64().unwrap() >= earliest_trip,
        "{difference}"
    );
    assert!(
        difference["decisions"]
            .as_array()
            .unwrap()
            .contains(&Value::from("rejected"))
    );
    // Each config's counts are those of its own replies.
    for (k, config) in [None, Some(a), Some(b)].into_iter().enumerate() {
        let mut args = vec![file, "--replies"];
        if let Some(c) = config {
            args.extend_from_slice(&["--config", c]);
        }
        let replies = ok_stdout(replay(&args));
        for s in report["services"].as_array().unwrap() {
            let name = s["service"].as_str().unwrap();
            assert_eq!(
                s["configs"][k]["rejected"].as_u64().unwrap(),
                rejections(&replies, name),
                "{name} under config {k}"
            );
        }
    }
    // The table names the first trip of each config.
    let table =
        String::from_utf8(ok_stdout(replay(&[file, "--config", a, "--config", b]))).unwrap();
    assert!(
        table.contains("2 consecutive failures (threshold 2)"),
        "{table}"
    );
    assert!(table.contains("s4: first difference at reply"), "{table}");
}

#[test]
fn a_replay_reads_the_rotated_files_in_order() {
    let dir = scratch("replay-rotation");
    let stream = generated_stream(600);
    let served = record(
        &dir,
        &stream,
        &["--record-max-bytes", "4000", "--record-keep", "100"],
    );
    let file = dir.join("record.ndjson");
    assert!(dir.join("record.ndjson.5").is_file(), "several rotations");
    // Every file opens with its header, parts counting up to the current file.
    let oldest = fs::read_to_string(dir.join("record.ndjson.1")).unwrap();
    let newest = fs::read_to_string(&file).unwrap();
    assert!(
        fs::read_to_string(dir.join("record.ndjson.5"))
            .unwrap()
            .contains(r#""part":"#)
    );
    let part = |text: &str| {
        let header: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        header["part"].as_u64().unwrap()
    };
    assert_eq!(part(&newest), part(&oldest) + 1);
    assert!(fs::metadata(dir.join("record.ndjson.2")).unwrap().len() <= 4000);
    let replayed = ok_stdout(replay(&[file.to_str().unwrap(), "--replies"]));
    assert!(
        served == replayed,
        "the rotated files are read oldest first"
    );

    // Kept to two rotated files, the start of the recording is gone, and the report says so.
    let dir = scratch("replay-rotation-kept");
    record(
        &dir,
        &stream,
        &["--record-max-bytes", "4000", "--record-keep", "2"],
    );
    assert!(!dir.join("record.ndjson.3").exists());
    let file = dir.join("record.ndjson");
    let report: Value =
        serde_json::from_slice(&ok_stdout(replay(&[file.to_str().unwrap(), "--json"]))).unwrap();
    let notes = report["notes"].as_array().unwrap();
    assert!(
        notes[0].as_str().unwrap().contains("rotated away"),
        "{notes:?}"
    );
    // A rotated file given alone stands for itself; parts that do not follow are refused.
    fs::remove_file(dir.join("record.ndjson.1")).unwrap();
    let gap = replay(&[
        dir.join("record.ndjson.2").to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(gap.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&gap.stderr).contains("the parts between are missing"));
}

#[test]
fn a_damaged_recording_is_refused_naming_the_line() {
    let dir = scratch("replay-damaged");
    record(&dir, &generated_stream(50), &[]);
    let file = dir.join("record.ndjson");
    let text = fs::read_to_string(&file).unwrap();
    let name = file.to_str().unwrap();

    // Cut short in the middle of its last line.
    fs::write(&file, &text[..text.len() - 10]).unwrap();
    let out = replay(&[name]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let lines = text.lines().count();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{name} line {lines}: cut short")),
        "{err}"
    );

    // A line in the middle that is not a recorded document.
    let mut damaged: Vec<&str> = text.lines().collect();
    damaged[6] = r#"{"at_ms":"soon","doc":"{}"}"#;
    fs::write(&file, damaged.join("\n") + "\n").unwrap();
    let err = String::from_utf8_lossy(&replay(&[name]).stderr).to_string();
    assert!(
        err.starts_with(&format!(
            "breaker-host: replay: {name} line 7: not a recorded document"
        )),
        "{err}"
    );

    // Not a recording at all.
    fs::write(&file, "hello\n").unwrap();
    let err = String::from_utf8_lossy(&replay(&[name]).stderr).to_string();
    assert!(
        err.contains("line 1: not the header of a breaker-host recording"),
        "{err}"
    );

    // --record never writes over an earlier recording.
    let out = run(&["--record", name], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists (an earlier recording?)"));
    assert_eq!(fs::read_to_string(&file).unwrap(), "hello\n");

    // A usage error (--replies of two configs) exits 2, as clap's own, before reading anything.
    let out = replay(&[name, "--replies", "--config", "a", "--config", "b"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("give at most one --config"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_recording_under_the_system_clock_replays_at_its_recorded_times() {
    let dir = scratch("replay-system-clock");
    let file = dir.join("record.ndjson");
    let name = file.to_str().unwrap();
    let stream = generated_stream(400);
    // No advance_clock under the system clock (it is refused there, code 10, the same in both).
    let out = run(&["--record", name, "--config", "/dev/null"], &stream);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a config file must hold an object"
    );
    let out = run(&["--record", name], &stream);
    assert!(out.status.success());
    let replayed = ok_stdout(replay(&[name, "--replies"]));
    assert!(out.stdout == replayed);
}

#[test]
fn transitions_the_event_log_could_not_hold_are_reported() {
    let dir = scratch("replay-unseen");
    let mut stream = Vec::new();
    // 1,500 breakers, then one message that opens all of them: 1,500 transitions in one
    // document, more than the module's event log keeps between two reads.
    for i in 0..1500 {
        let body = format!(r#"{{"type":"call","msg_id":{i},"service":"s{i}"}}"#);
        stream.extend_from_slice(common::msg(&body).as_bytes());
        stream.push(b'\n');
    }
    let force = common::msg(r#"{"type":"force","msg_id":9999,"mode":"open"}"#);
    stream.extend_from_slice(force.as_bytes());
    stream.push(b'\n');
    let served = record(&dir, &stream, &[]);
    let file = dir.join("record.ndjson");
    let file = file.to_str().unwrap();
    assert!(served == ok_stdout(replay(&[file, "--replies"])));
    let report: Value = serde_json::from_slice(&ok_stdout(replay(&[file, "--json"]))).unwrap();
    let notes = report["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0]
            .as_str()
            .unwrap()
            .starts_with("500 transitions were not seen")
    );
    // The 1,000 the log held are reported.
    let opened: usize = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["configs"][0]["opened_at_ms"].as_array().unwrap().len())
        .sum();
    assert_eq!(opened, 1000);
}

#[test]
fn a_recording_node_answers_and_reports_as_one_that_does_not() {
    // A recording node frames its input itself: its replies and its stderr (which stdin line
    // each refusal names) must be those of a node that does not record.
    let input = concat!(
        "{\"src\":\"c\",\"dest\":\"s\",\"body\":{\"type\":\"call\",\"msg_id\":1}}\n",
        "{\n  \"src\": \"c\",\n  \"dest\": \"s\",\n  \"body\": {\"type\": \"call\", \"msg_id\": 2}\n}\n",
        "{\"src\":\"c\",\"dest\":\"s\",\"body\":{\"type\":\"call\",\"msg_id\":3,\"msg_id\":4}}\n",
        "not json\n",
        "{\"src\":\"c\",\"dest\":\"s\",\"body\":{\"type\":\"call\",\"msg_id\":5}}\n",
        "{\"src\":\"c\",\"dest\":\"s\",\"body\":{\"type\":\"nope\",\"msg_id\":6}}\n",
    );
    let dir = scratch("replay-same-stderr");
    let plain = run(&["--clock", "manual"], input.as_bytes());
    let file = dir.join("r.ndjson");
    let args = ["--clock", "manual", "--record", file.to_str().unwrap()];
    let recording = run(&args, input.as_bytes());
    assert_eq!(
        String::from_utf8_lossy(&recording.stdout),
        String::from_utf8_lossy(&plain.stdout)
    );
    assert_eq!(
        String::from_utf8_lossy(&recording.stderr),
        String::from_utf8_lossy(&plain.stderr)
    );
    let stderr = String::from_utf8_lossy(&plain.stderr);
    assert!(stderr.contains("stdin line 7"), "{stderr}");
    assert!(stderr.contains("stdin line 8"), "{stderr}");
    // Five documents reached the module (the duplicate key is its to refuse); the line the
    // host refused did not.
    let recorded = fs::read_to_string(&file).unwrap();
    assert_eq!(recorded.lines().count(), 1 + 5, "{recorded}");
    assert_eq!(
        ok_stdout(replay(&[file.to_str().unwrap(), "--replies"])),
        plain.stdout
    );
    let _ = fs::remove_dir_all(&dir);
}
