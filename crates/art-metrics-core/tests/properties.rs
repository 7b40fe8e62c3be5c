//! Property tests of the core's invariants (proptest).

use std::collections::HashMap;

use art_metrics_core::metrics::buffer::StepBuffer;
use art_metrics_core::metrics::derive::flush_step;
use art_metrics_core::metrics::totals::Totals;
use art_metrics_core::metrics::{ArtVersion, Builder};
use proptest::prelude::*;

/// Cost paths under a small alphabet, 1 to 4 segments deep, so ancestors collide often.
fn cost_path() -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof!["a", "b", "c"], 1..=4).prop_map(|segs| segs.join("/"))
}

fn cost_value() -> impl Strategy<Value = f64> {
    (0u32..10_000).prop_map(|c| f64::from(c) / 1000.0)
}

proptest! {
    /// Every emitted rollup equals the sum of the accepted leaves below it, at every depth,
    /// and `costs/all` equals the sum of every leaf.
    #[test]
    fn rollups_equal_their_leaves(adds in proptest::collection::vec((cost_path(), cost_value()), 1..40)) {
        let mut buffer = StepBuffer::default();
        let mut leaves: HashMap<String, f64> = HashMap::new();
        for (path, value) in &adds {
            let key = format!("costs/{path}");
            if buffer.add(&key, *value).is_ok() {
                *leaves.entry(key).or_default() += value;
            }
        }
        let metrics = flush_step(buffer, &mut Totals::default(), ArtVersion::V0_5_18.dialect());
        let total: f64 = leaves.values().sum();
        prop_assert!((metrics["costs/all"] - total).abs() < 1e-9);
        for (key, value) in metrics.iter() {
            if key.starts_with("costs/cum/") || key == "costs/all" || leaves.contains_key(key) {
                continue;
            }
            let prefix = format!("{key}/");
            let below: f64 = leaves.iter().filter(|(k, _)| k.starts_with(&prefix)).map(|(_, v)| v).sum();
            prop_assert!((value - below).abs() < 1e-9, "{key}: {value} vs {below}");
        }
        // No leaf is an ancestor of another leaf.
        for a in leaves.keys() {
            let prefix = format!("{a}/");
            prop_assert!(!leaves.keys().any(|b| b.starts_with(&prefix)), "{} is an ancestor", a);
        }
    }

    /// Running totals equal the sum of every step's values; an empty flush is empty.
    #[test]
    fn cumulative_totals_equal_the_sum_of_steps(steps in proptest::collection::vec(
        proptest::collection::vec((0usize..3, cost_value()), 0..10), 1..10)) {
        let builder = Builder::new("train").unwrap();
        let keys = ["time/step_actor_s", "data/step_actor_tokens", "costs/train/judge"];
        let mut sums = [0.0f64; 3];
        for step in &steps {
            for (k, v) in step {
                builder.add_metric(keys[*k], *v).unwrap();
                sums[*k] += v;
            }
            let out = builder.flush();
            if step.is_empty() {
                prop_assert!(out.is_empty());
            }
            prop_assert!(builder.flush().is_empty());
        }
        let state = builder.state();
        let cum: HashMap<_, _> = state.cum_state.iter().cloned().collect();
        for (i, cum_key) in ["time/cum/actor_s", "data/cum/actor_tokens", "costs/cum/train/judge"].iter().enumerate() {
            let got = cum.get(*cum_key).copied().unwrap_or(0.0);
            prop_assert!((got - sums[i]).abs() < 1e-9, "{cum_key}: {got} vs {}", sums[i]);
        }
        let all = cum.get("costs/cum/all").copied().unwrap_or(0.0);
        prop_assert!((all - sums[2]).abs() < 1e-9);
    }

    /// Saving and restoring the totals changes nothing that later flushes report.
    #[test]
    fn state_round_trip(values in proptest::collection::vec(cost_value(), 1..20),
                        ids in proptest::collection::vec("[a-z]{1,3}", 0..20)) {
        let a = Builder::new("train").unwrap();
        for v in &values {
            a.add_cost("train/judge", *v).unwrap();
        }
        a.add_data(None, None, Some(ids.clone())).unwrap();
        a.flush();
        let b = Builder::new("train").unwrap();
        b.load_state(a.state()).unwrap();
        prop_assert_eq!(b.state(), a.state());
        for builder in [&a, &b] {
            builder.add_cost("train/judge", 1.0).unwrap();
            builder.add_data(None, None, Some(vec!["new-id".to_string()])).unwrap();
        }
        // The saved form holds each total rounded to one f64 (the reference's format), so the
        // carried compensation is gone after a restore: equal to within an ulp or so.
        let (fa, fb) = (a.flush(), b.flush());
        prop_assert_eq!(fa.len(), fb.len());
        for ((ka, va), (kb, vb)) in fa.iter().zip(fb.iter()) {
            prop_assert_eq!(ka, kb);
            prop_assert!((va - vb).abs() <= 1e-12 * va.abs().max(1.0), "{}: {} vs {}", ka, va, vb);
        }
    }
}
