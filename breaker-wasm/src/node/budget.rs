//! The node's memory budget: every breaker, window, outstanding permit, last failure and override
//! is charged a fixed number of bytes (a failure text, per byte), checked before it is allocated,
//! so that no configuration and no traffic can take the guest past its memory limit.
//!
//! A charge covers the thing itself, its copy in a snapshot and the snapshot's JSON (whose buffer
//! may be twice its length while it grows): a node within its budget can always be snapshotted
//! and restored. The charges are constants rather than `size_of` figures, so every platform (the
//! 32-bit guest, a native test) charges, evicts and refuses exactly alike. The budget is half the
//! guest's memory limit; the other half is for the snapshot's buffers, input and replies.

use crate::breaker::{Breaker, Config, LastFailure, Window};
use crate::node::Image;

/// The guest memory limit a node assumes until its host says otherwise: breaker-host's default
/// `--max-guest-memory-mib` (256 MiB).
pub const DEFAULT_MEMORY_LIMIT: u64 = 256 << 20;

/// What each part of the node is charged, in bytes.
struct Rates {
    /// One breaker (slot, index entry), besides its name and window.
    breaker: u64,
    /// How many times each byte of a name is held.
    name_copies: u64,
    /// One outstanding permit (a lease).
    permit: u64,
    /// One bucket of a time window.
    bucket: u64,
    /// A count window's fixed part, and each call in it, in quarters of a byte.
    count_window: u64,
    count_call_quarters: u64,
    /// One per-service override, besides its name.
    override_: u64,
    /// A last failure's fixed part, and each byte of its text.
    failure: u64,
    failure_byte: u64,
}

/// What the node holds while it runs (a count window keeps two bits per call).
const LIVE: Rates = Rates {
    breaker: 256,
    name_copies: 1,
    permit: 32,
    bucket: 32,
    count_window: 64,
    count_call_quarters: 1,
    override_: 128,
    failure: 32,
    failure_byte: 1,
};

/// What it holds and what a snapshot of it takes besides: its copy, and its JSON in a buffer
/// that may be twice as long while it grows (a count window's call is one JSON character, which
/// restoring holds up to three times over: the input, its decoded text, the copy).
const HELD: Rates = Rates {
    breaker: 512,
    name_copies: 3,
    permit: 64,
    bucket: 128,
    count_window: 64,
    count_call_quarters: 20,
    override_: 256,
    // A text byte may be written as six in the snapshot's JSON (`\u0001`), in a buffer that may
    // be twice as long, besides the copy held and the snapshot's copy.
    failure: 128,
    failure_byte: 14,
};

/// The name length the check of a config assumes (real names are charged as they are).
pub const TYPICAL_NAME_BYTES: u64 = 32;

/// The budget of a node whose guest may grow to `memory_limit` bytes.
pub fn budget(memory_limit: u64) -> u64 {
    memory_limit / 2
}

fn window(rates: &Rates, window: &Window) -> u64 {
    match *window {
        Window::Consecutive => 0,
        Window::Count { size, .. } => {
            rates.count_window + size.saturating_mul(rates.count_call_quarters) / 4
        }
        Window::Time { size_ms, .. } => {
            // As many buckets as `WindowState::new` makes.
            let width = (size_ms / 10).max(1);
            (size_ms.div_ceil(width) + 1).saturating_mul(rates.bucket)
        }
    }
}

fn breaker(
    rates: &Rates,
    name: usize,
    permits: usize,
    built: Option<&Window>,
    failure: Option<&LastFailure>,
) -> u64 {
    rates.breaker
        + rates.name_copies * name as u64
        + rates.permit * permits as u64
        + built.map_or(0, |w| window(rates, w))
        + failure.map_or(0, |f| {
            rates.failure + rates.failure_byte * f.error.len() as u64
        })
}

/// What the breaker named `name` is charged now, snapshot included: its window and permits
/// too. The registry forgets breakers to keep the sum of these within the budget.
pub fn breaker_charge(name: &str, b: &Breaker) -> u64 {
    let built = b.window().map(|w| &w.built_for);
    breaker(&HELD, name.len(), b.leases().len(), built, b.last_failure())
}

/// What one more outstanding permit adds to a breaker's charge.
pub fn permit_charge() -> u64 {
    HELD.permit
}

/// What restoring `image` charges: its breakers and overrides.
pub fn image_charge(image: &Image) -> u64 {
    let breakers: u64 = image
        .breakers
        .iter()
        .map(|b| {
            let built = b.parts.window.as_ref().map(|w| &w.built_for);
            let failure = b.parts.last_failure.as_ref();
            breaker(&HELD, b.name.len(), b.parts.leases.len(), built, failure)
        })
        .sum();
    let overrides: u64 = image
        .overrides
        .iter()
        .map(|(n, _)| override_charge(n))
        .sum();
    breakers + overrides
}

/// What an override for `name` is charged, snapshot included.
pub fn override_charge(name: &str) -> u64 {
    HELD.override_ + HELD.name_copies * name.len() as u64
}

/// What a running breaker under `config` with a typical name and no permits holds.
pub fn typical_breaker(config: &Config) -> u64 {
    breaker(
        &LIVE,
        TYPICAL_NAME_BYTES as usize,
        0,
        Some(&config.window),
        None,
    )
}

/// Checks that `max_services` running breakers under `config` fit in `budget`: a config that
/// could not even be held is refused. (One that can be held but not snapshotted whole is
/// bounded by the registry, which forgets breakers by their full charge.) The refusal names
/// the field at fault (`field`, the one being changed) and says how many breakers would fit.
pub fn check(config: &Config, budget: u64, field: &str) -> Result<(), String> {
    let each = typical_breaker(config);
    let fits = budget / each;
    if config.max_services <= fits {
        return Ok(());
    }
    let what = match config.window {
        Window::Count { size, .. } => format!("with a count window of {size} calls, a breaker"),
        Window::Time { size_ms, .. } => format!("with a time window of {size_ms} ms, a breaker"),
        Window::Consecutive => "a breaker".to_string(),
    };
    Err(format!(
        "config.{field}: {what} takes {each} bytes, so the memory budget of {budget} bytes holds {fits} breakers, fewer than max_services ({}); lower max_services to at most {fits}, or give the node more memory",
        config.max_services
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_last_failure_is_charged_by_its_length_and_given_back_on_close() {
        let mut b = Breaker::new("db");
        let bare = breaker_charge("db", &b);
        b.note_failure("timeout", 5);
        assert_eq!(breaker_charge("db", &b), bare + 128 + 14 * 7);
        // The text is cut to 256 bytes, so no failure is charged more than that.
        b.note_failure(&"x".repeat(10_000), 6);
        assert_eq!(breaker_charge("db", &b), bare + 128 + 14 * 256);
        b.reset(&Config::default(), 7, &mut Vec::new());
        assert_eq!(breaker_charge("db", &b), bare, "closing forgets it");
    }

    #[test]
    fn the_defaults_fit_the_default_budget_and_a_huge_window_does_not() {
        let budget = budget(DEFAULT_MEMORY_LIMIT);
        let defaults = Config::default();
        assert_eq!(check(&defaults, budget, "max_services"), Ok(()));
        let huge = Config {
            window: Window::Count {
                size: 100_000,
                minimum_calls: 100,
                failure_rate: crate::breaker::Milli(50_000),
            },
            ..defaults
        };
        assert_eq!(
            check(&huge, budget, "window"),
            Err("config.window: with a count window of 100000 calls, a breaker takes 25352 bytes, so the memory budget of 134217728 bytes holds 5294 breakers, fewer than max_services (100000); lower max_services to at most 5294, or give the node more memory".into())
        );
        let fitted = Config {
            max_services: 5294,
            ..huge
        };
        assert_eq!(check(&fitted, budget, "window"), Ok(()));
    }

    use crate::{Options, Session};

    /// Sends `body` (a message body) and returns the reply's body text.
    fn send(session: &mut Session, body: &str) -> String {
        let doc = format!(r#"{{"src":"c","dest":"db","body":{body}}}"#);
        let out = String::from_utf8(session.handle(doc.as_bytes(), 0).to_vec()).unwrap();
        let start = out.find(r#""body":"#).expect("a reply") + 7;
        out[start..out.len() - 2].to_string()
    }

    /// A node with a small memory limit (1 MiB: a budget of 512 KiB), filled to its budget with
    /// breakers that hold count windows of 10,000 calls, and one open breaker.
    fn full_node() -> Session {
        let mut session = Session::new(Options::default());
        session.node_mut().set_memory_limit(1 << 20);
        let window = r#"{"kind":"count","size":10000,"minimum_calls":10000,"failure_rate":50}"#;
        let reply = send(
            &mut session,
            &format!(
                r#"{{"type":"configure","msg_id":1,"config":{{"max_services":100,"window":{window}}}}}"#
            ),
        );
        assert!(reply.contains("configure_ok"), "{reply}");
        send(&mut session, r#"{"type":"call","msg_id":2,"state":"open"}"#);
        for i in 0..200 {
            let reply = send(
                &mut session,
                &format!(r#"{{"type":"call","msg_id":3,"service":"s{i}","duration_ms":1}}"#),
            );
            assert!(reply.starts_with(r#"{"type":"call_ok""#), "{reply}");
        }
        session
    }

    #[test]
    fn a_full_node_stays_within_its_budget_and_keeps_its_open_breaker() {
        let mut session = full_node();
        let memory = session.node().memory();
        assert!(memory.used <= budget(1 << 20), "{memory:?}");
        // Each window is charged 50,064 bytes: the budget holds about 10 such breakers.
        assert!(session.node().len() < 15, "{}", session.node().len());
        assert_eq!(
            session.node().view("db").state,
            crate::breaker::StateName::Open
        );
        let status = send(
            &mut session,
            r#"{"type":"status","msg_id":4,"memory":true}"#,
        );
        let tail = format!(
            r#""memory":{{"used":{},"left":{}}}}}"#,
            memory.used, memory.left
        );
        assert!(status.ends_with(&tail), "{status}");
        let plain = send(&mut session, r#"{"type":"status","msg_id":5}"#);
        assert!(!plain.contains("memory"), "only when asked: {plain}");
    }

    #[test]
    fn operators_can_always_recover_a_node_at_its_budget() {
        let mut session = full_node();
        for (body, expect) in [
            (
                r#"{"type":"status","msg_id":10,"service":"s199"}"#,
                "status_ok",
            ),
            (r#"{"type":"status","msg_id":11}"#, "status_ok"),
            (r#"{"type":"snapshot","msg_id":12}"#, "snapshot_ok"),
            (r#"{"type":"events","msg_id":13}"#, "events_ok"),
            (
                r#"{"type":"force","msg_id":14,"service":"s199","mode":"open"}"#,
                "force_ok",
            ),
            (r#"{"type":"reset","msg_id":15}"#, "reset_ok"),
            (
                r#"{"type":"configure","msg_id":16,"config":{"window":{"kind":"count","size":10}}}"#,
                "configure_ok",
            ),
        ] {
            let reply = send(&mut session, body);
            assert!(
                reply.starts_with(&format!(r#"{{"type":"{expect}""#)),
                "{body}: {reply}"
            );
        }
        // With small windows, many more breakers fit again.
        let before = session.node().memory().left;
        for i in 0..50 {
            send(
                &mut session,
                &format!(r#"{{"type":"call","msg_id":3,"service":"t{i}","duration_ms":1}}"#),
            );
        }
        assert!(session.node().len() >= 50);
        assert!(session.node().memory().left < before);
    }
}
