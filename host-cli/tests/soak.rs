//! Soak: hostile and legal-but-huge loads with `kill -9` at random moments, and after every
//! restart, every breaker opened before the last successful checkpoint is still open — the
//! node never comes back emptier than the state it saved.
//!
//! The test command runs a few rounds; `.ci/soak` runs many (`SOAK_ROUNDS`, and
//! `SOAK_SERVICES` for the many-services load) and prints the figures quoted in
//! host-cli/README.md.

mod common;

use std::io::Write;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{host, lines, msg, run, scratch, stderr};

/// A small deterministic generator (xorshift): random moments without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The load of round `round`: hostile bytes and one of the legal-but-huge loads.
fn load(round: u64, services: u64) -> Vec<u8> {
    let mut docs = vec![
        "not json".to_string(),
        format!(
            "{{\"src\":\"x\",\"dest\":\"y\",\"body\":\"{}\"}}",
            "z".repeat(2 << 20)
        ),
    ];
    match round % 3 {
        // Count windows of 100,000 calls on growing numbers of services.
        0 => {
            let window = r#"{"kind":"count","size":100000,"minimum_calls":100,"failure_rate":50}"#;
            docs.push(msg(&format!(
                r#"{{"type":"configure","config":{{"max_services":5294,"window":{window}}}}}"#
            )));
            for i in 0..3000 {
                docs.push(msg(&format!(
                    r#"{{"type":"call","service":"w{round}-{i}","duration_ms":1}}"#
                )));
            }
        }
        // Many services.
        1 => {
            docs.push(msg(
                r#"{"type":"configure","config":{"max_services":100000,"window":{"kind":"consecutive"}}}"#,
            ));
            for i in 0..services {
                docs.push(msg(&format!(
                    r#"{{"type":"call","service":"m{round}-{i}"}}"#
                )));
            }
        }
        // An override flood, past the bound.
        _ => {
            for i in 0..150_000 {
                docs.push(msg(&format!(
                    r#"{{"type":"configure","service":"o{round}-{i}","config":{{"failure_threshold":3}}}}"#
                )));
            }
        }
    }
    (docs.join("\n") + "\n").into_bytes()
}

/// Opens `names` (an hour-long open period) and waits until a checkpoint on disk holds them all.
fn open_and_checkpoint(state: &str, names: &[String]) -> Child {
    let mut child = host(&["--state-file", state, "--checkpoint-ms", "50"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdin = child.stdin.as_mut().unwrap();
    let mut docs = vec![msg(
        r#"{"type":"configure","config":{"open_timeout_ms":3600000}}"#,
    )];
    for name in names {
        docs.push(msg(&format!(
            r#"{{"type":"call","service":"{name}","state":"open"}}"#
        )));
    }
    stdin
        .write_all((docs.join("\n") + "\n").as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let last = names.last().unwrap();
    while !std::fs::read_to_string(state).is_ok_and(|s| s.contains(&format!("\"{last}\""))) {
        assert!(Instant::now() < deadline, "no checkpoint with {last}");
        std::thread::sleep(Duration::from_millis(5));
    }
    child
}

/// How many of `names` a fresh node on `state` does not find open.
fn losses(state: &str, names: &[String]) -> usize {
    let docs: Vec<String> = names
        .iter()
        .map(|n| {
            msg(&format!(
                r#"{{"type":"status","msg_id":1,"service":"{n}"}}"#
            ))
        })
        .collect();
    let out = run(&["--state-file", state], docs.join("\n").as_bytes());
    assert!(out.status.success(), "restart failed: {}", stderr(&out));
    let got = lines(&out);
    assert_eq!(got.len(), names.len());
    got.iter()
        .filter(|l| !l.contains(r#""state":"open""#))
        .count()
}

#[test]
fn kill_9_at_random_moments_never_loses_a_checkpointed_open_breaker() {
    let rounds = env("SOAK_ROUNDS", 3);
    let services = env("SOAK_SERVICES", 20_000);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ u64::from(std::process::id()));
    let dir = scratch("soak");
    let state = dir.join("state.json");
    let state = state.to_str().unwrap();
    let mut opened: Vec<String> = Vec::new();
    let (mut kills, mut lost) = (0, 0);
    let started = Instant::now();
    for round in 0..rounds {
        opened.extend((0..5).map(|i| format!("open-{round}-{i}")));
        let mut child = open_and_checkpoint(state, &opened);
        let input = load(round, services);
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
            stdin
        });
        std::thread::sleep(Duration::from_millis(rng.below(1500)));
        child.kill().unwrap();
        child.wait().unwrap();
        drop(writer.join().unwrap());
        kills += 1;
        lost += losses(state, &opened);
    }
    eprintln!(
        "soak: {rounds} rounds, {kills} kills, {} breakers opened, losses: {lost}, {:.1} s",
        opened.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(lost, 0);
}
