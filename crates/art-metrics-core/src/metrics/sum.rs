//! Compensated (Neumaier) summation, so long runs of small additions do not drift.

/// A running sum that carries the rounding error of every addition and folds it back in.
///
/// One million additions of 0.001 give 1000.0 to within one ulp, where a plain `f64` sum
/// is off in the tenth significant digit.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ExactSum {
    sum: f64,
    compensation: f64,
}

impl ExactSum {
    /// A sum that starts at `value`.
    pub fn new(value: f64) -> Self {
        ExactSum {
            sum: value,
            compensation: 0.0,
        }
    }

    /// A sum restored from its saved [`ExactSum::value`] and [`ExactSum::residual`]: later
    /// additions continue exactly as they would have without the save.
    pub fn with_residual(value: f64, residual: f64) -> Self {
        ExactSum {
            sum: value,
            compensation: if residual.is_finite() { residual } else { 0.0 },
        }
    }

    /// What [`ExactSum::value`] leaves out of the exact sum (0 when it is exact).
    pub fn residual(&self) -> f64 {
        let v = self.value();
        if !v.is_finite() {
            return 0.0;
        }
        (self.sum - v) + self.compensation
    }

    /// Adds `value`, keeping the low-order bits that the addition would lose.
    pub fn add(&mut self, value: f64) {
        let t = self.sum + value;
        if self.sum.abs() >= value.abs() {
            self.compensation += (self.sum - t) + value;
        } else {
            self.compensation += (value - t) + self.sum;
        }
        self.sum = t;
    }

    /// Adds another compensated sum, including its carried error.
    pub fn merge(&mut self, other: &ExactSum) {
        self.add(other.sum);
        self.add(other.compensation);
    }

    /// The same sum with the opposite sign: merging it takes this sum back out.
    pub fn negated(&self) -> ExactSum {
        ExactSum {
            sum: -self.sum,
            compensation: -self.compensation,
        }
    }

    /// The best `f64` estimate of the sum.
    pub fn value(&self) -> f64 {
        let v = self.sum + self.compensation;
        // An infinite partial sum makes the compensation NaN; the plain sum is the honest answer.
        if v.is_nan() && !self.sum.is_nan() {
            self.sum
        } else {
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_thousandths_sum_to_a_thousand() {
        let mut s = ExactSum::default();
        for _ in 0..1_000_000 {
            s.add(0.001);
        }
        assert!((s.value() - 1000.0).abs() / 1000.0 < 1e-12, "{}", s.value());
    }

    #[test]
    fn recovers_what_plain_addition_loses() {
        let mut s = ExactSum::new(1e16);
        s.add(1.0);
        s.add(-1e16);
        assert_eq!(s.value(), 1.0);
    }

    #[test]
    fn value_and_residual_restore_the_sum() {
        let mut a = ExactSum::default();
        for _ in 0..50 {
            a.add(0.1);
        }
        let mut b = ExactSum::with_residual(a.value(), a.residual());
        for _ in 0..50 {
            a.add(0.1);
            b.add(0.1);
        }
        assert_eq!(a.value(), b.value());
        assert_eq!(b.value(), 10.0);
    }

    #[test]
    fn merge_keeps_both_compensations() {
        let mut a = ExactSum::default();
        let mut b = ExactSum::default();
        for _ in 0..1000 {
            a.add(0.1);
            b.add(0.2);
        }
        a.merge(&b);
        assert!((a.value() - 300.0).abs() < 1e-12);
    }
}
