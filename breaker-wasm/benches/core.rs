//! Core decisions: acquire + record pairs through the typed Rust API (no JSON), over 1,000
//! services with 5 % failures, per trip policy; and the same workload through the `recloser`
//! and `failsafe` crates, side by side in one run.
//!
//!     cargo bench --release -p breaker-wasm --bench core
//!
//! Criterion reports `thrpt` in elements per second: one element is one acquire + record pair
//! (a rejected acquire counts as a pair: the decision was made, there is nothing to record).

use std::hint::black_box;
use std::time::Duration;

use breaker_wasm::breaker::{Breaker, Config, Outcome, Transitions, Window};
use breaker_wasm::node::{Reply, Request};
use breaker_wasm::{Node, Options};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Services in the workload.
const SERVICES: usize = 1_000;
/// Pairs per iteration of the workload (a power of two, so the script indexes with a mask).
const PAIRS: usize = 1 << 16;
/// One failure in twenty.
const FAILURE_PERCENT: u64 = 5;
/// The simulated clock moves 1 ms every this many pairs.
const PAIRS_PER_MS: u64 = 64;

/// A named way to build the config of one measured policy.
type Policy = (&'static str, fn() -> Config);

/// The trip policies measured: one line per policy (the protocol's default of each window kind).
const POLICIES: &[Policy] = &[
    ("consecutive", Config::default),
    ("count", || Config {
        window: Window::COUNT_DEFAULT,
        ..Config::default()
    }),
    ("time", || Config {
        window: Window::TIME_DEFAULT,
        ..Config::default()
    }),
];

/// One pair of the workload: which service, and whether the downstream fails.
#[derive(Clone, Copy)]
struct Op {
    service: u32,
    fails: bool,
}

/// The deterministic workload (splitmix64, fixed seed).
fn workload() -> Vec<Op> {
    let mut state: u64 = 0x5eed_b4ea_6e45_0001;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    (0..PAIRS)
        .map(|_| {
            let r = next();
            Op {
                service: (r % SERVICES as u64) as u32,
                fails: (r >> 32) % 100 < FAILURE_PERCENT,
            }
        })
        .collect()
}

fn names() -> Vec<String> {
    (0..SERVICES).map(|i| format!("svc-{i}")).collect()
}

/// Our core: one `Breaker` per service in a vector, the caller owning the config and the clock.
struct Core {
    config: Config,
    breakers: Vec<Breaker>,
    log: Transitions,
    permit: u64,
    pairs: u64,
}

impl Core {
    fn new(config: Config) -> Core {
        let breakers = names().iter().map(|n| Breaker::new(n)).collect();
        Core {
            config,
            breakers,
            log: Vec::new(),
            permit: 0,
            pairs: 0,
        }
    }

    fn run(&mut self, ops: &[Op]) -> u64 {
        let mut admitted = 0;
        for op in ops {
            let now = self.pairs / PAIRS_PER_MS;
            self.pairs += 1;
            let b = &mut self.breakers[op.service as usize];
            let permit = self.permit + 1;
            if b.acquire(&self.config, now, permit, &mut self.log).is_ok() {
                self.permit = permit;
                admitted += 1;
                let outcome = if op.fails {
                    Outcome::Failure
                } else {
                    Outcome::Success
                };
                black_box(b.record(&self.config, now, permit, outcome, None, &mut self.log));
            }
            self.log.clear();
        }
        admitted
    }
}

/// The same through `Node::handle` with typed requests: adds the by-name lookup, the per-service
/// config and the event log (still no JSON).
struct NodeRun {
    node: Node,
    names: Vec<String>,
    pairs: u64,
}

impl NodeRun {
    fn new() -> NodeRun {
        NodeRun {
            node: Node::new(Options::default()),
            names: names(),
            pairs: 0,
        }
    }

    fn run(&mut self, ops: &[Op]) -> u64 {
        let mut admitted = 0;
        for op in ops {
            let now = self.pairs / PAIRS_PER_MS;
            self.pairs += 1;
            let service = self.names[op.service as usize].as_str();
            if let Reply::Acquired { permit, .. } =
                self.node.handle(now, &Request::Acquire { service })
            {
                admitted += 1;
                let outcome = if op.fails {
                    Outcome::Failure
                } else {
                    Outcome::Success
                };
                black_box(self.node.handle(
                    now,
                    &Request::Record {
                        service,
                        permit,
                        outcome,
                        duration_ms: None,
                        error: None,
                    },
                ));
            }
        }
        admitted
    }
}

/// `recloser`: a ring buffer of 5 calls at a 100 % error rate is "5 consecutive failures".
fn reclosers() -> Vec<recloser::Recloser> {
    (0..SERVICES)
        .map(|_| {
            recloser::Recloser::custom()
                .error_rate(1.0)
                .closed_len(5)
                .half_open_len(1)
                .open_wait(Duration::from_millis(5000))
                .build()
        })
        .collect()
}

fn run_recloser(breakers: &[recloser::Recloser], ops: &[Op]) -> u64 {
    let mut admitted = 0;
    for op in ops {
        let fails = op.fails;
        let r = breakers[op.service as usize].call(|| if fails { Err(()) } else { Ok(()) });
        if !matches!(r, Err(recloser::Error::Rejected)) {
            admitted += 1;
        }
        black_box(r).ok();
    }
    admitted
}

type Failsafe = failsafe::StateMachine<
    failsafe::failure_policy::ConsecutiveFailures<failsafe::backoff::Constant>,
    (),
>;

/// `failsafe`: its consecutive-failures policy, 5 failures, a constant 5 s open period; the
/// two-step `is_call_permitted` / `on_success` / `on_error` API.
fn failsafes() -> Vec<Failsafe> {
    (0..SERVICES)
        .map(|_| {
            let policy = failsafe::failure_policy::consecutive_failures(
                5,
                failsafe::backoff::constant(Duration::from_secs(5)),
            );
            failsafe::Config::new().failure_policy(policy).build()
        })
        .collect()
}

fn run_failsafe(breakers: &[Failsafe], ops: &[Op]) -> u64 {
    let mut admitted = 0;
    for op in ops {
        let b = &breakers[op.service as usize];
        if b.is_call_permitted() {
            admitted += 1;
            if op.fails {
                b.on_error();
            } else {
                b.on_success();
            }
        }
    }
    admitted
}

fn pairs(c: &mut Criterion) {
    let ops = workload();
    let mut group = c.benchmark_group("pairs");
    group.throughput(Throughput::Elements(PAIRS as u64));
    for &(policy, config) in POLICIES {
        let mut core = Core::new(config());
        group.bench_function(BenchmarkId::new("breaker", policy), |b| {
            b.iter(|| core.run(black_box(&ops)))
        });
    }
    let mut node = NodeRun::new();
    group.bench_function(BenchmarkId::new("node", "consecutive"), |b| {
        b.iter(|| node.run(black_box(&ops)))
    });
    let rc = reclosers();
    group.bench_function(BenchmarkId::new("recloser", "consecutive"), |b| {
        b.iter(|| run_recloser(&rc, black_box(&ops)))
    });
    let fs = failsafes();
    group.bench_function(BenchmarkId::new("failsafe", "consecutive"), |b| {
        b.iter(|| run_failsafe(&fs, black_box(&ops)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = pairs
}
criterion_main!(benches);
