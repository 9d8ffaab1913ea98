//! Watching a node: `--listen` (`/metrics` read by the Prometheus project's own parser,
//! `/events`, `/status`), transitions on stderr, and stdout the same with all of it on.
//!
//! `/metrics` is parsed by `prometheus_client` in `target/host-tests-venv`, which
//! `host-cli/tests/tools/setup.sh` installs (the test command runs it first).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Live, host, msg, workspace};
use serde_json::{Value, json};

/// A free port on the loopback interface.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts a host listening on a free port (stderr dropped unless `stderr` is given) and waits
/// until `/status` answers.
fn listening(args: &[&str], stderr: Stdio) -> (Live, u16) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = host(&[args, &["--listen", &addr]].concat());
    cmd.stderr(stderr);
    let live = Live::spawn(cmd);
    let started = Instant::now();
    while get(port, "/status").0 != 200 {
        assert!(started.elapsed() < Duration::from_secs(10), "no /status");
        std::thread::sleep(Duration::from_millis(20));
    }
    (live, port)
}

/// `GET path`: the status code and the body (empty when nothing answers).
fn get(port: u16, path: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (code, body.to_string())
}

/// An open event stream: the head is read, events are read on demand.
struct Stream(BufReader<TcpStream>);

impl Stream {
    fn open(port: u16, last_event_id: Option<u64>) -> Stream {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let resume = last_event_id.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
        write!(s, "GET /events HTTP/1.1\r\nHost: x\r\n{resume}\r\n").unwrap();
        let mut r = BufReader::new(s);
        let mut head = String::new();
        while r.read_line(&mut head).unwrap() > 2 && !head.ends_with("\r\n\r\n") {}
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("Content-Type: text/event-stream"), "{head}");
        assert!(head.contains("Access-Control-Allow-Origin: *"), "{head}");
        Stream(r)
    }

    /// The next `n` events as (id, data).
    fn events(&mut self, n: usize) -> Vec<(u64, Value)> {
        let mut out = Vec::new();
        let (mut id, mut line) = (None, String::new());
        while out.len() < n {
            line.clear();
            assert!(self.0.read_line(&mut line).unwrap() > 0, "stream ended");
            if let Some(v) = line.strip_prefix("id: ") {
                id = Some(v.trim().parse().unwrap());
            } else if let Some(v) = line.strip_prefix("data: ") {
                out.push((
                    id.take().expect("an id before data"),
                    serde_json::from_str(v).unwrap(),
                ));
            }
        }
        out
    }
}

/// The body of the one reply to `body` (a message from `c` to `db`).
fn ask(live: &mut Live, body: Value) -> Value {
    let line = live.send(&[msg(&body.to_string())], 1).remove(0);
    serde_json::from_str::<Value>(&line).unwrap()["body"].take()
}

/// A scripted run with a window policy, a consecutive breaker that opens and one in half_open.
fn script(live: &mut Live) -> usize {
    let window = json!({"kind": "count", "size": 10, "minimum_calls": 10, "failure_rate": 60});
    let docs = [
        json!({"type": "configure", "msg_id": 1, "service": "pay", "config": {"window": window, "slow_call_ms": 100}}),
        json!({"type": "call", "msg_id": 2, "service": "pay", "force_failures": 3}),
        json!({"type": "call", "msg_id": 3, "service": "pay", "duration_ms": 150}),
        json!({"type": "call", "msg_id": 4, "service": "pay"}),
        json!({"type": "call", "msg_id": 5, "service": "db", "force_failures": 7}),
        json!({"type": "call", "msg_id": 6, "service": "db"}),
        json!({"type": "call", "msg_id": 7, "service": "inv", "force_failures": 5}),
        json!({"type": "advance_clock", "msg_id": 8, "ms": 1500}),
        json!({"type": "call", "msg_id": 9, "service": "web", "state": "open"}),
        json!({"type": "advance_clock", "msg_id": 10, "ms": 4000}),
        json!({"type": "acquire", "msg_id": 11, "service": "inv"}),
        json!({"type": "acquire", "msg_id": 12, "service": "pay"}),
        json!({"type": "call", "msg_id": 15, "service": "ok", "force_failures": 2}),
    ];
    for d in &docs {
        ask(live, d.clone());
    }
    let permit = ask(
        live,
        json!({"type": "acquire", "msg_id": 13, "service": "pay"}),
    )["permit"]
        .clone();
    ask(
        live,
        json!({"type": "record", "msg_id": 14, "service": "pay", "permit": permit, "outcome": "ignored"}),
    );
    docs.len() + 2
}

/// `/metrics` as (name, labels) → value, read by prometheus_client's OpenMetrics parser.
fn parsed_metrics(text: &str) -> BTreeMap<(String, BTreeMap<String, String>), f64> {
    let python = workspace().join("target/host-tests-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run host-cli/tests/tools/setup.sh",
        python.display()
    );
    let mut child = Command::new(python)
        .arg(workspace().join("host-cli/tests/tools/parse_metrics.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the parser refused it: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples: Vec<(String, BTreeMap<String, String>, f64)> =
        serde_json::from_slice(&out.stdout).unwrap();
    samples.into_iter().map(|(n, l, v)| ((n, l), v)).collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn metrics_are_valid_openmetrics_and_match_status() {
    let (mut live, port) = listening(&["--clock", "manual"], Stdio::null());
    let sent = script(&mut live) + 1;
    // `events` settles every breaker (the host's own reads do not): then the log is complete.
    let events = ask(&mut live, json!({"type": "events", "msg_id": 91}))["events"].clone();
    let (code, text) = get(port, "/metrics");
    assert_eq!(code, 200);
    let m = parsed_metrics(&text);
    let value = |name: &str, pairs: &[(&str, &str)]| -> f64 {
        *m.get(&(name.to_string(), labels(pairs)))
            .unwrap_or_else(|| panic!("no {name} {pairs:?} in\n{text}"))
    };
    let all = ask(&mut live, json!({"type": "status", "msg_id": 90}));
    let services = all["services"].as_array().unwrap();
    assert_eq!(services.len(), 5);
    assert_eq!(value("breaker_services", &[]), 5.0);
    for line in services {
        let s = line["service"].as_str().unwrap();
        let one = ask(
            &mut live,
            json!({"type": "status", "msg_id": 92, "service": s}),
        );
        for state in ["closed", "open", "half_open"] {
            let on = f64::from(u8::from(one["state"] == state));
            assert_eq!(
                value("breaker_state", &[("service", s), ("state", state)]),
                on,
                "{s} {state}"
            );
        }
        for (outcome, key) in [
            ("success", "successes"),
            ("failure", "failures"),
            ("rejected", "rejections"),
        ] {
            let n = value(
                "breaker_calls_total",
                &[("service", s), ("outcome", outcome)],
            );
            assert_eq!(n, one["counts"][key].as_f64().unwrap(), "{s} {outcome}");
        }
        let policy = &one["policy"];
        assert_eq!(
            policy, &line["policy"],
            "the same figures in both forms of status"
        );
        if let Some(until) = policy["open_until_ms"].as_f64() {
            let seconds = value("breaker_until_probe_seconds", &[("service", s)]);
            assert_eq!(seconds * 1000.0, one["retry_after_ms"].as_f64().unwrap());
            assert_eq!(until - 5500.0, one["retry_after_ms"].as_f64().unwrap());
        }
        if let Some(calls) = policy["calls"].as_f64() {
            assert_eq!(value("breaker_window_calls", &[("service", s)]), calls);
            let rate = value("breaker_window_failure_ratio", &[("service", s)]);
            assert!((rate * 100.0 - policy["failure_rate"].as_f64().unwrap()).abs() < 0.001);
            let slow = value("breaker_window_slow_call_ratio", &[("service", s)]);
            assert!((slow * 100.0 - policy["slow_call_rate"].as_f64().unwrap()).abs() < 0.001);
        }
        if let Some(n) = policy["probes_in_flight"].as_f64() {
            assert_eq!(
                value("breaker_half_open_probes_in_flight", &[("service", s)]),
                n
            );
        }
        for e in events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["service"] == s)
        {
            let (from, to) = (e["from"].as_str().unwrap(), e["to"].as_str().unwrap());
            let n = value(
                "breaker_transitions_total",
                &[("service", s), ("from", from), ("to", to)],
            );
            let logged = events
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| x["service"] == s && x["from"] == from && x["to"] == to)
                .count();
            assert_eq!(n, logged as f64, "{s} {from} → {to}");
        }
    }
    // The script's own figures, checked by hand once.
    assert_eq!(value("breaker_window_calls", &[("service", "pay")]), 5.0);
    assert_eq!(
        value("breaker_window_failure_ratio", &[("service", "pay")]),
        0.6
    );
    assert_eq!(
        value(
            "breaker_calls_total",
            &[("service", "pay"), ("outcome", "slow")]
        ),
        1.0
    );
    assert_eq!(
        value(
            "breaker_calls_total",
            &[("service", "pay"), ("outcome", "ignored")]
        ),
        1.0
    );
    let probes = |s: &str| value("breaker_half_open_probes_in_flight", &[("service", s)]);
    assert_eq!((probes("inv"), probes("db")), (1.0, 0.0));
    assert_eq!(
        value("breaker_consecutive_failures", &[("service", "ok")]),
        2.0
    );
    assert_eq!(
        value("breaker_host_messages_received_total", &[]),
        sent as f64
    );
    assert_eq!(value("breaker_host_replies_sent_total", &[]), sent as f64);
    assert_eq!(value("breaker_host_bad_documents_total", &[]), 0.0);
    assert_eq!(value("breaker_host_guest_traps_total", &[]), 0.0);
    let (code, status) = get(port, "/status");
    assert_eq!(code, 200);
    let mut now: Value = serde_json::from_str(&status).unwrap();
    now["in_reply_to"] = json!(90);
    assert_eq!(now, all, "/status is the status of every service");
    assert_eq!(get(port, "/nothing").0, 404);
    live.finish();
}
