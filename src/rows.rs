//! The rules of one `Model.log` row: splits, metric routing, batch averages and key prefixes.
//!
//! Everything here is arithmetic over plain values, in the order openpipe-art 0.5.18 computes
//! it, so rows agree with the reference to the last bit where the reference is deterministic.

use std::collections::HashSet;

use crate::error::{CoreError, CoreResult};
use crate::keys;
pub use crate::ordered::OrderedValues;

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

/// numpy's pairwise summation (`umr_sum` on a contiguous 1-D float64 array), bit for bit.
pub fn numpy_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0;
        for x in a {
            res += x;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - (n % 8) {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for x in &a[i..] {
            res += x;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        numpy_sum(&a[..n2]) + numpy_sum(&a[n2..])
    }
}

/// `numpy.std(a)`: the population standard deviation (ddof=0), computed as numpy does.
pub fn numpy_std(a: &[f64]) -> f64 {
    let n = a.len() as f64;
    let mean = numpy_sum(a) / n;
    let squares: Vec<f64> = a.iter().map(|x| (x - mean) * (x - mean)).collect();
    (numpy_sum(&squares) / n).sqrt()
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
    means: OrderedValues<Mean>,
    group_means: OrderedValues<Mean>,
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
    pub averages: OrderedValues<Number>,
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

    fn base_means() -> OrderedValues<Mean> {
        let mut means = OrderedValues::default();
        means.set("reward", Mean::default());
        means.set("exception_rate", Mean::default());
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
                self.group_means
                    .get_mut_or_insert_with(&key, Mean::default)
                    .push(value);
            }
        }
        let rate = self
            .means
            .get_mut_or_insert_with("exception_rate", Mean::default);
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
        self.means
            .get_mut_or_insert_with("reward", Mean::default)
            .push(reward);
        self.rewards.push(reward);
        for (key, value) in metrics {
            match route(key)? {
                Route::Builder => self.builder_adds.push((key.to_owned(), value)),
                Route::Plain => self
                    .means
                    .get_mut_or_insert_with(key, Mean::default)
                    .push(value),
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
        let mut averages: OrderedValues<Number> = OrderedValues::default();
        for (key, mean) in self.means.iter() {
            if let Some(v) = mean.value() {
                averages.set(key, Number::Float(v));
            }
        }
        for (key, mean) in self.group_means.iter() {
            if let Some(v) = mean.value() {
                averages.set(&format!("group_{key}"), Number::Float(v));
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
        averages.set("reward_std_dev", std_dev);

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

    #[test]
    fn numpy_std_matches_known_values() {
        assert_eq!(numpy_std(&[1.0, 0.0]), 0.5);
        assert_eq!(numpy_std(&[0.5, 0.5, 0.5]), 0.0);
        // 20 values exercise the unrolled path: std of 0..20 is sqrt(33.25).
        let v: Vec<f64> = (0..20).map(f64::from).collect();
        assert!((numpy_std(&v) - 33.25f64.sqrt()).abs() < 1e-12);
        let v: Vec<f64> = (0..1000).map(|i| f64::from(i) * 0.1).collect();
        assert!((numpy_sum(&v) - 49950.0).abs() < 1e-6);
    }

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
        let keys: Vec<&str> = s.averages.iter().map(|(k, _)| k).collect();
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
