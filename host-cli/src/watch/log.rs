//! Transitions on stderr, one line each: text for people, or JSON for log collectors.

use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::clock::ClockKind;

/// How transitions are written on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-11-29T21:23:41.123Z payments closed → open: 5 consecutive failures (threshold 5)`
    Text,
    /// `{"time":"2026-11-29T21:23:41.123Z","seq":1,"at_ms":...,"service":...,"from":...,"to":...,"reason":...}`
    Json,
    /// No transition lines: for a harness that never reads stderr, where a full pipe would
    /// otherwise hold the node up.
    Off,
}

/// One transition, as the module's `events` reply gives it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Transition {
    pub seq: u64,
    pub at_ms: u64,
    pub service: String,
    pub from: String,
    pub to: String,
    pub reason: String,
}

/// Writes `t` on stderr as `format` says; a broken stderr drops the line.
pub fn write(format: LogFormat, clock: ClockKind, t: &Transition) {
    let time = match clock {
        ClockKind::System => rfc3339(t.at_ms),
        ClockKind::Manual => format!("{} ms", t.at_ms),
    };
    let line = match format {
        LogFormat::Text => format!("{time} {} {} → {}: {}", t.service, t.from, t.to, t.reason),
        LogFormat::Off => return,
        LogFormat::Json => {
            #[derive(Serialize)]
            struct Line<'a> {
                time: &'a str,
                #[serde(flatten)]
                t: &'a Transition,
            }
            serde_json::to_string(&Line { time: &time, t }).expect("strings and numbers")
        }
    };
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Unix milliseconds as an RFC 3339 UTC time with milliseconds.
pub fn rfc3339(ms: u64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_millis(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
    }
}
