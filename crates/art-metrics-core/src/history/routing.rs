//! Where a logged metric goes: splits, scopes, routing. The key a metric gets in a row is the
//! dialect's (`Dialect::row_key`).

use crate::error::{CoreError, CoreResult};
use crate::metrics::Dialect;
pub use crate::metrics::dialect::STANDARD_SPLITS;

/// openpipe-art's message for a legacy `costs_*` key, naming the key (issue #23).
fn legacy_cost_key_message(key: &str) -> String {
    format!(
        "Legacy cost keys like 'costs_prefill' are no longer supported (got '{key}'). Log \
         explicit cost keys like 'costs/train/tinker_prefill' or 'costs/eval/judge/ruler' \
         instead."
    )
}

/// The cost context and buffer scope a split flushes: train → train, val/test → eval,
/// anything else → itself.
pub fn split_scope(split: &str) -> &str {
    match split {
        "train" => "train",
        "val" | "test" => "eval",
        other => other,
    }
}

/// Where a logged metric goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Summed into the split's builder (`costs/...`, `time/step_...`, ...).
    Builder,
    /// Averaged (trajectory and group metrics) or passed through (`metrics=`).
    Plain,
}

/// Routes one metric key by the dialect's managed prefixes; legacy `costs_*` keys are refused.
pub fn route(key: &str, dialect: &Dialect) -> CoreResult<Route> {
    if key.starts_with("costs/") {
        return Ok(Route::Builder);
    }
    if key.starts_with("costs_") {
        return Err(CoreError::value(legacy_cost_key_message(key)));
    }
    Ok(if dialect.is_builder_managed(key) {
        Route::Builder
    } else {
        Route::Plain
    })
}

/// The warning for a split other than train/val/test, the first time that split is seen:
/// its keys are prefixed with it and it gets no data metrics, so `split="eval"` logs
/// `eval/reward` where `val/reward` was likely meant.
pub fn nonstandard_split(split: &str) -> Option<String> {
    if STANDARD_SPLITS.contains(&split) {
        return None;
    }
    crate::notices::first_time(&format!("split\0{split}")).then(|| {
        format!(
            "split={split:?} is not 'train', 'val' or 'test': its metrics are logged as \
             '{split}/...' (e.g. '{split}/reward') without data metrics. For evaluation \
             use split=\"val\" (or \"test\")."
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::ArtVersion;

    #[test]
    fn routing() {
        let old = ArtVersion::V0_5_18.dialect();
        let new = ArtVersion::V0_5_23.dialect();
        for d in [old, new] {
            assert_eq!(route("costs/x", d).unwrap(), Route::Builder);
            assert_eq!(route("time/step_x", d).unwrap(), Route::Builder);
            assert_eq!(route("time/x", d).unwrap(), Route::Plain);
            let refused = route("costs_judge", d).unwrap_err().to_string();
            assert!(refused.starts_with("Legacy cost keys"), "{refused}");
            assert!(refused.contains("(got 'costs_judge')"), "{refused}");
        }
        assert_eq!(route("throughput/step_x", old).unwrap(), Route::Builder);
        assert_eq!(route("throughput/step_x", new).unwrap(), Route::Plain);
        assert_eq!(split_scope("test"), "eval");
        assert_eq!(split_scope("holdout"), "holdout");
    }

    #[test]
    fn nonstandard_splits_warn_once() {
        for split in STANDARD_SPLITS {
            assert_eq!(nonstandard_split(split), None);
        }
        let m = nonstandard_split("notices-eval").unwrap();
        assert!(
            m.contains("'notices-eval/reward'") && m.contains("split=\"val\""),
            "{m}"
        );
        assert_eq!(nonstandard_split("notices-eval"), None);
    }
}
