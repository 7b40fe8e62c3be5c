"""Logs a short run with ``report_metrics=[BACKEND]`` for real, in its own process.

Two Model objects on the same run directory (the second resumes the first's W&B / Trackio
run), each closed after logging. Writes the history rows as JSON to OUT_JSON, plus, for
Trackio, what Trackio's own storage returns for the run. Used by test_reporting.py.

Usage: python tests/reporting_worker.py wandb|trackio|wandb-no-close BASE_PATH OUT_JSON
(WANDB_MODE=offline and WANDB_DIR, or TRACKIO_DIR, point the backend at a temporary dir)

``wandb-no-close``: one Model logs both steps and the script ends without ``close()``: the
rows still queued for W&B's thread are delivered by the exit hook, before W&B finishes its
run at exit.

W&B names an offline run's directory by the second it started in
(``offline-run-<YYYYMMDD_HHMMSS>-<id>``), so two runs started within one second would share
it. Each Model therefore gets its own W&B directory, ``$WANDB_DIR/model-<step>`` (passed to
``wandb.init(dir=...)``: W&B reads WANDB_DIR once per process).
"""

import asyncio
import json
import os
import sys
import time

import art_metrics
from art_metrics import Model, Trajectory, TrajectoryGroup, WandbReporter


@art_metrics.track_api_cost(source="judge", provider="openai", model_name="gpt-4o")
def judge() -> dict:
    return {"usage": {"prompt_tokens": 1000, "completion_tokens": 100}}


ALIVE_AT_EXIT: list[Model] = []


class SlowWandbReporter(WandbReporter):
    """W&B behind a slow link: the script ends before its thread has sent every row."""

    def log(self, row, **kwargs) -> None:
        time.sleep(0.3)
        super().log(row, **kwargs)


async def log_step(model: Model, step: int) -> None:
    with model.metrics_builder("train").activate_context():
        judge()
    groups = [TrajectoryGroup([Trajectory(reward=1.0), Trajectory(reward=0.5 * step)])]
    await model.log(groups, split="train", step=step, metrics={"loss/policy": float("nan")})
    with model.metrics_builder("eval").activate_context():
        judge()
    await model.log(groups, split="val", step=step)


async def main(backend: str, base_path: str, out_path: str) -> None:
    if backend == "wandb-no-close":
        wandb_dir = os.path.join(os.environ["WANDB_DIR"], "model-1")
        os.makedirs(wandb_dir)
        reporter = SlowWandbReporter(project="proj", name="m1", dir=wandb_dir)
        model = Model(name="m1", project="proj", base_path=base_path, reporters=[reporter])
        ALIVE_AT_EXIT.append(model)  # not collected before exit: the exit hook delivers
        for step in (1, 2):
            await log_step(model, step)
        with open(f"{base_path}/proj/models/m1/history.jsonl") as f:
            rows = [json.loads(line) for line in f]
        with open(out_path, "w") as f:
            json.dump({"rows": rows}, f)
        return
    for step in (1, 2):
        if backend == "wandb":
            wandb_dir = os.path.join(os.environ["WANDB_DIR"], f"model-{step}")
            os.makedirs(wandb_dir)
            reporter = WandbReporter(project="proj", name="m1", dir=wandb_dir)
            model = Model(name="m1", project="proj", base_path=base_path, reporters=[reporter])
        else:
            model = Model(name="m1", project="proj", base_path=base_path, report_metrics=[backend])
        await log_step(model, step)
        model.close()
    out: dict = {}
    with open(f"{base_path}/proj/models/m1/history.jsonl") as f:
        out["rows"] = [json.loads(line) for line in f]
    if backend == "trackio":
        from trackio.sqlite_storage import SQLiteStorage

        out["runs"] = SQLiteStorage.get_runs("proj")
        out["logs"] = SQLiteStorage.get_logs("proj", "m1")
    with open(out_path, "w") as f:
        json.dump(out, f, default=str)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
