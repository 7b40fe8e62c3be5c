//! The opt-in `efficiency/` metrics of a train row (`Model(efficiency_metrics=True)`): what
//! idle GPUs cost, and the run's spend per trajectory, per million trainer tokens and split
//! between API calls and GPUs.
//!
//! * `efficiency/step_idle_gpu_usd` = the trainer's idle seconds × GPU USD/hour / 3600
//!   (the backend's rate for all its GPUs); `efficiency/cum/idle_gpu_usd` is its running
//!   total, saved with the other totals. The idle seconds are the dialect's
//!   `add_idle_times(step_trainer_idle_s=...)` key: `throughput/step_trainer_idle_s` in
//!   0.5.18, `time/step_trainer_idle_s` in 0.5.23.
//! * `efficiency/usd_per_trajectory` = `costs/cum/all` / `data/cum/num_trajectories`.
//! * `efficiency/usd_per_million_trainer_tokens` =
//!   `costs/cum/all` × 1e6 / `data/cum/trainer_tokens`.
//! * `efficiency/gpu_share` = `costs/cum/gpu` / `costs/cum/all`, and
//!   `efficiency/api_share` = 1 − `efficiency/gpu_share` (every cost that is not GPU time).
//!
//! A ratio is left out while its denominator is zero or was never recorded.

use crate::metrics::derive::StepMetrics;
use crate::metrics::dialect::Dialect;
use crate::metrics::sum::ExactSum;
use crate::metrics::totals::Totals;
use crate::pricing::gpu::gpu_cost_usd;

pub const IDLE_STEP_KEY: &str = "efficiency/step_idle_gpu_usd";
pub const IDLE_CUM_KEY: &str = "efficiency/cum/idle_gpu_usd";

/// The efficiency metrics of a flushed train step, adding its idle GPU cost to `totals`.
/// `gpu_usd_per_hour` is the backend's rate for all its GPUs (`None`: no idle cost); the
/// step's keys are `dialect`'s.
pub fn efficiency_metrics(
    step: &StepMetrics,
    gpu_usd_per_hour: Option<f64>,
    dialect: &Dialect,
    totals: &mut Totals,
) -> Vec<(String, f64)> {
    let mut out = Vec::with_capacity(6);
    let trainer_idle_key = dialect.idle_params[0].key;
    if let (Some(idle_s), Some(rate)) = (step.get(trainer_idle_key), gpu_usd_per_hour) {
        let usd = gpu_cost_usd(idle_s, rate);
        let cum = totals.add(IDLE_CUM_KEY, &ExactSum::new(usd));
        out.push((IDLE_STEP_KEY.to_owned(), usd));
        out.push((IDLE_CUM_KEY.to_owned(), cum));
    }
    let positive = |key: &str| totals.get(key).filter(|v| *v > 0.0);
    let Some(spend) = positive("costs/cum/all") else {
        return out;
    };
    if let Some(n) = positive("data/cum/num_trajectories") {
        out.push(("efficiency/usd_per_trajectory".to_owned(), spend / n));
    }
    if let Some(tokens) = positive("data/cum/trainer_tokens") {
        out.push((
            "efficiency/usd_per_million_trainer_tokens".to_owned(),
            spend * 1e6 / tokens,
        ));
    }
    let gpu_share = totals.get("costs/cum/gpu").unwrap_or(0.0) / spend;
    out.push(("efficiency/api_share".to_owned(), 1.0 - gpu_share));
    out.push(("efficiency/gpu_share".to_owned(), gpu_share));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::ArtVersion;

    const TRAINER_IDLE_KEY: &str = "throughput/step_trainer_idle_s";

    fn old() -> &'static Dialect {
        ArtVersion::V0_5_18.dialect()
    }

    fn totals(values: &[(&str, f64)]) -> Totals {
        let mut t = Totals::default();
        for (k, v) in values {
            t.add(k, &ExactSum::new(*v));
        }
        t
    }

    fn get(out: &[(String, f64)], key: &str) -> Option<f64> {
        out.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    #[test]
    fn the_formulas() {
        let mut t = totals(&[
            ("costs/cum/all", 8.0),
            ("costs/cum/gpu", 6.0),
            ("data/cum/num_trajectories", 16.0),
            ("data/cum/trainer_tokens", 2_000_000.0),
        ]);
        let step = StepMetrics(vec![(TRAINER_IDLE_KEY.into(), 1800.0)]);
        let out = efficiency_metrics(&step, Some(4.0), old(), &mut t);
        assert_eq!(get(&out, IDLE_STEP_KEY), Some(2.0));
        assert_eq!(get(&out, IDLE_CUM_KEY), Some(2.0));
        assert_eq!(get(&out, "efficiency/usd_per_trajectory"), Some(0.5));
        assert_eq!(
            get(&out, "efficiency/usd_per_million_trainer_tokens"),
            Some(4.0)
        );
        assert_eq!(get(&out, "efficiency/gpu_share"), Some(0.75));
        assert_eq!(get(&out, "efficiency/api_share"), Some(0.25));
        // The idle cost accumulates across steps.
        let out = efficiency_metrics(&step, Some(4.0), old(), &mut t);
        assert_eq!(get(&out, IDLE_CUM_KEY), Some(4.0));
        assert_eq!(t.get(IDLE_CUM_KEY), Some(4.0));
    }

    #[test]
    fn missing_inputs_leave_metrics_out() {
        let mut t = totals(&[("costs/cum/all", 0.0)]);
        let idle = StepMetrics(vec![(TRAINER_IDLE_KEY.into(), 60.0)]);
        assert!(
            efficiency_metrics(&idle, None, old(), &mut t).is_empty(),
            "no rate, no spend"
        );
        assert!(efficiency_metrics(&StepMetrics::default(), Some(3.0), old(), &mut t).is_empty());
        let mut t = totals(&[("costs/cum/all", 2.0)]);
        let out = efficiency_metrics(&StepMetrics::default(), None, old(), &mut t);
        let keys: Vec<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["efficiency/api_share", "efficiency/gpu_share"]);
        assert_eq!(get(&out, "efficiency/api_share"), Some(1.0));
    }

    #[test]
    fn the_idle_seconds_are_the_dialects_key() {
        // 0.5.23's add_idle_times records time/step_trainer_idle_s; 0.5.18's key there is an
        // ordinary caller value.
        let new = ArtVersion::V0_5_23.dialect();
        let step = StepMetrics(vec![
            ("time/step_trainer_idle_s".into(), 1800.0),
            (TRAINER_IDLE_KEY.into(), 900.0),
        ]);
        let out = efficiency_metrics(&step, Some(4.0), new, &mut Totals::default());
        assert_eq!(get(&out, IDLE_STEP_KEY), Some(2.0));
        let out = efficiency_metrics(&step, Some(4.0), old(), &mut Totals::default());
        assert_eq!(get(&out, IDLE_STEP_KEY), Some(1.0));
    }
}
