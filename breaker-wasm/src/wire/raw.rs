//! JSON read by serde_json into borrowed pieces: an object is its members, each value kept as
//! its raw text ([`Raw`]) until a field asks for a type, so a refusal can quote what was sent
//! (`found 2.5`, `found 1e400`) and a number is read exactly (rates in thousandths).
//!
//! The protocol is stricter than JSON in three ways serde_json leaves to the reader, checked
//! here while the document is read: duplicate keys are refused at every level, nesting is
//! bounded by [`MAX_DEPTH`] counted from the document's top, and every string, read or not, is
//! decoded (so a lone surrogate is refused anywhere).

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::strict::{check_value, key_place};
use super::values::{quote, thousandths};

/// Nesting deeper than this is refused (serde_json's own limit too).
pub const MAX_DEPTH: usize = 128;

/// One JSON value, as its text (already checked).
#[derive(Clone, Copy, Debug)]
pub struct Raw<'a>(&'a str);

/// An object's members, in input order; keys are unique.
#[derive(Clone, Debug, Default)]
pub struct Members<'a> {
    pub items: Vec<(Cow<'a, str>, Raw<'a>)>,
    /// A message's `body`, read in the same pass as its envelope (documents only; it is then
    /// not among `items`).
    pub body: Option<Box<Node<'a>>>,
}

impl<'a> Members<'a> {
    pub fn get(&self, key: &str) -> Option<Raw<'a>> {
        self.items.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
}

/// What a document or a body turned out to be: an object, or something else (named by kind).
#[derive(Clone, Debug)]
pub enum Node<'a> {
    Object(Members<'a>),
    Other(&'static str),
}

/// Why a document cannot be read, and where: 1-based line and byte column within it.
#[derive(Debug)]
pub struct Fault {
    pub message: String,
    pub line: u64,
    pub column: u64,
}

/// Reads one document that is an object, or names what it is instead.
pub fn document(text: &str) -> Result<Node<'_>, Fault> {
    let at = Cell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let read = NodeSeed::document(&at)
        .deserialize(&mut de)
        .and_then(|node| de.end().map(|()| node));
    read.map_err(|e| {
        // A fault found inside a value is placed where it is (a duplicate key at the key);
        // serde_json's own position is where it stopped reading.
        let offset = at
            .get()
            .and_then(|addr: usize| addr.checked_sub(text.as_ptr() as usize))
            .filter(|&offset| offset <= text.len());
        let (line, column) = match offset {
            Some(offset) => line_and_column(&text.as_bytes()[..offset]),
            None => (e.line() as u64, e.column() as u64),
        };
        Fault {
            message: message_of(&e),
            line,
            column,
        }
    })
}

/// The line and column just after `before`.
pub fn line_and_column(before: &[u8]) -> (u64, u64) {
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count() as u64;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line, (before.len() - start) as u64 + 1)
}

impl<'de> serde::Deserialize<'de> for Node<'de> {
    /// A document: an object read into its members, or the kind of what it is instead.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        NodeSeed::document(&Cell::new(None)).deserialize(d)
    }
}

impl<'a> Raw<'a> {
    /// A value from its text, which must be exactly one checked JSON value (no whitespace
    /// around it).
    pub fn of(text: &'a str) -> Raw<'a> {
        Raw(text)
    }

    pub fn text(&self) -> &'a str {
        self.0
    }

    /// What kind of value this is, for error messages.
    pub fn kind(&self) -> &'static str {
        kind_of(self.0)
    }

    pub fn is_null(&self) -> bool {
        self.0 == "null"
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.0 {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// The value as an unsigned integer: integer syntax only (no fraction, no exponent).
    pub fn as_u64(&self) -> Option<u64> {
        let digits = self.0.bytes().all(|b| b.is_ascii_digit());
        if digits { self.0.parse().ok() } else { None }
    }

    /// The string, unescaped (borrowed when it has no escapes).
    pub fn as_str(&self) -> Option<Cow<'a, str>> {
        let inner = self.0.strip_prefix('"')?.strip_suffix('"')?;
        if !inner.contains('\\') {
            return Some(Cow::Borrowed(inner));
        }
        serde_json::from_str::<Unescaped>(self.0)
            .ok()
            .map(|s| Cow::Owned(s.0))
    }

    /// The members of an object (`None` for another kind).
    pub fn members(&self) -> Option<Members<'a>> {
        if !self.0.starts_with('{') {
            return None;
        }
        let mut de = serde_json::Deserializer::from_str(self.0);
        let at = Cell::new(None);
        let seed = NodeSeed {
            depth: 1,
            document: false,
            at: &at,
        };
        match seed.deserialize(&mut de) {
            Ok(Node::Object(members)) => Some(members),
            _ => None,
        }
    }

    /// The items of an array (`None` for another kind).
    pub fn items(&self) -> Option<Vec<Raw<'a>>> {
        if !self.0.starts_with('[') {
            return None;
        }
        let items: Items<'a> = serde_json::from_str(self.0).ok()?;
        Some(items.0)
    }

    /// The value in thousandths (see [`thousandths`]).
    pub fn as_milli(&self) -> Option<u64> {
        thousandths(self.0)
    }

    /// A short rendering for error messages: the number or string as sent, or its kind.
    pub fn show(&self) -> Cow<'static, str> {
        match self.kind() {
            "a number" if self.0.len() <= 40 => Cow::Owned(self.0.to_string()),
            "a string" => match self.as_str() {
                Some(s) if s.len() <= 40 => Cow::Owned(quote(&s)),
                _ => Cow::Borrowed("a string"),
            },
            kind => Cow::Borrowed(kind),
        }
    }
}

fn kind_of(text: &str) -> &'static str {
    match text.as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// A string, unescaped. Read through `deserialize_any`, as every value here is: serde_json's
/// typed entry points (`deserialize_string`, `deserialize_seq`, ...) describe a value of the
/// wrong shape in their error, floats included, which would link float formatting into the
/// module for messages nobody reads.
pub(super) struct Unescaped(pub String);

impl<'de> serde::Deserialize<'de> for Unescaped {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Unescaped;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_str<E>(self, s: &str) -> Result<Unescaped, E> {
                Ok(Unescaped(s.to_string()))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Unescaped, E> {
                Err(E::custom("expected a string"))
            }
        }
        d.deserialize_any(V)
    }
}

/// An array's items, as raw values.
struct Items<'a>(Vec<Raw<'a>>);

impl<'de> serde::Deserialize<'de> for Items<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Items<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items<'de>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(raw) = seq.next_element::<&'de RawValue>()? {
                    items.push(Raw(raw.get()));
                }
                Ok(Items(items))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Items<'de>, E> {
                Err(E::custom("expected an array"))
            }
        }
        d.deserialize_any(V)
    }
}

/// An object key, borrowed from the input unless it holds escapes (serde's own `Cow<str>`
/// always copies).
pub(super) struct Key<'de>(pub Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }

            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }

            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Key<'de>, E> {
                Err(E::custom("a key is a string"))
            }
        }
        // `deserialize_any` rather than `deserialize_str`: see `Unescaped`.
        d.deserialize_any(KeyVisitor)
    }
}

/// Reads a value at `depth` (1 for a document): an object into its members, anything else
/// checked whole and named by its kind.
struct NodeSeed<'s> {
    depth: usize,
    /// A whole message: its `body` is read in place.
    document: bool,
    /// The address of a fault found inside a value, for its position.
    at: &'s Cell<Option<usize>>,
}

impl<'s> NodeSeed<'s> {
    fn document(at: &'s Cell<Option<usize>>) -> NodeSeed<'s> {
        NodeSeed {
            depth: 1,
            document: true,
            at,
        }
    }
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = Node<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Node<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        if self.depth > MAX_DEPTH {
            return Err(de::Error::custom("nesting too deep"));
        }
        let mut members = Members {
            items: Vec::with_capacity(8),
            body: None,
        };
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let body = self.document && key == "body";
            if members.items.iter().any(|(k, _)| *k == key) || (body && members.body.is_some()) {
                key_place(self.at, &key);
                return Err(de::Error::custom(format!("duplicate key {}", quote(&key))));
            }
            if body {
                let seed = NodeSeed {
                    depth: self.depth + 1,
                    document: false,
                    at: self.at,
                };
                members.body = Some(Box::new(map.next_value_seed(seed)?));
                continue;
            }
            let raw: &'de RawValue = map.next_value()?;
            check_value(raw.get(), self.depth + 1, self.at).map_err(de::Error::custom)?;
            members.items.push((key, Raw(raw.get())));
        }
        Ok(Node::Object(members))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            check_value(raw.get(), self.depth + 1, self.at).map_err(de::Error::custom)?;
        }
        Ok(Node::Other("an array"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Node<'de>, E> {
        Ok(Node::Other("a boolean"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Node<'de>, E> {
        Ok(Node::Other("a number"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Node<'de>, E> {
        Ok(Node::Other("a number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Node<'de>, E> {
        Ok(Node::Other("a number"))
    }

    fn visit_str<E>(self, _: &str) -> Result<Node<'de>, E> {
        Ok(Node::Other("a string"))
    }

    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Other("null"))
    }
}

/// serde_json's message without its position.
pub fn message_of(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) if e.line() > 0 => text[..at].to_string(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(text: &str) -> Members<'_> {
        match document(text).unwrap() {
            Node::Object(m) => m,
            Node::Other(kind) => panic!("{kind}"),
        }
    }

    #[test]
    fn reads_members_as_raw_text() {
        let m = members(r#"{"a": 2.50, "b": "x\n", "c": {"d": [1, 1e400]}, "e": null}"#);
        assert_eq!(m.get("a").unwrap().as_milli(), Some(2500));
        assert_eq!(m.get("b").unwrap().as_str().unwrap(), "x\n");
        assert_eq!(m.get("c").unwrap().kind(), "an object");
        let inner = m.get("c").unwrap().members().unwrap();
        let items = inner.get("d").unwrap().items().unwrap();
        assert_eq!(items[1].show(), "1e400");
        assert!(m.get("e").unwrap().is_null());
        assert!(m.get("z").is_none());
    }

    #[test]
    fn refuses_duplicate_keys_at_every_level() {
        for text in [
            r#"{"a":1,"a":2}"#,
            r#"{"x":{"a":1,"b":{"c":[{"k":1,"k":1}]}}}"#,
            &format!(
                "{{\"x\":{{{}\"k5\":0}}}}",
                (0..40).map(|i| format!("\"k{i}\":0,")).collect::<String>()
            ),
        ] {
            let e = document(text).unwrap_err();
            assert!(e.message.starts_with("duplicate key"), "{text}: {e:?}");
        }
    }

    #[test]
    fn bounds_nesting_from_the_top() {
        let nested = |depth: usize| {
            format!(
                "{{\"a\":{}{}}}",
                "[".repeat(depth - 1),
                "]".repeat(depth - 1)
            )
        };
        assert!(document(&nested(MAX_DEPTH)).is_ok());
        let e = document(&nested(MAX_DEPTH + 1)).unwrap_err();
        assert_eq!(e.message, "nesting too deep");
        assert_eq!((e.line, e.column), (1, 6 + MAX_DEPTH as u64 - 1));
        assert!(document(&nested(100_000)).is_err());
    }

    #[test]
    fn places_a_duplicate_key_at_its_opening_quote() {
        let e = document("{\"a\":{\n \"b\":1,\n \"b\":2}}").unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.line, e.column),
            ("duplicate key \"b\"", 3, 2)
        );
    }

    #[test]
    fn refuses_lone_surrogates_even_where_unread() {
        for text in [
            r#"{"a":{"b":"\ud800"}}"#,
            r#"{"a":["\udc00x"]}"#,
            r#"{"\ud800":1}"#,
        ] {
            assert!(document(text).is_err(), "{text}");
        }
        assert!(document(r#"{"a":{"b":"\ud83d\ude00"}}"#).is_ok());
    }

    /// The verdict of the `json_validity` fuzz target, on inputs picked by hand.
    #[test]
    fn agrees_with_serde_json_on_validity() {
        let deep =
            |open: &str, close: &str, n: usize| format!("{}{}", open.repeat(n), close.repeat(n));
        let cases = [
            r#"{"a":1}"#.to_string(),
            r#"{"a":"\ud800"}"#.to_string(),
            r#"{"a":"\ud83d\ude00"}"#.to_string(),
            r#"{"a":1e400,"b":-0.0,"c":[1e-400]}"#.to_string(),
            r#"{"a":1,}"#.to_string(),
            r#"{"a":01}"#.to_string(),
            "{\"a\":\"\u{1}\"}".to_string(),
            r#"{"a":{"b":1,"b":2}}"#.to_string(),
            format!("{{\"a\":{}}}", deep("[", "]", 126)),
            format!("{{\"a\":{}}}", deep("[", "]", 127)),
            format!("{{\"a\":{}}}", deep("[", "]", 128)),
            deep("[", "]", 128),
            deep("[", "]", 129),
            " {} ".to_string(),
            "{} x".to_string(),
        ];
        for text in cases {
            let ours = document(&text);
            let theirs = serde_json::from_str::<serde_json::Value>(&text);
            match (&ours, &theirs) {
                (Err(f), Ok(_)) => assert!(f.message.starts_with("duplicate key"), "{text}: {f:?}"),
                (Ok(_), Err(e)) => assert!(
                    e.to_string().starts_with("number out of range")
                        || e.to_string().starts_with("recursion limit exceeded"),
                    "{text}: {e}"
                ),
                _ => {}
            }
        }
    }

    #[test]
    fn names_other_kinds() {
        assert!(matches!(document("[1]"), Ok(Node::Other("an array"))));
        assert!(matches!(document(" 7 "), Ok(Node::Other("a number"))));
        assert!(document("{} {}").is_err());
    }
}
