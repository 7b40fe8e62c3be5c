"""Many rollout actors, one run, on Monarch: a real local process mesh (2 processes), 2 actors
x 100 rollouts in train and eval with judges returning real SDK responses, one rollout failing
after its judges were paid, results and the failure delivered twice; the driver's history rows
must hold exactly the accepted calls' costs, the failed call's included.
"""

from __future__ import annotations

import functools
import json
import pathlib
import site
import subprocess
import sys
from fractions import Fraction

import art_metrics.monarch as amm
import pytest
from art_metrics import MetricsBuilder, Model
from monarch.actor import Actor, ActorError, endpoint, this_host
from worker_rollouts import (
    ANTHROPIC_UNITS,
    OPENAI_UNITS,
    UNIT,
    context_of,
    cost_of,
    plain_rollout,
    rollout,
)

ACTORS = 2  # one per process
ROLLOUTS_PER_ACTOR = 100
BATCH = 10  # rollouts per actor between two driver steps
SCENARIOS = 150  # fewer than the 200 rollouts: some scenarios recur
FAILING = (1, 37)  # (actor, rollout) that fails after its judges spent
BROKEN_SCENARIO = "q-broken"  # the failing rollout's scenario, seen by no other rollout


class RolloutFailed(Exception):
    """The environment broke after the judges were paid."""


def failing_rollout(scenario_id: str, attempt: int) -> dict:
    rollout(scenario_id, attempt)  # both judges called and paid, scenario id recorded
    raise RolloutFailed(f"{scenario_id}/{attempt}: the environment broke after judging")


class Rollouts(Actor):
    """Serves train and eval rollouts; keeps what it sent so it can send it again."""

    def __init__(self) -> None:
        self.sent: dict[int, tuple] = {}
        self.failed: dict[int, BaseException] = {}

    @endpoint
    def rollout(self, split: str, scenario_id: str, attempt: int, fail: bool = False):
        try:
            delivered = run(split, scenario_id, attempt, fail)
        except RolloutFailed as exc:
            self.failed[attempt] = exc
            raise
        self.sent[attempt] = delivered
        return delivered

    @endpoint
    def resend(self, attempt: int):
        """The same (result, PendingMetrics) again, as an at-least-once queue would."""
        return self.sent[attempt]

    @endpoint
    def fail_again(self, attempt: int):
        """The same failure (and the spend it carries) delivered again."""
        raise self.failed[attempt]


def run(split: str, scenario_id: str, attempt: int, fail: bool):
    fn = failing_rollout if fail else rollout
    return amm.run_with_metrics(context_of(split), fn, scenario_id, attempt)


@pytest.fixture(scope="module")
def procs():
    # The actors' processes import this module (the actor class is pickled by reference)
    # and worker_rollouts from tests/, which pytest puts on sys.path only here.
    tests = str(pathlib.Path(__file__).parent)
    mesh = this_host().spawn_procs(
        per_host={"procs": ACTORS}, bootstrap=functools.partial(site.addsitedir, tests)
    )
    yield mesh
    mesh.stop().get()


def plan() -> list[list[tuple[str, str, int]]]:
    """Per actor: (split, scenario id, attempt id) of each rollout; every fourth one is eval."""
    return [
        [
            (
                "val" if j % 4 == 3 else "train",
                BROKEN_SCENARIO
                if (a, j) == FAILING
                else f"q{(a * ROLLOUTS_PER_ACTOR + j * 7) % SCENARIOS}",
                a * ROLLOUTS_PER_ACTOR + j,
            )
            for j in range(ROLLOUTS_PER_ACTOR)
        ]
        for a in range(ACTORS)
    ]


def source_costs(result: dict) -> dict[str, Fraction]:
    """Each judge's cost, from the token counts the rollout drew (exact)."""
    prompt, cached, completion = result["gpt"]
    o, a = OPENAI_UNITS, ANTHROPIC_UNITS
    gpt = (prompt - cached) * o["prompt"] + cached * o["cached"] + completion * o["completion"]
    claude = sum(
        n * a[k] for n, k in zip(result["claude"], ("input", "creation", "read", "output"))
    )
    return {"judge_gpt": Fraction(gpt, UNIT), "judge_claude": Fraction(claude, UNIT)}


async def test_two_actors_one_run_exact_totals(procs, tmp_path):
    model = Model(name="monarch-run", project="workers", base_path=str(tmp_path), report_metrics=[])
    driver = model.metrics_builder()
    actors = procs.spawn("rollouts", Rollouts)
    workers = [actors.slice(procs=a) for a in range(ACTORS)]
    calls = plan()

    spent: list[tuple[str, dict]] = []  # (split, token counts) of every merged rollout
    scenarios: set[str] = set()
    failures = duplicates_refused = 0
    for step in range(1, ROLLOUTS_PER_ACTOR // BATCH + 1):
        batch = [
            (a, calls[a][j]) for j in range((step - 1) * BATCH, step * BATCH) for a in range(ACTORS)
        ]
        futures = [
            workers[a].rollout.call_one(*call, fail=call[1] == BROKEN_SCENARIO) for a, call in batch
        ]
        delivered = await amm.get_async(driver, futures, return_exceptions=True)
        for i, ((a, (split, sid, attempt)), (result, accepted)) in enumerate(zip(batch, delivered)):
            assert accepted, "a first delivery must be accepted"
            if isinstance(result, ActorError):
                # The original exception, pickled in the actor's process, with its spend.
                assert isinstance(result.exception, RolloutFailed), result
                assert sid == BROKEN_SCENARIO and (a, attempt % ROLLOUTS_PER_ACTOR) == FAILING
                failures += 1
                spent.append((split, plain_rollout(sid, attempt)))  # what its judges cost
                scenarios.add(sid)
                # Delivered again: the same future, and the same exception raised anew.
                again = await amm.get_async(driver, futures[i], return_exceptions=True)
                assert again == (result, False)
                again = workers[a].fail_again.call_one(attempt)
                refused, ok = await amm.get_async(driver, again, return_exceptions=True)
                assert isinstance(refused, ActorError) and ok is False
                duplicates_refused += 2
                continue
            assert (result["scenario_id"], result["attempt"]) == (sid, attempt)
            spent.append((split, result))
            scenarios.add(sid)
        # At-least-once delivery: a resolved future again, and a pair re-sent by its actor
        # (pickled again); neither may count twice.
        assert (await amm.get_async(driver, futures[3]))[1] is False
        a, (_, _, attempt) = batch[4]
        assert (await amm.get_async(driver, workers[a].resend.call_one(attempt)))[1] is False
        duplicates_refused += 2
        await model.log(None, split="train", step=step, metrics={})
        await model.log(None, split="val", step=step, metrics={})

    # Late redeliveries, after their metrics were flushed: still refused.
    late = [workers[0].resend.call_one(attempt) for _, _, attempt in calls[0][:5]]
    assert [ok for _, ok in await amm.get_async(driver, late)] == [False] * 5
    await model.log(None, split="train", step=step + 1, metrics={})
    model.close()

    assert failures == 1 and len(spent) == ACTORS * ROLLOUTS_PER_ACTOR
    expected: dict[str, Fraction] = {}
    for split, result in spent:
        context = context_of(split)
        for source, cost in source_costs(result).items():
            key = f"costs/{context}/{source}"
            expected[key] = expected.get(key, Fraction(0)) + cost
        expected[context] = expected.get(context, Fraction(0)) + cost_of(result)
    failed_cost = cost_of(plain_rollout(*calls[FAILING[0]][FAILING[1]][1:]))
    assert failed_cost > 0

    rows = [
        json.loads(line)
        for line in pathlib.Path(model.run_dir, "history.jsonl").read_text().splitlines()
    ]

    def total(key):
        return sum(Fraction(row.get(key, 0.0)) for row in rows)

    def last(key):
        return [row[key] for row in rows if key in row][-1]

    for key in [k for k in expected if k.startswith("costs/")]:
        assert total(key) == expected[key], key  # each judge, each context, step by step
    assert total("costs/train") == expected["train"]
    assert total("costs/eval") == expected["eval"]
    assert last("costs/cum/train") == float(expected["train"])
    assert last("costs/cum/eval") == float(expected["eval"])
    assert rows[-1]["costs/cum/all"] == float(expected["train"] + expected["eval"])
    assert total("costs/all") == expected["train"] + expected["eval"]
    assert last("data/cum/num_unique_scenarios") == len(scenarios)
    print(
        f"\nmerged {len(spent)} ({failures} failed), duplicates refused {duplicates_refused}, "
        f"train ${float(expected['train']):.6f}, eval ${float(expected['eval']):.6f} (failed "
        f"rollout ${float(failed_cost):.6f}), unique scenarios {len(scenarios)}"
    )


def test_get_broadcast_and_failures_outside_an_event_loop(procs):
    actors = procs.spawn("sync_rollouts", Rollouts)
    driver = MetricsBuilder("train")

    # call(): every actor, a ValueMesh of pairs; one list of (result, accepted), rank order.
    pairs = amm.get(driver, actors.rollout.call("train", "q-all", 1_000))
    assert [accepted for _, accepted in pairs] == [True] * ACTORS
    expected = sum(cost_of(result) for result, _ in pairs)

    # A failure among successes: its spend is merged, then it is raised; the successes wait.
    futures = [
        actors.slice(procs=0).rollout.call_one("train", "q-ok", 1_001),
        actors.slice(procs=1).rollout.call_one("train", "q-bad", 1_002, fail=True),
    ]
    with pytest.raises(ActorError) as info:
        amm.get(driver, futures, timeout=60)
    assert isinstance(info.value.exception, RolloutFailed)
    expected += cost_of(plain_rollout("q-bad", 1_002))
    assert train_costs(driver) == expected

    # Again with return_exceptions: the success is merged now, the failure is not counted twice.
    (ok, ok_accepted), (bad, bad_accepted) = amm.get(driver, futures, return_exceptions=True)
    assert ok_accepted and bad is info.value and not bad_accepted
    assert train_costs(driver) == cost_of(ok)


def train_costs(builder: MetricsBuilder) -> Fraction:
    """The train judges' costs in the builder's pending step, taken out (exact)."""
    values = builder.export_pending().values
    return sum(
        (Fraction(v) for k, v in values.items() if k.startswith("costs/train/")), Fraction(0)
    )


def test_import_without_monarch_names_the_extra(tmp_path):
    # A `monarch` that cannot be imported, ahead of the installed one on sys.path.
    (tmp_path / "monarch.py").write_text("raise ImportError('no monarch here')\n")
    code = (
        "import art_metrics, sys\n"
        "assert 'monarch' not in sys.modules\n"  # import art_metrics never imports Monarch
        "try:\n"
        "    import art_metrics.monarch\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == (
        "art_metrics.monarch needs Monarch: pip install 'art-metrics[monarch]'"
    )
