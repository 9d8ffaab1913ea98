//! The node's metrics in the OpenMetrics text format (what Prometheus scrapes), written with the
//! `prometheus-client` crate: one implementation for every host. Series come in service-name
//! order, so the same node gives the same bytes in every host; their number is bounded by
//! `max_services`, like the breakers.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

use super::Node;
use super::tallies::{PAIRS, ServiceTallies};
use crate::breaker::{Figures, StateName, View};

/// The state names as the `state`, `from` and `to` labels show them.
fn label(s: StateName) -> &'static str {
    match s {
        StateName::Closed => "closed",
        StateName::Open => "open",
        StateName::HalfOpen => "half_open",
    }
}

const STATES: [StateName; 3] = [StateName::Closed, StateName::Open, StateName::HalfOpen];

/// One breaker as a scrape sees it.
struct Row {
    service: String,
    view: View,
    tallies: ServiceTallies,
    /// Milliseconds until an open breaker admits a probe.
    until_probe: Option<u64>,
}

/// Every breaker of one scrape, in name order.
struct Breakers(Vec<Row>);

/// `prometheus-client` asks collectors for `Debug`; a derived one would link the formatting of
/// every field's type into the module for nothing (no scrape prints it).
impl std::fmt::Debug for Breakers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Breakers({} rows)", self.0.len())
    }
}

type Fmt = Result<(), std::fmt::Error>;

impl Node {
    /// Every breaker's metrics at the node's time, without changing anything.
    pub(super) fn metrics(&self) -> String {
        let rows: Vec<Row> = self
            .breakers
            .ids_by_name()
            .into_iter()
            .map(|id| {
                let slot = self.breakers.get(id);
                let view = slot.breaker.view(&self.config_for(&slot.name), self.now);
                let until_probe = match view.figures {
                    Figures::Open { until: Some(t) } => Some(t.saturating_sub(self.now)),
                    _ => None,
                };
                Row {
                    service: slot.name.to_string(),
                    view,
                    tallies: self.tallies.get(&slot.name),
                    until_probe,
                }
            })
            .collect();
        let tracked = rows.len() as i64;
        let mut registry = Registry::with_prefix("breaker");
        registry.register_collector(Box::new(Breakers(rows)));
        let help = "Breakers tracked (at most max_services)";
        registry.register("services", help, ConstGauge::new(tracked));
        let help = "Breakers forgotten under max_services";
        let evicted = ConstCounter::new(self.breakers.evicted);
        registry.register("evicted_services", help, evicted);
        let mut text = String::new();
        encode(&mut text, &registry).expect("writing to a String cannot fail");
        text
    }
}

/// A metric of one number per service (and maybe one more label), `get` giving the number.
fn per_service<V: EncodeMetric>(
    e: &mut DescriptorEncoder,
    rows: &[Row],
    (name, help, unit): (&str, &str, Option<Unit>),
    kind: MetricType,
    get: impl Fn(&Row) -> Vec<(Option<(&'static str, &'static str)>, V)>,
) -> Fmt {
    let mut family = e.encode_descriptor(name, help, unit.as_ref(), kind)?;
    for row in rows {
        for (extra, value) in get(row) {
            let mut labels = vec![("service", row.service.as_str())];
            labels.extend(extra);
            value.encode(family.encode_family(&labels)?)?;
        }
    }
    Ok(())
}

fn ratio(n: u64, calls: u64) -> f64 {
    match calls {
        0 => 0.0,
        calls => n as f64 / calls as f64,
    }
}

impl Collector for Breakers {
    fn encode(&self, mut e: DescriptorEncoder) -> Fmt {
        let rows = &self.0;
        let desc = (
            "state",
            "1 for the breaker's state, 0 for the other two.",
            None,
        );
        per_service(&mut e, rows, desc, MetricType::Gauge, |r| {
            STATES
                .iter()
                .map(|&s| {
                    (
                        Some(("state", label(s))),
                        ConstGauge::new(i64::from(r.view.state == s)),
                    )
                })
                .collect()
        })?;
        let help = "Calls by outcome: success, failure, rejected; slow (also a success or a failure) and ignored.";
        per_service(
            &mut e,
            rows,
            ("calls", help, None),
            MetricType::Counter,
            |r| {
                let c = r.view.counts;
                [
                    ("success", c.successes),
                    ("failure", c.failures),
                    ("rejected", c.rejections),
                    ("slow", r.tallies.slow),
                    ("ignored", r.tallies.ignored),
                ]
                .into_iter()
                .map(|(o, n)| (Some(("outcome", o)), ConstCounter::new(n)))
                .collect()
            },
        )?;
        transitions(&mut e, rows)?;
        figures(&mut e, rows)
    }
}

/// `breaker_transitions_total{service, from, to}`.
fn transitions(e: &mut DescriptorEncoder, rows: &[Row]) -> Fmt {
    let help = "State changes by from and to.";
    let mut family = e.encode_descriptor("transitions", help, None, MetricType::Counter)?;
    for row in rows {
        for (i, &(from, to)) in PAIRS.iter().enumerate() {
            let labels = [
                ("service", row.service.as_str()),
                ("from", label(from)),
                ("to", label(to)),
            ];
            let n = ConstCounter::new(row.tallies.transitions[i]);
            n.encode(family.encode_family(&labels)?)?;
        }
    }
    Ok(())
}

/// What the deciding policy sees (as `status` shows it): each gauge for the breakers in the
/// state where it applies.
fn figures(e: &mut DescriptorEncoder, rows: &[Row]) -> Fmt {
    let gauge = |n: u64| vec![(None, ConstGauge::new(n as i64))];
    let desc = (
        "consecutive_failures",
        "Failures in a row of a closed breaker under the consecutive policy.",
        None,
    );
    per_service(e, rows, desc, MetricType::Gauge, |r| match r.view.figures {
        Figures::Consecutive { failures, .. } => gauge(failures),
        _ => Vec::new(),
    })?;
    let desc = (
        "window_calls",
        "Calls in the window of a closed breaker under a count or time window.",
        None,
    );
    per_service(e, rows, desc, MetricType::Gauge, |r| match r.view.figures {
        Figures::Window { tally, .. } => gauge(tally.calls),
        _ => Vec::new(),
    })?;
    let ratio_unit = || Some(Unit::Other("ratio".into()));
    for (name, help, slow) in [
        (
            "window_failure",
            "Share of the window's calls that failed (0 to 1).",
            false,
        ),
        (
            "window_slow_call",
            "Share of the window's calls that were slow (0 to 1).",
            true,
        ),
    ] {
        per_service(
            e,
            rows,
            (name, help, ratio_unit()),
            MetricType::Gauge,
            |r| match r.view.figures {
                Figures::Window { tally, .. } => {
                    let n = if slow { tally.slow } else { tally.failures };
                    vec![(None, ConstGauge::new(ratio(n, tally.calls)))]
                }
                _ => Vec::new(),
            },
        )?;
    }
    let desc = (
        "half_open_probes_in_flight",
        "Probes admitted and not yet recorded while half_open.",
        None,
    );
    per_service(e, rows, desc, MetricType::Gauge, |r| match r.view.figures {
        Figures::HalfOpen { in_flight, .. } => gauge(in_flight),
        _ => Vec::new(),
    })?;
    let desc = (
        "until_probe",
        "Time until an open breaker admits a probe (none while forced open).",
        Some(Unit::Seconds),
    );
    per_service(e, rows, desc, MetricType::Gauge, |r| match r.until_probe {
        Some(ms) => vec![(None, ConstGauge::new(ms as f64 / 1000.0))],
        None => Vec::new(),
    })
}
