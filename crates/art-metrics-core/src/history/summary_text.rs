//! `summary`'s output for many steps at once: table lines, CSV rows and JSON objects, written
//! exactly as the Python layer's `format()` specs, `repr` and `json.dumps(indent=2)` write
//! them (a 200,000-step run prints in a fraction of a second; Python's formatting took
//! seconds). The layout (which columns, their names and widths) is the caller's; a cell's
//! format is one letter:
//!
//! | letter | Python | example |
//! | --- | --- | --- |
//! | `r` | `{:.3f}` | `0.667` |
//! | `$` | `${:.4f}` | `$0.0297` |
//! | `t` | `{:,.0f}` | `1,057` |
//! | `g` | `{:.4g}` | `0.7844`, `1.234e+04` |
//! | `%` | `{:.1%}` | `6.2%` |
//!
//! A missing value is `-` in the table, empty in CSV and `null` in JSON.

use std::fmt::Write;

use super::json::{write_float, write_str};
use super::steps::{StepSummary, StepView, SummaryColumns, cell};
use crate::error::{CoreError, CoreResult};

fn strip_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

/// Python's `format(x, ".4g")`.
fn general4(out: &mut String, x: f64) {
    if x == 0.0 {
        out.push_str(if x.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    if !x.is_finite() {
        write_repr(out, x); // inf, -inf
        return;
    }
    let sci = format!("{x:.3e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    if (-4..4).contains(&exp) {
        let fixed = format!("{x:.*}", (3 - exp) as usize);
        out.push_str(strip_zeros(&fixed));
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        let _ = write!(out, "{}e{sign}{:02}", strip_zeros(mantissa), exp.abs());
    }
}

/// Python's `format(x, ",.0f")`.
fn thousands(out: &mut String, x: f64) {
    let text = format!("{x:.0}");
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", &text[..]),
    };
    out.push_str(sign);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        out.push_str(digits); // inf
        return;
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
}

/// One cell in the format `letter` (see the module docs); `None` as `-`.
pub fn write_cell(out: &mut String, value: Option<f64>, letter: u8) -> CoreResult<()> {
    let Some(x) = value else {
        out.push('-');
        return Ok(());
    };
    match letter {
        b'r' => write!(out, "{x:.3}").expect("writing to a String"),
        b'$' => write!(out, "${x:.4}").expect("writing to a String"),
        b't' => thousands(out, x),
        b'g' => general4(out, x),
        b'%' => write!(out, "{:.1}%", x * 100.0).expect("writing to a String"),
        other => {
            return Err(CoreError::value(format!(
                "unknown cell format {:?} (expected one of r $ t g %)",
                char::from(other)
            )));
        }
    }
    Ok(())
}

/// A table line: the step, then each value in its format, each cell right-aligned to its
/// width (`str.rjust`), two spaces apart. `formats` and `widths` cover the step too.
pub fn write_line(
    out: &mut String,
    step: i64,
    values: &[Option<f64>],
    formats: &[u8],
    widths: &[usize],
) -> CoreResult<()> {
    if formats.len() != values.len() + 1 || widths.len() != formats.len() {
        return Err(CoreError::value(format!(
            "{} values need {} formats and widths (got {} and {})",
            values.len(),
            values.len() + 1,
            formats.len(),
            widths.len()
        )));
    }
    let mut cell_text = String::new();
    for (i, width) in widths.iter().enumerate() {
        cell_text.clear();
        if i == 0 {
            let _ = write!(cell_text, "{step}");
        } else {
            write_cell(&mut cell_text, values[i - 1], formats[i])?;
        }
        if i > 0 {
            out.push_str("  ");
        }
        for _ in cell_text.len()..*width {
            out.push(' ');
        }
        out.push_str(&cell_text);
    }
    Ok(())
}

/// Python's `repr(x)` of a float.
fn write_repr(out: &mut String, x: f64) {
    if x.is_finite() {
        write_float(out, x);
    } else {
        out.push_str(if x.is_nan() {
            "nan"
        } else if x > 0.0 {
            "inf"
        } else {
            "-inf"
        });
    }
}

/// The columns of `summary`'s table after the base ones, by name, as the caller lays them
/// out: per-source costs, losses, per-split exception rates.
pub struct Layout<'a> {
    base: SummaryColumns<'a>,
    extra: Vec<Option<&'a [f64]>>,
}

impl<'a> StepView<'a> {
    /// The table's columns for `sources`, `losses` and `splits` (a name the run lacks shows
    /// no value).
    pub fn layout(&self, sources: &[&str], losses: &[&str], splits: &[&str]) -> Layout<'a> {
        let base = self.summary_columns();
        let find = |columns: &[(&'a str, &'a [f64])], names: &[&str]| {
            names
                .iter()
                .map(|n| columns.iter().find(|(name, _)| name == n).map(|(_, c)| *c))
                .collect::<Vec<_>>()
        };
        let mut extra = find(&base.sources, sources);
        extra.extend(find(&base.losses, losses));
        extra.extend(find(&base.splits, splits));
        Layout { base, extra }
    }

    fn values(&self, layout: &Layout<'a>, pos: usize, values: &mut Vec<Option<f64>>) -> i64 {
        let s: StepSummary<'_> = self.summary_with(&layout.base, pos);
        let (_, at) = self.at(pos);
        values.clear();
        values.extend([
            s.train_reward,
            s.val_reward,
            Some(s.step_cost),
            s.total_cost,
            s.actor_tok_per_s,
            s.trainer_tok_per_s,
        ]);
        values.extend(layout.extra.iter().map(|c| c.and_then(|c| cell(c, at))));
        s.step
    }

    /// Table lines (each ending in a newline) for the steps at `positions`: the step, then
    /// the value columns `columns` picks (indices into the base columns followed by the
    /// layout's; every one when `None`), so that a wide table can be written as blocks of
    /// columns that each fit a terminal (issue #23). `formats` and `widths` cover the step
    /// and the columns written.
    pub fn write_table(
        &self,
        out: &mut String,
        layout: &Layout<'a>,
        positions: std::ops::Range<usize>,
        formats: &[u8],
        widths: &[usize],
        columns: Option<&[usize]>,
    ) -> CoreResult<()> {
        let mut values = Vec::new();
        let mut picked = Vec::new();
        for pos in positions {
            let step = self.values(layout, pos, &mut values);
            let Some(columns) = columns else {
                write_line(out, step, &values, formats, widths)?;
                out.push('\n');
                continue;
            };
            picked.clear();
            for &c in columns {
                let Some(&value) = values.get(c) else {
                    return Err(CoreError::value(format!(
                        "no column {c}: the table has {} value columns",
                        values.len()
                    )));
                };
                picked.push(value);
            }
            write_line(out, step, &picked, formats, widths)?;
            out.push('\n');
        }
        Ok(())
    }

    /// CSV rows (full precision, `repr`; empty where a value is missing) for `positions`.
    pub fn write_csv(
        &self,
        out: &mut String,
        layout: &Layout<'a>,
        positions: std::ops::Range<usize>,
    ) {
        let mut values = Vec::new();
        for pos in positions {
            let step = self.values(layout, pos, &mut values);
            let _ = write!(out, "{step}");
            for value in &values {
                out.push(',');
                if let Some(x) = value {
                    write_repr(out, *x);
                }
            }
            out.push('\n');
        }
    }

    /// The steps at `positions` as `json.dumps(summary.to_dict(), indent=2)` writes them
    /// inside `summary --json`'s document (each object indented by four spaces), joined
    /// by `,\n`.
    pub fn write_json(&self, out: &mut String, positions: std::ops::Range<usize>) {
        let columns = self.summary_columns();
        let start = positions.start;
        for pos in positions {
            if pos > start {
                out.push_str(",\n");
            }
            let s = self.summary_with(&columns, pos);
            let _ = write!(out, "    {{\n      \"step\": {},\n", s.step);
            for (name, value) in [
                ("train_reward", s.train_reward),
                ("val_reward", s.val_reward),
                ("step_cost", Some(s.step_cost)),
                ("total_cost", s.total_cost),
                ("actor_tok_per_s", s.actor_tok_per_s),
                ("trainer_tok_per_s", s.trainer_tok_per_s),
            ] {
                let _ = write!(out, "      \"{name}\": ");
                match value {
                    Some(x) => write_float(out, x),
                    None => out.push_str("null"),
                }
                out.push_str(",\n");
            }
            for (i, (name, map)) in [
                ("costs", &s.costs),
                ("losses", &s.losses),
                ("exception_rates", &s.exception_rates),
            ]
            .into_iter()
            .enumerate()
            {
                let _ = write!(out, "      \"{name}\": {{");
                for (k, (key, value)) in map.iter().enumerate() {
                    out.push_str(if k == 0 { "\n        " } else { ",\n        " });
                    write_str(out, key);
                    out.push_str(": ");
                    write_float(out, *value);
                }
                out.push_str(if map.is_empty() { "}" } else { "\n      }" });
                out.push_str(if i < 2 { ",\n" } else { "\n    }" });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell_text(value: f64, letter: u8) -> String {
        let mut s = String::new();
        write_cell(&mut s, Some(value), letter).unwrap();
        s
    }

    #[test]
    fn cells_as_python_formats_them() {
        // Checked against CPython 3.11's format().
        let cases: &[(f64, u8, &str)] = &[
            (0.125, b'r', "0.125"),
            (0.0625, b'r', "0.062"),
            (-0.0005, b'r', "-0.001"),
            (f64::INFINITY, b'r', "inf"),
            (0.25, b'$', "$0.2500"),
            (-1.0, b'$', "$-1.0000"),
            (1234567.5, b't', "1,234,568"),
            (999.4, b't', "999"),
            (-1234.0, b't', "-1,234"),
            (-0.4, b't', "-0"),
            (1e16, b't', "10,000,000,000,000,000"),
            (f64::NEG_INFINITY, b't', "-inf"),
            (0.0, b'g', "0"),
            (-0.0, b'g', "-0"),
            (9999.5, b'g', "1e+04"),
            (0.99995, b'g', "1"),
            (9.9995, b'g', "9.999"),
            (12345.0, b'g', "1.234e+04"),
            (0.0001234, b'g', "0.0001234"),
            (1e-5, b'g', "1e-05"),
            (123.456, b'g', "123.5"),
            (-0.5, b'g', "-0.5"),
            (0.7844, b'g', "0.7844"),
            (f64::INFINITY, b'g', "inf"),
            (0.0625, b'%', "6.2%"),
            (-0.0, b'%', "-0.0%"),
            (f64::INFINITY, b'%', "inf%"),
        ];
        for &(x, letter, want) in cases {
            assert_eq!(cell_text(x, letter), want, "{x} {}", char::from(letter));
        }
        let mut s = String::new();
        assert!(write_cell(&mut s, Some(1.0), b'x').is_err());
        write_cell(&mut s, None, b'r').unwrap();
        assert_eq!(s, "-");
    }

    #[test]
    fn lines_are_right_aligned() {
        let mut s = String::new();
        write_line(&mut s, 7, &[Some(0.5), None], b"dr$", &[4, 12, 3]).unwrap();
        assert_eq!(s, "   7         0.500    -");
        assert!(write_line(&mut s, 7, &[Some(0.5)], b"dr$", &[4, 12, 3]).is_err());
    }

    #[test]
    fn repr_of_floats() {
        let mut s = String::new();
        for x in [1.0, 1e-5, 0.1 + 0.2, f64::INFINITY, f64::NEG_INFINITY] {
            write_repr(&mut s, x);
            s.push(' ');
        }
        assert_eq!(s, "1.0 1e-05 0.30000000000000004 inf -inf ");
    }
}
