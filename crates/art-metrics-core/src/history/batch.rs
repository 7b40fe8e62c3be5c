//! One batch of trajectory groups aggregated into a row's averages and builder additions,
//! in the order the run's openpipe-art version computes them (its `Dialect`: key shapes,
//! row order, trainability, where the default data counts go), so rows agree with the
//! reference to the last bit where the reference is deterministic.

use indexmap::{IndexMap, IndexSet};
use rustc_hash::FxBuildHasher;

use super::numpy::numpy_std;
use super::routing::{Route, STANDARD_SPLITS, route};
use crate::error::CoreResult;
use crate::metrics::dialect::{BatchKeys, BatchPart, DefaultData, Dialect};

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
#[derive(Debug)]
pub struct BatchAggregator {
    dialect: &'static Dialect,
    /// `reward`, `exception_rate`, then (with bare batch keys) the trajectory metrics: a
    /// trajectory metric named `reward` is averaged with the rewards, as in 0.5.18.
    means: Ordered<Mean>,
    /// Trajectory metrics, where the dialect keys them under the split (`{split}/m`).
    traj_means: Ordered<Mean>,
    group_means: Ordered<Mean>,
    group_plain: Vec<(String, f64)>,
    std_devs: Vec<f64>,
    rewards: Vec<f64>,
    builder_adds: Vec<(String, f64)>,
    /// Distinct scenario ids, first-seen order.
    scenario_ids: IndexSet<String, FxBuildHasher>,
    group_scenario: Option<String>,
    num_groups: usize,
    num_items: usize,
    num_trainable: usize,
    /// The caller's own metric names (trajectory: false, group: true), first-seen order;
    /// only collected where the dialect's W&B filter needs them.
    caller: Ordered<bool>,
    /// Where the previous trajectory's metrics went, by position: trajectories of a batch
    /// nearly always carry the same keys in the same order, so a key equal to the one at its
    /// position last time skips routing and hashing.
    slots: Vec<(String, Slot)>,
}

/// Where a trajectory metric goes: the builder, or the mean at an index of `means` or
/// `traj_means` (indices of an insertion-ordered map never move: nothing is removed).
#[derive(Debug, Clone, Copy)]
enum Slot {
    Builder,
    Mean(usize),
}

/// `a == b` for the short keys of trajectory metrics, compared in place: `==` on `str` calls
/// `memcmp`, 7% of reading a batch's metrics (issue #20).
#[inline]
fn same_key(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Where `reward` and `exception_rate` are in [`BatchAggregator`]'s means.
const REWARD: usize = 0;
const EXCEPTION_RATE: usize = 1;

/// What a batch contributes to a row.
#[derive(Debug, Default)]
pub struct BatchSummary {
    /// reward, exception_rate, trajectory metrics, group metrics, reward_std_dev, keyed and
    /// ordered as the dialect writes them.
    pub averages: Ordered<Number>,
    /// Where in `averages` the row's data counts (`row_data`) go.
    pub row_data_at: usize,
    /// val/test `data/step_*` counts written into the row as `{split}/data/step_*` (dialects
    /// that do not total them).
    pub row_data: Vec<(&'static str, f64)>,
    /// The caller's own trajectory and group metric keys, before qualification (where the
    /// dialect's W&B filter needs them).
    pub caller_keys: Vec<String>,
    /// Builder-managed values from groups and trajectories, in the order they were met.
    pub builder_adds: Vec<(String, f64)>,
    /// `data/step_*` counts of the batch for the builder, in the reference's order.
    pub data_metrics: Vec<(&'static str, f64)>,
    /// Distinct scenario ids of the batch, in first-seen order.
    pub scenario_ids: Vec<String>,
}

impl Default for BatchAggregator {
    fn default() -> Self {
        Self::new()
    }
}

impl BatchAggregator {
    /// An aggregator with 0.5.18's rules.
    pub fn new() -> Self {
        Self::with_dialect(crate::metrics::ArtVersion::default().dialect())
    }

    pub fn with_dialect(dialect: &'static Dialect) -> Self {
        Self {
            dialect,
            means: Self::base_means(),
            traj_means: Ordered::default(),
            group_means: Ordered::default(),
            group_plain: Vec::new(),
            std_devs: Vec::new(),
            rewards: Vec::new(),
            builder_adds: Vec::new(),
            scenario_ids: IndexSet::default(),
            group_scenario: None,
            num_groups: 0,
            num_items: 0,
            num_trainable: 0,
            caller: Ordered::default(),
            slots: Vec::new(),
        }
    }

    fn note_caller(&mut self, key: &str, group: bool) {
        if self.dialect.wandb.filter.is_some() && !self.caller.contains_key(key) {
            self.caller.insert(key.to_owned(), group);
        }
    }

    /// `reward` and `exception_rate`, at [`REWARD`] and [`EXCEPTION_RATE`] (an index of an
    /// insertion-ordered map never moves: nothing is removed).
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
            match route(key, self.dialect)? {
                Route::Builder => self.builder_adds.push((key.to_owned(), value)),
                Route::Plain => {
                    self.note_caller(key, true);
                    self.group_plain.push((key.to_owned(), value));
                }
            }
        }
        if num_trajectories > 0 {
            for (key, value) in self.group_plain.drain(..) {
                entry_or_insert(&mut self.group_means, &key, Mean::default).push(value);
            }
        }
        let rate = &mut self.means[EXCEPTION_RATE];
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
        self.begin_trajectory(reward);
        for (i, (key, value)) in metrics.into_iter().enumerate() {
            self.trajectory_metric(i, key, value)?;
        }
        self.end_trajectory(scenario_id);
        Ok(())
    }

    /// Starts one trajectory of the current group (then [`trajectory_metric`] for each of
    /// its metrics, in order, and [`end_trajectory`]): what [`add_trajectory`] does, for a
    /// caller that reads the metrics one by one.
    ///
    /// [`trajectory_metric`]: Self::trajectory_metric
    /// [`end_trajectory`]: Self::end_trajectory
    /// [`add_trajectory`]: Self::add_trajectory
    pub fn begin_trajectory(&mut self, reward: f64) {
        self.means[REWARD].push(reward);
        self.rewards.push(reward);
    }

    /// The trajectory's metric at position `index` of its metrics.
    pub fn trajectory_metric(&mut self, index: usize, key: &str, value: f64) -> CoreResult<()> {
        let slot = match self.slots.get(index) {
            Some((known, slot)) if same_key(known, key) => *slot,
            _ => {
                let slot = self.new_slot(key)?;
                self.slots.truncate(index);
                self.slots.push((key.to_owned(), slot));
                slot
            }
        };
        match slot {
            Slot::Builder => self.builder_adds.push((key.to_owned(), value)),
            Slot::Mean(at) => self.trajectory_means()[at].push(value),
        }
        Ok(())
    }

    /// Ends the trajectory: its scenario id counts if the group has none yet.
    pub fn end_trajectory(&mut self, scenario_id: Option<String>) {
        if self.group_scenario.is_none() {
            self.group_scenario = scenario_id;
        }
    }

    /// Whether the current group still takes a scenario id from its trajectories (the
    /// first one found counts): callers can skip reading the others'.
    pub fn wants_scenario_id(&self) -> bool {
        self.group_scenario.is_none()
    }

    fn trajectory_means(&mut self) -> &mut Ordered<Mean> {
        match self.dialect.batch_keys {
            BatchKeys::Bare => &mut self.means,
            BatchKeys::SplitFirst => &mut self.traj_means,
        }
    }

    /// Routes a trajectory metric key met for the first time at its position.
    fn new_slot(&mut self, key: &str) -> CoreResult<Slot> {
        Ok(match route(key, self.dialect)? {
            Route::Builder => Slot::Builder,
            Route::Plain => {
                self.note_caller(key, false);
                let means = self.trajectory_means();
                match means.get_index_of(key) {
                    Some(at) => Slot::Mean(at),
                    None => Slot::Mean(means.insert_full(key.to_owned(), Mean::default()).0),
                }
            }
        })
    }

    /// Closes the current group: its reward spread, trainability and scenario id.
    pub fn end_group(&mut self) {
        if self.rewards.len() > 1 {
            self.std_devs.push(numpy_std(&self.rewards));
        }
        if self.dialect.is_trainable(&self.rewards) {
            self.num_trainable += 1;
        }
        if let Some(id) = self.group_scenario.take() {
            self.scenario_ids.insert(id);
        }
    }

    /// The batch's averages and builder values for a row of `split`.
    pub fn finish(self, split: &str) -> BatchSummary {
        let d = self.dialect;
        let mut averages: Ordered<Number> = Ordered::default();
        let mut row_data_at = 0;
        let stat = |name: &str| d.batch_stat_key(split, name);
        for part in d.batch_order {
            match part {
                BatchPart::Reward | BatchPart::ExceptionRate => {
                    let name = if *part == BatchPart::Reward {
                        "reward"
                    } else {
                        "exception_rate"
                    };
                    if let Some(v) = self.means.get(name).and_then(Mean::value) {
                        set(&mut averages, &stat(name), Number::Float(v));
                    }
                }
                BatchPart::Trajectory => {
                    // With bare keys the trajectory metrics follow reward and exception_rate
                    // in `means`; otherwise they have their own map.
                    let (means, skip) = match d.batch_keys {
                        BatchKeys::Bare => (&self.means, 2),
                        BatchKeys::SplitFirst => (&self.traj_means, 0),
                    };
                    for (key, mean) in means.iter().skip(skip) {
                        if let Some(v) = mean.value() {
                            set(
                                &mut averages,
                                &d.batch_metric_key(split, key, false),
                                Number::Float(v),
                            );
                        }
                    }
                }
                BatchPart::EvalData => row_data_at = averages.len(),
                BatchPart::Group => {
                    for (key, mean) in &self.group_means {
                        if let Some(v) = mean.value() {
                            set(
                                &mut averages,
                                &d.batch_metric_key(split, key, true),
                                Number::Float(v),
                            );
                        }
                    }
                }
                BatchPart::RewardStdDev => {
                    let std_dev = if self.std_devs.is_empty() {
                        Number::Int(0)
                    } else {
                        let mut sum = 0.0;
                        for s in &self.std_devs {
                            sum += s;
                        }
                        Number::Float(sum / self.std_devs.len() as f64)
                    };
                    set(&mut averages, &stat("reward_std_dev"), std_dev);
                }
            }
        }

        let mut counts = Vec::new();
        if STANDARD_SPLITS.contains(&split) {
            counts.push(("data/step_num_scenarios", self.num_groups as f64));
            counts.push(("data/step_num_trajectories", self.num_items as f64));
            counts.push(("data/step_num_groups_submitted", self.num_groups as f64));
            if split == "train" {
                counts.push(("data/step_num_groups_trainable", self.num_trainable as f64));
            }
        }
        let to_builder = match d.default_data {
            DefaultData::AllToBuilder => STANDARD_SPLITS.contains(&split),
            DefaultData::TrainToBuilderEvalToRow => split == "train",
        };
        let (data_metrics, row_data, scenario_ids) = if to_builder {
            (counts, Vec::new(), self.scenario_ids.into_iter().collect())
        } else {
            (Vec::new(), counts, Vec::new())
        };
        let caller_keys = self
            .caller
            .iter()
            .map(|(key, group)| d.batch_metric_key(split, key, *group))
            .collect();
        BatchSummary {
            averages,
            row_data_at,
            row_data,
            caller_keys,
            builder_adds: self.builder_adds,
            data_metrics,
            scenario_ids,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::ArtVersion;

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

    /// The per-position key cache must not carry a slot to another key: keys that move,
    /// change, appear or vanish between trajectories still land where they belong.
    #[test]
    fn keys_that_change_position_between_trajectories() {
        for dialect in [ArtVersion::V0_5_18.dialect(), ArtVersion::V0_5_23.dialect()] {
            let mut a = BatchAggregator::with_dialect(dialect);
            a.begin_group([], None, 5, 0).unwrap();
            a.add_trajectory(1.0, [("a", 1.0), ("b", 10.0)], None)
                .unwrap();
            a.add_trajectory(1.0, [("b", 20.0), ("a", 3.0)], None)
                .unwrap();
            a.add_trajectory(1.0, [("a", 5.0), ("costs/x", 0.5)], None)
                .unwrap();
            a.add_trajectory(1.0, [("costs/x", 0.25), ("c", 7.0), ("b", 30.0)], None)
                .unwrap();
            a.add_trajectory(1.0, [], None).unwrap();
            a.end_group();
            let s = a.finish("train");
            let mean = |k: &str| {
                let key = dialect.batch_stat_key("train", k);
                s.averages.get(&key).or_else(|| s.averages.get(k)).copied()
            };
            assert_eq!(mean("a"), Some(Number::Float(3.0)));
            assert_eq!(mean("b"), Some(Number::Float(20.0)));
            assert_eq!(mean("c"), Some(Number::Float(7.0)));
            assert_eq!(
                s.builder_adds,
                [("costs/x".into(), 0.5), ("costs/x".into(), 0.25)]
            );
            let mut b = BatchAggregator::with_dialect(dialect);
            b.begin_group([], None, 1, 0).unwrap();
            assert!(
                b.add_trajectory(1.0, [("a", 1.0), ("costs_old", 1.0)], None)
                    .is_err()
            );
        }
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

    fn batch_0523() -> BatchAggregator {
        let mut a = BatchAggregator::with_dialect(crate::metrics::ArtVersion::V0_5_23.dialect());
        a.begin_group(
            [("difficulty", 0.25), ("throughput/step_x", 3.0)],
            Some("s1".into()),
            3,
            1,
        )
        .unwrap();
        for r in [1e-12, 0.0, 2e-12] {
            a.add_trajectory(r, [("reward", 5.0), ("loss/kl", 1.0)], None)
                .unwrap();
        }
        a.end_group();
        a.begin_group([("only_exceptions", 1.0)], None, 0, 1)
            .unwrap();
        a.end_group();
        a
    }

    #[test]
    fn batch_rows_in_0523_order_and_shape() {
        let s = batch_0523().finish("val");
        let keys: Vec<&str> = s.averages.iter().map(|(k, _)| k.as_str()).collect();
        // A trajectory metric named reward keeps its place and takes the reward mean.
        assert_eq!(
            keys,
            [
                "val/reward",
                "val/loss/kl",
                "val/group/difficulty",
                "val/group/throughput/step_x",
                "val/reward_std_dev",
                "val/exception_rate"
            ]
        );
        assert_eq!(s.averages.get("val/reward"), Some(&Number::Float(1e-12)));
        assert_eq!(s.row_data_at, 2);
        assert!(s.data_metrics.is_empty() && s.scenario_ids.is_empty());
        assert_eq!(s.row_data[0], ("data/step_num_scenarios", 2.0));
        assert_eq!(
            s.caller_keys,
            [
                "val/group/difficulty",
                "val/group/throughput/step_x",
                "val/reward",
                "val/loss/kl",
                "val/group/only_exceptions"
            ]
        );
        let s = batch_0523().finish("train");
        assert!(s.row_data.is_empty());
        // Rewards within 1e-12 of the first one: not trainable.
        assert_eq!(s.data_metrics[3], ("data/step_num_groups_trainable", 0.0));
        assert_eq!(s.scenario_ids, ["s1"]);
    }
}
