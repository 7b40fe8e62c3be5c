"""art-metrics against openpipe-art 0.5.18, same workloads, one run.

    python bench/compare.py            # the full comparison (a few minutes)
    python bench/compare.py --smoke    # seconds: tiny sizes, checks that every workload runs

Prints, per workload, both figures, the ratio (reference / ours) and the target; per-call
figures also show the floor: the cheapest call into the extension (a getter), and the
hot paths' history (bench/history.json). Installs openpipe-art 0.5.18 into this
interpreter's environment when it is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def ensure_reference() -> None:
    try:
        import art  # noqa: F401
    except ImportError:
        print("installing openpipe-art==0.5.18 numpy pyarrow ...", flush=True)
        subprocess.check_call(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "openpipe-art==0.5.18",
                "numpy",
                "pyarrow",
            ]
        )


@dataclass
class Row:
    workload: str
    ours: float
    ref: float
    unit: str
    target: str
    ok: bool
    floor: float | None = None

    @property
    def ratio(self) -> float:
        return self.ref / self.ours if self.ours else float("inf")


def best_of(fn: Callable[[], float], repeats: int) -> float:
    """The fastest of `repeats` runs of `fn`, which returns its own measured seconds."""
    return min(fn() for _ in range(repeats))


def per_call_seconds(call: Callable[[], None], n: int) -> float:
    gc.collect()
    start = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - start) / n


# -- workloads ------------------------------------------------------------------------------


def getter_per_call(builder_cls, n: int) -> float:
    """The floor: the cheapest call into the extension (a getter), in the add_cost loop's shape."""
    builder = builder_cls("train")
    cycle = [None] * n
    gc.collect()
    start = time.perf_counter()
    for _ in cycle:
        builder.cost_context  # noqa: B018
    return (time.perf_counter() - start) / n


def add_cost_per_call(builder_cls, n_keys: int, n: int) -> float:
    builder = builder_cls("train")
    keys = [f"train/judge{i}" for i in range(n_keys)]
    for key in keys:
        builder.add_cost(key, 0.1)
    cycle = [keys[i % n_keys] for i in range(n)]

    def run() -> float:
        add = builder.add_cost
        start = time.perf_counter()
        for key in cycle:
            add(key, 0.001)
        return (time.perf_counter() - start) / n

    return run()


def openai_response() -> dict:
    return {
        "id": "chatcmpl-1",
        "model": "gpt-4.1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "yes"}}],
        "usage": {
            "prompt_tokens": 1234,
            "completion_tokens": 56,
            "prompt_tokens_details": {"cached_tokens": 200},
        },
    }


def decorated_overhead(track_api_cost, builder_cls, n: int) -> float:
    response = openai_response()

    def judge():
        return response

    tracked = track_api_cost(
        source="llm_judge/correctness", provider="openai", model_name="openai/gpt-4.1"
    )(judge)
    builder = builder_cls("train")
    with builder.activate_context():
        bare = per_call_seconds(judge, n)
        wrapped = per_call_seconds(tracked, n)
    return max(wrapped - bare, 1e-9)


def flush_parents(builder_cls, n_parents: int) -> float:
    builder = builder_cls("train")
    for i in range(n_parents):
        builder.add_cost(f"train/x{i}/y", 0.01)
    loop = asyncio.new_event_loop()
    try:
        gc.collect()
        start = time.perf_counter()
        loop.run_until_complete(builder.flush())
        return time.perf_counter() - start
    finally:
        loop.close()


def make_groups(lib, n_groups: int, per_group: int, n_metrics: int, step: int):
    groups = []
    for g in range(n_groups):
        trajectories = [
            lib.Trajectory(
                messages_and_choices=[{"role": "user", "content": "hi"}],
                reward=float((g + t) % 5) / 4,
                metrics={f"m{k}": float((g * t + k) % 7) for k in range(n_metrics)},
                metadata={"scenario_id": f"s{step}-{g}"},
            )
            for t in range(per_group)
        ]
        groups.append(lib.TrajectoryGroup(trajectories))
    return groups


def model_log_batch(
    lib, base: str, n_groups: int, per_group: int, repeats: int, objects=None
) -> float:
    """The fastest of `repeats` `await model.log(...)`, each of a fresh batch (of `objects`'
    trajectory classes, `lib`'s by default), awaited in one running event loop as a training
    loop does (a new loop per log costs ~0.5 ms more)."""
    model = lib.Model(name="bench", project="bench", base_path=base)

    async def run() -> float:
        times = []
        for step in range(repeats):
            groups = make_groups(objects or lib, n_groups, per_group, 8, step)
            gc.collect()
            start = time.perf_counter()
            await model.log(groups, split="train", step=step)
            times.append(time.perf_counter() - start)
        return min(times)

    return asyncio.run(run())


def loop_gap(lib, base: str, n_groups: int, per_group: int, repeats: int) -> float:
    """The largest gap between two turns of a ticker task while `await model.log(...)` of one
    batch runs: how long the log keeps the event loop from other tasks (the smallest of
    `repeats` logs)."""
    model = lib.Model(name="gap", project="bench", base_path=base)

    async def one(step: int) -> float:
        groups = make_groups(lib, n_groups, per_group, 8, step)
        gaps: list[float] = []
        done = False

        async def ticker() -> None:
            last = time.perf_counter()
            while not done:
                await asyncio.sleep(0)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        gc.collect()  # before the ticker starts: a collection is no gap of the log's
        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        await model.log(groups, split="train", step=step)
        done = True
        await task
        return max(gaps)

    async def run() -> float:
        return min([await one(step) for step in range(repeats)])

    return asyncio.run(run())


def long_run(
    lib, base: str, n_logs: int, ids_per_log: int, *, replay_middle: bool = True
) -> tuple[float, float]:
    """Mean seconds per log over the first and the last 5% of a run of `n_logs` logs, each
    adding `ids_per_log` new scenario ids.

    With `replay_middle=False` the logs between the two windows are not run one by one: the
    state they would have left (their scenario ids and totals) is loaded into the builder
    instead. Used for the reference, whose last logs each rewrite a state.json of ~500,000 ids
    (a full run takes tens of minutes); what a log costs there depends on that state's size,
    not on how it was reached.
    """
    model = lib.Model(name="long", project="bench", base_path=base)
    builder = model.metrics_builder()
    window = max(n_logs // 20, 1)
    times: list[float] = []

    def ids(step: int) -> list[str]:
        return [f"scenario-{step}-{i}" for i in range(ids_per_log)]

    async def log(step: int, timed: bool) -> None:
        start = time.perf_counter()
        builder.add_data(step_num_scenarios=ids_per_log, scenario_ids=ids(step))
        await model.log(metrics={"loss/train": 0.5}, split="train", step=step)
        if timed:
            times.append(time.perf_counter() - start)

    async def run() -> None:
        for step in range(window):
            await log(step, True)
        if replay_middle:
            for step in range(window, n_logs - window):
                await log(step, False)
        else:
            seen = [i for step in range(n_logs - window) for i in ids(step)]
            builder.load_state_dict(
                {
                    "cum_state": {"data/cum/num_scenarios": float(len(seen))},
                    "unique_scenario_ids": seen,
                }
            )
        for step in range(n_logs - window, n_logs):
            await log(step, True)

    asyncio.run(run())
    return sum(times[:window]) / window, sum(times[-window:]) / window


MEMORY_CHILD = """
import asyncio, gc, os, sys
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
if sys.argv[1] == "ref":
    from art.metrics import MetricsBuilder
else:
    from art_metrics import MetricsBuilder
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
n = int(sys.argv[2])
b = MetricsBuilder("train")
loop = asyncio.new_event_loop()
loop.run_until_complete(b.flush())
gc.collect(); before = rss()
for chunk in range(0, n, 1000):
    b.add_data(scenario_ids=[f"scenario-{i:07d}" for i in range(chunk, min(chunk + 1000, n))])
    loop.run_until_complete(b.flush())
gc.collect()
print(rss() - before)
"""


def added_rss(side: str, n_ids: int) -> float:
    out = subprocess.check_output([sys.executable, "-c", MEMORY_CHILD, side, str(n_ids)], text=True)
    return int(out.strip().splitlines()[-1]) / 2**20


# -- main -------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds long")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    smoke = args.smoke

    ensure_reference()
    import art
    import art.model as art_model
    import art_metrics
    from art.metrics import MetricsBuilder as RefBuilder
    from art.metrics import track_api_cost as ref_track
    from art_metrics import MetricsBuilder, _core
    from art_metrics import track_api_cost as our_track

    n_calls = 2_000 if smoke else 200_000
    ref_calls = 500 if smoke else 5_000
    repeats = 1 if smoke else 5
    noop = best_of(lambda: per_call_seconds(_core._noop, n_calls), repeats)
    floor = best_of(lambda: getter_per_call(MetricsBuilder, n_calls), repeats)
    rows: list[Row] = []
    hot: dict[str, float] = {"floor_ns": floor * 1e9, "noop_ns": noop * 1e9}

    def row(name, ours, ref, unit, target_ratio, floor_s=None, extra_ok=True):
        ok = (ref / ours if ours else float("inf")) >= target_ratio and extra_ok
        rows.append(Row(name, ours, ref, unit, f"≥ {target_ratio:g}×", ok, floor_s))
        print(f"  {name}: ours {fmt(ours, unit)}, reference {fmt(ref, unit)}", flush=True)

    for n_keys, target in [(50, 15), (1000, 200)]:
        ours = best_of(
            lambda n_keys=n_keys: add_cost_per_call(MetricsBuilder, n_keys, n_calls), repeats
        )
        ref = best_of(
            lambda n_keys=n_keys: add_cost_per_call(
                RefBuilder, n_keys, ref_calls // (1 if n_keys == 50 else 10)
            ),
            repeats,
        )
        # Issue #20: the common call costs at most twice the floor (same process).
        name = f"add_cost, {n_keys:,} keys pending (per call; goal ≤ 2× floor)"
        row(name, ours, ref, "µs", target, floor, smoke or ours <= 2 * floor)
        hot.setdefault("add_cost_ns", ours * 1e9)

    ours = best_of(lambda: decorated_overhead(our_track, MetricsBuilder, n_calls), repeats)
    ref = best_of(lambda: decorated_overhead(ref_track, RefBuilder, ref_calls), repeats)
    name = "track_api_cost overhead, OpenAI dict judge (per call; goal ≤ 4× floor)"
    row(name, ours, ref, "µs", 5, floor, smoke or ours <= 4 * floor)
    hot["judge_overhead_ns"] = ours * 1e9

    n_parents = 200 if smoke else 5_000
    ours = best_of(lambda: flush_parents(MetricsBuilder, n_parents), repeats)
    ref = best_of(lambda: flush_parents(RefBuilder, n_parents), 1 if smoke else 2)
    row(
        f"flush of {n_parents:,} cost parents, result dict included (goal ≤ 5 ms)",
        ours,
        ref,
        "ms",
        100,
        extra_ok=smoke or ours <= 5e-3,
    )
    hot["flush_ms"] = ours * 1e3

    n_groups, per_group = (8, 4) if smoke else (256, 16)
    with tempfile.TemporaryDirectory() as tmp:
        ours = model_log_batch(art_metrics, f"{tmp}/ours", n_groups, per_group, repeats)
        ours_art_objects = model_log_batch(
            art_metrics, f"{tmp}/ours-art", n_groups, per_group, repeats, objects=art
        )
        real_parquet = art_model.write_trajectory_groups_parquet
        ref_with_parquet = model_log_batch(art, f"{tmp}/ref-pq", n_groups, per_group, repeats)
        art_model.write_trajectory_groups_parquet = lambda *a, **k: None
        try:
            ref = model_log_batch(art, f"{tmp}/ref", n_groups, per_group, repeats)
            # openpipe-art's own art.Model and Trajectory objects, under install().
            art_metrics.install()
            try:
                installed = model_log_batch(art, f"{tmp}/inst", n_groups, per_group, repeats)
            finally:
                art_metrics.uninstall()
        finally:
            art_model.write_trajectory_groups_parquet = real_parquet
    # Issue #20: Model.log at least 15× openpipe-art's, of its pydantic objects and of ours.
    row(
        f"Model.log, {n_groups}×{per_group} trajectories × 8 metrics (no parquet)",
        ours,
        ref,
        "ms",
        15,
    )
    rows[-1].workload += f" [reference with parquet: {ref_with_parquet * 1e3:.1f} ms]"
    row(
        f"Model.log of openpipe-art's own pydantic Trajectory/TrajectoryGroup objects, "
        f"{n_groups}×{per_group} × 8 metrics",
        ours_art_objects,
        ref,
        "ms",
        15,
    )
    row(
        f"art.Model.log under install(), {n_groups}×{per_group} ART trajectories × 8 metrics "
        "(no parquet)",
        installed,
        ref,
        "ms",
        15,
    )

    with tempfile.TemporaryDirectory() as tmp:
        art_model.write_trajectory_groups_parquet = lambda *a, **k: None
        try:
            ours = loop_gap(art_metrics, f"{tmp}/ours", n_groups, per_group, repeats)
            ref = loop_gap(art, f"{tmp}/ref", n_groups, per_group, repeats)
        finally:
            art_model.write_trajectory_groups_parquet = real_parquet
    row(
        f"largest event-loop gap during one Model.log of {n_groups * per_group:,} trajectories "
        "(a ticker task's; state.json folded off the loop)",
        ours,
        ref,
        "ms",
        5,
    )

    n_logs, ids = (200, 10) if smoke else (5_000, 100)
    with tempfile.TemporaryDirectory() as tmp:
        our_start, our_end = long_run(art_metrics, f"{tmp}/ours", n_logs, ids)
        ref_start, ref_end = long_run(art, f"{tmp}/ref", n_logs, ids, replay_middle=False)
    growth_ok = our_end <= 1.5 * our_start
    rows.append(
        Row(
            f"long run, {n_logs:,} logs × {ids} new ids: time per log end/start "
            f"(ours {our_start * 1e3:.2f}→{our_end * 1e3:.2f} ms, "
            f"reference {ref_start * 1e3:.2f}→{ref_end * 1e3:.2f} ms, middle of its run loaded as state)",
            our_end / our_start,
            ref_end / ref_start,
            "×",
            "ours ≤ 1.5×",
            growth_ok,
        )
    )

    n_ids = 20_000 if smoke else 1_000_000
    ours = added_rss("ours", n_ids)
    ref = added_rss("ref", n_ids)
    rows.append(
        Row(
            f"added RSS holding {n_ids:,} unique scenario ids",
            ours,
            ref,
            "MiB",
            "ours ≤ 0.5×",
            ours <= 0.5 * ref,
        )
    )

    print_table(rows, floor, noop, smoke)
    print_hot_path_history(hot)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r.__dict__ | {"ratio": r.ratio} for r in rows], f, indent=1)
    return 0 if smoke or all(r.ok for r in rows) else 1


def fmt(value: float, unit: str) -> str:
    scale = {"µs": 1e6, "ms": 1e3}.get(unit, 1.0)
    return f"{value * scale:,.3f} {unit}" if unit in ("µs", "ms") else f"{value:,.2f} {unit}"


def print_table(rows: list[Row], floor: float, noop: float, smoke: bool) -> None:
    print()
    print(
        f"art-metrics vs openpipe-art 0.5.18 — {time.strftime('%Y-%m-%d')}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        + (" (SMOKE: tiny sizes, figures not meaningful)" if smoke else "")
    )
    print(
        f"floor: an empty call into the extension (_core._noop) = {noop * 1e6:.3f} µs; the "
        f"builder's getter cost_context in the workloads' loop, the floor of the per-call "
        f"goals = {floor * 1e6:.3f} µs"
    )
    print()
    print("| workload | art-metrics | openpipe-art | ratio (ref/ours) | target | met |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        ours = fmt(r.ours, r.unit)
        if r.floor is not None:
            ours += f" (floor {r.floor * 1e6:.3f} µs; {r.ours / r.floor:.1f}× it)"
        print(
            f"| {r.workload} | {ours} | {fmt(r.ref, r.unit)} | {r.ratio:,.1f}× | {r.target} | {'yes' if r.ok else 'NO'} |"
        )


HISTORY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "history.json")


def print_hot_path_history(hot: dict[str, float]) -> None:
    """The hot-path figures of earlier releases (bench/history.json) above this run's."""
    try:
        with open(HISTORY) as f:
            history = json.load(f)["runs"]
    except (OSError, ValueError, KeyError):
        history = []
    this = {"date": time.strftime("%Y-%m-%d"), "commit": "this run"} | hot
    print()
    print("hot paths, per release (bench/history.json; × = ratio to the floor of the same run):")
    print(
        f"  {'date':<10}  {'commit':<10}  {'floor':>7}  {'add_cost, 50 keys':>17}  "
        f"{'dict judge overhead':>19}  {'flush 5,000':>11}"
    )
    nan = float("nan")
    for h in [*history, this]:
        floor = h.get("floor_ns") or nan
        add, judge = h.get("add_cost_ns", nan), h.get("judge_overhead_ns", nan)
        print(
            f"  {h.get('date', ''):<10}  {h.get('commit', ''):<10}  {floor:>4.0f} ns  "
            f"{add:>6.0f} ns ({add / floor:>4.1f}×)  {judge:>8.0f} ns ({judge / floor:>4.1f}×)  "
            f"{h.get('flush_ms', nan):>8.2f} ms"
        )


if __name__ == "__main__":
    sys.exit(main())
