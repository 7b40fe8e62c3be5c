"""Many workers, one run: what moving a step's metrics from a worker to the driver costs.

    python bench/workers.py            # full sizes (make bench)
    python bench/workers.py --smoke    # seconds: tiny sizes, checks that every workload runs

1. Merging one 20-key PendingMetrics on the driver (already unpickled), per merge.
2. Its pickled size.
3. The Ray workload of tests/test_ray_workers.py (4 actors, two priced judges per rollout)
   with metrics (collect_metrics in the worker, merge on the driver) and without (the same
   responses, nothing tracked, nothing merged); best of several alternating runs.
No figure is asserted; the targets are printed beside them.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import pickle
import sys
import time

TESTS = pathlib.Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

from art_metrics import MetricsBuilder  # noqa: E402


def twenty_key_pendings(n: int) -> list:
    worker = MetricsBuilder("train")
    out = []
    for _ in range(n):
        for k in range(18):
            worker.add_cost(f"train/judge_{k:02d}/correctness", 0.001 + k * 1e-4)
        worker.add_metric("time/step_actor_s", 1.25)
        worker.add_data(step_num_scenarios=1)
        out.append(worker.export_pending())
    return out


def merge_per_call(n: int) -> float:
    pendings = [pickle.loads(pickle.dumps(p)) for p in twenty_key_pendings(n)]
    driver = MetricsBuilder("train")
    merge = driver.merge_pending
    started = time.perf_counter()
    for p in pendings:
        merge(p)
    elapsed = time.perf_counter() - started
    assert len(driver._flush()) > 20
    return elapsed / n


def ray_workload(n_rollouts: int, repeats: int) -> tuple[float, float]:
    import art_metrics.ray as amr
    import ray
    from worker_rollouts import RolloutWorker, plain_rollout

    class BenchWorker(RolloutWorker):
        def plain(self, split: str, scenario_id: str, attempt: int):
            return plain_rollout(scenario_id, attempt)

    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=100 * 1024 * 1024,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    try:
        actors = [ray.remote(num_cpus=0)(BenchWorker).remote() for _ in range(4)]
        calls = [("val" if i % 4 == 3 else "train", f"q{i % 700}", i) for i in range(n_rollouts)]
        ray.get([a.plain.remote(*calls[0]) for a in actors])  # warm: imports done

        def run(with_metrics: bool) -> float:
            driver = MetricsBuilder("train")
            started = time.perf_counter()
            if with_metrics:
                refs = [actors[i % 4].rollout.remote(*c) for i, c in enumerate(calls)]
                assert all(ok for _, ok in amr.get(driver, refs))
            else:
                refs = [actors[i % 4].plain.remote(*c) for i, c in enumerate(calls)]
                ray.get(refs)
            return time.perf_counter() - started

        with_m, without = [], []
        for _ in range(repeats):
            without.append(run(False))
            with_m.append(run(True))
        return min(with_m), min(without)
    finally:
        ray.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds long")
    smoke = parser.parse_args().smoke
    n_merges = 200 if smoke else 20_000
    merge_s = min(merge_per_call(n_merges) for _ in range(1 if smoke else 5))
    size = len(pickle.dumps(twenty_key_pendings(1)[0]))
    n_rollouts, repeats = (40, 1) if smoke else (1000, 3)
    with_m, without = ray_workload(n_rollouts, repeats)
    overhead = with_m - without
    print()
    print("Many workers" + (" (SMOKE: tiny sizes, figures not meaningful)" if smoke else ""))
    print("| workload | art-metrics | target | met |")
    print("| --- | --- | --- | --- |")
    print(
        f"| merge one 20-key `PendingMetrics` on the driver (unpickled) | "
        f"{merge_s * 1e6:.2f} µs | ≤ 10 µs | {'yes' if merge_s <= 10e-6 else 'no'} |"
    )
    print(f"| its pickled size | {size} bytes | ≤ 1 KB | {'yes' if size <= 1024 else 'no'} |")
    print(
        f"| Ray, 4 actors × {n_rollouts // 4} rollouts, 2 judges each: with metrics vs "
        f"without | {with_m:.2f} s vs {without:.2f} s ({overhead / without:+.1%}, "
        f"{overhead / n_rollouts * 1e6:+.0f} µs per rollout) | | |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
