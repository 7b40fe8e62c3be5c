//! The pending values of one step in one buffer scope.

use rustc_hash::FxHashMap;

use crate::error::{CoreError, CoreResult};
use crate::metrics::keys;
use crate::metrics::scenarios::ScenarioSet;
use crate::metrics::sum::ExactSum;
use crate::metrics::totals::Totals;

/// Leaves recorded since the last flush, in the order first recorded, and the scenario ids seen.
///
/// Adding to an existing leaf is one hash lookup, whatever the number of leaves. A new leaf is
/// checked against the others in O(depth) lookups: each of its prefixes against the leaves, and
/// the key itself against the set of every leaf's ancestors.
///
/// No derived value (leaf sum, cost rollup, `costs/all`, running total) may become
/// non-finite. Checking each one on every add cost four times the add itself (issue #20),
/// so the buffer keeps `mass`, the sum of the magnitudes of everything added: no derived
/// value of the step exceeds it, and while it and the largest running total stay far from
/// `f64::MAX` ([`SAFE_MAGNITUDE`]) nothing can overflow and the exact check is skipped.
#[derive(Debug, Default, Clone)]
pub struct StepBuffer {
    leaves: Vec<(String, ExactSum)>,
    index: FxHashMap<String, usize>,
    /// Every proper ancestor of a leaf → the first leaf below it (for error messages).
    ancestors: FxHashMap<String, usize>,
    scenario_ids: ScenarioSet,
    /// The sum of this step's cost leaves (its `costs/all`), kept for the budget's spend.
    cost: Option<ExactSum>,
    /// The sum of `|value|` over every value added: a bound on every derived value's magnitude.
    mass: f64,
}

/// Below this, sums of magnitudes cannot reach `f64::MAX` (about 1.8e308) whatever the
/// rounding: the add-time guard has nothing to check.
pub const SAFE_MAGNITUDE: f64 = 1e300;

/// The rollup keys a leaf adds to: its ancestors at depth two or more, and `costs/all`.
fn rollup_keys(key: &str) -> impl Iterator<Item = &str> {
    let cost = key.starts_with("costs/");
    keys::rollup_ancestors(key)
        .filter(move |_| cost)
        .chain(cost.then_some("costs/all"))
}

impl StepBuffer {
    /// Adds `value` to the existing leaf `key`; false when there is no such leaf.
    ///
    /// Refuses, and leaves the leaf as it was, when the sum would no longer be finite
    /// (two finite values can overflow: `1e308 + 1e308`).
    pub fn add_existing(&mut self, key: &str, value: f64) -> CoreResult<bool> {
        let Some(&i) = self.index.get(key) else {
            return Ok(false);
        };
        self.leaves[i].1 = self.sum_with(i, value)?;
        self.note_added(key, value);
        Ok(true)
    }

    /// Adds `value` to the existing leaf `key` when no derived value can come near
    /// overflowing (see [`StepBuffer`]); `totals_bound` bounds the running totals'
    /// magnitudes. False, nothing changed, when the leaf is new or the exact check is needed.
    pub fn add_existing_unchecked(&mut self, key: &str, value: f64, totals_bound: f64) -> bool {
        if !self.is_safe(value.abs(), totals_bound) {
            return false;
        }
        let Some(&i) = self.index.get(key) else {
            return false;
        };
        self.leaves[i].1.add(value);
        self.note_added(key, value);
        true
    }

    /// True when adding values of total magnitude `added` cannot make a derived value
    /// non-finite (NaN fails it too).
    fn is_safe(&self, added: f64, totals_bound: f64) -> bool {
        self.mass + added + totals_bound < SAFE_MAGNITUDE
    }

    /// Keeps `cost` and `mass` up to date after `value` was added to leaf `key`.
    fn note_added(&mut self, key: &str, value: f64) {
        self.mass += value.abs();
        if key.starts_with("costs/") {
            self.cost.get_or_insert_default().add(value);
        }
    }

    /// Leaf `i`'s sum with `value` added, refused when it is no longer finite.
    fn sum_with(&self, i: usize, value: f64) -> CoreResult<ExactSum> {
        let (key, current) = &self.leaves[i];
        let mut sum = *current;
        sum.add(value);
        if sum.value().is_finite() {
            Ok(sum)
        } else {
            Err(CoreError::value(format!(
                "Adding {value:?} to metric '{key}' would overflow its step total ({:?} so far)",
                current.value()
            )))
        }
    }

    /// Adds `value` to leaf `key`, validating the key and creating the leaf if it is new.
    ///
    /// Refuses a key that is an ancestor or a descendant of another leaf of this buffer.
    pub fn add(&mut self, key: &str, value: f64) -> CoreResult<()> {
        if self.add_existing(key, value)? {
            return Ok(());
        }
        keys::validate(key)?;
        self.check_conflicts(key)?;
        let i = self.leaves.len();
        for ancestor in keys::ancestors(key) {
            if !self.ancestors.contains_key(ancestor) {
                self.ancestors.insert(ancestor.to_owned(), i);
            }
        }
        self.index.insert(key.to_owned(), i);
        self.leaves.push((key.to_owned(), ExactSum::new(value)));
        self.note_added(key, value);
        Ok(())
    }

    /// The current value of the rollup `key` (`costs/all` or a cost ancestor): the exact
    /// check's slow path, linear in the leaves.
    fn rollup(&self, key: &str) -> Option<ExactSum> {
        if key == "costs/all" {
            return self.cost;
        }
        if !key.starts_with("costs/") {
            return None;
        }
        let mut sum = None;
        for (leaf, value) in &self.leaves {
            let below = leaf.len() > key.len()
                && leaf.starts_with(key)
                && leaf.as_bytes()[key.len()] == b'/';
            if below {
                sum.get_or_insert_with(ExactSum::default).merge(value);
            }
        }
        sum
    }

    /// Refuses `values` (naming the key) when adding them would make a step value, a cost
    /// rollup, `costs/all` or a running total in `totals` non-finite: two finite values can
    /// overflow (`1e308 + 1e308`), and an infinite total would be saved and restored forever.
    pub fn check_derived(&self, values: &[(&str, f64)], totals: &Totals) -> CoreResult<()> {
        let added: f64 = values.iter().map(|(_, v)| v.abs()).sum();
        if self.is_safe(added, totals.abs_bound()) {
            return Ok(());
        }
        let mut sums: FxHashMap<&str, ExactSum> = FxHashMap::default();
        for (key, value) in values {
            let own = (*key != "costs/all").then_some(*key);
            for k in own.into_iter().chain(rollup_keys(key)) {
                let sum = sums.entry(k).or_insert_with(|| {
                    let current = self.get(k).copied().or_else(|| self.rollup(k));
                    current.unwrap_or_default()
                });
                sum.add(*value);
                let cumulative = keys::CUMULATIVE_SECTIONS.contains(&keys::section(k));
                if !sum.value().is_finite()
                    || (cumulative && totals.would_overflow(&keys::cumulative_key(k), sum))
                {
                    return Err(CoreError::value(format!(
                        "Adding {value:?} to metric '{key}' would make '{k}' or its running \
                         total non-finite"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Adds several values at once: all of them, or none when one is refused.
    pub fn add_all(&mut self, values: &[(&str, f64)]) -> CoreResult<()> {
        for (key, value) in values {
            if let Some(&i) = self.index.get(*key) {
                self.sum_with(i, *value)?;
            } else {
                keys::validate(key)?;
                self.check_conflicts(key)?;
            }
        }
        for (key, value) in values {
            self.add(key, *value)?;
        }
        Ok(())
    }

    /// Checks that `key` could be added as a new leaf.
    pub fn check_conflicts(&self, key: &str) -> CoreResult<()> {
        if self.index.contains_key(key) {
            return Ok(());
        }
        for ancestor in keys::ancestors(key) {
            if self.index.contains_key(ancestor) {
                return Err(CoreError::value(format!(
                    "Cannot log '{key}' as a leaf: '{ancestor}' is already a leaf ancestor."
                )));
            }
        }
        if let Some(&i) = self.ancestors.get(key) {
            return Err(CoreError::value(format!(
                "Cannot log '{key}' as a leaf: it is an ancestor of '{}'.",
                self.leaves[i].0
            )));
        }
        Ok(())
    }

    /// Remembers scenario ids for this step.
    pub fn add_scenario_ids<S: AsRef<str>, I: IntoIterator<Item = S>>(&mut self, ids: I) {
        self.scenario_ids.extend(ids);
    }

    /// The leaves, in the order they were first recorded.
    pub fn leaves(&self) -> impl Iterator<Item = (&str, &ExactSum)> {
        self.leaves.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The sum of this step's cost leaves (its `costs/all` rollup), if it has any.
    pub fn pending_cost(&self) -> Option<&ExactSum> {
        self.cost.as_ref()
    }

    /// The leaf `key`, if recorded.
    pub fn get(&self, key: &str) -> Option<&ExactSum> {
        self.index.get(key).map(|&i| &self.leaves[i].1)
    }

    pub fn scenario_ids(&self) -> &ScenarioSet {
        &self.scenario_ids
    }

    /// The leaves (in the order first recorded) and the scenario ids, taken out.
    pub fn into_parts(self) -> (Vec<(String, ExactSum)>, ScenarioSet) {
        (self.leaves, self.scenario_ids)
    }

    /// Adds every leaf and scenario id of `later` (values recorded after this buffer's).
    /// A leaf that conflicts with this buffer's keys is refused and reported; the rest are kept.
    pub fn absorb(&mut self, later: StepBuffer) -> CoreResult<()> {
        let mut first_error = None;
        for (key, value) in later.leaves {
            if let Err(e) = self.add(&key, value.value()) {
                first_error.get_or_insert(e);
            }
        }
        self.scenario_ids.extend(later.scenario_ids.iter());
        first_error.map_or(Ok(()), Err)
    }

    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty() && self.scenario_ids.is_empty()
    }

    pub fn len(&self) -> usize {
        self.leaves.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_leaf_accumulates() {
        let mut b = StepBuffer::default();
        b.add("costs/a", 1.0).unwrap();
        b.add("costs/a", 2.5).unwrap();
        assert_eq!(b.get("costs/a").unwrap().value(), 3.5);
    }

    #[test]
    fn leaf_and_ancestor_conflict_in_either_order() {
        let mut b = StepBuffer::default();
        b.add("costs/train", 1.0).unwrap();
        let e = b.add("costs/train/judge", 1.0).unwrap_err().to_string();
        assert!(
            e.contains("'costs/train' is already a leaf ancestor"),
            "{e}"
        );

        let mut b = StepBuffer::default();
        b.add("costs/train/judge/x", 1.0).unwrap();
        let e = b.add("costs/train", 1.0).unwrap_err().to_string();
        assert!(e.contains("ancestor of 'costs/train/judge/x'"), "{e}");
        assert!(b.add("costs/train/judge", 1.0).is_err());
    }

    #[test]
    fn siblings_sharing_a_prefix_do_not_conflict() {
        let mut b = StepBuffer::default();
        b.add("costs/train", 1.0).unwrap();
        b.add("costs/train_x/judge", 1.0).unwrap();
        b.add("costs/trai", 1.0).unwrap();
        assert_eq!(b.len(), 3);
    }

    #[test]
    fn a_rejected_add_leaves_the_buffer_unchanged() {
        let mut b = StepBuffer::default();
        b.add("costs/train/judge", 1.0).unwrap();
        assert!(b.add("costs/train", 5.0).is_err());
        assert!(
            b.add_all(&[("time/a", 1.0), ("costs/train/judge/x", 1.0)])
                .is_err()
        );
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn an_overflowing_sum_is_refused_and_the_leaf_kept() {
        let mut b = StepBuffer::default();
        b.add("time/x", 1e308).unwrap();
        let e = b.add("time/x", 1e308).unwrap_err().to_string();
        assert!(e.contains("'time/x'") && e.contains("overflow"), "{e}");
        assert!(b.add_all(&[("time/y", 1.0), ("time/x", 1e308)]).is_err());
        assert_eq!(b.len(), 1);
        assert_eq!(b.get("time/x").unwrap().value(), 1e308);
        b.add("time/x", -1e308).unwrap();
        assert_eq!(b.get("time/x").unwrap().value(), 0.0);
    }

    #[test]
    fn an_add_that_would_overflow_a_rollup_or_total_is_refused() {
        let totals = Totals::default();
        let mut b = StepBuffer::default();
        b.add("costs/train/a", 1e308).unwrap();
        let e = b
            .check_derived(&[("costs/eval/b", 1e308)], &totals)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'costs/eval/b'") && e.contains("costs/all"),
            "{e}"
        );
        assert!(
            b.check_derived(&[("costs/train/c", 1e308)], &totals)
                .is_err()
        );
        b.check_derived(&[("costs/eval/b", 1.0)], &totals).unwrap();
        let mut t = Totals::default();
        t.add("time/cum/x", &ExactSum::new(1e308));
        let e = StepBuffer::default()
            .check_derived(&[("time/step_x", 1e308)], &t)
            .unwrap_err()
            .to_string();
        assert!(e.contains("'time/step_x'"), "{e}");
        // A total openpipe-art saved as infinite stays so; adds to it are accepted.
        t.add("time/cum/y", &ExactSum::new(f64::INFINITY));
        StepBuffer::default()
            .check_derived(&[("time/y", 1.0)], &t)
            .unwrap();
    }

    #[test]
    fn leaves_keep_first_recorded_order() {
        let mut b = StepBuffer::default();
        for k in ["z/1", "a/1", "m/1", "a/1"] {
            b.add(k, 1.0).unwrap();
        }
        assert_eq!(
            b.leaves().map(|(k, _)| k).collect::<Vec<_>>(),
            ["z/1", "a/1", "m/1"]
        );
    }
}
