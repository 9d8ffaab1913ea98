//! The splitter's state as a JSON array: the held bytes and the bracket stack as Latin-1
//! strings, then its other fields as numbers, the enums as small ones. The bytes are opaque and
//! belong to the build that wrote them (ABI.md). Written by hand over serde's tuples: derived
//! struct and enum forms would link a reader of their own for every type (about 25 KB of the
//! module).

use serde::de::Error;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::grammar::{Grammar, Num, Word};
use super::{Mode, Splitter};

/// The numbers of a [`Num`], in declaration order (`Num as u8` indexes this).
const NUMS: [Num; 8] = [
    Num::Minus,
    Num::Zero,
    Num::Int,
    Num::Dot,
    Num::Frac,
    Num::Exp,
    Num::ExpSign,
    Num::ExpDigits,
];

/// The literals, in declaration order (`Word as u8` indexes this).
const WORDS: [Word; 3] = [Word::True, Word::False, Word::Null];

/// Bytes as a JSON string of the characters U+0000 to U+00FF, one per byte: a saved state is
/// about as long as the bytes it holds (an array of numbers would be up to four times longer).
struct Latin1<B>(B);

impl<B: AsRef<[u8]>> Serialize for Latin1<B> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(
            &self
                .0
                .as_ref()
                .iter()
                .map(|&b| char::from(b))
                .collect::<String>(),
        )
    }
}

impl<'de> Deserialize<'de> for Latin1<Vec<u8>> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.chars()
            .map(|c| u8::try_from(c).map_err(|_| D::Error::custom("a character above U+00FF")))
            .collect::<Result<_, _>>()
            .map(Latin1)
    }
}

/// The saved state: the held bytes, the bracket stack, then [`NUMBERS`] numbers: pos,
/// doc_start, doc_line, line, line_start, base, max, the mode, the grammar state's three, and
/// the last error (1 and its line and column, or three zeros). All numbers one type, so the
/// module holds one reader for them.
type Fields<B, N> = (Latin1<B>, Latin1<B>, N);

const NUMBERS: usize = 14;

impl Serialize for Splitter {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let [tag, a, b] = grammar_code(self.grammar);
        let (failed, fail_line, fail_column) = match self.last_error {
            Some((line, column)) => (1, line, column),
            None => (0, 0, 0),
        };
        let numbers: [u64; NUMBERS] = [
            self.pos as u64,
            self.doc_start as u64,
            self.doc_line,
            self.line,
            self.line_start,
            self.base,
            self.max as u64,
            mode_code(self.mode).into(),
            tag.into(),
            a.into(),
            b.into(),
            failed,
            fail_line,
            fail_column,
        ];
        let fields: Fields<&[u8], &[u64]> = (Latin1(&self.buf), Latin1(&self.stack), &numbers);
        fields.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Splitter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let fields: Fields<Vec<u8>, Vec<u64>> = Deserialize::deserialize(d)?;
        let (Latin1(buf), Latin1(stack), numbers) = fields;
        let bad = || D::Error::custom("not a splitter's state");
        let numbers = <[u64; NUMBERS]>::try_from(numbers).map_err(|_| bad())?;
        let [
            pos,
            doc_start,
            doc_line,
            line,
            line_start,
            base,
            max,
            mode,
            tag,
            a,
            b,
            failed,
            fail_line,
            fail_column,
        ] = numbers;
        let size = |n: u64| usize::try_from(n).map_err(|_| bad());
        let small = |n: u64| u8::try_from(n).map_err(|_| bad());
        Ok(Splitter {
            buf,
            pos: size(pos)?,
            doc_start: size(doc_start)?,
            doc_line,
            line,
            line_start,
            base,
            mode: mode_of(small(mode)?).ok_or_else(bad)?,
            grammar: grammar_of([small(tag)?, small(a)?, small(b)?]).ok_or_else(bad)?,
            stack,
            max: size(max)?,
            last_error: match failed {
                0 => None,
                1 => Some((fail_line, fail_column)),
                _ => return Err(bad()),
            },
        })
    }
}

fn mode_code(mode: Mode) -> u8 {
    match mode {
        Mode::Between => 0,
        Mode::InDoc => 1,
        Mode::Skipping => 2,
        Mode::Resync { at_line_start } => 3 + u8::from(at_line_start),
    }
}

fn mode_of(code: u8) -> Option<Mode> {
    Some(match code {
        0 => Mode::Between,
        1 => Mode::InDoc,
        2 => Mode::Skipping,
        3 | 4 => Mode::Resync {
            at_line_start: code == 4,
        },
        _ => return None,
    })
}

/// A grammar state as [tag, a, b]: the tag names the variant, `a` and `b` carry its fields.
fn grammar_code(grammar: Grammar) -> [u8; 3] {
    match grammar {
        Grammar::Value => [0, 0, 0],
        Grammar::ArrayFirst => [1, 0, 0],
        Grammar::ObjectFirst => [2, 0, 0],
        Grammar::Key => [3, 0, 0],
        Grammar::Colon => [4, 0, 0],
        Grammar::After => [5, 0, 0],
        Grammar::Str { key, escape } => [6, u8::from(key), escape],
        Grammar::Number(num) => [7, num as u8, 0],
        Grammar::Literal { word, matched } => [8, word as u8, matched],
    }
}

fn grammar_of([tag, a, b]: [u8; 3]) -> Option<Grammar> {
    Some(match tag {
        0 => Grammar::Value,
        1 => Grammar::ArrayFirst,
        2 => Grammar::ObjectFirst,
        3 => Grammar::Key,
        4 => Grammar::Colon,
        5 => Grammar::After,
        6 if a <= 1 => Grammar::Str {
            key: a == 1,
            escape: b,
        },
        7 => Grammar::Number(*NUMS.get(usize::from(a))?),
        8 => Grammar::Literal {
            word: *WORDS.get(usize::from(a))?,
            matched: b,
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_and_grammar_state_reads_back_as_itself() {
        let modes = [
            Mode::Between,
            Mode::InDoc,
            Mode::Skipping,
            Mode::Resync {
                at_line_start: false,
            },
            Mode::Resync {
                at_line_start: true,
            },
        ];
        for mode in modes {
            assert_eq!(mode_of(mode_code(mode)), Some(mode));
        }
        let mut grammars = vec![
            Grammar::Value,
            Grammar::ArrayFirst,
            Grammar::ObjectFirst,
            Grammar::Key,
            Grammar::Colon,
            Grammar::After,
        ];
        for key in [false, true] {
            for escape in 0..=5 {
                grammars.push(Grammar::Str { key, escape });
            }
        }
        grammars.extend(NUMS.map(Grammar::Number));
        for word in WORDS {
            for matched in 1..=4 {
                grammars.push(Grammar::Literal { word, matched });
            }
        }
        for grammar in grammars {
            assert_eq!(grammar_of(grammar_code(grammar)), Some(grammar));
        }
        assert_eq!(mode_of(5), None);
        assert_eq!(grammar_of([9, 0, 0]), None);
        assert_eq!(grammar_of([7, 8, 0]), None);
        assert_eq!(grammar_of([6, 2, 0]), None);
    }

    #[test]
    fn a_state_that_is_not_one_is_refused() {
        for bad in [
            "{}",
            "[]",
            r#"["","",[0,0,1,1,0,0,10,0,0,0,0,0,0]]"#,
            r#"["","",[0,0,1,1,0,0,10,5,0,0,0,0,0,0]]"#,
            r#"["","",[0,0,1,1,0,0,10,0,9,0,0,0,0,0]]"#,
            r#"["","",[0,0,1,1,0,0,10,0,256,0,0,0,0,0]]"#,
            r#"["","",[0,0,1,1,0,0,10,0,0,0,0,2,0,0]]"#,
            r#"["Ā","",[0,0,1,1,0,0,10,0,0,0,0,0,0,0]]"#,
        ] {
            assert!(serde_json::from_str::<Splitter>(bad).is_err(), "{bad}");
        }
        let good = r#"["ab","{",[1,0,1,1,0,0,10,1,6,1,0,1,3,4]]"#;
        let splitter: Splitter = serde_json::from_str(good).unwrap();
        assert_eq!(splitter.last_error, Some((3, 4)));
        assert_eq!(
            splitter.grammar,
            Grammar::Str {
                key: true,
                escape: 0
            }
        );
        assert_eq!(serde_json::to_string(&splitter).unwrap(), good);
    }
}
