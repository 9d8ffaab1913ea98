//! Compact JSON output, written straight into a byte buffer in a fixed key order.

/// Appends JSON to a buffer. Callers write keys in the order the protocol shows them.
pub struct Writer<'a> {
    pub out: &'a mut Vec<u8>,
}

impl Writer<'_> {
    pub fn raw(&mut self, s: &str) -> &mut Self {
        self.out.extend_from_slice(s.as_bytes());
        self
    }

    /// `"key":` after a comma unless the object just opened.
    pub fn key(&mut self, key: &str) -> &mut Self {
        if !matches!(self.out.last(), Some(b'{')) {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self
    }

    /// A key that may need escaping (a service name).
    pub fn key_str(&mut self, key: &str) -> &mut Self {
        if !matches!(self.out.last(), Some(b'{')) {
            self.out.push(b',');
        }
        write_str(self.out, key);
        self.out.push(b':');
        self
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        write_str(self.out, s);
        self
    }

    pub fn u64(&mut self, n: u64) -> &mut Self {
        write_u64(self.out, n);
        self
    }

    /// A number given in thousandths, always with a fraction so that a decimal field reads as
    /// one: 50000 → `50.0`, 12500 → `12.5`, 1 → `0.001`.
    pub fn milli(&mut self, thousandths: u64) -> &mut Self {
        write_u64(self.out, thousandths / 1000);
        let frac = thousandths % 1000;
        let digits = [
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        let keep = if frac == 0 {
            1
        } else {
            3 - digits.iter().rev().take_while(|&&d| d == b'0').count()
        };
        self.out.push(b'.');
        self.out.extend_from_slice(&digits[..keep]);
        self
    }

    pub fn bool(&mut self, b: bool) -> &mut Self {
        self.raw(if b { "true" } else { "false" })
    }

    pub fn field_str(&mut self, key: &str, s: &str) -> &mut Self {
        self.key(key).str(s)
    }

    pub fn field_u64(&mut self, key: &str, n: u64) -> &mut Self {
        self.key(key).u64(n)
    }

    /// Opens an object; the caller closes it with [`Writer::end`].
    pub fn open(&mut self) -> &mut Self {
        self.out.push(b'{');
        self
    }

    pub fn end(&mut self) -> &mut Self {
        self.out.push(b'}');
        self
    }
}

/// Writes `s` as a JSON string: `"` and `\` and control characters escaped, the rest as UTF-8.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// `s` in double quotes, JSON-escaped: for names inside messages.
pub fn quote(s: &str) -> String {
    let mut out = Vec::new();
    write_str(&mut out, s);
    String::from_utf8(out).expect("escaping keeps UTF-8")
}

/// Writes `n` in decimal.
pub fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_json_requires_and_nothing_else() {
        let mut out = Vec::new();
        write_str(&mut out, "a\"b\\c\nd\u{1}é/");
        assert_eq!(String::from_utf8(out).unwrap(), r#""a\"b\\c\nd\u0001é/""#);
    }

    #[test]
    fn writes_integers() {
        for n in [0, 7, 10, 4_000_000_000, u64::MAX] {
            let mut out = Vec::new();
            write_u64(&mut out, n);
            assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }
    }

    #[test]
    fn writes_thousandths_as_decimals() {
        for (n, text) in [
            (50_000, "50.0"),
            (12_500, "12.5"),
            (1, "0.001"),
            (100_010, "100.01"),
            (0, "0.0"),
        ] {
            let mut out = Vec::new();
            Writer { out: &mut out }.milli(n);
            assert_eq!(String::from_utf8(out).unwrap(), text);
        }
    }

    #[test]
    fn separates_keys_with_commas() {
        let mut out = Vec::new();
        Writer { out: &mut out }
            .open()
            .field_str("a", "x")
            .field_u64("b", 1)
            .key("c")
            .open()
            .end()
            .end();
        assert_eq!(out, br#"{"a":"x","b":1,"c":{}}"#);
    }
}
