"""The run both sink tests (MLflow, TensorBoard) log: costs, trajectories, NaN and infinity."""

import math

from art_metrics import Model, Trajectory, TrajectoryGroup


async def log_steps(model: Model, steps) -> None:
    for step in steps:
        model.metrics_builder().add_cost("train/judge", 0.25 * step)
        groups = [TrajectoryGroup([Trajectory(reward=1.0), Trajectory(reward=0.5 * step)])]
        await model.log(
            groups,
            split="train",
            step=step,
            metrics={"loss/kl": math.nan, "loss/big": math.inf, "loss/policy": 0.1 * step},
        )
        await model.log(None, split="val", step=step, metrics={"score": float(step)})
