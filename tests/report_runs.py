"""Run directories for the report and summary tests: a long synthetic run (an openpipe-art run:
support.workers.openpipe_art_run)."""

from __future__ import annotations

import pathlib
import sys

TESTS = pathlib.Path(__file__).parent
sys.path.insert(0, str(TESTS.parent / "bench"))

from bigrun import write_run  # noqa: E402

# The charts of a demo run's report, in order (a demo run has losses).
DEMO_CHARTS = ["reward", "reward_cost", "cost_step", "cost_total", "throughput", "time", "loss"]


def long_run(run_dir: pathlib.Path, steps: int, *, seed: int = 0) -> pathlib.Path:
    """A run of ``steps`` training steps shaped like the demo's (a train row per step, a val
    row every tenth), with consistent cumulative costs; written directly, fast, by the big-run
    benchmark's writer (bench/bigrun.py), with no budget."""
    return write_run(run_dir, steps, seed=seed, state={"_art_metrics": {"history_bytes": 0}})


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
