//! The spend guard: a budget for a run's total spend (recorded and pending costs), warnings
//! at fractions of it, and what the call that takes the total past it does.
//!
//! The rule lives here; the bindings only turn a [`BudgetEvent`] into Python warnings, an
//! exception and reporter alerts.

use crate::error::{CoreError, CoreResult};

/// The thresholds `set_budget` warns at by default: half, 80% and all of the budget.
pub const DEFAULT_WARN_AT: [f64; 3] = [0.5, 0.8, 1.0];

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
    /// dropped). Each value is checked and a refused one is named.
    pub fn new(usd: f64, on_exceed: OnExceed, warn_at: &[f64]) -> CoreResult<Self> {
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
        while let Some(&f) = self.warn_at.get(self.fired) {
            if spend_usd < f * self.usd {
                break;
            }
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
        if warnings.is_empty() && exceeded.is_none() {
            return None;
        }
        Some(BudgetEvent {
            warnings,
            exceeded,
            on_exceed: self.on_exceed,
            spend_usd,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(usd: f64) -> Budget {
        Budget::new(usd, OnExceed::Raise, &DEFAULT_WARN_AT).unwrap()
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
        assert_eq!(e.warnings.len(), 3);
        assert!(e.exceeded.is_some());
        assert_eq!(e.on_exceed, OnExceed::Raise);
        assert_eq!(e.spend_usd, 3.0);
    }

    #[test]
    fn arguments_are_checked_by_name() {
        for usd in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = Budget::new(usd, OnExceed::Warn, &[]).unwrap_err();
            assert!(e.to_string().contains("budget usd"), "{e}");
        }
        for f in [0.0, 1.5, f64::NAN] {
            let e = Budget::new(1.0, OnExceed::Warn, &[f]).unwrap_err();
            assert!(e.to_string().contains("warn_at"), "{e}");
        }
        assert!(
            OnExceed::parse("stop")
                .unwrap_err()
                .to_string()
                .contains("on_exceed")
        );
        let b = Budget::new(2.0, OnExceed::Warn, &[1.0, 0.25, 1.0]).unwrap();
        assert_eq!(b.warn_at, [0.25, 1.0]);
    }

    #[test]
    fn no_thresholds_still_guards_the_budget() {
        let mut b = Budget::new(2.0, OnExceed::Warn, &[]).unwrap();
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
}
