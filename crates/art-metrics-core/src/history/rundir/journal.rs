//! `state.journal`: a header naming the state.json it extends, then one self-checking line
//! per history row.
//!
//! Every line is `<json>\t<check>\n`, where `<check>` is the first 8 hex digits of the
//! SHA-256 of `<json>`. The first line is the header `{"base": "<fingerprint>"}`: the
//! fingerprint of the state.json the entries extend ([`fingerprint`]). Each other line is a
//! [`JournalEntry`]: a sequence number, the hash of the history row it announces, the
//! new values of the totals that row changed, the scenario ids it saw first and those the
//! previous entry saw first (so one corrupt entry loses no id).

use std::collections::HashSet;

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::state::{BUILDER_STATE_KEY, id_string, number};
use crate::metrics::totals::TotalsChanges;

/// A total as the journal holds it: a JSON number, or `"Infinity"`, `"-Infinity"`, `"NaN"`
/// for the non-finite totals a state.json written by openpipe-art can bring (never `null`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Total(pub f64);

impl Serialize for Total {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            v if v.is_finite() => s.serialize_f64(v),
            v if v.is_nan() => s.serialize_str("NaN"),
            v if v > 0.0 => s.serialize_str("Infinity"),
            _ => s.serialize_str("-Infinity"),
        }
    }
}

impl<'de> Deserialize<'de> for Total {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_f64()
                .map(Total)
                .ok_or_else(|| de::Error::custom("bad number")),
            Value::String(s) => match s.as_str() {
                "NaN" => Ok(Total(f64::NAN)),
                "Infinity" => Ok(Total(f64::INFINITY)),
                "-Infinity" => Ok(Total(f64::NEG_INFINITY)),
                _ => Err(de::Error::custom("bad total")),
            },
            _ => Err(de::Error::custom("a total must be a number")),
        }
    }
}

/// One journal line after the header: what one history row changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The run directory's write sequence number (state.json records the last one folded in).
    pub seq: u64,
    /// [`row_hash`] of the history row this entry announces.
    pub row: String,
    /// Drop every total before applying this entry (a full snapshot follows).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
    /// New values of the totals the row changed (absolute, so replaying twice is harmless),
    /// each with the compensation term of its exact sum.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cum_state: Vec<(String, Total, Total)>,
    /// Scenario ids first seen in the row.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_scenario_ids: Vec<String>,
    /// Where in history.jsonl the row starts (the file's length before its append): a torn
    /// last line that starts exactly there, after an entry whose row never completed, is
    /// provably ours to cut. Absent in journals written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<u64>,
    /// The previous entry's `new_scenario_ids` (written by the same writer), repeated so
    /// that a corrupt entry in the middle loses none of its ids: ids form a set and no later
    /// entry or history row names them otherwise (issue #21, case 7). Absent in journals
    /// written before it was recorded (a lost entry's ids are then lost).
    #[serde(default, rename = "prev_ids", skip_serializing_if = "Option::is_none")]
    pub prev_new_scenario_ids: Option<Vec<String>>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    base: String,
}

impl JournalEntry {
    /// The entry for `row_line`, which starts at byte `at` of history.jsonl; `prev_ids`
    /// are the previous entry's new scenario ids.
    pub fn new(
        seq: u64,
        row_line: &str,
        at: u64,
        changes: TotalsChanges,
        reset: bool,
        prev_ids: Vec<String>,
    ) -> Self {
        let residual = |k: &str| {
            changes
                .compensation
                .iter()
                .find(|(ck, _)| ck == k)
                .map_or(0.0, |(_, c)| *c)
        };
        JournalEntry {
            seq,
            row: row_hash(row_line.as_bytes()),
            reset,
            cum_state: changes
                .cum_state
                .iter()
                .map(|(k, v)| (k.clone(), Total(*v), Total(residual(k))))
                .collect(),
            new_scenario_ids: changes.new_scenario_ids,
            at: Some(at),
            prev_new_scenario_ids: Some(prev_ids),
        }
    }

    /// The entry as one checked line, newline included.
    pub fn to_line(&self) -> String {
        checked_line(&serde_json::to_string(self).expect("journal entries always serialize"))
    }
}

/// The header line for a journal extending a state.json with fingerprint `base`.
pub fn header_line(base: &str) -> String {
    let header = Header { base: base.into() };
    checked_line(&serde_json::to_string(&header).expect("headers serialize"))
}

fn checked_line(json: &str) -> String {
    format!("{json}\t{}\n", &hex(&Sha256::digest(json.as_bytes()))[..8])
}

/// The fingerprint of a state.json's bytes (`""` for no state.json).
pub fn fingerprint(state: Option<&[u8]>) -> String {
    state.map_or_else(String::new, |b| hex(&Sha256::digest(b))[..16].to_owned())
}

/// The hash that ties a journal entry to its history row (the row without its newline).
pub fn row_hash(row: &[u8]) -> String {
    let row = row.strip_suffix(b"\n").unwrap_or(row);
    hex(&Sha256::digest(row))[..16].to_owned()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// A journal read from its bytes.
#[derive(Debug, Default)]
pub struct ParsedJournal {
    /// The header's fingerprint; `None` for an empty journal (or one without a valid header).
    pub base: Option<String>,
    pub entries: Vec<JournalEntry>,
    /// Where the valid content ends: a torn tail (an incomplete last line, or a last line
    /// failing its check) starts here.
    pub valid_end: u64,
    /// Complete lines in the middle that failed their check: (1-based line number, bytes).
    pub bad_lines: Vec<(usize, usize)>,
}

/// Parses a journal's bytes (not necessarily UTF-8: a tail torn inside a character is just
/// a torn tail).
pub fn parse(bytes: &[u8]) -> ParsedJournal {
    let mut out = ParsedJournal::default();
    let mut offset = 0usize;
    let mut pending_bad: Vec<(usize, usize)> = Vec::new();
    for (i, line) in bytes.split_inclusive(|b| *b == b'\n').enumerate() {
        if !line.ends_with(b"\n") {
            break; // torn tail
        }
        let parsed = check(&line[..line.len() - 1]);
        match parsed {
            Some(Value::Object(m)) if i == 0 && m.contains_key("base") => {
                out.base = m.get("base").and_then(Value::as_str).map(str::to_owned);
            }
            Some(v) => match serde_json::from_value::<JournalEntry>(v) {
                Ok(e) => {
                    // A bad line followed by a good one is corruption, not a torn tail.
                    out.bad_lines.append(&mut pending_bad);
                    out.entries.push(e);
                }
                Err(_) => pending_bad.push((i + 1, line.len())),
            },
            None => pending_bad.push((i + 1, line.len())),
        }
        offset += line.len();
        if pending_bad.is_empty() {
            out.valid_end = offset as u64;
        }
    }
    out
}

/// The JSON of a line whose check matches.
fn check(line: &[u8]) -> Option<Value> {
    let tab = line.iter().rposition(|b| *b == b'\t')?;
    let (json, sum) = (&line[..tab], &line[tab + 1..]);
    if sum != &hex(&Sha256::digest(json)).as_bytes()[..8] {
        return None;
    }
    serde_json::from_slice(json).ok()
}

/// Folds journal entries into the `_metrics_builder_state` object of a state.json value,
/// keeping any other keys (the reference's format, plus whatever users stored).
pub struct StateFolder<'a> {
    cum: Map<String, Value>,
    ids: Vec<Value>,
    seen: HashSet<String>,
    builder_state: &'a mut Map<String, Value>,
    /// Compensation terms of the exact sums, by key (kept in `_art_metrics`).
    pub compensation: &'a mut Map<String, Value>,
}

impl<'a> StateFolder<'a> {
    pub fn new(
        state: &'a mut Map<String, Value>,
        compensation: &'a mut Map<String, Value>,
    ) -> Self {
        let slot = state
            .entry(BUILDER_STATE_KEY)
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let builder_state = slot.as_object_mut().expect("just made an object");
        let cum = match builder_state.remove("cum_state") {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let ids = match builder_state.remove("unique_scenario_ids") {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        };
        let seen = ids.iter().map(id_string).collect();
        StateFolder {
            cum,
            ids,
            seen,
            builder_state,
            compensation,
        }
    }

    pub fn apply(&mut self, entry: &JournalEntry) {
        // The previous entry's ids first (they precede this entry's; already there unless
        // that entry was lost), then a reset drops them with everything else.
        self.apply_prev_ids(entry);
        if entry.reset {
            self.cum.clear();
            self.ids.clear();
            self.seen.clear();
            self.compensation.clear();
        }
        for (k, v, c) in &entry.cum_state {
            self.cum.insert(k.clone(), number(v.0));
            if c.0 == 0.0 || !c.0.is_finite() {
                self.compensation.remove(k);
            } else {
                self.compensation.insert(k.clone(), number(c.0));
            }
        }
        for id in &entry.new_scenario_ids {
            self.add_id(id);
        }
    }

    /// Adds the ids `entry` repeats from its previous entry (a no-op unless that one was
    /// lost).
    pub fn apply_prev_ids(&mut self, entry: &JournalEntry) {
        for id in entry.prev_new_scenario_ids.iter().flatten() {
            self.add_id(id);
        }
    }

    fn add_id(&mut self, id: &str) {
        if self.seen.insert(id.to_owned()) {
            self.ids.push(Value::String(id.to_owned()));
        }
    }

    /// Puts the folded totals back, `cum_state` before `unique_scenario_ids` as the reference.
    pub fn finish(self) {
        let mut rest = std::mem::take(self.builder_state);
        self.builder_state
            .insert("cum_state".into(), Value::Object(self.cum));
        self.builder_state
            .insert("unique_scenario_ids".into(), Value::Array(self.ids));
        self.builder_state.append(&mut rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64) -> JournalEntry {
        JournalEntry {
            seq,
            row: row_hash(b"{}\n"),
            reset: false,
            cum_state: vec![("costs/cum/all".into(), Total(1.5), Total(0.0))],
            new_scenario_ids: vec!["a".into()],
            at: None,
            prev_new_scenario_ids: None,
        }
    }

    #[test]
    fn parse_stops_at_a_torn_line_even_inside_a_character() {
        let head = header_line("abc");
        let mut text = format!("{head}{}{}", entry(1).to_line(), entry(2).to_line()).into_bytes();
        let end = text.len();
        text.extend_from_slice("{\"seq\": 3, \"row\": \"é".as_bytes());
        text.pop(); // half of 'é'
        let j = parse(&text);
        assert_eq!(j.base.as_deref(), Some("abc"));
        assert_eq!(j.entries, [entry(1), entry(2)]);
        assert_eq!(j.valid_end as usize, end);
        assert!(j.bad_lines.is_empty());
    }

    #[test]
    fn a_line_failing_its_check_at_the_end_is_a_torn_tail_in_the_middle_corruption() {
        let good = entry(1).to_line();
        let bad = entry(2).to_line().replace("1.5", "2.5");
        let j = parse(format!("{good}{bad}").as_bytes());
        assert_eq!(j.entries.len(), 1);
        assert_eq!(j.valid_end as usize, good.len());
        assert!(j.bad_lines.is_empty());
        let j = parse(format!("{good}{bad}{}", entry(3).to_line()).as_bytes());
        assert_eq!(j.entries, [entry(1), entry(3)]);
        assert_eq!(j.bad_lines, [(2, bad.len())]);
    }

    #[test]
    fn non_finite_totals_are_never_null() {
        let mut e = entry(1);
        e.cum_state[0].1 = Total(f64::INFINITY);
        let line = e.to_line();
        assert!(
            line.contains("\"Infinity\"") && !line.contains("null"),
            "{line}"
        );
        let back = parse(line.as_bytes());
        assert_eq!(back.entries[0].cum_state[0].1, Total(f64::INFINITY));
    }

    #[test]
    fn fold_keeps_other_keys_and_dedups_ids() {
        let mut state: Map<String, Value> = serde_json::from_str(
            r#"{"user": 1, "_metrics_builder_state": {"extra": true, "cum_state": {"a": 1.0},
                "unique_scenario_ids": ["x"]}}"#,
        )
        .unwrap();
        let mut comp = Map::new();
        let mut f = StateFolder::new(&mut state, &mut comp);
        f.apply(&JournalEntry {
            seq: 1,
            row: String::new(),
            reset: false,
            cum_state: vec![
                ("a".into(), Total(2.0), Total(1e-17)),
                ("b".into(), Total(1.0), Total(0.0)),
            ],
            new_scenario_ids: vec!["x".into(), "y".into()],
            at: None,
            prev_new_scenario_ids: None,
        });
        f.finish();
        let s = serde_json::to_string(&state).unwrap();
        assert_eq!(
            s,
            r#"{"user":1,"_metrics_builder_state":{"cum_state":{"a":2.0,"b":1.0},"unique_scenario_ids":["x","y"],"extra":true}}"#
        );
        assert_eq!(serde_json::to_string(&comp).unwrap(), r#"{"a":1e-17}"#);
    }
}
