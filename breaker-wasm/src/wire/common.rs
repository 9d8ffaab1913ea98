//! The common messages (`call`, `acquire`, `record`, `status`) read straight into a typed
//! struct by serde visitors: one pass, no allocation, strings borrowed from the input.
//!
//! This is only a shortcut. Anything it does not take exactly as the general reader would
//! (an unknown or duplicate field, an escaped string, a value out of range, another message
//! type) makes it give up, and the document goes through [`super::raw`] and
//! [`super::decode`], which give the same answer to what this takes and name the field for
//! everything else. So no refusal is ever worded here.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::breaker::{Attempts, MAX_SAFE, Outcome, StateName};
use crate::node::image::valid_service;
use crate::node::{CallFixture, Request};

/// A message of one of the common types, as serde reads it.
pub struct Message<'a> {
    pub src: &'a str,
    pub dest: &'a str,
    body: Body<'a>,
}

/// Every field of the common messages, each present or missing (a field given as `null` is
/// not "missing" in the protocol, so it makes this reader give up like any other surprise).
#[derive(Default)]
struct Body<'a> {
    kind: &'a str,
    msg_id: Option<u64>,
    service: Option<&'a str>,
    state: Option<&'a str>,
    force_failures: Option<u64>,
    force_success: Option<bool>,
    duration_ms: Option<u64>,
    permit: Option<u64>,
    outcome: Option<&'a str>,
    error: Option<&'a str>,
}

// The visitors below read through `deserialize_any` and refuse every other shape themselves:
// serde_json's typed entry points (`deserialize_str`, `deserialize_struct`, ...) describe a
// wrong shape with its value, which links float formatting into the module for a message
// nobody reads.

/// Gives up: the general reader will say why.
fn other<E: de::Error>() -> E {
    E::custom("not a common message")
}

/// One scalar: a borrowed string, an unsigned integer or a boolean.
enum Scalar<'a> {
    Str(&'a str),
    Int(u64),
    Bool(bool),
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, an integer or a boolean")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(s))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Scalar<'de>, E> {
                Err(other())
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Int(n))
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Bool(b))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Scalar<'de>, E> {
                Err(other())
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Message<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Message<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a message")
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Message<'de>, E> {
                Err(other())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Message<'de>, A::Error> {
                let (mut src, mut dest, mut body) = (None, None, None);
                while let Some(key) = map.next_key::<Scalar>()? {
                    match key {
                        Scalar::Str("src") if src.is_none() => src = Some(text(map.next_value()?)?),
                        Scalar::Str("dest") if dest.is_none() => {
                            dest = Some(text(map.next_value()?)?)
                        }
                        Scalar::Str("body") if body.is_none() => body = Some(map.next_value()?),
                        _ => return Err(other()),
                    }
                }
                match (src, dest, body) {
                    (Some(src), Some(dest), Some(body)) => Ok(Message { src, dest, body }),
                    _ => Err(other()),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Body<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Body<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a body")
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Body<'de>, E> {
                Err(other())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body<'de>, A::Error> {
                let mut b = Body::default();
                let mut kind = None;
                while let Some(Scalar::Str(key)) = map.next_key::<Scalar>()? {
                    let value: Scalar = map.next_value()?;
                    let fresh = match (key, value) {
                        ("type", Scalar::Str(s)) => kind.replace(s).is_none(),
                        ("msg_id", Scalar::Int(n)) => b.msg_id.replace(n).is_none(),
                        ("service", Scalar::Str(s)) => b.service.replace(s).is_none(),
                        ("state", Scalar::Str(s)) => b.state.replace(s).is_none(),
                        ("force_failures", Scalar::Int(n)) => b.force_failures.replace(n).is_none(),
                        ("force_success", Scalar::Bool(x)) => b.force_success.replace(x).is_none(),
                        ("duration_ms", Scalar::Int(n)) => b.duration_ms.replace(n).is_none(),
                        ("permit", Scalar::Int(n)) => b.permit.replace(n).is_none(),
                        ("outcome", Scalar::Str(s)) => b.outcome.replace(s).is_none(),
                        ("error", Scalar::Str(s)) => b.error.replace(s).is_none(),
                        _ => false,
                    };
                    if !fresh {
                        return Err(other());
                    }
                }
                b.kind = kind.ok_or_else(other)?;
                Ok(b)
            }
        }
        d.deserialize_any(V)
    }
}

fn text<E: de::Error>(value: Scalar<'_>) -> Result<&str, E> {
    match value {
        Scalar::Str(s) => Ok(s),
        _ => Err(other()),
    }
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
                error: b.error.map(Cow::Borrowed),
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
                error: b.error.map(Cow::Borrowed),
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
