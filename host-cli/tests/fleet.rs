//! A fleet of `breaker-host` processes on one real `redis-server`, on the system clock: trips
//! spread, probes are shared, and Redis failing, coming back or holding a dead node's lease
//! never stops a node from answering.
//!
//! redis-server is installed by `.ci/setup`; a missing one fails these tests loudly.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread;
use std::time::{Duration, Instant};

use common::{host, scratch};

/// A redis-server of the test's own, on a free loopback port, killed when dropped.
struct Redis {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Redis {
    fn start(name: &str) -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Redis::on(port, scratch(name))
    }

    fn on(port: u16, dir: PathBuf) -> Redis {
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) => panic!(
                "cannot run redis-server ({e}): the fleet tests need it; .ci/setup installs it (apt-get install redis-server)"
            ),
        };
        let redis = Redis { child, port, dir };
        let started = Instant::now();
        while redis.client().get_connection().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            thread::sleep(Duration::from_millis(10));
        }
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).unwrap()
    }

    fn stop(mut self) -> (u16, PathBuf) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        (self.port, self.dir.clone())
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `breaker-host` of the fleet, its replies read on a thread so a wait can time out.
struct Node {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: Receiver<String>,
    stderr: PathBuf,
    next_id: u64,
}

/// The longest any one reply may take: a node that holds a reply up this long is blocked.
const REPLY_WITHIN: Duration = Duration::from_secs(2);

impl Node {
    fn start(dir: &std::path::Path, name: &str, extra: &[&str]) -> Node {
        let stderr = dir.join(format!("{name}.err"));
        let mut child = host(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, replies) = channel();
        thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Node {
            child,
            stdin: Some(stdin),
            replies,
            stderr,
            next_id: 1,
        }
    }

    /// Sends one request body to `payments` and returns the reply body's text.
    fn ask(&mut self, body: &str) -> String {
        let id = self.next_id;
        self.next_id += 1;
        let body = body.replacen('{', &format!(r#"{{"msg_id":{id},"#), 1);
        let doc = format!(r#"{{"src":"c","dest":"payments","body":{body}}}"#);
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{doc}").unwrap();
        stdin.flush().unwrap();
        match self.replies.recv_timeout(REPLY_WITHIN) {
            Ok(line) => {
                assert!(line.contains(&format!(r#""in_reply_to":{id}"#)), "{line}");
                line
            }
            Err(RecvTimeoutError::Timeout) => panic!("no reply to {doc} within {REPLY_WITHIN:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("the node exited: {}", self.err()),
        }
    }

    fn state(&mut self) -> String {
        let status = self.ask(r#"{"type":"status","service":"payments"}"#);
        let start = status.find(r#""state":""#).unwrap() + 9;
        status[start..].split('"').next().unwrap().to_string()
    }

    fn err(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Three nodes of one fleet on `redis`, with this config.
fn fleet(redis: &Redis, name: &str, config: &str) -> Vec<Node> {
    let dir = redis.dir.clone();
    let config_file = dir.join("config.json");
    std::fs::write(&config_file, config).unwrap();
    let url = redis.url();
    (1..=3)
        .map(|i| {
            let id = format!("n{i}");
            let args = [
                "--fleet",
                &url,
                "--fleet-name",
                name,
                "--instance",
                &id,
                "--config",
                config_file.to_str().unwrap(),
            ];
            Node::start(&dir, &id, &args)
        })
        .collect()
}

/// Asks `node` until `done` holds of the reply, for at most `within`; the time it took.
fn until(node: &mut Node, body: &str, within: Duration, done: impl Fn(&str) -> bool) -> Duration {
    let started = Instant::now();
    loop {
        let reply = node.ask(body);
        if done(&reply) {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "still {reply} after {within:?}");
        thread::sleep(Duration::from_millis(1));
    }
}

const REJECTED_OPEN: &str = r#""error":"Circuit breaker OPEN""#;
const CALL: &str = r#"{"type":"call"}"#;

#[test]
fn three_nodes_trip_together_probe_once_and_close_together() {
    let redis = Redis::start("fleet-three");
    let config = r#"{"open_timeout_ms":1000,"half_open_max_calls":2}"#;
    let mut nodes = fleet(&redis, "three", config);
    for node in &mut nodes {
        assert!(node.ask(CALL).contains("call_ok"));
    }
    let tripped = nodes[0].ask(r#"{"type":"call","force_failures":5}"#);
    assert!(tripped.contains("circuit_breaker_open"), "{tripped}");
    let at = Instant::now();
    for node in &mut nodes[1..] {
        until(node, CALL, Duration::from_secs(1), |r| {
            r.contains(REJECTED_OPEN)
        });
        let took = at.elapsed();
        assert!(
            took < Duration::from_millis(100),
            "a peer rejected only after {took:?}"
        );
    }
    // After the open period, half_open_max_calls (2) probes in all, whichever nodes ask.
    thread::sleep(Duration::from_millis(1050).saturating_sub(at.elapsed()));
    let mut permits = Vec::new();
    let probing = Instant::now();
    while probing.elapsed() < Duration::from_millis(700) {
        for (i, node) in nodes.iter_mut().enumerate() {
            let reply = node.ask(r#"{"type":"acquire"}"#);
            if reply.contains("acquire_ok") {
                assert!(reply.contains(r#""state":"half_open""#), "{reply}");
                let permit = reply.split(r#""permit":"#).nth(1).unwrap();
                permits.push((i, permit.trim_end_matches(['}', ' ']).to_string()));
            } else {
                assert!(reply.contains("Circuit breaker HALF_OPEN"), "{reply}");
            }
        }
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(permits.len(), 2, "probes fleet-wide: {permits:?}");
    // One successful probe closes the breaker on every node.
    let (i, permit) = &permits[0];
    let record = format!(r#"{{"type":"record","permit":{permit},"outcome":"success"}}"#);
    let closed = nodes[*i].ask(&record);
    assert!(closed.contains(r#""to":"closed""#), "{closed}");
    let at = Instant::now();
    for node in &mut nodes {
        while node.state() != "closed" {
            assert!(
                at.elapsed() < Duration::from_secs(1),
                "not closed everywhere"
            );
            thread::sleep(Duration::from_millis(2));
        }
    }
    // The holder gave the probe lease back on leaving half_open.
    let mut conn = redis.client().get_connection().unwrap();
    let held = |conn: &mut redis::Connection| {
        let key = "breaker:{three}:lease:payments";
        redis::cmd("EXISTS").arg(key).query::<bool>(conn).unwrap()
    };
    while held(&mut conn) {
        assert!(
            at.elapsed() < Duration::from_secs(2),
            "the lease is still held"
        );
        thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn forced_modes_are_shared_only_when_asked() {
    let redis = Redis::start("fleet-force");
    let url = redis.url();
    let start = |name: &str, instance: &str, share: bool| {
        let mut args = vec![
            "--fleet",
            &url,
            "--fleet-name",
            name,
            "--instance",
            instance,
        ];
        if share {
            args.push("--fleet-share-force");
        }
        Node::start(&redis.dir, &format!("{name}-{instance}"), &args)
    };
    let (mut a, mut b) = (start("private", "a", false), start("private", "b", false));
    assert!(b.ask(CALL).contains("call_ok"));
    assert!(
        a.ask(r#"{"type":"force","service":"payments","mode":"open"}"#)
            .contains("force_ok")
    );
    let (mut c, mut d) = (start("shared", "c", true), start("shared", "d", true));
    assert!(d.ask(CALL).contains("call_ok"));
    assert!(
        c.ask(r#"{"type":"force","service":"payments","mode":"open"}"#)
            .contains("force_ok")
    );
    until(&mut d, CALL, Duration::from_secs(1), |r| {
        r.contains(REJECTED_OPEN)
    });
    // By then the unshared force would have arrived too, had it been shared.
    assert!(b.ask(CALL).contains("call_ok"));
    assert!(
        c.ask(r#"{"type":"force","service":"payments","mode":"auto"}"#)
            .contains("force_ok")
    );
    until(&mut d, CALL, Duration::from_secs(1), |r| {
        r.contains("call_ok")
    });
}

/// How many lines of `text` contain `what`.
fn count(text: &str, what: &str) -> usize {
    text.lines().filter(|l| l.contains(what)).count()
}

#[test]
fn redis_lost_mid_run_blocks_nothing_and_the_fleet_converges_when_it_is_back() {
    let redis = Redis::start("fleet-lost");
    let mut nodes = fleet(&redis, "lost", r#"{"open_timeout_ms":60000}"#);
    for node in &mut nodes {
        assert!(node.ask(CALL).contains("call_ok"));
    }
    let (port, dir) = redis.stop();
    // Every message is still answered at once (`ask` allows each 2 s); each node decides alone.
    let started = Instant::now();
    for _ in 0..100 {
        for node in &mut nodes {
            assert!(node.ask(CALL).contains("call_ok"));
        }
    }
    let tripped = nodes[0].ask(r#"{"type":"call","force_failures":5}"#);
    assert!(tripped.contains("circuit_breaker_open"), "{tripped}");
    assert!(
        nodes[1].ask(CALL).contains("call_ok"),
        "partitioned: still closed"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    thread::sleep(Duration::from_millis(300));
    // Back: the trip made while Redis was away reaches the others.
    let redis = Redis::on(port, dir);
    for node in &mut nodes[1..] {
        until(node, CALL, Duration::from_secs(15), |r| {
            r.contains(REJECTED_OPEN)
        });
    }
    for node in &nodes {
        let err = node.err();
        assert_eq!(count(&err, "is unreachable"), 1, "{err}");
        assert_eq!(count(&err, "is back"), 1, "{err}");
    }
    drop(redis);
}

#[test]
fn redis_absent_at_start_the_nodes_serve_alone_then_join() {
    let redis = Redis::start("fleet-absent");
    let (port, dir) = redis.stop();
    let url = format!("redis://127.0.0.1:{port}/0");
    let args = ["--fleet", &url, "--fleet-name", "absent", "--instance"];
    let mut a = Node::start(&dir, "a", &[&args[..], &["a"]].concat());
    let mut b = Node::start(&dir, "b", &[&args[..], &["b"]].concat());
    assert!(
        a.ask(r#"{"type":"call","force_failures":5}"#)
            .contains("circuit_breaker_open")
    );
    assert!(b.ask(CALL).contains("call_ok"));
    let _redis = Redis::on(port, dir);
    until(&mut b, CALL, Duration::from_secs(15), |r| {
        r.contains(REJECTED_OPEN)
    });
    for node in [&a, &b] {
        let err = node.err();
        assert_eq!(count(&err, "is unreachable"), 1, "{err}");
    }
}

#[test]
fn a_node_killed_holding_the_probe_lease_holds_the_fleet_up_only_until_it_expires() {
    let redis = Redis::start("fleet-lease");
    let config = r#"{"open_timeout_ms":300,"probe_timeout_ms":1000}"#;
    let mut nodes = fleet(&redis, "lease", config);
    assert!(
        nodes[0]
            .ask(r#"{"type":"call","force_failures":5}"#)
            .contains("circuit_breaker_open")
    );
    until(&mut nodes[1], CALL, Duration::from_secs(1), |r| {
        r.contains(REJECTED_OPEN)
    });
    thread::sleep(Duration::from_millis(350));
    // n1 takes the lease (the first acquire moves it to half_open; the lease follows).
    until(
        &mut nodes[0],
        r#"{"type":"acquire"}"#,
        Duration::from_secs(1),
        |r| r.contains("acquire_ok"),
    );
    let held = Instant::now();
    nodes[0].kill();
    // n2 gets no probe while the dead node's lease lasts, and one once it has expired.
    let rejected = until(
        &mut nodes[1],
        r#"{"type":"acquire"}"#,
        Duration::from_secs(3),
        |r| r.contains("acquire_ok"),
    );
    let after = held.elapsed();
    assert!(
        rejected > Duration::from_millis(500),
        "probed after {rejected:?}"
    );
    assert!(
        after >= Duration::from_millis(900),
        "the lease ended early: {after:?}"
    );
}

#[test]
fn duplicate_stream_entries_make_no_second_transition() {
    let redis = Redis::start("fleet-dup");
    let mut nodes = fleet(&redis, "dup", "{}");
    assert!(nodes[0].ask(CALL).contains("call_ok"));
    let mut conn = redis.client().get_connection().unwrap();
    let stream = "breaker:{dup}:transitions";
    let add = |conn: &mut redis::Connection, to: &str, extra: &[(&str, &str)]| {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(stream).arg("*");
        let fields = [("instance", "ghost"), ("service", "payments"), ("to", to)];
        for (k, v) in fields.iter().chain(extra) {
            cmd.arg(k).arg(v);
        }
        let _: String = cmd.query(conn).unwrap();
    };
    for _ in 0..2 {
        add(
            &mut conn,
            "open",
            &[("remaining_ms", "60000"), ("reason", "r")],
        );
    }
    until(&mut nodes[0], CALL, Duration::from_secs(1), |r| {
        r.contains(REJECTED_OPEN)
    });
    for _ in 0..2 {
        add(&mut conn, "closed", &[("reason", "probe ok")]);
    }
    until(&mut nodes[0], CALL, Duration::from_secs(1), |r| {
        r.contains("call_ok")
    });
    thread::sleep(Duration::from_millis(100));
    let events = nodes[0].ask(r#"{"type":"events","service":"payments"}"#);
    assert_eq!(events.matches(r#""to":"open""#).count(), 1, "{events}");
    assert_eq!(events.matches(r#""to":"closed""#).count(), 1, "{events}");
    assert!(events.contains("peer ghost: probe ok"), "{events}");
}

#[test]
fn a_nodes_input_with_the_fleets_documents_replays_to_the_same_replies() {
    let redis = Redis::start("fleet-replay");
    let dir = redis.dir.clone();
    let config = dir.join("config.json");
    std::fs::write(&config, r#"{"open_timeout_ms":300}"#).unwrap();
    let (url, config) = (redis.url(), config.to_str().unwrap().to_string());
    let record = dir.join("b.record");
    let base = [
        "--fleet",
        &url,
        "--fleet-name",
        "replay",
        "--config",
        &config,
    ];
    let mut a = Node::start(&dir, "a", &[&base[..], &["--instance", "a"]].concat());
    let b_args = ["--instance", "b", "--record", record.to_str().unwrap()];
    let mut b = Node::start(&dir, "b", &[&base[..], &b_args].concat());
    let mut replies = vec![b.ask(CALL)];
    assert!(
        a.ask(r#"{"type":"call","force_failures":5}"#)
            .contains("circuit_breaker_open")
    );
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(600) {
        replies.push(b.ask(r#"{"type":"acquire"}"#));
        thread::sleep(Duration::from_millis(10));
    }
    replies.push(b.ask(r#"{"type":"status","service":"payments"}"#));
    drop(b.stdin.take());
    let _ = b.child.wait();
    let mut replay = String::new();
    let mut now = 0;
    // The recording: a header, then every document the module was given with its time.
    let recorded = std::fs::read_to_string(&record).unwrap();
    assert!(recorded.starts_with(r#"{"breaker_record":1"#), "{recorded}");
    assert!(recorded.lines().next().unwrap().contains(r#""fleet":true"#));
    for line in recorded.lines().skip(1) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let at = v["at_ms"].as_u64().unwrap();
        let advance = format!(
            r#"{{"src":"r","dest":"r","body":{{"type":"advance_clock","ms":{}}}}}"#,
            at - now
        );
        replay.push_str(&advance);
        replay.push('\n');
        replay.push_str(v["doc"].as_str().unwrap());
        replay.push('\n');
        now = at;
    }
    assert!(
        replay.contains("peer_transition") && replay.contains("fleet_lease"),
        "{replay}"
    );
    let args = ["--clock", "manual", "--fleet-replay", "--config", &config];
    let out = common::run(&args, replay.as_bytes());
    assert_eq!(common::lines(&out), replies);
    // And `breaker-host replay` reads the same recording to the same replies.
    let out = common::run(&["replay", record.to_str().unwrap(), "--replies"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(common::lines(&out), replies);
    assert!(
        replies.iter().any(|r| r.contains("Circuit breaker OPEN")),
        "{replies:?}"
    );
    assert!(
        replies.iter().any(|r| r.contains("acquire_ok")),
        "{replies:?}"
    );
}

#[test]
fn a_node_that_ends_right_after_a_trip_still_shares_it() {
    let redis = Redis::start("fleet-end");
    let url = redis.url();
    let args = ["--fleet", &url, "--fleet-name", "end", "--instance"];
    let mut b = Node::start(&redis.dir, "b", &[&args[..], &["b"]].concat());
    assert!(b.ask(CALL).contains("call_ok"));
    let trip =
        r#"{"src":"c","dest":"payments","body":{"type":"call","msg_id":1,"force_failures":5}}"#;
    let out = common::run(
        &[&args[..], &["a"]].concat(),
        format!("{trip}\n").as_bytes(),
    );
    assert!(out.status.success());
    assert!(common::lines(&out)[0].contains("circuit_breaker_open"));
    until(&mut b, CALL, Duration::from_secs(1), |r| {
        r.contains(REJECTED_OPEN)
    });
}

#[test]
fn a_restarted_node_does_not_publish_its_old_transitions_again() {
    let redis = Redis::start("fleet-restart");
    let url = redis.url();
    let state = redis.dir.join("a.state");
    let a_args = [
        "--fleet",
        &url,
        "--fleet-name",
        "restart",
        "--instance",
        "a",
        "--state-file",
        state.to_str().unwrap(),
    ];
    let mut b = Node::start(
        &redis.dir,
        "b",
        &["--fleet", &url, "--fleet-name", "restart"],
    );
    assert!(b.ask(CALL).contains("call_ok"));
    let doc = |body: &str| format!(r#"{{"src":"c","dest":"payments","body":{body}}}"#);
    let first = [
        doc(r#"{"type":"call","msg_id":1,"force_failures":5}"#),
        doc(r#"{"type":"reset","msg_id":2,"service":"payments"}"#),
    ];
    let out = common::run(&a_args, (first.join("\n") + "\n").as_bytes());
    assert!(out.status.success());
    let mut conn = redis.client().get_connection().unwrap();
    let stream = "breaker:{restart}:transitions";
    let entries =
        |conn: &mut redis::Connection| redis::cmd("XLEN").arg(stream).query::<u64>(conn).unwrap();
    // The open was over (reset) before it could be published: only the close was.
    assert_eq!(entries(&mut conn), 1, "the close");
    // b opens on its own; a comes back with the old open and close in its log.
    until(&mut b, CALL, Duration::from_secs(1), |r| {
        r.contains("call_ok")
    });
    let tripped = b.ask(r#"{"type":"call","force_failures":5}"#);
    assert!(tripped.contains("circuit_breaker_open"), "{tripped}");
    let again = [
        doc(r#"{"type":"status","msg_id":1,"service":"payments"}"#),
        doc(r#"{"type":"call","msg_id":2,"service":"other","force_failures":5}"#),
    ];
    let out = common::run(&a_args, (again.join("\n") + "\n").as_bytes());
    // (a may have heard of b's trip by then: it reads the stream from what it still holds.)
    assert!(common::lines(&out)[1].contains("circuit_breaker_open"));
    thread::sleep(Duration::from_millis(200));
    assert_eq!(entries(&mut conn), 3, "b's trip and a's new one only");
    assert!(b.ask(CALL).contains(REJECTED_OPEN));
}
