//! What a flush derives from one step's leaves: cost rollups, running totals, throughput.

use std::collections::HashMap;

use crate::buffer::StepBuffer;
use crate::keys::{self, CUMULATIVE_SECTIONS};
use crate::ordered::OrderedValues;
use crate::sum::ExactSum;
use crate::totals::Totals;

/// A flushed step: metric key → value, in the reference's order: leaves as first added,
/// cost rollups (intermediate ones sorted, then `costs/all`), running totals, unique
/// scenarios, idle totals, throughput.
pub type StepMetrics = OrderedValues<f64>;

const IDLE_TOTALS: [(&str, &str); 2] = [
    (
        "throughput/step_trainer_idle_s",
        "throughput/cum/trainer_idle_s",
    ),
    (
        "throughput/step_actor_idle_s",
        "throughput/cum/actor_idle_s",
    ),
];

/// (step keys that trigger it, cumulative tokens, cumulative seconds, emitted key)
const THROUGHPUTS: [([&str; 2], &str, &str, &str); 2] = [
    (
        ["data/step_trainer_tokens", "time/step_trainer_s"],
        "data/cum/trainer_tokens",
        "time/cum/trainer_s",
        "throughput/avg_trainer_tok_per_s",
    ),
    (
        ["data/step_actor_tokens", "time/step_actor_s"],
        "data/cum/actor_tokens",
        "time/cum/actor_s",
        "throughput/avg_actor_tok_per_s",
    ),
];

/// Sums of the cost leaves below each ancestor at depth two or more, plus `costs/all`.
///
/// Linear in leaves × depth: each leaf adds itself to each of its ancestors once.
pub fn rollup_costs<'a>(
    leaves: impl Iterator<Item = (&'a str, &'a ExactSum)>,
) -> Vec<(String, ExactSum)> {
    let mut parents: HashMap<&str, ExactSum> = HashMap::new();
    let mut all: Option<ExactSum> = None;
    for (key, value) in leaves.filter(|(k, _)| k.starts_with("costs/")) {
        all.get_or_insert_default().merge(value);
        for parent in keys::rollup_ancestors(key) {
            parents.entry(parent).or_default().merge(value);
        }
    }
    let mut out: Vec<(String, ExactSum)> = parents
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    // The reference emits these in set order (hash-dependent); sorted is at least stable.
    out.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(all) = all {
        out.push(("costs/all".to_owned(), all));
    }
    out
}

/// Turns one drained step into its metrics, updating the shared running totals.
pub fn flush_step(step: StepBuffer, totals: &mut Totals) -> StepMetrics {
    let mut sums: OrderedValues<ExactSum> = OrderedValues::default();
    for (k, v) in step.leaves_in_order() {
        sums.set(k, *v);
    }
    // A rollup replaces a leaf of the same name only for `costs/all` (other collisions are
    // refused when the leaf is added): the total of everything wins, as in the reference.
    for (k, v) in rollup_costs(step.leaves()) {
        sums.set(&k, v);
    }

    let mut result: StepMetrics = OrderedValues::default();
    for (k, v) in sums.iter() {
        result.set(k, v.value());
    }

    let mut touched: Vec<String> = Vec::new();
    for (key, value) in sums.iter() {
        if CUMULATIVE_SECTIONS.contains(&keys::section(key)) {
            let cum_key = keys::cumulative_key(key);
            totals.add(&cum_key, value);
            touched.push(cum_key);
        }
    }
    // Two step keys can share a total (`time/step_x` and `time/x`): emit it after both adds.
    for cum_key in touched {
        let total = totals.get(&cum_key).unwrap_or_default();
        result.set(&cum_key, total);
    }

    let ids = step.into_scenario_ids();
    if !ids.is_empty() {
        let unique = totals.add_scenarios(ids);
        result.set("data/cum/num_unique_scenarios", unique as f64);
    }

    for (step_key, cum_key) in IDLE_TOTALS {
        if let Some(value) = sums.get(step_key) {
            let total = totals.add(cum_key, value);
            result.set(cum_key, total);
        }
    }

    for (triggers, tokens_key, seconds_key, out_key) in THROUGHPUTS {
        if !triggers.iter().any(|k| result.contains_key(k)) {
            continue;
        }
        if let (Some(tokens), Some(seconds)) = (totals.get(tokens_key), totals.get(seconds_key))
            && seconds > 0.0
        {
            result.set(out_key, tokens / seconds);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn keys_come_in_the_reference_order() {
        let mut t = Totals::default();
        let mut b = step(&[
            ("time/step_wall_s", 1.0),
            ("costs/train/judge", 1.0),
            ("data/step_x", 2.0),
            ("costs/gpu", 3.0),
        ]);
        b.add_scenario_ids(["a".into()]);
        let r = flush_step(b, &mut t);
        let keys: Vec<String> = r.into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "time/step_wall_s",
                "costs/train/judge",
                "data/step_x",
                "costs/gpu",
                "costs/train",
                "costs/all",
                "time/cum/wall_s",
                "costs/cum/train/judge",
                "data/cum/x",
                "costs/cum/gpu",
                "costs/cum/train",
                "costs/cum/all",
                "data/cum/num_unique_scenarios",
            ]
        );
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
        b.add_scenario_ids(["a".into(), "b".into()]);
        assert_eq!(flush_step(b, &mut t)["data/cum/num_unique_scenarios"], 2.0);
        let mut b = StepBuffer::default();
        b.add_scenario_ids(["b".into(), "c".into()]);
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
}
