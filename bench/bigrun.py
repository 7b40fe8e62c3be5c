"""A 200,000-step run through ``summary``, ``summary --json`` and ``report`` (issue #21, case 10).

    python bench/bigrun.py              # the full run: 200,000 steps, a val row every 10th
    python bench/bigrun.py --smoke      # seconds: 2,000 steps, checks that every command runs
    python bench/bigrun.py --keep DIR   # writes (or reuses) the run under DIR

Writes the run's history.jsonl (a train row per step shaped like the demo's: rewards, losses,
per-source costs and their rollups, cumulative costs, times, data counts, throughput; a val
row every tenth step), then runs each command in its own process and reads that process's
wall time and peak RSS (``os.wait4``). The floor is a plain Python pass that ``json.loads``
each line of the file. Goals: ``summary`` and ``summary --json`` at most 200 MB and no slower
than the floor; ``report`` at most 300 MB, within 2x the floor, and at most 10 MB of HTML.
Exits non-zero when a goal is missed (not in ``--smoke``: tiny runs measure start-up).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MB = 1_000_000


def write_run(run_dir: Path, steps: int, *, seed: int = 0, state: dict | None = None) -> Path:
    """A run of ``steps`` training steps: a train row per step, a val row every tenth, with
    consistent cumulative costs, tokens and times; its state.json is ``state`` (default: a
    budget, drawn by the report). The report and summary tests write their long runs with it
    too (tests/report_runs.py)."""
    rng = random.Random(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    cum = {"all": 0.0, "train": 0.0, "eval": 0.0, "gpu": 0.0}
    tokens = seconds = trainer_tokens = trainer_seconds = scenarios = 0.0
    with open(run_dir / "history.jsonl", "w") as f:
        for step in range(1, steps + 1):
            judge, style = rng.uniform(0.005, 0.01), rng.uniform(0.002, 0.004)
            gpu = rng.uniform(0.01, 0.02)
            actor_tokens, actor_s = rng.randint(8000, 14000), rng.uniform(7.0, 13.0)
            trainer_t, trainer_s = actor_tokens + 9600, rng.uniform(5.0, 8.0)
            tokens, seconds = tokens + actor_tokens, seconds + actor_s
            trainer_tokens += trainer_t
            trainer_seconds += trainer_s
            scenarios += 4
            for name, amount in (
                ("train", judge + style),
                ("gpu", gpu),
                ("all", judge + style + gpu),
            ):
                cum[name] += amount
            train = {
                "train/reward": 0.85 - 0.5 * math.exp(-10 * step / steps) + rng.uniform(-0.1, 0.1),
                "train/exception_rate": rng.choice([0.0, 0.0625, 0.125]),
                "loss/policy": 0.9 * math.exp(-6.7 * step / steps) + rng.uniform(-0.05, 0.05),
                "costs/train/judge/correctness": judge,
                "costs/train/judge/style": style,
                "time/step_wall_s": actor_s + trainer_s + 2.0,
                "time/step_actor_s": actor_s,
                "data/step_actor_tokens": float(actor_tokens),
                "costs/gpu": gpu,
                "data/step_num_scenarios": 4.0,
                "time/step_trainer_s": trainer_s,
                "costs/train": judge + style,
                "costs/train/judge": judge + style,
                "costs/all": judge + style + gpu,
                "costs/cum/train": cum["train"],
                "costs/cum/gpu": cum["gpu"],
                "costs/cum/all": cum["all"],
                "data/cum/num_scenarios": scenarios,
                "throughput/avg_trainer_tok_per_s": trainer_tokens / trainer_seconds,
                "throughput/avg_actor_tok_per_s": tokens / seconds,
                "training_step": step,
                "step": step,
            }
            f.write(json.dumps(train) + "\n")
            if step % 10 == 0:
                val_cost = rng.uniform(0.002, 0.004)
                cum["eval"] += val_cost
                cum["all"] += val_cost
                val = {
                    "val/reward": 0.8 - 0.5 * math.exp(-10 * step / steps) + rng.uniform(-0.1, 0.1),
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
    if state is None:
        state = {"_art_metrics": {"budget_usd": 10000.0}}
    (run_dir / "state.json").write_text(json.dumps(state))
    return run_dir


FLOOR = "import json, sys\nfor line in open(sys.argv[1], 'rb'):\n    json.loads(line)\n"


@dataclass
class Measure:
    seconds: float
    rss_mb: float


def measure(argv: list[str], repeats: int) -> Measure:
    """The fastest wall time of ``repeats`` runs of ``argv`` and the largest peak RSS."""
    best, rss = math.inf, 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{stderr}")
        best = min(best, elapsed)
        rss = max(rss, usage.ru_maxrss * 1024 / MB)  # KiB on Linux
    return Measure(best, rss)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="2,000 steps, seconds long")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--keep", metavar="DIR", help="write (or reuse) the run under DIR")
    args = parser.parse_args()
    steps = args.steps or (2_000 if args.smoke else 200_000)
    repeats = args.repeats or (1 if args.smoke else 3)

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.keep) if args.keep else Path(tmp)
        run_dir = base / f"bigrun-{steps}"
        history = run_dir / "history.jsonl"
        if not history.exists():
            started = time.perf_counter()
            write_run(run_dir, steps)
            print(f"wrote {history} in {time.perf_counter() - started:.1f} s", flush=True)
        size = history.stat().st_size
        html = Path(tmp) / "report.html"
        cli = [sys.executable, "-m", "art_metrics"]
        floor = measure([sys.executable, "-c", FLOOR, str(history)], repeats)
        runs = {
            "summary": measure([*cli, "summary", str(run_dir)], repeats),
            "summary --json": measure([*cli, "summary", "--json", str(run_dir)], repeats),
            "report": measure([*cli, "report", str(run_dir), "-o", str(html)], repeats),
        }
        html_mb = html.stat().st_size / MB

    rows = steps + steps // 10
    print(
        f"\n{steps:,} steps, {rows:,} rows, {size / MB:.0f} MB of history.jsonl; "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"best of {repeats}\n"
    )
    goals = {
        "summary": (1.0, 200.0),
        "summary --json": (1.0, 200.0),
        "report": (2.0, 300.0),
    }
    print("| command | time | vs json.loads pass | peak RSS | goal | met |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| json.loads of each line (floor) | {floor.seconds:.2f} s | 1.00× | {floor.rss_mb:.0f} MB | | |"
    )
    missed = []
    for name, m in runs.items():
        ratio_goal, rss_goal = goals[name]
        ratio = m.seconds / floor.seconds
        ok = ratio <= ratio_goal and m.rss_mb <= rss_goal
        if name == "report":
            ok = ok and html_mb <= 10.0
        goal = f"≤ {ratio_goal:g}× floor, ≤ {rss_goal:.0f} MB"
        if name == "report":
            goal += ", ≤ 10 MB of HTML"
        print(
            f"| `{name}` | {m.seconds:.2f} s | {ratio:.2f}× | {m.rss_mb:.0f} MB | {goal} "
            f"| {'yes' if ok else '**no**'} |"
        )
        if not ok:
            missed.append(name)
    print(f"\nreport HTML: {html_mb:.2f} MB")
    if missed and not args.smoke:
        print(f"missed goals: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
