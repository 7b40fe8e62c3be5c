//! What a flush derives from one step's leaves: cost rollups, running totals, throughput.

use rustc_hash::{FxBuildHasher, FxHashMap};

use crate::metrics::buffer::StepBuffer;
use crate::metrics::dialect::Dialect;
use crate::metrics::keys::{self, CUMULATIVE_SECTIONS};
use crate::metrics::sum::ExactSum;
use crate::metrics::totals::Totals;

/// A flushed step: `(key, value)` pairs in emission order (leaves in the order recorded, then
/// rollups, running totals and throughput).
///
/// As in a dict built from the pairs, a later pair replaces an earlier one with the same key:
/// `costs/all` replaces a leaf of that name, a running total shared by two step keys
/// (`time/step_x`, `time/x`) is emitted after each add and the last is the full total.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct StepMetrics(pub Vec<(String, f64)>);

impl StepMetrics {
    /// The value of `key`, as a dict built from the pairs would hold it.
    pub fn get(&self, key: &str) -> Option<f64> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Index<&str> for StepMetrics {
    type Output = f64;
    fn index(&self, key: &str) -> &f64 {
        let (_, v) = self
            .0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("no metric {key}"));
        v
    }
}

/// A flushed step as [`flush_step`] returns it: the pairs of a [`StepMetrics`], their keys
/// back to back in one buffer.
///
/// A flush of 5,000 cost parents returns 20,000 pairs; a `String` each made most of its
/// allocations, and freeing them a tenth of its time (issue #20).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FlatMetrics {
    keys: String,
    /// Each pair's value and where its key ends in `keys` (it starts where the previous
    /// one ends).
    pairs: Vec<(usize, f64)>,
}

impl FlatMetrics {
    fn with_capacity(pairs: usize, key_bytes: usize) -> Self {
        FlatMetrics {
            keys: String::with_capacity(key_bytes),
            pairs: Vec::with_capacity(pairs),
        }
    }

    fn push(&mut self, key: &str, value: f64) {
        self.keys.push_str(key);
        self.pairs.push((self.keys.len(), value));
    }

    /// The pairs, in emission order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, f64)> {
        let mut start = 0;
        self.pairs.iter().map(move |&(end, value)| {
            let key = &self.keys[start..end];
            start = end;
            (key, value)
        })
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The value of `key`, as a dict built from the pairs would hold it.
    pub fn get(&self, key: &str) -> Option<f64> {
        self.iter()
            .filter(|(k, _)| *k == key)
            .last()
            .map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.iter().any(|(k, _)| k == key)
    }
}

impl std::ops::Index<&str> for FlatMetrics {
    type Output = f64;
    fn index(&self, key: &str) -> &f64 {
        let mut start = 0;
        let mut found = None;
        for (end, value) in &self.pairs {
            if &self.keys[start..*end] == key {
                found = Some(value);
            }
            start = *end;
        }
        found.unwrap_or_else(|| panic!("no metric {key}"))
    }
}

impl From<FlatMetrics> for StepMetrics {
    fn from(flat: FlatMetrics) -> Self {
        StepMetrics(flat.iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }
}

/// Sums of the cost leaves below each ancestor at depth two or more, plus `costs/all`. The
/// ancestors' keys are borrowed from the leaves' (each is a prefix of one).
///
/// Linear in leaves × depth: each leaf adds itself to each of its ancestors once.
pub fn rollup_costs<'a>(
    leaves: impl Iterator<Item = (&'a str, &'a ExactSum)>,
) -> Vec<(&'a str, ExactSum)> {
    let mut parents: FxHashMap<&str, ExactSum> =
        FxHashMap::with_capacity_and_hasher(leaves.size_hint().0, FxBuildHasher);
    let mut all: Option<ExactSum> = None;
    for (key, value) in leaves.filter(|(k, _)| k.starts_with("costs/")) {
        all.get_or_insert_default().merge(value);
        for parent in keys::rollup_ancestors(key) {
            parents.entry(parent).or_default().merge(value);
        }
    }
    let mut out: Vec<(&str, ExactSum)> = parents.into_iter().collect();
    // The reference emits these in set order (hash-dependent); sorted is at least stable.
    out.sort_unstable_by(|a, b| a.0.cmp(b.0));
    if let Some(all) = all {
        out.push(("costs/all", all));
    }
    out
}

/// Turns one drained step into its metrics, updating the shared running totals, by the rules
/// of `dialect` (idle totals, the recomputed ratio, throughput inputs).
pub fn flush_step(step: StepBuffer, totals: &mut Totals, dialect: &Dialect) -> FlatMetrics {
    // What the rules after the totals read from the step, so its leaves can be moved out.
    let ratio = dialect.ratio.filter(|r| step.get(r.step_key).is_some());
    let idle: Vec<(&str, ExactSum)> = dialect
        .idle_totals
        .iter()
        .filter_map(|&(step_key, cum_key)| step.get(step_key).map(|v| (cum_key, *v)))
        .collect();
    let throughputs: Vec<_> = dialect
        .throughputs
        .iter()
        .filter(|t| t.triggers.iter().any(|k| step.get(k).is_some()))
        .collect();
    let (leaves, ids) = step.into_parts();
    let rollups = rollup_costs(leaves.iter().map(|(k, v)| (k.as_str(), v)));
    // Leaves and rollups, each with its running total. `costs/all` is never kept as a leaf:
    // the rollup of every cost replaces it, as in the reference.
    let values = || {
        leaves
            .iter()
            .filter(|(k, _)| k != "costs/all")
            .map(|(k, v)| (k.as_str(), *v))
            .chain(rollups.iter().copied())
    };
    let (count, key_bytes) = values().fold((0, 0), |(n, b), (k, _)| (n + 1, b + k.len()));
    // Each value, then (most of them) its running total, whose key is 5 bytes longer.
    let mut out = FlatMetrics::with_capacity(2 * count + 4, 2 * key_bytes + 5 * count + 64);
    for (key, value) in values() {
        out.push(key, value.value());
    }
    let mut cum_key = String::new();
    for (key, value) in values() {
        let recomputed = dialect.ratio.is_some_and(|r| r.step_key == key);
        if CUMULATIVE_SECTIONS.contains(&keys::section(key)) && !recomputed {
            keys::write_cumulative_key(key, &mut cum_key);
            let total = totals.add(&cum_key, &value);
            out.push(&cum_key, total);
        }
    }

    // A ratio of totals is not summed: recomputed from the totals after this step's, and
    // stored over whatever the total held.
    if let Some(ratio) = ratio {
        let total = |k: &str| totals.get(k).unwrap_or(0.0);
        let numerator = total(ratio.numerators[0]) + total(ratio.numerators[1]);
        let denominator = total(ratio.denominator);
        let value = if denominator == 0.0 {
            0.0
        } else {
            numerator / denominator
        };
        totals.set(ratio.total_key, value);
        out.push(ratio.total_key, value);
    }

    if !ids.is_empty() {
        let unique = totals.add_scenarios(ids.iter());
        out.push("data/cum/num_unique_scenarios", unique as f64);
    }

    for (cum_key, value) in idle {
        let total = totals.add(cum_key, &value);
        out.push(cum_key, total);
    }

    for t in throughputs {
        if let (Some(tokens), Some(seconds)) = (totals.get(t.tokens), totals.get(t.seconds))
            && seconds > 0.0
        {
            out.push(t.out, tokens / seconds);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::ArtVersion;

    fn flush_step(step: StepBuffer, totals: &mut Totals) -> FlatMetrics {
        super::flush_step(step, totals, ArtVersion::V0_5_18.dialect())
    }

    fn flush_0523(step: StepBuffer, totals: &mut Totals) -> FlatMetrics {
        super::flush_step(step, totals, ArtVersion::V0_5_23.dialect())
    }

    fn step(pairs: &[(&str, f64)]) -> StepBuffer {
        let mut b = StepBuffer::default();
        for (k, v) in pairs {
            b.add(k, *v).unwrap();
        }
        b
    }

    #[test]
    fn rollups_at_every_depth_and_all() {
        let mut t = Totals::default();
        let r = flush_step(
            step(&[
                ("costs/train/llm_judge/correctness", 1.0),
                ("costs/train/llm_judge/style", 2.0),
                ("costs/eval/judge", 4.0),
                ("costs/gpu", 8.0),
            ]),
            &mut t,
        );
        assert_eq!(r["costs/train"], 3.0);
        assert_eq!(r["costs/train/llm_judge"], 3.0);
        assert_eq!(r["costs/eval"], 4.0);
        assert_eq!(r["costs/all"], 15.0);
        assert_eq!(r["costs/cum/all"], 15.0);
        assert_eq!(r["costs/cum/train"], 3.0);
        assert_eq!(r["costs/cum/gpu"], 8.0);
        assert_eq!(r["costs/cum/train/llm_judge/style"], 2.0);
        assert!(!r.contains_key("costs/llm_judge"));
    }

    #[test]
    fn cumulative_totals_grow_across_flushes() {
        let mut t = Totals::default();
        flush_step(
            step(&[("time/step_actor_s", 2.0), ("costs/a", 1.0)]),
            &mut t,
        );
        let r = flush_step(step(&[("time/step_actor_s", 3.0)]), &mut t);
        assert_eq!(r["time/cum/actor_s"], 5.0);
        assert!(
            !r.contains_key("costs/all"),
            "a step without costs emits no costs key"
        );
        assert!(!r.contains_key("costs/cum/all"));
    }

    #[test]
    fn empty_flush_is_empty() {
        let mut t = Totals::default();
        flush_step(
            step(&[("time/step_actor_s", 2.0), ("data/step_actor_tokens", 10.0)]),
            &mut t,
        );
        assert!(flush_step(StepBuffer::default(), &mut t).is_empty());
    }

    #[test]
    fn a_costs_all_leaf_is_replaced_by_the_total() {
        let mut t = Totals::default();
        let r = flush_step(step(&[("costs/all", 1.0), ("costs/train/x", 2.0)]), &mut t);
        assert_eq!(r["costs/all"], 3.0);
        assert_eq!(r["costs/cum/all"], 3.0);
    }

    #[test]
    fn two_keys_sharing_a_total() {
        let mut t = Totals::default();
        let r = flush_step(step(&[("time/step_x", 1.0), ("time/x", 2.0)]), &mut t);
        assert_eq!(r["time/cum/x"], 3.0);
    }

    #[test]
    fn unique_scenarios() {
        let mut t = Totals::default();
        let mut b = StepBuffer::default();
        b.add_scenario_ids(["a", "b"]);
        assert_eq!(flush_step(b, &mut t)["data/cum/num_unique_scenarios"], 2.0);
        let mut b = StepBuffer::default();
        b.add_scenario_ids(["b", "c"]);
        assert_eq!(flush_step(b, &mut t)["data/cum/num_unique_scenarios"], 3.0);
        let r = flush_step(step(&[("data/step_num_scenarios", 1.0)]), &mut t);
        assert!(!r.contains_key("data/cum/num_unique_scenarios"));
    }

    #[test]
    fn idle_totals_and_throughput() {
        let mut t = Totals::default();
        let r = flush_step(
            step(&[
                ("throughput/step_actor_idle_s", 1.5),
                ("data/step_actor_tokens", 100.0),
                ("time/step_actor_s", 4.0),
            ]),
            &mut t,
        );
        assert_eq!(r["throughput/cum/actor_idle_s"], 1.5);
        assert_eq!(r["throughput/avg_actor_tok_per_s"], 25.0);
        assert!(!r.contains_key("throughput/avg_trainer_tok_per_s"));
        // Tokens alone still emit the average from the running totals.
        let r = flush_step(step(&[("data/step_actor_tokens", 100.0)]), &mut t);
        assert_eq!(r["throughput/avg_actor_tok_per_s"], 50.0);
    }

    #[test]
    fn throughput_needs_positive_seconds() {
        let mut t = Totals::default();
        let r = flush_step(
            step(&[
                ("data/step_trainer_tokens", 100.0),
                ("time/step_trainer_s", 0.0),
            ]),
            &mut t,
        );
        assert!(!r.contains_key("throughput/avg_trainer_tok_per_s"));
    }

    #[test]
    fn idle_times_are_time_keys_in_0523() {
        let mut t = Totals::default();
        let r = flush_0523(
            step(&[
                ("time/step_rollout_idle_s", 1.5),
                ("throughput/step_actor_idle_s", 2.0),
                ("data/step_rollout_tokens", 100.0),
                ("time/step_rollout_s", 4.0),
                ("data/step_trainer_tokens", 10.0),
                ("time/step_trainer_s", 1.0),
            ]),
            &mut t,
        );
        assert_eq!(r["time/cum/rollout_idle_s"], 1.5);
        assert!(!r.contains_key("throughput/cum/actor_idle_s"));
        assert_eq!(r["throughput/avg_rollout_tok_per_s"], 25.0);
        // 0.5.18's trainer inputs are ordinary keys now.
        assert!(!r.contains_key("throughput/avg_trainer_tok_per_s"));
        assert!(!r.contains_key("throughput/avg_actor_tok_per_s"));
        let r = flush_0523(
            step(&[
                ("data/step_trainable_assistant_tokens", 300.0),
                ("time/step_backend_train_s", 2.0),
            ]),
            &mut t,
        );
        assert_eq!(r["throughput/avg_trainer_tok_per_s"], 150.0);
    }

    #[test]
    fn the_0523_ratio_is_recomputed_not_summed() {
        let mut t = Totals::default();
        let r = flush_0523(
            step(&[
                ("data/step_unused_and_dummy_ratio", 0.5),
                ("data/step_unused_packed_capacity_tokens", 10.0),
                ("data/step_dummy_schedule_capacity_tokens", 30.0),
                ("data/step_nominal_schedule_capacity_tokens", 160.0),
            ]),
            &mut t,
        );
        assert_eq!(r["data/step_unused_and_dummy_ratio"], 0.5);
        assert_eq!(r["data/cum/unused_and_dummy_ratio"], 0.25);
        let keys: Vec<&str> = r.iter().map(|(k, _)| k).collect();
        assert_eq!(keys.last(), Some(&"data/cum/unused_and_dummy_ratio"));
        // Stored: a later ratio-less total adds to it; a flush with the step key overwrites it.
        let r = flush_0523(step(&[("data/unused_and_dummy_ratio", 1.0)]), &mut t);
        assert_eq!(r["data/cum/unused_and_dummy_ratio"], 1.25);
        let r = flush_0523(step(&[("data/step_unused_and_dummy_ratio", 9.0)]), &mut t);
        assert_eq!(r["data/cum/unused_and_dummy_ratio"], 0.25);
        // A zero denominator gives 0.0; missing totals count as 0.0.
        let mut t = Totals::default();
        let r = flush_0523(step(&[("data/step_unused_and_dummy_ratio", 0.3)]), &mut t);
        assert_eq!(r["data/cum/unused_and_dummy_ratio"], 0.0);
        // 0.5.18 sums it like any data key.
        let mut t = Totals::default();
        flush_step(step(&[("data/step_unused_and_dummy_ratio", 0.5)]), &mut t);
        let r = flush_step(step(&[("data/step_unused_and_dummy_ratio", 0.5)]), &mut t);
        assert_eq!(r["data/cum/unused_and_dummy_ratio"], 1.0);
    }
}
