//! The JSON grammar, one byte at a time: what the splitter checks a document against.

use super::Splitter;
use crate::wire::raw::MAX_DEPTH;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Num {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    Exp,
    ExpSign,
    ExpDigits,
}

/// The three literals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Word {
    True,
    False,
    Null,
}

impl Word {
    fn bytes(self) -> &'static [u8] {
        match self {
            Word::True => b"true",
            Word::False => b"false",
            Word::Null => b"null",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Grammar {
    /// A value must come (after `:`, or `,` in an array).
    Value,
    /// Just after `[`: a value or `]`.
    ArrayFirst,
    /// Just after `{`: a key or `}`.
    ObjectFirst,
    /// After `,` in an object: a key.
    Key,
    /// After a key: `:`.
    Colon,
    /// After a value: `,` or the closing bracket.
    After,
    /// Inside a string; `escape` counts what the current escape still needs (0 = none, 1 =
    /// the character after `\`, 2..=5 = hex digits of `\u`).
    Str {
        key: bool,
        escape: u8,
    },
    Number(Num),
    Literal {
        word: Word,
        matched: u8,
    },
}

pub(super) enum Step {
    /// The byte was taken.
    Taken,
    /// The byte ends a number and must be looked at again.
    Again,
    /// The byte closed the document.
    Done,
    Error(&'static str),
}

impl Splitter {
    /// Feeds one byte of a document to the grammar.
    pub(super) fn step(&mut self, b: u8) -> Step {
        use Grammar as G;
        let ws = matches!(b, b' ' | b'\t' | b'\r' | b'\n');
        match self.grammar {
            G::Str { key, escape } => self.string_byte(key, escape, b),
            G::Number(n) => self.number_byte(n, b),
            G::Literal { word, matched } => self.literal_byte(word, matched, b),
            _ if ws => Step::Taken,
            G::Value | G::ArrayFirst => self.value(b),
            G::ObjectFirst | G::Key | G::Colon | G::After => self.structural(b),
        }
    }

    fn value(&mut self, b: u8) -> Step {
        use Grammar as G;
        self.grammar = match b {
            b']' if self.grammar == G::ArrayFirst => return self.close(b'['),
            b'{' | b'[' => {
                if self.stack.len() >= MAX_DEPTH {
                    return Step::Error("nesting too deep");
                }
                self.stack.push(b);
                if b == b'{' {
                    G::ObjectFirst
                } else {
                    G::ArrayFirst
                }
            }
            b'"' => G::Str {
                key: false,
                escape: 0,
            },
            b'-' => G::Number(Num::Minus),
            b'0' => G::Number(Num::Zero),
            b'1'..=b'9' => G::Number(Num::Int),
            b't' => G::Literal {
                word: Word::True,
                matched: 1,
            },
            b'f' => G::Literal {
                word: Word::False,
                matched: 1,
            },
            b'n' => G::Literal {
                word: Word::Null,
                matched: 1,
            },
            _ => return Step::Error("expected a value"),
        };
        Step::Taken
    }

    fn close(&mut self, open: u8) -> Step {
        debug_assert_eq!(self.stack.last(), Some(&open));
        self.stack.pop();
        if self.stack.is_empty() {
            return Step::Done;
        }
        self.grammar = Grammar::After;
        Step::Taken
    }

    /// A byte inside a string (a key when `key`); `escape` as in [`Grammar::Str`].
    fn string_byte(&mut self, key: bool, escape: u8, b: u8) -> Step {
        use Grammar as G;
        self.grammar = match (escape, b) {
            (0, b'"') => {
                if key {
                    G::Colon
                } else {
                    G::After
                }
            }
            (0, b'\\') => G::Str { key, escape: 1 },
            (_, 0..=0x1f) => return Step::Error("control character in a string"),
            (0, _) => G::Str { key, escape: 0 },
            (1, b'u') => G::Str { key, escape: 5 },
            (1, b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                G::Str { key, escape: 0 }
            }
            (1, _) => return Step::Error("invalid escape in a string"),
            (n, _) if b.is_ascii_hexdigit() => G::Str {
                key,
                escape: if n == 2 { 0 } else { n - 1 },
            },
            _ => return Step::Error("invalid \\u escape"),
        };
        Step::Taken
    }

    /// A byte inside a number, or the byte that ends it.
    fn number_byte(&mut self, n: Num, b: u8) -> Step {
        use Grammar as G;
        let next = match (n, b) {
            (Num::Minus, b'0') => Num::Zero,
            (Num::Minus, b'1'..=b'9') => Num::Int,
            (Num::Int, b'0'..=b'9') => Num::Int,
            (Num::Zero | Num::Int, b'.') => Num::Dot,
            (Num::Dot | Num::Frac, b'0'..=b'9') => Num::Frac,
            (Num::Zero | Num::Int | Num::Frac, b'e' | b'E') => Num::Exp,
            (Num::Exp, b'+' | b'-') => Num::ExpSign,
            (Num::Exp | Num::ExpSign | Num::ExpDigits, b'0'..=b'9') => Num::ExpDigits,
            (Num::Zero | Num::Int | Num::Frac | Num::ExpDigits, _) => {
                self.grammar = G::After;
                return Step::Again;
            }
            _ => return Step::Error("invalid number"),
        };
        self.grammar = G::Number(next);
        Step::Taken
    }

    /// A byte of `true`, `false` or `null`.
    fn literal_byte(&mut self, word: Word, matched: u8, b: u8) -> Step {
        use Grammar as G;
        if word.bytes().get(matched as usize) != Some(&b) {
            return Step::Error("expected a value");
        }
        let matched = matched + 1;
        self.grammar = if matched as usize == word.bytes().len() {
            G::After
        } else {
            G::Literal { word, matched }
        };
        Step::Taken
    }

    /// A byte between tokens: a key, `:`, `,` or a closing bracket.
    fn structural(&mut self, b: u8) -> Step {
        use Grammar as G;
        match self.grammar {
            G::ObjectFirst | G::Key => match b {
                b'"' => {
                    self.grammar = G::Str {
                        key: true,
                        escape: 0,
                    };
                    Step::Taken
                }
                b'}' if self.grammar == G::ObjectFirst => self.close(b'{'),
                _ => Step::Error("expected a string key"),
            },
            G::Colon => {
                if b != b':' {
                    return Step::Error("expected ':' after an object key");
                }
                self.grammar = G::Value;
                Step::Taken
            }
            G::After => match (b, self.stack.last()) {
                (b',', Some(b'{')) => {
                    self.grammar = G::Key;
                    Step::Taken
                }
                (b',', _) => {
                    self.grammar = G::Value;
                    Step::Taken
                }
                (b'}', Some(b'{')) => self.close(b'{'),
                (b']', Some(b'[')) => self.close(b'['),
                (_, Some(b'{')) => Step::Error("expected ',' or '}' in an object"),
                _ => Step::Error("expected ',' or ']' in an array"),
            },
            _ => unreachable!("structural bytes only"),
        }
    }
}

/// A byte that stands for itself inside a string: not a quote, a backslash or a control byte.
pub(super) fn plain(b: u8) -> bool {
    b != b'"' && b != b'\\' && b >= 0x20
}
