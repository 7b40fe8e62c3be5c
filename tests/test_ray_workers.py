"""Many rollout workers, one run: a real local Ray cluster, an actor killed mid-run, results
delivered twice; the driver's history rows must hold exactly the accepted judge calls' costs.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections import deque
from fractions import Fraction

import art_metrics.ray as amr
import pytest
import ray
from art_metrics import Model
from ray.exceptions import RayActorError
from worker_rollouts import RolloutWorker, context_of, cost_of

ACTORS = 4
ROLLOUTS_PER_ACTOR = 250
WINDOW = 4  # calls in flight per actor
SCENARIOS = 700  # fewer than the 1,000 rollouts: some scenarios recur


@pytest.fixture(scope="module")
def ray_cluster():
    # Left running for the rest of the session (Ray shuts it down at exit): starting a
    # cluster takes seconds here, and the README's Ray example reuses it.
    if not ray.is_initialized():
        tests = str(pathlib.Path(__file__).parent)
        path = os.pathsep.join(p for p in (tests, os.environ.get("PYTHONPATH")) if p)
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            object_store_memory=100 * 1024 * 1024,
            # The workers import `worker_rollouts` from tests/.
            runtime_env={"env_vars": {"PYTHONPATH": path}},
        )
    return ray


def plan() -> list[list[tuple[str, str, int]]]:
    """Per actor: (split, scenario id, attempt id) of each rollout; every fourth one is eval.
    Attempt ids are unique; a retry gets a new one."""
    return [
        [
            (
                "val" if j % 4 == 3 else "train",
                f"q{(a * ROLLOUTS_PER_ACTOR + j * 7) % SCENARIOS}",
                a * ROLLOUTS_PER_ACTOR + j,
            )
            for j in range(ROLLOUTS_PER_ACTOR)
        ]
        for a in range(ACTORS)
    ]


@pytest.mark.slow
async def test_many_actors_one_run_exact_totals(ray_cluster, tmp_path):
    model = Model(name="ray-run", project="workers", base_path=str(tmp_path), report_metrics=[])
    driver = model.metrics_builder()
    Worker = ray.remote(num_cpus=0)(RolloutWorker)
    actors = [Worker.remote() for _ in range(ACTORS)]

    queues = [deque(calls) for calls in plan()]
    orphans: deque = deque()  # the killed actor's queue and its failed calls, for the others
    in_flight: dict = {}  # ref -> (actor index, call)
    load = [0] * ACTORS
    dead: set[int] = set()

    def top_up(a: int) -> None:
        while a not in dead and load[a] < WINDOW and (queues[a] or orphans):
            call = queues[a].popleft() if queues[a] else orphans.popleft()
            in_flight[actors[a].rollout.remote(*call)] = (a, call)
            load[a] += 1

    for a in range(ACTORS):
        top_up(a)

    accepted: list[tuple[str, dict]] = []  # (split, result) of each accepted rollout
    accepted_refs: list = []
    retried = duplicates_refused = 0
    step = 0
    while in_flight:
        done, _ = ray.wait(list(in_flight), num_returns=1)
        ref = done[0]
        a, (split, sid, attempt) = in_flight.pop(ref)
        load[a] -= 1
        try:
            result, ok = amr.get(driver, ref)
        except RayActorError:
            # The killed actor's unfinished rollouts: retried elsewhere as new attempts.
            assert a in dead, "only the killed actor's rollouts may fail"
            orphans.append((split, sid, ACTORS * ROLLOUTS_PER_ACTOR + retried))
            retried += 1
            for survivor in range(ACTORS):
                top_up(survivor)
            continue
        assert ok, "a first delivery must be accepted"
        accepted.append((split, result))
        accepted_refs.append(ref)
        if not dead and len(accepted) == 240:
            # Kill the actor with the most work left. Its in-flight calls may already have
            # finished in the object store, so one more call goes to it after the kill (as a
            # driver sends before it notices): that one must fail and be retried elsewhere.
            victim = max(range(ACTORS), key=lambda i: len(queues[i]))
            ray.kill(actors[victim], no_restart=True)
            dead.add(victim)
            late = queues[victim].popleft()
            in_flight[actors[victim].rollout.remote(*late)] = (victim, late)
            load[victim] += 1
            orphans.extend(queues[victim])
            queues[victim].clear()
        if len(accepted) % 40 == 0:
            # At-least-once delivery: the same object again, and the same pair re-sent by a
            # live actor (pickled again); neither may count twice.
            again, ok = amr.get(driver, accepted_refs[-7])
            assert not ok and again == accepted[-7][1]
            duplicates_refused += 1
            if a not in dead:
                _, ok = amr.get(driver, actors[a].resend.remote(split, sid, attempt))
                assert not ok
                duplicates_refused += 1
        if len(accepted) % 200 == 0:
            step += 1
            await model.log(None, split="train", step=step, metrics={})
            await model.log(None, split="val", step=step, metrics={})
        top_up(a)

    # Late redeliveries, after their metrics were flushed: still refused.
    for ref in accepted_refs[:25]:
        assert amr.get(driver, ref)[1] is False
        duplicates_refused += 1
    step += 1
    await model.log(None, split="train", step=step, metrics={})
    await model.log(None, split="val", step=step, metrics={})
    model.close()

    assert dead and retried > 0
    assert len(accepted) == ACTORS * ROLLOUTS_PER_ACTOR
    expected = {"train": Fraction(0), "eval": Fraction(0)}
    for split, result in accepted:
        expected[context_of(split)] += cost_of(result)
    scenarios = {result["scenario_id"] for _, result in accepted}

    rows = [
        json.loads(line)
        for line in pathlib.Path(model.run_dir, "history.jsonl").read_text().splitlines()
    ]

    def last(key):
        return [row[key] for row in rows if key in row][-1]

    assert last("costs/cum/train") == float(expected["train"])
    assert last("costs/cum/eval") == float(expected["eval"])
    assert rows[-1]["costs/cum/all"] == float(expected["train"] + expected["eval"])
    assert last("data/cum/num_unique_scenarios") == len(scenarios)
    # Every row's running total only grows, and every row's step costs add up to it.
    step_sum = sum(Fraction(row.get("costs/all", 0.0)) for row in rows)
    assert step_sum == expected["train"] + expected["eval"]
    print(
        f"\naccepted {len(accepted)}, retried {retried}, duplicates refused "
        f"{duplicates_refused}, train ${float(expected['train']):.6f}, eval "
        f"${float(expected['eval']):.6f}, unique scenarios {len(scenarios)}"
    )
