//! The pending values of one step in one buffer scope.

use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;

use crate::error::{CoreError, CoreResult};
use crate::sum::ExactSum;

/// Leaves recorded since the last flush, and the scenario ids seen.
///
/// Leaves are kept sorted so both conflict checks are logarithmic: an ancestor of a new key
/// is found by looking up each of its prefixes, a descendant by one range query on `key/`.
#[derive(Debug, Default, Clone)]
pub struct StepBuffer {
    leaves: BTreeMap<String, ExactSum>,
    // First-insertion order of the leaves: flushed rows list them in that order, as the
    // reference's dict does.
    order: Vec<String>,
    scenario_ids: HashSet<String>,
}

impl StepBuffer {
    /// Adds `value` to leaf `key` (created at zero if new). The key must already be validated.
    ///
    /// Refuses a key that is an ancestor or a descendant of another leaf of this buffer.
    pub fn add(&mut self, key: &str, value: f64) -> CoreResult<()> {
        if let Some(sum) = self.leaves.get_mut(key) {
            sum.add(value);
            return Ok(());
        }
        self.check_conflicts(key)?;
        self.leaves.insert(key.to_owned(), ExactSum::new(value));
        self.order.push(key.to_owned());
        Ok(())
    }

    /// Adds several values at once: all of them, or none when one conflicts.
    pub fn add_all(&mut self, values: &[(&str, f64)]) -> CoreResult<()> {
        for (key, _) in values {
            self.check_conflicts(key)?;
        }
        for (key, value) in values {
            self.add(key, *value)?;
        }
        Ok(())
    }

    /// Checks that `key` could be added as a new leaf.
    pub fn check_conflicts(&self, key: &str) -> CoreResult<()> {
        if self.leaves.contains_key(key) {
            return Ok(());
        }
        for ancestor in crate::keys::ancestors(key) {
            if self.leaves.contains_key(ancestor) {
                return Err(CoreError::value(format!(
                    "Cannot log '{key}' as a leaf: '{ancestor}' is already a leaf ancestor."
                )));
            }
        }
        let probe = format!("{key}/");
        let range = (Bound::Included(probe.as_str()), Bound::Unbounded);
        if let Some((descendant, _)) = self.leaves.range::<str, _>(range).next()
            && descendant.starts_with(&probe)
        {
            return Err(CoreError::value(format!(
                "Cannot log '{key}' as a leaf: it is an ancestor of '{descendant}'."
            )));
        }
        Ok(())
    }

    /// Remembers scenario ids for this step.
    pub fn add_scenario_ids<I: IntoIterator<Item = String>>(&mut self, ids: I) {
        self.scenario_ids.extend(ids);
    }

    /// The leaves, sorted by key.
    pub fn leaves(&self) -> impl Iterator<Item = (&str, &ExactSum)> {
        self.leaves.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The leaves in the order they were first added.
    pub fn leaves_in_order(&self) -> impl Iterator<Item = (&str, &ExactSum)> {
        self.order.iter().map(|k| (k.as_str(), &self.leaves[k]))
    }

    pub fn scenario_ids(&self) -> &HashSet<String> {
        &self.scenario_ids
    }

    pub fn into_scenario_ids(self) -> HashSet<String> {
        self.scenario_ids
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
        assert_eq!(b.leaves().next().unwrap().1.value(), 3.5);
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
        b.add("costs/train/judge", 1.0).unwrap();
        let e = b.add("costs/train", 1.0).unwrap_err().to_string();
        assert!(e.contains("ancestor of 'costs/train/judge'"), "{e}");
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
        assert_eq!(b.len(), 1);
    }
}
