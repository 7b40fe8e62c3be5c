"""Timings of Model.log: a large batch (ours vs openpipe-art 0.5.18), and a long run.

    LITELLM_LOCAL_MODEL_COST_MAP=True python bench/bench_model_log.py [--long N]

Not part of the test run. The reference's time includes its parquet write of the batch
(art_metrics writes no parquet), so the batch comparison also shows metrics-only numbers
for the reference with the parquet writer stubbed out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import art_metrics  # noqa: E402


def batch(lib, groups=256, per_group=16, metrics=8):
    return [
        lib.TrajectoryGroup(
            [
                lib.Trajectory(
                    messages_and_choices=[],
                    reward=(g * per_group + t) % 7 / 7,
                    metrics={f"m{k}": float(k + t) for k in range(metrics)},
                    metadata={"scenario_id": f"s{g}"},
                )
                for t in range(per_group)
            ],
            metadata={"scenario_id": f"s{g}"},
        )
        for g in range(groups)
    ]


def time_batch(lib, repeats=5, stub_parquet=False) -> float:
    best = float("inf")
    data = batch(lib)
    for r in range(repeats):
        with tempfile.TemporaryDirectory() as d:
            model = lib.Model(name="b", project="p", base_path=d)
            if stub_parquet:
                import art.model

                art.model.write_trajectory_groups_parquet = lambda *a, **k: None
            start = time.perf_counter()
            asyncio.run(model.log(data, split="train", step=r + 1))
            best = min(best, time.perf_counter() - start)
    return best


async def long_run(n: int, ids_per_log: int = 100) -> list[float]:
    with tempfile.TemporaryDirectory() as d:
        model = art_metrics.Model(name="long", project="p", base_path=d)
        builder = model.metrics_builder("train")
        times = []
        for i in range(n):
            builder.add_data(scenario_ids=[f"scenario-{i}-{k}" for k in range(ids_per_log)])
            start = time.perf_counter()
            await model.log(
                None, split="train", step=i, metrics={"loss/x": 1.0, "costs/train/x": 0.1}
            )
            times.append(time.perf_counter() - start)
        return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--long", type=int, default=5000)
    args = parser.parse_args()
    import art

    ours = time_batch(art_metrics)
    ref = time_batch(art, repeats=3)
    ref_np = time_batch(art, repeats=3, stub_parquet=True)
    print(
        f"batch 256x16x8: art_metrics {ours * 1e3:.1f} ms; openpipe-art {ref * 1e3:.1f} ms "
        f"({ref / ours:.0f}x), without its parquet write {ref_np * 1e3:.1f} ms ({ref_np / ours:.0f}x)"
    )
    times = asyncio.run(long_run(args.long))
    k = max(1, len(times) // 10)
    head, tail = sorted(times[:k]), sorted(times[-k:])
    print(
        f"long run, {args.long} logs x 100 new ids: median per log, first {k}: "
        f"{head[k // 2] * 1e6:.0f} us, last {k}: {tail[k // 2] * 1e6:.0f} us; "
        f"mean over the whole run {sum(times) / len(times) * 1e6:.0f} us "
        f"(journal compactions included; slowest single log {max(times) * 1e3:.1f} ms)"
    )


if __name__ == "__main__":
    main()
