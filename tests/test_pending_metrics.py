"""drain_pending, export_pending / merge_pending and PendingMetrics from Python."""

from __future__ import annotations

import asyncio
import pickle
import threading

import pytest
from art_metrics import MetricsBuilder, PendingMetrics


def worker_pending(ctx="train", n=3, ids=("s1", "s2")) -> PendingMetrics:
    w = MetricsBuilder(ctx)
    for i in range(n):
        w.add_cost(f"{ctx}/judge_{i}", 0.125 * (i + 1))
    w.add_metric("time/step_actor_s", 1.5)
    w.add_data(scenario_ids=list(ids))
    return w.export_pending()


async def test_drain_pending_returns_raw_values_and_drops_ids():
    b = MetricsBuilder("train")
    b.add_cost("train/judge", 1.0)
    await b.flush()
    b.add_cost("train/judge", 0.5)
    b.add_data(step_num_scenarios=2, scenario_ids=["a"])
    state = b.state_dict()
    assert await b.drain_pending() == {"costs/train/judge": 0.5, "data/step_num_scenarios": 2.0}
    assert b.state_dict() == state
    assert await b.flush() == {}
    assert await b.drain_pending() == {}


def test_pickle_round_trip_is_small_and_equal():
    p = worker_pending(n=20)
    data = pickle.dumps(p)
    assert len(data) <= 1024
    q = pickle.loads(data)
    assert q == p and hash(q) == hash(p) and q.id == p.id
    assert PendingMetrics.from_bytes(p.to_bytes()) == p
    assert p.FORMAT_VERSION == 1
    assert p.scenario_ids == ["s1", "s2"] and len(p.values) == 21
    assert "21 values" in repr(p)


def test_merge_is_exactly_once_and_goes_to_the_recorded_context():
    driver = MetricsBuilder("train")
    p = worker_pending("eval")
    assert driver.merge_pending(p) is True
    assert driver.merge_pending(pickle.loads(pickle.dumps(p))) is False
    assert asyncio.run(driver.flush()) == {}
    row = asyncio.run(driver.for_cost_context("eval").flush())
    assert row["costs/eval"] == 0.75
    assert row["time/step_actor_s"] == 1.5
    assert row["data/cum/num_unique_scenarios"] == 2.0


def test_bad_input_raises_and_merges_nothing():
    driver = MetricsBuilder("train")
    with pytest.raises(TypeError, match="PendingMetrics"):
        driver.merge_pending({"costs/train/judge": 1.0})
    data = bytearray(worker_pending().to_bytes())
    data[4] = 2
    with pytest.raises(ValueError, match="version 2 is newer"):
        PendingMetrics.from_bytes(bytes(data))
    with pytest.raises(ValueError, match="magic"):
        pickle.loads(pickle.dumps(worker_pending()).replace(b"AMPM", b"XXXX"))
    # A value that conflicts with the driver's pending step: nothing merged, not remembered.
    driver.add_cost("train", 1.0)
    p = worker_pending()
    with pytest.raises(ValueError, match="costs/train"):
        driver.merge_pending(p)
    assert asyncio.run(driver.drain_pending()) == {"costs/train": 1.0}
    assert driver.merge_pending(p) is True


def test_concurrent_redeliveries_merge_once():
    driver = MetricsBuilder("train")
    pendings = [worker_pending(n=1, ids=(f"s{i}",)) for i in range(200)]
    results: list[bool] = []

    def deliver():
        results.extend(driver.merge_pending(p) for p in pendings)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 200 and len(results) == 800
    row = asyncio.run(driver.flush())
    assert row["costs/train/judge_0"] == 200 * 0.125
    assert row["data/cum/num_unique_scenarios"] == 200.0


def test_collect_metrics_in_a_0523_run_takes_its_keyword_names():
    """A 0.5.23 driver's workers record with 0.5.23's names (step_rollout_s), not 0.5.18's."""
    from art_metrics.workers import collect_metrics

    @collect_metrics(art_version="0.5.23")
    def rollout():
        MetricsBuilder.get_active().add_user_timing(step_rollout_s=2.0)
        return 1

    result, pending = rollout()
    assert result == 1
    assert pending.values == {"time/step_rollout_s": 2.0}

    @collect_metrics
    def old_rollout():
        MetricsBuilder.get_active().add_user_timing(step_rollout_s=2.0)

    with pytest.raises(TypeError, match="step_rollout_s"):
        old_rollout()
