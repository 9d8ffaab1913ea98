//! The checks the protocol adds to JSON, made while a document is read: duplicate keys at
//! every level, nesting bounded from the document's top, and every string's escapes decoded,
//! read or not. A fault found inside a value is noted by address, so it can be placed exactly.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::raw::{Key, MAX_DEPTH, Unescaped, message_of};
use super::values::quote;

/// Checks a raw value at `depth`: duplicate keys and nesting in its objects and arrays, escapes
/// in its strings. (serde_json checked the syntax when it read the raw value.) Each level is
/// read again from its raw text, so a number is never converted: `1e400` is a number here, and
/// only a field that wants an integer refuses it.
pub fn check_value(text: &str, depth: usize, at: &Cell<Option<usize>>) -> Result<(), String> {
    match text.as_bytes().first() {
        Some(b'"') if text.contains('\\') => serde_json::from_str::<Unescaped>(text)
            .map(drop)
            .map_err(|e| {
                let column = e.column().saturating_sub(1).min(text.len());
                place_addr(at, text.as_ptr() as usize + column);
                message_of(&e)
            }),
        Some(b'{' | b'[') if depth > MAX_DEPTH => {
            place(at, text);
            Err("nesting too deep".into())
        }
        Some(b'{' | b'[') => {
            // One level per reader: serde_json's own depth limit is never what stops it.
            let mut de = serde_json::Deserializer::from_str(text);
            de.deserialize_any(Check { depth, at })
                .map_err(|e| message_of(&e))
        }
        _ => Ok(()),
    }
}

/// Notes where a fault is, unless a deeper one was noted first. A key read with escapes is a
/// copy, so it has no place; the reader's own position is used then.
fn place(at: &Cell<Option<usize>>, piece: &str) {
    place_addr(at, piece.as_ptr() as usize);
}

fn place_addr(at: &Cell<Option<usize>>, addr: usize) {
    if at.get().is_none() {
        at.set(Some(addr));
    }
}

/// Places a fault at a key's opening quote.
#[expect(
    clippy::ptr_arg,
    reason = "only a borrowed key has a place in the input"
)]
pub fn key_place(at: &Cell<Option<usize>>, key: &Cow<str>) {
    if let Cow::Borrowed(k) = key {
        place_addr(at, (k.as_ptr() as usize).saturating_sub(1));
    }
}

/// One level of [`check_value`]: an object's keys, or an array's items.
#[derive(Clone, Copy)]
struct Check<'s> {
    depth: usize,
    at: &'s Cell<Option<usize>>,
}

impl<'de> Visitor<'de> for Check<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object or an array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys: Vec<Cow<'de, str>> = Vec::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if keys.len() < 16 && keys.contains(&key) {
                key_place(self.at, &key);
                return Err(de::Error::custom(format!("duplicate key {}", quote(&key))));
            }
            keys.push(key);
            let raw: &'de RawValue = map.next_value()?;
            check_value(raw.get(), self.depth + 1, self.at).map_err(de::Error::custom)?;
        }
        if keys.len() > 16
            && let Some(twice) = crate::sort::first_duplicate(keys.iter().map(|k| &**k))
        {
            if let Some(key) = keys.iter().rev().find(|k| **k == twice) {
                key_place(self.at, key);
            }
            return Err(de::Error::custom(format!("duplicate key {}", quote(twice))));
        }
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(E::custom("expected an object or an array"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            check_value(raw.get(), self.depth + 1, self.at).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}
