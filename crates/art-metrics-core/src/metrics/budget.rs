//! The spend guard: a budget for a run's total spend (recorded and pending costs), warnings
//! at fractions of it, and what the call that takes the total past it does.
//!
//! The rule lives here; the bindings only turn a [`BudgetEvent`] into Python warnings, an
//! exception and reporter alerts.

use serde_json::{Map, Value, json};

use crate::error::{CoreError, CoreResult};

/// The thresholds `set_budget` warns at by default: half, 80% and all of the budget.
pub const DEFAULT_WARN_AT: [f64; 3] = [0.5, 0.8, 1.0];

/// Whether a recorded metric counts against the budget: every cost (`costs/...`).
pub fn is_spend(key: &str) -> bool {
    key.starts_with("costs/")
}

/// What the call that takes spend past the budget does, after recording its cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnExceed {
    /// A `BudgetWarning`.
    Warn,
    /// A `BudgetExceeded` exception.
    Raise,
}

impl OnExceed {
    pub fn parse(value: &str) -> CoreResult<Self> {
        match value {
            "warn" => Ok(OnExceed::Warn),
            "raise" => Ok(OnExceed::Raise),
            other => Err(CoreError::value(format!(
                "on_exceed must be 'warn' or 'raise', got {other:?}"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OnExceed::Warn => "warn",
            OnExceed::Raise => "raise",
        }
    }
}

/// A run's budget and how far its warnings have gone.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub usd: f64,
    pub on_exceed: OnExceed,
    /// Fractions of `usd`, ascending and distinct, each in (0, 1].
    pub warn_at: Vec<f64>,
    /// How many of `warn_at` have fired: they fire in ascending order, each once.
    pub fired: usize,
    /// Whether spend has gone past `usd` (the exceeded event fires once).
    pub exceeded: bool,
}

/// What one check found newly crossed.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetEvent {
    /// One message per threshold crossed by this check, lowest first.
    pub warnings: Vec<String>,
    /// The message when this check found spend past the budget for the first time.
    pub exceeded: Option<String>,
    pub on_exceed: OnExceed,
    /// The run's spend when checked.
    pub spend_usd: f64,
    /// The budget it was checked against.
    pub budget_usd: f64,
}

/// Dollars as people read them: cents for a dollar or more, four decimals below.
pub fn format_usd(usd: f64) -> String {
    if usd.abs() >= 1.0 {
        format!("${usd:.2}")
    } else {
        format!("${usd:.4}")
    }
}

impl Budget {
    /// A budget of `usd` dollars warning at the fractions `warn_at` (sorted, duplicates
    /// dropped; `None`: [`DEFAULT_WARN_AT`]). Each value is checked and a refused one is
    /// named.
    pub fn new(usd: f64, on_exceed: OnExceed, warn_at: Option<&[f64]>) -> CoreResult<Self> {
        let warn_at = warn_at.unwrap_or(&DEFAULT_WARN_AT);
        if !(usd.is_finite() && usd > 0.0) {
            return Err(CoreError::value(format!(
                "budget usd must be a positive finite number, got {usd}"
            )));
        }
        let mut fractions = Vec::with_capacity(warn_at.len());
        for &f in warn_at {
            if !(f.is_finite() && f > 0.0 && f <= 1.0) {
                return Err(CoreError::value(format!(
                    "warn_at fractions must be in (0, 1], got {f}"
                )));
            }
            fractions.push(f);
        }
        fractions.sort_by(f64::total_cmp);
        fractions.dedup();
        Ok(Budget {
            usd,
            on_exceed,
            warn_at: fractions,
            fired: 0,
            exceeded: false,
        })
    }

    /// The same budget with the thresholds in `fired` (as saved) and the exceeded event
    /// already behind it, so a restarted run does not warn again.
    pub fn with_history(mut self, fired: &[f64], exceeded: bool) -> Self {
        self.fired = self
            .warn_at
            .iter()
            .take_while(|f| fired.contains(f))
            .count();
        self.exceeded = exceeded;
        self
    }

    /// The thresholds that have fired, for saving.
    pub fn fired_thresholds(&self) -> &[f64] {
        &self.warn_at[..self.fired]
    }

    /// Checks the run's spend: each threshold reached (`spend >= fraction × usd`) fires
    /// once, and spend above `usd` fires the exceeded event once. `None` when nothing new.
    pub fn check(&mut self, spend_usd: f64) -> Option<BudgetEvent> {
        let mut warnings = Vec::new();
        let mut reached_all = false;
        while let Some(&f) = self.warn_at.get(self.fired) {
            if spend_usd < f * self.usd {
                break;
            }
            reached_all = f == 1.0;
            warnings.push(format!(
                "Spend {} has reached {}% of the {} budget",
                format_usd(spend_usd),
                (f * 100.0 * 100.0).round() / 100.0,
                format_usd(self.usd)
            ));
            self.fired += 1;
        }
        let exceeded = (!self.exceeded && spend_usd > self.usd).then(|| {
            self.exceeded = true;
            format!(
                "Spend {} exceeds the {} budget (on_exceed={:?}); the cost that crossed it is \
                 recorded. Call set_budget() with a higher amount to go on.",
                format_usd(spend_usd),
                format_usd(self.usd),
                self.on_exceed.as_str()
            )
        });
        // Reaching 100% and going past it in one check is one event: one message.
        if reached_all && exceeded.is_some() {
            warnings.pop();
        }
        if warnings.is_empty() && exceeded.is_none() {
            return None;
        }
        Some(BudgetEvent {
            warnings,
            exceeded,
            on_exceed: self.on_exceed,
            spend_usd,
            budget_usd: self.usd,
        })
    }
}

/// The budget's keys in the run's saved state (state.json's `_art_metrics`, beside the run
/// directory's own sub-keys): amount, policy, thresholds, and how far it has fired.
const USD_KEY: &str = "budget_usd";
const ON_EXCEED_KEY: &str = "budget_on_exceed";
const WARN_AT_KEY: &str = "budget_warn_at";
const WARNED_AT_KEY: &str = "budget_warned_at";
const EXCEEDED_KEY: &str = "budget_exceeded";

impl Budget {
    /// `budget` as the run's saved state keeps it; no budget is `budget_usd: null` (so a
    /// removed budget stays removed after a restart).
    pub fn to_state(budget: Option<&Budget>) -> Map<String, Value> {
        let value = match budget {
            None => json!({ USD_KEY: null }),
            Some(b) => json!({
                USD_KEY: b.usd,
                ON_EXCEED_KEY: b.on_exceed.as_str(),
                WARN_AT_KEY: b.warn_at,
                WARNED_AT_KEY: b.fired_thresholds(),
                EXCEEDED_KEY: b.exceeded,
            }),
        };
        match value {
            Value::Object(map) => map,
            _ => unreachable!("json! of an object"),
        }
    }

    /// [`Budget::to_state`] of this budget as JSON text.
    pub fn state_json(&self) -> String {
        Value::Object(Budget::to_state(Some(self))).to_string()
    }

    /// The budget saved by [`Budget::to_state`] in `saved` (None when there is none). A key
    /// an older version did not write takes its default; a value of the wrong kind is
    /// refused, naming the key.
    pub fn from_state(saved: &Map<String, Value>) -> CoreResult<Option<Budget>> {
        let usd = match saved.get(USD_KEY) {
            None | Some(Value::Null) => return Ok(None),
            Some(v) => v.as_f64().ok_or_else(|| bad_key(USD_KEY, v))?,
        };
        let on_exceed = match saved.get(ON_EXCEED_KEY) {
            None => OnExceed::Warn,
            Some(Value::String(s)) => OnExceed::parse(s)?,
            Some(v) => return Err(bad_key(ON_EXCEED_KEY, v)),
        };
        let fractions = |key: &str, default: &[f64]| -> CoreResult<Vec<f64>> {
            match saved.get(key) {
                None => Ok(default.to_vec()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| v.as_f64().ok_or_else(|| bad_key(key, v)))
                    .collect(),
                Some(v) => Err(bad_key(key, v)),
            }
        };
        let exceeded = match saved.get(EXCEEDED_KEY) {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => return Err(bad_key(EXCEEDED_KEY, v)),
        };
        let budget = Budget::new(
            usd,
            on_exceed,
            Some(&fractions(WARN_AT_KEY, &DEFAULT_WARN_AT)?),
        )?
        .with_history(&fractions(WARNED_AT_KEY, &[])?, exceeded);
        Ok(Some(budget))
    }
}

fn bad_key(key: &str, value: &Value) -> CoreError {
    CoreError::Corrupt(format!("the saved budget's '{key}' is not valid: {value}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(usd: f64) -> Budget {
        Budget::new(usd, OnExceed::Raise, Some(&DEFAULT_WARN_AT)).unwrap()
    }

    #[test]
    fn each_threshold_fires_once_in_order() {
        let mut b = budget(10.0);
        assert_eq!(b.check(4.99), None);
        let e = b.check(5.0).unwrap();
        assert_eq!(e.warnings.len(), 1);
        assert!(e.warnings[0].contains("50% of the $10.00 budget"), "{e:?}");
        assert_eq!(e.exceeded, None);
        assert_eq!(b.check(6.0), None, "50% fired already");
        // One check can cross several thresholds.
        let e = b.check(10.0).unwrap();
        assert_eq!(e.warnings.len(), 2);
        assert!(e.warnings[1].contains("100%"));
        assert_eq!(e.exceeded, None, "reaching the budget is not exceeding it");
        let e = b.check(10.01).unwrap();
        assert!(e.warnings.is_empty());
        assert!(e.exceeded.unwrap().contains("exceeds the $10.00 budget"));
        assert_eq!(b.check(50.0), None, "exceeded fires once");
    }

    #[test]
    fn a_jump_past_the_budget_fires_everything_at_once() {
        let mut b = budget(1.0);
        let e = b.check(3.0).unwrap();
        // 50% and 80%, then one message for 100% and past it (not a warning for each).
        assert_eq!(e.warnings.len(), 2, "{e:?}");
        assert!(e.warnings[1].contains("80%"), "{e:?}");
        assert!(e.exceeded.is_some());
        assert_eq!(
            b.fired_thresholds(),
            [0.5, 0.8, 1.0],
            "100% is behind it all the same"
        );
        assert_eq!(e.on_exceed, OnExceed::Raise);
        assert_eq!(e.spend_usd, 3.0);
    }

    #[test]
    fn arguments_are_checked_by_name() {
        for usd in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = Budget::new(usd, OnExceed::Warn, Some(&[])).unwrap_err();
            assert!(e.to_string().contains("budget usd"), "{e}");
        }
        for f in [0.0, 1.5, f64::NAN] {
            let e = Budget::new(1.0, OnExceed::Warn, Some(&[f])).unwrap_err();
            assert!(e.to_string().contains("warn_at"), "{e}");
        }
        assert!(
            OnExceed::parse("stop")
                .unwrap_err()
                .to_string()
                .contains("on_exceed")
        );
        let b = Budget::new(2.0, OnExceed::Warn, Some(&[1.0, 0.25, 1.0])).unwrap();
        assert_eq!(b.warn_at, [0.25, 1.0]);
    }

    #[test]
    fn no_thresholds_still_guards_the_budget() {
        let mut b = Budget::new(2.0, OnExceed::Warn, Some(&[])).unwrap();
        assert_eq!(b.check(2.0), None);
        assert!(b.check(2.5).unwrap().exceeded.is_some());
    }

    #[test]
    fn a_restored_budget_does_not_warn_again() {
        let mut b = budget(10.0);
        b.check(8.5);
        assert_eq!(b.fired_thresholds(), [0.5, 0.8]);
        let mut again = budget(10.0).with_history(b.fired_thresholds(), false);
        assert_eq!(again.check(9.0), None);
        assert_eq!(again.check(10.0).unwrap().warnings.len(), 1);
        let mut done = budget(10.0).with_history(&[0.5, 0.8, 1.0], true);
        assert_eq!(done.check(100.0), None);
    }

    #[test]
    fn usd_formatting() {
        assert_eq!(format_usd(12.345), "$12.35");
        assert_eq!(format_usd(0.0035), "$0.0035");
    }

    #[test]
    fn the_saved_state_round_trips_and_old_saves_take_defaults() {
        let mut b = Budget::new(2.0, OnExceed::Raise, Some(&[0.25, 1.0])).unwrap();
        b.check(0.6);
        let saved = Budget::to_state(Some(&b));
        assert_eq!(saved["budget_warned_at"], json!([0.25]));
        assert_eq!(Budget::from_state(&saved).unwrap(), Some(b));
        assert_eq!(Budget::from_state(&Budget::to_state(None)).unwrap(), None);
        // Only the amount saved: the defaults are the core's.
        let old = json!({"budget_usd": 3.0});
        let restored = Budget::from_state(old.as_object().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(restored.warn_at, DEFAULT_WARN_AT);
        assert_eq!((restored.on_exceed, restored.fired), (OnExceed::Warn, 0));
        let bad = json!({"budget_usd": 3.0, "budget_warn_at": "half"});
        let e = Budget::from_state(bad.as_object().unwrap()).unwrap_err();
        assert!(e.to_string().contains("budget_warn_at"), "{e}");
    }
}
