//! Reading a [`StepTable`] in step order: each step's summary, the columns it has, the run's
//! totals.

use indexmap::IndexMap;

use super::{COST, EXCEPTIONS, Key, LAST, LOSS, NONE, SUMMED, StepTable, TRAINER_KEY};

/// What one step's rows add up to (`summary`'s line).
#[derive(Debug, Clone, PartialEq)]
pub struct StepSummary<'a> {
    pub step: i64,
    pub train_reward: Option<f64>,
    pub val_reward: Option<f64>,
    /// 0.0 when the step's rows have no `costs/all`.
    pub step_cost: f64,
    pub total_cost: Option<f64>,
    pub actor_tok_per_s: Option<f64>,
    pub trainer_tok_per_s: Option<f64>,
    /// Per source (`train/judge`, `gpu`): summed over the step's rows.
    pub costs: Vec<(&'a str, f64)>,
    /// Per `loss/*` key: the step's last value.
    pub losses: Vec<(&'a str, f64)>,
    /// Per split: the step's last `<split>/exception_rate`.
    pub exception_rates: Vec<(&'a str, f64)>,
}

/// A [`StepTable`] in step order: positions `0..len()` are the steps, ascending.
pub struct StepView<'a> {
    pub(super) table: &'a StepTable,
}

pub(in crate::history) fn cell(column: &[f64], at: u32) -> Option<f64> {
    column.get(at as usize).copied().filter(|v| !v.is_nan())
}

/// The columns that make a [`StepSummary`], looked up once.
pub(in crate::history) struct SummaryColumns<'a> {
    train: Option<&'a [f64]>,
    val: Option<&'a [f64]>,
    step_cost: Option<&'a [f64]>,
    total: Option<&'a [f64]>,
    trainer: Option<&'a [f64]>,
    pub(in crate::history) sources: Vec<(&'a str, &'a [f64])>,
    pub(in crate::history) losses: Vec<(&'a str, &'a [f64])>,
    pub(in crate::history) splits: Vec<(&'a str, &'a [f64])>,
}

impl<'a> StepView<'a> {
    /// The number of steps.
    pub fn len(&self) -> usize {
        self.table.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.steps.is_empty()
    }

    /// The rows read, with or without a step.
    pub fn rows(&self) -> u64 {
        self.table.rows
    }

    /// The step at position `pos` (in step order) and its index in the columns.
    pub(in crate::history) fn at(&self, pos: usize) -> (i64, u32) {
        let at = self.table.order[pos];
        (self.table.steps[at as usize], at)
    }

    /// The position of `step`, if the table has it.
    pub fn position(&self, step: i64) -> Option<usize> {
        let at = *self.table.index.get(&step)?;
        let steps = &self.table.steps;
        self.table
            .order
            .binary_search_by_key(&step, |&a| steps[a as usize])
            .ok()
            .filter(|&pos| self.table.order[pos] == at)
    }

    fn key(&self, name: &str) -> Option<&'a Key> {
        let id = *self.table.ids.get(name)?;
        Some(&self.table.keys[id as usize])
    }

    pub(in crate::history) fn last_of(&self, name: &str) -> Option<&'a [f64]> {
        let column = self.key(name)?.last;
        (column != NONE).then(|| &self.table.last[column as usize][..])
    }

    pub(in crate::history) fn summed(&self, name: &str) -> Option<&'a [f64]> {
        let column = self.key(name)?.sum;
        (column != NONE).then(|| &self.table.sums[column as usize].values[..])
    }

    pub(in crate::history) fn cost_at(&self, name: &str) -> Option<&'a [f64]> {
        let column = self.key(name)?.cost_at;
        (column != NONE).then(|| &self.table.last[column as usize][..])
    }

    /// Keys with a column of the given flag, in the order they were first written.
    fn keys_with(&self, flag: u16, summed: bool) -> impl Iterator<Item = &'a Key> + 'a {
        let mut keys: Vec<&Key> = self
            .table
            .keys
            .iter()
            .filter(|k| k.flags & flag != 0 && (if summed { k.sum } else { k.last }) != NONE)
            .collect();
        keys.sort_by_key(|k| if summed { k.sum } else { k.last });
        keys.into_iter()
    }

    /// Cost sources (`train/judge`, `gpu`), in the order they first appeared.
    pub fn sources(&self) -> Vec<&'a str> {
        self.keys_with(COST, true)
            .map(|k| &k.name["costs/".len()..])
            .collect()
    }

    /// `loss/*` keys, in the order they first appeared.
    pub fn losses(&self) -> Vec<&'a str> {
        self.keys_with(LOSS, false).map(|k| &k.name[..]).collect()
    }

    /// Splits with an exception rate, in the order they first appeared.
    pub fn splits(&self) -> Vec<&'a str> {
        self.keys_with(EXCEPTIONS, false)
            .map(|k| {
                k.name
                    .split_once('/')
                    .map_or(&k.name[..], |(split, _)| split)
            })
            .collect()
    }

    /// Keys with a last-value column (rewards, cumulative costs, throughputs, losses,
    /// exception rates), in the order they first appeared.
    pub fn last_keys(&self) -> Vec<&'a str> {
        self.keys_with(LAST, false).map(|k| &k.name[..]).collect()
    }

    /// `time/step_*` keys, in the order they first appeared.
    pub fn time_keys(&self) -> Vec<&'a str> {
        self.keys_with(SUMMED, true)
            .filter(|k| k.name.starts_with("time/step_"))
            .map(|k| &k.name[..])
            .collect()
    }

    /// Each source's run total (its per-step sums added in the order the steps first had
    /// it), in the order the sources first appeared.
    pub fn source_totals(&self) -> Vec<(&'a str, f64)> {
        self.keys_with(COST, true)
            .map(|k| {
                let column = &self.table.sums[k.sum as usize];
                let total = column
                    .order
                    .iter()
                    .fold(0.0, |sum, &at| sum + column.values[at as usize]);
                (&k.name["costs/".len()..], total)
            })
            .collect()
    }

    /// The run's total per cost context (`all`, `train`, `eval`, `gpu`, ...): the last
    /// `costs/cum/<context>` written, rows without a step included.
    pub fn totals(&self) -> &'a IndexMap<Box<str>, f64> {
        &self.table.totals
    }

    pub(in crate::history) fn summary_columns(&self) -> SummaryColumns<'a> {
        let table = self.table;
        let last = |k: &'a Key| &table.last[k.last as usize][..];
        SummaryColumns {
            train: self.last_of("train/reward"),
            val: self.last_of("val/reward"),
            step_cost: self.summed("costs/all"),
            total: self.last_of("costs/cum/all"),
            trainer: self.last_of(TRAINER_KEY),
            sources: self
                .keys_with(COST, true)
                .map(|k| {
                    (
                        &k.name["costs/".len()..],
                        &table.sums[k.sum as usize].values[..],
                    )
                })
                .collect(),
            losses: self
                .keys_with(LOSS, false)
                .map(|k| (&k.name[..], last(k)))
                .collect(),
            splits: self
                .keys_with(EXCEPTIONS, false)
                .map(|k| {
                    (
                        k.name.split_once('/').map_or(&k.name[..], |(s, _)| s),
                        last(k),
                    )
                })
                .collect(),
        }
    }

    /// The summary of the step at position `pos`.
    pub fn summary(&self, pos: usize) -> StepSummary<'a> {
        self.summary_with(&self.summary_columns(), pos)
    }

    pub(in crate::history) fn summary_with(
        &self,
        c: &SummaryColumns<'a>,
        pos: usize,
    ) -> StepSummary<'a> {
        let (step, at) = self.at(pos);
        let of = |column: Option<&[f64]>| column.and_then(|c| cell(c, at));
        let present = |columns: &[(&'a str, &'a [f64])]| {
            columns
                .iter()
                .filter_map(|(name, column)| Some((*name, cell(column, at)?)))
                .collect()
        };
        StepSummary {
            step,
            train_reward: of(c.train),
            val_reward: of(c.val),
            step_cost: of(c.step_cost).unwrap_or(0.0),
            total_cost: of(c.total),
            actor_tok_per_s: cell(&self.table.actor, at),
            trainer_tok_per_s: of(c.trainer),
            costs: present(&c.sources),
            losses: present(&c.losses),
            exception_rates: present(&c.splits),
        }
    }
}
