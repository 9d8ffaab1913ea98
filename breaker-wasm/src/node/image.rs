//! A node's whole state as plain data: what `snapshot` produces and `restore` takes back.

use crate::breaker::{Breaker, Config, Forced, MAX_SAFE, Parts, Patch, State};
use crate::node::{EventLog, MAX_EVENTS, MAX_SERVICE_BYTES};

/// Everything needed to resume a node.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    /// The node's time when it was taken.
    pub now_ms: u64,
    pub defaults: Config,
    /// Per-service overrides, sorted by name.
    pub overrides: Vec<(Box<str>, Patch)>,
    /// Breakers, least recently used first.
    pub breakers: Vec<SavedBreaker>,
    pub evicted: u64,
    pub last_permit: u64,
    pub events: EventLog,
}

/// One breaker's state, by name.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedBreaker {
    pub name: Box<str>,
    pub parts: Parts,
}

impl SavedBreaker {
    pub fn of(name: &str, b: &Breaker) -> SavedBreaker {
        SavedBreaker {
            name: name.into(),
            parts: b.parts(),
        }
    }
}

/// Why a snapshot was refused. The text names the part at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// A field is missing, of the wrong type, or out of range.
    #[error("snapshot.{0}")]
    Field(String),
    /// Two breakers, or two overrides, share a name.
    #[error("snapshot.{what}: duplicate service \"{name}\"")]
    Duplicate { what: &'static str, name: String },
    /// More breakers than the snapshot's own `max_services` allows.
    #[error("snapshot.breakers: {count} breakers exceed max_services {max}")]
    TooMany { count: usize, max: u64 },
}

impl Image {
    /// Checks what the types alone cannot: names, uniqueness, ordering and consistency.
    pub fn validate(&self) -> Result<(), ImageError> {
        let bad = |what: String| Err(ImageError::Field(what));
        if self.breakers.len() as u64 > self.defaults.max_services {
            return Err(ImageError::TooMany {
                count: self.breakers.len(),
                max: self.defaults.max_services,
            });
        }
        if let Some(name) = crate::sort::first_duplicate(self.breakers.iter().map(|b| &*b.name)) {
            return Err(ImageError::Duplicate {
                what: "breakers",
                name: name.to_string(),
            });
        }
        if let Some(w) = self.overrides.windows(2).find(|w| w[0].0 >= w[1].0) {
            return Err(ImageError::Duplicate {
                what: "overrides",
                name: w[1].0.to_string(),
            });
        }
        for (name, _) in &self.overrides {
            if !valid_service(name) {
                return bad("overrides: invalid service name".to_string());
            }
        }
        for (i, saved) in self.breakers.iter().enumerate() {
            self.validate_breaker(i, saved)?;
        }
        if self.events.iter().len() > MAX_EVENTS {
            return bad(format!("events: at most {MAX_EVENTS}"));
        }
        let seqs_ok = self
            .events
            .iter()
            .zip(self.events.iter().skip(1))
            .all(|(a, b)| a.seq < b.seq)
            && self.events.iter().all(|e| {
                e.seq >= 1 && e.seq <= self.events.last_seq() && valid_service(&e.service)
            });
        if !seqs_ok || self.last_permit > MAX_SAFE || self.events.last_seq() > MAX_SAFE {
            return bad("events: sequence numbers must be increasing, from 1 to last_seq".into());
        }
        Ok(())
    }

    /// The checks of one saved breaker, the `i`-th.
    fn validate_breaker(&self, i: usize, saved: &SavedBreaker) -> Result<(), ImageError> {
        let bad = |what: String| Err(ImageError::Field(what));
        let b = &saved.parts;
        if !valid_service(&saved.name) {
            return bad(format!(
                "breakers[{i}].service: expected 1 to {MAX_SERVICE_BYTES} bytes"
            ));
        }
        let in_order = b
            .leases
            .windows(2)
            .all(|w| w[0].permit < w[1].permit && w[0].at <= w[1].at);
        let known = b
            .leases
            .iter()
            .all(|l| l.permit >= 1 && l.permit <= self.last_permit);
        if !in_order || !known {
            return bad(format!(
                "breakers[{i}].leases: permits must be increasing and already issued"
            ));
        }
        match b.state {
            State::Open { .. } if !b.leases.is_empty() => {
                return bad(format!(
                    "breakers[{i}].leases: an open breaker has no permits"
                ));
            }
            State::Closed | State::HalfOpen { .. } if b.forced == Some(Forced::Open) => {
                return bad(format!(
                    "breakers[{i}].forced: a forced-open breaker is open"
                ));
            }
            _ if b.isolations > 0 && b.forced != Some(Forced::Open) => {
                return bad(format!(
                    "breakers[{i}].isolations: an isolated breaker is forced open"
                ));
            }
            State::Open { .. } | State::HalfOpen { .. } if b.forced == Some(Forced::Closed) => {
                return bad(format!(
                    "breakers[{i}].forced: a forced-closed breaker is closed"
                ));
            }
            _ => {}
        }
        Ok(())
    }
}

/// Whether `name` can name a service: 1 to 256 bytes of UTF-8.
pub fn valid_service(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_SERVICE_BYTES
}
