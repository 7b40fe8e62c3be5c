"""SIGKILL a process that logs with Model.log, many times, for art-metrics and for
openpipe-art (0.5.18; 0.5.23 in .venv-0523); then count what the run directory lost, doubled
or tore.

    python bench/crash.py               # 50 kills per library
    python bench/crash.py --kills 10 --library reference   # each restart imports openpipe-art
    python bench/crash.py --library art-installed   # art.Model under art_metrics.install()
    python bench/crash.py --library all    # art-metrics, art-installed and reference
    python bench/crash.py --phase early    # kills during start-up: resume and the first log
    python bench/crash.py --phase merge    # the worker also calls merge_state before each log

Each row adds a cost of 0.5, one item and the scenario ids ``id<seq>``, ``common<seq % 7>``
(``seq`` is the row's line number when it was logged), so every row's running totals can be
recomputed from the rows before it. After each kill, a state.json that is not a whole JSON
object (empty, cut short) counts as torn. The libraries: ``art-metrics`` is
``art_metrics.Model``; ``art-installed`` openpipe-art's own ``art.Model`` created after
``art_metrics.install()`` (its log and state on our run directory); ``reference`` plain
``art.Model``. tests/test_crash_safety.py asserts the art-metrics side,
tests/test_rundir_art.py (and its 0.5.23 twin) the art-installed side with fewer kills.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


LIBRARIES = ["art-metrics", "art-installed", "reference"]


def model_class(library: str):
    if library == "art-installed":
        import art_metrics

        art_metrics.install()
    if library in ("reference", "art-installed"):
        from art import Model
    else:
        from art_metrics import Model
    return Model


def label(library: str) -> str:
    if library == "art-metrics":
        return library
    from importlib.metadata import version

    return f"{library} (openpipe-art {version('openpipe-art')})"


async def worker(library: str, base: str, phase: str = "log") -> None:
    model = model_class(library)(name="k", project="p", base_path=base)
    if (library == "art-installed") != ("_art_metrics_run" in model.__dict__):
        raise RuntimeError(f"{library}: install() did not take over art.Model")
    model.metrics_builder()
    history = Path(base) / "p" / "models" / "k" / "history.jsonl"
    seq = len(history.read_text().splitlines()) if history.exists() else 0
    while True:
        if phase == "merge":
            model.merge_state({"user": {"seq": seq}})
        model.metrics_builder("train").add_data(scenario_ids=[f"id{seq}", f"common{seq % 7}"])
        await model.log(
            None,
            split="train",
            step=seq,
            metrics={"seq": seq, "costs/train/work": 0.5, "data/step_items": 1},
        )
        seq += 1


def check(run_dir: Path) -> dict[str, int]:
    """Rows, torn lines, and rows whose totals do not equal the sum of the rows before (cost,
    items, unique scenario ids). Also the run-directory cases' check (tests/art_rundir_cases.py)."""
    out: dict[str, int] = {"rows": 0, "torn lines": 0, "wrong totals": 0}
    cost = items = 0.0
    ids: set[str] = set()
    history = run_dir / "history.jsonl"
    for line in history.read_text().splitlines() if history.exists() else []:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            out["torn lines"] += 1
            continue
        out["rows"] += 1
        seq = int(row["train/seq"])
        cost += row["costs/all"]
        items += row["data/step_items"]
        ids |= {f"id{seq}", f"common{seq % 7}"}
        ok = (
            abs(row["costs/cum/all"] - cost) <= 1e-12 * cost
            and row["data/cum/items"] == items
            and row["data/cum/num_unique_scenarios"] == len(ids)
        )
        out["wrong totals"] += not ok
    return out


def torn_state(run_dir: Path) -> bool:
    """state.json exists but is not a whole JSON object (empty, cut short)."""
    try:
        return not isinstance(json.loads((run_dir / "state.json").read_bytes()), dict)
    except FileNotFoundError:
        return False
    except ValueError:
        return True


def run(library: str, kills: int, seed: int = 1234, phase: str = "log") -> dict[str, int]:
    rng = random.Random(seed)
    base = tempfile.mkdtemp(prefix=f"crash-{library}-")
    run_dir = Path(base) / "p" / "models" / "k"
    history = run_dir / "history.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    died = torn = 0
    for _ in range(kills):
        proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", library, base, "--phase", phase],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        before = history.stat().st_size if history.exists() else 0
        deadline = time.monotonic() + 30
        if phase == "early":
            # Somewhere in start-up: import, resume (open, reconcile) or the first logs.
            time.sleep(rng.uniform(0.05, 0.6))
        else:
            while time.monotonic() < deadline and proc.poll() is None:
                if history.exists() and history.stat().st_size > before:
                    break
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.05))
        if proc.poll() is not None:
            died += 1  # it could not restart (a torn state.json, for one)
        else:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        torn += torn_state(run_dir)
    result = check(run_dir) if history.exists() else {"rows": 0}
    result["torn state.json (after a kill)"] = torn
    result["restarts that failed"] = died
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument(
        "--library",
        choices=[*LIBRARIES, "both", "all"],
        default="both",
        help="both: art-metrics and reference; all: the three",
    )
    parser.add_argument("--worker", nargs=2, metavar=("LIBRARY", "BASE"))
    parser.add_argument("--phase", choices=["log", "early", "merge"], default="log")
    args = parser.parse_args()
    if args.worker:
        asyncio.run(worker(*args.worker, phase=args.phase))
        return
    chosen = {
        "both": ["art-metrics", "reference"],
        "all": LIBRARIES,
    }.get(args.library, [args.library])
    for library in chosen:
        started = time.monotonic()
        result = run(library, args.kills, phase=args.phase)
        took = time.monotonic() - started
        print(f"{label(library)} ({args.phase}): {args.kills} kills in {took:.0f} s: {result}")


if __name__ == "__main__":
    main()
