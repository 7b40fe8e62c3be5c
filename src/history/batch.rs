//! One batch of trajectory groups aggregated into a row's averages and builder additions,
//! in the order openpipe-art 0.5.18 computes them, so rows agree with the reference to the
//! last bit where the reference is deterministic.

use std::collections::HashSet;

use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;

use super::numpy::numpy_std;
use super::routing::{Route, STANDARD_SPLITS, route};
use crate::error::CoreResult;

/// An insertion-ordered map of row values: rows keep the reference's key order, and
/// re-setting a key keeps its first position.
pub type Ordered<V> = IndexMap<String, V, FxBuildHasher>;

/// The entry for `key`, inserted with `make()` if missing (no key allocation when present).
/// Sets `key` to `value`, keeping the first position of `key` (no key allocation when present).
pub(crate) fn set<V>(map: &mut Ordered<V>, key: &str, value: V) {
    match map.get_mut(key) {
        Some(slot) => *slot = value,
        None => {
            map.insert(key.to_owned(), value);
        }
    }
}

pub(crate) fn entry_or_insert<'m, V>(
    map: &'m mut Ordered<V>,
    key: &str,
    make: impl FnOnce() -> V,
) -> &'m mut V {
    match map.get_index_of(key) {
        Some(i) => &mut map[i],
        None => map.entry(key.to_owned()).or_insert_with(make),
    }
}

/// A row value: metrics are floats; `reward_std_dev` is the int 0 when no group qualifies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Float(f64),
    Int(i64),
}

/// A running Python `sum(values) / len(values)`: sequential addition, in arrival order, as
/// `sum` does before Python 3.12 (the reference's venv runs 3.11; 3.12 compensates).
#[derive(Debug, Default, Clone, Copy)]
struct Mean {
    sum: f64,
    count: usize,
}

impl Mean {
    fn push(&mut self, v: f64) {
        self.sum += v;
        self.count += 1;
    }
    fn value(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
}

/// Aggregates one batch of trajectory groups into row averages and builder additions.
///
/// Feed it with [`begin_group`](Self::begin_group), [`add_trajectory`](Self::add_trajectory)
/// and [`end_group`](Self::end_group) in batch order, then [`finish`](Self::finish).
#[derive(Debug, Default)]
pub struct BatchAggregator {
    means: Ordered<Mean>,
    group_means: Ordered<Mean>,
    group_plain: Vec<(String, f64)>,
    std_devs: Vec<f64>,
    rewards: Vec<f64>,
    builder_adds: Vec<(String, f64)>,
    scenario_ids: Vec<String>,
    seen_ids: HashSet<String>,
    group_scenario: Option<String>,
    num_groups: usize,
    num_items: usize,
    num_trainable: usize,
}

/// What a batch contributes to a row.
#[derive(Debug, Default)]
pub struct BatchSummary {
    /// reward, exception_rate, trajectory metrics, `group_*`, reward_std_dev: in row order.
    pub averages: Ordered<Number>,
    /// Builder-managed values from groups and trajectories, in the order they were met.
    pub builder_adds: Vec<(String, f64)>,
    /// `data/step_*` counts of the batch, in the reference's order.
    pub data_metrics: Vec<(&'static str, f64)>,
    /// Distinct scenario ids of the batch, in first-seen order.
    pub scenario_ids: Vec<String>,
}

impl BatchAggregator {
    pub fn new() -> Self {
        Self {
            means: Self::base_means(),
            ..Self::default()
        }
    }

    fn base_means() -> Ordered<Mean> {
        let mut means = Ordered::default();
        set(&mut means, "reward", Mean::default());
        set(&mut means, "exception_rate", Mean::default());
        means
    }

    /// Starts a group: its metrics (routed now, averaged only if it has trajectories),
    /// its scenario id from metadata, and how many trajectories and exceptions it holds.
    pub fn begin_group<'a>(
        &mut self,
        metrics: impl IntoIterator<Item = (&'a str, f64)>,
        scenario_id: Option<String>,
        num_trajectories: usize,
        num_exceptions: usize,
    ) -> CoreResult<()> {
        self.group_plain.clear();
        for (key, value) in metrics {
            match route(key)? {
                Route::Builder => self.builder_adds.push((key.to_owned(), value)),
                Route::Plain => self.group_plain.push((key.to_owned(), value)),
            }
        }
        if num_trajectories > 0 {
            for (key, value) in self.group_plain.drain(..) {
                entry_or_insert(&mut self.group_means, &key, Mean::default).push(value);
            }
        }
        let rate = entry_or_insert(&mut self.means, "exception_rate", Mean::default);
        for _ in 0..num_trajectories {
            rate.push(0.0);
        }
        for _ in 0..num_exceptions {
            rate.push(1.0);
        }
        self.group_scenario = scenario_id;
        self.rewards.clear();
        self.num_groups += 1;
        self.num_items += num_trajectories + num_exceptions;
        Ok(())
    }

    /// Adds one trajectory of the current group.
    pub fn add_trajectory<'a>(
        &mut self,
        reward: f64,
        metrics: impl IntoIterator<Item = (&'a str, f64)>,
        scenario_id: Option<String>,
    ) -> CoreResult<()> {
        entry_or_insert(&mut self.means, "reward", Mean::default).push(reward);
        self.rewards.push(reward);
        for (key, value) in metrics {
            match route(key)? {
                Route::Builder => self.builder_adds.push((key.to_owned(), value)),
                Route::Plain => entry_or_insert(&mut self.means, key, Mean::default).push(value),
            }
        }
        if self.group_scenario.is_none() {
            self.group_scenario = scenario_id;
        }
        Ok(())
    }

    /// Closes the current group: its reward spread, trainability and scenario id.
    pub fn end_group(&mut self) {
        if self.rewards.len() > 1 {
            self.std_devs.push(numpy_std(&self.rewards));
            // Python's `len(set(rewards)) > 1`; NaN never equals itself, so it counts as distinct.
            let first = self.rewards[0];
            if self.rewards.iter().any(|r| *r != first) {
                self.num_trainable += 1;
            }
        }
        if let Some(id) = self.group_scenario.take()
            && self.seen_ids.insert(id.clone())
        {
            self.scenario_ids.push(id);
        }
    }

    /// The batch's averages and builder values for a row of `split`.
    pub fn finish(self, split: &str) -> BatchSummary {
        let mut averages: Ordered<Number> = Ordered::default();
        for (key, mean) in self.means.iter() {
            if let Some(v) = mean.value() {
                set(&mut averages, key, Number::Float(v));
            }
        }
        for (key, mean) in self.group_means.iter() {
            if let Some(v) = mean.value() {
                set(&mut averages, &format!("group_{key}"), Number::Float(v));
            }
        }
        let std_dev = if self.std_devs.is_empty() {
            Number::Int(0)
        } else {
            let mut sum = 0.0;
            for s in &self.std_devs {
                sum += s;
            }
            Number::Float(sum / self.std_devs.len() as f64)
        };
        set(&mut averages, "reward_std_dev", std_dev);

        let mut data_metrics = Vec::new();
        if STANDARD_SPLITS.contains(&split) {
            data_metrics.push(("data/step_num_scenarios", self.num_groups as f64));
            data_metrics.push(("data/step_num_trajectories", self.num_items as f64));
            data_metrics.push(("data/step_num_groups_submitted", self.num_groups as f64));
            if split == "train" {
                data_metrics.push(("data/step_num_groups_trainable", self.num_trainable as f64));
            }
        }
        BatchSummary {
            averages,
            builder_adds: self.builder_adds,
            data_metrics,
            scenario_ids: if STANDARD_SPLITS.contains(&split) {
                self.scenario_ids
            } else {
                Vec::new()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_averages_in_reference_order() {
        let mut a = BatchAggregator::new();
        a.begin_group(
            [("difficulty", 0.25), ("costs/x", 1.0)],
            Some("s1".into()),
            2,
            1,
        )
        .unwrap();
        a.add_trajectory(1.0, [("correct", 1.0), ("num_turns", 2.0)], None)
            .unwrap();
        a.add_trajectory(0.0, [("correct", 0.0)], Some("other".into()))
            .unwrap();
        a.end_group();
        a.begin_group([("difficulty", 1.0)], None, 1, 0).unwrap();
        a.add_trajectory(0.5, [("time/step_x", 2.0)], Some("s2".into()))
            .unwrap();
        a.end_group();
        let s = a.finish("train");
        let keys: Vec<&str> = s.averages.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "reward",
                "exception_rate",
                "correct",
                "num_turns",
                "group_difficulty",
                "reward_std_dev"
            ]
        );
        assert_eq!(s.averages.get("reward"), Some(&Number::Float(0.5)));
        assert_eq!(s.averages.get("exception_rate"), Some(&Number::Float(0.25)));
        assert_eq!(s.averages.get("num_turns"), Some(&Number::Float(2.0)));
        assert_eq!(
            s.averages.get("group_difficulty"),
            Some(&Number::Float(0.625))
        );
        assert_eq!(s.averages.get("reward_std_dev"), Some(&Number::Float(0.5)));
        assert_eq!(
            s.builder_adds,
            [("costs/x".into(), 1.0), ("time/step_x".into(), 2.0)]
        );
        assert_eq!(s.scenario_ids, ["s1", "s2"]);
        assert_eq!(s.data_metrics[1], ("data/step_num_trajectories", 4.0));
        assert_eq!(s.data_metrics[3], ("data/step_num_groups_trainable", 1.0));
    }

    #[test]
    fn empty_batch_and_exception_only_groups() {
        let s = BatchAggregator::new().finish("val");
        assert_eq!(s.averages.len(), 1);
        assert_eq!(s.averages.get("reward_std_dev"), Some(&Number::Int(0)));
        let mut a = BatchAggregator::new();
        a.begin_group([("solved", 1.0)], None, 0, 2).unwrap();
        a.end_group();
        let s = a.finish("custom");
        assert_eq!(s.averages.get("exception_rate"), Some(&Number::Float(1.0)));
        assert!(s.averages.get("group_solved").is_none());
        assert!(s.averages.get("reward").is_none());
        assert!(s.data_metrics.is_empty());
    }
}
