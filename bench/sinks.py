"""`Model.log` with W&B (offline), MLflow (file store) and TensorBoard reporters vs none.

    python bench/sinks.py            # 200 logs per case (a minute or two)
    python bench/sinks.py --smoke    # seconds: a few logs, checks that every case runs

The reporters get their rows from threads of their own (issue #24), so what `Model.log`
pays for them is the hand-over, plus whatever their threads take from the one GIL while
the loop runs. Two cases:

- a training loop: between two logs the step's work runs with the GIL released (a
  ``time.sleep`` standing for the GPU and the rollouts' HTTP calls); the reporters deliver
  meanwhile. Goal: `Model.log` with the three reporters at most 1.2x its time without them.
- back to back: logs with nothing between them, so the reporters' threads compete with
  the logging thread for the GIL (the worst case; no goal).

For comparison, the time the same reporters take per row when called inline (what
`Model.log` would cost if it delivered itself, as openpipe-art does with W&B). The first
row of each run opens the backends' runs in the logging thread (W&B starts its service:
seconds) and is not timed. Exits non-zero when the goal is missed (not in ``--smoke``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import warnings

WORK = tempfile.mkdtemp(prefix="art-metrics-sinks-")
os.environ.update(
    LITELLM_LOCAL_MODEL_COST_MAP="True",
    WANDB_MODE="offline",
    WANDB_DIR=WORK,
    WANDB_SILENT="true",
    MLFLOW_TRACKING_URI=f"file://{WORK}/mlruns",
    MLFLOW_ALLOW_FILE_STORE="true",
)
# The file store cannot hold costs/train beside costs/train/judge: said once per run.
warnings.filterwarnings("ignore", message=".*path prefix of another")

from art_metrics import Model, Trajectory, TrajectoryGroup  # noqa: E402
from art_metrics.reporting import reporters_for  # noqa: E402

SINKS = ["wandb", "mlflow", "tensorboard"]
GOAL = 1.2


def groups(step: int, n_groups: int, per_group: int) -> list[TrajectoryGroup]:
    return [
        TrajectoryGroup(
            [
                Trajectory(
                    reward=float((g + t + step) % 5) / 4,
                    metrics={f"m{k}": float((g * t + k) % 7) for k in range(4)},
                    metadata={"scenario_id": f"s{step}-{g}"},
                )
                for t in range(per_group)
            ]
        )
        for g in range(n_groups)
    ]


def log_times(
    case: str, logs: int, pause_s: float, sizes: tuple[int, int], block: int
) -> tuple[dict[str, list[float]], float, str]:
    """Per model (no reporters, the three), the wall time of each timed log; the time the
    reporters took to catch up after their blocks of logs; the reporting run's directory.

    The two models log in alternating blocks of ``block`` logs, so that both see the same
    load on the machine; before the other model's block, the reporters catch up (not
    timed)."""
    models = {
        label: Model(name=f"{case}-{label}", project="bench", base_path=WORK, report_metrics=sinks)
        for label, sinks in (("none", []), ("sinks", SINKS))
    }
    times: dict[str, list[float]] = {label: [] for label in models}

    async def run() -> float:
        catch_up = 0.0
        for model in models.values():
            await model.log(groups(0, *sizes), split="train", step=0)  # opens the backends' runs
            model.flush_reporters(timeout=None)
        for first in range(1, logs + 1, block):
            for label, model in models.items():
                builder = model.metrics_builder()
                for step in range(first, min(first + block, logs + 1)):
                    batch = groups(step, *sizes)
                    builder.add_cost("train/judge", 0.001 * step)
                    gc.collect()
                    start = time.perf_counter()
                    await model.log(batch, split="train", step=step, metrics={"loss/policy": 0.1})
                    times[label].append(time.perf_counter() - start)
                    if pause_s:
                        time.sleep(pause_s)  # the step's work, the GIL released
                start = time.perf_counter()
                model.flush_reporters(timeout=None)
                catch_up += time.perf_counter() - start
        return catch_up

    catch_up = asyncio.run(run())
    for model in models.values():
        model.close()
    return times, catch_up, models["sinks"].run_dir


def inline_per_row(run_dir: str) -> float:
    """Seconds the three reporters take per row when called inline, on a run's rows."""
    with open(f"{run_dir}/history.jsonl") as f:
        rows = [json.loads(line) for line in f][1:]
    for row in rows:
        row.pop("step"), row.pop("recorded_at")
    reporters = reporters_for(
        SINKS, project="bench", name="inline", run_dir=os.path.join(WORK, "inline")
    )
    for reporter in reporters:
        reporter.start()
    start = time.perf_counter()
    for row in rows:
        for reporter in reporters:
            reporter.log(dict(row))
    elapsed = time.perf_counter() - start
    for reporter in reporters:
        reporter.finish()
    for reporter in reporters:
        for message in getattr(reporter, "take_warnings", list)():
            del message
    return elapsed / len(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few logs, seconds long")
    smoke = parser.parse_args().smoke
    logs = 5 if smoke else 200
    pause_s = 0.002 if smoke else 0.05
    sizes = (4, 4) if smoke else (16, 8)

    block = 5 if smoke else 20
    results = {
        case: log_times(case.replace(" ", "-"), logs, pause, sizes, block)
        for case, pause in (("loop", pause_s), ("back to back", 0.0))
    }
    inline = inline_per_row(results["loop"][2])

    def mean(case: str, label: str) -> float:
        return statistics.fmean(results[case][0][label])

    def median(case: str, label: str) -> float:
        return statistics.median(results[case][0][label])

    loop_ratio = median("loop", "sinks") / median("loop", "none")
    print()
    print(
        f"Model.log with reporters vs none — {time.strftime('%Y-%m-%d')}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; {sizes[0]} groups x {sizes[1]} trajectories "
        f"per log, {logs} logs per case"
        + (" (SMOKE: tiny sizes, figures not meaningful)" if smoke else "")
    )
    print("reporters: W&B (offline), MLflow (file store), TensorBoard")
    print()
    print("| `Model.log`, median (mean) | no reporters | three reporters | ratio | target | met |")
    print("| --- | --- | --- | --- | --- | --- |")
    ok = loop_ratio <= GOAL
    for case, target in (("loop", f"≤ {GOAL}×"), ("back to back", "")):
        label = (
            f"training loop ({pause_s * 1e3:.0f} ms of GIL-free work between logs)"
            if case == "loop"
            else "back to back (no work between logs)"
        )
        none, sinks = median(case, "none") * 1e3, median(case, "sinks") * 1e3
        print(
            f"| {label} | {none:.3f} ms ({mean(case, 'none') * 1e3:.3f}) | "
            f"{sinks:.3f} ms ({mean(case, 'sinks') * 1e3:.3f}) | {sinks / none:.2f}× | "
            f"{target} | {('yes' if ok else 'NO') if target else ''} |"
        )
    none = median("loop", "none") * 1e3
    print(
        f"| the three reporters called inline instead (as openpipe-art calls W&B) | "
        f"{none:.3f} ms | {none + inline * 1e3:.3f} ms | {(none + inline * 1e3) / none:.2f}× "
        "| | |"
    )
    print()
    print(
        f"the reporters take {inline * 1e3:.2f} ms per row when called inline; after each "
        f"block of {block} back-to-back logs their threads needed "
        f"{results['back to back'][1] / (logs / block) * 1e3:.0f} ms more to catch up"
    )
    return 0 if smoke or ok else 1


if __name__ == "__main__":
    try:
        status = main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)  # the runs, W&B's offline files, the mlruns
    sys.exit(status)
