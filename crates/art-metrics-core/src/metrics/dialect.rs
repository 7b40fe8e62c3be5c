//! The openpipe-art versions this package speaks, and what differs between them, as data.
//!
//! openpipe-art 0.5.23 renamed part of 0.5.18's metrics vocabulary and changed how `Model.log`
//! builds rows and what it sends to W&B. Every rule that differs is a field of [`Dialect`];
//! the code that applies it (builder, flush, routing, rows, W&B filter) exists once and reads
//! the table of the run's [`ArtVersion`].

use crate::error::{CoreError, CoreResult};
use crate::metrics::keys;

/// The openpipe-art version whose rules a run follows. Chosen when the run starts; every
/// builder of the run shares it (they share totals, and the versions total different keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ArtVersion {
    #[default]
    V0_5_18,
    V0_5_23,
}

/// The supported versions, as users write them.
pub const SUPPORTED_ART_VERSIONS: [&str; 2] = ["0.5.18", "0.5.23"];

impl ArtVersion {
    /// `"0.5.18"` or `"0.5.23"`; anything else is refused, naming the supported versions.
    pub fn parse(version: &str) -> CoreResult<Self> {
        match version {
            "0.5.18" => Ok(ArtVersion::V0_5_18),
            "0.5.23" => Ok(ArtVersion::V0_5_23),
            other => Err(CoreError::value(format!(
                "art_version must be one of {}, got '{other}'",
                SUPPORTED_ART_VERSIONS.join(", ")
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ArtVersion::V0_5_18 => "0.5.18",
            ArtVersion::V0_5_23 => "0.5.23",
        }
    }

    /// The rules of this version.
    pub fn dialect(self) -> &'static Dialect {
        match self {
            ArtVersion::V0_5_18 => &V0_5_18,
            ArtVersion::V0_5_23 => &V0_5_23,
        }
    }
}

/// A keyword parameter of a builder helper and the step key it records.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub key: &'static str,
}

const fn p(name: &'static str, key: &'static str) -> Param {
    Param { name, key }
}

/// `out = total tokens / total seconds`, emitted on flushes that contain a trigger key.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    /// The step keys: tokens, then seconds.
    pub triggers: [&'static str; 2],
    pub tokens: &'static str,
    pub seconds: &'static str,
    pub out: &'static str,
}

/// A step key that is not summed; its total is recomputed as a ratio of other totals.
#[derive(Debug, Clone, Copy)]
pub struct RatioRule {
    pub step_key: &'static str,
    pub total_key: &'static str,
    pub numerators: [&'static str; 2],
    pub denominator: &'static str,
}

/// How a row key is qualified with its split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualify {
    /// train/val/test keep keys under a row section or split; other splits prefix every key.
    StandardSplitsOnly,
    /// Every split keeps keys under a row section or split; the split `whole` prefixes every
    /// key not already under it.
    EverySplit { whole: &'static str },
}

/// The key a batch average gets before qualification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchKeys {
    /// `m`, `group_m`, `reward`, `reward_std_dev`, `exception_rate`.
    Bare,
    /// `{split}/m`, `{split}/group/m`, `{split}/reward`, ...
    SplitFirst,
}

/// The parts of a batch's row, in the order a version writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchPart {
    Reward,
    ExceptionRate,
    Trajectory,
    /// The val/test default data counts, where a version writes them into the row.
    EvalData,
    Group,
    RewardStdDev,
}

/// Where the default data counts of a train/val/test batch go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultData {
    /// Every standard split's counts and scenario ids go to its builder (totalled); skipped
    /// when the caller's `metrics` has the key.
    AllToBuilder,
    /// train's go to its builder (with the scenario ids); val/test's are written into the
    /// row as `{split}/data/step_*`. Skipped when `metrics` has the key or `{split}/key`.
    TrainToBuilderEvalToRow,
}

/// When a group of two or more trajectories can be trained on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trainable {
    /// Some reward differs from the first (NaN differs from everything).
    Distinct,
    /// Some reward is farther than the tolerance from the first (NaN is).
    AwayFromFirst(f64),
}

/// What goes to W&B.
#[derive(Debug, Clone, Copy)]
pub struct WandbRules {
    /// `define_metric(name)` at run creation, before the globs; also defined from the start.
    pub axes: &'static [&'static str],
    /// `define_metric(pattern, step_metric=...)` at run creation, in order.
    pub globs: &'static [(&'static str, &'static str)],
    /// `None`: `run.log` gets the whole row. `Some`: only these keys, keys under these
    /// prefixes, and the caller's own keys.
    pub filter: Option<(&'static [&'static str], &'static [&'static str])>,
    /// Whether a caller's key is also defined against `training_step` (besides `costs/`).
    pub define_caller_keys: bool,
    /// Whether `Model()` refuses to start without the `wandb` package (0.5.18) rather than
    /// skip W&B (0.5.23).
    pub requires_package: bool,
}

/// Everything that differs between two openpipe-art versions.
#[derive(Debug)]
pub struct Dialect {
    pub version: ArtVersion,
    /// `add_data(step_num_scenarios, <tokens>, scenario_ids)`: the first two.
    pub data_params: [Param; 2],
    /// `add_user_timing(wall, <rollout>, eval)`.
    pub timing_params: [Param; 3],
    /// `add_idle_times(trainer, <rollout>)`.
    pub idle_params: [Param; 2],
    /// Step keys outside the totalled sections that still get a total: (step key, total key).
    pub idle_totals: &'static [(&'static str, &'static str)],
    /// Keys `Model.log` sums into the builder rather than averaging or passing through.
    pub managed_prefixes: &'static [&'static str],
    /// The trainer's throughput, then the rollout's (0.5.18's "actor").
    pub throughputs: [Throughput; 2],
    pub ratio: Option<RatioRule>,
    /// First segments a row keeps unprefixed (besides train/val/test).
    pub row_sections: &'static [&'static str],
    pub qualify: Qualify,
    pub batch_keys: BatchKeys,
    pub batch_order: &'static [BatchPart],
    pub default_data: DefaultData,
    pub trainable: Trainable,
    /// The run's elapsed seconds, appended after `training_step`, when the version has it.
    pub wall_clock_key: Option<&'static str>,
    pub wandb: WandbRules,
}

pub const STEP_METRIC: &str = "training_step";

static V0_5_18: Dialect = Dialect {
    version: ArtVersion::V0_5_18,
    data_params: [
        p("step_num_scenarios", "data/step_num_scenarios"),
        p("step_actor_tokens", "data/step_actor_tokens"),
    ],
    timing_params: [
        p("step_wall_s", "time/step_wall_s"),
        p("step_actor_s", "time/step_actor_s"),
        p("step_eval_s", "time/step_eval_s"),
    ],
    idle_params: [
        p("step_trainer_idle_s", "throughput/step_trainer_idle_s"),
        p("step_actor_idle_s", "throughput/step_actor_idle_s"),
    ],
    idle_totals: &[
        (
            "throughput/step_trainer_idle_s",
            "throughput/cum/trainer_idle_s",
        ),
        (
            "throughput/step_actor_idle_s",
            "throughput/cum/actor_idle_s",
        ),
    ],
    managed_prefixes: &["costs/", "time/step_", "data/step_", "throughput/step_"],
    throughputs: [
        Throughput {
            triggers: ["data/step_trainer_tokens", "time/step_trainer_s"],
            tokens: "data/cum/trainer_tokens",
            seconds: "time/cum/trainer_s",
            out: "throughput/avg_trainer_tok_per_s",
        },
        Throughput {
            triggers: ["data/step_actor_tokens", "time/step_actor_s"],
            tokens: "data/cum/actor_tokens",
            seconds: "time/cum/actor_s",
            out: "throughput/avg_actor_tok_per_s",
        },
    ],
    ratio: None,
    row_sections: &[
        "reward",
        "loss",
        "offpolicy",
        "pipeline",
        "throughput",
        "costs",
        "time",
        "data",
    ],
    qualify: Qualify::StandardSplitsOnly,
    batch_keys: BatchKeys::Bare,
    batch_order: &[
        BatchPart::Reward,
        BatchPart::ExceptionRate,
        BatchPart::Trajectory,
        BatchPart::Group,
        BatchPart::RewardStdDev,
    ],
    default_data: DefaultData::AllToBuilder,
    trainable: Trainable::Distinct,
    wall_clock_key: Some("time/wall_clock_sec"),
    wandb: WandbRules {
        axes: &[STEP_METRIC, "time/wall_clock_sec"],
        globs: &[
            ("reward/*", STEP_METRIC),
            ("loss/*", STEP_METRIC),
            ("throughput/*", STEP_METRIC),
            ("costs/*", STEP_METRIC),
            ("time/*", STEP_METRIC),
            ("data/*", STEP_METRIC),
            ("train/*", STEP_METRIC),
            ("val/*", STEP_METRIC),
            ("test/*", STEP_METRIC),
            ("discarded/*", STEP_METRIC),
        ],
        filter: None,
        define_caller_keys: false,
        requires_package: true,
    },
};

const SFT_STEP: &str = "sft/gradient_step";

static V0_5_23: Dialect = Dialect {
    version: ArtVersion::V0_5_23,
    data_params: [
        p("step_num_scenarios", "data/step_num_scenarios"),
        p("step_rollout_tokens", "data/step_rollout_tokens"),
    ],
    timing_params: [
        p("step_wall_s", "time/step_wall_s"),
        p("step_rollout_s", "time/step_rollout_s"),
        p("step_eval_s", "time/step_eval_s"),
    ],
    idle_params: [
        p("step_trainer_idle_s", "time/step_trainer_idle_s"),
        p("step_rollout_idle_s", "time/step_rollout_idle_s"),
    ],
    // Ordinary `time/step_*` keys now: the generic rule totals them.
    idle_totals: &[],
    managed_prefixes: &["costs/", "time/step_", "data/step_"],
    throughputs: [
        Throughput {
            triggers: [
                "data/step_trainable_assistant_tokens",
                "time/step_backend_train_s",
            ],
            tokens: "data/cum/trainable_assistant_tokens",
            seconds: "time/cum/backend_train_s",
            out: "throughput/avg_trainer_tok_per_s",
        },
        Throughput {
            triggers: ["data/step_rollout_tokens", "time/step_rollout_s"],
            tokens: "data/cum/rollout_tokens",
            seconds: "time/cum/rollout_s",
            out: "throughput/avg_rollout_tok_per_s",
        },
    ],
    ratio: Some(RatioRule {
        step_key: "data/step_unused_and_dummy_ratio",
        total_key: "data/cum/unused_and_dummy_ratio",
        numerators: [
            "data/cum/unused_packed_capacity_tokens",
            "data/cum/dummy_schedule_capacity_tokens",
        ],
        denominator: "data/cum/nominal_schedule_capacity_tokens",
    }),
    row_sections: &[
        "loss",
        "objective",
        "offpolicy",
        "pipeline",
        "pipeline_settings",
        "queue",
        "sample_efficiency",
        "throughput",
        "costs",
        "discarded",
        "time",
        "data",
        "vllm",
    ],
    qualify: Qualify::EverySplit { whole: "sft" },
    batch_keys: BatchKeys::SplitFirst,
    batch_order: &[
        BatchPart::Trajectory,
        BatchPart::EvalData,
        BatchPart::Group,
        BatchPart::Reward,
        BatchPart::RewardStdDev,
        BatchPart::ExceptionRate,
    ],
    default_data: DefaultData::TrainToBuilderEvalToRow,
    trainable: Trainable::AwayFromFirst(1e-12),
    wall_clock_key: None,
    wandb: WandbRules {
        axes: &[STEP_METRIC, SFT_STEP],
        globs: &[
            ("train/*", STEP_METRIC),
            ("val/*", STEP_METRIC),
            ("test/*", STEP_METRIC),
            ("loss/*", STEP_METRIC),
            ("objective/*", STEP_METRIC),
            ("sample_efficiency/*", STEP_METRIC),
            ("offpolicy/*", STEP_METRIC),
            ("throughput/*", STEP_METRIC),
            ("costs/*", STEP_METRIC),
            ("time/*", STEP_METRIC),
            ("data/*", STEP_METRIC),
            ("discarded/*", STEP_METRIC),
            ("pipeline_settings/*", STEP_METRIC),
            ("vllm/*", STEP_METRIC),
            ("sft/*", SFT_STEP),
        ],
        filter: Some((WANDB_CANONICAL_0_5_23, &["costs/cum/", "sft/"])),
        define_caller_keys: true,
        requires_package: false,
    },
};

/// The keys 0.5.23 always sends to W&B (besides `costs/cum/*`, `sft/*` and the caller's).
const WANDB_CANONICAL_0_5_23: &[&str] = &[
    STEP_METRIC,
    SFT_STEP,
    "objective/score",
    "sample_efficiency/accepted_groups_per_step",
    "sample_efficiency/batch_factor",
    "sample_efficiency/freshness_discount",
    "offpolicy/token_weighted_policy_age_steps",
    "offpolicy/token_weighted_policy_age_p95_steps",
    "throughput/accepted_train_tok_per_s",
    "throughput/train_nonpadding_logical_tok_per_s",
    "throughput/train_loss_bearing_tok_per_s",
    "throughput/train_executed_tok_equiv_per_s",
    "throughput/train_nominal_capacity_tok_per_s",
    "data/step_trainable_assistant_tokens",
    "data/step_nonpadding_logical_tokens",
    "data/step_loss_bearing_tokens",
    "data/step_executed_token_equivalents",
    "data/step_nominal_schedule_capacity_tokens",
    "data/step_dummy_executed_token_equivalents",
    "data/step_dummy_schedule_capacity_tokens",
    "data/step_unused_packed_capacity_tokens",
    "data/step_unused_and_dummy_ratio",
    "data/cum/num_unique_scenarios",
    "data/cum/num_scenarios",
    "data/cum/num_gradient_steps",
    "discarded/cum/stale_groups",
    "discarded/cum/zero_variance_groups",
    "discarded/step/stale_groups",
    "discarded/step/zero_variance_groups",
    "discarded/rate/stale_groups",
    "discarded/rate/zero_variance_groups",
    "time/step_wall_s",
    "time/cum/wall_s",
    "time/step_collect_batch_s",
    "time/step_backend_train_s",
    "time/step_rollout_idle_s",
    "pipeline_settings/num_rollout_workers",
    "pipeline_settings/min_batch_size",
    "pipeline_settings/max_batch_size",
    "pipeline_settings/target_groups_per_step",
    "pipeline_settings/queue_maxsize",
    "queue/actual_stale_fraction",
    "queue/put_wait_frac",
    "queue/put_wait_s",
    "loss/train",
    "loss/entropy",
    "loss/kl_div",
    "loss/kl_policy_ref",
    "loss/grad_norm",
    "loss/learning_rate",
    "loss/importance_ratio_mean",
    "loss/importance_ratio_p95",
    "loss/importance_ratio_p99",
    "loss/clipped_token_fraction",
    "vllm/prompt_tok_per_s",
    "vllm/completion_tok_per_s",
    "vllm/num_requests_running",
    "vllm/num_requests_waiting",
    "vllm/num_requests_waiting_capacity",
    "vllm/prefix_cache_hit_rate",
    "vllm/kv_cache_usage_perc",
    "train/reward",
    "train/reward_std_dev",
    "train/exception_rate",
    "val/reward",
    "val/reward_std_dev",
    "val/exception_rate",
    "test/reward",
    "test/reward_std_dev",
    "test/exception_rate",
];

/// The splits with standard prefixing and default data metrics.
pub const STANDARD_SPLITS: [&str; 3] = ["train", "val", "test"];

impl Dialect {
    /// True for keys `Model.log` sums into the builder (`costs/...`, `time/step_...`, ...).
    pub fn is_builder_managed(&self, key: &str) -> bool {
        self.managed_prefixes.iter().any(|p| key.starts_with(p))
    }

    /// The key a metric gets in a row of `split`.
    pub fn row_key(&self, split: &str, key: &str) -> String {
        let first = keys::split_section(key).map(|(first, _)| first);
        let keep =
            |first: &str| self.row_sections.contains(&first) || STANDARD_SPLITS.contains(&first);
        let bare = match self.qualify {
            Qualify::StandardSplitsOnly => {
                STANDARD_SPLITS.contains(&split) && first.is_some_and(keep)
            }
            Qualify::EverySplit { whole } if split == whole => first.unwrap_or(key) == whole,
            Qualify::EverySplit { .. } => first.is_some_and(keep),
        };
        if bare {
            key.to_owned()
        } else {
            format!("{split}/{key}")
        }
    }

    /// The pre-qualification key of a trajectory metric (`group`: of a group metric).
    pub fn batch_metric_key(&self, split: &str, key: &str, group: bool) -> String {
        match (self.batch_keys, group) {
            (BatchKeys::Bare, false) => key.to_owned(),
            (BatchKeys::Bare, true) => format!("group_{key}"),
            (BatchKeys::SplitFirst, false) => format!("{split}/{key}"),
            (BatchKeys::SplitFirst, true) => format!("{split}/group/{key}"),
        }
    }

    /// The pre-qualification key of `reward`, `reward_std_dev` or `exception_rate`.
    pub fn batch_stat_key(&self, split: &str, name: &str) -> String {
        match self.batch_keys {
            BatchKeys::Bare => name.to_owned(),
            BatchKeys::SplitFirst => format!("{split}/{name}"),
        }
    }

    /// Whether a group with these rewards (two or more) can be trained on.
    pub fn is_trainable(&self, rewards: &[f64]) -> bool {
        let Some((first, rest)) = rewards.split_first() else {
            return false;
        };
        if rest.is_empty() {
            return false;
        }
        match self.trainable {
            // `!=` is true for NaN, as in Python's `len(set(rewards)) > 1`.
            Trainable::Distinct => rest.iter().any(|r| r != first),
            // A NaN is never within the tolerance (the comparison is not `Less`/`Equal`).
            Trainable::AwayFromFirst(tol) => rest.iter().any(|r| {
                !matches!(
                    (r - first).abs().partial_cmp(&tol),
                    Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
                )
            }),
        }
    }

    /// Whether `run.log` gets `key` of a row whose caller keys are `is_caller`.
    pub fn wandb_sends(&self, key: &str, is_caller: impl Fn(&str) -> bool) -> bool {
        match self.wandb.filter {
            None => true,
            Some((canonical, prefixes)) => {
                canonical.contains(&key)
                    || prefixes.iter().any(|p| key.starts_with(p))
                    || is_caller(key)
            }
        }
    }

    /// Whether a sent `key` gets its own `define_metric(key, step_metric="training_step")`.
    pub fn wandb_defines(&self, key: &str, is_caller: impl Fn(&str) -> bool) -> bool {
        key.starts_with("costs/") || (self.wandb.define_caller_keys && is_caller(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &Dialect = &V0_5_18;
    const NEW: &Dialect = &V0_5_23;

    #[test]
    fn versions_parse_and_others_are_refused_by_name() {
        assert_eq!(ArtVersion::parse("0.5.23").unwrap(), ArtVersion::V0_5_23);
        assert_eq!(ArtVersion::default().as_str(), "0.5.18");
        for bad in ["0.4.0", "0.5.2", "", "latest"] {
            let e = ArtVersion::parse(bad).unwrap_err().to_string();
            assert!(
                e.contains("0.5.18, 0.5.23") && e.contains(&format!("'{bad}'")),
                "{e}"
            );
        }
        for v in [ArtVersion::V0_5_18, ArtVersion::V0_5_23] {
            assert_eq!(v.dialect().version, v);
            assert_eq!(ArtVersion::parse(v.as_str()).unwrap(), v);
        }
    }

    #[test]
    fn renamed_parameters_keep_their_slots() {
        assert_eq!(OLD.timing_params[1].key, "time/step_actor_s");
        assert_eq!(NEW.timing_params[1].name, "step_rollout_s");
        assert_eq!(NEW.idle_params[0].key, "time/step_trainer_idle_s");
        assert_eq!(NEW.data_params[1].key, "data/step_rollout_tokens");
        for (o, n) in OLD.timing_params.iter().zip(&NEW.timing_params) {
            assert_eq!(o.name == n.name, o.key == n.key);
        }
    }

    #[test]
    fn managed_prefixes() {
        assert!(OLD.is_builder_managed("throughput/step_x"));
        assert!(!NEW.is_builder_managed("throughput/step_x"));
        for d in [OLD, NEW] {
            assert!(d.is_builder_managed("costs/x") && d.is_builder_managed("time/step_x"));
            assert!(!d.is_builder_managed("time/wall_clock_sec"));
        }
    }

    #[test]
    fn qualification_0518() {
        assert_eq!(OLD.row_key("train", "reward"), "train/reward");
        assert_eq!(OLD.row_key("train", "reward/x"), "reward/x");
        assert_eq!(OLD.row_key("train", "loss/a"), "loss/a");
        assert_eq!(OLD.row_key("val", "train/x"), "train/x");
        assert_eq!(OLD.row_key("holdout", "costs/all"), "holdout/costs/all");
        assert_eq!(OLD.row_key("train", "costs"), "train/costs");
        assert_eq!(OLD.row_key("train", "vllm/x"), "train/vllm/x");
    }

    #[test]
    fn qualification_0523() {
        assert_eq!(NEW.row_key("train", "reward/x"), "train/reward/x");
        assert_eq!(NEW.row_key("train", "vllm/x"), "vllm/x");
        assert_eq!(NEW.row_key("holdout", "costs/all"), "costs/all");
        assert_eq!(NEW.row_key("holdout", "holdout/x"), "holdout/holdout/x");
        assert_eq!(NEW.row_key("holdout", "plain"), "holdout/plain");
        assert_eq!(NEW.row_key("val", "train/x"), "train/x");
        assert_eq!(NEW.row_key("train", "costs"), "train/costs");
        assert_eq!(NEW.row_key("sft", "costs/all"), "sft/costs/all");
        assert_eq!(NEW.row_key("sft", "sft/x"), "sft/x");
        assert_eq!(NEW.row_key("sft", "sft"), "sft");
        assert_eq!(NEW.row_key("sft", "loss/train"), "sft/loss/train");
        assert_eq!(NEW.row_key("sft", "sftx/y"), "sft/sftx/y");
    }

    #[test]
    fn batch_keys() {
        assert_eq!(OLD.batch_metric_key("train", "m", true), "group_m");
        assert_eq!(OLD.batch_metric_key("train", "loss/x", false), "loss/x");
        assert_eq!(NEW.batch_metric_key("val", "m", true), "val/group/m");
        assert_eq!(NEW.batch_metric_key("val", "loss/x", false), "val/loss/x");
        assert_eq!(NEW.batch_stat_key("val", "reward"), "val/reward");
        assert_eq!(OLD.batch_stat_key("val", "reward"), "reward");
    }

    #[test]
    fn trainability() {
        for d in [OLD, NEW] {
            assert!(!d.is_trainable(&[1.0]));
            assert!(!d.is_trainable(&[]));
            assert!(!d.is_trainable(&[0.5, 0.5]));
            assert!(d.is_trainable(&[0.0, 1.0]));
            assert!(d.is_trainable(&[0.0, f64::NAN]));
            assert!(d.is_trainable(&[f64::NAN, f64::NAN]));
        }
        assert!(OLD.is_trainable(&[0.0, 1e-13]));
        assert!(!NEW.is_trainable(&[0.0, 1e-13]));
        // Relative to the first reward: order matters.
        assert!(!NEW.is_trainable(&[1e-12, 0.0, 2e-12]));
        assert!(NEW.is_trainable(&[0.0, 1e-12, 2e-12]));
    }

    #[test]
    fn wandb_filter() {
        let caller = |k: &str| k == "train/correct";
        for key in [
            "costs/train/judge",
            "val/data/step_num_scenarios",
            "anything",
        ] {
            assert!(OLD.wandb_sends(key, caller));
        }
        assert_eq!(WANDB_CANONICAL_0_5_23.len(), 70);
        assert!(NEW.wandb_sends("train/correct", caller));
        assert!(NEW.wandb_sends("costs/cum/all", caller));
        assert!(NEW.wandb_sends("sft/loss/train", caller));
        assert!(NEW.wandb_sends("val/reward", caller));
        assert!(NEW.wandb_sends("time/step_backend_train_s", caller));
        assert!(!NEW.wandb_sends("costs/all", caller));
        assert!(!NEW.wandb_sends("holdout/holdout/reward", caller));
        assert!(!NEW.wandb_sends("throughput/avg_rollout_tok_per_s", caller));
        assert!(NEW.wandb_defines("train/correct", caller));
        assert!(!OLD.wandb_defines("train/correct", caller));
        assert!(OLD.wandb_defines("costs/all", caller) && NEW.wandb_defines("costs/cum/x", caller));
        assert!(!NEW.wandb_defines("loss/train", caller));
    }
}
