//! state.json as text: Python's JSON dialect (`Infinity`, `-Infinity`, `NaN` are numbers;
//! openpipe-art writes them), our `_art_metrics` sub-keys, and the totals it holds.

use serde_json::{Map, Value};

use crate::error::{CoreError, CoreResult};
use crate::metrics::budget::Budget;
use crate::metrics::totals::TotalsState;

/// The key of the builder state inside state.json (the reference's name).
pub const BUILDER_STATE_KEY: &str = "_metrics_builder_state";
/// Our key in state.json. We own only the sub-keys below; others (a budget, ...) are kept.
pub const COVERAGE_KEY: &str = "_art_metrics";
/// The last journal sequence number folded into this state.json.
pub const SEQ_KEY: &str = "journal_seq";
/// Compensation terms of the exact sums, by total.
pub const COMPENSATION_KEY: &str = "compensation";
/// What earlier versions wrote instead of [`SEQ_KEY`]; dropped when we rewrite.
const OLD_COVERAGE_KEY: &str = "history_bytes";

// Non-finite numbers travel through serde_json as these strings (NUL cannot appear
// unescaped in JSON text, and nobody stores it in a state key by accident).
const NAN: &str = "\0NaN";
const INF: &str = "\0Infinity";
const NEG_INF: &str = "\0-Infinity";

/// A total as a state.json value (non-finite as the markers [`write`] turns into tokens).
pub fn number(v: f64) -> Value {
    match serde_json::Number::from_f64(v) {
        Some(n) => Value::Number(n),
        None if v.is_nan() => Value::String(NAN.into()),
        None if v > 0.0 => Value::String(INF.into()),
        None => Value::String(NEG_INF.into()),
    }
}

/// A scenario id as the reference restores it: `str()` of whatever the list holds.
pub fn id_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The number a state.json value holds, non-finite tokens included.
fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if s == NAN => Some(f64::NAN),
        Value::String(s) if s == INF => Some(f64::INFINITY),
        Value::String(s) if s == NEG_INF => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// Parses a JSON object the way Python's `json.loads` does, bare `NaN`/`Infinity`/
/// `-Infinity` included. `what` names the file or argument in errors.
pub fn parse(bytes: &[u8], what: &str) -> CoreResult<Map<String, Value>> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| CoreError::Corrupt(format!("{what} is not UTF-8")))?;
    match serde_json::from_str::<Value>(&mark_non_finite(text)) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(CoreError::Corrupt(format!("{what} must be a JSON object"))),
        Err(e) => Err(CoreError::Corrupt(format!("{what} is not valid JSON: {e}"))),
    }
}

/// Pretty JSON as Python's `json.dumps` reads it back (non-finite totals as tokens).
pub fn write(state: &Map<String, Value>) -> CoreResult<String> {
    let text = serde_json::to_string_pretty(state)
        .map_err(|e| CoreError::value(format!("cannot serialize state: {e}")))?;
    Ok(text
        .replace("\"\\u0000-Infinity\"", "-Infinity")
        .replace("\"\\u0000Infinity\"", "Infinity")
        .replace("\"\\u0000NaN\"", "NaN"))
}

/// Replaces the bare tokens outside strings by marker strings serde_json accepts.
fn mark_non_finite(text: &str) -> std::borrow::Cow<'_, str> {
    if !(text.contains("NaN") || text.contains("Infinity")) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let (mut in_str, mut escaped) = (false, false);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_str {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                _ => {}
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let token = [("-Infinity", NEG_INF), ("Infinity", INF), ("NaN", NAN)]
            .into_iter()
            .find(|(t, _)| rest.starts_with(t));
        if let Some((t, marker)) = token {
            out.push('"');
            out.push_str(&marker.replace('\0', "\\u0000"));
            out.push('"');
            rest = &rest[t.len()..];
            continue;
        }
        if c == '"' {
            in_str = true;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out.into()
}

/// Our sub-object of state.json (created when missing; a non-object is replaced).
pub fn ours(state: &mut Map<String, Value>) -> &mut Map<String, Value> {
    let slot = state
        .entry(COVERAGE_KEY)
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("just made an object")
}

/// The last journal sequence number the state accounts for (0: none).
pub fn covered_seq(state: &Map<String, Value>) -> u64 {
    state
        .get(COVERAGE_KEY)
        .and_then(|c| c.get(SEQ_KEY))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// Records `seq` as folded in (our other sub-keys and everyone else's stay).
pub fn set_covered_seq(state: &mut Map<String, Value>, seq: u64) {
    let ours = ours(state);
    ours.remove(OLD_COVERAGE_KEY);
    ours.insert(SEQ_KEY.into(), Value::from(seq));
}

/// The running totals under `_metrics_builder_state`, as the reference restores them, and
/// the names of the totals that are not finite.
pub fn builder_totals(
    state: &Map<String, Value>,
    what: &str,
) -> CoreResult<(TotalsState, Vec<String>)> {
    let mut out = TotalsState::default();
    let mut non_finite = Vec::new();
    let Some(Value::Object(builder)) = state.get(BUILDER_STATE_KEY) else {
        return Ok((out, non_finite));
    };
    if let Some(Value::Object(cum)) = builder.get("cum_state") {
        for (k, v) in cum {
            let v = as_f64(v).ok_or_else(|| {
                CoreError::Corrupt(format!("{what}: cum_state['{k}'] is not a number: {v}"))
            })?;
            if !v.is_finite() {
                non_finite.push(k.clone());
            }
            out.cum_state.push((k.clone(), v));
        }
    }
    if let Some(Value::Array(ids)) = builder.get("unique_scenario_ids") {
        out.unique_scenario_ids = ids.iter().map(id_string).collect();
    }
    let comp = state
        .get(COVERAGE_KEY)
        .and_then(|c| c.get(COMPENSATION_KEY))
        .and_then(Value::as_object);
    if let Some(comp) = comp {
        out.compensation = comp
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
            .collect();
    }
    Ok((out, non_finite))
}

/// The update (JSON text, for [`super::RunDir::merge_state`]) that saves `budget` in
/// state.json: its keys ([`Budget::to_state`]) under [`COVERAGE_KEY`], beside the run
/// directory's own.
pub fn budget_update(budget: Option<&Budget>) -> String {
    let mut update = Map::new();
    update.insert(COVERAGE_KEY.into(), Value::Object(Budget::to_state(budget)));
    // A budget holds finite numbers only (`Budget::new` refuses others).
    Value::Object(update).to_string()
}

/// The budget [`budget_update`] saved in `state` (state.json's text), if any.
pub fn saved_budget(state: &[u8]) -> CoreResult<Option<Budget>> {
    match parse(state, "state.json")?.get(COVERAGE_KEY) {
        Some(Value::Object(ours)) => Budget::from_state(ours),
        _ => Ok(None),
    }
}

/// Dicts merge recursively; any other value replaces what was there.
pub fn deep_merge(into: &mut Map<String, Value>, update: Map<String, Value>) {
    for (k, v) in update {
        match (into.get_mut(&k), v) {
            (Some(Value::Object(old)), Value::Object(new)) => deep_merge(old, new),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_tokens_round_trip_and_strings_stay() {
        let text = r#"{"a": [NaN, Infinity, -Infinity, 1.5], "s": "NaN Infinity \" NaN"}"#;
        let m = parse(text.as_bytes(), "state.json").unwrap();
        assert_eq!(m["s"], "NaN Infinity \" NaN");
        let back = write(&m).unwrap();
        assert!(
            back.contains("NaN,") && back.contains("-Infinity,"),
            "{back}"
        );
        assert!(back.contains("\"NaN Infinity \\\" NaN\""), "{back}");
        assert_eq!(parse(back.as_bytes(), "x").unwrap(), m);
    }

    #[test]
    fn non_finite_totals_are_named() {
        let m = parse(
            br#"{"_metrics_builder_state": {"cum_state": {"costs/cum/all": Infinity, "x/cum/y": 1}}}"#,
            "state.json",
        )
        .unwrap();
        let (t, bad) = builder_totals(&m, "state.json").unwrap();
        assert_eq!(bad, ["costs/cum/all"]);
        assert_eq!(t.cum_state[0].1, f64::INFINITY);
    }

    #[test]
    fn coverage_keeps_other_sub_keys() {
        let mut m = parse(
            br#"{"_art_metrics": {"budget_usd": 2.5, "history_bytes": 9}}"#,
            "s",
        )
        .unwrap();
        set_covered_seq(&mut m, 7);
        assert_eq!(covered_seq(&m), 7);
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"_art_metrics":{"budget_usd":2.5,"journal_seq":7}}"#
        );
    }
}
