//! `state.journal`: one line per history row that changed the running totals.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::metrics::totals::TotalsChanges;

/// The key of the builder state inside state.json (the reference's name).
pub const BUILDER_STATE_KEY: &str = "_metrics_builder_state";

/// One journal line: the history row it belongs to and what that row changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Byte range `[start, end)` of the row in history.jsonl. The entry counts only if the
    /// history file holds that whole range.
    pub row: (u64, u64),
    /// Drop every total before applying this entry (a full snapshot follows).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
    /// New values of the totals the row changed (absolute, so replaying twice is harmless).
    #[serde(default)]
    pub cum_state: Vec<(String, f64)>,
    /// Scenario ids first seen in the row.
    #[serde(default)]
    pub new_scenario_ids: Vec<String>,
}

impl JournalEntry {
    pub fn new(row: (u64, u64), changes: TotalsChanges, reset: bool) -> Self {
        JournalEntry {
            row,
            reset,
            cum_state: changes.cum_state,
            new_scenario_ids: changes.new_scenario_ids,
        }
    }

    /// The entry as one line, newline included.
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).expect("journal entries always serialize");
        line.push('\n');
        line
    }
}

/// Parses the complete lines of a journal. Returns the entries with their byte offsets, and
/// the offset where valid content ends (a torn or garbled tail starts there).
pub fn parse(text: &str) -> (Vec<(u64, JournalEntry)>, u64) {
    let mut entries = Vec::new();
    let mut offset = 0u64;
    for line in text.split_inclusive('\n') {
        if !line.ends_with('\n') {
            break;
        }
        match serde_json::from_str::<JournalEntry>(line) {
            Ok(entry) => entries.push((offset, entry)),
            Err(_) => break,
        }
        offset += line.len() as u64;
    }
    (entries, offset)
}

/// Folds journal entries into the `_metrics_builder_state` object of a state.json value,
/// keeping any other keys (the reference's format, plus whatever users stored).
pub struct StateFolder<'a> {
    cum: Map<String, Value>,
    ids: Vec<Value>,
    seen: HashSet<String>,
    builder_state: &'a mut Map<String, Value>,
}

impl<'a> StateFolder<'a> {
    pub fn new(state: &'a mut Map<String, Value>) -> Self {
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
        }
    }

    pub fn apply(&mut self, entry: &JournalEntry) {
        if entry.reset {
            self.cum.clear();
            self.ids.clear();
            self.seen.clear();
        }
        for (k, v) in &entry.cum_state {
            self.cum.insert(k.clone(), number(*v));
        }
        for id in &entry.new_scenario_ids {
            if self.seen.insert(id.clone()) {
                self.ids.push(Value::String(id.clone()));
            }
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

/// A scenario id as the reference restores it: `str()` of whatever the list holds.
pub fn id_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_stops_at_a_torn_line() {
        let e = JournalEntry::new(
            (0, 10),
            TotalsChanges {
                cum_state: vec![("costs/cum/all".into(), 1.5)],
                new_scenario_ids: vec!["a".into()],
                ids_from: 0,
            },
            false,
        );
        let text = format!("{}{}{{\"row\": [10,", e.to_line(), e.to_line());
        let (entries, end) = parse(&text);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].1, e);
        assert_eq!(end as usize, 2 * e.to_line().len());
    }

    #[test]
    fn fold_keeps_other_keys_and_dedups_ids() {
        let mut state: Map<String, Value> = serde_json::from_str(
            r#"{"user": 1, "_metrics_builder_state": {"extra": true, "cum_state": {"a": 1.0},
                "unique_scenario_ids": ["x"]}}"#,
        )
        .unwrap();
        let mut f = StateFolder::new(&mut state);
        f.apply(&JournalEntry {
            row: (0, 1),
            reset: false,
            cum_state: vec![("a".into(), 2.0), ("b".into(), 1.0)],
            new_scenario_ids: vec!["x".into(), "y".into()],
        });
        f.finish();
        let s = serde_json::to_string(&state).unwrap();
        assert_eq!(
            s,
            r#"{"user":1,"_metrics_builder_state":{"cum_state":{"a":2.0,"b":1.0},"unique_scenario_ids":["x","y"],"extra":true}}"#
        );
    }
}
