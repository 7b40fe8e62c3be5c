//! Warnings for easy mistakes that the reference accepts silently, each given once per
//! cause per process (a training loop would otherwise repeat it on every step).

use parking_lot::Mutex;
use rustc_hash::FxHashSet;

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
}
