//! Memory per tracked breaker: `bench-rss [SERVICES]` creates that many services (default
//! 1,000,000) in one node whose `max_services` is raised to match, each by one successful
//! `call` (the consecutive policy), and divides the growth of VmRSS (/proc/self/status) by
//! the count. The names are made before the first reading, so only what the node keeps
//! (its copy of each name, the breaker, the index and the use-order links) is counted.

use breaker_wasm::breaker::{Attempts, Field, Patch, Setting};
use breaker_wasm::node::{CallFixture, ConfigChange, Reply, Request};
use breaker_wasm::{Node, Options};

fn vm_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmRSS value");
    kib * 1024
}

fn main() {
    let services: u64 = std::env::args()
        .nth(1)
        .map_or(1_000_000, |a| a.parse().expect("SERVICES: an integer"));
    let mut node = Node::new(Options {
        manual_clock: true,
        fixtures: true,
        fleet: false,
    });
    // Room for every breaker in the memory budget (half the limit): this measures what a
    // breaker takes, not the budget.
    node.set_memory_limit(4 << 30);
    let mut set = Patch::default();
    set.set(Field::MaxServices, Some(Setting::Int(services)));
    let reply = node.handle(
        0,
        &Request::Configure {
            service: None,
            change: ConfigChange {
                set,
                cleared: Vec::new(),
            },
        },
    );
    assert!(
        matches!(reply, Reply::ConfigureOk { .. }),
        "configure: {reply:?}"
    );
    let names: Vec<String> = (0..services).map(|i| format!("svc-{i}")).collect();
    let fixture = CallFixture {
        state: None,
        attempts: Attempts::Success,
        duration_ms: None,
        uses_fixtures: false,
    };
    let before = vm_rss_bytes();
    for name in &names {
        node.handle(
            0,
            &Request::Call {
                service: name,
                fixture,
                error: None,
            },
        );
    }
    let after = vm_rss_bytes();
    assert_eq!(node.len() as u64, services, "every service is tracked");
    let per = (after - before) as f64 / services as f64;
    println!("services {services}");
    println!("rss_before_bytes {before}");
    println!("rss_after_bytes {after}");
    println!("bytes_per_breaker {per:.1}");
}
