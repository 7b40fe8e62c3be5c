use super::*;

use RowValue::{Float as F, Int as I, Other};

fn table(rows: &[&[(&str, RowValue)]]) -> StepTable {
    let mut t = StepTable::new();
    for row in rows {
        t.add_row(row);
    }
    t
}

#[test]
fn step_cost_and_sources_add_up_last_values_win() {
    let mut t = table(&[
        &[
            ("training_step", I(1)),
            ("train/reward", F(0.5)),
            ("costs/train/judge/a", F(1.0)),
            ("costs/train/judge/b", F(2.0)),
            ("costs/train/judge", F(3.0)),
            ("costs/train", F(3.0)),
            ("costs/gpu", F(0.5)),
            ("costs/all", F(3.5)),
            ("costs/cum/all", F(3.5)),
            ("costs/cum/train", F(3.0)),
            ("throughput/avg_trainer_tok_per_s", F(100.0)),
            ("loss/policy", F(0.9)),
            ("train/exception_rate", F(0.125)),
        ],
        &[
            ("training_step", I(1)),
            ("val/reward", F(0.25)),
            ("costs/eval/judge", F(0.25)),
            ("costs/eval", F(0.25)),
            ("costs/all", F(0.25)),
            ("costs/cum/all", F(3.75)),
            ("val/exception_rate", F(0.0)),
        ],
    ]);
    assert_eq!(t.rows(), 2);
    let v = t.view();
    assert_eq!(v.len(), 1);
    let s = v.summary(0);
    assert_eq!(
        (
            s.step,
            s.train_reward,
            s.val_reward,
            s.step_cost,
            s.total_cost
        ),
        (1, Some(0.5), Some(0.25), 3.75, Some(3.75))
    );
    assert_eq!(
        (s.actor_tok_per_s, s.trainer_tok_per_s),
        (None, Some(100.0))
    );
    assert_eq!(
        s.costs,
        [
            ("train/judge/a", 1.0),
            ("train/judge/b", 2.0),
            ("gpu", 0.5),
            ("eval/judge", 0.25)
        ]
    );
    assert_eq!(s.losses, [("loss/policy", 0.9)]);
    assert_eq!(s.exception_rates, [("train", 0.125), ("val", 0.0)]);
    let totals: Vec<(&str, f64)> = v.totals().iter().map(|(k, v)| (&k[..], *v)).collect();
    assert_eq!(totals, [("all", 3.75), ("train", 3.0)]);
}

#[test]
fn a_sibling_sorting_between_a_key_and_its_children_is_still_a_parent() {
    let mut t = table(&[&[
        ("step", I(1)),
        ("costs/judge", F(3.0)),
        ("costs/judge-2", F(1.0)),
        ("costs/judge/style", F(3.0)),
    ]]);
    let v = t.view();
    assert_eq!(v.summary(0).costs, [("judge-2", 1.0), ("judge/style", 3.0)]);
}

#[test]
fn custom_split_costs_lose_their_prefix_and_duplicates_count_once() {
    let mut t = table(&[
        &[
            ("training_step", I(2)),
            ("holdout/costs/holdout/judge", F(0.5)),
            ("holdout/costs/all", F(0.5)),
            ("holdout/costs/cum/all", F(9.0)),
            ("holdout/reward", F(0.7)),
            ("a/b/costs/x", F(7.0)), // two levels of prefix: not a cost key
        ],
        &[
            ("training_step", I(2)),
            ("costs/all", F(1.0)),
            ("costs/all", F(2.0)), // the later value, once
            ("costs/gpu", F(2.0)),
            ("train/reward", F(0.1)),
            ("train/reward", Other), // a later non-number removes the number
        ],
    ]);
    let v = t.view();
    let s = v.summary(0);
    assert_eq!(
        (s.step_cost, s.total_cost, s.train_reward),
        (2.5, Some(9.0), None)
    );
    assert_eq!(s.costs, [("holdout/judge", 0.5), ("gpu", 2.0)]);
    assert_eq!(v.totals().get("all"), Some(&9.0));
    assert!(v.last_keys().contains(&"holdout/reward"));
}

#[test]
fn the_step_is_training_step_else_step_when_an_integer() {
    let mut t = table(&[
        &[
            ("training_step", I(3)),
            ("step", I(99)),
            ("costs/all", F(1.0)),
        ],
        &[("step", I(4)), ("costs/all", F(1.0))],
        &[
            ("training_step", Other),
            ("step", I(5)),
            ("costs/cum/all", F(8.0)),
        ],
        &[("training_step", F(6.0)), ("costs/all", F(1.0))],
        &[("costs/all", F(1.0))],
    ]);
    assert_eq!(t.rows(), 5);
    let v = t.view();
    let steps: Vec<i64> = (0..v.len()).map(|p| v.summary(p).step).collect();
    assert_eq!(steps, [3, 4]);
    // rows without a step still give the run's totals
    assert_eq!(v.totals().get("all"), Some(&8.0));
}

#[test]
fn nan_is_no_value_and_infinity_is_one() {
    let mut t = table(&[&[
        ("training_step", I(1)),
        ("train/reward", F(f64::NAN)),
        ("costs/all", F(f64::INFINITY)),
        ("loss/x", I(2)),
    ]]);
    let v = t.view();
    let s = v.summary(0);
    assert_eq!((s.train_reward, s.step_cost), (None, f64::INFINITY));
    assert_eq!(s.losses, [("loss/x", 2.0)]);
}

#[test]
fn steps_out_of_order_and_late_rows() {
    let mut t = table(&[
        &[
            ("training_step", I(1)),
            ("costs/all", F(1.0)),
            ("costs/cum/all", F(1.0)),
        ],
        &[
            ("training_step", I(3)),
            ("costs/all", F(1.0)),
            ("costs/cum/all", F(2.0)),
        ],
        &[
            ("training_step", I(2)),
            ("costs/all", F(1.0)),
            ("costs/cum/all", F(3.0)),
        ],
        &[
            ("training_step", I(1)),
            ("costs/all", F(5.0)),
            ("costs/cum/all", F(8.0)),
        ],
    ]);
    let v = t.view();
    let got: Vec<(i64, f64, Option<f64>)> = (0..v.len())
        .map(|p| {
            let s = v.summary(p);
            (s.step, s.step_cost, s.total_cost)
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, 6.0, Some(8.0)),
            (2, 1.0, Some(3.0)),
            (3, 1.0, Some(2.0))
        ]
    );
    assert_eq!(
        v.totals().get("all"),
        Some(&8.0),
        "the last written, not the highest step"
    );
    assert_eq!(v.position(2), Some(1));
    assert_eq!(v.position(7), None);
}

#[test]
fn actor_and_rollout_are_one_summary_column_and_two_series() {
    let mut t = table(&[
        &[
            ("training_step", I(1)),
            ("throughput/avg_actor_tok_per_s", F(10.0)),
        ],
        &[
            ("training_step", I(2)),
            ("throughput/avg_rollout_tok_per_s", F(20.0)),
        ],
        &[
            ("training_step", I(3)),
            ("throughput/avg_rollout_tok_per_s", F(30.0)),
            ("throughput/avg_actor_tok_per_s", F(31.0)),
        ],
    ]);
    let v = t.view();
    let actor: Vec<Option<f64>> = (0..3).map(|p| v.summary(p).actor_tok_per_s).collect();
    assert_eq!(actor, [Some(10.0), Some(20.0), Some(31.0)]);
    assert_eq!(v.last_series(ACTOR_KEYS[1], 100).y, [20.0, 30.0]);
}

#[test]
fn source_totals_add_each_steps_sum_in_first_seen_order() {
    let mut t = table(&[
        &[("training_step", I(2)), ("costs/judge", F(0.1))],
        &[("training_step", I(1)), ("costs/judge", F(0.2))],
        &[
            ("training_step", I(2)),
            ("costs/judge", F(0.3)),
            ("time/step_wall_s", F(4.0)),
        ],
    ]);
    let v = t.view();
    assert_eq!(v.source_totals(), [("judge", (0.1 + 0.3) + 0.2)]);
    assert_eq!(v.sources(), ["judge"]);
    assert_eq!(v.time_keys(), ["time/step_wall_s"]);
    assert_eq!(v.summed_series("time/step_wall_s", 10).x, [2.0]);
}

#[test]
fn unprefixed_keys() {
    assert_eq!(unprefixed("holdout/costs/all"), "costs/all");
    assert_eq!(unprefixed("costs/x/costs/y"), "costs/x/costs/y");
    assert_eq!(unprefixed("a/b/costs/x"), "a/b/costs/x");
    assert_eq!(unprefixed("train/reward"), "train/reward");
}

#[test]
fn cost_sources_of_a_row() {
    let values = [
        ("costs/train/judge", 3.0),
        ("costs/train/judge-2", 1.0),
        ("costs/train/judge/style", 3.0),
        ("costs/all", 4.0),
        ("costs/cum/all", 9.0),
        ("train/reward", 0.5),
    ];
    assert_eq!(
        cost_sources(&values),
        [("train/judge-2", 1.0), ("train/judge/style", 3.0)]
    );
}

#[test]
fn a_table_is_written_in_blocks_of_picked_columns() {
    let mut t = table(&[&[
        ("training_step", I(3)),
        ("train/reward", F(0.5)),
        ("costs/gpu", F(0.25)),
        ("costs/all", F(0.25)),
        ("loss/policy", F(0.9)),
    ]]);
    let v = t.view();
    let layout = v.layout(&["gpu"], &["loss/policy"], &[]);
    let mut whole = String::new();
    v.write_table(&mut whole, &layout, 0..1, b"drr$$tt$g", &[1; 9], None)
        .unwrap();
    assert_eq!(whole, "3  0.500  -  $0.2500  -  -  -  $0.2500  0.9\n");
    // The step, then value columns 6 and 7 (after the six base ones: gpu, loss/policy).
    let mut block = String::new();
    v.write_table(&mut block, &layout, 0..1, b"d$g", &[4, 8, 6], Some(&[6, 7]))
        .unwrap();
    assert_eq!(block, "   3   $0.2500     0.9\n");
    let mut none = String::new();
    let err = v
        .write_table(&mut none, &layout, 0..1, b"d$", &[4, 8], Some(&[8]))
        .unwrap_err();
    assert!(err.to_string().contains("no column 8"), "{err}");
}
