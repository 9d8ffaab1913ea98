//! Any log the batch path is given, not only one a wrapper spending grants writes: whole calls
//! on open, half_open and forced breakers, on breakers the budget forgets, with permits the node
//! does not hand out, each replayed as the `acquire` and `record` requests it stands for. The
//! node must end the same whichever way a call arrives (`tests/batch.rs` drives the wrappers'
//! logs; this drives the entries one at a time).

use breaker_wasm::batch::{Batch, OP_CALL, SYNC_MISMATCH};
use breaker_wasm::breaker::Outcome;
use breaker_wasm::node::{Reply, Request};
use breaker_wasm::{Options, Session};

/// A tiny fixed-seed PRNG (xorshift64*), so the sequence is the same every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) % n
    }
}

const SERVICES: [&str; 3] = ["a", "b", "c"];

/// Configs of the whole node or of one service, picked at random between calls.
const CONFIGS: [&str; 9] = [
    r#"{"failure_threshold":2}"#,
    r#"{"failure_threshold":4,"slow_call_ms":30}"#,
    r#"{"failure_threshold":3,"interval_ms":200}"#,
    r#"{"failure_threshold":2,"metrics_only":true,"open_timeout_ms":100}"#,
    r#"{"window":{"kind":"count","size":6,"minimum_calls":3,"failure_rate":50},"max_services":2}"#,
    r#"{"window":{"kind":"time","size_ms":300,"minimum_calls":3,"failure_rate":40},"open_timeout_ms":150}"#,
    r#"{"initial_state":"open","open_timeout_ms":120,"max_services":2}"#,
    r#"{"initial_state":"half_open","half_open_max_calls":2,"success_threshold":2}"#,
    r#"{"half_open_budget":"period","half_open_max_calls":2,"failure_threshold":1,"open_timeout_ms":50}"#,
];

/// A message other than traffic, the same for both nodes.
fn message(rng: &mut Rng, id: u64) -> String {
    let service = SERVICES[rng.below(3) as usize];
    let body = match rng.below(6) {
        0 => {
            let mode = ["open", "closed", "auto", "auto"][rng.below(4) as usize];
            format!(r#""type":"force","service":"{service}","mode":"{mode}""#)
        }
        1 => {
            let to = ["closed", "open", "half_open"][rng.below(3) as usize];
            format!(r#""type":"transition","service":"{service}","to":"{to}""#)
        }
        2 => format!(r#""type":"reset","service":"{service}""#),
        _ => {
            let config = CONFIGS[rng.below(CONFIGS.len() as u64) as usize];
            let target = match rng.below(3) {
                0 => format!(r#","service":"{service}""#),
                _ => String::new(),
            };
            format!(r#""type":"configure"{target},"config":{config}"#)
        }
    };
    format!(r#"{{"src":"c","dest":"x","body":{{{body},"msg_id":{id}}}}}"#)
}

/// What the batch path must return for a whole call: the acquire at `at`; when it hands out
/// `expected`, the record of it at `now`.
fn by_requests(
    json: &mut Session,
    service: &str,
    expected: u64,
    outcome: Outcome,
    duration_ms: u64,
    now: u64,
    error: Option<&str>,
) -> i64 {
    let node = json.node_mut();
    match node.handle(now - duration_ms, &Request::Acquire { service }) {
        Reply::Acquired { permit, .. } if permit == expected => {
            let record = Request::Record {
                service,
                permit,
                outcome,
                duration_ms: Some(duration_ms),
                error: error.map(Into::into),
            };
            match node.handle(now, &record) {
                Reply::Recorded { stale, .. } => i64::from(stale),
                other => panic!("not a record's reply: {other:?}"),
            }
        }
        _ => SYNC_MISMATCH,
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn any_log(seed: u64, memory_limit: Option<u64>, texts_kept: &mut usize) {
    let mut rng = Rng(seed);
    let mut fast = Session::new(Options::default());
    let mut json = Session::new(Options::default());
    if let Some(bytes) = memory_limit {
        fast.node_mut().set_memory_limit(bytes);
        json.node_mut().set_memory_limit(bytes);
    }
    let mut batch = Batch::default();
    for s in SERVICES {
        batch.slot(s.as_bytes());
    }
    let mut now = 1_000;
    for step in 0..2_000 {
        match rng.below(100) {
            0..=84 => {
                let slot = rng.below(3);
                let next = json.node().last_permit() + 1;
                // Mostly the permit the node hands out next; sometimes one it will not.
                let expected = match rng.below(12) {
                    0 => next + 1,
                    1 => next.saturating_sub(2).max(1),
                    _ => next,
                };
                let code = [0, 0, 0, 0, 1, 1, 2][rng.below(7) as usize];
                let outcome = [Outcome::Success, Outcome::Failure, Outcome::Ignored][code];
                let duration = rng.below(60);
                now += rng.below(25);
                let entry = [
                    (OP_CALL + code as u64) as f64,
                    slot as f64,
                    expected as f64,
                    duration as f64,
                    now as f64,
                ];
                // Most entries carry a text, as a guard's failures do (a text on any other
                // outcome is not kept).
                let error = (rng.below(4) > 0).then(|| format!("boom {step}"));
                if let Some(e) = &error {
                    let mut texts = 0u32.to_le_bytes().to_vec();
                    texts.extend((e.len() as u32).to_le_bytes());
                    texts.extend(e.as_bytes());
                    assert_eq!(batch.set_failure_texts(&texts), 1);
                }
                let got = batch.sync(&mut fast, &entry);
                let service = SERVICES[slot as usize];
                let error = error.as_deref();
                let want = by_requests(&mut json, service, expected, outcome, duration, now, error);
                assert_eq!(got, want, "seed {seed}, step {step}");
            }
            85..=89 => now += rng.below(1_000),
            _ => {
                let doc = message(&mut rng, step);
                let a = text(fast.handle(doc.as_bytes(), now));
                let b = text(json.handle(doc.as_bytes(), now));
                assert_eq!(a, b, "seed {seed}, step {step}");
            }
        }
        assert_eq!(
            fast.node().last_event_seq(),
            json.node().last_event_seq(),
            "seed {seed}, step {step}"
        );
    }
    assert_eq!(
        fast.node().snapshot(),
        json.node().snapshot(),
        "seed {seed}"
    );
    *texts_kept += fast
        .node()
        .snapshot()
        .breakers
        .iter()
        .filter(|b| b.parts.last_failure.is_some())
        .count();
    assert_eq!(fast.node().events_after(0), json.node().events_after(0));
    let metrics = r#"{"src":"c","dest":"x","body":{"type":"metrics","msg_id":1}}"#;
    let a = text(fast.handle(metrics.as_bytes(), now));
    let b = text(json.handle(metrics.as_bytes(), now));
    assert_eq!(a, b, "metrics differ (seed {seed})");
}

#[test]
fn any_whole_call_replays_as_its_two_requests() {
    let mut texts_kept = 0;
    for seed in 1..=40 {
        any_log(seed * 49_979_687, None, &mut texts_kept);
    }
    assert!(texts_kept > 10, "failure texts were kept: {texts_kept}");
}

#[test]
fn any_whole_call_replays_as_its_two_requests_under_a_small_budget() {
    // The budget holds three breakers and a few permits: filing an acquire's permit can make
    // it forget a breaker, this one included.
    for seed in 1..=40 {
        any_log(seed * 86_028_121, Some(2 * (3 * 515 + 6 * 64)), &mut 0);
    }
}

#[test]
fn a_whole_call_on_a_breaker_with_every_permit_outstanding_drops_the_oldest() {
    use breaker_wasm::batch::OP_ACQUIRE;
    use breaker_wasm::breaker::MAX_OUTSTANDING;
    let mut fast = Session::new(Options::default());
    let mut json = Session::new(Options::default());
    let mut batch = Batch::default();
    batch.slot(b"a");
    let acquires: Vec<f64> = (1..=MAX_OUTSTANDING as u64)
        .flat_map(|p| [OP_ACQUIRE, 0.0, p as f64, -1.0, 5.0])
        .collect();
    assert_eq!(batch.sync(&mut fast, &acquires), MAX_OUTSTANDING as i64);
    for _ in 0..MAX_OUTSTANDING {
        json.node_mut()
            .handle(5, &Request::Acquire { service: "a" });
    }
    let permit = MAX_OUTSTANDING as u64 + 1;
    let call = [(OP_CALL + 1) as f64, 0.0, permit as f64, 2.0, 9.0];
    assert_eq!(batch.sync(&mut fast, &call), 0);
    assert_eq!(
        by_requests(&mut json, "a", permit, Outcome::Failure, 2, 9, None),
        0
    );
    let (a, b) = (fast.node().snapshot(), json.node().snapshot());
    assert_eq!(a, b);
    let leases = &a.breakers[0].parts.leases;
    assert_eq!(
        leases.len(),
        MAX_OUTSTANDING - 1,
        "the oldest permit was dropped"
    );
    assert_eq!(leases[0].permit, 2);
}
