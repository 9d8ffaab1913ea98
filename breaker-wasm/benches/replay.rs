//! The batch path's replay: a log of whole guarded calls (one entry per call, as the Python and
//! Node wrappers write it) replayed by `Batch::sync` (`f64` milliseconds, Node) and
//! `Batch::sync_ticks` (`i64` nanoseconds, Python), over 1,000 services with 5 % failures: the
//! module's part of a guarded call, measured without a WebAssembly runtime around it.
//!
//!     cargo bench --release -p breaker-wasm --bench replay
//!
//! Criterion reports `thrpt` in elements per second: one element is one logged call. Each
//! iteration replays one log of `ENTRIES` calls (the wrappers flush at 4,096 entries) on the
//! same node; the log's permits and times are moved on before each iteration, outside the timed
//! part, so every call is admitted as the wrapper expects.

use std::hint::black_box;
use std::time::{Duration, Instant};

use breaker_wasm::batch::{Batch, OP_CALL, OP_WORDS};
use breaker_wasm::{Options, Session};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Services in the workload.
const SERVICES: usize = 1_000;
/// Calls per log (the wrappers' longest log).
const ENTRIES: usize = 4_096;
/// One failure in twenty.
const FAILURE_PERCENT: u64 = 5;
/// The clock moves 1 ms every this many calls.
const CALLS_PER_MS: u64 = 64;
/// Nanoseconds per millisecond: the Python wrapper's clock.
const TICKS_PER_MS: i64 = 1_000_000;

/// One logged call: its service's slot, outcome code (0 success, 1 failure), duration and time,
/// the time in milliseconds from the log's start.
#[derive(Clone, Copy)]
struct Call {
    slot: u32,
    code: u64,
    duration_ms: u64,
    at_ms: u64,
}

/// The deterministic workload (splitmix64, fixed seed). A service never fails four times in a
/// row and its last call in the log succeeds, so no breaker opens however often the log is
/// replayed, and every logged call is one the node admits, as a grant ensures.
fn workload(services: usize) -> Vec<Call> {
    let mut state: u64 = 0x5eed_b4ea_6e45_0002;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut in_a_row = vec![0u32; services];
    let mut calls: Vec<Call> = (0..ENTRIES as u64)
        .map(|i| {
            let r = next();
            let slot = (r % services as u64) as u32;
            let fails = (r >> 32) % 100 < FAILURE_PERCENT && in_a_row[slot as usize] < 3;
            in_a_row[slot as usize] = if fails {
                in_a_row[slot as usize] + 1
            } else {
                0
            };
            Call {
                slot,
                code: u64::from(fails),
                duration_ms: (r >> 48) % 2,
                at_ms: i / CALLS_PER_MS + 1,
            }
        })
        .collect();
    let mut seen = vec![false; services];
    for c in calls.iter_mut().rev() {
        if !std::mem::replace(&mut seen[c.slot as usize], true) {
            c.code = 0;
        }
    }
    calls
}

/// A node with every service's breaker created (one call each), its batch with a slot per
/// service, and the log's first permit and time.
fn primed(services: usize) -> (Session, Batch) {
    let mut session = Session::new(Options::default());
    let mut batch = Batch::default();
    let mut log = Vec::new();
    for s in 0..services {
        assert_eq!(batch.slot(format!("svc-{s}").as_bytes()), s as i32);
        log.extend([OP_CALL as f64, s as f64, (s + 1) as f64, 0.0, 0.0]);
    }
    assert_eq!(batch.sync(&mut session, &log), 0, "every call admitted");
    (session, batch)
}

/// The `f64` log of `calls`, its permits from `permit`, its times from `start_ms`.
fn f64_log(calls: &[Call], permit: u64, start_ms: u64, log: &mut Vec<f64>) {
    log.clear();
    for (i, c) in calls.iter().enumerate() {
        log.extend([
            (OP_CALL + c.code) as f64,
            f64::from(c.slot),
            (permit + i as u64) as f64,
            c.duration_ms as f64,
            (start_ms + c.at_ms) as f64,
        ]);
    }
}

/// The same log as `i64` nanoseconds, `[op, slot, permit, start, now]`.
fn tick_log(calls: &[Call], permit: u64, start_ms: u64, log: &mut Vec<i64>) {
    log.clear();
    for (i, c) in calls.iter().enumerate() {
        let now = (start_ms + c.at_ms) as i64 * TICKS_PER_MS + 123_456;
        let start = now - c.duration_ms as i64 * TICKS_PER_MS;
        log.extend([
            (OP_CALL + c.code) as i64,
            i64::from(c.slot),
            (permit + i as u64) as i64,
            start,
            now,
        ]);
    }
}

/// Replays `iters` logs, each built (untimed) for where the node is, and returns the time the
/// replays took.
#[expect(
    clippy::disallowed_methods,
    reason = "the benchmark times the replay alone"
)]
fn replay_logs(session: &mut Session, batch: &mut Batch, calls: &[Call], ticks: bool) -> Duration {
    let node = session.node();
    let (permit, start) = (node.last_permit() + 1, node.now());
    let mut floats = Vec::with_capacity(ENTRIES * OP_WORDS);
    let mut ints = Vec::with_capacity(ENTRIES * OP_WORDS);
    f64_log(calls, permit, start, &mut floats);
    tick_log(calls, permit, start, &mut ints);
    let began = Instant::now();
    let result = if ticks {
        batch.sync_ticks(session, black_box(&ints), TICKS_PER_MS)
    } else {
        batch.sync(session, black_box(&floats))
    };
    let took = began.elapsed();
    assert!(result >= 0, "the node disagreed with the log: {result}");
    took
}

fn replay(c: &mut Criterion) {
    let mut group = c.benchmark_group("replay");
    group.throughput(Throughput::Elements(ENTRIES as u64));
    for services in [1, SERVICES] {
        let calls = workload(services);
        for (name, ticks) in [("f64", false), ("ticks", true)] {
            let (mut session, mut batch) = primed(services);
            let id = BenchmarkId::new(name, format!("{services} services"));
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| replay_logs(&mut session, &mut batch, &calls, ticks))
                        .sum()
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = replay
}
criterion_main!(benches);
