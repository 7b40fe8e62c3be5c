//! Metric keys: `section/rest`, the reserved cumulative namespace and key ancestry.

use crate::error::{CoreError, CoreResult};

/// Sections whose every key gets a running total under `<section>/cum/...`.
pub const CUMULATIVE_SECTIONS: [&str; 3] = ["costs", "time", "data"];

/// True when the second segment of `key` is `cum` (`costs/cum/all`, `time/cum`).
pub fn is_cumulative(key: &str) -> bool {
    let mut parts = key.split('/');
    parts.next();
    parts.next() == Some("cum")
}

/// The section of a key: everything before the first `/`.
pub fn section(key: &str) -> &str {
    split_section(key).map_or(key, |(s, _)| s)
}

/// `key` split at its first `/`. A byte search: `str::split_once('/')` confirms each match
/// with a `memcmp` call, which with `match_indices('/')` was 6% of a flush of 5,000 cost
/// keys (issue #20).
pub(crate) fn split_section(key: &str) -> Option<(&str, &str)> {
    let at = key.bytes().position(|b| b == b'/')?;
    // `/` is ASCII: both sides are on character boundaries.
    Some((&key[..at], &key[at + 1..]))
}

/// Checks that `key` can be recorded: it has a section, no empty or blank segment, and is
/// not cumulative.
pub fn validate(key: &str) -> CoreResult<()> {
    if !key.contains('/') {
        return Err(CoreError::value(format!(
            "Metric key '{key}' must include a section prefix, like 'time/{key}'"
        )));
    }
    // A blank segment (`costs/  /x`) is as unreadable on a dashboard as an empty one.
    if key.split('/').any(|s| s.trim().is_empty()) {
        return Err(CoreError::value(format!(
            "Metric key '{key}' has an empty or blank segment; use 'section/name' with \
             non-empty parts"
        )));
    }
    if is_cumulative(key) {
        return Err(CoreError::value(format!(
            "Metric key '{key}' uses the reserved cumulative namespace '{}/cum/'",
            section(key)
        )));
    }
    Ok(())
}

/// Rejects NaN and infinities, naming the key.
pub fn check_value(key: &str, value: f64) -> CoreResult<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(CoreError::value(format!(
            "Metric '{key}' must be a finite number, got {value}"
        )))
    }
}

/// Checks a key of a saved `cum_state`: `<section>/cum/<rest>`, no empty or blank segment.
pub fn validate_cumulative(key: &str) -> CoreResult<()> {
    let well_formed = is_cumulative(key)
        && key.split('/').count() >= 3
        && !key.split('/').any(|s| s.trim().is_empty());
    if well_formed {
        Ok(())
    } else {
        Err(CoreError::value(format!(
            "state['cum_state'] key '{key}' is not a running-total key like 'costs/cum/all'"
        )))
    }
}

/// The running-total key of a step key: `time/step_actor_s` → `time/cum/actor_s`.
pub fn cumulative_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 5);
    write_cumulative_key(key, &mut out);
    out
}

/// [`cumulative_key`] into `out` (cleared first): a flush builds one per value, in one
/// buffer.
pub fn write_cumulative_key(key: &str, out: &mut String) {
    let (section, rest) = split_section(key).unwrap_or((key, ""));
    let rest = rest.strip_prefix("step_").unwrap_or(rest);
    out.clear();
    out.push_str(section);
    out.push_str("/cum/");
    out.push_str(rest);
}

/// Proper ancestors of `key` at `/` boundaries, shortest first: `a/b/c` → `a`, `a/b`.
pub fn ancestors(key: &str) -> impl Iterator<Item = &str> {
    // Bytes, not `match_indices('/')` (see `split_section`).
    key.bytes()
        .enumerate()
        .filter(|&(_, b)| b == b'/')
        .map(move |(i, _)| &key[..i])
}

/// Ancestors that receive a cost rollup: those with at least two segments.
/// `costs/train/llm_judge/x` → `costs/train`, `costs/train/llm_judge`.
pub fn rollup_ancestors(key: &str) -> impl Iterator<Item = &str> {
    ancestors(key).skip(1)
}

thread_local! {
    static COST_KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Calls `f` with the full key `costs/<path>`, built in a reused per-thread buffer so the hot
/// `add_cost` path does not allocate.
pub fn with_cost_key<T>(path: &str, f: impl FnOnce(&str) -> CoreResult<T>) -> CoreResult<T> {
    if path.is_empty() {
        return Err(CoreError::value("Cost path must be non-empty"));
    }
    COST_KEY.with(|buf| match buf.try_borrow_mut() {
        Ok(mut key) => {
            key.clear();
            key.push_str("costs/");
            key.push_str(path);
            f(&key)
        }
        // Re-entered from inside `f` (never in practice): fall back to a fresh string.
        Err(_) => f(&format!("costs/{path}")),
    })
}

/// Checks a cost path given to `add_cost` and returns the full key `costs/<path>`.
pub fn cost_key(path: &str) -> CoreResult<String> {
    with_cost_key(path, |key| Ok(key.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cumulative_keys_drop_a_leading_step() {
        assert_eq!(cumulative_key("time/step_actor_s"), "time/cum/actor_s");
        assert_eq!(cumulative_key("costs/train"), "costs/cum/train");
        assert_eq!(cumulative_key("costs/all"), "costs/cum/all");
        assert_eq!(
            cumulative_key("data/step_num_scenarios"),
            "data/cum/num_scenarios"
        );
        assert_eq!(
            cumulative_key("costs/train/step_x"),
            "costs/cum/train/step_x"
        );
    }

    #[test]
    fn validation_names_the_key() {
        let e = validate("nosection").unwrap_err().to_string();
        assert!(e.contains("'nosection'"), "{e}");
        assert!(
            validate("costs/cum/all")
                .unwrap_err()
                .to_string()
                .contains("reserved")
        );
        assert!(validate("time/cum").is_err());
        assert!(validate("a//b").is_err());
        assert!(validate("/b").is_err());
        assert!(validate("a/").is_err());
        assert!(validate("a/cumulative").is_ok());
        assert!(validate("a/b/cum").is_ok());
        assert!(validate("costs/  /x").is_err());
        assert!(validate(" /x").is_err());
        assert!(validate("a/ b").is_ok());
    }

    #[test]
    fn saved_totals_keys_must_be_cumulative() {
        assert!(validate_cumulative("costs/cum/all").is_ok());
        assert!(validate_cumulative("throughput/cum/actor_idle_s").is_ok());
        for bad in [
            "nosection",
            "costs/all",
            "costs/cum",
            "costs/cum/",
            "/cum/x",
            "a/cum/ ",
        ] {
            let e = validate_cumulative(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("'{bad}'")), "{e}");
        }
    }

    #[test]
    fn ancestry() {
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), ["a", "a/b"]);
        assert_eq!(
            rollup_ancestors("costs/train/judge/x").collect::<Vec<_>>(),
            ["costs/train", "costs/train/judge"]
        );
        assert_eq!(rollup_ancestors("costs/gpu").count(), 0);
    }
}
