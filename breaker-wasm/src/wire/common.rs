//! The common messages (`call`, `acquire`, `record`, `status`) read straight into typed
//! structs by serde's derive: one pass, no allocation, strings borrowed from the input.
//!
//! This is only a shortcut. Anything it does not take exactly as the general reader would
//! (an unknown or duplicate field, an escaped string, a value out of range, another message
//! type) makes it give up, and the document goes through [`super::raw`] and
//! [`super::decode`], which give the same answer to what this takes and name the field for
//! everything else. So no refusal is ever worded here.

use serde::{Deserialize, Deserializer};

use crate::breaker::{Attempts, MAX_SAFE, Outcome, StateName};
use crate::node::image::valid_service;
use crate::node::{CallFixture, Request};

/// A message of one of the common types, as serde reads it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message<'a> {
    pub src: &'a str,
    pub dest: &'a str,
    #[serde(borrow)]
    body: Body<'a>,
}

/// Every field of the common messages. A field given as `null` is not "absent" in the
/// protocol, so each is read as present-or-missing, never as an `Option` that `null` fills.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(default, deserialize_with = "present")]
    msg_id: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    service: Option<&'a str>,
    #[serde(default, deserialize_with = "present")]
    state: Option<&'a str>,
    #[serde(default, deserialize_with = "present")]
    force_failures: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    force_success: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    duration_ms: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    permit: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    outcome: Option<&'a str>,
}

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

impl<'a> Message<'a> {
    /// The `msg_id` and the request, when this shortcut takes the message as it is.
    pub fn request(&self) -> Option<(Option<u64>, Request<'a>)> {
        let b = &self.body;
        let msg_id = match b.msg_id {
            Some(id) if id > MAX_SAFE => return None,
            id => id,
        };
        let small = |n: Option<u64>| n.is_none_or(|n| n <= MAX_SAFE);
        if !small(b.duration_ms) || !small(b.force_failures) || !small(b.permit) {
            return None;
        }
        let service = match b.service {
            Some(s) if !valid_service(s) => return None,
            s => s,
        };
        let traffic = || service.or(Some(self.dest).filter(|d| valid_service(d)));
        let request = match b.kind {
            "call" => Request::Call {
                service: traffic()?,
                fixture: self.fixture()?,
            },
            "acquire" => Request::Acquire {
                service: traffic()?,
            },
            "record" => Request::Record {
                service: traffic()?,
                permit: b.permit?,
                outcome: match b.outcome? {
                    "success" => Outcome::Success,
                    "failure" => Outcome::Failure,
                    "ignored" => Outcome::Ignored,
                    _ => return None,
                },
                duration_ms: b.duration_ms,
            },
            "status" => Request::Status { service },
            _ => return None,
        };
        Some((msg_id, request))
    }

    fn fixture(&self) -> Option<CallFixture> {
        let b = &self.body;
        let state = match b.state {
            None => None,
            Some("closed") => Some(StateName::Closed),
            Some("open") => Some(StateName::Open),
            Some("half_open") => Some(StateName::HalfOpen),
            Some(_) => return None,
        };
        let attempts = match (b.force_failures, b.force_success) {
            (Some(n), Some(true)) if n > 0 => return None,
            (Some(n), _) if n > 0 => Attempts::Failures(n),
            _ => Attempts::Success,
        };
        Some(CallFixture {
            state,
            attempts,
            duration_ms: b.duration_ms,
            uses_fixtures: b.state.is_some()
                || b.force_failures.is_some()
                || b.force_success.is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::decode;
    use super::super::raw::{self, Node};
    use super::*;

    /// What the general reader makes of `text`, when it takes it.
    fn general(text: &str) -> Option<(Option<u64>, String)> {
        let Node::Object(doc) = raw::document(text).ok()? else {
            return None;
        };
        let envelope = decode::envelope(Node::Object(doc)).ok()?;
        let id = decode::msg_id(&envelope.body).ok()?;
        let service = decode::service(&envelope.body);
        let request = decode::request(&envelope.body, &service, &envelope.dest).ok()?;
        Some((id, format!("{request:?}")))
    }

    #[test]
    fn takes_only_what_the_general_reader_takes_the_same_way() {
        let body = |b: &str| format!(r#"{{"src":"c","dest":"db","body":{b}}}"#);
        let taken = [
            r#"{"type":"call","msg_id":1}"#,
            r#"{"type":"call","msg_id":1,"force_failures":5,"duration_ms":3}"#,
            r#"{"type":"call","state":"half_open","force_success":true}"#,
            r#"{"type":"call","force_failures":0,"force_success":true}"#,
            r#"{"type":"acquire","msg_id":7,"service":"x"}"#,
            r#"{"type":"record","msg_id":8,"permit":3,"outcome":"ignored"}"#,
            r#"{"type":"status","msg_id":2}"#,
        ];
        for b in taken {
            let text = body(b);
            let m: Message = serde_json::from_str(&text).unwrap();
            let (id, request) = m.request().expect(b);
            assert_eq!(Some((id, format!("{request:?}"))), general(&text), "{b}");
        }
        let left = [
            r#"{"type":"call","msg_id":null}"#,
            r#"{"type":"call","msg_id":9007199254740992}"#,
            r#"{"type":"call","msg_id":1,"msg_id":2}"#,
            r#"{"type":"call","force_failures":2,"force_success":true}"#,
            r#"{"type":"call","state":"shut"}"#,
            r#"{"type":"call","service":""}"#,
            r#"{"type":"call","service":"a\"b"}"#,
            r#"{"type":"call","extra":1}"#,
            r#"{"type":"record","permit":1}"#,
            r#"{"type":"configure","config":{}}"#,
        ];
        for b in left {
            let text = body(b);
            let taken = serde_json::from_str::<Message>(&text)
                .ok()
                .and_then(|m| m.request().map(|_| ()));
            assert!(taken.is_none(), "{b}");
        }
    }
}
