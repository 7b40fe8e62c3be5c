"""The same primitives through concurrent.futures.ProcessPoolExecutor with spawned workers."""

from __future__ import annotations

import asyncio
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction

import pytest
from art_metrics import MetricsBuilder, PendingMetrics
from art_metrics.workers import collect_metrics, merge_result
from worker_rollouts import context_of, cost_of, pool_rollout


def test_spawned_pool_rollouts_merge_exactly_once():
    calls = [("val" if i % 3 == 0 else "train", f"q{i % 25}", i) for i in range(60)]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        delivered = list(pool.map(pool_rollout, *zip(*calls)))
    driver = MetricsBuilder("train")
    expected = {"train": Fraction(0), "eval": Fraction(0)}
    for (split, _, _), pair in zip(calls, delivered):
        result, accepted = merge_result(driver, pair)
        assert accepted
        expected[context_of(split)] += cost_of(result)
    # Delivered again (pickled once more, as a retrying queue would): nothing added.
    for pair in delivered[:10]:
        assert merge_result(driver, pickle.loads(pickle.dumps(pair)))[1] is False
    origins = {pair[1].id[0] for pair in delivered}
    assert 1 <= len(origins) <= 2  # one origin per worker process

    eval_row = asyncio.run(driver.for_cost_context("eval").flush())
    train_row = asyncio.run(driver.flush())
    assert eval_row["costs/eval"] == float(expected["eval"])
    assert train_row["costs/train"] == float(expected["train"])
    assert train_row["costs/cum/all"] == float(expected["train"] + expected["eval"])
    assert train_row["data/cum/num_unique_scenarios"] == 25.0


def test_collect_metrics_sync_async_and_failures():
    @collect_metrics(cost_context="eval")
    async def rollout(x):
        MetricsBuilder.get_active().add_cost("eval/judge", 0.5)
        return x

    result, pending = asyncio.run(rollout(3))
    assert (result, pending.cost_context, pending.values) == (3, "eval", {"costs/eval/judge": 0.5})

    @collect_metrics
    def failing():
        MetricsBuilder.get_active().add_cost("train/judge", 0.25)
        raise RuntimeError("rollout failed")

    with pytest.raises(RuntimeError) as info:
        failing()
    spent = info.value.art_metrics_pending
    assert isinstance(spent, PendingMetrics) and spent.values == {"costs/train/judge": 0.25}

    @collect_metrics(cost_context="eval")
    async def failing_async():
        MetricsBuilder.get_active().add_cost("eval/judge", 0.125)
        raise RuntimeError("async rollout failed")

    with pytest.raises(RuntimeError) as info:
        asyncio.run(failing_async())
    spent = info.value.art_metrics_pending
    assert isinstance(spent, PendingMetrics) and spent.values == {"costs/eval/judge": 0.125}

    driver = MetricsBuilder("train")
    with pytest.raises(TypeError, match="merge_result expects"):
        merge_result(driver, pending)
    with pytest.raises(TypeError, match="PendingMetrics"):
        merge_result(driver, (1, {"costs/train/judge": 1.0}))
    with pytest.raises(ValueError, match="cost_context"):
        collect_metrics(lambda: None, cost_context=" ")


def test_importing_art_metrics_does_not_import_ray():
    import subprocess
    import sys

    code = "import sys, art_metrics, art_metrics.workers; assert 'ray' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
