//! JSON text exactly as Python's `json.dumps` writes it with default settings.
//!
//! history.jsonl rows must be byte-compatible with the reference's, so tools that diff or
//! parse them (including Python's own `json.loads`) see the same thing: `", "` and `": "`
//! separators, ASCII-only strings, floats as `repr(float)` (`1.0`, `1e-05`), and the
//! non-standard `Infinity` / `-Infinity` / `NaN` tokens.

use std::fmt::Write;

/// Appends `repr(x)` of a Python float, or the json module's token for non-finite values.
pub fn write_float(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("NaN");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if x == 0.0 {
        out.push_str(if x.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    let mut buf = ryu::Buffer::new();
    let (digits, exp) = decimal_digits(buf.format_finite(x.abs()));
    let digits = digits.as_str();
    if x < 0.0 {
        out.push('-');
    }
    if !(-4..16).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let sign = if exp < 0 { '-' } else { '+' };
        let _ = write!(out, "e{sign}{:02}", exp.abs());
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(digits);
    } else {
        let point = exp as usize + 1;
        if digits.len() <= point {
            out.push_str(digits);
            for _ in digits.len()..point {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
}

/// The significant digits of a positive finite float as ryu writes it (`123.45`, `1e-7`,
/// `1.5e300`), without leading or trailing zeros, and the decimal exponent of the first.
///
/// Ryu's digits are the shortest that read back as the same float and, among those, the
/// closest to it: Python's `repr` digits (David Gay's shortest mode). Rust's own shortest
/// formatting may pick another of the same length (748148611887786.3 where Python writes
/// 748148611887786.2), which this module used to correct with a second, exact formatting and
/// a parse per float: most of writing a row (issue #20).
fn decimal_digits(ryu: &str) -> (SmallDigits, i32) {
    let (mantissa, exp) = match ryu.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().expect("ryu writes an integer exponent")),
        None => (ryu, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits = SmallDigits::default();
    for b in int.bytes().chain(frac.bytes()) {
        digits.push(b);
    }
    // The first digit's power of ten: after the integer part's digits, less leading zeros.
    let leading = digits.trim_leading_zeros();
    digits.trim_trailing_zeros();
    let exp = exp + int.len() as i32 - 1 - leading as i32;
    (digits, exp)
}

/// Up to 17 significant digits (an f64 never needs more), with room for the zeros ryu writes
/// around them in plain notation (at most 24 characters).
struct SmallDigits {
    bytes: [u8; 32],
    start: usize,
    end: usize,
}

impl Default for SmallDigits {
    fn default() -> Self {
        SmallDigits {
            bytes: [b'0'; 32],
            start: 0,
            end: 0,
        }
    }
}

impl SmallDigits {
    fn push(&mut self, b: u8) {
        self.bytes[self.end] = b;
        self.end += 1;
    }

    fn trim_leading_zeros(&mut self) -> usize {
        let before = self.start;
        while self.start + 1 < self.end && self.bytes[self.start] == b'0' {
            self.start += 1;
        }
        self.start - before
    }

    fn trim_trailing_zeros(&mut self) {
        while self.end > self.start + 1 && self.bytes[self.end - 1] == b'0' {
            self.end -= 1;
        }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[self.start..self.end]).expect("ASCII digits")
    }
}

/// Appends `s` as a JSON string with `ensure_ascii=True` escaping.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> String {
        let mut s = String::new();
        write_float(&mut s, x);
        s
    }

    #[test]
    fn floats_like_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (7.202388890921914e-08, "7.202388890921914e-08"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789.125, "123456789.125"),
            (-2.5, "-2.5"),
            (1.5e300, "1.5e+300"),
            (0.016300000000000002, "0.016300000000000002"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (-0.0, "-0.0"),
            (5e-324, "5e-324"),
            (748148611887786.2, "748148611887786.2"),
            (213475401381702.62, "213475401381702.62"),
        ];
        for (x, want) in cases {
            assert_eq!(f(x), want, "{x:e}");
        }
    }

    #[test]
    fn strings_ascii_escaped() {
        let mut s = String::new();
        write_str(&mut s, "a\"b\\\n\u{7f}é😀");
        assert_eq!(s, r#""a\"b\\\n\u007f\u00e9\ud83d\ude00""#);
    }
}
