//! Warnings for easy mistakes that the reference accepts silently, each given once per
//! cause per process (a training loop would otherwise repeat it on every step).

use parking_lot::Mutex;
use rustc_hash::FxHashSet;

use crate::history::routing::STANDARD_SPLITS;

static SEEN: Mutex<Option<FxHashSet<String>>> = Mutex::new(None);

/// True the first time `cause` is seen in this process.
pub fn first_time(cause: &str) -> bool {
    let mut seen = SEEN.lock();
    let seen = seen.get_or_insert_with(FxHashSet::default);
    if seen.contains(cause) {
        return false;
    }
    seen.insert(cause.to_owned());
    true
}

/// The warning for an `add_cost` path that already starts with `costs/` (the key becomes
/// `costs/costs/...`), the first time that path is seen.
pub fn doubled_cost_prefix(path: &str) -> Option<String> {
    let rest = path.strip_prefix("costs/")?;
    first_time(&format!("cost-path\0{path}")).then(|| {
        format!(
            "add_cost path '{path}' starts with 'costs/': it is recorded as 'costs/{path}'. \
             add_cost adds the 'costs/' prefix itself; pass '{rest}'."
        )
    })
}

/// The warning for a split other than train/val/test, the first time that split is seen:
/// its keys are prefixed with it and it gets no data metrics, so `split="eval"` logs
/// `eval/reward` where `val/reward` was likely meant.
pub fn nonstandard_split(split: &str) -> Option<String> {
    if STANDARD_SPLITS.contains(&split) {
        return None;
    }
    first_time(&format!("split\0{split}")).then(|| {
        format!(
            "split={split:?} is not 'train', 'val' or 'test': its metrics are logged as \
             '{split}/...' (e.g. '{split}/reward') without data metrics. For evaluation \
             use split=\"val\" (or \"test\")."
        )
    })
}

/// The warning for running totals that are `Infinity` or `NaN` in `what` (openpipe-art saves
/// them so and resumes them as they are; so do we). Given at each load, not once per process.
pub fn non_finite_totals(what: &str, keys: &[String]) -> String {
    format!(
        "{what} holds non-finite running totals (openpipe-art saves them): {}; they are kept \
         as they are",
        keys.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_cause() {
        assert!(first_time("notices-test-a"));
        assert!(!first_time("notices-test-a"));
        assert!(first_time("notices-test-b"));
    }

    #[test]
    fn doubled_cost_prefix_names_the_fix_once() {
        assert_eq!(doubled_cost_prefix("train/judge"), None);
        let m = doubled_cost_prefix("costs/notices/judge").unwrap();
        assert!(m.contains("'costs/costs/notices/judge'") && m.contains("pass 'notices/judge'"));
        assert_eq!(doubled_cost_prefix("costs/notices/judge"), None);
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
