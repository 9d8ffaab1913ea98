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

/// Opens and closes breakers `rounds` times: three transitions a round (closed → open by the
/// fixture, then open → half_open → closed by a successful probe).
fn flapping(first_id: u64, rounds: u64) -> Vec<String> {
    (0..rounds)
        .flat_map(|i| {
            let id = first_id + 2 * i;
            [
                json!({"type": "call", "msg_id": id, "service": format!("s{}", i % 3), "state": "open"}),
                json!({"type": "call", "msg_id": id + 1, "service": format!("s{}", i % 3), "state": "half_open", "force_success": true}),
            ]
        })
        .map(|body| msg(&body.to_string()))
        .collect()
}

#[test]
fn events_come_in_order_and_resume_after_last_event_id_without_loss_or_repeat() {
    let (mut live, port) = listening(&["--clock", "manual"], Stdio::null());
    let mut early = Stream::open(port, None);
    live.send(&flapping(1, 10), 20);
    let logged = ask(&mut live, json!({"type": "events", "msg_id": 99}))["events"].clone();
    let logged = logged.as_array().unwrap();
    assert_eq!(logged.len(), 30);
    let got = early.events(30);
    for (i, ((id, data), want)) in got.iter().zip(logged).enumerate() {
        assert_eq!(*id, i as u64 + 1, "ids are the module's seq, in order");
        assert_eq!(data, want, "the same transition as `events` gives");
    }
    // A client that saw up to 25 reconnects: 26 onwards, then the new ones as they happen.
    drop(early);
    let mut resumed = Stream::open(port, Some(25));
    let again = resumed.events(5);
    assert_eq!(
        again.iter().map(|e| e.0).collect::<Vec<_>>(),
        (26..=30).collect::<Vec<_>>()
    );
    live.send(&flapping(100, 1), 2);
    let live_ones = resumed.events(3);
    assert_eq!(
        live_ones.iter().map(|e| e.0).collect::<Vec<_>>(),
        [31, 32, 33]
    );
    assert_eq!(live_ones[2].1["to"], "closed");
    // A stream without Last-Event-ID starts with every transition kept.
    assert_eq!(Stream::open(port, None).events(33)[32].0, 33);
    live.finish();
}

#[test]
fn a_client_that_never_reads_does_not_hold_up_the_node() {
    let (mut live, port) = listening(&["--clock", "manual"], Stdio::null());
    // Connected, and never read again: its socket fills up at once.
    let stuck = Stream::open(port, None);
    let docs = flapping(1, 50_000);
    let mut stdin = live.take_stdin();
    let writer = std::thread::spawn(move || {
        stdin
            .write_all((docs.join("\n") + "\n").as_bytes())
            .unwrap();
        stdin
    });
    let mut line = String::new();
    for _ in 0..100_000 {
        line.clear();
        assert!(live.read_line(&mut line) > 0, "the node stopped answering");
    }
    let stdin = writer.join().unwrap();
    // The HTTP side still answers, and counted every message.
    let (code, text) = get(port, "/metrics");
    assert_eq!(code, 200);
    assert!(
        text.contains("breaker_host_messages_received_total 100000\n"),
        "{text}"
    );
    assert!(
        text.contains("breaker_host_event_stream_clients 1\n"),
        "{text}"
    );
    drop((stuck, stdin));
    let (status, _) = live.finish();
    assert!(status.success());
}

#[test]
fn the_transcripts_are_the_same_bytes_while_clients_watch() {
    let root = workspace();
    for name in ["walkthrough", "policies"] {
        let input = std::fs::read(root.join(format!("host-cli/examples/{name}.ndjson"))).unwrap();
        let expected =
            std::fs::read_to_string(root.join(format!("host-cli/examples/{name}.expected")))
                .unwrap();
        assert_eq!(watched(&input), expected, "{name}");
    }
    // The conformance transcript, its times given by advancing the manual clock (with messages
    // of our own, whose replies are left out). Its one advance_clock line shows a node on the
    // system clock refusing it, which a manual-clock host does not do: it is left out.
    let text = std::fs::read_to_string(root.join("breaker-wasm/embed/conformance.jsonl")).unwrap();
    let (mut input, mut expected, mut now) = (String::new(), String::new(), 0);
    for line in text.lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        if case["send"]["body"]["type"] == "advance_clock" {
            continue;
        }
        let at = case["now_ms"].as_u64().unwrap();
        if at > now {
            let tick = json!({"src": "clock", "dest": "clock", "body": {"type": "advance_clock", "ms": at - now}});
            input += &format!("{tick}\n");
            now = at;
        }
        input += &format!("{}\n", case["send"]);
        for reply in case["expect"].as_array().unwrap() {
            expected += &format!("{}\n", reply.as_str().unwrap());
        }
    }
    assert_eq!(watched(input.as_bytes()), expected, "conformance");
}

/// stdout of a manual-clock host given `input`, with `--listen` on and clients polling
/// `/metrics` and `/status` and holding an event stream all along.
fn watched(input: &[u8]) -> String {
    let (mut live, port) = listening(&["--clock", "manual"], Stdio::null());
    let _stream = Stream::open(port, None);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut polls = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                assert_eq!(get(port, "/metrics").0, 200);
                assert_eq!(get(port, "/status").0, 200);
                polls += 1;
            }
            polls
        })
    };
    let mut stdin = live.take_stdin();
    // One document at a time, so polls fall between them.
    for line in input.split_inclusive(|&b| b == b'\n') {
        stdin.write_all(line).unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(poller.join().unwrap() > 0);
    drop(stdin);
    let (mut out, mut line) = (String::new(), String::new());
    while live.read_line(&mut line) > 0 {
        out.push_str(&line);
        line.clear();
    }
    assert!(live.child.wait().unwrap().success());
    out
}

#[test]
fn each_transition_is_one_stderr_line_in_text_or_json() {
    let input = std::fs::read(workspace().join("host-cli/examples/walkthrough.ndjson")).unwrap();
    let out = common::run(&["--clock", "manual"], &input);
    let text = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "0 ms service-b closed → open: 5 consecutive failures (threshold 5)",
            "0 ms service-b open → half_open: set by the call's state fixture",
            "0 ms service-b half_open → closed: 1 successful probe (threshold 1)",
            "0 ms payments closed → open: 5 consecutive failures (threshold 5)",
            "5000 ms payments open → half_open: open timeout of 5000 ms elapsed",
            "5000 ms payments half_open → closed: 1 successful probe (threshold 1)",
        ]
    );
    let out = common::run(&["--log-format", "json"], &input);
    let lines: Vec<Value> = String::from_utf8(out.stderr)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Under the system clock the walkthrough's clock moves are refused: payments stays open.
    assert_eq!(lines.len(), 4);
    let first = &lines[0];
    assert_eq!(first["seq"], 1);
    assert_eq!(first["service"], "service-b");
    assert_eq!(
        (&first["from"], &first["to"]),
        (&json!("closed"), &json!("open"))
    );
    assert_eq!(first["reason"], "5 consecutive failures (threshold 5)");
    let time = first["time"].as_str().unwrap();
    let at = first["at_ms"].as_u64().unwrap();
    assert!(time.ends_with('Z') && time.len() == 24, "{time}");
    assert_eq!(&time[20..23], format!("{:03}", at % 1000), "{time} is {at}");
    // Off: the same replies, and nothing on stderr.
    let off = common::run(&["--clock", "manual", "--log-format", "off"], &input);
    let on = common::run(&["--clock", "manual"], &input);
    assert_eq!(off.stdout, on.stdout);
    assert_eq!(String::from_utf8(off.stderr).unwrap(), "");
}

#[test]
fn a_restored_older_log_starts_the_stream_over() {
    let (mut live, port) = listening(&["--clock", "manual"], Stdio::null());
    let snapshot = ask(&mut live, json!({"type": "snapshot", "msg_id": 1}))["snapshot"].clone();
    let mut stream = Stream::open(port, None);
    live.send(&flapping(10, 1), 2);
    let first: Vec<u64> = stream.events(3).iter().map(|e| e.0).collect();
    assert_eq!(first, [1, 2, 3]);
    // The node's log goes back to empty; its next transitions are numbered from 1 again.
    ask(
        &mut live,
        json!({"type": "restore", "msg_id": 2, "snapshot": snapshot}),
    );
    ask(
        &mut live,
        json!({"type": "advance_clock", "msg_id": 3, "ms": 1000}),
    );
    live.send(&flapping(20, 1), 2);
    let again = stream.events(3);
    assert_eq!(again.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(again[0].1["at_ms"], 1000);
    live.finish();
}
