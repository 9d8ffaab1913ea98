//! Writes the end-to-end workload to stdout: `bench-gen-workload [MESSAGES] [SEED]`, NDJSON,
//! deterministic for a given seed. A mix of `call`s over 1,000 services (5 % failing, a few
//! tripping their breaker), `acquire`/`record` pairs (records name the permit the node really
//! granted, recorded a few messages after the acquire, 5 % failures), and an `advance_clock` of
//! 1 s every 10,000 messages so open breakers go half_open and close again. Every message has a
//! `msg_id`, so every message is answered. Meant for `breaker-host --clock manual`.
//!
//! The permits are predicted by running the same stream through the core (a native `Session`)
//! while generating it: permits are node-wide and only granted acquires consume one, which
//! depends on the breakers' states.

use std::collections::VecDeque;
use std::io::{BufWriter, Write};

use breaker_wasm::{Options, Session};

const SERVICES: u64 = 1_000;

struct Rng(u64);

impl Rng {
    /// splitmix64.
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn permit_of(reply: &[u8]) -> Option<u64> {
    let key = b"\"permit\":";
    let at = reply.windows(key.len()).position(|w| w == key)? + key.len();
    let digits: Vec<u8> = reply[at..]
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let messages: u64 = args
        .next()
        .map_or(1_000_000, |a| a.parse().expect("MESSAGES: an integer"));
    let mut rng = Rng(args
        .next()
        .map_or(42, |a| a.parse().expect("SEED: an integer")));
    let mut oracle = Session::new(Options {
        manual_clock: true,
        fixtures: true,
        fleet: false,
    });
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut pending: VecDeque<(u64, u64)> = VecDeque::new();
    let mut line = String::with_capacity(256);
    for id in 1..=messages {
        line.clear();
        let r = rng.next();
        let svc = r % SERVICES;
        let pick = (r >> 16) % 100;
        let fails = (r >> 32) % 100 < 5;
        let mut acquire = false;
        if id % 10_000 == 0 {
            line.push_str(&format!(r#"{{"src":"c1","dest":"n1","body":{{"type":"advance_clock","msg_id":{id},"ms":1000}}}}"#));
        } else if pending.len() >= 4 || (pick >= 75 && !pending.is_empty()) {
            let (svc, permit) = pending.pop_front().expect("non-empty");
            let outcome = if fails { "failure" } else { "success" };
            let ms = (r >> 40) % 50;
            line.push_str(&format!(
                r#"{{"src":"c1","dest":"n1","body":{{"type":"record","msg_id":{id},"service":"svc-{svc}","permit":{permit},"outcome":"{outcome}","duration_ms":{ms}}}}}"#
            ));
        } else if pick < 45 {
            let fixture = match (r >> 48) % 2000 {
                0 => r#","force_failures":5"#,
                n if n < 100 => r#","force_failures":1"#,
                _ => "",
            };
            line.push_str(&format!(r#"{{"src":"c1","dest":"svc-{svc}","body":{{"type":"call","msg_id":{id}{fixture}}}}}"#));
        } else {
            acquire = true;
            line.push_str(&format!(r#"{{"src":"c1","dest":"n1","body":{{"type":"acquire","msg_id":{id},"service":"svc-{svc}"}}}}"#));
        }
        let reply = oracle.handle(line.as_bytes(), 0);
        if acquire && let Some(permit) = permit_of(reply) {
            pending.push_back((svc, permit));
        }
        line.push('\n');
        out.write_all(line.as_bytes()).expect("stdout");
    }
    out.flush().expect("stdout");
}
