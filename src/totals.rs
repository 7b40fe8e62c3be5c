//! Running totals shared by every builder of a run: cumulative values and unique scenarios.

use std::collections::HashMap;

use crate::scenarios::ScenarioSet;

use crate::sum::ExactSum;

/// Cumulative totals (`<section>/cum/...`) and the set of scenario ids seen so far.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    cum: HashMap<String, ExactSum>,
    scenarios: ScenarioSet,
}

/// The serialisable form of [`Totals`], shaped like the reference's `state_dict()`.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TotalsState {
    pub cum_state: Vec<(String, f64)>,
    pub unique_scenario_ids: Vec<String>,
}

impl Totals {
    /// Adds `value` to the running total `key` and returns the new total.
    pub fn add(&mut self, key: &str, value: &ExactSum) -> f64 {
        let total = match self.cum.get_mut(key) {
            Some(total) => total,
            None => self.cum.entry(key.to_owned()).or_default(),
        };
        total.merge(value);
        total.value()
    }

    /// The running total `key`, if it was ever recorded.
    pub fn get(&self, key: &str) -> Option<f64> {
        self.cum.get(key).map(ExactSum::value)
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
        TotalsState {
            cum_state,
            unique_scenario_ids,
        }
    }

    /// Totals restored from a snapshot.
    pub fn from_state(state: TotalsState) -> Self {
        Totals {
            cum: state
                .cum_state
                .into_iter()
                .map(|(k, v)| (k, ExactSum::new(v)))
                .collect(),
            scenarios: state
                .unique_scenario_ids
                .into_iter()
                .map(String::into_boxed_str)
                .collect(),
        }
    }
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
    }
}
