//! Where `now_ms` comes from: the system clock, never allowed to go backwards, or the node's
//! own manual clock (moved only by `advance_clock`, kept inside the module).

use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ClockKind {
    /// Unix epoch milliseconds.
    System,
    /// Starts at 0 and moves only on `advance_clock`.
    Manual,
}

/// The host's clock.
#[derive(Debug)]
pub struct Clock {
    kind: ClockKind,
    last: u64,
}

impl Clock {
    pub fn new(kind: ClockKind) -> Clock {
        Clock { kind, last: 0 }
    }

    /// The time to pass with the next input (ignored by the node under the manual clock).
    pub fn now_ms(&mut self) -> u64 {
        if self.kind == ClockKind::System {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            self.last = self.last.max(now);
        }
        self.last
    }
}
