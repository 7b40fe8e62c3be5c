//! Per-step aggregation of a run's rows: what `summary` and `report` show, folded one row at a
//! time, so that a run costs memory per step and per shown column, never per row or per key.
//!
//! The rules (`summary` and `report` document them for users):
//! - a row's step is its `training_step`, else its `step`, when that is an integer. A row
//!   without one counts as a row and gives the run's cost totals, nothing else;
//! - a row's numbers are its int and float values (NaN left out); a custom split's cost keys
//!   lose their prefix (`holdout/costs/all` is `costs/all`: costs are run-wide); a key
//!   written twice counts once, with the later value (as a Python dict keeps it);
//! - summed over a step's rows: `costs/all` (the step cost), each cost source (a `costs/...`
//!   leaf: no other cost key of the row lies below it; neither `costs/all` nor
//!   `costs/cum/...`), each `time/step_*`;
//! - the step's last value: rewards (`<split>/reward`), cumulative costs
//!   (`costs/cum/<context>`), throughputs (`throughput/avg_{actor,rollout,trainer}_tok_per_s`;
//!   0.5.18's actor and 0.5.23's rollout are also one column, the later of the two), losses
//!   (`loss/*`), exception rates (`<split>/exception_rate`);
//! - with each reward, the run's cumulative cost when it was written: the last
//!   `costs/cum/all` of the rows up to its own (reward against cost);
//! - the run's total per cost context: the last `costs/cum/<context>` written, in file order
//!   (a late validation row for an earlier step carries the newest total).
//!
//! Columns are `f64` vectors indexed by step, NaN meaning "no value" (a value is never NaN).

use indexmap::IndexMap;
use rustc_hash::FxHashMap;

/// A row's value as the aggregation sees it: a number (int or float) or anything else.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RowValue {
    Int(i64),
    Float(f64),
    /// A string, bool, null, list or object.
    Other,
}

impl RowValue {
    /// The value as a number: ints and floats, NaN left out.
    fn number(self) -> Option<f64> {
        match self {
            RowValue::Int(i) => Some(i as f64),
            RowValue::Float(x) if !x.is_nan() => Some(x),
            _ => None,
        }
    }
}

const NONE: u32 = u32::MAX;

// What a key (without its custom split's prefix) is for; a key can be several of these.
const LAST: u16 = 1; // the step's last value is kept
const REWARD: u16 = 1 << 1; // `<split>/reward`: also the cumulative cost with it
const LOSS: u16 = 1 << 2;
const EXCEPTIONS: u16 = 1 << 3;
const SUMMED: u16 = 1 << 4; // `costs/all`, `time/step_*`: summed over the step's rows
const COST: u16 = 1 << 5; // a cost source when it is a leaf among the row's cost keys
const CUM: u16 = 1 << 6; // `costs/cum/<context>`: a run total
const CUM_ALL: u16 = 1 << 7;
const ACTOR: u16 = 1 << 8;

/// 0.5.18's actor and 0.5.23's rollout throughput: one summary column.
pub const ACTOR_KEYS: [&str; 2] = [
    "throughput/avg_actor_tok_per_s",
    "throughput/avg_rollout_tok_per_s",
];
pub const TRAINER_KEY: &str = "throughput/avg_trainer_tok_per_s";
const THROUGHPUT_KEYS: [&str; 3] = [ACTOR_KEYS[0], ACTOR_KEYS[1], TRAINER_KEY];
/// The throughput keys of both openpipe-art versions and what a chart calls each series.
pub const THROUGHPUT_LABELS: [(&str, &str); 3] = [
    (ACTOR_KEYS[0], "actor"),
    (ACTOR_KEYS[1], "rollout"),
    (TRAINER_KEY, "trainer"),
];

/// A key without its custom split's prefix: `holdout/costs/all` -> `costs/all`.
pub fn unprefixed(key: &str) -> &str {
    if key.starts_with("costs/") || !key.contains("/costs/") {
        return key;
    }
    match key.split_once('/') {
        Some((_, rest)) if rest.starts_with("costs/") => rest,
        _ => key,
    }
}

/// Whether one of `names` lies below `name` (`costs/train/judge/style` below
/// `costs/train/judge`; not `costs/train/judge-2`).
fn has_child<'s>(name: &str, mut names: impl Iterator<Item = &'s str>) -> bool {
    names.any(|other| {
        other.len() > name.len() && other.as_bytes()[name.len()] == b'/' && other.starts_with(name)
    })
}

/// A row's cost per source, from its numbers (keys without custom split prefixes): the leaf
/// `costs/...` keys (no other cost key of the row lies below them), without `costs/all` and
/// the cumulative `costs/cum/...`, named without `costs/`.
pub fn cost_sources<'a>(values: &[(&'a str, f64)]) -> Vec<(&'a str, f64)> {
    let costs: Vec<(&str, f64)> = values
        .iter()
        .copied()
        .filter(|(key, _)| flags_of(key) & COST != 0)
        .collect();
    costs
        .iter()
        .filter(|(key, _)| !has_child(key, costs.iter().map(|(k, _)| *k)))
        .map(|(key, amount)| (&key["costs/".len()..], *amount))
        .collect()
}

fn flags_of(key: &str) -> u16 {
    let slashes = key.bytes().filter(|b| *b == b'/').count();
    let mut flags = 0;
    if key.ends_with("/reward") && slashes == 1 {
        flags |= LAST | REWARD;
    }
    if key.starts_with("loss/") {
        flags |= LAST | LOSS;
    } else if key.ends_with("/exception_rate") && slashes == 1 {
        flags |= LAST | EXCEPTIONS;
    }
    if THROUGHPUT_KEYS.contains(&key) {
        flags |= LAST;
    }
    if ACTOR_KEYS.contains(&key) {
        flags |= ACTOR;
    }
    if key == "costs/all" || key.starts_with("time/step_") {
        flags |= SUMMED;
    } else if let Some(rest) = key.strip_prefix("costs/cum/") {
        if slashes == 2 {
            flags |= LAST | CUM;
        }
        if rest == "all" {
            flags |= CUM_ALL;
        }
    } else if key.starts_with("costs/") {
        flags |= COST;
    }
    flags
}

struct Key {
    name: Box<str>,
    /// The id of the key without its custom split's prefix (its own when it has none).
    unprefixed: u32,
    flags: u16,
    // Column ids, NONE until the key is first written at a step.
    last: u32,
    sum: u32,
    cost_at: u32,
}

/// A summed column: per step, and the steps in the order each was first added to (a source's
/// run total adds its steps in that order).
#[derive(Default)]
struct SumColumn {
    values: Vec<f64>,
    order: Vec<u32>,
}

/// The per-step aggregation of a run: add rows with [`StepTable::add_row`], read it through
/// [`StepTable::view`].
#[derive(Default)]
pub struct StepTable {
    ids: FxHashMap<Box<str>, u32>,
    keys: Vec<Key>,
    steps: Vec<i64>,
    index: FxHashMap<i64, u32>,
    /// Step positions in step order; `unsorted` when a step arrived below the last one.
    order: Vec<u32>,
    unsorted: bool,
    last: Vec<Vec<f64>>,
    sums: Vec<SumColumn>,
    /// The later of the actor and rollout throughputs.
    actor: Vec<f64>,
    totals: IndexMap<Box<str>, f64>,
    cum_cost: Option<f64>,
    rows: u64,
    // Per-row scratch: a key's slot in the row, valid when its mark is the row's.
    mark: Vec<u64>,
    slot: Vec<u32>,
    row_mark: u64,
    raw: Vec<(u32, Option<f64>)>,
    values: Vec<(u32, f64)>,
    costs: Vec<usize>,
}

impl StepTable {
    /// Takes the run's cost totals per context from its folded state (`costs/cum/<context>`
    /// of state.json with the journal folded in, as [`crate::history::RunDir`] reads it;
    /// the totals of sources below a context, which rows do not carry, are left out): they
    /// are the run's, whatever became of history.jsonl (truncated, rotated, rows out of
    /// order). A run without them keeps the last totals its history wrote; a context only
    /// its history shows keeps its history's.
    pub fn use_folded_totals(&mut self, cum_state: &[(String, f64)]) {
        let folded = cum_state
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("costs/cum/")?, *v)))
            .filter(|(context, _)| !context.contains('/'));
        // In the order the history showed them (the output stays the same document), the
        // contexts it did not show after them.
        for (context, value) in folded {
            self.totals.insert(context.into(), value);
        }
    }
}

fn set(column: &mut Vec<f64>, at: u32, value: f64) {
    let at = at as usize;
    if column.len() <= at {
        column.resize(at + 1, f64::NAN);
    }
    column[at] = value;
}

fn add(column: &mut SumColumn, at: u32, value: f64) {
    let i = at as usize;
    if column.values.len() <= i {
        column.values.resize(i + 1, f64::NAN);
    }
    let cell = &mut column.values[i];
    if cell.is_nan() {
        *cell = 0.0; // Python's `sums.get(step, 0.0) + value`: -0.0 becomes 0.0
        column.order.push(at);
    }
    *cell += value;
}

impl StepTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// The rows added so far, with or without a step.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn intern(&mut self, key: &str) -> u32 {
        if let Some(&id) = self.ids.get(key) {
            return id;
        }
        let base = unprefixed(key);
        let unprefixed = if base.len() == key.len() {
            NONE
        } else {
            self.intern(base)
        };
        let id = u32::try_from(self.keys.len()).expect("fewer than 2^32 distinct keys");
        self.keys.push(Key {
            name: key.into(),
            unprefixed: if unprefixed == NONE { id } else { unprefixed },
            flags: if unprefixed == NONE { flags_of(key) } else { 0 },
            last: NONE,
            sum: NONE,
            cost_at: NONE,
        });
        self.ids.insert(key.into(), id);
        self.mark.push(0);
        self.slot.push(0);
        id
    }

    fn step_index(&mut self, step: i64) -> u32 {
        if let Some(&last) = self.steps.last()
            && last == step
        {
            return (self.steps.len() - 1) as u32;
        }
        if let Some(&at) = self.index.get(&step) {
            return at;
        }
        let at = u32::try_from(self.steps.len()).expect("fewer than 2^32 steps");
        if let Some(&top) = self.order.last()
            && self.steps[top as usize] > step
        {
            self.unsorted = true;
        }
        self.steps.push(step);
        self.index.insert(step, at);
        self.order.push(at);
        at
    }

    /// Adds one row: its keys and values in order, duplicates included. Returns the row's
    /// step, if it has one.
    pub fn add_row<K: AsRef<str>>(&mut self, pairs: &[(K, RowValue)]) -> Option<i64> {
        self.rows += 1;
        self.row_mark += 2;
        let (raw_mark, value_mark) = (self.row_mark, self.row_mark + 1);
        let mut training_step = None;
        let mut step_key = None;
        self.raw.clear();
        for (key, value) in pairs {
            let key = key.as_ref();
            match key {
                "training_step" => training_step = Some(*value),
                "step" => step_key = Some(*value),
                _ => {}
            }
            let id = self.intern(key);
            let number = value.number();
            let i = id as usize;
            if self.mark[i] == raw_mark {
                self.raw[self.slot[i] as usize].1 = number;
            } else {
                self.mark[i] = raw_mark;
                self.slot[i] = self.raw.len() as u32;
                self.raw.push((id, number));
            }
        }
        // A Python dict of the row's numbers, keyed without custom split prefixes.
        self.values.clear();
        for &(id, number) in &self.raw {
            let Some(value) = number else { continue };
            let base = self.keys[id as usize].unprefixed;
            let b = base as usize;
            if self.mark[b] == value_mark {
                self.values[self.slot[b] as usize].1 = value;
            } else {
                self.mark[b] = value_mark;
                self.slot[b] = self.values.len() as u32;
                self.values.push((base, value));
            }
        }
        for &(id, value) in &self.values {
            let key = &self.keys[id as usize];
            if key.flags & CUM != 0 {
                let context = &key.name["costs/cum/".len()..];
                match self.totals.get_mut(context) {
                    Some(total) => *total = value,
                    None => {
                        self.totals.insert(context.into(), value);
                    }
                }
            }
        }
        let Some(RowValue::Int(step)) = training_step.or(step_key) else {
            return None;
        };
        let at = self.step_index(step);
        self.add_values(at);
        Some(step)
    }

    fn add_values(&mut self, at: u32) {
        let values = std::mem::take(&mut self.values);
        for &(id, value) in &values {
            if self.keys[id as usize].flags & CUM_ALL != 0 {
                self.cum_cost = Some(value);
            }
        }
        let mut costs = std::mem::take(&mut self.costs);
        costs.clear();
        for (i, &(id, value)) in values.iter().enumerate() {
            let flags = self.keys[id as usize].flags;
            if flags & LAST != 0 {
                let column = self.last_column(id);
                set(&mut self.last[column], at, value);
            }
            if flags & REWARD != 0
                && let Some(cost) = self.cum_cost
            {
                let column = self.column(id, |k| &mut k.cost_at, true);
                set(&mut self.last[column], at, cost);
            }
            if flags & ACTOR != 0 {
                set(&mut self.actor, at, value);
            }
            if flags & SUMMED != 0 {
                let column = self.column(id, |k| &mut k.sum, false);
                add(&mut self.sums[column], at, value);
            }
            if flags & COST != 0 {
                costs.push(i);
            }
        }
        // Cost sources: the cost keys with no other cost key of the row below them.
        for &i in &costs {
            let name = &self.keys[values[i].0 as usize].name[..];
            let others = costs
                .iter()
                .map(|&j| &self.keys[values[j].0 as usize].name[..]);
            if !has_child(name, others) {
                let column = self.column(values[i].0, |k| &mut k.sum, false);
                add(&mut self.sums[column], at, values[i].1);
            }
        }
        self.costs = costs;
        self.values = values;
    }

    fn last_column(&mut self, id: u32) -> usize {
        self.column(id, |k| &mut k.last, true)
    }

    /// The key's column (in `last` or `sums`) that `field` names, made on first use.
    fn column(&mut self, id: u32, field: fn(&mut Key) -> &mut u32, last: bool) -> usize {
        let key = &mut self.keys[id as usize];
        let slot = field(key);
        if *slot == NONE {
            *slot = if last {
                self.last.push(Vec::new());
                (self.last.len() - 1) as u32
            } else {
                self.sums.push(SumColumn::default());
                (self.sums.len() - 1) as u32
            };
        }
        *slot as usize
    }

    /// The table read in step order.
    pub fn view(&mut self) -> StepView<'_> {
        if self.unsorted {
            let steps = &self.steps;
            self.order.sort_unstable_by_key(|&at| steps[at as usize]);
            self.unsorted = false;
        }
        StepView { table: self }
    }
}

mod view;
pub use view::{StepSummary, StepView};
pub(super) use view::{SummaryColumns, cell};

#[cfg(test)]
mod tests;
