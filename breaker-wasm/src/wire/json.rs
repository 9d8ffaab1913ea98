//! A small, strict JSON reader: one document into a borrowed tree. Duplicate keys are errors,
//! nesting is bounded, strings borrow from the input unless they hold escapes, and numbers stay
//! as their text until a field asks for a type.

use std::borrow::Cow;

/// Nesting deeper than this is refused (serde_json's limit too).
pub const MAX_DEPTH: usize = 128;

/// A parsed JSON value, borrowing from the input.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    /// A number's text, already checked against the JSON grammar.
    Number(&'a str),
    String(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    /// Members in input order; keys are unique.
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
}

impl<'a> Value<'a> {
    /// The member `key` of an object (`None` for a missing key or a non-object).
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an unsigned integer: integer syntax only (no fraction, no exponent).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(text) if text.bytes().all(|b| b.is_ascii_digit()) => text.parse().ok(),
            _ => None,
        }
    }

    /// The value in thousandths, when it is a non-negative number with at most three decimal
    /// places (`12.5` → 12500, `5e1` → 50000). Read exactly, without floating point.
    pub fn as_milli(&self) -> Option<u64> {
        let Value::Number(text) = self else {
            return None;
        };
        let (mantissa, exp) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
        let exp: i64 = exp.strip_prefix('+').unwrap_or(exp).parse().ok()?;
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.starts_with('-') {
            return None;
        }
        let digits: String = [int, frac].concat();
        let digits = digits.trim_start_matches('0');
        // value = digits × 10^(exp − frac.len()); in thousandths, × 10^3 more.
        let shift = exp.checked_sub(frac.len() as i64)?.checked_add(3)?;
        if digits.is_empty() {
            return Some(0);
        }
        if shift < 0 {
            let cut = usize::try_from(-shift).ok()?;
            let (keep, dropped) = digits.split_at(digits.len().saturating_sub(cut));
            if cut > digits.len() || dropped.bytes().any(|b| b != b'0') {
                return None;
            }
            return if keep.is_empty() {
                Some(0)
            } else {
                keep.parse().ok()
            };
        }
        if digits.len() as i64 + shift > 19 {
            return None;
        }
        let n: u64 = digits.parse().ok()?;
        n.checked_mul(10u64.checked_pow(shift as u32)?)
    }

    /// What kind of value this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

/// Why a document could not be read, and where (a byte offset into it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at byte {offset}")]
pub struct ParseError {
    pub offset: usize,
    pub message: Cow<'static, str>,
}

/// Reads exactly one JSON value from `text` (surrounding whitespace allowed).
pub fn parse(text: &str) -> Result<Value<'_>, ParseError> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    };
    p.skip_ws();
    let value = p.value(0)?;
    p.skip_ws();
    if p.pos != p.bytes.len() {
        return Err(p.error("unexpected data after the document"));
    }
    Ok(value)
}

/// Reads the JSON value that starts exactly at the beginning of `text`; returns it and the
/// number of bytes it took. What follows is left to the caller.
pub fn parse_prefix(text: &str) -> Result<(Value<'_>, usize), ParseError> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    };
    let value = p.value(0)?;
    Ok((value, p.pos))
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, message: impl Into<Cow<'static, str>>) -> ParseError {
        if self.pos >= self.bytes.len() {
            return ParseError {
                offset: self.pos,
                message: "unexpected end of document".into(),
            };
        }
        ParseError {
            offset: self.pos,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), ParseError> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, ParseError> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(_) => Err(self.error("expected a value")),
            None => Err(self.error("unexpected end of document")),
        }
    }

    fn literal(&mut self, word: &'static str, value: Value<'a>) -> Result<Value<'a>, ParseError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a value"))
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value<'a>, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        let start = self.pos;
        self.pos += 1;
        let mut members: Vec<(Cow<'a, str>, Value<'a>)> = Vec::with_capacity(8);
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a string key"));
            }
            let key_at = self.pos;
            let key = self.string()?;
            self.expect(b':', "expected ':' after an object key")?;
            self.skip_ws();
            let value = self.value(depth)?;
            if members.len() < 16 && members.iter().any(|(k, _)| *k == key) {
                return Err(ParseError {
                    offset: key_at,
                    message: format!("duplicate key {}", super::values::quote(&key)).into(),
                });
            }
            members.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.error("expected ',' or '}' in an object")),
            }
        }
        if members.len() > 16 {
            let mut keys: Vec<&str> = members.iter().map(|(k, _)| &**k).collect();
            keys.sort_unstable();
            if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
                return Err(ParseError {
                    offset: start,
                    message: format!("duplicate key {}", super::values::quote(w[0])).into(),
                });
            }
        }
        Ok(Value::Object(members))
    }

    fn array(&mut self, depth: usize) -> Result<Value<'a>, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']' in an array")),
            }
        }
    }

    fn number(&mut self) -> Result<Value<'a>, ParseError> {
        let start = self.pos;
        let digits = |p: &mut Parser| {
            let from = p.pos;
            while let Some(b'0'..=b'9') = p.peek() {
                p.pos += 1;
            }
            p.pos - from
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("invalid number"));
            }
        }
        Ok(Value::Number(&self.text[start..self.pos]))
    }

    fn string(&mut self) -> Result<Cow<'a, str>, ParseError> {
        self.pos += 1;
        let start = self.pos;
        // The common case: no escapes, borrowed as it is.
        loop {
            match self.peek() {
                Some(b'"') => {
                    let s = &self.text[start..self.pos];
                    self.pos += 1;
                    return Ok(Cow::Borrowed(s));
                }
                Some(b'\\') => break,
                Some(0..=0x1f) => return Err(self.error("control character in a string")),
                Some(_) => self.pos += 1,
                None => return Err(self.error("unterminated string")),
            }
        }
        let mut out = String::from(&self.text[start..self.pos]);
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let c = self.unicode_escape()?;
                            out.push(c);
                            continue;
                        }
                        _ => return Err(self.error("invalid escape in a string")),
                    };
                    self.pos += 1;
                    out.push(c);
                }
                Some(0..=0x1f) => return Err(self.error("control character in a string")),
                Some(_) => {
                    // Copy a run of plain characters at once.
                    let from = self.pos;
                    while let Some(b) = self.peek() {
                        if b == b'"' || b == b'\\' || b < 0x20 {
                            break;
                        }
                        self.pos += 1;
                    }
                    out.push_str(&self.text[from..self.pos]);
                }
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    /// After `\u`: four hex digits, and a second escape for a surrogate pair.
    fn unicode_escape(&mut self) -> Result<char, ParseError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !self.bytes[self.pos..].starts_with(b"\\u") {
                    return Err(self.error("unpaired surrogate in a \\u escape"));
                }
                self.pos += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.error("unpaired surrogate in a \\u escape"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.error("unpaired surrogate in a \\u escape")),
            c => c,
        };
        char::from_u32(code).ok_or_else(|| self.error("invalid \\u escape"))
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        let mut code = 0;
        for &d in digits {
            let v = (d as char)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid \\u escape"))?;
            code = code * 16 + v;
        }
        self.pos += 4;
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_documents_and_borrows_plain_strings() {
        let v =
            parse(r#" {"a": [1, -2.5e3, true, null], "b": {"c": "x\"y\u00e9"}, "d": "plain"} "#)
                .unwrap();
        assert_eq!(
            v.get("a"),
            Some(&Value::Array(vec![
                Value::Number("1"),
                Value::Number("-2.5e3"),
                Value::Bool(true),
                Value::Null
            ]))
        );
        assert_eq!(
            v.get("b").unwrap().get("c").unwrap().as_str(),
            Some("x\"yé")
        );
        assert!(matches!(
            v.get("d"),
            Some(Value::String(Cow::Borrowed("plain")))
        ));
    }

    #[test]
    fn refuses_duplicate_keys_in_small_and_large_objects() {
        assert!(
            parse(r#"{"a":1,"a":2}"#)
                .unwrap_err()
                .message
                .contains("duplicate key")
        );
        let many: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let doc = format!("{{{},\"k7\":0}}", many.join(","));
        assert!(
            parse(&doc)
                .unwrap_err()
                .message
                .contains("duplicate key \"k7\"")
        );
        // Escapes are decoded before keys are compared.
        assert!(parse(r#"{"a":1,"\u0061":2}"#).is_err());
    }

    #[test]
    fn bounds_nesting_without_recursing_deeply() {
        let deep = "[".repeat(100_000);
        assert_eq!(parse(&deep).unwrap_err().message, "nesting too deep");
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn refuses_malformed_input_with_its_offset() {
        for (doc, offset) in [
            (r#"{"a" 1}"#, 5),
            ("{\"a\":\"x\ny\"}", 7),
            ("[01]", 2),
            ("[1.]", 3),
            ("[1] x", 4),
            (r#"["\ud800"]"#, 8),
            ("", 0),
            ("tru", 0),
        ] {
            let e = parse(doc).unwrap_err();
            assert_eq!(e.offset, offset, "{doc:?}: {e}");
        }
    }

    #[test]
    fn decimals_are_read_exactly_in_thousandths() {
        for (text, milli) in [
            ("50", Some(50_000)),
            ("12.5", Some(12_500)),
            ("0.125", Some(125)),
            ("5e1", Some(50_000)),
            ("1E-3", Some(1)),
            ("0.1000", Some(100)),
            ("0", Some(0)),
            ("0.0001", None),
            ("-1", None),
            ("1e400", None),
            ("33.3333", None),
            ("1000000", Some(1_000_000_000)),
            ("18446744073709551.616", None),
        ] {
            assert_eq!(Value::Number(text).as_milli(), milli, "{text}");
        }
    }

    #[test]
    fn integers_are_integers() {
        assert_eq!(Value::Number("42").as_u64(), Some(42));
        assert_eq!(
            Value::Number("18446744073709551615").as_u64(),
            Some(u64::MAX)
        );
        for text in ["4.0", "1e3", "-1", "18446744073709551616"] {
            assert_eq!(Value::Number(text).as_u64(), None, "{text}");
        }
    }
}
