"""openpipe-art 0.5.23's distributed rollouts under ``install()`` record what its local ones do.

The same four rollouts (three succeed, one fails after its judge was paid; $0.25 each through
``track_api_cost`` and a real OpenAI SDK ``ChatCompletion``, one scenario id each) run in a
train and an eval context, through ``LocalRolloutExecutor`` (the rollout runs under the
driver's builder) and through ``DistributedRolloutExecutor`` with an ``InProcessRolloutWorker``
(a fresh builder per rollout, its values sent back to the driver). Under ``install()`` the two
flush the same rows: $1.00 per context, eval billed as eval, every scenario id. Plain 0.5.23
loses the failed rollout's $0.25 and every scenario id, and bills eval rollouts as train
(``test_plain_0523_distributed_rollouts_lose_spend_ids_and_context`` keeps that on record).
"""

from __future__ import annotations

import importlib
from typing import Any

import art
import art_metrics
import distributed_rollouts as dr
import pytest
from art.distributed.rollout import (
    DistributedRolloutExecutor,
    InProcessRolloutWorker,
    InstalledAsyncCallable,
    LocalRolloutExecutor,
)
from art.distributed.trajectory_store import TrajectoryGroupRef
from art_metrics import PendingMetrics, art_distributed

ROLLOUT = "art.distributed.rollout"
PATCHED = {"InProcessRolloutWorker.run", "DistributedRolloutExecutor.run"}
FAILING = 2  # the third of the four rollouts of a context fails


def scenarios(context: str) -> list[dict[str, Any]]:
    return [{"id": f"{context}-{i}", "fail": i == FAILING} for i in range(4)]


def resolve(module: str, path: str) -> tuple[Any, str]:
    """(object owning the attribute, attribute name) for a dotted attribute path."""
    owner: Any = importlib.import_module(module)
    *parents, attr = path.split(".")
    for name in parents:
        owner = getattr(owner, name)
    return owner, attr


def is_ours(value: Any) -> bool:
    return getattr(value, "__module__", None) == art_distributed.__name__


@pytest.fixture
def installed():
    version = art_metrics.install()
    try:
        yield version
    finally:
        art_metrics.uninstall()


def trainable_model(tmp_path, name: str) -> art.TrainableModel:
    return art.TrainableModel(
        name=name,
        project="distributed",
        base_model="Qwen/Qwen2.5-0.5B-Instruct",
        base_path=str(tmp_path),
        run_name=name,
    )


def distributed_executor(worker: InProcessRolloutWorker | None = None, fn=dr.rollout):
    executor = DistributedRolloutExecutor(
        callable=InstalledAsyncCallable.from_callable(fn),
        hosts={"h": [worker or InProcessRolloutWorker()]},
        target_workers=1,
    )
    executor.set_workers((0,))
    return executor


async def run_rollouts(executor: Any, model: art.TrainableModel, context: str) -> list[str]:
    """The context's four rollouts, one at a time; what each raised (``""``: nothing)."""
    raised = []
    for scenario in scenarios(context):
        try:
            assert await executor.run(0, dr.rollout, model, scenario, None) == 1.0
            raised.append("")
        except dr.RolloutFailed as exc:
            raised.append(str(exc))
    return raised


async def train_and_eval(executor: Any, model: art.TrainableModel) -> dict[str, Any]:
    """Rollouts in the train context (the model's root builder active), then in the eval
    context (``activate_metrics_context("eval")``), each flushed after its rollouts."""
    with model.metrics_builder().activate_context():
        train_raised = await run_rollouts(executor, model, "train")
    train = await model.metrics_builder().flush()
    token = model.activate_metrics_context("eval")
    try:
        eval_raised = await run_rollouts(executor, model, "eval")
    finally:
        token.var.reset(token)
    return {
        "train": train,
        "eval": await model.metrics_builder("eval").flush(),
        "raised": (train_raised, eval_raised),
    }


def failed_message(context: str) -> str:
    return f"scenario {context}-{FAILING} broke after its judge was paid"


EXPECTED_RAISED = (
    ["", "", failed_message("train"), ""],
    ["", "", failed_message("eval"), ""],
)
# What 4 rollouts at $0.25 record in each context, the failed one's included; the eval
# scenario ids are new ones, so the run has seen 8 after the eval step.
EXPECTED = {
    "train": {
        "costs/train/judge": 1.0,
        "costs/train": 1.0,
        "costs/all": 1.0,
        "costs/cum/train/judge": 1.0,
        "costs/cum/train": 1.0,
        "costs/cum/all": 1.0,
        "rollout/judge_calls": 4.0,
        "data/cum/num_unique_scenarios": 4.0,
    },
    "eval": {
        "costs/eval/judge": 1.0,
        "costs/eval": 1.0,
        "costs/all": 1.0,
        "costs/cum/eval/judge": 1.0,
        "costs/cum/eval": 1.0,
        "costs/cum/all": 2.0,
        "rollout/judge_calls": 4.0,
        "data/cum/num_unique_scenarios": 8.0,
    },
}


async def test_distributed_rollouts_record_what_local_rollouts_record(installed, tmp_path):
    local = await train_and_eval(LocalRolloutExecutor(), trainable_model(tmp_path, "local"))
    distributed = await train_and_eval(distributed_executor(), trainable_model(tmp_path, "dist"))

    assert local["raised"] == distributed["raised"] == EXPECTED_RAISED
    for context in ("train", "eval"):
        assert distributed[context] == local[context], context
        assert distributed[context] == pytest.approx(EXPECTED[context]), context
    assert not any(key.startswith("costs/train") for key in distributed["eval"])


async def test_a_failed_rollout_sends_its_spend_with_its_error(installed, tmp_path):
    model = trainable_model(tmp_path, "failed")
    builder = model.metrics_builder()
    with builder.activate_context(), pytest.raises(dr.RolloutFailed) as raised:
        await distributed_executor().run(0, dr.rollout, model, {"id": "q", "fail": True}, None)
    pending = raised.value.art_metrics_pending
    assert isinstance(pending, PendingMetrics)
    assert (pending.cost_context, pending.scenario_ids) == ("train", ["q"])
    assert pending.values == pytest.approx(
        {"costs/train/judge": dr.JUDGE_USD, "rollout/judge_calls": 1.0}
    )
    # Merged by the executor before the error reached us: a second merge is a redelivery.
    assert builder.merge_pending(pending) is False
    assert (await builder.flush())["costs/all"] == pytest.approx(dr.JUDGE_USD)


class ReplayingWorker(InProcessRolloutWorker):
    """Delivers every outcome twice, as a transport that retried a call whose response was
    already on its way would: each second call gets the first call's result or error again
    (the same ``PendingMetrics``), without running the rollout."""

    def __init__(self) -> None:
        super().__init__()
        self._replay: Any = None

    async def run(self, invocation):
        replay, self._replay = self._replay, None
        if isinstance(replay, BaseException):
            raise replay
        if replay is not None:
            return replay
        try:
            self._replay = await super().run(invocation)
        except Exception as exc:
            self._replay = exc
            raise
        return self._replay


async def test_a_redelivered_result_or_error_is_counted_once(installed, tmp_path):
    model = trainable_model(tmp_path, "redelivered")
    executor = distributed_executor(ReplayingWorker())
    ok, failing = {"id": "ok"}, {"id": "broken", "fail": True}
    with model.metrics_builder().activate_context():
        assert await executor.run(0, dr.rollout, model, ok, None) == 1.0
        assert await executor.run(0, dr.rollout, model, ok, None) == 1.0  # the replay
        for _ in range(2):  # the failure, then its replay
            with pytest.raises(dr.RolloutFailed):
                await executor.run(0, dr.rollout, model, failing, None)
    flushed = await model.metrics_builder().flush()
    assert flushed["costs/all"] == pytest.approx(2 * dr.JUDGE_USD)
    assert flushed["rollout/judge_calls"] == 2.0
    assert flushed["data/cum/num_unique_scenarios"] == 2.0


async def test_the_executor_keeps_arts_checks(installed, tmp_path):
    model = trainable_model(tmp_path, "checks")
    executor = distributed_executor()
    with pytest.raises(ValueError, match="rollout_fn differs from distributed callable"):
        await executor.run(0, dr.group_rollout, model, {"id": "q"}, None)
    with pytest.raises(RuntimeError, match="rollout worker 7 has no host assignment"):
        await executor.run(7, dr.rollout, model, {"id": "q"}, None)
    # Values with no builder to take them: ART's error, as when its worker drained metrics.
    with pytest.raises(RuntimeError, match="without an active ART metrics context"):
        await executor.run(0, dr.rollout, model, {"id": "q"}, None)


async def test_a_stored_trajectory_group_keeps_its_owner_and_its_spend(installed, tmp_path):
    """With a result queue the worker keeps the group and returns a ref to it, as in ART."""
    model = trainable_model(tmp_path, "stored")
    worker = InProcessRolloutWorker()
    executor = distributed_executor(worker, fn=dr.group_rollout)
    executor.create_result_queue(maxsize=4)
    with model.metrics_builder().activate_context():
        ref = await executor.run(0, dr.group_rollout, model, {"id": "g"}, None)
    assert isinstance(ref, TrajectoryGroupRef)
    assert ref.owner_actor_id == worker.owner_actor_id
    assert executor._endpoint_by_owner == {worker.owner_actor_id: worker}
    assert [t.reward for t in (await worker.materialize(ref)).trajectories] == [1.0]
    assert (await model.metrics_builder().flush())["costs/all"] == pytest.approx(dr.JUDGE_USD)


def test_targets_name_0523s_rollout_path_only():
    assert art_distributed.targets("0.5.18") == []
    found = art_distributed.targets("0.5.23")
    assert {(module, path) for module, path, _ in found} == {(ROLLOUT, p) for p in PATCHED}
    for module, path, replacement in found:
        owner, attr = resolve(module, path)
        assert not is_ours(getattr(owner, attr))  # nothing is patched by asking
        assert is_ours(replacement) and callable(replacement)


def test_install_puts_the_replacements_in_and_uninstall_takes_them_out():
    """install() itself applies ``targets()`` (not the ``installed`` fixture's fallback)."""
    originals = {path: getattr(*resolve(ROLLOUT, path)) for path in PATCHED}
    art_metrics.install()
    try:
        for path in PATCHED:
            assert is_ours(getattr(*resolve(ROLLOUT, path))), path
    finally:
        art_metrics.uninstall()
    for path in PATCHED:
        assert getattr(*resolve(ROLLOUT, path)) is originals[path], path


async def test_plain_0523_distributed_rollouts_lose_spend_ids_and_context(tmp_path):
    """Without install(): what the README says 0.5.23's distributed path loses."""
    assert not any(is_ours(getattr(*resolve(ROLLOUT, path))) for path in PATCHED)
    local = await train_and_eval(LocalRolloutExecutor(), trainable_model(tmp_path, "local"))
    distributed = await train_and_eval(distributed_executor(), trainable_model(tmp_path, "dist"))

    assert local["raised"] == distributed["raised"] == EXPECTED_RAISED
    # The local path records everything, in its context, as install() does for both.
    for context in ("train", "eval"):
        assert local[context] == pytest.approx(EXPECTED[context]), context
    # The distributed one: 3 of 4 rollouts' spend, no scenario id, eval billed as train.
    assert distributed["train"] == pytest.approx(
        {
            "costs/train/judge": 0.75,
            "costs/train": 0.75,
            "costs/all": 0.75,
            "costs/cum/train/judge": 0.75,
            "costs/cum/train": 0.75,
            "costs/cum/all": 0.75,
            "rollout/judge_calls": 3.0,
        }
    )
    assert distributed["eval"] == pytest.approx(
        {
            "costs/train/judge": 0.75,
            "costs/train": 0.75,
            "costs/all": 0.75,
            "costs/cum/train/judge": 1.5,
            "costs/cum/train": 1.5,
            "costs/cum/all": 1.5,
            "rollout/judge_calls": 3.0,
        }
    )
