//! The batch path against one `acquire` and one `record` message per call: a wrapper that
//! spends grants and reports late must leave the node exactly as the messages do, and every
//! transition must be in the log by the time the call that caused it returns.

use breaker_wasm::Options;
use breaker_wasm::batch::{Batch, OP_ACQUIRE, OP_CALL, OP_WORDS, SYNC_MISMATCH};
use breaker_wasm::node::grant::MAX_GRANT;
use breaker_wasm::wire::Session;

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

/// What a wrapper keeps per service.
#[derive(Clone, Copy, Default)]
struct Local {
    granted: bool,
    outcomes: u64,
    failures: u64,
    rearm: u64,
    /// The service's latest permit since its grant (0: none).
    last: u64,
}

/// The wrapper's side of the batch path, as the Python and Node wrappers implement it.
struct Wrapper {
    session: Session,
    batch: Batch,
    log: Vec<f64>,
    local: Vec<Local>,
    last_permit: u64,
    /// Whole-call entries written.
    calls: u64,
    /// Successes that re-armed a grant.
    rearmed: u64,
    /// Whether the log is handed over as `i64` clock ticks (`Batch::sync_ticks`), as the
    /// Python wrapper does, rather than `f64` milliseconds.
    ticks: bool,
    /// The failure texts of the log, as `breaker_failure_texts` takes them.
    texts: Vec<u8>,
}

impl Wrapper {
    fn new(options: Options) -> Wrapper {
        Wrapper {
            session: Session::new(options),
            batch: Batch::default(),
            log: Vec::new(),
            local: Vec::new(),
            last_permit: 0,
            calls: 0,
            rearmed: 0,
            ticks: false,
            texts: Vec::new(),
        }
    }

    fn slot(&mut self, name: &str) -> usize {
        let slot = self.batch.slot(name.as_bytes()) as usize;
        if self.local.len() <= slot {
            self.local.resize(slot + 1, Local::default());
        }
        slot
    }

    fn flush(&mut self) -> i64 {
        assert!(self.batch.set_failure_texts(&self.texts) >= 0);
        self.texts.clear();
        let result = if self.ticks {
            let ticks = in_ticks(&self.log);
            self.batch
                .sync_ticks(&mut self.session, &ticks, TICKS_PER_MS)
        } else {
            self.batch.sync(&mut self.session, &self.log)
        };
        assert!(
            result > SYNC_MISMATCH + 1_000_000,
            "the node disagreed: {result}"
        );
        self.log.clear();
        result
    }

    fn regrant(&mut self, slot: usize) {
        let g = self.batch.grant(&self.session, slot as i32) as u64;
        self.local[slot] = Local {
            granted: true,
            outcomes: g & MAX_GRANT,
            failures: (g >> 21) & MAX_GRANT,
            rearm: g >> 42,
            last: 0,
        };
    }

    fn acquire(&mut self, name: &str, now: u64) -> i64 {
        let slot = self.slot(name);
        let local = self.local[slot];
        if local.granted && (local.outcomes > 0 || local.failures > 0) {
            self.last_permit += 1;
            self.local[slot].last = self.last_permit;
            let p = self.last_permit as f64;
            self.log
                .extend([OP_ACQUIRE, slot as f64, p, -1.0, now as f64]);
            return p as i64;
        }
        self.log
            .extend([OP_ACQUIRE, slot as f64, 0.0, -1.0, now as f64]);
        let r = self.flush();
        if r > 0 {
            self.last_permit = r as u64;
            self.regrant(slot);
            self.local[slot].last = r as u64;
        }
        r
    }

    fn record(&mut self, name: &str, permit: u64, code: i32, duration: u64, now: u64) {
        self.record_with(name, permit, code, duration, now, None);
    }

    /// A record, with the failure's text when there is one.
    fn record_with(
        &mut self,
        name: &str,
        permit: u64,
        code: i32,
        duration: u64,
        now: u64,
        text: Option<&str>,
    ) {
        let slot = self.slot(name);
        let n = self.log.len();
        let acquired_here = n >= OP_WORDS
            && self.log[n - 5..n - 2] == [OP_ACQUIRE, slot as f64, permit as f64]
            && self.log[n - 1] + duration as f64 == now as f64;
        if acquired_here {
            // Its acquire is the last entry: one entry for the whole call.
            self.log[n - 5] = (OP_CALL + code as u64) as f64;
            self.log[n - 2] = duration as f64;
            self.log[n - 1] = now as f64;
            self.calls += 1;
        } else {
            self.log.extend([
                f64::from(code),
                slot as f64,
                permit as f64,
                duration as f64,
                now as f64,
            ]);
        }
        if let Some(text) = text {
            let index = (self.log.len() / OP_WORDS - 1) as u32;
            self.texts.extend(index.to_le_bytes());
            self.texts.extend((text.len() as u32).to_le_bytes());
            self.texts.extend(text.as_bytes());
        }
        let l = &mut self.local[slot];
        let bad = code == 1;
        if l.granted && l.outcomes > 0 && (!bad || l.failures > 0) {
            l.outcomes -= 1;
            l.failures -= u64::from(bad);
            if code == 0 && permit == l.last && l.rearm > 0 {
                // The newest permit since the grant: its success sets the count back to 0.
                l.failures = l.rearm;
                self.rearmed += 1;
            }
            if self.log.len() < 64 * OP_WORDS {
                return;
            }
            self.flush();
            return;
        }
        self.flush();
        self.regrant(slot);
    }

    /// A JSON message: everything pending first, and every grant is void afterwards.
    fn message(&mut self, doc: &str, now: u64) -> String {
        self.flush();
        let out = String::from_utf8(self.session.handle(doc.as_bytes(), now).to_vec()).unwrap();
        self.local.iter_mut().for_each(|l| *l = Local::default());
        self.last_permit = self.session.node().last_permit();
        out
    }
}

/// Nanoseconds, as the Python wrapper's default clock reads them.
const TICKS_PER_MS: i64 = 1_000_000;
/// A guest memory limit whose budget (half of it) holds three breakers and eight permits.
const MEMORY_LIMIT: u64 = 2 * (3 * 515 + 8 * 64);

/// The `f64` log `[op, slot, permit, duration_ms, now_ms]` as the `i64` log `[op, slot, permit,
/// start, now]` in nanoseconds, each time somewhere within its millisecond.
fn in_ticks(log: &[f64]) -> Vec<i64> {
    let within = |i: usize| ((i as i64).wrapping_mul(7919) % TICKS_PER_MS).abs();
    let mut out = Vec::with_capacity(log.len());
    for (i, e) in log.chunks_exact(OP_WORDS).enumerate() {
        let now = e[4] as i64;
        let start = match e[3] {
            d if d < 0.0 => -1,
            d => (now - d as i64) * TICKS_PER_MS + within(2 * i),
        };
        let now = now * TICKS_PER_MS + within(2 * i + 1);
        out.extend([e[0] as i64, e[1] as i64, e[2] as i64, start, now]);
    }
    out
}

const CONFIGS: [&str; 8] = [
    // Few breakers: one is forgotten for another, and its window starts again empty.
    r#"{"window":{"kind":"count","size":40,"minimum_calls":3,"failure_rate":60},"max_services":2}"#,
    r#"{"failure_threshold":3}"#,
    r#"{"failure_threshold":5,"slow_call_ms":40}"#,
    r#"{"window":{"kind":"count","size":10,"minimum_calls":4,"failure_rate":50}}"#,
    r#"{"window":{"kind":"count","size":8,"minimum_calls":20,"failure_rate":30},"slow_call_ms":30,"slow_call_rate":50}"#,
    r#"{"window":{"kind":"time","size_ms":500,"minimum_calls":5,"failure_rate":40},"open_timeout_ms":300}"#,
    // Cycles clear the counts, and outstanding permits go stale, every 250 ms.
    r#"{"failure_threshold":3,"interval_ms":250}"#,
    // Open breakers that admit anyway.
    r#"{"failure_threshold":2,"metrics_only":true,"open_timeout_ms":200}"#,
];

/// How the two nodes of a run are set up besides their traffic.
#[derive(Clone, Copy, Default)]
struct Variant {
    /// The log in clock ticks (`Batch::sync_ticks`).
    ticks: bool,
    /// The guest memory limit both nodes are told: a small one makes the budget forget a
    /// breaker for another's permits.
    memory_limit: Option<u64>,
    /// Time from `advance_clock` messages only.
    manual_clock: bool,
}

fn run(seed: u64, steps: usize, v: Variant) {
    let mut rng = Rng(seed);
    let options = Options {
        manual_clock: v.manual_clock,
        ..Options::default()
    };
    let mut fast = Wrapper::new(options);
    fast.ticks = v.ticks;
    let mut json = Session::new(options);
    if let Some(bytes) = v.memory_limit {
        fast.session.node_mut().set_memory_limit(bytes);
        json.node_mut().set_memory_limit(bytes);
    }
    let services = ["a", "b", "c"];
    let mut outstanding: Vec<(usize, u64, u64)> = Vec::new();
    let mut now = 1_000;
    let mut id = 0;
    let mut texts_seen = 0;
    for step in 0..steps {
        id += 1;
        match rng.below(100) {
            0..=44 => {
                let s = rng.below(3) as usize;
                let r = fast.acquire(services[s], now);
                let doc = format!(
                    r#"{{"src":"c","dest":"{}","body":{{"type":"acquire","msg_id":{id}}}}}"#,
                    services[s]
                );
                let reply = String::from_utf8(json.handle(doc.as_bytes(), now).to_vec()).unwrap();
                if r > 0 {
                    assert!(
                        reply.contains(&format!(r#""permit":{r}}}"#)),
                        "{reply} (seed {seed}, step {step})"
                    );
                    outstanding.push((s, r as u64, now));
                } else {
                    assert!(reply.contains(r#""code":11"#), "{reply} vs {r}");
                }
            }
            45..=84 if !outstanding.is_empty() => {
                // Mostly the call just acquired, as a guard records it.
                let pick = match rng.below(2) {
                    0 => outstanding.len() - 1,
                    _ => rng.below(outstanding.len() as u64) as usize,
                };
                let (s, permit, at) = outstanding.remove(pick);
                let code = [0, 0, 0, 1, 1, 2][rng.below(6) as usize];
                let duration = match rng.below(2) {
                    0 => now - at,
                    _ => rng.below(60),
                };
                // Most failures carry a text, as a guard's do; some do not, and leave the
                // last failure as it was.
                let text = (code == 1 && rng.below(4) > 0).then(|| format!("boom {id}"));
                fast.record_with(services[s], permit, code, duration, now, text.as_deref());
                let outcome = ["success", "failure", "ignored"][code as usize];
                let error = text.map_or(String::new(), |t| format!(r#","error":"{t}""#));
                let doc = format!(
                    r#"{{"src":"c","dest":"{}","body":{{"type":"record","permit":{permit},"outcome":"{outcome}","duration_ms":{duration}{error}}}}}"#,
                    services[s]
                );
                json.handle(doc.as_bytes(), now);
            }
            85..=94 => {
                let ms = rng.below(400);
                now += ms;
                if v.manual_clock {
                    let doc = format!(
                        r#"{{"src":"c","dest":"x","body":{{"type":"advance_clock","msg_id":{id},"ms":{ms}}}}}"#
                    );
                    let a = fast.message(&doc, now);
                    let b = String::from_utf8(json.handle(doc.as_bytes(), now).to_vec()).unwrap();
                    assert_eq!(a, b);
                }
            }
            95..=97 => {
                let config = CONFIGS[rng.below(CONFIGS.len() as u64) as usize];
                let target = match rng.below(2) {
                    0 => String::new(),
                    _ => format!(r#","service":"{}""#, services[rng.below(3) as usize]),
                };
                let doc = format!(
                    r#"{{"src":"c","dest":"x","body":{{"type":"configure","msg_id":{id}{target},"config":{config}}}}}"#
                );
                let a = fast.message(&doc, now);
                let b = String::from_utf8(json.handle(doc.as_bytes(), now).to_vec()).unwrap();
                assert_eq!(a, b);
            }
            _ => {
                let doc = format!(
                    r#"{{"src":"c","dest":"x","body":{{"type":"status","msg_id":{id},"service":"{}"}}}}"#,
                    services[rng.below(3) as usize]
                );
                let a = fast.message(&doc, now);
                let b = String::from_utf8(json.handle(doc.as_bytes(), now).to_vec()).unwrap();
                assert_eq!(a, b, "status differs (seed {seed})");
                texts_seen += usize::from(a.contains(r#""error":"boom "#));
            }
        }
        // Every transition the messages caused is already logged on the batch path.
        assert_eq!(
            fast.session.node().last_event_seq(),
            json.node().last_event_seq(),
            "a transition was late (seed {seed})"
        );
    }
    fast.flush();
    // (A small memory budget forgets breakers, and their texts, too soon to tell.)
    assert!(
        texts_seen > 0 || v.memory_limit.is_some(),
        "no status showed a failure's text (seed {seed})"
    );
    assert!(
        fast.calls > 20,
        "whole-call entries were exercised: {}",
        fast.calls
    );
    assert_eq!(fast.session.node().snapshot(), json.node().snapshot());
    assert_eq!(
        fast.session.node().events_after(0),
        json.node().events_after(0)
    );
    // The metrics too: slow and ignored calls are counted however they were recorded.
    let metrics = r#"{"src":"c","dest":"x","body":{"type":"metrics","msg_id":1}}"#;
    let a = fast.message(metrics, now);
    let b = String::from_utf8(json.handle(metrics.as_bytes(), now).to_vec()).unwrap();
    assert_eq!(a, b, "metrics differ (seed {seed})");
}

#[test]
fn the_batch_path_and_the_messages_agree() {
    for seed in 1..=40 {
        run(seed * 7919, 3000, Variant::default());
    }
}

#[test]
fn a_log_in_nanosecond_ticks_agrees_with_the_messages_too() {
    for seed in 1..=20 {
        let ticks = Variant {
            ticks: true,
            ..Variant::default()
        };
        run(seed * 104_729, 3000, ticks);
    }
}

#[test]
fn a_tick_log_with_a_bad_unit_or_time_is_refused() {
    let mut s = Session::new(Options::default());
    let mut b = Batch::default();
    assert_eq!(b.slot(b"db"), 0);
    let acquire = [3, 0, 1, -1, 5_000_000];
    assert_eq!(b.sync_ticks(&mut s, &acquire, 0), SYNC_MISMATCH);
    assert_eq!(
        b.sync_ticks(&mut s, &[3, 0, 1, -1, -5], TICKS_PER_MS),
        SYNC_MISMATCH
    );
    assert!(s.node().is_empty(), "nothing replayed");
    assert_eq!(b.sync_ticks(&mut s, &acquire, TICKS_PER_MS), 1);
    // A whole call that took 2.5 ms by the clock, 3 ms in whole milliseconds (5 to 8).
    let call = [4, 0, 2, 5_900_000, 8_400_000];
    assert_eq!(b.sync_ticks(&mut s, &call, TICKS_PER_MS), 0);
    assert_eq!(s.node().now(), 8);
    assert_eq!(s.node().last_permit(), 2);
    // An acquire's start is ignored: its time is `now`.
    let acquire = [3, 0, 3, 1_000_000, 9_500_000];
    assert_eq!(b.sync_ticks(&mut s, &acquire, TICKS_PER_MS), 3);
    assert_eq!(s.node().now(), 9);
}

#[test]
fn a_local_admission_the_node_refuses_is_reported() {
    let mut s = Session::new(Options::default());
    let mut b = Batch::default();
    assert_eq!(b.slot(b"db"), 0);
    assert_eq!(b.slot(b"db"), 0);
    assert_eq!(b.slot(b""), -1);
    s.handle(
        br#"{"src":"c","dest":"db","body":{"type":"force","service":"db","mode":"open"}}"#,
        0,
    );
    assert_eq!(b.grant(&s, 0), 0, "no grant while forced");
    let ops = [OP_ACQUIRE, 0.0, 1.0, -1.0, 5.0, 9.0, 0.0, 1.0, -1.0, 5.0];
    assert_eq!(b.sync(&mut s, &ops), SYNC_MISMATCH);
    assert_eq!(b.grant(&s, 7), -1);
}

#[test]
fn no_grant_for_a_breaker_not_yet_created_when_it_would_start_open() {
    let mut s = Session::new(Options::default());
    let doc = br#"{"src":"c","dest":"n","body":{"type":"configure","msg_id":1,"config":{"initial_state":"open"}}}"#;
    s.handle(doc, 0);
    let mut b = Batch::default();
    let slot = b.slot(b"db");
    assert_eq!(b.grant(&s, slot), 0, "the first call would be rejected");
}

#[test]
fn the_default_grant_allows_four_failures() {
    let s = Session::new(Options::default());
    let mut b = Batch::default();
    let slot = b.slot(b"db");
    let g = b.grant(&s, slot) as u64;
    assert_eq!(
        (g & MAX_GRANT, (g >> 21) & MAX_GRANT, g >> 42),
        (MAX_GRANT, 4, 4)
    );
}

#[test]
fn the_fifth_failure_trips_before_its_call_returns() {
    let mut fast = Wrapper::new(Options::default());
    for i in 0..5 {
        let p = fast.acquire("db", 10 + i);
        assert_eq!(p, i as i64 + 1);
        fast.record("db", p as u64, 1, 1, 10 + i);
        assert_eq!(fast.session.node().last_event_seq(), u64::from(i == 4));
    }
    assert_eq!(fast.session.node().last_event_seq(), 1);
}

#[test]
fn only_the_newest_permit_since_the_grant_rearms_it() {
    let mut fast = Wrapper::new(Options::default());
    let configure = r#"{"src":"c","dest":"x","body":{"type":"configure","msg_id":1,"config":{"failure_threshold":3}}}"#;
    fast.message(configure, 0);
    let old = fast.acquire("db", 1) as u64;
    // A new generation: `old` is stale from now on, and its success must not count.
    let reset = r#"{"src":"c","dest":"x","body":{"type":"reset","msg_id":2,"service":"db"}}"#;
    fast.message(reset, 2);
    let before = fast.session.node().last_event_seq();
    let p = fast.acquire("db", 3) as u64;
    fast.record("db", p, 1, 0, 3);
    fast.record("db", old, 0, 0, 4);
    for t in 5..7 {
        let p = fast.acquire("db", t) as u64;
        fast.record("db", p, 1, 0, t);
    }
    assert_eq!(
        fast.session.node().last_event_seq(),
        before + 1,
        "the third failure in a row opened it before its call returned"
    );
}

#[test]
fn a_forgotten_breaker_starts_an_empty_window_and_the_grant_allows_for_it() {
    let mut fast = Wrapper::new(Options::default());
    let configure = r#"{"src":"c","dest":"x","body":{"type":"configure","msg_id":1,"config":{"window":{"kind":"count","size":100,"minimum_calls":10,"failure_rate":50},"max_services":1}}}"#;
    fast.message(configure, 0);
    for t in 1..=20 {
        let p = fast.acquire("a", t) as u64;
        fast.record("a", p, 0, 0, t);
    }
    // A second service pushes `a` out: it comes back with an empty window.
    let p = fast.acquire("b", 30) as u64;
    fast.record("b", p, 0, 0, 30);
    let before = fast.session.node().last_event_seq();
    for t in 31..41 {
        let p = fast.acquire("a", t) as u64;
        fast.record("a", p, 1, 0, t);
    }
    assert_eq!(
        fast.session.node().last_event_seq(),
        before + 1,
        "ten failures in a fresh window of ten opened it before the tenth call returned"
    );
}

#[test]
fn a_small_memory_budget_or_a_manual_clock_changes_nothing_either() {
    for seed in 1..=20 {
        let small = Variant {
            memory_limit: Some(MEMORY_LIMIT),
            ..Variant::default()
        };
        run(seed * 15_485_863, 3000, small);
        let manual = Variant {
            manual_clock: true,
            ticks: seed % 2 == 0,
            ..Variant::default()
        };
        run(seed * 32_452_843, 3000, manual);
    }
}

#[test]
fn failure_texts_that_are_not_well_formed_are_refused_whole() {
    let mut batch = Batch::default();
    let text = |index: u32, bytes: &[u8]| {
        let mut out = index.to_le_bytes().to_vec();
        out.extend((bytes.len() as u32).to_le_bytes());
        out.extend(bytes);
        out
    };
    assert_eq!(batch.set_failure_texts(&[]), 0);
    let two = [text(0, b"refused"), text(3, "d\u{e9}j\u{e0}".as_bytes())].concat();
    assert_eq!(batch.set_failure_texts(&two), 2);
    for bad in [
        [text(1, b"a"), text(1, b"b")].concat(), // indices must increase
        [text(2, b"a"), text(1, b"b")].concat(),
        text(0, &[0xff, 0xfe]), // not UTF-8
        text(0, b"cut short")[..12].to_vec(),
        vec![1, 0, 0],                                         // not even a header
        [0u32.to_le_bytes(), u32::MAX.to_le_bytes()].concat(), // a length past the end
    ] {
        assert_eq!(batch.set_failure_texts(&bad), -1, "{bad:?}");
    }
}

#[test]
fn a_failure_text_on_the_batch_path_is_the_breakers_last_failure() {
    let mut w = Wrapper::new(Options::default());
    let permit = w.acquire("db", 1_000) as u64;
    w.record_with("db", permit, 1, 5, 1_005, Some("ConnectionError: refused"));
    let status = r#"{"src":"c","dest":"x","body":{"type":"status","msg_id":1,"service":"db"}}"#;
    let reply = w.message(status, 1_010);
    assert!(
        reply.contains(r#""last_failure":{"at_ms":1005,"error":"ConnectionError: refused"}"#),
        "{reply}"
    );
    // Texts belong to one log: the next sync starts without any.
    let permit = w.acquire("db", 2_000) as u64;
    w.record_with("db", permit, 1, 5, 2_005, None);
    let reply = w.message(status, 2_010);
    assert!(reply.contains(r#""at_ms":1005"#), "{reply}");
}
