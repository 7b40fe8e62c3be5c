//! The opt-in `efficiency/` metrics of a train row (`Model(efficiency_metrics=True)`): what
//! idle GPUs cost, the run's spend per trajectory, per million trainer tokens and split
//! between API calls and GPUs, and how fast the backend's GPUs turn tokens over.
//!
//! Spend:
//!
//! * `efficiency/step_idle_gpu_usd` = the trainer's idle seconds × GPU USD/hour / 3600
//!   (the backend's rate for all its GPUs); `efficiency/cum/idle_gpu_usd` is its running
//!   total, saved with the other totals. The idle seconds are the dialect's
//!   `add_idle_times(step_trainer_idle_s=...)` key: `throughput/step_trainer_idle_s` in
//!   0.5.18, `time/step_trainer_idle_s` in 0.5.23.
//! * `efficiency/usd_per_trajectory` = `costs/cum/all` / `data/cum/num_trajectories`.
//! * `efficiency/usd_per_million_trainer_tokens` = `costs/cum/all` × 1e6 / the trainer's
//!   running token total (`data/cum/trainer_tokens`; 0.5.23: `data/cum/trainable_assistant_tokens`).
//! * `efficiency/gpu_share` = `costs/cum/gpu` / `costs/cum/all`, and
//!   `efficiency/api_share` = 1 − `efficiency/gpu_share` (every cost that is not GPU time).
//!
//! Hardware, from the step's own tokens and seconds (the dialect's throughput inputs:
//! trainer `data/step_trainer_tokens` and `time/step_trainer_s`, rollout
//! `data/step_actor_tokens` and `time/step_actor_s`; 0.5.23: trainer
//! `data/step_trainable_assistant_tokens` and `time/step_backend_train_s`, rollout
//! `data/step_rollout_tokens` and `time/step_rollout_s`), on train logs of a backend with
//! automatic train-step metrics ([`EfficiencyPlan`]):
//!
//! * `efficiency/{trainer,rollout}_tok_per_s_per_gpu` = tokens / seconds / GPUs, the GPUs
//!   being the backend's `gpu_count` or else the visible ones (nvidia-smi after
//!   `CUDA_VISIBLE_DEVICES`).
//! * `efficiency/trainer_mfu` = 6 × N × tokens / (seconds × Σ peak FLOP/s), and
//!   `efficiency/rollout_mfu` = 2 × N × tokens / (seconds × Σ peak FLOP/s): the model FLOPs
//!   of PaLM's appendix B without its attention term (N parameters; 2N per token forward,
//!   4N more backward), over the GPUs' dense BF16 peaks (`pricing::gpu_flops`). A fraction.
//! * `efficiency/gpu_memory_used_gib` = the largest nvidia-smi `memory.used` among the
//!   visible GPUs at this log (all processes, now), and `efficiency/max_gpu_memory_used_gib`
//!   the largest of those over this process's train logs of the run so far ([`HighWater`]).
//! * `efficiency/torch_max_memory_allocated_gib` = `torch.cuda.max_memory_allocated()`, the
//!   largest over this process's devices, where the caller read it.
//!
//! A figure is left out while an input is missing or a denominator is zero.

mod inputs;

pub use inputs::{EfficiencyInputs, EfficiencyPlan, Hardware, HighWater, efficiency_plan};

use crate::metrics::derive::StepMetrics;
use crate::metrics::dialect::{Dialect, Throughput};
use crate::metrics::sum::ExactSum;
use crate::metrics::totals::Totals;
use crate::pricing::gpu::gpu_cost_usd;

pub const IDLE_STEP_KEY: &str = "efficiency/step_idle_gpu_usd";
pub const IDLE_CUM_KEY: &str = "efficiency/cum/idle_gpu_usd";

/// The efficiency metrics of a flushed train step, adding its idle GPU cost to `totals`;
/// the step's keys are `dialect`'s. The spend figures first, then the hardware ones.
pub fn efficiency_metrics(
    step: &StepMetrics,
    inputs: &EfficiencyInputs,
    dialect: &Dialect,
    totals: &mut Totals,
) -> Vec<(String, f64)> {
    let mut out = Vec::with_capacity(13);
    spend_figures(step, inputs.usd_per_hour, dialect, totals, &mut out);
    hardware_figures(step, &inputs.hardware, dialect, &mut out);
    out
}

fn spend_figures(
    step: &StepMetrics,
    gpu_usd_per_hour: Option<f64>,
    dialect: &Dialect,
    totals: &mut Totals,
    out: &mut Vec<(String, f64)>,
) {
    let trainer_idle_key = dialect.idle_params[0].key;
    if let (Some(idle_s), Some(rate)) = (step.get(trainer_idle_key), gpu_usd_per_hour) {
        let usd = gpu_cost_usd(idle_s, rate);
        let cum = totals.add(IDLE_CUM_KEY, &ExactSum::new(usd));
        out.push((IDLE_STEP_KEY.to_owned(), usd));
        out.push((IDLE_CUM_KEY.to_owned(), cum));
    }
    let positive = |key: &str| totals.get(key).filter(|v| *v > 0.0);
    let Some(spend) = positive("costs/cum/all") else {
        return;
    };
    if let Some(n) = positive("data/cum/num_trajectories") {
        out.push(("efficiency/usd_per_trajectory".to_owned(), spend / n));
    }
    if let Some(tokens) = positive(dialect.throughputs[0].tokens) {
        out.push((
            "efficiency/usd_per_million_trainer_tokens".to_owned(),
            spend * 1e6 / tokens,
        ));
    }
    let gpu_share = totals.get("costs/cum/gpu").unwrap_or(0.0) / spend;
    out.push(("efficiency/api_share".to_owned(), 1.0 - gpu_share));
    out.push(("efficiency/gpu_share".to_owned(), gpu_share));
}

/// A stage whose tokens the GPUs turn over, and its model FLOPs per token per parameter.
struct Stage {
    tok_per_s_per_gpu: &'static str,
    mfu: &'static str,
    flops_per_token_per_param: f64,
}

const TRAINER: Stage = Stage {
    tok_per_s_per_gpu: "efficiency/trainer_tok_per_s_per_gpu",
    mfu: "efficiency/trainer_mfu",
    // Forward 2N, backward 4N.
    flops_per_token_per_param: 6.0,
};

const ROLLOUT: Stage = Stage {
    tok_per_s_per_gpu: "efficiency/rollout_tok_per_s_per_gpu",
    mfu: "efficiency/rollout_mfu",
    flops_per_token_per_param: 2.0,
};

fn hardware_figures(
    step: &StepMetrics,
    hw: &Hardware,
    dialect: &Dialect,
    out: &mut Vec<(String, f64)>,
) {
    let [trainer, rollout] = &dialect.throughputs;
    for (stage, inputs) in [(&TRAINER, trainer), (&ROLLOUT, rollout)] {
        stage_figures(step, stage, inputs, hw, out);
    }
    let memory = [
        ("efficiency/gpu_memory_used_gib", hw.gpu_memory_used_gib),
        (
            "efficiency/max_gpu_memory_used_gib",
            hw.max_gpu_memory_used_gib,
        ),
        (
            "efficiency/torch_max_memory_allocated_gib",
            hw.torch_max_memory_allocated_gib,
        ),
    ];
    for (key, gib) in memory {
        if let Some(gib) = gib {
            out.push((key.to_owned(), gib));
        }
    }
}

fn stage_figures(
    step: &StepMetrics,
    stage: &Stage,
    inputs: &Throughput,
    hw: &Hardware,
    out: &mut Vec<(String, f64)>,
) {
    let [tokens_key, seconds_key] = inputs.triggers;
    let (Some(tokens), Some(seconds)) = (step.get(tokens_key), step.get(seconds_key)) else {
        return;
    };
    if seconds <= 0.0 || seconds.is_nan() {
        return;
    }
    if let Some(gpus) = hw.gpu_count.filter(|n| *n > 0) {
        out.push((
            stage.tok_per_s_per_gpu.to_owned(),
            tokens / seconds / gpus as f64,
        ));
    }
    if let (Some(n), Some(peak)) = (hw.n_params, hw.peak_flops.filter(|p| *p > 0.0)) {
        let model_flops = stage.flops_per_token_per_param * n as f64 * tokens;
        out.push((stage.mfu.to_owned(), model_flops / (seconds * peak)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::ArtVersion;

    const TRAINER_IDLE_KEY: &str = "throughput/step_trainer_idle_s";

    fn old() -> &'static Dialect {
        ArtVersion::V0_5_18.dialect()
    }

    fn new() -> &'static Dialect {
        ArtVersion::V0_5_23.dialect()
    }

    fn totals(values: &[(&str, f64)]) -> Totals {
        let mut t = Totals::default();
        for (k, v) in values {
            t.add(k, &ExactSum::new(*v));
        }
        t
    }

    /// The four figures of a step of 2e6 trainer tokens in 100 s and 3e6 rollout tokens in
    /// 60 s on four GPUs of 1e15 FLOP/s, N = 5e9.
    fn assert_step_figures(out: &[(String, f64)]) {
        // 2e6 tokens / 100 s / 4 GPUs; 6 × 5e9 × 2e6 / (100 s × 4e15 FLOP/s).
        assert_eq!(
            get(out, "efficiency/trainer_tok_per_s_per_gpu"),
            Some(5000.0)
        );
        assert_eq!(get(out, "efficiency/trainer_mfu"), Some(0.15));
        // 3e6 / 60 / 4; 2 × 5e9 × 3e6 / (60 × 4e15).
        assert_eq!(
            get(out, "efficiency/rollout_tok_per_s_per_gpu"),
            Some(12500.0)
        );
        assert_eq!(get(out, "efficiency/rollout_mfu"), Some(0.125));
    }

    fn get(out: &[(String, f64)], key: &str) -> Option<f64> {
        out.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    fn keys(out: &[(String, f64)]) -> Vec<&str> {
        out.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// Inputs with a GPU rate and no hardware.
    fn rate(usd_per_hour: Option<f64>) -> EfficiencyInputs {
        EfficiencyInputs {
            usd_per_hour,
            hardware: Hardware::default(),
        }
    }

    fn step(values: &[(&str, f64)]) -> StepMetrics {
        StepMetrics(values.iter().map(|(k, v)| ((*k).into(), *v)).collect())
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
        let out = efficiency_metrics(&step, &rate(Some(4.0)), old(), &mut t);
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
        let out = efficiency_metrics(&step, &rate(Some(4.0)), old(), &mut t);
        assert_eq!(get(&out, IDLE_CUM_KEY), Some(4.0));
        assert_eq!(t.get(IDLE_CUM_KEY), Some(4.0));
    }

    #[test]
    fn missing_inputs_leave_metrics_out() {
        let mut t = totals(&[("costs/cum/all", 0.0)]);
        let idle = StepMetrics(vec![(TRAINER_IDLE_KEY.into(), 60.0)]);
        assert!(
            efficiency_metrics(&idle, &rate(None), old(), &mut t).is_empty(),
            "no rate, no spend"
        );
        assert!(
            efficiency_metrics(&StepMetrics::default(), &rate(Some(3.0)), old(), &mut t).is_empty()
        );
        let mut t = totals(&[("costs/cum/all", 2.0)]);
        let out = efficiency_metrics(&StepMetrics::default(), &rate(None), old(), &mut t);
        assert_eq!(keys(&out), ["efficiency/api_share", "efficiency/gpu_share"]);
        assert_eq!(get(&out, "efficiency/api_share"), Some(1.0));
    }

    #[test]
    fn the_idle_seconds_and_trainer_tokens_are_the_dialects_keys() {
        // 0.5.23's add_idle_times records time/step_trainer_idle_s; 0.5.18's key there is an
        // ordinary caller value. Its trainer tokens are the trainable assistant tokens.
        let step = StepMetrics(vec![
            ("time/step_trainer_idle_s".into(), 1800.0),
            (TRAINER_IDLE_KEY.into(), 900.0),
        ]);
        let both = [
            ("costs/cum/all", 8.0),
            ("data/cum/trainable_assistant_tokens", 4e6),
            ("data/cum/trainer_tokens", 1e6),
        ];
        let out = efficiency_metrics(&step, &rate(Some(4.0)), new(), &mut totals(&both));
        assert_eq!(get(&out, IDLE_STEP_KEY), Some(2.0));
        let per_million = "efficiency/usd_per_million_trainer_tokens";
        assert_eq!(get(&out, per_million), Some(2.0));
        let out = efficiency_metrics(&step, &rate(Some(4.0)), old(), &mut totals(&both));
        assert_eq!(get(&out, IDLE_STEP_KEY), Some(1.0));
        assert_eq!(get(&out, per_million), Some(8.0));
    }

    /// 4 GPUs of 1 PFLOP/s each, a 5B-parameter model.
    fn four_gpus() -> EfficiencyInputs {
        EfficiencyInputs {
            usd_per_hour: None,
            hardware: Hardware {
                gpu_count: Some(4),
                peak_flops: Some(4e15),
                n_params: Some(5_000_000_000),
                ..Hardware::default()
            },
        }
    }

    #[test]
    fn tokens_per_second_per_gpu_and_mfu() {
        let s = step(&[
            ("data/step_trainer_tokens", 2e6),
            ("time/step_trainer_s", 100.0),
            ("data/step_actor_tokens", 3e6),
            ("time/step_actor_s", 60.0),
        ]);
        let out = efficiency_metrics(&s, &four_gpus(), old(), &mut Totals::default());
        assert_eq!(
            keys(&out),
            [
                "efficiency/trainer_tok_per_s_per_gpu",
                "efficiency/trainer_mfu",
                "efficiency/rollout_tok_per_s_per_gpu",
                "efficiency/rollout_mfu",
            ]
        );
        assert_step_figures(&out);
    }

    #[test]
    fn a_0523_run_reads_its_own_vocabulary() {
        let s = step(&[
            ("data/step_trainable_assistant_tokens", 2e6),
            ("time/step_backend_train_s", 100.0),
            ("data/step_rollout_tokens", 3e6),
            ("time/step_rollout_s", 60.0),
            // 0.5.18's names mean nothing to a 0.5.23 run.
            ("data/step_trainer_tokens", 1.0),
            ("time/step_trainer_s", 1.0),
        ]);
        let out = efficiency_metrics(&s, &four_gpus(), new(), &mut Totals::default());
        assert_step_figures(&out);
        let rows_of_0518 = efficiency_metrics(&s, &four_gpus(), old(), &mut Totals::default());
        assert_eq!(
            get(&rows_of_0518, "efficiency/trainer_tok_per_s_per_gpu"),
            Some(0.25)
        );
    }

    #[test]
    fn a_missing_input_or_zero_denominator_leaves_a_figure_out() {
        let trainer = |tokens: Option<f64>, seconds: f64| {
            let mut values = vec![("time/step_trainer_s", seconds)];
            values.extend(tokens.map(|t| ("data/step_trainer_tokens", t)));
            step(&values)
        };
        let figures = |s: &StepMetrics, hw: Hardware| {
            let inputs = EfficiencyInputs {
                usd_per_hour: None,
                hardware: hw,
            };
            efficiency_metrics(s, &inputs, old(), &mut Totals::default())
        };
        let hw = four_gpus().hardware;
        assert!(
            figures(&trainer(Some(1e6), 0.0), hw.clone()).is_empty(),
            "0 s"
        );
        assert!(
            figures(&trainer(None, 10.0), hw.clone()).is_empty(),
            "no tokens"
        );
        // Zero tokens is a measurement: 0 tokens per second, MFU 0.
        let out = figures(&trainer(Some(0.0), 10.0), hw.clone());
        assert_eq!(get(&out, "efficiency/trainer_mfu"), Some(0.0));
        let s = trainer(Some(1e6), 10.0);
        let no_count = Hardware {
            gpu_count: None,
            ..hw.clone()
        };
        assert_eq!(keys(&figures(&s, no_count)), ["efficiency/trainer_mfu"]);
        let zero_gpus = Hardware {
            gpu_count: Some(0),
            peak_flops: None,
            ..hw.clone()
        };
        assert!(figures(&s, zero_gpus).is_empty());
        let no_params = Hardware {
            n_params: None,
            ..hw.clone()
        };
        assert_eq!(
            keys(&figures(&s, no_params)),
            ["efficiency/trainer_tok_per_s_per_gpu"]
        );
        let no_peak = Hardware {
            peak_flops: None,
            ..hw
        };
        assert_eq!(
            keys(&figures(&s, no_peak)),
            ["efficiency/trainer_tok_per_s_per_gpu"]
        );
    }

    #[test]
    fn the_memory_figures() {
        let hardware = Hardware {
            gpu_memory_used_gib: Some(20.0),
            max_gpu_memory_used_gib: Some(60.0),
            torch_max_memory_allocated_gib: Some(3.0),
            ..Hardware::default()
        };
        let inputs = EfficiencyInputs {
            usd_per_hour: None,
            hardware,
        };
        let out = efficiency_metrics(
            &StepMetrics::default(),
            &inputs,
            old(),
            &mut Totals::default(),
        );
        assert_eq!(
            out,
            [
                ("efficiency/gpu_memory_used_gib".into(), 20.0),
                ("efficiency/max_gpu_memory_used_gib".into(), 60.0),
                ("efficiency/torch_max_memory_allocated_gib".into(), 3.0),
            ]
        );
    }
}
