//! The report's chart series, read from a [`StepView`] and cut down for drawing.
//!
//! A series has one point per step that has its key. A long one is cut to at most
//! `max_points` ([`keep`]): the points fall into equal buckets of consecutive points, and
//! each bucket keeps its first, lowest, highest and last point. Every point kept is a real
//! step's exact value, and the line drawn keeps its extremes; `points` says how many there
//! were. Totals never come from here: they are kept exactly by the table.

use super::steps::{StepView, cell};

/// One line of a chart: `x` the step (or the cumulative cost, with `steps`), `y` its values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    /// The step of each point, when `x` is not the step.
    pub steps: Vec<i64>,
    /// The points the series has before it is cut to `max_points`.
    pub points: usize,
}

/// Layers of a stacked chart over the same steps (`None` where a layer has no value).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stacked {
    pub x: Vec<f64>,
    pub layers: Vec<Vec<Option<f64>>>,
    pub points: usize,
}

/// The positions to keep of `n` points so that at most `max_points` remain (all of them when
/// they fit; `max_points` is at least 4): per bucket of consecutive points, the first, the
/// lowest and highest `y`, and the last, in order.
pub fn keep(n: usize, max_points: usize, y: impl Fn(usize) -> f64) -> Vec<usize> {
    if n <= max_points {
        return (0..n).collect();
    }
    let buckets = (max_points / 4).max(1);
    let mut kept = Vec::with_capacity(buckets * 4);
    for b in 0..buckets {
        let (start, end) = (b * n / buckets, (b + 1) * n / buckets);
        if start == end {
            continue;
        }
        let (mut low, mut high) = (start, start);
        for i in start..end {
            if y(i) < y(low) {
                low = i;
            }
            if y(i) > y(high) {
                high = i;
            }
        }
        let mut four = [start, low, high, end - 1];
        four.sort_unstable();
        for (k, &i) in four.iter().enumerate() {
            if k == 0 || four[k - 1] != i {
                kept.push(i);
            }
        }
    }
    kept
}

impl StepView<'_> {
    fn points_of(&self, column: Option<&[f64]>) -> Vec<(i64, f64)> {
        let Some(column) = column else {
            return Vec::new();
        };
        (0..self.len())
            .filter_map(|pos| {
                let (step, at) = self.at(pos);
                Some((step, cell(column, at)?))
            })
            .collect()
    }

    fn cut(points: &[(i64, f64)], max_points: usize) -> Series {
        let kept = keep(points.len(), max_points, |i| points[i].1);
        Series {
            x: kept.iter().map(|&i| points[i].0 as f64).collect(),
            y: kept.iter().map(|&i| points[i].1).collect(),
            steps: Vec::new(),
            points: points.len(),
        }
    }

    /// The step's last value of `key` (a reward, cumulative cost, throughput or loss).
    pub fn last_series(&self, key: &str, max_points: usize) -> Series {
        Self::cut(&self.points_of(self.last_of(key)), max_points)
    }

    /// `key` (a `time/step_*` key) summed over each step's rows.
    pub fn summed_series(&self, key: &str, max_points: usize) -> Series {
        Self::cut(&self.points_of(self.summed(key)), max_points)
    }

    /// A reward against the run's cumulative cost when it was written, in cost order (then
    /// step); `None` when no reward was written after a cost.
    pub fn reward_cost_series(&self, key: &str, max_points: usize) -> Option<Series> {
        let costs = self.cost_at(key)?;
        let rewards = self.last_of(key)?;
        let mut points: Vec<(f64, i64, f64)> = (0..self.len())
            .filter_map(|pos| {
                let (step, at) = self.at(pos);
                Some((cell(costs, at)?, step, cell(rewards, at)?))
            })
            .collect();
        if points.is_empty() {
            return None;
        }
        // As Python sorts the tuples: -0.0 == 0.0, and the steps are distinct.
        points.sort_by(|a, b| {
            a.0.partial_cmp(&b.0)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.1.cmp(&b.1))
        });
        let kept = keep(points.len(), max_points, |i| points[i].2);
        Some(Series {
            x: kept.iter().map(|&i| points[i].0).collect(),
            y: kept.iter().map(|&i| points[i].2).collect(),
            steps: kept.iter().map(|&i| points[i].1).collect(),
            points: points.len(),
        })
    }

    /// Cost per step by source, stacked: the steps where any of `sources` has a cost, each
    /// source's sum there. Cut by the height of the stack.
    pub fn stacked_costs(&self, sources: &[&str], max_points: usize) -> Stacked {
        let columns: Vec<Option<&[f64]>> = sources
            .iter()
            .map(|s| self.summed(&format!("costs/{s}")))
            .collect();
        let mut rows: Vec<(i64, Vec<Option<f64>>)> = Vec::new();
        for pos in 0..self.len() {
            let (step, at) = self.at(pos);
            let cells: Vec<Option<f64>> = columns
                .iter()
                .map(|c| c.and_then(|c| cell(c, at)))
                .collect();
            if cells.iter().any(Option::is_some) {
                rows.push((step, cells));
            }
        }
        let top = |i: usize| rows[i].1.iter().map(|v| v.unwrap_or(0.0)).sum::<f64>();
        let kept = keep(rows.len(), max_points, top);
        Stacked {
            x: kept.iter().map(|&i| rows[i].0 as f64).collect(),
            layers: (0..sources.len())
                .map(|layer| kept.iter().map(|&i| rows[i].1[layer]).collect())
                .collect(),
            points: rows.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::steps::{RowValue, StepTable};

    #[test]
    fn keep_all_when_they_fit_else_each_buckets_extremes() {
        assert_eq!(keep(5, 8, |i| i as f64), vec![0, 1, 2, 3, 4]);
        let y = [0.0, 5.0, -1.0, 2.0, 3.0, 9.0, 1.0, 1.0];
        assert_eq!(keep(8, 4, |i| y[i]), vec![0, 2, 5, 7]); // first, lowest, highest, last
        // two buckets of eight points each
        assert_eq!(keep(16, 8, |i| y[i % 8]), vec![0, 2, 5, 7, 8, 10, 13, 15]);
        let n = 100_000;
        let kept = keep(n, 2_000, |i| ((i * 7919) % 1000) as f64);
        assert!(kept.len() <= 2_000 && kept.windows(2).all(|w| w[0] < w[1]));
        assert_eq!((kept[0], *kept.last().unwrap()), (0, n - 1));
        let y = |i: usize| if i == 77_777 { 1e9 } else { (i % 10) as f64 };
        assert!(
            keep(n, 2_000, y).contains(&77_777),
            "a spike is never dropped"
        );
    }

    fn table(rows: &[&[(&str, RowValue)]]) -> StepTable {
        let mut t = StepTable::new();
        for row in rows {
            t.add_row(row);
        }
        t
    }

    #[test]
    fn long_series_are_cut_and_keep_their_count() {
        let mut t = StepTable::new();
        for step in 1..=10_000 {
            t.add_row(&[
                ("training_step", RowValue::Int(step)),
                ("train/reward", RowValue::Float(step as f64)),
                ("time/step_wall_s", RowValue::Float(1.0)),
                ("costs/gpu", RowValue::Float(0.5)),
                ("costs/cum/all", RowValue::Float(step as f64 / 2.0)),
            ]);
        }
        let v = t.view();
        let s = v.last_series("train/reward", 1_000);
        assert_eq!(s.points, 10_000);
        assert!(s.x.len() <= 1_000 && s.x[0] == 1.0 && *s.x.last().unwrap() == 10_000.0);
        assert_eq!(s.x, s.y, "each kept point is that step's exact value");
        let full = v.summed_series("time/step_wall_s", 10_000);
        assert_eq!((full.points, full.x.len()), (10_000, 10_000));
        let stacked = v.stacked_costs(&["gpu"], 400);
        assert_eq!(stacked.points, 10_000);
        assert!(stacked.x.len() <= 400 && stacked.layers[0].iter().all(|v| *v == Some(0.5)));
        let against = v.reward_cost_series("train/reward", 100).unwrap();
        assert_eq!(against.points, 10_000);
        assert_eq!(against.steps.first(), Some(&1));
        assert_eq!(
            v.source_totals(),
            vec![("gpu", 5_000.0)],
            "totals stay exact"
        );
    }

    #[test]
    fn reward_against_cost_in_cost_order() {
        let mut t = table(&[
            &[
                ("training_step", RowValue::Int(1)),
                ("val/reward", RowValue::Float(0.1)),
            ],
            &[
                ("training_step", RowValue::Int(2)),
                ("costs/cum/all", RowValue::Float(3.0)),
            ],
            &[
                ("training_step", RowValue::Int(1)),
                ("val/reward", RowValue::Float(0.2)),
                ("costs/cum/all", RowValue::Float(4.0)),
            ],
            &[
                ("training_step", RowValue::Int(3)),
                ("val/reward", RowValue::Float(0.3)),
            ],
        ]);
        let v = t.view();
        let s = v.reward_cost_series("val/reward", 10).unwrap();
        assert_eq!(
            (s.x, s.y, s.steps),
            (vec![4.0, 4.0], vec![0.2, 0.3], vec![1, 3])
        );
        assert_eq!(v.reward_cost_series("train/reward", 10), None);
        let layers = v.stacked_costs(&["nothing"], 10);
        assert_eq!(layers.points, 0);
    }
}
