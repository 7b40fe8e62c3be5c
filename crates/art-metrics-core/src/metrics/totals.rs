//! Running totals shared by every builder of a run: cumulative values and unique scenarios.

use hashbrown::hash_map::EntryRef;
use rustc_hash::FxBuildHasher;

use crate::metrics::scenarios::ScenarioSet;

use crate::metrics::sum::ExactSum;

/// The totals by key: hashbrown's map for its `entry_ref` (std's `entry` wants an owned key).
type CumMap = hashbrown::HashMap<String, Total, FxBuildHasher>;

/// Cumulative totals (`<section>/cum/...`) and the set of scenario ids seen so far.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    /// Each total, marked when it changed since the last `take_changes` (so a run directory
    /// can persist a delta instead of the whole state on every log). A mark rather than a
    /// set of changed keys: a flush creating thousands of totals allocates and hashes each
    /// key once, not twice (issue #20).
    cum: CumMap,
    scenarios: ScenarioSet,
    /// How many ids (in the set's insertion order) `take_changes` has already reported: the
    /// new ones are the rest, so no second copy of them is kept.
    ids_reported: usize,
    /// Set by [`Totals::mark_replaced`] (a `load_state_dict`): the run directory saves a full
    /// snapshot with the next row.
    replaced: bool,
    /// While a flush may still be taken back: what it added (see [`Totals::begin_undo`]).
    undo: Option<TotalsUndo>,
    /// At least the magnitude of every finite total (see [`Totals::abs_bound`]).
    abs_bound: f64,
}

/// A running total and whether it changed since the last [`Totals::take_changes`].
#[derive(Debug, Default, Clone, Copy)]
struct Total {
    sum: ExactSum,
    changed: bool,
}

impl Total {
    fn value(&self) -> f64 {
        self.sum.value()
    }
}

/// What one flush added to the totals, so that a failed save can take it back exactly.
#[derive(Debug, Default, Clone)]
pub struct TotalsUndo {
    /// Each change, in order: the key and what was done to it.
    added: Vec<(String, Change)>,
    /// How many scenario ids were known before the flush (the set keeps insertion order).
    scenarios_before: usize,
}

/// One change to a total, as an undo needs it.
#[derive(Debug, Clone)]
enum Change {
    /// This sum was merged in; `true` when the total was created by it.
    Added(ExactSum, bool),
    /// The total was overwritten; it was this before (`None`: it did not exist).
    Replaced(Option<ExactSum>),
}

/// What changed in [`Totals`] since the last [`Totals::take_changes`]: the new values of the
/// touched totals and the newly seen scenario ids.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TotalsChanges {
    pub cum_state: Vec<(String, f64)>,
    pub new_scenario_ids: Vec<String>,
    /// How many ids had been reported before these (where `new_scenario_ids` start in the
    /// set's insertion order), so `restore_changes` can rewind exactly.
    pub ids_from: usize,
    /// [`ExactSum::residual`] of the touched totals where it is not 0, so that a restart
    /// continues the exact sums (0.1 added 100 times is 10.0 with or without restarts).
    pub compensation: Vec<(String, f64)>,
}

impl TotalsChanges {
    pub fn is_empty(&self) -> bool {
        self.cum_state.is_empty() && self.new_scenario_ids.is_empty()
    }
}

/// The serialisable form of [`Totals`], shaped like the reference's `state_dict()`.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TotalsState {
    pub cum_state: Vec<(String, f64)>,
    pub unique_scenario_ids: Vec<String>,
    /// [`ExactSum::residual`] of the totals where it is not 0 (state.json keeps these under
    /// `_art_metrics`; the reference's format has no place for them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compensation: Vec<(String, f64)>,
}

impl Totals {
    /// Adds `value` to the running total `key` and returns the new total.
    pub fn add(&mut self, key: &str, value: &ExactSum) -> f64 {
        // One hash and probe, and the key copied only when new (a flush creates thousands).
        let (total, created) = match self.cum.entry_ref(key) {
            EntryRef::Occupied(e) => (e.into_mut(), false),
            EntryRef::Vacant(e) => (e.insert(Total::default()), true),
        };
        total.sum.merge(value);
        total.changed = true;
        let v = total.value();
        self.note_value(v);
        if let Some(undo) = self.undo.as_mut() {
            undo.added
                .push((key.to_owned(), Change::Added(*value, created)));
        }
        v
    }

    /// Overwrites the running total `key` with `value` (a ratio recomputed from other totals).
    pub fn set(&mut self, key: &str, value: f64) {
        self.note_value(value);
        let total = Total {
            sum: ExactSum::new(value),
            changed: true,
        };
        let previous = self.cum.insert(key.to_owned(), total).map(|t| t.sum);
        if let Some(undo) = self.undo.as_mut() {
            undo.added
                .push((key.to_owned(), Change::Replaced(previous)));
        }
    }

    /// At least the magnitude of every finite running total: it only grows (an undo or a
    /// restore brings back values it already covered) until the totals are replaced.
    /// The add-time guard needs no exact check while it is small (`StepBuffer::is_safe`).
    pub fn abs_bound(&self) -> f64 {
        self.abs_bound
    }

    fn note_value(&mut self, value: f64) {
        if value.is_finite() {
            self.abs_bound = self.abs_bound.max(value.abs());
        }
    }

    /// Whether a total would stop being finite if `value` were added to `key` (a total that
    /// is already non-finite, as openpipe-art can save them, stays as it is).
    pub fn would_overflow(&self, key: &str, value: &ExactSum) -> bool {
        let Some(total) = self.cum.get(key) else {
            return !value.value().is_finite();
        };
        if !total.value().is_finite() {
            return false;
        }
        let mut t = total.sum;
        t.merge(value);
        !t.value().is_finite()
    }

    /// Marks the totals as replaced wholesale (see [`Totals::take_replaced`]).
    pub fn mark_replaced(&mut self) {
        self.replaced = true;
    }

    /// True once after [`Totals::mark_replaced`].
    pub fn take_replaced(&mut self) -> bool {
        std::mem::take(&mut self.replaced)
    }

    /// Starts recording what is added, so that [`Totals::undo`] can take it back.
    pub fn begin_undo(&mut self) {
        self.undo = Some(TotalsUndo {
            added: Vec::new(),
            scenarios_before: self.scenarios.len(),
        });
    }

    /// Stops recording and returns what was added since [`Totals::begin_undo`].
    pub fn end_undo(&mut self) -> TotalsUndo {
        self.undo.take().unwrap_or_default()
    }

    /// Takes back a flush's additions: each total loses what the flush merged into it (a
    /// total the flush created, and that nothing else touched since, disappears), and the
    /// scenario ids it saw first are forgotten.
    pub fn undo(&mut self, undo: TotalsUndo) {
        for (key, change) in undo.added.into_iter().rev() {
            match change {
                Change::Added(value, created) => {
                    if let Some(total) = self.cum.get_mut(&key) {
                        total.sum.merge(&value.negated());
                        let v = total.value();
                        if v.is_finite() {
                            self.abs_bound = self.abs_bound.max(v.abs());
                        }
                        if created && total.value() == 0.0 {
                            self.cum.remove(&key);
                        }
                    }
                }
                Change::Replaced(Some(previous)) => {
                    let changed = self.cum.get(&key).is_some_and(|t| t.changed);
                    let total = Total {
                        sum: previous,
                        changed,
                    };
                    self.cum.insert(key, total);
                }
                Change::Replaced(None) => {
                    self.cum.remove(&key);
                }
            }
        }
        self.scenarios.truncate(undo.scenarios_before);
        self.ids_reported = self.ids_reported.min(self.scenarios.len());
    }

    /// Puts changes taken by [`Totals::take_changes`] back, for a save that failed: the next
    /// save writes them (with the current values of the totals).
    pub fn restore_changes(&mut self, changes: TotalsChanges) {
        for (key, _) in changes.cum_state {
            // A total an undo removed since is no change.
            if let Some(total) = self.cum.get_mut(&key) {
                total.changed = true;
            }
        }
        self.ids_reported = self.ids_reported.min(changes.ids_from);
    }

    /// The totals and ids changed since the previous call (sorted by key), and forgets them.
    /// A total that an undo removed again is not a change.
    pub fn take_changes(&mut self) -> TotalsChanges {
        let mut cum_state: Vec<(String, f64)> = self
            .cum
            .iter_mut()
            .filter(|(_, t)| t.changed)
            .map(|(k, t)| {
                t.changed = false;
                (k.clone(), t.value())
            })
            .collect();
        cum_state.sort_by(|a, b| a.0.cmp(&b.0));
        let compensation = residuals(&self.cum, cum_state.iter().map(|(k, _)| k.as_str()));
        TotalsChanges {
            compensation,
            cum_state,
            ids_from: self.ids_reported,
            new_scenario_ids: self.new_scenario_ids(),
        }
    }

    fn new_scenario_ids(&mut self) -> Vec<String> {
        let ids = self
            .scenarios
            .iter_from(self.ids_reported)
            .map(str::to_owned)
            .collect();
        self.ids_reported = self.scenarios.len();
        ids
    }

    /// The running total `key`, if it was ever recorded.
    pub fn get(&self, key: &str) -> Option<f64> {
        self.cum.get(key).map(Total::value)
    }

    /// Adds scenario ids; returns how many distinct ids have been seen.
    pub fn add_scenarios<S: AsRef<str>, I: IntoIterator<Item = S>>(&mut self, ids: I) -> usize {
        self.scenarios.extend(ids);
        self.scenarios.len()
    }

    pub fn num_scenarios(&self) -> usize {
        self.scenarios.len()
    }

    /// A snapshot for saving, sorted so equal totals give equal snapshots.
    pub fn to_state(&self) -> TotalsState {
        let mut cum_state: Vec<(String, f64)> = self
            .cum
            .iter()
            .map(|(k, v)| (k.clone(), v.value()))
            .collect();
        cum_state.sort_by(|a, b| a.0.cmp(&b.0));
        let mut unique_scenario_ids: Vec<String> =
            self.scenarios.iter().map(str::to_owned).collect();
        unique_scenario_ids.sort_unstable();
        let compensation = residuals(&self.cum, cum_state.iter().map(|(k, _)| k.as_str()));
        TotalsState {
            cum_state,
            unique_scenario_ids,
            compensation,
        }
    }

    /// Totals restored from a snapshot.
    pub fn from_state(state: TotalsState) -> Self {
        let scenarios: ScenarioSet = state.unique_scenario_ids.iter().collect();
        let residual = |k: &str| {
            state
                .compensation
                .iter()
                .find(|(ck, _)| ck == k)
                .map_or(0.0, |(_, c)| *c)
        };
        let abs_bound = state
            .cum_state
            .iter()
            .map(|(_, v)| v.abs())
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
        Totals {
            cum: state
                .cum_state
                .iter()
                .map(|(k, v)| {
                    let total = Total {
                        sum: ExactSum::with_residual(*v, residual(k)),
                        changed: false,
                    };
                    (k.clone(), total)
                })
                .collect(),
            abs_bound,
            // Restored ids are already saved: only ids seen from now on are changes.
            ids_reported: scenarios.len(),
            scenarios,
            ..Totals::default()
        }
    }
}

/// The non-zero residuals of `keys`.
fn residuals<'a>(cum: &CumMap, keys: impl Iterator<Item = &'a str>) -> Vec<(String, f64)> {
    keys.filter_map(|k| {
        let r = cum.get(k)?.sum.residual();
        (r != 0.0).then(|| (k.to_owned(), r))
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trip() {
        let mut t = Totals::default();
        t.add("costs/cum/all", &ExactSum::new(1.5));
        t.add("time/cum/actor_s", &ExactSum::new(2.0));
        t.add_scenarios(["a", "b", "a"]);
        let back = Totals::from_state(t.to_state());
        assert_eq!(back.to_state(), t.to_state());
        assert_eq!(back.num_scenarios(), 2);
        assert_eq!(back.get("costs/cum/all"), Some(1.5));
        assert!(back.clone().take_changes().is_empty());
    }

    #[test]
    fn a_flush_can_be_taken_back_exactly() {
        let mut t = Totals::default();
        t.add("costs/cum/all", &ExactSum::new(1.0));
        t.add_scenarios(["a"]);
        t.take_changes();
        let before = t.to_state();
        t.begin_undo();
        t.add("costs/cum/all", &ExactSum::new(0.1));
        t.add("costs/cum/new", &ExactSum::new(0.7));
        t.add_scenarios(["a", "b"]);
        let undo = t.end_undo();
        let changes = t.take_changes();
        t.undo(undo);
        t.restore_changes(changes);
        assert_eq!(t.to_state(), before);
        // The restored change set names only totals that still exist, and no forgotten id.
        let c = t.take_changes();
        assert_eq!(c.cum_state, [("costs/cum/all".to_string(), 1.0)]);
        assert!(c.new_scenario_ids.is_empty());
    }

    #[test]
    fn an_overwrite_is_taken_back_too() {
        let mut t = Totals::default();
        t.add("data/cum/r", &ExactSum::new(0.25));
        let before = t.to_state();
        t.begin_undo();
        t.add("data/cum/r", &ExactSum::new(0.5));
        t.set("data/cum/r", 0.125);
        t.set("data/cum/new", 2.0);
        assert_eq!(t.get("data/cum/r"), Some(0.125));
        let undo = t.end_undo();
        t.undo(undo);
        assert_eq!(t.to_state(), before);
    }

    #[test]
    fn changes_are_taken_once() {
        let mut t = Totals::default();
        t.add("b", &ExactSum::new(1.0));
        t.add("a", &ExactSum::new(1.0));
        t.add("b", &ExactSum::new(1.0));
        t.add_scenarios(["x", "x"]);
        let c = t.take_changes();
        assert_eq!(
            c.cum_state,
            [("a".to_string(), 1.0), ("b".to_string(), 2.0)]
        );
        assert_eq!(c.new_scenario_ids, ["x"]);
        assert!(t.take_changes().is_empty());
        t.add_scenarios(["x"]);
        assert!(t.take_changes().is_empty());
    }

    #[test]
    fn changes_survive_an_undo_and_a_failed_save() {
        let mut t = Totals::default();
        t.add("costs/cum/a", &ExactSum::new(1.0));
        t.take_changes();
        // A flush touches one total, creates another, and is taken back: the created one
        // is no change; the touched one still is (its value is back where it was).
        t.begin_undo();
        t.add("costs/cum/a", &ExactSum::new(2.0));
        t.add("costs/cum/b", &ExactSum::new(5.0));
        t.set("loss/cum/ratio", 0.5);
        let undo = t.end_undo();
        t.undo(undo);
        let c = t.take_changes();
        assert_eq!(c.cum_state, [("costs/cum/a".to_string(), 1.0)]);
        // A save that failed puts its changes back: the next take reports them again.
        t.restore_changes(c.clone());
        assert_eq!(t.take_changes().cum_state, c.cum_state);
        assert!(t.take_changes().is_empty());
    }
}
