//! The host's own metrics (`breaker_host_*`), written with `prometheus-client` after the
//! module's own.

use std::sync::atomic::Ordering;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

use super::shared::Shared;

/// The module's metrics text (ending with `# EOF`) followed by the host's, as one exposition.
pub fn exposition(module: &str, shared: &Shared, clients: i64) -> String {
    let c = &shared.counts;
    let mut r = Registry::with_prefix("breaker_host");
    let counters = [
        (
            "messages_received",
            "Documents handed to the module",
            &c.messages_in,
        ),
        (
            "replies_sent",
            "Reply lines written on stdout",
            &c.replies_out,
        ),
        (
            "bad_documents",
            "Documents refused before or by the module (a stderr line each)",
            &c.bad_documents,
        ),
        (
            "guest_traps",
            "Calls on which the module failed (each rebuilt the node)",
            &c.guest_traps,
        ),
    ];
    for (name, help, n) in counters {
        r.register(name, help, ConstCounter::new(n.load(Ordering::Relaxed)));
    }
    let age = c.checkpoint_age_ms.load(Ordering::Relaxed);
    let help = "Time since the node's last checkpoint";
    r.register_with_unit(
        "checkpoint_age",
        help,
        Unit::Seconds,
        ConstGauge::new(age as f64 / 1000.0),
    );
    let help = "Clients connected to /events";
    r.register("event_stream_clients", help, ConstGauge::new(clients));
    let mut text = module.strip_suffix("# EOF\n").unwrap_or(module).to_string();
    encode(&mut text, &r).expect("writing to a String cannot fail");
    text
}
