//! Reading a snapshot back (version 1): every level is read from its raw text when it is
//! reached, so a snapshot of a million breakers never becomes a tree of a million objects;
//! unknown keys are refused and every refusal names its path.

use super::config::{config_patch, setting as decode_setting};
use super::raw::{Members, Raw};
use super::snapshot::VERSION;
use crate::breaker::{
    Counts, Field, Forced, Lease, MAX_SAFE, Mark, Parts, Setting, State, StateName, Tally,
    WindowState, config::FIELDS,
};
use crate::node::{Event, EventLog, Image, SavedBreaker};

/// One object of the snapshot, read strictly: unknown keys are refused, every path is named.
pub(super) struct Obj<'a> {
    members: Members<'a>,
    pub(super) path: String,
}

impl<'a> Obj<'a> {
    pub(super) fn new(value: Raw<'a>, path: String, allowed: &[&str]) -> Result<Self, String> {
        let Some(members) = value.members() else {
            return Err(format!("{path}: expected an object"));
        };
        if let Some((key, _)) = members.items.iter().find(|(k, _)| !allowed.contains(&&**k)) {
            return Err(format!("{path}.{key}: unknown field"));
        }
        Ok(Obj { members, path })
    }

    pub(super) fn opt(&self, key: &str) -> Option<Raw<'a>> {
        self.members.get(key)
    }

    pub(super) fn get(&self, key: &str) -> Result<Raw<'a>, String> {
        self.opt(key)
            .ok_or_else(|| format!("{}.{key}: missing", self.path))
    }

    pub(super) fn u64(&self, key: &str) -> Result<u64, String> {
        self.get(key)?
            .as_u64()
            .ok_or_else(|| format!("{}.{key}: expected an unsigned integer", self.path))
    }

    pub(super) fn str(&self, key: &str) -> Result<std::borrow::Cow<'a, str>, String> {
        self.get(key)?
            .as_str()
            .ok_or_else(|| format!("{}.{key}: expected a string", self.path))
    }

    pub(super) fn state(&self, key: &str) -> Result<StateName, String> {
        match &*self.str(key)? {
            "closed" => Ok(StateName::Closed),
            "open" => Ok(StateName::Open),
            "half_open" => Ok(StateName::HalfOpen),
            _ => Err(format!("{}.{key}: expected a state", self.path)),
        }
    }

    pub(super) fn array(&self, key: &str) -> Result<Vec<Raw<'a>>, String> {
        self.get(key)?
            .items()
            .ok_or_else(|| format!("{}.{key}: expected an array", self.path))
    }
}

/// Reads a snapshot object from its text (see [`decode`]).
pub fn from_json(text: &str) -> Result<Image, String> {
    match super::raw::document(text) {
        Ok(super::raw::Node::Object(_)) => decode(super::raw::Raw::of(text.trim())),
        Ok(super::raw::Node::Other(kind)) => {
            Err(format!("snapshot: expected an object, found {kind}"))
        }
        Err(e) => Err(format!(
            "snapshot: {} at line {} column {}",
            e.message, e.line, e.column
        )),
    }
}

/// Reads a snapshot. The error names the part at fault, prefixed with `snapshot.`.
pub fn decode(value: Raw) -> Result<Image, String> {
    let named = |e: String| {
        if e.starts_with(':') {
            format!("snapshot{e}")
        } else {
            format!("snapshot.{e}")
        }
    };
    decode_image(value).map_err(named).and_then(|image| {
        image.validate().map_err(|e| e.to_string())?;
        Ok(image)
    })
}

fn decode_image(value: Raw) -> Result<Image, String> {
    let top = [
        "version",
        "now_ms",
        "defaults",
        "overrides",
        "breakers",
        "evicted",
        "last_permit",
        "last_seq",
        "events",
    ];
    let o = Obj::new(value, "snapshot".into(), &top).map_err(strip)?;
    let version = o.u64("version").map_err(strip)?;
    if version != VERSION {
        return Err(format!(
            "version: unsupported version {version} (this node reads version {VERSION})"
        ));
    }
    let defaults = config_patch(o.get("defaults").map_err(strip)?, "defaults")?;
    // Fields added after the first version may be left out: they take their built-in default.
    let missing = |f: Field| defaults.get(f).is_none() && !f.optional_in_objects();
    if let Some(missing) = FIELDS.into_iter().find(|&f| missing(f)) {
        return Err(format!("defaults.{}: missing", missing.name()));
    }
    let defaults = defaults.apply(&Default::default());
    let Some(overrides) = o.get("overrides").map_err(strip)?.members() else {
        return Err("overrides: expected an object".into());
    };
    let overrides = overrides
        .items
        .iter()
        .map(|(name, v)| {
            let patch = config_patch(*v, &format!("overrides.{name}"))?;
            if patch.fields().any(|(f, _)| f.node_wide()) {
                return Err(format!(
                    "overrides.{name}: a node-wide setting in a service override"
                ));
            }
            Ok((Box::<str>::from(&**name), patch))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let raw_breakers = o.array("breakers").map_err(strip)?;
    // Sized once: a million breakers must not pass through a doubling vector.
    let mut breakers = Vec::with_capacity(raw_breakers.len());
    for (i, v) in raw_breakers.into_iter().enumerate() {
        breakers.push(decode_breaker(v, format!("breakers[{i}]")).map_err(strip)?);
    }
    let raw_events = o.array("events").map_err(strip)?;
    let mut events = Vec::with_capacity(raw_events.len());
    for (i, v) in raw_events.into_iter().enumerate() {
        events.push(decode_event(v, format!("events[{i}]")).map_err(strip)?);
    }
    Ok(Image {
        now_ms: o.u64("now_ms").map_err(strip)?,
        defaults,
        overrides,
        breakers,
        evicted: o.u64("evicted").map_err(strip)?,
        last_permit: o.u64("last_permit").map_err(strip)?,
        events: EventLog::from_parts(events, o.u64("last_seq").map_err(strip)?),
    })
}

/// Paths are built from `snapshot`; the caller adds that prefix once.
fn strip(e: String) -> String {
    match e.strip_prefix("snapshot") {
        Some(rest) => rest.strip_prefix('.').unwrap_or(rest).to_string(),
        None => e,
    }
}

const OPEN_OR_CLOSED: &str = r#""open" or "closed""#;

/// The fields of one saved breaker.
const BREAKER_FIELDS: [&str; 17] = [
    "service",
    "state",
    "since",
    "until",
    "open_ms",
    "successes",
    "admitted",
    "trial",
    "cycle",
    "isolations",
    "last_failure",
    "forced",
    "failures",
    "trips",
    "counts",
    "leases",
    "window",
];

fn decode_breaker(v: Raw, path: String) -> Result<SavedBreaker, String> {
    let o = Obj::new(v, format!("snapshot.{path}"), &BREAKER_FIELDS)?;
    let forced = match o.opt("forced").map(|f| f.as_str()) {
        None => None,
        Some(Some(s)) if s == "open" => Some(Forced::Open),
        Some(Some(s)) if s == "closed" => Some(Forced::Closed),
        Some(_) => return Err(format!("{}.forced: expected {OPEN_OR_CLOSED}", o.path)),
    };
    let state = match o.state("state")? {
        StateName::Closed => State::Closed,
        StateName::Open => {
            let (since, at) = (o.u64("since")?, |k| o.opt(k).map(|_| o.u64(k)).transpose());
            State::open_saved(
                since,
                at("until")?,
                at("open_ms")?,
                forced == Some(Forced::Open),
            )
            .ok_or_else(|| format!("{}.state: inconsistent open period", o.path))?
        }
        StateName::HalfOpen => State::HalfOpen {
            since: o.u64("since")?,
            successes: o.u64("successes")?,
        },
    };
    let c = Obj::new(
        o.get("counts")?,
        format!("{}.counts", o.path),
        &["successes", "failures", "rejections", "opened"],
    )?;
    let counts = Counts {
        successes: c.u64("successes")?,
        failures: c.u64("failures")?,
        rejections: c.u64("rejections")?,
        opened: c.u64("opened")?,
    };
    let leases = decode_leases(&o)?;
    let window = match o.opt("window") {
        None => None,
        Some(v) => Some(decode_window(v, format!("{}.window", o.path))?),
    };
    let parts = Parts {
        state,
        forced,
        failures: o.u64("failures")?,
        trips: o.u64("trips")?,
        counts,
        leases,
        window,
        trial: super::saved::decode_trial(&o)?,
        cycle: o.opt("cycle").map(|_| o.u64("cycle")).transpose()?,
        isolations: o
            .opt("isolations")
            .map(|_| o.u64("isolations"))
            .transpose()?
            .unwrap_or(0),
        last_failure: super::saved::decode_last_failure(&o)?,
        admitted: match o.opt("admitted") {
            Some(_) if state.name() == StateName::HalfOpen => o.u64("admitted")?,
            Some(_) => return Err(format!("{}.admitted: only while half_open", o.path)),
            None => 0,
        },
    };
    Ok(SavedBreaker {
        name: (&*o.str("service")?).into(),
        parts,
    })
}

/// A breaker's outstanding permits: `[permit, at_ms]` pairs.
fn decode_leases(o: &Obj) -> Result<Vec<Lease>, String> {
    o.array("leases")?
        .into_iter()
        .map(|l| match l.items() {
            Some(pair) if pair.len() == 2 => match (pair[0].as_u64(), pair[1].as_u64()) {
                (Some(permit), Some(at)) if permit <= MAX_SAFE => Ok(Lease { permit, at }),
                _ => Err(()),
            },
            _ => Err(()),
        })
        .collect::<Result<Vec<_>, ()>>()
        .map_err(|()| format!("{}.leases: expected [permit, at_ms] pairs", o.path))
}

fn decode_window(v: Raw, path: String) -> Result<WindowState, String> {
    let o = Obj::new(v, path, &["config", "calls", "buckets"])?;
    let bad = || format!("{}: does not fit its config", o.path);
    let Setting::Window(config) = decode_setting(
        Field::Window,
        o.get("config")?,
        &format!("{}.config", o.path),
    )?
    else {
        return Err(bad());
    };
    let calls = o
        .str("calls")?
        .chars()
        .map(|c| match c {
            'o' => Ok(Mark {
                failed: false,
                slow: false,
            }),
            'f' => Ok(Mark {
                failed: true,
                slow: false,
            }),
            's' => Ok(Mark {
                failed: false,
                slow: true,
            }),
            'b' => Ok(Mark {
                failed: true,
                slow: true,
            }),
            _ => Err(format!("{}.calls: expected only o, f, s, b", o.path)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let buckets = o
        .array("buckets")?
        .into_iter()
        .map(|b| match b.items() {
            Some(n) if n.len() == 4 => {
                match (n[0].as_u64(), n[1].as_u64(), n[2].as_u64(), n[3].as_u64()) {
                    (Some(start), Some(calls), Some(failures), Some(slow)) => Ok((
                        start,
                        Tally {
                            calls,
                            failures,
                            slow,
                        },
                    )),
                    _ => Err(()),
                }
            }
            _ => Err(()),
        })
        .collect::<Result<Vec<_>, ()>>()
        .map_err(|()| {
            format!(
                "{}.buckets: expected [start_ms, calls, failures, slow]",
                o.path
            )
        })?;
    WindowState::restore(config, &calls, &buckets).ok_or_else(bad)
}

fn decode_event(v: Raw, path: String) -> Result<Event, String> {
    let o = Obj::new(
        v,
        format!("snapshot.{path}"),
        &["seq", "at_ms", "service", "from", "to", "reason"],
    )?;
    let reason_path = format!("{}.reason", o.path);
    let peer = super::fleet::decode_note(o.get("reason")?, &reason_path)?;
    let reason = super::reason::decode(o.get("reason")?, reason_path)?;
    Ok(Event {
        seq: o.u64("seq")?,
        at: o.u64("at_ms")?,
        service: (&*o.str("service")?).into(),
        from: o.state("from")?,
        to: o.state("to")?,
        reason,
        peer,
    })
}
