//! Where a logged metric goes and the key it gets in a row: splits, routing, prefixes.

use crate::error::{CoreError, CoreResult};
use crate::metrics::keys;

/// Sections whose keys a train/val/test row keeps unprefixed.
pub const ROW_SECTIONS: [&str; 8] = [
    "reward",
    "loss",
    "offpolicy",
    "pipeline",
    "throughput",
    "costs",
    "time",
    "data",
];

/// The splits with standard prefixing and default data metrics.
pub const STANDARD_SPLITS: [&str; 3] = ["train", "val", "test"];

const LEGACY_COST_KEY_MESSAGE: &str = "Legacy cost keys like 'costs_prefill' are no longer \
    supported. Log explicit cost keys like 'costs/train/tinker_prefill' or \
    'costs/eval/judge/ruler' instead.";

/// The cost context and buffer scope a split flushes: train → train, val/test → eval,
/// anything else → itself.
pub fn split_scope(split: &str) -> &str {
    match split {
        "train" => "train",
        "val" | "test" => "eval",
        other => other,
    }
}

/// The key a metric gets in a row of `split`.
///
/// train/val/test keep a key whose first segment is a section or a split and prefix the rest;
/// any other split prefixes every key (`holdout/costs/all`).
pub fn row_key(split: &str, key: &str) -> String {
    if STANDARD_SPLITS.contains(&split)
        && let Some((first, _)) = key.split_once('/')
        && (ROW_SECTIONS.contains(&first) || STANDARD_SPLITS.contains(&first))
    {
        return key.to_owned();
    }
    format!("{split}/{key}")
}

/// Where a logged metric goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Summed into the split's builder (`costs/...`, `time/step_...`, ...).
    Builder,
    /// Averaged (trajectory and group metrics) or passed through (`metrics=`).
    Plain,
}

/// Routes one metric key; legacy `costs_*` keys are refused.
pub fn route(key: &str) -> CoreResult<Route> {
    if key.starts_with("costs/") {
        return Ok(Route::Builder);
    }
    if key.starts_with("costs_") {
        return Err(CoreError::value(LEGACY_COST_KEY_MESSAGE));
    }
    Ok(if keys::is_builder_managed(key) {
        Route::Builder
    } else {
        Route::Plain
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(row_key("train", "reward"), "train/reward");
        assert_eq!(row_key("train", "foo/bar"), "train/foo/bar");
        assert_eq!(row_key("train", "loss/a"), "loss/a");
        assert_eq!(row_key("val", "train/x"), "train/x");
        assert_eq!(row_key("test", "costs/all"), "costs/all");
        assert_eq!(row_key("holdout", "costs/all"), "holdout/costs/all");
        assert_eq!(row_key("train", "costs"), "train/costs");
    }

    #[test]
    fn routing() {
        assert_eq!(route("costs/x").unwrap(), Route::Builder);
        assert_eq!(route("time/step_x").unwrap(), Route::Builder);
        assert_eq!(route("time/x").unwrap(), Route::Plain);
        assert!(
            route("costs_prefill")
                .unwrap_err()
                .to_string()
                .contains("Legacy")
        );
        assert_eq!(split_scope("test"), "eval");
        assert_eq!(split_scope("holdout"), "holdout");
    }
}
