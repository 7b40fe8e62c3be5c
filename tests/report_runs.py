"""Run directories for the report and summary tests: a long synthetic run, an openpipe-art run."""

from __future__ import annotations

import json
import math
import os
import pathlib
import random
import subprocess
import sys

TESTS = pathlib.Path(__file__).parent


def openpipe_art_run(base: pathlib.Path) -> pathlib.Path:
    """tests/scripted_run.py through openpipe-art 0.5.18's own Model and MetricsBuilder
    (judges priced by its track_api_cost); returns the run directory."""
    subprocess.run(
        [sys.executable, str(TESTS / "scripted_run.py"), str(base)],
        env=dict(os.environ, METRICS_IMPL="art", JUDGES="track_api_cost"),
        check=True,
        capture_output=True,
        timeout=180,
    )
    return base / "proj" / "models" / "m1"


def long_run(run_dir: pathlib.Path, steps: int, *, seed: int = 0) -> pathlib.Path:
    """A run of ``steps`` training steps shaped like the demo's (a train row per step, a val
    row every tenth), with consistent cumulative costs; written directly, fast."""
    rng = random.Random(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    cum = {"all": 0.0, "train": 0.0, "eval": 0.0, "gpu": 0.0}
    tokens = seconds = trainer_tokens = trainer_seconds = 0.0
    with open(run_dir / "history.jsonl", "w") as f:
        for step in range(1, steps + 1):
            judge, style = rng.uniform(0.005, 0.01), rng.uniform(0.002, 0.004)
            gpu = rng.uniform(0.01, 0.02)
            actor_tokens, actor_s = rng.randint(8000, 14000), rng.uniform(7.0, 13.0)
            trainer_t, trainer_s = actor_tokens + 9600, rng.uniform(5.0, 8.0)
            tokens, seconds = tokens + actor_tokens, seconds + actor_s
            trainer_tokens, trainer_seconds = (
                trainer_tokens + trainer_t,
                trainer_seconds + trainer_s,
            )
            for name, amount in (
                ("train", judge + style),
                ("gpu", gpu),
                ("all", judge + style + gpu),
            ):
                cum[name] += amount
            train = {
                "train/reward": 0.85 - 0.5 * math.exp(-step / 2000) + rng.uniform(-0.1, 0.1),
                "train/exception_rate": rng.choice([0.0, 0.0625, 0.125]),
                "loss/policy": 0.9 * math.exp(-step / 3000) + rng.uniform(-0.05, 0.05),
                "costs/train/judge/correctness": judge,
                "costs/train/judge/style": style,
                "costs/gpu": gpu,
                "costs/train": judge + style,
                "costs/train/judge": judge + style,
                "costs/all": judge + style + gpu,
                "time/step_wall_s": actor_s + trainer_s + 2.0,
                "time/step_actor_s": actor_s,
                "time/step_trainer_s": trainer_s,
                "data/step_actor_tokens": float(actor_tokens),
                "costs/cum/train": cum["train"],
                "costs/cum/gpu": cum["gpu"],
                "costs/cum/all": cum["all"],
                "throughput/avg_actor_tok_per_s": tokens / seconds,
                "throughput/avg_trainer_tok_per_s": trainer_tokens / trainer_seconds,
                "training_step": step,
                "step": step,
            }
            f.write(json.dumps(train) + "\n")
            if step % 10 == 0:
                val_cost = rng.uniform(0.002, 0.004)
                cum["eval"] += val_cost
                cum["all"] += val_cost
                val = {
                    "val/reward": 0.8 - 0.5 * math.exp(-step / 2000) + rng.uniform(-0.1, 0.1),
                    "costs/eval/judge": val_cost,
                    "costs/eval": val_cost,
                    "costs/all": val_cost,
                    "time/step_eval_s": rng.uniform(2.0, 4.0),
                    "costs/cum/eval": cum["eval"],
                    "costs/cum/all": cum["all"],
                    "training_step": step,
                    "step": step,
                }
                f.write(json.dumps(val) + "\n")
    (run_dir / "state.json").write_text(json.dumps({"_art_metrics": {"history_bytes": 0}}))
    return run_dir


def expected_points(rows: list[dict]) -> dict[str, dict[str, int]]:
    """Per chart and series, the data points the report must show, counted from the rows
    independently of the report code: the training steps with a row holding the key (cost
    keys may carry a custom split's prefix)."""

    def steps_with(key: str) -> int:
        def has(row: dict) -> bool:
            return (
                key in row or key.startswith("costs/") and any(k.endswith("/" + key) for k in row)
            )

        return len({r["training_step"] for r in rows if has(r)})

    keys = {k for r in rows for k in r}
    counts: dict[str, dict[str, int]] = {"reward": {}, "cost_total": {}, "loss": {}}
    for split in ("train", "val", "test", "holdout"):
        if f"{split}/reward" in keys:
            counts["reward"][split] = steps_with(f"{split}/reward")
    for name in ("all", "train", "eval", "gpu", "holdout"):
        if steps_with(f"costs/cum/{name}"):
            counts["cost_total"][name] = steps_with(f"costs/cum/{name}")
    for key in sorted(k for k in keys if k.startswith("loss/")):
        counts["loss"][key[len("loss/") :]] = steps_with(key)
    return counts


def step_value(rows: list[dict], step: int, key: str, *, summed: bool = False) -> float:
    """The value a chart shows for ``key`` at ``step``: the step's last value, or the sum
    over its rows (per-step costs and times); custom-split prefixes count for cost keys."""
    values = [
        v
        for r in rows
        if r["training_step"] == step
        for k, v in r.items()
        if k == key or key.startswith("costs/") and k.endswith("/" + key)
    ]
    assert values, (step, key)
    return sum(values) if summed else values[-1]
