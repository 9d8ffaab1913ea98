//! The host's own messages to the guest (configure at start, snapshot and restore for
//! checkpoints, the manual clock) and the replies it reads back, as serde types. The host never
//! looks at the bytes of a reply: it reads the typed value, so the guest's key order is free.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The name the host uses as `src` and `dest` of its own messages. They go to the guest in calls
/// of their own and their replies to a buffer of their own, so they never mix with a client's.
const HOST: &str = "breaker-host";

/// One message from the host to the guest (`msg_id` 0: there is one message per call).
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Ask<'a> {
    /// The `--config` defaults: a config object, as the client would send it.
    Configure {
        msg_id: u64,
        config: &'a RawValue,
    },
    Snapshot {
        msg_id: u64,
    },
    Restore {
        msg_id: u64,
        snapshot: &'a RawValue,
    },
    AdvanceClock {
        msg_id: u64,
        ms: u64,
    },
    /// Every service's status, for `GET /status`.
    Status {
        msg_id: u64,
    },
    /// The node's OpenMetrics text, for `GET /metrics`.
    Metrics {
        msg_id: u64,
    },
    /// The transitions after `after`, read without settling any breaker (so that watching
    /// changes no reply a client gets).
    Events {
        msg_id: u64,
        after: u64,
        settle: bool,
    },
    /// The transitions after `after` and which of them the fleet gets (read-only).
    FleetOutbox {
        msg_id: u64,
        after: u64,
        forced: bool,
    },
}

#[derive(Serialize)]
struct OutEnvelope<'a> {
    src: &'a str,
    dest: &'a str,
    body: &'a Ask<'a>,
}

impl Ask<'_> {
    /// The whole document, in its envelope.
    pub fn to_document(&self) -> Vec<u8> {
        let envelope = OutEnvelope {
            src: HOST,
            dest: HOST,
            body: self,
        };
        serde_json::to_vec(&envelope).expect("a message of plain strings, numbers and JSON")
    }
}

/// The parts of a reply the host reads; everything else in it is ignored.
#[derive(Debug, Deserialize)]
struct InEnvelope<'a> {
    #[serde(borrow)]
    body: Answer<'a>,
}

/// A reply body. The fields the host reads are optional here and required by [`Reply`].
#[derive(Debug, Deserialize)]
struct Answer<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    snapshot: Option<&'a RawValue>,
    text: Option<String>,
}

/// What the guest answered to an [`Ask`].
#[derive(Debug)]
pub enum Reply<'a> {
    /// `configure_ok`, `restore_ok`, `advance_clock_ok`: done.
    Done,
    /// `snapshot_ok`: the snapshot object.
    Snapshot(&'a RawValue),
    /// An error reply: its `text`.
    Refused(String),
}

/// The snapshot object's time, all the host needs from inside it.
#[derive(Deserialize)]
struct SnapshotTime {
    now_ms: u64,
}

/// Reads the one reply line to an [`Ask`], expecting `ok` (such as `"restore_ok"`). Anything
/// else is an `Err` with a one-line description.
pub fn reply<'a>(line: &'a [u8], ok: &str) -> Result<Reply<'a>, String> {
    let answer = serde_json::from_slice::<InEnvelope>(line)
        .map_err(|e| format!("unexpected answer from the guest ({e}): {}", shown(line)))?
        .body;
    match (&*answer.kind, answer.snapshot, answer.text) {
        ("error", _, Some(text)) => Ok(Reply::Refused(text)),
        ("snapshot_ok", Some(snapshot), _) if ok == "snapshot_ok" => Ok(Reply::Snapshot(snapshot)),
        (kind, _, _) if kind == ok && ok != "snapshot_ok" => Ok(Reply::Done),
        _ => Err(format!("unexpected answer from the guest: {}", shown(line))),
    }
}

/// The `now_ms` of a snapshot object.
pub fn snapshot_time(snapshot: &RawValue) -> Result<u64, String> {
    serde_json::from_str::<SnapshotTime>(snapshot.get())
        .map(|t| t.now_ms)
        .map_err(|e| format!("a snapshot without a usable now_ms ({e})"))
}

/// Why bytes are not one JSON object.
#[derive(Debug, thiserror::Error)]
pub enum NotObject {
    /// Not one JSON document (serde_json's reason, with its line and column).
    #[error("not JSON: {0}")]
    Json(String),
    /// One JSON document of another kind.
    #[error("found {0}")]
    Kind(&'static str),
}

/// `bytes` as one JSON object (surrounding whitespace allowed), checked without building a tree,
/// so a state file of a million breakers costs no more than its own bytes.
pub fn object(bytes: &[u8]) -> Result<&RawValue, NotObject> {
    let raw: &RawValue =
        serde_json::from_slice(bytes).map_err(|e| NotObject::Json(e.to_string()))?;
    match raw.get().as_bytes().first() {
        Some(b'{') => Ok(raw),
        Some(b'[') => Err(NotObject::Kind("an array")),
        Some(b'"') => Err(NotObject::Kind("a string")),
        Some(b't' | b'f') => Err(NotObject::Kind("a boolean")),
        Some(b'n') => Err(NotObject::Kind("null")),
        _ => Err(NotObject::Kind("a number")),
    }
}

/// The start of a reply for an error message, on one line.
fn shown(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(&line[..line.len().min(200)]);
    text.trim().replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_typed_documents() {
        let config = object(br#" {"failure_threshold": 2} "#).unwrap();
        let doc = Ask::Configure { msg_id: 0, config }.to_document();
        assert_eq!(
            String::from_utf8(doc).unwrap(),
            r#"{"src":"breaker-host","dest":"breaker-host","body":{"type":"configure","msg_id":0,"config":{"failure_threshold": 2}}}"#
        );
        let doc = Ask::AdvanceClock { msg_id: 0, ms: 7 }.to_document();
        assert!(
            String::from_utf8(doc)
                .unwrap()
                .ends_with(r#""body":{"type":"advance_clock","msg_id":0,"ms":7}}"#)
        );
    }

    #[test]
    fn replies_are_read_by_their_fields_in_any_key_order() {
        let line = br#"{"body":{"snapshot":{"now_ms":42,"version":1},"in_reply_to":0,"type":"snapshot_ok"},"dest":"breaker-host","src":"breaker-host"}"#;
        let Ok(Reply::Snapshot(snapshot)) = reply(line, "snapshot_ok") else {
            panic!("not a snapshot");
        };
        assert_eq!(snapshot_time(snapshot).unwrap(), 42);
        let line = br#"{"src":"a","dest":"b","body":{"type":"error","in_reply_to":0,"code":12,"text":"config.x: unknown config field"}}"#;
        assert!(matches!(
            reply(line, "configure_ok"),
            Ok(Reply::Refused(text)) if text == "config.x: unknown config field"
        ));
        let line =
            br#"{"src":"a","dest":"b","body":{"in_reply_to":0,"type":"restore_ok","services":3}}"#;
        assert!(matches!(reply(line, "restore_ok"), Ok(Reply::Done)));
        assert!(reply(line, "configure_ok").is_err());
        assert!(reply(b"", "configure_ok").is_err());
        assert!(reply(br#"{"body":{"type":"snapshot_ok"}}"#, "snapshot_ok").is_err());
    }

    #[test]
    fn objects_are_checked_and_other_kinds_named() {
        assert!(object(b" {\"a\": [1, {}]}\n").is_ok());
        for (bytes, expect) in [
            (&b"[1]"[..], "found an array"),
            (b"7", "found a number"),
            (b"null", "found null"),
            (b"\"x\"", "found a string"),
            (b"", "not JSON: EOF while parsing a value"),
            (b"{} {}", "not JSON: trailing characters"),
        ] {
            let e = object(bytes).unwrap_err().to_string();
            assert!(e.starts_with(expect), "{e}");
        }
    }
}
