//! Sequences of well-formed messages at arbitrary times. Checks, besides "never panics":
//! every message gets exactly one reply, in order, to its own `msg_id`; two nodes fed the same
//! sequence answer byte for byte the same; and a node restored from a snapshot taken part-way
//! answers the rest exactly like the original.
#![no_main]

use arbitrary::Arbitrary;
use breaker_wasm::{Options, Session};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Script {
    manual_clock: bool,
    fixtures: bool,
    /// Where the snapshot is taken and restored into a second node.
    split: u8,
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug)]
struct Step {
    /// How far the host clock moves before this message.
    dt: Num,
    message: Message,
}

/// Mostly small numbers (where the interesting thresholds are), sometimes any u64.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Num {
    Small(u8),
    Medium(u16),
    Any(u64),
}

impl Num {
    fn get(self) -> u64 {
        match self {
            Num::Small(n) => n.into(),
            Num::Medium(n) => n.into(),
            Num::Any(n) => n,
        }
    }
}

/// A handful of names, so breakers are hit repeatedly; sometimes the envelope's `dest`.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Service {
    Dest,
    Named(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum StateName {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Outcome {
    Success,
    Failure,
    Ignored,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Mode {
    Open,
    Closed,
    Auto,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Field {
    FailureThreshold,
    OpenTimeoutMs,
    HalfOpenMaxCalls,
    SuccessThreshold,
    ProbeTimeoutMs,
    MaxServices,
    SlowCallMs,
    SlowCallRate,
}

#[derive(Arbitrary, Debug)]
enum WindowSpec {
    Consecutive,
    Count {
        size: Num,
        minimum_calls: Num,
        failure_rate: u8,
    },
    Time {
        size_ms: Num,
        minimum_calls: Num,
        failure_rate: u8,
    },
}

#[derive(Arbitrary, Debug)]
enum Message {
    Init,
    Call {
        service: Service,
        state: Option<StateName>,
        force_failures: Option<Num>,
        force_success: bool,
        duration_ms: Option<Num>,
    },
    Acquire {
        service: Service,
    },
    Record {
        service: Service,
        permit: Num,
        outcome: Outcome,
        duration_ms: Option<Num>,
    },
    Status {
        service: Option<Service>,
    },
    Reset {
        service: Option<Service>,
    },
    Configure {
        service: Option<Service>,
        fields: Vec<(Field, Num)>,
        window: Option<WindowSpec>,
        backoff: Option<(u8, Num, u8)>,
    },
    Force {
        service: Option<Service>,
        mode: Mode,
    },
    Events {
        service: Option<Service>,
        after: Option<Num>,
    },
    Snapshot,
    AdvanceClock {
        ms: Num,
    },
}

fn service(s: Service) -> String {
    match s {
        Service::Dest => "db".into(),
        Service::Named(n) => format!("s{}", n % 8),
    }
}

fn state(s: StateName) -> &'static str {
    match s {
        StateName::Closed => "closed",
        StateName::Open => "open",
        StateName::HalfOpen => "half_open",
    }
}

/// The body of `message`, as JSON text (`msg_id` first).
fn body(message: &Message, id: u64) -> String {
    let mut b = String::new();
    let mut field = |k: &str, v: String| b.push_str(&format!(r#","{k}":{v}"#));
    let q = |s: &str| format!("\"{s}\"");
    let kind = match message {
        Message::Init => {
            field("node_id", q("n1"));
            field("node_ids", r#"["n1"]"#.into());
            "init"
        }
        Message::Call {
            service: s,
            state: st,
            force_failures,
            force_success,
            duration_ms,
        } => {
            field("service", q(&service(*s)));
            if let Some(st) = st {
                field("state", q(state(*st)));
            }
            if let Some(n) = force_failures {
                field("force_failures", n.get().to_string());
            }
            if *force_success {
                field("force_success", "true".into());
            }
            if let Some(n) = duration_ms {
                field("duration_ms", n.get().to_string());
            }
            "call"
        }
        Message::Acquire { service: s } => {
            field("service", q(&service(*s)));
            "acquire"
        }
        Message::Record {
            service: s,
            permit,
            outcome,
            duration_ms,
        } => {
            field("service", q(&service(*s)));
            field("permit", permit.get().to_string());
            let o = match outcome {
                Outcome::Success => "success",
                Outcome::Failure => "failure",
                Outcome::Ignored => "ignored",
            };
            field("outcome", q(o));
            if let Some(n) = duration_ms {
                field("duration_ms", n.get().to_string());
            }
            "record"
        }
        Message::Status { service: s } => {
            if let Some(s) = s {
                field("service", q(&service(*s)));
            }
            "status"
        }
        Message::Reset { service: s } => {
            if let Some(s) = s {
                field("service", q(&service(*s)));
            }
            "reset"
        }
        Message::Configure {
            service: s,
            fields,
            window,
            backoff,
        } => {
            if let Some(s) = s {
                field("service", q(&service(*s)));
            }
            let mut seen = Vec::new();
            let mut config: Vec<String> = fields
                .iter()
                // A config object never repeats a key (that would be a malformed document).
                .filter(|(f, _)| {
                    let first = !seen.contains(&(*f as u8));
                    seen.push(*f as u8);
                    first
                })
                .map(|(f, n)| {
                    let name = match f {
                        Field::FailureThreshold => "failure_threshold",
                        Field::OpenTimeoutMs => "open_timeout_ms",
                        Field::HalfOpenMaxCalls => "half_open_max_calls",
                        Field::SuccessThreshold => "success_threshold",
                        Field::ProbeTimeoutMs => "probe_timeout_ms",
                        Field::MaxServices => "max_services",
                        Field::SlowCallMs => "slow_call_ms",
                        Field::SlowCallRate => "slow_call_rate",
                    };
                    format!(r#""{name}":{}"#, n.get())
                })
                .collect();
            match window {
                None => {}
                Some(WindowSpec::Consecutive) => config.push(r#""window":{"kind":"consecutive"}"#.into()),
                Some(WindowSpec::Count { size, minimum_calls, failure_rate }) => config.push(format!(
                    r#""window":{{"kind":"count","size":{},"minimum_calls":{},"failure_rate":{}}}"#,
                    size.get(),
                    minimum_calls.get(),
                    failure_rate
                )),
                Some(WindowSpec::Time { size_ms, minimum_calls, failure_rate }) => config.push(format!(
                    r#""window":{{"kind":"time","size_ms":{},"minimum_calls":{},"failure_rate":{}}}"#,
                    size_ms.get(),
                    minimum_calls.get(),
                    failure_rate
                )),
            }
            if let Some((multiplier, max_open_ms, jitter)) = backoff {
                config.push(format!(
                    r#""backoff":{{"multiplier":{},"max_open_ms":{},"jitter":{}}}"#,
                    1.0 + f64::from(*multiplier) / 16.0,
                    max_open_ms.get(),
                    f64::from(*jitter) / 255.0
                ));
            }
            field("config", format!("{{{}}}", config.join(",")));
            "configure"
        }
        Message::Force { service: s, mode } => {
            if let Some(s) = s {
                field("service", q(&service(*s)));
            }
            let m = match mode {
                Mode::Open => "open",
                Mode::Closed => "closed",
                Mode::Auto => "auto",
            };
            field("mode", q(m));
            "force"
        }
        Message::Events { service: s, after } => {
            if let Some(s) = s {
                field("service", q(&service(*s)));
            }
            if let Some(n) = after {
                field("after", n.get().to_string());
            }
            "events"
        }
        Message::Snapshot => "snapshot",
        Message::AdvanceClock { ms } => {
            field("ms", ms.get().to_string());
            "advance_clock"
        }
    };
    format!(r#"{{"type":"{kind}","msg_id":{id}{b}}}"#)
}

fn envelope(body: &str) -> String {
    format!(r#"{{"src":"c","dest":"db","body":{body}}}"#)
}

/// Handles one document and checks it got exactly one reply, to `id`.
fn ask(session: &mut Session, doc: &str, now: u64, id: u64) -> String {
    let out =
        String::from_utf8(session.handle(doc.as_bytes(), now).to_vec()).expect("replies are UTF-8");
    assert!(
        session.diagnostics().is_empty(),
        "{doc} → diagnostics {:?}",
        String::from_utf8_lossy(session.diagnostics())
    );
    assert_eq!(out.matches('\n').count(), 1, "{doc} → {out}");
    let tag = format!(r#","in_reply_to":{id}"#);
    assert!(
        out.starts_with(r#"{"src":"db","dest":"c","body":{"type":""#) && out.contains(&tag),
        "{doc} → {out}"
    );
    out
}

/// The `now_ms` of a snapshot_ok reply.
fn snapshot_time(reply: &str) -> u64 {
    let at = reply.find(r#""now_ms":"#).expect("a snapshot has now_ms") + 9;
    reply[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

fuzz_target!(|script: Script| {
    let options = Options {
        manual_clock: script.manual_clock,
        fixtures: script.fixtures,
        fleet: false,
    };
    let (mut a, mut twin) = (Session::new(options), Session::new(options));
    let mut restored: Option<Session> = None;
    let split = usize::from(script.split) % (script.steps.len() + 1);
    let mut now = 0u64;
    for (i, step) in script.steps.iter().enumerate() {
        let id = i as u64 + 10;
        if i == split {
            let taken = ask(
                &mut a,
                &envelope(r#"{"type":"snapshot","msg_id":1}"#),
                now,
                1,
            );
            ask(
                &mut twin,
                &envelope(r#"{"type":"snapshot","msg_id":1}"#),
                now,
                1,
            );
            let snapshot = &taken[taken.find(r#""snapshot":"#).unwrap() + 11..taken.len() - 3];
            let mut b = Session::new(options);
            if script.manual_clock {
                let t = snapshot_time(&taken);
                ask(
                    &mut b,
                    &envelope(&format!(
                        r#"{{"type":"advance_clock","msg_id":2,"ms":{t}}}"#
                    )),
                    now,
                    2,
                );
            }
            let reply = ask(
                &mut b,
                &envelope(&format!(
                    r#"{{"type":"restore","msg_id":3,"snapshot":{snapshot}}}"#
                )),
                now,
                3,
            );
            assert!(
                reply.contains(r#""type":"restore_ok""#),
                "a node's own snapshot must restore: {reply}\n{snapshot}"
            );
            restored = Some(b);
        }
        now = now.saturating_add(step.dt.get());
        let doc = envelope(&body(&step.message, id));
        let reply = ask(&mut a, &doc, now, id);
        assert_eq!(
            reply,
            ask(&mut twin, &doc, now, id),
            "the same input must give the same replies"
        );
        if let Some(b) = restored.as_mut() {
            assert_eq!(
                reply,
                ask(b, &doc, now, id),
                "a restored node must answer like the original: {doc}"
            );
        }
    }
});
