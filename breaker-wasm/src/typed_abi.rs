//! The typed fast path for embedders: `acquire` and `record` without JSON, for hosts that guard
//! one call at a time. Same node, same effects (counts, transitions, events) as the messages;
//! only the encoding differs. The raw exports in `abi.rs` are thin wrappers of these.

use crate::breaker::{MAX_SAFE, Outcome, StateName};
use crate::node::image::valid_service;
use crate::node::{Reply, Request};
use crate::wire::Session;

/// `acquire` for the service named by `name` (UTF-8, 1 to 256 bytes) at `now_ms`.
///
/// Returns the permit (≥ 1) when granted; 0 when `name` is not a service name; and when
/// rejected, `−1 − (r << 1 | h)`, where `h` is 1 for half_open (0 for open) and `r` is
/// `retry_after_ms + 1`, or 0 when there is no time to give (forced open).
pub fn acquire(session: &mut Session, name: &[u8], now_ms: u64) -> i64 {
    let Some(service) = service(name) else {
        return 0;
    };
    acquire_result(
        session
            .node_mut()
            .handle(now_ms, &Request::Acquire { service }),
    )
}

/// The encoding of an `acquire` reply described at [`acquire`].
pub(crate) fn acquire_result(reply: Reply) -> i64 {
    match reply {
        Reply::Acquired { permit, .. } => permit as i64,
        Reply::AcquireRejected {
            state,
            retry_after_ms,
            ..
        } => {
            let retry = retry_after_ms.map_or(0, |ms| ms.min(MAX_SAFE) + 1) as i64;
            -1 - ((retry << 1) | i64::from(state == StateName::HalfOpen))
        }
        _ => 0,
    }
}

/// `record` of `permit` for the service named by `name`: `outcome` 0 success, 1 failure,
/// 2 ignored; `duration_ms` below 0 when unknown. Returns 0 when recorded, 1 when stale, −1 when
/// an argument is not valid.
pub fn record(
    session: &mut Session,
    name: &[u8],
    permit: i64,
    outcome: i32,
    duration_ms: i64,
    now_ms: u64,
) -> i32 {
    let Some(service) = service(name) else {
        return -1;
    };
    let Some(outcome) = outcome_of(outcome) else {
        return -1;
    };
    let (Ok(permit), duration_ms) = (u64::try_from(permit), u64::try_from(duration_ms).ok()) else {
        return -1;
    };
    let request = Request::Record {
        service,
        permit,
        outcome,
        duration_ms,
        error: None,
    };
    match session.node_mut().handle(now_ms, &request) {
        Reply::Recorded { stale, .. } => i32::from(stale),
        _ => -1,
    }
}

/// The outcome code of `record` (0 success, 1 failure, 2 ignored).
pub(crate) fn outcome_of(code: i32) -> Option<Outcome> {
    match code {
        0 => Some(Outcome::Success),
        1 => Some(Outcome::Failure),
        2 => Some(Outcome::Ignored),
        _ => None,
    }
}

pub(crate) fn service(name: &[u8]) -> Option<&str> {
    std::str::from_utf8(name).ok().filter(|s| valid_service(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Options;

    /// The fast path and the JSON messages leave the node in the same state.
    #[test]
    fn the_fast_path_and_the_messages_agree() {
        let mut fast = Session::new(Options::default());
        let mut json = Session::new(Options::default());
        for i in 0..20u64 {
            let now = i * 1000;
            let permit = acquire(&mut fast, b"db", now);
            let doc =
                format!(r#"{{"src":"c","dest":"db","body":{{"type":"acquire","msg_id":{i}}}}}"#);
            let reply = String::from_utf8(json.handle(doc.as_bytes(), now).to_vec()).unwrap();
            if permit > 0 {
                assert!(
                    reply.contains(&format!(r#""permit":{permit}}}"#)),
                    "{reply}"
                );
                let failed = i % 3 != 0;
                assert_eq!(
                    record(&mut fast, b"db", permit, i32::from(failed), 5, now),
                    0
                );
                let outcome = if failed { "failure" } else { "success" };
                let doc = format!(
                    r#"{{"src":"c","dest":"db","body":{{"type":"record","permit":{permit},"outcome":"{outcome}","duration_ms":5}}}}"#
                );
                json.handle(doc.as_bytes(), now);
            } else {
                let v = -1 - permit;
                let retry = (v >> 1) - 1;
                let state = if v & 1 == 1 { "HALF_OPEN" } else { "OPEN" };
                assert!(reply.contains(&format!(r#""text":"Circuit breaker {state}","service":"db","retry_after_ms":{retry}}}"#)), "{reply}");
            }
        }
        assert_eq!(fast.node().snapshot(), json.node().snapshot());
    }

    #[test]
    fn bad_arguments_change_nothing() {
        let mut s = Session::new(Options::default());
        assert_eq!(acquire(&mut s, b"", 0), 0);
        assert_eq!(acquire(&mut s, &[0xff, 0xfe], 0), 0);
        assert_eq!(acquire(&mut s, &[b'x'; 257], 0), 0);
        assert_eq!(record(&mut s, b"db", 1, 7, -1, 0), -1);
        assert_eq!(record(&mut s, b"db", -5, 0, -1, 0), -1);
        assert_eq!(
            record(&mut s, b"db", 1, 0, -1, 0),
            1,
            "no such permit: stale"
        );
        assert!(s.node().is_empty());
    }

    #[test]
    fn a_forced_open_rejection_has_no_retry_time() {
        let mut s = Session::new(Options::default());
        s.handle(
            br#"{"src":"c","dest":"db","body":{"type":"force","service":"db","mode":"open"}}"#,
            0,
        );
        assert_eq!(acquire(&mut s, b"db", 0), -1);
    }
}
