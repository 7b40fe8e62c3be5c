//! One history.jsonl line read the way Python's `json.loads` reads it, without building it.
//!
//! `summary` and `report` need a row's numbers and nothing else, so the line is checked and
//! scanned in place: the top-level object's keys (borrowed unless they hold escapes) with
//! each value as a [`RowValue`]; nested arrays and objects, strings, booleans and nulls are
//! checked and skipped. What Python accepts, this accepts: the bare `NaN`, `Infinity` and
//! `-Infinity` tokens (openpipe-art and our writer emit them), a UTF-8 byte-order mark, only
//! ` \t\n\r` as whitespace, no control character inside a string. Differences, all on lines
//! no writer produces: a lone surrogate escape (`"\ud800"`) in a key reads as U+FFFD; an
//! integer beyond `i64` is a float (so not a step); nesting deeper than [`MAX_DEPTH`] is not
//! JSON (Python raises `RecursionError`); UTF-16 and UTF-32 text is not JSON.

use std::borrow::Cow;

use super::steps::RowValue;

/// Arrays and objects nested deeper than this make the line "not JSON".
pub const MAX_DEPTH: usize = 1000;

/// What a line holds.
#[derive(Debug, PartialEq)]
pub enum Line {
    /// A JSON object: its members are in the `pairs` passed to [`parse_row`].
    Object,
    /// Valid JSON that is not an object: Python's type name for it (`list`, `str`, ...).
    NotObject(&'static str),
    /// Not JSON (or not UTF-8).
    Invalid,
}

/// Parses `line` (without its newline). For an object, `pairs` receives its members in
/// order, duplicates included (the later one wins, as in a Python dict).
pub fn parse_row<'a>(line: &'a [u8], pairs: &mut Vec<(Cow<'a, str>, RowValue)>) -> Line {
    pairs.clear();
    let line = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
    let Ok(text) = std::str::from_utf8(line) else {
        return Line::Invalid;
    };
    let mut p = Parser { text, at: 0 };
    p.skip_ws();
    let kind = if p.peek() == Some(b'{') {
        p.at += 1;
        p.members(pairs).map(|()| "dict")
    } else {
        p.value(0).map(Kind::type_name)
    };
    p.skip_ws();
    match kind {
        Ok(_) if p.at != line.len() => Line::Invalid,
        Ok("dict") => Line::Object,
        Ok(name) => Line::NotObject(name),
        Err(Bad) => Line::Invalid,
    }
}

/// Python's `bytes.strip()` leaves nothing: a blank line, skipped without a word.
pub fn is_blank(line: &[u8]) -> bool {
    line.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c'))
}

struct Bad;

enum Kind {
    Object,
    Array,
    Str,
    Int(i64),
    Float(f64),
    Bool,
    Null,
}

impl Kind {
    fn type_name(self) -> &'static str {
        match self {
            Kind::Object => "dict",
            Kind::Array => "list",
            Kind::Str => "str",
            Kind::Int(_) => "int",
            Kind::Float(_) => "float",
            Kind::Bool => "bool",
            Kind::Null => "NoneType",
        }
    }

    fn scalar(&self) -> RowValue {
        match *self {
            Kind::Int(i) => RowValue::Int(i),
            Kind::Float(x) => RowValue::Float(x),
            _ => RowValue::Other,
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        let bytes = self.text.as_bytes();
        while matches!(bytes.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, literal: &str) -> Result<(), Bad> {
        if self.text[self.at..].starts_with(literal) {
            self.at += literal.len();
            Ok(())
        } else {
            Err(Bad)
        }
    }

    /// The top-level object's members, after its `{`.
    fn members(&mut self, pairs: &mut Vec<(Cow<'a, str>, RowValue)>) -> Result<(), Bad> {
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(());
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(Bad);
            }
            let key = self.string(true)?;
            self.skip_ws();
            self.eat(":")?;
            self.skip_ws();
            let value = self.value(1)?;
            pairs.push((key, value.scalar()));
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.at += 1;
                    self.skip_ws();
                }
                Some(b'}') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(Bad),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Kind, Bad> {
        match self.peek().ok_or(Bad)? {
            b'{' | b'[' if depth >= MAX_DEPTH => Err(Bad),
            b'{' => {
                self.at += 1;
                self.container(b'}', depth, true).map(|()| Kind::Object)
            }
            b'[' => {
                self.at += 1;
                self.container(b']', depth, false).map(|()| Kind::Array)
            }
            b'"' => self.string(false).map(|_| Kind::Str),
            b'n' => self.eat("null").map(|()| Kind::Null),
            b't' => self.eat("true").map(|()| Kind::Bool),
            b'f' => self.eat("false").map(|()| Kind::Bool),
            b'N' => self.eat("NaN").map(|()| Kind::Float(f64::NAN)),
            b'I' => self.eat("Infinity").map(|()| Kind::Float(f64::INFINITY)),
            b'-' if self.text[self.at + 1..].starts_with('I') => self
                .eat("-Infinity")
                .map(|()| Kind::Float(f64::NEG_INFINITY)),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(Bad),
        }
    }

    /// A nested object or array after its opening bracket, checked and skipped.
    fn container(&mut self, close: u8, depth: usize, keyed: bool) -> Result<(), Bad> {
        self.skip_ws();
        if self.peek() == Some(close) {
            self.at += 1;
            return Ok(());
        }
        loop {
            if keyed {
                if self.peek() != Some(b'"') {
                    return Err(Bad);
                }
                self.string(false)?;
                self.skip_ws();
                self.eat(":")?;
                self.skip_ws();
            }
            self.value(depth + 1)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.at += 1;
                    self.skip_ws();
                }
                Some(c) if c == close => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(Bad),
            }
        }
    }

    /// Python's number grammar: `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`; an integer without
    /// fraction or exponent is an int.
    fn number(&mut self) -> Result<Kind, Bad> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let digits = |at: usize| {
            bytes[at..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        let mut at = start + usize::from(bytes[start] == b'-');
        match bytes.get(at) {
            Some(b'0') => at += 1,
            Some(b'1'..=b'9') => at += digits(at),
            _ => return Err(Bad),
        }
        let mut float = false;
        if bytes.get(at) == Some(&b'.') && digits(at + 1) > 0 {
            at += 1 + digits(at + 1);
            float = true;
        }
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(bytes.get(at + 1), Some(b'+' | b'-')));
            let n = digits(at + 1 + sign);
            if n > 0 {
                at += 1 + sign + n;
                float = true;
            }
        }
        self.at = at;
        let text = &self.text[start..at];
        if !float && let Ok(i) = text.parse::<i64>() {
            return Ok(Kind::Int(i));
        }
        text.parse::<f64>().map(Kind::Float).map_err(|_| Bad)
    }

    /// A string at `"`: its text when `want` (borrowed unless it holds escapes).
    fn string(&mut self, want: bool) -> Result<Cow<'a, str>, Bad> {
        let bytes = self.text.as_bytes();
        let start = self.at + 1;
        let mut at = start;
        let mut decoded: Option<String> = None;
        let mut run = start; // start of the text not yet copied into `decoded`
        loop {
            let offset = memchr::memchr2(b'"', b'\\', &bytes[at..]);
            // Control characters are not allowed inside a string (json.loads' strict mode).
            let end = offset.map_or(bytes.len(), |o| at + o);
            if bytes[at..end].iter().any(|b| *b < 0x20) {
                return Err(Bad);
            }
            match bytes.get(end) {
                Some(b'"') => {
                    self.at = end + 1;
                    return Ok(match decoded {
                        Some(mut s) => {
                            s.push_str(&self.text[run..end]);
                            Cow::Owned(s)
                        }
                        None if want => Cow::Borrowed(&self.text[start..end]),
                        None => Cow::Borrowed(""),
                    });
                }
                Some(b'\\') => {
                    let out = decoded.get_or_insert_with(String::new);
                    if want {
                        out.push_str(&self.text[run..end]);
                    }
                    at = self.escape(end + 1, out, want)?;
                    run = at;
                }
                _ => return Err(Bad), // the line ended
            }
        }
    }

    /// One escape after its backslash at `at`; returns where the text goes on.
    fn escape(&self, at: usize, out: &mut String, want: bool) -> Result<usize, Bad> {
        let bytes = self.text.as_bytes();
        let simple = match bytes.get(at).ok_or(Bad)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let high = self.hex4(at + 1)?;
                let mut next = at + 5;
                let c = if (0xD800..0xDC00).contains(&high)
                    && bytes.get(next..next + 2) == Some(b"\\u")
                    && let Ok(low) = self.hex4(next + 2)
                    && (0xDC00..0xE000).contains(&low)
                {
                    next += 6;
                    char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
                } else {
                    char::from_u32(high)
                };
                if want {
                    out.push(c.unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                return Ok(next);
            }
            _ => return Err(Bad),
        };
        if want {
            out.push(simple);
        }
        Ok(at + 1)
    }

    fn hex4(&self, at: usize) -> Result<u32, Bad> {
        let digits = self.text.as_bytes().get(at..at + 4).ok_or(Bad)?;
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err(Bad);
        }
        let digits = std::str::from_utf8(digits).map_err(|_| Bad)?;
        u32::from_str_radix(digits, 16).map_err(|_| Bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(line: &str) -> Result<Vec<(String, RowValue)>, Line> {
        let mut pairs = Vec::new();
        match parse_row(line.as_bytes(), &mut pairs) {
            Line::Object => Ok(pairs
                .into_iter()
                .map(|(k, v)| (k.into_owned(), v))
                .collect()),
            other => Err(other),
        }
    }

    #[test]
    fn numbers_and_python_tokens() {
        let got =
            row(r#" {"a": 1, "b": -2.5e-3, "c": NaN, "d": -Infinity, "e": Infinity, "f": 1E2} "#)
                .unwrap();
        assert_eq!(got[0], ("a".into(), RowValue::Int(1)));
        assert_eq!(got[1], ("b".into(), RowValue::Float(-2.5e-3)));
        assert!(matches!(got[2].1, RowValue::Float(x) if x.is_nan()));
        assert_eq!(got[3].1, RowValue::Float(f64::NEG_INFINITY));
        assert_eq!(got[4].1, RowValue::Float(f64::INFINITY));
        assert_eq!(got[5].1, RowValue::Float(100.0));
        let big = row(r#"{"n": 123456789012345678901234567890}"#).unwrap();
        assert_eq!(big[0].1, RowValue::Float(1.2345678901234568e29));
    }

    #[test]
    fn other_values_are_checked_and_skipped() {
        let got =
            row(r#"{"s": "x\"y\u00e9", "t": true, "n": null, "l": [1, {"a": [[]]}], "o": {}}"#)
                .unwrap();
        assert!(got.iter().all(|(_, v)| *v == RowValue::Other));
        assert_eq!(got.len(), 5);
    }

    #[test]
    fn keys_with_escapes_are_decoded() {
        let got = row(r#"{"a\/b\n\u00e9\ud83d\ude00": 1, "lone\ud800": 2}"#).unwrap();
        assert_eq!(got[0].0, "a/b\né😀");
        assert_eq!(got[1].0, "lone\u{fffd}");
        assert_eq!(row("\u{feff}{\"a\": 1}").unwrap().len(), 1);
    }

    #[test]
    fn not_objects_name_their_python_type() {
        for (line, name) in [
            ("[1, 2]", "list"),
            ("\"a string\"", "str"),
            ("3", "int"),
            ("-0.5", "float"),
            ("NaN", "float"),
            ("true", "bool"),
            ("null", "NoneType"),
        ] {
            assert_eq!(row(line), Err(Line::NotObject(name)), "{line}");
        }
    }

    #[test]
    fn what_json_loads_refuses() {
        for line in [
            "{oops",
            "{\"a\": 1,}",
            "{\"a\": 01}",
            "{\"a\": 1.}",
            "{\"a\": .5}",
            "{\"a\": 1e}",
            "{\"a\": +1}",
            "{\"a\": nan}",
            "{\"a\": \"tab\there\"}",
            "{\"a\": \"\\x\"}",
            "{\"a\": \"\\u12g4\"}",
            "{'a': 1}",
            "{\"a\": 1} x",
            "{\"a\": [1,]}",
            "{\"a\": 1}\x0c",
            "{\"a\": \"unterminated}",
            "{\"a\" 1}",
            "",
        ] {
            assert_eq!(row(line), Err(Line::Invalid), "{line:?}");
        }
        let mut pairs = Vec::new();
        assert_eq!(parse_row(b"{\"a\": \"\xff\"}", &mut pairs), Line::Invalid);
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(row(&deep), Err(Line::Invalid));
        let ok = "[".repeat(MAX_DEPTH - 1) + &"]".repeat(MAX_DEPTH - 1);
        assert_eq!(row(&format!("{{\"a\": {ok}}}")).unwrap().len(), 1);
    }

    #[test]
    fn blank_lines() {
        assert!(is_blank(b" \t\r\x0b\x0c"));
        assert!(!is_blank(b" {} "));
    }
}
