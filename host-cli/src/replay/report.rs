//! What the replays under several configs say together: per service and config, when the
//! breaker would have opened and closed and how many calls it would have rejected, and the first
//! call on which the configs decided differently. Written as a table or as JSON.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use super::run::{Run, Verdict};

/// The report of a replay.
#[derive(Serialize)]
pub struct Report {
    /// The configs, in order: `recorded` (the config the recording was made under) first.
    pub configs: Vec<String>,
    /// Documents replayed, and the replies each config gave.
    pub documents: usize,
    pub replies: usize,
    pub services: Vec<ServiceReport>,
    /// What keeps the replay from being exact, if anything.
    pub notes: Vec<String>,
}

#[derive(Serialize)]
pub struct ServiceReport {
    pub service: String,
    /// Per config, in the order of `configs`.
    pub configs: Vec<ConfigReport>,
    /// The first call the configs decided differently, if any.
    pub first_difference: Option<Difference>,
}

#[derive(Default, Serialize)]
pub struct ConfigReport {
    pub config: String,
    /// When it entered open, and closed (node times, in order).
    pub opened_at_ms: Vec<u64>,
    pub closed_at_ms: Vec<u64>,
    /// The first transition to open: its time and reason.
    pub first_trip: Option<Trip>,
    /// Calls refused by the breaker.
    pub rejected: u64,
}

#[derive(Clone, Serialize)]
pub struct Trip {
    pub at_ms: u64,
    pub reason: String,
}

#[derive(Serialize)]
pub struct Difference {
    /// The reply's position (from 1) among every reply of the replay, and its node time.
    pub reply: usize,
    pub at_ms: u64,
    /// Per config, in the order of `configs`: `admitted`, `rejected` or `none`.
    pub decisions: Vec<&'static str>,
}

fn word(v: Verdict) -> &'static str {
    match v {
        Verdict::Admitted => "admitted",
        Verdict::Rejected => "rejected",
        Verdict::Other => "none",
    }
}

/// Puts the runs (one per config, in the order of `configs`) together.
pub fn build(configs: Vec<String>, documents: usize, runs: &[Run], notes: Vec<String>) -> Report {
    let mut by_service: BTreeMap<&str, Vec<ConfigReport>> = BTreeMap::new();
    let blank = || -> Vec<ConfigReport> {
        configs
            .iter()
            .map(|c| ConfigReport {
                config: c.clone(),
                ..ConfigReport::default()
            })
            .collect()
    };
    for (k, run) in runs.iter().enumerate() {
        for &(v, id) in &run.verdicts {
            if v == Verdict::Rejected {
                by_service
                    .entry(&run.services[id as usize])
                    .or_insert_with(blank)[k]
                    .rejected += 1;
            }
        }
        for t in &run.transitions {
            let r = &mut by_service.entry(&t.service).or_insert_with(blank)[k];
            match t.to.as_str() {
                "open" => {
                    r.opened_at_ms.push(t.at_ms);
                    if r.first_trip.is_none() {
                        r.first_trip = Some(Trip {
                            at_ms: t.at_ms,
                            reason: t.reason.clone(),
                        });
                    }
                }
                "closed" => r.closed_at_ms.push(t.at_ms),
                _ => {}
            }
        }
    }
    let mut differences = first_differences(runs);
    let services = by_service
        .into_iter()
        .map(|(service, configs)| ServiceReport {
            first_difference: differences.remove(service),
            service: service.to_string(),
            configs,
        })
        .collect();
    Report {
        configs,
        documents,
        replies: runs.first().map_or(0, |r| r.verdicts.len()),
        services,
        notes,
    }
}

/// Per service, the first reply on which the runs' verdicts differ. Every run answers the same
/// documents, so the n-th reply of one run answers the same message as the n-th of another.
fn first_differences(runs: &[Run]) -> BTreeMap<&str, Difference> {
    let mut out = BTreeMap::new();
    let Some((first, rest)) = runs.split_first() else {
        return out;
    };
    for (n, &(v, id)) in first.verdicts.iter().enumerate() {
        if id == u32::MAX
            || rest
                .iter()
                .all(|r| r.verdicts.get(n).map(|x| x.0) == Some(v))
        {
            continue;
        }
        let service = first.services[id as usize].as_str();
        out.entry(service).or_insert_with(|| {
            let call = first.times.partition_point(|&(start, _)| start <= n) - 1;
            Difference {
                reply: n + 1,
                at_ms: first.times[call].1,
                decisions: runs
                    .iter()
                    .map(|r| r.verdicts.get(n).map_or("none", |x| word(x.0)))
                    .collect(),
            }
        });
    }
    out
}

/// Writes `report` as one JSON document.
pub fn write_json(report: &Report, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer(&mut *out, report)?;
    out.write_all(b"\n")
}

/// At most this many open times are listed in a table cell (JSON has them all).
const LISTED: usize = 3;

fn times(list: &[u64]) -> String {
    let mut text: Vec<String> = list.iter().take(LISTED).map(u64::to_string).collect();
    if list.len() > LISTED {
        text.push(format!("… ({} in all)", list.len()));
    }
    if text.is_empty() {
        "-".into()
    } else {
        text.join(" ")
    }
}

/// Writes `report` as a table: one row per service and config, then where the configs
/// disagree.
pub fn write_table(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let mut rows = vec![[
        "service".to_string(),
        "config".into(),
        "opened at (ms)".into(),
        "closed at (ms)".into(),
        "rejected".into(),
        "first trip".into(),
    ]];
    for s in &report.services {
        for c in &s.configs {
            rows.push([
                s.service.clone(),
                c.config.clone(),
                times(&c.opened_at_ms),
                times(&c.closed_at_ms),
                c.rejected.to_string(),
                c.first_trip
                    .as_ref()
                    .map_or("-".into(), |t| format!("{} ms: {}", t.at_ms, t.reason)),
            ]);
        }
    }
    let widths: Vec<usize> = (0..6)
        .map(|k| rows.iter().map(|r| r[k].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, &w)| format!("{cell:<w$}"))
            .collect();
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    writeln!(
        out,
        "\n{} documents, {} replies per config",
        report.documents, report.replies
    )?;
    for s in &report.services {
        if let Some(d) = &s.first_difference {
            let decisions: Vec<String> = report
                .configs
                .iter()
                .zip(&d.decisions)
                .map(|(c, v)| format!("{c} {v}"))
                .collect();
            writeln!(
                out,
                "{}: first difference at reply {} ({} ms): {}",
                s.service,
                d.reply,
                d.at_ms,
                decisions.join(", ")
            )?;
        }
    }
    if report.services.iter().all(|s| s.first_difference.is_none()) {
        writeln!(out, "the configs decided every call alike")?;
    }
    for note in &report.notes {
        writeln!(out, "note: {note}")?;
    }
    Ok(())
}
