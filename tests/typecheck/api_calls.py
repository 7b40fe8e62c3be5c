"""Calls the stubs must accept, and calls they must refuse (each with the error code mypy
gives). Not a test module: `make lint` type-checks it (pyproject's [tool.mypy] files) with
--strict, whose warn_unused_ignores fails the check when a refused call is accepted."""

from art_metrics import MetricsBuilder, Model

b = MetricsBuilder("train")

# add_data, add_user_timing and add_idle_times take openpipe-art 0.5.18's or 0.5.23's names
# (the core binds them for the run's art_version at run time).
b.add_data(step_actor_tokens=1, scenario_ids=["a", 2])  # 0.5.18
b.add_data(step_rollout_tokens=1.5)  # 0.5.23
b.add_data(3, 4, None)
b.add_user_timing(step_wall_s=1.0, step_actor_s=2, step_eval_s=None)
b.add_user_timing(step_wall_s=1.0, step_rollout_s=2.0)
b.add_idle_times(step_trainer_idle_s=1.0, step_rollout_idle_s=0.5)
b.add_idle_times(0.5, 0.25)
b.add_data(step_tokens=1)  # type: ignore[call-overload]
b.add_data(step_actor_tokens=1, step_rollout_tokens=1)  # type: ignore[call-overload]
b.add_user_timing(step_wall_s="1")  # type: ignore[call-overload]
b.add_idle_times(1.0, 2.0, 3.0)  # type: ignore[call-overload]

# Closed sets of strings are Literal types.
b.set_budget(1.0, on_exceed="raise")
b.set_budget(1.0, on_exceed="ignore")  # type: ignore[arg-type]
MetricsBuilder("train", art_version="0.5.23")
MetricsBuilder("train", art_version="0.5.20")  # type: ignore[arg-type]
Model(name="m", project="p", report_metrics=["wandb", "trackio", "mlflow", "tensorboard", "otel"])
Model(name="m", project="p", report_metrics=["neptune"])  # type: ignore[list-item]
