//! From a typed [`Reply`] to its bytes: one compact JSON document, keys in the protocol's order.

use super::write::Writer;
use crate::breaker::{
    CallResult, Config, ForceMode, Forced, Milli, Reason, Setting, Span, StateName, Transition,
    Window, config::FIELDS,
};
use crate::node::{Event, MemoryUse, Reply, ServiceState};

pub fn state_name(s: StateName) -> &'static str {
    match s {
        StateName::Closed => "closed",
        StateName::Open => "open",
        StateName::HalfOpen => "half_open",
    }
}

pub fn mode_name(m: ForceMode) -> &'static str {
    match m {
        ForceMode::Open => "open",
        ForceMode::Closed => "closed",
        ForceMode::Auto => "auto",
    }
}

/// The human-readable reason of a transition, as `events` and `transition` objects show it.
pub fn reason_text(r: &Reason) -> String {
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    match *r {
        Reason::ConsecutiveFailures {
            failures,
            threshold,
        } => {
            format!(
                "{} (threshold {threshold})",
                plural(failures, "consecutive failure", "consecutive failures")
            )
        }
        Reason::OpenTimeoutElapsed { ms } => format!("open timeout of {ms} ms elapsed"),
        Reason::Rate {
            slow,
            span,
            bad,
            calls,
            threshold,
        } => {
            // The percentage to one decimal, rounded half up, in integers.
            let tenths =
                (u128::from(bad) * 2000 + u128::from(calls)) / (2 * u128::from(calls.max(1)));
            let percent = format!("{}.{}", tenths / 10, tenths % 10);
            let what = if slow { "were slow" } else { "failed" };
            let threshold = short(threshold);
            match span {
                Span::Calls => {
                    format!("{percent}% of the last {calls} calls {what} (threshold {threshold}%)")
                }
                Span::Millis(ms) => {
                    format!(
                        "{percent}% of {calls} calls in the last {ms} ms {what} (threshold {threshold}%)"
                    )
                }
            }
        }
        Reason::ProbeFailed => "probe failed".into(),
        Reason::SlowProbe => "probe was slow".into(),
        Reason::ProbeLeaseExpired { ms } => format!("probe lease expired after {ms} ms"),
        Reason::ProbesSucceeded {
            successes,
            threshold,
        } => {
            format!(
                "{} (threshold {threshold})",
                plural(successes, "successful probe", "successful probes")
            )
        }
        Reason::Fixture => "set by the call's state fixture".into(),
        Reason::Forced(ForceMode::Auto) => "forced mode released (auto)".into(),
        Reason::Forced(mode) => format!("forced {}", mode_name(mode)),
        Reason::Reset => "reset".into(),
    }
}

/// Writes `{"src":..,"dest":..,"body":{"type":..,"in_reply_to":..,...}}` and a newline.
pub fn reply(out: &mut Vec<u8>, src: &str, dest: &str, in_reply_to: u64, reply: &Reply) {
    let mut w = Writer { out };
    w.open()
        .field_str("src", src)
        .field_str("dest", dest)
        .key("body")
        .open();
    body(&mut w, in_reply_to, reply);
    w.end().end();
    w.out.push(b'\n');
}

/// `status_ok` of every breaker; with `"memory":true`, the budget and checkpoints too.
fn status_all(
    w: &mut Writer,
    id: u64,
    services: &[ServiceState],
    evicted: u64,
    memory: Option<&MemoryUse>,
) {
    head(w, "status_ok", id);
    w.key("services").raw("[");
    for (i, s) in services.iter().enumerate() {
        if i > 0 {
            w.raw(",");
        }
        w.open()
            .field_str("service", &s.service)
            .field_str("state", state_name(s.state))
            .end();
    }
    w.raw("]").field_u64("evicted", evicted);
    let Some(memory) = memory else { return };
    w.key("memory")
        .open()
        .field_u64("used", memory.used)
        .field_u64("left", memory.left)
        .end();
    if let Some(c) = memory.checkpoints {
        w.key("checkpoints")
            .open()
            .field_u64("last_good_ms", c.last_good_ms)
            .field_u64("failures_since", c.failures_since)
            .end();
    }
}

fn head(w: &mut Writer, kind: &str, in_reply_to: u64) {
    w.field_str("type", kind)
        .field_u64("in_reply_to", in_reply_to);
}

fn body(w: &mut Writer, id: u64, reply: &Reply) {
    match reply {
        Reply::InitOk => head(w, "init_ok", id),
        Reply::Call { service, result } => match *result {
            CallResult::Rejected { state } => {
                head(w, "error", id);
                let text = if state == StateName::Open {
                    "Circuit breaker OPEN"
                } else {
                    "Circuit breaker HALF_OPEN"
                };
                w.field_str("error", text).field_str("service", service);
            }
            CallResult::Opened { failures, rejected } => {
                head(w, "circuit_breaker_open", id);
                w.field_str("service", service)
                    .field_u64("failures", failures);
                if rejected > 0 {
                    w.field_u64("rejected", rejected);
                }
            }
            CallResult::Closed => {
                head(w, "circuit_breaker_closed", id);
                w.field_str("service", service).field_str("state", "closed");
            }
            CallResult::Ok { state } => {
                head(w, "call_ok", id);
                w.field_str("service", service)
                    .field_str("state", state_name(state));
            }
            CallResult::Failed { state, failures } => {
                head(w, "call_failed", id);
                w.field_str("service", service)
                    .field_str("state", state_name(state))
                    .field_u64("failures", failures);
            }
        },
        Reply::Acquired {
            service,
            state,
            permit,
        } => {
            head(w, "acquire_ok", id);
            w.field_str("service", service)
                .field_str("state", state_name(*state))
                .field_u64("permit", *permit);
        }
        Reply::AcquireRejected {
            service,
            state,
            retry_after_ms,
        } => {
            head(w, "error", id);
            let text = if *state == StateName::HalfOpen {
                "Circuit breaker HALF_OPEN"
            } else {
                "Circuit breaker OPEN"
            };
            w.field_u64("code", 11)
                .field_str("text", text)
                .field_str("service", service);
            if let Some(ms) = retry_after_ms {
                w.field_u64("retry_after_ms", *ms);
            }
        }
        Reply::Recorded {
            service,
            state,
            stale,
            transition,
        } => {
            head(w, "record_ok", id);
            w.field_str("service", service)
                .field_str("state", state_name(*state));
            if *stale {
                w.key("stale").bool(true);
            }
            if let Some(t) = transition {
                w.key("transition");
                transition_object(w, t);
            }
        }
        Reply::Status {
            service,
            view,
            config: c,
        } => {
            head(w, "status_ok", id);
            w.field_str("service", service)
                .field_str("state", state_name(view.state));
            if let Some(forced) = view.forced {
                w.field_str(
                    "forced",
                    if forced == Forced::Open {
                        "open"
                    } else {
                        "closed"
                    },
                );
            }
            w.field_u64("failures", view.failures).key("counts").open();
            let counts = view.counts;
            w.field_u64("successes", counts.successes)
                .field_u64("failures", counts.failures)
                .field_u64("rejections", counts.rejections)
                .field_u64("opened", counts.opened)
                .end();
            w.key("config");
            config(w, c);
            if let Some(ms) = view.retry_after_ms {
                w.field_u64("retry_after_ms", ms);
            }
        }
        Reply::StatusAll { services, evicted } => status_all(w, id, services, *evicted, None),
        Reply::StatusAllWithMemory {
            services,
            evicted,
            memory,
        } => status_all(w, id, services, *evicted, Some(memory)),
        Reply::ResetOk { service } => {
            head(w, "reset_ok", id);
            if let Some(s) = service {
                w.field_str("service", s);
            }
        }
        Reply::ConfigureOk { service, config: c } => {
            head(w, "configure_ok", id);
            if let Some(s) = service {
                w.field_str("service", s);
            }
            w.key("config");
            config(w, c);
        }
        Reply::ForceOk { service, mode } => {
            head(w, "force_ok", id);
            if let Some((s, _)) = service {
                w.field_str("service", s);
            }
            w.field_str("mode", mode_name(*mode));
            if let Some((_, state)) = service {
                w.field_str("state", state_name(*state));
            }
        }
        Reply::Events(events) => {
            head(w, "events_ok", id);
            w.key("events").raw("[");
            for (i, e) in events.iter().enumerate() {
                if i > 0 {
                    w.raw(",");
                }
                event_object(w, e);
            }
            w.raw("]");
        }
        Reply::SnapshotOk(image) => {
            head(w, "snapshot_ok", id);
            w.key("snapshot");
            super::snapshot::encode(w, image);
        }
        Reply::RestoreOk { services } => {
            head(w, "restore_ok", id);
            w.field_u64("services", *services as u64);
        }
        Reply::AdvanceClockOk { now_ms } => {
            head(w, "advance_clock_ok", id);
            w.field_u64("now_ms", *now_ms);
        }
        Reply::Error { code, text } => {
            head(w, "error", id);
            w.field_u64("code", *code as u64).field_str("text", text);
        }
    }
}

/// A number in thousandths as people write it: `50`, `12.5`.
fn short(x: Milli) -> String {
    let mut out = Vec::new();
    super::write::Writer { out: &mut out }.milli(x.0);
    let text = String::from_utf8(out).expect("digits");
    text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
}

/// A full config object, fields in the protocol's order.
pub fn config(w: &mut Writer, c: &Config) {
    w.open();
    for field in FIELDS {
        w.key(field.name());
        setting(w, &field.get(c));
    }
    w.end();
}

/// One config value.
pub fn setting(w: &mut Writer, s: &Setting) {
    match *s {
        Setting::Int(n) | Setting::OptInt(Some(n)) => {
            w.u64(n);
        }
        Setting::OptInt(None) => {
            w.raw("null");
        }
        Setting::Rate(r) => {
            w.milli(r.0);
        }
        Setting::Window(Window::Consecutive) => {
            w.open().field_str("kind", "consecutive").end();
        }
        Setting::Window(Window::Count {
            size,
            minimum_calls,
            failure_rate,
        }) => {
            w.open()
                .field_str("kind", "count")
                .field_u64("size", size)
                .field_u64("minimum_calls", minimum_calls);
            w.key("failure_rate").milli(failure_rate.0).end();
        }
        Setting::Window(Window::Time {
            size_ms,
            minimum_calls,
            failure_rate,
        }) => {
            w.open()
                .field_str("kind", "time")
                .field_u64("size_ms", size_ms)
                .field_u64("minimum_calls", minimum_calls);
            w.key("failure_rate").milli(failure_rate.0).end();
        }
        Setting::Backoff(b) => {
            w.open()
                .key("multiplier")
                .milli(b.multiplier.0)
                .field_u64("max_open_ms", b.max_open_ms);
            w.key("jitter").milli(b.jitter.0).end();
        }
    }
}

fn transition_object(w: &mut Writer, t: &Transition) {
    w.open()
        .field_str("from", state_name(t.from))
        .field_str("to", state_name(t.to))
        .field_str("reason", &reason_text(&t.reason))
        .end();
}

fn event_object(w: &mut Writer, e: &Event) {
    event(w, e, |w, r| {
        w.str(&reason_text(r));
    });
}

/// One event object; `reason` writes its reason (text on the wire, structured in snapshots).
pub fn event(w: &mut Writer, e: &Event, reason: impl FnOnce(&mut Writer, &Reason)) {
    w.open()
        .field_u64("seq", e.seq)
        .field_u64("at_ms", e.at)
        .field_str("service", &e.service)
        .field_str("from", state_name(e.from))
        .field_str("to", state_name(e.to))
        .key("reason");
    reason(w, &e.reason);
    w.end();
}
